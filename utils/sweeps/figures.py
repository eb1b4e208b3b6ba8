"""The sweep's figures, drawn with matplotlib from its trials: each trial's objective with the running best, every
trial's parameters and objective (parallel coordinates) and, from enough completed trials, parameter importances.

Optuna's own plots are not used: they switch the whole process to the ggplot style (the trials' curves drawn after
them changed look), draw the worst trial near white, leave pruned trials out and call the objective "Objective
Value". Importances still come from Optuna (fANOVA); only their drawing is ours.
"""
import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator

from utils.reports.plots import save_figure
from utils.reports.run_labels import format_number, format_setting
from utils.sweeps.space import Parameter

STATUS_COLOURS = {"completed": "tab:green", "pruned": "tab:orange", "failed": "tab:red", "interrupted": "tab:gray"}
# Line style of a trial in the parallel coordinates, and what the legend says it means.
TRIAL_LINES = {"completed": ("-", "completed"),
               "pruned": ("--", "pruned (dashed; its best value before it stopped)"),
               "failed": (":", "failed (dotted grey; no objective, so the line ends before that axis)"),
               "interrupted": ("-.", "interrupted (dash-dot; its best value so far)")}
# viridis without its pale yellow end, so the worst and the best trial both stand out on white.
SCORE_COLOURS = ListedColormap(plt.get_cmap("viridis")(np.linspace(0.0, 0.85, 256)))
NO_SCORE_COLOUR = "#7f7f7f"
# Importances from a handful of trials are noise (fANOVA over 4 completed trials gave one parameter 0.99).
MIN_COMPLETED_FOR_IMPORTANCES = 10
MIN_PARAMETERS_FOR_IMPORTANCES = 2


def is_better(value, best, direction: str) -> bool:
    return best is None or (value > best if direction == "maximize" else value < best)


def plot_objective(trials, spec: dict, path) -> None:
    """Each trial's objective in trial order, coloured by status, with the running best (of completed trials) as a
    step line; a trial without an objective (failed) is an x on the bottom edge."""
    ordered = sorted(trials, key=lambda trial: trial.position)
    figure, axes = plt.subplots(figsize=(8, 5))
    best, running = None, []
    for trial in ordered:
        if trial.objective is not None:
            axes.scatter(trial.position, trial.objective, color=STATUS_COLOURS.get(trial.status, "black"), zorder=3)
            if trial.status == "completed" and is_better(trial.objective, best, spec["direction"]):
                best = trial.objective
        running.append(best)
    axes.step([trial.position for trial in ordered], running, where="post", color="tab:blue", label="running best")
    for status, colour in STATUS_COLOURS.items():
        if any(trial.status == status and trial.objective is not None for trial in ordered):
            axes.scatter([], [], color=colour, label=status)
    unscored = [trial.position for trial in ordered if trial.objective is None and trial.status in ("failed", "pruned")]
    if unscored:  # on the bottom edge (axes coordinates), whatever the objective's range
        axes.scatter(unscored, [0] * len(unscored), marker="x", color=STATUS_COLOURS["failed"], clip_on=False, zorder=3,
                     transform=axes.get_xaxis_transform(), label=f"failed or pruned without {spec['objective']} (bottom edge)")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: format_number(value)))
    axes.set_xlabel("trial (position)")
    axes.set_ylabel(spec["objective"])
    axes.set_title(f"{spec['objective']} per trial ({spec['method']})")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    save_figure(figure, path)


# ---------------------------------------------------------------- parallel coordinates
def same_value(value, choice) -> bool:
    """A trial's value against a choice of the space: a grid's '0.001' and 0.001 are one value."""
    if value == choice or str(value) == str(choice):
        return True
    try:
        return float(value) == float(choice)
    except (TypeError, ValueError):
        return False


def choice_axis(choices: list, values: list) -> tuple:
    """Heights (0 bottom .. 1 top) of each value among the choices, evenly spaced, and the axis' labels."""
    span = max(len(choices) - 1, 1)
    centre = 0.5 if len(choices) == 1 else 0.0
    heights = [next((centre + index / span for index, choice in enumerate(choices) if same_value(value, choice)), math.nan)
               for value in values]
    return heights, {centre + index / span: format_setting(choice) for index, choice in enumerate(choices)}


def range_axis(low: float, high: float, values: list, log: bool = False) -> tuple:
    """Heights of numeric values between low and high (log-spaced for a loguniform parameter), and 3 labels."""
    scale = np.log10 if log else (lambda number: number)
    bottom, top = scale(low), scale(high)
    width = (top - bottom) or 1.0
    heights = [math.nan if value is None else float(np.clip((scale(float(value)) - bottom) / width, 0, 1)) for value in values]
    marks = np.logspace(bottom, top, 3) if log else np.linspace(low, high, 3)
    return heights, {(scale(mark) - bottom) / width if top != bottom else 0.5: format_number(float(mark)) for mark in marks}


def parameter_axis(parameter: Parameter, values: list) -> tuple:
    if parameter.kind == "choice":
        return choice_axis(list(parameter.values), values)
    return range_axis(parameter.values[0], parameter.values[1], values, log=parameter.kind == "loguniform")


def objective_axis(scores: list) -> tuple:
    """The objective's own axis, from the lowest to the highest value any trial reached."""
    known = [score for score in scores if score is not None]
    if known and min(known) < max(known):
        return range_axis(min(known), max(known), scores)
    heights = [math.nan if score is None else 0.5 for score in scores]
    return heights, {0.5: format_number(known[0])} if known else {}


