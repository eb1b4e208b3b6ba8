"""The argparse parser, generated from the option declarations (utils.core.options) plus the task's data options."""
import argparse

from utils.core.config_file import config_values
from utils.core.errors import UsageError
from utils.core.options import (
    ACTIONS, FEATURES, INTEGRATIONS, OPTIONS, OUTPUT, SETTINGS, SWEEPS, TRAINING, Option,
)

GROUP_ORDER = (ACTIONS, "the run store", TRAINING, FEATURES, INTEGRATIONS, "data", SETTINGS, SWEEPS, OUTPUT)


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one line on stderr (exit code 2) instead of usage plus error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message[:400]} (see --help)\n")


def _argparse_type(option: Option):
    def convert(text):
        try:
            return option.convert(text)
        except UsageError as error:
            raise argparse.ArgumentTypeError(str(error))

    convert.__name__ = option.kind.__name__  # argparse names the type in its own messages
    return convert


def _add(container, option: Option, task) -> None:
    keywords = {"dest": option.name, "help": option.help.format(
        task_default=task.defaults.get(option.name, task.default_model if option.name == "model" else option.default),
        task_predict_help=task.predict_help,
    )}
    if option.flag:
        keywords.update(action="store_const", const=True, default=None)
    elif option.negatable:
        keywords.update(action=argparse.BooleanOptionalAction, default=None)
    else:
        keywords.update(type=_argparse_type(option), default=None, metavar=option.metavar)
        if option.nargs is not None:
            keywords["nargs"] = option.nargs
        if option.const is not None:
            keywords["const"] = option.const
        if option.choices:
            keywords["choices"] = option.choices
    container.add_argument(*option.flags, **keywords)


def build_parser(task, model_names) -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=f"{task.name}.py",
        description=f"Train and evaluate named Keras models on the {task.name} task: {task.description}.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Models: " + ", ".join(model_names) + ". Every run writes a new folder under --outputs.",
    )
    groups = {name: parser.add_argument_group(name) for name in GROUP_ORDER}
    exclusive = {}
    for option in (*OPTIONS, *task.data_options):
        container = groups[option.group]
        if option.exclusive:
            if option.exclusive not in exclusive:
                exclusive[option.exclusive] = container.add_mutually_exclusive_group()
            container = exclusive[option.exclusive]
        _add(container, option, task)
    return parser


def parse_arguments(parser, task, argv) -> argparse.Namespace:
    """Parse the command line; values from --config FILE fill in what the command line leaves unset."""
    args = parser.parse_args(argv)
    if args.config:
        for key, value in config_values(args.config, task.data_options).items():
            if getattr(args, key, None) is None:
                setattr(args, key, value)
    # Settings stay None when unset (the model's and the task's defaults come first); the rest get their default.
    for option in OPTIONS:
        if not option.setting and getattr(args, option.name) is None:
            setattr(args, option.name, option.default)
        problem = None if option.setting else option.problem(getattr(args, option.name))
        if problem:
            raise UsageError(problem)
    return args
