"""Figures of a run: one function draws every metric the history holds, another the confusion matrix.

Every function here takes a history table whose `epoch` column already holds display numbers (1, 2, 3, ...).
The shared pieces (whole-epoch ticks, the train/validation line styles and their legend, the constant-series test)
live here too, so the comparison figures look the same.
"""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.legend import Legend  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay  # noqa: E402

from utils.core import atomic

NOT_METRICS = {"epoch", "epoch_seconds", "learning_rate"}
# Line style per split; the legend draws them long enough that a dash reads as a dash.
SPLIT_STYLES = {"train": "--", "validation": "-"}
LEGEND_HANDLE_LENGTH = 3.5
# Markers help read a few epochs; on long histories they only thicken the line.
MARKER_EPOCH_LIMIT = 20
# Single-series figures (epoch time, learning rate) whose values vary less than this, relative to their size,
# are not drawn: a flat line at full height looks like a schedule. The report states the value instead.
CONSTANT_TOLERANCE = 1e-6
# A metric between 0 and 1 (accuracy, AUC) gets at least this much of the y axis, so a change in the fourth
# decimal does not fill the figure as if it were learning.
MINIMUM_RATE_SPAN = 0.05


def metric_names(history) -> list:
    """Training metrics present in a history table (loss first), each possibly with a val_ twin."""
    names = [column for column in history.columns if column not in NOT_METRICS and not column.startswith("val_")]
    return sorted(names, key=lambda name: (name != "loss", name))


def constant_value(series):
    """The value of a series that never changes (ignoring gaps), else None."""
    values = np.asarray(series.dropna(), dtype=float)
    if len(values) == 0:
        return None
    spread = values.max() - values.min()
    return float(values[0]) if spread <= CONSTANT_TOLERANCE * max(abs(values).max(), 1e-12) else None


def whole_epoch_axis(axes) -> None:
    """Epochs are counted from 1, so the x axis shows whole numbers only and no epoch 0 (call after plotting)."""
    axes.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    low, high = axes.get_xlim()
    if low < 0.5:
        axes.set_xlim(0.5, high)
    axes.set_xlabel("epoch")


