"""`rerun RUN`: train a run again from its record (settings, seed, model, data) into a new folder linked to the
original, then say what changed: the data, the environment, the settings and the result.

The data must hash as it did (else one line; --allow-data-change goes on and the report names the change). The
weights' SHA-256 says whether the result was reproduced bit for bit; where it was not, the metrics are set beside
the seed spread of the original's configuration when other seeds of it are in the store.
"""
from pathlib import Path

from utils.core.config import TrainConfig, check_config
from utils.core.errors import UsageError, UserError
from utils.runs.diff import differences
from utils.runs.groups import group_runs, spread_of
from utils.runs.record import RunRecord
from utils.runs.settings import trained_hyperparameters


def recorded_config(task, record: RunRecord, deterministic: bool):
    """The TrainConfig the run trained with, from run.json; a record that cannot give one is damaged."""
    data = record.data
    if data["task"] != task.name:
        raise UsageError(f"{record.folder} is a {data['task']} run; rerun it with {data['task']}.py rerun.")
    hyperparameters = data.get("hyperparameters")
    if not hyperparameters or not isinstance(hyperparameters.get("seed"), int):
        raise UserError(f"{record.folder.run_file} records no settings with a seed; the run folder is damaged.")
    config = TrainConfig.from_dict({**trained_hyperparameters(data), "task": task.name, "model": data["model"]})
    if deterministic:
        config.deterministic = True
    if record.folder.models_copy.is_file():  # the run's own copy of its model file: the original may be gone
        config.models_file = str(record.folder.models_copy)
    try:
        check_config(config)
    except UsageError as error:
        raise UserError(f"{record.folder.run_file} records settings no run can use ({error}); the run folder is damaged.")
    if config.distribute == "multi-worker":
        raise UsageError(f"{record.folder} was a multi-worker run; rerun rebuilds single-process runs only.")
    return config


def recorded_model(task, record: RunRecord):
    from models import get_model
    from utils.training.model_files import load_run_models

    load_run_models(record.folder)
    try:
        return get_model(task.name, record.data["model"])
    except KeyError:
        raise UserError(f"{record.folder} trained model {record.data['model']!r}, which is no longer registered.")


def check_data_file(record: RunRecord) -> None:
    """A data file given by path (--data) that is gone is refused before TensorFlow's import."""
    options = (record.data.get("hyperparameters") or {}).get("data_options") or {}
    path = options.get("data")
    if isinstance(path, str) and not Path(path).is_file():
        raise UserError(f"the data file {record.folder.name} trained on is gone: {path}; restore it there to rerun.")


def recorded_data(task, config, record: RunRecord, allow_change: bool):
    """The dataset loaded as the run loaded it, refused when it is gone or hashes differently (unless allowed)."""
    recorded = record.data.get("data") or {}
    source = recorded.get("source") or "its data"
    try:
        dataset = task.load(config.data_options, config.seed, config.validation_split, config.limit)
    except (UserError, OSError) as error:
        raise UserError(f"the data {record.folder.name} trained on ({source}) cannot be loaded: {error}")
    # The hash is of what was loaded (a file's bytes, or the arrays of a downloaded set), as the run recorded it.
    if recorded.get("sha256") and dataset.sha256 != recorded["sha256"]:
        change = (f"the data {record.folder.name} trained on changed: {dataset.source} has SHA-256 "
                  f"{dataset.sha256[:12]}…, the run recorded {recorded['sha256'][:12]}…")
        if not allow_change:
            raise UserError(f"{change}; restore it, or pass --allow-data-change to rerun on the new data.")
        print(f"warning: {change}; rerunning on it (--allow-data-change).", flush=True)
    return dataset


def rerun(task, path, args, verbosity: int) -> Path:
    """Train the run at `path` again into a new folder under --outputs; print what changed; return the folder."""
    from utils.training.engine import RunContext, check_plans, train_new_run

    original = RunRecord.load(path)
    config = recorded_config(task, original, bool(args.deterministic))
    spec = recorded_model(task, original)
    dataset = recorded_data(task, config, original, bool(args.allow_data_change))
    context = RunContext(outputs=args.outputs, verbosity=verbosity,
                         record_facts={"rerun_of": {"run": original.data["run_id"], "path": str(Path(path).resolve())}})
    context.distribution = check_plans([config])
    folder = train_new_run(task, spec, config, dataset, context)
    print(rerun_report(original, RunRecord.load(folder), args.outputs))
    return folder


def rerun_report(original: RunRecord, new: RunRecord, outputs) -> str:
    """What differs between the original and its rerun, then whether the result was reproduced."""
    changes = differences(original, new)
    lines = [f"rerun of {original.folder.name}: {new.folder.name}"]
    for section in ("data", "hyperparameters", "environment", "packages"):
        pairs = {key: pair for key, pair in changes[section].items() if key != "run"}
        named = "; ".join(f"{key} {pair[0]} -> {pair[1]}" for key, pair in pairs.items())
        lines.append(f"  {'settings' if section == 'hyperparameters' else section}: {named or 'unchanged'}")
    lines.append(result_line(original.data, new.data, outputs))
    return "\n".join(lines)


def result_line(original: dict, new: dict, outputs) -> str:
    before, after = original.get("weights_sha256"), new.get("weights_sha256")
    if before and before == after:
        return f"reproduced bit for bit: the weights' SHA-256 matches ({after[:12]}…)"
    metric = next((key for key in ("test_accuracy", "test_loss") if key in (original.get("test_metrics") or {})
                   and key in (new.get("test_metrics") or {})), None)
    why = "the original recorded no weights' hash" if not before else "the weights differ"
    if metric is None:
        return f"not reproduced bit for bit ({why}); no test metric to compare."
    delta = new["test_metrics"][metric] - original["test_metrics"][metric]
    spread = spread_of(group_runs(stored_records(outputs, new["run_id"])), original, metric)
    if spread is None:
        judged = "seed spread unknown (fewer than 2 seeds of this configuration in the store; --seeds N measures it)"
    else:
        std, count = spread
        judged = (f"{'within' if abs(delta) <= 2 * std else 'beyond'} twice the seed spread "
                  f"(std {std:.4f} over {count} runs)")
    return (f"not reproduced bit for bit ({why}): {metric} {original['test_metrics'][metric]:.4f} -> "
            f"{new['test_metrics'][metric]:.4f} ({delta:+.4f}), {judged}")


def stored_records(outputs, rerun_id: str) -> list:
    """run.json of every completed run under `outputs` but the rerun, whose result is the one being judged."""
    from utils.runs.index import load_rows

    rows = [row for row in load_rows(outputs) if row.get("status") == "completed" and row["run"] != rerun_id]
    return [RunRecord.load(Path(outputs) / row["run"]).data for row in rows]
