"""Trials of a sweep and trials.csv: a trial's id is fixed by its position in the spec and its parameter hash."""
import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Optional

import pandas as pd

from utils.core import atomic

# Of these, FINISHED (utils.runs.sweep_summary: completed, pruned) never run again; the others do (interrupted
# ones continue from a checkpoint).
STATUSES = ("pending", "running", "completed", "pruned", "failed", "interrupted")


def parameter_hash(params: dict) -> str:
    text = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def trial_id(position: int, params: dict) -> str:
    """'007-1a2b3c4d': the position (from 0) and the hash of the parameters; never reassigned on resume."""
    return f"{position:03d}-{parameter_hash(params)}"


@dataclass
class Trial:
    trial: str  # stable id: position and parameter hash
    position: int
    params: dict = field(default_factory=dict)
    status: str = "pending"
    objective: Optional[float] = None  # the best value of the objective over the trial's epochs (--seeds: mean over runs)
    objective_std: Optional[float] = None  # with --seeds: the sample std of the objective over the trial's runs
    epochs: Optional[int] = None  # epochs the run trained
    seconds: Optional[float] = None  # wall-clock seconds of the trial process(es)
    started: Optional[str] = None
    ended: Optional[str] = None
    run: Optional[str] = None  # the trial's run folder
    reason: Optional[str] = None  # why it failed or was pruned
    optuna_trial_id: Optional[int] = None  # the Optuna trial that carries its reports
    seed_runs: list = field(default_factory=list)  # with --seeds: the run folder of each seed, in the seeds' order
    replaced: list = field(default_factory=list)  # where in the trash lie the interrupted folders its new runs replaced


def new_trial(position: int, params: dict) -> Trial:
    return Trial(trial=trial_id(position, params), position=position, params=dict(params))


def write_trials(path, trials) -> None:
    """trials.csv: the Trial fields with params as JSON, plus one readable `param:<name>` column per parameter."""
    rows = []
    for trial in sorted(trials, key=lambda item: item.position):
        row = asdict(trial)
        row["params"] = json.dumps(trial.params, sort_keys=True)
        row["seed_runs"] = json.dumps(trial.seed_runs) if trial.seed_runs else None
        row["replaced"] = json.dumps(trial.replaced) if trial.replaced else None
        row.update({f"param:{name}": value for name, value in trial.params.items()})
        rows.append(row)
    columns = [item.name for item in fields(Trial)]
    table = pd.DataFrame(rows, columns=columns + sorted({key for row in rows for key in row} - set(columns)))
    table = table.astype({"epochs": "Int64", "optuna_trial_id": "Int64"})  # whole numbers even beside blanks
    atomic.write_text(path, table.to_csv(index=False))


def read_trials(path) -> list:
    """The trials back from trials.csv; a ValueError says what is wrong with a damaged one."""
    table = pd.read_csv(path, dtype={"trial": str})
    missing = [name for name in ("trial", "position", "params", "status") if name not in table]
    if missing:
        raise ValueError(f"no {', '.join(missing)} column")
    trials = []
    for row in table.to_dict("records"):
        values = {item.name: _none_for_nan(row.get(item.name)) for item in fields(Trial)}
        values["params"] = json.loads(values["params"]) if values["params"] else {}
        for name in ("seed_runs", "replaced"):  # absent from the trials.csv of older sweeps
            values[name] = json.loads(values[name]) if values[name] else []
        if (values["status"] not in STATUSES or not isinstance(values["params"], dict) or not values["trial"]
                or not isinstance(values["seed_runs"], list) or not isinstance(values["replaced"], list)):
            raise ValueError(f"trial {str(values['trial'])[:20]!r} has status {str(values['status'])[:20]!r} and "
                             f"params {str(values['params'])[:40]!r}")
        values["position"] = int(values["position"])
        for name in ("epochs", "optuna_trial_id"):
            if values[name] is not None:
                values[name] = int(values[name])
        trials.append(Trial(**values))
    return trials


def _none_for_nan(value):
    return None if isinstance(value, float) and math.isnan(value) else value
