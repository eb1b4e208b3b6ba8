"""Faults lose nothing: SIGKILL at random moments, NaN losses, concurrent runs, changed data, unsafe names."""
import json
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from conftest import PROJECT, read_run, run_folder_of, run_here

# The tests here train, in a process of their own where the process is the subject (a kill, concurrent runs), else
# in-process (a TensorFlow import per subprocess saved): the slow tier.
pytestmark = pytest.mark.slow


def start_training(outputs, *extra):
    return subprocess.Popen(
        [sys.executable, str(PROJECT / "mnist.py"), "-m", "conv_net", "--dataset", "mnist_5k", "--batch-size", "32",
         "--epochs", "40", "--outputs", str(outputs), "--quiet", *extra],
        cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )


def wait_until(condition, process, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        if process.poll() is not None:
            raise AssertionError(f"process ended early: {process.stderr.read()}")
        time.sleep(0.02)
    raise AssertionError("timed out")


def test_sigkill_at_random_moments_leaves_a_consistent_resumable_run(tmp_path, capsys):
    randomness = random.Random(7)
    for attempt in range(3):
        outputs = tmp_path / f"outputs{attempt}"
        process = start_training(outputs)
        wait_until(lambda: outputs.is_dir() and any(outputs.iterdir()), process)
        folder = next(path for path in outputs.iterdir() if path.is_dir())
        wait_until(lambda: (folder / "checkpoints" / "last.h5").is_file(), process)
        # A random moment within the next epochs: mid-batch, mid-validation or mid-checkpoint-write.
        time.sleep(randomness.uniform(0.0, 2.0))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)

        record = json.loads((folder / "run.json").read_text())  # valid JSON, never half-written
        assert record["status"] == "running"
        text = (folder / "history.csv").read_text()
        rows = pd.read_csv(folder / "history.csv")
        whole = text.endswith("\n")
        assert list(rows["epoch"])[: len(rows) - (0 if whole else 1)] == list(range(1, len(rows) + (1 if whole else 0)))
        with h5py.File(folder / "checkpoints" / "last.h5", "r") as checkpoint:
            saved_epoch = int(checkpoint.attrs["epoch"])
        # The killed process is the subject; listing and resuming what it left are in-process.
        listing = run_here(capsys, "mnist", "runs", "--outputs", outputs)
        assert "crashed" in listing.stdout, listing.stdout

        resumed = run_here(capsys, "mnist", "resume", folder, "--epochs", saved_epoch + 1, "--quiet")
        assert resumed.returncode == 0, resumed.stderr
        record = read_run(folder)
        assert record["status"] == "completed" and record["epochs_completed"] == saved_epoch + 1
        assert list(pd.read_csv(folder / "history.csv")["epoch"]) == list(range(1, saved_epoch + 2))
        # Temporary checkpoint files of the killed process are never mistaken for checkpoints.
        assert sorted(path.name for path in (folder / "checkpoints").glob("*.h5")) == ["best.h5", "last.h5"]


