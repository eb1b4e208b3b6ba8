"""Trials as child processes on this machine, at most `workers` at a time, each with its share of the CPU
threads and its own GPU(s) or share of one."""
import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from utils.core.errors import UsageError
from utils.sweeps.command import PROJECT

# Seconds a trial gets to write its checkpoint and run.json after SIGTERM before it is killed.
STOP_GRACE_SECONDS = 60


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


def _die_with_parent():
    # Linux: a trial gets SIGTERM when the driver dies, even by SIGKILL, so it checkpoints instead of running on.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@dataclass
class Finished:
    trial_id: str
    returncode: int
    message: str  # the last line the trial printed (its error, for a failure)


class LocalExecutor:
    def __init__(self, workers: int, gpus_per_trial, outputs):
        self.workers = workers
        self.outputs = outputs
        self.slots = gpu_slots(workers, gpus_per_trial, count_gpus())
        self.shared_gpu = gpus_per_trial is not None and 0 < gpus_per_trial < 1
        self.threads = max(1, (os.cpu_count() or 1) // workers)
        self.running = {}  # trial id -> (process, slot, log path)

    def free_slots(self) -> int:
        return self.workers - len(self.running)

    def launch(self, trial_id: str, arguments: list, environment: dict, log_path) -> None:
        slot = next(index for index in range(self.workers) if index not in {entry[1] for entry in self.running.values()})
        environment = {**os.environ, **environment}
        if self.slots[slot] is not None:
            environment["CUDA_VISIBLE_DEVICES"] = self.slots[slot]
            if self.shared_gpu:  # TensorFlow and JAX would take most of a shared GPU's memory for the first trial
                environment["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
                environment["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
        log = open(log_path, "a")  # the trial's whole console (its per-epoch lines too): logs/<trial>.log
        process = subprocess.Popen(
            [sys.executable, str(PROJECT / arguments[0]), *arguments[1:], "--outputs", str(self.outputs)],
            cwd=PROJECT, env=environment, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=_die_with_parent,
        )
        log.close()
        self.running[trial_id] = (process, slot, log_path)

    def wait(self, timeout: float) -> list:
        """Trials that ended within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            done = [trial_id for trial_id, entry in self.running.items() if entry[0].poll() is not None]
            if done or time.monotonic() >= deadline or not self.running:
                return [self._finish(trial_id) for trial_id in done]
            time.sleep(0.2)

    def _finish(self, trial_id) -> Finished:
        process, _, log_path = self.running.pop(trial_id)
        lines = [line for line in open(log_path, errors="replace").read().splitlines() if line.strip()]
        return Finished(trial_id, process.returncode, lines[-1] if lines else "")

    def stop(self) -> list:
        """SIGTERM every running trial (each checkpoints and marks itself interrupted), then wait for them."""
        for process, _, _ in self.running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process, _, _ in self.running.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return [self._finish(trial_id) for trial_id in list(self.running)]
