"""Figures drawn in the drawing process (utils.reports.drawing): in the run folder when the command returns, and a
figure that fails costs that figure only."""
import os

from conftest import record_of, run_folders, train_xor
from utils.reports import drawing
from utils.runs.folder import RunFolder


def broken_plot(*args, **kwargs):
    """Importable, so it is sent to the drawing process, where it fails."""
    raise OSError(28, "No space left on device")


def test_the_figures_drawn_beside_the_run_are_in_its_folder_when_it_returns(xor_run):
    figures = RunFolder(xor_run).figures
    for path in (figures.metric("loss"), figures.metric("accuracy"), figures.confusion_matrix, figures.roc_curve,
                 figures.precision_recall_curve):
        assert path.is_file() and path.stat().st_size > 1000, path
    report = (xor_run / "report.html").read_text()
    assert report.count("data:image/png") >= 5
    assert drawing._worker is not None and os.getpid() not in [process.pid for process in drawing._worker._processes.values()]


def test_a_figure_that_fails_to_draw_leaves_the_run_complete_and_says_so_once(tmp_path, capsys, monkeypatch):
    from utils.training import engine

    assert drawing.sendable(broken_plot, (), {})  # drawn in the other process, not here
    monkeypatch.setattr(engine, "plot_history", broken_plot)
    outputs = tmp_path / "outputs"
    assert train_xor(outputs) == 0
    (folder,) = run_folders(outputs)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "the history plots: OSError" in lines[0] and "otherwise complete" in lines[0]
    record = record_of(folder)
    assert record["status"] == "completed" and record["epochs_completed"] == 2 and record["test_metrics"]
    run = RunFolder(folder)
    assert run.last_checkpoint.is_file() and len(run.read_history()) == 2 and (folder / "report.html").is_file()
    assert run.figures.confusion_matrix.is_file() and not run.figures.metric("loss").exists()
