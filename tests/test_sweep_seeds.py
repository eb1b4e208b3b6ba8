"""sweep --seeds N: each trial's configuration trains once per seed (run folders grouped as train --seeds groups
them) and the trial's objective, in trials.csv, the table and the Optuna study, is the mean over those runs."""
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import read_run
from utils.runs.groups import group_id
from utils.sweeps.seeds import average_over_seeds, seeds_to_train
from utils.sweeps.trials import new_trial, read_trials, write_trials

SPEC = {"seeds": [42, 43, 44], "objective": "val_loss", "direction": "minimize"}


def test_a_trial_averages_its_seeds_and_fails_when_one_has_no_completed_run():
    losses = {"a": 0.5, "b": 0.7, "c": 0.9}
    by_seed = {42: (Path("a"), "completed"), 43: (Path("b"), "completed"), 44: (Path("c"), "completed")}
    trial = new_trial(0, {"learning_rate": 0.1})
    trial.status = "completed"
    average_over_seeds(trial, SPEC, by_seed, lambda run, objective, direction: losses[run.name])
    assert trial.objective == pytest.approx(0.7) and trial.objective_std == pytest.approx(0.2)
    assert trial.seed_runs == ["a", "b", "c"]

    broken = new_trial(1, {"learning_rate": 0.2})
    broken.status = "completed"
    average_over_seeds(broken, SPEC, {**by_seed, 43: (Path("b"), "interrupted")}, lambda *_: 0.5)
    assert broken.status == "failed" and "seed(s) 43" in broken.reason and broken.objective is None


def test_a_trial_started_again_trains_only_the_seeds_without_a_completed_run():
    assert seeds_to_train(SPEC, {}) == [42, 43, 44]
    assert seeds_to_train(SPEC, {42: (Path("a"), "completed"), 43: (Path("b"), "interrupted")}) == [43, 44]


def test_trials_csv_keeps_each_seeds_run_and_the_spread(tmp_path):
    trial = new_trial(0, {"learning_rate": 0.1})
    trial.status, trial.objective, trial.objective_std, trial.seed_runs = "completed", 0.7, 0.2, ["/x/a", "/x/b"]
    write_trials(tmp_path / "trials.csv", [trial, new_trial(1, {"learning_rate": 0.2})])
    assert read_trials(tmp_path / "trials.csv") == [trial, new_trial(1, {"learning_rate": 0.2})]


@pytest.mark.parametrize("extra, message", [
    (["--seeds", "0"], "--seeds must be a count between 1 and 1000"),
    (["--seeds", "4,4"], "--seeds lists a seed twice"),
    (["--seeds", "2", "--prune", "median"], "--prune judges one run's curve per trial"),
    (["--seeds", "2", "--grid", "seed=1,2"], "also varies seed"),
])
def test_bad_seeds_for_a_sweep_are_one_line_and_leave_nothing(tmp_path, extra, message):
    from utils.cli.main import main
    from utils.core.errors import UserError

    grid = [] if "--grid" in extra else ["--grid", "learning_rate=0.01,0.1"]
    with pytest.raises(UserError, match=message) as raised:
        main("xor", ["sweep", *grid, *extra, "--epochs", "1", "--outputs", str(tmp_path / "outputs")])
    assert "\n" not in str(raised.value) and raised.value.exit_code == 2
    assert not (tmp_path / "outputs").exists()


@pytest.mark.slow
def test_a_grid_with_seeds_trains_each_trial_per_seed_and_its_objective_is_their_mean(tmp_path, capsys):
    import optuna

    from utils.cli.main import main
    from utils.sweeps.driver import objective_of

    outputs = tmp_path / "outputs"
    code = main("xor", ["sweep", "--grid", "learning_rate=0.01,0.1", "--seeds", "2", "--epochs", "1", "--workers", "2",
                        "--objective", "val_loss", "--outputs", str(outputs)])
    assert code == 0
    [folder] = outputs.glob("sweep_*")
    trials = read_trials(folder / "trials.csv")
    assert [trial.status for trial in trials] == ["completed", "completed"]
    runs = sorted(path for path in outputs.iterdir() if (path / "run.json").is_file())
    assert len(runs) == 4 and not list(outputs.glob("compare_*"))  # the trials' seeds are compared in the report
    groups = set()
    for trial in trials:
        records = [read_run(run) for run in trial.seed_runs]
        assert [record["hyperparameters"]["seed"] for record in records] == [42, 43]
        assert {record["sweep"]["trial"] for record in records} == {trial.trial}
        values = [objective_of(Path(run), "val_loss", "minimize") for run in trial.seed_runs]
        assert trial.objective == pytest.approx(np.mean(values))
        assert trial.objective_std == pytest.approx(np.std(values, ddof=1))
        assert len({group_id(record) for record in records}) == 1  # one configuration, two seeds
        groups |= {group_id(records[0])}
    assert len(groups) == 2
    study = optuna.load_study(study_name=folder.name, storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(folder / "optuna.journal"))))
    assert sorted(trial.value for trial in study.trials) == pytest.approx(sorted(trial.objective for trial in trials))
    table = capsys.readouterr().out
    assert "± std" in table and " n " in table
    assert json.loads((folder / "sweep.json").read_text())["seeds"] == [42, 43]
    assert "seeds 42, 43" in (folder / "report.html").read_text()
