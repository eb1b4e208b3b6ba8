"""The entry point every script shares: parse, dispatch, and turn user errors into one line and an exit code."""
import sys

from utils.cli.actions import dispatch
from utils.cli.parser import build_parser, parse_arguments
from utils.core.errors import UserError


def main(task_name: str, argv=None) -> int:
    from utils.training.setup import import_keras

    argv = sys.argv[1:] if argv is None else argv
    # Import TensorFlow first and quietly: the model registry behind the parser imports Keras.
    import_keras(verbose="-v" in argv or "--verbose" in argv)
    from models import models_for_task
    from utils.tasks import get_task

    task = get_task(task_name)
    parser = build_parser(task, [spec.name for spec in models_for_task(task.name)])
    return dispatch(task, parse_arguments(parser, task, argv))


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
    from utils.training.multiworker import leave

    leave(code)  # a failed multi-worker job ends here, without waiting for its lost processes
    sys.exit(code)