def test_a_nan_loss_fails_the_run_with_its_epoch_and_keeps_no_broken_checkpoint(tmp_path, capsys):
    result = run_here(
        capsys, "mnist", "-m", "mlp_one_layer", "--dataset", "mnist_5k", "--limit", 1000, "--epochs", 3,
        "--optimizer", "sgd", "--learning-rate", "1e9", "--outputs", tmp_path,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "loss became nan in epoch 1" in result.stderr
    folder = next(path for path in tmp_path.iterdir() if path.is_dir())
    record = read_run(folder)
    assert record["status"] == "failed" and record["failed_epoch"] == 1 and "nan" in record["reason"]
    assert not (folder / "model.h5").exists()
    assert not list((folder / "checkpoints").glob("*.h5"))  # nothing from the broken epoch
    history = (folder / "history.csv").read_text().strip().splitlines()
    assert len(history) <= 1  # at most a header: no row of NaNs


def test_a_nan_after_good_epochs_keeps_their_checkpoint(tmp_path):
    """The NaN guard sits before the checkpoints: a good epoch's checkpoint survives a later NaN."""
    sys.path.insert(0, str(PROJECT))
    from utils.training.setup import import_keras

    keras = import_keras()
    from utils.training import callbacks

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mean_squared_error")
    checkpoint = callbacks.AtomicCheckpoint(tmp_path / "last.h5")

    class PoisonSecondEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                model.layers[0].kernel.assign([[float("nan")]])

    features = np.ones((8, 1), np.float32)
    with pytest.raises(callbacks.LossNotFinite) as raised:
        model.fit(features, features, epochs=3, verbose=0,
                  callbacks=[PoisonSecondEpoch(), callbacks.NanGuard(), checkpoint])
    assert raised.value.epoch == 2
    with h5py.File(tmp_path / "last.h5", "r") as saved:
        assert int(saved.attrs["epoch"]) == 1
    reloaded = keras.models.load_model(tmp_path / "last.h5")
    assert np.isfinite(reloaded.layers[0].kernel.numpy()).all()


def _make_folder(outputs):
    sys.path.insert(0, str(PROJECT))
    from utils.runs.folder import create_run_folder

    return str(create_run_folder(outputs, "conv_net"))


def test_four_runs_started_in_the_same_second_get_four_folders(tmp_path):
    with ProcessPoolExecutor(4) as pool:
        folders = list(pool.map(_make_folder, [tmp_path] * 4))
    assert len(set(folders)) == 4
    assert len({Path(folder).name[:15] for folder in folders}) <= 2  # same second (or a boundary)


def test_four_concurrent_runs_never_write_into_each_other(tmp_path):
    processes = [
        subprocess.Popen(
            [sys.executable, str(PROJECT / "xor.py"), "--epochs", "20", "--seed", str(seed), "--outputs", str(tmp_path), "--quiet"],
            cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for seed in range(4)
    ]
    folders = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        folders.append(Path(stdout.strip().splitlines()[-1]))
    assert len(set(folders)) == 4
    for seed, folder in enumerate(folders):
        record = read_run(folder)
        assert record["hyperparameters"]["seed"] == seed and record["status"] == "completed"
        assert list(pd.read_csv(folder / "history.csv")["epoch"]) == list(range(1, 21))


def test_evaluate_and_resume_warn_when_the_data_on_disk_changed(tmp_path, churn_csv, capsys):
    data = tmp_path / "churn.csv"
    data.write_bytes(churn_csv.read_bytes())
    folder = run_folder_of(run_here(capsys, "churn", "--data", data, "--epochs", 1, "--batch-size", 256, "--outputs", tmp_path / "o", "--quiet"))
    quiet = run_here(capsys, "churn", "evaluate", folder)
    assert quiet.returncode == 0 and "differs" not in quiet.stderr
    frame = pd.read_csv(data)
    frame.loc[0, "Age"] = frame.loc[0, "Age"] + 1
    frame.to_csv(data, index=False)
    for arguments in (["evaluate", folder], ["resume", folder, "--epochs", 2]):
        result = run_here(capsys, "churn", *arguments)
        assert result.returncode == 0, result.stderr
        assert "warning:" in result.stderr and "differs from the data this run trained on" in result.stderr


def test_run_names_cannot_escape_the_outputs_folder(tmp_path, capsys):
    outputs = tmp_path / "outputs"
    folder = run_folder_of(run_here(capsys, "xor", "--epochs", 1, "--name", "../../escape/../x", "--outputs", outputs, "--quiet"))
    assert folder.parent == outputs
    assert not (tmp_path / "escape").exists()
    assert ".." not in folder.name


def test_loading_is_safe_no_pickles():
    """Models and arrays load back without executing code: safe_mode stays on, arrays load without pickle. The one
    pickle read is a table task's fitted scikit-learn preprocessing (README's Safety line: open only run folders you
    trust), in one place; the drawing process only checks that a job can be sent (pickle.dumps), never loads one."""
    sources = {path.name: path.read_text() for path in (PROJECT / "utils").rglob("*.py")}
    everything = "\n".join(sources.values())
    assert "safe_mode=False" not in everything
    assert "allow_pickle=True" not in everything
    assert "pickle.load" not in everything and "pickle.Unpickler" not in everything
    assert [name for name, text in sources.items() if "joblib.load" in text] == ["table_pipeline.py"]
    assert "safe_mode=True" in sources["checkpoints.py"]
