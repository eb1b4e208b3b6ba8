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
from sklearn.metrics import (ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay,  # noqa: E402
                             precision_score, recall_score)

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
BASELINE_STYLE = {"color": "grey", "linestyle": ":", "linewidth": 1.5}


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
    if figure.get_layout_engine() is not None:
        # A laid-out figure already fits its artists; a tight box would lay out and draw it twice (40 % of the
        # drawing time of a run's figures).
        with atomic.atomic_path(path) as temporary:
            figure.savefig(temporary, dpi=110, format="png")
        plt.close(figure)
        return
    # A legend kept with add_artist (a second legend on one axes) is left out of the tight box unless named;
    # naming artists replaces matplotlib's default list, so that list goes in too (titles, captions).
    legends = [child for axes in figure.axes for child in axes.get_children() if isinstance(child, Legend)]
    artists = figure.get_default_bbox_extra_artists() + legends
    with atomic.atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110, bbox_inches="tight", bbox_extra_artists=artists, format="png")
    plt.close(figure)


def _draw_metric(axes, history, metric, baseline=None):
    handles = []
    for split, column in (("train", metric), ("validation", f"val_{metric}")):
        if column in history and history[column].notna().any():
            final = history[column].dropna().iloc[-1]
            (line,) = axes.plot(history["epoch"], history[column], SPLIT_STYLES[split], **marker_for(history),
                                label=f"{split} (final {final:.4f})")
            handles.append(Line2D([], [], color=line.get_color(), linestyle=SPLIT_STYLES[split], label=line.get_label()))
    # Predicting the commonest class for everyone scores this much: the first epochs of churn sit on it.
    if metric == "accuracy" and baseline is not None:
        handles.append(axes.axhline(baseline, **BASELINE_STYLE, label=f"majority-class baseline ({baseline:.2%})"))
    whole_epoch_axis(axes)
    columns = [column for column in (metric, f"val_{metric}") if column in history]
    keep_small_changes_small(axes, [*history[columns].to_numpy().ravel(), *([baseline] if baseline is not None else [])])
    axes.set_ylabel(metric)
    axes.set_title(metric)
    axes.grid(alpha=0.3)
    axes.legend(handles=handles, handlelength=LEGEND_HANDLE_LENGTH)


def plot_history(history, figures, title="", baseline=None) -> list:
    """<metric>.png for every metric, accuracy_loss.png side by side, epoch_time.png and learning_rate.png.

    `history["epoch"]` counts from 1. Epoch time and learning rate are drawn only when they change. `baseline`, the
    majority-class accuracy, is drawn on the accuracy plots.
    """
    written = []
    if history.empty:
        return written
    metrics = metric_names(history)
    for metric in metrics:
        figure, axes = plt.subplots(figsize=(6, 4), layout="constrained")
        _draw_metric(axes, history, metric, baseline)
        figure.suptitle(title)
        save_figure(figure, figures.metric(metric))
        written.append(figures.metric(metric))
    paired = [metric for metric in ("accuracy", "loss") if metric in metrics]
    if paired:
        figure, axes_list = plt.subplots(1, len(paired), figsize=(6 * len(paired), 4), squeeze=False,
                                       layout="constrained")
        for axes, metric in zip(axes_list[0], paired):
            _draw_metric(axes, history, metric, baseline)
        figure.suptitle(title)
        save_figure(figure, figures.accuracy_loss)
        written.append(figures.accuracy_loss)
    for column, path, draw in (("epoch_seconds", figures.epoch_time, _draw_epoch_time),
                               ("learning_rate", figures.learning_rate, _draw_learning_rate)):
        if column in history and history[column].notna().any() and constant_value(history[column]) is None:
            figure, axes = plt.subplots(figsize=(6, 4), layout="constrained")
            draw(axes, history)
            whole_epoch_axis(axes)
            axes.set_title(f"{axes.get_title()} — {title}" if title else axes.get_title(), fontsize=10)
            axes.grid(alpha=0.3)
            save_figure(figure, path)
            written.append(path)
    return written


def _draw_learning_rate(axes, history) -> None:
    axes.plot(history["epoch"], history["learning_rate"], **marker_for(history))
    axes.set_ylabel("learning rate")
    axes.set_title(f"learning rate (median {history['learning_rate'].median():.4g})")


