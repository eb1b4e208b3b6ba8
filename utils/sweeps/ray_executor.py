"""Trials as Ray tasks on a cluster (`--executor ray`): each runs the same child command on whatever node Ray
picks, in a temporary outputs folder there, and returns the run folder as a tar archive that the driver unpacks
into its own outputs. Nothing assumes storage shared between machines (ray#37177); the project's code travels as
Ray's runtime_env working_dir. The data must exist at the same path on every node.
"""
import io
import os
import shutil
import socket
import tarfile
import tempfile
from pathlib import Path

from utils.core.errors import UsageError, UserError
from utils.sweeps.command import PROJECT
from utils.sweeps.local import Finished

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


def run_trial_on_node(arguments: list, environment: dict) -> tuple:
    """On a Ray worker: run the trial's command into a temporary outputs folder; return (exit code, its console
    output (stdout and stderr as they came, per-epoch lines included), tar.gz bytes of everything it wrote)."""
    import subprocess
    import sys

    with tempfile.TemporaryDirectory(prefix="sweep_trial_") as outputs:
        result = subprocess.run(
            [sys.executable, arguments[0], *arguments[1:], "--outputs", outputs],
            env={**os.environ, **environment}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            stdin=subprocess.DEVNULL,
        )
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for entry in sorted(os.listdir(outputs)):
                archive.add(os.path.join(outputs, entry), arcname=entry)
        return result.returncode, result.stdout, buffer.getvalue()


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
        self.remote = ray.remote(run_trial_on_node).options(num_cpus=cpus_per_trial, num_gpus=gpus_per_trial or 0)
        self.outputs = outputs
        self.running = {}  # object ref -> trial id

    def free_slots(self) -> int:
        return self.workers - len(self.running)

    def launch(self, trial_id: str, arguments: list, environment: dict, log_path) -> None:
        self.running[self.remote.remote(arguments, environment)] = (trial_id, log_path)

    def wait(self, timeout: float) -> list:
        if not self.running:
            return []
        ready, _ = self.ray.wait(list(self.running), num_returns=len(self.running), timeout=timeout)
        return [self._finish(reference) for reference in ready]

    def _finish(self, reference) -> Finished:
        trial_id, log_path = self.running.pop(reference)
        try:
            returncode, output, archive = self.ray.get(reference)
        except (self.ray.exceptions.RayError, self.ray.exceptions.TaskCancelledError) as error:
            return Finished(trial_id, 1, f"Ray task failed: {type(error).__name__}: {str(error).splitlines()[0]}")
        unpack_run(archive, self.outputs)
        with open(log_path, "a") as log:  # a trial run again after a failure keeps its earlier tries above
            log.write(output)
        return Finished(trial_id, returncode, last_line(output))

    def stop(self) -> list:
        """Cancel running trials; their run folders stay on the workers' temporary disks, so they rerun on resume."""
        stopped = []
        for reference, (trial_id, _) in list(self.running.items()):
            self.ray.cancel(reference, force=True)
            stopped.append(Finished(trial_id, 130, "cancelled"))
        self.running.clear()
        self.ray.shutdown()
        return stopped

    def close(self) -> None:
        self.ray.shutdown()
