"""The one training engine: every entrypoint, task and model trains through `train_new_run` / `continue_run`."""
import contextlib
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from utils.core import atomic
from utils.training import backend
from utils.training import callbacks
from utils.reports import evaluation as reports
from utils.core.config_file import save_resolved_config
from utils.training.distribution import shard_by_data, weights_sha256
from utils.core.errors import UsageError, UserError
from utils.tasks.inputs import encode_labels, shape_inputs
from utils.reports.html import write_run_report
from utils.training.integrations import trackers_for
from utils.training.trial import TrialPruned
from utils.reports.plots import plot_history
from utils.runs.record import RunRecord, command_line, create_run_folder, environment, now_iso

HISTORY_FILE = "history.csv"
MODEL_FILE = "model.h5"
LAST_CHECKPOINT = "checkpoints/last.h5"
BEST_CHECKPOINT = "checkpoints/best.h5"
# The validation value behind best.h5 (and every run's "best").
MONITOR = "val_accuracy"
# Test sets this small (XOR's truth table) are printed row by row with their predicted probabilities.
SMALL_TEST_SET = 16


@dataclass
class RunOutcome:
    folder: Path
    record: RunRecord


def optimizer_names() -> list:
    names = [
        name.lower()
        for name, value in vars(keras.optimizers).items()
        if isinstance(value, type) and issubclass(value, keras.optimizers.Optimizer) and value is not keras.optimizers.Optimizer
    ]
    return sorted(set(names) - {"lossscaleoptimizer"})


OPTIMIZER_OPTIONS = {"momentum": "--momentum", "nesterov": "--nesterov", "weight_decay": "--weight-decay"}


def build_optimizer(config):
    """The named Keras optimizer with the run's learning rate and options (--momentum, --nesterov, --weight-decay)."""
    name = config.optimizer.lower()
    if name not in optimizer_names():
        raise UsageError(f"Unknown optimizer {config.optimizer!r}. Valid names: {', '.join(optimizer_names())}.")
    optimizer = keras.optimizers.get(name)
    settings = optimizer.get_config()
    if config.learning_rate is not None:
        settings["learning_rate"] = config.learning_rate
    for key, flag in OPTIMIZER_OPTIONS.items():
        value = getattr(config, key)
        if value is None or value is False:
            continue
        if key not in settings:
            raise UsageError(f"{flag} does not apply to the {name} optimizer; it takes: {', '.join(sorted(settings))}.")
        settings[key] = value
    return type(optimizer).from_config(settings)


def canonical_loss(name: str) -> str:
    """The full Keras name of a loss ('mse' -> 'mean_squared_error').

    Keras' .h5 loader cannot deserialize short aliases such as 'mse' back, so models are compiled with full names.
    """
    try:
        loss = keras.losses.get(name)
    except ValueError:
        raise UsageError(f"Unknown loss {name!r}; use a Keras loss name such as categorical_crossentropy or mse.")
    return getattr(loss, "__name__", name)


def check_loss(name: str) -> None:
    canonical_loss(name)


def metrics_for(task) -> list:
    # ROC AUC, precision and recall of binary tasks come from scikit-learn on the test set; a per-step Keras AUC
    # (200 thresholds) would double the cost of a tutorial-sized churn step.
    return ["accuracy"]


