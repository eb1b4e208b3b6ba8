"""--help, option errors, unknown models and tasks, --list and every run-store action answer without importing
TensorFlow, Keras or JAX (fast tier: one fresh interpreter that never imports them runs every command); `runs`,
--help and list not even numpy, pandas, yaml or matplotlib (slow tier: a second fresh interpreter)."""
import json
import subprocess
import sys

import pytest

from conftest import PROJECT, make_run

# Runs each command through the entry point's run_task (exit code and stderr as a user sees them) and reports,
# after each, which of the heavy frameworks are imported.
CHECKER = """
import contextlib, io, json, sys
sys.path.insert(0, sys.argv[1])
from utils.cli.main import run_task
results = []
for task, argv in json.loads(sys.argv[2]):
    error = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(error):
        try:
            run_task(task, argv)
        except SystemExit as exit:
            code = exit.code
    heavy = sorted(name for name in ("tensorflow", "keras", "jax") if name in sys.modules)
    results.append({"argv": argv, "code": code, "stderr": error.getvalue(), "heavy": heavy})
print(json.dumps(results))
"""


def test_fast_commands_never_import_tensorflow_keras_or_jax(tmp_path):
    first = make_run(tmp_path, "20261110-100000_conv_net")
    make_run(tmp_path, "20261111-100000_le_net", model="le_net", learning_rate=0.01)
    make_run(tmp_path, "20261112-100000_mlp_small", model="mlp_small")
    outputs = ["--outputs", str(tmp_path)]
    commands = [
        ("mnist", ["--help"]), ("churn", ["--help"]),
        ("mnist", ["--epochs", "0"]), ("mnist", ["--batch-size", "many"]), ("mnist", ["--no-such-option"]),
        ("mnist", ["-m", "conv_nett"]), ("no_such_task", []),
        ("mnist", ["list"]), ("iris", ["list"]),
        ("mnist", ["runs", *outputs]),
        ("mnist", ["runs", "--where", "model=conv_net", "test_accuracy>0.5", "tag:x", "--sort=-started",
                   "--columns", "run,learning_rate", "--format", "csv", "--show", "1", *outputs]),
        ("mnist", ["runs", "--where", "bad", *outputs]),
        ("mnist", ["diff", "20261110-100000_conv_net", "20261111-100000_le_net", *outputs]),
        ("mnist", ["diff", "20261110-100000_conv_net", "missing", *outputs]),
        ("mnist", ["tag", first.name, "baseline", "owner=ana", *outputs]),
        ("mnist", ["untag", first.name, "owner", *outputs]),
        ("mnist", ["note", first.name, "looks good", *outputs]),
        ("mnist", ["delete", "20261112-100000_mlp_small", *outputs]),
        ("mnist", ["restore", "20261112-100000_mlp_small", *outputs]),
        ("mnist", ["purge", *outputs]),
        ("mnist", ["purge", "--yes", *outputs]),
        ("mnist", ["serve", "--outputs", str(tmp_path / "missing")]),
        ("mnist", ["serve", "--host", "nosuch.invalid", *outputs]),  # after importing the whole server
    ]
    result = subprocess.run([sys.executable, "-c", CHECKER, PROJECT, json.dumps(commands)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    outcomes = json.loads(result.stdout)
    for outcome in outcomes:
        assert outcome["heavy"] == [], outcome
        if outcome["code"]:  # every refusal is one line
            assert len(outcome["stderr"].strip().splitlines()) == 1, outcome
    codes = [outcome["code"] for outcome in outcomes]
    assert codes == [0, 0, 2, 2, 2, 2, 2, 0, 0, 0, 0, 2, 0, 2, 0, 0, 0, 0, 0, 2, 0, 2, 2]


# What a fresh interpreter holds after `runs`, `--help` and `list`: none of the numerical or plotting libraries, so
# that a cached listing costs the interpreter, argparse and the index, not a numpy import.
LIGHT_CHECKER = """
import contextlib, io, json, sys
sys.path.insert(0, sys.argv[1])
from utils.cli.main import main
loaded = []
for argv in json.loads(sys.argv[2]):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            code = main("mnist", argv)
        except SystemExit as exit:
            code = exit.code
    heavy = ("numpy", "pandas", "yaml", "matplotlib", "sklearn", "tensorflow", "keras", "jax", "importlib.metadata")
    loaded.append({"code": code, "out": out.getvalue(), "heavy": [name for name in heavy if name in sys.modules]})
print(json.dumps(loaded))
"""


@pytest.mark.slow  # a fresh interpreter (about a second: it never imports numpy)
def test_listing_runs_imports_no_numerical_library(tmp_path):
    make_run(tmp_path, "20261110-100000_conv_net")
    commands = [["runs", "--outputs", str(tmp_path)], ["runs", "--all-tasks", "--outputs", str(tmp_path)],
                ["--help"], ["list"]]
    result = subprocess.run([sys.executable, "-c", LIGHT_CHECKER, PROJECT, json.dumps(commands)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    outcomes = json.loads(result.stdout)
    assert [outcome["code"] for outcome in outcomes] == [0, 0, 0, 0]
    assert [outcome["heavy"] for outcome in outcomes] == [[], [], [], []], outcomes
    assert all("20261110-100000_conv_net" in outcome["out"] for outcome in outcomes[:2])
    assert "conv_net" in outcomes[3]["out"]
