"""Tabular tasks on the same engine: churn, XOR, Iris leave the same kind of run folder as MNIST; churn and Iris
are presets of the CSV path (tabular.py) with their column lists as schemas."""
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import assert_one_line, cli, last_line, make_run, read_run, run_folder_of, run_script, set_record

from utils.core.errors import UserError
from utils.tasks import get_task
from utils.tasks.churn import CHURN_NUMERIC, CHURN_SCHEMA
from utils.tasks.datasets import TEST_SPLIT_SEED, stratified_split
from utils.tasks.table_pipeline import load_pipeline


def load_churn(path, seed=5, validation_split=0.1, limit=None):
    return get_task("churn").load({"data": str(path)}, seed, validation_split, limit)

RUN_FILES = ["run.json", "history.csv", "model.h5", "checkpoints/last.h5", "checkpoints/best.h5", "summary.txt",
             "classification_report.txt", "plots/loss.png", "plots/accuracy.png", "plots/confusion_matrix.png"]


def assert_complete_run(folder, task, model):
    for name in RUN_FILES:
        assert (folder / name).is_file(), name
    record = read_run(folder)
    assert (record["status"], record["task"], record["model"]) == ("completed", task, model)
    return record


@pytest.mark.slow
def test_churn_trains_briefly_and_reports_binary_metrics(tmp_path, churn_csv):
    result = run_script("churn", "--data", churn_csv, "--epochs", 2, "--batch-size", 64, "--outputs", tmp_path)
    folder = run_folder_of(result)
    record = assert_complete_run(folder, "churn", "churn_mlp")
    metrics = record["test_metrics"]
    assert {"test_accuracy", "test_roc_auc", "test_precision", "test_recall", "test_f1"} <= set(metrics)
    assert metrics["test_majority_baseline_accuracy"] == pytest.approx(0.7965, abs=0.002)
    assert "majority-class baseline 79.6" in result.stdout
    assert record["data"]["sizes"] == {"train": 7200, "validation": 800, "test": 2000}
    assert "Confusion matrix" in (folder / "classification_report.txt").read_text()
    assert (folder / "preprocessing.joblib").is_file() and (folder / "splits.json").is_file()
    # The preset's schema is recorded as tabular.py records an inferred one.
    kinds = {column["name"]: column["kind"] for column in record["data"]["schema"]}
    assert kinds == CHURN_SCHEMA
    assert record["data"]["target"]["column"] == "Exited" and record["data"]["features"] == 13


def test_churn_preprocessing_is_fitted_on_training_rows_only(tmp_path, churn_csv):
    data = load_churn(churn_csv)
    frame = pd.read_csv(churn_csv)
    labels = frame["Exited"].to_numpy()
    train, _ = stratified_split(frame, labels, 0.2, TEST_SPLIT_SEED, "train and test")
    kept, _ = stratified_split(frame.iloc[train], labels[train], 0.1, 5, "training and validation")
    training_rows = frame.iloc[train].iloc[kept]
    scaler = data.preprocessing.transformer.named_transformers_["numeric"].steps[-1][1]
    np.testing.assert_allclose(scaler.mean_, training_rows[CHURN_NUMERIC].mean().to_numpy(), rtol=1e-9)
    # ...and not on all rows, which differ measurably.
    assert not np.allclose(scaler.mean_, frame[CHURN_NUMERIC].mean().to_numpy(), rtol=1e-6)
    # Scaled training features have mean 0; validation and test features do not, exactly.
    assert np.abs(data.x_train[:, : len(CHURN_NUMERIC)].mean(axis=0)).max() < 1e-5
    assert np.abs(data.x_test[:, : len(CHURN_NUMERIC)].mean(axis=0)).max() > 1e-4
    assert data.x_train.shape[1] == 13  # 8 numeric, Geography's 3 and Gender's 2 one-hot columns


def test_the_churn_preset_is_tabular_py_with_its_schema_file(tmp_path, churn_csv):
    schema = tmp_path / "churn.yaml"
    schema.write_text(yaml.safe_dump(CHURN_SCHEMA))
    preset = load_churn(churn_csv, seed=3)
    table = get_task("tabular").load({"data": str(churn_csv), "target": "Exited", "schema": str(schema)}, 3, 0.1, None)
    for split in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(preset, split), getattr(table, split))
    assert preset.preprocessing.feature_names == table.preprocessing.feature_names
    assert (preset.name, preset.class_names, table.class_names) == ("churn", ["stayed", "exited"], ["0", "1"])


