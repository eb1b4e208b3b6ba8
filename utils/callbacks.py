"""Keras callbacks of the engine; each does one job and keeps its state on self.

Order matters: EpochTimer and LearningRateLogger add to the epoch's logs before CSVLogger writes them, and
StopOnSignal comes last so that an epoch whose checkpoints were written is never cut short.
"""
import math
import signal
import time
from pathlib import Path

import h5py
import keras

from utils import atomic
from utils.checkpoints import seed_states


class EpochTimer(keras.callbacks.Callback):
    """Adds `epoch_seconds` (wall-clock time of the epoch, validation included) to the logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs["epoch_seconds"] = time.perf_counter() - self._start


class LearningRateLogger(keras.callbacks.Callback):
    """Adds the optimizer's current `learning_rate` to the logs, so history.csv has it for every epoch."""

    def on_epoch_end(self, epoch, logs=None):
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


class HistoryLogger(keras.callbacks.CSVLogger):
    """Keras' CSVLogger, appending when a run resumes; each row is flushed as its epoch ends."""

    def __init__(self, filename, append=False):
        super().__init__(str(filename), append=append)


class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """ModelCheckpoint that writes to a temporary file and renames it, so a kill never leaves half a checkpoint.

    `initial_value_threshold` carries the best value across a resume, so best.h5 is never replaced by a worse model.
    """

    def _save_model(self, epoch, batch, logs):
        filepath = self._get_file_path(epoch, batch, logs)
        if not self._should_save_model(epoch, batch, logs, filepath):
            return
        Path(filepath).parent.mkdir(parents=True, exist_ok=True)
        with atomic.atomic_path(filepath) as temporary:
            if self.save_weights_only:
                self.model.save_weights(temporary, overwrite=True)
            else:
                self.model.save(temporary, overwrite=True)
            # The epoch and monitored value travel inside the file, so a resume knows exactly what it holds.
            with h5py.File(temporary, "a") as saved:
                saved.attrs["epoch"] = epoch + 1
                states = seed_states(self.model)
                if states.size:
                    saved.attrs["seed_states"] = states
                value = (logs or {}).get(self.monitor)
                if value is not None:
                    saved.attrs["monitor"] = self.monitor
                    saved.attrs["monitor_value"] = float(value)


class LossNotFinite(Exception):
    """Raised when an epoch's loss is NaN or infinite."""

    def __init__(self, epoch: int, loss: float):
        super().__init__(f"the training loss became {loss} in epoch {epoch}")
        self.epoch = epoch


class NanGuard(keras.callbacks.Callback):
    """Stops training when the epoch's loss is NaN or infinite, like Keras' TerminateOnNaN.

    It raises instead of setting stop_training and sits before the checkpoint and history callbacks, so the broken
    epoch writes neither a checkpoint nor a history row: the last good checkpoint stays the latest one.
    """

    def on_epoch_end(self, epoch, logs=None):
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(loss):
            raise LossNotFinite(epoch + 1, loss)


class RunProgress(keras.callbacks.Callback):
    """Records each finished epoch in run.json: epochs completed, seconds per epoch, the best validation value."""

    def __init__(self, record, monitor="val_accuracy"):
        super().__init__()
        self.record = record
        self.monitor = monitor

    def on_epoch_end(self, epoch, logs=None):
        data = self.record.data
        seconds = data.setdefault("seconds_per_epoch", [])
        seconds.append(round(logs.get("epoch_seconds", float("nan")), 4))
        value = logs.get(self.monitor)
        best = data.get("best")
        if value is not None and math.isfinite(value) and (best is None or value > best["value"]):
            data["best"] = {"metric": self.monitor, "value": float(value), "epoch": epoch + 1}
        self.record.update(epochs_completed=epoch + 1, learning_rate_now=logs.get("learning_rate"))


class TrainingInterrupted(Exception):
    """Raised at a batch or epoch boundary after SIGINT or SIGTERM."""

    def __init__(self, signal_number):
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number


class StopOnSignal(keras.callbacks.Callback):
    """Turns SIGINT/SIGTERM into TrainingInterrupted at the next batch or epoch boundary.

    The handler only sets a flag, so a checkpoint write in progress finishes; the epoch in progress is dropped
    (its row is never written), and the last completed epoch's history and checkpoint stay on disk.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def on_train_begin(self, logs=None):
        self.received = None
        self._previous = {number: signal.signal(number, self._handle) for number in self.SIGNALS}

    def _handle(self, number, frame):
        self.received = number

    def _check(self, *args, **kwargs):
        if self.received is not None:
            raise TrainingInterrupted(self.received)

    on_train_batch_end = _check
    on_epoch_end = _check
    on_test_batch_end = _check

    def restore_handlers(self):
        for number, handler in getattr(self, "_previous", {}).items():
            signal.signal(number, handler)
        self._previous = {}

    def on_train_end(self, logs=None):
        self.restore_handlers()
