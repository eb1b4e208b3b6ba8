"""The one training engine: every entrypoint, task and model trains through `train_new_run` or `resume_run`.

Both build a TrainingSession (the run's record, model, task, settings, data) and hand it to `run_session`, which
fits the remaining epochs and finishes the run, recording how it ended whatever happens.
"""
import contextlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import keras

from utils.core import atomic
from utils.core.config import TrainConfig
from utils.core.config_file import save_resolved_config
from utils.core.errors import UsageError, UserError
from utils.reports import evaluation as reports
from utils.reports.drawing import FigureJobs
from utils.reports.html import write_run_report
from utils.reports.index_page import refresh_index_page
from utils.reports.network import plot_network, write_model_summary
from utils.training.trial import TrialPruned, trial_record_facts
from utils.reports.plots import plot_history
from utils.runs.folder import RunFolder
from utils.core.signals import TrainingInterrupted
from utils.runs.record import RunRecord
from utils.runs.settings import trained_hyperparameters
from utils.tasks.inputs import encode_labels, shape_inputs
from utils.training import backend, callbacks
from utils.training.checkpoints import (
    WrittenCheckpoints, load_model_file, restore_optimizer_state, restore_seed_states, save_final_model,
    usable_checkpoint,
)
from utils.training.compile import (
    build_model, build_optimizer, built_optimizer_settings, canonical_loss, compile_model, resolved_settings,
)
from utils.training.distribution import make_distribution, weights_sha256
from utils.training.inputs import EpochPlan, training_dataset, validation_batch_size, validation_dataset
from utils.training.integrations import trackers_for
from utils.training.model_files import keep_models_file, load_run_models, models_file_facts
from utils.training.outcome import TrackerFailed, recorded_outcome
from utils.training.placement import SingleProcess
from utils.training.test_pass import test_pass


@dataclass
class RunContext:
    """Where runs go and how loudly; shared by every run of one command."""

    outputs: Path
    verbosity: int = 1  # 0 quiet, 1 normal, 2 verbose (TensorFlow's logs too)
    distribution: Optional[object] = None  # a tf.distribute wrapper (utils.training.distribution)
    placement: SingleProcess = field(default_factory=SingleProcess)  # or a process of a multi-worker job
    record_facts: dict = field(default_factory=dict)  # more for each new run.json (a rerun's link to its original)


@dataclass
class TrainingSession:
    """Everything one stretch of training needs, travelling together."""

    record: RunRecord
    model: object  # a compiled keras.Model
    task: object
    config: TrainConfig
    dataset: object
    verbosity: int = 1
    initial_epoch: int = 0  # epochs already finished (a resume starts after them)
    best_so_far: Optional[float] = None  # the monitored value behind an existing best.h5
    saved_state: Optional[dict] = None  # other callbacks' counters from the checkpoint
    placement: SingleProcess = field(default_factory=SingleProcess)
    # The run's figures, drawn by the drawing process from set-up (the network picture) to the end (the report
    # waits for them all).
    figures: FigureJobs = field(default_factory=FigureJobs)

    @property
    def folder(self) -> RunFolder:
        return self.record.folder

    def epoch_plan(self) -> EpochPlan:
        return self.placement.epoch_plan(self.config, self.initial_epoch)

    @property
    def steps_per_epoch(self) -> int:
        return self.epoch_plan().steps_per_epoch(len(self.dataset.x_train))


def say(verbosity: int, message: str) -> None:
    if verbosity > 0:
        print(message, flush=True)


def check_plans(configs) -> object:
    """Refuse settings no run could use before anything is written; return the tf.distribute wrapper, if any.

    The strategy is made first: tf.distribute must exist before any other TensorFlow work (the checks create
    variables). A multi-worker job has been joined before this (utils.training.multiworker.placement_for)."""
    first = configs[0]
    for config in configs:
        if config.deterministic or config.distribute == "mirrored":
            backend.require_tensorflow("--deterministic" if config.deterministic else f"--distribute {config.distribute}")
    distribution = make_distribution(first.distribute, first.devices, first.logical_cpus)
    for config in configs:
        build_optimizer(config)
        canonical_loss(config.loss)
    return distribution


