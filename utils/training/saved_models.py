"""After training: evaluate a saved model on its task's test set, predict new inputs, resume a run."""
import math
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd

from utils.core import atomic
from utils.training import backend
from utils.reports import evaluation as reports
from utils.training.checkpoints import (
    checkpoint_info, load_model_file, resolve_model_path, restore_optimizer_state, restore_seed_states,
)
from utils.core.config import TrainConfig
from utils.core.errors import UsageError, UserError
from utils.runs.record import RunRecord, command_line, environment, now_iso, safe_name


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def run_of(path, task) -> tuple:
    """(RunRecord, model file, TrainConfig) for a path to a run or its model files, checked against `task`."""
    folder, model_file = resolve_model_path(path)
    record = RunRecord.load(folder)
    if record.data.get("task") != task.name:
        raise UserError(
            f"{folder} is a {record.data.get('task')} run; use {record.data.get('task')}.py for it, not {task.name}.py."
        )
    return record, model_file, TrainConfig.from_dict(record.data["hyperparameters"])


def saved_preprocessing(folder):
    from utils.tasks.tabular import saved_preprocessing as load

    return load(folder) if (Path(folder) / "preprocessing.json").is_file() else None


def reload_dataset(task, record, config):
    """The run's own data and splits again, with its saved preprocessing; warns when the data on disk changed."""
    dataset = task.load(
        config.data_options, config.seed, config.validation_split, config.limit,
        preprocessing=saved_preprocessing(record.folder),
    )
    recorded = record.data.get("data", {}).get("sha256")
    if recorded and recorded != dataset.sha256:
        warn(
            f"the {dataset.name} data at {dataset.source} differs from the data this run trained on "
            f"(sha256 {dataset.sha256[:12]}… vs {recorded[:12]}… in run.json); results are not comparable."
        )
    return dataset


def evaluate(task, path, verbosity: int = 1) -> Path:
    """Evaluate a saved model on the test set; the report goes to <run>/evaluations/<time>_<file>/."""
    record, model_file, config = run_of(path, task)
    model = load_model_file(model_file, task)
    dataset = reload_dataset(task, record, config)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = record.folder / "evaluations" / f"{stamp}_{safe_name(model_file.stem)}"
    suffix = 2
    while folder.exists():
        folder = folder.with_name(f"{stamp}_{safe_name(model_file.stem)}-{suffix}")
        suffix += 1
    folder.mkdir(parents=True)
    metrics = reports.evaluate_and_report(model, task, dataset, folder, plots_folder=folder)
    atomic.write_json(folder / "metrics.json", {
        "model_file": str(model_file), "evaluated": now_iso(), "command": command_line(),
        "data_sha256": dataset.sha256, **metrics,
    })
    if verbosity:
        print(f"{model_file}: " + reports.format_test_metrics(metrics))
    print(folder)
    return folder


def predict(task, path, inputs, verbosity: int = 1) -> Path:
    """Class and probability for each input; the table is printed and saved under <run>/predictions/."""
    if not inputs:
        raise UsageError("--predict needs a model path and at least one input after it.")
    record, model_file, _ = run_of(path, task)
    model = load_model_file(model_file, task)
    features, names = task.read_predict_inputs(inputs, record.folder)
    from utils.tasks.inputs import shape_inputs

    probabilities = model.predict(shape_inputs(model, features), verbose=0)
    class_names = record.data["data"]["class_names"]
    predicted = reports.predicted_classes(task, probabilities)
    table = pd.DataFrame({"input": names, "predicted": [class_names[index] for index in predicted]})
    if task.binary:
        table[f"P({class_names[1]})"] = probabilities.reshape(-1).round(4)
    else:
        table["probability"] = probabilities.max(axis=1).round(4)
    folder = record.folder / "predictions"
    folder.mkdir(exist_ok=True)
    output = folder / f"{datetime.now().strftime('%Y%m%d-%H%M%S-%f')}.csv"
    atomic.write_text(output, table.to_csv(index=False))
    if verbosity:
        print(table.to_string(index=False))
    print(output)
    return output


def resume(task, path, epochs, verbosity: int = 1) -> Path:
    """Continue a run from checkpoints/last.h5 up to `epochs` total, appending to its history and run.json."""
    from utils.training.engine import BEST_CHECKPOINT, HISTORY_FILE, LAST_CHECKPOINT, MONITOR, compile_model, run_training, say
    from utils.training.setup import seed_everything

    folder = Path(path)
    record = RunRecord.load(folder)
    if record.data.get("task") != task.name:
        raise UserError(f"{folder} is a {record.data.get('task')} run; resume it with {record.data.get('task')}.py.")
    if record.status == "running":
        raise UserError(f"{folder} is still running (process {record.data['environment'].get('pid')}); wait or stop it first.")
    last = folder / LAST_CHECKPOINT
    if not last.is_file():
        raise UserError(f"{folder} has no {LAST_CHECKPOINT}: no epoch finished, so there is nothing to resume; train again.")
    config = TrainConfig.from_dict(record.data["hyperparameters"])
    done = int(checkpoint_info(last).get("epoch", record.data.get("epochs_completed", 0)))
    target = epochs or config.epochs
    if target <= done:
        raise UsageError(f"{folder} already has {done} epochs; pass --epochs N with N > {done} to train further.")
    seed_everything(config.seed, config.deterministic)
    # The layers keep their saved dtype policies, but the model's own (which decides loss scaling) comes from here.
    with backend.dtype_policy(record.data.get("execution", {}).get("dtype_policy", "float32")):
        model = load_model_file(last, task, compile=False)
    compile_model(model, task, config, math.ceil(record.data["data"]["sizes"]["train"] / config.batch_size))
    restore_optimizer_state(model, last)
    restore_seed_states(model, last)
    dataset = reload_dataset(task, record, config)

    # Forget anything recorded after the checkpoint (a kill between the history row and the checkpoint write).
    history = reports.read_history(folder / HISTORY_FILE)
    if not history.empty:
        history = history[history["epoch"] < done]
        atomic.write_text(folder / HISTORY_FILE, history.to_csv(index=False))
        if MONITOR in history and history[MONITOR].notna().any():
            best_row = history.loc[history[MONITOR].idxmax()]
            record.data["best"] = {"metric": MONITOR, "value": float(best_row[MONITOR]), "epoch": int(best_row["epoch"]) + 1}
    best_path = folder / BEST_CHECKPOINT
    best_value = checkpoint_info(best_path).get("monitor_value") if best_path.is_file() else None
    previous = {
        "at_epoch": done, "to_epochs": target, "status_before": record.status,
        "started": now_iso(), "command": command_line(),
    }
    config.epochs = target
    record.data["hyperparameters"]["epochs"] = target
    record.data["seconds_per_epoch"] = record.data.get("seconds_per_epoch", [])[:done]
    record.data["resumes"] = record.data.get("resumes", []) + [previous]
    record.data["environment"] = environment()
    record.update(status="running", ended=None, reason=None, epochs_completed=done, test_metrics=None)
    say(verbosity, f"Resuming {record.data['model']} at epoch {done + 1} of {target} in {folder}")
    run_training(
        record, model, task, config, dataset, initial_epoch=done, best_so_far=best_value, verbosity=verbosity,
        saved_state=checkpoint_info(last).get("callback_state"),
    )
    print(folder)
    return folder
