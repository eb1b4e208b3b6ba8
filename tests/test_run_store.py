"""The run store without TensorFlow: listing from the index, --where/--sort/--show/--columns/--format,
--diff, tags and notes under the run lock, delete/restore/purge, and every bad input as one line (fast tier)."""
import json
import os
import subprocess
import sys

import pytest

from conftest import make_run  # noqa: F401  (the tests below build stores with it)
from utils.cli.main import main
from utils.core.errors import UsageError, UserError
from utils.runs.folder import store_index, trash
from utils.runs.index import load_rows
from utils.runs.query import known_columns, order, parse_filter, query_rows, render

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def store(tmp_path):
    make_run(tmp_path, "20261110-100000_conv_net", accuracy=0.91, started="2026-11-10T10:00:00+00:00", tags={"baseline": "true"})
    make_run(tmp_path, "20261111-100000_le_net", model="le_net", accuracy=0.95, learning_rate=0.01, sweep="s1",
             started="2026-11-11T10:00:00+00:00", packages="keras==3.16.0\nnumpy==2.0.0\npydot==3.0\n")
    make_run(tmp_path, "20261101-100000_mlp_small", model="mlp_small", status="failed", accuracy=0.5,
             started="2026-11-01T10:00:00+00:00")
    return tmp_path


def cli(outputs, *argv, task="mnist"):
    """Run an action in-process as the entry point would; returns the exit code."""
    return main(task, [*map(str, argv), "--outputs", str(outputs)])


def test_runs_lists_filters_sorts_and_limits(store, capsys):
    assert cli(store, "runs") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["run", "status", "task", "dataset", "model"]
    assert [line.split()[0] for line in lines[1:]] == [  # newest first by default
        "20261111-100000_le_net", "20261110-100000_conv_net", "20261101-100000_mlp_small"]
    cli(store, "runs", "--where", "test_accuracy>0.9", "status=completed", "--sort", "test_accuracy", "--columns", "run,learning_rate")
    assert capsys.readouterr().out.split()[3::2] == ["0.0010", "0.0100"]
    cli(store, "runs", "--where", "tag:baseline", "--format", "json")
    assert [row["run"] for row in json.loads(capsys.readouterr().out)] == ["20261110-100000_conv_net"]
    cli(store, "runs", "--where", "started>2026-11-05", "model~net", "--format", "csv", "--columns", "model,test_accuracy")
    assert capsys.readouterr().out.splitlines() == ["model,test_accuracy", "le_net,0.9500", "conv_net,0.9100"]
    cli(store, "runs", "--where", "sweep=s1", "--columns", "run,sweep")
    assert capsys.readouterr().out.splitlines()[1:] == ["20261111-100000_le_net  s1"]
    cli(store, "runs", "--show", "1")
    out = capsys.readouterr().out
    assert "20261111-100000_le_net" in out and "(2 more runs hidden" in out and "conv_net " not in out


def test_index_cache_is_rebuilt_when_a_run_changes_or_the_cache_is_damaged(store):
    assert len(load_rows(store)) == 3 and store_index(store).is_file()
    run = store / "20261101-100000_mlp_small"
    record = json.loads((run / "run.json").read_text())
    record["status"] = "completed"
    (run / "run.json").write_text(json.dumps(record) + " ")  # another size: the cached row is stale
    assert {row["run"]: row["status"] for row in load_rows(store)}[run.name] == "completed"
    store_index(store).write_text("{ half a file")
    assert len(load_rows(store)) == 3


def test_an_unreadable_folder_is_one_unreadable_row(store, capsys):
    (store / "20261112-100000_broken").mkdir()
    (store / "20261112-100000_broken" / "run.json").write_text("{ not json")
    (store / "not_a_run").mkdir()
    rows = {row["run"]: row["status"] for row in load_rows(store)}
    assert rows["20261112-100000_broken"] == "unreadable" and "not_a_run" not in rows and len(rows) == 4
    assert cli(store, "runs") == 0 and "unreadable" in capsys.readouterr().out


@pytest.mark.parametrize("text, problem", [
    ("test_accuracy", "is not COLUMN OPERATOR VALUE"), ("nonsense>1", "unknown column 'nonsense'"),
    ("test_accuracy=>0.9", "unknown operator '=>'"), ("test_accuracy>", "is not COLUMN OPERATOR VALUE"),
])
def test_a_bad_where_is_one_usage_error(store, text, problem):
    with pytest.raises(UsageError, match=problem):
        parse_filter(text, known_columns(load_rows(store)))


def test_bad_sort_columns_and_number_comparisons_are_usage_errors(store):
    rows = load_rows(store)
    with pytest.raises(UsageError, match="unknown column"):
        order(rows, "-nope", known_columns(rows))
    with pytest.raises(UsageError, match="not one"):
        query_rows(store, ["test_accuracy>high"])
    with pytest.raises(UsageError, match="unknown column"):
        cli(store, "runs", "--columns", "run,nope")
    assert render([], ["run"], "json") == "[]"


