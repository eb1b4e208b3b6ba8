"""--distribute multi-worker: several processes train one model on Keras' JAX DataParallel distribution.

The fast tests check the pieces in-process (batch slices, the world's checks); the slow ones start real jobs of
two processes on 127.0.0.1, each with one CPU device (CI has 2 cores and no GPU)."""
import hashlib
import os
import re
import signal
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from conftest import PROJECT, free_port, last_line, read_run, run_folder_of, run_script
from utils.core.errors import UsageError
from utils.training import multiworker
from utils.training.inputs import EpochPlan, numpy_training_batches
from utils.training.placement import SingleProcess

# A small Fashion-MNIST slice: 230 training images after the 10 % validation split. A dense model: what is tested
# is the job (joining, slicing, sharing, resuming), and a conv net's multi-process compile takes minutes on 2 busy cores.
DATA = ("-m", "mlp_small", "--dataset", "fashion_mnist", "--limit", 256)
JAX = {"KERAS_BACKEND": "jax"}
# The longest any job here may take; a process that hangs fails the test instead of the suite.
BOUND = 420


# ---------------------------------------------------------------- fast: the pieces
@pytest.mark.parametrize("count, batch_size, processes", [(230, 64, 2), (230, 32, 2), (100, 30, 3), (10, 4, 2)])
def test_the_processes_slices_make_up_the_single_process_batches(count, batch_size, processes):
    features = np.arange(count)
    # One process with the job's device count: the batches a single-process run uses (all of them here but a
    # last one the devices cannot share, which the next test covers).
    single = list(numpy_training_batches(features, features, EpochPlan(batch_size, 7, 0, 2, 1, 0, processes)))
    per_process = [
        list(numpy_training_batches(features, features, EpochPlan(batch_size, 7, 0, 2, processes, index, processes)))
        for index in range(processes)
    ]
    plan = EpochPlan(batch_size, 7, 0, 2, processes, 0, processes)
    assert len(per_process[0]) == 2 * plan.steps_per_epoch(count)
    for step, batches in enumerate(zip(*per_process)):
        assert len({len(batch) for batch, _ in batches}) == 1  # every process feeds an equal share
        assert np.array_equal(np.concatenate([batch for batch, _ in batches]), single[step][0])


def test_a_last_batch_the_devices_cannot_share_is_skipped_and_one_device_keeps_it():
    assert EpochPlan(64, 1, 0, 1, 2, 0, 2).steps_per_epoch(230) == 4  # 3 x 64 + 38, and 38 splits in two
    assert EpochPlan(64, 1, 0, 1, 2, 0, 2).steps_per_epoch(231) == 3  # 39 does not
    assert EpochPlan(64, 1, 0, 1).steps_per_epoch(231) == 4


@pytest.mark.parametrize("options, environment, expected", [
    ({"coordinator": "h:1", "num_processes": 2, "process_id": 2}, {}, "--process-id must be between 0 and 1"),
    ({"coordinator": "h:1", "process_id": 1}, {}, "--process-id needs --num-processes"),
    ({"coordinator": "h:1", "num_processes": 2}, {}, "--num-processes needs --process-id"),
    ({"num_processes": 2, "process_id": 0}, {}, "needs --coordinator HOST:PORT"),
    ({"coordinator": "no-port", "num_processes": 2, "process_id": 0}, {}, "must be HOST:PORT"),
    ({}, {"KERAS_DISTRIBUTION_JOB_ADDRESSES": "h:1", "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
          "KERAS_DISTRIBUTION_PROCESS_ID": "5"}, "between 0 and 1"),
])
def test_an_impossible_world_is_refused_before_joining(monkeypatch, options, environment, expected):
    for variable in (*multiworker.ENVIRONMENT.values(), *multiworker.CLUSTER_VARIABLES):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    with pytest.raises(UsageError, match=re.escape(expected)):
        multiworker.requested_world(**options)


def test_keras_variables_fill_in_the_world_and_the_command_line_wins(monkeypatch):
    monkeypatch.setenv("KERAS_DISTRIBUTION_JOB_ADDRESSES", "10.0.0.1:1234,10.0.0.2:2345")
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "2")
    monkeypatch.setenv("KERAS_DISTRIBUTION_PROCESS_ID", "1")
    assert multiworker.requested_world() == multiworker.World("10.0.0.1:1234", 2, 1)
    assert multiworker.requested_world(process_id=0).process_id == 0


