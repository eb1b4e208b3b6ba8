"""Figures a reader trusts at a glance: whole epochs, splits told apart, runs named once, flat series stated not
drawn, the best few of a sweep highlighted; report.html in human units. In-process: no TensorFlow, no training."""
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.legend import Legend

from utils.reports import html as html_module
from utils.reports import overlay, plots
from utils.reports.compare import compare, long_history
from utils.reports.run_labels import differing_summary, run_labels
from utils.runs.folder import Figures


@pytest.fixture
def captured(monkeypatch):
    """Figures by file name instead of PNG files, for plots and overlay alike."""
    figures = {}
    def store(figure, path):
        figures[path.name] = figure

    monkeypatch.setattr(plots, "save_figure", store)
    monkeypatch.setattr(overlay, "save_figure", store)
    yield figures
    for figure in figures.values():
        plt.close(figure)


def history(epochs=3, learning_rate=0.001, offset=0.0) -> pd.DataFrame:
    """A 1-based history table as the plotting functions take it."""
    steps = np.arange(epochs)
    return pd.DataFrame({
        "epoch": steps + 1, "accuracy": 0.5 + 0.1 * steps + offset, "loss": 1.0 - 0.2 * steps,
        "val_accuracy": 0.45 + 0.1 * steps + offset, "val_loss": 1.1 - 0.2 * steps,
        "learning_rate": learning_rate if np.isscalar(learning_rate) else list(learning_rate),
        "epoch_seconds": 2.0 - 0.5 * steps,
    })


def record(run_id, model="xor_mlp", **hyperparameters) -> dict:
    settings = {"task": "xor", "model": model, "epochs": 3, "batch_size": 4, "learning_rate": 0.01, "seed": 42,
                "data_options": {}, **hyperparameters}
    return {"run_id": run_id, "task": "xor", "model": model, "status": "completed", "parameters": 17,
            "hyperparameters": settings, "epochs_completed": 3, "seconds_per_epoch": [1.0, 1.0, 1.0],
            "started": f"2026-11-27T06:00:{run_id[-2:]}", "best": {"metric": "val_accuracy", "value": 0.7, "epoch": 3},
            "test_metrics": {"test_accuracy": 0.5}, "environment": {}}


def write_run(outputs, data: dict, table: pd.DataFrame):
    """A run folder by hand: run.json and today's history.csv (epoch from 0)."""
    folder = outputs / data["run_id"]
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps(data))
    table.assign(epoch=table["epoch"] - 1).to_csv(folder / "history.csv", index=False)
    return folder


def sweep_epochs(count: int) -> pd.DataFrame:
    """`count` runs whose best val_accuracy rises with the run number (the last run is the best)."""
    return pd.concat([history(offset=index / 100).assign(run=f"run_{index:02d}", model="xor_mlp")
                      for index in range(count)], ignore_index=True)


def legends_of(axes) -> list:
    return [child for child in axes.get_children() if isinstance(child, Legend)]


def legend_texts(axes) -> list:
    return [text.get_text() for legend in legends_of(axes) for text in legend.get_texts()]


def assert_whole_epoch_ticks(axes):
    low, high = axes.get_xlim()
    ticks = [tick for tick in axes.get_xticks() if low <= tick <= high]
    assert ticks and all(float(tick).is_integer() for tick in ticks), ticks


def test_every_run_figure_has_whole_epoch_ticks(captured):
    plots.plot_history(history(epochs=3, learning_rate=[0.01, 0.005, 0.0025]), Figures("plots"), title="xor_mlp on xor")
    assert {"loss.png", "accuracy.png", "accuracy_loss.png", "epoch_time.png", "learning_rate.png"} == set(captured)
    for figure in captured.values():
        for axes in figure.axes:
            assert_whole_epoch_ticks(axes)
    # the table's epochs are drawn as given: 1-based in, 1-based on the axis
    assert list(captured["loss.png"].axes[0].get_lines()[0].get_xdata()) == [1, 2, 3]


def test_comparison_figures_have_whole_epoch_ticks(captured):
    overlay.plot_comparison(sweep_epochs(2), "compare")
    for figure in captured.values():
        assert_whole_epoch_ticks(figure.axes[0])


def test_run_legend_tells_splits_apart_by_long_unmarked_handles(captured):
    plots.plot_history(history(), Figures("plots"))
    (legend,) = legends_of(captured["loss.png"].axes[0])
    texts = [text.get_text() for text in legend.get_texts()]
    assert texts[0].startswith("train") and texts[1].startswith("validation")
    handles = legend.legend_handles
    assert handles[0].get_linestyle() == "--" and handles[1].get_linestyle() == "-"
    assert all(handle.get_marker() in (None, "None", "") for handle in handles)  # a marker would hide the dashes
    assert legend.handlelength >= 3


