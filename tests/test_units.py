"""The fast tier: pure functions and each callback, in-process with tiny models (python -m pytest -m "not slow")."""
import json
import signal

import numpy as np
import pandas as pd
import pytest

from conftest import PROJECT  # noqa: F401  (puts the project on sys.path)
from utils.core.config import TrainConfig, resolve_config
from utils.core.config_file import config_values, parse_grid
from utils.core.errors import UsageError
from utils.core.options import BY_NAME, OPTIONS
from utils.runs.folder import EvaluationFolder, RunFolder, create_run_folder, keep_history_until, safe_name
from utils.runs.record import RunRecord
from utils.tasks import get_task
from utils.training.compile import steps_per_execution


@pytest.fixture(scope="module")
def keras():
    from utils.training.setup import import_keras

    return import_keras()


# ---------------------------------------------------------------- steps per execution
@pytest.mark.parametrize("requested, batch_size, steps_per_epoch, expected", [
    (None, 256, 211, 1),  # 1024 // 256 = 4, but 211 is prime: only 1 divides it
    (None, 10, 720, 90),  # ~1,000 samples per call: 102 wanted, 90 is the largest divisor of 720 below it
    (None, 1, 4, 4),  # never more than the epoch
    (7, 32, 28, 7),
    (8, 32, 28, 7),  # the largest divisor not above the request
])
def test_steps_per_execution_divides_the_epoch(requested, batch_size, steps_per_epoch, expected):
    chosen = steps_per_execution(requested, batch_size, steps_per_epoch)
    assert chosen == expected and steps_per_epoch % chosen == 0


# ---------------------------------------------------------------- config precedence and checks
class Spec:
    name = "fake_model"
    defaults = {"optimizer": "rmsprop", "learning_rate": 0.01, "epochs": 7}


def test_config_precedence_is_declared_then_task_then_model_then_command_line():
    task = get_task("mnist")  # task defaults: 60 epochs, batch 256, adam
    config = resolve_config(task, Spec, {"learning_rate": 0.5, "batch_size": None})
    assert config.batch_size == 256  # task
    assert config.epochs == 7 and config.optimizer == "rmsprop"  # model beats task
    assert config.learning_rate == 0.5  # command line beats model
    assert config.seed == 42 and config.lr_schedule == "constant"  # declared defaults
    assert config.task == "mnist" and config.model == "fake_model"


@pytest.mark.parametrize("settings, words", [
    ({"epochs": 0}, "--epochs must be at least 1"),
    ({"learning_rate": float("inf")}, "--learning-rate must be finite"),
    ({"learning_rate": float("nan")}, "--learning-rate must be finite"),
    ({"momentum": 1.0}, "--momentum must be in [0, 1)"),
    ({"weight_decay": float("inf")}, "--weight-decay must be finite"),
    ({"seed": -1}, "--seed must be between 0 and 4294967295"),
    ({"seed": 2**32}, "--seed must be between 0 and 4294967295"),
    ({"epochs": 2**63}, "--epochs must be at most"),
    ({"validation_split": 1.0}, "--validation-split must be between 0 and 1"),
])
def test_config_checks_refuse_values_no_run_could_use(settings, words):
    with pytest.raises(UsageError) as raised:
        resolve_config(get_task("mnist"), Spec, settings)
    assert words in str(raised.value)


def test_train_config_fields_come_from_the_declarations():
    declared = {option.name for option in OPTIONS if option.setting}
    fields = set(TrainConfig.__dataclass_fields__)
    assert declared <= fields and fields - declared == {"task", "model", "data_options"}
    config = TrainConfig.from_dict({"epochs": 3, "not_a_field_any_more": 1})
    assert config.epochs == 3 and TrainConfig.from_dict(config.to_dict()) == config


# ---------------------------------------------------------------- one conversion for flags, files and grids
@pytest.mark.parametrize("name, text, value", [
    ("epochs", "12", 12), ("learning_rate", "3e-4", 3e-4), ("jit", "yes", True), ("jit", "False", False),
    ("lr_schedule", "cosine", "cosine"),
])
def test_options_convert_text(name, text, value):
    assert BY_NAME[name].convert(text) == value


