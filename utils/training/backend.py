"""Which Keras backend runs the models, and what it can do.

TensorFlow is the default and the only backend with tf.data input pipelines, op determinism and tf.distribute.
The models and the engine are plain Keras, so `KERAS_BACKEND=jax` (or torch) runs the same command where only
that framework has the GPU build; those backends get NumPy input batches instead of tf.data.
"""
from contextlib import contextmanager

import keras

from utils.core.errors import UsageError


def name() -> str:
    return keras.backend.backend()


def is_tensorflow() -> bool:
    return name() == "tensorflow"


def has_gpu() -> bool:
    """Whether the backend sees a GPU (each framework has its own device list)."""
    if is_tensorflow():
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if name() == "jax":
        import jax

        return jax.default_backend() == "gpu"
    if name() == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def mixed_precision_policy() -> str:
    """float16 compute with loss scaling where a GPU has fast float16 units; bfloat16 (no scaling needed) on CPUs."""
    return "mixed_float16" if has_gpu() else "mixed_bfloat16"


@contextmanager
def dtype_policy(policy: str):
    """Models created inside compute under `policy`; Keras' compile adds loss scaling for a mixed_float16 model."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def require_tensorflow(feature: str) -> None:
    if not is_tensorflow():
        raise UsageError(
            f"{feature} needs the TensorFlow backend; this process runs Keras on {name()} "
            f"(unset KERAS_BACKEND or set it to tensorflow)."
        )
