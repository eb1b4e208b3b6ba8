"""Sweeps: many trials of one task (a grid, or an Optuna random/TPE search), run in parallel worker processes or on
a Ray cluster, resumable from a sweep folder, with pruning and a comparison report.

Each trial is an ordinary run folder made by the task's own entry point in a child process (utils/training/trial.py
is the child's side): a warm worker that runs trial after trial (warm_worker.py), or a fresh process per trial.
This package may import utils.training, utils.reports, utils.runs, utils.tasks and utils.core, never utils.cli: the
command line calls in, and the sweep calls the entry point out in another process (the worker runs the script file
with runpy, as `python mnist.py ...` would).
"""
