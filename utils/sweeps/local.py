"""Trials as child processes on this machine, at most `workers` at a time, each with its share of the CPU
threads and its own GPU(s) or share of one.

Each slot keeps a warm worker (utils/sweeps/warm_worker.py) that runs its trials one after another, so TensorFlow is
imported once per worker rather than once per trial. A trial still runs in a process apart from the driver: its
exception ends only that trial; a worker that dies inside a trial (SIGKILL, a segfault, the OOM killer) is replaced
and the trial run again once, and a trial that takes down two workers is recorded failed with the reason. A worker
is retired (and a new one started for the next trial) after MAX_TRIALS_PER_WORKER trials, when its resident memory
has grown RSS_GROWTH_LIMIT past what it held after its first trial, or when it could not reset what a trial changed.
RUNNER_SWEEP_FRESH_PROCESSES=1 gives every trial a fresh process instead (as before warm workers; the benchmark's
baseline).
"""
import os
import select
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from utils.core.errors import UsageError
from utils.runs.record import RunRecord
from utils.sweeps.processes import FreshProcess, WarmWorker, crash_reason
from utils.training.trial import TRIAL_ENVIRONMENT

# Seconds a trial gets to write its checkpoint and run.json after SIGTERM before it is killed.
STOP_GRACE_SECONDS = 60
MAX_TRIALS_PER_WORKER = 50
RSS_GROWTH_LIMIT = 1 << 30  # bytes
FRESH_ENVIRONMENT = "RUNNER_SWEEP_FRESH_PROCESSES"


