"""tabular.py end to end on real tables written at test time (scikit-learn's breast_cancer, wine, diabetes, Iris
and the churn CSV with blanks): each trains briefly, evaluates, and predicts raw rows with the saved preprocessing;
one table of each task type (binary, multiclass, regression) is exported to every format and checked."""
import json

import numpy as np
import pandas as pd
import pytest
from conftest import cli, export_everywhere, run_folders

pytestmark = pytest.mark.slow  # trains (in process, a TensorFlow import per worker)


def sklearn_csv(tmp_path, loader):
    frame = loader(as_frame=True).frame
    path = tmp_path / f"{loader.__name__}.csv"
    frame.to_csv(path, index=False)
    return path, frame


def train(tmp_path, path, target, *extra):
    outputs = tmp_path / "out"
    assert cli("tabular", ["--data", path, "--target", target, "--epochs", 2, "--outputs", outputs, "--quiet", *extra]) == 0
    (folder,) = run_folders(outputs)
    return folder, json.loads((folder / "run.json").read_text())


def predict(tmp_path, folder, rows: pd.DataFrame) -> pd.DataFrame:
    path = tmp_path / "new.csv"
    rows.to_csv(path, index=False)
    assert cli("tabular", ["predict", folder, path, "--outputs", tmp_path / "out", "--quiet"]) == 0
    (written,) = sorted((folder / "predictions").glob("*.csv"))
    return pd.read_csv(written)


def test_breast_cancer_is_binary_with_auc_beside_its_baseline(tmp_path):
    from sklearn.datasets import load_breast_cancer

    path, frame = sklearn_csv(tmp_path, load_breast_cancer)
    folder, record = train(tmp_path, path, "target")
    assert record["data"]["target"]["task_type"] == "binary"
    metrics = record["test_metrics"]
    assert metrics["test_majority_baseline_accuracy"] == pytest.approx(0.63, abs=0.01)
    assert 0.5 < metrics["test_roc_auc"] <= 1
    splits = json.loads((folder / "splits.json").read_text())
    assert sorted(sum(splits.values(), [])) == list(range(len(frame)))
    assert [column["name"] for column in json.loads((folder / "schema.json").read_text())] == list(frame.columns[:-1])
    table = predict(tmp_path, folder, frame.drop(columns="target").head(4))
    assert list(table.columns) == ["input", "predicted", "P(1)"]
    assert table["P(1)"].between(0, 1).all() and set(table["predicted"]) <= {0, 1}
    assert cli("tabular", ["evaluate", folder, "--outputs", tmp_path / "out", "--quiet"]) == 0
    checks = export_everywhere("tabular", folder, record["data"]["sizes"]["test"])
    assert "30 preprocessed features" in checks["onnx"]["input"]  # the network, not the preprocessing.joblib pipeline


def test_wine_is_multiclass_with_a_probability_per_class(tmp_path):
    from sklearn.datasets import load_wine

    path, frame = sklearn_csv(tmp_path, load_wine)
    folder, record = train(tmp_path, path, "target", "-m", "tabular_linear")
    assert (record["data"]["target"]["task_type"], record["data"]["class_names"]) == ("multiclass", ["0", "1", "2"])
    table = predict(tmp_path, folder, frame.drop(columns="target").head(5))
    probabilities = table[["P(0)", "P(1)", "P(2)"]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=2e-3)
    assert (table["predicted"].to_numpy() == probabilities.argmax(axis=1)).all()
    export_everywhere("tabular", folder, record["data"]["sizes"]["test"])


def test_diabetes_is_regression_scored_in_its_units_beside_the_mean_predictor(tmp_path):
    from sklearn.datasets import load_diabetes

    path, frame = sklearn_csv(tmp_path, load_diabetes)
    folder, record = train(tmp_path, path, "target")
    metrics = record["test_metrics"]
    assert record["data"]["target"]["task_type"] == "regression"
    assert {"test_mae", "test_rmse", "test_r2", "test_mean_baseline_mae", "test_mean_baseline_r2"} <= set(metrics)
    assert 40 < metrics["test_mean_baseline_mae"] < 80  # in the target's units (25..346), not standardised ones
    assert abs(metrics["test_mean_baseline_r2"]) < 0.05
    assert "MAE" in (folder / "regression_report.txt").read_text()
    assert not (folder / "classification_report.txt").exists()
    assert "Regression report" in (folder / "report.html").read_text()
    history = pd.read_csv(folder / "history.csv")  # best.h5 follows val_loss: a regression run has no accuracy
    assert (folder / "checkpoints" / "best.h5").is_file() and record["best"]["metric"] == "val_loss"
    assert record["best"]["value"] == pytest.approx(history["val_loss"].min())
    table = predict(tmp_path, folder, frame.drop(columns="target").head(5))
    assert list(table.columns) == ["input", "predicted"]
    assert table["predicted"].between(0, 400).all()
    export_everywhere("tabular", folder, record["data"]["sizes"]["test"])


def test_iris_from_a_csv_names_its_species(tmp_path):
    from sklearn.datasets import load_iris

    bunch = load_iris(as_frame=True)
    frame = bunch.data.assign(species=bunch.target_names[bunch.target])
    path = tmp_path / "iris.csv"
    frame.to_csv(path, index=False)
    folder, record = train(tmp_path, path, "species", "--epochs", 3)
    assert record["data"]["class_names"] == ["setosa", "versicolor", "virginica"]
    table = predict(tmp_path, folder, frame.drop(columns="species").iloc[[0, 60, 120]])
    assert set(table["predicted"]) <= {"setosa", "versicolor", "virginica"}


def test_churn_with_blanks_and_unseen_categories(tmp_path, churn_csv, capsys):
    frame = pd.read_csv(churn_csv)
    frame.loc[[3, 50, 700], "Age"] = np.nan
    frame.loc[[8, 90], "Geography"] = np.nan
    path = tmp_path / "churn.csv"
    frame.to_csv(path, index=False)
    folder, record = train(tmp_path, path, "Exited", "--batch-size", 64)
    kinds = {column["name"]: column["kind"] for column in record["data"]["schema"]}
    assert [name for name, kind in kinds.items() if kind == "excluded"] == ["RowNumber", "CustomerId", "Surname"]
    missing = record["data"]["missing_values"]
    assert sum(split.get("Age", 0) for split in missing.values()) == 3
    assert sum(split.get("Geography", 0) for split in missing.values()) == 2
    new = frame.drop(columns="Exited").head(2).copy()
    new.loc[0, "Geography"], new.loc[1, "Gender"], new.loc[1, "Age"] = "Atlantis", "Unknown", np.nan
    capsys.readouterr()
    table = predict(tmp_path, folder, new)
    warnings = capsys.readouterr().err
    assert "Geography 1" in warnings and "Gender 1" in warnings and "Age 1" in warnings
    assert table["P(1)"].between(0, 1).all() and len(table) == 2
