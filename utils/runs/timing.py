"""One timing vocabulary for every view of a run (runs, diff, compare, index.html, report.html, bench tables).

- steady epoch seconds: the median epoch after the first (what an epoch costs once everything is compiled);
- first-epoch seconds: the first epoch, tracing and compiling included;
- set-up seconds: from the process's start (a later run in the same process: from its record's creation) to the
  first training step: imports, data, building and compiling the model;
- finish seconds: from the end of the last epoch until the run's figures are drawn (final save, test evaluation,
  the figures; a run that did not complete: until it was marked ended);
- training seconds: every epoch added up.

Runs from before the recorded set-up and finish times still get steady, first and training seconds, derived from
their seconds_per_epoch.
"""
import os
import time

TIMING_COLUMNS = ("steady_epoch_seconds", "first_epoch_seconds", "setup_seconds", "finish_seconds", "training_seconds")


def steady_epoch_seconds(seconds) -> float | None:
    """The median of the epochs after the first; None with a single epoch (its time includes compiling)."""
    import statistics  # here, so that a cached `runs` never loads it (nor its fractions and decimal)

    later = list(seconds)[1:]
    return round(statistics.median(later), 4) if later else None


def timing_of(data: dict) -> dict:
    """The five timing values of a run.json dict; None where a run did not record or finish that part."""
    seconds = [value for value in data.get("seconds_per_epoch") or [] if isinstance(value, (int, float))]
    recorded = data.get("timing") if isinstance(data.get("timing"), dict) else {}
    return {
        "steady_epoch_seconds": steady_epoch_seconds(seconds),
        "first_epoch_seconds": round(seconds[0], 4) if seconds else None,
        "setup_seconds": recorded.get("setup_seconds"),
        "finish_seconds": recorded.get("finish_seconds"),
        "training_seconds": round(sum(seconds), 2) if seconds else None,
    }


def process_started_at() -> float:
    """When this process started (wall clock), from Linux's /proc (its start in ticks after boot, against the
    uptime); elsewhere, when this module was first imported."""
    try:
        with open("/proc/self/stat") as stat:
            ticks_after_boot = float(stat.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as uptime:
            seconds_since_boot = float(uptime.read().split()[0])
        return time.time() - (seconds_since_boot - ticks_after_boot / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return _IMPORTED_AT


_IMPORTED_AT = time.time()
_process_has_run = False


def setup_began_at() -> float:
    """Where a run's set-up began: the process's start for the first run it trains, now for any later one (the
    next model of `-m a b`, a run trained in-process by a test)."""
    global _process_has_run
    began = time.time() if _process_has_run else process_started_at()
    _process_has_run = True
    return began
