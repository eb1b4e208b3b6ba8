"""Figures of a run: one function draws every metric the history holds, another the confusion matrix."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay  # noqa: E402

from utils.core import atomic

NOT_METRICS = {"epoch", "epoch_seconds", "learning_rate"}


def metric_names(history) -> list:
    """Training metrics present in a history table (loss first), each possibly with a val_ twin."""
    names = [column for column in history.columns if column not in NOT_METRICS and not column.startswith("val_")]
    return sorted(names, key=lambda name: (name != "loss", name))


def save_figure(figure, path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110, bbox_inches="tight", format="png")
    plt.close(figure)


def _draw_metric(axes, history, metric):
    epochs = history["epoch"]
    for column, label, style in ((metric, "train", "--"), (f"val_{metric}", "validation", "-")):
        if column in history and history[column].notna().any():
            final = history[column].dropna().iloc[-1]
            axes.plot(epochs, history[column], style, marker="o", markersize=3, label=f"{label} (final {final:.4f})")
    axes.set_xlabel("epoch")
    axes.set_ylabel(metric)
    axes.set_title(metric)
    axes.grid(alpha=0.3)
    axes.legend()


def plot_history(history, folder, title="") -> list:
    """<metric>.png for every metric, accuracy_loss.png side by side, epoch_time.png and learning_rate.png."""
    folder = Path(folder)
    written = []
    if history.empty:
        return written
    metrics = metric_names(history)
    for metric in metrics:
        figure, axes = plt.subplots(figsize=(6, 4))
        _draw_metric(axes, history, metric)
        figure.suptitle(title)
        save_figure(figure, folder / f"{metric}.png")
        written.append(folder / f"{metric}.png")
    paired = [metric for metric in ("accuracy", "loss") if metric in metrics]
    if paired:
        figure, axes_list = plt.subplots(1, len(paired), figsize=(6 * len(paired), 4), squeeze=False)
        for axes, metric in zip(axes_list[0], paired):
            _draw_metric(axes, history, metric)
        figure.suptitle(title)
        save_figure(figure, folder / "accuracy_loss.png")
        written.append(folder / "accuracy_loss.png")
    for column, name, label in (("epoch_seconds", "epoch_time", "seconds"), ("learning_rate", "learning_rate", "learning rate")):
        if column in history:
            figure, axes = plt.subplots(figsize=(6, 4))
            axes.plot(history["epoch"], history[column], marker="o", markersize=3,
                      label=f"{label} (mean {history[column].mean():.4g})")
            axes.set_xlabel("epoch")
            axes.set_ylabel(label)
            axes.set_title(f"{name.replace('_', ' ')} — {title}")
            axes.grid(alpha=0.3)
            axes.legend()
            save_figure(figure, folder / f"{name}.png")
            written.append(folder / f"{name}.png")
    return written


def plot_confusion_matrix(matrix, class_names, path) -> None:
    size = max(5, 0.6 * len(class_names) + 3)
    figure, axes = plt.subplots(figsize=(size, size))
    ConfusionMatrixDisplay(matrix, display_labels=class_names).plot(ax=axes, colorbar=False, xticks_rotation=45)
    axes.set_title("Confusion matrix (test set)")
    save_figure(figure, path)
