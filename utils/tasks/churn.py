"""Bank churn (binary): customers who leave or stay, from Churn_Modelling.csv."""
import sys
from pathlib import Path

import numpy as np

from utils.core.errors import UserError
from utils.core.options import Option
from utils.tasks.datasets import Dataset, sha256_of_file
from utils.tasks.preprocessing import TabularPreprocessor
from utils.tasks.registry import Task, register_task
from utils.tasks.tabular import require_preprocessing, split_and_preprocess

CHURN_NUMERIC = ["CreditScore", "Age", "Tenure", "Balance", "NumOfProducts", "HasCrCard", "IsActiveMember", "EstimatedSalary"]
CHURN_CATEGORICAL = ["Geography", "Gender"]
CHURN_TARGET = "Exited"
CHURN_DEFAULT_PATH = Path("data") / "Churn_Modelling.csv"
FLOAT32_MAX = float(np.finfo(np.float32).max)


def read_churn_csv(path, need_target: bool = True):
    """The churn CSV as a pandas DataFrame, checked: every problem is one UserError naming the column (and row) at
    fault."""
    import pandas as pd  # here, so --help and the run store never import pandas

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
        # The model computes in float32: inf, NaN spelled out, or 1e308 would make every loss NaN.
        out_of_range = ~np.isfinite(numbers) | (numbers.abs() > FLOAT32_MAX)
        if out_of_range.any():
            row = int(out_of_range.idxmax())
            raise UserError(
                f"{path}: column {column} data row {row + 1} holds {frame[column][row]!r}, which is not a finite "
                "number a float32 model can use; fix or drop that row."
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
    splits = split_and_preprocess(
        frame, labels, seed, validation_split, limit, preprocessing or TabularPreprocessor(CHURN_NUMERIC, CHURN_CATEGORICAL),
    )
    unknown = splits["preprocessing"].unknown_note()
    return Dataset(
        name="churn",
        **splits,
        class_names=["stayed", "exited"],
        sha256=sha256_of_file(path),
        source=str(path),
        notes=["preprocessing (scaling, one-hot) fitted on the training split only; saved as preprocessing.json"]
        + ([f"validation and test {unknown}"] if unknown else []),
    )




def read_churn_inputs(inputs, preprocessing):
    """Customer CSV files (the target column may be absent) -> features with the run's saved preprocessing."""
    import pandas as pd

    preprocessing = require_preprocessing(preprocessing)
    frames = [read_churn_csv(path, need_target=False) for path in inputs]
    names = []
    for path, frame in zip(inputs, frames):
        ids = frame["CustomerId"] if "CustomerId" in frame else pd.Series(range(1, len(frame) + 1))
        names += [f"{Path(path).name}:{identifier}" for identifier in ids]
    features = np.concatenate([preprocessing.transform(frame) for frame in frames])
    if preprocessing.unknown_note():
        print(f"warning: {preprocessing.unknown_note()}", file=sys.stderr)
    return features, names




CHURN_DATA_OPTIONS = (
    Option("data", ("--data",), str, metavar="PATH", group="data", help=f"the churn CSV (default: {CHURN_DEFAULT_PATH})"),
)


register_task(
    Task(
        name="churn",
        description="bank customers who leave (1) or stay (0), from Churn_Modelling.csv",
        num_classes=2,
        sample_shape=(11,),
        load=load_churn,
        default_model="churn_mlp",
        defaults={"epochs": 100, "batch_size": 10, "optimizer": "adam", "loss": "binary_crossentropy"},
        data_options=CHURN_DATA_OPTIONS,
        read_predict_inputs=read_churn_inputs,
        predict_help="CSV files of customers (Exited may be absent)",
        data_title=lambda options: f"the churn CSV {options.get('data') or CHURN_DEFAULT_PATH}",
    )
)
