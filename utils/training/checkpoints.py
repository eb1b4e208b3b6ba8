"""Loading saved models back: find the file, open it safely, restore the optimizer state Keras' .h5 loader drops."""
import json
from pathlib import Path

import h5py
import numpy as np

from utils.core.errors import UserError
from utils.runs.record import RUN_FILE

MODEL_SUFFIXES = (".h5", ".keras")


def resolve_model_path(path) -> tuple:
    """(run folder, model file) for a run folder, its model.h5, or a checkpoint inside its checkpoints/."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist; pass a run folder or a .h5/.keras file inside one.")
    if path.is_dir():
        folder = path
        if not (folder / RUN_FILE).is_file():
            raise UserError(f"{folder} is not a run folder: it has no {RUN_FILE}.")
        for candidate in (folder / "model.h5", folder / "checkpoints" / "last.h5"):
            if candidate.is_file():
                return folder, candidate
        raise UserError(f"{folder} holds no model.h5 and no checkpoints/last.h5 yet.")
    if path.suffix not in MODEL_SUFFIXES:
        raise UserError(f"Expected a .h5 or .keras path. Received: {path}")
    for folder in (path.parent, path.parent.parent):
        if (folder / RUN_FILE).is_file():
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
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"Cannot load {path}: {first_line[:200]}. The file is damaged or not a Keras model.")
    if task is not None:
        expected = int(np.prod(task.sample_shape))
        received = int(np.prod(model.input_shape[1:]))
        if received != expected:
            raise UserError(
                f"{path} expects inputs of shape {tuple(model.input_shape[1:])}, but {task.name} samples have "
                f"shape {task.sample_shape}: this model belongs to another task."
            )
    return model


def checkpoint_info(path) -> dict:
    """The epoch and monitored value a checkpoint was written at (see AtomicModelCheckpoint)."""
    with h5py.File(path, "r") as saved:
        info = {key: (value.item() if hasattr(value, "item") else value) for key, value in saved.attrs.items()
                if key in ("epoch", "monitor", "monitor_value")}
        if "callback_state" in saved.attrs:
            info["callback_state"] = json.loads(saved.attrs["callback_state"])
        return info


def restore_optimizer_state(model, path) -> bool:
    """Put the saved optimizer state (Adam's moments, iteration count, learning rate) into `model`'s new optimizer.

    Keras' .h5 loader builds the optimizer over the model's own (empty) variable list and then drops the saved
    state with a warning; so the model is compiled afresh and its optimizer built over every trainable variable
    before the saved values are set.
    """
    from keras.src.legacy.saving.legacy_h5_format import load_optimizer_weights_from_hdf5_group

    with h5py.File(path, "r") as saved:
        if "optimizer_weights" not in saved:
            return False
        values = [np.asarray(value) for value in load_optimizer_weights_from_hdf5_group(saved)]
    model.optimizer.build(model.trainable_variables)
    if len(values) != len(model.optimizer.variables):
        raise UserError(f"{path}: its optimizer state does not match the model; the checkpoint is damaged.")
    model.optimizer.set_weights(values)
    return True


def _seed_generators(model) -> list:
    # Dropout and other random layers draw from SeedGenerators whose state advances every step; Keras' .h5 files
    # do not hold that state, so a resumed run would repeat the first epochs' dropout masks.
    return [generator for layer in model._flatten_layers() for generator in getattr(layer, "_seed_generators", [])]


def seed_states(model) -> np.ndarray:
    return np.array([np.asarray(generator.state.numpy()) for generator in _seed_generators(model)])


def set_seed_states(model, states) -> None:
    generators = _seed_generators(model)
    if len(generators) == len(states):
        for generator, state in zip(generators, states):
            generator.state.assign(np.asarray(state).astype(generator.state.dtype))


def restore_seed_states(model, path) -> None:
    with h5py.File(path, "r") as saved:
        if "seed_states" in saved.attrs:
            set_seed_states(model, np.asarray(saved.attrs["seed_states"]))
