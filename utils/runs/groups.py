"""Runs grouped by configuration (every setting but the seed), each group's results as mean ± std over its seeds,
and the difference between two configurations with a 95 % interval (Welch's t).

A configuration is derived from what each run recorded, so runs trained apart (or before --seeds existed) group
with those of one `--seeds N` command when they trained the same thing on the same data, backend and device class.
"""
import hashlib
import json

import numpy as np
from scipy import stats

from utils.runs.index import data_facts, execution_facts
from utils.runs.record import best_val_accuracy
from utils.runs.settings import effective_settings

# Settings that do not change what is learned: a run with another label or tracker is the same configuration.
NOT_CONFIGURATION = ("seed", "name", "tensorboard", "mlflow", "verbose", "quiet")
RESULTS = ("test_accuracy", "best_val_accuracy", "test_loss")
CONFIDENCE = 0.95


def configuration(data: dict) -> dict:
    """What a run trained, seed aside: task, model, data (by SHA-256), backend and device class, settings."""
    settings = {key: value for key, value in effective_settings(data).items() if key not in NOT_CONFIGURATION}
    return {"task": data.get("task"), "model": data.get("model"), "data_sha256": data_facts(data)["data_sha256"],
            **execution_facts(data), **settings}


def group_id(data: dict) -> str:
    text = json.dumps(configuration(data), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def results_of(data: dict) -> dict:
    """The numbers a group averages: every test metric, and the best validation accuracy."""
    values = {key: value for key, value in (data.get("test_metrics") or {}).items() if isinstance(value, (int, float))}
    if isinstance(best_val_accuracy(data), (int, float)):
        values["best_val_accuracy"] = best_val_accuracy(data)
    return values


def group_runs(records) -> list:
    """[{id, configuration, runs, seeds, results: {metric: [values]}}] of the completed runs among `records`
    (run.json dicts), in the order each configuration first appears."""
    groups = {}
    for data in records:
        if data.get("status") != "completed":
            continue
        group = groups.setdefault(group_id(data), {"id": group_id(data), "configuration": configuration(data),
                                                   "runs": [], "seeds": [], "results": {}})
        group["runs"].append(data.get("run_id"))
        group["seeds"].append((data.get("hyperparameters") or {}).get("seed"))
        for key, value in results_of(data).items():
            group["results"].setdefault(key, []).append(float(value))
    return list(groups.values())


def mean_std(values) -> str:
    """'0.9731 ± 0.0021' (sample std over the seeds), or '0.9731 (n=1)' where one run gives no spread."""
    if len(values) < 2:
        return f"{values[0]:.4f} (n=1)"
    return f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f}"


def varying_settings(groups) -> list:
    """The configuration keys whose values differ between groups (what tells the groups apart)."""
    keys = list(dict.fromkeys(key for group in groups for key in group["configuration"]))
    return [key for key in keys if len({json.dumps(group["configuration"].get(key), default=str)
                                        for group in groups}) > 1]


def group_rows(groups) -> tuple:
    """(rows, columns) of the grouped table: one row per configuration."""
    varying = [key for key in varying_settings(groups) if key not in ("model", "data_sha256")]
    metrics = [key for key in RESULTS if any(key in group["results"] for group in groups)]
    rows = []
    for group in groups:
        settings = group["configuration"]
        row = {"group": group["id"], "model": settings["model"], "dataset": settings.get("dataset"),
               "device": f"{settings.get('backend')}/{settings.get('device')}", "n": len(group["runs"]),
               "seeds": ",".join(str(seed) for seed in group["seeds"]),
               "differs_by": {key: settings.get(key) for key in varying} or None}
        row.update({metric: mean_std(group["results"][metric]) for metric in metrics if metric in group["results"]})
        rows.append(row)
    return rows, ["group", "model", "dataset", "device", "n", "seeds", *metrics, "differs_by"]


def compared_metric(first: dict, second: dict):
    return next((key for key in RESULTS if key in first["results"] and key in second["results"]), None)


def difference_line(first: dict, second: dict) -> str:
    """Second minus first, on the first result both have, with Welch's 95 % interval and what it means."""
    devices = [f"{group['configuration'].get('backend')}/{group['configuration'].get('device')}"
               for group in (first, second)]
    if devices[0] != devices[1]:
        return (f"difference not stated: group {first['id']} ran on {devices[0]} and {second['id']} on {devices[1]}; "
                "results from different backends or devices are not ranked against each other.")
    metric = compared_metric(first, second)
    if metric is None:
        return "difference not stated: the two groups share no result."
    a, b = np.array(first["results"][metric]), np.array(second["results"][metric])
    if min(len(a), len(b)) < 2:
        return (f"difference not stated: {metric} needs at least 2 runs of each configuration to measure seed noise "
                f"(n={len(a)} and n={len(b)}; train with --seeds 2 or more).")
    delta = b.mean() - a.mean()
    if a.std() == 0 and b.std() == 0:
        low = high = delta  # no seed moved the result: the interval is the difference itself
    else:
        low, high = stats.ttest_ind(b, a, equal_var=False).confidence_interval(CONFIDENCE)
    verdict = ("exceeds seed noise: the interval excludes 0" if low > 0 or high < 0
               else "within seed noise: the interval includes 0")
    return (f"{metric}: group {second['id']} - group {first['id']} = {delta:+.4f} "
            f"(95% interval {low:+.4f} to {high:+.4f}, Welch's t, n={len(b)} and n={len(a)}); {verdict}.")


def spread_of(groups, data: dict, metric: str):
    """(std, n) of `metric` over the completed runs of `data`'s configuration, or None with fewer than 2."""
    identity = group_id(data)
    group = next((group for group in groups if group["id"] == identity), None)
    values = group["results"].get(metric, []) if group else []
    return (float(np.std(values, ddof=1)), len(values)) if len(values) >= 2 else None
