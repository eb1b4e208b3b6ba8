"""The sweep folder `<outputs>/sweep_<timestamp>_<label>/`: sweep.json, trials.csv, the Optuna journal, trial logs
and the report. Everything written here is written atomically (the journal is appended under Optuna's own lock)."""
import json
from pathlib import Path

from utils.core import atomic
from utils.core.errors import UserError
from utils.runs.folder import RunFolder, create_run_folder
from utils.runs.sweep_summary import SWEEP_FILE, SWEEP_PREFIX, SWEEP_REPORT, TRIALS_FILE
from utils.sweeps.trials import read_trials, write_trials

# sweep.json's fields that a resume reads, and their types (bool is no int here).
SPEC_FIELDS = {"task": str, "method": str, "objective": str, "direction": str, "seed": int, "target_trials": int,
               "parameters": list, "base_options": dict, "workers": int, "executor": str, "outputs": str,
               "sweep_id": str, "study": str}
SPEC_CHOICES = {"method": ("grid", "random", "tpe"), "direction": ("minimize", "maximize"), "executor": ("local", "ray")}
JOURNAL_FILE = "optuna.journal"
LOGS = "logs"


class SweepFolder:
    def __init__(self, path):
        self.path = Path(path)

    @classmethod
    def create(cls, outputs, label: str) -> "SweepFolder":
        folder = cls(create_run_folder(outputs, label, prefix=SWEEP_PREFIX))
        (folder.path / LOGS).mkdir()
        return folder

    @classmethod
    def open(cls, path) -> "SweepFolder":
        folder = cls(path)
        if not (folder.path / SWEEP_FILE).is_file() or not (folder.path / TRIALS_FILE).is_file():
            raise UserError(f"{path} is not a sweep folder: it has no {SWEEP_FILE} and {TRIALS_FILE}.", exit_code=2)
        try:
            folder.spec()
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise UserError(f"{folder.path / SWEEP_FILE} is not valid JSON ({error}); the sweep folder is damaged.")
        return folder

    def check(self) -> None:
        """sweep.json has every field a resume reads, of its type, and trials.csv reads back: else one line naming
        the file and what is wrong, before anything is written."""
        spec, path = self.spec(), self.path / SWEEP_FILE
        if not isinstance(spec, dict):
            raise UserError(f"{path} is damaged: it holds a {type(spec).__name__}, not the sweep's settings.")
        for name, kind in SPEC_FIELDS.items():
            value = spec.get(name)
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise UserError(f"{path} is damaged: {name!r} should be {kind.__name__}, found {value!r:.60}.")
            if value not in SPEC_CHOICES.get(name, (value,)):
                raise UserError(f"{path} is damaged: {name!r} is {value!r:.60}, not one of {', '.join(SPEC_CHOICES[name])}.")
        if not all(isinstance(parameter, dict) for parameter in spec["parameters"]):
            raise UserError(f"{path} is damaged: 'parameters' should be a list of objects.")
        try:
            self.trials()
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as error:  # pandas' and json's parse errors are ValueErrors
            reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
            raise UserError(f"{self.path / TRIALS_FILE} is damaged ({reason}); restore it, or start a new sweep.")

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def journal(self) -> Path:
        return self.path / JOURNAL_FILE

    @property
    def trials_file(self) -> Path:
        return self.path / TRIALS_FILE

    @property
    def report(self) -> Path:
        return self.path / SWEEP_REPORT

    def log_path(self, trial_id: str) -> Path:
        return self.path / LOGS / f"{trial_id}.log"

    def spec(self) -> dict:
        return json.loads((self.path / SWEEP_FILE).read_text())

    def save_spec(self, spec: dict) -> None:
        atomic.write_json(self.path / SWEEP_FILE, spec)

    def trials(self) -> list:
        return read_trials(self.path / TRIALS_FILE)

    def save_trials(self, trials) -> None:
        write_trials(self.path / TRIALS_FILE, trials)


def sweep_runs(outputs, sweep_id: str):
    """(path, run.json's data) of every readable run folder under outputs that belongs to the sweep, by name."""
    for path in sorted(Path(outputs).iterdir()):
        if not RunFolder(path).is_run():
            continue
        try:
            data = json.loads(RunFolder(path).run_file.read_text())
        except (json.JSONDecodeError, OSError):
            continue
        if (data.get("sweep") or {}).get("id") == sweep_id:
            yield path, data
