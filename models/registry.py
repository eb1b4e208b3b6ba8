"""The model registry: one decorated function per model, its name is its CLI name."""
import difflib
import inspect
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: str
    build: Callable  # build(input_shape, num_classes) -> keras.Model
    description: str
    # The model's own training defaults (optimizer, learning_rate, loss, ...); the command line overrides them.
    defaults: dict = field(default_factory=dict)


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(task: str, **defaults):
    """Register `build(input_shape, num_classes)` under its function name for `task`."""

    def decorate(build):
        name = build.__name__
        if name in _REGISTRY:
            raise ValueError(f"Model name {name!r} is registered twice.")
        description = inspect.getdoc(build) or ""
        _REGISTRY[name] = ModelSpec(name, task, build, description.splitlines()[0] if description else "", defaults)
        return build

    return decorate


def models_for_task(task: str) -> list[ModelSpec]:
    return [spec for spec in _REGISTRY.values() if spec.task == task]


def get_model(task: str, name: str) -> ModelSpec:
    """The spec of `name` for `task`; an unknown name raises KeyError with the valid names and closest match."""
    names = [spec.name for spec in models_for_task(task)]
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"Unknown model {name!r} for task {task!r}.{hint} Valid names: {', '.join(names)}.")
    return _REGISTRY[name]
