"""Every command-line option, declared once: flag, type, default, choices, help and check.

The argparse parser, `--config` files, `--grid` values and the run's recorded settings (TrainConfig, run.json) are
all derived from these declarations, so a value gets the same conversion and the same checks wherever it comes from.
"""
import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

from utils.core.errors import UsageError

# Longest echo of a user's value in an error message: a pasted file or an alias-bomb YAML stays one short line.
ECHO_LIMIT = 200


def echo(value) -> str:
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        value = value.item()  # a NumPy scalar (from a YAML file, a grid or a search) echoes as 0.1, not np.float64(0.1)
    text = repr(value)
    return text if len(text) <= ECHO_LIMIT else text[:ECHO_LIMIT] + f"… ({len(text):,} characters)"


@dataclass(frozen=True)
class Option:
    """One option. `kind` is int, float, str or bool; `flag` options take no value on the command line."""

    name: str  # the destination: TrainConfig field, --config key, --grid key
    flags: tuple
    kind: type = str
    default: Any = None  # the value when neither the command line, the model nor the task sets it
    help: str = ""  # may name {task_default}: the task's own default for this option
    group: str = "training"
    metavar: Optional[str] = None
    choices: tuple = ()
    check: Optional[Callable] = None  # value -> problem ("must be at least 1") or None
    setting: bool = True  # a setting of a run: a TrainConfig field, recorded in run.json, allowed in --grid
    in_config: bool = True  # may appear in a --config file
    flag: bool = False  # store_true style (True when given)
    negatable: bool = False  # --x / --no-x (three states: True, False, unset)
    nargs: Any = None
    const: Any = None
    exclusive: Optional[str] = None  # options sharing this name are mutually exclusive
    commands: tuple = ("train", "sweep")  # the subcommands that take it (a run setting: training and sweeps)
    positional: bool = False  # an argument of its subcommand (flags[0] names it in --help), not a --flag
    unset: str = "default"  # what a view shows for a run that recorded no value (--limit: all, --early-stopping: off)

    @property
    def flag_name(self) -> str:
        return self.flags[-1]

    def convert(self, value, source: str = ""):
        """`value` (text from the command line or a grid, or a value read from a config file) as this option's type."""
        where = f" ({source})" if source else ""
        if self.nargs in ("+", "*") and not isinstance(value, str):
            if not isinstance(value, (list, tuple)) or not value:
                raise UsageError(f"{self.flag_name} expects a list of {self.kind.__name__} values{where}. Received: {echo(value)}.")
            return [Option.convert(self.single(), item, source) for item in value]
        converted = _convert_scalar(self, value, where)
        if self.choices and converted not in self.choices:
            raise UsageError(
                f"{self.flag_name} must be one of {', '.join(map(str, self.choices))}{where}. Received: {echo(value)}."
            )
        return converted

    def single(self) -> "Option":
        """This option for one element of its list."""
        return Option(self.name, self.flags, self.kind, choices=self.choices)

    def problem(self, value) -> Optional[str]:
        """The declared check's complaint about `value`, phrased with the flag, or None."""
        if value is None or self.check is None:
            return None
        complaint = self.check(value)
        return f"{self.flag_name} {complaint}. Received: {echo(value)}." if complaint else None


def _convert_scalar(option: Option, value, where: str):
    kind = option.kind
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "yes", "on", "1"):
            return True
        if text in ("false", "no", "off", "0"):
            return False
        raise UsageError(f"{option.flag_name} takes true or false{where}. Received: {echo(value)}.")
    if kind is int:
        if isinstance(value, bool) or isinstance(value, float) or not isinstance(value, (int, str)):
            raise UsageError(f"{option.flag_name} expects a whole number{where}. Received: {echo(value)}.")
        try:
            return int(value)
        except ValueError:
            raise UsageError(f"{option.flag_name} expects a whole number{where}. Received: {echo(value)}.")
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise UsageError(f"{option.flag_name} expects a number{where}. Received: {echo(value)}.")
        try:
            return float(value)
        except ValueError:
            raise UsageError(f"{option.flag_name} expects a number{where}. Received: {echo(value)}.")
    if not isinstance(value, str):
        raise UsageError(f"{option.flag_name} expects text{where}. Received: {echo(value)}.")
    return value


