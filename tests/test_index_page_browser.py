"""outputs/index.html in headless Chromium (it renders, sorting and filtering work, links resolve), and a real
run end to end: environment.txt, plots/model.png in report.html, index.html rewritten when the run ends."""
import re
import shutil
import subprocess

import pytest

from conftest import last_line, run_script
from conftest import make_run
from utils.reports.index_page import write_index_page
from utils.runs.folder import RunFolder

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def browse(tmp_path, url: str, *extra) -> str:
    """The page's DOM after its script ran, from headless Chromium (or what `extra` asks for instead)."""
    profile = tmp_path / "profile"
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}", *(extra or ["--dump-dom"]), url],
        # stderr goes nowhere: Chromium's helper processes keep it open after the browser exits.
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=120, cwd=tmp_path,
    )
    assert result.returncode == 0
    return result.stdout


def visible_runs(dom: str) -> list:
    return re.findall(r'<tr><td>(?:<a href="[^"]*">)?([^<]+)<', dom)


def test_index_page_renders_sorts_filters_and_links_resolve_in_chromium(tmp_path):
    assert CHROMIUM, "chromium is needed for this test (apt-get install chromium)"
    outputs = tmp_path / "outputs"
    for name, accuracy in (("20261110-100000_conv_net", 0.91), ("20261111-100000_le_net", 0.95),
                           ("20261112-100000_mlp_small", 0.50)):
        folder = make_run(outputs, name, model=name.split("_", 1)[1], accuracy=accuracy,
                          started=f"2026-11-{name[6:8]}T10:00:00+00:00")
        RunFolder(folder).report.write_text("<html><body>report</body></html>")
    page = write_index_page(outputs).as_uri()

    assert visible_runs(browse(tmp_path, page)) == [  # newest first as written
        "20261112-100000_mlp_small", "20261111-100000_le_net", "20261110-100000_conv_net"]
    assert visible_runs(browse(tmp_path, page + "?sort=-test_accuracy")) == [
        "20261111-100000_le_net", "20261110-100000_conv_net", "20261112-100000_mlp_small"]
    assert visible_runs(browse(tmp_path, page + "?sort=model&filter=net")) == [
        "20261110-100000_conv_net", "20261111-100000_le_net"]
    dom = browse(tmp_path, page)
    links = re.findall(r'href="([^"]+)"', dom)
    assert len(links) == 3 and all((outputs / link).is_file() for link in links)
    browse(tmp_path, page, f"--screenshot={tmp_path / 'page.png'}", "--window-size=1200,600")
    assert (tmp_path / "page.png").stat().st_size > 5000  # something was drawn


def test_a_real_run_records_its_environment_draws_its_network_and_updates_the_index(tmp_path):
    result = run_script("xor", "--epochs", 1, "--outputs", tmp_path)
    assert result.returncode == 0, result.stderr
    folder = RunFolder(last_line(result.stdout))
    assert "keras==" in folder.environment.read_text()
    assert folder.figures.model.is_file() and 'alt="model"' in folder.report.read_text()
    page = (tmp_path / "index.html").read_text()
    assert f'href="{folder.name}/report.html"' in page
    listing = run_script("xor", "runs", "--html", "--outputs", tmp_path, "--format", "csv", "--columns", "run,status")
    assert listing.returncode == 0 and f"{folder.name},completed" in listing.stdout
