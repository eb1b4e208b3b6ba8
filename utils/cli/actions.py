"""The subcommands that train, sweep, compare, evaluate, predict, export and resume (the run-store ones are in
utils.cli.store_actions); each is registered with @command, in the order the top-level --help lists them."""
from pathlib import Path

from utils.cli.commands import command
from utils.core.config import resolve_config
from utils.core.errors import UsageError
from utils.core.options import EXPORT_FORMATS, seed_list, setting_options


def with_keras(args) -> None:
    """Import TensorFlow and Keras, quietly unless --verbose: only the actions that train, evaluate or predict do.

    The import takes seconds, so it is announced first: the command says what it does within a second."""
    import os

    from utils.training.setup import import_keras

    status(args, f"starting Keras on {os.environ.get('KERAS_BACKEND', 'tensorflow')} ...")
    import_keras(verbose=bool(args.verbose))


def verbosity_of(args) -> int:
    return 0 if args.quiet else 2 if args.verbose else 1


def status(args, message: str) -> None:
    """A line saying which silent phase the command is in (not under --quiet)."""
    if verbosity_of(args):
        print(message, flush=True)


def selected_models(task, requested):
    """Model specs for the -m values; 'all' means every model of the task; unknown names are a usage error."""
    from models import get_model, models_for_task

    requested = requested or [task.default_model]
    if "all" in requested:
        return models_for_task(task.name)
    specs = []
    for name in requested:
        try:
            specs.append(get_model(task.name, name))
        except KeyError as error:
            raise UsageError(error.args[0])
    return specs


def training_options(task, args) -> dict:
    """The settings the command line (or --config) gave; None where it left them to the model and task."""
    options = {option.name: getattr(args, option.name) for option in setting_options()}
    options["data_options"] = {option.name: getattr(args, option.name) for option in task.data_options}
    return options


def planned_runs(task, args) -> list:
    """(model spec, resolved config) for every model the options ask for (grids and searches are sweeps)."""
    options = training_options(task, args)
    plans = []
    for spec in selected_models(task, args.model):
        config = resolve_config(task, spec, options)
        seeds = seed_list(args.seeds, config.seed) if getattr(args, "seeds", None) else [config.seed]
        plans += [(spec, config if seed == config.seed else resolve_config(task, spec, {**options, "seed": seed}))
                  for seed in seeds]
    return plans


@command("train", "train models (the default command): a run folder each, compared if several")
def train(task, args) -> int:
    """The default action: train every planned run, then compare them when there are several."""
    plans = planned_runs(task, args)  # option errors first, before TensorFlow's import
    from utils.reports.drawing import start_worker
    from utils.training.multiworker import named_follower

    if not named_follower(args):
        start_worker()  # the figures' process imports matplotlib beside TensorFlow's import
    with_keras(args)
    from utils.runs.folder import prepare_outputs
    from utils.training.engine import RunContext, check_plans, train_new_run
    from utils.training.multiworker import placement_for

    context = RunContext(outputs=args.outputs, verbosity=verbosity_of(args))
    # A multi-worker job is joined, and tf.distribute strategies made, before any other JAX or TensorFlow work
    # (the checks below create variables).
    context.placement = placement_for(args, [config for _, config in plans])
    context.distribution = check_plans([config for _, config in plans])
    context.placement.owns(prepare_outputs, args.outputs)  # the other processes of a job write nothing there
    datasets = {}
    folders = []
    for spec, config in plans:
        key = (config.seed, config.validation_split, config.limit, tuple(sorted(config.data_options.items())))
        if key not in datasets:
            status(args, f"loading {task.describe_data(config.data_options)} ...")
            datasets[key] = task.load(config.data_options, config.seed, config.validation_split, config.limit)
        folders.append(train_new_run(task, spec, config, datasets[key], context))
    from utils.training.trial import trial_settings

    comparison = None
    # The other processes of a job may not see the folders; a sweep trial's seeds are compared in the sweep's report.
    if len(folders) > 1 and context.placement.owns_folder and not trial_settings():
        from utils.reports.compare import compare

        comparison = compare(folders, args.outputs, context.verbosity)
    for folder in folders + ([comparison] if comparison else []):
        print(folder)
    return 0


@command("sweep", "a grid (--grid) or an Optuna search (--search); --resume FOLDER continues one")
def sweep(task, args) -> int:
    if not (args.grid or args.search or args.resume_sweep):
        raise UsageError("sweep needs --grid KEY=V1,V2 ..., --search random|tpe with --space FILE, or --resume FOLDER.")
    if args.resume_sweep and finished_sweep(task, args):
        return 0
    # No Keras here: the driver only plans, records and reports; its workers import TensorFlow, and start while
    # the driver is still light.
    from utils.sweeps.driver import run_sweep

    return run_sweep(task, args, verbosity_of(args))


def finished_sweep(task, args) -> bool:
    """A resume with nothing left to do says so in one line, without TensorFlow."""
    from utils.sweeps.finished import nothing_to_resume

    line = nothing_to_resume(task, args)
    if line:
        print(line)
    return bool(line)


