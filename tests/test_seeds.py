"""--seeds: each configuration trained N times, grouped by `runs --group` and `compare` as mean ± std and n, and
the difference of two configurations stated with Welch's 95 % interval."""
import pytest

from conftest import cli, read_run, run_here
from utils.core.options import seed_list
from utils.runs.groups import difference_line, group_runs


def test_a_count_counts_up_from_the_base_seed_and_a_list_is_taken_as_given():
    assert seed_list("3", 7) == [7, 8, 9]
    assert seed_list("5,1,9", 7) == [5, 1, 9]
    for bad in ("0", "1,1", "x", "-2", "1,,2"):
        with pytest.raises(ValueError):
            seed_list(bad, 7)


def record(run_id, model, seed, accuracy, backend="tensorflow", gpu=False, status="completed"):
    return {"run_id": run_id, "task": "xor", "model": model, "status": status,
            "hyperparameters": {"seed": seed, "epochs": 3, "name": run_id},
            "execution": {"backend": backend, "gpu": gpu}, "test_metrics": {"test_accuracy": accuracy}}


def test_runs_group_by_everything_but_the_seed_and_name():
    groups = group_runs([record("a", "m1", 1, 0.90), record("b", "m1", 2, 0.92), record("c", "m2", 1, 0.5),
                         record("d", "m1", 3, 0.1, status="failed")])
    assert [len(group["runs"]) for group in groups] == [2, 1]  # the failed run is left out
    assert groups[0]["seeds"] == [1, 2]
    assert groups[0]["results"]["test_accuracy"] == [0.90, 0.92]


def test_a_gap_far_beyond_the_seed_spread_exceeds_seed_noise_and_a_small_one_does_not():
    far = group_runs([record("a", "m1", 1, 0.90), record("b", "m1", 2, 0.91),
                      record("c", "m2", 1, 0.70), record("d", "m2", 2, 0.71)])
    assert "exceeds seed noise" in difference_line(*far)
    assert "-0.2000" in difference_line(*far)
    near = group_runs([record("a", "m1", 1, 0.90), record("b", "m1", 2, 0.95),
                       record("c", "m2", 1, 0.91), record("d", "m2", 2, 0.93)])
    assert "within seed noise" in difference_line(*near)


def test_configurations_on_different_devices_or_with_one_run_are_not_ranked():
    devices = group_runs([record("a", "m1", 1, 0.9), record("b", "m1", 2, 0.91),
                          record("c", "m2", 1, 0.7, gpu=True), record("d", "m2", 2, 0.71, gpu=True)])
    assert difference_line(*devices).startswith("difference not stated") and "tensorflow/gpu" in difference_line(*devices)
    single = group_runs([record("a", "m1", 1, 0.9), record("c", "m2", 1, 0.7)])
    assert "at least 2 runs" in difference_line(*single)


@pytest.fixture(scope="module")
def two_configurations(tmp_path_factory):
    """xor_mlp at two learning rates, two seeds each (4 tiny runs shared by the tests below)."""
    outputs = tmp_path_factory.mktemp("seeds")
    for rate in ("0.001", "0.05"):  # in-process: what the runs hold is the subject, not their process
        assert cli("xor", ["--seeds", "2", "--epochs", "2", "--learning-rate", rate, "--outputs", outputs]) == 0
    return outputs


@pytest.mark.slow
def test_seeds_trains_one_folder_per_seed_with_the_seed_recorded(two_configurations):
    folders = sorted(path for path in two_configurations.iterdir() if (path / "run.json").is_file())
    assert len(folders) == 4
    assert sorted(read_run(folder)["hyperparameters"]["seed"] for folder in folders) == [42, 42, 43, 43]


@pytest.mark.slow
def test_runs_group_shows_mean_std_and_n(two_configurations, capsys):
    result = run_here(capsys, "xor", "runs", "--group", "--outputs", two_configurations)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3 and "n " in lines[0] + " "
    for line in lines[1:]:
        assert " 2 " in line and "42,43" in line and "±" in line
    assert "learning_rate=0.05" in result.stdout and "learning_rate=0.001" in result.stdout


@pytest.mark.slow
def test_compare_of_two_configurations_states_the_difference_with_an_interval(two_configurations, capsys):
    result = run_here(capsys, "xor", "compare", "--last", "4", "--outputs", two_configurations)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if "95% interval" in line)
    assert "Welch's t, n=2 and n=2" in line and ("exceeds seed noise" in line or "within seed noise" in line)


@pytest.mark.slow
def test_seeds_zero_is_refused_in_one_line_before_anything_is_written(tmp_path, capsys):
    result = run_here(capsys, "xor", "--seeds", "0", "--outputs", tmp_path / "out")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "--seeds must be a count" in result.stderr
    assert not (tmp_path / "out").exists()
