"""What a sweep varies: a --grid's combinations or a --space YAML file, checked against the task's options.

A search space file maps option names (any training or data option, or `model`) to one of:
    batch_size: [32, 64, 128]                  # a choice list (also {choice: [...]})
    epochs: {int: [2, 6]}                      # integers low..high inclusive ({int: [2, 6, 2]} adds a step)
    validation_split: {uniform: [0.05, 0.2]}   # a float range
    learning_rate: {loguniform: [1.0e-4, 1.0e-2]}
"""
from dataclasses import dataclass
from pathlib import Path

import yaml

from utils.core.errors import UsageError
from utils.core.options import OPTIONS

DISTRIBUTIONS = ("choice", "int", "uniform", "loguniform")
# Options of the sweep itself and of the output, never a setting of a trial.
SWEEP_OPTIONS = {"search", "trials", "space", "objective", "prune", "workers", "executor", "ray_address",
                 "gpus_per_trial", "resume_sweep", "name"}


@dataclass
class Parameter:
    name: str
    kind: str  # one of DISTRIBUTIONS
    values: list  # choice: the choices; ranges: [low, high] or [low, high, step]

    def distribution(self):
        """The Optuna distribution Optuna samples this parameter from."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "choice":
            return CategoricalDistribution(self.values)
        if self.kind == "int":
            return IntDistribution(self.values[0], self.values[1], step=self.values[2] if len(self.values) > 2 else 1)
        return FloatDistribution(self.values[0], self.values[1], log=self.kind == "loguniform")

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "values": self.values}


def sweepable_options(task) -> dict:
    """name -> Option for every setting a trial may take: the run settings (but the folder label) and the task's
    data options, from the declarations (utils.core.options)."""
    return {option.name: option for option in (*OPTIONS, *task.data_options)
            if (option.setting or option in task.data_options) and option.name not in SWEEP_OPTIONS}


def model_names(task) -> list:
    from models import models_for_task

    return [spec.name for spec in models_for_task(task.name)]


def check_value(task, options: dict, name: str, value, where: str):
    """The value converted and checked exactly as its command-line flag would be; one-line UsageError otherwise."""
    if name == "model":
        if value not in model_names(task):
            raise UsageError(f"{where}: unknown model {value!r}; valid: {', '.join(model_names(task))}.")
        return value
    option = options[name]
    converted = option.convert(value, where)
    problem = option.problem(converted)
    if problem:
        raise UsageError(f"{where}: {problem}")
    return converted


def check_name(options: dict, name: str, where: str) -> None:
    if name != "model" and name not in options:
        raise UsageError(f"{where}: unknown parameter {name!r}; valid: model, {', '.join(sorted(options))}.")


def parse_parameter(task, options: dict, name: str, entry, where: str) -> Parameter:
    check_name(options, name, where)
    if isinstance(entry, list):
        kind, values = "choice", entry
    elif isinstance(entry, dict) and len(entry) == 1:
        kind, values = next(iter(entry.items()))
    else:
        raise UsageError(f"{where}: {name} needs a list of choices or one of {', '.join(DISTRIBUTIONS)}: [low, high].")
    if kind not in DISTRIBUTIONS:
        raise UsageError(f"{where}: {name}: unknown distribution {kind!r}; valid: {', '.join(DISTRIBUTIONS)}.")
    if not isinstance(values, list) or not values:
        raise UsageError(f"{where}: {name}: {kind} needs a non-empty list. Received: {values!r}.")
    values = [check_value(task, options, name, value, where) for value in values]
    if kind == "choice":
        return Parameter(name, kind, values)
    if len(values) not in (2, 3) or (kind != "int" and len(values) != 2):
        raise UsageError(f"{where}: {name}: {kind} takes [low, high]{' or [low, high, step]' if kind == 'int' else ''}.")
    if not all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in values):
        raise UsageError(f"{where}: {name}: {kind} ranges need numbers. Received: {values!r}.")
    low, high = values[0], values[1]
    if kind == "int" and any(not float(value).is_integer() for value in values):
        raise UsageError(f"{where}: {name}: int ranges need whole numbers. Received: {values!r}.")
    if low > high:
        raise UsageError(f"{where}: {name}: the range [{low}, {high}] is reversed (low above high).")
    if low == high:
        raise UsageError(f"{where}: {name}: the range [{low}, {high}] is empty; use a choice list for one value.")
    if kind == "loguniform" and low <= 0:
        raise UsageError(f"{where}: {name}: loguniform needs low > 0. Received: {low}.")
    if kind == "int":
        values = [int(value) for value in values]
    else:
        values = [float(value) for value in values]
    return Parameter(name, kind, values)


def read_space(task, path) -> list:
    """The Parameters of a --space YAML file."""
    path = Path(path)
    where = f"--space {path}"
    if not path.is_file():
        raise UsageError(f"{where} does not exist.")
    try:
        entries = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise UsageError(f"{where} is not valid YAML: {str(error).splitlines()[0]}")
    if not isinstance(entries, dict) or not entries:
        raise UsageError(f"{where} must map option names to choices or ranges.")
    options = sweepable_options(task)
    return [parse_parameter(task, options, str(name).replace("-", "_"), entry, where) for name, entry in entries.items()]


def grid_parameters(task, items, models) -> tuple:
    """(Parameters as choice lists, combinations in order) of --grid KEY=V1,V2 ...; several -m models add an axis."""
    from utils.core.config_file import parse_grid

    combinations = parse_grid(items)
    if models and len(models) > 1 and "model" not in combinations[0]:
        combinations = [{"model": model, **combination} for model in models for combination in combinations]
    options = sweepable_options(task)
    parameters = []
    for name in combinations[0]:
        values = list(dict.fromkeys(combination[name] for combination in combinations))
        parameters.append(Parameter(name, "choice", [check_value(task, options, name, value, "--grid") for value in values]))
    return parameters, combinations
