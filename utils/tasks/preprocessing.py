"""Preprocessing of tabular features, fitted on the training split only and saved as plain JSON (never a pickle)."""
import warnings

import numpy as np



class TabularPreprocessor:
    """Standard-scale numeric columns and one-hot encode categorical ones (first category dropped).

    The fitted state is a few lists of numbers and strings, so it round-trips through JSON and loads back with no
    code execution.
    """

    def __init__(self, numeric_columns, categorical_columns=()):
        from sklearn.preprocessing import OneHotEncoder, StandardScaler  # here, so --help never imports scikit-learn

        self.numeric_columns = list(numeric_columns)
        self.categorical_columns = list(categorical_columns)
        self.scaler = StandardScaler()
        # A category the training split never saw (a Geography only in the test split) is encoded as all zeros, the
        # way scikit-learn's handle_unknown="ignore" does, and counted in `unknown_seen` for the run's report.
        self.encoder = OneHotEncoder(
            drop="first", handle_unknown="ignore", sparse_output=False, dtype=np.float32,
        ) if self.categorical_columns else None
        self.unknown_seen = {}  # column -> rows transformed with a category unseen in training

    @property
    def fitted(self) -> bool:
        return hasattr(self.scaler, "mean_")

    def fit(self, frame) -> "TabularPreprocessor":
        self.scaler.fit(frame[self.numeric_columns].to_numpy(np.float64))
        if self.encoder is not None:
            self.encoder.fit(frame[self.categorical_columns].astype(str))
        return self

    def transform(self, frame) -> np.ndarray:
        parts = [self.scaler.transform(frame[self.numeric_columns].to_numpy(np.float64)).astype(np.float32)]
        if self.encoder is not None:
            categories = frame[self.categorical_columns].astype(str)
            self.count_unknown(categories)
            with warnings.catch_warnings():  # counted above; scikit-learn's own warning would repeat it per split
                warnings.simplefilter("ignore", UserWarning)
                parts.append(self.encoder.transform(categories))
        return np.concatenate(parts, axis=1)

    def count_unknown(self, categories) -> None:
        for column, known in zip(self.categorical_columns, self.encoder.categories_):
            unseen = int((~categories[column].isin(list(known))).sum())
            if unseen:
                self.unknown_seen[column] = self.unknown_seen.get(column, 0) + unseen

    def unknown_note(self):
        """One sentence counting the rows with categories unseen in training, or None."""
        if not self.unknown_seen:
            return None
        counts = ", ".join(f"{column}: {count}" for column, count in self.unknown_seen.items())
        return f"rows with a category unseen in training, encoded as all zeros ({counts})"

    @property
    def feature_names(self) -> list:
        names = list(self.numeric_columns)
        if self.encoder is not None:
            names += [str(name) for name in self.encoder.get_feature_names_out(self.categorical_columns)]
        return names

    def to_json(self) -> dict:
        return {
            "numeric_columns": self.numeric_columns,
            "mean": self.scaler.mean_.tolist(),
            "scale": self.scaler.scale_.tolist(),
            "categorical_columns": self.categorical_columns,
            "categories": [list(map(str, categories)) for categories in self.encoder.categories_] if self.encoder else [],
            "feature_names": self.feature_names,
        }

    @classmethod
    def from_json(cls, data: dict) -> "TabularPreprocessor":
        preprocessor = cls(data["numeric_columns"], data["categorical_columns"])
        scaler = preprocessor.scaler
        scaler.mean_ = np.asarray(data["mean"], dtype=np.float64)
        scaler.scale_ = np.asarray(data["scale"], dtype=np.float64)
        scaler.var_ = scaler.scale_**2
        scaler.n_features_in_ = len(scaler.mean_)
        scaler.n_samples_seen_ = 0
        if preprocessor.encoder is not None:
            # Fitting on exactly the saved categories reproduces the fitted encoder.
            preprocessor.encoder.set_params(categories=data["categories"])
            longest = max(len(categories) for categories in data["categories"])
            columns = {
                column: [categories[index % len(categories)] for index in range(longest)]
                for column, categories in zip(data["categorical_columns"], data["categories"])
            }
            import pandas as pd

            preprocessor.encoder.fit(pd.DataFrame(columns))
        return preprocessor
