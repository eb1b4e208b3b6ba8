"""Records that never mislead: every setting as the value a run trained with (no None in any view), one timing
vocabulary, the task and dataset named everywhere, and the store's small edges (sort, names, empty queries, types)."""
import json
import shutil

import pandas as pd
import pytest

from conftest import cli, make_run, record_of, run_script, set_record, train_xor
from utils.reports import compare as compare_module
from utils.reports.html import write_run_report
from utils.reports.index_page import render_page
from utils.reports.run_labels import comparison_title, run_labels
from utils.runs.diff import differences, render as render_diff
from utils.runs.record import RunRecord
from utils.runs.timing import timing_of

SETTING_COLUMNS = "learning_rate,momentum,weight_decay,nesterov,steps_per_execution,jit,limit,early_stopping,mlflow,name"


def runs_json(capsys, outputs, *argv, task="xor"):
    code = cli(task, ["runs", "--outputs", outputs, "--format", "json", *argv])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def no_none(values) -> bool:
    return all(value is not None and value != "None" for value in values)


# ---------------------------------------------------------------- effective values, on a real run
def test_a_real_run_records_every_setting_as_it_trained(xor_run):
    record = record_of(xor_run)
    settings = record["hyperparameters"]
    execution = record["execution"]
    # chosen by the engine and Keras, recorded as used, and named as chosen (not given)
    assert settings["steps_per_execution"] == execution["steps_per_execution"] >= 1
    assert settings["jit"] is execution["jit_compile"]
    assert settings["learning_rate"] == execution["optimizer"]["learning_rate"] == 0.001
    assert {"learning_rate", "steps_per_execution", "jit"} <= set(record["resolved_settings"])
    # the built optimizer's own settings, off float32 noise
    assert execution["optimizer"]["name"] == "adam" and execution["optimizer"]["beta_1"] == 0.9
    assert "momentum" not in execution["optimizer"] and settings["momentum"] is None  # adam has none


def test_runs_shows_no_none_for_a_real_run_and_filters_see_effective_values(xor_run, capsys):
    outputs = xor_run.parent
    (row,) = runs_json(capsys, outputs, "--columns", "run,task,dataset,backend,device,train_samples," + SETTING_COLUMNS)
    assert no_none(row.values()), row
    assert row["momentum"] == "n/a" and row["weight_decay"] == "off" and row["limit"] == "all"
    assert row["dataset"] == "xor" and row["backend"] == "tensorflow" and row["device"] in ("cpu", "gpu")
    assert len(runs_json(capsys, outputs, "--where", "learning_rate=0.001")) == 1
    compiled = str(row["jit"]).lower()
    assert runs_json(capsys, outputs, "--where", f"steps_per_execution={row['steps_per_execution']}", f"jit={compiled}")
    assert runs_json(capsys, outputs, "--where", f"jit={'false' if compiled == 'true' else 'true'}") == []
    assert runs_json(capsys, outputs, "--where", "learning_rate=0.01") == []


def test_older_runs_resolve_what_their_record_tells_and_say_default_otherwise(tmp_path, capsys):
    folder = make_run(tmp_path, "20261110-100000_conv_net", learning_rate=None)
    data = record_of(folder)
    data["hyperparameters"].update(momentum=None, steps_per_execution=None, jit=None, limit=None, early_stopping=None)
    set_record(folder, hyperparameters=data["hyperparameters"], base_learning_rate=0.0010000000474974513,
               execution={"steps_per_execution": 8, "jit_compile": False, "backend": "tensorflow", "gpu": False})
    (row,) = runs_json(capsys, tmp_path, "--columns", "run," + SETTING_COLUMNS.replace(",mlflow,name", ""), task="mnist")
    assert row["learning_rate"] == 0.001 and row["steps_per_execution"] == 8 and row["jit"] is False
    assert row["momentum"] == "default" and row["limit"] == "all" and row["early_stopping"] == "off"
    assert len(runs_json(capsys, tmp_path, "--where", "learning_rate=0.001", task="mnist")) == 1
    record = RunRecord.load(folder)
    text = render_diff(record, record, differences(record, record, show_all=True))
    assert "None" not in text and ["steps_per_execution", "8", "8"] in [line.split() for line in text.splitlines()]
    write_run_report(folder)
    report = (folder / "report.html").read_text()
    assert "None" not in report.split("<h2>Hyperparameters</h2>")[1].split("<h2>Timings</h2>")[0]


# ---------------------------------------------------------------- one timing vocabulary
def test_timing_of_an_older_run_is_derived_from_its_epochs():
    timing = timing_of({"seconds_per_epoch": [9.0, 1.0, 3.0, 2.0]})
    assert timing["first_epoch_seconds"] == 9.0 and timing["steady_epoch_seconds"] == 2.0  # median of 1, 3, 2
    assert timing["training_seconds"] == 15.0 and timing["setup_seconds"] is None
    assert timing_of({"seconds_per_epoch": [4.0]})["steady_epoch_seconds"] is None  # one epoch: compile included


