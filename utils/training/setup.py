"""Import TensorFlow/Keras once, quietly, and seed everything."""
import importlib.util
import os
import sys
from contextlib import contextmanager

from utils.core.collector import paused_for_import


@contextmanager
def _stderr_silenced():
    # TensorFlow's C++ runtime prints start-up chatter (CUDA probes, oneDNN notes) straight to file descriptor 2
    # before its log level applies; hide that descriptor for the import only.
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_keras(verbose: bool = False):
    """Import TensorFlow and Keras, hiding their start-up log lines unless `verbose`, with the garbage collector
    paused for the first import (utils.core.collector).

    Under another Keras backend (KERAS_BACKEND=jax or torch) TensorFlow is imported only if installed, because
    Keras' data adapters import it anyway, and then just as quietly.
    """
    if "keras" in sys.modules:
        return _import_keras(verbose)
    with paused_for_import():
        return _import_keras(verbose)


def _import_keras(verbose: bool):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if verbose else "3")
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        import absl.logging

        if not verbose and importlib.util.find_spec("tensorflow"):
            # Keras' data adapters import TensorFlow where it is installed, whatever the backend: do it quietly.
            with _stderr_silenced():
                import tensorflow  # noqa: F401
        import keras

        if not verbose:
            absl.logging.set_verbosity(absl.logging.ERROR)
        return keras
    if verbose or "tensorflow" in sys.modules:
        import keras
        import tensorflow  # noqa: F401
    else:
        with _stderr_silenced():
            import keras
            import tensorflow

            tensorflow.config.list_physical_devices()  # the device probe logs too; let it happen here
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
        tensorflow.get_logger().setLevel("ERROR")  # e.g. retracing notes when a grid trains many models
    return keras


def seed_everything(seed: int, deterministic: bool) -> None:
    import keras

    from utils.training import backend

    keras.utils.set_random_seed(seed)
    if deterministic:
        backend.require_tensorflow("--deterministic")
        import tensorflow

        tensorflow.config.experimental.enable_op_determinism()
