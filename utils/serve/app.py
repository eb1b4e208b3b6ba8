"""The routes: HTML pages (complete on first paint) and the small JSON endpoints their script polls. Read-only:
every route is a GET; a name that is not a run or sweep in the outputs folder is a 404 page."""
import hashlib
import json
import math
import shlex
import sys
import threading
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.routing import Route

from utils.core.errors import UserError
from utils.runs.query import DEFAULT_COLUMNS, check_value_type, order, parse_filter, select
from utils.serve import pages
from utils.serve.views import NotFound, charts, comparison, file_in, run_view, sweep_names, sweep_view

CACHED_QUERIES = 32  # filtered and sorted row lists kept per snapshot, so that polling a page costs O(page)


@dataclass(frozen=True)
class RunsTable:
    outputs: str
    rows: list  # this page's rows
    columns: list
    matching: int
    total: int
    count_line: str
    error: str


class Dashboard:
    """The state the routes share: the run store and the entry point's task (the table's default filter)."""

    def __init__(self, store, task: str):
        self.store = store
        self.task = task
        self._cache = {}  # (generation, task, where, sort) -> rows, error
        self._lock = threading.Lock()  # routes run in a thread pool

    def matching_rows(self, task: str, where: str, sort: str) -> tuple:
        snapshot = self.store.snapshot
        key = (snapshot.generation, task, where, sort)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        result = query(snapshot, task, where, sort)
        with self._lock:
            if len(self._cache) >= CACHED_QUERIES or any(old[0] != snapshot.generation for old in self._cache):
                self._cache = {}
            self._cache[key] = result
        return result

    def table(self, params) -> tuple:
        values = {"task": params.get("task") or self.task, "where": params.get("where", ""), "sort": params.get("sort", "")}
        rows, error = self.matching_rows(values["task"], values["where"], values["sort"])
        pages_count = max(1, math.ceil(len(rows) / pages.PAGE_SIZE))
        page = min(max(1, int(params.get("page")) if str(params.get("page", "")).isdigit() else 1), pages_count)
        shown = [self.store.current_row(row["run"]) or row
                 for row in rows[(page - 1) * pages.PAGE_SIZE: page * pages.PAGE_SIZE]]
        values["page"] = page
        total = len(self.store.snapshot.rows)
        line = pages.count_line(len(rows), total, page, pages_count, values)
        return RunsTable(self.store.outputs, shown, list(DEFAULT_COLUMNS), len(rows), total, line, error), values

    def tasks(self) -> list:
        return sorted({*self.store.snapshot.tasks, self.task})


def query(snapshot, task: str, where: str, sort: str) -> tuple:
    """(the rows the filter box, task and sort select, the error line or ''): utils.runs.query's language."""
    rows = snapshot.rows if task == "all" else [row for row in snapshot.rows if row.get("task") in (task, None)]
    try:
        filters = [parse_filter(text, snapshot.columns) for text in shlex.split(where)]
        for condition in filters:
            check_value_type(condition, rows)
        rows = select(rows, filters)
        return (order(rows, sort, snapshot.columns) if sort else rows), ""
    except ValueError as error:  # shlex: an unclosed quote
        return [], f"where: {error}"
    except UserError as error:
        return [], str(error).replace("--where ", "where ").replace("--sort ", "sort ")


def versioned(parts: dict, **extra) -> JSONResponse:
    """A poll's answer: the page parts and a version that changes exactly when one of them does."""
    version = hashlib.sha1(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]
    return JSONResponse({"version": version, "parts": parts, **extra}, headers={"Cache-Control": "no-store"})


def version_of(parts: dict) -> str:
    return json.loads(versioned(parts).body)["version"]


# ---------------------------------------------------------------- the routes
def runs_page(request):
    dashboard = request.app.state.dashboard
    table, values = dashboard.table(request.query_params)
    parts = runs_parts(table)
    return HTMLResponse(pages.runs_page(table, values, dashboard.tasks(), version_of(parts)))


def runs_parts(table) -> dict:
    return {"rows": pages.runs_rows(table.rows, table.columns), "counts": table.count_line,
            "error": pages.text(table.error)}


def runs_api(request):
    table, _ = request.app.state.dashboard.table(request.query_params)
    return versioned(runs_parts(table), matching=table.matching, total=table.total,
                     runs=[{"run": row["run"], "status": row.get("status"), "epochs": pages.epochs_cell(row)}
                           for row in table.rows])