def _draw_epoch_time(axes, history) -> None:
    """The steady epochs as a line scaled to themselves, epoch 1 (which compiles) as its own marker: XOR's 8 s first
    epoch would otherwise flatten 499 epochs of 0.01 s onto zero. An epoch 1 far above the others sits at the top
    edge, its value written beside it."""
    seconds = history[["epoch", "epoch_seconds"]].dropna()
    first, steady = seconds[seconds["epoch"] == 1]["epoch_seconds"], seconds[seconds["epoch"] > 1]
    if not steady.empty:
        median = steady["epoch_seconds"].median()
        axes.plot(steady["epoch"], steady["epoch_seconds"], **marker_for(history), label=f"steady epochs (median {median:.3g} s)")
        axes.set_title(f"epoch time (steady median {median:.3g} s)")
        axes.set_ylim(0, steady["epoch_seconds"].max() * 1.25)
    if not first.empty:
        value = float(first.iloc[0])
        top = axes.get_ylim()[1] if not steady.empty else None
        off_scale = top is not None and value > top
        axes.plot(1, top if off_scale else value, "^" if off_scale else "D", color="C3", clip_on=False, zorder=3,
                  label=f"epoch 1: {value:.3g} s (includes compiling{', off scale' if off_scale else ''})")
        if steady.empty:
            axes.set_title(f"epoch time (epoch 1 only, {value:.3g} s)")
    axes.set_ylabel("seconds per epoch")
    axes.legend(loc="best")


def plot_confusion_matrix(matrix, class_names, path) -> None:
    """Colour by the rate per true class (each row sums to 100 %), each cell printing its count and that rate, so a
    rare class's misses are as visible as a common one's: on churn 400 missed leavers are a small count but a
    100 % miss rate, which colour by count would paint pale."""
    matrix = np.asarray(matrix)
    totals = matrix.sum(axis=1, keepdims=True)
    rates = np.divide(matrix, totals, out=np.zeros(matrix.shape, dtype=float), where=totals > 0)
    size = max(4.5, 0.7 * len(class_names) + 2.0)
    figure, axes = plt.subplots(figsize=(size + 1, size), layout="constrained")
    display = ConfusionMatrixDisplay(rates, display_labels=class_names).plot(
        ax=axes, xticks_rotation=45, im_kw={"vmin": 0, "vmax": 1},
        text_kw={"fontsize": 8 if len(class_names) > 4 else 10})
    rate_format = "{:.0%}" if len(class_names) > 4 else "{:.1%}"
    for (row, column), count in np.ndenumerate(matrix):
        display.text_[row, column].set_text(f"{count:,}\n{rate_format.format(rates[row, column])}")
    display.im_.colorbar.set_label("rate per true class")
    axes.set_title("count and rate per true class (rows sum to 100 %)", fontsize=10)
    figure.suptitle("Confusion matrix (test set)")
    save_figure(figure, path)


def plot_threshold_curves(labels, scores, positive_name: str, threshold: float, figures) -> list:
    """roc_curve.png and precision_recall_curve.png (scikit-learn's displays, with their AUC and average
    precision), each marking where the decision threshold puts the model, and the chance level."""
    scores = np.asarray(scores, dtype=float)
    predicted = (scores >= threshold).astype(int)
    recall = recall_score(labels, predicted, zero_division=0)
    false_positive_rate = 1 - recall_score(labels, predicted, pos_label=0, zero_division=0)
    # A threshold that predicts no one positive has no precision: its point is left off the precision-recall curve
    # (drawn at 0 it would read as a model that is always wrong).
    precision = precision_score(labels, predicted, zero_division=np.nan)
    point = f"threshold {threshold:g}: P({positive_name}) ≥ {threshold:g} predicts {positive_name}"
    unplaced = f" (no row predicted {positive_name}: precision undefined)" if np.isnan(precision) else ""
    written = []
    for name, path, display_class, xy, note in (
            ("roc_curve", figures.roc_curve, RocCurveDisplay, (false_positive_rate, recall), ""),
            ("precision_recall_curve", figures.precision_recall_curve, PrecisionRecallDisplay, (recall, precision), unplaced)):
        figure, axes = plt.subplots(figsize=(5.5, 5), layout="constrained")
        display_class.from_predictions(labels, scores, ax=axes, name="model", plot_chance_level=True)
        axes.plot(*xy, "o", color="C3", markersize=8, label=point + note)
        axes.legend(loc="lower right" if name == "roc_curve" else "upper right", fontsize=8)
        axes.set_title(f"{'ROC' if name == 'roc_curve' else 'Precision-recall'} curve (test set, {positive_name} positive)",
                       fontsize=10)
        axes.grid(alpha=0.3)
        save_figure(figure, path)
        written.append(path)
    return written
