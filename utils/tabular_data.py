"""Tabular tasks: bank churn from a CSV (binary), XOR (four rows), Iris (scikit-learn's copy, three classes)."""
import json
from pathlib import Path

import numpy as np
import pandas as pd

from utils.datasets import TEST_SPLIT_SEED, Dataset, apply_limit, sha256_of_arrays, sha256_of_file, stratified_split
from utils.errors import UserError
from utils.preprocessing import TabularPreprocessor
from utils.tasks import Task, register_task

def split_and_preprocess(frame, labels, seed, validation_split, limit, preprocessor) -> dict:
    """Stratified train/validation/test splits of a table; the preprocessor is fitted on the training split only
    (unless it comes already fitted from a saved run) and applied to all three."""
    train, test = stratified_split(frame, labels, 0.2, TEST_SPLIT_SEED, "train and test")
    train_frame, train_labels = apply_limit(frame.iloc[train], labels[train], limit)
    kept, held = stratified_split(train_frame, train_labels, validation_split, seed, "training and validation")
    if not preprocessor.fitted:
        preprocessor.fit(train_frame.iloc[kept])
    return {
        "x_train": preprocessor.transform(train_frame.iloc[kept]), "y_train": train_labels[kept],
        "x_val": preprocessor.transform(train_frame.iloc[held]), "y_val": train_labels[held],
        "x_test": preprocessor.transform(frame.iloc[test]), "y_test": labels[test],
        "preprocessing": preprocessor,
    }


# ---------------------------------------------------------------- churn
CHURN_NUMERIC = ["CreditScore", "Age", "Tenure", "Balance", "NumOfProducts", "HasCrCard", "IsActiveMember", "EstimatedSalary"]
CHURN_CATEGORICAL = ["Geography", "Gender"]
CHURN_TARGET = "Exited"
CHURN_DEFAULT_PATH = Path("data") / "Churn_Modelling.csv"


def read_churn_csv(path, need_target: bool = True) -> pd.DataFrame:
    """The churn CSV, checked: every problem is one UserError naming the column (and row) at fault."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"Churn CSV not found: {path}. Pass --data PATH or put Churn_Modelling.csv in data/.")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise UserError(f"{path} is empty; expected a CSV with a header row and one row per customer.")
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise UserError(f"{path} is not a readable CSV: {str(error).splitlines()[0]}")
    required = CHURN_NUMERIC + CHURN_CATEGORICAL + ([CHURN_TARGET] if need_target else [])
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise UserError(f"{path} lacks the required column(s) {', '.join(missing)}.")
    if frame.empty:
        raise UserError(f"{path} has a header but no rows.")
    for column in required:
        blank = frame[column].isna()
        if blank.any():
            raise UserError(
                f"{path}: column {column} has {int(blank.sum())} missing value(s), first at data row "
                f"{int(blank.idxmax()) + 1}; fill or drop those rows."
            )
    for column in CHURN_NUMERIC + ([CHURN_TARGET] if need_target else []):
        numbers = pd.to_numeric(frame[column], errors="coerce")
        bad = numbers.isna()
        if bad.any():
            row = int(bad.idxmax())
            raise UserError(
                f"{path}: column {column} must be numeric but data row {row + 1} holds {frame[column][row]!r}."
            )
        frame[column] = numbers
    if need_target:
        values = set(frame[CHURN_TARGET].unique())
        if not values <= {0, 1}:
            raise UserError(f"{path}: the target column {CHURN_TARGET} must hold only 0 and 1; found {sorted(values)[:5]}.")
    return frame


def load_churn(data_options: dict, seed: int, validation_split: float, limit, preprocessing=None) -> Dataset:
    path = Path(data_options.get("data") or CHURN_DEFAULT_PATH)
    frame = read_churn_csv(path)
    labels = frame[CHURN_TARGET].to_numpy(np.int64)
    if len(frame) < 20 or np.bincount(labels, minlength=2).min() < 4:
        raise UserError(
            f"{path} has {len(frame)} rows ({int(labels.sum())} churned); a stratified train/validation/test split "
            "needs at least 20 rows with at least 4 of each class."
        )
    return Dataset(
        name="churn",
        **split_and_preprocess(
            frame, labels, seed, validation_split, limit,
            preprocessing or TabularPreprocessor(CHURN_NUMERIC, CHURN_CATEGORICAL),
        ),
        class_names=["stayed", "exited"],
        sha256=sha256_of_file(path),
        source=str(path),
        notes=["preprocessing (scaling, one-hot) fitted on the training split only; saved as preprocessing.json"],
    )


def saved_preprocessing(run_folder) -> TabularPreprocessor:
    path = Path(run_folder) / "preprocessing.json"
    if not path.is_file():
        raise UserError(f"{run_folder} has no preprocessing.json; it cannot score new rows.")
    return TabularPreprocessor.from_json(json.loads(path.read_text()))


def read_churn_inputs(inputs, run_folder):
    """Customer CSV files (the target column may be absent) -> features with the run's saved preprocessing."""
    preprocessing = saved_preprocessing(run_folder)
    frames = [read_churn_csv(path, need_target=False) for path in inputs]
    names = []
    for path, frame in zip(inputs, frames):
        ids = frame["CustomerId"] if "CustomerId" in frame else pd.Series(range(1, len(frame) + 1))
        names += [f"{Path(path).name}:{identifier}" for identifier in ids]
    return np.concatenate([preprocessing.transform(frame) for frame in frames]), names


