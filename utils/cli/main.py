"""The command line every entrypoint shares: one argument definition, one dispatcher, one error policy."""
import argparse
import sys

from utils.core.config import DEFAULT_SEED, TrainConfig, resolve_config
from utils.core.errors import UsageError, UserError


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one line on stderr (exit code 2) instead of usage plus error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser(task) -> argparse.ArgumentParser:
    from models import models_for_task

    names = [spec.name for spec in models_for_task(task.name)]
    defaults = task.defaults
    parser = OneLineParser(
        prog=f"{task.name}.py",
        description=f"Train and evaluate named Keras models on the {task.name} task: {task.description}.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Models: " + ", ".join(names) + ". Every run writes a new folder under --outputs.",
    )
    actions = parser.add_argument_group("what to do (default: train)")
    actions.add_argument(
        "-m", "--model", nargs="+", metavar="NAME", default=None,
        help=f"model(s) to train, or 'all' (default: {task.default_model})",
    )
    exclusive = actions.add_mutually_exclusive_group()
    exclusive.add_argument("--list", action="store_true", help="list the registered models and exit")
    exclusive.add_argument("--runs", action="store_true", help="list the runs in --outputs (status, model, epochs, accuracy)")
    exclusive.add_argument(
        "--compare", nargs="*", metavar="RUN", default=None,
        help="overlay the histories of these run folders (paths or globs; add --last N for the newest N runs)",
    )
    exclusive.add_argument("--evaluate", metavar="PATH", help="evaluate a run folder, its model.h5 or a checkpoint on the test set")
    exclusive.add_argument(
        "--predict", nargs="+", metavar=("PATH", "INPUT"),
        help=f"predict with a saved model: {task.predict_help}",
    )
    exclusive.add_argument("--resume", metavar="RUN", help="continue a run from its last checkpoint up to --epochs in total")
    actions.add_argument("--last", type=int, metavar="N", help="with --compare: add the newest N runs in --outputs")

    training = parser.add_argument_group("training")
    training.add_argument("--epochs", type=int, metavar="N", help=f"total epochs (default: {defaults.get('epochs')}, or the model's own)")
    training.add_argument("--batch-size", type=int, metavar="N", help=f"samples per step (default: {defaults.get('batch_size')}, or the model's own)")
    training.add_argument("--optimizer", metavar="NAME", help=f"any Keras optimizer name (default: {defaults.get('optimizer', 'adam')}, or the model's own)")
    training.add_argument("--learning-rate", type=float, metavar="LR", help="learning rate (default: the optimizer's or the model's own)")
    training.add_argument("--loss", metavar="NAME", help=f"any Keras loss name (default: {defaults.get('loss')}, or the model's own)")
    training.add_argument("--seed", type=int, default=DEFAULT_SEED, metavar="N", help=f"random seed, recorded in run.json (default: {DEFAULT_SEED})")
    training.add_argument("--validation-split", type=float, default=0.1, metavar="F", help="fraction of the training data held out for validation (default: 0.1)")
    training.add_argument("--limit", type=int, metavar="N", help="train on the first N training samples only (default: all)")
    training.add_argument("--steps-per-execution", type=int, metavar="N", help="training steps per compiled call (default: chosen from the batch size)")
    training.add_argument("--jit", action=argparse.BooleanOptionalAction, default=None, help="XLA-compile the training step (default: on for dense models on a CPU, off for conv nets; Keras decides on a GPU)")
    training.add_argument("--mixed-precision", action="store_true", help="compute in float16 on a GPU (with loss scaling) or bfloat16 on a CPU; weights and outputs stay float32")
    training.add_argument("--deterministic", action="store_true", help="enable TensorFlow op determinism (slower; repeatable to the bit)")

    features = parser.add_argument_group("training features")
    features.add_argument("--momentum", type=float, metavar="M", help="optimizer momentum (sgd, rmsprop)")
    features.add_argument("--nesterov", action="store_true", help="Nesterov momentum (sgd)")
    features.add_argument("--weight-decay", type=float, metavar="WD", help="decoupled weight decay (adamw and others)")
    features.add_argument(
        "--lr-schedule", choices=["constant", "step", "cosine", "plateau"], default=None,
        help="learning-rate schedule: step halves it every --lr-step-epochs, cosine decays it to 0 over the run, "
        "plateau halves it after 3 epochs without val_loss improvement (default: constant)",
    )
    features.add_argument("--lr-step-epochs", type=int, metavar="N", help="epochs between halvings for --lr-schedule step (default: 10)")
    features.add_argument("--early-stopping", type=int, metavar="PATIENCE", help="stop after PATIENCE epochs without val_loss improvement, keeping the best weights")
    integrations = parser.add_argument_group("integrations")
    integrations.add_argument("--tensorboard", action="store_true", help="write TensorBoard logs to <run>/tensorboard (tensorboard --logdir outputs/)")
    integrations.add_argument(
        "--mlflow", nargs="?", const="default", metavar="URI",
        help="log the run to MLflow (default URI: sqlite:///<outputs>/mlflow.db; any tracking URI works)",
    )
    integrations.add_argument(
        "--distribute", choices=["none", "mirrored", "multi-worker"], default=None,
        help="tf.distribute: mirrored = all local GPUs (or --devices), multi-worker = workers from TF_CONFIG; "
        "--batch-size is the global batch (default: none)",
    )
    integrations.add_argument("--devices", metavar="LIST", help="mirrored: devices to use, e.g. /gpu:0,/gpu:1")
    integrations.add_argument("--logical-cpus", type=int, metavar="N", help="mirrored on a CPU-only machine: split the CPU into N devices (for testing)")
    features.add_argument("--augment", action="store_true", help="augment training images: rotation 8°, shifts 8%%, shear 0.3, zoom 8%% (mnist.py)")

    data = parser.add_argument_group("data")
    if task.add_data_arguments:
        task.add_data_arguments(data)

    settings = parser.add_argument_group("settings files and sweeps")
    settings.add_argument("--config", metavar="FILE", help="read option values from a YAML or TOML file; the command line wins")
    settings.add_argument(
        "--grid", nargs="+", metavar="KEY=V1,V2",
        help="train every combination, e.g. learning_rate=0.001,0.0003 batch_size=128,256; then compare them",
    )

    # --- sweeps options ---
    sweeps = parser.add_argument_group("sweeps (--grid, --search; each trial a run folder, the sweep in outputs/sweep_*)")
    sweeps.add_argument("--search", choices=["random", "tpe"], help="an Optuna search over --space: random or tpe (Bayesian)")
    sweeps.add_argument("--trials", type=int, metavar="N", help="trials of a --search; with --resume-sweep, extends it to N (default: 10)")
    sweeps.add_argument("--space", metavar="FILE", help="YAML search space: option: [choices] | {int|uniform|loguniform: [low, high]}")
    sweeps.add_argument("--objective", default="val_accuracy", metavar="METRIC",
                        help="what a sweep optimizes: the best epoch's val_accuracy, val_loss, ... or test_accuracy (default: val_accuracy)")
    sweeps.add_argument("--prune", choices=["median", "hyperband"], help="stop hopeless trials early with Optuna's pruner (default: none)")
    sweeps.add_argument("--workers", type=int, metavar="N", help="trials running at once, each in its own process (default: 1)")
    sweeps.add_argument("--executor", choices=["local", "ray"], default="local", help="run trials here or as Ray tasks on a cluster (default: local)")
    sweeps.add_argument("--ray-address", metavar="HOST:PORT", help="the Ray cluster for --executor ray (default: $RAY_ADDRESS)")
    sweeps.add_argument("--gpus-per-trial", type=float, metavar="G", help="GPUs per trial; 0.5 lets two trials share one (default: 1 when there are GPUs)")
    sweeps.add_argument("--resume-sweep", metavar="FOLDER", help="continue a sweep folder: skip finished trials, rerun failed ones, continue interrupted ones")

    output = parser.add_argument_group("output")
    output.add_argument("--outputs", default="outputs", metavar="DIR", help="folder for run folders (default: outputs/)")
    output.add_argument("--name", metavar="LABEL", help="a label added to the run folder's name (letters, digits, - _ .)")
    loudness = output.add_mutually_exclusive_group()
    loudness.add_argument("-v", "--verbose", action="store_true", help="progress bars and TensorFlow's own logs")
    loudness.add_argument("--quiet", action="store_true", help="print only the run folder path and errors")
    return parser


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
    options = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "optimizer": args.optimizer,
        "learning_rate": args.learning_rate,
        "loss": args.loss,
        "seed": args.seed,
        "validation_split": args.validation_split,
        "limit": args.limit,
        "steps_per_execution": args.steps_per_execution,
        "jit": args.jit,
        "deterministic": args.deterministic,
        "mixed_precision": args.mixed_precision or None,
        "name": args.name,
        "momentum": args.momentum,
        "nesterov": args.nesterov or None,
        "weight_decay": args.weight_decay,
        "lr_schedule": args.lr_schedule,
        "lr_step_epochs": args.lr_step_epochs,
        "early_stopping": args.early_stopping,
        "augment": args.augment or None,
        "tensorboard": args.tensorboard or None,
        "mlflow": args.mlflow,
        "distribute": args.distribute,
        "devices": args.devices,
        "logical_cpus": args.logical_cpus,
        "data_options": {name: getattr(args, name) for name in task.data_option_names},
    }
    return options


