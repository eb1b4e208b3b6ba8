"""Lay runs side by side: overlaid curves per metric, epoch times, a summary table and every epoch in one CSV."""
import glob
import sys
from pathlib import Path

import pandas as pd

from utils.core import atomic
from utils.core.errors import UsageError
from utils.reports.evaluation import read_history
from utils.reports.html import write_compare_report
from utils.reports.overlay import plot_comparison
from utils.reports.run_labels import differing_summary, run_labels
from utils.runs.record import RUN_FILE, RunRecord, create_run_folder


def find_runs(outputs) -> list:
    """Every run folder directly under `outputs`, oldest first (compare folders are not runs)."""
    outputs = Path(outputs)
    if not outputs.is_dir():
        return []
    folders = [path for path in outputs.iterdir() if (path / RUN_FILE).is_file()]
    return sorted(folders, key=lambda path: (RunRecord.load(path).data.get("started") or "", path.name))


def resolve_runs(patterns, last, outputs) -> list:
    """Run folders named by paths or globs, plus the newest `last` runs under outputs; duplicates removed."""
    folders = []
    for pattern in patterns or []:
        matches = sorted(glob.glob(str(pattern))) or [str(pattern)]
        for match in matches:
            path = Path(match)
            if not (path / RUN_FILE).is_file():
                raise UsageError(f"{match} is not a run folder (no {RUN_FILE}); pass run folders, globs or --last N.")
            folders.append(path)
    if last:
        folders += find_runs(outputs)[-last:]
    unique = list(dict.fromkeys(folder.resolve() for folder in folders))
    if not unique:
        raise UsageError("Nothing to compare: pass run folders or globs after --compare, or --last N.")
    return unique


def summary_rows(folders) -> pd.DataFrame:
    rows = []
    for folder in folders:
        record = RunRecord.load(folder)
        data = record.data
        seconds = data.get("seconds_per_epoch") or []
        best = data.get("best") or {}
        test = data.get("test_metrics") or {}
        rows.append(
            {
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
            }
        )
    return pd.DataFrame(rows)


def format_table(table: pd.DataFrame) -> str:
    return table.to_string(index=False, float_format=lambda value: f"{value:.4f}", na_rep="-")


def summary_table(folders) -> str:
    return format_table(summary_rows(folders).drop(columns=["run", "task", "status"]))


def long_history(folders) -> pd.DataFrame:
    """Every epoch of every run: run, model, epoch (from 1), each metric, seconds."""
    frames = []
    for folder in folders:
        data = RunRecord.load(folder).data
        history = read_history(Path(folder) / "history.csv")
        if history.empty:
            continue
        history = history.assign(epoch=history["epoch"] + 1)  # epoch base: remove when history.csv is 1-based
        history.insert(0, "model", data["model"])
        history.insert(0, "run", data["run_id"])
        frames.append(history)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["run", "model", "epoch"])


def compare(folders, outputs, verbosity: int = 1) -> Path:
    """Write compare_<timestamp>/ with the figures and tables; print the table; return the folder."""
    table = summary_rows(folders)
    tasks = sorted(set(table["task"].dropna()))
    if len(tasks) > 1:
        print(f"warning: comparing runs of different tasks ({', '.join(tasks)}); their numbers are not comparable.", file=sys.stderr)
    records = [RunRecord.load(path).data for path in folders]
    labels = run_labels(records)
    table.insert(1, "label", labels)  # the figures' names for the runs, beside their ids
    folder = create_run_folder(outputs, "", prefix="compare_")
    epochs = long_history(folders)
    notes = plot_comparison(
        epochs, folder, labels={record["run_id"]: label for record, label in zip(records, labels)},
        compared=differing_summary(records),
    ) if not epochs.empty else ["no run has any finished epoch"]
    atomic.write_text(folder / "comparison.csv", table.to_csv(index=False))
    atomic.write_text(folder / "epochs.csv", epochs.to_csv(index=False))
    atomic.write_text(folder / "runs.txt", "\n".join(str(path) for path in folders) + "\n")
    write_compare_report(folder)
    if verbosity:
        print(format_table(table.drop(columns=["task", "label"])))
        for note in notes:
            print(f"note: {note}")
    return folder


def list_runs(outputs) -> str:
    folders = find_runs(outputs)
    if not folders:
        return f"No runs in {outputs}."
    table = summary_rows(folders)
    table["started"] = [RunRecord.load(folder).data.get("started") for folder in folders]
    return format_table(table[["run", "status", "task", "model", "epochs", "best_val_accuracy", "test_accuracy", "started"]])
