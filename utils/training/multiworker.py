"""One model trained by several processes, on one machine or several: Keras' DataParallel distribution on the
JAX backend, with JAX's distributed runtime joining the processes (gloo collectives on CPUs, NCCL on GPUs).

Every process runs the same command with its own process id. Process 0 owns the run folder; the others train
the same replicated model on their slice of every global batch and write nothing there. TensorFlow's
MultiWorkerMirroredStrategy is not this route: Keras 3's model.fit fails under it (keras-team/keras#20585).
"""
import atexit
import contextlib
import json
import math
import os
import shutil
import socket
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Optional

import numpy as np

from utils.core.errors import UsageError, UserError
from utils.runs.folder import RunFolder
from utils.runs.record import RunRecord
from utils.training.epoch_plan import EpochPlan
from utils.training.outcome import ProcessLost
from utils.training.placement import SingleProcess

# Keras' own variables for the same three facts (keras.distribution.initialize reads them too).
ENVIRONMENT = {
    "coordinator": "KERAS_DISTRIBUTION_JOB_ADDRESSES",
    "num_processes": "KERAS_DISTRIBUTION_NUM_PROCESSES",
    "process_id": "KERAS_DISTRIBUTION_PROCESS_ID",
}
# Variables under which JAX finds the process count and id by itself (jax.distributed's cluster detection).
CLUSTER_VARIABLES = ("SLURM_JOB_ID", "OMPI_MCA_orte_hnp_uri", "OMPI_MCA_ess_base_jobid")


@dataclass(frozen=True)
class World:
    """Who takes part in a multi-worker job; device counts are known once the processes have joined."""

    coordinator: Optional[str]
    num_processes: Optional[int]
    process_id: Optional[int]
    timeout: int = 60  # seconds to wait for every process at the start, and for a silent one later
    local_devices: int = 0
    devices: int = 0

    @property
    def is_chief(self) -> bool:
        return self.process_id == 0

    @property
    def name(self) -> str:
        return f"process {self.process_id} of {self.num_processes}"

    def describe(self) -> dict:
        return {"kind": "multi-worker", "backend": "jax", "coordinator": self.coordinator,
                "num_processes": self.num_processes, "devices_per_process": self.local_devices,
                "devices": self.devices, "timeout_seconds": self.timeout}


def requested_world(coordinator=None, num_processes=None, process_id=None, timeout=60) -> World:
    """The world the command line asks for, completed from Keras' KERAS_DISTRIBUTION_* variables; the count and
    id may stay unset under SLURM or Open MPI, where JAX detects them. Refuses what cannot work, before joining."""
    given = {"coordinator": coordinator, "num_processes": num_processes, "process_id": process_id}
    for key, variable in ENVIRONMENT.items():
        if given[key] is None and os.environ.get(variable):
            value = os.environ[variable]
            given[key] = value.split(",")[0] if key == "coordinator" else _whole_number(variable, value)
    world = World(**given, timeout=timeout)
    if world.process_id is not None and world.num_processes is None:
        raise UsageError("--process-id needs --num-processes (or KERAS_DISTRIBUTION_NUM_PROCESSES).")
    in_cluster = any(variable in os.environ for variable in CLUSTER_VARIABLES)
    if world.num_processes is not None and world.process_id is None and not in_cluster:
        raise UsageError("--num-processes needs --process-id (or KERAS_DISTRIBUTION_PROCESS_ID) outside SLURM or Open MPI.")
    if world.num_processes is not None and world.process_id is not None and not 0 <= world.process_id < world.num_processes:
        raise UsageError(f"--process-id must be between 0 and {world.num_processes - 1} (--num-processes "
                         f"{world.num_processes}). Received: {world.process_id}.")
    if world.coordinator is None and not in_cluster:
        raise UsageError("--distribute multi-worker needs --coordinator HOST:PORT (the address of process 0), "
                         "or KERAS_DISTRIBUTION_JOB_ADDRESSES, or a SLURM/Open MPI job.")
    if world.coordinator is not None and not _is_host_port(world.coordinator):
        raise UsageError(f"--coordinator must be HOST:PORT, e.g. 10.0.0.1:12345. Received: {world.coordinator!r}.")
    return world


