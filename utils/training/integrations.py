"""Optional integrations, each behind a flag: TensorBoard event files and MLflow tracking.

Each tracker offers the same three hooks to the engine: `callbacks()` for model.fit, `finish(status)` when the
run ends however it ends, so a feature added here works for every task.
"""
import logging
import math
import time
from pathlib import Path

import keras

from utils.core.errors import UsageError
from utils.training.callbacks import finished_epoch

# run.json status -> MLflow run status
MLFLOW_STATUS = {"completed": "FINISHED", "failed": "FAILED", "interrupted": "KILLED", "pruned": "KILLED"}


class TensorBoardTracker:
    """Keras' TensorBoard callback writing per-epoch scalars into <run>/tensorboard/."""

    def __init__(self, record):
        self.log_dir = record.folder.tensorboard
        record.note_integration("tensorboard", str(self.log_dir))

    def callbacks(self):
        return [keras.callbacks.TensorBoard(log_dir=str(self.log_dir), histogram_freq=0, write_graph=False,
                                            update_freq="epoch")]

    def finish(self, status, record):
        pass


def default_mlflow_uri(outputs) -> str:
    return f"sqlite:///{(Path(outputs).resolve() / 'mlflow.db')}"


class MlflowTracker:
    """Logs the run to MLflow: parameters, per-epoch metrics, tags, artifacts and the final status.

    A resumed run continues the same MLflow run (its id is kept in run.json).
    """

    def __init__(self, uri, record):
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise UsageError("--mlflow needs the mlflow package: pip install mlflow")
        logging.getLogger("mlflow").setLevel(logging.WARNING)  # its database set-up notes are not the user's business
        self.client = MlflowClient(tracking_uri=uri)
        self.record = record
        data = record.data
        saved = data.get("integrations", {}).get("mlflow")
        if saved and saved.get("uri") == uri:
            self.run_id = saved["run_id"]
            self.client.update_run(self.run_id, status="RUNNING")
            return
        experiment = self.client.get_experiment_by_name(data["task"])
        if experiment:
            experiment_id = experiment.experiment_id
        else:
            # With the default local database, artifacts go beside it in the outputs folder, not into the cwd.
            artifacts = (record.folder.path.parent / "mlartifacts").resolve().as_uri() if uri.startswith("sqlite:") else None
            experiment_id = self.client.create_experiment(data["task"], artifact_location=artifacts)
        run = self.client.create_run(
            experiment_id, run_name=data["run_id"],
            tags={"task": data["task"], "model": data["model"], "run_folder": str(record.folder.path.resolve()),
                  "data_sha256": data["data"]["sha256"]},
        )
        self.run_id = run.info.run_id
        from mlflow.entities import Param

        parameters = {**data["hyperparameters"], **data["hyperparameters"].get("data_options", {})}
        parameters.pop("data_options", None)
        self.client.log_batch(self.run_id, params=[Param(key, str(value)[:500]) for key, value in parameters.items()])
        record.note_integration("mlflow", {"uri": uri, "run_id": self.run_id, "experiment_id": experiment_id})

    def callbacks(self):
        tracker = self

        class LogEpoch(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                from mlflow.entities import Metric

                stamp = int(time.time() * 1000)
                metrics = [Metric(key, float(value), stamp, finished_epoch(epoch)) for key, value in (logs or {}).items()
                           if isinstance(value, (int, float)) and math.isfinite(value)]
                tracker.client.log_batch(tracker.run_id, metrics=metrics)

        return [LogEpoch()]

    def finish(self, status, record):
        folder = record.folder
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        test_metrics = record.data.get("test_metrics") or {}
        self.client.log_batch(self.run_id, metrics=[Metric(key, float(value), stamp, 0) for key, value in test_metrics.items()
                                                    if isinstance(value, (int, float))])
        self.client.set_tag(self.run_id, "status", status)
        for path in folder.artifacts():
            if path.is_file():
                self.client.log_artifact(self.run_id, str(path))
        if folder.plots.is_dir():
            self.client.log_artifacts(self.run_id, str(folder.plots), artifact_path="plots")
        self.client.set_terminated(self.run_id, status=MLFLOW_STATUS.get(status, "FAILED"))


def trackers_for(config, record, outputs) -> list:
    made = []
    if config.tensorboard:
        made.append(TensorBoardTracker(record))
    if config.mlflow:
        made.append(MlflowTracker(default_mlflow_uri(outputs) if config.mlflow == "default" else config.mlflow, record))
    # --- sweeps: a run started by a sweep driver records its trial and reports to Optuna ---
    from utils.training.study_report import SweepTrialTracker
    from utils.training.trial import trial_settings

    if trial_settings():
        made.append(SweepTrialTracker(trial_settings(), record))
    return made
