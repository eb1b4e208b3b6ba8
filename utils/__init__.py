"""The engine shared by every entrypoint: data, training, callbacks, runs, plots, comparison."""