def train_new_run(task, spec, config, dataset, context: RunContext) -> Path:
    """Build `spec`, train it on `dataset` into a new run folder, evaluate on the test set once, write the report.

    Under tf.distribute the model is built and compiled in the strategy's scope.
    """
    from utils.training.setup import seed_everything

    seed_everything(config.seed, config.deterministic)
    distribution, placement = context.distribution, context.placement
    say(context.verbosity, f"building {config.model} ...")
    model, jit = built_model(spec, task, config, dataset, distribution, placement)
    shape_inputs(model, dataset.x_train[:1])  # refuse a model that does not fit before creating anything

    label = f"{config.model}_{config.name}" if config.name else config.model
    folder = placement.create_folder(context.outputs, label)
    # The lock is held for the run's whole life: `runs` shows `running` while it is held, `crashed` once the
    # process is gone, and a second trainer (a resume of this folder) is refused.
    with contextlib.ExitStack() as held:
        with placement.starting(folder):  # a full disk leaves no folder behind
            held.enter_context(placement.lock(folder, "train"))
            facts = {**new_run_facts(task, config, dataset, model, jit.reason), **trial_record_facts(),
                     **context.record_facts}
            record = placement.create_record(folder, **facts)
            record.record_resolved_settings(resolved_settings(model))  # what the run trains with where none was given
        session = TrainingSession(record, model, task, config, dataset, verbosity=context.verbosity,
                                  placement=placement)
        run_session(session, setup=lambda: start_new_run(session, distribution))
    return folder.path


def built_model(spec, task, config, dataset, distribution, placement):
    """`spec` built and compiled for `dataset`, in the tf.distribute strategy's scope when there is one, and its
    XLA choice."""
    with distribution.strategy.scope() if distribution else contextlib.nullcontext():
        model = build_model(spec, config, dataset.x_train.shape[1:], task.num_classes)
        jit = compile_model(model, task, config, placement.epoch_plan(config).steps_per_epoch(len(dataset.x_train)),
                            distributed=distribution is not None)
    return model, jit


def start_new_run(session: TrainingSession, distribution) -> None:
    """What a new run does inside its error handling before its first epoch."""
    folder, config, model, dataset = session.folder, session.config, session.model, session.dataset
    if distribution is not None:
        session.record.note(distribution=distribution.describe())
    session.placement.note(session.record)
    session.placement.owns(write_run_files, folder, model, config, dataset, session.figures.draw)
    say(
        session.verbosity,
        f"Training {config.model} ({model.count_params():,} params) on {dataset.name}: "
        f"{len(dataset.x_train):,} train / {len(dataset.x_val):,} validation / {len(dataset.x_test):,} test samples, "
        f"{config.epochs} epochs, batch size {config.batch_size}, run folder {folder}",
    )


def new_run_facts(task, config, dataset, model, jit_reason: str) -> dict:
    """What a new run's record says before its first epoch."""
    facts = dict(
        task=task.name,
        model=config.model,
        hyperparameters=config.to_dict(),
        data={
            "name": dataset.name,
            "source": dataset.source,
            "sha256": dataset.sha256,
            "sizes": dataset.sizes(),
            "class_names": list(dataset.class_names),
            "notes": dataset.notes,
            **dataset.facts,
        },
        parameters=int(model.count_params()),
        execution={
            "steps_per_execution": model.steps_per_execution,
            "jit_compile": bool(model.jit_compile),
            "jit_reason": jit_reason,
            "dtype_policy": model.dtype_policy.name,
            "backend": backend.name(),
            "gpu": backend.has_gpu(),
            "optimizer": built_optimizer_settings(model),
        },
    )
    if config.models_file:
        facts["models_file"] = models_file_facts(config.models_file)
    return facts


