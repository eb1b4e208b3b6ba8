"""What each page shows, read from the run and sweep folders: a run's settings and curves, a comparison, a sweep's
progress. Names from a request are checked here (a run or sweep directly inside the outputs folder, nothing else)."""
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from utils.core.errors import UserError
from utils.reports.run_labels import differing_keys, format_setting, run_labels, settings_of
from utils.runs.folder import RUN_FILE, RunFolder
from utils.runs.record import RunRecord
from utils.serve.charts import Series, colour_of, line_chart
from utils.serve.live import progress_of
from utils.runs.sweep_summary import SWEEP_FILE, SWEEP_PREFIX
from utils.sweeps.folder import SweepFolder
from utils.sweeps.progress import DONE, best_of

NOT_METRICS = {"epoch", "epoch_seconds", "learning_rate"}  # history columns that are not a train/validation pair


class NotFound(Exception):
    """A run, sweep or file the request names that the outputs folder does not hold (a 404 page)."""


def child_folder(outputs, name: str) -> Path:
    """outputs/<name> for a plain folder name; NotFound for anything that could leave the outputs folder."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name or name.startswith("."):
        raise NotFound(f"no run or sweep named {name!r}")
    folder = Path(outputs) / name
    if not folder.is_dir() or folder.resolve().parent != Path(outputs).resolve():
        raise NotFound(f"no run or sweep named {name!r} in {outputs}")
    return folder


def run_folder(outputs, name: str) -> RunFolder:
    folder = RunFolder(child_folder(outputs, name))
    if not folder.is_run():
        raise NotFound(f"{name!r} is not a run (no {RUN_FILE})")
    return folder


def file_in(outputs, name: str, relative: str) -> Path:
    """A file inside a run or sweep folder (report.html, plots/loss.png), never one outside the outputs folder."""
    folder = child_folder(outputs, name).resolve()
    path = (folder / relative).resolve()
    if not path.is_relative_to(folder) or not path.is_file():
        raise NotFound(f"no file {relative!r} in {name}")
    return path


@dataclass(frozen=True)
class RunView:
    name: str
    data: dict  # run.json
    status: str
    settings: dict
    history: object  # pandas DataFrame, 1-based epochs
    history_problem: str | None  # why the curves cannot be drawn (a damaged history.csv)
    report: str | None  # report.html's path inside the run folder, once the run has one
    progress: object  # utils.serve.live.Progress


def run_view(outputs, name: str) -> RunView:
    folder = run_folder(outputs, name)
    try:
        record = RunRecord.load(folder.path)
    except UserError as error:
        raise NotFound(f"{name}: {error}")
    problem, history = None, None
    try:
        history = folder.read_history()
    except UserError as error:
        problem = str(error)
    status = record.status
    report = folder.report.relative_to(folder.path).as_posix() if folder.report.is_file() else None
    return RunView(name, record.data, status, settings_of(record.data), history, problem, report,
                   progress_of(record.data, status == "running"))


def metrics_of(columns) -> list:
    names = [column for column in columns if column not in NOT_METRICS and not column.startswith("val_")]
    return sorted(names, key=lambda name: (name != "loss", name))


def points(history, column: str) -> list:
    if history is None or column not in history:
        return []
    return [(int(epoch), float(value)) for epoch, value in zip(history["epoch"], history[column])
            if value == value and math.isfinite(float(value))]


def charts(histories: list) -> list:
    """One SVG chart per metric; `histories` is [(label, colour, history DataFrame or None)]."""
    columns = dict.fromkeys(column for _, _, history in histories if history is not None for column in history.columns)
    result = []
    for metric in metrics_of(columns):
        series = [Series(label, split, colour, points(history, column))
                  for label, colour, history in histories
                  for split, column in (("train", metric), ("validation", f"val_{metric}"))]
        result.append(line_chart(metric, [line for line in series if line.points]))
    return result


@dataclass(frozen=True)
class Comparison:
    views: list  # RunView, the baseline first
    labels: list  # legend names (utils.reports.run_labels), in the same order
    colours: list
    differing: list  # [(setting, [value per run])]: only the settings that differ
    charts: list  # SVG per metric


def comparison(outputs, names: list, baseline: str | None) -> Comparison:
    names = list(dict.fromkeys(names))
    if baseline in names:  # the pinned baseline leads, and keeps the first colour
        names.remove(baseline)
        names.insert(0, baseline)
    views = [run_view(outputs, name) for name in names]
    records = [{**view.data, "run_id": view.name} for view in views]
    labels = run_labels(records) if views else []
    colours = [colour_of(index) for index in range(len(views))]
    settings = [view.settings for view in views]
    differing = [(key, [format_setting(run.get(key, "-")) for run in settings]) for key in differing_keys(settings)]
    drawn = charts([(label, colour, view.history) for label, colour, view in zip(labels, colours, views)])
    return Comparison(views, labels, colours, differing, drawn)


@dataclass(frozen=True)
class SweepView:
    name: str
    spec: dict
    trials: list  # utils.sweeps.trials.Trial
    done: int
    total: int
    best: float | None
    eta_seconds: float | None


def sweep_names(outputs) -> list:
    """The sweep folders of the outputs folder, newest first."""
    if not Path(outputs).is_dir():
        return []
    return sorted((path.name for path in Path(outputs).glob(f"{SWEEP_PREFIX}*") if (path / SWEEP_FILE).is_file()),
                  reverse=True)


def sweep_view(outputs, name: str) -> SweepView:
    path = child_folder(outputs, name)
    try:
        folder = SweepFolder.open(path)
        folder.check()
        spec, trials = folder.spec(), folder.trials()
    except UserError as error:
        raise NotFound(str(error))
    # done and best as the sweep's own progress line counts them (utils.sweeps.progress)
    finished = [trial for trial in trials if trial.status in DONE]
    best, _ = best_of(trials, spec.get("direction"))
    total = max(int(spec.get("target_trials") or 0), len(trials))
    seconds = [trial.seconds for trial in finished if trial.seconds]
    eta = None
    if seconds and len(finished) < total:
        eta = statistics.median(seconds) * (total - len(finished)) / max(1, int(spec.get("workers") or 1))
    return SweepView(name, spec, trials, len(finished), total, best, eta)
