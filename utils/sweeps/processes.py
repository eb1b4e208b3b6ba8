"""The processes a local sweep runs its trials in, as the executor sees them: a warm worker that runs trial after
trial (utils/sweeps/warm_worker.py, spoken to in JSON lines over its stdin and stdout), or a fresh process per trial.
Both are in a session of their own (a Ctrl-C at the terminal reaches only the driver, which stops them with SIGTERM)
and get SIGTERM when the driver dies, even by SIGKILL, so a trial checkpoints instead of running on."""
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from utils.sweeps.command import PROJECT


@dataclass
class Outcome:
    returncode: int
    crashed: bool = False  # the worker process died inside the trial (SIGKILL, a segfault, the OOM killer)
    rss: int = 0  # the worker's resident bytes after the trial
    clean: bool = True  # the worker could reset everything the trial changed


def _die_with_parent():
    # Linux: a trial gets SIGTERM when the driver dies, even by SIGKILL, so it checkpoints instead of running on.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def crash_reason(returncode: int) -> str:
    if returncode < 0:
        return f"was killed by {signal.Signals(-returncode).name}"
    return f"exited with code {returncode}"


def start_process(command: list, environment: dict, stdin, stdout, stderr) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=PROJECT, env=environment, stdin=stdin, stdout=stdout, stderr=stderr,
                            start_new_session=True, preexec_fn=_die_with_parent)


class FreshProcess:
    """One trial in a process of its own: `python <script> ...`, its output on the trial's log."""

    def __init__(self, arguments: list, environment: dict, log_path):
        with open(log_path, "a") as log:
            self.process = start_process([sys.executable, str(PROJECT / arguments[0]), *arguments[1:]], environment,
                                         subprocess.DEVNULL, log, subprocess.STDOUT)
        self.pid = self.process.pid

    def outcome(self):
        returncode = self.process.poll()
        return None if returncode is None else Outcome(returncode)

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait_outcome(self, deadline: float) -> Outcome:
        """The outcome by `deadline` (monotonic), or after SIGKILL."""
        try:
            self.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return Outcome(self.process.returncode)

    def close(self) -> None:
        pass


class WarmWorker:
    """A worker process for one slot; `start` hands it a trial, `outcome` says how the trial ended (or None)."""

    def __init__(self, environment: dict):
        self.environment = environment  # what it was started with: a trial that needs another gets a new worker
        self.process = start_process([sys.executable, "-m", "utils.sweeps.warm_worker"], environment,
                                     subprocess.PIPE, subprocess.PIPE, subprocess.DEVNULL)
        self.pid = self.process.pid
        os.set_blocking(self.process.stdout.fileno(), False)
        self.received = b""
        self.trials = 0  # trials it has finished
        self.first_rss = None  # its resident bytes after its first trial: the base its growth is measured from

    def alive(self) -> bool:
        return self.process.poll() is None

    @property
    def replies(self):
        """The pipe its answers come on, for select()."""
        return self.process.stdout

    def start(self, arguments: list, environment: dict, log_path) -> None:
        request = {"arguments": arguments, "environment": environment, "log": str(log_path)}
        try:
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # it died: outcome() reports the crash

    def _reply(self):
        try:
            while chunk := os.read(self.process.stdout.fileno(), 65536):
                self.received += chunk
        except BlockingIOError:
            pass
        line, newline, rest = self.received.partition(b"\n")
        if not newline:
            return None
        self.received = rest
        return json.loads(line)

    def outcome(self):
        ended = self.process.poll() is not None  # asked before reading: a reply written just before dying counts
        reply = self._reply()
        if reply is not None:
            self.trials += 1
            self.first_rss = self.first_rss or reply["rss"]
            return Outcome(reply["returncode"], rss=reply["rss"], clean=reply["clean"])
        if ended:
            return Outcome(self.process.returncode, crashed=True)
        return None

    def terminate(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)

    def wait_outcome(self, deadline: float) -> Outcome:
        """The running trial's outcome by `deadline` (monotonic), or after SIGKILL."""
        while time.monotonic() < deadline:
            outcome = self.outcome()
            if outcome is not None:
                return outcome
            time.sleep(0.2)
        self.process.kill()
        self.process.wait()
        return self.outcome() or Outcome(self.process.returncode, crashed=True)

    def release(self) -> None:
        """End of its stdin: it finishes its trial, if any, and exits (`close` waits for that)."""
        try:
            self.process.stdin.close()
        except OSError:
            pass

    def close(self, seconds: float = 10) -> None:
        """End of its stdin, then wait for its exit; killed if it has not exited within `seconds`."""
        self.release()
        try:
            self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
