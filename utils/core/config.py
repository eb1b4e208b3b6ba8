"""The resolved settings of one run: task defaults, then the model's own, then the command line."""
from dataclasses import asdict, dataclass, field, fields
from typing import Optional

from utils.core.errors import UsageError

DEFAULT_SEED = 42
LR_SCHEDULES = ("constant", "step", "cosine", "plateau")


@dataclass
class TrainConfig:
    task: str
    model: str
    epochs: int  # total epochs of the run
    batch_size: int  # samples per gradient step (the global batch)
    optimizer: str  # any Keras optimizer name
    learning_rate: Optional[float]  # None: the optimizer's own default
    loss: str  # any Keras loss name
    seed: int = DEFAULT_SEED  # seeds Python, NumPy, TensorFlow and the data splits
    validation_split: float = 0.1  # fraction of the training data held out for validation
    limit: Optional[int] = None  # train on the first N training samples only
    steps_per_execution: Optional[int] = None  # None: chosen from the batch size (small batches run many per call)
    jit: Optional[bool] = None  # XLA compilation; None: Keras decides
    deterministic: bool = False  # TensorFlow op determinism (slower; bit-for-bit repeatable runs)
    mixed_precision: bool = False  # float16 (GPU) / bfloat16 (CPU) compute, float32 weights and outputs
    data_options: dict = field(default_factory=dict)  # the task's own data flags (--dataset, --data, ...)
    name: Optional[str] = None  # a label added to the run folder's name
    momentum: Optional[float] = None  # optimizer option (sgd, rmsprop)
    nesterov: bool = False  # optimizer option (sgd)
    weight_decay: Optional[float] = None  # optimizer option (adamw, and others that accept it)
    lr_schedule: str = "constant"  # constant | step | cosine | plateau
    lr_step_epochs: int = 10  # step schedule: halve the learning rate every this many epochs
    early_stopping: Optional[int] = None  # patience in epochs on val_loss; None: train every epoch
    augment: bool = False  # random rotation/shift/shear/zoom of training images only
    tensorboard: bool = False  # write TensorBoard event files into the run folder
    mlflow: Optional[str] = None  # MLflow tracking URI ("default": a SQLite file in the outputs folder)
    distribute: str = "none"  # none | mirrored (local devices) | multi-worker (TF_CONFIG)
    devices: Optional[str] = None  # mirrored: comma-separated device names (default: all local GPUs)
    logical_cpus: Optional[int] = None  # mirrored on a CPU-only machine: split the CPU into this many devices

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {item.name for item in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


# Settings a model or task may default and the command line may override.
OVERRIDABLE = ("epochs", "batch_size", "optimizer", "learning_rate", "loss")


def resolve_config(task, spec, options: dict) -> TrainConfig:
    """Merge task defaults < model defaults < explicit options (those not None) into a checked TrainConfig."""
    settings = {"epochs": 10, "batch_size": 32, "optimizer": "adam", "learning_rate": None}
    settings.update(task.defaults)
    settings.update(spec.defaults)
    settings.update({key: value for key, value in options.items() if value is not None})
    config = TrainConfig.from_dict({**settings, "task": task.name, "model": spec.name})
    check_config(config)
    return config


def check_config(config: TrainConfig) -> None:
    """Reject values no run could use, before anything is written."""
    if config.epochs < 1:
        raise UsageError(f"--epochs must be at least 1. Received: {config.epochs}.")
    if config.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1. Received: {config.batch_size}.")
    if config.learning_rate is not None and not config.learning_rate > 0:
        raise UsageError(f"--learning-rate must be greater than 0. Received: {config.learning_rate}.")
    if config.limit is not None and config.limit < 1:
        raise UsageError(f"--limit must be at least 1. Received: {config.limit}.")
    if not 0 < config.validation_split < 1:
        raise UsageError(f"--validation-split must be between 0 and 1 (exclusive). Received: {config.validation_split}.")
    if config.mlflow:
        try:
            import mlflow  # noqa: F401
        except ImportError:
            raise UsageError("--mlflow needs the mlflow package: pip install mlflow")
    if config.deterministic or config.distribute != "none":
        from utils.training import backend

        backend.require_tensorflow("--deterministic" if config.deterministic else f"--distribute {config.distribute}")
    if config.distribute not in ("none", "mirrored", "multi-worker"):
        raise UsageError(f"--distribute must be none, mirrored or multi-worker. Received: {config.distribute!r}.")
    if config.logical_cpus is not None and config.logical_cpus < 1:
        raise UsageError(f"--logical-cpus must be at least 1. Received: {config.logical_cpus}.")
    if config.augment and config.task != "mnist":
        raise UsageError(f"--augment applies to image tasks (mnist.py), not {config.task}.")
    if config.lr_schedule not in LR_SCHEDULES:
        raise UsageError(f"--lr-schedule must be one of {', '.join(LR_SCHEDULES)}. Received: {config.lr_schedule!r}.")
    if config.lr_step_epochs < 1:
        raise UsageError(f"--lr-step-epochs must be at least 1. Received: {config.lr_step_epochs}.")
    if config.early_stopping is not None and config.early_stopping < 1:
        raise UsageError(f"--early-stopping patience must be at least 1. Received: {config.early_stopping}.")
    if config.momentum is not None and not 0 <= config.momentum < 1:
        raise UsageError(f"--momentum must be in [0, 1). Received: {config.momentum}.")
    if config.weight_decay is not None and config.weight_decay < 0:
        raise UsageError(f"--weight-decay must be at least 0. Received: {config.weight_decay}.")
    if config.steps_per_execution is not None and config.steps_per_execution < 1:
        raise UsageError(f"--steps-per-execution must be at least 1. Received: {config.steps_per_execution}.")