def test_comparison_has_a_run_legend_and_a_split_legend(captured):
    overlay.plot_comparison(sweep_epochs(2), "compare", labels={"run_00": "lr 0.1", "run_01": "lr 0.01"})
    runs_legend, splits_legend = legends_of(captured["loss.png"].axes[0])
    assert [text.get_text() for text in runs_legend.get_texts()] == ["lr 0.1", "lr 0.01"]
    assert [text.get_text() for text in splits_legend.get_texts()] == ["train", "validation"]
    assert [handle.get_linestyle() for handle in splits_legend.legend_handles] == ["--", "-"]
    # outside the axes, on the right
    assert all(legend.get_bbox_to_anchor().x0 > captured["loss.png"].axes[0].get_window_extent().x1
               for legend in (runs_legend, splits_legend))
    # epoch time has one series per run: no split legend
    assert len(legends_of(captured["epoch_time.png"].axes[0])) == 1


def test_labels_name_what_differs_and_never_repeat_the_run_id():
    two_models = [record("20261127-050418_mlp_one_layer", model="mlp_one_layer"),
                  record("20261127-050500_conv_net", model="conv_net")]
    assert run_labels(two_models) == ["mlp_one_layer", "conv_net"]
    sweep = [record("r_00", learning_rate=0.1, batch_size=16), record("r_01", learning_rate=0.01, batch_size=16),
             record("r_02", learning_rate=0.1, batch_size=64)]
    assert run_labels(sweep) == ["batch_size 16 · learning_rate 0.1", "batch_size 16 · learning_rate 0.01",
                                 "batch_size 64 · learning_rate 0.1"]
    assert differing_summary(sweep) == "batch_size, learning_rate"
    mixed = [record("m_00", model="a", seed=1), record("m_01", model="a", seed=2), record("m_02", model="b")]
    assert run_labels(mixed) == ["a · seed 1", "a · seed 2", "b"]
    reruns = [record("20261127-050418_xor_mlp"), record("20261127-050419_xor_mlp")]
    assert run_labels(reruns) == ["20261127-050418_xor_mlp", "20261127-050419_xor_mlp"]
    for labels, records in ((run_labels(two_models), two_models), (run_labels(sweep), sweep)):
        for label, data in zip(labels, records):
            assert data["run_id"] not in label and label.count(data["model"]) <= 1


def test_labels_leave_out_the_run_name_and_write_small_rates_in_scientific_notation():
    # a sweep names each trial's folder (--name trial<id>): that is no difference between the trials
    trials = [record("r_00", learning_rate=1.08e-4, name="trial000-1a2b"), record("r_01", learning_rate=0.001, name="trial001-3c4d")]
    assert run_labels(trials) == ["learning_rate 1.08e-04", "learning_rate 0.001"]
    assert differing_summary(trials) == "learning_rate"


def test_compare_names_runs_by_model_in_figures_and_keeps_ids_in_the_table(tmp_path, captured):
    outputs = tmp_path / "outputs"
    folders = [write_run(outputs, record("20261127-050418_mlp_one_layer", model="mlp_one_layer"), history()),
               write_run(outputs, record("20261127-050500_conv_net", model="conv_net"), history(offset=0.1))]
    folder = compare(folders, outputs, verbosity=0)
    texts = legend_texts(captured["accuracy.png"].axes[0])
    assert texts == ["mlp_one_layer", "conv_net", "train", "validation"]
    table = pd.read_csv(folder / "comparison.csv")
    assert list(table["run"]) == ["20261127-050418_mlp_one_layer", "20261127-050500_conv_net"]
    assert list(table["label"]) == ["mlp_one_layer", "conv_net"]
    assert "differing in model" in captured["accuracy.png"].texts[0].get_text()


def test_a_constant_series_gives_no_plot_and_its_value_is_stated(captured):
    constant = history(epochs=4, learning_rate=0.001)
    written = plots.plot_history(constant, Figures("plots"))
    assert "learning_rate.png" not in captured and "epoch_time.png" in captured
    assert all(path.name != "learning_rate.png" for path in written)
    # float32 round trips of one rate are still one rate
    plots.plot_history(constant.assign(learning_rate=np.float32(0.001)).astype({"learning_rate": float}), Figures("again"))
    assert "learning_rate.png" not in captured
    notes = html_module.constant_series_notes(constant)
    assert notes == ["Learning rate 0.001 in all 4 epochs (constant, so not plotted)."]
    plots.plot_history(history(epochs=4, learning_rate=[0.01, 0.01, 0.005, 0.005]), Figures("schedule"))
    assert "learning_rate.png" in captured


