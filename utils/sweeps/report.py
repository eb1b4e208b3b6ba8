"""The sweep's results: the table sorted by objective, the sweep figures (objective per trial with the running best,
Optuna's parallel coordinates and parameter importances) and report.html with the trials' overlaid curves."""
import html
import shutil
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import MaxNLocator

from utils.core import atomic
from utils.reports.compare import compare, format_table
from utils.reports.html import _figures, _page
from utils.reports.plots import save_figure
from utils.runs.folder import Figures

STATUS_COLOURS = {"completed": "tab:green", "pruned": "tab:orange", "failed": "tab:red", "interrupted": "tab:gray"}


def trials_frame(trials, spec: dict) -> pd.DataFrame:
    """One row per trial, the best objective first (unfinished trials last)."""
    rows = [{"trial": trial.trial, "status": trial.status, spec["objective"]: trial.objective, "epochs": trial.epochs,
             "seconds": trial.seconds, **trial.params} for trial in trials]
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    return table.sort_values(spec["objective"], ascending=spec["direction"] == "minimize", na_position="last",
                             kind="stable")


def results_table(trials, spec: dict) -> str:
    return format_table(trials_frame(trials, spec))


def plot_objective(trials, spec: dict, path: Path) -> None:
    """Each trial's objective in trial order, coloured by status, with the running best as a step line."""
    ordered = sorted(trials, key=lambda trial: trial.position)
    figure, axes = plt.subplots(figsize=(8, 5))
    best, running = None, []
    for trial in ordered:
        if trial.objective is not None:
            axes.scatter(trial.position, trial.objective, color=STATUS_COLOURS.get(trial.status, "black"), zorder=3)
            if trial.status == "completed":
                better = best is None or (trial.objective > best if spec["direction"] == "maximize" else trial.objective < best)
                best = trial.objective if better else best
        running.append(best)
    axes.step([trial.position for trial in ordered], running, where="post", color="tab:blue", label="running best")
    for status, colour in STATUS_COLOURS.items():
        axes.scatter([], [], color=colour, label=status)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("trial (position)")
    axes.set_ylabel(spec["objective"])
    axes.set_title(f"{spec['objective']} per trial ({spec['method']})")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    save_figure(figure, path)


def plot_with_optuna(function, study, path: Path, notes: list) -> None:
    """Optuna's own matplotlib figure; a note instead when it has too little to show (e.g. one finished trial)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna marks its matplotlib backend experimental on every call
            axes = function(study)
        figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
        figure.set_size_inches(9, 5)
        save_figure(figure, path)
    except (ValueError, RuntimeError, ZeroDivisionError, IndexError) as error:
        notes.append(f"{path.stem}: {str(error).splitlines()[0] if str(error) else type(error).__name__}")
        plt.close("all")


def write_sweep_report(folder, spec: dict, trials, study) -> Path:
    from optuna.visualization import matplotlib as optuna_plots

    path = folder.path
    notes = []
    plot_objective(trials, spec, path / "objective.png")
    plot_with_optuna(optuna_plots.plot_parallel_coordinate, study, path / "parallel_coordinates.png", notes)
    if spec["method"] != "grid":
        plot_with_optuna(optuna_plots.plot_param_importances, study, path / "importances.png", notes)
    runs = [Path(trial.run) for trial in sorted(trials, key=lambda trial: trial.position) if trial.run and Path(trial.run).is_dir()]
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
        f"seed {spec['seed']} · {len(trials)} trials</p>",
        "<h2>Trials (best first)</h2>", table.to_html(index=False, na_rep="-", float_format=lambda v: f"{v:.4g}"),
        "<h2>Objective per trial</h2>", _figures([path / "objective.png"]),
        "<h2>Parameters and objective</h2>", _figures([path / "parallel_coordinates.png", path / "importances.png"]),
        *(f"<p>note: {html.escape(note)}</p>" for note in notes),
        "<h2>Every trial's curves (training dashed, validation solid)</h2>", _figures(curves),
    ]
    report = path / "report.html"
    atomic.write_text(report, _page(f"Sweep — {spec['sweep_id']}", "".join(body)))
    return report
