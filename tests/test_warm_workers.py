"""Warm sweep workers: a worker runs trial after trial as fresh processes would (exit codes, output, environment),
resets the Keras state a trial leaves, is replaced when it dies inside a trial (which runs again once), and a real
trial it runs after another equals the same trial in a fresh process."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import PROJECT, cli, read_run, run_script


def script(folder: Path, name: str, body: str) -> str:
    path = folder / name
    path.write_text("import os, signal, sys\n" + body)
    return str(path)


# ---------------------------------------------------------------- the worker's side, in process
def test_a_trial_in_the_worker_gets_its_argv_environment_and_log_and_leaves_them_as_they_were(tmp_path):
    from utils.sweeps.warm_worker import PROJECT, run_trial

    body = "print(sys.argv[1:], os.environ['TRIAL_VALUE'], os.getcwd())\nos.environ['LEFT'] = '1'\nsys.exit(3)\n"
    argv, environment, folder = list(sys.argv), dict(os.environ), os.getcwd()
    log = tmp_path / "trial.log"
    code = run_trial({"arguments": [script(tmp_path, "exits.py", body), "--flag"], "environment": {"TRIAL_VALUE": "7"},
                      "log": str(log)})
    assert code == 3
    assert log.read_text().splitlines() == [f"['--flag'] 7 {PROJECT}"]
    assert sys.argv == argv and dict(os.environ) == environment and os.getcwd() == folder


def test_a_trials_exception_is_its_exit_code_1_and_traceback_not_the_workers(tmp_path):
    from utils.sweeps.warm_worker import run_trial

    log = tmp_path / "trial.log"
    code = run_trial({"arguments": [script(tmp_path, "raises.py", "raise RuntimeError('broken trial')\n")],
                      "environment": {}, "log": str(log)})
    assert code == 1
    assert "Traceback" in log.read_text() and log.read_text().strip().endswith("RuntimeError: broken trial")
    message = run_trial({"arguments": [script(tmp_path, "message.py", "sys.exit('bad input')\n")], "environment": {},
                         "log": str(log)})
    assert message == 1 and log.read_text().strip().endswith("bad input")


def test_the_reset_between_trials_undoes_a_trials_global_keras_state():
    import keras
    from tensorflow.python.framework import config as tensorflow_config

    from utils.sweeps.warm_worker import reset_keras

    keras.config.set_dtype_policy("mixed_bfloat16")
    keras.utils.set_random_seed(1)
    tensorflow_config.enable_op_determinism()
    keras.layers.Dense(2)
    assert reset_keras()
    assert keras.config.dtype_policy().name == "float32"
    assert not tensorflow_config.is_op_determinism_enabled()
    assert keras.layers.Dense(2).name == "dense"  # layer names count from the start again, as in a new process


# ---------------------------------------------------------------- the executor with real worker processes
def run_all(executor, trials: dict, log_folder: Path, timeout: float = 120) -> dict:
    """Launch {trial id: script} one slot at a time; return {trial id: Finished}."""
    finished, pending = {}, list(trials.items())
    deadline = time.monotonic() + timeout
    while (pending or executor.running) and time.monotonic() < deadline:
        while pending and executor.free_slots():
            trial_id, path = pending.pop(0)
            executor.launch(trial_id, [path], {"RUNNER_SWEEP_TRIAL": json.dumps({"trial": trial_id})},
                            log_folder / f"{trial_id}.log")
        finished.update({item.trial_id: item for item in executor.wait(1.0)})
    executor.close()
    return finished


@pytest.mark.slow
def test_a_worker_runs_trials_in_turn_and_one_that_kills_it_runs_again_in_a_new_one(tmp_path):
    from utils.sweeps import local

    marker = tmp_path / "killed_once"
    pid = "print('pid', os.getpid())\n"
    trials = {
        "a": script(tmp_path, "a.py", pid),
        "b": script(tmp_path, "b.py", pid + "raise ValueError('trial b failed')\n"),
        "once": script(tmp_path, "once.py", pid + f"if not os.path.exists({str(marker)!r}):\n"
                                                  f"    open({str(marker)!r}, 'w').close()\n"
                                                  "    os.kill(os.getpid(), signal.SIGKILL)\n"),
        "always": script(tmp_path, "always.py", pid + "os.kill(os.getpid(), signal.SIGKILL)\n"),
        "d": script(tmp_path, "d.py", pid),
    }
    executor = local.LocalExecutor(1, None, tmp_path)
    assert executor.warm
    finished = run_all(executor, trials, tmp_path)
    assert {name: item.returncode for name, item in finished.items()} == {"a": 0, "b": 1, "once": 0, "always": -9, "d": 0}
    assert finished["b"].message == "ValueError: trial b failed"
    assert finished["always"].message == "the trial crashed its worker twice (its worker process was killed by SIGKILL)"
    pids = {name: [line.split()[1] for line in (tmp_path / f"{name}.log").read_text().splitlines() if line.startswith("pid")]
            for name in trials}
    assert pids["a"] == pids["b"] == pids["once"][:1]  # one worker for a, b and the first try of `once`
    assert len(set(pids["once"])) == 2 and len(set(pids["always"])) == 2  # each crash: a new worker
    assert pids["d"][0] not in pids["always"]
    assert "runs again in a new worker" in (tmp_path / "once.log").read_text()


@pytest.mark.slow
def test_a_worker_is_retired_after_its_trial_count(tmp_path, monkeypatch):
    from utils.sweeps import local

    monkeypatch.setattr(local, "MAX_TRIALS_PER_WORKER", 2)
    trials = {name: script(tmp_path, f"{name}.py", "print(os.getpid())\n") for name in ("a", "b", "c")}
    finished = run_all(local.LocalExecutor(1, None, tmp_path), trials, tmp_path)
    assert [finished[name].returncode for name in trials] == [0, 0, 0]
    pids = [finished[name].message for name in trials]
    assert pids[0] == pids[1] != pids[2]


def test_a_worker_told_to_go_ends_its_drawing_process_and_exits_cleanly(tmp_path):
    """The end of its stdin: the worker stops the drawing process its runs started, then exits with 0 without the
    interpreter's teardown."""
    from utils.sweeps.processes import WarmWorker

    trial = script(tmp_path, "draws.py", "from utils.reports import drawing\n"
                                        "if __name__ == '__main__':  # the spawned drawing process imports this file\n"
                                        "    print('drawing', drawing.start_worker().submit(os.getpid).result())\n")
    worker = WarmWorker({**os.environ, "PYTHONPATH": str(PROJECT)})
    worker.start([trial], {}, tmp_path / "draws.log")
    deadline = time.monotonic() + 120
    while (outcome := worker.outcome()) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert outcome is not None and outcome.returncode == 0, (tmp_path / "draws.log").read_text()
    [drawing_pid] = [int(line.split()[1]) for line in (tmp_path / "draws.log").read_text().splitlines()
                     if line.startswith("drawing")]
    assert Path(f"/proc/{drawing_pid}").exists()  # it outlives the trial, for the worker's next one
    worker.close()
    assert worker.process.returncode == 0
    assert not Path(f"/proc/{drawing_pid}").exists()


