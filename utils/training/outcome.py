"""How a run ended, recorded whatever happens: every way out of a run's life maps to a status in run.json and one
line for the user. The engine wraps a run's whole life (set-up, trackers, fit, final save, evaluation, report) in
`recorded_outcome`, so no run is ever left `running` by a process that is still alive to say otherwise."""
import shutil
import sys
from contextlib import contextmanager

from utils.core.errors import UserError
from utils.core.signals import TrainingInterrupted


class LossNotFinite(Exception):
    """Raised when an epoch's loss is NaN or infinite."""

    def __init__(self, epoch: int, loss: float):
        super().__init__(f"the training loss became {loss} in epoch {epoch}")
        self.epoch = epoch


class ProcessLost(Exception):
    """A collective failed because another process of a multi-worker job stopped (killed, crashed, interrupted)."""


class TrackerFailed(Exception):
    """An integration (MLflow, TensorBoard) could not start; the run fails before its first epoch."""


def mark_end(record, status: str, reason: str, **details) -> bool:
    """Record how the run ended; on a full disk even that may fail, which is said, not raised."""
    try:
        record.mark(status, reason=reason, **details)
        return True
    except OSError as error:
        print(f"warning: could not record the run as {status} in {record.folder.run_file}: {error.strerror or error}",
              file=sys.stderr)
        return False


def disk_message(error: OSError) -> str:
    where = f" writing {error.filename}" if error.filename else ""
    # h5py's messages span lines and name buffers: one line, and not much of it.
    text = " ".join(str(error.strerror or error).split())
    return (text if len(text) <= 200 else text[:200] + "…") + where


@contextmanager
def recorded_outcome(record):
    """Map every exception of a run's life to its status in run.json and one UserError line."""
    folder = record.folder
    again = f"{record.get('task')}.py resume {folder}"
    try:
        yield
    except ProcessLost as lost:  # an outside event, like a signal: the run can go on with `resume`
        mark_end(record, "interrupted", f"the multi-worker job lost a process: {lost}")
        raise UserError(
            f"Multi-worker training stopped: the job lost a process ({lost}) after {record.epochs_completed} completed "
            f"epochs; start all processes again with `{again}` and the same multi-worker options"
        )
    except TrainingInterrupted as stop:
        mark_end(record, "interrupted", f"{stop} received")
        raise UserError(
            f"Interrupted by {stop} after {record.epochs_completed} completed epochs; continue with: {again}",
            exit_code=130,
        )
    except KeyboardInterrupt:
        mark_end(record, "interrupted", "SIGINT received")
        raise UserError(f"Interrupted; continue with: {again}", exit_code=130)
    except LossNotFinite as error:
        mark_end(record, "failed", str(error), failed_epoch=error.epoch)
        kept = (
            f"the last good checkpoint is {folder.last_checkpoint}" if folder.last_checkpoint.is_file()
            else "no epoch finished before it, so there is no checkpoint"
        )
        raise UserError(f"Training stopped: {error}; {kept}. Lower --learning-rate and train again.")
    except TrackerFailed as error:
        mark_end(record, "failed", f"tracker could not start: {error}")
        raise UserError(f"{error}; the run {folder} is marked failed before training.")
    except OSError as error:  # a full disk, a folder made read-only underneath the run
        marked = mark_end(record, "failed", disk_message(error))
        # Said as `runs` will show it: a record that could not be written leaves the run `crashed` (its lock is free).
        state = "the run is marked failed" if marked else "its record could not be written either, so runs shows it as crashed"
        raise UserError(f"Cannot write the run {folder}: {disk_message(error)}; {state}.")
    except UserError as error:
        mark_end(record, "failed", str(error))
        raise
    except BaseException as error:
        mark_end(record, "failed", f"{type(error).__name__}: {error}")
        raise


@contextmanager
def removed_on_failure(folder):
    """A new run folder is removed again if its run.json could not be written (a full disk at the start):
    a folder with no record would only look like a run."""
    try:
        yield
    except BaseException as error:
        shutil.rmtree(folder.path, ignore_errors=True)
        if isinstance(error, OSError):
            raise UserError(f"Cannot start a run in {folder.path.parent}: {disk_message(error)}; nothing was kept.")
        raise