def run_parts(view) -> tuple:
    drawn = charts([(view.name, "#1f77b4", view.history)])
    return {"progress": pages.status_line(view), "charts": pages.chart_block(drawn, view.history_problem)}, drawn


def run_page(request):
    view = run_view(request.app.state.dashboard.store.outputs, request.path_params["name"])
    parts, drawn = run_parts(view)
    return HTMLResponse(pages.run_page(view, drawn, version_of(parts)))


def run_api(request):
    view = run_view(request.app.state.dashboard.store.outputs, request.path_params["name"])
    parts, _ = run_parts(view)
    rows = 0 if view.history is None else len(view.history)
    return versioned(parts, status=view.status, history_epochs=rows, done=view.progress.done,
                     planned=view.progress.planned, eta_seconds=view.progress.eta_seconds)


def picked(request) -> tuple:
    names = [name for name in request.query_params.getlist("run") if name]
    if not names:
        raise NotFound("no runs picked: tick two or more runs in the table, then compare")
    return names, request.query_params.get("baseline")


def compare_parts(result) -> dict:
    return {"charts": pages.chart_block(result.charts), "comparison-rows": pages.comparison_rows(result)}


def compare_page(request):
    names, baseline = picked(request)
    result = comparison(request.app.state.dashboard.store.outputs, names, baseline)
    ordered = [view.name for view in result.views]
    return HTMLResponse(pages.compare_page(result, ordered, version_of(compare_parts(result))))


def compare_api(request):
    names, baseline = picked(request)
    result = comparison(request.app.state.dashboard.store.outputs, names, baseline)
    return versioned(compare_parts(result), runs=[view.name for view in result.views])


def sweep_parts(view) -> dict:
    return {"sweep-progress": pages.sweep_progress(view), "trials": pages.trials_rows(view)}


def sweep_page(request):
    view = sweep_view(request.app.state.dashboard.store.outputs, request.path_params["name"])
    return HTMLResponse(pages.sweep_page(view, version_of(sweep_parts(view))))


def sweep_api(request):
    view = sweep_view(request.app.state.dashboard.store.outputs, request.path_params["name"])
    return versioned(sweep_parts(view), done=view.done, total=view.total, best=view.best)


def sweeps_page(request):
    outputs = request.app.state.dashboard.store.outputs
    views, problems = [], []
    for name in sweep_names(outputs):
        try:
            views.append(sweep_view(outputs, name))
        except NotFound as error:  # a damaged sweep folder is one line, the others still list
            problems.append(str(error))
    return HTMLResponse(pages.sweeps_page(views, problems))


def run_file(request):
    path = file_in(request.app.state.dashboard.store.outputs, request.path_params["name"], request.path_params["path"])
    return FileResponse(path)


# ---------------------------------------------------------------- errors: a page, never a traceback
async def missing(request, error):
    message = str(error) if isinstance(error, NotFound) else f"nothing at {request.url.path}"
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=404)
    return HTMLResponse(pages.not_found(message), status_code=404)


async def http_error(request, error: HTTPException):
    if error.status_code == 404:
        return await missing(request, error)
    return HTMLResponse(pages.layout("error", f"<p class=\"error\">{pages.text(error.detail)}</p>"),
                        status_code=error.status_code)


async def server_error(request, error):
    print(f"serve: {request.url.path}: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
    return HTMLResponse(pages.layout("error", f'<p class="error">This page failed: {pages.text(error)}</p>'),
                        status_code=500)


def create_app(store, task: str) -> Starlette:
    routes = [
        Route("/", runs_page), Route("/api/runs", runs_api),
        Route("/run/{name}", run_page), Route("/api/run/{name}", run_api),
        Route("/compare", compare_page), Route("/api/compare", compare_api),
        Route("/sweeps", sweeps_page), Route("/sweep/{name}", sweep_page), Route("/api/sweep/{name}", sweep_api),
        Route("/files/{name}/{path:path}", run_file),
    ]
    app = Starlette(routes=routes, exception_handlers={NotFound: missing, HTTPException: http_error,
                                                       Exception: server_error})
    app.state.dashboard = Dashboard(store, task)
    return app
