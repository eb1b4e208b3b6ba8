"""Shared helpers: run an entrypoint as a user would (a subprocess), and find the real offline data."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
CHURN_CSV = PROJECT.parent / "shared" / "data" / "Churn_Modelling.csv"
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


@pytest.fixture(scope="session")
def churn_csv():
    if not CHURN_CSV.is_file():
        pytest.fail(f"{CHURN_CSV} is missing: the churn tests read the shared copy beside the project")
    return CHURN_CSV


@pytest.fixture(scope="session")
def fashion_available():
    if not (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file():
        pytest.fail("Fashion-MNIST is missing: apt-get install -y dataset-fashion-mnist (.ci/run does this)")
    return FASHION_DIR


@pytest.fixture(scope="session")
def mnist_run(tmp_path_factory, fashion_available):
    """One short conv_net run on 300 Fashion-MNIST images, shared by the tests that inspect its folder."""
    outputs = tmp_path_factory.mktemp("outputs")
    result = run_script(
        "mnist", "-m", "conv_net", "--dataset", "fashion_mnist", "--limit", 300, "--epochs", 2, "--outputs", outputs
    )
    return run_folder_of(result)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: starts training subprocesses (sweeps); deselect with -m 'not slow'")
