"""The sqlite index behind `runs` (utils.runs.index, index_db): the folders stay the truth (a changed run.json is
seen, a vanished folder dropped, a damaged or foreign index rebuilt with one warning), two writers at once leave a
whole index, and the SQL listing by start time equals the rows every other query sorts in Python (fast tier, except
the test that starts processes)."""
import json
import multiprocessing
import os
import shutil
import sqlite3

import pytest

from conftest import make_run
from utils.runs import index_db
from utils.runs.folder import store_index
from utils.runs.index import load_rows, page_by_started, scan, summary_row, unreadable_row
from utils.runs.query import order
from utils.runs.record import RunRecord


@pytest.fixture
def store(tmp_path):
    for number in range(6):
        make_run(tmp_path, f"2026111{number}-100000_conv_net", started=f"2026-11-1{number}T10:00:00+00:00",
                 task="mnist" if number % 3 else "churn", accuracy=0.5 + number / 20)
    return tmp_path


def scanned(outputs) -> dict:
    """Every run's row read straight from its folder, no index."""
    rows = {}
    for name in os.listdir(outputs):
        if os.path.isfile(os.path.join(outputs, name, "run.json")):
            try:
                rows[name] = summary_row(RunRecord.load(os.path.join(outputs, name)))
            except Exception as error:  # noqa: BLE001 (the index's own rule: any damage is an unreadable row)
                rows[name] = unreadable_row(name, str(error))
    return rows


def by_name(rows) -> dict:
    return {row["run"]: row for row in rows}


def indexed_names(outputs) -> set:
    with sqlite3.connect(store_index(outputs)) as connection:
        return {name for (name,) in connection.execute("SELECT name FROM runs")}


def test_listing_equals_a_scan_and_follows_changes_and_deletions(store):
    assert by_name(load_rows(store)) == scanned(store) and indexed_names(store) == set(scanned(store))
    changed = store / "20261112-100000_conv_net" / "run.json"
    record = json.loads(changed.read_text())
    record["tags"] = {"owner": "ana"}
    changed.write_text(json.dumps(record))
    shutil.rmtree(store / "20261113-100000_conv_net")
    make_run(store, "20261120-100000_le_net", model="le_net", started="2026-11-20T10:00:00+00:00")
    rows = by_name(load_rows(store))
    assert rows == scanned(store) and rows["20261112-100000_conv_net"]["tags"] == {"owner": "ana"}
    assert "20261113-100000_conv_net" not in rows and "20261120-100000_le_net" in rows
    assert indexed_names(store) == set(rows)


def test_a_rewrite_of_the_same_size_is_seen_by_its_modification_time(store):
    load_rows(store)
    path = store / "20261111-100000_conv_net" / "run.json"
    text = path.read_text()
    stat = path.stat()
    path.write_text(text.replace('"completed"', '"failed_xx"'))  # as many bytes as before
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert by_name(load_rows(store))["20261111-100000_conv_net"]["status"] == "failed_xx"



def test_an_unchanged_store_lists_without_reading_a_key_and_an_edit_in_place_is_still_seen(store, monkeypatch):
    load_rows(store)
    real_keys = index_db.keys
    reads = []
    monkeypatch.setattr(index_db, "keys", lambda connection: reads.append(1) or real_keys(connection))
    assert [row["run"] for row in page_by_started(store, None, 2).rows] == ["20261115-100000_conv_net",
                                                                            "20261114-100000_conv_net"]
    assert by_name(load_rows(store)) == scanned(store) and reads == []
    with open(store / "20261114-100000_conv_net" / "run.json", "a") as handle:  # in place: no folder's mtime moves
        handle.write("\n")
    os.utime(store / "20261114-100000_conv_net" / "run.json", ns=(1, 10**18))
    rows = by_name(load_rows(store))
    assert rows == scanned(store) and reads  # the fingerprint differed: every key was compared
    reads.clear()
    shutil.rmtree(store / "20261115-100000_conv_net")  # by hand
    assert [row["run"] for row in page_by_started(store, None, 1).rows] == ["20261114-100000_conv_net"] and reads


def test_the_fingerprint_is_kept_only_when_the_rows_are_those_of_the_scan(store):
    load_rows(store)
    keys, _ = scan(store)
    stale = dict(keys, **{"20261111-100000_conv_net": (1, 1)})  # as a writer with an older scan would leave them
    with sqlite3.connect(store_index(store), isolation_level=None) as connection:
        assert index_db.matches(connection, keys)
        connection.execute("UPDATE runs SET mtime_ns = 1, size = 1 WHERE name = '20261111-100000_conv_net'")
        index_db.update(connection, store, {}, (), keys)  # a later writer, with nothing fresh by its own look
        assert not index_db.matches(connection, keys) and not index_db.matches(connection, stale)
    assert by_name(load_rows(store)) == scanned(store)  # the next listing compares every key and repairs the row
    with sqlite3.connect(store_index(store)) as connection:
        assert index_db.matches(connection, keys) and index_db.keys(connection) == keys


