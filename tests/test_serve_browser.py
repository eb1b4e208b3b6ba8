"""`serve` in headless Chromium (Selenium with the system chromedriver): the table renders and filters, a run that
trains in the background shows each new epoch without a reload, two runs ticked give a comparison, a note of
<script>...</script> stays text, a missing run is a 404 page. One server and one browser for the whole module."""
import shutil
import subprocess
import sys
import time

import pytest

from conftest import PROJECT, free_port, make_run, set_record

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")
XSS = "<script>alert(1)</script>"
RUNNING = "20261114-100000_conv_net_live"
WAIT = 10  # seconds any one page change may take here (the ≤ 2 s goal is measured by bench/serve_latency.py)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    outputs = tmp_path_factory.mktemp("serve-browser") / "outputs"
    for day, model, accuracy in ((10, "conv_net", 0.91), (11, "le_net", 0.95), (12, "mlp_small", 0.50)):
        make_run(outputs, f"202611{day}-100000_{model}", model=model, accuracy=accuracy, learning_rate=0.001 * (day - 9),
                 started=f"2026-11-{day}T10:00:00+00:00")
    set_record(outputs / "20261110-100000_conv_net", notes=[{"text": XSS}])
    running = make_run(outputs, RUNNING, status="running", started="2026-11-14T10:00:00+00:00")
    set_record(running, hyperparameters={"epochs": 5}, epochs_completed=0, seconds_per_epoch=[], best=None,
               test_metrics=None)
    (running / "history.csv").write_text("epoch,accuracy,val_accuracy,loss\n")
    return outputs


@pytest.fixture(scope="module")
def server(outputs):
    port = free_port()
    process = subprocess.Popen([sys.executable, str(PROJECT / "mnist.py"), "serve", "--outputs", str(outputs),
                                "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = process.stdout.readline()
    assert line.startswith("serving 4 runs"), line + process.stdout.read()
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(30)


@pytest.fixture(scope="module")
def trainer(outputs):
    """A fake training process on RUNNING: holds its lock; each line written to it finishes one epoch."""
    process = subprocess.Popen([sys.executable, str(PROJECT / "bench" / "serve_latency.py"), "--train",
                                str(outputs / RUNNING)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "locked"
    yield process
    process.stdin.close()
    process.wait(30)


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM and CHROMEDRIVER, "needs chromium and chromedriver (apt-get install chromium chromium-driver)"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def wait_for(condition, what: str):
    """condition()'s first true value within WAIT seconds (it is asked every 50 ms)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {WAIT} s: {what}")


def shown_runs(driver) -> list:
    return driver.execute_script("return Array.from(document.querySelectorAll('#rows tr'), row => row.dataset.run)")


def texts(driver, selector: str) -> list:
    """The text of every element `selector` finds, read in one script: the page's poll may swap them any time."""
    return driver.execute_script("return Array.from(document.querySelectorAll(arguments[0]), e => e.textContent)",
                                 selector)


def test_the_table_renders_and_filters(browser, server):
    browser.get(server + "/")
    assert shown_runs(browser) == [RUNNING, "20261112-100000_mlp_small", "20261111-100000_le_net",
                                   "20261110-100000_conv_net"]
    box = browser.find_element("name", "where")
    box.send_keys("model~net test_accuracy>0.9")
    box.submit()
    wait_for(lambda: shown_runs(browser) == ["20261111-100000_le_net", "20261110-100000_conv_net"], "the filtered rows")
    assert "2 of 4 runs match" in browser.find_element("id", "counts").text


def test_a_run_training_in_the_background_shows_each_new_epoch_without_a_reload(browser, server, trainer):
    browser.get(f"{server}/run/{RUNNING}")
    assert texts(browser, "#epoch") == ["0/5"] and texts(browser, "#status") == ["running"]
    for epoch in (1, 2):
        trainer.stdin.write("\n")
        trainer.stdin.flush()
        assert trainer.stdout.readline().strip() == f"epoch {epoch}"
        wait_for(lambda: texts(browser, "#epoch") == [f"{epoch}/5"], f"epoch {epoch} on the page")
    points = browser.execute_script("return Array.from(document.querySelectorAll("
                                    "'#charts svg[aria-label=accuracy] g.series'), line => line.dataset.points)")
    assert points == ["2", "2"]  # train and validation
    browser.get(server + "/")
    row = f'#rows tr[data-run="{RUNNING}"] td.num'
    assert texts(browser, row)[0] == "2/5"
    trainer.stdin.write("\n")
    trainer.stdin.flush()
    trainer.stdout.readline()
    wait_for(lambda: texts(browser, row)[0] == "3/5", "the table's epoch count")
    assert texts(browser, row)[-1] == "2s"  # the ETA: 2 epochs left at the steady 1 s


def test_two_runs_ticked_give_a_comparison(browser, server):
    browser.get(server + "/")
    for name in ("20261110-100000_conv_net", "20261111-100000_le_net"):
        browser.find_element("css selector", f'input[type=checkbox][value="{name}"]').click()
    browser.find_element("css selector", "#pick button").click()
    wait_for(lambda: "/compare" in browser.current_url, "the comparison page")
    heads = [cell.text for cell in browser.find_elements("css selector", "#comparison thead th")][1:]
    # in the table's order, the first ticked the baseline until another is pinned
    assert len(heads) == 2 and "20261111-100000_le_net" in heads[0] and heads[0].endswith("baseline")
    assert "20261110-100000_conv_net" in heads[1] and heads[1].endswith("pin as baseline")
    assert texts(browser, "#comparison-rows th")[:2] == ["learning_rate", "model"]  # only what differs, then results
    labels = set(browser.execute_script("return Array.from(document.querySelectorAll("
                                        "'#charts svg[aria-label=accuracy] g.series'), line => line.dataset.label)"))
    assert labels == {"conv_net train", "conv_net validation", "le_net train", "le_net validation"}


def test_a_note_with_a_script_tag_stays_text(browser, server):
    from selenium.common.exceptions import NoAlertPresentException

    browser.get(server + "/run/20261110-100000_conv_net")
    assert browser.find_element("css selector", "li.note").text == f"note: {XSS}"
    assert browser.execute_script("return document.querySelectorAll('li.note script').length") == 0
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text


def test_a_missing_run_is_a_404_page(browser, server):
    browser.get(server + "/run/20991231-000000_nosuch")
    assert browser.find_element("tag name", "h1").text == "Not found"
    assert "20991231-000000_nosuch" in browser.find_element("css selector", "p.error").text