def test_only_a_process_that_may_write_the_run_starts_a_drawing_process(monkeypatch):
    from types import SimpleNamespace as Args

    monkeypatch.delenv("KERAS_DISTRIBUTION_PROCESS_ID", raising=False)
    assert multiworker.named_follower(Args(distribute="multi-worker", process_id=1))
    assert not multiworker.named_follower(Args(distribute="multi-worker", process_id=0))
    assert not multiworker.named_follower(Args(distribute="multi-worker", process_id=None))  # SLURM: not known yet
    assert not multiworker.named_follower(Args(distribute="none", process_id=None))
    monkeypatch.setenv("KERAS_DISTRIBUTION_PROCESS_ID", "2")
    assert multiworker.named_follower(Args(distribute="multi-worker", process_id=None))
    assert not multiworker.named_follower(Args(distribute="multi-worker", process_id=0))  # the command line wins
    assert not multiworker.named_follower(Args(distribute="none", process_id=None))


def test_the_global_batch_must_divide_among_the_devices():
    multiworker.check_batch_size(multiworker.World("h:1", 2, 0, devices=4), 64)
    with pytest.raises(UsageError, match="divide evenly among the 4 devices"):
        multiworker.check_batch_size(multiworker.World("h:1", 2, 0, devices=4), 66)


def test_a_run_resumes_with_the_kind_of_job_it_trained_with():
    world = multiworker.World("h:1", 2, 0, devices=2)
    multiworker.Chief(world).check_resume({"distribute": "multi-worker", "batch_size": 64})
    multiworker.Follower(replace(world, process_id=1)).check_resume({"distribute": "multi-worker", "batch_size": 64})
    SingleProcess().check_resume({"distribute": "none", "batch_size": 64})
    with pytest.raises(UsageError, match="resume it the same way"):
        SingleProcess().check_resume({"distribute": "multi-worker", "batch_size": 64})
    with pytest.raises(UsageError, match="without the multi-worker options"):
        multiworker.Chief(world).check_resume({"distribute": "none", "batch_size": 64})
    with pytest.raises(UsageError, match="divide evenly"):
        multiworker.Chief(world).check_resume({"distribute": "multi-worker", "batch_size": 63})


def test_each_place_in_a_job_plans_its_own_slice_and_only_the_chief_writes(tmp_path):
    """The placement hands each process its share of the global batches and keeps followers out of the folder."""
    from types import SimpleNamespace

    config = SimpleNamespace(batch_size=64, seed=1, epochs=2)
    world = multiworker.World("h:1", 2, 0, devices=2)
    chief, follower = multiworker.Chief(world), multiworker.Follower(replace(world, process_id=1))
    alone = SingleProcess().epoch_plan(config)
    assert alone.steps_per_epoch(640) == chief.epoch_plan(config).steps_per_epoch(640) == 10
    assert (chief.epoch_plan(config).process_index, follower.epoch_plan(config).process_index) == (0, 1)
    assert [SingleProcess().owns(len, "ab"), chief.owns(len, "ab"), follower.owns(len, "ab")] == [2, 2, None]
    record = follower.create_record(tmp_path / "shared", task="xor", model="m")
    assert not (tmp_path / "shared").exists() and record.folder.run_file.is_file()  # its own private copy
    assert chief.checkpoint_options == {"overhead_budget": float("inf")} and SingleProcess().checkpoint_options == {}


# ---------------------------------------------------------------- slow: real jobs of two processes
def start_job(*args, processes=2, timeout=30):
    """The same mnist.py command once per process, as a user starts it on each machine."""
    port = free_port()
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **JAX}
    return [
        subprocess.Popen(
            [sys.executable, str(PROJECT / "mnist.py"), *map(str, args), "--distribute", "multi-worker",
             "--coordinator", f"127.0.0.1:{port}", "--num-processes", str(processes), "--process-id", str(index),
             "--worker-timeout", str(timeout)],
            cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment,
        )
        for index in range(processes)
    ]


def finish(job):
    """(exit code, stdout, stderr) of every process, waiting at most BOUND seconds for each."""
    results = []
    for process in job:
        try:
            stdout, stderr = process.communicate(timeout=BOUND)
        except subprocess.TimeoutExpired:
            for other in job:
                other.kill()
            pytest.fail("a multi-worker process hung")
        results.append((process.returncode, stdout, stderr))
    return results


def completed(result) -> subprocess.CompletedProcess:
    code, stdout, stderr = result
    return subprocess.CompletedProcess([], code, stdout, stderr)


