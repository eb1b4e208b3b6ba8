"""Training features: augmentation, early stopping, schedules, optimizer options, grids, config files, report.html."""
import re
import subprocess

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import last_line, read_run, run_folder_of, run_here

from utils.training.setup import import_keras

keras = import_keras()

from models import get_model  # noqa: E402
from utils.core.config import TrainConfig  # noqa: E402
from utils.training.augment import image_augmenter  # noqa: E402
from utils.training.inputs import EpochPlan, training_dataset, validation_dataset  # noqa: E402

# The tests here train (in process: the command's outcome is the subject, not its process): the slow tier.
pytestmark = pytest.mark.slow


def test_augmentation_changes_training_batches_only():
    model = get_model("mnist", "conv_net").build(input_shape=(28, 28), num_classes=10)
    config = TrainConfig(task="mnist", model="conv_net", epochs=1, batch_size=8, optimizer="adam",
                         learning_rate=None, loss="categorical_crossentropy", augment=True)
    images = np.zeros((8, 28, 28, 1), np.float32)
    images[:, 10:18, 12:16, 0] = 1.0  # a bar: any rotation, shift, shear or zoom moves some of it
    labels = np.eye(10, dtype=np.float32)[:8]
    augmented, _ = next(iter(training_dataset(images, labels, EpochPlan(8, 0, 0, 1), augment=image_augmenter(model, config))))
    plain, _ = next(iter(training_dataset(images, labels, EpochPlan(8, 0, 0, 1))))
    assert augmented.shape == plain.shape == (8, 28, 28, 1)
    assert not np.allclose(np.sort(augmented.numpy().ravel()), np.sort(plain.numpy().ravel()))
    validation, _ = next(iter(validation_dataset(images, labels, 8)))
    np.testing.assert_array_equal(validation.numpy(), images)


def test_augment_run_records_it_and_refuses_tabular_tasks(tmp_path, capsys):
    folder = run_folder_of(run_here(
        capsys, "mnist", "-m", "mlp_one_layer", "--dataset", "mnist_5k", "--limit", 300, "--epochs", 1, "--augment",
        "--outputs", tmp_path, "--quiet",
    ))
    assert read_run(folder)["hyperparameters"]["augment"] is True
    refused = run_here(capsys, "iris", "--augment", "--outputs", tmp_path / "iris")
    assert refused.returncode == 2 and "--augment applies to image tasks" in refused.stderr


def test_early_stopping_records_where_it_stopped_and_the_best_epoch(tmp_path, capsys):
    folder = run_folder_of(run_here(
        capsys, "iris", "--epochs", 200, "--early-stopping", 2, "--learning-rate", 0.05, "--outputs", tmp_path, "--quiet",
    ))
    record = read_run(folder)
    stopping = record["early_stopping"]
    assert stopping["patience"] == 2 and stopping["stopped_at_epoch"] == record["epochs_completed"] < 200
    history = pd.read_csv(folder / "history.csv")
    assert stopping["best_epoch"] == int(history["val_loss"].idxmin()) + 1
    assert stopping["stopped_at_epoch"] - stopping["best_epoch"] == 2


@pytest.mark.parametrize("schedule, expected", [
    ("step", [0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025]),
    ("cosine", [0.01 * 0.5 * (1 + np.cos(np.pi * epoch / 6)) for epoch in range(6)]),
])
def test_learning_rate_schedules_set_each_epochs_rate_in_history(tmp_path, schedule, expected, capsys):
    folder = run_folder_of(run_here(
        capsys, "iris", "--epochs", 6, "--learning-rate", 0.01, "--lr-schedule", schedule, "--lr-step-epochs", 2,
        "--outputs", tmp_path, "--quiet",
    ))
    np.testing.assert_allclose(pd.read_csv(folder / "history.csv")["learning_rate"], expected, rtol=1e-5)
    assert (folder / "plots" / "learning_rate.png").is_file()


def test_plateau_schedule_halves_the_rate_after_three_flat_epochs(tmp_path, capsys):
    folder = run_folder_of(run_here(
        capsys, "xor", "--epochs", 12, "--learning-rate", 1e-5, "--lr-schedule", "plateau", "--outputs", tmp_path, "--quiet",
    ))
    rates = pd.read_csv(folder / "history.csv")["learning_rate"].to_numpy()
    assert rates[0] == pytest.approx(1e-5) and rates[-1] < rates[0]
    assert set(np.round(rates / 1e-5, 6)) <= {1.0, 0.5, 0.25, 0.125}


