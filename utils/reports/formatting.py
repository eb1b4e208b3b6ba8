"""Numbers as people read them in report.html: percentages beside their baseline, sizes with thousands separators,
nested settings as short text rather than JSON."""
import html
import numbers

from utils.reports.plots import constant_value

# test_* metrics in display order: proportions as percentages, scores to four decimals.
TEST_METRICS = (("test_accuracy", "accuracy", "percent"), ("test_loss", "loss", "score"),
                ("test_roc_auc", "ROC AUC", "score"), ("test_average_precision", "average precision", "score"),
                ("test_precision", "precision", "percent"),
                ("test_recall", "recall", "percent"), ("test_f1", "F1", "score"))
SEPARATOR = " · "


def format_value(value) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, numbers.Integral):  # numpy integers too, as read back from a CSV
        return f"{value:,}"
    if isinstance(value, numbers.Real):
        return f"{value:.6g}"
    if isinstance(value, dict):
        return SEPARATOR.join(f"{key} {format_value(item)}" for key, item in value.items()) or "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(item) for item in value) or "-"
    return str(value)


def format_sizes(sizes: dict) -> str:
    """{'train': 54000, 'validation': 6000} -> 'train 54,000 · validation 6,000'."""
    return SEPARATOR.join(f"{split} {count:,}" for split, count in sizes.items())


def percent(value) -> str:
    return f"{value:.2%}"


def test_metric_rows(test_metrics: dict) -> dict:
    """Display name -> text; accuracy stands beside the majority-class baseline so nobody mistakes it for skill."""
    rows = {}
    baseline = test_metrics.get("test_majority_baseline_accuracy")
    for name, label, kind in TEST_METRICS:
        value = test_metrics.get(name)
        if value is not None:
            rows[label] = percent(value) if kind == "percent" else f"{value:.4f}"
    if "accuracy" in rows and baseline is not None:
        rows["accuracy"] += f" (majority-class baseline {percent(baseline)})"
    shown = {name for name, _, _ in TEST_METRICS} | {"test_majority_baseline_accuracy"}
    for name, value in test_metrics.items():
        if name not in shown:
            rows[name.removeprefix("test_")] = format_value(value)
    return rows


def constant_series_notes(history) -> list:
    """Sentences for the history columns plot_history leaves out because they never change."""
    notes = []
    for column, label, unit in (("learning_rate", "Learning rate", ""), ("epoch_seconds", "Epoch time", " s")):
        if column in history:
            value = constant_value(history[column])
            if value is not None:
                epochs = int(history[column].notna().sum())
                notes.append(f"{label} {value:.4g}{unit} in {'the only epoch' if epochs == 1 else f'all {epochs} epochs'}"
                             " (constant, so not plotted).")
    return [html.escape(note) for note in notes]
