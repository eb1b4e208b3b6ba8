"""Messages say what is wrong: a non-finite value is told it must be finite, values echo as the user wrote them
(never np.float64(...)), a tag name --where cannot query is refused, a restore says which trashed copy it brought
back, and a busy coordinator port is named as busy."""
import numpy as np
import pytest

from conftest import assert_one_line, cli, make_run


@pytest.mark.parametrize("argv, message", [
    (["train", "--learning-rate", "inf"], "--learning-rate must be finite. Received: inf."),
    (["train", "--learning-rate", "nan"], "--learning-rate must be finite. Received: nan."),
    (["train", "--weight-decay", "inf"], "--weight-decay must be finite. Received: inf."),
    (["train", "--learning-rate", "-1"], "--learning-rate must be greater than 0. Received: -1.0."),
    (["sweep", "--grid", "learning_rate=0.1,inf"], "--learning-rate must be finite"),
])
def test_non_finite_values_are_told_they_must_be_finite(tmp_path, capsys, argv, message):
    from utils.cli.main import main
    from utils.core.errors import UserError

    try:
        code = main("mnist", [*argv, "--outputs", str(tmp_path)])
    except UserError as error:
        print(f"mnist.py: error: {error}", file=__import__("sys").stderr)
        code = error.exit_code
    except SystemExit as exit:  # argparse's own one line
        code = exit.code
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert message in err and "np.float64" not in err
    assert list(tmp_path.iterdir()) == []


def test_numpy_values_echo_as_plain_numbers():
    from utils.core.options import BY_NAME, echo

    assert echo(np.float64(np.inf)) == "inf" and echo(np.int64(3)) == "3"
    assert BY_NAME["learning_rate"].problem(np.float64(np.inf)) == "--learning-rate must be finite. Received: inf."


def store_command(capsys, *argv):
    code = cli("mnist", [str(item) for item in argv])
    return code, capsys.readouterr()


@pytest.mark.parametrize("name", ["a<b", "x>1", "not!", "about~"])
def test_a_tag_name_no_where_can_query_is_refused(tmp_path, capsys, name):
    run = make_run(tmp_path / "outputs", "one")
    before = (run / "run.json").read_bytes()
    code = cli("mnist", ["tag", run, f"{name}=1", "--outputs", tmp_path / "outputs"])
    assert_one_line(capsys, code, 2, f"tag name {name!r}", "--where tag:NAME cannot query")
    assert (run / "run.json").read_bytes() == before and sorted(path.name for path in tmp_path.iterdir()) == ["outputs"]


def test_a_queryable_tag_name_is_found_by_where(tmp_path, capsys):
    outputs = tmp_path / "outputs"
    make_run(outputs, "one"), make_run(outputs, "two")
    assert store_command(capsys, "tag", "one", "owner:ana.b-1=x", "--outputs", outputs)[0] == 0
    code, captured = store_command(capsys, "runs", "--where", "tag:owner:ana.b-1=x", "--format", "csv", "--outputs", outputs)
    assert code == 0 and [line.split(",")[0] for line in captured.out.splitlines()[1:] if line] == ["one"]


def test_restore_of_a_name_trashed_several_times_says_which_copy_it_restored(tmp_path, capsys):
    import os

    outputs = tmp_path / "outputs"
    for _ in range(2):  # the same run name deleted twice
        make_run(outputs, "twice")
        assert store_command(capsys, "delete", "twice", "--outputs", outputs)[0] == 0
    os.utime(outputs / ".trash" / "twice", (1_700_000_000, 1_700_000_000))
    code, captured = store_command(capsys, "restore", "twice", "--outputs", outputs)
    assert code == 0 and captured.err == ""
    assert "the copy deleted 2023-11-14" in captured.out and "1 more trashed under that name: twice-2" in captured.out
    assert (outputs / "twice").is_dir() and (outputs / ".trash" / "twice-2").is_dir()
    code, captured = store_command(capsys, "restore", "twice-2", "--outputs", outputs)
    assert code == 0 and "more trashed" not in captured.out and (outputs / "twice-2").is_dir()


def test_a_busy_coordinator_port_says_so_and_what_to_do(monkeypatch):
    import socket

    import jax

    from utils.core.errors import UserError
    from utils.training import multiworker

    def never(**settings):
        raise AssertionError("the job was joined on a busy port")

    monkeypatch.setattr(jax.distributed, "initialize", never)
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        with pytest.raises(UserError) as raised:
            multiworker.join(multiworker.World(f"127.0.0.1:{port}", 2, 0))
    message = str(raised.value)
    assert f"coordinator port {port} is busy" in message and "pass another --coordinator port" in message
    assert "\n" not in message and "RPC" not in message
    multiworker.check_coordinator_port(f"127.0.0.1:{port}")  # free again: no complaint