@command("list", "the registered models: parameters, defaults, description")
def list_models(task, args) -> int:
    from models import models_for_task

    print(f"{'model':<24} {'params':>10}  defaults / description")
    for spec in models_for_task(task.name):
        # The declared count (checked against a built model by tests/test_registry.py): no Keras needed here.
        params = f"{spec.params:,}" if spec.params is not None else "?"
        defaults = ", ".join(f"{key}={value}" for key, value in spec.defaults.items()) or "task defaults"
        marker = " (default)" if spec.name == task.default_model else ""
        print(f"{spec.name + marker:<24} {params:>10}  [{defaults}] {spec.description}")
    return 0


def in_scope(task, args, rows=None) -> list:
    """The run rows of this entry point's task (every task's with --all-tasks); a folder too damaged to name its task
    stays in every listing, so that it is seen."""
    from utils.runs.index import load_rows

    rows = load_rows(args.outputs) if rows is None else rows
    return rows if args.all_tasks else [row for row in rows if row.get("task") in (task.name, None)]


def queried_runs(task, args) -> list:
    """The run folders --where selects (for compare), within the task's scope; [] without --where."""
    if not args.where:
        return []
    from utils.runs.query import query_rows

    rows = query_rows(args.outputs, args.where, in_scope(task, args))
    if not rows:
        scope = "" if args.all_tasks else f" (runs of the {task.name} task; --all-tasks for every task)"
        raise UsageError(f"No run in {args.outputs} matches --where {' '.join(args.where)}{scope}.")
    return [str(Path(args.outputs) / row["run"]) for row in rows]


def newest_runs(task, args) -> list:
    """The newest --last N runs of the task (of every task with --all-tasks), oldest first."""
    if not args.last:
        return []
    rows = sorted(in_scope(task, args), key=lambda row: (str(row.get("started") or ""), row["run"]))
    return [str(Path(args.outputs) / row["run"]) for row in rows[-args.last:]]


@command("compare", "overlay the histories of runs: RUN ..., --last N or --where")
def compare_runs(task, args) -> int:
    from utils.reports.compare import compare
    from utils.runs.store import resolve_runs

    named = [name for text in args.compare or [] for name in resolve_run_names(text, args.outputs)]
    folders = resolve_runs(named + queried_runs(task, args) + newest_runs(task, args), None, args.outputs)
    print(compare(folders, args.outputs, verbosity_of(args), grouped=bool(args.group)))
    return 0


def resolve_run_name(text: str, outputs) -> str:
    """A glob or folder as given, or a bare run name under --outputs."""
    from utils.runs.folder import RunFolder

    candidate = Path(outputs) / text
    if not Path(text).exists() and RunFolder(candidate).is_run():
        return str(candidate)
    return text


def resolve_run_names(text: str, outputs) -> list:
    """compare's RUN: a folder, a glob, a bare run name, or a glob of run names under --outputs (2026*_conv_net)."""
    import glob

    if glob.has_magic(text) and not glob.glob(text):
        return sorted(glob.glob(str(Path(outputs) / text))) or [text]
    return [resolve_run_name(text, outputs)]


@command("evaluate", "score a run's model (or one of its checkpoints) on the test set")
def evaluate(task, args) -> int:
    from utils.reports.drawing import start_worker

    start_worker()  # the figures' process imports matplotlib beside TensorFlow's import
    with_keras(args)
    from utils.training.saved_models import evaluate as evaluate_saved

    evaluate_saved(task, resolve_run_name(args.run, args.outputs), verbosity_of(args))
    return 0


@command("predict", "a run's model on new inputs: the class and its probability")
def predict(task, args) -> int:
    with_keras(args)
    from utils.training.saved_models import predict as predict_saved

    predict_saved(task, resolve_run_name(args.run, args.outputs), args.inputs, verbosity_of(args))
    return 0


@command("export", "a run's model as .keras, a SavedModel or ONNX, checked on its test inputs")
def export(task, args) -> int:
    if not args.export_format:
        raise UsageError(f"export needs --to {'|'.join(EXPORT_FORMATS)}, e.g. {task.name}.py export RUN --to onnx.")
    with_keras(args)
    from utils.training.export import export_run

    check = export_run(task, resolve_run_name(args.run, args.outputs), args.export_format, args.export_path,
                       verbosity_of(args))
    return 0 if check.passed else 1


@command("resume", "continue a run from its last checkpoint up to --epochs in total")
def resume(task, args) -> int:
    with_keras(args)
    from utils.training.engine import resume_run
    from utils.training.multiworker import placement_for

    placement = placement_for(args)  # before any JAX work, as joining a multi-worker job requires
    resume_run(task, resolve_run_name(args.run, args.outputs), args.epochs, verbosity_of(args), placement)
    return 0


@command("rerun", "train a run again from its record: data checked, changes named, reproduced?")
def rerun(task, args) -> int:
    from utils.runs.record import RunRecord

    path = resolve_run_name(args.run, args.outputs)
    from utils.training.rerun import check_data_file, recorded_config, rerun as rerun_run

    record = RunRecord.load(path)  # a damaged record or a vanished file: one line, before TensorFlow
    recorded_config(task, record, bool(args.deterministic))
    check_data_file(record)
    with_keras(args)
    from utils.runs.folder import prepare_outputs

    prepare_outputs(args.outputs)
    print(rerun_run(task, path, args, verbosity_of(args)))
    return 0