def _whole_number(variable: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"{variable} must be a whole number. Received: {value!r}.")


def _is_host_port(address: str) -> bool:
    host, _, port = address.rpartition(":")
    return bool(host) and port.isdigit() and 0 < int(port) < 65536


def check_batch_size(world: World, batch_size: int) -> None:
    """Each device takes an equal share of every global batch."""
    devices = world.devices or world.num_processes or 1
    if batch_size % devices:
        raise UsageError(f"--batch-size is the global batch and must divide evenly among the {devices} devices "
                         f"of the job. Received: {batch_size}.")


# ---------------------------------------------------------------- joining and leaving
_joined: Optional[World] = None
SHUTDOWN_SECONDS = 3600  # how long a finished process waits for process 0 to finish the run


def join(world: World) -> World:
    """Join the job and make every model from now on data-parallel over all its devices.

    JAX aborts the process (no Python exception) when the job is not complete within its initialization timeout,
    so a watchdog gives the one-line answer first. keras.distribution.initialize would do the same joining but
    passes no timeouts (JAX's defaults wait 5 minutes)."""
    global _joined
    import jax

    if world.process_id == 0 and world.coordinator:
        check_coordinator_port(world.coordinator)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    joined = threading.Event()
    threading.Thread(target=_give_up_unless, args=(joined, world), daemon=True).start()
    try:
        jax.distributed.initialize(
            coordinator_address=world.coordinator, num_processes=world.num_processes, process_id=world.process_id,
            initialization_timeout=world.timeout + 30, heartbeat_timeout_seconds=world.timeout,
            # The others wait at JAX's shutdown barrier while process 0 evaluates and writes the report, which on a
            # busy machine takes minutes; a lost process 0 ends the wait early through the heartbeat instead.
            shutdown_timeout_seconds=max(world.timeout, SHUTDOWN_SECONDS),
        )
    except (RuntimeError, ValueError, TypeError) as error:
        raise UserError(f"cannot join the multi-worker job at {world.coordinator}: {first_line(error)}")
    finally:
        joined.set()
    world = replace(world, num_processes=jax.process_count(), process_id=jax.process_index(),
                    local_devices=jax.local_device_count(), devices=jax.device_count())
    _use_all_devices()
    _joined = world
    return world


def check_coordinator_port(coordinator: str) -> None:
    """Process 0 serves the job on the coordinator's port; a busy one would surface as JAX's bare
    'UNKNOWN: Failed to start RPC server'."""
    port = coordinator.rpartition(":")[2]
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind: only a listener blocks it
        try:
            probe.bind(("", int(port)))
        except OSError as error:
            raise UserError(f"the coordinator port {port} is busy ({error.strerror}): another job or program listens "
                            f"on it; stop it, or pass another --coordinator port (the same on every process).")


def _give_up_unless(joined: threading.Event, world: World) -> None:
    if not joined.wait(world.timeout):
        sys.stdout.flush()
        print(f"{os.path.basename(sys.argv[0])}: error: process {world.process_id} could not join the multi-worker job at {world.coordinator} "
              f"within {world.timeout} s: the coordinator is unreachable or not all {world.num_processes} processes "
              f"started.", file=sys.stderr, flush=True)
        _end_now(1)


def _use_all_devices() -> None:
    import keras

    distribution = keras.distribution.DataParallel(devices=keras.distribution.list_devices(), auto_shard_dataset=False)
    keras.distribution.set_distribution(distribution)


def leave(exit_code: int) -> None:
    """End this process now when the job failed: JAX's exit waits for every process at a shutdown barrier (and
    aborts with a stack trace when one is gone), which a failed job must not do."""
    if _joined is not None and exit_code != 0:
        _end_now(exit_code)


def _end_now(exit_code: int) -> None:
    from utils.reports.drawing import end_process_now

    end_process_now(exit_code)


def first_line(error) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:300]


