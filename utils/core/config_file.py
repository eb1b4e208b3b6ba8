"""--config FILE (YAML or TOML) and --grid KEY=V1,V2: option values from a file or a cartesian product."""
import itertools
import tomllib
import typing
from dataclasses import fields
from pathlib import Path

import yaml

from utils.core import atomic
from utils.core.config import TrainConfig
from utils.core.errors import UsageError

# Options that are actions or belong to the file mechanism itself, never settings of a run.
NOT_SETTINGS = {"help", "config", "grid", "list", "runs", "compare", "last", "evaluate", "predict", "resume", "quiet", "verbose", "outputs"}


def read_config_file(path) -> dict:
    """A flat mapping of option names (dashes or underscores) to values, from .yaml/.yml or .toml."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"--config {path} does not exist.")
    try:
        if path.suffix == ".toml":
            values = tomllib.loads(path.read_text())
        elif path.suffix in (".yaml", ".yml"):
            values = yaml.safe_load(path.read_text()) or {}
        else:
            raise UsageError(f"--config expects a .yaml, .yml or .toml file. Received: {path}")
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as error:
        raise UsageError(f"--config {path} is not valid {path.suffix[1:].upper()}: {str(error).splitlines()[0]}")
    if not isinstance(values, dict):
        raise UsageError(f"--config {path} must hold option: value pairs at its top level.")
    return {str(key).replace("-", "_"): value for key, value in values.items()}


def apply_config_file(parser, path) -> None:
    """Make the file's values the parser's defaults, so options given on the command line win over them."""
    values = read_config_file(path)
    known = {action.dest for action in parser._actions} - NOT_SETTINGS
    unknown = sorted(set(values) - known)
    if unknown:
        raise UsageError(f"--config {path}: unknown option(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}.")
    if isinstance(values.get("model"), str):
        values["model"] = [values["model"]]
    parser.set_defaults(**values)


def save_resolved_config(config: TrainConfig, path) -> None:
    """config.yaml beside the run: every setting it used; `--config` of this file trains the same run again."""
    settings = {key: value for key, value in config.to_dict().items() if key not in ("task", "data_options")}
    settings.update(config.data_options)
    header = f"# Resolved settings of this run; rerun with: python {config.task}.py --config <this file>\n"
    atomic.write_text(path, header + yaml.safe_dump(settings, sort_keys=False))


def _parser_for(annotation):
    """A function text -> value for a TrainConfig field type (Optional[...] unwrapped)."""
    arguments = [argument for argument in typing.get_args(annotation) if argument is not type(None)]
    kind = arguments[0] if arguments else annotation
    if kind is bool:
        return lambda text: {"true": True, "false": False}[text.lower()]
    if kind in (int, float):
        return kind
    return str


def parse_grid(items) -> list:
    """['learning_rate=0.001,0.0003', 'batch_size=128,256'] -> one dict per combination, in order."""
    types = {item.name: item.type for item in fields(TrainConfig)}
    axes = []
    for item in items:
        key, separator, values = item.partition("=")
        key = key.strip().replace("-", "_")
        if not separator or not values:
            raise UsageError(f"--grid expects KEY=V1,V2,... Received: {item!r}")
        if key not in types or key in ("task", "data_options", "name"):
            valid = ", ".join(name for name in types if name not in ("task", "data_options", "name"))
            raise UsageError(f"--grid: unknown setting {key!r}; valid: {valid}.")
        convert = _parser_for(types[key])
        try:
            axes.append([(key, convert(value.strip())) for value in values.split(",")])
        except (ValueError, KeyError):
            raise UsageError(f"--grid {item!r}: values of {key} must be {getattr(types[key], '__name__', types[key])}.")
    return [dict(combination) for combination in itertools.product(*axes)]


def grid_label(combination: dict) -> str:
    return "_".join(f"{key}={value}" for key, value in combination.items())