# ---------------------------------------------------------------- checks
def at_least(lowest):
    return lambda value: None if value >= lowest else f"must be at least {lowest}"


def positive_finite(value):
    if not math.isfinite(value):
        return "must be finite"  # inf and nan are not "less than 0": say what is wrong with them
    return None if value > 0 else "must be greater than 0"


def between_exclusive(value):
    return None if 0 < value < 1 else "must be between 0 and 1 (exclusive)"


def unit_interval_open_right(value):
    return None if math.isfinite(value) and 0 <= value < 1 else "must be in [0, 1)"


def non_negative_finite(value):
    if not math.isfinite(value):
        return "must be finite"
    return None if value >= 0 else "must be at least 0"


def seed_range(value):
    # NumPy's and scikit-learn's random states take 0 .. 2**32 - 1.
    return None if 0 <= value < 2**32 else "must be between 0 and 4294967295"


def seeds_problem(text):
    try:
        seed_list(text, DEFAULT_SEED)
    except ValueError as error:
        return str(error)
    return None


def seed_list(text, base: int) -> list:
    """--seeds as the seeds to train: N means N seeds counting up from `base` (--seed), A,B,C means those."""
    parts = [part.strip() for part in str(text).split(",")]
    if not all(part.isdigit() for part in parts):
        raise ValueError("expects a count N or a list of seeds A,B,C (whole numbers)")
    numbers = [int(part) for part in parts]
    if len(numbers) == 1:
        if not 1 <= numbers[0] <= 1000:
            raise ValueError("must be a count between 1 and 1000 (or a list of seeds A,B,C)")
        numbers = [base + index for index in range(numbers[0])]
    if len(set(numbers)) < len(numbers):
        raise ValueError("lists a seed twice")
    problem = next((seed_range(seed) for seed in numbers if seed_range(seed)), None)
    if problem:
        raise ValueError(f"seeds {problem}")
    return numbers


def folder_label(value):
    # The label joins a timestamp and the model name in a folder name, which a file system caps at 255 bytes.
    return None if len(str(value).encode()) <= 100 else "must be at most 100 bytes (it becomes part of a folder name)"


def epochs_range(value):
    return None if 1 <= value <= 10**7 else "must be at least 1" if value < 1 else "must be at most 10000000"


# ---------------------------------------------------------------- the declarations
MODEL = "model"
SWEEPS = "sweeps (--grid, --search; each trial a run folder, the sweep in outputs/sweep_*)"
TRAINING, FEATURES, INTEGRATIONS, SETTINGS, OUTPUT = (
    "training", "training features", "integrations", "settings files", "output",
)
STORE = "the run store"
ARGUMENTS = "arguments"
LR_SCHEDULES = ("constant", "step", "cosine", "plateau")
DISTRIBUTE_KINDS = ("none", "mirrored", "multi-worker")
DEFAULT_SEED = 42

# The subcommands that take an option. Every run setting belongs to training and to sweeps (a sweep's trials are
# trainings); the run-store commands take only their own few options.
TRAINS = ("train", "sweep")
TRAINS_OR_RESUMES = ("train", "sweep", "resume")
MULTI_WORKER_JOB = ("train", "resume")  # who this process is in a job: not for sweeps
LOUD = ("train", "sweep", "resume", "evaluate", "predict", "export", "compare", "rerun")
EVERY_STORE = ("train", "sweep", "resume", "evaluate", "predict", "export", "compare", "runs", "diff", "tag", "untag",
               "note", "delete", "restore", "purge", "rerun", "serve")
# What `export --to` writes: Keras 3's native file, a TensorFlow SavedModel folder, an ONNX file.
EXPORT_FORMATS = ("keras", "saved_model", "onnx")

