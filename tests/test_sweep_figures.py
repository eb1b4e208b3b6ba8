"""The sweep's figures, in process, from a made-up trials table and an in-memory Optuna study holding completed,
pruned and failed trials: every trial drawn and told apart, the objective named, small numbers readable,
importances only from enough completed trials, and the process' matplotlib style left as it was."""
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from matplotlib.colors import to_rgb

from utils.sweeps import figures
from utils.sweeps.space import Parameter
from utils.sweeps.trials import new_trial

PARAMETERS = [Parameter("learning_rate", "loguniform", [1.0e-4, 1.0e-2]), Parameter("model", "choice", ["mlp_one_layer", "conv_net"])]
STATUSES = ["completed", "pruned", "completed", "failed", "completed", "completed"]


def spec(parameters=PARAMETERS, method="tpe") -> dict:
    return {"task": "mnist", "method": method, "objective": "val_accuracy", "direction": "maximize", "prune": "median",
            "seed": 42, "sweep_id": "sweep_test", "parameters": [parameter.to_json() for parameter in parameters],
            "base_options": {}}


def sweep(statuses=STATUSES):
    """Trials and the Optuna study that carries them; the worst completed trial scores far below the others."""
    import optuna

    study = optuna.create_study(direction="maximize")
    states = {"completed": optuna.trial.TrialState.COMPLETE, "pruned": optuna.trial.TrialState.PRUNED,
              "failed": optuna.trial.TrialState.FAIL}
    trials = []
    for position, status in enumerate(statuses):
        params = {"learning_rate": 1.08e-4 * 1.4 ** position, "model": ["mlp_one_layer", "conv_net"][position % 2]}
        trial = new_trial(position, params)
        trial.status = status
        trial.objective = None if status == "failed" else (0.1 if position == 0 else 0.8 + 0.01 * position)
        study.add_trial(optuna.trial.create_trial(
            params=params, distributions={parameter.name: parameter.distribution() for parameter in PARAMETERS},
            value=trial.objective if status == "completed" else None, state=states[status]))
        trials.append(trial)
    return trials, study


@pytest.fixture
def captured(monkeypatch):
    drawn = {}
    monkeypatch.setattr(figures, "save_figure", lambda figure, path: drawn.__setitem__(Path(path).name, figure))
    yield drawn
    for figure in drawn.values():
        plt.close(figure)


def texts_of(axes) -> list:
    return [text.get_text() for text in axes.texts]


def test_parallel_coordinates_draw_every_trial_by_status_and_name_the_objective(tmp_path, captured):
    trials, _ = sweep()
    assert figures.plot_parallel_coordinates(trials, spec(), tmp_path / "parallel_coordinates.png") == ""
    axes = captured["parallel_coordinates.png"].axes[0]
    styles = [line.get_linestyle() for line in axes.get_lines() if len(line.get_xdata()) == 3]
    assert sorted(styles) == sorted(["-"] * 4 + ["--"] + [":"])  # four completed, one pruned, one failed
    assert [label.get_text() for label in axes.get_xticklabels()] == ["learning_rate", "model", "val_accuracy"]
    legend = " ".join(text.get_text() for text in axes.get_legend().get_texts())
    assert "pruned" in legend and "failed" in legend
    assert "1 pruned" in axes.get_title() and "1 failed" in axes.get_title()
    assert "Objective Value" not in " ".join(texts_of(axes)) + axes.get_title()
    # no line is near white, the worst trial's included
    assert all(sum(to_rgb(line.get_color())) / 3 < 0.85 for line in axes.get_lines() if len(line.get_xdata()) == 3)
    colourbar = captured["parallel_coordinates.png"].axes[1]
    assert colourbar.get_ylabel().startswith("val_accuracy")


def test_small_numbers_are_written_in_scientific_notation(tmp_path, captured):
    from utils.reports.run_labels import format_number

    assert [format_number(value) for value in (1.08e-4, 3e-4, 0.001, 0.25, 128.0)] == ["1.08e-04", "3e-04", "0.001", "0.25", "128"]
    trials, _ = sweep()
    grid = [Parameter("learning_rate", "choice", [1.08e-4, 0.001])]
    figures.plot_parallel_coordinates(trials, spec(grid, "grid"), tmp_path / "parallel_coordinates.png")
    labels = texts_of(captured["parallel_coordinates.png"].axes[0])
    assert "1.08e-04" in labels and "0.001" in labels and "0.0001" not in labels


def test_objective_figure_marks_pruned_and_failed_trials(tmp_path, captured):
    trials, _ = sweep()
    figures.plot_objective(trials, spec(), tmp_path / "objective.png")
    axes = captured["objective.png"].axes[0]
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert "pruned" in legend and any("failed" in text for text in legend)
    assert axes.get_ylabel() == "val_accuracy"


def test_importances_need_enough_completed_trials_and_say_so(tmp_path, captured):
    trials, study = sweep()
    reason = figures.plot_importances(study, spec(), tmp_path / "importances.png")
    assert "4 completed trials" in reason and str(figures.MIN_COMPLETED_FOR_IMPORTANCES) in reason
    assert reason.startswith("no importance chart") and "importances.png" not in captured
    one = figures.plot_importances(sweep(["completed"] * 12)[1], spec(PARAMETERS[:1]), tmp_path / "importances.png")
    assert "1 parameter" in one and "importances.png" not in captured

    _, enough = sweep(["completed"] * 11 + ["pruned", "failed"])
    assert figures.plot_importances(enough, spec(), tmp_path / "importances.png") == ""
    axes = captured["importances.png"].axes[0]
    assert "from 11 completed trials" in axes.get_title() and "val_accuracy" in axes.get_title()
    assert sorted(label.get_text() for label in axes.get_yticklabels()) == ["learning_rate", "model"]


def test_the_sweep_report_states_why_there_is_no_importance_chart_and_leaves_the_style_alone(tmp_path):
    from utils.sweeps.report import write_sweep_report

    trials, study = sweep()
    (tmp_path / "importances.png").write_bytes(b"from an earlier report")
    before = dict(plt.rcParams)
    from utils.sweeps.folder import SweepFolder

    report = write_sweep_report(SweepFolder(tmp_path), spec(), trials, study)
    assert dict(plt.rcParams) == before  # Optuna's plots switched the process to ggplot
    page = report.read_text()
    assert "no importance chart: 4 completed trials" in page
    assert not (tmp_path / "importances.png").exists()  # the stale chart is gone with the reason stated
    assert (tmp_path / "parallel_coordinates.png").is_file() and (tmp_path / "objective.png").is_file()
