"""The task registry: what data a task trains on and how its labels look. Entry points name a task."""
from dataclasses import dataclass, field
from typing import Callable, Optional


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
    # Adds the task's own data options (--dataset, --data, ...) to the shared parser; their values form data_options.
    add_data_arguments: Optional[Callable] = None
    data_option_names: tuple = ()
    # Turns --predict inputs (file paths or rows of numbers) into model-ready features plus a label per input.
    read_predict_inputs: Optional[Callable] = None
    predict_help: str = "a model path, then inputs"

    @property
    def binary(self) -> bool:
        return self.num_classes == 2


TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    if task.name in TASKS:
        raise ValueError(f"Task {task.name!r} is registered twice.")
    TASKS[task.name] = task
    return task
