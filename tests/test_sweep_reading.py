"""A sweep a new user can read: its progress lines, its row in outputs/index.html, the report's links, shared
settings and rerun command, trial logs with their epoch lines, and a resume with nothing to do that says so at
once. In-process tests of the pieces first; then one real 2-trial sweep shared by the slow tests."""
import json
import re
import shlex
import subprocess
import sys
import os
from argparse import Namespace
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from conftest import PROJECT, run_script

SWEEP = ["sweep", "--grid", "learning_rate=0.01,0.001", "--dataset", "mnist_5k", "--limit", 200, "--epochs", 1,
         "-m", "mlp_one_layer", "--workers", 2]


class Tables(HTMLParser):
    """The rows of each <table> in a page as lists of cell texts (pandas.read_html would need lxml)."""

    def __init__(self, page: str):
        super().__init__()
        self.tables, self.cell = [], None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def table_after(page: str, heading: str, pairs: bool = False):
    """The first table after `heading`: one dict per row under its header row, or (pairs) one dict of its
    name/value rows."""
    rows = Tables(page[page.index(heading):]).tables[0]
    return dict(rows) if pairs else [dict(zip(rows[0], row)) for row in rows[1:]]


# ---------------------------------------------------------------- in process
def test_progress_line_carries_objective_best_count_elapsed_and_eta():
    from utils.sweeps.progress import Progress, progress_line

    # 2 workers, trials of 40 s: one running for 30 s (10 s left), two not started (80 s), shared by 2 -> 45 s.
    progress = Progress("val_accuracy", done=3, total=6, elapsed=72.4, best=0.921, best_trial="001-aaaaaaaa",
                        trial_seconds=40, running=(30,), workers=2)
    line = progress_line("003-1a2b3c4d", "completed", 0.912, progress)
    assert line == ("trial 003-1a2b3c4d completed  val_accuracy 0.9120  best 0.9210 (001-aaaaaaaa)  3/6  "
                    "1m12s elapsed  ETA 45s")
    pruned = progress_line("004-1a2b3c4d", "pruned", 0.5, Progress("val_loss", 1, 3, 5, trial_seconds=5))
    assert pruned.split()[2] == "pruned" and "best -" in pruned and "1/3" in pruned and "ETA 10s" in pruned
    failed = progress_line("005-1a2b3c4d", "failed", None, Progress("val_accuracy", 3, 3, 3725, trial_seconds=9),
                           reason="exit code 1")
    assert "val_accuracy -" in failed and "1h02m elapsed" in failed and "ETA 0s" in failed
    assert failed.endswith("(exit code 1)")
    # A running trial past the mean adds nothing; resumed with nothing finished here yet, the pace is unknown.
    assert progress_line("006-1a2b3c4d", "completed", 0.7, Progress("val_accuracy", 5, 6, 9, trial_seconds=4,
                                                                   running=(50,))).endswith("ETA 0s")
    assert "ETA -" in progress_line("007-1a2b3c4d", "interrupted", None, Progress("val_accuracy", 2, 6, 9))


def test_the_results_table_prints_epochs_as_whole_numbers_beside_a_trial_without_any():
    from utils.sweeps.report import results_table
    from utils.sweeps.trials import new_trial

    spec = {"objective": "val_accuracy", "direction": "maximize", "seeds": [42, 43]}  # with the seeds' n column
    completed, failed, pending = (new_trial(position, {"learning_rate": rate}) for position, rate in enumerate((0.1, 0.2, 0.3)))
    completed.status, completed.objective, completed.epochs, completed.seconds = "completed", 0.875, 2, 3.5
    failed.status, failed.epochs, failed.seconds = "failed", 1, 1.25
    rows = {line.split()[0]: line.split() for line in results_table([completed, failed, pending], spec).splitlines()}
    assert rows["trial"][:6] == ["trial", "status", "val_accuracy", "±", "std", "n"]
    assert rows[completed.trial][2:7] == ["0.8750", "-", "-", "2", "3.5000"]
    assert rows[failed.trial][2:7] == ["-", "-", "-", "1", "1.2500"]  # not 1.0000
    assert rows[pending.trial][2:7] == ["-", "-", "-", "-", "-"]


def test_best_of_takes_completed_trials_only_in_the_objectives_direction():
    from utils.sweeps.progress import best_of
    from utils.sweeps.trials import new_trial

    trials = [new_trial(position, {"learning_rate": position}) for position in range(3)]
    for trial, status, value in zip(trials, ("completed", "pruned", "completed"), (0.5, 0.9, 0.7)):
        trial.status, trial.objective = status, value
    assert best_of(trials, "maximize") == (0.7, trials[2].trial)  # the pruned 0.9 does not count
    assert best_of(trials, "minimize") == (0.5, trials[0].trial)
    assert best_of(trials[1:2], "maximize") == (None, None)


