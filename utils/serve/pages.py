"""The dashboard's HTML, built on the server. Every value that came from a run folder or a request (names, tags,
notes, settings, filters) goes through `text()` or `quote()`, so a note of <script>...</script> shows as text.

Pages are complete when served (first paint needs no script); the one script polls the page's JSON endpoint every
POLL_MS and swaps in the parts that changed, already escaped here.
"""
from html import escape
from urllib.parse import quote, urlencode

from utils.runs.query import cell
from utils.serve.charts import legend
from utils.sweeps.progress import duration  # the sweep's own progress line spells times the same way

POLL_MS = 1000  # with the index refreshed every second, an epoch shows within two
PAGE_SIZE = 50

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0 1.5em 2em;color:#222}
nav{padding:.6em 0;border-bottom:1px solid #ddd;margin-bottom:1em}nav a{margin-right:1.2em}
table{border-collapse:collapse;font-size:13px}th,td{padding:2px 8px;border-bottom:1px solid #eee;text-align:left;
white-space:nowrap}th a{color:inherit}td.num{text-align:right;font-variant-numeric:tabular-nums}
.running{color:#1f77b4;font-weight:600}.failed,.crashed,.unreadable{color:#d62728}.interrupted{color:#ff7f0e}
.error{color:#d62728;margin:.5em 0}.differs{background:#fff3c4}.baseline{background:#eef5ff}
.charts{display:flex;flex-wrap:wrap;gap:12px}.legend ul{list-style:none;padding:0;margin:.3em 1.5em .3em 0;
display:inline-block;vertical-align:top}input[type=text]{width:32em}.muted{color:#777}
"""

SCRIPT = """
(function(){
  var url = document.body.getAttribute('data-live');
  if (!url) return;
  function poll(){
    fetch(url, {cache: 'no-store'}).then(function(response){ return response.ok ? response.json() : null; })
    .then(function(update){
      if (update && update.version !== document.body.getAttribute('data-version')) {
        Object.keys(update.parts).forEach(function(id){
          var element = document.getElementById(id);
          if (element) element.innerHTML = update.parts[id];
        });
        document.body.setAttribute('data-version', update.version);
      }
    }).catch(function(){}).then(function(){ setTimeout(poll, %d); });
  }
  setTimeout(poll, %d);
})();
""" % (POLL_MS, POLL_MS)


def text(value) -> str:
    return escape(str(value), quote=True)


def link(path: str, label, **query) -> str:
    target = path + (("?" + urlencode(query, doseq=True)) if query else "")
    return f'<a href="{text(target)}">{text(label)}</a>'


def run_link(name: str) -> str:
    return link(f"/run/{quote(name, safe='')}", name)


def layout(title: str, body: str, live: str | None = None, version: str = "") -> str:
    live_attributes = f' data-live="{text(live)}" data-version="{text(version)}"' if live else ""
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{text(title)}</title>'
            f'<style>{STYLE}</style></head><body{live_attributes}><nav><b>runs dashboard</b> '
            f'<a href="/">runs</a><a href="/sweeps">sweeps</a></nav>{body}<script>{SCRIPT}</script></body></html>')


def not_found(message: str) -> str:
    return layout("not found", f'<h1>Not found</h1><p class="error">{text(message)}</p><p><a href="/">all runs</a></p>')


def epochs_cell(row: dict) -> str:
    progress = row.get("_progress")
    if progress is not None and progress.planned:
        return f"{progress.done}/{progress.planned}"
    return cell(row.get("epochs"))


# ---------------------------------------------------------------- the runs table
def table_cell(row: dict, column: str) -> str:
    if column == "run":
        return f"<td>{run_link(row['run'])}</td>"
    if column == "status":
        status = row.get("status") or "-"
        return f'<td class="{text(status)}">{text(status)}</td>'
    if column == "epochs":
        return f'<td class="num">{text(epochs_cell(row))}</td>'
    value = row.get(column)
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    return f'<td class="num">{text(cell(value))}</td>' if numeric else f"<td>{text(cell(value))}</td>"


def runs_rows(rows: list, columns: list) -> str:
    lines = []
    for row in rows:
        progress = row.get("_progress")
        eta = duration(progress.eta_seconds) if progress is not None and progress.eta_seconds is not None else ""
        lines.append(f'<tr data-run="{text(row["run"])}"><td><input type="checkbox" name="run" form="pick" '
                     f'value="{text(row["run"])}"></td>' + "".join(table_cell(row, column) for column in columns)
                     + f'<td class="num">{text(eta)}</td></tr>')
    return "".join(lines)


def header_cell(column: str, query: dict) -> str:
    current = query.get("sort") or "-started"
    descending = current == column
    arrow = " ▼" if current == f"-{column}" else " ▲" if current == column else ""
    return f"<th>{link('/', column + arrow, **{**query, 'sort': ('-' if not descending else '') + column, 'page': 1})}</th>"


def count_line(matching: int, total: int, page: int, pages: int, query: dict) -> str:
    links = []
    if page > 1:
        links.append(link("/", "« newer", **{**query, "page": page - 1}))
    if page < pages:
        links.append(link("/", "older »", **{**query, "page": page + 1}))
    return (f'<span id="matching">{matching:,}</span> of {total:,} runs match · page {page} of {max(pages, 1)} '
            + " ".join(links))


def runs_page(table, query: dict, tasks: list, version: str) -> str:
    """`table` is utils.serve.app.RunsTable: the rows of this page, counts, columns, an error line."""
    task_options = "".join(f'<option value="{text(task)}"{" selected" if task == query.get("task") else ""}>'
                           f'{text(task)}</option>' for task in ["all", *tasks])
    form = (f'<form method="get" action="/"><label>task <select name="task">{task_options}</select></label> '
            f'<label>where <input type="text" name="where" value="{text(query.get("where", ""))}" '
            f'placeholder="model=conv_net test_accuracy&gt;0.9 tag:baseline"></label> '
            f'<input type="hidden" name="sort" value="{text(query.get("sort", ""))}">'
            f'<button type="submit">filter</button></form>')
    error = f'<p class="error" id="error">{text(table.error)}</p>' if table.error else '<p id="error"></p>'
    head = "<tr><th></th>" + "".join(header_cell(column, query) for column in table.columns) + "<th>eta</th></tr>"
    body = (f"<h1>Runs in {text(table.outputs)}</h1>{form}{error}<p id=\"counts\">{table.count_line}</p>"
            f'<form id="pick" method="get" action="/compare"><button type="submit">compare the runs ticked</button>'
            f'</form><table id="runs"><thead>{head}</thead><tbody id="rows">{runs_rows(table.rows, table.columns)}'
            f"</tbody></table>")
    return layout("runs", body, live="/api/runs?" + urlencode(query), version=version)


# ---------------------------------------------------------------- one run
def status_line(view) -> str:
    progress = view.progress
    planned = f"/{progress.planned}" if progress.planned else ""
    parts = [f'<span class="{text(view.status)}" id="status">{text(view.status)}</span>',
             f'epoch <span id="epoch">{progress.done}{planned}</span>']
    if progress.eta_seconds is not None:
        parts.append(f"about {duration(progress.eta_seconds)} left")
    if view.report:
        parts.append(f'<a id="report" href="/files/{quote(view.name, safe="")}/{quote(view.report)}">'
                     f"{text(view.report)}</a>")
    return " · ".join(parts)


def settings_table(settings: dict) -> str:
    rows = "".join(f"<tr><th>{text(key)}</th><td>{text(cell(value))}</td></tr>" for key, value in settings.items())
    return f'<table class="settings">{rows}</table>'


def facts_list(data: dict) -> str:
    tags = data.get("tags") or {}
    notes = [note.get("text") for note in data.get("notes") or [] if isinstance(note, dict)]
    items = [f"<li>tag <b>{text(key)}</b> = {text(value)}</li>" for key, value in tags.items()]
    items += [f'<li class="note">note: {text(note)}</li>' for note in notes]
    results = data.get("test_metrics") or {}
    items += [f"<li>{text(key)} {text(cell(value))}</li>" for key, value in results.items()]
    return f"<ul>{''.join(items)}</ul>" if items else ""


def chart_block(charts: list, problem: str | None = None) -> str:
    if problem:
        return f'<p class="error">{text(problem)}</p>'
    return "".join(charts) or '<p class="muted">no epochs yet</p>'


def run_page(view, charts: list, version: str) -> str:
    data = view.data
    body = (f"<h1>{text(view.name)}</h1><p>{text(data.get('task'))} · {text(data.get('model'))} · started "
            f"{text(data.get('started'))}</p><p id=\"progress\">{status_line(view)}</p>{facts_list(data)}"
            f'<div class="charts" id="charts">{chart_block(charts, view.history_problem)}</div>'
            f"<h2>settings</h2>{settings_table(view.settings)}")
    return layout(view.name, body, live=f"/api/run/{quote(view.name, safe='')}", version=version)


# ---------------------------------------------------------------- comparison
def comparison_head(comparison, names: list) -> str:
    cells = []
    for view, label, colour in zip(comparison.views, comparison.labels, comparison.colours):
        baseline = view is comparison.views[0]
        pin = "baseline" if baseline else link("/compare", "pin as baseline", run=names, baseline=view.name)
        cells.append(f'<th class="{"baseline" if baseline else ""}"><span style="color:{colour}">■</span> '
                     f"{text(label)}<br>{run_link(view.name)}<br><small>{pin}</small></th>")
    return "<tr><th></th>" + "".join(cells) + "</tr>"


def comparison_rows(comparison) -> str:
    rows = []
    for key, values in comparison.differing:
        cells = "".join(f'<td class="{"baseline" if index == 0 else "differs" if value != values[0] else ""}">'
                        f"{text(value)}</td>" for index, value in enumerate(values))
        rows.append(f"<tr><th>{text(key)}</th>{cells}</tr>")
    if not comparison.differing:
        rows.append(f'<tr><td colspan="{len(comparison.views) + 1}" class="muted">the settings are the same</td></tr>')
    for key in ("status", "epochs_completed", "test_accuracy", "test_loss"):
        values = [view.status if key == "status" else (view.data.get("test_metrics") or {}).get(key)
                  if key.startswith("test_") else view.data.get(key) for view in comparison.views]
        rows.append(f"<tr><th>{key}</th>" + "".join(f"<td>{text(cell(value))}</td>" for value in values) + "</tr>")
    return "".join(rows)


def compare_page(comparison, names: list, version: str) -> str:
    legend_html = legend(dict(zip(comparison.labels, comparison.colours)))
    body = (f"<h1>Comparison of {len(comparison.views)} runs</h1>"
            f'<p class="muted">Colour is the run, line style the split (train dashed, validation solid); the table '
            f"shows only the settings that differ, each against the baseline.</p>"
            f'<table id="comparison"><thead>{comparison_head(comparison, names)}</thead>'
            f'<tbody id="comparison-rows">{comparison_rows(comparison)}</tbody></table>{legend_html}'
            f'<div class="charts" id="charts">{chart_block(comparison.charts)}</div>')
    baseline = comparison.views[0].name if comparison.views else ""
    return layout("comparison", body, live="/api/compare?" + urlencode({"run": names, "baseline": baseline}, doseq=True),
                  version=version)


# ---------------------------------------------------------------- sweeps
def sweep_progress(view) -> str:
    objective = view.spec.get("objective", "objective")
    best = "-" if view.best is None else f"{view.best:.4f}"
    eta = f" · about {duration(view.eta_seconds)} left" if view.eta_seconds is not None else ""
    return (f'<span id="done">{view.done}</span>/{view.total} trials done · best {text(objective)} '
            f'<span id="best">{text(best)}</span>{eta}')


def trials_rows(view) -> str:
    keys = list(dict.fromkeys(key for trial in view.trials for key in trial.params))
    head = ("<tr><th>trial</th><th>status</th><th>objective</th><th>epochs</th><th>seconds</th>"
            + "".join(f"<th>{text(key)}</th>" for key in keys) + "<th>run</th></tr>")
    rows = []
    for trial in view.trials:
        run = trial.run.replace("\\", "/").rsplit("/", 1)[-1] if trial.run else None
        rows.append(f'<tr><td>{text(trial.trial)}</td><td class="{text(trial.status)}">{text(trial.status)}</td>'
                    f'<td class="num">{text(cell(trial.objective))}</td><td class="num">{text(cell(trial.epochs))}</td>'
                    f'<td class="num">{text(cell(trial.seconds))}</td>'
                    + "".join(f"<td>{text(cell(trial.params.get(key)))}</td>" for key in keys)
                    + f"<td>{run_link(run) if run else '-'}</td></tr>")
    return head + "".join(rows)


def trial_runs(view) -> list:
    return [trial.run.replace("\\", "/").rsplit("/", 1)[-1] for trial in view.trials if trial.run]


def sweep_page(view, version: str) -> str:
    spec = view.spec
    body = (f"<h1>{text(view.name)}</h1><p>{text(spec.get('method'))} sweep of {text(spec.get('task'))} · objective "
            f"{text(spec.get('objective'))} ({text(spec.get('direction'))})</p>"
            f'<p id="sweep-progress">{sweep_progress(view)}</p>'
            f"<p>{link('/compare', 'compare the trials', run=trial_runs(view))}</p>"
            f'<table id="trials">{trials_rows(view)}</table>')
    return layout(view.name, body, live=f"/api/sweep/{quote(view.name, safe='')}", version=version)


def sweeps_page(views: list, problems: list) -> str:
    rows = "".join(f"<tr><td>{link('/sweep/' + quote(view.name, safe=''), view.name)}</td>"
                   f"<td>{text(view.spec.get('method'))}</td><td>{text(view.spec.get('objective'))}</td>"
                   f"<td>{sweep_progress(view)}</td></tr>" for view in views)
    broken = "".join(f'<p class="error">{text(problem)}</p>' for problem in problems)
    table = (f"<table><tr><th>sweep</th><th>method</th><th>objective</th><th>progress</th></tr>{rows}</table>"
             if views else '<p class="muted">no sweeps in this outputs folder</p>')
    return layout("sweeps", f"<h1>Sweeps</h1>{broken}{table}")
