"""The sweep's Optuna study: samplers and pruners from Optuna, kept in a JournalStorage file in the sweep folder
(crash-safe, offline, safe for several processes; optuna#820, #6036)."""
from utils.core.errors import UsageError, UserError
from utils.training.trial import make_pruner

SAMPLERS = ("random", "tpe")
PRUNERS = ("median", "hyperband")


def require_optuna():
    try:
        import optuna
    except ImportError:
        raise UsageError("Sweeps need the optuna package: pip install -r requirements-optional.txt")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def direction_of(objective: str) -> str:
    """Losses are minimized, every other metric (accuracy, AUC) maximized."""
    return "minimize" if objective.endswith("loss") else "maximize"


def make_sampler(method: str, seed: int):
    optuna = require_optuna()
    # A grid's trials are enqueued with their values; the sampler only fills what is not fixed (nothing).
    if method == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def open_study(journal, spec: dict, trials_so_far: int = 0):
    """Create or load the study of a sweep (the same call on resume); return it with the storage it lives in, whose
    public methods give trial ids and states.

    A new sweep's sampler is seeded with the sweep's seed, so it is reproducible. A resumed one continues from
    seed + trials so far: reseeding with the seed alone would draw the first trials' parameters again.
    """
    optuna = require_optuna()
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(journal)))
    study = optuna.create_study(
        study_name=spec["study"], storage=storage, load_if_exists=True, direction=spec["direction"],
        sampler=make_sampler(spec["method"], spec["seed"] + trials_so_far), pruner=make_pruner(spec["prune"], spec["epochs"] or 1),
    )
    return study, storage


def check_journal(journal) -> None:
    """Replay the journal as Optuna will; a damaged one is one line naming it (a missing one is created later)."""
    from pathlib import Path

    if not Path(journal).exists():
        return
    require_optuna()
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    try:
        JournalStorage(JournalFileBackend(str(journal))).get_all_studies()
    except Exception as error:  # Optuna's replay raises what the broken line gives (UnicodeDecodeError, KeyError, ...)
        reason = str(error).splitlines()[0][:120] if str(error) else ""
        raise UserError(f"{journal} is damaged ({type(error).__name__}: {reason}); the Optuna study cannot be read. "
                        f"Restore it from a backup, or start a new sweep.")


def ask(study, storage, parameters, fixed=None):
    """A new Optuna trial, sampled from `parameters` or carrying the `fixed` values (grid points, reruns): its
    storage id (what the trial process reports to) and its parameters."""
    distributions = {parameter.name: parameter.distribution() for parameter in parameters}
    if fixed is not None:
        study.enqueue_trial(fixed, skip_if_exists=False)
    trial = study.ask(distributions)
    study_id = storage.get_study_id_from_name(study.study_name)
    return storage.get_trial_id_from_study_id_trial_number(study_id, trial.number), trial.params


def is_running(storage, optuna_trial_id) -> bool:
    return storage.get_trial(optuna_trial_id).state == require_optuna().trial.TrialState.RUNNING


def tell(study, storage, optuna_trial_id, status: str, objective) -> None:
    optuna = require_optuna()
    trial_number = storage.get_trial_number_from_id(optuna_trial_id)
    if status == "completed" and objective is not None:
        study.tell(trial_number, objective, skip_if_finished=True)
    elif status == "pruned":
        study.tell(trial_number, state=optuna.trial.TrialState.PRUNED, skip_if_finished=True)
    elif status == "failed" or status == "completed":
        study.tell(trial_number, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
    # interrupted: the Optuna trial stays RUNNING, and the continued run reports to it again
