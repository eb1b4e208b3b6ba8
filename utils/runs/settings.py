"""The settings a run trained with, as every view shows them (runs, diff, index.html, comparisons, sweeps).

New runs record the value they trained with for every setting given none (run.json's hyperparameters, filled by
the engine: the optimizer's learning rate, momentum and weight decay, steps per call, XLA). Older runs recorded
None there: what their record still tells (the optimizer's starting rate, the execution section) fills the gap, and
what nothing tells shows as the option's word for unset (`default`, `all`, `off`): never None.
"""
from utils.core.options import BY_NAME

NOT_APPLICABLE = "n/a"


def recorded_choices(data: dict) -> dict:
    """Values an older run recorded outside its hyperparameters, by setting name."""
    execution = data.get("execution") if isinstance(data.get("execution"), dict) else {}
    choices = {"steps_per_execution": execution.get("steps_per_execution"), "jit": execution.get("jit_compile")}
    if isinstance(data.get("base_learning_rate"), (int, float)):
        choices["learning_rate"] = float(f"{data['base_learning_rate']:.7g}")  # off float32 noise
    optimizer = execution.get("optimizer")
    if isinstance(optimizer, dict):  # the built optimizer: a setting it lacks does not apply, a None one is off
        for key in ("momentum", "nesterov", "weight_decay"):
            choices[key] = NOT_APPLICABLE if key not in optimizer else "off" if optimizer[key] is None else optimizer[key]
    return choices


def trained_hyperparameters(data: dict) -> dict:
    """The settings to train a run again with (resume, rerun): its hyperparameters, with the XLA choice it compiled
    with where the record left `jit` unset (older runs; a run stopped before its resolved settings were saved), so
    that today's default does not decide again."""
    hyperparameters = dict(data.get("hyperparameters") or {})
    compiled = recorded_choices(data)["jit"]
    if hyperparameters.get("jit") is None and isinstance(compiled, bool):
        hyperparameters["jit"] = compiled
    return hyperparameters


def unset_word(key: str) -> str:
    option = BY_NAME.get(key)
    return option.unset if option is not None else "default"


def effective_settings(data: dict) -> dict:
    """The run's hyperparameters with the task's data options flattened in (dataset, data_dir, data), no value None."""
    settings = dict(data.get("hyperparameters") or {})
    settings.update(settings.pop("data_options", None) or {})
    choices = recorded_choices(data)
    for key, value in settings.items():
        if value is None:
            settings[key] = choices.get(key) if choices.get(key) is not None else unset_word(key)
    return settings
