"""The layer arrows (cli -> serve -> sweeps -> training -> reports -> runs -> tasks -> core) hold, and the check bites."""
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import PROJECT

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root):
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


def test_the_project_keeps_its_layer_arrows():
    result = lint_imports(PROJECT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "2 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    for name in ("utils", "models"):
        shutil.copytree(PROJECT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT / ".importlinter", tmp_path)
    (tmp_path / "utils" / "runs" / "upward.py").write_text("from utils.training import backend  # noqa: F401\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1
    assert "BROKEN" in result.stdout and "utils.runs.upward -> utils.training.backend" in result.stdout
