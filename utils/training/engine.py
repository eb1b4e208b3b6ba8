"""The one training engine: every entrypoint, task and model trains through `train_new_run` or `resume_run`.

Both build a TrainingSession (the run's record, model, task, settings, data) and hand it to `run_session`, which
fits the remaining epochs and finishes the run, recording how it ended whatever happens.
"""
import contextlib
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import keras

from utils.core import atomic
from utils.core.config import TrainConfig
from utils.core.config_file import save_resolved_config
from utils.core.errors import UsageError, UserError
from utils.reports import evaluation as reports
from utils.reports.html import write_run_report
from utils.reports.index_page import refresh_index_page
from utils.reports.network import plot_network
from utils.training.trial import TrialPruned
from utils.reports.plots import plot_history
from utils.runs.folder import RunFolder, create_run_folder
from utils.runs.record import MONITOR, RunRecord, UnsavedRecord
from utils.tasks.inputs import encode_labels, shape_inputs
from utils.training import backend, callbacks, multiworker
from utils.training.checkpoints import (
    load_model_file, read_checkpoint_info, restore_optimizer_state, restore_seed_states,
)
from utils.training.compile import build_model, build_optimizer, canonical_loss, compile_model
from utils.training.distribution import make_distribution, weights_sha256
from utils.training.inputs import EpochPlan, training_dataset, validation_batch_size, validation_dataset
from utils.training.integrations import trackers_for

# Test sets this small (XOR's truth table) are printed row by row with their predicted probabilities.
SMALL_TEST_SET = 16


@dataclass
class RunContext:
    """Where runs go and how loudly; shared by every run of one command."""

    outputs: Path
    verbosity: int = 1  # 0 quiet, 1 normal, 2 verbose (TensorFlow's logs too)
    distribution: Optional[object] = None  # a tf.distribute wrapper (utils.training.distribution)
    world: Optional[object] = None  # the multi-worker job this process joined (utils.training.multiworker.World)


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
    world: Optional[object] = None  # a multi-worker job (utils.training.multiworker.World)

    @property
    def folder(self) -> RunFolder:
        return self.record.folder

    @property
    def is_chief(self) -> bool:
        """Whether this process writes the run folder: the only process, or process 0 of a multi-worker job."""
        return self.world is None or self.world.is_chief

    def epoch_plan(self) -> EpochPlan:
        return epoch_plan(self.config, self.world, self.initial_epoch)

    @property
    def steps_per_epoch(self) -> int:
        return self.epoch_plan().steps_per_epoch(len(self.dataset.x_train))


def epoch_plan(config, world=None, first_epoch: int = 0) -> EpochPlan:
    """The batches of the run's epochs; in a multi-worker job, this process's slices of them."""
    return EpochPlan(config.batch_size, config.seed, first_epoch, config.epochs,
                     *((world.num_processes, world.process_id, world.devices) if world else ()))


def say(verbosity: int, message: str) -> None:
    if verbosity > 0:
        print(message, flush=True)


def check_plans(configs) -> object:
    """Refuse settings no run could use before anything is written; return the tf.distribute wrapper, if any.

    The strategy is made first: tf.distribute must exist before any other TensorFlow work (the checks create
    variables). A multi-worker job has been joined before this (utils.training.multiworker.start_if_requested)."""
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
    distribution, world = context.distribution, context.world
    with distribution.strategy.scope() if distribution else contextlib.nullcontext():
        model = build_model(spec, config, dataset.x_train.shape[1:], task.num_classes)
        compile_model(model, task, config, epoch_plan(config, world).steps_per_epoch(len(dataset.x_train)),
                      distributed=distribution is not None)
    shape_inputs(model, dataset.x_train[:1])  # refuse a model that does not fit before creating anything

    # Process 0 of a multi-worker job creates the folder; the others learn its name and write nothing there.
    label = f"{config.model}_{config.name}" if config.name else config.model
    folder = RunFolder(multiworker.agreed_text(world, lambda: create_run_folder(context.outputs, label)))
    record = new_run_record(folder, task, config, dataset, model, saved=world is None or world.is_chief)
    if distribution is not None:
        record.note(distribution=distribution.describe())
    if world is not None:
        record.note(world=world.describe())
    if world is None or world.is_chief:
        write_run_files(folder, model, config, dataset)
    say(
        context.verbosity,
        f"Training {config.model} ({model.count_params():,} params) on {dataset.name}: "
        f"{len(dataset.x_train):,} train / {len(dataset.x_val):,} validation / {len(dataset.x_test):,} test samples, "
        f"{config.epochs} epochs, batch size {config.batch_size}, run folder {folder}",
    )
    run_session(TrainingSession(record, model, task, config, dataset, verbosity=context.verbosity, world=world))
    return folder.path