def write_run_files(folder: RunFolder, model, config, dataset, draw) -> None:
    """What a run knows before its first epoch: the model summary, the resolved settings, the preprocessing, the
    network picture (rendered by `draw`: the drawing process, during training)."""
    folder.checkpoints.mkdir(exist_ok=True)  # a run restarted before its first checkpoint has it already
    if config.models_file and not folder.models_copy.is_file():  # a restarted run keeps the copy it has
        keep_models_file(config.models_file, folder)
    write_model_summary(model, folder.summary)
    save_resolved_config(config, folder.resolved_config)
    if dataset.preprocessing is not None:
        atomic.write_json(folder.preprocessing, dataset.preprocessing.to_json())
    for name, write in dataset.run_files.items():
        with atomic.atomic_path(getattr(folder, name)) as temporary:
            write(temporary)
    plot_network(model, folder.figures.model, draw)  # for report.html


def resume_run(task, path, epochs, verbosity: int = 1, placement: Optional[SingleProcess] = None) -> Path:
    """Continue a run from its last valid checkpoint up to `epochs` in total, appending to its history and run.json.

    A run whose epochs are all done but which never finished (interrupted, crashed or failed during the final
    save, evaluation or report) is finished: its model is saved, evaluated and reported. A mirrored run gets its
    strategy again; in a multi-worker job (joined already) process 0 checks the run and hands its record and last
    checkpoint to the others, which may not see the folder."""
    placement = placement or SingleProcess()
    # How the run stood before this process's own lock makes it `running`.
    status_before = placement.owns(lambda: RunRecord.load(path).status)
    with placement.lock(path, "resume"):
        record = placement.resumable_record(lambda: resumable_record(task, path, placement, epochs, status_before))
        session, checkpoint_name, distribution = resume_session(task, record, epochs, placement)
        session.verbosity = verbosity
        # run.json is told about the resume inside the run's error handling: a signal then marks it interrupted.
        run_session(session, setup=lambda: begin_resume(session, status_before, checkpoint_name, distribution))
    print(path)
    return Path(path)


def resumable_record(task, path, placement, epochs, status_before) -> RunRecord:
    """The record of a run this task can resume in this job (up to `epochs`), or one clear UserError."""
    record = RunRecord.load(path)  # as the lock holder sees it
    folder = record.folder
    if record.get("task") != task.name:
        raise UserError(f"{folder} is a {record.get('task')} run; resume it with {record.get('task')}.py.")
    placement.check_resume(record.get("hyperparameters", {}))
    # Checked here, quietly: resume_session loads it and says which checkpoint it fell back to, once.
    done = resume_checkpoint(folder, lambda message: None).info.epoch if has_checkpoint(folder) else 0
    target = epochs or record.get("hyperparameters")["epochs"]
    if target < done or (target == done and status_before == "completed"):
        raise UsageError(f"{folder} already has {done} epochs; pass --epochs N with N > {done} to train further.")
    return record


def resume_session(task, record, epochs, placement) -> tuple:
    """(the session going on from the newest valid checkpoint with the run's data again, that checkpoint's name,
    the run's tf.distribute strategy again or None)."""
    from utils.training.saved_models import reload_dataset
    from utils.training.setup import seed_everything

    config = TrainConfig.from_dict(trained_hyperparameters(record.data))
    load_run_models(record.folder)  # the run's own copy: the original file may have changed or gone
    if not has_checkpoint(record.folder):
        return restart_session(task, record, config, epochs, placement)
    checkpoint = resume_checkpoint(record.folder)
    done = checkpoint.info.epoch
    distribution = resumed_distribution(config)
    seed_everything(config.seed, config.deterministic)
    config.epochs = max(epochs or config.epochs, done)  # == done: the epochs are done but the run never finished
    with distribution.strategy.scope() if distribution else contextlib.nullcontext():
        model = reload_for_training(record, task, config, checkpoint.path, distribution is not None, placement)
    dataset = reload_dataset(task, record, config)
    session = TrainingSession(
        record, model, task, config, dataset, initial_epoch=done,
        best_so_far=checkpoint.best_value, saved_state=checkpoint.info.callback_state, placement=placement,
    )
    return session, checkpoint.path.name, distribution