def steps_per_execution(requested, batch_size: int, steps_per_epoch: int) -> int:
    """Training steps per compiled call: the largest divisor of steps_per_epoch not above the request.

    Each call into the compiled step has a fixed Python/runtime cost; with small batches it dominates, so by
    default a call covers about a thousand samples. Keras runs whole calls, so a count that does not divide the
    epoch would spill batches of the next epoch into this one and break per-epoch history and exact resumes.
    """
    wanted = requested or max(1, 1024 // batch_size)
    wanted = max(1, min(wanted, steps_per_epoch))
    return max(divisor for divisor in range(1, wanted + 1) if steps_per_epoch % divisor == 0)


def compile_model(model, task, config, steps_per_epoch: int, distributed: bool = False) -> None:
    # Keras 3.15 fails to run several steps per call under tf.distribute ("You must feed a value for
    # placeholder tensor"), so distributed training runs one step per call.
    steps = 1 if distributed else steps_per_execution(config.steps_per_execution, config.batch_size, steps_per_epoch)
    model.compile(
        optimizer=build_optimizer(config),
        loss=canonical_loss(config.loss),
        metrics=metrics_for(task),
        steps_per_execution=steps,
        jit_compile=auto_jit(model) if config.jit is None else config.jit,
    )


def auto_jit(model):
    """XLA where it pays on this machine: measured on 2 CPU cores, it makes dense models' steps 1.2-1.5x faster and
    convolutions 2x slower (oneDNN's kernels beat XLA's there); with a GPU or another backend, Keras decides."""
    if not backend.is_tensorflow() or backend.has_gpu():
        return "auto"
    return not any(isinstance(layer, keras.layers.Conv2D) for layer in model._flatten_layers())


def build_model(spec, config, **shape):
    """The registered model, built under the run's dtype policy (float32, or mixed precision)."""
    if not config.mixed_precision:
        return spec.build(**shape)
    with backend.dtype_policy(backend.mixed_precision_policy()):
        model = spec.build(**shape)
    # Probabilities and the loss need float32's range and precision: the output layer computes in float32.
    # (Under mixed_float16 Keras' compile wraps the optimizer in a LossScaleOptimizer by itself.)
    model.layers[-1].dtype_policy = "float32"
    return model






def training_dataset(features, targets, batch_size: int, seed: int, first_epoch: int, last_epoch: int, augment=None):
    """Batches for epochs first_epoch .. last_epoch - 1, shuffled by a permutation that depends only on (seed, epoch).

    Because each epoch's order is a pure function of its number, a resumed run sees exactly the batches the
    uninterrupted run would have seen. `augment` (a function of a batch of features) applies to these training
    batches only; validation and test data never pass through here.
    """
    if not backend.is_tensorflow():
        return numpy_training_batches(features, targets, batch_size, seed, first_epoch, last_epoch, augment)
    import tensorflow as tf

    count = len(features)
    features = tf.constant(features)
    targets = tf.constant(targets)

    def epoch_order(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count), seed=tf.stack([tf.constant(seed, tf.int64), epoch])
        )
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    batches = (
        tf.data.Dataset.range(first_epoch, last_epoch)
        .flat_map(epoch_order)
        .map(lambda indices: (tf.gather(features, indices), tf.gather(targets, indices)))
    )
    if augment is not None:
        batches = batches.map(lambda batch, labels: (augment(batch), labels), num_parallel_calls=tf.data.AUTOTUNE)
    return shard_by_data(batches.prefetch(tf.data.AUTOTUNE))


def numpy_training_batches(features, targets, batch_size: int, seed: int, first_epoch: int, last_epoch: int,
                           augment=None):
    """The same contract as training_dataset for backends without tf.data: a generator of NumPy batches whose
    order per epoch depends only on (seed, epoch)."""
    for epoch in range(first_epoch, last_epoch):
        order = np.random.default_rng([seed, epoch]).permutation(len(features))
        for start in range(0, len(order), batch_size):
            indices = order[start:start + batch_size]
            batch = features[indices]
            if augment is not None:
                batch = keras.ops.convert_to_numpy(augment(batch))
            yield batch, targets[indices]


def validation_dataset(features, targets, batch_size: int):
    """Validation batches built once and cached: Keras re-reads them every epoch, and a NumPy tuple would be
    converted again each time (the dominant cost of a tiny epoch). Other backends take the arrays."""
    if not backend.is_tensorflow():
        return features, targets
    import tensorflow as tf

    return shard_by_data(tf.data.Dataset.from_tensor_slices((features, targets)).batch(batch_size).cache())


def validation_batch_size(config) -> int:
    # Evaluation needs no gradients: larger batches mean fewer calls.
    return max(config.batch_size, 1024)


def fit_verbosity(verbosity: int) -> int:
    # quiet -> silent; default -> one line per epoch; --verbose -> Keras' progress bar.
    return {0: 0, 1: 2, 2: 1}[verbosity]


def say(verbosity: int, message: str) -> None:
    if verbosity > 0:
        print(message, flush=True)


def new_run_record(folder: Path, task, config, dataset, model) -> RunRecord:
    record = RunRecord(
        folder,
        {
            "run_id": folder.name,
            "task": task.name,
            "model": config.model,
            "status": "running",
            "command": command_line(),
            "hyperparameters": config.to_dict(),
            "data": {
                "name": dataset.name,
                "source": dataset.source,
                "sha256": dataset.sha256,
                "sizes": dataset.sizes(),
                "class_names": list(dataset.class_names),
                "notes": dataset.notes,
            },
            "parameters": int(model.count_params()),
            "execution": {
                "steps_per_execution": model.steps_per_execution,
                "jit_compile": bool(model.jit_compile),
                "dtype_policy": model.dtype_policy.name,
                "backend": backend.name(),
                "gpu": backend.has_gpu(),
            },
            "environment": environment(),
            "started": now_iso(),
            "ended": None,
            "epochs_completed": 0,
            "seconds_per_epoch": [],
            "best": None,
            "test_metrics": None,
            "resumes": [],
        },
    )
    record.save()
    return record