@contextmanager
def on_this_process_only():
    """Run Keras without the job-wide distribution (process 0 evaluating and reporting on its own)."""
    import keras

    previous = keras.distribution.distribution()
    keras.distribution.set_distribution(None)
    try:
        yield
    finally:
        keras.distribution.set_distribution(previous)


# ---------------------------------------------------------------- sharing what process 0 has
def from_process_zero(payload: Optional[bytes]) -> bytes:
    """Process 0's `payload` on every process (the run folder's name, its run.json, its checkpoint): the others
    may run on machines that cannot see the run folder."""
    from jax.experimental import multihost_utils

    length = int(multihost_utils.broadcast_one_to_all(np.int64(len(payload or b""))))
    if length == 0:
        return b""
    buffer = np.frombuffer(payload, np.uint8) if payload is not None else np.zeros(length, np.uint8)
    return np.asarray(multihost_utils.broadcast_one_to_all(buffer)).astype(np.uint8).tobytes()


# ---------------------------------------------------------------- starting from the command line
# Keras 3's TensorFlow trainer cannot run model.fit under MultiWorkerMirroredStrategy: it reduces a per-replica
# batch eagerly while building the model, then fails a collective reduction of metrics (keras-team/keras#20585,
# tensorflow/tensorflow#72388; both reproduced here with Keras 3.15 / TF 2.21). JAX is the route that works.
TENSORFLOW_REFUSAL = (
    "--distribute multi-worker runs on the JAX backend: KERAS_BACKEND=jax python mnist.py --distribute multi-worker "
    "--coordinator HOST:PORT --num-processes N --process-id I (Keras 3's model.fit does not work under TensorFlow's "
    "MultiWorkerMirroredStrategy, keras-team/keras#20585)."
)
WORLD_FLAGS = {"coordinator": "--coordinator", "num_processes": "--num-processes", "process_id": "--process-id"}


def named_follower(args) -> bool:
    """Whether the command line or Keras' variable names this process one of the job's others (an id above 0):
    it writes nothing in the run folder, so it draws no figures. Under SLURM or Open MPI, JAX finds the id later."""
    process_id = getattr(args, "process_id", None)
    if process_id is None and os.environ.get(ENVIRONMENT["process_id"], "").strip().isdigit():
        process_id = int(os.environ[ENVIRONMENT["process_id"]])
    return getattr(args, "distribute", None) == "multi-worker" and bool(process_id)


def placement_for(args, configs=()) -> SingleProcess:
    """This process's placement: in the multi-worker job the run(s) ask for, joined before JAX does any other work;
    else a single process.

    `configs`: the planned runs (a new run), or none (a resume: the run's settings are read after joining, since
    the other processes may not see its folder; --distribute multi-worker or a world option asks for the job)."""
    from utils.training import backend

    given = [flag for name, flag in WORLD_FLAGS.items() if getattr(args, name, None) is not None]
    kinds = {config.distribute for config in configs} or {getattr(args, "distribute", None) or "none"}
    if "multi-worker" not in kinds and not (given and not configs):
        if given:
            raise UsageError(f"{given[0]} applies only with --distribute multi-worker.")
        return SingleProcess()
    if len(kinds) > 1:
        raise UsageError("--distribute multi-worker cannot be mixed with other --distribute values in one command.")
    if backend.is_tensorflow():
        raise UsageError(TENSORFLOW_REFUSAL)
    if backend.name() != "jax":
        raise UsageError(f"--distribute multi-worker needs the JAX backend (KERAS_BACKEND=jax); this process runs Keras "
                         f"on {backend.name()}.")
    world = requested_world(args.coordinator, args.num_processes, args.process_id, args.worker_timeout)
    for config in configs:
        check_batch_size(world, config.batch_size)
    world = join(world)
    for config in configs:
        check_batch_size(world, config.batch_size)
    return Chief(world) if world.is_chief else Follower(world)


# ---------------------------------------------------------------- faults and resumes
# What a collective or the coordination service says when another process of the job is gone.
LOST_PROCESS_SIGNS = ("gloo", "connection closed", "connection reset", "heartbeat", "unavailable", "barrier")


