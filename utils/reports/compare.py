"""Lay runs side by side: overlaid curves per metric, epoch times, a summary table and every epoch in one CSV."""
import sys
from pathlib import Path

import pandas as pd

from utils.core import atomic
from utils.core.errors import UsageError
from utils.reports.html import write_compare_report
from utils.reports.overlay import plot_comparison
from utils.reports.run_labels import dataset_of, differing_summary, run_labels
from utils.runs.folder import RunFolder, create_run_folder
from utils.runs.groups import difference_line, group_rows, group_runs
from utils.runs.query import render
from utils.runs.record import RunRecord
from utils.runs.store import format_table, summary_rows


def long_history(folders) -> pd.DataFrame:
    """Every epoch of every run: run, model, epoch (from 1), each metric, seconds."""
    frames = []
    for folder in folders:
        data = RunRecord.load(folder).data
        history = RunFolder(folder).read_history()
        if history.empty:
            continue
        history.insert(0, "model", data["model"])
        history.insert(0, "run", data["run_id"])
        frames.append(history)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["run", "model", "epoch"])


def check_comparable(records) -> None:
    """Runs of different tasks are refused (their metrics mean different things); different datasets of one task
    are compared with a warning, each label naming its dataset."""
    tasks = sorted({str(record.get("task")) for record in records})
    if len(tasks) > 1:
        raise UsageError(f"compare takes runs of one task; these are runs of {', '.join(tasks)}. Compare each task's "
                         f"runs apart (e.g. --where task={tasks[0]}).")
    datasets = sorted({str(dataset_of(record)) for record in records})
    if len(datasets) > 1:
        print(f"warning: these runs trained on different datasets ({', '.join(datasets)}); each label names its "
              f"dataset.", file=sys.stderr)


def grouped_summary(records, grouped: bool = False) -> str:
    """The runs by configuration (mean ± std over seeds, n), and for exactly two configurations their difference;
    '' when every configuration has one run and grouping was not asked for."""
    groups = group_runs(records)
    if not groups or (not grouped and all(len(group["runs"]) < 2 for group in groups)):
        return ""
    rows, columns = group_rows(groups)
    lines = [render(rows, columns, "table")]
    if len(groups) == 2:
        lines.append(difference_line(*groups))
    return "\n".join(lines)


def compare(folders, outputs, verbosity: int = 1, grouped: bool = False) -> Path:
    """Write compare_<timestamp>/ with the figures and tables; print the table; return the folder."""
    records = [RunRecord.load(path).data for path in folders]
    check_comparable(records)
    table = summary_rows(folders).drop(columns=["started"])
    labels = run_labels(records)
    table.insert(1, "label", labels)  # the figures' names for the runs, beside their ids
    epochs = long_history(folders)  # read (and checked) before the compare folder exists: no empty folder is left
    folder = create_run_folder(outputs, "", prefix="compare_")
    with atomic.staged_folder(folder) as work:  # a failure anywhere below leaves no compare_* folder
        notes = plot_comparison(
            epochs, work, labels={record["run_id"]: label for record, label in zip(records, labels)},
            compared=differing_summary(records),
        ) if not epochs.empty else ["no run has any finished epoch"]
        atomic.write_text(work / "comparison.csv", table.to_csv(index=False))
        atomic.write_text(work / "epochs.csv", epochs.to_csv(index=False))
        atomic.write_text(work / "runs.txt", "\n".join(str(path) for path in folders) + "\n")
        summary = grouped_summary(records, grouped)
        if summary:
            atomic.write_text(work / "groups.txt", summary + "\n")
        write_compare_report(work)
    if verbosity:
        print(format_table(table.drop(columns=["task", "label"])))
        if summary:
            print(summary)
        for note in notes:
            print(f"note: {note}")
    return folder
