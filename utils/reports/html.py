"""report.html: one self-contained page per run and per comparison (images embedded, no remote assets)."""
import base64
import html
from pathlib import Path

import pandas as pd

from utils.core import atomic
from utils.reports.evaluation import threshold_sentence
from utils.reports.formatting import (SEPARATOR, constant_series_notes, format_sizes, format_value, percent,
                                      test_metric_rows)
from utils.reports.overlay import MANY_RUNS
from utils.reports.run_labels import comparison_title
from utils.runs.folder import Figures, RunFolder
from utils.runs.record import RunRecord
from utils.runs.settings import effective_settings
from utils.runs.timing import timing_of

CURVES_NOTE = ('<p class="note">Colour: run, named by what differs between the runs (the table above gives each '
               "label's run id); line style: split, training dashed, validation solid.</p>")
SHARED_COLUMNS = ("task", "dataset", "model", "status", "limit", "batch_size", "params", "epochs")
OBJECTIVE_COLUMN = "best_val_accuracy"  # comparison.csv's column for overlay.OBJECTIVE
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85rem; } td, th { border: 1px solid #ddd; padding: 0.25rem 0.5rem; }
th { background: #f4f4f4; text-align: left; } pre { background: #f8f8f8; padding: 0.75rem; overflow-x: auto; font-size: 0.8rem; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5rem 0; } .figures { display: flex; flex-wrap: wrap; gap: 1rem; }
.figures img { max-width: 48%; } .figures.wide img { max-width: 100%; } .note { color: #555; font-size: 0.9rem; } .wide-table { overflow-x: auto; }
.wide-table td:nth-child(-n+2) { white-space: nowrap; }
.status-completed { color: #176f2c; } .status-failed, .status-crashed { color: #b00020; }
"""


def _image(path: Path) -> str:
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{encoded}">'


def _figures(paths, wide=False) -> str:
    return f'<div class="figures{" wide" if wide else ""}">' + "".join(_image(path) for path in paths if path.is_file()) + "</div>"


# Numbers that name something (a process, a seed) print as they are: pid 20571, not 20,571.
IDENTIFIERS = {"pid", "seed", "process_id", "port"}


def _table(mapping: dict) -> str:
    rows = "".join(f"<tr><th>{html.escape(str(key))}</th><td>{html.escape(str(value) if key in IDENTIFIERS else format_value(value))}</td></tr>"
                   for key, value in mapping.items())
    return f"<table>{rows}</table>"


def _count(value) -> str:
    return "-" if pd.isna(value) else f"{int(value):,}"


def _percent(value) -> str:
    return "-" if pd.isna(value) else percent(value)


def _pre(path: Path) -> str:
    return f"<pre>{html.escape(path.read_text())}</pre>" if path.is_file() else "<p>(not written)</p>"


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>\n")


def write_run_report(folder) -> Path:
    folder = RunFolder(folder)
    record = RunRecord.load(folder).data
    timings = {"epochs completed": record.get("epochs_completed"),
               **{key.replace("_", " "): "-" if value is None else value for key, value in timing_of(record).items()},
               "started": record.get("started"), "ended": record.get("ended") or "-"}
    history = folder.read_history()
    figures = folder.figures
    notes = "".join(f'<p class="note">{note}</p>' for note in constant_series_notes(history))
    body = [
        f'<p>Status: <b class="status-{html.escape(str(record.get("status")))}">{html.escape(str(record.get("status")))}</b>'
        f" · task {html.escape(record['task'])} · model {html.escape(record['model'])} · {record.get('parameters', 0):,} parameters"
        f" · data {html.escape(record['data']['name'])}: {html.escape(format_sizes(record['data']['sizes']))} samples</p>",
        "".join(f"<p>Data note: {html.escape(str(note))}</p>" for note in record["data"].get("notes") or []),
        "<h2>Test set</h2>", _table(test_metric_rows(record.get("test_metrics") or {}) or {"test": "not evaluated"}),
        binary_notes(record), _figures([figures.roc_curve, figures.precision_recall_curve]),
        "<h2>Curves</h2>", _figures([figures.accuracy_loss], wide=True),
        _figures([figures.epoch_time, figures.learning_rate]), notes,
        test_report_section(folder),
        _figures([figures.confusion_matrix], wide=True),
        "<h2>Hyperparameters</h2>", _table(effective_settings(record)),
        "<h2>Timings</h2>", _table(timings),
        "<h2>Every epoch</h2>", history.to_html(index=False, float_format=lambda v: f"{v:.5g}") if not history.empty else "<p>none</p>",
        "<h2>Model</h2>", _figures([figures.model]), _pre(folder.summary),
        "<h2>Tags and notes</h2>", _table({**(record.get("tags") or {}),
                                           **{note.get("written", "note"): note.get("text") for note in record.get("notes") or []}}
                                          or {"tags": "none (add with: tag RUN key=value, note RUN text)"}),
        "<h2>Environment</h2>", _table(record.get("environment", {})),
        f"<p>Command: <code>{html.escape(record.get('command', ''))}</code></p>",
    ]
    path = folder.report
    atomic.write_text(path, _page(f"{record['model']} — {record['run_id']}", "".join(body)))
    return path


def test_report_section(folder: RunFolder) -> str:
    """The test report under its own heading: a regression run's errors, else the classification report."""
    if folder.regression_report.is_file():
        return "<h2>Regression report</h2>" + _pre(folder.regression_report)
    return "<h2>Classification report and confusion matrix</h2>" + _pre(folder.classification_report)


def binary_notes(record: dict) -> str:
    """The decision threshold of a two-class run, which precision, recall and the confusion matrix depend on."""
    names = (record.get("data") or {}).get("class_names") or []
    if len(names) != 2:
        return ""
    return f'<p class="note">{html.escape(threshold_sentence(str(names[1])))}</p>'


def comparison_table(table: pd.DataFrame) -> str:
    """comparison.csv for people: columns that say nothing dropped, counts with separators, accuracies in %."""
    # Settings every run shares go into one line above the table instead of a column repeating them.
    shared = [column for column in SHARED_COLUMNS if column in table and len(table) > 1
              and table[column].nunique(dropna=False) == 1]
    shared_note = SEPARATOR.join(f"{column} {format_value(table[column].iloc[0])}" for column in shared)
    table = table.drop(columns=shared)
    if {"label", "model"} <= set(table) and (table["label"].astype(str) == table["model"].astype(str)).all():
        table = table.drop(columns="label")  # the runs differ by model only: the model column names them
    order_note = ""
    if len(table) > MANY_RUNS and OBJECTIVE_COLUMN in table:
        table = table.sort_values(OBJECTIVE_COLUMN, ascending=False, na_position="last")
        order_note = f'<p class="note">Sorted by {OBJECTIVE_COLUMN.replace("_", " ")}, highest first.</p>'
    formatters = {column: _percent for column in table.columns if "accuracy" in column}
    formatters.update({column: _count for column in ("params", "epochs", "best_epoch") if column in table})
    formatters = {column.replace("_", " "): format for column, format in formatters.items()}
    table = table.rename(columns=lambda column: column.replace("_", " "))  # headers may wrap: the table fits the page
    rows = table.to_html(index=False, na_rep="-", float_format=lambda value: f"{value:.4g}", formatters=formatters)
    shared_note = f'<p class="note">Every run: {html.escape(shared_note)}.</p>' if shared_note else ""
    return f'{shared_note}{order_note}<div class="wide-table">{rows}</div>'


def write_compare_report(folder) -> Path:
    folder = Path(folder)
    table = pd.read_csv(folder / "comparison.csv")
    figures = Figures(folder).all()
    body = ["<h2>Runs</h2>", comparison_table(table),
            "<h2>Curves</h2>", CURVES_NOTE, _figures(figures, wide=True)]
    path = folder / "report.html"
    atomic.write_text(path, _page(f"{comparison_title(table.to_dict('records'))} — {folder.name}", "".join(body)))
    return path
