"""The parts of the sweep report that lead a reader on: the trials table linking each trial's report.html and log,
the settings every trial shares (what the parameters varied on top of), and the best trial with the commands that
run it again. Links are relative, so the sweep folder and its runs can move together with outputs/."""
import html
import os
import shlex
from pathlib import Path

import pandas as pd

from utils.reports.html import _table
from utils.reports.run_labels import format_number
from utils.runs.folder import RunFolder
from utils.runs.record import RunRecord
from utils.runs.settings import effective_settings
from utils.sweeps.command import PROJECT, option_arguments, script_of
from utils.sweeps.progress import best_of
from utils.sweeps.seeds import averaged, seeds_argument
from utils.sweeps.space import sweepable_options
from utils.tasks import get_task

# Settings that differ between trials by design: the run's folder label.
PER_TRIAL = ("name",)


def link(target: Path, start: Path, text: str) -> str:
    href = Path(os.path.relpath(target, start)).as_posix()
    return f'<a href="{html.escape(href)}">{html.escape(text)}</a>'


def trial_runs(trial) -> list:
    """The trial's run folders: one, or with --seeds one per seed (in the seeds' order)."""
    return [run for run in (trial.seed_runs or [trial.run]) if run]


def trial_links(trial, folder) -> str:
    """'report · log' for one trial ('report 1 · report 2 · log' with --seeds), relative links to the files there are."""
    runs = [RunFolder(run) for run in trial_runs(trial)]
    parts = [link(run.report, folder.path, "report" if len(runs) == 1 else f"report {number}")
             for number, run in enumerate(runs, 1) if run.report.is_file()]
    if folder.log_path(trial.trial).is_file():
        parts.append(link(folder.log_path(trial.trial), folder.path, "log"))
    return " · ".join(parts) or "-"


def linked_trials_table(table: pd.DataFrame, trials, folder) -> str:
    """The trials table (best first) with a column of links to each trial's report and log."""
    if table.empty:
        return "<p>no trials yet</p>"
    by_id = {trial.trial: trial for trial in trials}
    shown = table.map(lambda value: "-" if pd.isna(value) else html.escape(format_number(value) if isinstance(value, float) else str(value)))
    shown.insert(1, "links", [trial_links(by_id[trial_id], folder) for trial_id in table["trial"]])
    return shown.to_html(index=False, escape=False)


def shared_settings(trials) -> dict:
    """Every setting (as the runs recorded it) with one value in all trials that have a run folder."""
    settings = []
    for run in (run for trial in trials for run in trial_runs(trial)):
        if RunFolder(run).run_file.is_file():
            settings.append(effective_settings(RunRecord.load(run).data))
    if not settings:
        return {}
    first = settings[0]
    return {key: value for key, value in first.items()
            if key not in PER_TRIAL and all(key in other and other[key] == value for other in settings[1:])}


def shared_settings_html(trials, spec: dict) -> str:
    shared = shared_settings(trials)
    if not shared:
        return "<p>No trial has a run folder yet.</p>"
    varied = ", ".join(parameter["name"] for parameter in spec["parameters"]) or "-"
    return f"<p>Varied by the sweep: {html.escape(varied)}.</p>" + _table(shared)


def display_path(path) -> str:
    """A run's path as a command typed in the project folder takes it (relative there, else absolute)."""
    path = Path(path).resolve()
    return str(path.relative_to(PROJECT)) if path.is_relative_to(PROJECT) else str(path)


def rerun_commands(best, spec: dict) -> list:
    """`python TASK.py rerun RUN` for each of the trial's runs (the same settings and seed, from its run.json) and
    the train command with the sweep's settings and the trial's parameters (and --seeds), as the trial was started."""
    script = script_of(spec["task"])
    options = sweepable_options(get_task(spec["task"]))
    train = option_arguments(options, {**spec["base_options"], **best.params})
    if averaged(spec):
        train += seeds_argument(spec["seeds"])
    reruns = [shlex.join(["python", script, "rerun", display_path(run)]) for run in trial_runs(best)]
    return reruns + [shlex.join(["python", script, "train", *train])]


def best_trial_html(trials, spec: dict, folder) -> str:
    value, trial_id = best_of(trials, spec["direction"])
    if trial_id is None:
        return "<p>No trial completed yet.</p>"
    best = next(trial for trial in trials if trial.trial == trial_id)
    commands = "".join(f"<pre>{html.escape(command)}</pre>" for command in rerun_commands(best, spec))
    parameters = ", ".join(f"{key}={value}" for key, value in best.params.items())
    return (f"<p>Trial {html.escape(best.trial)}: {html.escape(spec['objective'])} {value:.4f} with "
            f"{html.escape(parameters) or 'the shared settings'} · {trial_links(best, folder)}</p>"
            f"<p>Run it again (the same settings and seed), or train it as the sweep did:</p>{commands}")