def is_lost_process(error) -> bool:
    text = str(error).lower()
    return any(sign in text for sign in LOST_PROCESS_SIGNS)


# ---------------------------------------------------------------- this process's place in the job
class Chief(SingleProcess):
    """Process 0 of a multi-worker job: it owns the run folder, as a single process does, and shares what it
    decides (the folder's name, the record and checkpoint a resume goes on from) with the others."""

    def __init__(self, world: World):
        self.world = world

    checkpoint_options = {"overhead_budget": math.inf}  # held checkpoints could only be restored on process 0 alone

    def create_folder(self, outputs, label: str) -> RunFolder:
        return RunFolder(from_process_zero(str(super().create_folder(outputs, label).path).encode()).decode())

    def resumable_record(self, load_record) -> RunRecord:
        try:
            record = load_record()
        except UserError:
            from_process_zero(b"")  # nothing to resume: the others stop too
            raise
        from_process_zero(json.dumps(record.data).encode())
        from_process_zero(record.folder.last_checkpoint.read_bytes())
        return record

    def check_resume(self, hyperparameters: dict) -> None:
        """A multi-worker run resumes as a multi-worker job, and only such a run does (its batches stay the same)."""
        if hyperparameters.get("distribute") != "multi-worker":
            raise UsageError(f"this run trained with --distribute {hyperparameters.get('distribute', 'none')}; "
                             "resume it without the multi-worker options.")
        check_batch_size(self.world, hyperparameters["batch_size"])

    def note(self, record: RunRecord) -> None:
        record.note(world=self.world.describe())

    def epoch_plan(self, config, first_epoch: int = 0) -> EpochPlan:
        """This process's slices of the job's global batches."""
        world = self.world
        return EpochPlan(config.batch_size, config.seed, first_epoch, config.epochs,
                         world.num_processes, world.process_id, world.devices)

    def check_fit_error(self, error) -> None:
        if is_lost_process(error):
            raise ProcessLost(first_line(error)) from error

    def finish(self, session, finish_run) -> None:
        """Process 0 finishes the run alone: Keras' .keras save builds variables, which under the job-wide
        distribution wait for the other processes, and they have finished."""
        with on_this_process_only():
            finish_run(session)

    @contextmanager
    def evaluation_model(self, model, model_file, task):
        """Process 0 evaluates alone, on a copy of the model outside the job."""
        from utils.training.checkpoints import load_model_file

        with on_this_process_only():
            yield load_model_file(model_file, task)


class Follower(Chief):
    """Any other process of the job: it trains its slice of every batch and writes nothing in the run folder,
    which it may not even see; its record lives in a private temporary folder that goes when it exits."""

    owns_folder = False

    def create_folder(self, outputs, label: str) -> RunFolder:
        return RunFolder(from_process_zero(None).decode())

    def lock(self, folder, purpose: str):
        return contextlib.nullcontext()

    def starting(self, folder):
        return contextlib.nullcontext()

    def create_record(self, folder: RunFolder, **facts) -> RunRecord:
        return RunRecord.create(private_folder(), **facts)

    def resumable_record(self, load_record) -> RunRecord:
        data = from_process_zero(None)
        if not data:
            raise UserError(f"{self.world.name}: process 0 refused to resume the run (its output says why).")
        copy = private_folder()
        copy.last_checkpoint.parent.mkdir(parents=True)
        copy.last_checkpoint.write_bytes(from_process_zero(None))
        record = RunRecord(copy, json.loads(data))
        record.save()
        return record

    def owns(self, action, *args):
        return None

    def finish(self, session, finish_run) -> None:
        """The run is finished by process 0; this one reports the hash of its weights (the same as process 0's when
        the job trained as one)."""
        from utils.training.distribution import weights_sha256

        weights = weights_sha256(session.model)
        session.record.mark_completed(None, weights)
        if session.verbosity > 0:
            print(f"{self.world.name} finished (process 0 writes the run folder); weights_sha256 {weights}", flush=True)


def private_folder() -> RunFolder:
    path = tempfile.mkdtemp(prefix="multiworker-")
    atexit.register(shutil.rmtree, path, True)
    return RunFolder(path)
