"""Checkpoint files: write them atomically with what an exact resume needs, find and open saved models safely, and
restore the optimizer and dropout RNG state that Keras' .h5 format does not bring back by itself.

Files that would hold the same bytes (last.h5 and best.h5 of one epoch, model.h5 and the checkpoint it equals) are
hard links to one file: every write replaces a name with os.replace, so a link never changes under another name."""
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import h5py
import numpy as np

from utils.core import atomic
from utils.core.errors import UserError
from utils.runs.folder import RUN_FILE, RunFolder
from utils.training.distribution import weights_sha256

MODEL_SUFFIXES = (".h5", ".keras")


@dataclass
class CheckpointInfo:
    """What a checkpoint records beside the weights (as HDF5 attributes of the file)."""

    epoch: int  # epochs finished when it was written (1-based: epoch 3 means three epochs are done)
    callback_state: dict = field(default_factory=dict)  # early stopping / plateau counters
    monitor: Optional[str] = None
    monitor_value: Optional[float] = None


def write_checkpoint(model, path, info: CheckpointInfo) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(path) as temporary:
        model.save(temporary, overwrite=True)
        with h5py.File(temporary, "a") as saved:
            saved.attrs["epoch"] = info.epoch
            states = seed_states(model)
            if states.size:
                saved.attrs["seed_states"] = states
            saved.attrs["callback_state"] = json.dumps(info.callback_state)
            saved.attrs["weights_sha256"] = weights_sha256(model)  # lets model.h5 be a link to its equal
            if info.monitor is not None and info.monitor_value is not None:
                saved.attrs["monitor"] = info.monitor
                saved.attrs["monitor_value"] = float(info.monitor_value)


def share_file(source, target) -> bool:
    """Make `target` a hard link to `source`, replacing it in one step; False where the file system has no hard
    links (the caller then writes its own copy)."""
    target = Path(target)
    temporary = target.with_name(f".{target.stem}.link{target.suffix}")
    try:
        if temporary.exists():
            temporary.unlink()
        os.link(source, temporary)
        os.replace(temporary, target)
    except OSError:
        if temporary.exists():
            temporary.unlink()
        return False
    return True


def saved_weights_sha256(path) -> Optional[str]:
    """The weights hash a checkpoint recorded when it was written, or None (older files, damage)."""
    try:
        with h5py.File(path, "r") as saved:
            value = saved.attrs.get("weights_sha256")
    except (OSError, KeyError, RuntimeError):
        return None
    return value.decode() if isinstance(value, bytes) else value


class WrittenCheckpoints:
    """The checkpoint files this training has written, by epoch: a second file for an epoch already on disk (best.h5
    of the epoch last.h5 holds) becomes a hard link instead of another full copy. So that a link is right under
    either name, every file records the run's monitored metric, `monitor`."""

    def __init__(self, monitor: str = "val_accuracy"):
        self._files = {}  # path -> (epoch, inode when written)
        self.monitor = monitor

    def holding(self, epoch: int, other_than) -> Optional[Path]:
        """A file written for `epoch` that is still the one written (no one has replaced it since), or None."""
        for path, (written_epoch, inode) in self._files.items():
            if written_epoch == epoch and path != Path(other_than) and path.is_file() and path.stat().st_ino == inode:
                return path
        return None

    def wrote(self, path, epoch: int) -> None:
        path = Path(path)
        self._files[path] = (epoch, path.stat().st_ino)


def read_checkpoint_info(path) -> CheckpointInfo:
    with h5py.File(path, "r") as saved:
        attrs = {key: (value.item() if hasattr(value, "item") else value) for key, value in saved.attrs.items()
                 if key in ("epoch", "monitor", "monitor_value", "callback_state")}
    return CheckpointInfo(
        epoch=int(attrs.get("epoch", 0)),
        callback_state=json.loads(attrs["callback_state"]) if "callback_state" in attrs else {},
        monitor=attrs.get("monitor"),
        monitor_value=attrs.get("monitor_value"),
    )


@dataclass
class UsableCheckpoint:
    path: Path
    info: CheckpointInfo
    best_value: Optional[float] = None  # the monitored value behind a valid best.h5


