"""The sweep's progress on the terminal: one line per finished trial with its objective, the running best, trials
done of the target, the time since this invocation began and an estimate of the time left.

`trial 003-1a2b3c4d completed  val_accuracy 0.9120  best 0.9210 (001-9f8e7d6c)  4/6  1m12s elapsed  ETA 36s`
"""
from dataclasses import dataclass
from typing import Optional

# Trials that count as done for the progress count: the ones this sweep will not run again on its own
# (a failed trial runs again only on a later --resume).
DONE = ("completed", "pruned", "failed")


@dataclass
class Progress:
    objective: str  # the objective's name, e.g. val_accuracy
    done: int  # trials done (completed, pruned or failed), this invocation's and earlier ones'
    total: int  # trials the sweep aims at
    elapsed: float  # seconds since this invocation of the sweep began
    best: Optional[float] = None  # the best completed trial's objective
    best_trial: Optional[str] = None
    trial_seconds: Optional[float] = None  # mean seconds of the trials this invocation ran to an end; None: none yet
    running: tuple = ()  # seconds each trial running now has run
    workers: int = 1


def duration(seconds: float) -> str:
    """'36s', '1m12s', '2h05m': the two largest units, for a terminal line."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def eta(progress: Progress) -> Optional[float]:
    """Seconds left: what the running trials lack of a mean trial, plus a mean trial for each one not started,
    shared among the workers. None before this invocation has a trial's duration to go by."""
    waiting = max(progress.total - progress.done - len(progress.running), 0)
    if not waiting and not progress.running:
        return 0.0
    if progress.trial_seconds is None:
        return None
    work = sum(max(progress.trial_seconds - ran, 0.0) for ran in progress.running) + waiting * progress.trial_seconds
    return work / max(progress.workers, 1)


def progress_line(trial_id: str, status: str, objective_value, progress: Progress, reason=None, spread="") -> str:
    """`spread`: what follows the value, e.g. ' ± 0.0040 (mean of 3 seeds)'."""
    value = "-" if objective_value is None else f"{objective_value:.4f}{spread}"
    best = "-" if progress.best is None else f"{progress.best:.4f} ({progress.best_trial})"
    left = eta(progress)
    parts = [f"trial {trial_id} {status:<9}", f"{progress.objective} {value}", f"best {best}",
             f"{progress.done}/{progress.total}", f"{duration(progress.elapsed)} elapsed",
             "ETA " + ("-" if left is None else duration(left))]
    line = "  ".join(parts)
    return f"{line}  ({reason})" if reason else line


def best_of(trials, direction: str) -> tuple:
    """(objective, trial id) of the best completed trial, or (None, None)."""
    scored = [trial for trial in trials if trial.status == "completed" and trial.objective is not None]
    if not scored:
        return None, None
    pick = max if direction == "maximize" else min
    best = pick(scored, key=lambda trial: trial.objective)
    return best.objective, best.trial
