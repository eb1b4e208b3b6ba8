"""Interrupted run folders that a trial's newer run replaced.

A trial that starts afresh (on Ray, whose trials cannot go on in the driver's folders, or when its Optuna trial was
closed) leaves an interrupted folder that holds a checkpoint where it is: its epochs are the only ones until the new
run completes. Once a run of the same trial and seed has completed after it, that folder is replaced, and the driver
moves it to the trash (restorable with `restore`). A new run that fails or is interrupted again replaces nothing.
"""


def replaced_runs(runs) -> list:
    """(interrupted folder, the completed run that replaced it) among one trial's (path, run record data) pairs: each
    interrupted folder older (by modification time) than a completed run of its seed; a folder restored from the
    trash is newer, so it stays."""
    by_seed = {}
    for path, data in runs:
        seed = (data.get("hyperparameters") or {}).get("seed")
        by_seed.setdefault(seed, []).append((path.stat().st_mtime, path, data.get("status")))
    replaced = []
    for seed_runs in by_seed.values():
        completed = [(mtime, path) for mtime, path, status in seed_runs if status == "completed"]
        if not completed:
            continue
        newest, replacement = max(completed)
        replaced += [(path, replacement) for mtime, path, status in seed_runs if status == "interrupted" and mtime < newest]
    return replaced