def fake_sweep(outputs: Path, statuses, target=None, method="grid", name="sweep_20261201-101500_grid") -> Path:
    """A sweep folder as the driver leaves it, without training (trials.csv, sweep.json, report.html)."""
    from utils.core import atomic
    from utils.sweeps.trials import new_trial, write_trials

    folder = outputs / name
    (folder / "logs").mkdir(parents=True)
    trials = [new_trial(position, {"learning_rate": 0.1 / (position + 1)}) for position in range(len(statuses))]
    for position, (trial, status) in enumerate(zip(trials, statuses)):
        trial.status = status
        trial.objective = 0.5 + position / 10 if status in ("completed", "pruned") else None
    write_trials(folder / "trials.csv", trials)
    atomic.write_json(folder / "sweep.json", {
        "task": "mnist", "method": method, "objective": "val_accuracy", "direction": "maximize", "seed": 42,
        "target_trials": target or len(statuses), "parameters": [{"name": "learning_rate", "kind": "choice", "values": [0.1]}],
        "base_options": {}, "workers": 1, "executor": "local", "outputs": str(outputs), "sweep_id": name, "study": name})
    (folder / "report.html").write_text("<html></html>")
    return folder


def test_index_page_lists_sweeps_with_method_trials_done_best_and_report_link(tmp_path):
    from utils.reports.index_page import render_page

    fake_sweep(tmp_path, ["completed", "completed", "failed"])
    fake_sweep(tmp_path, ["completed", "pruned"], target=5, method="tpe", name="sweep_20261202-101500_tpe")
    (tmp_path / "sweep_20261203-101500_grid").mkdir()  # no sweep.json: not a sweep folder
    page = render_page(tmp_path)
    table = table_after(page, "<h2>Sweeps")
    assert [row["sweep"] for row in table] == ["sweep_20261202-101500_tpe", "sweep_20261201-101500_grid"]  # newest first
    assert [(row["method"], row["trials done"]) for row in table] == [("tpe", "2/5"), ("grid", "2/3")]
    assert table[0]["best"].startswith("0.5000 (000-") and table[1]["best"].startswith("0.6000 (001-")
    assert 'href="sweep_20261201-101500_grid/report.html"' in page and 'href="sweep_20261202-101500_tpe/report.html"' in page


def resume_args(folder, trials=None) -> Namespace:
    from utils.sweeps.space import sweepable_options
    from utils.tasks import get_task

    return Namespace(resume_sweep=str(folder), trials=trials, model=None,
                     **{name: None for name in sweepable_options(get_task("mnist"))})


def test_nothing_to_resume_only_when_every_trial_is_finished_and_the_report_current(tmp_path):
    from utils.sweeps.finished import nothing_to_resume
    from utils.tasks import get_task

    mnist = get_task("mnist")
    done = fake_sweep(tmp_path, ["completed", "pruned"], target=2, method="tpe")
    line = nothing_to_resume(mnist, resume_args(done))
    assert "Nothing to resume" in line and "all 2 trials" in line and "0.5000" in line and "\n" not in line
    assert nothing_to_resume(mnist, resume_args(done, trials=2)) == line
    assert nothing_to_resume(mnist, resume_args(done, trials=3)) is None  # --trials asks for one more
    assert nothing_to_resume(get_task("xor"), resume_args(done)) is None  # another task's: the driver refuses it
    stale = fake_sweep(tmp_path, ["completed", "completed"], name="sweep_20261202-101500_grid")
    later = (stale / "report.html").stat().st_mtime + 5  # trials.csv changed after the report: the driver died first
    os.utime(stale / "trials.csv", (later, later))
    assert nothing_to_resume(mnist, resume_args(stale)) is None
    failed = fake_sweep(tmp_path, ["completed", "failed"], name="sweep_20261203-101500_grid")
    assert nothing_to_resume(mnist, resume_args(failed)) is None  # a failed trial runs again
    assert nothing_to_resume(mnist, resume_args(tmp_path)) is None  # not a sweep folder: the driver says so


def test_a_ray_trial_returns_its_whole_console_for_the_log(tmp_path):
    import io
    import tarfile

    from utils.sweeps.ray_executor import NodeWorker, last_line, unpack_run

    # A stand-in for the entry point: prints an epoch line, writes a "run folder" where it is told, then fails.
    child = tmp_path / "child.py"
    child.write_text("import os, sys; outputs = sys.argv[sys.argv.index('--outputs') + 1]; print('epoch 1/1  loss 0.5'); "
                     "os.mkdir(os.path.join(outputs, 'run_a')); print('mnist.py: error: boom', file=sys.stderr); sys.exit(3)")
    node = NodeWorker()  # what a Ray actor runs: here in this process, its warm worker a child process
    try:
        returncode, crash, output, archive = node.run("000", [str(child)], {})
        first_worker = node.worker.pid
        again = node.run("001", [str(child)], {})
        assert node.worker.pid == first_worker  # the trial's failure ended the trial, not its worker
    finally:
        node.close()
    assert returncode == 3 and crash is None and output.splitlines() == ["epoch 1/1  loss 0.5", "mnist.py: error: boom"]
    assert last_line(output) == "mnist.py: error: boom"  # the failure's reason, as the local executor gives it
    assert tarfile.open(fileobj=io.BytesIO(archive)).getnames() == ["run_a"]
    assert again[:3] == (3, None, output)
    unpack_run(archive, tmp_path)
    assert (tmp_path / "run_a").is_dir()


