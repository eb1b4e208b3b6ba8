"""report.html: one self-contained page per run and per comparison (images embedded, no remote assets)."""
import base64
import html
import json
from pathlib import Path

import pandas as pd

from utils.core import atomic
from utils.runs.folder import RunFolder
from utils.runs.record import RunRecord

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85rem; } td, th { border: 1px solid #ddd; padding: 0.25rem 0.5rem; }
th { background: #f4f4f4; text-align: left; } pre { background: #f8f8f8; padding: 0.75rem; overflow-x: auto; font-size: 0.8rem; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5rem 0; } .figures { display: flex; flex-wrap: wrap; gap: 1rem; }
.figures img { max-width: 48%; } .status-completed { color: #176f2c; } .status-failed, .status-crashed { color: #b00020; }
"""


def _image(path: Path) -> str:
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{encoded}">'


def _figures(paths) -> str:
    return '<div class="figures">' + "".join(_image(path) for path in paths if path.is_file()) + "</div>"


def _table(mapping: dict) -> str:
    rows = "".join(f"<tr><th>{html.escape(str(key))}</th><td>{html.escape(_format(value))}</td></tr>" for key, value in mapping.items())
    return f"<table>{rows}</table>"


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _pre(path: Path) -> str:
    return f"<pre>{html.escape(path.read_text())}</pre>" if path.is_file() else "<p>(not written)</p>"


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>\n")


def write_run_report(folder) -> Path:
    folder = RunFolder(folder)
    record = RunRecord.load(folder).data
    seconds = record.get("seconds_per_epoch") or []
    timings = {
        "epochs completed": record.get("epochs_completed"),
        "total training seconds": round(sum(seconds), 2),
        "seconds per epoch (mean)": round(sum(seconds) / len(seconds), 3) if seconds else None,
        "started": record.get("started"), "ended": record.get("ended"),
    }
    history = folder.read_history()
    plots = folder.plots
    body = [
        f'<p>Status: <b class="status-{html.escape(str(record.get("status")))}">{html.escape(str(record.get("status")))}</b>'
        f" · task {html.escape(record['task'])} · model {html.escape(record['model'])} · {record.get('parameters', 0):,} parameters"
        f" · data {html.escape(record['data']['name'])} {html.escape(json.dumps(record['data']['sizes']))}</p>",
        "".join(f"<p>Data note: {html.escape(str(note))}</p>" for note in record["data"].get("notes") or []),
        "<h2>Test set</h2>", _table(record.get("test_metrics") or {"test": "not evaluated"}),
        "<h2>Curves</h2>", _figures([plots / "accuracy_loss.png", plots / "epoch_time.png", plots / "learning_rate.png"]),
        "<h2>Classification report and confusion matrix</h2>", _pre(folder.classification_report),
        _figures([plots / "confusion_matrix.png"]),
        "<h2>Hyperparameters</h2>", _table(record.get("hyperparameters", {})),
        "<h2>Timings</h2>", _table(timings),
        "<h2>Every epoch</h2>", history.to_html(index=False, float_format=lambda v: f"{v:.5g}") if not history.empty else "<p>none</p>",
        "<h2>Model</h2>", _pre(folder.summary),
        "<h2>Environment</h2>", _table(record.get("environment", {})),
        f"<p>Command: <code>{html.escape(record.get('command', ''))}</code></p>",
    ]
    path = folder.report
    atomic.write_text(path, _page(f"{record['model']} — {record['run_id']}", "".join(body)))
    return path


def write_compare_report(folder) -> Path:
    folder = Path(folder)
    table = pd.read_csv(folder / "comparison.csv")
    figures = sorted(folder.glob("*.png"), key=lambda path: (path.stem != "loss", path.stem != "accuracy", path.stem))
    body = ["<h2>Runs</h2>", table.to_html(index=False, na_rep="-", float_format=lambda v: f"{v:.4f}"),
            "<h2>Curves (training dashed, validation solid)</h2>", _figures(figures)]
    path = folder / "report.html"
    atomic.write_text(path, _page(f"Comparison — {folder.name}", "".join(body)))
    return path
