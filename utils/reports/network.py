"""plots/model.png: a picture of the network (keras.utils.plot_model, with shapes), shown in report.html."""
import sys

INSTALL_HINT = "pip install pydot and install Graphviz (apt-get install graphviz, brew install graphviz)"


def plot_network(model, path, plot=None) -> bool:
    """Draw `model` into `path`; without pydot or Graphviz say what to install in one line, and go on."""
    if plot is None:
        import keras

        plot = keras.utils.plot_model
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        plot(model, to_file=str(path), show_shapes=True, show_layer_names=True)
    except (ImportError, OSError, FileNotFoundError) as error:
        print(f"note: no plots/{path.name} ({str(error).splitlines()[0] if str(error) else type(error).__name__}); "
              f"for the network picture: {INSTALL_HINT}", file=sys.stderr)
        return False
    return path.is_file()
