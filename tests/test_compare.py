"""Comparing runs: one curve per run in every figure, every epoch in one long table, warnings where due."""
import json

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from conftest import last_line, run_script
from utils.reports import compare as compare_module
from utils.reports import overlay
from utils.runs import store
from utils.core.errors import UsageError

# Each test here starts the entry point as a subprocess (a TensorFlow import apiece): the slow tier.
pytestmark = pytest.mark.slow


def make_run(outputs, name, task, model, history: dict, started):
    folder = outputs / name
    folder.mkdir(parents=True)
    epochs = len(next(iter(history.values())))
    (folder / "run.json").write_text(json.dumps({
        "run_id": name, "task": task, "model": model, "status": "completed", "parameters": 10,
        "epochs_completed": epochs, "seconds_per_epoch": history["epoch_seconds"], "started": started,
        "best": {"metric": "val_accuracy", "value": max(history.get("val_accuracy", [0])), "epoch": 1},
        "test_metrics": {"test_accuracy": 0.5}, "environment": {},
    }))
    pd.DataFrame({"epoch": range(epochs), **history}).to_csv(folder / "history.csv", index=False)
    return folder


@pytest.fixture
def three_runs(tmp_path):
    outputs = tmp_path / "outputs"
    a = make_run(outputs, "a_run", "mnist", "conv_net", {
        "loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.6, 0.4], "accuracy": [0.5, 0.7, 0.8],
        "val_accuracy": [0.4, 0.6, 0.7], "epoch_seconds": [2.0, 1.0, 1.0]}, "2026-01-01T00:00:01")
    b = make_run(outputs, "b_run", "mnist", "mlp_small", {
        "loss": [0.9, 0.4], "val_loss": [1.0, 0.5], "accuracy": [0.6, 0.8],
        "val_accuracy": [0.5, 0.75], "epoch_seconds": [0.5, 0.5]}, "2026-01-01T00:00:02")
    c = make_run(outputs, "c_run", "churn", "churn_mlp", {
        "loss": [0.6], "val_loss": [0.5], "accuracy": [0.8], "val_accuracy": [0.81], "auc": [0.7],
        "val_auc": [0.72], "epoch_seconds": [0.3]}, "2026-01-01T00:00:03")
    return outputs, [a, b, c]


def test_every_figure_holds_one_train_and_one_validation_curve_per_run(three_runs, monkeypatch):
    outputs, folders = three_runs
    figures = {}
    monkeypatch.setattr(overlay, "save_figure", lambda figure, path: figures.__setitem__(path.name, figure))
    epochs = compare_module.long_history(folders)
    notes = compare_module.plot_comparison(epochs, outputs)
    assert set(figures) == {"loss.png", "accuracy.png", "auc.png", "epoch_time.png"}
    loss_lines = figures["loss.png"].axes[0].get_lines()
    assert len(loss_lines) == 6
    labels = [line.get_label() for line in loss_lines]
    # named by model (what differs); the run ids stay in the table
    assert "conv_net train" in labels and "mlp_small validation" in labels
    by_label = {line.get_label(): line for line in loss_lines}
    assert list(by_label["conv_net validation"].get_ydata()) == [1.1, 0.6, 0.4]
    assert list(by_label["mlp_small train"].get_xdata()) == [1, 2]
    assert by_label["conv_net train"].get_linestyle() == "--"
    assert by_label["conv_net validation"].get_linestyle() == "-"
    assert by_label["conv_net train"].get_color() == by_label["conv_net validation"].get_color()
    assert by_label["conv_net train"].get_color() != by_label["mlp_small train"].get_color()
    # auc exists only in the churn run: plotted for it, with a note naming the others.
    assert len(figures["auc.png"].axes[0].get_lines()) == 2
    assert any(note.startswith("auc: not recorded by a_run, b_run") for note in notes)
    for figure in figures.values():
        plt.close(figure)


def test_compare_writes_tables_with_the_timing_vocabulary(three_runs, capsys):
    outputs, folders = three_runs
    folder = compare_module.compare(folders[:2], outputs)
    assert folder.name.startswith("compare_")
    table = pd.read_csv(folder / "comparison.csv")
    assert list(table["model"]) == ["conv_net", "mlp_small"]
    assert list(table["epochs"]) == [3, 2] and list(table["best_val_accuracy"]) == [0.7, 0.75]
    # a_run's epochs took 2, 1 and 1 s: steady is the median after the first, which has its own column
    assert list(table["steady_epoch_seconds"]) == [1.0, 0.5] and list(table["first_epoch_seconds"]) == [2.0, 0.5]
    assert table.loc[0, "training_seconds"] == 4.0 and "seconds_per_epoch" not in table
    epochs = pd.read_csv(folder / "epochs.csv")
    assert len(epochs) == 5 and list(epochs[epochs["run"] == "a_run"]["epoch"]) == [1, 2, 3]
    assert {"run", "model", "epoch", "loss", "val_loss", "epoch_seconds"} <= set(epochs.columns)
    for name in ("loss.png", "accuracy.png", "epoch_time.png"):
        assert (folder / name).stat().st_size > 1000
    assert "mlp_small" in capsys.readouterr().out


def test_runs_of_different_tasks_are_refused_and_nothing_is_written(three_runs):
    outputs, folders = three_runs
    with pytest.raises(UsageError, match="one task; these are runs of churn, mnist"):
        compare_module.compare(folders, outputs)
    assert not list(outputs.glob("compare_*"))


def test_last_n_picks_the_newest_runs(three_runs):
    outputs, folders = three_runs
    assert store.resolve_runs([], 2, outputs) == [folders[1].resolve(), folders[2].resolve()]
    assert store.resolve_runs([str(outputs / "a_*")], None, outputs) == [folders[0].resolve()]


def test_compare_of_nothing_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="Nothing to compare"):
        store.resolve_runs([], None, tmp_path)
    result = run_script("xor", "compare", "--outputs", tmp_path)
    assert result.returncode == 2 and "Nothing to compare" in result.stderr and "Traceback" not in result.stderr
    result = run_script("xor", "compare", tmp_path / "nope", "--outputs", tmp_path)
    assert result.returncode == 2 and "is not a run folder" in result.stderr


def test_several_models_end_with_a_comparison_and_runs_lists_them(tmp_path, churn_csv):
    result = run_script("churn", "-m", "all", "--data", churn_csv, "--epochs", 1, "--batch-size", 256, "--outputs", tmp_path)
    assert result.returncode == 0, result.stderr
    folder = tmp_path / last_line(result.stdout).split("/")[-1]
    assert folder.name.startswith("compare_")
    assert list(pd.read_csv(folder / "comparison.csv")["model"]) == ["churn_mlp", "churn_wide_dropout"]
    listing = run_script("churn", "runs", "--outputs", tmp_path)
    assert listing.returncode == 0 and "churn_wide_dropout" in listing.stdout and "completed" in listing.stdout
