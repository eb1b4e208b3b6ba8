"""Short names for runs in a figure: what differs between the runs compared, not their ids.

Two models compared are named by model; a sweep of one model by the settings that were swept
(`learning_rate 0.01 · batch_size 16`); both at once by model plus what differs among runs of the same model.
Runs of different datasets carry the dataset first in every label. Settings the engine chose for a run (its
`resolved_settings`: a default learning rate, steps per call) follow from the others and label nothing.
The run id stays in the comparison table, beside its label.
"""
import math

from utils.runs.settings import effective_settings

# Settings that change nothing about the training a figure shows (`name` is the folder's label: a sweep gives each
# trial its own, which would otherwise read as a difference between trials).
NOT_LABELS = {"task", "tensorboard", "mlflow", "verbosity", "outputs", "name"}
# Magnitudes below this print in scientific notation: 1.08e-04, not 0.0001 or 0.000108 (a learning rate's digits).
SMALL_NUMBER = 1e-3
SEPARATOR = " · "


def settings_of(record: dict) -> dict:
    """The settings the run was given (task-specific data options flattened in), with the model always present."""
    settings = effective_settings(record)
    settings["model"] = record.get("model", settings.get("model"))
    chosen = set(record.get("resolved_settings") or ())
    return {key: value for key, value in settings.items() if key not in NOT_LABELS and key not in chosen}


def dataset_of(record: dict):
    return (record.get("data") or {}).get("name") if isinstance(record.get("data"), dict) else None


def format_number(value) -> str:
    """0.001, 0.25, 128, 1.08e-04: four significant digits, small magnitudes in scientific notation."""
    if value != 0 and abs(value) < SMALL_NUMBER or abs(value) >= 1e6:
        mantissa, exponent = f"{value:.2e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{exponent}"  # 3e-04, not 3.00e-04
    return f"{value:.4g}"


def format_setting(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and math.isfinite(value):
        return format_number(value)
    return str(value)


def differing_keys(settings: list) -> list:
    """Keys whose values are not the same in every run, in the order they first appear."""
    keys = list(dict.fromkeys(key for run in settings for key in run))
    return [key for key in keys if len({repr(run.get(key)) for run in settings}) > 1]


def run_labels(records: list) -> list:
    """One label per run.json dict, in order; unique, and no part of one repeated inside it."""
    settings = [settings_of(record) for record in records]
    models = [run["model"] for run in settings]
    datasets = [dataset_of(record) for record in records]
    several_datasets = len(set(datasets)) > 1
    parts = [[str(dataset)] if several_datasets else [] for dataset in datasets]
    if len(set(models)) > 1:
        for index, model in enumerate(models):
            parts[index].append(str(model))
    for model in dict.fromkeys(models):
        members = [index for index, name in enumerate(models) if name == model]
        keys = [key for key in differing_keys([settings[index] for index in members])
                if key != "model" and not (several_datasets and key == "dataset")]
        for index in members:
            parts[index] += [f"{key} {format_setting(settings[index].get(key))}" for key in keys]
    labels = [SEPARATOR.join(part) for part in parts]
    if len(records) == 1:
        return [str(models[0])]
    if len(set(labels)) < len(labels) or not all(labels):
        # Same settings twice (a rerun): only the run id tells them apart.
        counts = {label: labels.count(label) for label in labels}
        labels = [record["run_id"] if counts[label] > 1 or not label else label
                  for label, record in zip(labels, records)]
    return labels


def differing_summary(records: list) -> str:
    """What the labels vary by, for a caption: 'model', 'learning_rate, batch_size', or 'nothing (reruns)'."""
    keys = differing_keys([settings_of(record) for record in records])
    return ", ".join(keys) if keys else "nothing (reruns of the same settings)"


def comparison_title(rows) -> str:
    """'Comparison of 3 mnist runs on fashion_mnist (limit 2000, batch size 256, 3 epochs)': the task, then what
    every run shares of dataset, limit, batch size and epochs (the rest is in the table)."""
    def shared(column):
        values = {format_setting(int(value) if isinstance(value, float) and value.is_integer() else value)
                  for value in (row.get(column) for row in rows)}
        return values.pop() if len(values) == 1 and not values & {"None", "nan"} else None

    tasks = ", ".join(sorted({str(row.get("task")) for row in rows}))
    dataset = shared("dataset")
    details = [f"{name} {shared(column)}" for column, name in (("limit", "limit"), ("batch_size", "batch size"))
               if shared(column) is not None]
    if shared("epochs") is not None:
        details.append(f"{shared('epochs')} epochs")
    on = f" on {dataset}" if dataset else " on different datasets"
    return f"Comparison of {len(rows)} {tasks} runs{on}" + (f" ({', '.join(details)})" if details else "")
