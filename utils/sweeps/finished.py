"""`sweep --resume` of a sweep with nothing left to do: said in one line, before TensorFlow, Keras or Optuna is
imported (the driver's path imports all three and renders the report again, half a minute for nothing).

Nothing is left when every trial is completed or pruned, a search has its target number of trials (--trials asks
for no more), and report.html was written after trials.csv last changed. Anything else, a damaged folder or an
option the resume refuses included, goes the driver's way, which says what is wrong or does the work.
"""
from typing import Optional

from utils.core.errors import UserError
from utils.runs.sweep_summary import FINISHED
from utils.sweeps.folder import SweepFolder
from utils.sweeps.progress import best_of
from utils.sweeps.space import sweepable_options


def nothing_to_resume(task, args) -> Optional[str]:
    """The line to print when resuming args.resume_sweep would do nothing; None when there is work (or an error
    for the driver to report)."""
    try:
        folder = SweepFolder.open(args.resume_sweep)
        folder.check()
        spec, trials = folder.spec(), folder.trials()
    except (UserError, OSError):
        return None
    given = (args.model or getattr(args, "seeds", None) is not None
             or any(getattr(args, name, None) not in (None, False) for name in sweepable_options(task)))
    if spec["task"] != task.name or given or not trials or (args.trials is not None and spec["method"] == "grid"):
        return None
    if (spec["target_trials"] if args.trials is None else args.trials) != len(trials):  # more wanted (or too few: refused)
        return None
    if any(trial.status not in FINISHED for trial in trials) or not report_is_current(folder):
        return None
    value, best = best_of(trials, spec["direction"])
    best_text = f"best {spec['objective']} {value:.4f} (trial {best})" if best else "no trial completed"
    more = "" if spec["method"] == "grid" else f"; --trials N (above {len(trials)}) adds trials"
    return (f"Nothing to resume: all {len(trials)} trials of {folder.path} are finished, {best_text}{more}; "
            f"report: {folder.report}")


def report_is_current(folder: SweepFolder) -> bool:
    """report.html exists and is no older than trials.csv (a driver that died before writing it leaves work)."""
    try:
        return folder.report.stat().st_mtime >= folder.trials_file.stat().st_mtime
    except OSError:
        return False
