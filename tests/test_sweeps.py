"""Sweeps: trial ids, search spaces, trials.csv; then real sweeps of tiny trials (parallel, failing, pruned,
killed and resumed, on a local Ray head) and the bad input that must leave no sweep folder."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import PROJECT, free_port, read_run, run_script

TINY = ["--dataset", "fashion_mnist", "--limit", 300, "--epochs", 2, "-m", "mlp_one_layer"]


@pytest.fixture(scope="module")
def mnist_parser():
    from utils.tasks import get_task

    task = get_task("mnist")
    return task, None


def sweep_folders(outputs) -> list:
    return sorted(Path(outputs).glob("sweep_*")) if Path(outputs).is_dir() else []


def trials_of(folder) -> pd.DataFrame:
    return pd.read_csv(Path(folder) / "trials.csv", dtype={"trial": str})


# ---------------------------------------------------------------- pure functions, in process
def test_trial_ids_are_position_and_parameter_hash():
    from utils.sweeps.trials import trial_id

    first = trial_id(3, {"learning_rate": 0.001, "batch_size": 32})
    assert first == trial_id(3, {"batch_size": 32, "learning_rate": 0.001})  # key order does not matter
    assert first.startswith("003-") and len(first) == 12
    assert first != trial_id(3, {"learning_rate": 0.003, "batch_size": 32})
    assert first != trial_id(4, {"learning_rate": 0.001, "batch_size": 32})


def test_trials_csv_round_trip(tmp_path):
    from utils.sweeps.trials import Trial, new_trial, read_trials, write_trials

    trials = [new_trial(0, {"model": "conv_net", "learning_rate": 0.001, "augment": True}), new_trial(1, {"model": "mlp_one_layer"})]
    trials[0].status, trials[0].objective, trials[0].epochs, trials[0].optuna_trial_id = "completed", 0.875, 5, 0
    trials[1].status, trials[1].reason = "failed", "Unknown optimizer 'x', with a comma"
    write_trials(tmp_path / "trials.csv", trials)
    assert read_trials(tmp_path / "trials.csv") == trials
    assert isinstance(read_trials(tmp_path / "trials.csv")[0], Trial)
    assert "param:learning_rate" in pd.read_csv(tmp_path / "trials.csv").columns


def test_search_space_file_parses_each_distribution(tmp_path, mnist_parser):
    from utils.sweeps.space import read_space

    task, parser = mnist_parser
    space = tmp_path / "space.yaml"
    space.write_text("learning_rate: {loguniform: [1.0e-4, 1.0e-2]}\nbatch-size: [32, '64']\nepochs: {int: [2, 6, 2]}\n"
                     "validation_split: {uniform: [0.05, 0.2]}\nmodel: [conv_net, mlp_one_layer]\nlr_schedule: {choice: [step, cosine]}\n"
                     "nesterov: [true, false]\n")
    parameters = {parameter.name: parameter for parameter in read_space(task, space)}
    assert parameters["batch_size"].values == [32, 64]  # converted by --batch-size's own type
    assert (parameters["epochs"].kind, parameters["epochs"].values) == ("int", [2, 6, 2])
    assert parameters["learning_rate"].distribution().log
    assert parameters["lr_schedule"].values == ["step", "cosine"]
    assert parameters["model"].distribution().choices == ("conv_net", "mlp_one_layer")


@pytest.mark.parametrize("text, message", [
    ("learning_rat: [0.1]", "unknown parameter 'learning_rat'"),
    ("learning_rate: {uniform: [0.1, 0.1]}", "is empty"),
    ("learning_rate: {uniform: [0.1, 0.01]}", "is reversed"),
    ("learning_rate: {gaussian: [0.1, 0.2]}", "unknown distribution 'gaussian'"),
    ("batch_size: [32, many]", "--batch-size expects a whole number"),
    ("lr_schedule: [step, wavy]", "--lr-schedule must be one of"),
    ("model: [conv_net, no_such_net]", "unknown model 'no_such_net'"),
    ("learning_rate: {loguniform: [0, 0.1]}", "--learning-rate must be greater than 0"),
    ("batch_size: []", "needs a non-empty list"),
])
def test_bad_search_spaces_are_one_line_usage_errors(tmp_path, mnist_parser, text, message):
    from utils.core.errors import UsageError
    from utils.sweeps.space import read_space

    task, parser = mnist_parser
    space = tmp_path / "space.yaml"
    space.write_text(text + "\n")
    with pytest.raises(UsageError, match=message) as raised:
        read_space(task, space)
    assert "\n" not in str(raised.value)


def test_trial_options_become_the_entry_points_own_flags(mnist_parser):
    from utils.sweeps.command import base_options, option_arguments
    from utils.sweeps.space import sweepable_options

    task, _ = mnist_parser
    from models import models_for_task
    from utils.cli.parser import build_parser

    parser = build_parser(task, [spec.name for spec in models_for_task(task.name)])
    arguments = option_arguments(sweepable_options(task), {"model": "conv_net", "learning_rate": 0.001, "nesterov": True,
                                                             "jit": False, "augment": False, "dataset": "fashion_mnist"})
    assert arguments == ["--model", "conv_net", "--learning-rate", "0.001", "--nesterov", "--no-jit", "--dataset", "fashion_mnist"]
    assert parser.parse_args(["train", *arguments]).learning_rate == 0.001
    given = parser.parse_args(["sweep", "--grid", "learning_rate=0.1", "--no-jit"])
    assert base_options(given, sweepable_options(task)) == {"jit": False}  # --no-jit reaches the trials
    assert base_options(parser.parse_args(["sweep", "--grid", "learning_rate=0.1"]), sweepable_options(task)) == {}


@pytest.mark.parametrize("extra, message", [
    (["sweep", "--grid", "learning_rate=0.1", "--trials", "0"], "--trials"),
    (["sweep", "--search", "tpe", "--trials", "0", "--space", "SPACE"], "--trials must be at least 1"),
    (["sweep", "--grid", "learning_rate=0.1", "--workers", str((os.cpu_count() or 1) + 1)], "above this machine's"),
    (["sweep", "--search", "random", "--space", "SPACE", "--objective", "val_acc"], "--objective must be one of"),
    (["sweep", "--grid", "learnin_rate=0.1"], "unknown setting 'learnin_rate'"),
    (["sweep", "--grid", "epochs=0,2"], "--epochs must be at least 1"),
    (["sweep", "--resume", "OUTPUTS"], "is not a sweep folder"),
    (["sweep", "--grid", "learning_rate=0.1", "--executor", "ray", "--ray-address", "127.0.0.1:PORT"], "No Ray cluster reachable"),
])
def test_bad_sweep_input_is_one_line_and_leaves_no_sweep_folder(tmp_path, extra, message):
    from utils.cli.main import main
    from utils.core.errors import UserError

    space = tmp_path / "space.yaml"
    space.write_text("learning_rate: {loguniform: [1.0e-4, 1.0e-2]}\n")
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    replace = {"SPACE": str(space), "OUTPUTS": str(outputs), "127.0.0.1:PORT": f"127.0.0.1:{free_port()}"}
    argv = [replace.get(item, item) for item in extra] + ["--outputs", str(outputs), *map(str, TINY)]
    started = time.monotonic()
    with pytest.raises(UserError, match=message) as raised:
        main("mnist", argv)
    assert time.monotonic() - started < 30 or "Ray" not in message
    assert "\n" not in str(raised.value)
    assert sweep_folders(outputs) == [] and list(outputs.iterdir()) == []


# ---------------------------------------------------------------- real sweeps (training subprocesses)
@pytest.mark.slow
def test_parallel_workers_overlap_a_failing_trial_is_recorded_and_resume_reruns_only_it(tmp_path, fashion_available):
    # adam takes no --momentum: that trial fails in its own process, the others finish.
    result = run_script("mnist", "sweep", "--grid", "optimizer=sgd,adam,rmsprop", "--momentum", 0.5, "--workers", 2,
                        *TINY, "--outputs", tmp_path)
    assert result.returncode == 1, result.stderr
    assert "failed: trial 001-" in result.stderr and "--momentum does not apply to the adam optimizer" in result.stderr
    [folder] = sweep_folders(tmp_path)
    trials = trials_of(folder)
    assert list(trials["status"]) == ["completed", "failed", "completed"]
    assert "--momentum does not apply" in trials.loc[1, "reason"]
    started, ended = pd.to_datetime(trials["started"]), pd.to_datetime(trials["ended"])
    assert started[1] < ended[0] and started[0] < ended[1]  # the first two ran at the same time
    for run in trials.loc[trials["status"] == "completed", "run"]:
        assert read_run(run)["sweep"]["id"] == folder.name and read_run(run)["status"] == "completed"
    assert (folder / "report.html").is_file() and (folder / "objective.png").is_file()
    table = [line for line in result.stdout.splitlines() if line.lstrip().startswith(("000-", "001-", "002-"))]
    objectives = trials.set_index("trial")["objective"]
    assert [line.split()[0] for line in table][:2] == list(objectives.dropna().sort_values(ascending=False).index)

    again = run_script("mnist", "sweep", "--resume", folder, "--outputs", tmp_path)
    assert again.returncode == 1
    resumed = trials_of(folder)
    assert list(resumed["trial"]) == list(trials["trial"])  # no renumbering
    assert list(resumed["run"][[0, 2]]) == list(trials["run"][[0, 2]])  # completed trials are not repeated
    assert "trial 001-" in again.stdout and "trial 000-" not in again.stdout


@pytest.mark.slow
def test_resume_after_sigkill_of_the_driver_continues_the_interrupted_trial(tmp_path, fashion_available):
    arguments = ["sweep", "--grid", "learning_rate=0.001,0.002,0.003", "--dataset", "fashion_mnist", "--limit", 2000,
                 "--epochs", 20, "-m", "mlp_one_layer", "--outputs", tmp_path]
    driver = subprocess.Popen([sys.executable, str(PROJECT / "mnist.py"), *map(str, arguments)], cwd=PROJECT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline:  # kill once the second trial has finished an epoch
            folders = sweep_folders(tmp_path)
            # the driver creates the sweep's folder before its first trials.csv
            trials = trials_of(folders[0]) if folders and (folders[0] / "trials.csv").is_file() else None
            runs = [path for path in tmp_path.glob("*_trial001-*") if (path / "checkpoints" / "last.h5").is_file()]
            if trials is not None and list(trials["status"][:2]) == ["completed", "running"] and runs:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the sweep never reached its second trial")
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    finally:
        if driver.poll() is None:
            driver.kill()
    [folder] = sweep_folders(tmp_path)
    before = trials_of(folder)
    assert list(before["status"]) == ["completed", "running", "pending"]

    result = run_script("mnist", "sweep", "--resume", folder, "--quiet")
    assert result.returncode == 0, result.stderr
    after = trials_of(folder)
    assert list(after["trial"]) == list(before["trial"]) and list(after["status"]) == ["completed"] * 3
    assert after["run"][0] == before["run"][0]
    per_trial = pd.Series([read_run(run)["sweep"]["trial"] for run in tmp_path.glob("2*/")]).value_counts()
    assert per_trial.to_dict() == {trial: 1 for trial in after["trial"]}  # nothing repeated
    continued = read_run(after["run"][1])
    assert len(continued["resumes"]) == 1 and continued["epochs_completed"] == 20


# A model whose every training step waits, while `gate` does not exist, saying so in `waiting`: a trial held there is
# past its run folder's start (checkpoints/ made) and cannot reach its first checkpoint until the test lets it.
GATED_MODELS = '''
import time
from pathlib import Path

from models.registry import register_model

GATE = Path({gate!r})
LAYER = []  # the Gate class, made once Keras is imported: the sweep driver imports this file without Keras


def wait_at_the_gate():
    GATE.with_name("waiting").touch()
    deadline = time.monotonic() + 120  # never a hung test
    while not GATE.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def gate_layer():
    if not LAYER:
        import keras
        import tensorflow

        @keras.saving.register_keras_serializable(package="gated_xor")
        class Gate(keras.layers.Layer):
            def call(self, inputs, training=False):
                if training:
                    tensorflow.py_function(wait_at_the_gate, [], [])
                return inputs

        LAYER.append(Gate)
    return LAYER[0]()


@register_model(task="xor")
def gated_xor(input_shape, num_classes):
    """2 -> gate -> 8 relu -> 1 sigmoid."""
    import keras

    return keras.Sequential([keras.Input(shape=input_shape), gate_layer(), keras.layers.Dense(8, activation="relu"),
                             keras.layers.Dense(1, activation="sigmoid")], name="gated_xor")
'''


@pytest.mark.slow
def test_a_trial_stopped_before_its_first_checkpoint_keeps_one_run_folder_after_resume(tmp_path):
    # SIGKILL of the driver while its trial waits inside epoch 1 (a SIGINT there is tested in process)
    gate, outputs = tmp_path / "gate", tmp_path / "outputs"
    models = tmp_path / "gated_models.py"
    models.write_text(GATED_MODELS.format(gate=str(gate)))
    arguments = ["sweep", "--grid", "learning_rate=0.01", "--models", models, "-m", "gated_xor", "--no-jit",
                 "--epochs", 2, "--outputs", outputs, "--quiet"]
    driver = subprocess.Popen([sys.executable, str(PROJECT / "xor.py"), *map(str, arguments)], cwd=PROJECT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not (tmp_path / "waiting").exists() and time.monotonic() < deadline and driver.poll() is None:
            time.sleep(0.1)
        assert (tmp_path / "waiting").exists(), "the first trial never reached its first training step"
        [killed] = outputs.glob("2*_trial*")
        assert read_run(killed)["sweep"]["id"].startswith("sweep_")  # tied to its sweep from the start
        assert (killed / "checkpoints").is_dir() and not list((killed / "checkpoints").iterdir())
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=60)  # its worker has its SIGTERM (it dies with the driver) before the gate opens
    finally:
        gate.touch()
        if driver.poll() is None:
            driver.kill()
    deadline = time.monotonic() + 120
    while read_run(killed)["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert read_run(killed)["status"] == "interrupted" and not (killed / "checkpoints" / "last.h5").exists()
    [folder] = sweep_folders(outputs)
    assert list(trials_of(folder)["status"]) == ["running"]  # as the killed driver left it

    result = run_script("xor", "sweep", "--resume", folder, "--quiet")
    assert result.returncode == 0, result.stderr
    trials = trials_of(folder)
    assert list(trials["status"]) == ["completed"] and trials["run"][0] == str(killed)
    per_trial = pd.Series([read_run(run)["sweep"]["trial"] for run in outputs.glob("2*/")
                           if read_run(run).get("sweep", {}).get("id") == folder.name]).value_counts()
    assert per_trial.to_dict() == {trial: 1 for trial in trials["trial"]}  # no orphan `interrupted` folder
    assert len(read_run(killed)["resumes"]) == 1 and read_run(killed)["epochs_completed"] == 2
    assert not (outputs / ".trash").exists()


@pytest.mark.slow
def test_median_pruning_stops_the_hopeless_trial_and_marks_it(tmp_path, fashion_available):
    result = run_script("mnist", "sweep", "--grid", "learning_rate=0.003,0.001,0.00001", "--prune", "median", *TINY[:-4],
                        "--epochs", 4, "-m", "mlp_one_layer", "--outputs", tmp_path, "--quiet")
    assert result.returncode == 0, result.stderr
    [folder] = sweep_folders(tmp_path)
    trials = trials_of(folder)
    assert list(trials["status"]) == ["completed", "completed", "pruned"]
    pruned = read_run(trials["run"][2])
    assert pruned["status"] == "pruned" and pruned["epochs_completed"] < 4 and "pruned" in pruned["reason"]
    assert (Path(trials["run"][2]) / "checkpoints" / "last.h5").is_file() and (Path(trials["run"][2]) / "report.html").is_file()


@pytest.fixture
def ray_head(tmp_path_factory):
    """A real Ray head on 127.0.0.1 with 2 CPUs, stopped (with everything it started) at the end of the test."""
    pytest.importorskip("ray", reason="pip install -r requirements-optional.txt")
    port = free_port()
    ray = Path(sys.executable).parent / "ray"
    temp = tmp_path_factory.mktemp("ray")
    head = subprocess.Popen([str(ray), "start", "--head", "--port", str(port), "--num-cpus", "2", "--include-dashboard=false",
                             "--node-ip-address", "127.0.0.1", "--temp-dir", str(temp), "--block"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(1)
    yield f"127.0.0.1:{port}"
    head.send_signal(signal.SIGTERM)  # --block: the head stops the processes it started
    try:
        head.wait(timeout=60)
    except subprocess.TimeoutExpired:
        head.kill()


# The first trial process to import this file dies at once (the driver, which has no RUNNER_SWEEP_TRIAL, lives).
KILLS_ONE_TRIAL = """
import os, signal
from pathlib import Path

