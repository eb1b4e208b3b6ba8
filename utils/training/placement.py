"""Where this process stands in its run, and what that changes.

The usual case is `SingleProcess`: the run's only process, owning its folder. A multi-worker job
(utils.training.multiworker) has a chief, which owns the folder and shares what it decides, and followers, which
train their slice and write nothing there. The engine asks its placement instead of asking who it is.
"""
import contextlib

from utils.core.errors import UsageError
from utils.runs.folder import RunFolder, create_run_folder
from utils.runs.lock import RunLock
from utils.runs.record import RunRecord
from utils.training.epoch_plan import EpochPlan
from utils.training.outcome import removed_on_failure


class SingleProcess:
    """The run's only process: it creates, locks and writes the run folder."""

    owns_folder = True

    def create_folder(self, outputs, label: str) -> RunFolder:
        return RunFolder(create_run_folder(outputs, label))

    def lock(self, folder, purpose: str):
        """The run lock, held while this process trains the run (acquire/release, or `with`)."""
        return RunLock(folder, purpose)

    def starting(self, folder):
        """Around a new run's first writes: a folder whose start fails (a full disk) is removed again."""
        return removed_on_failure(folder)

    def create_record(self, folder: RunFolder, **facts) -> RunRecord:
        return RunRecord.create(folder, **facts)

    def resumable_record(self, load_record) -> RunRecord:
        """The record a resume goes on from: `load_record()` checks the run and loads it."""
        return load_record()

    def check_resume(self, hyperparameters: dict) -> None:
        if hyperparameters.get("distribute") == "multi-worker":
            raise UsageError("this run trained with --distribute multi-worker: resume it the same way, on every "
                             "process (--distribute multi-worker --coordinator HOST:PORT --num-processes N --process-id I).")

    def note(self, record: RunRecord) -> None:
        """What the record says about where the run trained (nothing: one process is the default)."""

    def epoch_plan(self, config, first_epoch: int = 0) -> EpochPlan:
        return EpochPlan(config.batch_size, config.seed, first_epoch, config.epochs)

    def owns(self, action, *args):
        """`action(*args)`, run by the process that writes the run folder; None on the others."""
        return action(*args)

    checkpoint_options: dict = {}

    def check_fit_error(self, error) -> None:
        """Raise a clearer error for `error` from model.fit where the placement knows one."""

    def evaluation_model(self, model, model_file, task):
        """The model to evaluate on the test set once training is done: the trained one itself."""
        return contextlib.nullcontext(model)

    def finish(self, session, finish_run) -> None:
        finish_run(session)

