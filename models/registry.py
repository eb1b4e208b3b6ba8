"""The model registry: one decorated function per model, its name is its CLI name.

Importing the registry (and the model modules) never imports Keras: each build function imports it when called,
so `--list`, `--help` and a typo in a model name answer without TensorFlow. A model declares its parameter count
(at its task's input shape) for `--list`; tests/test_registry.py builds every model and checks the declaration."""
import difflib
import inspect
from dataclasses import dataclass, field
from typing import Callable, Optional


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: str
    build: Callable  # build(input_shape, num_classes) -> keras.Model
    description: str
    # The model's own training defaults (optimizer, learning_rate, loss, ...); the command line overrides them.
    defaults: dict = field(default_factory=dict)
    params: Optional[int] = None  # trainable + non-trainable weights at the task's sample shape, as declared


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(task: str, params: Optional[int] = None, **defaults):
    """Register `build(input_shape, num_classes)` under its function name for `task`, with its declared `params`."""

    def decorate(build):
        name = build.__name__
        if name in _REGISTRY:
            raise ValueError(f"Model name {name!r} is registered twice.")
        description = inspect.getdoc(build) or ""
        _REGISTRY[name] = ModelSpec(name, task, build, description.splitlines()[0] if description else "", defaults, params)
        return build

    return decorate


def registered_names() -> list[str]:
    return list(_REGISTRY)


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
