"""The argparse parsers, one per subcommand, generated from the option declarations (utils.core.options) plus the
task's data options; an option appears in the subcommands its declaration names."""
import argparse
import difflib
import textwrap

from utils.cli import legacy
from utils.cli.commands import COMMANDS, DEFAULT_COMMAND
from utils.core.config_file import config_values
from utils.core.errors import UsageError
from utils.core.options import (
    ARGUMENTS, FEATURES, INTEGRATIONS, MODEL, OPTIONS, OUTPUT, SETTINGS, STORE, SWEEPS, TRAINING, Option,
)

GROUP_ORDER = (ARGUMENTS, MODEL, STORE, TRAINING, FEATURES, INTEGRATIONS, "data", SETTINGS, SWEEPS, OUTPUT)
HELP_FLAGS = ("-h", "--help")


REFUSAL_HINTS = {
    "resume": "resume continues a run with its recorded settings; only --epochs may change (train a new run to "
              "change others)",
}


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one line on stderr (exit code 2) instead of usage plus error."""

    def error(self, message):
        if message.startswith("unrecognized arguments:"):
            message = self.refusal(message.split(":", 1)[1].split())
        self.exit(2, f"{self.prog}: error: {message[:400]} (see {self.prog} --help)\n")

    def refusal(self, tokens) -> str:
        """An option of another command given here, named by its long flag, with why this command refuses it."""
        flags = {flag: option.flag_name for option in OPTIONS for flag in option.flags if not option.positional}
        given = [token.split("=")[0] for token in tokens if token.startswith("-")]
        command = self.prog.split()[-1]
        unknown = [token for token in given if token not in flags]
        if unknown:
            own = [flag for action in self._actions for flag in action.option_strings]
            hint = difflib.get_close_matches(unknown[0], own, n=1)
            return f"unknown option {unknown[0]}" + (f"; did you mean {hint[0]}?" if hint else "")
        named = list(dict.fromkeys(flags[token] for token in given))
        what = ", ".join(named) if named else "the argument(s) " + " ".join(tokens)
        return f"{command} does not take {what}" + (f": {REFUSAL_HINTS[command]}" if command in REFUSAL_HINTS else "")


def _argparse_type(option: Option):
    def convert(text):
        try:
            return option.convert(text)
        except UsageError as error:
            raise argparse.ArgumentTypeError(str(error))

    convert.__name__ = option.kind.__name__  # argparse names the type in its own messages
    return convert


def _add(container, option: Option, task) -> None:
    keywords = {"help": option.help.format(
        task_default=task.defaults.get(option.name, task.default_model if option.name == "model" else option.default),
        task_predict_help=task.predict_help,
    )}
    if option.positional:
        container.add_argument(option.name, metavar=option.metavar, type=_argparse_type(option),
                               **({"nargs": option.nargs} if option.nargs is not None else {}), **keywords)
        return
    keywords["dest"] = option.name
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


def _formatter(prog):
    return argparse.RawDescriptionHelpFormatter(prog, width=100)


def _add_command(subparsers, command, task, model_names) -> argparse.ArgumentParser:
    epilog = None
    if command.name in ("train", "sweep"):
        epilog = textwrap.fill("Models: " + ", ".join(model_names) + ".", 100)
    parser = subparsers.add_parser(command.name, prog=f"{task.name}.py {command.name}", help=command.summary,
                                   description=command.summary, epilog=epilog, formatter_class=_formatter)
    options = [option for option in (*OPTIONS, *task.data_options) if command.name in option.commands]
    groups, exclusive = {}, {}
    for option in options:
        if option.group not in groups:
            groups[option.group] = None
    for name in sorted(groups, key=lambda name: GROUP_ORDER.index(name) if name in GROUP_ORDER else len(GROUP_ORDER)):
        groups[name] = parser.add_argument_group(name)
    for option in options:
        container = groups[option.group]
        if option.exclusive:
            if option.exclusive not in exclusive:
                exclusive[option.exclusive] = container.add_mutually_exclusive_group()
            container = exclusive[option.exclusive]
        _add(container, option, task)
    return parser


def load_commands() -> dict:
    from utils.cli import actions, store_actions  # noqa: F401  (importing them registers the subcommands)

    return COMMANDS


def build_parser(task, model_names) -> argparse.ArgumentParser:
    load_commands()
    prog = f"{task.name}.py"
    parser = OneLineParser(
        prog=prog, usage=f"{prog} [COMMAND] [options]",
        description=textwrap.fill(f"Train and evaluate named Keras models on the {task.name} task: {task.description}.", 100),
        formatter_class=_formatter,
        epilog=f"Training is the default command: `{prog} -m NAME` is `{prog} train -m NAME`.\n"
               f"`{prog} COMMAND --help` shows a command's options. Every run writes a new folder under --outputs.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands", parser_class=OneLineParser)
    parser.commands = {command.name: _add_command(subparsers, command, task, model_names)
                       for command in COMMANDS.values()}
    return parser


def command_argv(argv: list, prog: str, model_names=()) -> list:
    """`argv` with its subcommand first: old flag spellings translated, `train` when none is named."""
    if argv and argv[0] in load_commands():
        return list(argv)
    argv = legacy.rewrite(list(argv))
    if not argv or (argv[0].startswith("-") and argv[0] not in HELP_FLAGS):
        return [DEFAULT_COMMAND, *argv]
    if argv[0] in HELP_FLAGS or argv[0] in COMMANDS:
        return argv
    hint = difflib.get_close_matches(argv[0], list(COMMANDS), n=1)
    if hint:
        raise UsageError(f"unknown command {argv[0]!r}; did you mean {hint[0]!r}? ({prog} --help lists the commands)")
    if argv[0] in model_names:
        raise UsageError(f"{argv[0]!r} is a model, not a command; train it with: {prog} -m {argv[0]}")
    raise UsageError(f"unknown command {argv[0]!r}; the commands are {', '.join(COMMANDS)} ({prog} --help)")


def attached_sort_value(argv: list) -> list:
    """`--sort -test_accuracy` read as `--sort=-test_accuracy`: argparse takes any word starting with '-' for an
    option, and would answer "expected one argument"."""
    flags = {flag for option in OPTIONS for flag in option.flags}
    joined = []
    for token in argv:
        if joined and joined[-1] == "--sort" and token.startswith("-") and token.split("=")[0] not in flags:
            joined[-1] = f"--sort={token}"
        else:
            joined.append(token)
    return joined


def parse_arguments(parser, task, argv) -> argparse.Namespace:
    """Parse the command line; values from --config FILE fill in what the command line leaves unset. Options the
    command does not take are present as None (or their default), so every action reads the same namespace."""
    args, unknown = parser.parse_known_args(attached_sort_value(argv))
    if unknown:  # said by the subcommand's parser, which names why it refuses them
        parser.commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    for option in (*OPTIONS, *task.data_options):
        if not hasattr(args, option.name):
            setattr(args, option.name, None)
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
