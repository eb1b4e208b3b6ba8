"""run.json of one run folder: what the run is, how it went, and how it ended, written atomically on every change.

Callers state intents (record an epoch, mark the run failed with a reason, begin a resume); only this module
decides the keys of run.json.
"""
import hashlib
import json
import os
import platform
import socket
import sys
import time
from datetime import datetime
from pathlib import Path

from utils.core import atomic
from utils.core.errors import UserError
from utils.runs.environment import backend_versions, capture as capture_environment, describe_commit, git_state
from utils.runs.folder import FORMAT, RUN_FILE, RunFolder, keep_history_until
from utils.runs.lock import is_locked
from utils.runs.timing import setup_began_at, steady_epoch_seconds
from utils.tasks.registry import VAL_ACCURACY, Monitor

MONITOR = VAL_ACCURACY.metric  # a classification run's best.h5 and "best"; a regression run's monitor is val_loss


def best_val_accuracy(data: dict):
    """The best validation accuracy a run recorded; None for a run whose "best" monitors another value (a
    regression run's val_loss), which no accuracy column may show."""
    best = data.get("best") or {}
    return best.get("value") if best.get("metric", MONITOR) == MONITOR else None


def without_float32_noise(value: float) -> float:
    """A float32 value as the number it stands for: 0.001, not 0.0010000000474974513."""
    return float(f"{value:.7g}")


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def environment(git=None) -> dict:
    """What the run ran on; `git`: environment.git_state(), when the caller has it already."""
    import keras
    import numpy

    return {
        "python": platform.python_version(),
        **backend_versions(),
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "git_commit": describe_commit(*(git or git_state())),
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
    }


def command_line() -> str:
    return " ".join([Path(sys.executable).name] + sys.argv)


