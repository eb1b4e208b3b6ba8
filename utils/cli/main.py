"""The entry point every script shares: parse, dispatch to the subcommand, and turn user errors into one line and an
exit code."""
import sys

from utils.cli.parser import build_parser, command_argv, parse_arguments
from utils.core.errors import UsageError, UserError
from utils.core.signals import TrainingInterrupted, termination_raises


def main(task_name: str, argv=None) -> int:
    # No TensorFlow here: --help, option errors, `list` and the run-store commands answer without it; the commands
    # that train, evaluate or predict import it themselves (utils.cli.actions.with_keras).
    from models import models_for_task
    from utils.cli.commands import COMMANDS
    from utils.tasks import get_task

    argv = sys.argv[1:] if argv is None else argv
    try:
        task = get_task(task_name)
    except KeyError as error:
        raise UsageError(error.args[0])
    model_names = [spec.name for spec in models_for_task(task.name)]
    argv = command_argv([str(item) for item in argv], f"{task.name}.py", model_names)
    args = parse_arguments(build_parser(task, model_names), task, argv)
    if getattr(args, "models_file", None):
        from pathlib import Path

        from utils.training.model_files import load_models_file

        load_models_file(args.models_file)
        args.models_file = str(Path(args.models_file).resolve())  # sweep trials start in the project folder
    task = bound_task(task, args)
    with termination_raises():  # a signal at any moment of a run's life ends it as `interrupted`
        return COMMANDS[args.command].run(task, args)


def bound_task(task, args):
    """A task whose classes come from its data (a CSV) bound to the table before training, and to what the run
    recorded before evaluate, predict and resume; every other task and command as it is."""
    if task.bind is None:
        return task
    if args.command == "train" or (args.command == "sweep" and getattr(args, "data", None)):
        options = {option.name: getattr(args, option.name) for option in task.data_options}
        return task.bind(task, options, None, announce=not args.quiet)
    if args.command in ("evaluate", "predict", "export", "resume", "rerun"):
        from utils.cli.actions import resolve_run_name
        from utils.runs.folder import RunFolder
        from utils.runs.record import RunRecord

        folder = run_folder_of(resolve_run_name(args.run, args.outputs), RunFolder)
        if not RunFolder(folder).run_file.is_file():  # a missing or foreign path is refused by the command itself
            return task
        record = RunRecord.load(folder)
        if record.get("task") == task.name:  # another task's run is refused, with its name, by the command
            settings = record.get("hyperparameters")
            if not isinstance(settings, dict) or not isinstance(settings.get("data_options"), dict):
                raise UserError(f"{folder}/run.json is damaged: it records no data options (hyperparameters."
                                "data_options); train the run again.")
            return task.bind(task, settings["data_options"], record.get("data"))
    return task


def run_folder_of(path, folder_type):
    """The run folder a path names: itself, or the run holding a model file or checkpoint."""
    from pathlib import Path

    for candidate in [Path(path), *Path(path).parents]:
        if folder_type(candidate).run_file.is_file():
            return candidate
    return Path(path)


def run_task(task_name: str, argv=None) -> None:
    """Entry point of mnist.py, churn.py, xor.py, iris.py: run, and turn user errors into one line and an exit code."""
    prog = f"{task_name}.py"
    try:
        code = main(task_name, argv)
    except UserError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        code = error.exit_code
    except (KeyboardInterrupt, TrainingInterrupted) as stop:
        # Between the runs of a train command with several models: the finished runs are kept.
        print(f"{prog}: interrupted{f' by {stop}' if str(stop) else ''}", file=sys.stderr)
        code = 130
    sys.stdout.flush()
    multiworker = sys.modules.get("utils.training.multiworker")  # not imported: no job joined (and no numpy to load)
    if multiworker is not None:
        multiworker.leave(code)  # a failed multi-worker job ends here, without waiting for its lost processes
    sys.exit(code)
