"""A regression run's best checkpoint and "best" follow its validation loss (it has no accuracy), and its test
report is a regression report under its own name; in-process, with a tiny model."""
import json

import numpy as np
import pytest

from conftest import PROJECT  # noqa: F401  (puts the project on sys.path)
from utils.runs.folder import CLASSIFICATION_REPORT, REGRESSION_REPORT, EvaluationFolder, RunFolder, report_of
from utils.runs.record import RunRecord, best_val_accuracy
from utils.tasks import get_task
from utils.tasks.registry import VAL_ACCURACY, VAL_LOSS


def write_run(folder: RunFolder, history: str, **record):
    folder.path.mkdir(parents=True, exist_ok=True)
    folder.run_file.write_text(json.dumps({"run_id": folder.name, "task": "tabular", "model": "m", "status": "running",
                                           **record}))
    folder.history.write_text(history)


def test_a_regression_task_monitors_val_loss_downwards_and_a_classifier_val_accuracy_upwards():
    import dataclasses

    tabular = get_task("tabular")
    assert tabular.monitor == VAL_ACCURACY and get_task("mnist").monitor == VAL_ACCURACY
    assert dataclasses.replace(tabular, kind="regression").monitor == VAL_LOSS
    assert VAL_LOSS.improves(0.4, 0.5) and not VAL_LOSS.improves(0.6, 0.5) and VAL_LOSS.improves(0.9, None)
    assert VAL_ACCURACY.improves(0.6, 0.5) and not VAL_ACCURACY.improves(0.4, 0.5)
    assert not VAL_LOSS.improves(float("nan"), None) and not VAL_LOSS.improves(None, 0.5)


def test_the_recorded_best_of_a_regression_run_is_its_lowest_val_loss(tmp_path):
    folder = RunFolder(tmp_path / "run")
    write_run(folder, "")
    record = RunRecord.load(folder.path)
    for epoch, loss in enumerate([0.9, 0.5, 0.7], start=1):
        record.record_epoch(epoch, 0.1, {"val_loss": loss, "loss": loss}, monitor=VAL_LOSS)
    saved = json.loads(folder.run_file.read_text())
    assert saved["best"] == {"metric": "val_loss", "value": 0.5, "epoch": 2}
    assert best_val_accuracy(saved) is None  # the runs table's best_val_accuracy stays empty, not 0.5
    assert best_val_accuracy({"best": {"value": 0.8, "epoch": 1}}) == 0.8  # older records named no metric


def test_a_resumed_regression_run_keeps_the_lowest_val_loss_before_its_checkpoint(tmp_path):
    folder = RunFolder(tmp_path / "run")
    write_run(folder, "epoch,val_loss\n1,0.9\n2,0.4\n3,0.6\n4,0.1\n", status="interrupted", format=2,
              hyperparameters={"epochs": 4}, seconds_per_epoch=[1.0] * 4, environment={})
    RunRecord.load(folder.path).begin_resume(done=3, target=6, monitor=VAL_LOSS)
    assert json.loads(folder.run_file.read_text())["best"] == {"metric": "val_loss", "value": 0.4, "epoch": 2}


@pytest.fixture(scope="module")
def keras():
    from utils.training.setup import import_keras

    return import_keras()


def test_best_checkpoint_follows_val_loss_down_and_records_it(tmp_path, keras):
    from utils.training.callbacks import AtomicCheckpoint
    from utils.training.checkpoints import WrittenCheckpoints, read_checkpoint_info

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mean_squared_error")
    losses = [0.9, 0.3, 0.5]

    class FakeLoss(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = losses[epoch]

    shared = dict(written=WrittenCheckpoints("val_loss"), overhead_budget=1e9)  # a write every epoch
    last, best = tmp_path / "last.h5", tmp_path / "best.h5"
    checkpoints = [AtomicCheckpoint(last, **shared), AtomicCheckpoint(best, monitor=VAL_LOSS, **shared)]
    features = np.zeros((8, 2), np.float32)
    model.fit(features, features[:, :1], epochs=3, verbose=0, callbacks=[FakeLoss(), *checkpoints])
    assert (read_checkpoint_info(best).epoch, read_checkpoint_info(best).monitor_value) == (2, pytest.approx(0.3))
    assert (read_checkpoint_info(last).epoch, read_checkpoint_info(last).monitor) == (3, "val_loss")


def test_the_test_report_is_the_regression_report_where_one_was_written(tmp_path):
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    assert run.test_report.name == CLASSIFICATION_REPORT
    run.regression_report.write_text("Regression on 3 test rows\n")
    assert run.test_report.name == REGRESSION_REPORT and run.test_report in run.artifacts()
    evaluation = EvaluationFolder(tmp_path / "evaluation")
    assert report_of(evaluation).name == CLASSIFICATION_REPORT
