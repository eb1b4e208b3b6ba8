"""After training: evaluate a saved model on its task's test set, predict new inputs."""
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd

from utils.core import atomic
from utils.core.config import TrainConfig
from utils.core.errors import UsageError, UserError
from utils.reports import evaluation as reports
from utils.reports.drawing import FigureJobs
from utils.runs.folder import RunFolder
from utils.runs.record import RunRecord, command_line, now_iso
from utils.tasks.table_pipeline import load_pipeline
from utils.training.checkpoints import load_model_file, resolve_model_path
from utils.training.model_files import load_run_models
from utils.training.test_pass import model_outputs, test_pass


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def run_of(path, task) -> tuple:
    """(RunRecord, model file, TrainConfig) for a path to a run or its model files, checked against `task`."""
    folder, model_file = resolve_model_path(path)
    record = RunRecord.load(folder)
    load_run_models(record.folder)  # custom layers of the run's own model file, from its kept copy
    if record.get("task") != task.name:
        raise UserError(
            f"{folder} is a {record.get('task')} run; use {record.get('task')}.py for it, not {task.name}.py."
        )
    return record, model_file, TrainConfig.from_dict(record.get("hyperparameters"))


def saved_preprocessing(folder: RunFolder):
    """The run's fitted preprocessing: a table's pipeline (joblib; tabular, churn, Iris), or None."""
    return load_pipeline(folder.fitted_preprocessing) if folder.fitted_preprocessing.is_file() else None


def reload_dataset(task, record, config):
    """The run's own data and splits again, with its saved preprocessing; warns when the data on disk changed."""
    dataset = task.load(
        config.data_options, config.seed, config.validation_split, config.limit,
        preprocessing=saved_preprocessing(record.folder),
    )
    recorded = record.get("data", {}).get("sha256")
    if recorded and recorded != dataset.sha256:
        warn(
            f"the {dataset.name} data at {dataset.source} differs from the data this run trained on "
            f"(sha256 {dataset.sha256[:12]}… vs {recorded[:12]}… recorded by the run); results are not comparable."
        )
    return dataset


def prediction_frame(task, names, outputs, class_names, preprocessing) -> pd.DataFrame:
    """Input, predicted class (or value) and the probabilities: of the positive class when binary, of every class
    when there are a few, else of the predicted one."""
    if task.regression:
        return pd.DataFrame({"input": names, "predicted": preprocessing.restore_target(outputs).round(6)})
    predicted = reports.predicted_classes(task, outputs)
    table = pd.DataFrame({"input": names, "predicted": [class_names[index] for index in predicted]})
    if task.binary:
        table[f"P({class_names[1]})"] = outputs.reshape(-1).round(4)
        return table
    table["probability"] = outputs.max(axis=1).round(4)
    if task.bind is not None:  # a CSV's classes: one column each, for a spreadsheet
        for index, name in enumerate(class_names):
            table[f"P({name})"] = outputs[:, index].round(4)
    return table


def evaluate(task, path, verbosity: int = 1) -> Path:
    """Evaluate a saved model on the test set; the report goes to <run>/evaluations/<time>_<file>/."""
    record, model_file, config = run_of(path, task)
    model = load_model_file(model_file, task)
    if verbosity:
        print(f"loading {task.describe_data(config.data_options)} ...", flush=True)
    dataset = reload_dataset(task, record, config)
    folder = record.folder.new_evaluation_folder(model_file.stem)
    if verbosity:
        print(reports.evaluating_line(dataset), flush=True)
    figures = FigureJobs()  # drawn by the drawing process while the metrics are written
    keras_metrics, outputs = test_pass(model, task, dataset)
    metrics = reports.report_test_set(task, dataset, keras_metrics, outputs, folder, draw=figures.draw)
    atomic.write_json(folder.metrics, {
        "model_file": str(model_file), "evaluated": now_iso(), "command": command_line(),
        "data_sha256": dataset.sha256, **metrics,
    })
    failures = figures.wait()
    if failures:
        warn(f"{'; '.join(failures)}; the metrics and classification report in {folder.path} are written.")
    if verbosity:
        if len(dataset.x_test) <= reports.SMALL_TEST_SET:
            print(reports.prediction_table(task, dataset, outputs))
        print(f"{model_file}: " + reports.format_test_metrics(metrics))
    print(folder)
    return folder.path


def predict(task, path, inputs, verbosity: int = 1) -> Path:
    """Class and probability for each input; the table is printed and saved under <run>/predictions/."""
    if not inputs:
        raise UsageError("predict needs a run (or a model file) and at least one input after it.")
    record, model_file, _ = run_of(path, task)
    model = load_model_file(model_file, task)
    preprocessing = saved_preprocessing(record.folder)
    features, names = task.read_predict_inputs(inputs, preprocessing)
    from utils.tasks.inputs import shape_inputs

    outputs = model_outputs(model, shape_inputs(model, features))
    table = prediction_frame(task, names, outputs, record.get("data")["class_names"], preprocessing)
    folder = record.folder.predictions
    folder.mkdir(exist_ok=True)
    output = folder / f"{datetime.now().strftime('%Y%m%d-%H%M%S-%f')}.csv"
    atomic.write_text(output, table.to_csv(index=False))
    if verbosity:
        print(table.to_string(index=False))
    print(output)
    return output