def test_a_twenty_run_figure_highlights_at_most_the_configured_number(captured):
    epochs = sweep_epochs(20)
    overlay.plot_comparison(epochs, "compare", compared="learning_rate", highlight=3)
    axes = captured["accuracy.png"].axes[0]
    coloured = {line.get_label().rsplit(" ", 1)[0] for line in axes.get_lines() if line.get_color() != overlay.OTHER_COLOUR}
    assert coloured == {"run_19", "run_18", "run_17"}  # the best three by val_accuracy
    grey = [line for line in axes.get_lines() if line.get_color() == overlay.OTHER_COLOUR]
    assert len(grey) == 17 and all(line.get_linewidth() < 1 for line in grey)
    runs_legend = legends_of(axes)[0]
    assert len(runs_legend.get_texts()) == 4 and runs_legend.get_texts()[-1].get_text() == "other 17 runs"
    assert runs_legend.get_texts()[0].get_text().startswith("run_19")
    caption = captured["accuracy.png"].texts[0].get_text()
    assert "20 runs compared, differing in learning_rate" in caption and "best 3 by highest val_accuracy" in caption
    captured.clear()
    overlay.plot_comparison(epochs, "compare", highlight=5)
    colours = {line.get_color() for line in captured["loss.png"].axes[0].get_lines()} - {overlay.OTHER_COLOUR}
    assert len(colours) == 5


def test_a_few_runs_keep_every_colour(captured):
    overlay.plot_comparison(sweep_epochs(overlay.MANY_RUNS), "compare")
    lines = captured["loss.png"].axes[0].get_lines()
    assert len(lines) == 2 * overlay.MANY_RUNS and not any(line.get_color() == overlay.OTHER_COLOUR for line in lines)


def test_the_accuracy_plots_draw_the_baseline_they_are_given(captured):
    plots.plot_history(history(), Figures("plots"), baseline=0.8)
    labels = [line.get_label() for line in captured["accuracy.png"].axes[0].get_lines()]
    assert "majority-class baseline (80.00%)" in labels
    assert captured["accuracy.png"].axes[0].get_ylim()[1] >= 0.8  # the curves end at 0.7: the axis reaches it
    assert "majority-class baseline (80.00%)" not in [line.get_label() for line in captured["loss.png"].axes[0].get_lines()]
    plots.plot_history(history(), Figures("again"))
    assert not any("baseline" in line.get_label() for line in captured["accuracy.png"].axes[0].get_lines())


def test_the_threshold_curves_mark_the_thresholds_point_and_leave_off_an_undefined_precision(captured):
    labels, scores = np.array([0, 0, 1, 1, 0, 1]), np.array([0.1, 0.6, 0.7, 0.2, 0.3, 0.9])
    plots.plot_threshold_curves(labels, scores, "exited", 0.5, Figures("plots"))
    point = captured["roc_curve.png"].axes[0].get_lines()[-1]
    assert (point.get_xdata()[0], point.get_ydata()[0]) == pytest.approx((1 / 3, 2 / 3))  # FPR, recall at 0.5
    assert "AUC = 0.78" in [text.get_text() for text in captured["roc_curve.png"].axes[0].get_legend().get_texts()][0]
    plots.plot_threshold_curves(labels, scores * 0.5, "exited", 0.5, Figures("plots"))  # no score reaches 0.5
    point = captured["precision_recall_curve.png"].axes[0].get_lines()[-1]
    assert np.isnan(point.get_ydata()[0]) and "precision undefined" in point.get_label()


def test_confusion_matrix_is_coloured_by_rate_per_true_class_and_prints_counts(captured):
    matrix = np.array([[1556, 37], [242, 165]])
    plots.plot_confusion_matrix(matrix, ["stayed", "exited"], Path("confusion_matrix.png"))
    axes = captured["confusion_matrix.png"].axes[0]
    colours = axes.images[0].get_array()
    # The 242 missed leavers are 59 % of their class: coloured above the 165 caught ones, not by their count.
    assert colours[1, 0] == pytest.approx(242 / 407) and colours[1, 0] > colours[1, 1]
    assert np.allclose(colours.sum(axis=1), 1.0)
    assert "242\n59.5%" in [text.get_text() for text in axes.texts]


def test_run_report_prints_sizes_percentages_and_flat_series_for_people(tmp_path):
    data = {**record("20261127-050418_conv_net", model="conv_net"), "task": "mnist",
            "data": {"name": "mnist", "sizes": {"train": 54000, "validation": 6000, "test": 10000}},
            "parameters": 93322,
            "test_metrics": {"test_accuracy": 0.8668, "test_loss": 0.37, "test_majority_baseline_accuracy": 0.1}}
    folder = write_run(tmp_path, data, history(epochs=3))
    page = html_module.write_run_report(folder).read_text()
    assert "train 54,000 · validation 6,000 · test 10,000" in page and '"train": 54000' not in page
    assert "86.68% (majority-class baseline 10.00%)" in page
    assert "Learning rate 0.001 in all 3 epochs" in page
    assert "<td>1</td>" in page.split("Every epoch")[1]  # the epoch table counts from 1, as the plots do


def test_long_history_counts_epochs_from_one(tmp_path):
    folder = write_run(tmp_path, record("r_00"), history(epochs=2))
    assert list(long_history([folder])["epoch"]) == [1, 2]
