"""The subcommands, one decorated function each: `function(task, args) -> exit code`. Training is the default."""
from dataclasses import dataclass
from typing import Callable

DEFAULT_COMMAND = "train"


@dataclass(frozen=True)
class Command:
    name: str
    summary: str  # one line in the top-level --help, and the command's own description
    run: Callable


COMMANDS: dict[str, Command] = {}


def command(name: str, summary: str):
    """Register `function(task, args)` as the subcommand `name`; the top-level --help lists them in this order."""

    def register(function):
        if name in COMMANDS:
            raise ValueError(f"Command {name!r} is registered twice.")
        COMMANDS[name] = Command(name, summary, function)
        return function

    return register
