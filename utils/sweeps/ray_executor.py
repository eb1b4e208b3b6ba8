"""Trials on a Ray cluster (`--executor ray`): a pool of long-lived Ray actors, one per slot, each keeping a warm
worker on its node (the local executor's utils/sweeps/warm_worker.py), which imports TensorFlow once and runs its
slot's trials one after another, each in a temporary outputs folder there; the run folder comes back as a tar archive
that the driver unpacks into its own outputs. Nothing assumes storage shared between machines (ray#37177); the
project's code travels as Ray's runtime_env working_dir. The data must exist at the same path on every node.

Crash isolation is as on one machine: the actor never runs trial code, its worker process does. A worker that dies
inside a trial (SIGKILL, a segfault, the OOM killer) is replaced by the actor, and an actor that dies (its node lost,
a kill) is replaced by the driver; either way the trial runs again once, and a trial that takes down two is recorded
failed with the reason.

Stopping (the driver's Ctrl-C or SIGTERM) is as on one machine too: Ray cannot cancel an actor's running task, so each
actor takes a second call at once (max_concurrency=2), `interrupt`, which SIGTERMs its worker; the trial checkpoints,
marks itself interrupted, and its folder comes back as a finished trial's does. Only an actor that has not answered
within the local executor's STOP_GRACE_SECONDS is killed, and its trial's folder stays on its node.
"""
import io
import os
import shutil
import socket
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from utils.core.errors import UsageError, UserError
from utils.sweeps.command import PROJECT
from utils.sweeps.local import STOP_GRACE_SECONDS, Finished, mark_crashed_run, worker_environment, worth_keeping
from utils.sweeps.processes import WarmWorker, crash_reason

CONNECT_SECONDS = 10
HANDSHAKE_SECONDS = 5
# Not shipped to the workers: run folders, caches and the git history.
EXCLUDES = ["outputs/", ".git/", ".venv/", "__pycache__/", "*.h5", "*.keras"]


def cluster_address(address) -> str:
    address = address or os.environ.get("RAY_ADDRESS")
    if not address:
        raise UsageError("--executor ray needs a cluster: pass --ray-address HOST:PORT or set RAY_ADDRESS.")
    return address


