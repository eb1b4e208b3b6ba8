"""Tasks: what data a task trains on, how its labels look, how new inputs are read for --predict.

One module per task (mnist, churn, xor, iris, csv_table for any CSV), each with its loader and its `register_task(Task(...))`, mirroring
models/. This package may import utils.core only; it never imports Keras at module level.
"""
import difflib

from utils.tasks import churn, csv_table, iris, mnist, xor  # noqa: F401  (each registers its task on import)
from utils.tasks.registry import TASKS, Task


def get_task(name: str) -> Task:
    if name not in TASKS:
        close = difflib.get_close_matches(name, list(TASKS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"Unknown task {name!r}.{hint} Valid tasks: {', '.join(TASKS)}.")
    return TASKS[name]