def keep_small_changes_small(axes, values) -> None:
    """Widen the y axis of a 0-to-1 metric whose values barely move to MINIMUM_RATE_SPAN around them."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0 or values.min() < 0 or values.max() > 1:
        return
    low, high = axes.get_ylim()
    if high - low < MINIMUM_RATE_SPAN:
        middle = (values.min() + values.max()) / 2
        low = min(max(middle - MINIMUM_RATE_SPAN / 2, 0.0), 1.0 - MINIMUM_RATE_SPAN)
        axes.set_ylim(low, low + MINIMUM_RATE_SPAN)


def marker_for(epochs) -> dict:
    return {"marker": "o", "markersize": 3} if len(epochs) <= MARKER_EPOCH_LIMIT else {}


def split_handles(splits=("train", "validation"), colour="black") -> list:
    """Legend handles that stand for a split (line style only, no marker that could hide the dashes)."""
    return [Line2D([], [], color=colour, linestyle=SPLIT_STYLES[split], label=split) for split in splits]


def save_figure(figure, path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A legend kept with add_artist (a second legend on one axes) is left out of the tight box unless named;
    # naming artists replaces matplotlib's default list, so that list goes in too (titles, captions).
    legends = [child for axes in figure.axes for child in axes.get_children() if isinstance(child, Legend)]
    artists = figure.get_default_bbox_extra_artists() + legends
    with atomic.atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110, bbox_inches="tight", bbox_extra_artists=artists, format="png")
    plt.close(figure)


def _draw_metric(axes, history, metric):
    handles = []
    for split, column in (("train", metric), ("validation", f"val_{metric}")):
        if column in history and history[column].notna().any():
            final = history[column].dropna().iloc[-1]
            (line,) = axes.plot(history["epoch"], history[column], SPLIT_STYLES[split], **marker_for(history),
                                label=f"{split} (final {final:.4f})")
            handles.append(Line2D([], [], color=line.get_color(), linestyle=SPLIT_STYLES[split], label=line.get_label()))
    whole_epoch_axis(axes)
    columns = [column for column in (metric, f"val_{metric}") if column in history]
    keep_small_changes_small(axes, history[columns].to_numpy().ravel())
    axes.set_ylabel(metric)
    axes.set_title(metric)
    axes.grid(alpha=0.3)
    axes.legend(handles=handles, handlelength=LEGEND_HANDLE_LENGTH)


def plot_history(history, folder, title="") -> list:
    """<metric>.png for every metric, accuracy_loss.png side by side, epoch_time.png and learning_rate.png.

    `history["epoch"]` counts from 1. Epoch time and learning rate are drawn only when they change.
    """
    folder = Path(folder)
    written = []
    if history.empty:
        return written
    metrics = metric_names(history)
    for metric in metrics:
        figure, axes = plt.subplots(figsize=(6, 4), layout="constrained")
        _draw_metric(axes, history, metric)
        figure.suptitle(title)
        save_figure(figure, folder / f"{metric}.png")
        written.append(folder / f"{metric}.png")
    paired = [metric for metric in ("accuracy", "loss") if metric in metrics]
    if paired:
        figure, axes_list = plt.subplots(1, len(paired), figsize=(6 * len(paired), 4), squeeze=False,
                                       layout="constrained")
        for axes, metric in zip(axes_list[0], paired):
            _draw_metric(axes, history, metric)
        figure.suptitle(title)
        save_figure(figure, folder / "accuracy_loss.png")
        written.append(folder / "accuracy_loss.png")
    # epoch 1 includes compiling: said on the axis, so its spike is not taken for a slow first batch
    for column, name, label in (("epoch_seconds", "epoch_time", "seconds (epoch 1 includes compiling)"),
                                ("learning_rate", "learning_rate", "learning rate")):
        if column in history and history[column].notna().any() and constant_value(history[column]) is None:
            figure, axes = plt.subplots(figsize=(6, 4))
            axes.plot(history["epoch"], history[column], **marker_for(history))
            whole_epoch_axis(axes)
            axes.set_ylabel(label)
            axes.set_title(f"{name.replace('_', ' ')} (median {history[column].median():.4g}) — {title}", fontsize=10)
            axes.grid(alpha=0.3)
            save_figure(figure, folder / f"{name}.png")
            written.append(folder / f"{name}.png")
    return written


def plot_confusion_matrix(matrix, class_names, path) -> None:
    """Counts beside rates per true class (each row sums to 100 %), so a rare class's misses are as visible as a
    common one's: on churn 400 missed leavers are a small count but a 100 % miss rate."""
    matrix = np.asarray(matrix)
    totals = matrix.sum(axis=1, keepdims=True)
    rates = np.divide(matrix, totals, out=np.zeros(matrix.shape, dtype=float), where=totals > 0)
    size = max(4.5, 0.45 * len(class_names) + 2.5)
    figure, (counts_axes, rates_axes) = plt.subplots(1, 2, figsize=(2 * size, size), layout="constrained")
    ConfusionMatrixDisplay(matrix, display_labels=class_names).plot(
        ax=counts_axes, colorbar=False, xticks_rotation=45, values_format="d")
    counts_axes.set_title("counts")
    ConfusionMatrixDisplay(rates, display_labels=class_names).plot(
        ax=rates_axes, colorbar=False, xticks_rotation=45, values_format=".0%" if len(class_names) > 4 else ".1%",
        im_kw={"vmin": 0, "vmax": 1})
    rates_axes.set_title("rate per true class (rows sum to 100 %)")
    figure.suptitle("Confusion matrix (test set)")
    save_figure(figure, path)
