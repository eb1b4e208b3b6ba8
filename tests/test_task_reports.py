"""Reports that tell a task's story, and a console that says what it is doing, on real tiny runs: one churn run
(binary: curves, threshold, baseline) and one XOR run, trained as a user would with its output piped (truth table,
one line per epoch, status lines)."""
import html
import io
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from conftest import PROJECT, cli, last_line, read_run, run_folders

from utils.tasks import get_task
from utils.training import engine

XOR_EPOCHS = 3
CHURN_SETTINGS = {"limit": 1000, "seed": 42, "validation_split": 0.1}


@pytest.fixture(scope="module")
def churn_run(tmp_path_factory, churn_csv):
    """A 2-epoch churn run on 1,000 training rows; the baseline the engine hands to plot_history is kept."""
    outputs = tmp_path_factory.mktemp("churn_outputs")
    baselines = []
    real_plot_history = engine.plot_history

    def plot_history(*args, baseline=None, **kwargs):
        baselines.append(baseline)
        return real_plot_history(*args, baseline=baseline, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "plot_history", plot_history)
        code = cli("churn", ["--data", churn_csv, "--epochs", 2, "--batch-size", 64, "--limit", CHURN_SETTINGS["limit"],
                             "--outputs", outputs, "--quiet"])
    assert code == 0
    (folder,) = run_folders(outputs)
    return folder, baselines


@pytest.fixture(scope="module")
def xor_piped(tmp_path_factory):
    """`python xor.py --epochs 3` with stdout piped: (run folder, stdout lines, seconds from the start to each)."""
    outputs = tmp_path_factory.mktemp("xor_outputs")
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, str(PROJECT / "xor.py"), "--epochs", str(XOR_EPOCHS), "--outputs",
                                str(outputs)], cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines, seconds = [], []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        seconds.append(time.perf_counter() - started)
    assert process.wait(timeout=300) == 0, "\n".join(lines)
    (folder,) = run_folders(outputs)
    assert last_line("\n".join(lines)) == str(folder)
    return folder, lines, seconds


def table_after(text: str, heading: str) -> pd.DataFrame:
    """The whitespace-separated table that follows `heading` in `text`, up to the next blank line."""
    block = text.split(heading, 1)[1].strip("\n").split("\n\n", 1)[0]
    return pd.read_csv(io.StringIO(block), sep=r"\s+")


@pytest.mark.slow
def test_a_binary_run_draws_roc_and_precision_recall_curves_and_states_the_threshold(churn_run):
    folder, _ = churn_run
    metrics = read_run(folder)["test_metrics"]
    assert 0 < metrics["test_average_precision"] <= 1 and 0 < metrics["test_roc_auc"] <= 1
    for name in ("roc_curve", "precision_recall_curve"):
        assert (folder / "plots" / f"{name}.png").stat().st_size > 10_000
    page = (folder / "report.html").read_text()
    assert 'alt="roc_curve"' in page and 'alt="precision_recall_curve"' in page
    assert f"<th>average precision</th><td>{metrics['test_average_precision']:.4f}</td>" in page
    positive = read_run(folder)["data"]["class_names"][1]
    assert f"Decision threshold 0.5: a row is predicted {positive} when P({positive}) &gt;= 0.5" in page
    text = (folder / "classification_report.txt").read_text()
    assert "Decision threshold 0.5" in text and f"average precision {metrics['test_average_precision']:.4f}" in text


@pytest.mark.slow
def test_a_binary_runs_accuracy_plot_gets_the_validation_majority_baseline(churn_run, churn_csv):
    _, baselines = churn_run
    data = get_task("churn").load({"data": churn_csv}, CHURN_SETTINGS["seed"], CHURN_SETTINGS["validation_split"],
                                      CHURN_SETTINGS["limit"])
    majority = np.bincount(data.y_train).argmax()
    assert baselines == [pytest.approx(np.mean(data.y_val == majority))]
    assert 0.7 < baselines[0] < 0.9  # churn: most customers stay


@pytest.mark.slow
def test_piped_training_prints_one_compact_line_per_epoch_and_a_line_per_silent_phase(xor_piped):
    folder, lines, seconds = xor_piped
    epochs = [line for line in lines if line.lower().startswith("epoch")]
    assert [line.split()[1] for line in epochs] == [f"{epoch}/{XOR_EPOCHS}" for epoch in range(1, XOR_EPOCHS + 1)]
    assert all("val_accuracy" in line and line.endswith(" s") for line in epochs[1:])
    assert "includes compiling" in epochs[0]
    assert not any("learning_rate" in line or "epoch_seconds" in line or "step" in line for line in lines)
    phases = ["starting Keras", "loading the xor data", "building xor_mlp", "Training xor_mlp", "epoch 1/",
              "evaluating on 4 test rows", "writing plots and report", f"updating {folder.parent / 'index.html'}"]
    positions = [next(index for index, line in enumerate(lines) if line.startswith(phase)) for phase in phases]
    assert positions == sorted(positions)
    # The first line comes before Keras' import, which takes seconds: within a second on an idle machine (a fixed
    # bound would fail on a loaded one, so it is measured against the import it precedes).
    assert lines[0].startswith("starting Keras") and seconds[0] < (seconds[1] - seconds[0]) / 2


@pytest.mark.slow
def test_a_tiny_test_set_is_reported_row_by_row_in_the_text_report_html_and_evaluate(xor_piped, capsys):
    folder, _, _ = xor_piped
    heading = "Every test row with its predicted probability:"
    written = table_after((folder / "classification_report.txt").read_text(), heading)
    assert list(written.columns) == ["x0", "x1", "label", "P(1)", "predicted"]
    assert written[["x0", "x1", "label"]].values.tolist() == [[0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 0]]
    assert ((written["P(1)"] >= 0.5) == (written["predicted"] == 1)).all()
    page = html.unescape((folder / "report.html").read_text())
    assert heading in page and table_after(page, heading).equals(written)
    capsys.readouterr()
    assert cli("xor", ["evaluate", folder]) == 0
    output = capsys.readouterr().out
    assert "evaluating on 4 test rows" in output
    # model.h5 reloaded gives the probabilities the run reported
    table_lines = output.split("evaluating on 4 test rows ...\n", 1)[1].splitlines()[:5]
    shown = pd.read_csv(io.StringIO("\n".join(table_lines)), sep=r"\s+")
    assert shown["P(1)"].tolist() == written["P(1)"].tolist()
