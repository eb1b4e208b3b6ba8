"""Termination signals for a run's whole life, not only inside model.fit.

Outside model.fit, SIGTERM (and SIGHUP) raise TrainingInterrupted wherever the program is (set-up, the final save,
evaluation and report, between the runs of a grid), so the run in progress is marked `interrupted` and the process
exits 130 with one line. Inside model.fit, StopOnSignal replaces these handlers with a flag checked at batch and
epoch boundaries, so a checkpoint write is never cut short; it restores them when fit ends. SIGINT already raises
KeyboardInterrupt, which the engine treats the same way.
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