def write_summary(model, path: Path) -> None:
    lines = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line), line_length=100)
    atomic.write_text(path, "\n".join(lines) + "\n")


def train_new_run(task, spec, config, dataset, outputs, verbosity: int = 1, distribution=None) -> RunOutcome:
    """Build `spec`, train it on `dataset` into a new run folder, evaluate on the test set once, write the report.

    Under tf.distribute the model is built and compiled in the strategy's scope.
    """
    from utils.training.setup import seed_everything

    seed_everything(config.seed, config.deterministic)
    with distribution.strategy.scope() if distribution else contextlib.nullcontext():
        model = build_model(spec, config, input_shape=dataset.x_train.shape[1:], num_classes=task.num_classes)
        steps_per_epoch = math.ceil(len(dataset.x_train) / config.batch_size)
        compile_model(model, task, config, steps_per_epoch, distributed=distribution is not None)
    shape_inputs(model, dataset.x_train[:1])  # refuse a model that does not fit before creating anything

    folder = create_run_folder(outputs, f"{config.model}_{config.name}" if config.name else config.model)
    record = new_run_record(folder, task, config, dataset, model)
    if distribution is not None:
        record.update(distribution=distribution.describe())
    (folder / "checkpoints").mkdir()
    write_summary(model, folder / "summary.txt")
    save_resolved_config(config, folder / "config.yaml")
    if dataset.preprocessing is not None:
        atomic.write_json(folder / "preprocessing.json", dataset.preprocessing.to_json())
    say(
        verbosity,
        f"Training {config.model} ({model.count_params():,} params) on {dataset.name}: "
        f"{len(dataset.x_train):,} train / {len(dataset.x_val):,} validation / {len(dataset.x_test):,} test samples, "
        f"{config.epochs} epochs, batch size {config.batch_size}, run folder {folder}",
    )
    run_training(record, model, task, config, dataset, initial_epoch=0, best_so_far=None, verbosity=verbosity)
    return RunOutcome(folder, record)


def fit_epochs(record, model, task, config, dataset, initial_epoch: int, best_so_far, verbosity: int, saved_state=None,
               extra_callbacks=()):
    """model.fit from `initial_epoch` to config.epochs with the engine's callbacks."""
    from utils.training.augment import image_augmenter
    from utils.training.schedules import feature_callbacks

    folder = record.folder
    guard = callbacks.StopOnSignal()
    checkpoints = []
    try:
        if initial_epoch < config.epochs:
            base_learning_rate = record.data.setdefault(
                "base_learning_rate", float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
            )
            features = feature_callbacks(config, base_learning_rate, saved_state)
            checkpoints = [
                callbacks.AtomicModelCheckpoint(
                    str(folder / LAST_CHECKPOINT),
                    state_provider=lambda: {name: callback.state() for name, callback in features.items()
                                            if hasattr(callback, "state")},
                ),
                callbacks.AtomicModelCheckpoint(
                    str(folder / BEST_CHECKPOINT), monitor=MONITOR, mode="max", save_best_only=True,
                    initial_value_threshold=best_so_far,
                ),
            ]
            fit_callbacks = [
                callbacks.EpochTimer(),
                callbacks.LearningRateLogger(),
                callbacks.NanGuard(),
                *features.values(),
                callbacks.HistoryLogger(folder / HISTORY_FILE, append=initial_epoch > 0),
                *checkpoints,
                callbacks.RunProgress(record, monitor=MONITOR),
                *extra_callbacks,
                guard,
            ]
            model.fit(
                training_dataset(
                    shape_inputs(model, dataset.x_train), encode_labels(task, dataset.y_train),
                    config.batch_size, config.seed, initial_epoch, config.epochs,
                    augment=image_augmenter(model, config) if config.augment else None,
                ),
                steps_per_epoch=math.ceil(len(dataset.x_train) / config.batch_size),
                epochs=config.epochs,
                initial_epoch=initial_epoch,
                validation_data=validation_dataset(
                    shape_inputs(model, dataset.x_val), encode_labels(task, dataset.y_val), validation_batch_size(config)
                ),
                # tf.data validation batches itself; the arrays other backends get are batched by Keras.
                validation_batch_size=None if backend.is_tensorflow() else validation_batch_size(config),
                callbacks=fit_callbacks,
                shuffle=False,  # training_dataset shuffles, per epoch, reproducibly
                verbose=fit_verbosity(verbosity),
            )
            if "early_stopping" in features:
                stopper = features["early_stopping"]
                record.update(early_stopping={
                    "patience": config.early_stopping,
                    "stopped_at_epoch": stopper.stopped_epoch + 1 if stopper.stopped_epoch else None,
                    "best_epoch": stopper.best_epoch + 1,
                    "best_val_loss": stopper.best,
                })
    except (callbacks.TrainingInterrupted, callbacks.LossNotFinite, KeyboardInterrupt):
        # Checkpoints held in memory are finished epochs: write them before reporting how training ended.
        for checkpoint in checkpoints:
            checkpoint.flush()
        raise
    finally:
        guard.restore_handlers()


