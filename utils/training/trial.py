"""The training side of a sweep trial: a run started by a sweep driver learns it is a trial from one environment
variable, records `sweep: {id, trial}` in its run.json, reports its objective to the Optuna trial each epoch and
stops when Optuna's pruner says so.

The driver (utils/sweeps) sets RUNNER_SWEEP_TRIAL to a JSON object:
    {"sweep": "<sweep folder name>", "trial": "<trial id>", "objective": "val_accuracy",
     "storage": "<path of the Optuna journal file>" or null, "study": "<study name>", "optuna_trial_id": 3,
     "prune": "median" | "hyperband" | null, "epochs": 10}
With no "storage" (a Ray worker on another machine cannot reach the driver's file) the trial only records itself.
The engine sees this as one more tracker (integrations.trackers_for), so no task or model knows about sweeps.
"""
import json
import os

# Keras-free: the sweep driver reads TRIAL_ENVIRONMENT and make_pruner from here without importing TensorFlow
# (the run's tracker and its Keras callback that reports to the study are utils/training/study_report.py).
from utils.core.signals import TrainingInterrupted

TRIAL_ENVIRONMENT = "RUNNER_SWEEP_TRIAL"


class TrialPruned(TrainingInterrupted):
    """Raised at the end of an epoch whose objective Optuna's pruner judged hopeless; the run ends as `pruned`.

    A kind of TrainingInterrupted so the engine writes the checkpoints held in memory, as for a signal.
    """

    def __init__(self, epoch: int, value: float):
        Exception.__init__(self, f"pruned by the sweep after epoch {epoch} ({value:.4g})")
        self.epoch = epoch
        self.signal_number = None


def make_pruner(prune, epochs: int):
    """Median: stop a trial whose epoch is worse than the median of earlier trials at that epoch, once 2 trials
    finished and from the second epoch on. Hyperband: successive halving over 1..epochs. The driver and every
    trial build the same one: Optuna asks the pruner of the process that calls should_prune()."""
    import optuna

    if prune == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    if prune == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(epochs, 2))
    return optuna.pruners.NopPruner()


def trial_settings():
    """The driver's settings for this run, or None when the run is not a sweep trial."""
    text = os.environ.get(TRIAL_ENVIRONMENT)
    return json.loads(text) if text else None


def trial_record_facts() -> dict:
    """run.json's `sweep: {id, trial}` from the moment the folder exists: a trial stopped before its trackers start
    is still found (and continued in its own folder) by the driver, never left beside a second one."""
    settings = trial_settings()
    return {"sweep": {"id": settings["sweep"], "trial": settings["trial"]}} if settings else {}
