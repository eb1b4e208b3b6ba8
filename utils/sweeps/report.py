"""The sweep's results: the table sorted by objective, the sweep figures (utils.sweeps.figures: objective per trial
with the running best, parallel coordinates, parameter importances) and report.html with the trials' overlaid curves."""
import html
import shutil
from pathlib import Path

import pandas as pd

from utils.core import atomic
from utils.reports.compare import compare, format_table
from utils.reports.html import _figures, _page
from utils.runs.folder import Figures
from utils.sweeps.figures import plot_importances, plot_objective, plot_parallel_coordinates
from utils.sweeps.report_parts import best_trial_html, linked_trials_table, shared_settings_html

COUNTS = {"epochs", "n"}  # the table's whole-number columns


def trials_frame(trials, spec: dict) -> pd.DataFrame:
    """One row per trial, the best objective first (unfinished trials last)."""
    rows = [{"trial": trial.trial, "status": trial.status, spec["objective"]: trial.objective, **seed_spread(trial, spec),
             "epochs": trial.epochs, "seconds": trial.seconds, **trial.params} for trial in trials]
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    return table.sort_values(spec["objective"], ascending=spec["direction"] == "minimize", na_position="last",
                             kind="stable")


def seed_spread(trial, spec: dict) -> dict:
    """With --seeds the objective column is the mean over each trial's seeds: beside it their sample std and n."""
    if len(spec.get("seeds") or []) < 2:
        return {}
    return {"± std": trial.objective_std, "n": len(trial.seed_runs) or None}


def results_table(trials, spec: dict) -> str:
    """The terminal's table: counts as whole numbers (2, not 2.0000: pandas makes a column with a blank float) and
    every blank as '-' (a column of blanks only holds None, which pandas prints as 'None')."""
    table = trials_frame(trials, spec)
    for column in COUNTS & set(table.columns):
        table[column] = table[column].map(lambda value: "-" if pd.isna(value) else str(int(value)))
    return format_table(table.map(lambda value: "-" if value is None else value))


def sweep_figures(path: Path, spec: dict, trials, study) -> list:
    """objective.png, parallel_coordinates.png and (searches) importances.png; the notes on any left out (whose
    file from an earlier report of this sweep is removed: it would show what no longer holds)."""
    plot_objective(trials, spec, path / "objective.png")
    drawn = {path / "parallel_coordinates.png": plot_parallel_coordinates(trials, spec, path / "parallel_coordinates.png")}
    if spec["method"] != "grid":
        drawn[path / "importances.png"] = plot_importances(study, spec, path / "importances.png")
    for figure, note in drawn.items():
        if note:
            figure.unlink(missing_ok=True)
    return [note for note in drawn.values() if note]


def seeds_note(spec: dict) -> str:
    seeds = spec.get("seeds") or []
    if len(seeds) < 2:
        return ""
    return (f" · each trial trained with seeds {', '.join(map(str, seeds))}: its objective is their mean "
            f"(± sample std, n runs)")


def write_sweep_report(folder, spec: dict, trials, study) -> Path:
    path = folder.path
    notes = sweep_figures(path, spec, trials, study)
    runs = [Path(run) for trial in sorted(trials, key=lambda trial: trial.position)
            for run in (trial.seed_runs or [trial.run]) if run and Path(run).is_dir()]
    curves = []
    if runs:
        for old in path.glob("compare_*"):
            shutil.rmtree(old)
        comparison = compare(runs, path, verbosity=0)
        curves = Figures(comparison).all()
    table = trials_frame(trials, spec)
    body = [
        f"<p>Task {html.escape(spec['task'])} · {html.escape(spec['method'])} · objective "
        f"{html.escape(spec['objective'])} ({spec['direction']}) · pruning {html.escape(str(spec['prune']))} · "
        f"seed {spec['seed']} · {len(trials)} trials{seeds_note(spec)}</p>",
        "<h2>Best trial</h2>", best_trial_html(trials, spec, folder),
        "<h2>Trials (best first)</h2>", linked_trials_table(table, trials, folder),
        "<h2>Settings every trial shares</h2>", shared_settings_html(trials, spec),
        "<h2>Objective per trial</h2>", _figures([path / "objective.png"]),
        "<h2>Parameters and objective</h2>", _figures([path / "parallel_coordinates.png", path / "importances.png"]),
        *(f"<p>note: {html.escape(note)}</p>" for note in notes),
        "<h2>Every trial's curves (training dashed, validation solid)</h2>", _figures(curves),
    ]
    report = folder.report
    atomic.write_text(report, _page(f"Sweep — {spec['sweep_id']}", "".join(body)))
    return report
