"""resume at its edges: settings it refuses, locks, damaged checkpoints, a deleted history, runs whose
epochs are done.

Each case runs in-process through the real entry point (utils.cli.main.run_task) and checks the promise: one line
on stderr, the exit code, and nothing half-written.
"""
import os

import pandas as pd
import pytest
from conftest import PROJECT, assert_one_line, cli, record_of, set_record


# ---------------------------------------------------------------- --resume: settings, locks, checkpoints, history
@pytest.mark.parametrize("extra, flag", [
    (["--batch-size", "64"], "--batch-size"), (["-m", "xor_mlp"], "--model"), (["--learning-rate", "0.1"], "--learning-rate"),
    (["--mixed-precision"], "--mixed-precision"), (["--name", "again"], "--name"), (["--seed", "3"], "--seed"),
])
def test_resume_refuses_training_options_in_one_line(xor_copy, capsys, extra, flag):
    code = cli("xor", ["resume", xor_copy, "--epochs", 3, *extra])
    assert_one_line(capsys, code, 2, flag, "only --epochs")
    assert record_of(xor_copy)["epochs_completed"] == 2


def test_resume_refuses_a_data_option(tmp_path, capsys):
    code = cli("mnist", ["resume", tmp_path, "--dataset", "mnist_5k"])
    assert_one_line(capsys, code, 2, "--dataset")


def test_a_second_trainer_is_refused_naming_the_holder(xor_copy, capsys):
    from utils.runs.lock import RunLock
    from utils.runs.record import RunRecord

    set_record(xor_copy, status="running")
    with RunLock(xor_copy, "train"):
        assert RunRecord.load(xor_copy).status == "running"
        code = cli("xor", ["resume", xor_copy, "--epochs", 3])
        assert_one_line(capsys, code, 1, "locked by process", str(os.getpid()))
    assert RunRecord.load(xor_copy).status == "crashed"  # the lock is free: nobody is training it


def test_a_lock_held_by_another_process_is_released_by_the_kernel_when_it_dies(xor_copy, capsys):
    import subprocess
    import sys

    set_record(xor_copy, status="running")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from utils.runs.lock import RunLock; "
         f"lock = RunLock({str(xor_copy)!r}, 'resume').acquire(); print('held', flush=True); time.sleep(600)"],
        cwd=PROJECT, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        code = cli("xor", ["resume", xor_copy, "--epochs", 3])
        assert_one_line(capsys, code, 1, f"process {holder.pid}", "(resume)")
    finally:
        holder.kill()
        holder.wait()
    assert cli("xor", ["resume", xor_copy, "--epochs", 3, "--quiet"]) == 0  # SIGKILL left no stale lock
    record = record_of(xor_copy)
    assert record["status"] == "completed" and record["resumes"][-1]["status_before"] == "crashed"


def test_runs_tells_running_from_crashed_by_the_lock_not_the_pid(xor_copy, capsys):
    from utils.runs.lock import RunLock

    set_record(xor_copy, status="running", environment={"pid": os.getpid(), "hostname": os.uname().nodename})
    assert cli("xor", ["runs", "--outputs", xor_copy.parent]) == 0
    assert "crashed" in capsys.readouterr().out  # our own pid is alive, but nobody holds the lock
    with RunLock(xor_copy):
        assert cli("xor", ["runs", "--outputs", xor_copy.parent]) == 0
        assert "running" in capsys.readouterr().out


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_a_damaged_last_checkpoint_falls_back_to_best(xor_copy, capsys, damage):
    last = xor_copy / "checkpoints" / "last.h5"
    data = last.read_bytes()
    last.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x89HDF\r\n" + os.urandom(3000), "empty": b""}[damage])
    code = cli("xor", ["resume", xor_copy, "--epochs", 3, "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "last.h5 is" in captured.err and "best.h5" in captured.err
    assert len([line for line in captured.err.splitlines() if "last.h5 is" in line]) == 1  # said once
    record = record_of(xor_copy)
    assert record["status"] == "completed" and record["epochs_completed"] == 3
    assert record["resumes"][-1]["from_checkpoint"] == "best.h5"


def test_no_sound_checkpoint_is_one_clear_line(xor_copy, capsys):
    (xor_copy / "checkpoints" / "last.h5").write_bytes(b"garbage")
    (xor_copy / "checkpoints" / "best.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    code = cli("xor", ["resume", xor_copy, "--epochs", 3])
    assert_one_line(capsys, code, 1, "last.h5 is", "best.h5 is", "train again")
    assert record_of(xor_copy)["status"] == "completed"  # untouched


def test_resume_after_history_was_deleted_warns_and_records_the_gap(xor_copy, capsys):
    (xor_copy / "history.csv").unlink()
    code = cli("xor", ["resume", xor_copy, "--epochs", 3, "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "lacks epochs 1-2" in captured.err
    assert record_of(xor_copy)["resumes"][-1]["history_gap"] == [1, 2]
    assert list(pd.read_csv(xor_copy / "history.csv")["epoch"]) == [3]


@pytest.mark.parametrize("status", ["interrupted", "failed", "running"])
def test_resume_finishes_a_run_whose_epochs_are_done(xor_copy, capsys, status):
    for name in ("model.h5", "report.html", "classification_report.txt"):
        (xor_copy / name).unlink()
    set_record(xor_copy, status=status, test_metrics=None)
    code = cli("xor", ["resume", xor_copy, "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    record = record_of(xor_copy)
    assert record["status"] == "completed" and record["test_metrics"]["test_accuracy"] is not None
    assert record["epochs_completed"] == 2 and len(pd.read_csv(xor_copy / "history.csv")) == 2
    assert (xor_copy / "model.h5").is_file() and (xor_copy / "report.html").is_file()


def test_resume_of_a_completed_run_still_asks_for_more_epochs(xor_copy, capsys):
    code = cli("xor", ["resume", xor_copy])
    assert_one_line(capsys, code, 2, "already has 2 epochs")
