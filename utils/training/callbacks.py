"""Keras callbacks of the engine; each does one job and keeps its state on self. Only public hooks are used.

Order matters: EpochTimer and LearningRateLogger add to the epoch's logs before CSVLogger writes them, and
StopOnSignal comes last so that an epoch whose checkpoints were written is never cut short.
"""
import math
import numbers
import signal
import sys
import time

import keras

from utils.tasks.registry import VAL_ACCURACY, Monitor
from utils.core.signals import TrainingInterrupted  # noqa: F401  (re-exported)
from utils.training.outcome import LossNotFinite  # noqa: F401  (re-exported)
from utils.training.checkpoints import CheckpointInfo, seed_states, set_seed_states, share_file, write_checkpoint


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


def finished_epoch(keras_epoch: int) -> int:
    """Keras numbers epochs from 0 in its hooks; this project numbers them from 1 (history.csv, run.json,
    checkpoints, figures). This is the one place that converts."""
    return keras_epoch + 1


class EpochLine(keras.callbacks.Callback):
    """One short line per epoch for piped output, where Keras' own (verbose=2) writes two with every log entry:
    `epoch 3/500  loss 0.6961  accuracy 0.5000  val_loss 0.6944  val_accuracy 0.7500  0.007 s`.

    The learning rate is shown only once it differs from the first epoch's (a schedule at work), and epoch 1's time
    is marked as including the compile."""

    HIDDEN = ("epoch_seconds", "learning_rate")

    def on_train_begin(self, logs=None):
        self._first_rate = None
        self._first_epoch = True

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        total = self.params.get("epochs") or 0
        parts = [f"epoch {finished_epoch(epoch):>{len(str(total))}}/{total}"]
        shown = [name for name, value in logs.items() if name not in self.HIDDEN and isinstance(value, numbers.Real)]
        shown.sort(key=lambda name: (name.startswith("val_"), name.removeprefix("val_") != "loss", name))
        parts += [f"{name} {logs[name]:.4f}" for name in shown]
        rate = logs.get("learning_rate")
        if self._first_rate is None:
            self._first_rate = rate
        elif rate is not None and not math.isclose(rate, self._first_rate, rel_tol=1e-6):
            parts.append(f"learning_rate {rate:.4g}")
        if "epoch_seconds" in logs:
            # The first epoch of this fit call traces and compiles the step functions.
            parts.append(f"{logs['epoch_seconds']:.3g} s" + (" (includes compiling)" if self._first_epoch else ""))
        self._first_epoch = False
        print("  ".join(parts), flush=True)


def progress_callbacks(verbosity: int) -> list:
    """Piped output gets EpochLine; a terminal gets Keras' progress bar instead (engine.fit_verbosity), --quiet
    neither."""
    return [EpochLine()] if verbosity > 0 and not sys.stdout.isatty() else []


class HistoryLogger(keras.callbacks.CSVLogger):
    """Keras' CSVLogger with 1-based epochs, appending when a run resumes; each row is flushed as its epoch ends."""

    def __init__(self, filename, append=False):
        super().__init__(str(filename), append=append)

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(finished_epoch(epoch), logs)


