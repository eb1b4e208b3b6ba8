"""Shared helpers: run an entrypoint as a user would (a subprocess), and find the real offline data."""
import contextlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
# Where a user keeps the churn CSV (churn.py's own default, data/), then the copy beside the project; $CHURN_CSV or
# pytest's --churn-csv PATH name another.
CHURN_PLACES = (PROJECT / "data" / "Churn_Modelling.csv", PROJECT.parent / "shared" / "data" / "Churn_Modelling.csv")
CHURN_CSV = next((path for path in CHURN_PLACES if path.is_file()), CHURN_PLACES[0])
if os.environ.get("CHURN_CSV"):
    CHURN_CSV = Path(os.environ["CHURN_CSV"])
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

sys.path.insert(0, str(PROJECT))


def run_script(script, *args, cwd=None, timeout=600, env=None):
    """Run `python <script>.py args...` from the project root; return the CompletedProcess (text output)."""
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, str(PROJECT / f"{script}.py"), *map(str, args)],
        cwd=cwd or PROJECT, capture_output=True, text=True, timeout=timeout, env=environment,
    )


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run_folder_of(result) -> Path:
    """The run folder a successful command printed as its last line."""
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    folder = Path(last_line(result.stdout))
    assert (folder / "run.json").is_file(), result.stdout
    return folder


def read_run(folder) -> dict:
    return json.loads((Path(folder) / "run.json").read_text())


def require_file(path: Path, how: str) -> Path:
    """`path`, or a skip naming the file and how to get it; on CI, which has every file, a failure instead."""
    if not Path(path).is_file():
        message = f"{path} is missing: {how}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return Path(path)


def churn_path() -> Path:
    return require_file(CHURN_CSV, "put Churn_Modelling.csv in data/ (or pass --churn-csv PATH or set $CHURN_CSV)")


@pytest.fixture(scope="session")
def churn_csv():
    return churn_path()


@pytest.fixture(scope="session")
def fashion_available():
    require_file(FASHION_DIR / "train-images-idx3-ubyte.gz", "apt-get install -y dataset-fashion-mnist")
    return FASHION_DIR


def make_run(outputs, name, model="conv_net", status="completed", accuracy=0.9, learning_rate=0.001, task="mnist",
             started="2026-11-10T10:00:00+00:00", packages="keras==3.15.0\nnumpy==2.0.0\n", tags=None, sweep=None):
    """A run folder as the engine writes it (run.json, history.csv, environment.txt), without training."""
    from utils.runs.folder import RunFolder

    folder = RunFolder(Path(outputs) / name)
    folder.path.mkdir(parents=True)
    record = {
        "run_id": name, "format": 2, "task": task, "model": model, "status": status, "command": f"python {task}.py",
        "hyperparameters": {"epochs": 2, "batch_size": 32, "learning_rate": learning_rate, "optimizer": "adam"},
        "data": {"name": "fashion_mnist", "source": "idx", "sha256": "ab" * 32, "sizes": {"train": 270}},
        "parameters": 93322, "environment": {"python": "3.11.7", "keras": "3.15.0", "git_commit": "abc123",
                                              "hostname": "elsewhere", "pid": 1},
        "started": started, "ended": started, "epochs_completed": 2, "seconds_per_epoch": [1.0, 2.0],
        "best": {"metric": "val_accuracy", "value": accuracy - 0.01, "epoch": 2},
        "test_metrics": {"test_accuracy": accuracy, "test_loss": 0.3}, "resumes": [], "tags": tags or {},
    }
    if sweep:
        record["sweep"] = {"id": sweep}
    folder.run_file.write_text(json.dumps(record))
    folder.history.write_text("epoch,accuracy,val_accuracy\n1,0.5,0.6\n2,0.7,0.8\n")
    folder.environment.write_text(packages)
    return folder.path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 at this moment."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pytest_addoption(parser):
    parser.addoption("--churn-csv", metavar="PATH", help="the churn CSV (default: data/, then ../shared/data/)")


@pytest.fixture(scope="session")
def mnist_run(tmp_path_factory, fashion_available):
    """One short conv_net run on 300 Fashion-MNIST images, shared by the tests that inspect its folder."""
    outputs = tmp_path_factory.mktemp("outputs")
    result = run_script(
        "mnist", "-m", "conv_net", "--dataset", "fashion_mnist", "--limit", 300, "--epochs", 2, "--outputs", outputs
    )
    return run_folder_of(result)


