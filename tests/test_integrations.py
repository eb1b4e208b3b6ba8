"""Integrations, each read back with its own tool's reader: TensorBoard events, MLflow runs, tf.distribute."""
import pandas as pd
import pytest
from conftest import read_run, run_folder_of, run_here, run_script

# The tests here train: in-process, except where the process is the subject (a missing package, TensorFlow's
# logical CPUs, fixed when it starts): the slow tier.
pytestmark = pytest.mark.slow


def test_tensorboard_event_files_hold_every_epochs_scalars(tmp_path, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folder = run_folder_of(run_here(capsys, "iris", "--epochs", 3, "--tensorboard", "--outputs", tmp_path, "--quiet"))
    history = pd.read_csv(folder / "history.csv")
    for split, column in (("train", "loss"), ("validation", "val_loss")):
        events = EventAccumulator(str(folder / "tensorboard" / split), size_guidance={"tensors": 0, "scalars": 0})
        events.Reload()
        tags = events.Tags()
        if "epoch_loss" in tags.get("scalars", []):
            values = [event.value for event in events.Scalars("epoch_loss")]
        else:  # TF2 summaries are stored as tensors
            import tensorflow as tf

            values = [float(tf.make_ndarray(event.tensor_proto)) for event in events.Tensors("epoch_loss")]
        assert values == pytest.approx(list(history[column]), rel=1e-5)
    assert read_run(folder)["integrations"]["tensorboard"].endswith("tensorboard")


def test_mlflow_run_holds_params_metrics_tags_artifacts_and_status(tmp_path, capsys):
    from mlflow.tracking import MlflowClient

    outputs = tmp_path / "outputs"
    folder = run_folder_of(run_here(capsys, "iris", "--epochs", 3, "--learning-rate", 0.01, "--mlflow", "--outputs", outputs, "--quiet"))
    record = read_run(folder)
    client = MlflowClient(tracking_uri=f"sqlite:///{outputs.resolve() / 'mlflow.db'}")
    run = client.get_run(record["integrations"]["mlflow"]["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params["learning_rate"] == "0.01" and run.data.params["model"] == "iris_mlp"
    assert run.data.tags["task"] == "iris" and run.data.tags["run_folder"] == str(folder.resolve())
    history = pd.read_csv(folder / "history.csv")
    val_loss = client.get_metric_history(run.info.run_id, "val_loss")
    assert [metric.step for metric in val_loss] == [1, 2, 3]
    assert [metric.value for metric in val_loss] == pytest.approx(list(history["val_loss"]), rel=1e-6)
    assert run.data.metrics["test_accuracy"] == pytest.approx(record["test_metrics"]["test_accuracy"])
    artifacts = {item.path for item in client.list_artifacts(run.info.run_id)}
    assert {"run.json", "report.html", "model.h5", "plots"} <= artifacts
    assert "loss.png" in {item.path.split("/")[-1] for item in client.list_artifacts(run.info.run_id, "plots")}
    assert not (tmp_path / "mlruns").exists()


def test_mlflow_mirrors_a_failed_run(tmp_path, capsys):
    from mlflow.tracking import MlflowClient

    result = run_here(capsys, "iris", "--epochs", 3, "--optimizer", "sgd", "--learning-rate", "1e12", "--mlflow",
                        "--outputs", tmp_path, "--quiet")
    assert result.returncode == 1 and "loss became nan" in result.stderr
    folder = next(path for path in tmp_path.iterdir() if path.is_dir() and path.name[0].isdigit())
    record = read_run(folder)
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}")
    run = client.get_run(record["integrations"]["mlflow"]["run_id"])
    assert record["status"] == "failed" and run.info.status == "FAILED"


def test_mlflow_missing_is_one_clear_line(tmp_path):
    fake = tmp_path / "site"
    (fake / "mlflow").mkdir(parents=True)
    (fake / "mlflow" / "__init__.py").write_text("raise ImportError('No module named mlflow')\n")
    result = run_script("iris", "--mlflow", "--outputs", tmp_path / "outputs", env={"PYTHONPATH": str(fake)})
    assert result.returncode == 2 and "pip install mlflow" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "outputs").exists()


def test_mirrored_strategy_trains_on_two_logical_cpus_and_a_resumed_run_gets_its_strategy_again(tmp_path, capsys):
    import json

    # Each training process splits its CPU in two before TensorFlow starts: a process of its own.
    folder = run_folder_of(run_script(
        "mnist", "-m", "conv_net", "--dataset", "mnist_5k", "--limit", 1024, "--epochs", 1, "--batch-size", 128,
        "--distribute", "mirrored", "--logical-cpus", 2, "--outputs", tmp_path, "--quiet",
    ))
    record = read_run(folder)
    assert record["status"] == "completed"
    assert record["distribution"]["replicas"] == 2 and len(record["distribution"]["devices"]) == 2
    del record["distribution"]  # only a strategy made by the resume can write it back
    (folder / "run.json").write_text(json.dumps(record))
    resumed = run_script("mnist", "resume", folder, "--epochs", 2, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    record = read_run(folder)
    assert record["status"] == "completed" and record["epochs_completed"] == 2
    assert record["distribution"]["replicas"] == 2
    assert record["test_metrics"]["test_accuracy"] > 0.3  # it learned, from 10 % chance
    evaluated = run_here(capsys, "mnist", "evaluate", folder)  # the mirrored run reads back
    assert evaluated.returncode == 0, evaluated.stderr


def test_multi_worker_on_tensorflow_is_refused_naming_the_jax_route(tmp_path, capsys):
    result = run_here(capsys, "mnist", "--distribute", "multi-worker", "--outputs", tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "keras-team/keras#20585" in result.stderr and "KERAS_BACKEND=jax" in result.stderr
