"""The network as a run keeps it: summary.txt (Keras' model.summary) and plots/model.png (keras.utils.plot_model)."""
import errno
import os
import sys
from contextlib import contextmanager
from pathlib import Path

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


def plot_network(model, path, draw=None) -> None:
    """Draw `model` into `path` with keras.utils.plot_model's picture: the graph is laid out here (it needs the
    model), Graphviz renders it through `draw` (utils.reports.drawing.FigureJobs.draw: in the drawing process,
    while the run trains). Without pydot or Graphviz, one line says what to install, and the run goes on."""
    try:
        import keras

        # plot_model's own call (its defaults: top to bottom, 200 dpi, orthogonal edges) minus its Graphviz check,
        # a process of its own: a missing Graphviz shows where the picture is rendered.
        source = keras.utils.model_to_dot(model, show_shapes=True, show_layer_names=True).to_string()
    except ImportError as error:
        missing_tool_note(path, error)
        return
    (draw or draw_here)("the network picture", render_network, source, path)


# The last graph rendered in this process and its PNG: a sweep's trials of one model have the same graph, and
# Graphviz (a process of its own) would render the same bytes again for each.
_last_rendered = {}


def render_network(source: str, path) -> bool:
    """Graphviz's PNG of `source` (model_to_dot's graph) into `path`, as plot_model writes it."""
    import pydot

    path.parent.mkdir(parents=True, exist_ok=True)
    if source in _last_rendered:
        with atomic.atomic_path(path) as temporary:
            Path(temporary).write_bytes(_last_rendered[source])
        return True
    try:
        pydot.graph_from_dot_data(source)[0].write(str(path), format="png")
    except OSError as error:
        if error.errno in DISK_ERRORS:
            raise  # the disk, not a missing tool
        missing_tool_note(path, error)
        return False
    if path.is_file():
        _last_rendered.clear()
        _last_rendered[source] = path.read_bytes()
        return True
    return False


def missing_tool_note(path, error) -> None:
    print(f"note: no plots/{path.name} ({str(error).splitlines()[0] if str(error) else type(error).__name__}); "
          f"for the network picture: {INSTALL_HINT}", file=sys.stderr)


def draw_here(what: str, function, *args) -> None:
    function(*args)
