"""Comparison figures: one per metric with every run overlaid, readable from 2 runs to 50.

Colour is the run, line style the split (train dashed, validation solid); each has its own legend, outside the
axes. Beyond MANY_RUNS runs only the best few by the objective keep a colour and both splits; the others are thin
grey validation lines, so a sweep's winners stand out. A caption under each figure says what was compared and how
the best were chosen. The `epoch` column counts from 1.
"""
import math
from typing import Optional
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.lines import Line2D

from utils.reports.plots import (LEGEND_HANDLE_LENGTH, NOT_METRICS, SPLIT_STYLES, keep_small_changes_small, marker_for,
                                 save_figure, split_handles, whole_epoch_axis)
from utils.runs.folder import Figures

MANY_RUNS = 6  # more runs than this: highlight the best, grey the rest
HIGHLIGHT_BEST = 3  # how many runs keep a colour in a figure of many runs
OBJECTIVE = "val_accuracy"  # the best run has the highest best-epoch value of this column
OTHER_COLOUR = "#b5b5b5"
COLOURS = plt.get_cmap("tab10")


def metrics_of(epochs: pd.DataFrame) -> list:
    names = [column for column in epochs.columns
             if column not in NOT_METRICS | {"run", "model", "label"} and not column.startswith("val_")]
    return sorted(names, key=lambda name: (name != "loss", name))


def ranking(epochs: pd.DataFrame, objective: str = OBJECTIVE) -> list:
    """Runs from best to worst by their best epoch's `objective` (higher is better); runs without it last."""
    runs = list(dict.fromkeys(epochs["run"]))
    if objective not in epochs:
        return runs
    best = epochs.groupby("run", sort=False)[objective].max()
    return sorted(runs, key=lambda run: -best[run] if pd.notna(best.get(run)) else math.inf)


def default_labels(epochs: pd.DataFrame) -> dict:
    """Model names when they tell the runs apart, else run ids (compare() passes labels from run.json)."""
    models = epochs.groupby("run", sort=False)["model"].first()
    return dict(models) if models.is_unique else {run: run for run in models.index}


def caption(count: int, compared: str, highlighted: int, chosen_by: str, single_series: bool) -> str:
    what = f"{count} run{'s' if count != 1 else ''} compared" + (f", differing in {compared}" if compared else "") + "."
    if highlighted < count:
        return (f"{what} Coloured: the best {highlighted} by {chosen_by}"
                + ("" if single_series else " (train dashed, validation solid)")
                + f"; grey: the other {count - highlighted}" + ("." if single_series else ", validation only."))
    return what + ("" if single_series else " Train dashed, validation solid.")


def draw_run(axes, rows: pd.DataFrame, splits: list, label: str, colour=None) -> bool:
    """One run's lines: every split in its colour, or, without a colour, only the validation line in thin grey."""
    drawn = False
    for split, column in splits:
        if column not in rows or not rows[column].notna().any():
            continue
        if colour is not None:
            axes.plot(rows["epoch"], rows[column], SPLIT_STYLES.get(split, "-"), color=colour, linewidth=1.8,
                      label=f"{label} {split}".strip(), **marker_for(rows))
        elif split != "train":
            axes.plot(rows["epoch"], rows[column], "-", color=OTHER_COLOUR, linewidth=0.8, zorder=1, label=f"_other {label}")
        else:
            continue
        drawn = True
    return drawn


def add_legends(axes, run_entries: dict, others: int, title: str, with_splits: bool) -> None:
    """Runs (colour) and, where there are two splits, splits (line style): two legends beside the axes."""
    handles = [Line2D([], [], color=colour, linewidth=1.8, label=label) for label, colour in run_entries.items()]
    if others:
        handles.append(Line2D([], [], color=OTHER_COLOUR, linewidth=0.8, label=f"other {others} runs"))
    style = {"fontsize": 8, "title_fontsize": 8, "handlelength": LEGEND_HANDLE_LENGTH, "frameon": False,
             "alignment": "left"}
    runs_legend = axes.legend(handles=handles, title=title, loc="upper left", bbox_to_anchor=(1.02, 1), **style)
    if with_splits:
        axes.add_artist(runs_legend)
        axes.legend(handles=split_handles(), title="split", loc="lower left", bbox_to_anchor=(1.02, 0), **style)


def plot_comparison(epochs: pd.DataFrame, folder: Path, labels: Optional[dict] = None, compared: str = "",
                    highlight: int = HIGHLIGHT_BEST, objective: str = OBJECTIVE) -> list:
    """<metric>.png for every metric and epoch_time.png in `folder`; return notes on metrics some runs lack.

    labels: run id -> name in the legend (default: model names when they differ, else run ids); compared: what
    the runs differ in, for the caption; highlight: how many runs keep a colour beyond MANY_RUNS runs.
    """
    notes = []
    labels = labels or default_labels(epochs)
    runs = list(dict.fromkeys(epochs["run"]))
    ranked = ranking(epochs, objective)
    coloured = ranked[:highlight] if len(runs) > MANY_RUNS else runs
    colours = {run: COLOURS(index % 10) for index, run in enumerate(coloured)}
    others = [run for run in runs if run not in colours]
    best = epochs.groupby("run")[objective].max() if objective in epochs else pd.Series(dtype=float)
    chosen_by = (f"highest {objective} at their best epoch" if objective in epochs
                 else f"run order (no run recorded {objective})")
    legend_labels = {run: labels[run] + (f" ({best[run]:.4f})" if others and pd.notna(best.get(run)) else "")
                     for run in coloured}
    for metric in metrics_of(epochs) + ["epoch_seconds"]:
        single_series = metric == "epoch_seconds"
        splits = [("", metric)] if single_series else [("train", metric), ("validation", f"val_{metric}")]
        figure, axes = plt.subplots(figsize=(8, 5))
        # grey underneath, the best drawn last so it lies on top
        missing = [run for run in others + coloured[::-1]
                   if not draw_run(axes, epochs[epochs["run"] == run], splits, labels[run], colours.get(run))]
        missing.sort(key=runs.index)
        if missing:
            notes.append(f"{metric}: not recorded by {', '.join(missing)}")
        title = "epoch time" if single_series else metric
        not_in = ", ".join(labels[run] for run in missing)
        axes.set_title(title + (f" (not in: {not_in})" if missing else ""), fontsize=10)
        whole_epoch_axis(axes)
        if not single_series:
            keep_small_changes_small(axes, epochs[[column for _, column in splits if column in epochs]].to_numpy().ravel())
        axes.set_ylabel("seconds (epoch 1 includes compiling)" if single_series else metric)
        axes.grid(alpha=0.3)
        add_legends(axes, {legend_labels[run]: colours[run] for run in coloured}, len(others),
                    f"best {len(coloured)} by {objective}" if others else "run", with_splits=not single_series)
        figure.text(0.01, -0.01, caption(len(runs), compared, len(coloured), chosen_by, single_series),
                    ha="left", va="top", fontsize=8, wrap=True)
        save_figure(figure, Figures(folder).metric("epoch_time" if single_series else metric))
    return notes