def restart_session(task, record, config, epochs, placement) -> tuple:
    """A run stopped before its first checkpoint starts again from epoch 1 in its own folder, with its own seed."""
    from models import get_model
    from utils.training.saved_models import reload_dataset
    from utils.training.setup import seed_everything

    distribution = resumed_distribution(config)
    seed_everything(config.seed, config.deterministic)
    config.epochs = epochs or config.epochs
    dataset = reload_dataset(task, record, config)
    model, _ = built_model(get_model(task.name, config.model), task, config, dataset, distribution, placement)
    return TrainingSession(record, model, task, config, dataset, placement=placement), None, distribution


def has_checkpoint(folder) -> bool:
    return folder.last_checkpoint.is_file() or folder.best_checkpoint.is_file()


def resumed_distribution(config):
    """The run's tf.distribute strategy again (a mirrored run resumed on one device would change its batches)."""
    if config.distribute != "mirrored":
        return None
    backend.require_tensorflow("--resume of a --distribute mirrored run")
    return make_distribution(config.distribute, config.devices, config.logical_cpus)


def begin_resume(session: TrainingSession, status_before, checkpoint_name, distribution) -> None:
    record, folder, done, target = session.record, session.folder, session.initial_epoch, session.config.epochs
    gap = record.begin_resume(done, target, status_before, checkpoint_name, monitor=session.task.monitor)
    if gap and session.placement.owns_folder:  # a follower's private copy never had a history to lack epochs of
        warn(f"{folder.history} lacks epochs {gap[0]}-{gap[-1]} (deleted or damaged); the history goes on from "
             f"epoch {done + 1} and the gap is recorded in the run record.")
    if distribution is not None:
        record.note(distribution=distribution.describe())
    session.placement.note(record)
    model = record.get("model")
    if done == 0:
        session.placement.owns(write_run_files, folder, session.model, session.config, session.dataset,
                               session.figures.draw)
        say(session.verbosity, f"Restarting {model} from epoch 1 (it stopped before its first epoch ended), up to "
            f"{target} epochs, in {folder}")
        return
    say(session.verbosity, f"Finishing {model}: all {target} epochs are done; saving, evaluating and reporting in {folder}"
        if target == done else f"Resuming {model} after epoch {done}, up to {target} epochs, in {folder}")


def resume_checkpoint(folder, say=None):
    """The checkpoint to go on from: checked, falling back from a damaged last.h5 to best.h5 with a warning."""
    if not folder.last_checkpoint.is_file() and not folder.best_checkpoint.is_file():
        raise UserError(f"{folder} has no last checkpoint: no epoch finished, so there is nothing to resume; train again.")
    return usable_checkpoint(folder, say or warn)


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def reload_for_training(record, task, config, last, distributed: bool, placement: SingleProcess):
    """The checkpoint's model, compiled afresh, with its optimizer and dropout RNG state restored."""
    # The layers keep their saved dtype policies, but the model's own (which decides loss scaling) comes from here.
    with backend.dtype_policy(record.get("execution", {}).get("dtype_policy", "float32")):
        model = load_model_file(last, task, compile=False)
    steps = placement.epoch_plan(config).steps_per_epoch(record.get("data")["sizes"]["train"])
    compile_model(model, task, config, steps, distributed=distributed)
    restore_optimizer_state(model, last)
    restore_seed_states(model, last)
    return model


def run_session(session: TrainingSession, setup=None) -> None:
    """Run `setup`, start the trackers, fit from session.initial_epoch to config.epochs, then finish the run;
    whatever happens on the way is recorded in run.json (utils.training.outcome)."""
    record, folder = session.record, session.folder
    trackers = []
    try:
        with recorded_outcome(record):
            if setup is not None:
                setup()
            trackers = session.placement.owns(start_trackers, session.config, record, folder.path.parent) or []
            try:
                fit(session, [callback for tracker in trackers for callback in tracker.callbacks()])
                session.placement.finish(session, finish_run)
            except TrialPruned as pruned:  # a sweep trial stopped by its pruner keeps its epochs and checkpoints
                finish_pruned(session, pruned)
    finally:
        end_trackers(trackers, record)
        # outputs/index.html lists every run as it ends
        session.placement.owns(refresh_outputs_index, folder.path.parent, session.verbosity)


