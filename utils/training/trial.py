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

import keras

from utils.training.callbacks import TrainingInterrupted, finished_epoch

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


class ReportToStudy(keras.callbacks.Callback):
    """Reports the objective at each epoch end (step = 1-based epoch) and raises TrialPruned when told to stop.

    It runs after the checkpoint callbacks, so a pruned run keeps every epoch it trained.
    """

    def __init__(self, settings: dict):
        super().__init__()
        import optuna
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.objective = settings["objective"]
        storage = JournalStorage(JournalFileBackend(settings["storage"]))
        study = optuna.load_study(study_name=settings["study"], storage=storage,
                                  pruner=make_pruner(settings.get("prune"), settings.get("epochs") or 1))
        self.trial = optuna.trial.Trial(study, settings["optuna_trial_id"])

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.objective)
        if value is None:
            return
        self.trial.report(float(value), step=finished_epoch(epoch))
        if self.trial.should_prune():
            raise TrialPruned(finished_epoch(epoch), float(value))


class SweepTrialTracker:
    """The tracker hooks (callbacks/finish) for a run that is one trial of a sweep."""

    def __init__(self, settings: dict, record):
        self.settings = settings
        record.note(sweep={"id": settings["sweep"], "trial": settings["trial"]})

    def callbacks(self):
        return [ReportToStudy(self.settings)] if self.settings.get("storage") else []

    def finish(self, status, record):
        pass