def check_reachable(address: str) -> None:
    """Fail in seconds, with one line, when nothing listens at the cluster's address (ray.init would retry long)."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=CONNECT_SECONDS):
            pass
    except (OSError, ValueError) as error:
        raise UserError(f"No Ray cluster reachable at {address} ({error}); start one with `ray start --head`.", exit_code=2)
    check_speaks_grpc(address, f"{host or '127.0.0.1'}:{port}")


def check_speaks_grpc(address: str, target: str) -> None:
    """Ray's head (GCS) and Ray Client both speak gRPC: a server that does not finish gRPC's handshake is not Ray,
    and ray.init would retry it for long with screens of warnings."""
    import grpc

    channel = grpc.insecure_channel(target)
    try:
        grpc.channel_ready_future(channel).result(timeout=HANDSHAKE_SECONDS)
    except grpc.FutureTimeoutError:
        raise UserError(f"{address} answers but is not a Ray cluster (no gRPC handshake within {HANDSHAKE_SECONDS} s); "
                        f"pass the address `ray start --head` printed (port 6379 by default).", exit_code=2)
    finally:
        channel.close()


class NodeWorker:
    """One slot on a node (a Ray actor there): its warm worker, kept from trial to trial while it is worth keeping."""

    def __init__(self):
        self.worker = None
        self.stopping = False  # set by interrupt(), on the actor's second thread, while run() waits on its trial

    def run(self, trial_id: str, arguments: list, environment: dict) -> tuple:
        """Run the trial into a temporary outputs folder; return (exit code, why its worker died or None, its console
        output (stdout and stderr as they came, per-epoch lines included), tar.gz bytes of everything it wrote)."""
        with tempfile.TemporaryDirectory(prefix="sweep_trial_") as scratch:
            outputs, log = Path(scratch) / "outputs", Path(scratch) / "trial.log"
            outputs.mkdir()
            worker = self._worker_for(environment)
            worker.start([*arguments, "--outputs", str(outputs)], environment, log)
            outcome = self._wait_for(worker)
            crash = None
            if outcome.crashed:
                crash = f"its worker process {crash_reason(outcome.returncode)}"
                mark_crashed_run(outputs, trial_id, worker.pid, crash)
            if outcome.crashed or not worth_keeping(worker, outcome):
                worker.close()
                self.worker = None
            output = log.read_text(errors="replace") if log.is_file() else ""
            return outcome.returncode, crash, output, archive_of(outputs)

    def _wait_for(self, worker: WarmWorker):
        signalled = False
        while (outcome := worker.outcome()) is None:
            if self.stopping and not signalled:  # once, as locally: a second SIGTERM would cut the checkpoint short
                worker.terminate()
                signalled = True
            time.sleep(0.1)
        return outcome

    def interrupt(self) -> None:
        """The sweep is stopping: the running trial (or the one about to start) gets SIGTERM, as locally."""
        self.stopping = True

    def _worker_for(self, environment: dict) -> WarmWorker:
        wanted = worker_environment(dict(os.environ), environment)
        if self.worker is not None and (self.worker.environment != wanted or not self.worker.alive()):
            self.worker.close()
            self.worker = None
        self.worker = self.worker or WarmWorker(wanted)
        return self.worker

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()


def archive_of(outputs: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for entry in sorted(os.listdir(outputs)):
            archive.add(os.path.join(outputs, entry), arcname=entry)
    return buffer.getvalue()


def last_line(output: str) -> str:
    """The last line a trial printed: its error, for a failure."""
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def unpack_run(archive_bytes: bytes, outputs) -> None:
    """Move the returned run folder(s) into outputs, renaming on the rare clash of two same-second names."""
    outputs = Path(outputs)
    with tempfile.TemporaryDirectory(dir=outputs, prefix=".incoming_") as staging:
        with tarfile.open(fileobj=io.BytesIO(archive_bytes), mode="r:gz") as archive:
            archive.extractall(staging, filter="data")
        for entry in Path(staging).iterdir():
            target = outputs / entry.name
            attempt = 2
            while target.exists():
                target = outputs / f"{entry.name}-{attempt}"
                attempt += 1
            shutil.move(str(entry), str(target))


@dataclass
class RayLaunch:
    """A trial on a slot's actor, kept so that a trial whose worker or actor died can run again."""
    trial_id: str
    slot: int
    arguments: list
    environment: dict
    log_path: Path
    attempt: int = 1


