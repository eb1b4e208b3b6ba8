"""Lay runs side by side: overlaid curves per metric, epoch times, a summary table and every epoch in one CSV."""
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from utils.core import atomic
from utils.reports.html import write_compare_report
from utils.reports.plots import NOT_METRICS, save_figure
from utils.runs.folder import RunFolder, create_run_folder
from utils.runs.record import RunRecord
from utils.runs.store import format_table, summary_rows


def summary_table(folders) -> str:
    return format_table(summary_rows(folders).drop(columns=["run", "task", "status", "started"]))


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


def metrics_of(epochs: pd.DataFrame) -> list:
    names = [c for c in epochs.columns if c not in NOT_METRICS | {"run", "model"} and not c.startswith("val_")]
    return sorted(names, key=lambda name: (name != "loss", name))


def plot_comparison(epochs: pd.DataFrame, folder: Path) -> list:
    """One figure per metric with every run overlaid (train dashed, validation solid, a colour per run)."""
    notes = []
    runs = list(dict.fromkeys(epochs["run"]))
    colours = {run: plt.get_cmap("tab10")(index % 10) for index, run in enumerate(runs)}
    for metric in metrics_of(epochs) + ["epoch_seconds"]:
        figure, axes = plt.subplots(figsize=(8, 5))
        missing = []
        for run in runs:
            rows = epochs[epochs["run"] == run]
            label = f"{run} ({rows['model'].iloc[0]})"
            columns = [("epoch_seconds", "-", "")] if metric == "epoch_seconds" else [
                (metric, "--", " train"), (f"val_{metric}", "-", " validation")]
            drawn = False
            for column, style, suffix in columns:
                if column in rows and rows[column].notna().any():
                    axes.plot(rows["epoch"], rows[column], style, color=colours[run], marker="o", markersize=3, label=label + suffix)
                    drawn = True
            if not drawn:
                missing.append(run)
        if missing:
            notes.append(f"{metric}: not recorded by {', '.join(missing)}")
            axes.set_title(f"{metric} (not in: {', '.join(missing)})", fontsize=9)
        else:
            axes.set_title(metric)
        axes.set_xlabel("epoch")
        axes.set_ylabel("seconds" if metric == "epoch_seconds" else metric)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
        name = "epoch_time" if metric == "epoch_seconds" else metric
        save_figure(figure, folder / f"{name}.png")
    return notes


def compare(folders, outputs, verbosity: int = 1) -> Path:
    """Write compare_<timestamp>/ with the figures and tables; print the table; return the folder."""
    table = summary_rows(folders).drop(columns=["started"])
    tasks = sorted(set(table["task"].dropna()))
    if len(tasks) > 1:
        print(f"warning: comparing runs of different tasks ({', '.join(tasks)}); their numbers are not comparable.", file=sys.stderr)
    epochs = long_history(folders)  # read (and checked) before the compare folder exists: no empty folder is left
    folder = create_run_folder(outputs, "", prefix="compare_")
    notes = plot_comparison(epochs, folder) if not epochs.empty else ["no run has any finished epoch"]
    atomic.write_text(folder / "comparison.csv", table.to_csv(index=False))
    atomic.write_text(folder / "epochs.csv", epochs.to_csv(index=False))
    atomic.write_text(folder / "runs.txt", "\n".join(str(path) for path in folders) + "\n")
    write_compare_report(folder)
    if verbosity:
        print(format_table(table.drop(columns=["task"])))
        for note in notes:
            print(f"note: {note}")
    return folder