def test_fresh_processes_are_still_there_to_ask_for(monkeypatch, tmp_path):
    from utils.sweeps import local

    monkeypatch.setenv(local.FRESH_ENVIRONMENT, "1")
    assert not local.LocalExecutor(1, None, tmp_path).warm


# ---------------------------------------------------------------- the driver stays light
def test_the_sweep_command_leaves_keras_to_its_workers(monkeypatch, tmp_path):
    from utils.cli import actions
    from utils.sweeps import driver

    def no_keras(args):
        raise AssertionError("the sweep driver imported Keras")

    ran = []
    monkeypatch.setattr(actions, "with_keras", no_keras)
    monkeypatch.setattr(driver, "run_sweep", lambda task, args, verbosity: ran.append(args.grid) or 0)
    assert cli("xor", ["sweep", "--grid", "learning_rate=0.1", "--outputs", tmp_path, "--quiet"]) == 0
    assert ran == [["learning_rate=0.1"]]


@pytest.mark.slow
def test_the_sweep_drivers_modules_import_no_tensorflow():
    modules = ["utils.cli.actions", "utils.sweeps.driver", "utils.sweeps.local", "utils.sweeps.study",
               "utils.sweeps.ray_executor", "utils.sweeps.report", "utils.sweeps.finished"]
    check = (f"import sys\nfor name in {modules!r}: __import__(name)\n"
             "print(sorted(name for name in ('tensorflow', 'keras', 'jax') if name in sys.modules))")
    result = subprocess.run([sys.executable, "-c", check], cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# ---------------------------------------------------------------- a real sweep
MODELS = '''
import os, signal
from pathlib import Path

from models.registry import register_model

# The first trial process to import this file dies at once (the driver, which has no RUNNER_SWEEP_TRIAL, lives).
marker = Path(__file__).with_name("worker_killed")
if os.environ.get("RUNNER_SWEEP_TRIAL") and not marker.exists():
    marker.touch()
    os.kill(os.getpid(), signal.SIGKILL)


@register_model(task="xor")
def leaky_xor(input_shape, num_classes):
    """A wider xor model that leaves a mixed-precision policy and op determinism set for the whole process."""
    import keras
    import tensorflow

    keras.config.set_dtype_policy("mixed_bfloat16")
    tensorflow.config.experimental.enable_op_determinism()
    return keras.Sequential([keras.Input(input_shape), keras.layers.Dense(16, activation="relu"),
                             keras.layers.Dense(1, activation="sigmoid", dtype="float32")], name="leaky_xor")
'''
# Times, pids and the trial's own id and name (config_hash hashes the settings with the name) differ between any two runs.
VOLATILE = ("run_id", "command", "started", "ended", "environment", "seconds_per_epoch", "timing", "fit_started_at", "sweep", "config_hash")


def trial_folder(outputs: Path, model: str) -> Path:
    [folder] = Path(outputs).glob("sweep_*")
    trials = pd.read_csv(folder / "trials.csv", dtype={"trial": str})
    return Path(trials.loc[trials["param:model"] == model, "run"].item())


def comparable(run: Path) -> dict:
    data = {key: value for key, value in read_run(run).items() if key not in VOLATILE}
    data["hyperparameters"].pop("name")
    history = pd.read_csv(run / "history.csv").drop(columns="epoch_seconds")
    files = sorted(str(path.relative_to(run)) for path in run.rglob("*"))
    return {"run": data, "history": history.to_dict("list"), "files": files, "summary": (run / "summary.txt").read_text()}


@pytest.mark.slow
def test_a_trial_after_another_in_a_warm_worker_equals_a_fresh_process_and_a_killed_worker_is_replaced(tmp_path):
    models = tmp_path / "test_models.py"
    models.write_text(MODELS)
    common = ["--models", models, "--epochs", 2, "--quiet"]
    warm = run_script("xor", "sweep", "--grid", "model=leaky_xor,xor_mlp", *common, "--outputs", tmp_path / "warm")
    assert warm.returncode == 0, warm.stderr
    [sweep] = (tmp_path / "warm").glob("sweep_*")
    trials = pd.read_csv(sweep / "trials.csv", dtype={"trial": str})
    assert list(trials["status"]) == ["completed", "completed"]
    assert "killed by SIGKILL; the trial runs again in a new worker" in (sweep / "logs" / f"{trials['trial'][0]}.log").read_text()
    leaky, second = trial_folder(tmp_path / "warm", "leaky_xor"), trial_folder(tmp_path / "warm", "xor_mlp")
    assert read_run(leaky)["environment"]["pid"] == read_run(second)["environment"]["pid"]  # one warm worker ran both

    fresh = run_script("xor", "sweep", "--grid", "model=xor_mlp", *common, "--outputs", tmp_path / "fresh",
                       env={"RUNNER_SWEEP_FRESH_PROCESSES": "1"})
    assert fresh.returncode == 0, fresh.stderr
    alone = trial_folder(tmp_path / "fresh", "xor_mlp")
    after_another, in_a_fresh_process = comparable(second), comparable(alone)
    assert [key for key in in_a_fresh_process if after_another[key] != in_a_fresh_process[key]] == []
    runs = after_another["run"], in_a_fresh_process["run"]
    assert [key for key in runs[1] if runs[0].get(key) != runs[1][key]] == []
    assert read_run(second)["weights_sha256"] == read_run(alone)["weights_sha256"]
    assert read_run(second)["execution"]["dtype_policy"] == "float32"
