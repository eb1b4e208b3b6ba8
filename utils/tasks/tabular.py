"""What the tabular tasks share: stratified splits with preprocessing fitted on the training split only, the
saved preprocessing of a run, and rows of numbers typed on the command line."""
import json
import math
from pathlib import Path

import numpy as np

from utils.core.errors import UserError
from utils.tasks.datasets import TEST_SPLIT_SEED, apply_limit, stratified_split
from utils.tasks.preprocessing import TabularPreprocessor

FLOAT32_MAX = float(np.finfo(np.float32).max)


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


def load_preprocessing(path) -> TabularPreprocessor:
    """The preprocessing a run fitted on its training split, from the JSON file it saved."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} is missing; this run cannot score new rows.")
    return TabularPreprocessor.from_json(json.loads(path.read_text()))


def require_preprocessing(preprocessing) -> TabularPreprocessor:
    if preprocessing is None:
        raise UserError("This run saved no preprocessing; it cannot score new rows.")
    return preprocessing

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
        for column, value in enumerate(values, start=1):
            if not math.isfinite(value) or abs(value) > FLOAT32_MAX:
                raise UserError(
                    f"input row {len(rows) + 1} ({text!r}), column {column}: {value} is not a finite number a float32 "
                    "model can use."
                )
        rows.append(values)
    return np.asarray(rows, dtype=np.float32)
