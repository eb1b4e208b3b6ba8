"""`serve` in-process: the dashboard's pages and JSON over HTTP (uvicorn in a thread on a free port), what a user
typed shown as text, names that leave the outputs folder refused, the live index, sweeps, and the command's errors
(a missing outputs folder, a port in use) as one line. The browser tests are in test_serve_browser.py."""
import json
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import assert_one_line, cli, free_port, make_run, set_record

XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    outputs = tmp_path_factory.mktemp("serve") / "outputs"
    for day, model, accuracy, rate in ((10, "conv_net", 0.91, 0.001), (11, "le_net", 0.95, 0.002),
                                       (12, "mlp_small", 0.50, 0.001)):
        make_run(outputs, f"202611{day}-100000_{model}", model=model, accuracy=accuracy, learning_rate=rate,
                 started=f"2026-11-{day}T10:00:00+00:00", tags={"owner": XSS} if day == 10 else None)
    set_record(outputs / "20261110-100000_conv_net", notes=[{"text": XSS}])
    make_run(outputs, "20261113-100000_churn_mlp", model="churn_mlp", task="churn", started="2026-11-13T10:00:00+00:00")
    (outputs / "20261110-100000_conv_net" / "report.html").write_text("<html><body>the report</body></html>")
    (outputs.parent / "secret.txt").write_text("outside")
    damaged = make_run(outputs, "20261109-100000_conv_net_damaged", started="2026-11-09T10:00:00+00:00")
    (damaged / "history.csv").write_text("epoch,accuracy\n1,0.5\n2,oops\n")
    make_sweep(outputs)
    return outputs


def make_sweep(outputs):
    """A grid sweep of 4 trials, 2 completed (their runs: the conv_net and le_net runs), one running, one pending."""
    from utils.sweeps.folder import SweepFolder
    from utils.sweeps.trials import new_trial

    folder = SweepFolder.create(outputs, "grid")
    folder.save_spec({"task": "mnist", "method": "grid", "objective": "val_loss", "direction": "minimize", "seed": 42,
                      "target_trials": 4, "parameters": [{"name": "learning_rate"}], "base_options": {},
                      "workers": 2, "executor": "local", "outputs": str(outputs), "sweep_id": folder.name,
                      "study": "study"})
    trials = [new_trial(position, {"learning_rate": rate}) for position, rate in enumerate((0.1, 0.01, 0.001, 0.3))]
    runs = (str(outputs / "20261110-100000_conv_net"), str(outputs / "20261111-100000_le_net"), None, None)
    for trial, status, objective, run in zip(trials, ("completed", "completed", "running", "pending"), (0.5, 0.3, None, None), runs):
        trial.status, trial.objective, trial.seconds, trial.run = status, objective, 60.0 if objective else None, run
    folder.save_trials(trials)
    return folder


