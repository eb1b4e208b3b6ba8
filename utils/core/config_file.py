"""--config FILE (YAML or TOML) and --grid KEY=V1,V2: option values from a file or a cartesian product."""
import itertools
from pathlib import Path

from utils.core import atomic
from utils.core.errors import UsageError
from utils.core.options import BY_NAME, ECHO_LIMIT, GRID_KEYS, OPTIONS, echo


def read_config_file(path) -> dict:
    """A flat mapping of option names (dashes or underscores) to values, from .yaml/.yml or .toml."""
    import tomllib

    import yaml  # here, as tomllib, so the commands without --config start without them

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
    except UnicodeDecodeError:
        raise UsageError(f"--config {path} is not a text file; expected YAML or TOML option: value pairs.")
    except (yaml.YAMLError, tomllib.TOMLDecodeError, RecursionError) as error:
        first_line = (str(error).splitlines() or [type(error).__name__])[0][:ECHO_LIMIT]
        raise UsageError(f"--config {path} is not valid {path.suffix[1:].upper()}: {first_line}")
    if not isinstance(values, dict):
        raise UsageError(f"--config {path} must hold option: value pairs at its top level.")
    return {str(key).replace("-", "_"): value for key, value in values.items()}


def config_values(path, data_options=()) -> dict:
    """The file's values, each converted and checked exactly as its command-line flag would be."""
    values = read_config_file(path)
    declared = {option.name: option for option in (*OPTIONS, *data_options) if option.in_config}
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise UsageError(
            f"--config {path}: unknown option(s) {echo(', '.join(unknown))[1:-1]}; valid: {', '.join(sorted(declared))}."
        )
    converted = {}
    for key, value in values.items():
        option = declared[key]
        if option.nargs in ("+", "*") and not isinstance(value, (list, tuple)):
            value = [value]
        converted[key] = None if value is None else option.convert(value, f"in --config {path}")
        problem = option.problem(converted[key])
        if problem:
            raise UsageError(f"--config {path}: {problem}")
    return converted


def save_resolved_config(config, path) -> None:
    """config.yaml beside the run: every setting it used; `--config` of this file trains the same run again."""
    import yaml

    settings = {key: value for key, value in config.to_dict().items() if key not in ("task", "data_options")}
    settings.update(config.data_options)
    header = f"# Resolved settings of this run; rerun with: python {config.task}.py --config <this file>\n"
    atomic.write_text(path, header + yaml.safe_dump(settings, sort_keys=False))


def parse_grid(items) -> list:
    """['learning_rate=0.001,0.0003', 'batch_size=128,256'] -> one dict per combination, in order."""
    axes = []
    for item in items:
        key, separator, values = item.partition("=")
        key = key.strip().replace("-", "_")
        if not separator or not values:
            raise UsageError(f"--grid expects KEY=V1,V2,... Received: {echo(item)}")
        if key not in GRID_KEYS:
            raise UsageError(f"--grid: unknown setting {echo(key)}; valid: {', '.join(GRID_KEYS)}.")
        option = BY_NAME[key].single() if key == "model" else BY_NAME[key]
        axis = []
        for value in values.split(","):
            converted = option.convert(value.strip(), f"in --grid {key}")
            problem = option.problem(converted)
            if problem:
                raise UsageError(f"--grid: {problem}")
            axis.append((key, converted))
        axes.append(axis)
    return [dict(combination) for combination in itertools.product(*axes)]

