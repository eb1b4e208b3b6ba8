"""How fast `serve` answers at 10,000 runs: first paint, and how long an epoch takes to reach the page.

    python bench/serve_latency.py [--runs 10000] [--repeats 5] [--markdown BENCHMARKS.md] [--no-chromium]
    python bench/serve_latency.py --train FOLDER     # the child: a fake trainer (see below)

Builds --runs fake run folders under /tmp (run.json, history.csv, environment.txt, as conftest.make_run writes
them), starts `mnist.py serve` on them twice (a cold start builds outputs/.runs-index.sqlite; a warm one finds it),
and measures, as medians of --repeats:
- start-up: from the process's creation to its "serving" line (the index loaded, the port bound);
- first paint: the first complete answer of `/` (the table's HTML) and of `/api/runs` (its JSON), uncached
  (a --where the server has not seen yet) and cached (polling the same page); with Chromium (Selenium and
  /usr/bin/chromedriver), the page's own first contentful paint and its load event;
- update latency: a fake trainer (the --train child: holds the run's lock as a real run does, appends one
  history.csv row and records the epoch in run.json per line on its stdin) appends an epoch; the time until
  `/api/run/NAME` shows it (the server's share), until the runs table's JSON shows the new epoch count, and, in
  Chromium, until the run page's own poll has drawn it (what a user sees);
- a new run folder: the time until the table's JSON lists it (the background index refresh).

Prints the figures with the load average and writes --json; --markdown rewrites the serve section of that file
(between the markers below, which bench/run.py keeps when it rewrites the rest) from templates/benchmarks.md.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from importlib import metadata
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from bench.run import GPU, SERVE, fill, section_between  # noqa: E402  (the path above makes bench/ importable)

CHROMEDRIVER = "/usr/bin/chromedriver"
RUNNING = "99990101-000000_conv_net_running"  # sorts first: the newest run, on the table's first page


# ---------------------------------------------------------------- the fake trainer (child process)
def fake_training(folder: Path) -> None:
    """Hold the run's lock and, per line read from stdin, finish one epoch as the engine does: the history row
    (flushed, as Keras' CSVLogger does), then run.json (atomically). Prints each epoch once it is written."""
    from utils.runs.folder import RunFolder
    from utils.runs.lock import RunLock
    from utils.runs.record import RunRecord

    with RunLock(folder, "train"):
        record = RunRecord.load(folder)
        record.mark("running")
        print("locked", flush=True)
        epoch = record.epochs_completed
        for _ in sys.stdin:
            epoch += 1
            logs = {"accuracy": 0.5 + epoch / 100, "val_accuracy": 0.5 + epoch / 110, "loss": 1 / epoch}
            with open(RunFolder(folder).history, "a") as history:
                history.write(f"{epoch},{logs['accuracy']},{logs['val_accuracy']},{logs['loss']}\n")
                history.flush()
            record.record_epoch(epoch, 1.0, logs)
            print(f"epoch {epoch}", flush=True)
        record.mark("completed")


# ---------------------------------------------------------------- building the store
def run_record(name: str, index: int, status: str = "completed", epochs: int = 2) -> dict:
    started = f"2026-{1 + index % 12:02d}-{1 + index % 28:02d}T{index % 24:02d}:00:00+00:00"
    return {
        "run_id": name, "format": 2, "task": "mnist", "model": ("conv_net", "le_net", "mlp_small")[index % 3],
        "status": status, "command": "python mnist.py",
        "hyperparameters": {"epochs": epochs, "batch_size": 32, "learning_rate": 0.001 * (1 + index % 7),
                            "optimizer": "adam"},
        "data": {"name": "fashion_mnist", "source": "idx", "sha256": "ab" * 32, "sizes": {"train": 270}},
        "parameters": 93322, "environment": {"python": "3.11", "hostname": "bench", "pid": 1},
        "started": started, "ended": started, "epochs_completed": 2 if status != "running" else 0,
        "seconds_per_epoch": [1.0, 2.0] if status != "running" else [], "best": None,
        "test_metrics": {"test_accuracy": round(0.5 + (index % 500) / 1000, 3), "test_loss": 0.3}, "resumes": [],
        "tags": {},
    }


def build_store(outputs: Path, count: int) -> Path:
    """`count` finished runs and one that is about to train (RUNNING); returns that one's folder."""
    from utils.runs.folder import RunFolder

    outputs.mkdir(parents=True)
    for index in range(count):
        name = f"2026{index:010d}_run"
        folder = RunFolder(outputs / name)
        folder.path.mkdir()
        folder.run_file.write_text(json.dumps(run_record(name, index)))
        folder.history.write_text("epoch,accuracy,val_accuracy,loss\n1,0.5,0.6,0.9\n2,0.7,0.8,0.6\n")
        folder.environment.write_text("keras==3.15.0\n")
    running = RunFolder(outputs / RUNNING)
    running.path.mkdir()
    record = run_record(RUNNING, 0, status="running", epochs=1000)
    record["started"] = "9999-01-01T00:00:00+00:00"
    running.run_file.write_text(json.dumps(record))
    running.history.write_text("epoch,accuracy,val_accuracy,loss\n")
    return running.path


# ---------------------------------------------------------------- measuring
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(outputs: Path) -> tuple:
    """(the server process, its base URL, seconds from creating the process to its "serving" line)."""
    port = free_port()
    began = time.perf_counter()
    process = subprocess.Popen([sys.executable, str(PROJECT / "mnist.py"), "serve", "--outputs", str(outputs),
                                "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               cwd=PROJECT)
    line = process.stdout.readline()
    if not line.startswith("serving"):
        process.kill()
        raise SystemExit(f"serve did not start: {line}{process.stdout.read()}")
    return process, f"http://127.0.0.1:{port}", time.perf_counter() - began


def stop(process) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


def fetch(url: str) -> tuple:
    """(seconds until the whole answer is read, the body)."""
    began = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        body = response.read()
    return time.perf_counter() - began, body


def fetch_json(url: str) -> dict:
    return json.loads(fetch(url)[1])


def wait_until(condition, timeout: float = 30.0, step: float = 0.02) -> float:
    """Seconds until condition() is true (polled every `step`)."""
    began = time.perf_counter()
    while not condition():
        if time.perf_counter() - began > timeout:
            raise SystemExit(f"gave up after {timeout} s")
        time.sleep(step)
    return time.perf_counter() - began


def first_paint(base: str, repeats: int) -> dict:
    figures = {"html_uncached": [], "json_uncached": [], "html_cached": [], "json_cached": []}
    for repeat in range(repeats):
        where = f"where=test_accuracy%3E0.{repeat + 1}"  # not seen before: filtered over every row
        figures["html_uncached"].append(fetch(f"{base}/?{where}")[0])
        figures["json_uncached"].append(fetch(f"{base}/api/runs?{where}&sort=-test_accuracy")[0])
        figures["html_cached"].append(fetch(f"{base}/")[0])
        figures["json_cached"].append(fetch(f"{base}/api/runs")[0])
    return figures


def epoch_latency(base: str, trainer, repeats: int) -> dict:
    """Append an epoch, then time (from the moment it is on disk) how long the server's JSON takes to show it."""
    figures = {"run_json": [], "table_json": []}
    for _ in range(repeats):
        done = fetch_json(f"{base}/api/run/{RUNNING}")["history_epochs"]
        trainer.stdin.write("\n")
        trainer.stdin.flush()
        trainer.stdout.readline()  # "epoch N": history.csv and run.json are written
        began = time.perf_counter()
        wait_until(lambda: fetch_json(f"{base}/api/run/{RUNNING}")["history_epochs"] > done)
        figures["run_json"].append(time.perf_counter() - began)
        expected = f"{done + 1}/1000"
        wait_until(lambda: any(row["epochs"] == expected for row in fetch_json(f"{base}/api/runs")["runs"]))
        figures["table_json"].append(time.perf_counter() - began)
    return figures


def new_run_latency(base: str, outputs: Path, repeats: int) -> list:
    """A run folder appears: seconds until the table's JSON lists it (the index refresh, then the next poll)."""
    from utils.runs.folder import RunFolder

    seconds = []
    for repeat in range(repeats):
        name = f"99980101-00000{repeat}_new"
        folder = RunFolder(outputs / name)
        folder.path.mkdir()
        record = run_record(name, repeat)
        record["started"] = f"9998-01-01T00:00:0{repeat}+00:00"
        folder.run_file.write_text(json.dumps(record))
        seconds.append(wait_until(lambda: any(row["run"] == name for row in fetch_json(f"{base}/api/runs")["runs"])))
    return seconds


# ---------------------------------------------------------------- in Chromium
def chromium(timeout: float = 60.0):
    """A headless Chromium under Selenium, or None (with the reason printed) where either is missing."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        print("Chromium figures skipped: pip install selenium", file=sys.stderr)
        return None
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if not binary or not Path(CHROMEDRIVER).is_file():
        print(f"Chromium figures skipped: needs chromium and {CHROMEDRIVER}", file=sys.stderr)
        return None
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.binary_location = binary
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(timeout)
    return driver


def browser_paint(driver, base: str, repeats: int) -> dict:
    figures = {"first_contentful_paint": [], "load_event": []}
    for _ in range(repeats):
        driver.get("about:blank")
        driver.get(f"{base}/")
        # headless Chromium may record the paint just after the load event: wait for its entry
        deadline = time.perf_counter() + 5
        while time.perf_counter() < deadline and not driver.execute_script(
                "return performance.getEntriesByName('first-contentful-paint').length"):
            time.sleep(0.05)
        timing = driver.execute_script(
            "var p = performance.getEntriesByName('first-contentful-paint')[0];"
            "var n = performance.getEntriesByType('navigation')[0];"
            "return [p ? p.startTime : null, n.loadEventEnd];")
        if timing[0] is not None:
            figures["first_contentful_paint"].append(timing[0] / 1000)
        figures["load_event"].append(timing[1] / 1000)
    return figures


def browser_epoch(driver, base: str, trainer, repeats: int) -> list:
    """On the run page: from an epoch on disk until the page's own poll has drawn it (the user's latency)."""
    driver.get(f"{base}/run/{RUNNING}")
    seconds = []
    for _ in range(repeats):
        before = driver.find_element("id", "epoch").text
        trainer.stdin.write("\n")
        trainer.stdin.flush()
        trainer.stdout.readline()
        began = time.perf_counter()
        wait_until(lambda: driver.find_element("id", "epoch").text != before, step=0.01)
        seconds.append(time.perf_counter() - began)
    return seconds


# ---------------------------------------------------------------- install weight
def requirement_closure(names) -> set:
    """The distributions `names` need, transitively (installed ones only; extras not followed)."""
    import re

    seen, todo = set(), [name.lower() for name in names]
    while todo:
        name = re.split(r"[\s\[<>=!~;]", todo.pop(), maxsplit=1)[0].lower().replace("_", "-")
        if not name or name in seen:
            continue
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        todo += [requirement for requirement in requires if "extra ==" not in requirement]
    return seen


def install_weight() -> dict:
    """What starlette and uvicorn add to requirements.txt's install: their own dependencies that the rest of
    requirements.txt does not already pull in, with the bytes their files take (what `du` of them says)."""
    import re

    others = [re.split(r"[\s\[<>=!~;]", line.strip(), maxsplit=1)[0]
              for line in (PROJECT / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    others = [name for name in others if name.lower() not in ("starlette", "uvicorn")]
    added = sorted(requirement_closure(["starlette", "uvicorn"]) - requirement_closure(others))
    sizes = {}
    for name in added:
        files = metadata.distribution(name).files or []
        sizes[name] = sum(Path(file.locate()).stat().st_size for file in files if Path(file.locate()).is_file())
    return sizes


# ---------------------------------------------------------------- the report
def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def milliseconds(values) -> str:
    return f"{median(values) * 1000:.0f} ms" if values else "–"


def render(results: dict) -> str:
    paint, browser = results["first_paint_warm"], results.get("browser") or {}
    weight = results["install_weight"]
    rows = [
        ("start-up, cold (builds the index)", f"{results['startup_cold']:.2f} s"),
        ("start-up, warm (index found)", f"{median(results['startup_warm']):.2f} s"),
        ("`/` HTML, a filter not seen before", milliseconds(paint["html_uncached"])),
        ("`/api/runs` JSON, a filter and sort not seen before", milliseconds(paint["json_uncached"])),
        ("`/` HTML, cached (polling the same page)", milliseconds(paint["html_cached"])),
        ("`/api/runs` JSON, cached", milliseconds(paint["json_cached"])),
        ("Chromium: first contentful paint of `/`", milliseconds(browser.get("first_contentful_paint"))),
        ("Chromium: load event of `/`", milliseconds(browser.get("load_event"))),
        ("epoch on disk → `/api/run/NAME` shows it", milliseconds(results["epoch"]["run_json"])),
        ("epoch on disk → `/api/runs` shows n/N", milliseconds(results["epoch"]["table_json"])),
        ("epoch on disk → the run page in Chromium has drawn it", milliseconds(browser.get("epoch"))),
        ("new run folder → `/api/runs` lists it", milliseconds(results["new_run"])),
    ]
    table = "\n".join(["| measure | median |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows)])
    packages = ", ".join(f"{name} {size / 1e6:.2f} MB" for name, size in weight.items())
    return "\n".join([SERVE[0], fill("serve", written=results["written"], runs=f"{results['runs']:,}",
                                      repeats=results["repeats"], load=results["load_average"], table=table,
                                      weight=f"{sum(weight.values()) / 1e6:.1f} MB", packages=packages or "none"),
                      SERVE[1]])


def write_section(markdown: Path, section: str) -> None:
    """Replace the serve block of the file, or add it before the GPU block (or at the end)."""
    text = markdown.read_text() if markdown.exists() else ""
    old = section_between(text, *SERVE)
    if old:
        text = text.replace(old, section)
    elif GPU[0] in text:
        text = text.replace(GPU[0], section + "\n\n" + GPU[0], 1)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    markdown.write_text(text)


# ---------------------------------------------------------------- main
def measure(root: Path, runs: int, repeats: int, use_chromium: bool) -> dict:
    outputs = root / "outputs"
    began = time.perf_counter()
    running = build_store(outputs, runs)
    print(f"built {runs:,} run folders in {time.perf_counter() - began:.1f} s", flush=True)
    results = {"runs": runs, "repeats": repeats, "load_average": " / ".join(f"{value:.2f}" for value in os.getloadavg())}
    server, base, results["startup_cold"] = start_server(outputs)
    stop(server)
    results["startup_warm"] = []
    for _ in range(repeats):
        server, base, seconds = start_server(outputs)
        results["startup_warm"].append(seconds)
        if len(results["startup_warm"]) < repeats:
            stop(server)
    trainer = subprocess.Popen([sys.executable, __file__, "--train", str(running)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, cwd=PROJECT)
    driver = None
    try:
        trainer.stdout.readline()  # "locked"
        results["first_paint_warm"] = first_paint(base, repeats)
        results["epoch"] = epoch_latency(base, trainer, repeats)
        results["new_run"] = new_run_latency(base, outputs, repeats)
        driver = chromium() if use_chromium else None
        if driver is not None:
            results["browser"] = {**browser_paint(driver, base, repeats),
                                  "epoch": browser_epoch(driver, base, trainer, repeats)}
    finally:
        if driver is not None:
            driver.quit()
        trainer.stdin.close()
        trainer.wait(30)
        stop(server)
    results["load_average_after"] = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    return results


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10000, help="fake run folders to build (default: 10000)")
    parser.add_argument("--repeats", type=int, default=5, help="repetitions of each measure (default: 5)")
    parser.add_argument("--no-chromium", action="store_true", help="skip the figures measured in Chromium")
    parser.add_argument("--json", default=str(PROJECT / "bench" / "serve_latency.json"), help="where the raw figures go")
    parser.add_argument("--markdown", default=None, help="rewrite this file's serve section (e.g. BENCHMARKS.md)")
    parser.add_argument("--keep", action="store_true", help="keep the folder of fake runs")
    parser.add_argument("--train", metavar="FOLDER", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.train:
        fake_training(Path(args.train))
        return 0
    root = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    try:
        results = measure(root, args.runs, args.repeats, not args.no_chromium)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    results["written"] = datetime.now().astimezone().isoformat(timespec="seconds")
    results["install_weight"] = install_weight()
    Path(args.json).write_text(json.dumps(results, indent=1))
    section = render(results)
    print(section)
    if args.markdown:
        write_section(Path(args.markdown), section)
        print(f"Wrote the serve section of {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
