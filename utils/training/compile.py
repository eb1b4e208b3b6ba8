"""A registered model built and compiled for a run: dtype policy, optimizer and its options, loss, metrics,
steps per compiled call and XLA."""
from dataclasses import dataclass

import keras

from utils.core.errors import UsageError
from utils.training import backend

OPTIMIZER_OPTIONS = {"momentum": "--momentum", "nesterov": "--nesterov", "weight_decay": "--weight-decay"}


def optimizer_names() -> list:
    names = [
        name.lower()
        for name, value in vars(keras.optimizers).items()
        if isinstance(value, type) and issubclass(value, keras.optimizers.Optimizer) and value is not keras.optimizers.Optimizer
    ]
    return sorted(set(names) - {"lossscaleoptimizer"})


def build_optimizer(config):
    """The named Keras optimizer with the run's learning rate and options (--momentum, --nesterov, --weight-decay)."""
    name = config.optimizer.lower()
    if name not in optimizer_names():
        raise UsageError(f"Unknown optimizer {config.optimizer!r}. Valid names: {', '.join(optimizer_names())}.")
    optimizer = keras.optimizers.get(name)
    settings = optimizer.get_config()
    if config.learning_rate is not None:
        settings["learning_rate"] = config.learning_rate
    for key, flag in OPTIMIZER_OPTIONS.items():
        value = getattr(config, key)
        if value is None or value is False:
            continue
        if key not in settings:
            raise UsageError(f"{flag} does not apply to the {name} optimizer; it takes: {', '.join(sorted(settings))}.")
        settings[key] = value
    return type(optimizer).from_config(settings)


def canonical_loss(name: str) -> str:
    """The full Keras name of a loss ('mse' -> 'mean_squared_error').

    Keras' .h5 loader cannot deserialize short aliases such as 'mse' back, so models are compiled with full names.
    """
    try:
        loss = keras.losses.get(name)
    except ValueError:
        raise UsageError(f"Unknown loss {name!r}; use a Keras loss name such as categorical_crossentropy or mse.")
    return getattr(loss, "__name__", name)


def metrics_for(task) -> list:
    # ROC AUC, precision and recall of binary tasks come from scikit-learn on the test set; a per-step Keras AUC
    # (200 thresholds) would double the cost of a tutorial-sized churn step. Regression's RMSE and R² come from
    # scikit-learn on the test set too, in the target's own units.
    return ["mae"] if task.regression else ["accuracy"]


def steps_per_execution(requested, batch_size: int, steps_per_epoch: int) -> int:
    """Training steps per compiled call: the largest divisor of steps_per_epoch not above the request.

    Each call into the compiled step has a fixed Python/runtime cost; with small batches it dominates, so by
    default a call covers about a thousand samples. Keras runs whole calls, so a count that does not divide the
    epoch would spill batches of the next epoch into this one and break per-epoch history and exact resumes.
    """
    wanted = requested or max(1, 1024 // batch_size)
    wanted = max(1, min(wanted, steps_per_epoch))
    return max(divisor for divisor in range(1, wanted + 1) if steps_per_epoch % divisor == 0)


def compile_model(model, task, config, steps_per_epoch: int, distributed: bool = False) -> "JitChoice":
    """Compile `model` for the run; returns the XLA choice and why it was made (the record keeps both)."""
    # Keras 3.15 fails to run several steps per call under tf.distribute ("You must feed a value for
    # placeholder tensor"), so distributed training runs one step per call.
    steps = 1 if distributed else steps_per_execution(config.steps_per_execution, config.batch_size, steps_per_epoch)
    jit = jit_choice(model, config, steps_per_epoch * config.epochs)
    model.compile(
        optimizer=build_optimizer(config),
        loss=canonical_loss(config.loss),
        metrics=metrics_for(task),
        steps_per_execution=steps,
        jit_compile=jit.value,
    )
    return jit


# Training steps below which XLA's one-off compile (0.2-2.2 s on 2 quiet CPU cores: the train step, then the test
# pass's shapes) costs more than it saves (0.02-1.6 ms a step for dense models): the break-even came at 1,400-12,000
# steps (bench/jit_crossover.py; BENCHMARKS.md, section o). At 3,000, a wrong choice costs at most about 2.6 s.
XLA_PAYS_BACK_STEPS = 3_000


@dataclass(frozen=True)
class JitChoice:
    value: object  # True, False, or "auto" (Keras decides)
    reason: str


def jit_choice(model, config, training_steps: int) -> JitChoice:
    """Whether the run's steps are compiled with XLA, and why: --jit / --no-jit when given; else Keras decides on a
    GPU or another backend; on a CPU with TensorFlow, never for convolutions (oneDNN's kernels beat XLA's there,
    2x) and, for dense models, only for runs long enough to pay the compile back."""
    if config.jit is not None:
        return JitChoice(config.jit, "--jit" if config.jit else "--no-jit")
    if not backend.is_tensorflow() or backend.has_gpu():
        return JitChoice("auto", "Keras decides (a GPU or a backend other than TensorFlow)")
    if contains_layer_type(model, keras.layers.Conv2D):
        return JitChoice(False, "off for convolutions on a CPU (oneDNN is faster)")
    if training_steps < XLA_PAYS_BACK_STEPS:
        return JitChoice(False, f"off: {training_steps:,} training steps, under the {XLA_PAYS_BACK_STEPS:,} that pay "
                                "XLA's compile back on a CPU")
    return JitChoice(True, f"on: {training_steps:,} training steps pay XLA's compile back on a CPU")


def contains_layer_type(model, layer_type) -> bool:
    """Whether `model` or any model nested in it has a layer of `layer_type` (public `.layers`, walked down)."""
    return any(
        isinstance(layer, layer_type) or (hasattr(layer, "layers") and contains_layer_type(layer, layer_type))
        for layer in model.layers
    )


def build_model(spec, config, input_shape, num_classes):
    """The registered model, built under the run's dtype policy (float32, or mixed precision)."""
    if not config.mixed_precision:
        return spec.build(input_shape=input_shape, num_classes=num_classes)
    with backend.dtype_policy(backend.mixed_precision_policy()):
        model = spec.build(input_shape=input_shape, num_classes=num_classes)
    # Probabilities and the loss need float32's range and precision: the output layer computes in float32.
    # (Under mixed_float16 Keras' compile wraps the optimizer in a LossScaleOptimizer by itself.)
    model.layers[-1].dtype_policy = "float32"
    return model


def built_optimizer_settings(model) -> dict:
    """The compiled model's optimizer as it trains: every setting of its Keras config (betas, epsilon, momentum,
    weight decay, ...), plain JSON (the loss-scaling wrapper of mixed_float16 is looked through)."""
    optimizer = getattr(model.optimizer, "inner_optimizer", model.optimizer)
    settings = {}
    config = {**optimizer.get_config(), "name": type(optimizer).__name__.lower()}  # adam, not the instance's adam_1
    for key, value in config.items():
        if isinstance(value, float):
            value = float(f"{value:.7g}")  # float32 noise off: 0.9, not 0.8999999761581421
        if value is None or isinstance(value, (bool, int, float, str)):
            settings[key] = value
    return settings


def resolved_settings(model) -> dict:
    """The values the engine or Keras chose for settings a run may leave unset: steps per compiled call, XLA, and
    the optimizer's own momentum, nesterov and weight decay where it has them."""
    optimizer = built_optimizer_settings(model)
    return {"steps_per_execution": model.steps_per_execution, "jit": bool(model.jit_compile),
            **{key: optimizer[key] for key in OPTIMIZER_OPTIONS if optimizer.get(key) is not None}}
