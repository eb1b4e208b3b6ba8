"""Signals at every moment of a run's life, full disks, a tracker that cannot start, and file modes of
what is written atomically.

Each case runs in-process through the real entry point (utils.cli.main.run_task) and checks the promise: one line
on stderr, the exit code, and nothing half-written.
"""
import errno
import os
import signal
import stat

import numpy as np
import pandas as pd
import pytest
from conftest import assert_one_line, churn_frame, cli, record_of, run_folders, train_xor


# ---------------------------------------------------------------- signals at every moment of a run's life
def signal_on_call(monkeypatch, module, name, call_number=1):
    """Make module.name send this process SIGTERM on its `call_number`-th call (then behave as before)."""
    original = getattr(module, name)
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == call_number:
            os.kill(os.getpid(), signal.SIGTERM)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)


@pytest.mark.parametrize("moment", ["setup", "final_save", "evaluation", "plots", "report"])
def test_sigterm_outside_fit_marks_the_run_interrupted_and_resume_finishes_it(tmp_path, capsys, monkeypatch, moment):
    from utils.training import engine

    if moment == "final_save":  # the first atomic write inside finish_run is model.h5
        finish = engine.finish_run
        monkeypatch.setattr(engine, "finish_run", lambda session: (
            signal_on_call(monkeypatch, engine.atomic, "atomic_path"), finish(session))[1])
    else:
        signal_on_call(monkeypatch, *{
            "setup": (engine, "write_run_files"), "evaluation": (engine, "test_pass"),
            "plots": (engine, "plot_history"), "report": (engine, "write_run_report"),
        }[moment])
    outputs = tmp_path / "outputs"
    code = train_xor(outputs)
    line = assert_one_line(capsys, code, 130, "SIGTERM")
    (folder,) = run_folders(outputs)
    assert record_of(folder)["status"] == "interrupted" and f"resume {folder}" in line
    monkeypatch.undo()
    code = cli("xor", ["resume", folder, "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    record = record_of(folder)
    assert record["status"] == "completed" and record["test_metrics"] and record["epochs_completed"] == 2
    if moment == "setup":  # no epoch had ended: the run starts again from epoch 1 in its own folder
        assert run_folders(outputs) == [folder]
        assert list(pd.read_csv(folder / "history.csv")["epoch"]) == [1, 2]
        assert record["resumes"][-1]["at_epoch"] == 0 and (folder / "model.h5").is_file()


def test_sigterm_while_the_record_is_created_leaves_no_run_folder(tmp_path, capsys, monkeypatch):
    from utils.runs import record

    signal_on_call(monkeypatch, record.RunRecord, "save")
    outputs = tmp_path / "outputs"
    code = train_xor(outputs)
    assert_one_line(capsys, code, 130, "interrupted by SIGTERM")
    assert run_folders(outputs) == []


# A grid is a sweep: a signal marks its running trials interrupted and exits 130, and `--resume-sweep` finishes it
# without redoing completed trials (tests/test_sweeps.py: SIGTERM, and resume after a SIGKILL of the driver).


# ---------------------------------------------------------------- full disks, failing trackers
def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "checkpoints/.last.tmp.h5")


def test_a_full_disk_during_a_checkpoint_fails_the_run_in_one_line(tmp_path, capsys, monkeypatch):
    from utils.training import callbacks

    monkeypatch.setattr(callbacks, "write_checkpoint", no_space)
    outputs = tmp_path / "outputs"
    code = train_xor(outputs)
    assert_one_line(capsys, code, 1, "No space left on device", "marked failed")
    (folder,) = run_folders(outputs)
    record = record_of(folder)
    assert record["status"] == "failed" and "No space left" in record["reason"]


def test_a_full_disk_that_cannot_even_mark_the_run_says_it_shows_as_crashed(tmp_path, capsys, monkeypatch):
    from utils.runs.record import RunRecord
    from utils.training import callbacks

    monkeypatch.setattr(callbacks, "write_checkpoint", no_space)
    monkeypatch.setattr(RunRecord, "mark", no_space)
    outputs = tmp_path / "outputs"
    code = train_xor(outputs)
    assert_one_line(capsys, code, 1, "No space left on device", "shows it as crashed")
    assert cli("xor", ["runs", "--outputs", outputs, "--format", "csv", "--columns", "run,status"]) == 0
    (folder,) = run_folders(outputs)
    assert f"{folder.name},crashed" in capsys.readouterr().out


@pytest.mark.parametrize("first_write", ["lock", "record"])
def test_a_full_disk_at_the_start_leaves_no_run_folder(tmp_path, capsys, monkeypatch, first_write):
    from utils.core import atomic
    from utils.runs.lock import RunLock

    if first_write == "lock":
        monkeypatch.setattr(RunLock, "acquire", no_space)
    else:
        monkeypatch.setattr(atomic, "write_json", no_space)
    outputs = tmp_path / "outputs"
    code = train_xor(outputs)
    assert_one_line(capsys, code, 1, "No space left on device", "nothing was kept")
    assert run_folders(outputs) == []


def test_a_really_full_disk_fails_the_run_in_one_line(tmp_path, capsys):
    """A 300 KiB tmpfs (root only): XOR's checkpoints do not fit after the first files."""
    import subprocess

    outputs = tmp_path / "tiny"
    outputs.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=120k", "tmpfs", str(outputs)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("mounting a tmpfs needs root")  # the monkeypatched cases above cover the behaviour
    try:
        code = train_xor(outputs)
        line = assert_one_line(capsys, code, 1, "No space left on device")
        from utils.runs.record import RunRecord

        for folder in run_folders(outputs):
            # Marked failed when run.json still fits; when not even that write fits (a warning says so), the
            # free lock shows the run as crashed. Never `running`.
            assert RunRecord.load(folder).status in ("failed", "crashed"), line
    finally:
        subprocess.run(["umount", str(outputs)], check=True)


def test_a_tracker_that_cannot_start_fails_the_run_before_training(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    outputs = tmp_path / "outputs"
    code = train_xor(outputs, "--mlflow", f"sqlite:///{blocker}/sub/mlflow.db")
    assert_one_line(capsys, code, 1, "could not start", "marked failed")
    (folder,) = run_folders(outputs)
    record = record_of(folder)
    assert record["status"] == "failed" and record["epochs_completed"] == 0 and "tracker" in record["reason"]


# ---------------------------------------------------------------- unknown categories, file modes
def test_a_category_seen_only_in_the_test_split_is_encoded_and_counted(tmp_path):
    from utils.tasks import get_task
    from utils.tasks.datasets import TEST_SPLIT_SEED, stratified_split

    frame = churn_frame(400)
    labels = frame["Exited"].to_numpy(np.int64)
    _, test = stratified_split(frame, labels, 0.2, TEST_SPLIT_SEED, "train and test")
    frame.loc[frame.index[test[:3]], "Geography"] = "Atlantis"
    path = tmp_path / "churn.csv"
    frame.to_csv(path, index=False)
    dataset = get_task("churn").load({"data": str(path)}, 42, 0.1, None)
    assert any(note == "test: categories unseen in training: Geography 3" for note in dataset.notes)
    assert np.isfinite(dataset.x_test).all()


def test_files_written_atomically_respect_the_umask(xor_run):
    for name in ("run.json", "model.h5", "report.html", "history.csv", "checkpoints/last.h5"):
        mode = stat.S_IMODE((xor_run / name).stat().st_mode)
        assert mode == 0o666 & ~current_umask() & 0o777, (name, oct(mode))


def current_umask():
    from utils.core.atomic import current_umask as read

    return read()
