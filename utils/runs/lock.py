"""An exclusive lock on a run folder, held by whatever process trains or edits it.

It is an OS file lock (fcntl.flock) on the folder's lock file: the kernel releases it when the process dies, so a
stale pid can never block a run, and `--runs` tells `running` (lock held) from `crashed` (not held) without
trusting pids. The lock file holds who took the lock, for the message a second trainer gets.
"""
import fcntl
import json
import os
import socket

from utils.core.errors import UserError
from utils.runs.folder import RunFolder


class RunLock:
    """`with RunLock(folder, "resume"):` — or acquire()/release(); a second holder gets one UserError line."""

    def __init__(self, folder, purpose: str = "train"):
        self.folder = RunFolder(folder)
        self.purpose = purpose
        self._handle = None

    def acquire(self) -> "RunLock":
        handle = open(self.folder.lock_file, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(read_holder(handle))
            handle.close()
            raise UserError(f"{self.folder} is locked by {holder}; wait for it to finish or stop it first.")
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "hostname": socket.gethostname(), "purpose": self.purpose}))
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()


def read_holder(handle) -> dict:
    handle.seek(0)
    try:
        return json.loads(handle.read() or "{}")
    except ValueError:
        return {}


def _describe(holder: dict) -> str:
    if not holder:
        return "another process"
    return f"process {holder.get('pid')} on {holder.get('hostname')} ({holder.get('purpose', 'train')})"


def is_locked(folder) -> bool:
    """Whether some process holds the folder's lock right now (a crashed process holds none)."""
    path = RunFolder(folder).lock_file
    if not path.is_file():
        return False
    # Read-only is enough to test a flock, and works on a colleague's run whose lock file we may not write.
    with open(path, "r") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False
