"""The runs in an outputs folder: find them, resolve the ones a user names, tabulate them."""
import glob
from pathlib import Path

import pandas as pd

from utils.core.errors import UsageError, UserError
from utils.runs.folder import RUN_FILE, RunFolder
from utils.runs.record import RunRecord


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
    data = record.data
    seconds = data.get("seconds_per_epoch") or []
    best = data.get("best") or {}
    test = data.get("test_metrics") or {}
    return {
        "run": data["run_id"],
        "task": data.get("task"),
        "model": data["model"],
        "status": record.status,
        "params": data.get("parameters"),
        "epochs": data.get("epochs_completed"),
        "best_val_accuracy": best.get("value"),
        "best_epoch": best.get("epoch"),
        "test_accuracy": test.get("test_accuracy"),
        "total_seconds": round(sum(seconds), 2),
        "seconds_per_epoch": round(sum(seconds) / len(seconds), 3) if seconds else None,
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


def list_runs(outputs) -> str:
    folders = find_runs(outputs)
    if not folders:
        return f"No runs in {outputs}."
    table = summary_rows(folders, tolerant=True)
    columns = ["run", "status", "task", "model", "epochs", "best_val_accuracy", "test_accuracy", "started"]
    table = table.reindex(columns=columns + ["reason"])
    table["epochs"] = pd.to_numeric(table["epochs"], errors="coerce").round().astype("Int64")  # whole numbers even beside an unreadable row's gap
    listing = format_table(table[columns])
    unreadable = table[table["status"] == "unreadable"]
    if not unreadable.empty:
        listing += "".join(f"\nunreadable {row.run}: {row.reason}" for row in unreadable.itertuples())
    return listing
