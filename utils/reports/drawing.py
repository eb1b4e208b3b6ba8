"""A run's figures drawn in a separate process while the run's own process saves, evaluates and reports.

Matplotlib's import and drawing are most of what a small run costs after its last epoch, and they are pure Python:
a thread would wait for the same interpreter lock, a second process draws on the other core. One spawned worker
(never forked: TensorFlow's threads do not survive a fork) serves the process; the CLI starts it before TensorFlow's
import so that the worker's imports run beside it, and later runs of the same process reuse it. It keeps nothing
between jobs: each job is a plotting function with its inputs, so a second run draws exactly what the first would.

A job whose function cannot be sent to another process (a test's wrapper around a plotting function) is drawn
here, at once. `FigureJobs.wait` joins a run's jobs before its report is written; a failed job costs its figures
only, and says so.
"""
import atexit
import gc
import importlib
import multiprocessing
import pickle
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from utils.core.collector import paused_for_import

_worker = None  # the process's one drawing worker, started on first use; it holds no run's state
# A run's figures take seconds; a worker that has not answered in this long is stuck, and the run goes on without it.
WAIT_LIMIT_S = 600


def _prepare_worker() -> None:
    # Ctrl-C reaches the whole process group: the run's own process handles it and ends the worker, which must not
    # print a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_end_with_parent, args=(os.getppid(),), daemon=True).start()
    atexit.register(_exit_at_once)
    with paused_for_import():
        importlib.import_module("utils.reports.plots")  # matplotlib and scikit-learn's displays, before the first job


def _exit_at_once() -> None:
    """The worker's end skips the interpreter's teardown of matplotlib, scikit-learn and pandas: a second or more
    that the run's process, joining the worker as it exits, would wait for. Every job has ended by then."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _end_with_parent(parent: int) -> None:
    """End the worker once the run's process is gone. A process that ends without its exit handlers (os._exit, a
    kill, a crash) cannot shut the worker down, and the worker holds the run's stdout and stderr: whoever reads
    them to their end (a shell pipe, a parent process) would wait for ever."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def start_worker() -> ProcessPoolExecutor:
    """The drawing worker, started now if it is not running (its imports begin at once)."""
    global _worker
    if _worker is None:
        _worker = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_prepare_worker)
        _worker.submit(int)  # starts the process now, not at the first figure
    return _worker


def stop_worker() -> None:
    """End the drawing worker and release its queues now, for a process about to end without its exit handlers
    (os._exit): otherwise multiprocessing's resource tracker warns about their semaphores on the run's stderr."""
    global _worker
    if _worker is not None:
        _worker.shutdown(wait=True, cancel_futures=True)
        _worker = None
        gc.collect()  # the queues' semaphores are unlinked when their objects go


def end_process_now(exit_code: int) -> None:
    """End this process at once, without the interpreter's teardown (os._exit): the drawing worker is stopped first,
    since the exit handlers that would end it quietly are skipped."""
    stop_worker()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)


def _discard_broken_worker() -> None:
    global _worker
    if _worker is not None:
        _worker.shutdown(wait=False, cancel_futures=True)
        _worker = None


def sendable(function, args, kwargs) -> bool:
    try:
        pickle.dumps((function, args, kwargs))
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


class FigureJobs:
    """The figures one run has asked for; `draw` hands each to the worker, `wait` joins them all."""

    def __init__(self):
        self.pending = []  # (what, future)

    def draw(self, what: str, function, *args, **kwargs) -> None:
        if not sendable(function, args, kwargs):
            function(*args, **kwargs)
            return
        try:
            self.pending.append((what, start_worker().submit(function, *args, **kwargs)))
        except BrokenProcessPool:  # the worker died since the last run: start another
            _discard_broken_worker()
            self.pending.append((what, start_worker().submit(function, *args, **kwargs)))

    def wait(self) -> list:
        """Block until every job has ended; one phrase per failed job ('the history plots: OSError: ...')."""
        failures = []
        for what, future in self.pending:
            try:
                future.result(timeout=WAIT_LIMIT_S)
            except TimeoutError:
                _discard_broken_worker()
                failures.append(f"{what}: the drawing process did not answer in {WAIT_LIMIT_S} s")
            except BrokenProcessPool as error:
                _discard_broken_worker()
                failures.append(f"{what}: the drawing process died ({error})")
            except Exception as error:  # a figure's failure is the figure's, never the run's
                failures.append(f"{what}: {type(error).__name__}: {' '.join(str(error).split())[:200]}")
        self.pending = []
        return failures
