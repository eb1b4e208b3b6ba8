"""What this project relies on in Keras beyond its documented API. Each test fails loudly when a Keras upgrade
changes the behaviour, naming the code that depends on it."""
import h5py
import numpy as np
import pytest

from conftest import PROJECT  # noqa: F401  (puts the project on sys.path)


@pytest.fixture(scope="module")
def keras():
    from utils.training.setup import import_keras

    return import_keras()


def test_dropout_rng_state_is_a_variable_but_not_a_weight(keras):
    # utils/training/checkpoints.py (_seed_state_variables) finds the dropout RNG states as the model's variables
    # that are not among its weights; .h5 files save the weights only.
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.BatchNormalization(),
                              keras.layers.Dropout(0.5), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mean_squared_error", metrics=["mae"])
    model.fit(np.zeros((8, 3)), np.zeros((8, 1)), verbose=0)
    weights = {id(weight) for weight in model.weights}
    extra = [variable for variable in model.variables if id(variable) not in weights]
    assert [variable.path.rsplit("/", 1)[-1] for variable in extra] == ["seed_generator_state"], (
        "Keras changed which variables are weights: update _seed_state_variables in utils/training/checkpoints.py"
    )


def test_dropout_rng_state_advances_and_round_trips(keras, tmp_path):
    from utils.training.checkpoints import CheckpointInfo, restore_seed_states, seed_states, write_checkpoint

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dropout(0.5), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mean_squared_error")
    before = seed_states(model).copy()
    model.fit(np.ones((8, 3)), np.ones((8, 1)), verbose=0)
    after = seed_states(model)
    assert not np.array_equal(before, after), "dropout RNG state no longer advances per step"
    write_checkpoint(model, tmp_path / "last.h5", CheckpointInfo(epoch=1))
    model.fit(np.ones((8, 3)), np.ones((8, 1)), verbose=0)
    restore_seed_states(model, tmp_path / "last.h5")
    np.testing.assert_array_equal(seed_states(model), after)


def test_h5_optimizer_weights_are_read_back_in_order(keras, tmp_path):
    # utils/training/checkpoints.py (saved_optimizer_weights) reads Keras' .h5 `optimizer_weights` group by its
    # `weight_names` attribute, because keras.models.load_model drops the optimizer state of .h5 files.
    from utils.training.checkpoints import restore_optimizer_state

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mean_squared_error")
    model.fit(np.ones((8, 3)), np.ones((8, 2)), verbose=0, epochs=2)
    model.save(tmp_path / "model.h5")
    with h5py.File(tmp_path / "model.h5", "r") as saved:
        assert "optimizer_weights" in saved, "Keras no longer writes optimizer_weights into .h5 files"
    reloaded = keras.models.load_model(tmp_path / "model.h5", compile=False)
    reloaded.compile(optimizer="adam", loss="mean_squared_error")
    assert restore_optimizer_state(reloaded, tmp_path / "model.h5")
    for restored, original in zip(reloaded.optimizer.variables, model.optimizer.variables):
        np.testing.assert_allclose(np.asarray(restored), np.asarray(original))


def test_a_direct_call_of_a_model_gives_what_model_predict_gives(keras, monkeypatch):
    # utils/training/test_pass.py (model_outputs) calls the model itself, batch by batch, sparing predict's tf.data
    # pipeline and traced function; inference mode (dropout and batch norm off) must be what predict uses.
    from utils.training import test_pass

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.BatchNormalization(),
                              keras.layers.Dropout(0.5), keras.layers.Dense(2, activation="softmax")])
    inputs = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    direct = test_pass.model_outputs(model, inputs)
    assert isinstance(direct, np.ndarray) and direct.shape == (5, 2)
    np.testing.assert_allclose(direct, model.predict(inputs, verbose=0), rtol=1e-5, atol=1e-6)
    monkeypatch.setattr(test_pass, "TEST_BATCH_SIZE", 2)  # batches of 2, 2 and 1 rows
    np.testing.assert_array_equal(test_pass.model_outputs(model, inputs), direct)


def test_the_test_set_is_evaluated_by_the_function_validation_traced_with_evaluates_values(keras):
    # utils/training/test_pass.py evaluates through validation's tf.data pipeline so that Keras reuses the test
    # function fit traced (and XLA-compiled): the values must be those of evaluate on the arrays, and the test step
    # must not be traced again (Python code in a step runs only while it is traced).
    from utils.tasks.inputs import encode_labels
    from utils.training.inputs import validation_dataset
    from utils.training.test_pass import test_pass

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(400, 3)).astype("float32"), (rng.random(400) < 0.3).astype("int64")
    task = type("Task", (), {"binary": True, "regression": False, "num_classes": 2})()
    data = type("Data", (), {"x_test": x[300:], "y_test": y[300:]})()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"], jit_compile=True,
                  steps_per_execution=5)
    traced = []
    test_step = model.test_step
    model.test_step = lambda batch: (traced.append(1), test_step(batch))[1]
    model.fit(x[:200], encode_labels(task, y[:200]), batch_size=20, epochs=1, verbose=0,
              validation_data=validation_dataset(x[200:300], encode_labels(task, y[200:300]), 1024))
    traces_by_fit = len(traced)
    metrics, outputs = test_pass(model, task, data)
    assert len(traced) == traces_by_fit > 0
    expected = model.evaluate(x[300:], encode_labels(task, y[300:]), batch_size=1024, return_dict=True, verbose=0)
    assert metrics == {f"test_{name}": value for name, value in expected.items()} and set(metrics) == {
        "test_loss", "test_accuracy"}
    np.testing.assert_allclose(outputs, model.predict(x[300:], verbose=0), rtol=1e-5, atol=1e-6)
