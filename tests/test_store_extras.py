"""Environment capture, the network picture, progress output and the index page's HTML (fast tier, in-process)."""
import os
import re
import subprocess
import sys

import pytest

from conftest import make_run
from utils.reports.index_page import render_page, sparkline, write_index_page
from utils.reports.network import plot_network
from utils.runs import environment
from utils.runs.folder import RunFolder


def test_environment_txt_lists_every_installed_package_and_the_patch_follows_git(tmp_path):
    environment.capture(tmp_path)
    packages = environment.read_packages(tmp_path)
    assert packages["keras"] and packages["numpy"] and packages["pytest"]
    dirty = subprocess.run(["git", "diff", "HEAD", "--quiet"], cwd=environment.PROJECT).returncode == 1
    assert RunFolder(tmp_path).source_patch.is_file() == dirty
    assert environment.changed_packages({"a": "1", "b": "2"}, {"b": "3", "c": "1"}) == {
        "a": ("1", None), "b": ("2", "3"), "c": (None, "1")}


def test_one_git_status_gives_the_commit_and_whether_the_tracked_files_changed(tmp_path, monkeypatch):
    repository, run = tmp_path / "project", tmp_path / "run"
    repository.mkdir(), run.mkdir()
    monkeypatch.setattr(environment, "PROJECT", repository)
    assert environment.git_state() == (None, False)  # not a repository
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repository)]
    subprocess.run(git + ["init", "-q"], check=True)
    assert environment.git_state() == (None, False)  # no commit yet
    (repository / "model.py").write_text("a = 1\n")
    subprocess.run(git + ["add", "model.py"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "first"], check=True)
    head = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    (repository / "notes.txt").write_text("untracked files do not count\n")
    assert environment.git_state() == (head, False) and environment.describe_commit(head, False) == head
    environment.capture(run, dirty=False)
    assert not RunFolder(run).source_patch.exists()
    (repository / "model.py").write_text("a = 2\n")
    assert environment.git_state() == (head, True) and environment.describe_commit(head, True) == f"{head}-dirty"
    environment.capture(run, dirty=True)
    assert "+a = 2" in RunFolder(run).source_patch.read_text()


def test_the_package_listing_is_reused_until_a_package_changes(tmp_path, monkeypatch):
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    first = environment.package_listing(outputs)
    assert "keras==" in first and "pytest==" in first
    cache = outputs / environment.LISTING_CACHE
    cache.write_text(cache.read_text().replace("keras==", "kept-copy=="))
    assert "kept-copy==" in environment.package_listing(outputs)  # the same state: the outputs folder's copy
    site = tmp_path / "site-packages"
    site.mkdir()
    os.utime(site, (1_000_000_000, 1_000_000_000))  # long ago: the change below cannot share its timestamp tick
    monkeypatch.setattr(sys, "path", [*sys.path, str(site)])
    state = environment.packages_state()
    (site / "newpackage-1.0.dist-info").mkdir()  # what installing a package does to its folder
    assert environment.packages_state() != state
    assert environment.package_listing(outputs) == first  # listed again, the copy replaced
    assert "kept-copy==" not in cache.read_text()


def test_a_missing_pydot_or_graphviz_is_one_line_and_the_run_goes_on(tmp_path, capsys, monkeypatch):
    from utils.reports import network
    from utils.training.setup import import_keras

    keras = import_keras()
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(2)])
    path = tmp_path / "plots" / "model.png"

    def no_pydot(*args, **kwargs):
        raise ImportError("You must install pydot (`pip install pydot`) for `plot_model` to work.")

    with monkeypatch.context() as patch:
        patch.setattr(keras.utils, "model_to_dot", no_pydot)
        plot_network(model, path)
    monkeypatch.setattr(network, "_last_rendered", {})  # no picture of this graph kept from an earlier test
    monkeypatch.setenv("PATH", str(tmp_path))  # no Graphviz `dot` to run
    plot_network(model, path)
    assert network.render_network("digraph {}", path) is False and not path.exists()
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all("apt-get install graphviz" in line for line in lines)


