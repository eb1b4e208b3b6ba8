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
from utils.runs.record import MONITOR, RunRecord
from utils.runs.settings import effective_settings
from utils.runs.timing import TIMING_COLUMNS, timing_of

CACHE_VERSION = 2  # the row's shape: a cache of another version is rebuilt
# Columns every row has, in their display order; hyperparameters and test metrics follow.
BASE_COLUMNS = ("run", "status", "task", "dataset", "model", "params", "epochs", "best_val_accuracy", "best_epoch",
                "test_accuracy", "test_loss", *TIMING_COLUMNS, "started", "ended", "sweep", "data_source", "data_sha256",
                "train_samples", "validation_samples", "test_samples", "backend", "device", "tags", "notes")


def data_facts(data: dict) -> dict:
    """The dataset a run trained on: its name, source, SHA-256 and sample counts."""
    recorded = data.get("data") if isinstance(data.get("data"), dict) else {}
    sizes = recorded.get("sizes") if isinstance(recorded.get("sizes"), dict) else {}
    return {"dataset": recorded.get("name"), "data_source": recorded.get("source"), "data_sha256": recorded.get("sha256"),
            **{f"{split}_samples": sizes.get(split) for split in ("train", "validation", "test")}}


def execution_facts(data: dict) -> dict:
    execution = data.get("execution") if isinstance(data.get("execution"), dict) else {}
    gpu = execution.get("gpu")
    return {"backend": execution.get("backend") or (data.get("environment") or {}).get("keras_backend"),
            "device": None if gpu is None else "gpu" if gpu else "cpu"}


def summary_row(record: RunRecord) -> dict:
    """One run as a flat row: its facts, results, timings, tags, then every setting it trained with (never None:
    utils.runs.settings) under its own name."""
    data = record.data
    best = data.get("best") or {}
    sweep = data.get("sweep")
    row = {
        "run": record.folder.name, "status": data.get("status"), "task": data.get("task"),
        "dataset": data_facts(data)["dataset"], "model": data.get("model"),
        "params": data.get("parameters"), "epochs": data.get("epochs_completed"),
        "best_val_accuracy": best.get("value"), "best_epoch": best.get("epoch"),
        **timing_of(data), "started": data.get("started"), "ended": data.get("ended"),
        "sweep": sweep.get("id") if isinstance(sweep, dict) else sweep,
        **data_facts(data), **execution_facts(data), "tags": dict(data.get("tags") or {}),
        "notes": [note.get("text") for note in data.get("notes") or [] if isinstance(note, dict)],
        **{key: value for key, value in (data.get("test_metrics") or {}).items()},
    }
    for key, value in effective_settings(data).items():
        row.setdefault(key, value)
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
