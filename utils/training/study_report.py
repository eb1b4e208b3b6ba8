"""A sweep trial's tracker and its Keras callback, which reports the objective to the Optuna study each epoch and
stops the run when the study's pruner says so (utils/training/trial.py holds the rest of the trial's side, free of
Keras, for the driver)."""
import keras

from utils.training.callbacks import finished_epoch
from utils.training.trial import TrialPruned, make_pruner


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
