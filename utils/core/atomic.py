"""Writes that survive a kill at any instant: write a temporary file beside the target, then os.replace it."""
import errno
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path, suffix=None):
    """Yield a temporary path beside `path`; on success it replaces `path` in one step, on failure it is removed.

    The temporary name keeps the target's suffix because Keras picks the file format from the extension.
    """
    path = Path(path)
    if path.suffix == ".h5":
        refuse_when_full(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=suffix or path.suffix)
    # mkstemp makes the file 0600; give it the mode an ordinary open() would (0644 under the usual umask 022), so a
    # colleague on a shared machine can read run.json, model.h5 and report.html like history.csv.
    os.fchmod(handle, 0o666 & ~UMASK)
    os.close(handle)
    try:
        yield temporary
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    except Exception as error:
        if getattr(error, "errno", None) != errno.ENOSPC and nearly_full(path.parent):
            # h5py reports a full disk as RuntimeError ("Slist already enabled?") or as an OSError with no errno
            # ("file write failed"); say what it is.
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from error
        raise
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def refuse_when_full(path: Path) -> None:
    """HDF5 can crash the process (a segmentation fault in flush) when the disk fills mid-write, so a model file is
    refused up front when the free space is below the larger of 1 MiB and the size of the copy it replaces."""
    needed = max(1 << 20, path.stat().st_size if path.is_file() else 0)
    if nearly_full(path.parent, needed):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def nearly_full(folder, margin: int = 1 << 20) -> bool:
    """Whether the disk holding `folder` has less than `margin` bytes free (1 MiB: less than a small checkpoint)."""
    try:
        return shutil.disk_usage(folder).free < margin
    except OSError:
        return False


def current_umask() -> int:
    mask = os.umask(0o022)  # the only way to read the umask is to set it; it is put back at once
    os.umask(mask)
    return mask


def write_text(path, text: str) -> None:
    with atomic_path(path) as temporary:
        Path(temporary).write_text(text)


def write_json(path, data) -> None:
    write_text(path, json.dumps(data, indent=2, default=_jsonable) + "\n")


def _jsonable(value):
    # numpy scalars and arrays show up in metrics; paths in options.
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


# Read once: reading the umask means setting it, which is better not done while other threads create files.
UMASK = current_umask()


@contextmanager
def staged_folder(folder):
    """Yield a hidden folder of the same name to fill; on success it replaces the (empty, reserved) `folder` in one
    rename, on any failure both are removed, so no half-written folder is ever seen."""
    folder = Path(folder)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    work = staging / folder.name
    work.mkdir()
    try:
        yield work
        os.rename(work, folder)  # onto the empty reserved folder: one step
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
