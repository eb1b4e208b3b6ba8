"""The network as a run keeps it: summary.txt (Keras' model.summary) and plots/model.png (keras.utils.plot_model)."""
import errno
import os
import sys
from contextlib import contextmanager

from utils.core import atomic

DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES)

INSTALL_HINT = "pip install pydot and install Graphviz (apt-get install graphviz, brew install graphviz)"
# Characters per line of summary.txt: wide enough for every column (Layer, Output Shape, Param #) of our models.
SUMMARY_WIDTH = 100


@contextmanager
def console_columns(columns: int):
    """Keras 3 draws model.summary() with rich, which cuts its table to $COLUMNS or the terminal's width (80 when
    piped); a file has no terminal, so the width is fixed here for the call only."""
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(columns)
    try:
        yield
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


def write_model_summary(model, path, width: int = SUMMARY_WIDTH) -> None:
    """model.summary() into `path`, whole (every column, the totals) whatever the terminal's width."""
    lines = []
    with console_columns(width):
        model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line), line_length=width)
    atomic.write_text(path, "\n".join(lines) + "\n")


def plot_network(model, path, plot=None) -> bool:
    """Draw `model` into `path`; without pydot or Graphviz say what to install in one line, and go on."""
    if plot is None:
        import keras

        plot = keras.utils.plot_model
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        plot(model, to_file=str(path), show_shapes=True, show_layer_names=True)
    except (ImportError, OSError) as error:
        if isinstance(error, OSError) and error.errno in DISK_ERRORS:
            raise  # the disk, not a missing tool: the run fails like any other write
        print(f"note: no plots/{path.name} ({str(error).splitlines()[0] if str(error) else type(error).__name__}); "
              f"for the network picture: {INSTALL_HINT}", file=sys.stderr)
        return False
    return path.is_file()
