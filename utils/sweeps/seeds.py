"""A sweep with --seeds N: each trial's configuration trains once per seed (the child is `train --seeds A,B,...`, so
its run folders group as any --seeds runs do) and the trial's objective is the mean over those runs.

Pruning is refused with more than one seed (the driver's plan says so): Optuna's pruner judges one curve per trial,
and a trial here is several runs.
"""

import numpy as np


def averaged(spec: dict) -> bool:
    """Whether the sweep's trials each train several seeds (one seed is the plain single-run trial)."""
    return len(spec.get("seeds") or []) > 1


def newest_by_seed(runs) -> dict:
    """{seed: (its newest run folder, that run's status)} of one trial's (path, run record data) pairs (a trial trained
    again after a failure or an interruption has newer folders for the seeds it retrained)."""
    found = {}
    for path, data in runs:
        seed = (data.get("hyperparameters") or {}).get("seed")
        if seed not in found or path.stat().st_mtime >= found[seed][0].stat().st_mtime:
            found[seed] = (path, data.get("status"))
    return found


def seeds_to_train(spec: dict, by_seed: dict) -> list:
    """The trial's seeds without a completed run: all of them at first, the rest when it starts again."""
    return [seed for seed in spec["seeds"] if (by_seed.get(seed) or (None, None))[1] != "completed"]


def interrupted_seed_run(spec: dict, by_seed: dict):
    """The run folder of the trial's first seed whose newest run was interrupted (to go on in), or None."""
    interrupted = [by_seed[seed][0] for seed in spec["seeds"] if (by_seed.get(seed) or (None, None))[1] == "interrupted"]
    return str(interrupted[0]) if interrupted else None


def seeds_argument(seeds: list) -> list:
    return ["--seeds", ",".join(str(seed) for seed in seeds)]


def average_over_seeds(trial, spec: dict, by_seed: dict, objective_of) -> None:
    """A completed trial's objective becomes the mean over its seeds' runs, with their sample std and n; a seed
    without a completed run (or without the objective) fails the trial, saying which."""
    runs = [by_seed.get(seed) for seed in spec["seeds"]]
    missing = [seed for seed, run in zip(spec["seeds"], runs) if run is None or run[1] != "completed"]
    if missing:
        trial.status, trial.reason = "failed", f"no completed run for seed(s) {', '.join(map(str, missing))}"
        return
    values = [objective_of(path, spec["objective"], spec["direction"]) for path, _ in runs]
    if any(value is None for value in values):
        trial.status, trial.reason = "failed", f"a run of the trial recorded no {spec['objective']}"
        return
    trial.objective = float(np.mean(values))
    trial.objective_std = float(np.std(values, ddof=1))
    trial.seed_runs = [str(path) for path, _ in runs]
