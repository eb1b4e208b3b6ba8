"""`runs` refuses what it cannot answer honestly: an --outputs that is a file, a date filter that is no date."""
import pytest

from conftest import make_run


def runs(capsys, *argv):
    from utils.cli.main import main
    from utils.core.errors import UserError

    try:
        code = main("mnist", ["runs", *map(str, argv)])
    except UserError as error:
        print(f"mnist.py: error: {error}", file=__import__("sys").stderr)
        code = error.exit_code
    return code, capsys.readouterr()


def test_runs_refuses_an_outputs_that_is_a_file(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("not a folder\n")
    code, captured = runs(capsys, "--outputs", path)
    assert code == 2 and len(captured.err.strip().splitlines()) == 1 and "is a file" in captured.err
    assert path.read_text() == "not a folder\n"


@pytest.mark.parametrize("where", ["started>banana", "started<2026-02-30", "ended>=2026-13-01", "started=11/01/2026"])
def test_a_date_filter_that_is_no_date_is_refused(tmp_path, capsys, where):
    make_run(tmp_path, "one")
    code, captured = runs(capsys, "--outputs", tmp_path, "--where", where)
    assert code == 2 and len(captured.err.strip().splitlines()) == 1 and "is not a date" in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


@pytest.mark.parametrize("where", ["started>2026-11-01", "started>2026-11", "started<2027", "started>=2026-11-10T09:00",
                                   "started~2026"])
def test_real_dates_still_filter(tmp_path, capsys, where):
    make_run(tmp_path, "one")
    code, captured = runs(capsys, "--outputs", tmp_path, "--where", where, "--format", "csv")
    assert code == 0, captured.err
    assert "one" in captured.out