def test_diff_shows_only_what_differs_and_all_shows_everything(store, capsys):
    cli(store, "diff", "20261110-100000_conv_net", str(store / "20261111-100000_le_net"))
    out = capsys.readouterr().out
    assert "learning_rate" in out and "batch_size" not in out and "keras" in out and "pydot" in out
    sections = [line for line in out.splitlines() if line.startswith("[")]
    assert sections == ["[hyperparameters]", "[packages]", "[results]", "[tags]"]
    assert ["test_accuracy", "0.91", "0.95"] in [line.split() for line in out.splitlines()]
    cli(store, "diff", "20261110-100000_conv_net", "20261111-100000_le_net", "--format", "json")
    diff = json.loads(capsys.readouterr().out)
    assert diff["hyperparameters"] == {"learning_rate": [0.001, 0.01]}
    assert diff["packages"] == {"keras": ["3.15.0", "3.16.0"], "pydot": [None, "3.0"]}
    assert diff["results"]["test_accuracy"] == [0.91, 0.95] and "data" in diff and diff["data"] == {}
    cli(store, "diff", "20261110-100000_conv_net", "20261111-100000_le_net", "--all", "--format", "json")
    assert json.loads(capsys.readouterr().out)["hyperparameters"]["batch_size"] == [32, 32]


def test_diff_of_one_run_or_a_non_run_is_refused(store):
    with pytest.raises(UsageError, match="two different runs"):
        cli(store, "diff", "20261110-100000_conv_net", "20261110-100000_conv_net")
    with pytest.raises(UsageError, match="is not a run"):
        cli(store, "diff", "20261110-100000_conv_net", store / "nowhere")
    with pytest.raises(SystemExit) as raised:  # argparse: --diff takes exactly two runs
        cli(store, "diff", "20261110-100000_conv_net")
    assert raised.value.code == 2


def test_tags_and_notes_are_recorded_and_listed(store, capsys):
    run = "20261111-100000_le_net"
    assert cli(store, "tag", run, "owner=ana", "keep") == 0
    assert cli(store, "note", run, "best so far") == 0
    record = json.loads((store / run / "run.json").read_text())
    assert record["tags"] == {"owner": "ana", "keep": "true"} and record["notes"][0]["text"] == "best so far"
    assert cli(store, "untag", run, "keep") == 0
    capsys.readouterr()
    cli(store, "runs", "--where", "tag:owner=ana", "--columns", "run,tags,notes")
    assert capsys.readouterr().out.splitlines()[1].split() == [run, "owner=ana", "best", "so", "far"]
    with pytest.raises(UserError, match="has no tag"):
        cli(store, "untag", run, "keep")
    with pytest.raises(UsageError, match="is not a run"):
        cli(store, "tag", "20990101-000000_missing", "a=b")
    with pytest.raises(UsageError, match="KEY=VALUE"):
        cli(store, "tag", run)


def test_a_run_whose_lock_is_held_cannot_be_tagged_or_deleted(store):
    run = store / "20261111-100000_le_net"
    child = subprocess.Popen([sys.executable, "-c", "import sys,time; sys.path.insert(0, sys.argv[1]);"
                              "from utils.runs.lock import RunLock; lock = RunLock(sys.argv[2]).acquire(); print('held', flush=True);"
                              "time.sleep(60)", PROJECT, str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        with pytest.raises(UserError, match="still training"):
            cli(store, "delete", run.name)
        with pytest.raises(UserError, match="locked by process"):
            cli(store, "tag", run.name, "a=b")
        assert run.is_dir()
    finally:
        child.kill()
        child.wait()


def test_delete_restore_and_purge(store, capsys):
    run = "20261110-100000_conv_net"
    assert cli(store, "delete", run, "20261101-100000_mlp_small") == 0
    assert not (store / run).exists() and (trash(store) / run / "run.json").is_file()
    cli(store, "runs", "--format", "json")
    out = capsys.readouterr().out
    assert [row["run"] for row in json.loads(out[out.index("["):])] == ["20261111-100000_le_net"]
    assert cli(store, "restore", run) == 0 and (store / run / "run.json").is_file()
    with pytest.raises(UsageError, match="add --yes"):
        cli(store, "purge")
    assert cli(store, "purge", "--older-than", "30d", "--yes") == 0  # trashed just now: kept
    assert (trash(store) / "20261101-100000_mlp_small").is_dir()
    assert cli(store, "purge", "--yes") == 0 and not any(trash(store).iterdir())
    with pytest.raises(UsageError, match="--older-than"):
        cli(store, "purge", "--older-than", "soon", "--yes")
    with pytest.raises(UsageError, match="No run"):
        cli(store, "restore", run + "x")


def test_compare_accepts_where(store, monkeypatch):
    import utils.reports.compare as compare_module

    chosen = []
    monkeypatch.setattr(compare_module, "compare", lambda folders, outputs, verbosity, **_: chosen.extend(folders) or "done")
    assert cli(store, "compare", "--where", "model~net") == 0
    assert sorted(path.name for path in chosen) == ["20261110-100000_conv_net", "20261111-100000_le_net"]
    with pytest.raises(UsageError, match="No run"):
        cli(store, "compare", "--where", "model=absent")


def test_concurrent_listings_leave_a_whole_index(store):
    import sqlite3
    from concurrent.futures import ThreadPoolExecutor

    for index in range(30):
        make_run(store, f"20261120-1000{index:02d}_conv_net")
    with ThreadPoolExecutor(max_workers=4) as pool:
        counts = list(pool.map(lambda _: len(load_rows(store)), range(8)))
    assert counts == [33] * 8
    with sqlite3.connect(store_index(store)) as connection:
        assert connection.execute("SELECT count(*) FROM runs").fetchone()[0] == 33


def test_an_older_run_with_no_learning_rate_shows_default(tmp_path, capsys):
    make_run(tmp_path, "20261110-100000_conv_net", learning_rate=None)
    assert cli(tmp_path, "runs", "--columns", "run,learning_rate") == 0
    output = capsys.readouterr().out
    assert "default" in output and "None" not in output
