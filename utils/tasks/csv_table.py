"""Any CSV (tabular.py --data FILE.csv --target COLUMN): the schema is inferred, the task type detected from the
target, the rows split (stratified for classes) and preprocessed with what the training rows alone teach. The
presets (churn.py, iris.py) come through the same functions with their schema declared (table_preset.py)."""
import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from utils.core.errors import UsageError, UserError
from utils.core.options import Option
from utils.tasks.datasets import TEST_SPLIT_SEED, Dataset, apply_limit, sha256_of_file, stratified_split
from utils.tasks.registry import Task, register_task
from utils.tasks.schema import infer_schema, read_schema_file, schema_record, schema_table
from utils.tasks.target import TASK_TYPES, Target, detect_target, encode_target

TEST_FRACTION = 0.2


def read_table(path, hint="Pass --data FILE.csv."):
    """The CSV as a DataFrame; every problem is one UserError saying what is wrong and how to fix it (`hint`: where
    the file should be, when it is not found)."""
    import pandas as pd  # here, so --help and the run store never import pandas

    path = Path(path)
    if not path.is_file():
        raise UserError(f"CSV not found: {path}. {hint}")
    try:
        frame = pd.read_csv(path, encoding="utf-8")
    except pd.errors.EmptyDataError:
        raise UserError(f"{path} is empty; expected a CSV with a header row and one row per example.")
    except UnicodeDecodeError as error:
        raise UserError(f"{path} is not UTF-8 text (byte {error.object[error.start]:#04x} at offset {error.start}); "
                        "save it as UTF-8 and try again.")
    except pd.errors.ParserError as error:
        raise UserError(f"{path} is not a readable CSV: {str(error).splitlines()[0]}")
    if frame.empty:
        raise UserError(f"{path} has a header but no rows.")
    return frame


@dataclass(frozen=True)
class Table:
    """A table ready to split: its rows with a target, the schema of the other columns, the target, and where it
    came from."""
    frame: object  # a pandas DataFrame without the rows whose target is missing
    columns: list  # utils.tasks.schema.Column, every column but the target
    target: Target
    dropped: int  # rows left out for want of a target
    name: str
    source: str
    sha256: str
    class_names: list  # what reports and predictions call the classes, in label order


def read_csv_table(data_options: dict) -> Table:
    """tabular.py's table: --data and --target, the schema inferred (--schema overrides), the task detected."""
    from utils.tasks.table_pipeline import refuse_non_finite  # here, so --help and the run store never import numpy

    path, column = data_options.get("data"), data_options.get("target")
    if not path or not column:
        raise UsageError("tabular.py needs --data FILE.csv and --target COLUMN (the column to predict).")
    frame = read_table(path)
    if column not in frame.columns:
        raise UserError(f"{path} has no column {column!r}; its columns: {', '.join(map(str, frame.columns))}.")
    overrides = read_schema_file(data_options["schema"]) if data_options.get("schema") else {}
    rows, dropped = rows_with_target(frame, column, path)
    target = detect_target(rows[column], data_options.get("task_type"))
    columns = infer_schema(rows, column, overrides)
    refuse_non_finite(frame, columns, path)
    return Table(rows, columns, target, dropped, Path(path).stem, str(path), sha256_of_file(path), target.classes)


def rows_with_target(frame, column: str, source) -> tuple:
    """(the rows whose target is present, how many were left out)."""
    dropped = int(frame[column].isna().sum())
    rows = frame[frame[column].notna()].reset_index(drop=True)
    if rows.empty:
        raise UserError(f"The target {column} is missing in every row of {source}.")
    return rows, dropped


def split_rows(labels, target: Target, seed: int, validation_split: float, limit) -> dict:
    """Row positions of the train, validation and test splits: the test split fixed (every run of a table is scored
    on the same rows), validation by the run's seed, stratified by class where the classes allow."""
    import numpy as np  # here, so --help and the run store never import numpy

    rows = np.arange(len(labels))
    if len(rows) < 10:
        raise UserError(f"The table has {len(rows)} rows with a target; a train/validation/test split needs at least 10.")
    if target.task_type == "regression":
        from sklearn.model_selection import train_test_split

        train, test = train_test_split(rows, test_size=TEST_FRACTION, random_state=TEST_SPLIT_SEED)
        train, _ = apply_limit(train, train, limit)
        kept, held = train_test_split(np.arange(len(train)), test_size=validation_split, random_state=seed)
    else:
        train, test = stratified_split(rows, labels, TEST_FRACTION, TEST_SPLIT_SEED, "train and test")
        train, _ = apply_limit(train, train, limit)
        kept, held = stratified_split(train, labels[train], validation_split, seed, "training and validation")
    return {"train": train[kept], "validation": train[held], "test": test}