OPTIONS = (
    Option("model", ("-m", "--model"), nargs="+", metavar="NAME", group=MODEL, setting=False, commands=TRAINS,
           help="model(s) to train, or 'all' (default: {task_default})"),
    Option("models_file", ("--models",), metavar="FILE.py", group=MODEL, commands=("train", "sweep", "list"),
           unset="none", help="also load the models a Python file registers with @register_model (kept in each run)"),
    # The subcommands' positional arguments (flags[0] is the name --help shows).
    Option("run", ("run",), metavar="RUN", group=ARGUMENTS, setting=False, in_config=False, positional=True,
           commands=("evaluate", "predict", "export", "resume", "tag", "untag", "note", "rerun"),
           help="a run folder, or a run's name under --outputs (evaluate, predict and export also take a model file "
                "in one)"),
    Option("compare", ("runs",), nargs="*", metavar="RUN", group=ARGUMENTS, setting=False, in_config=False,
           positional=True, commands=("compare",),
           help="run folders, globs or run names (add --last N or --where for more)"),
    Option("diff", ("runs",), nargs=2, metavar="RUN", group=ARGUMENTS, setting=False, in_config=False,
           positional=True, commands=("diff",), help="the two runs"),
    Option("targets", ("runs",), nargs="+", metavar="RUN", group=ARGUMENTS, setting=False, in_config=False,
           positional=True, commands=("delete", "restore"), help="run folders or run names"),
    Option("inputs", ("inputs",), nargs="+", metavar="INPUT", group=ARGUMENTS, setting=False, in_config=False,
           positional=True, commands=("predict",), help="{task_predict_help}"),
    Option("tags", ("tags",), nargs="*", metavar="KEY=VALUE", group=ARGUMENTS, setting=False, in_config=False,
           positional=True, commands=("tag",), help="tags to set (KEY alone means KEY=true)"),
    Option("key", ("key",), metavar="KEY", group=ARGUMENTS, setting=False, in_config=False, positional=True,
           commands=("untag",), help="the tag to remove"),
    Option("text", ("text",), metavar="TEXT", group=ARGUMENTS, setting=False, in_config=False, positional=True,
           commands=("note",), help="the note"),

    Option("export_format", ("--to",), str, metavar="FORMAT", group=ARGUMENTS, setting=False, in_config=False,
           choices=EXPORT_FORMATS, commands=("export",),
           help="keras (a .keras file), saved_model (a TensorFlow SavedModel folder) or onnx (required)"),
    Option("export_path", ("--output",), str, metavar="PATH", group=ARGUMENTS, setting=False, in_config=False,
           commands=("export",),
           help="where to write it (default: exports/ in the run folder, named after the model file)"),

    Option("last", ("--last",), int, metavar="N", group=STORE, setting=False, in_config=False, check=at_least(1),
           commands=("compare",), help="add the newest N runs of this task"),
    Option("where", ("--where",), nargs="+", metavar="FILTER", group=STORE, setting=False, in_config=False,
           commands=("runs", "compare"),
           help="only runs matching every filter, e.g. model=conv_net status=completed "
                "'test_accuracy>0.9' tag:baseline 'started>2026-11-01' sweep=ID (operators = != < <= > >= ~)"),
    Option("all_tasks", ("--all-tasks",), bool, False, flag=True, group=STORE, setting=False, in_config=False,
           commands=("runs", "compare"), help="include the runs of every task, not only this entry point's"),
    Option("sort", ("--sort",), metavar="[-]COLUMN", group=STORE, setting=False, in_config=False, commands=("runs",),
           help="sort by COLUMN; --sort=-COLUMN sorts descending (default: newest first)"),
    Option("show", ("--show",), int, 50, metavar="N", group=STORE, setting=False, in_config=False, check=at_least(0),
           commands=("runs",), help="show at most N runs, and say how many are hidden; 0 shows all (default: 50)"),
    Option("columns", ("--columns",), metavar="A,B,...", group=STORE, setting=False, in_config=False,
           commands=("runs",), help="the columns to show: any run fact, hyperparameter or metric"),
    Option("output_format", ("--format",), str, "table", group=STORE, setting=False, in_config=False,
           choices=("table", "csv", "json"), commands=("runs", "diff"), help="table, csv or json (default: table)"),
    Option("html", ("--html",), bool, False, flag=True, group=STORE, setting=False, in_config=False,
           commands=("runs",), help="also write outputs/index.html, every run and comparison on one page"),
    Option("port", ("--port",), int, 8765, metavar="N", group=STORE, setting=False, in_config=False,
           check=lambda value: None if 1 <= value <= 65535 else "must be between 1 and 65535", commands=("serve",),
           help="the port the dashboard listens on (default: 8765)"),
    Option("host", ("--host",), str, "127.0.0.1", metavar="ADDRESS", group=STORE, setting=False, in_config=False,
           commands=("serve",), help="the address to listen on; another than 127.0.0.1 lets other machines read "
                                     "every run (default: 127.0.0.1)"),
    Option("allow_data_change", ("--allow-data-change",), bool, False, flag=True, group=STORE, setting=False,
           in_config=False, commands=("rerun",),
           help="rerun even though the data's SHA-256 changed (the report names the change)"),
    Option("group", ("--group",), bool, False, flag=True, group=STORE, setting=False, in_config=False,
           commands=("runs", "compare"),
           help="one row per configuration (its settings but the seed): n, the seeds, mean ± std of each result"),
    Option("show_all", ("--all",), bool, False, flag=True, group=STORE, setting=False, in_config=False,
           commands=("diff",), help="show everything, not only what differs"),
    Option("older_than", ("--older-than",), metavar="AGE", group=STORE, setting=False, in_config=False,
           commands=("purge",), help="only runs trashed more than AGE ago, e.g. 30d, 12h, 2w"),
    Option("yes", ("--yes",), bool, False, flag=True, group=STORE, setting=False, in_config=False,
           commands=("purge",), help="yes, delete for good"),

    Option("epochs", ("--epochs",), int, 10, metavar="N", check=epochs_range, commands=TRAINS_OR_RESUMES,
           help="total epochs (default: {task_default}, or the model's own)"),
    Option("batch_size", ("--batch-size",), int, 32, metavar="N", check=at_least(1),
           help="samples per step (default: {task_default}, or the model's own)"),
    Option("optimizer", ("--optimizer",), str, "adam", metavar="NAME",
           help="any Keras optimizer name (default: {task_default}, or the model's own)"),
    Option("learning_rate", ("--learning-rate",), float, metavar="LR", check=positive_finite,
           help="learning rate (default: the optimizer's or the model's own)"),
    Option("loss", ("--loss",), str, metavar="NAME", help="any Keras loss name (default: {task_default}, or the model's own)"),
    Option("seed", ("--seed",), int, DEFAULT_SEED, metavar="N", check=seed_range,
           help=f"random seed, recorded with the run (default: {DEFAULT_SEED})"),
    Option("seeds", ("--seeds",), str, metavar="N|A,B,...", setting=False, check=seeds_problem,
           commands=("train", "sweep"),
           help="train each configuration N times, with seeds --seed, --seed+1, ... (or with the seeds listed); "
                "runs and compare then group them by configuration; a sweep's objective is then each trial's mean"),
    Option("validation_split", ("--validation-split",), float, 0.1, metavar="F", check=between_exclusive,
           help="fraction of the training data held out for validation (default: 0.1)"),
    Option("limit", ("--limit",), int, metavar="N", check=at_least(1),
           unset="all", help="train on the first N training samples only (default: all)"),
    Option("steps_per_execution", ("--steps-per-execution",), int, metavar="N", check=at_least(1),
           help="training steps per compiled call (default: chosen from the batch size)"),
    Option("jit", ("--jit",), bool, negatable=True,
           help="XLA-compile the training step (default on a CPU: on for dense models trained for 3,000 steps "
                "or more, where the compile pays back, off for shorter runs and conv nets; Keras decides on a GPU)"),
    Option("mixed_precision", ("--mixed-precision",), bool, False, flag=True,
           help="compute in float16 on a GPU (with loss scaling) or bfloat16 on a CPU; weights and outputs stay float32"),
    Option("deterministic", ("--deterministic",), bool, False, flag=True, commands=("train", "sweep", "rerun"),
           help="enable TensorFlow op determinism (slower; repeatable to the bit)"),

    Option("momentum", ("--momentum",), float, metavar="M", group=FEATURES, check=unit_interval_open_right,
           help="optimizer momentum (sgd, rmsprop)"),
    Option("nesterov", ("--nesterov",), bool, False, flag=True, group=FEATURES, help="Nesterov momentum (sgd)"),
    Option("weight_decay", ("--weight-decay",), float, metavar="WD", group=FEATURES, check=non_negative_finite,
           help="decoupled weight decay (adamw and others)"),
    Option("lr_schedule", ("--lr-schedule",), str, "constant", group=FEATURES, choices=LR_SCHEDULES,
           help="learning-rate schedule: step halves it every --lr-step-epochs, cosine decays it to 0 over the run, "
                "plateau halves it after 3 epochs without val_loss improvement (default: constant)"),
    Option("lr_step_epochs", ("--lr-step-epochs",), int, 10, metavar="N", group=FEATURES, check=at_least(1),
           help="epochs between halvings for --lr-schedule step (default: 10)"),
    Option("early_stopping", ("--early-stopping",), int, metavar="PATIENCE", group=FEATURES, check=at_least(1), unset="off",
           help="stop after PATIENCE epochs without val_loss improvement, keeping the best weights"),
    Option("augment", ("--augment",), bool, False, flag=True, group=FEATURES,
           help="augment training images: rotation 8°, shifts 8%%, shear 0.3, zoom 8%% (mnist.py)"),

    Option("tensorboard", ("--tensorboard",), bool, False, flag=True, group=INTEGRATIONS,
           help="write TensorBoard logs to <run>/tensorboard (tensorboard --logdir outputs/)"),
    Option("mlflow", ("--mlflow",), str, nargs="?", const="default", metavar="URI", group=INTEGRATIONS, unset="off",
           help="log the run to MLflow (default URI: sqlite:///<outputs>/mlflow.db; any tracking URI works)"),
    Option("distribute", ("--distribute",), str, "none", group=INTEGRATIONS, choices=DISTRIBUTE_KINDS,
           commands=TRAINS_OR_RESUMES,
           help="mirrored = all local GPUs (or --devices) with tf.distribute; multi-worker = several processes or "
                "machines joined by --coordinator (KERAS_BACKEND=jax); --batch-size is the global batch (default: none)"),
    Option("devices", ("--devices",), str, metavar="LIST", group=INTEGRATIONS, unset="all",
           help="mirrored: devices to use, e.g. /gpu:0,/gpu:1"),
    Option("logical_cpus", ("--logical-cpus",), int, metavar="N", group=INTEGRATIONS, check=at_least(1), unset="off",
           help="mirrored on a CPU-only machine: split the CPU into N devices (for testing)"),
    # Who this process is in a multi-worker job: not run settings (each process differs; a resume may move the
    # job), so run.json records them as the run's "world" instead of among its hyperparameters.
    Option("coordinator", ("--coordinator",), str, metavar="HOST:PORT", group=INTEGRATIONS, setting=False, commands=MULTI_WORKER_JOB,
           help="multi-worker: the address of process 0, which the others connect to "
                "(default: KERAS_DISTRIBUTION_JOB_ADDRESSES, or found by JAX under SLURM/Open MPI)"),
    Option("num_processes", ("--num-processes",), int, metavar="N", group=INTEGRATIONS, setting=False, commands=MULTI_WORKER_JOB,
           check=at_least(1), help="multi-worker: how many processes take part (default: KERAS_DISTRIBUTION_NUM_PROCESSES)"),
    Option("process_id", ("--process-id",), int, metavar="I", group=INTEGRATIONS, setting=False, commands=MULTI_WORKER_JOB, check=at_least(0),
           help="multi-worker: this process's number, 0 to N-1; process 0 writes the run folder "
                "(default: KERAS_DISTRIBUTION_PROCESS_ID)"),
    Option("worker_timeout", ("--worker-timeout",), int, 60, metavar="SECONDS", group=INTEGRATIONS, setting=False, commands=MULTI_WORKER_JOB,
           check=at_least(1), help="multi-worker: how long to wait for every process to join, and for one that "
                                   "stops answering, before giving up (default: 60)"),

    Option("config", ("--config",), metavar="FILE", group=SETTINGS, setting=False, in_config=False, commands=TRAINS,
           help="read option values from a YAML or TOML file; the command line wins"),
    Option("grid", ("--grid",), nargs="+", metavar="KEY=V1,V2", group=SWEEPS, setting=False, in_config=False,
           commands=("sweep",),
           help="train every combination, e.g. learning_rate=0.001,0.0003 batch_size=128,256; then compare them"),

    Option("search", ("--search",), str, group=SWEEPS, choices=("random", "tpe"), setting=False, in_config=False, commands=("sweep",),
           help="an Optuna search over --space: random or tpe (Bayesian)"),
    Option("trials", ("--trials",), int, metavar="N", group=SWEEPS, setting=False, in_config=False, commands=("sweep",), check=at_least(1),
           help="trials of a --search; with --resume, extends it to N (default: 10)"),
    Option("space", ("--space",), metavar="FILE", group=SWEEPS, setting=False, in_config=False, commands=("sweep",),
           help="YAML search space: option: [choices] | {{int|uniform|loguniform: [low, high]}}"),
    Option("objective", ("--objective",), str, "val_accuracy", metavar="METRIC", group=SWEEPS, setting=False,
           in_config=False, commands=("sweep",), help="what a sweep optimizes: the best epoch's val_accuracy, val_loss, ... or test_accuracy "
                                 "(default: val_accuracy)"),
    Option("prune", ("--prune",), str, group=SWEEPS, choices=("median", "hyperband"), setting=False, in_config=False, commands=("sweep",),
           help="stop hopeless trials early with Optuna's pruner (default: none)"),
    Option("workers", ("--workers",), int, metavar="N", group=SWEEPS, setting=False, in_config=False, commands=("sweep",), check=at_least(1),
           help="trials running at once, each in its own process (default: 1)"),
    Option("executor", ("--executor",), str, "local", group=SWEEPS, choices=("local", "ray"), setting=False,
           in_config=False, commands=("sweep",), help="run trials here or as Ray tasks on a cluster (default: local)"),
    Option("ray_address", ("--ray-address",), metavar="HOST:PORT", group=SWEEPS, setting=False, in_config=False, commands=("sweep",),
           help="the Ray cluster for --executor ray (default: $RAY_ADDRESS)"),
    Option("gpus_per_trial", ("--gpus-per-trial",), float, metavar="G", group=SWEEPS, setting=False, in_config=False, commands=("sweep",),
           check=lambda value: None if value > 0 else "must be greater than 0",
           help="GPUs per trial; 0.5 lets two trials share one (default: 1 when there are GPUs)"),
    Option("resume_sweep", ("--resume",), metavar="FOLDER", group=SWEEPS, setting=False, in_config=False,
           commands=("sweep",),
           help="continue a sweep folder: skip finished trials, rerun failed ones, continue interrupted ones"),

    Option("outputs", ("--outputs",), str, "outputs", metavar="DIR", group=OUTPUT, setting=False,
           commands=EVERY_STORE,
           help="folder for run folders (default: outputs/)"),
    Option("name", ("--name",), str, metavar="LABEL", group=OUTPUT, check=folder_label, unset="none",
           help="a label added to the run folder's name (letters, digits, - _ .)"),
    Option("verbose", ("-v", "--verbose"), bool, False, flag=True, group=OUTPUT, setting=False, exclusive="loudness",
           commands=LOUD,
           help="also show TensorFlow's own log lines (progress: a bar on a terminal, one line per epoch when piped)"),
    Option("quiet", ("--quiet",), bool, False, flag=True, group=OUTPUT, setting=False, exclusive="loudness",
           commands=LOUD,
           help="print only the run folder path and errors"),
)

BY_NAME = {option.name: option for option in OPTIONS}
# Settings a --grid may vary: every run setting (but the folder label) and the model.
GRID_KEYS = tuple(option.name for option in OPTIONS if option.setting and option.name != "name") + ("model",)


def setting_options() -> list:
    return [option for option in OPTIONS if option.setting]
