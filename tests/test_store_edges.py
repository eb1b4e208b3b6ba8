"""Run-store writes stay inside the outputs folder: a run elsewhere is refused in one line, a linked run is moved
and purged as a link (nothing written into its target), and a purge removes each run whole."""
import pytest

from conftest import make_run


def run_store(capsys, *argv):
    from utils.cli.main import main
    from utils.core.errors import UserError

    try:
        code = main("mnist", [str(item) for item in argv])
    except UserError as error:
        print(f"mnist.py: error: {error}", file=__import__("sys").stderr)
        code = error.exit_code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("command", [["delete"], ["tag", "RUN", "a=b"], ["note", "RUN", "hello"]])
def test_a_run_outside_outputs_is_refused_in_one_line(tmp_path, capsys, command):
    outputs, elsewhere = tmp_path / "outputs", tmp_path / "elsewhere"
    outputs.mkdir()
    run = make_run(elsewhere, "stray")
    before = sorted(path.name for path in run.iterdir())
    argv = [item if item != "RUN" else run for item in command] + ([run] if command == ["delete"] else [])
    code, _, err = run_store(capsys, *argv, "--outputs", outputs)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "not inside the outputs folder" in err
    assert sorted(path.name for path in run.iterdir()) == before and list(outputs.iterdir()) == []


def test_a_linked_run_is_deleted_restored_and_purged_as_a_link(tmp_path, capsys):
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    target = make_run(tmp_path / "elsewhere", "real")
    before = sorted(path.name for path in target.iterdir())
    (outputs / "linked").symlink_to(target)
    code, _, err = run_store(capsys, "delete", "linked", "--outputs", outputs)
    assert code == 0, err
    assert (outputs / ".trash" / "linked").is_symlink()
    code, _, err = run_store(capsys, "restore", "linked", "--outputs", outputs)
    assert code == 0 and (outputs / "linked").is_symlink(), err
    code, _, err = run_store(capsys, "tag", "linked", "a=b", "--outputs", outputs)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "is a link" in err
    run_store(capsys, "delete", "linked", "--outputs", outputs)
    code, out, err = run_store(capsys, "purge", "--yes", "--outputs", outputs)
    assert code == 0 and err == "" and "Purged 1 run" in out
    assert list((outputs / ".trash").iterdir()) == []
    assert sorted(path.name for path in target.iterdir()) == before  # no .lock written, nothing removed there


def test_purge_removes_each_run_whole_and_finishes_a_stopped_purge(tmp_path, capsys):
    outputs = tmp_path / "outputs"
    make_run(outputs, "one")
    run_store(capsys, "delete", "one", "--outputs", outputs)
    stopped = make_run(outputs / ".trash", ".purging-two")  # what a purge killed half-way leaves
    code, out, err = run_store(capsys, "purge", "--yes", "--outputs", outputs)
    assert code == 0 and "Purged 2 run" in out, err
    assert not stopped.exists() and list((outputs / ".trash").iterdir()) == []
