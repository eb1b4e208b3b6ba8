"""outputs/index.html: the runs, sweeps and comparisons on one self-contained page (inline script and style, no CDN).

A run that ends writes the newest NEWEST runs, so that its cost does not grow with the store (one stat per folder to
keep the index true, then only the rows shown); `runs --html` writes every run. The page is always rebuilt from the
run folders, written atomically, and a failure is a warning: a crash in it loses nothing.

The table sorts by a click on a column header and filters as one types; `index.html?sort=-test_accuracy&filter=conv`
opens it sorted and filtered (also how the headless-browser test drives it). Each run has a validation-accuracy
sparkline drawn as inline SVG from its history.
"""
import html
import sys
from pathlib import Path

from utils.core import atomic
from utils.runs.folder import RunFolder, index_page
from utils.runs.index import load_rows, page_by_started
from utils.runs.query import order
from utils.runs.sweep_summary import sweep_summaries

NEWEST = 200  # runs on the page a finished run writes
COLUMNS = ("run", "status", "task", "dataset", "model", "batch_size", "learning_rate", "epochs", "best_val_accuracy",
           "test_accuracy", "steady_epoch_seconds", "first_epoch_seconds", "started", "tags")

SCRIPT = """
const table = document.getElementById('runs'), body = table.tBodies[0];
function value(row, column) {
  const text = row.cells[column].dataset.value ?? row.cells[column].textContent;
  const number = parseFloat(text);
  return text !== '' && !isNaN(number) && /^-?[0-9.eE+-]+$/.test(text) ? number : text.toLowerCase();
}
function sortBy(name) {
  const descending = name.startsWith('-'), key = name.replace(/^[-+]/, '');
  const column = [...table.tHead.rows[0].cells].findIndex(cell => cell.dataset.column === key);
  if (column < 0) return;
  const rows = [...body.rows];
  rows.sort((a, b) => {
    const x = value(a, column), y = value(b, column);
    if (x === '' || x === '-') return 1; if (y === '' || y === '-') return -1;
    const order = x < y ? -1 : x > y ? 1 : 0;
    return descending ? -order : order;
  });
  rows.forEach(row => body.appendChild(row));
  table.dataset.sorted = name;
}
function filterBy(text) {
  const needle = text.toLowerCase();
  for (const row of body.rows) row.hidden = needle && !row.textContent.toLowerCase().includes(needle);
}
for (const cell of table.tHead.rows[0].cells) {
  cell.addEventListener('click', () => sortBy(table.dataset.sorted === cell.dataset.column ? '-' + cell.dataset.column : cell.dataset.column));
}
const search = document.getElementById('filter');
search.addEventListener('input', () => filterBy(search.value));
const query = new URLSearchParams(location.search);
if (query.get('sort')) sortBy(query.get('sort'));
if (query.get('filter')) { search.value = query.get('filter'); filterBy(search.value); }
"""

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
table { border-collapse: collapse; font-size: 0.85rem; } td, th { border: 1px solid #ddd; padding: 0.2rem 0.5rem; }
th { background: #f4f4f4; cursor: pointer; text-align: left; } th:hover { background: #e8e8e8; }
input { margin: 0.5rem 0; padding: 0.3rem; width: 20rem; }
.completed { color: #176f2c; } .failed, .crashed, .unreadable { color: #b00020; }
"""


def sparkline(values, width: int = 100, height: int = 20) -> str:
    """An inline SVG polyline of `values` (validation accuracy per epoch), scaled to its own range."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = width / max(len(values) - 1, 1)
    points = " ".join(f"{index * step:.1f},{height - 2 - (value - low) / span * (height - 4):.1f}"
                      for index, value in enumerate(values))
    return (f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}"><title>val_accuracy '
            f'{values[0]:.3f} → {values[-1]:.3f}</title><polyline fill="none" stroke="#1f77b4" stroke-width="1.5" '
            f'points="{points}"/></svg>')


def _cell(column: str, row: dict, outputs: Path) -> str:
    value = row.get(column)
    if column == "run":
        report = RunFolder(outputs / row["run"]).report
        name = html.escape(row["run"])
        return f'<td><a href="{html.escape(report.relative_to(outputs).as_posix())}">{name}</a></td>' if report.is_file() else f"<td>{name}</td>"
    if column == "tags":
        value = ", ".join(f"{key}={item}" for key, item in (value or {}).items())
    if isinstance(value, float):
        return f'<td data-value="{value!r}">{value:.4f}</td>'
    css = f' class="{html.escape(str(value))}"' if column == "status" else ""
    return f"<td{css}>{html.escape('-' if value in (None, '') else str(value))}</td>"


def _comparisons(outputs: Path) -> str:
    links = [f'<li><a href="{html.escape(path.name)}/{RunFolder(path).report.name}">{html.escape(path.name)}</a></li>'
             for path in sorted(outputs.glob("compare_*")) if RunFolder(path).report.is_file()]
    return "<ul>" + "".join(links) + "</ul>" if links else "<p>none yet</p>"


def _sweeps(outputs: Path) -> str:
    """The sweep folders: name (linking the sweep's report), task, method, trials finished of the target, best."""
    rows = []
    for sweep in sweep_summaries(outputs):
        name = html.escape(sweep.name)
        link = f'<a href="{name}/{sweep.report.name}">{name}</a>' if sweep.report else name
        best = "-" if sweep.best is None else f"{sweep.best:.4f} ({sweep.best_trial})"
        texts = [sweep.task, sweep.method, sweep.problem or f"{sweep.done}/{sweep.total}", sweep.objective, best]
        rows.append(f"<tr><td>{link}</td>" + "".join(f"<td>{html.escape(str(text))}</td>" for text in texts) + "</tr>")
    if not rows:
        return "<p>none yet</p>"
    header = "".join(f"<th>{column}</th>" for column in ("sweep", "task", "method", "trials done", "objective", "best"))
    return f'<table id="sweeps"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def newest_rows(outputs, limit=None) -> tuple:
    """(the newest `limit` runs, or all, newest first; how many runs there are in all)."""
    page = page_by_started(outputs, None, limit)
    if page is not None:
        return page.rows, page.total
    rows = load_rows(outputs)  # some start time is not text: sorted as `runs` sorts it
    return order(rows, "-started", ["started"])[:limit], len(rows)


def render_page(outputs, limit=None) -> str:
    outputs = Path(outputs)
    rows, total = newest_rows(outputs, limit)
    header = "".join(f'<th data-column="{column}">{column}</th>' for column in COLUMNS) + "<th>val_accuracy</th>"
    body = "".join("<tr>" + "".join(_cell(column, row, outputs) for column in COLUMNS)
                   + f"<td>{sparkline(row.get('_val_history') or [])}</td></tr>" for row in rows)
    title = f"Runs in {html.escape(str(outputs))}"
    count = (f"{len(rows)} runs" if len(rows) == total else
             f"the newest {len(rows)} of {total} runs (<code>python TASK.py runs --html</code> writes a page of all)")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title><style>{STYLE}</style>'
            f"</head><body><h1>{title}</h1><p>{count} · click a column to sort · "
            f'<input id="filter" placeholder="filter: model, status, tag…"></p>'
            f'<table id="runs"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'
            f"<h2>Sweeps</h2>{_sweeps(outputs)}<h2>Comparisons</h2>{_comparisons(outputs)}<script>{SCRIPT}</script></body></html>\n")


def write_index_page(outputs, limit=None) -> Path:
    """outputs/index.html with the newest `limit` runs (every run without one)."""
    path = index_page(outputs)
    atomic.write_text(path, render_page(outputs, limit))
    return path


def refresh_index_page(outputs) -> None:
    """Rewrite outputs/index.html (the newest NEWEST runs) after a run ends; a failure here is a warning, never the
    run's failure."""
    try:
        write_index_page(outputs, NEWEST)
    except (OSError, ValueError) as error:
        print(f"warning: could not update {index_page(outputs)}: {error}", file=sys.stderr)
