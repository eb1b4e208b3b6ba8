"""The preprocessing of a CSV task, fitted on the training rows only and saved with the run (joblib), so `predict`
turns raw rows into model inputs exactly as training did: imputation, scaling, one-hot encoding, and the
regression target's scale."""
import warnings

import numpy as np

from utils.core.errors import UserError
from utils.tasks.schema import BOOLEAN_WORDS, columns_of

EPOCH = np.datetime64("1970-01-01")
FLOAT32_MAX = float(np.finfo(np.float32).max)


def refuse_non_finite(frame, columns, source) -> None:
    """The model computes in float32: inf, or a number beyond float32 such as 1e39, would make every loss NaN, so a
    numeric column holding one is refused with its column and row (a blank or text there is missing, and imputed)."""
    import pandas as pd

    for column in columns:
        if column.kind != "numeric" or column.name not in frame.columns:
            continue
        numbers = pd.to_numeric(frame[column.name], errors="coerce").astype(np.float64)
        bad = (numbers.notna() & (~np.isfinite(numbers) | (numbers.abs() > FLOAT32_MAX))).to_numpy()
        if bad.any():
            row = int(bad.argmax())
            raise UserError(f"{source}: column {column.name} data row {row + 1} holds {frame[column.name].iloc[row]!r}, "
                            "which is not a finite number a float32 model can use; fix or drop that row.")


def typed_frame(frame, columns):
    """The schema's columns of `frame` coerced to their types; a value that does not fit becomes missing."""
    import pandas as pd

    typed = pd.DataFrame(index=frame.index)
    for column in columns:
        if column.kind == "excluded":
            continue
        if column.name not in frame.columns:
            typed[column.name] = np.nan  # an absent column is missing in every row (and counted as such)
            continue
        values = frame[column.name]
        if column.kind == "numeric":
            typed[column.name] = pd.to_numeric(values, errors="coerce").astype(np.float64)
        elif column.kind == "boolean":
            typed[column.name] = boolean_values(values)
        elif column.kind == "date":
            dates = pd.to_datetime(values, errors="coerce", format="mixed")
            typed[column.name] = (dates.to_numpy("datetime64[D]") - EPOCH).astype("timedelta64[D]").astype(np.float64)
            typed.loc[dates.isna(), column.name] = np.nan
        else:
            typed[column.name] = values.map(lambda value: np.nan if pd.isna(value) else str(value)).astype(object)
    return typed


def boolean_values(values):
    import pandas as pd

    words = values.map(lambda value: BOOLEAN_WORDS.get(str(value).strip().lower(), np.nan) if not pd.isna(value) else np.nan)
    numbers = pd.to_numeric(values, errors="coerce")
    return numbers.where(numbers.isin([0, 1]), words).astype(np.float64)


class TablePipeline:
    """A scikit-learn ColumnTransformer over the schema's columns, plus the regression target's mean and scale."""

    def __init__(self, columns, target):
        self.columns = list(columns)  # utils.tasks.schema.Column, every column but the target
        self.target = target  # utils.tasks.target.Target
        self.transformer = None
        self.target_mean, self.target_scale = 0.0, 1.0

    @property
    def fitted(self) -> bool:
        return self.transformer is not None

    def fit(self, frame, y) -> "TablePipeline":
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        numeric = columns_of(self.columns, "numeric") + columns_of(self.columns, "date")
        # keep_empty_features: a column missing in every training row still yields its (imputed) input.
        parts = [
            ("numeric", make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()),
             numeric),
            ("boolean", SimpleImputer(strategy="most_frequent", keep_empty_features=True),
             columns_of(self.columns, "boolean")),
            ("categorical", make_pipeline(
                SimpleImputer(strategy="most_frequent", keep_empty_features=True),
                OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float32),
            ), columns_of(self.columns, "categorical")),
        ]
        self.transformer = ColumnTransformer([part for part in parts if part[2]], sparse_threshold=0.0)
        self.transformer.fit(typed_frame(frame, self.columns))
        if self.target.task_type == "regression":
            self.target_mean = float(np.mean(y))
            self.target_scale = float(np.std(y)) or 1.0
        return self

    def transform(self, frame) -> tuple:
        """(float32 model inputs, {"missing": {column: rows}, "unseen": {column: rows}}) for raw rows."""
        typed = typed_frame(frame, self.columns)
        with warnings.catch_warnings():  # unseen categories are counted below, not warned about per split
            warnings.simplefilter("ignore", UserWarning)
            features = self.transformer.transform(typed).astype(np.float32)
        return features, {"missing": nonzero(typed.isna().sum()), "unseen": self.unseen_counts(typed)}

    def unseen_counts(self, typed) -> dict:
        if "categorical" not in self.transformer.named_transformers_:
            return {}
        encoder = self.transformer.named_transformers_["categorical"].steps[-1][1]
        counts = {}
        for column, known in zip(columns_of(self.columns, "categorical"), encoder.categories_):
            values = typed[column]
            counts[column] = int((values.notna() & ~values.isin(list(known))).sum())
        return nonzero(counts)

    def scale_target(self, y) -> np.ndarray:
        return ((np.asarray(y, dtype=np.float64) - self.target_mean) / self.target_scale).astype(np.float32)

    def restore_target(self, values) -> np.ndarray:
        """Model outputs (standardised for regression) back in the target's own units."""
        return np.asarray(values, dtype=np.float64).reshape(-1) * self.target_scale + self.target_mean

    @property
    def feature_names(self) -> list:
        return [str(name) for name in self.transformer.get_feature_names_out()]

    def to_json(self) -> dict:
        """What preprocessing.json shows a reader (the fitted objects themselves are in preprocessing.joblib)."""
        return {"target": self.target.record(), "feature_names": self.feature_names,
                "target_mean": self.target_mean, "target_scale": self.target_scale}

    def save(self, path) -> None:
        import joblib

        joblib.dump(self, path)


def nonzero(counts) -> dict:
    return {str(column): int(count) for column, count in dict(counts).items() if count}


def load_pipeline(path) -> TablePipeline:
    """The run's fitted pipeline. joblib unpickles: only load run folders you made (as with any pickle)."""
    import joblib

    try:
        pipeline = joblib.load(path)
    except Exception as error:  # a damaged pickle raises many kinds
        raise UserError(f"Cannot read {path}: {' '.join(str(error).split())[:200]}; the run's preprocessing is damaged.")
    if not isinstance(pipeline, TablePipeline):
        raise UserError(f"{path} does not hold this project's table preprocessing.")
    return pipeline
