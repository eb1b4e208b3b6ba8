"""Every registered model builds with the architecture and the parameter count it declares."""
import pytest

from utils.training.setup import import_keras

import_keras()
from models import get_model, models_for_task, register_model  # noqa: E402
from models.registry import _REGISTRY  # noqa: E402
from utils.tasks import get_task  # noqa: E402



@pytest.mark.parametrize("name", sorted(_REGISTRY))
def test_every_registered_model_builds_with_its_declared_parameter_count(name):
    # --list prints the declared count without building (and without TensorFlow): it must be the real one.
    spec = _REGISTRY[name]
    task = get_task(spec.task)
    model = spec.build(input_shape=task.sample_shape, num_classes=task.num_classes)
    assert spec.params is not None, f"declare {name}'s parameter count: @register_model(..., params={model.count_params()})"
    assert model.count_params() == spec.params
    assert spec.description, "a model's docstring is its --list description"


def _layer_types(name):
    spec = _REGISTRY[name]
    model = spec.build(input_shape=get_task(spec.task).sample_shape, num_classes=get_task(spec.task).num_classes)
    return model, [type(layer).__name__ for layer in model.layers]


def test_conv_net_variants_add_exactly_their_layers():
    _, plain = _layer_types("conv_net")
    assert plain == ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Conv2D", "Flatten", "Dense", "Dense"]
    _, dropout = _layer_types("conv_net_dropout")
    assert dropout == ["Conv2D", "MaxPooling2D", "Dropout", "Conv2D", "MaxPooling2D", "Conv2D", "Flatten", "Dense", "Dropout", "Dense"]
    model, batch_norm = _layer_types("conv_net_batch_norm")
    assert batch_norm == ["Conv2D", "MaxPooling2D", "BatchNormalization", "Conv2D", "MaxPooling2D", "Conv2D", "Flatten", "Dense", "BatchNormalization", "Dense"]
    for name, kind in (("conv_net_l1", "L1"), ("conv_net_l2", "L2")):
        model, _ = _layer_types(name)
        regularized = [layer for layer in model.layers if getattr(layer, "kernel_regularizer", None) is not None]
        assert [type(layer).__name__ for layer in regularized] == ["Conv2D", "Conv2D", "Conv2D", "Dense"]
        assert all(type(layer.kernel_regularizer).__name__ == kind for layer in regularized)


def test_models_declare_the_input_they_need():
    conv, _ = _layer_types("conv_net")
    mlp, _ = _layer_types("mlp_one_layer")
    assert conv.input_shape == (None, 28, 28, 1)
    assert mlp.input_shape == (None, 784)


def test_mlp_small_carries_its_own_defaults():
    assert get_model("mnist", "mlp_small").defaults == {"optimizer": "rmsprop", "learning_rate": 0.001, "loss": "mse"}


def test_registry_refuses_a_duplicate_name():
    with pytest.raises(ValueError, match="registered twice"):
        @register_model(task="mnist")
        def conv_net(input_shape, num_classes):  # noqa: F811
            return None


def test_unknown_model_names_the_valid_ones_and_the_closest():
    with pytest.raises(KeyError) as raised:
        get_model("mnist", "conv_nett")
    message = raised.value.args[0]
    assert "Did you mean 'conv_net'?" in message and "le_net" in message


def test_each_task_has_its_default_model_registered():
    for task_name in ("mnist", "churn", "xor", "iris"):
        task = get_task(task_name)
        assert task.default_model in [spec.name for spec in models_for_task(task_name)]
