"""Summary rows of every run in an outputs folder, served from an index so that 100,000 runs list in a second or two.

The run folders stay the truth: the index (utils.runs.index_db, outputs/.runs-index.sqlite) keeps one row per run
folder keyed by its run.json's modification time and size; each listing looks at every run.json (one stat call
each), reads the rows whose key changed or is new, and drops the rows of folders that are gone. Delete the index at
will. A folder that cannot be read is one `unreadable` row, never a failure of the listing.

The stat of every run.json is the one cost that grows with the store on a cached listing: a run.json edited in
place changes its own inode only (not its folder's nor outputs' modification time), so nothing cheaper sees it.
Everything after the stats is sub-linear when nothing changed: the scan's fingerprint equals the index's, so no key
is read or compared, and the listing reads the rows it shows.
"""
import csv
import io
import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from utils.core.errors import UserError
from utils.runs import index_db
from utils.runs.folder import HISTORY_FILE, RUN_FILE, store_index
from utils.runs.lock import is_locked
from utils.runs.record import MONITOR, RunRecord, best_val_accuracy
from utils.runs.settings import effective_settings
from utils.runs.timing import TIMING_COLUMNS, timing_of

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
        "best_val_accuracy": best_val_accuracy(data), "best_epoch": best.get("epoch"),
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


def validation_history(folder) -> list:
    """The monitored validation value of every finished epoch (for sparklines), read without pandas."""
    try:
        with open(os.path.join(folder, HISTORY_FILE)) as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError):
        return []
    values = []
    for line in csv.DictReader(io.StringIO(text[: text.rfind("\n") + 1])):
        try:
            values.append(round(float(line[MONITOR]), 5))
        except (KeyError, TypeError, ValueError):
            continue
    return values


def _fresh_row(path: str) -> dict:
    try:  # plain open, not Path: this runs once per new or changed run, 100,000 times on a first listing
        with open(os.path.join(path, RUN_FILE), "rb") as handle:
            return summary_row(RunRecord.parse(path, handle.read()))
    except (UserError, OSError, KeyError, TypeError, AttributeError, ValueError) as error:
        return unreadable_row(os.path.basename(path), str(error))


def scan(outputs) -> tuple:
    """({name: (mtime_ns, size)} of every run.json directly under `outputs`, [an unreadable row per folder whose
    run.json cannot even be looked at]). Hidden folders and folders without run.json are not runs."""
    keys, broken = {}, []
    folder = os.open(outputs, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_dir():
                    continue
                try:  # plain strings relative to the open folder: this loop runs once per run, 100,000 times
                    stat = os.stat(f"{entry.name}/{RUN_FILE}", dir_fd=folder)
                except FileNotFoundError:
                    continue
                except OSError as error:
                    broken.append(unreadable_row(entry.name, error.strerror or str(error)))
                    continue
                keys[entry.name] = (stat.st_mtime_ns, stat.st_size)
    finally:
        os.close(folder)
    return keys, broken


def open_index(outputs) -> tuple:
    """(a connection to the index brought up to date with the folders, the unreadable rows the scan found, the rows
    read afresh by name): a row is read from its folder only when its run.json is new or changed, and a vanished
    folder's row is dropped."""
    keys, broken = scan(outputs)
    _forget_json_cache(outputs)
    connection = index_db.connect(store_index(outputs))
    if index_db.matches(connection, keys):  # the rows are this scan's: no key to read or compare
        return connection, broken, {}
    stored = index_db.keys(connection)
    fresh = {name: (key, _fresh_row(os.path.join(outputs, name))) for name, key in keys.items() if stored.get(name) != key}
    vanished = set(stored) - set(keys)
    try:  # with nothing fresh or vanished, this only records the scan's fingerprint
        index_db.update(connection, outputs, fresh, vanished, keys)
    except sqlite3.OperationalError:  # a read-only outputs folder, or a writer stuck past the busy timeout
        if fresh or vanished:
            connection.close()
            connection = index_db.connect(":memory:")
            fresh.update({name: (key, _fresh_row(os.path.join(outputs, name))) for name, key in keys.items()
                          if name not in fresh})
            index_db.update(connection, outputs, fresh, (), keys)
    return connection, broken, {name: row for name, (_, row) in fresh.items()}


def _forget_json_cache(outputs) -> None:
    """The JSON cache this index replaced (outputs/.runs-index.json) is only stale weight now."""
    try:
        os.remove(os.path.join(outputs, ".runs-index.json"))
    except OSError:
        pass


def live_status(path: Path, row: dict) -> str:
    """`running` only while a process holds the run's lock (or, for runs from before the lock, is alive)."""
    if row.get("status") != "running":
        return row.get("status")
    if is_locked(path):
        return "running"
    return RunRecord(path, {"status": "running", "environment": row.get("_process") or {}}).status


def with_live_status(outputs, rows) -> list:
    return [row if row.get("status") != "running" else {**row, "status": live_status(Path(outputs) / row["run"], row)}
            for row in rows]


def load_rows(outputs) -> list:
    """A row per run folder directly under `outputs` (hidden folders and folders without run.json are not runs)."""
    if not Path(outputs).is_dir():
        return []
    connection, broken, fresh = open_index(outputs)
    with closing(connection):
        return with_live_status(outputs, index_db.all_rows(connection, fresh)) + broken


@dataclass(frozen=True)
class Page:
    rows: list  # the rows asked for, in order
    matching: int  # how many rows the scope holds in all
    total: int  # how many runs the outputs folder holds
    columns: list  # every column some row has


def page_by_started(outputs, task=None, limit=None, descending=True):
    """The first `limit` runs (of `task` and of records too damaged to name one; all with None) by start time,
    newest first unless not `descending`, read from the index without decoding the other rows; None when some
    start time is not text (then only utils.runs.query.order sorts them as it always has)."""
    if not Path(outputs).is_dir():
        return Page([], 0, 0, [])
    connection, broken, _ = open_index(outputs)
    with closing(connection):
        if not index_db.starts_are_text(connection):
            return None
        rows = with_live_status(outputs, index_db.by_started(connection, task, limit, descending))
        columns = dict.fromkeys([*index_db.column_names(connection), *(key for row in broken for key in row)])
        page = Page(rows, index_db.count(connection, task) + len(broken), index_db.count(connection) + len(broken),
                    list(columns))
    if not limit or len(rows) < limit:  # an unreadable folder has no start time: it sorts last
        page.rows.extend(broken[: limit - len(rows) if limit else None])
    return page