class RunRecord:
    """run.json of one run folder: a dict kept in memory and written atomically on every change."""

    def __init__(self, folder, data: dict):
        self.folder = RunFolder(folder)
        self.data = data
        self._setup_began = None  # wall-clock time this process began setting the run up (create, resume)
        self._last_epoch_ended = None  # wall-clock time the last epoch this process trained ended

    # ---------------------------------------------------------------- creating and loading
    @classmethod
    def create(cls, folder, *, task: str, model: str, **facts) -> "RunRecord":
        """A new record, marked running; `facts`: hyperparameters, data, parameters, execution."""
        folder = RunFolder(folder)
        git = git_state()  # one git call; a dirty tree's diff is read once more, for source.patch
        record = cls(folder, {
            "run_id": folder.name, "format": FORMAT, "task": task, "model": model, "status": "running",
            "command": command_line(), **facts, "environment": environment(git), "started": now_iso(), "ended": None,
            "epochs_completed": 0, "seconds_per_epoch": [], "best": None, "test_metrics": None, "resumes": [],
            "config_hash": config_hash(task, model, facts.get("hyperparameters", {})), "timing": {},
        })
        record._setup_began = setup_began_at()
        record.save()
        capture_environment(folder, dirty=git[1])  # environment.txt and source.patch, for --diff
        return record

    @classmethod
    def load(cls, folder) -> "RunRecord":
        folder = RunFolder(folder)
        if not folder.run_file.is_file():
            raise UserError(f"{folder} is not a run folder: it has no {RUN_FILE}.")
        return cls.parse(folder, folder.run_file.read_bytes())

    @classmethod
    def parse(cls, folder, text: bytes) -> "RunRecord":
        """The record a run.json's bytes hold, or one UserError saying how the run folder is damaged."""
        folder = RunFolder(folder)
        try:
            data = json.loads(text.decode())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise UserError(f"{folder.run_file} is not valid JSON ({error}); the run folder is damaged.")
        if not isinstance(data, dict):
            raise UserError(f"{folder.run_file} holds {type(data).__name__}, not a run record; the run folder is damaged.")
        problem = shape_problem(data)
        if problem:
            raise UserError(f"{folder.run_file} {problem}; the run folder is damaged.")
        return cls(folder, data)

    def save(self) -> None:
        atomic.write_json(self.folder.run_file, self.data)

    # ---------------------------------------------------------------- reading
    @property
    def status(self) -> str:
        """The recorded status, or 'crashed' for a run marked running whose lock nobody holds (its process died:
        the kernel released the lock), so no pid is trusted."""
        status = self.data.get("status")
        if status == "running" and not is_locked(self.folder):
            return "crashed"
        return status

    @property
    def epochs_completed(self) -> int:
        return int(self.data.get("epochs_completed") or 0)

    def get(self, key, default=None):
        return self.data.get(key, default)

    # ---------------------------------------------------------------- intents
    def note(self, **facts) -> None:
        """Record facts about how the run is set up (distribution, integrations, early stopping's outcome)."""
        self.data.update(facts)
        self.save()

    def note_integration(self, name: str, details) -> None:
        self.data.setdefault("integrations", {})[name] = details
        self.save()

    def remember(self, key: str, value):
        """The value recorded under `key`, recording `value` first if there is none (kept across resumes)."""
        return self.data.setdefault(key, value)

    def record_default_learning_rate(self, value: float) -> None:
        """A run given no learning rate records the optimizer's default, the value it trains with."""
        self.record_resolved_settings({"learning_rate": without_float32_noise(value)})

    def record_resolved_settings(self, values: dict) -> None:
        """Settings the run was given no value for (None) record the value it trains with, chosen by the engine or
        Keras; `resolved_settings` names them, so that a figure's labels can tell them from settings given."""
        hyperparameters = self.data.setdefault("hyperparameters", {})
        resolved = [key for key, value in values.items() if value is not None and hyperparameters.get(key) is None]
        for key in resolved:
            hyperparameters[key] = values[key]
        if resolved:
            self.data["resolved_settings"] = list(dict.fromkeys([*self.data.get("resolved_settings", []), *resolved]))
            self.save()

    def record_fit_started(self) -> None:
        """The first training step is about to run: set-up took from the process's start (for a later run of the
        same process, from its record's creation or its resume) until now."""
        now = time.time()
        self.data.setdefault("fit_started_at", now)  # the run's first fit, kept across resumes (bench/run.py)
        if self._setup_began is not None:
            self.data.setdefault("timing", {})["setup_seconds"] = round(now - self._setup_began, 3)

    def record_epoch(self, epoch: int, seconds: float, logs: dict, save: bool = True,
                     monitor: Monitor = VAL_ACCURACY) -> None:
        """Epoch `epoch` (1-based) finished: its time, the best value of `monitor` so far, the learning rate now."""
        data = self.data
        data.setdefault("seconds_per_epoch", []).append(round(seconds, 4))
        self._last_epoch_ended = time.time()
        data.setdefault("timing", {}).update(first_epoch_seconds=data["seconds_per_epoch"][0],
                                             steady_epoch_seconds=steady_epoch_seconds(data["seconds_per_epoch"]))
        value = logs.get(monitor.metric)
        if monitor.improves(value, (data.get("best") or {}).get("value")):
            data["best"] = {"metric": monitor.metric, "value": float(value), "epoch": epoch}
        data.update(epochs_completed=epoch, learning_rate_now=logs.get("learning_rate"))
        if save:
            self.save()

    def mark(self, status: str, reason=None, **details) -> None:
        """The run ended (completed, failed, interrupted, pruned) or is running again."""
        if status != "running" and self._last_epoch_ended is not None:
            self.data.setdefault("timing", {})["finish_seconds"] = round(time.time() - self._last_epoch_ended, 3)
        self.data.update(status=status, reason=reason, ended=None if status == "running" else now_iso(), **details)
        self.save()

    def record_finish_time(self) -> None:
        """The figures are drawn: finish seconds run from the last epoch's end until now (the run was marked
        completed before the figures, which a second process draws)."""
        if self._last_epoch_ended is not None:
            self.data.setdefault("timing", {})["finish_seconds"] = round(time.time() - self._last_epoch_ended, 3)
            self.save()

    def mark_completed(self, test_metrics: dict, weights_sha256: str) -> None:
        self.mark("completed", test_metrics=test_metrics, weights_sha256=weights_sha256)

    def record_export(self, check: dict) -> None:
        """A model was exported and checked (format, path, max abs difference, inputs compared, passed); the caller
        holds RunLock(folder, "export")."""
        self.data["exports"] = [*(self.data.get("exports") or []), {**check, "exported": now_iso()}]
        self.save()

    def set_tags(self, tags: dict) -> None:
        """Add or overwrite tags (key -> text); the caller holds RunLock(folder, "tag")."""
        self.data["tags"] = {**(self.data.get("tags") or {}), **tags}
        self.save()

    def remove_tag(self, key: str) -> bool:
        """Drop tag `key`; False when the run had no such tag."""
        tags = dict(self.data.get("tags") or {})
        if tags.pop(key, None) is None:
            return False
        self.data["tags"] = tags
        self.save()
        return True

    def add_note(self, text: str) -> None:
        """Append a free-text note with the time it was written."""
        self.data["notes"] = [*(self.data.get("notes") or []), {"text": text, "written": now_iso()}]
        self.save()

    def begin_resume(self, done: int, target: int, status_before=None, checkpoint=None,
                     monitor: Monitor = VAL_ACCURACY) -> list:
        """Continue from `done` finished epochs to `target`: forget what was recorded after the checkpoint.

        Returns the epochs (1-based) up to `done` that history.csv lacks (deleted or damaged): they are recorded
        in the resume entry as `history_gap`, and the caller warns."""
        data = self.data
        history = keep_history_until(self.folder, done)
        present = set(history["epoch"].astype(int)) if "epoch" in history else set()
        gap = [epoch for epoch in range(1, done + 1) if epoch not in present]
        best, name = None, monitor.metric
        if name in history and history[name].notna().any():
            row = history.loc[history[name].idxmax() if monitor.mode == "max" else history[name].idxmin()]
            best = {"metric": name, "value": float(row[name]), "epoch": int(row["epoch"])}
        data["resumes"] = data.get("resumes", []) + [{
            "at_epoch": done, "to_epochs": target, "status_before": status_before or self.status, "started": now_iso(),
            "command": command_line(),
            **({"history_gap": [gap[0], gap[-1]]} if gap else {}),
            **({"from_checkpoint": checkpoint} if checkpoint else {}),
        }]
        data["hyperparameters"]["epochs"] = target
        data["seconds_per_epoch"] = data.get("seconds_per_epoch", [])[:done]
        seconds = data["seconds_per_epoch"]
        data["timing"] = {"first_epoch_seconds": seconds[0] if seconds else None,
                          "steady_epoch_seconds": steady_epoch_seconds(seconds)}
        self._setup_began = setup_began_at()
        data.update(best=best, environment=environment(), epochs_completed=done, test_metrics=None, format=FORMAT)
        self.mark("running")
        return gap


def config_hash(task: str, model: str, hyperparameters: dict) -> str:
    """A fingerprint of what a run trains: a rerun of the same grid recognises its finished runs by it."""
    text = json.dumps({"task": task, "model": model, **hyperparameters}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# Keys every reader of run.json relies on, and their types.
REQUIRED_KEYS = {"run_id": str, "task": str, "model": str, "status": str}


def shape_problem(data: dict):
    """Why `data` cannot be a run record (missing keys, wrong types), or None."""
    for key, kind in REQUIRED_KEYS.items():
        if not isinstance(data.get(key), kind):
            return f"has no {kind.__name__} {key!r}" if key not in data else f"holds {type(data[key]).__name__} for {key!r}"
    for key in ("hyperparameters", "data"):
        if key in data and not isinstance(data[key], dict):
            return f"holds {type(data[key]).__name__} for {key!r}"
    return None