def list_models(task) -> None:
    from models import models_for_task

    print(f"{'model':<24} {'params':>10}  defaults / description")
    for spec in models_for_task(task.name):
        model = spec.build(input_shape=task_input_shape(task), num_classes=task.num_classes)
        defaults = ", ".join(f"{key}={value}" for key, value in spec.defaults.items()) or "task defaults"
        marker = " (default)" if spec.name == task.default_model else ""
        print(f"{spec.name + marker:<24} {model.count_params():>10,}  [{defaults}] {spec.description}")


def task_input_shape(task):
    return task.sample_shape


def planned_runs(task, args) -> list:
    """(model spec, resolved config) for every run the options ask for: models x grid combinations."""
    from utils.core.config_file import grid_label, parse_grid

    options = training_options(task, args)
    combinations = parse_grid(args.grid) if args.grid else [{}]
    plans = []
    for combination in combinations:
        chosen = {**options, **{key: value for key, value in combination.items() if key != "model"}}
        if combination:
            chosen["name"] = "_".join(filter(None, [args.name, grid_label(combination)]))
        models = [combination["model"]] if "model" in combination else args.model
        for spec in selected_models(task, models):
            plans.append((spec, resolve_config(task, spec, chosen)))
    return plans


def train(task, args) -> int:
    from utils.training.distribution import make_distribution
    from utils.training.engine import build_optimizer, check_loss, train_new_run
    from utils.runs.record import prepare_outputs

    plans = planned_runs(task, args)
    first = plans[0][1]
    # tf.distribute strategies must exist before any other TensorFlow work (the checks below create variables).
    distribution = make_distribution(first.distribute, first.devices, first.logical_cpus)
    for _, config in plans:  # every run's settings are checked before the first one starts
        build_optimizer(config)
        check_loss(config.loss)
    prepare_outputs(args.outputs)
    verbosity = verbosity_of(args)
    datasets = {}
    outcomes = []
    for spec, config in plans:
        key = (config.seed, config.validation_split, config.limit, tuple(sorted(config.data_options.items())))
        if key not in datasets:
            datasets[key] = load_dataset(task, config)
        outcomes.append(train_new_run(task, spec, config, datasets[key], args.outputs, verbosity, distribution))
    comparison = None
    if len(outcomes) > 1:
        from utils.reports.compare import compare

        comparison = compare([outcome.folder for outcome in outcomes], args.outputs, verbosity)
    for outcome in outcomes:
        print(outcome.folder)
    if comparison:
        print(comparison)
    return 0


