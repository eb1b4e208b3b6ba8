"""Summary rows of every run in an outputs folder, served from a cache so that 10,000 runs list in a second or two.

The run folders stay the truth: the cache (outputs/.runs-index.json) keeps one row per run folder keyed by its
run.json's modification time and size, and a row whose key no longer matches is rebuilt from the folder. The cache
is replaced atomically, so a crash or a second writer leaves either the old or the new file, never half of one;
a lost update only means that row is rebuilt again next time. A missing or damaged cache is rebuilt.
A folder that cannot be read is one `unreadable` row, never a failure of the listing.
"""
import csv
import io
import json
import os
from pathlib import Path

from utils.core import atomic
from utils.core.errors import UserError
from utils.runs.folder import RUN_FILE, RunFolder, store_index
from utils.runs.lock import is_locked
from utils.runs.record import MONITOR, RunRecord, without_float32_noise

CACHE_VERSION = 1
# Columns every row has, in their display order; hyperparameters and test metrics follow.
BASE_COLUMNS = ("run", "status", "task", "model", "params", "epochs", "best_val_accuracy", "best_epoch",
                "test_accuracy", "test_loss", "seconds_per_epoch", "total_seconds", "started", "ended", "sweep",
                "data", "tags", "notes")


def summary_row(record: RunRecord) -> dict:
    """One run as a flat row: its facts, results, tags, then every hyperparameter under its own name."""
    data = record.data
    seconds = data.get("seconds_per_epoch") or []
    best = data.get("best") or {}
    sweep = data.get("sweep")
    row = {
        "run": record.folder.name, "status": data.get("status"), "task": data.get("task"), "model": data.get("model"),
        "params": data.get("parameters"), "epochs": data.get("epochs_completed"),
        "best_val_accuracy": best.get("value"), "best_epoch": best.get("epoch"),
        "seconds_per_epoch": round(sum(seconds) / len(seconds), 3) if seconds else None,
        "total_seconds": round(sum(seconds), 2), "started": data.get("started"), "ended": data.get("ended"),
        "sweep": sweep.get("id") if isinstance(sweep, dict) else sweep,
        "data": (data.get("data") or {}).get("name"), "tags": dict(data.get("tags") or {}),
        "notes": [note.get("text") for note in data.get("notes") or [] if isinstance(note, dict)],
        **{key: value for key, value in (data.get("test_metrics") or {}).items()},
    }
    hyperparameters = dict(data.get("hyperparameters") or {})
    if hyperparameters.get("learning_rate") is None and data.get("base_learning_rate") is not None:
        # older runs recorded the optimizer's default as None
        hyperparameters["learning_rate"] = without_float32_noise(data["base_learning_rate"])
    for key, value in hyperparameters.items():
        row.setdefault(key, "default" if value is None else value)
    row["_process"] = {key: (data.get("environment") or {}).get(key) for key in ("hostname", "pid")}
    row["_val_history"] = validation_history(record.folder)
    return row


def unreadable_row(name: str, reason: str) -> dict:
    return {"run": name, "status": "unreadable", "reason": reason}


def validation_history(folder: RunFolder) -> list:
    """The monitored validation value of every finished epoch (for sparklines), read without pandas."""
    try:
        text = folder.history.read_text()
    except (OSError, UnicodeDecodeError):
        return []
    values = []
    for line in csv.DictReader(io.StringIO(text[: text.rfind("\n") + 1])):
        try:
            values.append(round(float(line[MONITOR]), 5))
        except (KeyError, TypeError, ValueError):
            continue
    return values


def _read_cache(outputs) -> dict:
    try:
        cache = json.loads(store_index(outputs).read_text())
    except (OSError, ValueError):
        return {}
    runs = cache.get("runs") if isinstance(cache, dict) and cache.get("version") == CACHE_VERSION else None
    return runs if isinstance(runs, dict) else {}


def _write_cache(outputs, runs: dict) -> None:
    try:
        atomic.write_json(store_index(outputs), {"version": CACHE_VERSION, "runs": runs})
    except OSError:
        pass  # a read-only outputs folder still lists; it just rebuilds every time


def _fresh_row(path: str, key: list, cached) -> tuple:
    """(row, whether it was rebuilt): the cached row while its key matches, else one read from the folder."""
    if isinstance(cached, dict) and cached.get("key") == key and isinstance(cached.get("row"), dict):
        return cached["row"], False
    try:
        return summary_row(RunRecord.load(path)), True
    except (UserError, OSError, KeyError, TypeError, AttributeError, ValueError) as error:
        return unreadable_row(os.path.basename(path), str(error)), True


def live_status(path: Path, row: dict) -> str:
    """`running` only while a process holds the run's lock (or, for runs from before the lock, is alive)."""
    if row.get("status") != "running":
        return row.get("status")
    if is_locked(path):
        return "running"
    return RunRecord(path, {"status": "running", "environment": row.get("_process") or {}}).status


def load_rows(outputs) -> list:
    """A row per run folder directly under `outputs` (hidden folders and folders without run.json are not runs)."""
    outputs = Path(outputs)
    if not outputs.is_dir():
        return []
    cached_runs = _read_cache(outputs)
    runs, rows, changed = {}, [], False
    with os.scandir(outputs) as entries:
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            try:  # plain strings, not Path objects: this loop runs once per run, 10,000 times for 10,000 runs
                stat = os.stat(os.path.join(entry.path, RUN_FILE))
            except FileNotFoundError:
                continue
            except OSError as error:
                rows.append(unreadable_row(entry.name, error.strerror or str(error)))
                continue
            key = [stat.st_mtime_ns, stat.st_size]
            row, rebuilt = _fresh_row(entry.path, key, cached_runs.get(entry.name))
            changed |= rebuilt
            runs[entry.name] = {"key": key, "row": row}
            rows.append(row if row.get("status") != "running" else {**row, "status": live_status(Path(entry.path), row)})
    if changed or set(runs) != set(cached_runs):
        _write_cache(outputs, runs)
    return rows