@pytest.mark.parametrize("name, value, words", [
    ("epochs", 1.5, "--epochs expects a whole number"),
    ("epochs", True, "--epochs expects a whole number"),
    ("epochs", [1, 2], "--epochs expects a whole number"),
    ("learning_rate", "fast", "--learning-rate expects a number"),
    ("lr_schedule", "linear", "--lr-schedule must be one of constant, step, cosine, plateau"),
    ("jit", "maybe", "--jit takes true or false"),
    ("optimizer", 5, "--optimizer expects text"),
])
def test_options_refuse_values_of_the_wrong_type(name, value, words):
    with pytest.raises(UsageError) as raised:
        BY_NAME[name].convert(value)
    assert words in str(raised.value)


@pytest.mark.parametrize("text, words", [
    ("epochs: 1.5\n", "--epochs expects a whole number"),
    ("model: 5\n", "--model expects text"),
    ("dataset: cifar10\n", "--dataset must be one of mnist, fashion_mnist, mnist_5k"),
    ("batch_size: [1, 2]\n", "--batch-size expects a whole number"),
    ("epochs: 0\n", "--epochs must be at least 1"),
    ("colour: red\n", "unknown option(s) colour"),
])
def test_config_files_get_the_flags_conversion_and_checks(tmp_path, text, words):
    path = tmp_path / "settings.yaml"
    path.write_text(text)
    with pytest.raises(UsageError) as raised:
        config_values(path, get_task("mnist").data_options)
    assert words in str(raised.value) and "--config" in str(raised.value)


