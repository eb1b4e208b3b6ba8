"""The runs the server shows: an in-memory copy of the run index (utils.runs.index), refreshed in the background.

A request never scans the folders: a thread brings the index up to date (one stat per run.json, rows read only for
changed runs) and swaps in a new snapshot; requests filter and sort that snapshot in memory. So that scanning stays
a small share of a core however many runs there are (a CPU that trains is busy), the thread scans everything
only SCAN_SHARE times as long as a scan takes apart (every second for a few thousand runs; never more than
FULL_SCAN_SECONDS apart) and in between looks each REFRESH_SECONDS only at what shows most changes cheaply: the outputs
folder's own modification time (a run folder created or removed; then it scans for FULL_SCAN_SECONDS, as a new
folder gets its run.json a moment later) and the run.json and lock of each run recorded as running. What only the
scan sees (a tag written into a finished run, a finished run resumed) waits for it.
"""
import math
import os
import statistics
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from utils.runs import index_db
from utils.runs.folder import RUN_FILE
from utils.runs.index import live_status, open_index, summary_row, unreadable_row
from utils.runs.query import column_list, order
from utils.runs.lock import is_locked
from utils.runs.record import RunRecord

REFRESH_SECONDS = 1.0  # how often the thread looks; a new, ended or progressing run shows within this
FULL_SCAN_SECONDS = 10.0  # the longest any other change (a tag, a note, a resume) waits for the table
SCAN_SHARE = 20  # full scans are 20 times their own duration apart: about 1/20 of a core, up to FULL_SCAN_SECONDS


@dataclass(frozen=True)
class Snapshot:
    rows: list  # every run's summary row, newest first
    columns: list  # every column some row has (utils.runs.query.column_list)
    generation: int  # grows whenever the rows change
    by_name: dict = field(default_factory=dict)
    tasks: list = field(default_factory=list)  # every task some run names


@dataclass(frozen=True)
class Progress:
    """Where a run stands: epochs done of planned, and (while it runs) the seconds left at its steady pace."""

    done: int
    planned: int | None
    eta_seconds: float | None


def progress_of(data: dict, running: bool) -> Progress:
    done = int(data.get("epochs_completed") or 0)
    planned = (data.get("hyperparameters") or {}).get("epochs")
    planned = planned if isinstance(planned, int) and not isinstance(planned, bool) else None
    seconds = [value for value in data.get("seconds_per_epoch") or [] if isinstance(value, (int, float))]
    pace = statistics.median(seconds[1:] or seconds) if seconds else None  # the first epoch includes compiling
    eta = pace * max(planned - done, 0) if running and pace is not None and planned is not None else None
    return Progress(done, planned, eta)


class RunStore:
    """The snapshot of one outputs folder, kept fresh by a daemon thread (start()) or by refresh() calls."""

    def __init__(self, outputs):
        self.outputs = str(outputs)
        self._rows = {}  # name -> row
        self._snapshot = Snapshot([], [], 0)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self._seen = None  # the cheap signature at the last full refresh
        self._scanned_at = -math.inf  # when the last full refresh began (time.monotonic)
        self._outputs_changed_at = -math.inf
        self._scan_seconds = 0.0  # what the last full refresh took
        self._watched = ()  # the runs whose run.json says running (shown crashed too, when no lock is held)

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def refresh(self) -> None:
        """Bring the index up to date with the folders; a new snapshot when a row changed or vanished."""
        if not os.path.isdir(self.outputs):
            return
        connection, broken, fresh = open_index(self.outputs)
        with closing(connection):
            names = set(index_db.keys(connection))
            if not self._rows:
                fresh = {row["run"]: row for row in index_db.all_rows(connection, fresh)}
            # the index knows every row's columns without decoding them; the unreadable rows add theirs
            columns = column_list([*index_db.column_names(connection), *(key for row in broken for key in row)])
        rows = {name: row for name, row in self._rows.items() if name in names}
        rows.update(fresh)
        rows.update({row["run"]: row for row in broken})
        statuses = {name: live_status(Path(self.outputs) / name, row) for name, row in rows.items()
                    if row.get("status") == "running"}
        if rows.keys() == self._rows.keys() and not fresh and not broken and not self._status_changed(statuses):
            return
        self._rows = rows
        self._watched = tuple(name for name, row in rows.items() if row.get("status") == "running")
        shown = [{**row, "status": statuses[name]} if name in statuses else row for name, row in rows.items()]
        ordered = order(shown, "", columns)
        tasks = sorted({row["task"] for row in ordered if isinstance(row.get("task"), str)})
        with self._lock:
            self._snapshot = Snapshot(ordered, columns, self._snapshot.generation + 1,
                                      {row["run"]: row for row in ordered}, tasks)

    def _status_changed(self, statuses: dict) -> bool:
        current = self._snapshot.by_name
        return any(current.get(name, {}).get("status") != status for name, status in statuses.items())

    def signature(self) -> tuple:
        """What changes when a run folder comes or goes, or a running run records an epoch, ends or dies."""
        try:
            outputs = os.stat(self.outputs).st_mtime_ns
        except OSError:
            outputs = None
        running = []
        for name in self._watched:
            path = Path(self.outputs) / name
            try:
                stat = (path / RUN_FILE).stat()
                running.append((name, stat.st_mtime_ns, stat.st_size, is_locked(path)))
            except OSError:
                running.append((name, None, None, False))
        return outputs, tuple(running)

    def due(self, now: float) -> bool:
        """Whether a full refresh is due at `now` (time.monotonic), judged by the cheap signature."""
        signature = self.signature()
        if self._seen is not None and signature[0] != self._seen[0]:  # a folder came or went
            self._outputs_changed_at = now
        period = min(FULL_SCAN_SECONDS, max(REFRESH_SECONDS, SCAN_SHARE * self._scan_seconds))
        return (signature != self._seen or now - self._scanned_at >= period
                or now - self._outputs_changed_at < FULL_SCAN_SECONDS)

    def full_refresh(self, now: float) -> None:
        """refresh(), remembering the running runs' signature from before it (what changes while it runs is seen
        next time) and the outputs folder's from after it (the index's own files there change with each write)."""
        running, began = self.signature()[1], time.perf_counter()
        self.refresh()
        self._scan_seconds = time.perf_counter() - began
        self._seen, self._scanned_at = (self.signature()[0], running), now

    def start(self) -> "RunStore":
        self.full_refresh(time.monotonic())
        self._thread = threading.Thread(target=self._loop, name="run-index-refresh", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                if self.due(began):
                    self.full_refresh(began)
            except Exception as error:  # a folder changing under the scan: the next refresh sees it settled
                print(f"serve: refreshing the run index failed ({error}); trying again", flush=True)
            # a slow store (a read-only folder rebuilds in memory each time) is refreshed less often
            self._stop.wait(max(REFRESH_SECONDS, 2 * (time.monotonic() - began)))

    def current_row(self, name: str) -> dict | None:
        """A running run's row read afresh from its run.json (others as the snapshot holds them)."""
        row = self._snapshot.by_name.get(name)
        if row is None or row.get("status") != "running":
            return row
        path = Path(self.outputs) / name
        try:
            record = RunRecord.load(path)
            fresh = summary_row(record)
        except Exception as error:  # mid-write it is the previous or the new file (atomic), but it may be gone
            return unreadable_row(name, str(error))
        return {**fresh, "status": live_status(path, fresh), "_progress": progress_of(record.data, True)}
