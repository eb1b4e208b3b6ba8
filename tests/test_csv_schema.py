"""tabular.py's reading of a CSV, in process: schema inference and overrides, task detection, splits, the
preprocessing fitted on training rows only, and bad tables refused in one line before any run folder exists."""
import json

import numpy as np
import pandas as pd
import pytest
from conftest import assert_one_line, cli, run_folders

from utils.core.errors import UserError
from utils.tasks.csv_table import load_table, split_rows
from utils.tasks.schema import infer_column, infer_schema, read_schema_file
from utils.tasks.target import detect_target, encode_target


def mixed_frame(rows=40):
    generator = np.random.default_rng(0)
    return pd.DataFrame({
        "row_id": np.arange(rows) + 1000,
        "const": ["same"] * rows,
        "comment": [f"customer {index} wrote a long note about the service" for index in range(rows)],
        "signup": pd.date_range("2024-01-01", periods=rows).strftime("%Y-%m-%d"),
        "member": ["yes", "no"] * (rows // 2),
        "city": ["Paris", "Lyon", "Nice", "Lille"] * (rows // 4),
        "income": generator.normal(50, 10, rows).round(2),
        "label": ["churned", "stayed"] * (rows // 2),
    })


def test_schema_names_each_columns_type_and_why():
    schema = {column.name: column for column in infer_schema(mixed_frame(), "label", {})}
    assert "label" not in schema
    kinds = {name: column.kind for name, column in schema.items()}
    assert kinds == {"row_id": "excluded", "const": "excluded", "comment": "excluded", "signup": "excluded",
                     "member": "boolean", "city": "categorical", "income": "numeric"}
    assert schema["row_id"].reason.startswith("ID-like")
    assert schema["const"].reason.startswith("constant")
    assert "dates" in schema["signup"].reason
    assert "ID-like" in schema["comment"].reason  # unique per row wins over free text


def test_a_column_of_100000_distinct_strings_is_excluded():
    values = pd.Series([f"token-{index}" for index in range(100_000)], name="token")
    assert infer_column(values).kind == "excluded"
    repeated = pd.Series([f"a b c d {index % 5000}" for index in range(100_000)], name="text")
    column = infer_column(repeated)
    assert (column.kind, column.reason.split(":")[0]) == ("excluded", "free text")


def test_schema_file_overrides_types_and_refuses_unknown_columns(tmp_path):
    path = tmp_path / "schema.yaml"
    path.write_text("signup: date\ncity: excluded\n")
    schema = {column.name: column for column in infer_schema(mixed_frame(), "label", read_schema_file(path))}
    assert (schema["signup"].kind, schema["city"].kind) == ("date", "excluded")
    assert schema["signup"].reason == "set by --schema"
    with pytest.raises(UserError, match="nosuch"):
        infer_schema(mixed_frame(), "label", {"nosuch": "numeric"})
    path.write_text("city: text\n")
    with pytest.raises(UserError, match="'text' is not one of"):
        read_schema_file(path)


def test_target_detection_binary_multiclass_regression_and_override():
    assert detect_target(pd.Series([0, 1, 1, 0], name="y")).task_type == "binary"
    wine = detect_target(pd.Series([0, 1, 2, 2, 1], name="y"))
    assert (wine.task_type, wine.classes, wine.num_classes) == ("multiclass", ["0", "1", "2"], 3)
    diabetes = detect_target(pd.Series(np.linspace(25, 346, 300), name="y"))
    assert (diabetes.task_type, diabetes.num_classes, diabetes.loss) == ("regression", 1, "mean_squared_error")
    species = detect_target(pd.Series(["setosa", "virginica", "versicolor"], name="y"))
    assert species.classes == ["setosa", "versicolor", "virginica"]
    grades = detect_target(pd.Series([1, 2, 3, 4, 5] * 4, name="y"), "regression")
    assert (grades.task_type, grades.reason) == ("regression", "set by --task-type")
    assert encode_target(pd.Series([2.0, 0.0]), wine).tolist() == [2, 0]
    with pytest.raises(UserError, match="needs a numeric target"):
        detect_target(pd.Series(["a", "b", "c"], name="y"), "regression")
    with pytest.raises(UserError, match="at least two different"):
        detect_target(pd.Series([7, 7, 7], name="y"))


def test_splits_are_disjoint_stratified_and_fixed_for_the_test_rows():
    labels = np.array([0] * 80 + [1] * 20)
    target = detect_target(pd.Series(labels, name="y"))
    first, second = split_rows(labels, target, 1, 0.1, None), split_rows(labels, target, 2, 0.1, None)
    assert sorted(np.concatenate(list(first.values()))) == list(range(100))
    assert labels[first["test"]].mean() == pytest.approx(0.2)
    assert first["test"].tolist() == second["test"].tolist()
    assert first["validation"].tolist() != second["validation"].tolist()


def test_imputation_is_learned_from_training_rows_and_unseen_values_are_counted(tmp_path):
    frame = mixed_frame(200)
    frame.loc[::7, "income"] = np.nan
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    dataset = load_table({"data": str(path), "target": "label"}, seed=3, validation_split=0.1, limit=None)
    dataset.run_files["split_rows"](tmp_path / "splits.json")  # what the run folder keeps
    rows = json.loads((tmp_path / "splits.json").read_text())
    training_median = frame["income"].iloc[rows["train"]].median()
    imputer = dataset.preprocessing.transformer.named_transformers_["numeric"].steps[0][1]
    assert imputer.statistics_[0] == pytest.approx(training_median)
    assert training_median != pytest.approx(frame["income"].median())
    missing = dataset.facts["missing_values"]
    assert sum(split.get("income", 0) for split in missing.values()) == frame["income"].isna().sum()
    new = frame.drop(columns="label").head(3).assign(city=["Atlantis", "Paris", None])
    _, counts = dataset.preprocessing.transform(new)
    assert counts == {"missing": {"city": 1, "income": 1}, "unseen": {"city": 1}}  # row 0 lacks its income


def bad_csv(tmp_path, frame=None, raw=None):
    path = tmp_path / "bad.csv"
    if raw is not None:
        path.write_bytes(raw)
    else:
        frame.to_csv(path, index=False)
    return path


BAD_TABLES = [
    ("missing target", lambda: pd.DataFrame({"x": range(30), "y": [0, 1] * 15}), "label", "no column 'label'"),
    ("constant target", lambda: pd.DataFrame({"x": range(30), "label": [1] * 30}), "label", "at least two different"),
    ("every feature excluded", lambda: pd.DataFrame({"id": [f"u{i}" for i in range(30)], "label": [0, 1] * 15}),
     "label", "every feature column is excluded"),
    ("100,000 distinct strings only", lambda: pd.DataFrame({"token": [f"t{i}" for i in range(100_000)],
                                                            "label": [0, 1] * 50_000}),
     "label", "every feature column is excluded"),
]


@pytest.mark.parametrize("case, make, target, words", BAD_TABLES, ids=[case[0] for case in BAD_TABLES])
def test_bad_tables_are_one_line_and_leave_no_run(tmp_path, capsys, case, make, target, words):
    path = bad_csv(tmp_path, make())
    code = cli("tabular", ["--data", path, "--target", target, "--outputs", tmp_path / "out"])
    assert_one_line(capsys, code, 1, words)
    assert run_folders(tmp_path / "out") == []


def test_a_file_that_is_not_utf8_is_one_line(tmp_path, capsys):
    path = bad_csv(tmp_path, raw="name,label\nZürich,1\nGenève,0\n".encode("latin-1"))
    code = cli("tabular", ["--data", path, "--target", "label", "--outputs", tmp_path / "out"])
    assert_one_line(capsys, code, 1, "not UTF-8", "save it as UTF-8")
    assert run_folders(tmp_path / "out") == []


def test_data_and_target_are_required(tmp_path, capsys):
    code = cli("tabular", ["--outputs", tmp_path / "out"])
    assert_one_line(capsys, code, 2, "--data FILE.csv and --target COLUMN")
