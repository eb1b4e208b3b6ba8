"""Reloading saved models (evaluate, predict), resuming runs, and Ctrl-C during training."""
import json
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from conftest import PROJECT, last_line, read_run, run_folder_of, run_here, run_script
from PIL import Image

# Each test here starts the entry point as a subprocess (a TensorFlow import apiece): the slow tier.
pytestmark = pytest.mark.slow


def one_line_error(result, code=1):
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


def test_evaluate_reproduces_the_recorded_test_accuracy_and_leaves_the_run_untouched(mnist_run):
    before = (mnist_run / "run.json").read_text(), (mnist_run / "classification_report.txt").read_text()
    result = run_script("mnist", "evaluate", mnist_run / "model.h5")
    assert result.returncode == 0, result.stderr
    report = mnist_run / "evaluations" / last_line(result.stdout).split("/")[-1]
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["test_accuracy"] == pytest.approx(read_run(mnist_run)["test_metrics"]["test_accuracy"], abs=1e-6)
    assert (report / "classification_report.txt").is_file() and (report / "confusion_matrix.png").is_file()
    assert ((mnist_run / "run.json").read_text(), (mnist_run / "classification_report.txt").read_text()) == before


def test_evaluate_refuses_missing_corrupt_and_foreign_checkpoints(mnist_run, xor_copy, tmp_path, capsys):
    # The refusals' exit code and one stderr line, in-process (the command's outcome, not its process, is the subject).
    def refusal(*arguments):
        return one_line_error(run_here(capsys, "mnist", *arguments))

    assert "does not exist" in refusal("evaluate", tmp_path / "nothing.h5")
    copy = tmp_path / "run"
    shutil.copytree(mnist_run, copy)
    data = (copy / "checkpoints" / "last.h5").read_bytes()
    (copy / "checkpoints" / "truncated.h5").write_bytes(data[: len(data) // 2])
    assert "truncated.h5" in refusal("evaluate", copy / "checkpoints" / "truncated.h5")
    (copy / "checkpoints" / "text.h5").write_text("not a model")
    assert "not an HDF5 file" in refusal("evaluate", copy / "checkpoints" / "text.h5")
    assert "is a xor run; use xor.py" in refusal("evaluate", xor_copy)
    shutil.copy(xor_copy / "model.h5", copy / "checkpoints" / "foreign.h5")
    assert "belongs to another task" in refusal("evaluate", copy / "checkpoints" / "foreign.h5")
    assert "is not a run folder" in refusal("resume", tmp_path)


def render_digit(pixels, path, size, dark_on_light):
    """Draw an MNIST test digit the way a person's image might look: bigger, padded, maybe dark ink on white."""
    image = (pixels * 255).astype(np.uint8)
    if dark_on_light:
        image = 255 - image
    canvas = Image.new("L", (size[0] + 40, size[1] + 60), color=255 if dark_on_light else 0)
    canvas.paste(Image.fromarray(image).resize(size, Image.BILINEAR), (20, 30))
    canvas.convert("RGB").save(path)


def test_predict_on_digit_images_rendered_from_the_test_set_returns_their_labels(tmp_path):
    folder = run_folder_of(run_script(
        "mnist", "-m", "conv_net", "--dataset", "mnist_5k", "--epochs", 8, "--outputs", tmp_path, "--quiet",
    ))
    sys.path.insert(0, str(PROJECT))
    from utils.tasks.mnist import load_images
    from utils.training.setup import import_keras

    keras = import_keras()
    data = load_images({"dataset": "mnist_5k"}, seed=42, validation_split=0.1, limit=None)
    probabilities = keras.models.load_model(folder / "model.h5").predict(data.x_test[..., None], verbose=0)
    # Digits the model itself gets right from the original pixels: the test is about the image conversion.
    confident = (probabilities.argmax(axis=1) == data.y_test) & (probabilities.max(axis=1) > 0.9)
    chosen = [int(np.flatnonzero(confident & (data.y_test == digit))[0]) for digit in (0, 3, 7)]
    paths = []
    for number, index in enumerate(chosen):
        path = tmp_path / f"digit_{number}.{'png' if number % 2 else 'jpg'}"
        render_digit(data.x_test[index], path, size=(112, 112) if number else (70, 90), dark_on_light=number != 1)
        paths.append(path)
    result = run_script("mnist", "predict", folder, *paths)
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(last_line(result.stdout))
    assert [int(label) for label in table["predicted"]] == [int(data.y_test[index]) for index in chosen]
    assert (table["probability"] > 0.5).all()


def test_predict_scores_xor_rows_and_rejects_malformed_ones(xor_default_run, tmp_path, capsys):
    folder = tmp_path / xor_default_run[0].name  # predict writes into the run: a copy of the shared one
    shutil.copytree(xor_default_run[0], folder)
    result = run_here(capsys, "xor", "predict", folder, "0,0", "0 1", "1,0", "1,1")
    assert result.returncode == 0, result.stderr
    assert list(pd.read_csv(last_line(result.stdout))["predicted"]) == [0, 1, 1, 0]
    assert "takes 2 per row" in one_line_error(run_here(capsys, "xor", "predict", folder, "0,1,1"))


def test_resume_equals_an_uninterrupted_run(tmp_path):
    common = ["--dataset", "mnist_5k", "--limit", 500, "-m", "conv_net_dropout", "--deterministic", "--quiet"]
    straight = run_folder_of(run_script("mnist", *common, "--epochs", 4, "--outputs", tmp_path / "straight"))
    split = run_folder_of(run_script("mnist", *common, "--epochs", 2, "--outputs", tmp_path / "split"))
    resumed = run_script("mnist", "resume", split, "--epochs", 4, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    a = pd.read_csv(straight / "history.csv")
    b = pd.read_csv(split / "history.csv")
    assert list(b["epoch"]) == [1, 2, 3, 4]
    for column in ("loss", "val_loss", "val_accuracy", "learning_rate"):
        np.testing.assert_allclose(b[column], a[column], rtol=1e-5, atol=1e-6)
    record = read_run(split)
    assert record["status"] == "completed" and record["epochs_completed"] == 4
    assert [(entry["at_epoch"], entry["to_epochs"]) for entry in record["resumes"]] == [(2, 4)]
    assert len(record["seconds_per_epoch"]) == 4
    assert record["test_metrics"]["test_accuracy"] == pytest.approx(read_run(straight)["test_metrics"]["test_accuracy"])
    already = run_script("mnist", "resume", split, "--epochs", 3)
    assert "already has 4 epochs" in one_line_error(already, code=2)


def test_best_checkpoint_is_not_replaced_by_a_worse_model_after_a_resume(tmp_path):
    sys.path.insert(0, str(PROJECT))
    from utils.training.setup import import_keras

    keras = import_keras()
    from utils.training.callbacks import AtomicCheckpoint
    from utils.training.checkpoints import CheckpointInfo, read_checkpoint_info

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    path = tmp_path / "best.h5"
    # As a resumed run does: the best value so far (0.9) comes from the previous process.
    checkpoint = AtomicCheckpoint(path, monitor="val_accuracy", best_so_far=0.9)
    checkpoint.set_model(model)
    checkpoint.on_train_begin()
    checkpoint.on_epoch_end(2, {"val_accuracy": 0.8})
    assert not path.exists()
    checkpoint.on_epoch_end(3, {"val_accuracy": 0.95})
    assert read_checkpoint_info(path) == CheckpointInfo(
        epoch=4, monitor="val_accuracy", monitor_value=pytest.approx(0.95), callback_state={},
    )
    assert [p.name for p in tmp_path.iterdir()] == ["best.h5"]  # no temporary file left behind


def wait_for_rows(history, rows, process, timeout=240):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if history.is_file() and len(history.read_text().splitlines()) >= rows + 1:
            return
        if process.poll() is not None:
            raise AssertionError(f"training ended early: {process.communicate()}")
        time.sleep(0.05)
    raise AssertionError("no epoch finished in time")


def test_sigint_during_epoch_two_leaves_a_resumable_run(tmp_path, fashion_available):
    outputs = tmp_path / "outputs"
    process = subprocess.Popen(
        [sys.executable, str(PROJECT / "mnist.py"), "-m", "conv_net", "--dataset", "fashion_mnist", "--limit", "6000",
         "--batch-size", "32", "--epochs", "30", "--outputs", str(outputs)],
        cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    folder_wait = time.time() + 120
    while not (outputs.is_dir() and any(outputs.iterdir())) and time.time() < folder_wait:
        time.sleep(0.05)
    folder = next(path for path in outputs.iterdir() if path.is_dir())
    wait_for_rows(folder / "history.csv", 1, process)
    time.sleep(0.3)  # well inside epoch 2
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and f"mnist.py resume {folder}" in stderr
    record = read_run(folder)
    assert record["status"] == "interrupted"
    history = pd.read_csv(folder / "history.csv")
    done = record["epochs_completed"]
    assert done >= 1 and list(history["epoch"]) == list(range(1, done + 1))
    assert (folder / "history.csv").read_text().endswith("\n")
    assert not (folder / "model.h5").exists()
    resumed = run_script("mnist", "resume", folder, "--epochs", done + 1, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    record = read_run(folder)
    assert record["status"] == "completed" and record["epochs_completed"] == done + 1
    assert record["resumes"][0]["status_before"] == "interrupted"
    assert list(pd.read_csv(folder / "history.csv")["epoch"]) == list(range(1, done + 2))


def test_predict_scores_new_churn_customers_and_iris_rows(tmp_path, churn_csv, capsys):
    churn = run_folder_of(run_here(capsys, "churn", "--data", churn_csv, "--epochs", 1, "--batch-size", 256,
                                   "--outputs", tmp_path, "--quiet"))
    customers = tmp_path / "customers.csv"
    pd.read_csv(churn_csv).head(25).drop(columns=["Exited"]).to_csv(customers, index=False)
    result = run_here(capsys, "churn", "predict", churn, customers)
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(last_line(result.stdout))
    assert len(table) == 25 and table["input"].iloc[0].startswith("customers.csv:")
    assert table["P(exited)"].between(0, 1).all()
    assert set(table["predicted"]) <= {"stayed", "exited"}
    iris = run_folder_of(run_here(capsys, "iris", "--outputs", tmp_path / "iris", "--quiet"))
    result = run_here(capsys, "iris", "predict", iris, "5.1,3.5,1.4,0.2", "6.7 3.0 5.2 2.3")
    assert result.returncode == 0, result.stderr
    assert list(pd.read_csv(last_line(result.stdout))["predicted"]) == ["setosa", "virginica"]
