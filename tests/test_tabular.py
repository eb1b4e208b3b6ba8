"""Tabular tasks on the same engine: churn, XOR, Iris leave the same kind of run folder as MNIST."""
import json

import numpy as np
import pandas as pd
import pytest
from conftest import read_run, run_folder_of, run_script

from utils.core.errors import UserError
from utils.tasks.datasets import TEST_SPLIT_SEED, stratified_split
from utils.tasks.preprocessing import TabularPreprocessor
from utils.tasks.churn import CHURN_NUMERIC, load_churn, read_churn_csv

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
    assert (folder / "preprocessing.json").is_file()


def test_churn_preprocessing_is_fitted_on_training_rows_only(tmp_path, churn_csv):
    data = load_churn({"data": churn_csv}, seed=5, validation_split=0.1, limit=None)
    frame = read_churn_csv(churn_csv)
    labels = frame["Exited"].to_numpy()
    train, _ = stratified_split(frame, labels, 0.2, TEST_SPLIT_SEED, "train and test")
    kept, _ = stratified_split(frame.iloc[train], labels[train], 0.1, 5, "training and validation")
    training_rows = frame.iloc[train].iloc[kept]
    saved = data.preprocessing.to_json()
    np.testing.assert_allclose(saved["mean"], training_rows[CHURN_NUMERIC].mean().to_numpy(), rtol=1e-9)
    # ...and not on all rows, which differ measurably.
    assert not np.allclose(saved["mean"], frame[CHURN_NUMERIC].mean().to_numpy(), rtol=1e-6)
    # Scaled training features have mean 0; validation and test features do not, exactly.
    assert np.abs(data.x_train[:, : len(CHURN_NUMERIC)].mean(axis=0)).max() < 1e-5
    assert np.abs(data.x_test[:, : len(CHURN_NUMERIC)].mean(axis=0)).max() > 1e-4
    assert data.x_train.shape[1] == 11


def test_saved_preprocessing_round_trips_through_json(churn_csv):
    data = load_churn({"data": churn_csv}, seed=5, validation_split=0.1, limit=None)
    reloaded = TabularPreprocessor.from_json(json.loads(json.dumps(data.preprocessing.to_json())))
    frame = read_churn_csv(churn_csv).head(50)
    np.testing.assert_allclose(reloaded.transform(frame), data.preprocessing.transform(frame), rtol=1e-6)


def _write(tmp_path, frame, name="bad.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def bad_csv_cases(tmp_path, churn_csv):
    good = pd.read_csv(churn_csv).head(200)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    text_value = good.copy()
    text_value["Age"] = text_value["Age"].astype(object)
    text_value.loc[7, "Age"] = "forty"
    blank = good.copy()
    blank.loc[3, "Balance"] = None
    target = good.copy()
    target.loc[0, "Exited"] = 2
    return {
        "missing file": (tmp_path / "absent.csv", ["not found", "absent.csv"]),
        "empty file": (empty, ["is empty"]),
        "missing columns": (_write(tmp_path, good.drop(columns=["Age", "Gender"]), "cols.csv"), ["Age", "Gender"]),
        "non-numeric": (_write(tmp_path, text_value, "text.csv"), ["column Age", "row 8", "'forty'"]),
        "missing values": (_write(tmp_path, blank, "blank.csv"), ["column Balance", "missing", "row 4"]),
        "target not 0/1": (_write(tmp_path, target, "target.csv"), ["Exited", "0 and 1"]),
        "too few rows": (_write(tmp_path, good.head(12), "few.csv"), ["12 rows", "at least 20"]),
    }


CASES = ["missing file", "empty file", "missing columns", "non-numeric", "missing values", "target not 0/1", "too few rows"]


@pytest.mark.parametrize("case", CASES)
def test_bad_churn_csv_is_one_clear_error(tmp_path, churn_csv, case):
    path, words = bad_csv_cases(tmp_path, churn_csv)[case]
    with pytest.raises(UserError) as raised:
        load_churn({"data": path}, seed=1, validation_split=0.1, limit=None)
    for word in words:
        assert word in str(raised.value)


@pytest.mark.slow
def test_bad_churn_csv_through_the_command_line_writes_no_run(tmp_path, churn_csv):
    path, _ = bad_csv_cases(tmp_path, churn_csv)["non-numeric"]
    result = run_script("churn", "--data", path, "--epochs", 1, "--outputs", tmp_path / "outputs")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "column Age" in result.stderr
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").iterdir())


@pytest.mark.slow
def test_xor_reaches_100_percent_with_its_defaults_and_prints_the_truth_table(tmp_path):
    result = run_script("xor", "--outputs", tmp_path)
    record = assert_complete_run(run_folder_of(result), "xor", "xor_mlp")
    assert record["hyperparameters"]["epochs"] == 500 and record["hyperparameters"]["batch_size"] == 1
    assert record["test_metrics"]["test_accuracy"] == 1.0
    assert any("same four rows" in note for note in record["data"]["notes"])
    assert "P(1)" in result.stdout and "predicted" in result.stdout


@pytest.mark.slow
def test_iris_trains_briefly_with_a_stratified_split(tmp_path):
    result = run_script("iris", "--epochs", 3, "--outputs", tmp_path)
    record = assert_complete_run(run_folder_of(result), "iris", "iris_mlp")
    assert record["data"]["sizes"] == {"train": 108, "validation": 12, "test": 30}
    assert record["data"]["class_names"] == ["setosa", "versicolor", "virginica"]


@pytest.mark.slow
@pytest.mark.parametrize("script", ["churn", "xor", "iris"])
def test_tabular_scripts_share_the_common_options(script):
    result = run_script(script, "train", "--help")
    assert result.returncode == 0
    for option in ("-m", "--epochs", "--batch-size", "--optimizer", "--learning-rate", "--seed", "--outputs", "--quiet"):
        assert option in result.stdout
