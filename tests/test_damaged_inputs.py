"""Damaged inputs to compare and sweep --resume: a history.csv with text where a number belongs, a binary
trials.csv or optuna.journal, a sweep.json of the wrong shape. Each is one line naming the file and what is wrong,
a non-zero exit, and nothing written: no compare_* folder, the sweep folder as it was."""
import json
from pathlib import Path

import pytest

from conftest import assert_one_line, cli, make_run

SPEC = {"task": "mnist", "method": "grid", "objective": "val_accuracy", "direction": "maximize", "prune": None,
        "seed": 42, "target_trials": 1, "parameters": [{"name": "learning_rate", "kind": "choice", "values": [0.01]}],
        "base_options": {"model": "mlp_one_layer"}, "epochs": 1, "workers": 1, "executor": "local",
        "ray_address": None, "gpus_per_trial": None}


def snapshot(root) -> dict:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(Path(root).rglob("*")) if path.is_file()}


@pytest.fixture
def sweep_folder(tmp_path):
    """An intact one-trial grid sweep folder (spec, trials.csv, the Optuna journal) under tmp_path/outputs."""
    from utils.sweeps.folder import SweepFolder
    from utils.sweeps.study import open_study
    from utils.sweeps.trials import new_trial

    outputs = tmp_path / "outputs"
    outputs.mkdir()
    folder = SweepFolder.create(outputs, "grid")
    spec = {**SPEC, "outputs": str(outputs), "sweep_id": folder.name, "study": folder.name}
    folder.save_spec(spec)
    folder.save_trials([new_trial(0, {"learning_rate": 0.01})])
    open_study(folder.journal, spec)
    return folder


def test_an_intact_sweep_folder_passes_the_checks(sweep_folder):
    from utils.sweeps.study import check_journal

    sweep_folder.check()
    check_journal(sweep_folder.journal)


BINARY = bytes(range(256)) * 8


@pytest.mark.parametrize("damage, words", [
    (("trials.csv", BINARY), ["trials.csv is damaged"]),
    (("trials.csv", b"id,name\n1,2\n"), ["trials.csv is damaged", "no trial, position, params, status column"]),
    (("trials.csv", b"trial,position,params,status\n000-x,0,{},exploded\n"), ["trials.csv is damaged", "exploded"]),
    (("optuna.journal", BINARY), ["optuna.journal is damaged"]),
    (("optuna.journal", b'{"op_code": 0}\n'), ["optuna.journal is damaged", "study cannot be read"]),
    (("sweep.json", b"[1, 2]"), ["sweep.json is damaged", "holds a list"]),
    (("sweep.json", "SPEC-workers"), ["sweep.json is damaged", "'workers' should be int"]),
    (("sweep.json", "SPEC-method"), ["sweep.json is damaged", "'method' is 'annealing'"]),
    (("sweep.json", "SPEC-parameters"), ["sweep.json is damaged", "'parameters' should be a list of objects"]),
])
def test_a_damaged_sweep_folder_is_one_line_and_left_as_it_was(sweep_folder, capsys, damage, words):
    name, content = damage
    if isinstance(content, str):  # a valid JSON sweep.json with one field of the wrong shape
        spec = json.loads((sweep_folder.path / "sweep.json").read_text())
        spec.update({"SPEC-workers": {"workers": "two"}, "SPEC-method": {"method": "annealing"},
                     "SPEC-parameters": {"parameters": ["learning_rate"]}}[content])
        content = json.dumps(spec).encode()
    (sweep_folder.path / name).write_bytes(content)
    root = sweep_folder.path.parent.parent
    before = snapshot(root)
    code = cli("mnist", ["sweep", "--resume", sweep_folder.path])
    assert_one_line(capsys, code, 1, str(sweep_folder.path / name), *words)
    assert snapshot(root) == before


@pytest.mark.parametrize("history", [
    "epoch,accuracy,val_accuracy\n1,0.5,0.6\n2,banana,0.8\n",
    "epoch,accuracy,val_accuracy\none,0.5,0.6\n",
])
def test_a_history_with_text_for_a_number_stops_compare_with_nothing_written(tmp_path, capsys, history):
    outputs = tmp_path / "outputs"
    first, second = make_run(outputs, "first"), make_run(outputs, "second")
    (second / "history.csv").write_text(history)
    before = snapshot(tmp_path)
    code = cli("mnist", ["compare", first, second, "--outputs", outputs])
    assert_one_line(capsys, code, 1, str(second / "history.csv"), "is damaged", "not a number")
    assert snapshot(tmp_path) == before and sorted(path.name for path in outputs.iterdir()) == ["first", "second"]


def test_a_comparison_that_fails_half_way_leaves_no_folder(tmp_path, monkeypatch):
    from utils.reports import compare as comparing

    outputs = tmp_path / "outputs"
    runs = [make_run(outputs, "first"), make_run(outputs, "second")]

    def report_fails(folder):
        (Path(folder) / "half.txt").write_text("half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(comparing, "write_compare_report", report_fails)
    with pytest.raises(OSError):
        comparing.compare(runs, outputs, verbosity=0)
    assert sorted(path.name for path in outputs.iterdir()) == ["first", "second"]
    assert not list(outputs.glob(".*"))