def test_saved_preprocessing_round_trips_through_its_file(tmp_path, churn_csv):
    data = load_churn(churn_csv)
    data.preprocessing.save(tmp_path / "preprocessing.joblib")
    reloaded = load_pipeline(tmp_path / "preprocessing.joblib")
    frame = pd.read_csv(churn_csv).head(50)
    np.testing.assert_array_equal(reloaded.transform(frame)[0], data.preprocessing.transform(frame)[0])


def test_blanks_and_text_in_a_numeric_churn_column_are_imputed_and_counted(tmp_path, churn_csv):
    frame = pd.read_csv(churn_csv).astype({"Age": object})
    frame.loc[[3, 40], "Balance"] = None
    frame.loc[7, "Age"] = "forty"
    data = load_churn(_write(tmp_path, frame))
    missing = data.facts["missing_values"]
    assert sum(split.get("Balance", 0) for split in missing.values()) == 2
    assert sum(split.get("Age", 0) for split in missing.values()) == 1
    assert np.isfinite(data.x_train).all() and np.isfinite(data.x_test).all()


def test_an_old_churn_run_is_refused_in_one_line(tmp_path, capsys, churn_csv):
    folder = make_run(tmp_path, "20261101-100000_churn_mlp", model="churn_mlp", task="churn")
    record = read_run(folder)
    set_record(folder, hyperparameters={**record["hyperparameters"], "data_options": {"data": str(churn_csv)}},
               data={"name": "churn", "source": str(churn_csv), "class_names": ["stayed", "exited"]})
    for command in ("evaluate", "resume"):
        code = cli("churn", [command, folder])
        assert_one_line(capsys, code, 1, "trained before churn.py became a preset", "train it again")


def _write(tmp_path, frame, name="bad.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def bad_csv_cases(tmp_path, churn_csv):
    good = pd.read_csv(churn_csv).head(200)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    target = good.copy()
    target.loc[0, "Exited"] = 2
    return {
        "missing file": (tmp_path / "absent.csv", ["not found", "absent.csv"]),
        "empty file": (empty, ["is empty"]),
        "missing columns": (_write(tmp_path, good.drop(columns=["Age", "Gender"]), "cols.csv"), ["Age", "Gender"]),
        "target not 0/1": (_write(tmp_path, target, "target.csv"), ["Exited", "0 and 1", "found 2"]),
        "too few rows": (_write(tmp_path, good.head(8), "few.csv"), ["8 rows", "at least 10"]),
    }


CASES = ["missing file", "empty file", "missing columns", "target not 0/1", "too few rows"]


@pytest.mark.parametrize("case", CASES)
def test_bad_churn_csv_is_one_clear_error(tmp_path, churn_csv, case):
    path, words = bad_csv_cases(tmp_path, churn_csv)[case]
    with pytest.raises(UserError) as raised:
        load_churn(path, seed=1)
    for word in words:
        assert word in str(raised.value)


@pytest.mark.slow
def test_bad_churn_csv_through_the_command_line_writes_no_run(tmp_path, churn_csv):
    path, _ = bad_csv_cases(tmp_path, churn_csv)["target not 0/1"]
    result = run_script("churn", "--data", path, "--epochs", 1, "--outputs", tmp_path / "outputs")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "column Exited" in result.stderr
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").iterdir())


@pytest.mark.slow
def test_xor_reaches_100_percent_with_its_defaults_and_prints_the_truth_table(xor_default_run):
    folder, printed = xor_default_run
    assert last_line(printed) == str(folder)
    record = assert_complete_run(folder, "xor", "xor_mlp")
    assert record["hyperparameters"]["epochs"] == 500 and record["hyperparameters"]["batch_size"] == 1
    assert record["test_metrics"]["test_accuracy"] == 1.0
    assert any("same four rows" in note for note in record["data"]["notes"])
    assert "P(1)" in printed and "predicted" in printed


@pytest.mark.slow
def test_iris_trains_briefly_with_a_stratified_split(tmp_path):
    result = run_script("iris", "--epochs", 3, "--outputs", tmp_path)
    record = assert_complete_run(run_folder_of(result), "iris", "iris_mlp")
    assert record["data"]["sizes"] == {"train": 108, "validation": 12, "test": 30}
    assert record["data"]["class_names"] == ["setosa", "versicolor", "virginica"]
    assert [column["kind"] for column in record["data"]["schema"]] == ["numeric"] * 4


@pytest.mark.slow
@pytest.mark.parametrize("script", ["churn", "xor", "iris"])
def test_tabular_scripts_share_the_common_options(script):
    result = run_script(script, "train", "--help")
    assert result.returncode == 0
    for option in ("-m", "--epochs", "--batch-size", "--optimizer", "--learning-rate", "--seed", "--outputs", "--quiet"):
        assert option in result.stdout