def worker_weights(stdout: str) -> str:
    return re.search(r"weights_sha256 ([0-9a-f]{64})", stdout).group(1)


def model_weights_sha256(model) -> str:
    digest = hashlib.sha256()
    for weights in model.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()


@pytest.mark.slow
def test_two_processes_train_the_same_model_as_one_process(tmp_path, fashion_available):
    settings = (*DATA, "--epochs", 2, "--batch-size", 64)
    job = start_job(*settings, "--outputs", tmp_path / "job")
    single = run_script("mnist", *settings, "--outputs", tmp_path / "single", env=JAX, timeout=BOUND)
    chief, worker = finish(job)
    folder = run_folder_of(completed(chief))
    assert worker[0] == 0, worker[2]
    assert last_line(worker[1]) == str(folder)  # both agree on the run folder
    # Only process 0 wrote a run folder (beside it: the outputs' index page and its cache, also process 0's).
    assert [path.name for path in (tmp_path / "job").iterdir() if path.is_dir()] == [folder.name]

    record = read_run(folder)
    assert record["status"] == "completed"
    assert record["world"]["num_processes"] == 2 and record["world"]["devices_per_process"] == 1
    assert record["weights_sha256"] == worker_weights(worker[1])  # the replicas ended identical
    for name in ("model.h5", "history.csv", "checkpoints/last.h5", "checkpoints/best.h5", "report.html", "summary.txt"):
        assert (folder / name).is_file(), name

    import keras

    reloaded = keras.models.load_model(folder / "model.h5")  # plain Keras, no job
    assert model_weights_sha256(reloaded) == record["weights_sha256"]

    # Same global batches in the same order: the history of one process, up to float summation order.
    history = pd.read_csv(folder / "history.csv")
    alone = pd.read_csv(run_folder_of(single) / "history.csv")
    for column in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(history[column], alone[column], rtol=1e-4, atol=1e-5, err_msg=column)


@pytest.mark.slow
def test_a_killed_worker_stops_the_job_and_resume_with_both_completes_it(tmp_path, fashion_available):
    outputs = tmp_path / "outputs"
    chief, worker = start_job(*DATA, "--epochs", 2, "--batch-size", 16, "--outputs", outputs, timeout=20)
    for line in worker.stdout:  # kill process 1 as its epoch 1 ends: the chief checkpoints epoch 1 before the step both need
        if line.startswith("epoch 1/"):
            break
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    code, stdout, stderr = finish([chief])[0]
    assert code == 1 and "the job lost a process" in stderr and "Traceback" not in stderr
    (folder,) = [path for path in outputs.iterdir() if path.is_dir()]
    record = read_run(folder)
    assert record["status"] == "interrupted" and record["epochs_completed"] >= 1

    results = finish(start_job("resume", folder, timeout=20))
    assert [code for code, _, _ in results] == [0, 0], results[0][2] + results[1][2]
    assert "warning" not in results[1][2] and "multiworker-" not in results[1][2]  # nothing about its private copy
    record = read_run(folder)
    assert record["status"] == "completed" and record["epochs_completed"] == 2 and len(record["resumes"]) == 1
    assert record["weights_sha256"] == worker_weights(results[1][1])
    assert list(pd.read_csv(folder / "history.csv")["epoch"]) == [1, 2]


@pytest.mark.slow
def test_bad_world_input_is_one_line_and_no_run_folder(tmp_path):
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **JAX}
    base = [sys.executable, str(PROJECT / "mnist.py"), "--outputs", str(tmp_path), "--distribute", "multi-worker"]
    # The other refusals (process id out of range, --process-id alone, ...) take the same path: see the fast tests.
    cases = {  # extra arguments -> (exit code, what the line says)
        ("--coordinator", "127.0.0.1:1", "--num-processes", "2", "--process-id", "0", "--batch-size", "33"):
            (2, "must divide evenly"),
        ("--coordinator", f"127.0.0.1:{free_port()}", "--num-processes", "2", "--process-id", "1",
         "--worker-timeout", "3"): (1, "could not join"),
    }
    started = {extra: subprocess.Popen([*base, *extra], cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True, env=environment) for extra in cases}
    for extra, process in started.items():
        _, stderr = process.communicate(timeout=BOUND)
        expected_code, expected_text = cases[extra]
        assert process.returncode == expected_code and expected_text in last_line(stderr), (extra, stderr)
        assert "Traceback" not in stderr
    assert list(tmp_path.iterdir()) == []
