"""The task registry: what data a task trains on and how its labels look. Entry points name a task."""
import math
from dataclasses import dataclass, field
from typing import Callable, Optional


@dataclass(frozen=True)
class Monitor:
    """The validation value behind a run's best.h5 and its recorded "best", and which way it improves."""

    metric: str
    mode: str  # "max" or "min", as Keras' ModelCheckpoint names it

    def improves(self, value, best) -> bool:
        """Whether `value` beats `best` (None: nothing yet); NaN and infinities never do."""
        if value is None or not math.isfinite(value):
            return False
        return best is None or (value > best if self.mode == "max" else value < best)


VAL_ACCURACY = Monitor("val_accuracy", "max")  # classification: the share of validation rows right
VAL_LOSS = Monitor("val_loss", "min")  # regression has no accuracy: the validation loss (mse) it trains on


@dataclass(frozen=True)
class Task:
    name: str
    description: str
    num_classes: int
    sample_shape: tuple  # the shape of one sample as the loader returns it (models reshape from it)
    load: Callable  # load(data_options: dict, seed, validation_split, limit) -> Dataset
    default_model: str
    # Task-level training defaults; a model's own defaults win over these, the command line over both.
    defaults: dict = field(default_factory=dict)
    # The task's own data options (--dataset, --data, ...), declared like every other option; their values form
    # TrainConfig.data_options.
    data_options: tuple = ()
    # read_predict_inputs(inputs, preprocessing): --predict inputs (file paths or rows of numbers) -> model-ready
    # features plus a label per input; `preprocessing` is the run's fitted TablePipeline or None.
    read_predict_inputs: Optional[Callable] = None
    predict_help: str = "inputs to predict"
    # "classification" (two classes: one sigmoid output), "softmax" (one output per class even for two, as the image
    # models have), or "regression" (one linear output, labels are float values)
    kind: str = "classification"
    # bind(task, data_options, recorded, announce) -> Task: a task whose classes and input width come from its data
    # (a CSV) is bound before training to the table, and before evaluate/predict/resume to what the run recorded.
    bind: Optional[Callable] = None
    # data_title(data_options) -> what the loader reads, for the status line while it loads ("Fashion-MNIST").
    data_title: Optional[Callable] = None

    def describe_data(self, data_options: dict) -> str:
        return self.data_title(data_options) if self.data_title else f"the {self.name} data"

    @property
    def binary(self) -> bool:
        return self.num_classes == 2 and self.kind == "classification"

    @property
    def regression(self) -> bool:
        return self.kind == "regression"

    @property
    def monitor(self) -> Monitor:
        return VAL_LOSS if self.regression else VAL_ACCURACY


TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    if task.name in TASKS:
        raise ValueError(f"Task {task.name!r} is registered twice.")
    TASKS[task.name] = task
    return task
