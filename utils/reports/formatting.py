"""Numbers as people read them in report.html: percentages beside their baseline, sizes with thousands separators,
nested settings as short text rather than JSON."""
import html

from utils.reports.plots import constant_value

# test_* metrics that are proportions (shown as percentages) and scores (shown to four decimals), in display order.
PERCENT_METRICS = {"test_accuracy": "accuracy", "test_precision": "precision", "test_recall": "recall"}
SCORE_METRICS = {"test_loss": "loss", "test_roc_auc": "ROC AUC", "test_f1": "F1"}
SEPARATOR = " · "


def format_value(value) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
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
    for name, label in PERCENT_METRICS.items():
        if test_metrics.get(name) is not None:
            rows[label] = percent(test_metrics[name])
            if name == "test_accuracy" and baseline is not None:
                rows[label] += f" (majority-class baseline {percent(baseline)})"
    for name, label in SCORE_METRICS.items():
        if test_metrics.get(name) is not None:
            rows[label] = f"{test_metrics[name]:.4f}"
    shown = set(PERCENT_METRICS) | set(SCORE_METRICS) | {"test_majority_baseline_accuracy"}
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
