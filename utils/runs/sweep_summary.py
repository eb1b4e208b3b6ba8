"""What the run store knows of the sweep folders beside its runs (`<outputs>/sweep_*/`): the names of the files a
sweep keeps there and one summary per sweep for outputs/index.html. utils/sweeps writes these folders (and takes
the names from here); this layer only reads them, and a folder it cannot read is shown as unreadable, never an error.
"""
import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

SWEEP_PREFIX = "sweep_"
SWEEP_FILE = "sweep.json"
TRIALS_FILE = "trials.csv"
SWEEP_REPORT = "report.html"
# Trials that are never run again (the others run again, or continue, on --resume).
FINISHED = ("completed", "pruned")


@dataclass
class SweepSummary:
    name: str
    report: Optional[Path]  # report.html, when written
    task: str = "-"
    method: str = "-"
    objective: str = "-"
    done: int = 0  # finished trials (completed or pruned)
    total: int = 0  # trials the sweep aims at
    best: Optional[float] = None  # the best completed trial's objective
    best_trial: Optional[str] = None
    problem: Optional[str] = None  # why the folder could not be read


def read_summary(path: Path) -> SweepSummary:
    report = path / SWEEP_REPORT
    summary = SweepSummary(path.name, report if report.is_file() else None)
    try:
        spec = json.loads((path / SWEEP_FILE).read_text())
        with open(path / TRIALS_FILE, newline="") as handle:
            trials = list(csv.DictReader(handle))
        summary.task, summary.method, summary.objective = spec["task"], spec["method"], spec["objective"]
        summary.total = max(int(spec["target_trials"]), len(trials))
        summary.done = sum(trial.get("status") in FINISHED for trial in trials)
        summary.best, summary.best_trial = best_completed(trials, spec["direction"] == "minimize")
    except (OSError, ValueError, KeyError, TypeError) as error:  # json's and csv's parse errors are ValueErrors
        summary.problem = f"unreadable: {type(error).__name__}"
    return summary


def best_completed(trials: list, minimize: bool) -> tuple:
    scored = [(float(trial["objective"]), trial["trial"]) for trial in trials
              if trial.get("status") == "completed" and trial.get("objective")]
    scored = [(value, trial) for value, trial in scored if math.isfinite(value)]
    if not scored:
        return None, None
    return (min if minimize else max)(scored, key=lambda item: item[0])  # ties: the earliest trial


def sweep_summaries(outputs) -> list:
    """Every sweep folder in outputs, newest first (their names start with the creation time)."""
    folders = [path for path in Path(outputs).glob(f"{SWEEP_PREFIX}*") if (path / SWEEP_FILE).is_file()]
    return [read_summary(path) for path in sorted(folders, reverse=True)]
