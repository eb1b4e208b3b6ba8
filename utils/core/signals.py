"""Termination signals for a run's whole life, not only inside model.fit.

Outside model.fit, SIGTERM (and SIGHUP) raise TrainingInterrupted wherever the program is (set-up, the final save,
evaluation and report, between the runs of a grid), so the run in progress is marked `interrupted` and the process
exits 130 with one line. Inside model.fit, StopOnSignal replaces these handlers with a flag checked at batch and
epoch boundaries, so a checkpoint write is never cut short; it restores them when fit ends. SIGINT already raises
KeyboardInterrupt, which the engine treats the same way. A sweep driver defers all three (signals_deferred) and
acts on them between its steps, so no journal write or trial record is ever cut in half.
"""
import signal
import threading
from contextlib import contextmanager

TERMINATION_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class TrainingInterrupted(Exception):
    """Raised after SIGINT, SIGTERM or SIGHUP: at a batch or epoch boundary inside fit, at once outside it."""

    def __init__(self, signal_number):
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number


def _raise_interrupted(number, frame):
    raise TrainingInterrupted(number)


@contextmanager
def termination_raises():
    """While inside, SIGTERM and SIGHUP raise TrainingInterrupted; the previous handlers come back afterwards."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = {number: signal.signal(number, _raise_interrupted) for number in TERMINATION_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class DeferredSignals:
    """SIGINT, SIGTERM and SIGHUP only noted, never raised: code whose every step must finish (a journal write,
    trial bookkeeping) asks `received` at its safe points and stops there."""

    def __init__(self):
        self.received = None  # the first signal's number
        self.previous = {}

    def note(self, number, frame) -> None:
        if self.received is None:
            self.received = number

    @property
    def name(self) -> str:
        return signal.Signals(self.received).name if self.received else ""

    def install(self) -> None:
        """Take the handlers (again, after a library such as Ray replaced one); the first ones are kept for restore."""
        if threading.current_thread() is not threading.main_thread():
            return
        for number in (signal.SIGINT, *TERMINATION_SIGNALS):
            self.previous.setdefault(number, signal.signal(number, self.note))

    def restore(self) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        self.previous.clear()


@contextmanager
def signals_deferred():
    """While inside, a signal is noted on the yielded DeferredSignals instead of raised."""
    deferred = DeferredSignals()
    deferred.install()
    try:
        yield deferred
    finally:
        deferred.restore()