def load_table(data_options: dict, seed: int, validation_split: float, limit, preprocessing=None,
               read=read_csv_table) -> Dataset:
    """The Dataset of a table `read(data_options)` gives: tabular.py's CSV, or a preset's (churn, Iris)."""
    from utils.tasks.table_pipeline import TablePipeline  # here, so --help and the run store never import numpy

    table = read(data_options)
    target = table.target
    labels = encode_target(table.frame[target.column], target)
    rows = split_rows(labels, target, seed, validation_split, limit)
    pipeline = preprocessing or TablePipeline(table.columns, target)
    if not pipeline.fitted:
        pipeline.fit(table.frame.iloc[rows["train"]], labels[rows["train"]])
    splits, counts = {}, {}
    for name, key in (("train", "train"), ("validation", "val"), ("test", "test")):
        splits[f"x_{key}"], counts[name] = pipeline.transform(table.frame.iloc[rows[name]])
        y = labels[rows[name]]
        splits[f"y_{key}"] = pipeline.scale_target(y) if target.task_type == "regression" else y
    return Dataset(
        name=table.name, **splits, preprocessing=pipeline,
        class_names=table.class_names, sha256=table.sha256, source=table.source,
        notes=table_notes(target, counts, table.dropped),
        facts={"target": target.record(), "schema": schema_record(pipeline.columns),
               "features": len(pipeline.feature_names), "rows_without_target": table.dropped,
               "missing_values": {name: split["missing"] for name, split in counts.items()},
               "unseen_categories": {name: split["unseen"] for name, split in counts.items()}},
        run_files={"fitted_preprocessing": pipeline.save,
                   "schema_file": lambda file: Path(file).write_text(json.dumps(schema_record(pipeline.columns), indent=1)),
                   "split_rows": lambda file: Path(file).write_text(json.dumps({k: v.tolist() for k, v in rows.items()}))},
    )


def table_notes(target: Target, counts: dict, dropped: int) -> list:
    notes = [f"{target.task_type} task on {target.column} ({target.reason}); test split fixed (seed {TEST_SPLIT_SEED}), "
             "preprocessing (median/most-frequent imputation, scaling, one-hot) fitted on the training rows only"]
    if target.task_type == "regression":
        notes.append("the target is standardised with the training rows' mean and deviation for training; test "
                     "metrics are in its own units")
    for name, split in counts.items():
        for what, label in (("missing", "missing values imputed"), ("unseen", "categories unseen in training")):
            if split[what]:
                notes.append(f"{name}: {label}: " + ", ".join(f"{column} {count}" for column, count in split[what].items()))
    if dropped:
        notes.append(f"{dropped} row(s) without a target value left out")
    return notes


def read_table_inputs(inputs, preprocessing, id_column=None):
    """CSV files of raw rows (the target may be absent) -> model inputs through the run's fitted pipeline; each row
    is named by its file and `id_column` (churn's CustomerId) where the file has it, else its row number."""
    import numpy as np  # here, so --help and the run store never import numpy

    from utils.tasks.table_pipeline import refuse_non_finite

    if preprocessing is None:
        raise UserError("This run saved no preprocessing.joblib; it cannot score new rows.")
    names, parts = [], []
    for path in inputs:
        frame = read_table(path)
        refuse_non_finite(frame, preprocessing.columns, path)
        features, counts = preprocessing.transform(frame)
        for what, label in (("missing", "missing values imputed"), ("unseen", "categories unseen in training, encoded as all zeros")):
            if counts[what]:
                print(f"warning: {path}: {label}: " + ", ".join(f"{c} {n}" for c, n in counts[what].items()), file=sys.stderr)
        parts.append(features)
        ids = frame[id_column] if id_column in frame.columns else range(1, len(frame) + 1)
        names += [f"{Path(path).name}:{identifier}" for identifier in ids]
    return np.concatenate(parts), names


def bind_table(task: Task, data_options: dict, recorded=None, announce: bool = True, read=read_csv_table) -> Task:
    """The task for one table: its class count, task type and loss from the data (or, for a saved run, from what
    the run recorded), printing the schema before training."""
    if recorded is not None:
        if "target" not in recorded or "features" not in recorded:
            raise UserError("This run's run.json lacks its table's target and schema; the run folder is damaged.")
        target = Target(**{key: recorded["target"][key] for key in ("column", "task_type", "reason", "classes")})
        width = recorded["features"]
    else:
        table = read(data_options)
        target, width = table.target, sum(column.kind != "excluded" for column in table.columns)
        if announce:
            print(f"Schema of {table.source} (target {target.column}: {target.task_type}, {target.reason}):\n"
                  f"{schema_table(table.columns)}", flush=True)
    return dataclasses.replace(
        task, num_classes=target.num_classes, sample_shape=(width,),
        kind="regression" if target.task_type == "regression" else "classification",
        defaults={**task.defaults, "loss": target.loss},
    )


TABLE_DATA_OPTIONS = (
    Option("data", ("--data",), str, metavar="FILE.csv", group="data", help="the CSV to learn from (required)"),
    Option("target", ("--target",), str, metavar="COLUMN", group="data", help="the column to predict (required)"),
    Option("schema", ("--schema",), str, metavar="FILE", group="data",
           help="YAML mapping of column: numeric|categorical|boolean|date|excluded, overriding the inferred types"),
    Option("task_type", ("--task-type",), str, metavar="TYPE", group="data", choices=TASK_TYPES,
           help="binary, multiclass or regression (default: detected from the target)"),
)


register_task(
    Task(
        name="tabular",
        description="any CSV: the column named by --target, from the others",
        num_classes=2,  # until bound to a table (bind_table)
        sample_shape=(8,),
        load=load_table,
        default_model="tabular_mlp",
        defaults={"epochs": 30, "batch_size": 32, "optimizer": "adam", "loss": "binary_crossentropy"},
        data_options=TABLE_DATA_OPTIONS,
        read_predict_inputs=read_table_inputs,
        predict_help="CSV files of raw rows (the target column may be absent)",
        bind=bind_table,
    )
)