def test_a_real_run_records_its_timings_and_every_view_uses_them(xor_run, capsys):
    record = record_of(xor_run)
    timing, seconds = record["timing"], record["seconds_per_epoch"]
    assert 0 < timing["setup_seconds"] < 600 and 0 < timing["finish_seconds"] < 600
    assert timing["first_epoch_seconds"] == seconds[0] and timing["steady_epoch_seconds"] == seconds[1]
    (row,) = runs_json(capsys, xor_run.parent, "--columns",
                       "steady_epoch_seconds,first_epoch_seconds,setup_seconds,finish_seconds")
    assert row == {key: timing[key] for key in row}
    loaded = RunRecord.load(xor_run)
    results = differences(loaded, loaded, show_all=True)["results"]
    assert results["steady epoch seconds"] == [seconds[1]] * 2 and "seconds per epoch" not in results
    assert "steady_epoch_seconds" in render_page(xor_run.parent)


def test_seconds_per_epoch_in_every_view_is_the_steady_median(tmp_path, capsys):
    make_run(tmp_path, "20261110-100000_conv_net")  # epochs of 1.0 and 2.0 s: the mean 1.5 would mislead
    (row,) = runs_json(capsys, tmp_path, "--columns", "run,steady_epoch_seconds,first_epoch_seconds", task="mnist")
    assert row["steady_epoch_seconds"] == 2.0 and row["first_epoch_seconds"] == 1.0
    assert 'data-column="steady_epoch_seconds"' in render_page(tmp_path)


# ---------------------------------------------------------------- task and dataset first-class
def test_the_default_runs_table_names_task_and_dataset(tmp_path, capsys):
    make_run(tmp_path, "20261110-100000_conv_net")
    assert cli("mnist", ["runs", "--outputs", tmp_path]) == 0
    header, line = capsys.readouterr().out.splitlines()[:2]
    assert header.split()[:5] == ["run", "status", "task", "dataset", "model"]
    assert line.split()[2:4] == ["mnist", "fashion_mnist"]
    assert 'data-column="dataset"' in render_page(tmp_path) and "fashion_mnist" in render_page(tmp_path)


def with_dataset(folder, name):
    data = record_of(folder)
    set_record(folder, data={**data["data"], "name": name},
               hyperparameters={**data["hyperparameters"], "data_options": {"dataset": name}})
    return folder


def test_comparisons_name_dataset_limit_batch_size_and_epochs(tmp_path, capsys):
    first = make_run(tmp_path, "20261110-100000_conv_net")
    second = make_run(tmp_path, "20261111-100000_le_net", model="le_net")
    folder = compare_module.compare([first, second], tmp_path, verbosity=0)
    table = pd.read_csv(folder / "comparison.csv")
    assert list(table["dataset"]) == ["fashion_mnist"] * 2 and list(table["limit"]) == ["all"] * 2
    report = (folder / "report.html").read_text()
    assert "Comparison of 2 mnist runs on fashion_mnist (limit all, batch size 32, 2 epochs)" in report
    assert "Every run: task mnist · dataset fashion_mnist" in report and "batch_size 32" in report


def test_different_datasets_of_one_task_are_compared_with_a_warning_and_named(tmp_path, capsys):
    first = with_dataset(make_run(tmp_path, "20261110-100000_conv_net"), "mnist")
    second = with_dataset(make_run(tmp_path, "20261111-100000_le_net", model="le_net"), "fashion_mnist")
    folder = compare_module.compare([first, second], tmp_path, verbosity=0)
    assert "different datasets (fashion_mnist, mnist)" in capsys.readouterr().err
    table = pd.read_csv(folder / "comparison.csv")
    assert list(table["label"]) == ["mnist · conv_net", "fashion_mnist · le_net"]
    assert "on different datasets" in (folder / "report.html").read_text()


def test_different_tasks_are_refused_in_one_line_and_nothing_is_written(tmp_path, capsys):
    make_run(tmp_path, "20261110-100000_conv_net")
    make_run(tmp_path, "20261111-100000_churn_mlp", model="churn_mlp", task="churn")
    code = cli("mnist", ["compare", "20261110-100000_conv_net", "20261111-100000_churn_mlp", "--outputs", tmp_path])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "one task; these are runs of churn, mnist" in err
    assert not list(tmp_path.glob("compare_*"))