def load_dataset(task, config: TrainConfig):
    return task.load(config.data_options, config.seed, config.validation_split, config.limit)


def main(task_name: str, argv=None) -> int:
    from utils.training.setup import import_keras

    argv = sys.argv[1:] if argv is None else argv
    # Import TensorFlow first and quietly: the model registry behind the parser imports Keras.
    import_keras(verbose="-v" in argv or "--verbose" in argv)
    from utils.tasks import get_task

    task = get_task(task_name)
    parser = build_parser(task)
    args = parser.parse_args(argv)
    if args.config:
        from utils.core.config_file import apply_config_file

        apply_config_file(parser, args.config)
        args = parser.parse_args(argv)
    # --- sweeps: --grid, --search and --resume-sweep run trials as child processes of this entry point ---
    from utils.sweeps.driver import is_sweep, run_sweep

    if is_sweep(args):
        return run_sweep(task, parser, args, verbosity_of(args))
    return dispatch(task, args)


def dispatch(task, args) -> int:
    """Run the one action the options ask for; training is the default."""
    from utils.reports import compare
    from utils.training import saved_models as reload

    verbosity = verbosity_of(args)
    if args.last is not None and args.last < 1:
        raise UsageError(f"--last must be at least 1. Received: {args.last}.")
    if args.list:
        list_models(task)
    elif args.runs:
        print(compare.list_runs(args.outputs))
    elif args.compare is not None or args.last:
        folders = compare.resolve_runs(args.compare, args.last, args.outputs)
        print(compare.compare(folders, args.outputs, verbosity))
    elif args.evaluate:
        reload.evaluate(task, args.evaluate, verbosity)
    elif args.predict:
        reload.predict(task, args.predict[0], args.predict[1:], verbosity)
    elif args.resume:
        if args.epochs is not None and args.epochs < 1:
            raise UsageError(f"--epochs must be at least 1. Received: {args.epochs}.")
        reload.resume(task, args.resume, args.epochs, verbosity)
    else:
        return train(task, args)
    return 0


def run_task(task_name: str, argv=None) -> None:
    """Entry point of mnist.py, churn.py, xor.py, iris.py: run, and turn user errors into one line and an exit code."""
    prog = f"{task_name}.py"
    try:
        code = main(task_name, argv)
    except UserError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        code = error.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        code = 130
    sys.stdout.flush()
    sys.exit(code)