def checkpoint_problem(path) -> Optional[str]:
    """Why the checkpoint at `path` cannot be used (missing, truncated, unreadable), or None. Every array is read,
    so a file cut short by a full disk or a copy is caught here, not halfway through a resume."""
    path = Path(path)
    if not path.is_file():
        return "missing"
    if not h5py.is_hdf5(path):
        return "not an HDF5 file (truncated or another format)"
    try:
        with h5py.File(path, "r") as saved:
            if "model_weights" not in saved or "epoch" not in saved.attrs:
                return "not a checkpoint of this project (no weights or epoch)"
            saved.visititems(lambda name, item: item[()] if isinstance(item, h5py.Dataset) else None)
        read_checkpoint_info(path)
    except Exception as error:  # h5py raises OSError, KeyError, RuntimeError for damaged files
        return f"unreadable ({type(error).__name__}: {' '.join(str(error).split())[:120]})"
    return None


def usable_checkpoint(folder, warn) -> UsableCheckpoint:
    """last.h5 if it is sound; else best.h5 (never newer than last.h5: the newest sound one left), said with `warn`;
    else one UserError naming what is wrong with each."""
    folder = RunFolder(folder)
    problems = {path: checkpoint_problem(path) for path in (folder.last_checkpoint, folder.best_checkpoint)}
    best_problem = problems[folder.best_checkpoint]
    best_value = None if best_problem else read_checkpoint_info(folder.best_checkpoint).monitor_value
    if best_problem and best_problem != "missing" and not problems[folder.last_checkpoint]:
        warn(f"{folder.best_checkpoint} is {best_problem}; it is replaced at the next improving epoch.")
    for path in (folder.last_checkpoint, folder.best_checkpoint):
        if problems[path] is None:
            info = read_checkpoint_info(path)
            if path != folder.last_checkpoint:
                warn(f"{folder.last_checkpoint} is {problems[folder.last_checkpoint]}; going on from {path.name} "
                     f"(epoch {info.epoch}): the epochs after it are trained again.")
            return UsableCheckpoint(path, info, best_value)
    described = "; ".join(f"{path.name} is {problem}" for path, problem in problems.items())
    raise UserError(f"Cannot resume {folder}: {described}. No usable checkpoint is left; train again.")


def save_final_model(model, folder: RunFolder, weights: str) -> None:
    """model.h5 (a hard link to the checkpoint holding these very weights, else its own file) and model.keras,
    Keras 3's native format, beside it."""
    shared = False
    for checkpoint in (folder.last_checkpoint, folder.best_checkpoint):
        if checkpoint.is_file() and saved_weights_sha256(checkpoint) == weights:
            shared = share_file(checkpoint, folder.model_file)
            if shared:
                break
    if not shared:
        with atomic.atomic_path(folder.model_file) as temporary:
            model.save(temporary)
    with atomic.atomic_path(folder.keras_model) as temporary:
        model.save(temporary)


def resolve_model_path(path) -> tuple:
    """(run folder, model file) for a run folder, its model.h5, or a checkpoint inside its checkpoints/."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist; pass a run folder or a .h5/.keras file inside one.")
    if path.is_dir():
        folder = RunFolder(path)
        if not folder.is_run():
            raise UserError(f"{folder} is not a run folder: it has no {RUN_FILE}.")
        for candidate in folder.model_candidates():
            if candidate.is_file():
                return folder.path, candidate
        raise UserError(f"{folder} holds no saved model yet (no finished epoch).")
    if path.suffix not in MODEL_SUFFIXES:
        raise UserError(f"Expected a .h5 or .keras path. Received: {path}")
    for folder in (path.parent, path.parent.parent):
        if RunFolder(folder).is_run():
            return folder, path
    raise UserError(f"{path} is not inside a run folder (no {RUN_FILE} beside it or above its checkpoints/).")


def load_model_file(path, task=None, compile=True):
    """keras.models.load_model with safe_mode on; any damage becomes one clear UserError."""
    import keras

    path = Path(path)
    if path.suffix == ".h5" and not h5py.is_hdf5(path):
        raise UserError(f"{path} is not an HDF5 file (truncated or another format); pick another checkpoint.")
    try:
        model = keras.models.load_model(path, safe_mode=True, compile=compile)
    except Exception as error:  # h5py, zipfile and Keras raise many kinds for a damaged file
        raise UserError(load_failure(path, error))
    if task is not None:
        check_model_fits_task(model, task, path)
    return model


def load_failure(path, error) -> str:
    """One whole sentence for a model that would not load: safe_mode's refusal is said as such, anything else is
    the error's text, whitespace collapsed and capped, never cut mid-word without a mark."""
    text = " ".join(str(error).split()) or type(error).__name__
    if "safe_mode" in text:
        return (f"Cannot load {path}: it holds Python code (a Lambda layer or custom object), which safe_mode refuses "
                "to run; load only models you trained with this project.")
    text = text if len(text) <= 200 else text[:200].rsplit(" ", 1)[0] + " …"
    return f"Cannot load {path}: {text}. The file is damaged or not a Keras model."