def test_the_network_picture_is_keras_plot_models_drawn_by_the_drawing_process(tmp_path):
    from utils.reports.drawing import FigureJobs
    from utils.training.setup import import_keras

    keras = import_keras()
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(2)])
    path, expected = tmp_path / "plots" / "model.png", tmp_path / "plot_model.png"
    figures = FigureJobs()
    plot_network(model, path, figures.draw)
    assert figures.pending and figures.wait() == []  # handed to the other process, drawn without failure
    keras.utils.plot_model(model, to_file=str(expected), show_shapes=True, show_layer_names=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.read_bytes() == expected.read_bytes()


@pytest.mark.parametrize("terminal", [True, False])
def test_progress_is_a_bar_on_a_terminal_and_a_line_per_epoch_when_piped(monkeypatch, terminal):
    from utils.training import callbacks, engine

    monkeypatch.setattr(sys.stdout, "isatty", lambda: terminal)
    for verbosity in (1, 2):  # -v: TensorFlow logs only
        lines = [type(callback) for callback in callbacks.progress_callbacks(verbosity)]
        # piped: Keras itself is silent and EpochLine writes the one line per epoch
        assert (engine.fit_verbosity(verbosity), lines) == ((1, []) if terminal else (0, [callbacks.EpochLine]))
    assert engine.fit_verbosity(0) == 0 and callbacks.progress_callbacks(0) == []


def test_index_page_links_reports_draws_sparklines_and_needs_nothing_remote(tmp_path):
    run = make_run(tmp_path, "20261110-100000_conv_net")
    make_run(tmp_path, "20261111-100000_le_net", model="le_net")
    RunFolder(run).report.write_text("<html></html>")
    (tmp_path / "compare_20261112-100000").mkdir()
    RunFolder(tmp_path / "compare_20261112-100000").report.write_text("<html></html>")
    page = write_index_page(tmp_path).read_text()
    links = re.findall(r'href="([^"]+)"', page)
    assert links == ["20261110-100000_conv_net/report.html", "compare_20261112-100000/report.html"]
    assert all((tmp_path / link).is_file() for link in links)
    assert page.count("<polyline") == 2 and "http" not in page.replace('lang="en"', "")
    assert sparkline([]) == "" and "<svg" in sparkline([0.5])
    assert "20261111-100000_le_net" in render_page(tmp_path)


def test_the_page_a_run_writes_shows_the_newest_runs_and_runs_html_shows_all(tmp_path, monkeypatch):
    from utils.reports import index_page

    for day in range(1, 6):
        make_run(tmp_path, f"2026111{day}-100000_conv_net", started=f"2026-11-1{day}T10:00:00+00:00")
    monkeypatch.setattr(index_page, "NEWEST", 2)
    index_page.refresh_index_page(tmp_path)
    page = (tmp_path / "index.html").read_text()
    assert re.findall(r"2026111\d-100000_conv_net", page) == ["20261115-100000_conv_net", "20261114-100000_conv_net"]
    assert "newest 2 of 5 runs" in page and "runs --html" in page
    page = write_index_page(tmp_path).read_text()
    assert len(set(re.findall(r"2026111\d-100000_conv_net", page))) == 5 and "newest" not in page


def test_a_graph_rendered_again_in_one_process_gives_the_same_picture_without_graphviz(tmp_path, monkeypatch):
    """A sweep's next trial of the same model gets the bytes Graphviz rendered for the last one; another graph is
    rendered by Graphviz again."""
    from utils.reports import network

    monkeypatch.setattr(network, "_last_rendered", {})
    first, again, other = (tmp_path / name / "model.png" for name in ("first", "again", "other"))
    source = 'digraph G { a -> b; }'
    assert network.render_network(source, first)
    monkeypatch.setenv("PATH", str(tmp_path))  # Graphviz is gone: only the kept picture can answer
    assert network.render_network(source, again) and again.read_bytes() == first.read_bytes()
    assert network.render_network('digraph G { a -> c; }', other) is False and not other.exists()