def new_run_record(folder: RunFolder, task, config, dataset, model, saved: bool = True) -> RunRecord:
    return (RunRecord if saved else UnsavedRecord).create(
        folder,
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
        },
        parameters=int(model.count_params()),
        execution={
            "steps_per_execution": model.steps_per_execution,
            "jit_compile": bool(model.jit_compile),
            "dtype_policy": model.dtype_policy.name,
            "backend": backend.name(),
            "gpu": backend.has_gpu(),
        },
    )


def write_run_files(folder: RunFolder, model, config, dataset) -> None:
    """What a run knows before its first epoch: the model summary, the resolved settings, the preprocessing."""
    folder.checkpoints.mkdir()
    lines = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line), line_length=100)
    atomic.write_text(folder.summary, "\n".join(lines) + "\n")
    save_resolved_config(config, folder.resolved_config)
    plot_network(model, folder.model_plot)  # plots/model.png, for report.html
    if dataset.preprocessing is not None:
        atomic.write_json(folder.preprocessing, dataset.preprocessing.to_json())


def resume_run(task, path, epochs, verbosity: int = 1, world=None) -> Path:
    """Continue a run from its last checkpoint up to `epochs` in total, appending to its history and run.json.

    A mirrored run gets its strategy again; in a multi-worker job (`world`, joined already) process 0 checks the
    run and hands its record and last checkpoint to the others, which may not see the folder."""
    from utils.training.saved_models import reload_dataset
    from utils.training.setup import seed_everything

    record = multiworker.shared_record(world, lambda: resumable_record(task, path, world, epochs))
    folder = record.folder
    config = TrainConfig.from_dict(record.get("hyperparameters"))
    last = read_checkpoint_info(folder.last_checkpoint)
    target = epochs or config.epochs
    distribution = resumed_distribution(config)
    seed_everything(config.seed, config.deterministic)
    config.epochs = target
    with distribution.strategy.scope() if distribution else contextlib.nullcontext():
        model = reload_for_training(record, task, config, distributed=distribution is not None, world=world)
    dataset = reload_dataset(task, record, config)
    best = read_checkpoint_info(folder.best_checkpoint).monitor_value if folder.best_checkpoint.is_file() else None
    record.begin_resume(last.epoch, target)
    if distribution is not None:
        record.note(distribution=distribution.describe())
    if world is not None:
        record.note(world=world.describe())
    say(verbosity, f"Resuming {record.get('model')} after epoch {last.epoch}, up to {target} epochs, in {path}")
    run_session(TrainingSession(
        record, model, task, config, dataset, verbosity=verbosity, initial_epoch=last.epoch, best_so_far=best,
        saved_state=last.callback_state, world=world,
    ))
    print(path)
    return Path(path)


def resumed_distribution(config):
    """The run's tf.distribute strategy again (a mirrored run resumed on one device would change its batches)."""
    if config.distribute != "mirrored":
        return None
    backend.require_tensorflow("--resume of a --distribute mirrored run")
    return make_distribution(config.distribute, config.devices, config.logical_cpus)