def pytest_configure(config):
    global CHURN_CSV
    if config.getoption("--churn-csv"):
        CHURN_CSV = Path(config.getoption("--churn-csv")).resolve()
    # Tests that start a training subprocess; `pytest -m "not slow"` runs the in-process tier only.
    config.addinivalue_line("markers", "slow: starts a training subprocess (seconds to minutes)")


# In-process runs of an entry point, as the hostile-input tests use them.
def cli(task, argv):
    """Run an entry point in-process as a user would; return its exit code."""
    from utils.cli.main import run_task

    with pytest.raises(SystemExit) as exited:
        run_task(task, [str(argument) for argument in argv])
    return exited.value.code


def run_here(capsys, task, *args):
    """run_script's answer (exit code, stdout, stderr) from an in-process run of an entry point: for the tests whose
    subject is a command's outcome, not its process (each run_script pays a TensorFlow import)."""
    capsys.readouterr()  # only this command's output
    code = cli(task, args)
    captured = capsys.readouterr()
    return subprocess.CompletedProcess([f"{task}.py", *map(str, args)], code, captured.out, captured.err)


def error_lines(stderr: str) -> list:
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("warning:")]


def assert_one_line(capsys, code, expected_code, *words):
    """Exit code as expected, exactly one error line on stderr naming `words`, no traceback."""
    captured = capsys.readouterr()
    lines = error_lines(captured.err)
    assert code == expected_code, captured.err
    assert "Traceback" not in captured.err
    assert len(lines) == 1, captured.err
    for word in words:
        assert word.lower() in lines[0].lower(), lines[0]
    assert len(lines[0]) < 700, lines[0]
    return lines[0]


def run_folders(outputs) -> list:
    outputs = Path(outputs)
    return sorted(path for path in outputs.iterdir() if path.is_dir()) if outputs.is_dir() else []


def record_of(folder) -> dict:
    return json.loads((Path(folder) / "run.json").read_text())


def train_xor(outputs, *extra, epochs=2):
    return cli("xor", ["--epochs", epochs, "--outputs", outputs, "--quiet", *extra])


@pytest.fixture(scope="session")
def xor_run(tmp_path_factory):
    """One completed 2-epoch XOR run; tests copy it before changing anything."""
    outputs = tmp_path_factory.mktemp("xor_outputs")
    assert train_xor(outputs) == 0
    (folder,) = run_folders(outputs)
    return folder


@pytest.fixture(scope="session")
def xor_default_run(tmp_path_factory):
    """One XOR run with the task's defaults (500 epochs, batch size 1: it learns the table), trained in-process
    once; returns (run folder, what the command printed). Tests that predict with it copy it first."""
    outputs = tmp_path_factory.mktemp("xor_default_outputs")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert cli("xor", ["--outputs", outputs]) == 0
    (folder,) = run_folders(outputs)
    return folder, printed.getvalue()


@pytest.fixture
def xor_copy(xor_run, tmp_path):
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    folder = outputs / xor_run.name
    shutil.copytree(xor_run, folder)
    return folder


def set_record(folder, **changes):
    data = record_of(folder)
    data.update(changes)
    (Path(folder) / "run.json").write_text(json.dumps(data))


def churn_frame(rows=60):
    import pandas as pd

    return pd.read_csv(churn_path(), nrows=rows)


def export_everywhere(task, folder, test_rows: int) -> dict:
    """`export` of a run to every format, in-process: each must pass its check at 1e-5 on min(100, test rows)
    inputs, be at its path, and be recorded in run.json; returns {format: its recorded check}."""
    checks = {}
    for export_format in ("keras", "saved_model", "onnx"):
        assert cli(task, ["export", folder, "--to", export_format, "--quiet"]) == 0, export_format
        check = record_of(folder)["exports"][-1]
        assert (check["format"], check["passed"], check["inputs_compared"]) == (export_format, True, min(100, test_rows))
        assert 0 <= check["max_abs_difference"] <= 1e-5 and Path(check["path"]).exists()
        checks[export_format] = check
    assert Path(checks["saved_model"]["path"]).is_dir() and Path(checks["onnx"]["path"]).is_file()
    assert sorted(path.name for path in (Path(folder) / "exports").iterdir() if path.name.startswith(".")) == []
    return checks