def test_config_file_values_are_typed_like_the_flags(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text('epochs = 3\nlearning-rate = "0.01"\nmodel = "conv_net"\noutputs = "elsewhere"\n')
    assert config_values(path) == {"epochs": 3, "learning_rate": 0.01, "model": ["conv_net"], "outputs": "elsewhere"}


def test_a_binary_config_file_is_one_clear_error(tmp_path):
    path = tmp_path / "settings.yaml"
    path.write_bytes(b"\xff\xfe\x00\x81binary")
    with pytest.raises(UsageError, match="not a text file"):
        config_values(path)


# ---------------------------------------------------------------- grids
def test_grid_is_the_cartesian_product_in_order_with_typed_values():
    combinations = parse_grid(["learning_rate=0.001,0.0003", "model=conv_net,le_net"])
    assert combinations == [
        {"learning_rate": 0.001, "model": "conv_net"}, {"learning_rate": 0.001, "model": "le_net"},
        {"learning_rate": 0.0003, "model": "conv_net"}, {"learning_rate": 0.0003, "model": "le_net"},
    ]


@pytest.mark.parametrize("item, words", [
    ("learning_rate", "--grid expects KEY=V1,V2"),
    ("colour=red", "unknown setting 'colour'"),
    ("epochs=1.5", "--epochs expects a whole number"),
    ("jit=perhaps", "--jit takes true or false"),
    ("epochs=0,1", "--epochs must be at least 1"),
])
def test_grid_refuses_bad_items(item, words):
    with pytest.raises(UsageError) as raised:
        parse_grid([item])
    assert words in str(raised.value)


# ---------------------------------------------------------------- run folders and records
@pytest.mark.parametrize("name, expected", [
    ("../../etc", "etc"), ("a/b", "a_b"), ("..", "run"), ("conv net: v2", "conv_net_v2"), ("ok-1.5", "ok-1.5"),
])
def test_safe_names_cannot_leave_the_outputs_folder(name, expected):
    assert safe_name(name) == expected


def test_run_folder_names_every_file_under_the_folder(tmp_path):
    folder = RunFolder(tmp_path / "run")
    paths = [folder.run_file, folder.history, folder.model_file, folder.last_checkpoint, folder.best_checkpoint,
             folder.preprocessing, folder.report, folder.summary, folder.resolved_config]
    assert len(set(paths)) == len(paths) and all(folder.path in path.parents for path in paths)
    assert folder.last_checkpoint.parent == folder.checkpoints and not folder.is_run()


def test_figures_are_named_by_their_folder_and_listed_loss_first(tmp_path):
    run, evaluation = RunFolder(tmp_path / "run"), EvaluationFolder(tmp_path / "evaluation")
    named = [run.figures.accuracy_loss, run.figures.epoch_time, run.figures.learning_rate, run.figures.confusion_matrix,
             run.figures.roc_curve, run.figures.precision_recall_curve, run.figures.model, run.figures.metric("auc")]
    assert len(set(named)) == len(named) and all(path.parent == run.plots for path in named)
    assert evaluation.figures.confusion_matrix == evaluation.path / "confusion_matrix.png"
    evaluation.path.mkdir()
    for name in ("epoch_time", "accuracy", "loss", "auc"):
        evaluation.figures.metric(name).write_bytes(b"")
    assert [path.stem for path in evaluation.figures.all()] == ["loss", "accuracy", "auc", "epoch_time"]


def test_concurrent_run_folders_never_collide(tmp_path):
    made = {create_run_folder(tmp_path, "same") for _ in range(3)}
    assert len(made) == 3 and all(path.is_dir() for path in made)


# ---------------------------------------------------------------- epoch numbering
def write_run(folder: RunFolder, history: str, **record):
    folder.path.mkdir(parents=True, exist_ok=True)
    folder.run_file.write_text(json.dumps({"run_id": folder.name, "task": "xor", "model": "m", "status": "running", **record}))
    folder.history.write_text(history)


def test_history_is_read_one_based_and_legacy_folders_are_converted_once(tmp_path):
    current = RunFolder(tmp_path / "current")
    write_run(current, "epoch,loss\n1,0.5\n2,0.4\n", format=2)
    legacy = RunFolder(tmp_path / "legacy")
    write_run(legacy, "epoch,loss\n0,0.5\n1,0.4\n")  # Keras' CSVLogger numbering, before run.json "format"
    assert list(current.read_history()["epoch"]) == [1, 2]
    assert list(legacy.read_history()["epoch"]) == [1, 2]


def test_a_cut_off_last_history_line_is_ignored(tmp_path):
    folder = RunFolder(tmp_path / "run")
    write_run(folder, "epoch,loss\n1,0.5\n2,0.4", format=2)
    assert list(folder.read_history()["epoch"]) == [1]


def test_resume_forgets_epochs_after_the_checkpoint_and_keeps_the_best_before_it(tmp_path):
    folder = RunFolder(tmp_path / "run")
    write_run(folder, "epoch,val_accuracy\n0,0.5\n1,0.7\n2,0.9\n", status="interrupted", hyperparameters={"epochs": 3},
              seconds_per_epoch=[1.0, 1.0, 1.0], environment={})
    record = RunRecord.load(folder.path)
    record.begin_resume(done=2, target=5)
    saved = json.loads(folder.run_file.read_text())
    assert list(pd.read_csv(folder.history)["epoch"]) == [1, 2]  # rewritten 1-based, the third row dropped
    assert saved["format"] == 2 and list(folder.read_history()["epoch"]) == [1, 2]  # and read back unchanged
    assert saved["best"] == {"metric": "val_accuracy", "value": 0.7, "epoch": 2}
    assert saved["status"] == "running" and saved["hyperparameters"]["epochs"] == 5
    assert saved["seconds_per_epoch"] == [1.0, 1.0] and saved["resumes"][0]["at_epoch"] == 2
    assert keep_history_until(folder, 1)["epoch"].tolist() == [1]


# ---------------------------------------------------------------- callbacks, each with a tiny model
@pytest.fixture
def tiny_model(keras):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4), keras.layers.Dropout(0.5), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mean_squared_error")
    return model


def fit_tiny(model, callbacks, epochs=2):
    features = np.random.default_rng(0).normal(size=(16, 2)).astype(np.float32)
    return model.fit(features, features[:, :1], validation_data=(features, features[:, :1]), epochs=epochs,
                     batch_size=8, verbose=0, callbacks=callbacks)


def test_finished_epoch_is_the_one_conversion_from_keras_numbering():
    from utils.training.callbacks import finished_epoch

    assert [finished_epoch(index) for index in range(3)] == [1, 2, 3]


