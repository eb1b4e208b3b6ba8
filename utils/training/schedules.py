"""Training features as Keras callbacks: learning-rate schedules and early stopping, resumable.

Their counters (patience waited, best value so far) are saved inside each last.h5 checkpoint and handed back on
--resume, so a resumed run stops and decays exactly when the uninterrupted one would have.
"""
import math

import keras


class ResumableState:
    """Mixin for Keras callbacks: `state()` to save, `initial_state` applied after Keras resets on train begin."""

    state_keys: tuple = ()

    def state(self) -> dict:
        return {key: _plain(getattr(self, key, None)) for key in self.state_keys}

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        for key, value in (getattr(self, "initial_state", None) or {}).items():
            if key in self.state_keys:
                setattr(self, key, value)


def _plain(value):
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class EarlyStopping(ResumableState, keras.callbacks.EarlyStopping):
    state_keys = ("wait", "best", "best_epoch")


class ReduceLROnPlateau(ResumableState, keras.callbacks.ReduceLROnPlateau):
    state_keys = ("wait", "best", "cooldown_counter")


def schedule_function(config, base_learning_rate: float):
    """epoch -> learning rate for the step and cosine schedules (pure functions of the epoch: resume-safe)."""
    if config.lr_schedule == "step":
        return lambda epoch, lr=None: base_learning_rate * 0.5 ** (epoch // config.lr_step_epochs)
    if config.lr_schedule == "cosine":
        return lambda epoch, lr=None: base_learning_rate * 0.5 * (1 + math.cos(math.pi * epoch / config.epochs))
    return None


def feature_callbacks(config, base_learning_rate: float, saved_state=None) -> dict:
    """name -> callback for the features the config turns on; `saved_state` comes from a checkpoint."""
    saved_state = saved_state or {}
    made = {}
    function = schedule_function(config, base_learning_rate)
    if function is not None:
        made["lr_schedule"] = keras.callbacks.LearningRateScheduler(function)
    elif config.lr_schedule == "plateau":
        made["lr_plateau"] = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3, min_lr=1e-6)
    if config.early_stopping:
        made["early_stopping"] = EarlyStopping(monitor="val_loss", patience=config.early_stopping, restore_best_weights=True)
    for name, callback in made.items():
        callback.initial_state = saved_state.get(name)
    return made
