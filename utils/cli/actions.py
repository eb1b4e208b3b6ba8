"""What the command line can do, one function per action, registered in the order they are tried; training is
the default when no action option is given."""
from pathlib import Path

from utils.core.config import resolve_config
from utils.core.errors import UsageError
from utils.core.options import setting_options

ACTIONS = []


def action(is_requested):
    """Register `function(task, args)` to run when `is_requested(args)` is true."""

    def register(function):
        ACTIONS.append((is_requested, function))
        return function

    return register


def with_keras(args) -> None:
    """Import TensorFlow and Keras, quietly unless --verbose: only the actions that train, evaluate or predict do."""
    from utils.training.setup import import_keras

    import_keras(verbose=bool(args.verbose))


def verbosity_of(args) -> int:
    return 0 if args.quiet else 2 if args.verbose else 1


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
    return [(spec, resolve_config(task, spec, options)) for spec in selected_models(task, args.model)]


@action(lambda args: args.list)
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


def queried_runs(args) -> list:
    """The run folders --where selects (for --compare); [] without --where."""
    if not args.where:
        return []
    from utils.runs.query import query_rows

    rows = query_rows(args.outputs, args.where)
    if not rows:
        raise UsageError(f"No run in {args.outputs} matches --where {' '.join(args.where)}.")
    return [str(Path(args.outputs) / row["run"]) for row in rows]


@action(lambda args: args.compare is not None or args.last)
def compare_runs(task, args) -> int:
    from utils.reports.compare import compare
    from utils.runs.store import resolve_runs

    if args.last is not None and args.last < 1:
        raise UsageError(f"--last must be at least 1. Received: {args.last}.")
    folders = resolve_runs((args.compare or []) + queried_runs(args), args.last, args.outputs)
    print(compare(folders, args.outputs, verbosity_of(args)))
    return 0


@action(lambda args: args.evaluate)
def evaluate(task, args) -> int:
    with_keras(args)
    from utils.training.saved_models import evaluate as evaluate_saved

    evaluate_saved(task, args.evaluate, verbosity_of(args))
    return 0


@action(lambda args: args.predict)
def predict(task, args) -> int:
    with_keras(args)
    from utils.training.saved_models import predict as predict_saved

    predict_saved(task, args.predict[0], args.predict[1:], verbosity_of(args))
    return 0


@action(lambda args: args.resume)
def resume(task, args) -> int:
    if args.epochs is not None and args.epochs < 1:
        raise UsageError(f"--epochs must be at least 1. Received: {args.epochs}.")
    refuse_resume_settings(task, args)
    with_keras(args)
    from utils.training.engine import resume_run
    from utils.training.multiworker import start_if_requested

    world = start_if_requested(args)  # before any JAX work, as joining a multi-worker job requires
    resume_run(task, args.resume, args.epochs, verbosity_of(args), world=world)
    return 0


def refuse_resume_settings(task, args) -> None:
    """A resume continues the run as it was recorded: only --epochs may change. Other settings given with --resume
    are refused rather than silently ignored (a changed batch size or model would not be the same run)."""
    from utils.core.options import BY_NAME

    candidates = (*setting_options(), BY_NAME["model"], BY_NAME["grid"], *task.data_options)
    # --distribute multi-worker names the job a resumed multi-worker run joins again (checked against the record).
    allowed = {"epochs"} | ({"distribute"} if args.distribute == "multi-worker" else set())
    given = [option.flag_name for option in candidates
             if option.name not in allowed and getattr(args, option.name, None) not in (None, [], False)]
    if given:
        raise UsageError(
            f"--resume continues a run with its recorded settings; only --epochs may change. Drop {', '.join(given)}, "
            "or train a new run with them."
        )


def train(task, args) -> int:
    """The default action: train every planned run, then compare them when there are several."""
    plans = planned_runs(task, args)  # option errors first, before TensorFlow's import
    with_keras(args)
    from utils.runs.folder import prepare_outputs
    from utils.training.engine import RunContext, check_plans, train_new_run
    from utils.training.multiworker import start_if_requested

    context = RunContext(outputs=args.outputs, verbosity=verbosity_of(args))
    # A multi-worker job is joined, and tf.distribute strategies made, before any other JAX or TensorFlow work
    # (the checks below create variables).
    context.world = start_if_requested(args, [config for _, config in plans])
    context.distribution = check_plans([config for _, config in plans])
    if context.world is None or context.world.is_chief:  # the other processes write nothing under --outputs
        prepare_outputs(args.outputs)
    datasets = {}
    folders = []
    for spec, config in plans:
        key = (config.seed, config.validation_split, config.limit, tuple(sorted(config.data_options.items())))
        if key not in datasets:
            datasets[key] = task.load(config.data_options, config.seed, config.validation_split, config.limit)
        folders.append(train_new_run(task, spec, config, datasets[key], context))
    comparison = None
    if len(folders) > 1 and (context.world is None or context.world.is_chief):  # the others may not see the folders
        from utils.reports.compare import compare

        comparison = compare(folders, args.outputs, context.verbosity)
    for folder in folders + ([comparison] if comparison else []):
        print(folder)
    return 0


def dispatch(task, args) -> int:
    """Run the first action the options ask for; training is the default."""
    # --grid, --search and --resume-sweep run their trials as child processes of this entry point.
    if args.grid or args.search or args.resume_sweep:
        with_keras(args)  # the driver's figures and Optuna's trials import Keras: quietly, as training does
        from utils.sweeps.driver import run_sweep

        return run_sweep(task, args, verbosity_of(args))
    for is_requested, function in ACTIONS:
        if is_requested(args):
            return function(task, args)
    return train(task, args)
