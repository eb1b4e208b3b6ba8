"""How a task's arrays meet a model: samples reshaped to the model's declared input, labels encoded for its loss."""
import numpy as np

from utils.core.errors import UserError


def shape_inputs(model, features: np.ndarray) -> np.ndarray:
    """Reshape samples to what the model declares as its input (a view, not a copy)."""
    sample_shape = tuple(model.input_shape[1:])
    if int(np.prod(sample_shape)) != int(np.prod(features.shape[1:])):
        raise UserError(
            f"Model {model.name!r} expects inputs of shape {sample_shape} but the data has samples of shape "
            f"{features.shape[1:]}; this model does not fit this task's data."
        )
    return features.reshape((len(features), *sample_shape))


def encode_labels(task, labels: np.ndarray) -> np.ndarray:
    """Binary tasks and regression: one float column; multi-class: one-hot rows (any Keras loss, mse included, accepts these)."""
    if task.binary or task.regression:
        return labels.astype(np.float32).reshape(-1, 1)
    return np.eye(task.num_classes, dtype=np.float32)[labels]
