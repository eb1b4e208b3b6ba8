"""The `serve` command's live dashboard: a local web server over the outputs folder (runs table, a running run's
curves, comparisons, sweeps), drawn as HTML and SVG on the server, offline and read-only.

Modules: live (an in-memory copy of the run index, refreshed in the background), views (what a page shows, read
from run and sweep folders), charts (SVG line charts), pages (HTML), app (the routes), server (binding and start).
This package may import utils.sweeps, utils.runs and utils.core (never TensorFlow, Keras or matplotlib: the
server starts in a second); utils.cli calls in.
"""