def test_history_logger_writes_one_based_epochs_with_timer_and_learning_rate(tmp_path, tiny_model):
    from utils.training import callbacks

    path = tmp_path / "history.csv"
    fit_tiny(tiny_model, [callbacks.EpochTimer(), callbacks.LearningRateLogger(), callbacks.HistoryLogger(path)])
    history = pd.read_csv(path)
    assert list(history["epoch"]) == [1, 2]
    assert (history["epoch_seconds"] > 0).all() and history["learning_rate"].round(6).eq(0.001).all()


def test_run_progress_records_each_epoch_and_the_best(tmp_path, tiny_model):
    from utils.training import callbacks

    folder = RunFolder(tmp_path / "run")
    write_run(folder, "", environment={})
    record = RunRecord.load(folder.path)

    class FakeAccuracy(callbacks.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_accuracy"] = [0.6, 0.8, 0.7][epoch]
            logs["epoch_seconds"] = 0.5

    fit_tiny(tiny_model, [FakeAccuracy(), callbacks.RunProgress(record, min_interval=0)], epochs=3)
    saved = json.loads(folder.run_file.read_text())
    assert saved["epochs_completed"] == 3 and saved["seconds_per_epoch"] == [0.5, 0.5, 0.5]
    assert saved["best"] == {"metric": "val_accuracy", "value": 0.8, "epoch": 2}


def test_nan_guard_stops_before_a_broken_epoch_is_recorded(tiny_model):
    from utils.training import callbacks

    class Poison(callbacks.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["loss"] = float("nan")

    with pytest.raises(callbacks.LossNotFinite) as raised:
        fit_tiny(tiny_model, [Poison(), callbacks.NanGuard()])
    assert raised.value.epoch == 1


def test_checkpoint_carries_epoch_state_and_dropout_rng(tmp_path, tiny_model):
    from utils.training import callbacks
    from utils.training.checkpoints import read_checkpoint_info, seed_states

    path = tmp_path / "last.h5"
    checkpoint = callbacks.AtomicCheckpoint(path, state_provider=lambda: {"early_stopping": {"wait": 1}})
    fit_tiny(tiny_model, [checkpoint])
    info = read_checkpoint_info(path)
    assert info.epoch == 2 and info.callback_state == {"early_stopping": {"wait": 1}}
    import h5py

    with h5py.File(path, "r") as saved:
        np.testing.assert_array_equal(saved.attrs["seed_states"], seed_states(tiny_model))
    assert [child.name for child in tmp_path.iterdir()] == ["last.h5"]


def test_stop_on_signal_turns_sigterm_into_an_interruption_at_a_boundary(tiny_model):
    from utils.training import callbacks

    class SendSignal(callbacks.keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            signal.raise_signal(signal.SIGTERM)

    guard = callbacks.StopOnSignal()
    with pytest.raises(callbacks.TrainingInterrupted) as raised:
        fit_tiny(tiny_model, [SendSignal(), guard])
    guard.restore_handlers()
    assert raised.value.signal_number == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_resumable_early_stopping_restores_its_counters(tiny_model):
    from utils.training.schedules import EarlyStopping

    stopper = EarlyStopping(monitor="val_loss", patience=5)
    stopper.initial_state = {"wait": 3, "best": 0.25, "best_epoch": 4}
    stopper.set_model(tiny_model)
    stopper.on_train_begin()
    assert (stopper.wait, stopper.best, stopper.best_epoch) == (3, 0.25, 4)
    assert stopper.state() == {"wait": 3, "best": 0.25, "best_epoch": 4}


@pytest.mark.parametrize("enabled", [True, False])
def test_the_first_keras_import_pauses_the_collector_and_freezes_what_it_imported(enabled):
    """The collector is as it was before the import (on, or off where the caller turned it off), and the import's
    objects are in its permanent generation, which later collections skip."""
    import subprocess
    import sys

    check = ("import gc\n" + ("" if enabled else "gc.disable()\n") +
             "from utils.training.setup import import_keras\n"
             "before = gc.get_freeze_count()\n"
             "import_keras()\n"
             "print(gc.isenabled(), before, gc.get_freeze_count())\n")
    result = subprocess.run([sys.executable, "-c", check], cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    now_enabled, before, after = result.stdout.split()
    assert now_enabled == str(enabled)
    assert int(before) == 0 and int(after) > 100_000  # TensorFlow's and Keras' modules, functions and classes
