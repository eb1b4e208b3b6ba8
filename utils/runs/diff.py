"""--diff RUN_A RUN_B: two runs side by side, only what differs (or everything with --all).

Sections: hyperparameters; data (name, sha256, sizes); environment (versions, git commit, the source patch, and
every package whose version changed, from environment.txt); results (best validation value, test metrics, the
timings of utils.runs.timing); tags and notes. Settings are the values each run trained with (utils.runs.settings).
"""
import json

from utils.runs.environment import changed_packages, describe_patch, read_packages
from utils.runs.index import data_facts, execution_facts
from utils.runs.record import RunRecord
from utils.runs.settings import effective_settings
from utils.runs.timing import timing_of

SECTIONS = ("hyperparameters", "data", "environment", "packages", "results", "tags")


def facts(record: RunRecord) -> dict:
    """{section: {key: value}} of one run, values as comparable plain data."""
    data = record.data
    environment = data.get("environment") or {}
    best = data.get("best") or {}
    return {
        "hyperparameters": effective_settings(data),
        "data": data_facts(data),
        "environment": {**execution_facts(data), **{key: value for key, value in environment.items() if key != "pid"},
                        "source.patch": describe_patch(record.folder)},
        "results": {
            "status": data.get("status"), "epochs": data.get("epochs_completed"), "parameters": data.get("parameters"),
            f"best {best.get('metric', 'val_accuracy')}": best.get("value"), "best epoch": best.get("epoch"),
            **(data.get("test_metrics") or {}),
            **{key.replace("_", " "): value for key, value in timing_of(data).items()},
        },
        "tags": {**(data.get("tags") or {}),
                 "notes": [note.get("text") for note in data.get("notes") or [] if isinstance(note, dict)] or None},
    }


def differences(first: RunRecord, second: RunRecord, show_all: bool = False) -> dict:
    """{section: {key: [value in first, value in second]}}; equal values only with `show_all`."""
    left, right = facts(first), facts(second)
    result = {}
    for section in SECTIONS:
        if section == "packages":
            changed = changed_packages(read_packages(first.folder), read_packages(second.folder))
            result[section] = {name: list(pair) for name, pair in changed.items()}
            continue
        keys = list(dict.fromkeys([*left[section], *right[section]]))
        pairs = {key: [left[section].get(key), right[section].get(key)] for key in keys}
        result[section] = {key: pair for key, pair in pairs.items() if show_all or pair[0] != pair[1]}
    return result


def _text(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def render(first: RunRecord, second: RunRecord, diff: dict, output_format: str = "table") -> str:
    if output_format == "json":
        return json.dumps({"runs": [first.folder.name, second.folder.name], **diff}, indent=1, default=str)
    rows = [("", first.folder.name, second.folder.name)]
    for section, pairs in diff.items():
        if pairs:
            rows.append((f"[{section}]", "", ""))
            rows += [(f"  {key}", _text(pair[0]), _text(pair[1])) for key, pair in pairs.items()]
    if len(rows) == 1:
        return f"{first.folder.name} and {second.folder.name} differ in nothing recorded (--all shows everything)."
    widths = [min(60, max(len(row[index]) for row in rows)) for index in range(3)]
    return "\n".join("  ".join(text[:60].ljust(width) for text, width in zip(row, widths)).rstrip() for row in rows)
