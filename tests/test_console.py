"""What a run says while it runs, and what summary.txt holds, whatever the terminal: whole model summaries at any
width, a status line for each silent phase (the first before TensorFlow's import), one line per epoch when piped."""
import os
import subprocess
import sys
import time

import pytest

from conftest import PROJECT, run_folder_of, run_script
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
