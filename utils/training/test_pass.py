"""The test split's evaluation: the loss and compiled metrics as Keras' evaluate gives them, and the model's outputs
for what scikit-learn reports, without tracing a function beyond the one fit traced for validation.

A second traced function (model.predict's, XLA-compiled for a dense model trained with XLA) and a test function traced afresh for
NumPy arrays cost a small run a few seconds after its last epoch; a direct call of the model costs milliseconds.
"""
import numpy as np

from utils.tasks.inputs import encode_labels, shape_inputs
from utils.training import backend
from utils.training.inputs import validation_dataset

# Rows per batch of the test set, for evaluate and for the direct calls: large batches mean few calls, and a conv
# net's activations for this many 28x28 images stay well under 100 MB.
TEST_BATCH_SIZE = 1024


def test_pass(model, task, dataset) -> tuple:
    """(the test_* metrics of Keras' evaluate, the model's outputs for every test sample)."""
    features = shape_inputs(model, dataset.x_test)
    labels = encode_labels(task, dataset.y_test)
    if backend.is_tensorflow():
        # The pipeline validation batches through: its elements match, so evaluate reuses the test function fit
        # traced (and compiled) instead of tracing another for NumPy arrays. The batches are the same either way.
        results = model.evaluate(validation_dataset(features, labels, TEST_BATCH_SIZE), return_dict=True, verbose=0)
    else:
        results = model.evaluate(features, labels, batch_size=TEST_BATCH_SIZE, return_dict=True, verbose=0)
    return {f"test_{name}": float(value) for name, value in results.items()}, model_outputs(model, features)


def model_outputs(model, inputs) -> np.ndarray:
    """The model's outputs for `inputs` as a NumPy array, as model.predict gives them (inference mode), by direct
    calls of up to TEST_BATCH_SIZE rows: no tf.data pipeline and no traced predict function."""
    import keras

    starts = range(0, max(len(inputs), 1), TEST_BATCH_SIZE)
    return np.concatenate([keras.ops.convert_to_numpy(model(inputs[start:start + TEST_BATCH_SIZE], training=False))
                           for start in starts])
