"""A warm worker: one process that runs a sweep's trials one after another, so TensorFlow is imported (and the
project's modules loaded) once per worker instead of once per trial.

`python -m utils.sweeps.warm_worker` reads one JSON object a line on stdin,
    {"arguments": ["mnist.py", "--model", ...], "environment": {"RUNNER_SWEEP_TRIAL": ...}, "log": "<path>"},
runs the task's entry point on it as `python mnist.py ...` would (runpy, with that sys.argv and those environment
variables, its output on the log file), and answers one line on its stdout,
    {"returncode": 0, "rss": <bytes>, "clean": true}.
Between trials it resets what a trial leaves behind in the process: the Keras session (models, layer-name counters,
seed generators), the dtype policy, the distribution, op determinism, environment variables, sys.argv, the working
folder and the signal handlers. `clean` is false when one of them could not be reset; the driver then retires the
worker. A trial's exception ends that trial only (its traceback goes to its log, exit code 1); a crash of the whole
process (SIGKILL, a segfault, the OOM killer) is seen by the driver as the end of the pipe.
"""
import faulthandler
import json
import os
import runpy
import signal
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path

# Only the standard library until the first trial: that trial's own run imports TensorFlow, quietly, as it would in
# a process of its own (utils.sweeps.command would import Keras through utils.training).
PROJECT = Path(__file__).resolve().parents[2]

RESET_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def output_to(log_path):
    """File descriptors 1 and 2 (so TensorFlow's C++ log too) on the trial's log file, and sys.stdout and
    sys.stderr (print, tracebacks) writing to them line by line, as with PYTHONUNBUFFERED."""
    sys.stdout.flush()
    sys.stderr.flush()
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    saved = [os.dup(1), os.dup(2)]
    streams = sys.stdout, sys.stderr
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    sys.stdout, sys.stderr = (open(number, "w", buffering=1, closefd=False, errors="backslashreplace") for number in (1, 2))
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        sys.stdout, sys.stderr = streams
        for number, copy in zip((1, 2), saved):
            os.dup2(copy, number)
            os.close(copy)


@contextmanager
def trial_process_state(arguments: list, environment: dict):
    """sys.argv, os.environ and the working folder as a fresh `python <script> ...` in the project folder has
    them, put back afterwards."""
    saved_argv, saved_environment, saved_folder = sys.argv, dict(os.environ), os.getcwd()
    sys.argv = [str(PROJECT / arguments[0]), *arguments[1:]]
    os.environ.update(environment)
    os.chdir(PROJECT)
    try:
        yield
    finally:
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_environment)
        os.chdir(saved_folder)
        for number in RESET_SIGNALS:
            signal.signal(number, signal.default_int_handler if number == signal.SIGINT else signal.SIG_DFL)


def exit_code_of(stop: SystemExit) -> int:
    """What the interpreter would exit with for sys.exit(code): 0 for None, 1 (and the text printed) for a string."""
    if stop.code is None or isinstance(stop.code, int):
        return int(stop.code or 0)
    print(stop.code, file=sys.stderr)
    return 1


def run_trial(request: dict) -> int:
    """The trial's exit code, as its own process would have had it."""
    with output_to(request["log"]), trial_process_state(request["arguments"], request["environment"]):
        try:
            runpy.run_path(sys.argv[0], run_name="__main__")
            return 0
        except SystemExit as stop:
            return exit_code_of(stop)
        except BaseException:  # the trial's own error ends the trial, not the worker, as in a process of its own
            traceback.print_exc()
            return 1


def reset_keras() -> bool:
    """Keras and TensorFlow as a new process has them; False when something could not be put back."""
    if "keras" not in sys.modules:  # nothing trained in this process yet
        return True
    import keras

    keras.backend.clear_session()  # models, layer-name counters and the global seed generator
    keras.config.set_dtype_policy("float32")  # --mixed-precision sets it while it builds
    keras.distribution.set_distribution(None)
    if "tensorflow" not in sys.modules:
        return True
    try:  # --deterministic turns op determinism on for the whole process; only TensorFlow's private module undoes it
        from tensorflow.python.framework import config as tensorflow_config

        tensorflow_config.disable_op_determinism()
        return not tensorflow_config.is_op_determinism_enabled()
    except (ImportError, AttributeError):
        return False


def resident_bytes() -> int:
    """The process's resident set size now (Linux /proc; 0 where it cannot be read)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def serve(requests, replies) -> None:
    for line in requests:
        if not line.strip():
            continue
        code = run_trial(json.loads(line))
        clean = reset_keras()
        replies.write(json.dumps({"returncode": code, "rss": resident_bytes(), "clean": clean}) + "\n")
        replies.flush()


def main() -> None:
    # The protocol keeps private copies of stdin and stdout; the trials get /dev/null as stdin (as today's child
    # processes do) and their log files as stdout and stderr.
    requests = os.fdopen(os.dup(0), "r")
    replies = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_RDWR)
    for number in (0, 1):
        os.dup2(devnull, number)
    os.close(devnull)
    faulthandler.enable()  # a segfault's Python stack goes to fd 2, which is the running trial's log
    serve(requests, replies)
    # The end of stdin comes between trials, with every trial's files written: the interpreter's teardown of
    # TensorFlow is skipped, about a second the driver would wait for at the end of the sweep.
    from utils.reports.drawing import end_process_now

    end_process_now(0)


if __name__ == "__main__":
    main()