def refresh_outputs_index(outputs: Path, verbosity: int) -> None:
    say(verbosity, f"updating {outputs / 'index.html'} ...")
    refresh_index_page(outputs)


def start_trackers(config, record, outputs) -> list:
    """The run's integrations. A tracker that cannot start fails the run before its first epoch: the user asked
    for the run to be tracked, and an untracked run would be noticed only later (README: tracker policy)."""
    try:
        return trackers_for(config, record, outputs)
    except (UserError, TrainingInterrupted, KeyboardInterrupt):
        raise
    except Exception as error:  # MLflow and its stores raise many kinds (sqlite, permissions, HTTP)
        message = " ".join(str(error).split())[:200] or type(error).__name__
        asked = " and ".join(flag for flag, wanted in (("--mlflow", config.mlflow), ("--tensorboard", config.tensorboard)) if wanted)
        raise TrackerFailed(f"{asked or 'a tracker'} could not start: {type(error).__name__}: {message}")


def fit(session: TrainingSession, extra_callbacks=()) -> None:
    """model.fit over the remaining epochs; only the process owning the run folder writes history and checkpoints."""
    from utils.training.augment import image_augmenter
    from utils.training.schedules import feature_callbacks

    config, model, dataset, task = session.config, session.model, session.dataset, session.task
    if session.initial_epoch >= config.epochs:
        return
    features = feature_callbacks(config, recorded_learning_rate(session), session.saved_state)
    checkpoints = session.placement.owns(checkpoint_callbacks, session, features) or []
    history = session.placement.owns(history_logger, session) or []
    guard = callbacks.StopOnSignal()
    fit_callbacks = [
        callbacks.EpochTimer(), callbacks.LearningRateLogger(), callbacks.NanGuard(), *features.values(),
        *history, *checkpoints, callbacks.RunProgress(session.record, monitor=task.monitor),
        *callbacks.progress_callbacks(session.verbosity),
        *extra_callbacks, guard,
    ]
    plan = session.epoch_plan()
    try:
        model.fit(
            training_dataset(
                shape_inputs(model, dataset.x_train), encode_labels(task, dataset.y_train), plan,
                augment=image_augmenter(model, config) if config.augment else None,
            ),
            steps_per_epoch=session.steps_per_epoch,
            epochs=config.epochs,
            initial_epoch=session.initial_epoch,
            validation_data=validation_dataset(
                shape_inputs(model, dataset.x_val), encode_labels(task, dataset.y_val), validation_batch_size(config)
            ),
            # tf.data validation batches itself; the arrays other backends get are batched by Keras.
            validation_batch_size=None if backend.is_tensorflow() else validation_batch_size(config),
            callbacks=fit_callbacks,
            shuffle=False,  # training_dataset shuffles, per epoch, reproducibly
            verbose=fit_verbosity(session.verbosity),
        )
    except (callbacks.TrainingInterrupted, callbacks.LossNotFinite, KeyboardInterrupt):
        # Checkpoints held in memory are finished epochs: write them before reporting how training ended.
        for checkpoint in checkpoints:
            checkpoint.flush()
        raise
    except Exception as error:
        session.placement.check_fit_error(error)
        raise
    finally:
        guard.restore_handlers()
    note_early_stopping(session, features.get("early_stopping"))


def recorded_learning_rate(session: TrainingSession) -> float:
    """The optimizer's starting learning rate, kept across resumes (schedules scale it); a run given none records
    the default it trains with."""
    value = float(keras.ops.convert_to_numpy(session.model.optimizer.learning_rate))
    base = session.record.remember("base_learning_rate", value)
    session.record.record_default_learning_rate(base)
    return base


def history_logger(session: TrainingSession) -> list:
    return [callbacks.HistoryLogger(session.folder.history, append=session.initial_epoch > 0)]