@pytest.fixture(scope="module")
def server(outputs):
    """The dashboard on a free port, in a thread of this process; yields its base URL."""
    import uvicorn

    from utils.serve.app import create_app
    from utils.serve.live import RunStore
    from utils.serve.server import bind

    listener = bind("127.0.0.1", free_port())
    store = RunStore(outputs).start()
    instance = uvicorn.Server(uvicorn.Config(create_app(store, "mnist"), log_level="warning"))
    thread = threading.Thread(target=instance.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    while not instance.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    instance.should_exit = True
    store.stop()
    thread.join(10)


def get(url: str) -> tuple:
    """(status, body as text) of a GET, 4xx and 5xx included."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def table_runs(page: str) -> list:
    import re

    return re.findall(r'<tr data-run="([^"]+)"', page)


def test_the_table_lists_the_tasks_runs_newest_first_and_filters_and_sorts_like_runs_where(server):
    status, page = get(server + "/")
    assert status == 200
    assert table_runs(page) == ["20261112-100000_mlp_small", "20261111-100000_le_net", "20261110-100000_conv_net",
                                "20261109-100000_conv_net_damaged"]
    assert table_runs(get(server + "/?task=all")[1])[0] == "20261113-100000_churn_mlp"
    assert table_runs(get(server + "/?where=model~net%20test_accuracy%3E0.9&sort=-test_accuracy")[1]) == [
        "20261111-100000_le_net", "20261110-100000_conv_net"]
    answer = json.loads(get(server + "/api/runs?where=test_accuracy%3E0.9%20learning_rate=0.001")[1])
    assert [row["run"] for row in answer["runs"]] == ["20261110-100000_conv_net"]
    assert answer["matching"] == 1 and answer["total"] == 5


def test_a_bad_filter_is_one_line_on_the_page_not_an_error_page(server):
    status, page = get(server + "/?where=test_accuracy%3Ehigh")
    assert status == 200 and table_runs(page) == []
    assert "the column holds numbers; &#x27;high&#x27; is not one" in page
    status, page = get(server + "/?where=nosuch=1")
    assert status == 200 and "unknown column &#x27;nosuch&#x27;" in page


def test_what_a_user_typed_is_shown_as_text(server):
    status, page = get(server + "/run/20261110-100000_conv_net")
    assert status == 200
    assert XSS not in page and "note: &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "tag <b>owner</b> = &lt;script&gt;" in page
    table = get(server + "/?where=" + urllib.request.quote(f"model={XSS}"))[1]
    assert XSS not in table and "model=&lt;script&gt;" in table  # the filter box echoes it escaped


def test_a_missing_run_and_paths_out_of_the_outputs_folder_are_404_pages(server):
    for path in ("/run/nosuch", "/run/..", "/run/.trash", "/files/..%2Fsecret.txt/x", "/files/nosuch/report.html",
                 "/files/20261110-100000_conv_net/..%2F..%2Fsecret.txt", "/nowhere", "/sweep/nosuch"):
        status, page = get(server + path)
        assert status == 404, path
        assert "<h1>Not found</h1>" in page and "Traceback" not in page and "outside" not in page
    status, answer = get(server + "/api/run/nosuch")
    assert status == 404 and "nosuch" in json.loads(answer)["error"]
    status, report = get(server + "/files/20261110-100000_conv_net/report.html")
    assert status == 200 and "the report" in report


def test_a_run_page_draws_each_metric_with_both_splits(server):
    page = get(server + "/run/20261111-100000_le_net")[1]
    assert '<svg class="chart"' in page and 'aria-label="accuracy"' in page
    assert 'data-label="20261111-100000_le_net train" data-points="2"' in page
    assert 'data-label="20261111-100000_le_net validation" data-points="2"' in page
    answer = json.loads(get(server + "/api/run/20261111-100000_le_net")[1])
    assert answer["history_epochs"] == 2 and answer["status"] == "completed" and set(answer["parts"]) == {"progress", "charts"}


def test_a_comparison_shows_only_the_settings_that_differ_against_a_pinned_baseline(server):
    status, page = get(server + "/compare?run=20261110-100000_conv_net&run=20261111-100000_le_net"
                       "&baseline=20261111-100000_le_net")
    assert status == 200
    rows = page.split('<tbody id="comparison-rows">')[1]
    assert "<th>learning_rate</th><td class=\"baseline\">0.002</td><td class=\"differs\">0.001</td>" in rows
    assert "<th>batch_size</th>" not in rows  # the same in both
    head = page.split('<table id="comparison">')[1].split("</thead>")[0]
    assert head.index("20261111-100000_le_net") < head.index("20261110-100000_conv_net")  # the baseline leads
    assert 'stroke="#1f77b4"' in page and 'stroke="#ff7f0e"' in page and 'stroke-dasharray="6 4"' in page
    assert get(server + "/compare?run=20261110-100000_conv_net&run=nosuch")[0] == 404
    assert get(server + "/compare")[0] == 404


def test_only_get_is_answered(server):
    request = urllib.request.Request(server + "/run/20261110-100000_conv_net", method="POST", data=b"")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 405


def test_the_store_sees_a_new_run_and_a_running_runs_progress(tmp_path):
    from utils.runs.lock import RunLock
    from utils.serve.live import RunStore, progress_of

    make_run(tmp_path, "20261110-100000_conv_net")
    store = RunStore(tmp_path)
    store.refresh()
    first = store.snapshot
    assert [row["run"] for row in first.rows] == ["20261110-100000_conv_net"]
    store.refresh()
    assert store.snapshot is first  # nothing changed: no new snapshot
    running = make_run(tmp_path, "20261111-100000_le_net", status="running", started="2026-11-11T10:00:00+00:00")
    set_record(running, hyperparameters={"epochs": 10}, seconds_per_epoch=[5.0, 2.0, 2.0], epochs_completed=3)
    with RunLock(running):
        store.refresh()
        assert store.snapshot.generation == first.generation + 1
        row = store.current_row("20261111-100000_le_net")
        assert row["status"] == "running" and row["_progress"].done == 3 and row["_progress"].planned == 10
        assert row["_progress"].eta_seconds == pytest.approx(14.0)  # 7 epochs at the steady 2 s, not the first 5 s
    store.refresh()
    assert store.snapshot.by_name["20261111-100000_le_net"]["status"] == "crashed"  # lock gone, still "running"
    assert progress_of({"epochs_completed": 2, "hyperparameters": {"epochs": 4}}, running=False).eta_seconds is None


def test_a_sweeps_progress_counts_finished_trials_and_keeps_the_best_by_its_direction(tmp_path):
    from utils.serve.views import sweep_names, sweep_view

    folder = make_sweep(tmp_path)
    assert sweep_names(tmp_path) == [folder.name]
    view = sweep_view(tmp_path, folder.name)
    assert (view.done, view.total, view.best) == (2, 4, 0.3)
    assert view.eta_seconds == pytest.approx(60.0)  # 2 left at the median 60 s, on 2 workers


def test_the_sweep_pages_show_progress_trials_and_a_link_comparing_them(server, outputs):
    name = next(path.name for path in outputs.glob("sweep_*"))
    listing = get(server + "/sweeps")[1]
    assert f'href="/sweep/{name}"' in listing and '<span id="done">2</span>/4 trials done' in listing
    status, page = get(server + f"/sweep/{name}")
    assert status == 200 and 'best val_loss <span id="best">0.3000</span>' in page
    assert page.count('<td class="completed">') == 2 and '<td class="pending">' in page
    assert 'href="/compare?run=20261110-100000_conv_net&amp;run=20261111-100000_le_net"' in page
    answer = json.loads(get(server + f"/api/sweep/{name}")[1])
    assert (answer["done"], answer["total"], answer["best"]) == (2, 4, 0.3)


def test_a_damaged_history_is_one_line_on_its_run_page(server):
    status, page = get(server + "/run/20261109-100000_conv_net_damaged")
    assert status == 200 and "history.csv is damaged" in page and "oops" in page and '<svg class="chart"' not in page


def test_chart_ticks_are_round_and_labels_escaped():
    from utils.serve.charts import Series, line_chart, nice_ticks

    assert nice_ticks(0.12, 0.91) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(1, 3) == [1.0, 1.5, 2.0, 2.5, 3.0]
    chart = line_chart("loss", [Series("<b>x</b>", "train", "#000", [(1, 0.5), (2, 0.25)])])
    assert "<b>x</b>" not in chart and "&lt;b&gt;x&lt;/b&gt; train" in chart
    assert "no epochs yet" in line_chart("loss", [])


def test_a_missing_outputs_folder_is_one_line(tmp_path, capsys):
    code = cli("mnist", ["serve", "--outputs", tmp_path / "nosuch", "--port", free_port()])
    assert_one_line(capsys, code, 2, "--outputs", "does not exist")


def test_a_port_in_use_is_one_line(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        code = cli("mnist", ["serve", "--outputs", tmp_path, "--port", taken.getsockname()[1]])
    assert_one_line(capsys, code, 1, "already in use", "--port")


def test_the_store_scans_every_folder_only_when_a_cheap_look_says_something_moved(tmp_path, monkeypatch):
    import os

    from utils.runs.lock import RunLock
    from utils.serve import live
    from utils.serve.live import FULL_SCAN_SECONDS, RunStore

    monkeypatch.setattr(live, "SCAN_SHARE", 1e9)  # scans as slow as a huge store's: FULL_SCAN_SECONDS apart

    finished = make_run(tmp_path, "20261110-100000_conv_net")
    running = make_run(tmp_path, "20261111-100000_le_net", status="running", started="2026-11-11T10:00:00+00:00")
    with RunLock(running):
        store = RunStore(tmp_path)
        store.full_refresh(0.0)
        store.full_refresh(1.0)  # the first saw no running run yet
        assert not store.due(2.0)
        set_record(finished, tags={"late": "true"})  # a finished run's record: only the periodic scan sees it
        assert not store.due(3.0) and store.due(1.0 + FULL_SCAN_SECONDS)
        set_record(running, epochs_completed=1)
        assert store.due(3.0)  # a running run's record moved
        store.full_refresh(3.0)
        assert store.snapshot.by_name["20261111-100000_le_net"]["epochs"] == 1
    assert store.due(4.0)  # its lock was released: it ended or died
    store.full_refresh(4.0)
    os.utime(tmp_path, ns=(0, 0))  # the outputs folder's entries changed (a folder created or removed)
    assert store.due(5.0) and store.due(5.0 + FULL_SCAN_SECONDS - 1)  # and keeps scanning while run.json may follow
    monkeypatch.setattr(live, "SCAN_SHARE", 20)
    store.full_refresh(20.0)
    assert store.due(20.0 + live.REFRESH_SECONDS)  # a small store's scan is cheap: every second
