"""--delete moves run folders into outputs/.trash/, --restore moves them back, --purge deletes them for good.

A run whose lock is held (still training, or being edited) is never moved. A trashed folder's modification time is
set to the moment it was deleted, which is what --purge --older-than compares.
"""
import os
import re
import shutil
import time
from pathlib import Path

from utils.core.errors import UsageError, UserError
from utils.runs.folder import RunFolder, trash
from utils.runs.lock import RunLock

AGE_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> float:
    """'30d', '12h', '2w', '90m' -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*", text or "")
    if not match:
        raise UsageError(f"--older-than expects a number and a unit (m, h, d, w), e.g. 30d. Received: {text!r}.")
    return float(match[1]) * AGE_UNITS[match[2]]


def delete(folder, outputs) -> Path:
    """Move one run folder into the trash; refused while its lock is held."""
    folder = RunFolder(folder)
    bin_folder = trash(outputs)
    bin_folder.mkdir(exist_ok=True)
    target = _free_name(bin_folder, folder.name)
    if folder.path.is_symlink():  # a link is moved as a link: nothing is written into the folder it points to
        os.rename(folder.path, target)
        os.utime(target, follow_symlinks=False)
        return target
    try:
        lock = RunLock(folder, "delete").acquire()
    except UserError as error:  # a training process holds it: one line, and nothing moves
        raise UserError(f"Not deleting {folder.name}: it is still training or being edited ({error})")
    try:
        os.rename(folder.path, target)
    except OSError as error:  # e.g. a run on another file system than --outputs
        raise UserError(f"Cannot move {folder} to {target}: {error.strerror}; pass the --outputs it lives in.")
    finally:
        lock.release()
    os.utime(target)  # the deletion time, for --purge --older-than
    return target


def restore(name: str, outputs) -> Path:
    """Move `<outputs>/.trash/<name>` back to `<outputs>/<name>`."""
    source = trash(outputs) / Path(name).name
    if not RunFolder(source).is_run():
        available = ", ".join(sorted(path.name for path in trash(outputs).glob("*"))) or "the trash is empty"
        raise UsageError(f"No run {Path(name).name!r} in {trash(outputs)} ({available}).")
    target = Path(outputs) / source.name
    if target.exists():
        raise UserError(f"{target} exists already; move it away before restoring {source.name}.")
    os.rename(source, target)
    return target


def other_copies(name: str, outputs) -> list:
    """Trashed folders that were deleted under the same name (`name-2`, `name-3`, ... or `name` itself), oldest
    deletion first: a restore says which copy it brought back."""
    base = re.sub(r"-\d+$", "", Path(name).name)
    pattern = re.compile(rf"{re.escape(base)}(-\d+)?")
    copies = [path for path in trash(outputs).glob("*") if pattern.fullmatch(path.name) and path.name != Path(name).name]
    return sorted(copies, key=lambda path: path.lstat().st_mtime)


def purgeable(outputs, older_than: float = 0.0) -> list:
    """Trashed folders deleted more than `older_than` seconds ago."""
    bin_folder = trash(outputs)
    if not bin_folder.is_dir():
        return []
    cutoff = time.time() - older_than
    return sorted(path for path in bin_folder.iterdir() if path.lstat().st_mtime <= cutoff)


def purge(folders) -> None:
    """Each run goes whole or not at all: it is first renamed to a hidden name (one atomic step that either
    happens or not), then removed; a link is unlinked, never followed."""
    for folder in folders:
        folder = Path(folder)
        doomed = folder if folder.name.startswith(".purging-") else folder.with_name(f".purging-{folder.name}")
        os.rename(folder, doomed)  # (a purge stopped half-way left a .purging- folder: this one finishes it)
        if doomed.is_symlink():
            doomed.unlink()
        else:
            shutil.rmtree(doomed)


def _free_name(parent: Path, name: str) -> Path:
    for attempt in range(1, 1000):
        candidate = parent / (name if attempt == 1 else f"{name}-{attempt}")
        if not candidate.exists():
            return candidate
    raise UserError(f"Too many runs named {name} in {parent}; purge it first.")
