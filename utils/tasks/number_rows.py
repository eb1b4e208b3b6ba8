"""Rows of numbers typed on the command line (xor.py predict 0,1; iris.py predict 5.1,3.5,1.4,0.2)."""
import math

from utils.core.errors import UserError


def parse_number_rows(inputs, width: int, what: str):
    """Rows such as '0,1' or '5.1 3.5 1.4 0.2' -> a float32 array of shape (rows, width)."""
    import numpy as np  # here, so --help and the run store never import numpy

    from utils.tasks.table_pipeline import FLOAT32_MAX

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
