"""Run folders and their run.json: created fresh for every run, updated atomically as the run goes."""
import json
import os
import platform
import re
import socket
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from utils.core import atomic
from utils.core.errors import UserError

RUN_FILE = "run.json"


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def safe_name(name: str) -> str:
    """A run-name component that cannot escape the outputs folder (no separators, no '..')."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+|\.{2,}", "_", name)
    return re.sub(r"_+", "_", cleaned).strip("._") or "run"


def prepare_outputs(outputs) -> Path:
    outputs = Path(outputs)
    if outputs.exists() and not outputs.is_dir():
        raise UserError(f"--outputs {outputs} is a file, not a folder; pass a folder path.", exit_code=2)
    try:
        outputs.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"Cannot create the outputs folder {outputs}: {error.strerror}; pass a writable --outputs.", exit_code=2)
    if not os.access(outputs, os.W_OK | os.X_OK):
        raise UserError(f"The outputs folder {outputs} is not writable; pass a writable --outputs.", exit_code=2)
    return outputs


def create_run_folder(outputs, label: str, prefix: str = "") -> Path:
    """A new folder `<outputs>/<prefix><YYYYmmdd-HHMMSS>_<label>`; a suffix -2, -3, ... when that second is taken.

    os.mkdir either creates the folder or fails, so concurrent runs never share one.
    """
    outputs = prepare_outputs(outputs)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = f"{prefix}{stamp}" + (f"_{safe_name(label)}" if label else "")
    for attempt in range(1, 1000):
        folder = outputs / (base if attempt == 1 else f"{base}-{attempt}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise UserError(f"Could not create a new run folder under {outputs}.")


def environment() -> dict:
    import keras
    import numpy

    from utils.training import backend

    return {
        "python": platform.python_version(),
        **backend.versions(),
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "git_commit": git_commit(),
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
    }


def git_commit():
    project = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=project, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def command_line() -> str:
    return " ".join([Path(sys.executable).name] + sys.argv)


class RunRecord:
    """run.json of one run folder: a dict kept in memory and written atomically on every update."""

    def __init__(self, folder: Path, data: dict):
        self.folder = Path(folder)
        self.data = data

    @classmethod
    def load(cls, folder) -> "RunRecord":
        folder = Path(folder)
        path = folder / RUN_FILE
        if not path.is_file():
            raise UserError(f"{folder} is not a run folder: it has no {RUN_FILE}.")
        try:
            return cls(folder, json.loads(path.read_text()))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise UserError(f"{path} is not valid JSON ({error}); the run folder is damaged.")

    def update(self, **fields) -> None:
        self.data.update(fields)
        self.save()

    def save(self) -> None:
        atomic.write_json(self.folder / RUN_FILE, self.data)

    @property
    def status(self) -> str:
        """The recorded status, or 'crashed' for a run marked running whose process is gone."""
        status = self.data.get("status")
        if status == "running" and not _process_alive(self.data.get("environment", {})):
            return "crashed"
        return status


def _process_alive(environment: dict) -> bool:
    if environment.get("hostname") != socket.gethostname():
        return True  # cannot tell from here; trust the record
    pid = environment.get("pid")
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