# ---------------------------------------------------------------- one real sweep (training subprocesses)
@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory):
    outputs = tmp_path_factory.mktemp("sweep_reading")
    result = run_script("mnist", *SWEEP, "--outputs", outputs)
    assert result.returncode == 0, result.stdout + result.stderr
    [folder] = sorted(outputs.glob("sweep_*"))
    return outputs, folder, result


def best_trial(folder) -> pd.Series:
    trials = pd.read_csv(folder / "trials.csv", dtype={"trial": str})
    return trials.loc[trials["objective"].idxmax()]


@pytest.mark.slow
def test_progress_lines_carry_done_of_total_and_the_running_best(finished_sweep):
    _, folder, result = finished_sweep
    lines = [line for line in result.stdout.splitlines() if re.match(r"trial \S+ completed ", line)]
    assert len(lines) == 2
    assert "1/2" in lines[0] and "2/2" in lines[1] and all("elapsed" in line and "ETA" in line for line in lines)
    best = best_trial(folder)
    assert f"best {best['objective']:.4f} ({best['trial']})" in lines[1]


@pytest.mark.slow
def test_index_page_has_the_sweep_and_links_its_report(finished_sweep):
    outputs, folder, _ = finished_sweep
    page = (outputs / "index.html").read_text()
    assert f'href="{folder.name}/report.html"' in page
    [row] = table_after(page, "<h2>Sweeps")
    assert (row["sweep"], row["method"], row["trials done"]) == (folder.name, "grid", "2/2")


@pytest.mark.slow
def test_sweep_report_links_trials_names_shared_settings_and_the_best_trials_rerun(finished_sweep):
    _, folder, _ = finished_sweep
    page = (folder / "report.html").read_text()
    trials = pd.read_csv(folder / "trials.csv", dtype={"trial": str})
    links = set(re.findall(r'href="([^"]+)"', page))
    for run in trials["run"]:
        href = f"../{Path(run).name}/report.html"
        assert href in links and (folder / href).resolve() == (Path(run) / "report.html").resolve()
    for trial in trials["trial"]:
        assert f"logs/{trial}.log" in links
    shared = table_after(page, "Settings every trial shares", pairs=True)
    assert (shared["dataset"], shared["limit"], shared["epochs"], shared["model"]) == ("mnist_5k", "200", "1", "mlp_one_layer")
    assert "learning_rate" not in shared  # the varied one is a parameter, not a shared setting
    commands = [shlex.split(command) for command in re.findall(r"<pre>(python mnist\.py [^<]+)</pre>", page)]
    rerun = next(command for command in commands if command[2] == "rerun")
    assert (PROJECT / rerun[3]).resolve() == Path(best_trial(folder)["run"]).resolve()
    train = next(command for command in commands if command[2] == "train")
    assert train[train.index("--learning-rate") + 1] == str(best_trial(folder)["param:learning_rate"])


@pytest.mark.slow
def test_a_trial_log_holds_its_epoch_lines(finished_sweep):
    _, folder, _ = finished_sweep
    for log in sorted((folder / "logs").glob("*.log")):
        text = log.read_text()
        assert re.search(r"^epoch 1/1  loss \d", text, re.MULTILINE), text


# Runs the entry point as a user would and reports which heavy frameworks it imported.
CHECKER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from utils.cli.main import run_task
try:
    run_task("mnist", ["sweep", "--resume", sys.argv[2]])
except SystemExit as exit:
    code = exit.code
heavy = sorted(name for name in ("tensorflow", "keras", "jax", "optuna") if name in sys.modules)
print(json.dumps({"code": code, "heavy": heavy}))
"""


@pytest.mark.slow
def test_resuming_a_finished_sweep_says_so_in_one_line_without_rendering(finished_sweep):
    _, folder, _ = finished_sweep
    before = (folder / "report.html").stat().st_mtime_ns, (folder / "trials.csv").stat().st_mtime_ns
    result = subprocess.run([sys.executable, "-c", CHECKER, PROJECT, folder], capture_output=True, text=True, timeout=120)
    *printed, outcome = result.stdout.strip().splitlines()
    assert json.loads(outcome) == {"code": 0, "heavy": []}, result.stderr
    assert len(printed) == 1 and printed[0].startswith("Nothing to resume: all 2 trials") and result.stderr == ""
    assert ((folder / "report.html").stat().st_mtime_ns, (folder / "trials.csv").stat().st_mtime_ns) == before