def checkpoint_callbacks(session: TrainingSession, features: dict) -> list:
    """last.h5 every epoch, best.h5 when the monitored value improves (a hard link to last.h5 when both hold the
    same epoch); both carry the feature callbacks' counters, so either can be resumed from exactly."""
    budget, monitor = session.placement.checkpoint_options, session.task.monitor
    shared = dict(
        written=WrittenCheckpoints(monitor.metric), **budget,
        state_provider=lambda: {name: callback.state() for name, callback in features.items() if hasattr(callback, "state")},
    )
    return [
        callbacks.AtomicCheckpoint(session.folder.last_checkpoint, **shared),
        callbacks.AtomicCheckpoint(session.folder.best_checkpoint, monitor=monitor, best_so_far=session.best_so_far,
                                   **shared),
    ]


def note_early_stopping(session: TrainingSession, stopper) -> None:
    if stopper is None:
        return
    session.record.note(early_stopping={
        "patience": session.config.early_stopping,
        "stopped_at_epoch": callbacks.finished_epoch(stopper.stopped_epoch) if stopper.stopped_epoch else None,
        "best_epoch": callbacks.finished_epoch(stopper.best_epoch),
        "best_val_loss": stopper.best,
    })


def fit_verbosity(verbosity: int) -> int:
    # quiet -> silent; on a terminal -> Keras' progress bar; piped -> callbacks.EpochLine. (--verbose only unmutes
    # TensorFlow's own logs, in utils.training.setup.import_keras.)
    return 1 if verbosity > 0 and sys.stdout.isatty() else 0


def end_trackers(trackers, record) -> None:
    """Mirror the run's final status into each integration; a tracker's own failure is a warning, not the result."""
    for tracker in trackers:
        try:
            tracker.finish(record.get("status"), record)
        except Exception as error:  # a tracking server being down must not turn a finished run into a failure
            print(f"warning: {type(tracker).__name__} could not record the end of the run: {error}", file=sys.stderr)


def warn_of_figures(failures: list, folder: RunFolder) -> None:
    """One line for figures that could not be drawn; the run itself is complete."""
    if failures:
        warn(f"{'; '.join(failures)}; {folder} is otherwise complete (model, checkpoints, history and run.json are "
             "written), and report.html leaves the missing figures out.")


def finish_pruned(session: TrainingSession, pruned) -> None:
    record, folder = session.record, session.folder
    record.mark("pruned", reason=str(pruned))
    plot_history(folder.read_history(), folder.figures, title=f"{record.get('model')} (pruned)",
                 baseline=reports.accuracy_baseline(session.task, session.dataset))
    warn_of_figures(session.figures.wait(), folder)
    write_run_report(folder)
    say(session.verbosity, f"Pruned after {record.epochs_completed} epochs")


def finish_run(session: TrainingSession) -> None:
    """Save the final model, evaluate on the test set once, mark the run completed, write reports and plots.

    The plots are drawn by the drawing process (utils.reports.drawing) while this one saves and evaluates; the
    report waits for them. A figure that fails is a warning: the model, history and run.json are written by then."""
    folder, model, dataset, task, figures = session.folder, session.model, session.dataset, session.task, session.figures
    figures.draw("the history plots", plot_history, folder.read_history(), folder.figures,
                 title=f"{session.record.get('model')} on {dataset.name}", baseline=reports.accuracy_baseline(task, dataset))
    weights = weights_sha256(model)
    save_final_model(model, folder, weights)
    with session.placement.evaluation_model(model, folder.model_file, task) as model:
        say(session.verbosity, reports.evaluating_line(dataset))
        keras_metrics, outputs = test_pass(model, task, dataset)
        test_metrics = reports.report_test_set(task, dataset, keras_metrics, outputs, folder, draw=figures.draw)
        session.record.mark_completed(test_metrics, weights)
        say(session.verbosity, "writing plots and report ...")
        warn_of_figures(figures.wait(), folder)
        session.record.record_finish_time()
        write_run_report(folder)
        if len(dataset.x_test) <= reports.SMALL_TEST_SET:
            say(session.verbosity, reports.prediction_table(task, dataset, outputs))
        say(session.verbosity, reports.format_test_metrics(test_metrics))