def draw_axes_frame(axes, names: list, ticks: list) -> None:
    """One vertical axis per column with its own labels; the columns' names below."""
    for index, labels in enumerate(ticks):
        axes.axvline(index, color="black", linewidth=0.8, zorder=1)
        for height, text in labels.items():
            axes.text(index + 0.03, height, text, fontsize=8, va="center", ha="left",
                      bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 1})
    axes.set_xticks(range(len(names)), names)
    axes.set_xlim(-0.1, len(names) - 0.6)
    axes.set_ylim(-0.05, 1.05)
    axes.set_yticks([])
    for side in ("left", "right", "top"):
        axes.spines[side].set_visible(False)


def draw_trials(axes, shown: list, columns: list, direction: str):
    """Each trial's line in its status' style and its objective's colour; returns the colours' scale."""
    scores = [trial.objective for trial in shown]
    known = [score for score in scores if score is not None]
    norm = Normalize(min(known), max(known)) if known else Normalize(0, 1)
    sign = 1 if direction == "maximize" else -1
    # the trials without a score first, then the worst to the best: the best lies on top
    order = sorted(range(len(shown)), key=lambda index: (scores[index] is not None, sign * (scores[index] or 0)))
    for index in order:
        colour = NO_SCORE_COLOUR if scores[index] is None else SCORE_COLOURS(norm(scores[index]))
        axes.plot(range(len(columns)), [heights[index] for heights, _ in columns], TRIAL_LINES[shown[index].status][0],
                  color=colour, linewidth=1.6, marker="o", markersize=3, zorder=2)
    return norm


def status_legend(axes, statuses: list) -> None:
    handles = [Line2D([], [], color=NO_SCORE_COLOUR if status == "failed" else "black", linestyle=TRIAL_LINES[status][0],
                      label=TRIAL_LINES[status][1]) for status in statuses]
    axes.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.1), fontsize=8, frameon=False,
                handlelength=3.5)


def plot_parallel_coordinates(trials, spec: dict, path) -> str:
    """Every completed, pruned, failed and interrupted trial as a line across its parameters and the objective,
    coloured by the objective; returns a note when there is nothing to draw (no file then), else ''."""
    shown = sorted((trial for trial in trials if trial.status in TRIAL_LINES), key=lambda trial: trial.position)
    parameters = [Parameter(**parameter) for parameter in spec["parameters"]]
    if not shown or not parameters:
        return f"{path.stem}: no {'finished trial' if parameters else 'parameter is varied'} to draw"
    columns = [parameter_axis(parameter, [trial.params.get(parameter.name) for trial in shown]) for parameter in parameters]
    columns.append(objective_axis([trial.objective for trial in shown]))
    figure, axes = plt.subplots(figsize=(max(6.0, 2.2 * len(columns)), 5))
    norm = draw_trials(axes, shown, columns, spec["direction"])
    draw_axes_frame(axes, [parameter.name for parameter in parameters] + [spec["objective"]], [ticks for _, ticks in columns])
    better = "higher" if spec["direction"] == "maximize" else "lower"
    figure.colorbar(ScalarMappable(norm, SCORE_COLOURS), ax=axes, label=f"{spec['objective']} ({better} is better)",
                    format=FuncFormatter(lambda value, _: format_number(value)))
    statuses = [status for status in TRIAL_LINES if any(trial.status == status for trial in shown)]
    status_legend(axes, statuses)
    counts = ", ".join(f"{sum(trial.status == status for trial in shown)} {status}" for status in statuses)
    axes.set_title(f"Parameters and {spec['objective']} of {len(shown)} trials ({counts})", fontsize=10)
    save_figure(figure, path)
    return ""


# ---------------------------------------------------------------- parameter importances
def importance_shortfall(completed: int, parameters: int) -> str:
    """Why importances would mislead here ('' when they would not)."""
    if parameters < MIN_PARAMETERS_FOR_IMPORTANCES:
        return (f"no importance chart: the sweep varies {parameters} parameter{'s' if parameters != 1 else ''}; "
                f"importances compare {MIN_PARAMETERS_FOR_IMPORTANCES} or more")
    if completed < MIN_COMPLETED_FOR_IMPORTANCES:
        return (f"no importance chart: {completed} completed trial{'s' if completed != 1 else ''}, and importances need "
                f"at least {MIN_COMPLETED_FOR_IMPORTANCES} to mean more than noise (pruned and failed trials do not count)")
    return ""


def plot_importances(study, spec: dict, path) -> str:
    """importances.png: Optuna's fANOVA importances of the study's completed trials, drawn as bars, the number of
    trials they rest on in the title. Returns why there is no chart (nothing written then), else ''."""
    import optuna  # a study exists, so Optuna does (utils.sweeps.study would load Keras as well)

    completed = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
    reason = importance_shortfall(completed, len(spec["parameters"]))
    if reason:
        return reason
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=spec["seed"])
    try:
        importances = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (ValueError, RuntimeError) as error:  # e.g. every completed trial has the same parameters
        return f"no importance chart: Optuna could not compute importances ({str(error).splitlines()[0][:120]})"
    names = list(importances)[::-1]  # the largest on top
    figure, axes = plt.subplots(figsize=(7, 1.2 + 0.45 * len(names)))
    bars = axes.barh(names, [importances[name] for name in names], color="tab:blue")
    axes.bar_label(bars, labels=[f"{importances[name]:.2f}" for name in names], padding=3, fontsize=8)
    axes.set_xlim(0, 1.1)
    axes.set_xlabel(f"share of the variance of {spec['objective']} (fANOVA)")
    axes.set_title(f"Parameter importances for {spec['objective']}, from {completed} completed trials", fontsize=10)
    axes.grid(alpha=0.3, axis="x")
    save_figure(figure, path)
    return ""
