"""The figures of RESULTS.md: every model of a dataset overlaid per validation metric, and its epoch times.

Small PNGs (90 dpi) meant to be committed; they are drawn from history.csv and run.json only.
"""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from table import history_epochs  # noqa: E402
from utils.core import atomic  # noqa: E402

DPI = 90
CURVES = {"val_accuracy": "validation accuracy", "val_loss": "validation loss"}


def save_small(figure, path: Path) -> None:
    """Write the PNG atomically, without a timestamp in its metadata, so an unchanged figure is an unchanged file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=DPI, bbox_inches="tight", format="png", metadata={"Software": None})
    plt.close(figure)


def style_of(index: int, model: str) -> dict:
    # tab20 pairs a strong and a light shade: the ten strong ones first, then the light ones. Dense models are
    # dashed and conv nets solid, so the two families read apart even where colours are close.
    shade = (2 * index) % 20 + (index // 10) % 2
    return {"color": plt.get_cmap("tab20")(shade), "linestyle": "--" if model.startswith("mlp") else "-"}


def device_label(row) -> str:
    """The model's name, with the device when it trained on a GPU (times of different devices are not comparable)."""
    return f"{row.model} (GPU)" if (row.record.get("execution") or {}).get("gpu") else row.model


def draw_curves(dataset: str, rows, column: str, path: Path) -> None:
    figure, axes = plt.subplots(figsize=(7, 4.2))
    later = []  # values from epoch 3 on: the first epochs of a slow starter would squash every other curve
    for index, row in enumerate(rows):
        history = history_epochs(row.folder)
        if column in history and history[column].notna().any():
            axes.plot(history["epoch"], history[column], linewidth=1.2, label=device_label(row), **style_of(index, row.model))
            later += history.loc[history["epoch"] >= 3, column].dropna().tolist()
    if later:
        low, high = min(later), max(later)
        axes.set_ylim(low - 0.05 * (high - low or 1), high + 0.05 * (high - low or 1))
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("epoch")
    axes.set_ylabel(CURVES[column])
    axes.set_title(f"{dataset}: {CURVES[column]} per epoch (y-axis fitted to epochs 3 on)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    save_small(figure, path)


def draw_epoch_times(dataset: str, rows, path: Path) -> None:
    """Per model: the first epoch (which includes compiling) beside the median of the later ones."""
    figure, axes = plt.subplots(figsize=(7, 0.35 * len(rows) + 1.2))
    positions = range(len(rows))
    first = [row.seconds_per_epoch[0] if row.seconds_per_epoch else 0 for row in rows]
    steady = [row.steady_seconds_per_epoch or 0 for row in rows]
    axes.barh([p - 0.2 for p in positions], steady, height=0.4, label="median of epochs 2..E")
    axes.barh([p + 0.2 for p in positions], first, height=0.4, label="epoch 1 (includes compiling)", alpha=0.6)
    axes.set_yticks(list(positions), [device_label(row) for row in rows], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("seconds per epoch")
    axes.set_title(f"{dataset}: epoch time per model")
    axes.grid(alpha=0.3, axis="x")
    axes.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    save_small(figure, path)


def draw_dataset_figures(dataset: str, rows, folder) -> list:
    """(caption, path) of each figure written for one dataset."""
    folder = Path(folder)
    written = []
    for column, caption in CURVES.items():
        path = folder / f"{dataset}_{column}.png"
        draw_curves(dataset, rows, column, path)
        written.append((f"{dataset}: {caption}", path))
    path = folder / f"{dataset}_epoch_time.png"
    draw_epoch_times(dataset, rows, path)
    written.append((f"{dataset}: epoch time", path))
    return written
