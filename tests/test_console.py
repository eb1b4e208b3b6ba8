"""What a run says while it runs, and what summary.txt holds, whatever the terminal: whole model summaries at any
width, a status line for each silent phase (the first before TensorFlow's import), one line per epoch when piped."""
import os

import pytest

from conftest import run_folder_of, run_script
from utils.reports.network import write_model_summary


def small_model():
    from utils.training.setup import import_keras

    keras = import_keras()
    return keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(3), keras.layers.Dense(1)], name="tiny")


def assert_whole_summary(text):
    assert "Param #" in text, text
    assert "Total params: 13" in text, text
    # Every table row ends in its right border: no column was cut off.
    rows = [line for line in text.splitlines() if line.startswith(("┃", "│"))]
    assert rows and all(line.rstrip().endswith(("┃", "│")) for line in rows), text


def test_the_summary_file_is_whole_on_a_narrow_terminal(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    path = tmp_path / "summary.txt"
    write_model_summary(small_model(), path)
    assert_whole_summary(path.read_text())
    assert os.environ["COLUMNS"] == "40"  # the user's setting is left as it was


@pytest.mark.slow
def test_a_piped_run_on_a_narrow_terminal_keeps_the_whole_summary_in_its_files(tmp_path):
    folder = run_folder_of(run_script("xor", "--epochs", 2, "--outputs", tmp_path, env={"COLUMNS": "40"}))
    summary = (folder / "summary.txt").read_text()
    assert "Param #" in summary and "Total params: 65" in summary, summary
    assert "Param #" in (folder / "report.html").read_text()


def test_the_first_line_is_printed_before_keras_is_imported(tmp_path, monkeypatch, capsys):
    from conftest import cli
    from utils.training import setup

    printed_before_import = []

    def stop_at_import(verbose=False):
        printed_before_import.append(capsys.readouterr().out)
        raise SystemExit(3)

    monkeypatch.setattr(setup, "import_keras", stop_at_import)
    assert cli("xor", ["--epochs", 1, "--outputs", tmp_path]) == 3
    assert printed_before_import == [f"starting Keras on {os.environ.get('KERAS_BACKEND', 'tensorflow')} ...\n"]
    assert not any(tmp_path.iterdir())


def epoch_lines(capsys, epochs_logs) -> list:
    from utils.training.callbacks import EpochLine

    line = EpochLine()
    line.set_params({"epochs": len(epochs_logs)})
    line.on_train_begin()
    for epoch, logs in enumerate(epochs_logs):
        line.on_epoch_end(epoch, dict(logs))
    return capsys.readouterr().out.splitlines()


def test_an_epoch_line_shows_the_learning_rate_only_once_it_changes(capsys):
    logs = {"loss": 0.5, "accuracy": 0.8, "val_loss": 0.6, "val_accuracy": 0.75, "epoch_seconds": 6.3672}
    lines = epoch_lines(capsys, [{**logs, "learning_rate": 0.001}, {**logs, "learning_rate": 0.001},
                                 {**logs, "learning_rate": 0.0005}])
    assert lines[0] == "epoch 1/3  loss 0.5000  accuracy 0.8000  val_loss 0.6000  val_accuracy 0.7500  6.37 s (includes compiling)"
    assert lines[1] == "epoch 2/3  loss 0.5000  accuracy 0.8000  val_loss 0.6000  val_accuracy 0.7500  6.37 s"
    assert "learning_rate 0.0005" in lines[2] and len(lines) == 3