class AtomicCheckpoint(keras.callbacks.Callback):
    """Saves the model (with its optimizer state) after each epoch, or only after improving epochs of `monitor`.

    Safe: each file is written to a temporary name and renamed, so a kill never leaves half a checkpoint; the
    epoch, monitored value, dropout RNG states and other callbacks' counters travel inside the file for an exact
    resume. `best_so_far` carries the best value across a resume, so best.h5 is never replaced by a worse model.
    Cheap: when epochs are so short that writing every epoch would cost more than `overhead_budget` of the
    training time (XOR's 500 four-row epochs), the checkpoint is kept in memory and written at the next chance,
    at the end of training, or by `flush()` when training is interrupted, so no finished epoch is lost to Ctrl-C.
    Lean: checkpoints sharing `written` link to a file another one wrote for the same epoch instead of saving a
    second copy; so every checkpoint records the same attributes (the run's monitored value, the counters).
    """

    def __init__(self, filepath, monitor=None, best_so_far=None, overhead_budget=0.05, state_provider=None,
                 written=None):
        super().__init__()
        self.filepath = str(filepath)
        # None: every epoch; else a Monitor (the metric and which way it improves) or a metric name to maximise
        self.monitor = Monitor(monitor, "max") if isinstance(monitor, str) else monitor
        # The run's monitored metric, which every checkpoint records.
        self.records = written.monitor if written is not None else (self.monitor or VAL_ACCURACY).metric
        self.written = written  # a WrittenCheckpoints shared with the run's other checkpoint, or None
        self.best_so_far = best_so_far
        self.overhead_budget = overhead_budget
        # Returns the other callbacks' counters (early stopping, plateau) to store beside the weights.
        self.state_provider = state_provider or dict
        self._pending = None

    def on_train_begin(self, logs=None):
        self._pending = None
        self.best = self.best_so_far
        self._last_write_end = time.perf_counter()
        self._last_write_seconds = 0.0

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if self.monitor is not None:
            value = logs.get(self.monitor.metric)
            if not self.monitor.improves(value, self.best):
                return
            self.best = value
        epoch_number = finished_epoch(epoch)
        due = time.perf_counter() - self._last_write_end >= self._last_write_seconds / self.overhead_budget
        if due:
            self._pending = None
            self._write(epoch_number, logs, self.state_provider())
        else:
            self._pending = (epoch_number, logs, self.state_provider(), _model_state(self.model))

    def flush(self):
        """Write the checkpoint held in memory, if any (the model's current weights are left as they were)."""
        if self._pending is None:
            return
        epoch_number, logs, callback_state, state = self._pending
        self._pending = None
        current = _model_state(self.model)
        _set_model_state(self.model, state)
        try:
            self._write(epoch_number, logs, callback_state)
        finally:
            _set_model_state(self.model, current)

    def on_train_end(self, logs=None):
        self.flush()

    def _write(self, epoch_number, logs, callback_state):
        start = time.perf_counter()
        twin = self.written.holding(epoch_number, self.filepath) if self.written is not None else None
        if twin is None or not share_file(twin, self.filepath):
            write_checkpoint(self.model, self.filepath, CheckpointInfo(
                epoch=epoch_number, callback_state=callback_state,
                monitor=self.records, monitor_value=logs.get(self.records),
            ))
        if self.written is not None:
            self.written.wrote(self.filepath, epoch_number)
        self._last_write_end = time.perf_counter()
        self._last_write_seconds = self._last_write_end - start


def _model_state(model):
    """Copies of everything a checkpoint holds: weights, optimizer variables, dropout RNG states."""
    optimizer = [variable.numpy() for variable in model.optimizer.variables] if model.optimizer else []
    return model.get_weights(), optimizer, seed_states(model)


def _set_model_state(model, state):
    weights, optimizer, seeds = state
    model.set_weights(weights)
    for variable, value in zip(model.optimizer.variables if model.optimizer else [], optimizer):
        variable.assign(value)
    set_seed_states(model, seeds)


class NanGuard(keras.callbacks.Callback):
    """Stops training when the epoch's loss is NaN or infinite, like Keras' TerminateOnNaN.

    It raises instead of setting stop_training and sits before the checkpoint and history callbacks, so the broken
    epoch writes neither a checkpoint nor a history row: the last good checkpoint stays the latest one.
    """

    def on_epoch_end(self, epoch, logs=None):
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(loss):
            raise LossNotFinite(finished_epoch(epoch), loss)


class RunProgress(keras.callbacks.Callback):
    """Records each finished epoch in run.json: epochs completed, seconds per epoch, the best validation value.

    The file is rewritten at most every `min_interval` seconds (and when training ends), so 500 four-row XOR
    epochs do not spend their time on run.json; resumes read the epoch from the checkpoint, not from here.
    """

    def __init__(self, record, min_interval=1.0, monitor=VAL_ACCURACY):
        super().__init__()
        self.record = record
        self.min_interval = min_interval
        self.monitor = monitor  # the value behind the recorded "best" (the task's)

    def on_train_begin(self, logs=None):
        # The first training step is next: set-up ends here (run.json's timing; bench/run.py's start-up).
        self.record.record_fit_started()
        self._last_write = 0.0

    def on_train_end(self, logs=None):
        self.record.save()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        due = time.perf_counter() - self._last_write >= self.min_interval
        self.record.record_epoch(finished_epoch(epoch), logs.get("epoch_seconds", float("nan")), logs, save=due,
                                 monitor=self.monitor)
        if due:
            self._last_write = time.perf_counter()


class StopOnSignal(keras.callbacks.Callback):
    """Turns SIGINT/SIGTERM into TrainingInterrupted at the next batch or epoch boundary.

    The handler only sets a flag, so a checkpoint write in progress finishes; the epoch in progress is dropped
    (its row is never written), and the last completed epoch's history and checkpoint stay on disk.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

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