def test_settings_the_engine_chose_label_nothing():
    records = [{"run_id": name, "model": "m", "data": {"name": "d"}, "resolved_settings": ["steps_per_execution"],
                "hyperparameters": {"batch_size": batch, "steps_per_execution": 1024 // batch}}
               for name, batch in (("a", 16), ("b", 128))]
    assert run_labels(records) == ["batch_size 16", "batch_size 128"]
    assert comparison_title([{"task": "t", "dataset": "d", "limit": 2000.0, "batch_size": 16, "epochs": 3},
                             {"task": "t", "dataset": "d", "limit": 2000.0, "batch_size": 128, "epochs": 3}]) \
        == "Comparison of 2 t runs on d (limit 2000, 3 epochs)"


# ---------------------------------------------------------------- small edges
def test_a_descending_sort_may_be_given_as_a_separate_word(tmp_path, capsys):
    make_run(tmp_path, "20261110-100000_conv_net", accuracy=0.8)
    make_run(tmp_path, "20261111-100000_le_net", accuracy=0.95, started="2026-11-11T10:00:00+00:00")
    rows = runs_json(capsys, tmp_path, "--sort", "-test_accuracy", "--columns", "run,test_accuracy", task="mnist")
    assert [row["test_accuracy"] for row in rows] == [0.95, 0.8]
    rows = runs_json(capsys, tmp_path, "--sort", "test_accuracy", "--columns", "run,test_accuracy", task="mnist")
    assert [row["test_accuracy"] for row in rows] == [0.8, 0.95]


def test_compare_takes_bare_run_names_and_globs_of_them(tmp_path, monkeypatch, capsys):
    make_run(tmp_path, "20261110-100000_conv_net")
    make_run(tmp_path, "20261111-100000_le_net", model="le_net")
    monkeypatch.chdir(tmp_path.parent)  # names, not paths: they resolve under --outputs
    for names in (["20261110-100000_conv_net", "20261111-100000_le_net"], ["2026111*"]):
        assert cli("mnist", ["compare", *names, "--outputs", tmp_path.name, "--quiet"]) == 0, capsys.readouterr().err
        folder = tmp_path / capsys.readouterr().out.strip().splitlines()[-1].split("/")[-1]
        assert len(pd.read_csv(folder / "comparison.csv")) == 2
        shutil.rmtree(folder)


def test_a_query_matching_nothing_says_so(tmp_path, capsys):
    make_run(tmp_path, "20261110-100000_conv_net")
    make_run(tmp_path, "20261111-100000_le_net", model="le_net")
    assert cli("mnist", ["runs", "--outputs", tmp_path, "--where", "model=nothing"]) == 0
    assert capsys.readouterr().out.strip() == "0 of 2 runs match --where model=nothing."
    assert cli("xor", ["runs", "--outputs", tmp_path]) == 0
    assert capsys.readouterr().out.strip() == f"No xor runs in {tmp_path} (2 of other tasks; --all-tasks lists them)."


@pytest.mark.parametrize("output_format", ["json", "csv", "table"])
def test_every_format_ends_with_a_newline(tmp_path, capsys, output_format):
    make_run(tmp_path, "20261110-100000_conv_net")
    assert cli("mnist", ["runs", "--outputs", tmp_path, "--format", output_format]) == 0
    out = capsys.readouterr().out
    assert out.endswith("\n") and not out.endswith("\n\n")


@pytest.mark.parametrize("where, problem", [
    ("test_accuracy>high", "holds numbers"), ("epochs=two", "holds numbers"), ("model>3", "holds text"),
    ("augment=yes", "true/false"), ("nonsense=1", "unknown column 'nonsense'"),
])
def test_an_unknown_column_or_a_value_of_the_wrong_type_is_one_line(tmp_path, capsys, where, problem):
    folder = make_run(tmp_path, "20261110-100000_conv_net")
    set_record(folder, hyperparameters={**record_of(folder)["hyperparameters"], "augment": False})
    code = cli("mnist", ["runs", "--outputs", tmp_path, "--where", where])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == "" and "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1 and problem in captured.err


def test_an_unknown_column_is_one_line(tmp_path, capsys):
    make_run(tmp_path, "20261110-100000_conv_net")
    code = cli("mnist", ["runs", "--outputs", tmp_path, "--columns", "run,bogus"])
    captured = capsys.readouterr()
    assert code == 2 and len(captured.err.strip().splitlines()) == 1 and "unknown column(s) bogus" in captured.err


def test_ids_print_without_thousands_separators(tmp_path):
    folder = make_run(tmp_path, "20261110-100000_conv_net")
    set_record(folder, environment={**record_of(folder)["environment"], "pid": 20571})
    write_run_report(folder)
    report = (folder / "report.html").read_text()
    assert "<th>pid</th><td>20571</td>" in report and "20,571" not in report


@pytest.mark.slow
def test_a_descending_sort_from_the_shell_and_a_wrong_task_compare(tmp_path):
    outputs = tmp_path / "outputs"
    assert train_xor(outputs) == 0
    result = run_script("xor", "runs", "--outputs", outputs, "--sort", "-steady_epoch_seconds", "--columns",
                        "run,setup_seconds,steady_epoch_seconds")
    assert result.returncode == 0 and "expected one argument" not in result.stderr, result.stderr
    header, row = result.stdout.splitlines()[:2]
    assert header.split() == ["run", "setup_seconds", "steady_epoch_seconds"] and "-" not in row.split()[1:]
