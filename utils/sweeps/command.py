"""The child command of a trial: the task's own entry point with the trial's options, as a user would type it.

Trials learn they are trials from the RUNNER_SWEEP_TRIAL environment variable (utils/training/trial.py); CPU
threads are split through TensorFlow's TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS (checked: a process given
1 runs 5 threads after a matmul and a tf.data pipeline, given 6 it runs 17), GPUs through CUDA_VISIBLE_DEVICES.
"""
import json
import os
from pathlib import Path

from utils.training.trial import TRIAL_ENVIRONMENT

PROJECT = Path(__file__).resolve().parent.parent.parent


def script_of(task_name: str) -> str:
    """The entry point's file name, relative to the project folder (the working folder of every trial)."""
    return f"{task_name}.py"


def base_options(args, options: dict) -> dict:
    """dest -> value of every trial setting the sweep's own command line (and --config) gave."""
    chosen = {}
    for dest in options:
        value = getattr(args, dest, None)
        if value is None or (value is False and not options[dest].negatable):  # --no-jit is a choice, not unset
            continue
        chosen[dest] = value
    return chosen


def option_arguments(options: dict, values: dict) -> list:
    """['--learning-rate', '0.001', '--nesterov', '-m', 'conv_net', ...] for a dict of name -> value."""
    arguments = []
    for name, value in values.items():
        if name == "model":
            arguments += ["--model", *(value if isinstance(value, list) else [value])]
            continue
        option = options[name]
        if option.negatable:
            arguments.append(option.flag_name if value else f"--no-{option.flag_name[2:]}")
        elif option.flag:
            if value:
                arguments.append(option.flag_name)
        else:
            arguments += [option.flag_name, *(map(str, value) if isinstance(value, list) else [str(value)])]
    return arguments


def trial_arguments(sweep_spec: dict, options: dict, trial) -> list:
    """Options of a fresh run of `trial`: the sweep's base options with the trial's parameters on top."""
    values = {**sweep_spec["base_options"], **trial.params}
    return option_arguments(options, values) + ["--name", f"trial{trial.trial}"]


def trial_environment(sweep_spec: dict, trial, storage, threads) -> dict:
    settings = {
        "sweep": sweep_spec["sweep_id"], "trial": trial.trial, "objective": sweep_spec["objective"],
        "storage": str(storage) if storage and sweep_spec["prune"] else None,
        "study": sweep_spec["study"], "optuna_trial_id": trial.optuna_trial_id,
        "prune": sweep_spec["prune"], "epochs": sweep_spec["epochs"],
    }
    environment = {TRIAL_ENVIRONMENT: json.dumps(settings), "PYTHONUNBUFFERED": "1"}
    if threads:
        for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
            environment[name] = os.environ.get(name, str(threads))
    return environment