def check_model_fits_task(model, task, path) -> None:
    """One input of the task's sample size and one output per class (one sigmoid unit for a binary task, as evaluation reads it): a model
    from another task or project is refused before any folder is created or any output is labelled."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UserError(f"{path} has {len(model.inputs)} input(s) and {len(model.outputs)} output(s); "
                        f"{task.name} models have one of each: this model belongs to another task.")
    expected = int(np.prod(task.sample_shape))
    received = int(np.prod(model.input_shape[1:]))
    if received != expected:
        raise UserError(
            f"{path} expects inputs of shape {tuple(model.input_shape[1:])}, but {task.name} samples have "
            f"shape {task.sample_shape}: this model belongs to another task."
        )
    outputs = model.output_shape[-1]
    allowed = (1,) if task.binary else (task.num_classes,)
    if outputs not in allowed:
        raise UserError(
            f"{path} has {outputs} output(s), but {task.name} has {task.num_classes} classes "
            f"(expected {' or '.join(map(str, allowed))}): this model belongs to another task."
        )


def saved_optimizer_weights(path) -> list:
    """The optimizer variables Keras wrote into an .h5 file: the `optimizer_weights` group, in the order its
    `weight_names` attribute lists (HDF5 splits long attributes into weight_names0, weight_names1, ...)."""
    with h5py.File(path, "r") as saved:
        if "optimizer_weights" not in saved:
            return []
        group = saved["optimizer_weights"]
        if "weight_names" in group.attrs:
            names = list(group.attrs["weight_names"])
        else:
            names, chunk = [], 0
            while f"weight_names{chunk}" in group.attrs:
                names += list(group.attrs[f"weight_names{chunk}"])
                chunk += 1
        return [np.asarray(group[name.decode() if isinstance(name, bytes) else name]) for name in names]


def restore_optimizer_state(model, path) -> bool:
    """Put the saved optimizer state (Adam's moments, iteration count, learning rate) into `model`'s new optimizer.

    Keras' .h5 loader builds the optimizer over the model's own (empty) variable list and then drops the saved
    state with a warning; so the model is compiled afresh and its optimizer built over every trainable variable
    before the saved values are set.
    """
    values = saved_optimizer_weights(path)
    if not values:
        return False
    model.optimizer.build(model.trainable_variables)
    if len(values) != len(model.optimizer.variables):
        raise UserError(f"{path}: its optimizer state does not match the model; the checkpoint is damaged.")
    model.optimizer.set_weights(values)
    return True


def _seed_state_variables(model) -> list:
    # Dropout and other random layers draw from SeedGenerators whose state advances every step. Keras counts those
    # states among a model's `variables` but not its `weights`, so .h5 files (which hold the weights) drop them and
    # a resumed run would repeat the first epochs' dropout masks. tests/test_keras_contracts.py pins this.
    weights = {id(weight) for weight in model.weights}
    return [variable for variable in model.variables if id(variable) not in weights]


def seed_states(model) -> np.ndarray:
    return np.array([np.asarray(variable.numpy()) for variable in _seed_state_variables(model)])


def set_seed_states(model, states) -> None:
    variables = _seed_state_variables(model)
    if len(variables) == len(states):
        for variable, state in zip(variables, states):
            variable.assign(np.asarray(state).astype(variable.dtype))


def restore_seed_states(model, path) -> None:
    with h5py.File(path, "r") as saved:
        if "seed_states" in saved.attrs:
            set_seed_states(model, np.asarray(saved.attrs["seed_states"]))
