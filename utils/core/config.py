"""The resolved settings of one run: task defaults, then the model's own, then the command line (or --config).

TrainConfig's fields are generated from the option declarations (utils.core.options), so a new option is one
declaration and nothing here changes.
"""
from dataclasses import asdict, field, fields, make_dataclass
from typing import Any

from utils.core.errors import UsageError
from utils.core.options import setting_options


def _to_dict(self) -> dict:
    return asdict(self)


@classmethod
def _from_dict(cls, data: dict):
    """A TrainConfig from run.json's hyperparameters; keys of other versions are ignored, missing ones defaulted."""
    known = {item.name: item for item in fields(cls)}
    return cls(**{key: value for key, value in data.items() if key in known})


TrainConfig = make_dataclass(
    "TrainConfig",
    [("task", str, field(default="")), ("model", str, field(default=""))]
    + [(option.name, Any, field(default=option.default)) for option in setting_options()]
    + [("data_options", dict, field(default_factory=dict))],  # the task's own data flags (--dataset, --data, ...)
    namespace={"to_dict": _to_dict, "from_dict": _from_dict,
               "__doc__": "The settings of one run; each field is declared as an option in utils.core.options."},
)


def resolve_config(task, spec, options: dict) -> "TrainConfig":
    """Merge declared defaults < task defaults < model defaults < explicit options (those not None); then check."""
    settings = {option.name: option.default for option in setting_options()}
    settings.update(task.defaults)
    settings.update(spec.defaults)
    settings.update({key: value for key, value in options.items() if value is not None})
    config = TrainConfig.from_dict({**settings, "task": task.name, "model": spec.name})
    check_config(config)
    if config.augment and len(task.sample_shape) < 2:
        raise UsageError(f"--augment applies to image tasks, not {task.name}.")
    return config


def check_config(config) -> None:
    """Reject values no run could use, before anything is written: each option's declared check, then the rules
    that join several options or the environment."""
    for option in setting_options():
        problem = option.problem(getattr(config, option.name))
        if problem:
            raise UsageError(problem)
    if config.mlflow:
        try:
            import mlflow  # noqa: F401
        except ImportError:
            raise UsageError("--mlflow needs the mlflow package: pip install mlflow")