def test_optimizer_options_and_loss_override_reach_the_compiled_model(tmp_path, capsys):
    folder = run_folder_of(run_here(
        capsys, "iris", "--epochs", 1, "--optimizer", "sgd", "--momentum", 0.9, "--nesterov", "--loss", "mse",
        "--outputs", tmp_path, "--quiet",
    ))
    model = keras.models.load_model(folder / "model.h5")
    settings = model.optimizer.get_config()
    assert (type(model.optimizer).__name__, settings["momentum"], settings["nesterov"]) == ("SGD", 0.9, True)
    assert getattr(model.loss, "__name__", model.loss) == "mean_squared_error"
    adamw = run_folder_of(run_here(capsys, "iris", "--epochs", 1, "--optimizer", "adamw", "--weight-decay", 0.01,
                                   "--outputs", tmp_path / "w", "--quiet"))
    assert keras.models.load_model(adamw / "model.h5").optimizer.get_config()["weight_decay"] == pytest.approx(0.01)
    wrong = run_here(capsys, "iris", "--optimizer", "adam", "--momentum", 0.9, "--outputs", tmp_path / "x")
    assert wrong.returncode == 2 and "--momentum does not apply to the adam optimizer" in wrong.stderr


def test_grid_trains_every_combination_then_compares_them(tmp_path, capsys):
    result = run_here(capsys, "iris", "sweep", "--grid", "learning_rate=0.01,0.001", "batch_size=8,16", "--epochs", 2,
                        "--outputs", tmp_path, "--quiet")
    assert result.returncode == 0, result.stderr
    runs = [path for path in tmp_path.iterdir() if (path / "run.json").is_file()]
    combos = sorted((read_run(p)["hyperparameters"]["learning_rate"], read_run(p)["hyperparameters"]["batch_size"]) for p in runs)
    assert combos == [(0.001, 8), (0.001, 16), (0.01, 8), (0.01, 16)]
    # A grid is a sweep: its folder (the last line) holds the comparison of its trials.
    [comparison_csv] = (tmp_path / last_line(result.stdout).split("/")[-1]).glob("compare_*/comparison.csv")
    comparison = pd.read_csv(comparison_csv)
    assert len(comparison) == 4
    bad = run_here(capsys, "iris", "sweep", "--grid", "learning_rat=0.1", "--outputs", tmp_path / "bad")
    assert bad.returncode == 2 and "unknown setting 'learning_rat'" in bad.stderr


def test_config_file_sets_options_the_command_line_overrides_and_saved_configs_rerun(tmp_path, capsys):
    config = tmp_path / "settings.toml"
    config.write_text('epochs = 3\nbatch-size = 16\nlearning_rate = 0.02\nlr_schedule = "step"\n')
    first = run_folder_of(run_here(capsys, "iris", "--config", config, "--epochs", 2, "--outputs", tmp_path / "a", "--quiet"))
    settings = read_run(first)["hyperparameters"]
    assert (settings["epochs"], settings["batch_size"], settings["learning_rate"], settings["lr_schedule"]) == (2, 16, 0.02, "step")
    saved = yaml.safe_load((first / "config.yaml").read_text())
    assert saved["epochs"] == 2 and saved["model"] == "iris_mlp"
    again = run_folder_of(run_here(capsys, "iris", "--config", first / "config.yaml", "--outputs", tmp_path / "b", "--quiet"))
    assert read_run(again)["hyperparameters"] == settings
    np.testing.assert_allclose(pd.read_csv(again / "history.csv")["val_loss"], pd.read_csv(first / "history.csv")["val_loss"], rtol=1e-4)
    (tmp_path / "bad.yaml").write_text("epochs: 2\nlearning_rte: 0.1\n")
    bad = run_here(capsys, "iris", "--config", tmp_path / "bad.yaml", "--outputs", tmp_path / "c")
    assert bad.returncode == 2 and "unknown option(s) learning_rte" in bad.stderr and "Traceback" not in bad.stderr


def test_report_html_is_self_contained_and_renders_in_headless_chromium(tmp_path, capsys):
    folder = run_folder_of(run_here(capsys, "iris", "--epochs", 3, "--outputs", tmp_path, "--quiet"))
    page = (folder / "report.html").read_text()
    assert not re.search(r"(src|href)=\"(https?:)?//", page), "the report must not load remote assets"
    assert page.count("data:image/png;base64,") >= 3  # accuracy+loss, epoch time, confusion matrix
    assert "Learning rate" in page and "constant, so not plotted" in page  # a flat rate is stated, not drawn
    chromium = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*chromium, "--dump-dom", (folder / "report.html").as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    for text in ("iris_mlp", "majority-class baseline", "Confusion matrix", "learning_rate", "Every epoch", "Hyperparameters"):
        assert text in dom.stdout
    shot = tmp_path / "report.png"
    subprocess.run([*chromium, f"--screenshot={shot}", "--window-size=1200,1600", (folder / "report.html").as_uri()],
                   capture_output=True, timeout=120)
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"))
    assert pixels.shape == (1600, 1200) and pixels.std() > 10  # something was drawn, not a blank page
