"""tf.distribute across the devices of one machine (MirroredStrategy); the batch size is the global batch.

Several processes or machines (--distribute multi-worker) go through utils.training.multiworker instead."""
import hashlib
from dataclasses import dataclass
from typing import Optional

import numpy as np

from utils.core.errors import UsageError


@dataclass
class Distribution:
    strategy: object  # a tf.distribute.Strategy
    kind: str  # mirrored

    def describe(self) -> dict:
        return {"strategy": self.kind, "replicas": int(self.strategy.num_replicas_in_sync),
                "devices": list(getattr(self.strategy.extended, "worker_devices", []))}


def split_cpu(count: int) -> None:
    """Expose the CPU as `count` logical devices (to exercise MirroredStrategy on a machine without GPUs)."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:
        raise UsageError("--logical-cpus must take effect before TensorFlow starts; pass it on the command line.")


def make_distribution(kind: str, devices: Optional[str] = None, logical_cpus: Optional[int] = None):
    """The strategy for --distribute, created before any other TensorFlow work, as tf.distribute requires."""
    if kind == "none":
        if logical_cpus:
            raise UsageError("--logical-cpus only applies with --distribute mirrored.")
        return None
    if kind == "multi-worker":
        return None  # not tf.distribute: utils.training.multiworker joins the processes on the JAX backend
    import tensorflow as tf  # engine.check_plans has refused mirrored under other Keras backends

    if kind == "mirrored":
        if logical_cpus:
            split_cpu(logical_cpus)
        names = [name.strip() for name in devices.split(",")] if devices else None
        if names is None and not tf.config.list_physical_devices("GPU") and logical_cpus:
            names = [device.name for device in tf.config.list_logical_devices("CPU")]
        try:
            strategy = tf.distribute.MirroredStrategy(devices=names)
        except (ValueError, RuntimeError) as error:
            raise UsageError(f"--devices {devices}: {error}")
        return Distribution(strategy, kind)
    raise UsageError(f"--distribute must be none, mirrored or multi-worker. Received: {kind!r}.")


def shard_by_data(dataset):
    """Shard a tf.data pipeline by element across workers (it is built from in-memory tensors, not files)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def weights_sha256(model) -> str:
    digest = hashlib.sha256()
    for weights in model.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()