def test_the_columns_of_a_vanished_run_go_with_it(store):
    extra = make_run(store, "20261120-100000_le_net", model="le_net", started="2026-11-20T10:00:00+00:00")
    record = json.loads((extra / "run.json").read_text())
    record["test_metrics"]["test_auc"] = 0.9
    (extra / "run.json").write_text(json.dumps(record))
    assert "test_auc" in page_by_started(store, None, 1).columns
    shutil.rmtree(extra)
    assert "test_auc" not in page_by_started(store, None, 1).columns

@pytest.mark.parametrize("damage", ["garbage", "foreign"])
def test_a_damaged_or_foreign_index_is_rebuilt_with_one_warning(store, capsys, damage):
    load_rows(store)
    path = store_index(store)
    path.unlink()
    if damage == "garbage":
        path.write_bytes(b"SQLite format 3\x00" + os.urandom(3000))
    else:
        with sqlite3.connect(path) as connection:
            connection.execute("CREATE TABLE runs (name TEXT)")  # someone else's table of that name
    assert by_name(load_rows(store)) == scanned(store)
    warnings = capsys.readouterr().err.strip().splitlines()
    assert len(warnings) == 1 and warnings[0].startswith("warning:") and "rebuilding" in warnings[0]
    assert by_name(load_rows(store)) == scanned(store) and not capsys.readouterr().err
    assert indexed_names(store) == set(scanned(store))


def test_the_sql_listing_by_start_time_equals_the_python_order(store):
    broken = store / "20261130-100000_broken"
    broken.mkdir()
    (broken / "run.json").write_text("{ not json")  # no task, no start time: in every scope, listed last
    rows = load_rows(store)
    for task in (None, "mnist", "churn"):
        scoped = [row for row in rows if task is None or row.get("task") in (task, None)]
        for sort in ("-started", "started"):
            expected = [row["run"] for row in order(scoped, sort, ["started"])]
            for limit in (None, 2, 7):
                page = page_by_started(store, task, limit, descending=sort.startswith("-"))
                assert [row["run"] for row in page.rows] == expected[:limit]
                assert page.matching == len(scoped) and page.total == len(rows)
    assert {"test_accuracy", "learning_rate", "reason"} <= set(page.columns)


def test_a_start_time_that_is_not_text_leaves_the_order_to_python(store):
    make_run(store, "20261140-100000_le_net", started=20261140)
    assert page_by_started(store, None, 3) is None


def test_the_old_json_cache_is_removed(store):
    (store / ".runs-index.json").write_text("{}")
    load_rows(store)
    assert not (store / ".runs-index.json").exists()


def _list_repeatedly(outputs, barrier, results, times):
    barrier.wait()
    results.put([len(load_rows(outputs)) for _ in range(times)])


def _rewrite_repeatedly(outputs, barrier, results, times):
    barrier.wait()
    for number in range(times):
        for name in sorted(name for name in os.listdir(outputs) if not name.startswith("."))[:3]:
            path = os.path.join(outputs, name, "run.json")
            if os.path.isfile(path):
                record = json.loads(open(path).read())
                record["tags"] = {"round": str(number)}
                with open(path + ".new", "w") as handle:
                    json.dump(record, handle)
                os.replace(path + ".new", path)
        load_rows(outputs)
    results.put("done")


@pytest.mark.slow
def test_two_processes_writing_the_index_at_once_leave_a_consistent_one(store):
    for number in range(40):
        make_run(store, f"20261201-1000{number:02d}_le_net", started=f"2026-12-01T10:00:{number:02d}+00:00")
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(3), context.Queue()
    workers = [context.Process(target=_list_repeatedly, args=(str(store), barrier, results, 6)),
               context.Process(target=_list_repeatedly, args=(str(store), barrier, results, 6)),
               context.Process(target=_rewrite_repeatedly, args=(str(store), barrier, results, 6))]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(map(str, outcomes)) == sorted(["done", str([46] * 6), str([46] * 6)])
    assert all(worker.exitcode == 0 for worker in workers)
    assert by_name(load_rows(store)) == scanned(store) and indexed_names(store) == set(scanned(store))