class RayExecutor:
    def __init__(self, address, workers, cpus_per_trial: int, gpus_per_trial, outputs):
        try:
            import ray
        except ImportError:
            raise UsageError("--executor ray needs Ray: pip install -r requirements-optional.txt")
        self.ray = ray
        address = cluster_address(address)
        check_reachable(address)
        try:
            ray.init(address=address, log_to_driver=False, logging_level="ERROR",
                     runtime_env={"working_dir": str(PROJECT), "excludes": EXCLUDES})
        except Exception as error:  # Ray raises ConnectionError, RuntimeError, ValueError, ... for a failed connect
            reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
            raise UserError(f"Cannot connect to the Ray cluster at {address}: {reason}", exit_code=2)
        self.threads = cpus_per_trial
        total_cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = workers or max(1, total_cpus // cpus_per_trial)
        # Each actor holds its slot's CPUs (and GPUs) for as long as it lives: the sweep's `workers` trials at once.
        # A second thread per actor takes interrupt() while run() is busy (Ray cannot cancel an actor's task).
        self.actor_class = ray.remote(NodeWorker).options(num_cpus=cpus_per_trial, num_gpus=gpus_per_trial or 0,
                                                          max_concurrency=2)
        self.actors = {}  # slot -> its actor, made on the slot's first trial (and again after it died)
        self.outputs = outputs
        self.running = {}  # object ref -> RayLaunch

    def free_slots(self) -> int:
        return self.workers - len(self.running)

    def launch(self, trial_id: str, arguments: list, environment: dict, log_path) -> None:
        busy = {launch.slot for launch in self.running.values()}
        slot = next(index for index in range(self.workers) if index not in busy)
        self._submit(RayLaunch(trial_id, slot, arguments, environment, Path(log_path)))

    def _submit(self, launch: RayLaunch) -> None:
        if launch.slot not in self.actors:
            self.actors[launch.slot] = self.actor_class.remote()
        self.running[self.actors[launch.slot].run.remote(launch.trial_id, launch.arguments, launch.environment)] = launch

    def wait(self, timeout: float) -> list:
        """Trials that ended within `timeout` seconds (one whose worker or actor died is started again and goes on)."""
        if not self.running:
            return []
        ready, _ = self.ray.wait(list(self.running), num_returns=len(self.running), timeout=timeout)
        return [finished for finished in map(self._finish, ready) if finished is not None]

    def _finish(self, reference):
        launch = self.running.pop(reference)
        try:
            returncode, crash, output, archive = self.ray.get(reference)
        except self.ray.exceptions.RayActorError as error:  # the actor died, and its worker with it
            del self.actors[launch.slot]
            returncode, output, archive = 1, "", None
            crash = f"its Ray actor died ({type(error).__name__})"
        except (self.ray.exceptions.RayError, self.ray.exceptions.TaskCancelledError) as error:
            return Finished(launch.trial_id, 1, f"Ray task failed: {type(error).__name__}: {str(error).splitlines()[0]}")
        self._bring_back(launch, output, archive)
        if crash and launch.attempt == 1:
            with open(launch.log_path, "a") as log:
                log.write(f"{crash}; the trial runs again in a new worker\n")
        if not crash:
            return Finished(launch.trial_id, returncode, last_line(output))
        if launch.attempt == 1:
            launch.attempt = 2
            self._submit(launch)
            return None
        return Finished(launch.trial_id, returncode or 1, f"the trial crashed its worker twice ({crash})")

    def _bring_back(self, launch: RayLaunch, output: str, archive) -> None:
        if archive:
            unpack_run(archive, self.outputs)
        with open(launch.log_path, "a") as log:  # a trial run again after a failure keeps its earlier tries above
            log.write(output)

    def stop(self) -> list:
        """SIGTERM every running trial through its actor (each checkpoints and marks itself interrupted), then wait
        for their folders; an actor that has not answered within STOP_GRACE_SECONDS is killed, and one line says
        which trials' folders stay on their nodes (those trials train again from the start on resume)."""
        for launch in self.running.values():
            self.actors[launch.slot].interrupt.remote()
        ready, late = self.ray.wait(list(self.running), num_returns=len(self.running),
                                    timeout=STOP_GRACE_SECONDS) if self.running else ([], [])
        stopped = [self._stopped(reference) for reference in ready]
        killed = [self.running[reference] for reference in late]
        for launch in killed:
            self.ray.kill(self.actors.pop(launch.slot))
            stopped.append(Finished(launch.trial_id, 130, "cancelled"))
        if killed:
            print(f"Killed the Ray actor of trial {', '.join(launch.trial_id for launch in killed)} (no answer to the "
                  f"stop within {STOP_GRACE_SECONDS} s): its run folder stays on its node.", flush=True)
        self.running.clear()
        self.ray.shutdown()
        return stopped

    def _stopped(self, reference) -> Finished:
        """A trial that answered the stop: its folder (interrupted, with its checkpoints) and console come back."""
        launch = self.running[reference]
        try:
            returncode, _, output, archive = self.ray.get(reference)
        except self.ray.exceptions.RayError:  # its actor died meanwhile: the folder stays on its node
            return Finished(launch.trial_id, 130, "cancelled")
        self._bring_back(launch, output, archive)
        return Finished(launch.trial_id, returncode, last_line(output))

    def close(self) -> None:
        self.ray.shutdown()  # ends the sweep's actors and their workers