def run_training(record, model, task, config, dataset, initial_epoch: int, best_so_far, verbosity: int,
                 saved_state=None) -> None:
    """Fit from `initial_epoch` to config.epochs, then finish the run; record how it ended whatever happens."""
    folder = record.folder
    trackers = trackers_for(config, record, folder.parent)
    extra = [callback for tracker in trackers for callback in tracker.callbacks()]
    try:
        fit_epochs(record, model, task, config, dataset, initial_epoch, best_so_far, verbosity, saved_state, extra)
        finish_run(record, model, task, dataset, verbosity)
        end_trackers(trackers, record)
    # --- sweeps (engine edit): a trial stopped by its pruner keeps its epochs and checkpoints and ends `pruned` ---
    except TrialPruned as pruned:
        record.update(status="pruned", ended=now_iso(), reason=str(pruned))
        end_trackers(trackers, record)
        plot_history(reports.read_history(folder / HISTORY_FILE), folder / "plots", title=f"{record.data['model']} (pruned)")
        write_run_report(folder)
        say(verbosity, f"Pruned after {record.data['epochs_completed']} epochs")
    except callbacks.TrainingInterrupted as stop:
        record.update(status="interrupted", ended=now_iso(), reason=f"{stop} received")
        end_trackers(trackers, record)
        raise UserError(
            f"Interrupted by {stop} after {record.data['epochs_completed']} completed epochs; "
            f"continue with --resume {folder}",
            exit_code=130,
        )
    except KeyboardInterrupt:
        record.update(status="interrupted", ended=now_iso(), reason="SIGINT received")
        end_trackers(trackers, record)
        raise UserError(f"Interrupted; continue with --resume {folder}", exit_code=130)
    except callbacks.LossNotFinite as error:
        record.update(status="failed", ended=now_iso(), reason=str(error), failed_epoch=error.epoch)
        end_trackers(trackers, record)
        kept = (
            f"the last good checkpoint is {folder / LAST_CHECKPOINT}" if (folder / LAST_CHECKPOINT).is_file()
            else "no epoch finished before it, so there is no checkpoint"
        )
        raise UserError(f"Training stopped: {error}; {kept}. Lower --learning-rate and train again.")
    except BaseException as error:
        record.update(status="failed", ended=now_iso(), reason=f"{type(error).__name__}: {error}")
        end_trackers(trackers, record)
        raise


def end_trackers(trackers, record) -> None:
    """Mirror the run's final status into each integration; a tracker's own failure is a warning, not the result."""
    for tracker in trackers:
        try:
            tracker.finish(record.data["status"], record)
        except Exception as error:  # a tracking server being down must not turn a finished run into a failure
            print(f"warning: {type(tracker).__name__} could not record the end of the run: {error}", file=sys.stderr)


def finish_run(record, model, task, dataset, verbosity: int) -> None:
    """Save the final model, evaluate on the test set once, write reports and plots, mark the run completed."""
    folder = record.folder
    with atomic.atomic_path(folder / MODEL_FILE) as temporary:
        model.save(temporary)
    test_metrics = reports.evaluate_and_report(model, task, dataset, folder)
    history = reports.read_history(folder / HISTORY_FILE)
    plot_history(history, folder / "plots", title=f"{record.data['model']} on {dataset.name}")
    record.update(status="completed", ended=now_iso(), test_metrics=test_metrics, weights_sha256=weights_sha256(model))
    write_run_report(folder)
    if len(dataset.x_test) <= SMALL_TEST_SET:
        say(verbosity, reports.prediction_table(model, task, dataset))
    say(verbosity, reports.format_test_metrics(test_metrics))