def parse_number_rows(inputs, width: int, what: str) -> np.ndarray:
    """Rows such as '0,1' or '5.1 3.5 1.4 0.2' -> a float32 array of shape (rows, width)."""
    rows = []
    for text in inputs:
        parts = [part for part in str(text).replace(",", " ").split() if part]
        try:
            values = [float(part) for part in parts]
        except ValueError:
            raise UserError(f"{text!r} is not a row of numbers; expected {width} numbers for {what}, e.g. {'0,' * (width - 1)}1")
        if len(values) != width:
            raise UserError(f"{text!r} has {len(values)} numbers; {what} takes {width} per row.")
        rows.append(values)
    return np.asarray(rows, dtype=np.float32)


def _add_churn_arguments(parser):
    parser.add_argument("--data", metavar="PATH", default=None, help=f"the churn CSV (default: {CHURN_DEFAULT_PATH})")


register_task(
    Task(
        name="churn",
        description="bank customers who leave (1) or stay (0), from Churn_Modelling.csv",
        num_classes=2,
        sample_shape=(11,),
        load=load_churn,
        default_model="churn_mlp",
        defaults={"epochs": 100, "batch_size": 10, "optimizer": "adam", "loss": "binary_crossentropy"},
        add_data_arguments=_add_churn_arguments,
        data_option_names=("data",),
        read_predict_inputs=read_churn_inputs,
        predict_help="a run folder or .h5, then CSV files of customers (Exited may be absent)",
    )
)

# ---------------------------------------------------------------- XOR
XOR_FEATURES = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_LABELS = np.array([0, 1, 1, 0], dtype=np.int64)


def load_xor(data_options: dict, seed: int, validation_split: float, limit, preprocessing=None) -> Dataset:
    return Dataset(
        name="xor",
        x_train=XOR_FEATURES, y_train=XOR_LABELS,
        x_val=XOR_FEATURES, y_val=XOR_LABELS,
        x_test=XOR_FEATURES, y_test=XOR_LABELS,
        class_names=["0", "1"],
        sha256=sha256_of_arrays(XOR_FEATURES, XOR_LABELS),
        source="the four rows of the XOR truth table",
        notes=["validation and test are the same four rows as training: XOR has no held-out data "
               "(--validation-split and --limit do not apply)"],
    )


def read_xor_inputs(inputs, run_folder):
    return parse_number_rows(inputs, 2, "XOR"), list(inputs)


register_task(
    Task(
        name="xor",
        description="the four-row XOR truth table",
        num_classes=2,
        sample_shape=(2,),
        load=load_xor,
        default_model="xor_mlp",
        defaults={"epochs": 500, "batch_size": 1, "optimizer": "adam", "loss": "binary_crossentropy"},
        read_predict_inputs=read_xor_inputs,
        predict_help="a run folder or .h5, then rows such as 0,1 1,1",
    )
)

# ---------------------------------------------------------------- Iris
IRIS_FEATURES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


def load_iris(data_options: dict, seed: int, validation_split: float, limit, preprocessing=None) -> Dataset:
    from sklearn.datasets import load_iris as sklearn_iris

    bunch = sklearn_iris(as_frame=True)
    frame, labels = bunch.data, bunch.target.to_numpy(np.int64)
    return Dataset(
        name="iris",
        **split_and_preprocess(
            frame, labels, seed, validation_split, limit, preprocessing or TabularPreprocessor(IRIS_FEATURES)
        ),
        class_names=list(bunch.target_names),
        sha256=sha256_of_arrays(frame.to_numpy(), labels),
        source="sklearn.datasets.load_iris()",
        notes=["stratified 80/20 train/test split (fixed seed); features standard-scaled on the training split"],
    )


def read_iris_inputs(inputs, run_folder):
    """Rows of the four measurements in centimetres, scaled with the run's saved preprocessing."""
    rows = parse_number_rows(inputs, 4, "Iris (sepal length, sepal width, petal length, petal width)")
    return saved_preprocessing(run_folder).transform(pd.DataFrame(rows, columns=IRIS_FEATURES)), list(inputs)


register_task(
    Task(
        name="iris",
        description="three species of iris flowers from four measurements",
        num_classes=3,
        sample_shape=(4,),
        load=load_iris,
        default_model="iris_mlp",
        defaults={"epochs": 100, "batch_size": 8, "optimizer": "adam", "loss": "categorical_crossentropy"},
        read_predict_inputs=read_iris_inputs,
        predict_help="a run folder or .h5, then rows of four measurements in cm such as 5.1,3.5,1.4,0.2",
    )
)