def resumable_record(task, path, world=None, epochs=None) -> RunRecord:
    """The record of a run that can be resumed by this task (in this job, up to `epochs`), or one clear UserError."""
    record = RunRecord.load(path)
    folder = record.folder
    if record.get("task") != task.name:
        raise UserError(f"{folder} is a {record.get('task')} run; resume it with {record.get('task')}.py.")
    if record.status == "running":
        raise UserError(f"{folder} is still running (process {record.get('environment', {}).get('pid')}); wait or stop it first.")
    if not folder.last_checkpoint.is_file():
        raise UserError(f"{folder} has no last checkpoint: no epoch finished, so there is nothing to resume; train again.")
    multiworker.check_resume(record.get("hyperparameters", {}), world)
    done, target = read_checkpoint_info(folder.last_checkpoint).epoch, epochs or record.get("hyperparameters")["epochs"]
    if target <= done:
        raise UsageError(f"{folder} already has {done} epochs; pass --epochs N with N > {done} to train further.")
    return record


def reload_for_training(record, task, config, distributed: bool = False, world=None):
    """The last checkpoint's model, compiled afresh, with its optimizer and dropout RNG state restored."""
    last = record.folder.last_checkpoint
    # The layers keep their saved dtype policies, but the model's own (which decides loss scaling) comes from here.
    with backend.dtype_policy(record.get("execution", {}).get("dtype_policy", "float32")):
        model = load_model_file(last, task, compile=False)
    compile_model(model, task, config, epoch_plan(config, world).steps_per_epoch(record.get("data")["sizes"]["train"]),
                  distributed=distributed)
    restore_optimizer_state(model, last)
    restore_seed_states(model, last)
    return model


def run_session(session: TrainingSession) -> None:
    """Fit from session.initial_epoch to config.epochs, then finish the run; record how it ended whatever happens."""
    record, folder = session.record, session.folder
    trackers = trackers_for(session.config, record, folder.path.parent) if session.is_chief else []
    try:
        fit(session, [callback for tracker in trackers for callback in tracker.callbacks()])
        finish_run(session)
    except TrialPruned as pruned:  # a sweep trial stopped by its pruner keeps its epochs and checkpoints
        finish_pruned(session, pruned)
    except callbacks.TrainingInterrupted as stop:
        record.mark("interrupted", reason=f"{stop} received")
        raise UserError(
            f"Interrupted by {stop} after {record.epochs_completed} completed epochs; continue with --resume {folder}",
            exit_code=130,
        )
    except KeyboardInterrupt:
        record.mark("interrupted", reason="SIGINT received")
        raise UserError(f"Interrupted; continue with --resume {folder}", exit_code=130)
    except multiworker.ProcessLost as lost:
        record.mark("interrupted", reason=f"the multi-worker job lost a process: {lost}")
        raise UserError(
            f"{session.world.name}: the job lost a process ({lost}) after {record.epochs_completed} completed epochs; "
            f"start all processes again with --resume {folder} and the same multi-worker options"
        )
    except callbacks.LossNotFinite as error:
        record.mark("failed", reason=str(error), failed_epoch=error.epoch)
        kept = (
            f"the last good checkpoint is {folder.last_checkpoint}" if folder.last_checkpoint.is_file()
            else "no epoch finished before it, so there is no checkpoint"
        )
        raise UserError(f"Training stopped: {error}; {kept}. Lower --learning-rate and train again.")
    except BaseException as error:
        record.mark("failed", reason=f"{type(error).__name__}: {error}")
        raise
    finally:
        end_trackers(trackers, record)
        refresh_index_page(folder.path.parent)  # issue 13: outputs/index.html lists every run as it ends


