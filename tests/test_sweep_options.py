"""Every option given beside a sweep reaches every trial (read back from each trial's run.json), for a grid and a
search, in both spellings; an option that would not reach them (varied by the sweep too, or given to a resume) is
refused in one line before any folder exists."""
import json
from pathlib import Path

import pytest

from conftest import read_run, run_script

# Options beside the sweep, and what each trial's run.json must then say.
BESIDE = ["-m", "mlp_small", "--batch-size", 64, "--limit", 200, "--epochs", 1, "--seed", 7, "--dataset", "fashion_mnist"]
EXPECTED = {"model": "mlp_small", "batch_size": 64, "limit": 200, "epochs": 1, "seed": 7}


def trial_runs(outputs) -> list:
    return [read_run(folder) for folder in sorted(Path(outputs).iterdir()) if "_trial" in folder.name]


def assert_every_trial_got_the_options(outputs, count):
    runs = trial_runs(outputs)
    assert len(runs) == count
    for record in runs:
        assert record["model"] == "mlp_small"
        hyper = record["hyperparameters"]
        assert {key: hyper[key] for key in EXPECTED} == EXPECTED, hyper
        assert hyper["data_options"]["dataset"] == "fashion_mnist"
    [sweep] = sorted(Path(outputs).glob("sweep_*"))
    assert json.loads((sweep / "sweep.json").read_text())["base_options"]["model"] == "mlp_small"


@pytest.mark.slow
@pytest.mark.parametrize("spelling", [["sweep", "--grid"], ["--grid"]], ids=["subcommand", "old-spelling"])
def test_options_beside_a_grid_reach_every_trial(tmp_path, fashion_available, spelling):
    result = run_script("mnist", *spelling, "learning_rate=0.01,0.001", *BESIDE, "--outputs", tmp_path, "--quiet")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert_every_trial_got_the_options(tmp_path, 2)


@pytest.mark.slow
def test_options_beside_a_random_search_reach_every_trial(tmp_path, fashion_available):
    space = tmp_path / "space.yaml"
    space.write_text("learning_rate: {loguniform: [1.0e-4, 1.0e-2]}\n")
    outputs = tmp_path / "outputs"
    result = run_script("mnist", "sweep", "--search", "random", "--trials", 2, "--space", space, *BESIDE,
                        "--outputs", outputs, "--quiet")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert_every_trial_got_the_options(outputs, 2)


@pytest.mark.slow
def test_an_option_the_grid_also_varies_is_refused_in_one_line(tmp_path):
    result = run_script("mnist", "--grid", "learning_rate=0.01,0.001", "--learning-rate", 0.1, "--outputs", tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert "--learning-rate is given beside the sweep and also varied by it" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("extra, message", [
    (["--grid", "learning_rate=0.01,0.001", "--learning-rate", "0.1"], "--learning-rate is given beside the sweep"),
    (["--grid", "model=conv_net,mlp_small", "-m", "mlp_small"], "-m is given beside the sweep"),
    (["--grid", "batch_size=32,64", "--batch-size", "16"], "--batch-size is given beside the sweep"),
    (["--search", "random", "--space", "SPACE", "--learning-rate", "0.1"], "--learning-rate is given beside"),
    (["--search", "random", "--space", "SPACE", "-m", "nope"], "-m: unknown model 'nope'"),
    (["--grid", "learning_rate=0.01", "-m", "mlp_small", "nope"], "-m: unknown model 'nope'"),
])
def test_options_that_would_not_reach_the_trials_are_refused(tmp_path, extra, message):
    from utils.cli.main import main
    from utils.core.errors import UserError

    space = tmp_path / "space.yaml"
    space.write_text("learning_rate: {loguniform: [1.0e-4, 1.0e-2]}\n")
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    argv = ["sweep", *[str(space) if item == "SPACE" else item for item in extra], "--outputs", str(outputs)]
    with pytest.raises(UserError, match=message) as raised:
        main("mnist", argv)
    assert "\n" not in str(raised.value)
    assert list(outputs.iterdir()) == []


def test_a_resumed_sweep_refuses_new_trial_options(tmp_path):
    from utils.cli.main import main
    from utils.core.errors import UserError
    from utils.sweeps.folder import SweepFolder

    folder = SweepFolder.create(tmp_path, "grid")
    folder.save_spec({"task": "mnist", "method": "grid", "base_options": {"model": "conv_net"}})
    folder.save_trials([])
    before = sorted(path.name for path in folder.path.iterdir())
    with pytest.raises(UserError, match="does not take --batch-size, -m") as raised:
        main("mnist", ["sweep", "--resume", str(folder.path), "--batch-size", "64", "-m", "mlp_small"])
    assert "\n" not in str(raised.value)
    assert sorted(path.name for path in folder.path.iterdir()) == before
