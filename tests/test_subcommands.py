"""The command line as subcommands: one short top-level help, a help per command with only its options, training
as the default, "did you mean" for typos, the old flag spellings as aliases, and run-store commands scoped to the
entry point's task (fast tier: nothing here imports TensorFlow)."""
import json

import pytest

from conftest import make_run, run_script
from utils.cli.commands import COMMANDS
from utils.cli.legacy import rewrite
from utils.cli.main import main
from utils.cli.parser import build_parser, command_argv, load_commands
from utils.core.errors import UsageError
from utils.core.options import OPTIONS


def test_the_top_level_help_fits_one_screen_and_lists_every_command():
    result = run_script("mnist", "--help")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert len(lines) <= 40
    listed = {line.split()[0] for line in lines if line.startswith("    ") and line.split()}
    assert set(load_commands()) <= listed
    assert "python" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["train", "sweep", "runs", "diff", "resume", "evaluate", "purge"])
def test_a_command_takes_and_shows_only_its_own_options(command, capsys):
    from models import models_for_task
    from utils.tasks import get_task

    task = get_task("mnist")
    parser = build_parser(task, [spec.name for spec in models_for_task("mnist")]).commands[command]
    taken = {flag for action in parser._actions for flag in action.option_strings} - {"-h", "--help", "--no-jit"}
    declared = {flag for option in (*OPTIONS, *task.data_options) if command in option.commands and not option.positional
                for flag in option.flags}
    assert taken == declared
    with pytest.raises(SystemExit) as exited:
        main("mnist", [command, "--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert all(flag in shown for flag in declared)
    assert len(shown.splitlines()) < 60 or command in ("train", "sweep")


def test_training_is_the_default_command_and_may_be_spelled_out():
    assert command_argv(["-m", "conv_net", "--epochs", "2"], "mnist.py") == ["train", "-m", "conv_net", "--epochs", "2"]
    assert command_argv([], "mnist.py") == ["train"]
    assert command_argv(["train", "-m", "conv_net"], "mnist.py") == ["train", "-m", "conv_net"]


@pytest.mark.parametrize("typed, words", [
    (["rnus"], ["unknown command 'rnus'", "did you mean 'runs'"]),
    (["conv_net"], ["is a model", "-m conv_net"]),
    (["sweep", "--gird", "x=1"], ["unknown option --gird", "did you mean --grid"]),
    (["runs", "--epochs", "3"], ["runs does not take --epochs"]),
    (["resume", "RUN", "--batch-size", "8"], ["--batch-size", "only --epochs may change"]),
])
def test_a_typo_or_a_misplaced_option_is_one_line(typed, words):
    result = run_script("mnist", *typed)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize("old, new", [
    (["--runs", "--where", "model=x"], ["runs", "--where", "model=x"]),
    (["--diff", "A", "B", "--all"], ["diff", "A", "B", "--all"]),
    (["--tag", "RUN", "a=1", "b", "--outputs", "o"], ["tag", "RUN", "a=1", "b", "--outputs", "o"]),
    (["--note", "RUN", "some text"], ["note", "RUN", "some text"]),
    (["--resume", "RUN", "--epochs", "4"], ["resume", "RUN", "--epochs", "4"]),
    (["--predict", "RUN", "a.png", "b.png", "--quiet"], ["predict", "RUN", "a.png", "b.png", "--quiet"]),
    (["-m", "x", "--grid", "lr=1,2"], ["sweep", "-m", "x", "--grid", "lr=1,2"]),
    (["--resume-sweep", "F", "--trials", "3"], ["sweep", "--resume", "F", "--trials", "3"]),
    (["--compare", "--last", "2"], ["compare", "--last", "2"]),
    (["--last", "2"], ["compare", "--last", "2"]),
    (["-m", "conv_net"], ["-m", "conv_net"]),
])
def test_the_old_flag_spellings_become_their_commands(old, new):
    assert rewrite(old) == new


@pytest.fixture
def two_tasks(tmp_path):
    make_run(tmp_path, "20261110-100000_conv_net", started="2026-11-10T10:00:00+00:00")
    make_run(tmp_path, "20261112-100000_churn_mlp", model="churn_mlp", task="churn", accuracy=0.86,
             started="2026-11-12T10:00:00+00:00")
    return tmp_path


def listed(capsys, outputs, task, *extra):
    assert main(task, ["runs", "--format", "json", "--outputs", str(outputs), *extra]) == 0
    return [row["run"] for row in json.loads(capsys.readouterr().out)]


def test_runs_keeps_to_the_entry_points_task_unless_all_tasks(two_tasks, capsys):
    assert listed(capsys, two_tasks, "churn") == ["20261112-100000_churn_mlp"]
    assert listed(capsys, two_tasks, "mnist") == ["20261110-100000_conv_net"]
    assert listed(capsys, two_tasks, "mnist", "--all-tasks") == ["20261112-100000_churn_mlp", "20261110-100000_conv_net"]


def test_compare_last_picks_the_newest_runs_of_the_task(two_tasks, monkeypatch):
    from utils.reports import compare as comparison

    picked = []
    monkeypatch.setattr(comparison, "compare", lambda folders, outputs, verbosity, **_: picked.append(folders) or "done")
    assert main("mnist", ["compare", "--last", "2", "--outputs", str(two_tasks)]) == 0
    assert [folder.name for folder in picked[0]] == ["20261110-100000_conv_net"]
    with pytest.raises(UsageError, match="No run .* matches --where model=churn_mlp .*--all-tasks"):
        main("mnist", ["compare", "--where", "model=churn_mlp", "--outputs", str(two_tasks)])


def test_every_command_is_registered_once_with_a_one_line_summary():
    load_commands()
    assert {"train", "sweep", "list", "runs", "compare", "diff", "tag", "untag", "note", "delete", "restore", "purge",
            "evaluate", "predict", "export", "resume"} <= set(COMMANDS)
    for command in COMMANDS.values():
        assert command.summary and "\n" not in command.summary and len(command.summary) <= 80
