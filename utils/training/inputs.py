"""Training and validation batches. Each epoch's order is a pure function of (seed, epoch), so a resumed run sees
exactly the batches the uninterrupted run would have seen."""
import keras
import numpy as np

from utils.training import backend
from utils.training.distribution import shard_by_data
from utils.training.epoch_plan import EpochPlan


def training_dataset(features, targets, plan: EpochPlan, augment=None):
    """Batches for the epochs after plan.first_epoch up to plan.last_epoch, shuffled per (seed, epoch).

    `augment` (a function of a batch of features) applies to these training batches only; validation and test
    data never pass through here.
    """
    if not backend.is_tensorflow():
        return numpy_training_batches(features, targets, plan, augment)
    import tensorflow as tf

    count = len(features)
    features = tf.constant(features)
    targets = tf.constant(targets)

    def epoch_order(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count), seed=tf.stack([tf.constant(plan.seed, tf.int64), epoch])
        )
        return tf.data.Dataset.from_tensor_slices(order).batch(plan.batch_size)

    batches = (
        tf.data.Dataset.range(plan.first_epoch, plan.last_epoch)
        .flat_map(epoch_order)
        .map(lambda indices: (tf.gather(features, indices), tf.gather(targets, indices)))
    )
    if augment is not None:
        batches = batches.map(lambda batch, labels: (augment(batch), labels), num_parallel_calls=tf.data.AUTOTUNE)
    return shard_by_data(batches.prefetch(tf.data.AUTOTUNE))


def numpy_training_batches(features, targets, plan: EpochPlan, augment=None):
    """The same contract as training_dataset for backends without tf.data: a generator of NumPy batches whose
    order per epoch depends only on (seed, epoch). In a multi-worker job every process draws the same order and
    yields its slice of each global batch, so the job trains on the batches one process would."""
    for epoch in range(plan.first_epoch, plan.last_epoch):
        order = np.random.default_rng([plan.seed, epoch]).permutation(len(features))
        for start in range(0, plan.steps_per_epoch(len(order)) * plan.batch_size, plan.batch_size):
            indices = plan.own_slice(order[start:start + plan.batch_size])
            batch = features[indices]
            if augment is not None:
                batch = keras.ops.convert_to_numpy(augment(batch))
            yield batch, targets[indices]


def validation_dataset(features, targets, batch_size: int):
    """Validation batches built once and cached: Keras re-reads them every epoch, and a NumPy tuple would be
    converted again each time (the dominant cost of a tiny epoch). Other backends take the arrays."""
    if not backend.is_tensorflow():
        return features, targets
    import tensorflow as tf

    return shard_by_data(tf.data.Dataset.from_tensor_slices((features, targets)).batch(batch_size).cache())


def validation_batch_size(config) -> int:
    # Evaluation needs no gradients: larger batches mean fewer calls.
    return max(config.batch_size, 1024)