def count_gpus() -> int:
    """GPUs this process may use, without initialising CUDA in the driver (nvidia-smi, or CUDA_VISIBLE_DEVICES)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([device for device in visible.split(",") if device.strip() and device.strip() != "-1"])
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in listing.stdout.splitlines() if line.startswith("GPU "))


def gpu_slots(workers: int, gpus_per_trial, gpu_count: int) -> list:
    """CUDA_VISIBLE_DEVICES for each worker slot: whole GPUs each, or 1/g workers sharing each GPU."""
    if gpu_count == 0:
        if gpus_per_trial:
            raise UsageError(f"--gpus-per-trial {gpus_per_trial}: no GPU is visible on this machine.")
        return [None] * workers
    share = gpus_per_trial or 1
    if share >= 1:
        whole = int(share)
        if share != whole or workers * whole > gpu_count:
            raise UsageError(f"--workers {workers} with --gpus-per-trial {share} needs {workers * share:g} GPUs; "
                             f"this machine has {gpu_count}.")
        return [",".join(str(slot * whole + index) for index in range(whole)) for slot in range(workers)]
    per_gpu = round(1 / share)
    if workers > per_gpu * gpu_count:
        raise UsageError(f"--workers {workers} with --gpus-per-trial {share} needs {workers / per_gpu:g} GPUs; "
                         f"this machine has {gpu_count}.")
    return [str(slot // per_gpu) for slot in range(workers)]


@dataclass
class Finished:
    trial_id: str
    returncode: int
    message: str  # the last line the trial printed (its error, for a failure)


@dataclass
class Launch:
    """A trial on a slot: what to run (kept so a crashed worker's trial can run again) and where it runs now."""
    trial_id: str
    slot: int
    arguments: list
    environment: dict
    log_path: Path
    process: object = None  # its WarmWorker or FreshProcess
    attempt: int = 1


def last_line(log_path) -> str:
    lines = [line for line in open(log_path, errors="replace").read().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def worth_keeping(worker, outcome) -> bool:
    """A warm worker goes on to its next trial unless it could not reset what the trial changed, has grown
    RSS_GROWTH_LIMIT past its size after its first trial, or has run MAX_TRIALS_PER_WORKER trials."""
    grown = outcome.rss - (worker.first_rss or outcome.rss) > RSS_GROWTH_LIMIT
    return outcome.clean and not grown and worker.trials < MAX_TRIALS_PER_WORKER


def worker_environment(base: dict, environment: dict) -> dict:
    """What a warm worker for this trial is started with: everything but the trial's own variable is read when
    TensorFlow starts, so a worker started with other values would not give the trial what it asked for."""
    return {**base, **{name: value for name, value in environment.items() if name != TRIAL_ENVIRONMENT}}


def mark_crashed_run(outputs, trial_id: str, pid: int, reason: str) -> None:
    """The run folder a dead worker left `running` says it failed, and why (`runs` would show it crashed)."""
    for folder in Path(outputs).glob(f"*_trial{trial_id}*"):
        try:
            record = RunRecord.load(folder)
        except (OSError, ValueError):
            continue
        sweep, environment = record.get("sweep") or {}, record.get("environment") or {}
        if record.status == "running" and sweep.get("trial") == trial_id and environment.get("pid") == pid:
            record.mark("failed", reason)


class LocalExecutor:
    def __init__(self, workers: int, gpus_per_trial, outputs):
        self.workers = workers
        self.outputs = outputs
        self.slots = gpu_slots(workers, gpus_per_trial, count_gpus())
        self.shared_gpu = gpus_per_trial is not None and 0 < gpus_per_trial < 1
        self.threads = max(1, (os.cpu_count() or 1) // workers)
        self.warm = os.environ.get(FRESH_ENVIRONMENT, "") in ("", "0")
        self.running = {}  # trial id -> Launch
        self.idle = {}  # slot -> its warm worker, waiting for a trial

    def free_slots(self) -> int:
        return self.workers - len(self.running)

    def slot_environment(self, slot: int) -> dict:
        environment = dict(os.environ)
        if self.slots[slot] is not None:
            environment["CUDA_VISIBLE_DEVICES"] = self.slots[slot]
            if self.shared_gpu:  # TensorFlow and JAX would take most of a shared GPU's memory for the first trial
                environment["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
                environment["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
        return environment

    def launch(self, trial_id: str, arguments: list, environment: dict, log_path) -> None:
        slot = next(index for index in range(self.workers) if index not in {launch.slot for launch in self.running.values()})
        arguments = [*arguments, "--outputs", str(self.outputs)]  # its whole console goes to logs/<trial>.log
        self.running[trial_id] = Launch(trial_id, slot, arguments, environment, Path(log_path))
        self._start(self.running[trial_id])

    def _start(self, launch: Launch) -> None:
        base = self.slot_environment(launch.slot)
        if not self.warm:
            launch.process = FreshProcess(launch.arguments, {**base, **launch.environment}, launch.log_path)
            return
        wanted = worker_environment(base, launch.environment)  # one sweep's trials all share one today
        worker = self.idle.pop(launch.slot, None)
        if worker is not None and (worker.environment != wanted or not worker.alive()):
            worker.close()
            worker = None
        launch.process = worker or WarmWorker(wanted)
        launch.process.start(launch.arguments, launch.environment, launch.log_path)

    def wait(self, timeout: float) -> list:
        """Trials that ended within `timeout` seconds (a crashed worker's trial is started again and goes on)."""
        deadline = time.monotonic() + timeout
        while True:
            done = []
            for launch in list(self.running.values()):
                outcome = launch.process.outcome()
                finished = outcome and self._settle(launch, outcome)
                if finished:
                    done.append(finished)
            if done or time.monotonic() >= deadline or not self.running:
                return done
            self._until_a_reply(min(0.2, max(0.0, deadline - time.monotonic())))

    def _until_a_reply(self, seconds: float) -> None:
        """Sleep up to `seconds`, waking as soon as a warm worker writes its reply (or dies: its pipe ends). A fresh
        process has no pipe and is looked at once a `seconds`."""
        pipes = [launch.process.replies for launch in self.running.values() if isinstance(launch.process, WarmWorker)]
        if pipes:
            select.select(pipes, [], [], seconds)
        else:
            time.sleep(seconds)

    def _settle(self, launch: Launch, outcome):
        """The trial's Finished, or None when its crashed worker was replaced and the trial started again."""
        if outcome.crashed:
            reason = f"its worker process {crash_reason(outcome.returncode)}"
            mark_crashed_run(self.outputs, launch.trial_id, launch.process.pid, reason)
            if launch.attempt == 1:
                launch.attempt = 2
                with open(launch.log_path, "a") as log:
                    log.write(f"{reason}; the trial runs again in a new worker\n")
                self._start(launch)
                return None
            del self.running[launch.trial_id]
            return Finished(launch.trial_id, outcome.returncode or 1, f"the trial crashed its worker twice ({reason})")
        del self.running[launch.trial_id]
        if self.warm:
            self._keep_or_retire(launch.slot, launch.process, outcome)
        return Finished(launch.trial_id, outcome.returncode, last_line(launch.log_path))

    def _keep_or_retire(self, slot: int, worker, outcome) -> None:
        if worth_keeping(worker, outcome):
            self.idle[slot] = worker
        else:
            worker.close()

    def stop(self) -> list:
        """SIGTERM every running trial (each checkpoints and marks itself interrupted), then wait for them."""
        for launch in self.running.values():
            launch.process.terminate()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        stopped = []
        for launch in self.running.values():
            outcome = launch.process.wait_outcome(deadline)
            stopped.append(Finished(launch.trial_id, outcome.returncode, last_line(launch.log_path)))
            launch.process.close()
        self.running.clear()
        self.close()
        return stopped

    def release(self) -> None:
        """Tell the idle workers to go (the end of the sweep), all at once, so that they exit side by side."""
        for worker in self.idle.values():
            worker.release()

    def close(self) -> None:
        """Let the idle workers go and wait for their exit."""
        self.release()
        for worker in self.idle.values():
            worker.close()
        self.idle.clear()
