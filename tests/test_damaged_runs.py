"""Damaged run folders (an unreadable run.json, a corrupt history.csv) and foreign model files: one line,
no half-written comparison or run folder.

Each case runs in-process through the real entry point (utils.cli.main.run_task) and checks the promise: one line
on stderr, the exit code, and nothing half-written.
"""
import json
from pathlib import Path

import pytest
from conftest import assert_one_line, cli


# ---------------------------------------------------------------- unreadable run.json, corrupt history.csv
def fake_run(outputs, name, history="epoch,loss,accuracy,val_loss,val_accuracy\n1,0.5,0.5,0.5,0.5\n", **record):
    folder = Path(outputs) / name
    folder.mkdir(parents=True)
    data = {"run_id": name, "task": "xor", "model": "xor_mlp", "status": "completed", "format": 2,
            "epochs_completed": 1, "started": "2026-01-01T00:00:00", **record}
    (folder / "run.json").write_text(json.dumps(data))
    if history is not None:
        (folder / "history.csv").write_text(history)
    return folder


DAMAGED_RECORDS = [
    ("{not json", "not valid JSON"),
    ("[1, 2, 3]", "holds list"),
    ('{"run_id": "x", "task": "xor", "status": "completed"}', "'model'"),
    ('{"run_id": "x", "task": "xor", "model": 5, "status": "completed"}', "'model'"),
    ('{"run_id": "x", "task": "xor", "model": "m", "status": "completed", "data": []}', "'data'"),
    ("\udcff".encode("utf-8", "surrogateescape").decode("latin-1"), "not valid JSON"),
]


@pytest.mark.parametrize("text, reason", DAMAGED_RECORDS, ids=[reason for _, reason in DAMAGED_RECORDS])
def test_an_unreadable_run_json_is_one_row_of_the_listing(tmp_path, capsys, text, reason):
    fake_run(tmp_path, "good")
    broken = fake_run(tmp_path, "broken")
    (broken / "run.json").write_text(text)
    code = cli("xor", ["runs", "--outputs", tmp_path])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "good" in captured.out and "completed" in captured.out
    assert "unreadable" in captured.out and reason in captured.out


@pytest.mark.parametrize("text, reason", DAMAGED_RECORDS[:3], ids=[reason for _, reason in DAMAGED_RECORDS[:3]])
def test_comparing_an_unreadable_run_is_one_line_and_no_compare_folder(tmp_path, capsys, text, reason):
    outputs = tmp_path / "outputs"
    fake_run(outputs, "good")
    broken = fake_run(outputs, "broken")
    (broken / "run.json").write_text(text)
    code = cli("xor", ["compare", "--last", "2", "--outputs", outputs])
    assert_one_line(capsys, code, 1, "broken", reason)
    assert not list(outputs.glob("compare_*"))


@pytest.mark.parametrize("history", [
    'epoch,loss\n1,0.5\n2,"unterminated\n3,0.1,0.2,0.3,0.4,0.5\n',
    "loss,accuracy\n0.5,0.5\n",
    "epoch,loss\nfirst,0.5\n",
])
def test_a_corrupt_history_makes_compare_one_line_and_no_compare_folder(tmp_path, capsys, history):
    outputs = tmp_path / "outputs"
    fake_run(outputs, "good")
    fake_run(outputs, "torn", history=history)
    code = cli("xor", ["compare", "--last", "2", "--outputs", outputs])
    assert_one_line(capsys, code, 1, "history.csv", "damaged")
    assert not list(outputs.glob("compare_*"))


# ---------------------------------------------------------------- foreign models
def foreign_model(kind):
    import keras

    if kind == "two_inputs":
        left, right = keras.Input((1,)), keras.Input((1,))
        joined = keras.layers.Concatenate()([left, right])
        return keras.Model([left, right], keras.layers.Dense(1, activation="sigmoid")(joined))
    units = {"twenty_classes": 20, "two_softmax": 2}[kind]
    return keras.Sequential([keras.Input((2,)), keras.layers.Dense(units, activation="softmax")])


@pytest.mark.parametrize("kind", ["twenty_classes", "two_inputs", "two_softmax"])
@pytest.mark.parametrize("action", ["evaluate", "predict"])
def test_foreign_models_are_refused_before_any_folder_is_created(xor_copy, capsys, kind, action):
    path = xor_copy / "checkpoints" / f"{kind}.h5"
    foreign_model(kind).save(path)
    argv = [action, path] + (["0,1"] if action == "predict" else [])
    code = cli("xor", argv)
    assert_one_line(capsys, code, 1, "another task")
    assert not (xor_copy / "evaluations").exists() and not (xor_copy / "predictions").exists()


def test_the_safe_mode_refusal_is_a_whole_sentence(xor_copy, capsys):
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: x * 2), keras.layers.Dense(1)])
    path = xor_copy / "checkpoints" / "lambda.keras"
    model.save(path)
    code = cli("xor", ["evaluate", path])
    line = assert_one_line(capsys, code, 1, "safe_mode")
    assert line.endswith(".") and " . " not in line
