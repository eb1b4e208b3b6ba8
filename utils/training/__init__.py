"""Training: the engine (new runs and resumes), its inputs, compilation, callbacks, schedules, augmentation,
checkpoints, integrations, distribution and the Keras backend.

The only layer that builds or fits Keras models. May import utils.reports, utils.runs, utils.tasks and utils.core.
"""
