"""What a table's target column asks for: binary or multiclass classification, or regression, and its labels."""
from dataclasses import dataclass, field

from utils.core.errors import UserError

TASK_TYPES = ("binary", "multiclass", "regression")
LOSSES = {"binary": "binary_crossentropy", "multiclass": "categorical_crossentropy", "regression": "mean_squared_error"}
# A numeric target of whole numbers with at most this many distinct values is a set of classes; more is a quantity.
MAX_CLASSES_OF_NUMBERS = 20
# Text targets with more classes than this are almost always an identifier picked by mistake.
MAX_CLASSES = 200


@dataclass(frozen=True)
class Target:
    column: str
    task_type: str  # one of TASK_TYPES
    reason: str
    classes: list = field(default_factory=list)  # class names as text, in label order; [] for regression

    @property
    def num_classes(self) -> int:
        """What the models' builders take: 1 (one linear output) for regression, else the number of classes."""
        return 1 if self.task_type == "regression" else len(self.classes)

    @property
    def loss(self) -> str:
        return LOSSES[self.task_type]

    def record(self) -> dict:
        return {"column": self.column, "task_type": self.task_type, "reason": self.reason, "classes": self.classes}


def class_name(value) -> str:
    """A label as text: 1.0 and 1 are both '1', so a float column of 0/1 names its classes 0 and 1."""
    import numpy as np  # here, so --help and the run store never import numpy

    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def detect_target(values, requested=None) -> Target:
    """The task a target column (a pandas Series without its missing rows) asks for; `requested` overrides."""
    import pandas as pd

    column = str(values.name)
    distinct = values.nunique()
    if distinct < 2:
        shown = f"only {values.iloc[0]!r}" if len(values) else "no values"
        raise UserError(f"The target {column} holds {shown}; a model needs at least two different target values.")
    numbers = pd.to_numeric(values, errors="coerce")
    numeric = bool(numbers.notna().all())
    whole = numeric and bool((numbers == numbers.round()).all())
    task_type = requested or inferred_type(distinct, numeric, whole)
    reason = "set by --task-type" if requested else inferred_reason(task_type, distinct)
    if task_type == "regression":
        if not numeric:
            raise UserError(f"--task-type regression needs a numeric target; {column} holds text such as "
                            f"{values[numbers.isna()].iloc[0]!r}.")
        return Target(column, "regression", reason)
    if task_type == "binary" and distinct != 2:
        raise UserError(f"--task-type binary needs a target with two classes; {column} has {distinct}.")
    if distinct > MAX_CLASSES:
        raise UserError(f"The target {column} has {distinct} classes; at most {MAX_CLASSES} are supported "
                        "(pass --task-type regression if it is a quantity).")
    ordered = sorted(numbers.unique()) if numeric else sorted(values.astype(str).unique())
    return Target(column, task_type, reason, [class_name(value) for value in ordered])


def inferred_type(distinct: int, numeric: bool, whole: bool) -> str:
    if distinct == 2:
        return "binary"
    if numeric and (not whole or distinct > MAX_CLASSES_OF_NUMBERS):
        return "regression"
    return "multiclass"


def inferred_reason(task_type: str, distinct: int) -> str:
    if task_type == "binary":
        return "two distinct values"
    if task_type == "regression":
        return f"numbers with {distinct} distinct values"
    return f"{distinct} distinct classes"


def encode_target(values, target: Target):
    """Class ids (int64) for classification, float32 values for regression."""
    import numpy as np
    import pandas as pd

    numbers = pd.to_numeric(values, errors="coerce")
    if target.task_type == "regression":
        return numbers.to_numpy(np.float32)
    values = numbers if numbers.notna().all() else values
    index = {name: position for position, name in enumerate(target.classes)}
    return np.asarray([index[class_name(value)] for value in values], dtype=np.int64)
