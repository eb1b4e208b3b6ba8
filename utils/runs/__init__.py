"""Runs: the run folder (its file names and paths), its record run.json, and the store of all runs in an
outputs folder (listing, finding, filtering).

The one owner of run-folder file names. May import utils.core only; never imports Keras at module level.
"""
