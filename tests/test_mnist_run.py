"""A short MNIST-shaped run leaves every artifact, and what it saved reloads with plain Keras."""
import json
import subprocess
import sys

import h5py
import pandas as pd
import pytest
from conftest import PROJECT, read_run, run_folder_of, run_here, run_script

# The tests here train or read a run, in a subprocess where a fresh process is the subject, else in-process: the
# slow tier.
pytestmark = pytest.mark.slow

PLOTS = {"accuracy.png", "loss.png", "accuracy_loss.png", "epoch_time.png", "confusion_matrix.png"}


def test_a_run_leaves_every_artifact(mnist_run):
    record = read_run(mnist_run)
    assert record["status"] == "completed"
    assert record["task"] == "mnist" and record["model"] == "conv_net"
    assert record["epochs_completed"] == 2 and len(record["seconds_per_epoch"]) == 2
    assert record["data"]["sizes"] == {"train": 270, "validation": 30, "test": 10_000}
    assert len(record["data"]["sha256"]) == 64
    assert record["hyperparameters"]["seed"] == 42 and record["hyperparameters"]["batch_size"] == 256
    for version in ("python", "tensorflow", "keras", "numpy"):
        assert record["environment"][version]
    assert set(record["test_metrics"]) >= {"test_loss", "test_accuracy"}
    assert "mnist.py" in record["command"] and "--limit 300" in record["command"]

    history = pd.read_csv(mnist_run / "history.csv")
    assert list(history["epoch"]) == [1, 2]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "epoch_seconds"} <= set(history.columns)
    assert history["val_accuracy"].max() == record["best"]["value"]

    assert PLOTS <= {path.name for path in (mnist_run / "plots").iterdir()}
    assert all((mnist_run / "plots" / name).stat().st_size > 1000 for name in PLOTS)
    assert "T-shirt/top" in (mnist_run / "classification_report.txt").read_text()
    assert "93,322" in (mnist_run / "summary.txt").read_text()


def test_the_saved_model_and_checkpoints_reload_in_a_fresh_process_with_plain_keras(mnist_run):
    record = read_run(mnist_run)
    script = f"""
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
sys.path.insert(0, {str(PROJECT)!r})
import keras
from utils.tasks.mnist import load_images
data = load_images({{"dataset": "fashion_mnist"}}, seed=42, validation_split=0.1, limit=300)
results = {{}}
for name in ("model.h5", "checkpoints/last.h5", "checkpoints/best.h5"):
    model = keras.models.load_model({str(mnist_run)!r} + "/" + name)
    labels = keras.utils.to_categorical(data.y_test, 10)
    results[name] = model.evaluate(data.x_test.reshape(-1, 28, 28, 1), labels, verbose=0, return_dict=True)
print(json.dumps(results))
"""
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert output.returncode == 0, output.stderr[-3000:]
    results = json.loads(output.stdout.strip().splitlines()[-1])
    assert abs(results["model.h5"]["accuracy"] - record["test_metrics"]["test_accuracy"]) < 1e-6
    # The last checkpoint is the final epoch's model.
    assert abs(results["checkpoints/last.h5"]["accuracy"] - record["test_metrics"]["test_accuracy"]) < 1e-6
    # best.h5 is the epoch the record names as best, holding the validation value recorded for it.
    with h5py.File(mnist_run / "checkpoints" / "best.h5", "r") as best:
        assert best.attrs["epoch"] == record["best"]["epoch"]
        assert abs(best.attrs["monitor_value"] - record["best"]["value"]) < 1e-9


def test_several_models_get_one_folder_each_and_a_summary_table(tmp_path, capsys):
    result = run_here(
        capsys, "mnist", "-m", "mlp_one_layer", "mlp_small", "--dataset", "mnist_5k", "--limit", 200, "--epochs", 1,
        "--outputs", tmp_path,
    )
    assert result.returncode == 0, result.stderr
    folders = sorted(path for path in tmp_path.iterdir() if path.is_dir() and not path.name.startswith("compare_"))
    assert [read_run(folder)["model"] for folder in folders] == ["mlp_one_layer", "mlp_small"]
    assert all(read_run(folder)["status"] == "completed" for folder in folders)
    small = read_run(folders[1])["hyperparameters"]
    assert (small["optimizer"], small["loss"], small["learning_rate"]) == ("rmsprop", "mse", 0.001)
    # A model trained with the short loss alias 'mse' reloads with plain Keras (full names are compiled in).
    evaluated = run_here(capsys, "mnist", "evaluate", folders[1])
    assert evaluated.returncode == 0, evaluated.stderr
    assert "best_val_accuracy" in result.stdout and "test_accuracy" in result.stdout
    # The command ends with the folders it made, then the comparison of them.
    lines = result.stdout.strip().splitlines()
    assert lines[-3:-1] == [str(folder) for folder in folders]
    assert lines[-1].split("/")[-1].startswith("compare_")



def test_the_command_line_overrides_a_models_own_defaults(tmp_path, capsys):
    result = run_here(
        capsys, "mnist", "-m", "mlp_small", "--optimizer", "sgd", "--learning-rate", "0.05", "--loss", "categorical_crossentropy",
        "--dataset", "mnist_5k", "--limit", 100, "--epochs", 1, "--outputs", tmp_path, "--quiet",
    )
    hyperparameters = read_run(run_folder_of(result))["hyperparameters"]
    assert (hyperparameters["optimizer"], hyperparameters["learning_rate"], hyperparameters["loss"]) == (
        "sgd", 0.05, "categorical_crossentropy",
    )
    # --quiet prints only the folder.
    assert len(result.stdout.strip().splitlines()) == 1


def test_list_shows_every_model_with_its_parameters():
    result = run_script("mnist", "list")
    assert result.returncode == 0, result.stderr
    assert "conv_net" in result.stdout and "93,322" in result.stdout and "rmsprop" in result.stdout
    assert result.stderr == ""


def test_the_optimizers_default_learning_rate_is_recorded_and_found(mnist_run):
    record = read_run(mnist_run)
    assert record["hyperparameters"]["learning_rate"] == pytest.approx(0.001)  # Adam's default, read from the optimizer
    result = run_script("mnist", "runs", "--where", "learning_rate=0.001", "--outputs", mnist_run.parent)
    assert result.returncode == 0, result.stderr
    assert mnist_run.name in result.stdout and "None" not in result.stdout