def fit(session: TrainingSession, extra_callbacks=()) -> None:
    """model.fit over the remaining epochs; only the process owning the run folder writes history and checkpoints."""
    from utils.training.augment import image_augmenter
    from utils.training.schedules import feature_callbacks

    config, model, dataset, task = session.config, session.model, session.dataset, session.task
    if session.initial_epoch >= config.epochs:
        return
    base_learning_rate = session.record.remember(
        "base_learning_rate", float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    )
    features = feature_callbacks(config, base_learning_rate, session.saved_state)
    checkpoints = checkpoint_callbacks(session, features) if session.is_chief else []
    history = [callbacks.HistoryLogger(session.folder.history, append=session.initial_epoch > 0)] if session.is_chief else []
    guard = callbacks.StopOnSignal()
    fit_callbacks = [
        callbacks.EpochTimer(), callbacks.LearningRateLogger(), callbacks.NanGuard(), *features.values(),
        *history, *checkpoints, callbacks.RunProgress(session.record), *extra_callbacks, guard,
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
        if session.world is not None and multiworker.is_lost_process(error):
            raise multiworker.ProcessLost(multiworker.first_line(error)) from error
        raise
    finally:
        guard.restore_handlers()
    note_early_stopping(session, features.get("early_stopping"))


def checkpoint_callbacks(session: TrainingSession, features: dict) -> list:
    """last.h5 every epoch (with the feature callbacks' counters), best.h5 when the monitored value improves.

    In a multi-worker job every checkpoint is written at once (no overhead budget): holding one in memory means
    restoring weights later on process 0 alone, which the job's replicated variables do not allow."""
    budget = {"overhead_budget": math.inf} if session.world is not None else {}
    return [
        callbacks.AtomicCheckpoint(
            session.folder.last_checkpoint,
            state_provider=lambda: {name: callback.state() for name, callback in features.items()
                                    if hasattr(callback, "state")},
            **budget,
        ),
        callbacks.AtomicCheckpoint(session.folder.best_checkpoint, monitor=MONITOR, best_so_far=session.best_so_far,
                                   **budget),
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
    # quiet -> silent; on a terminal -> Keras' progress bar; piped -> one line per epoch. (--verbose only unmutes
    # TensorFlow's own logs, in utils.training.setup.import_keras.)
    return 0 if verbosity == 0 else 1 if sys.stdout.isatty() else 2


def end_trackers(trackers, record) -> None:
    """Mirror the run's final status into each integration; a tracker's own failure is a warning, not the result."""
    for tracker in trackers:
        try:
            tracker.finish(record.get("status"), record)
        except Exception as error:  # a tracking server being down must not turn a finished run into a failure
            print(f"warning: {type(tracker).__name__} could not record the end of the run: {error}", file=sys.stderr)


def finish_pruned(session: TrainingSession, pruned) -> None:
    record, folder = session.record, session.folder
    record.mark("pruned", reason=str(pruned))
    plot_history(folder.read_history(), folder.plots, title=f"{record.get('model')} (pruned)")
    write_run_report(folder)
    say(session.verbosity, f"Pruned after {record.epochs_completed} epochs")


def finish_run(session: TrainingSession) -> None:
    """Save the final model, evaluate on the test set once, write reports and plots, mark the run completed.

    In a multi-worker job process 0 does this alone, on a copy of the model outside the job; the others report
    the hash of their weights (the same as process 0's when the job trained as one)."""
    folder, model, dataset, task = session.folder, session.model, session.dataset, session.task
    weights = weights_sha256(model)
    if not session.is_chief:
        session.record.mark_completed(None, weights)
        say(session.verbosity, f"{session.world.name} finished (process 0 writes the run folder); weights_sha256 {weights}")
        return
    with atomic.atomic_path(folder.model_file) as temporary:
        model.save(temporary)
    with multiworker.on_this_process_only() if session.world else contextlib.nullcontext():
        if session.world is not None:
            model = load_model_file(folder.model_file, task)
        test_metrics = reports.evaluate_and_report(model, task, dataset, folder)
        plot_history(folder.read_history(), folder.plots, title=f"{session.record.get('model')} on {dataset.name}")
        session.record.mark_completed(test_metrics, weights)
        write_run_report(folder)
        if len(dataset.x_test) <= SMALL_TEST_SET:
            say(session.verbosity, reports.prediction_table(model, task, dataset))
        say(session.verbosity, reports.format_test_metrics(test_metrics))
