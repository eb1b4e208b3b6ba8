"""plots/model.png: a picture of the network (keras.utils.plot_model, with shapes), shown in report.html."""
import errno
import sys

DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES)

INSTALL_HINT = "pip install pydot and install Graphviz (apt-get install graphviz, brew install graphviz)"


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
