"""The runs in an outputs folder: find them, resolve the ones a user names, tabulate them."""
import glob
from pathlib import Path

import pandas as pd

from utils.core.errors import UsageError, UserError
from utils.runs.folder import RUN_FILE, RunFolder
from utils.runs.index import data_facts
from utils.runs.record import RunRecord, best_val_accuracy
from utils.runs.settings import effective_settings, unset_word
from utils.runs.timing import timing_of


def find_runs(outputs) -> list:
    """Every run folder directly under `outputs`, oldest first (compare folders are not runs)."""
    outputs = Path(outputs)
    if not outputs.is_dir():
        return []
    folders = [path for path in outputs.iterdir() if RunFolder(path).is_run()]
    return sorted(folders, key=lambda path: (str(_started(path)), path.name))


def _started(folder) -> str:
    try:
        return RunRecord.load(folder).get("started") or ""
    except UserError:
        return ""  # an unreadable run.json sorts first and is listed as `unreadable`


def resolve_runs(patterns, last, outputs) -> list:
    """Run folders named by paths or globs, plus the newest `last` runs under outputs; duplicates removed."""
    folders = []
    for pattern in patterns or []:
        matches = sorted(glob.glob(str(pattern))) or [str(pattern)]
        for match in matches:
            path = Path(match)
            if not RunFolder(path).is_run():
                raise UsageError(f"{match} is not a run folder (no {RUN_FILE}); pass run folders, globs, run names or --last N.")
            folders.append(path)
    if last:
        folders += find_runs(outputs)[-last:]
    unique = list(dict.fromkeys(folder.resolve() for folder in folders))
    if not unique:
        raise UsageError("Nothing to compare: pass run folders, globs or run names, or --last N or --where.")
    return unique


def summary_row(record: RunRecord) -> dict:
    """A run as a comparison table row: what it trained on (dataset, limit, batch size), how it went, how long it
    took (the timing vocabulary of utils.runs.timing); the settings as it trained with them, never None."""
    data = record.data
    best = data.get("best") or {}
    test = data.get("test_metrics") or {}
    settings = effective_settings(data)
    timing = timing_of(data)
    return {
        "run": data["run_id"],
        "task": data.get("task"),
        "dataset": data_facts(data)["dataset"],
        "model": data["model"],
        "status": record.status,
        "limit": settings.get("limit", unset_word("limit")),
        "batch_size": settings.get("batch_size"),
        "params": data.get("parameters"),
        "epochs": data.get("epochs_completed"),
        "best_val_accuracy": best_val_accuracy(data),
        "best_epoch": best.get("epoch"),
        "test_accuracy": test.get("test_accuracy"),
        **{key: timing[key] for key in ("steady_epoch_seconds", "first_epoch_seconds", "training_seconds")},
        "started": data.get("started"),
    }


def summary_rows(folders, tolerant: bool = False) -> pd.DataFrame:
    """One row per run; with `tolerant`, a folder whose run.json cannot be read is an `unreadable` row with the
    reason (for listings), else its one-line UserError stops the caller (for comparisons)."""
    return pd.DataFrame([_row_or_unreadable(folder, tolerant) for folder in folders])


def _row_or_unreadable(folder, tolerant: bool) -> dict:
    try:
        return summary_row(RunRecord.load(folder))
    except UserError as error:
        if not tolerant:
            raise
        return {"run": Path(folder).name, "status": "unreadable", "reason": str(error)}


def format_table(table: pd.DataFrame) -> str:
    return table.to_string(index=False, float_format=lambda value: f"{value:.4f}", na_rep="-")