from models.registry import register_model

if os.environ.get("RUNNER_SWEEP_TRIAL"):
    try:
        os.close(os.open(Path(__file__).with_name("worker_killed"), os.O_CREAT | os.O_EXCL))
        os.kill(os.getpid(), signal.SIGKILL)
    except FileExistsError:
        pass


@register_model(task="mnist")
def unused_mlp(input_shape, num_classes):
    import keras

    return keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(), keras.layers.Dense(num_classes)])
"""


@pytest.mark.slow
def test_ray_executor_runs_trials_in_warm_actors_on_a_local_head_and_brings_their_folders_back(tmp_path, fashion_available,
                                                                                              ray_head):
    models = tmp_path / "models" / "kills_one_trial.py"
    models.parent.mkdir()
    models.write_text(KILLS_ONE_TRIAL)
    result = run_script("mnist", "sweep", "--grid", "learning_rate=0.001,0.003,0.01", "--executor", "ray", "--ray-address",
                        ray_head, "--models", models, *TINY, "--outputs", tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    [folder] = sweep_folders(tmp_path)
    trials = trials_of(folder)
    assert list(trials["status"]) == ["completed", "completed", "completed"]
    for run in trials["run"]:
        data = read_run(run)
        assert Path(run).parent == tmp_path and data["status"] == "completed" and data["sweep"]["id"] == folder.name
        assert (Path(run) / "model.h5").is_file()
    logs = [(folder / "logs" / f"{trial}.log").read_text() for trial in trials["trial"]]
    assert sum("killed by SIGKILL; the trial runs again in a new worker" in log for log in logs) == 1
    # Two actors, each with one warm worker (after the killed one's replacement), ran the three trials.
    assert len({read_run(run)["environment"]["pid"] for run in trials["run"]}) == 2
    assert_a_stopped_ray_trial_comes_back_interrupted_with_its_checkpoint(tmp_path / "stopped", ray_head)


def assert_a_stopped_ray_trial_comes_back_interrupted_with_its_checkpoint(outputs, ray_head):
    """SIGINT to the driver once its trial has a checkpoint on the node (this machine's temporary folder): the
    actor SIGTERMs its worker, and the trial's folder comes back interrupted, with its checkpoint."""
    import tempfile

    scratch = Path(tempfile.gettempdir())
    before = set(scratch.glob("sweep_trial_*"))
    arguments = ["sweep", "--grid", "learning_rate=0.001", "--executor", "ray", "--ray-address", ray_head, "--dataset",
                 "fashion_mnist", "--limit", "300", "--epochs", "500", "-m", "mlp_one_layer", "--outputs", str(outputs)]
    driver = subprocess.Popen([sys.executable, str(PROJECT / "mnist.py"), *arguments], cwd=PROJECT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def checkpointed() -> bool:
        return any(folder not in before and any(folder.glob("outputs/*/checkpoints/last.h5"))
                   for folder in scratch.glob("sweep_trial_*"))

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and driver.poll() is None and not checkpointed():
        time.sleep(0.2)
    driver.send_signal(signal.SIGINT)
    stdout, stderr = driver.communicate(timeout=120)
    assert driver.returncode == 130, stdout + stderr
    [folder] = sweep_folders(outputs)
    [trial] = trials_of(folder).itertuples()
    assert [str(run) for run in outputs.glob("*_trial*")] == [trial.run], "the trial's folder did not come back"
    assert trial.status == "interrupted" and 0 < trial.epochs < 500
    assert read_run(trial.run)["status"] == "interrupted" and (Path(trial.run) / "checkpoints" / "last.h5").is_file()


def test_gpus_are_given_one_worker_at_a_time_or_shared_by_gpus_per_trial():
    from utils.core.errors import UsageError
    from utils.sweeps.local import gpu_slots

    assert gpu_slots(2, None, 0) == [None, None]  # CPU only: CUDA_VISIBLE_DEVICES is left alone
    assert gpu_slots(2, None, 2) == ["0", "1"]
    assert gpu_slots(2, 2, 4) == ["0,1", "2,3"]
    assert gpu_slots(2, 0.5, 1) == ["0", "0"]
    assert gpu_slots(4, 0.5, 2) == ["0", "0", "1", "1"]
    with pytest.raises(UsageError, match="needs 2 GPUs; this machine has 1"):
        gpu_slots(2, None, 1)
    with pytest.raises(UsageError, match="no GPU is visible"):
        gpu_slots(1, 1, 0)


@pytest.mark.slow
def test_sigterm_stops_the_workers_marks_their_trials_interrupted_and_exits_130(tmp_path, fashion_available):
    arguments = ["sweep", "--grid", "learning_rate=0.001,0.002", "--workers", 2, "--dataset", "fashion_mnist", "--limit", 2000,
                 "--epochs", 40, "-m", "mlp_one_layer", "--outputs", tmp_path]
    driver = subprocess.Popen([sys.executable, str(PROJECT / "mnist.py"), *map(str, arguments)], cwd=PROJECT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len([path for path in tmp_path.glob("2*/history.csv")
                                               if len(path.read_text().splitlines()) > 2]) < 2:
        time.sleep(0.5)
    driver.send_signal(signal.SIGTERM)
    stdout, stderr = driver.communicate(timeout=120)
    assert driver.returncode == 130, stderr
    [folder] = sweep_folders(tmp_path)
    assert f"sweep --resume {folder}" in stderr and len(stderr.strip().splitlines()) == 1
    trials = trials_of(folder)
    assert list(trials["status"]) == ["interrupted", "interrupted"]
    assert all(read_run(run)["status"] == "interrupted" for run in trials["run"])


@pytest.mark.slow
def test_trials_on_resume_extends_a_search_without_touching_its_trials(tmp_path, fashion_available):
    space = tmp_path / "space.yaml"
    space.write_text("learning_rate: {loguniform: [1.0e-4, 1.0e-2]}\n")
    outputs = tmp_path / "outputs"
    first = run_script("mnist", "sweep", "--search", "random", "--trials", 1, "--space", space, *TINY, "--outputs", outputs, "--quiet")
    assert first.returncode == 0, first.stderr
    [folder] = sweep_folders(outputs)
    before = trials_of(folder)
    again = run_script("mnist", "sweep", "--resume", folder, "--trials", 2, "--quiet")
    assert again.returncode == 0, again.stderr
    after = trials_of(folder)
    assert len(after) == 2
    pd.testing.assert_frame_equal(after.iloc[:1], before, check_dtype=False)  # the first trial untouched
    assert after["trial"][1].startswith("001-") and after["params"][1] != after["params"][0]
    assert json.loads((folder / "sweep.json").read_text())["target_trials"] == 2
