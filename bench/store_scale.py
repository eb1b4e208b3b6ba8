"""How the run store scales: `runs` over 10,000 and 100,000 generated run folders in a temporary folder, first
listing (no index yet) and cached, through the sqlite index of utils.runs.index, medians of --repeats.

    python bench/store_scale.py [--sizes 10000 100000] [--repeats 3] [--before COMMIT] [--json bench/store_scale.json]

Timed in-process (every row: load_rows, old and new; the newest 50: page_by_started, what `runs` shows) and as the
whole `python mnist.py runs --all-tasks` subprocess a user waits for (interpreter, imports, listing, printing 50
rows), with this checkout and with --before (default: the merge base with main) exported by git archive; the
command's cached figure also as the CPU seconds it used (user + system), which a loaded machine inflates far less
than its wall clock. Prints a table and the load average.
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from utils.runs import index  # noqa: E402
from utils.runs.folder import RunFolder  # noqa: E402

MODELS = ("conv_net", "le_net", "mlp_small", "mlp_large")


# ---------------------------------------------------------------- a generated store
def make_store(outputs: Path, size: int) -> None:
    """`size` run folders shaped as the engine writes them (run.json, history.csv, environment.txt)."""
    outputs.mkdir(parents=True, exist_ok=True)
    for number in range(size):
        model = MODELS[number % len(MODELS)]
        day, second = divmod(number, 86400)
        started = f"2026-{1 + day // 28 % 12:02d}-{1 + day % 28:02d}T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}+00:00"
        name = f"{started[:10].replace('-', '')}-{second:06d}_{model}"
        folder = RunFolder(outputs / name)
        folder.path.mkdir()
        accuracy = 0.5 + (number % 500) / 1000
        record = {
            "run_id": name, "format": 2, "task": "mnist" if number % 5 else "churn", "model": model, "status": "completed",
            "command": "python mnist.py", "hyperparameters": {"epochs": 2, "batch_size": 32, "learning_rate": 0.001,
                                                            "optimizer": "adam", "seed": number},
            "data": {"name": "mnist_5k", "source": "idx", "sha256": "ab" * 32, "sizes": {"train": 4500, "validation": 500}},
            "parameters": 93322, "environment": {"python": "3.11.7", "keras": "3.15.0", "git_commit": "abc123",
                                                 "hostname": "bench", "pid": 1},
            "started": started, "ended": started, "epochs_completed": 2, "seconds_per_epoch": [1.0, 2.0],
            "best": {"metric": "val_accuracy", "value": accuracy - 0.01, "epoch": 2},
            "test_metrics": {"test_accuracy": accuracy, "test_loss": 0.3}, "resumes": [], "tags": {},
        }
        folder.run_file.write_text(json.dumps(record, indent=2))
        folder.history.write_text("epoch,accuracy,val_accuracy\n1,0.5,0.6\n2,0.7,0.8\n")


def drop_caches(outputs: Path) -> None:
    for path in outputs.iterdir():
        if path.name.startswith(".runs-index"):
            path.unlink()


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def listing_seconds(load, outputs: Path, repeats: int) -> dict:
    """Median seconds of a first listing (no index file) and of a cached one, in this process."""
    first, cached = [], []
    for _ in range(repeats):
        drop_caches(outputs)
        first.append(timed(lambda: load(outputs)))
        cached.append(timed(lambda: load(outputs)))
    return {"first": statistics.median(first), "cached": statistics.median(cached)}


def command_seconds(outputs: Path, repeats: int, project: Path = PROJECT) -> dict:
    """Median seconds of the whole `python mnist.py runs` command of `project`, first (no index) and cached."""
    command = [sys.executable, str(project / "mnist.py"), "runs", "--all-tasks", "--outputs", str(outputs)]

    def run():
        subprocess.run(command, cwd=project, stdout=subprocess.DEVNULL, check=True, timeout=900)

    first, cached, cpu = [], [], []
    for _ in range(repeats):
        drop_caches(outputs)
        first.append(timed(run))
        before = children_cpu_seconds()
        cached.append(timed(run))
        cpu.append(children_cpu_seconds() - before)
    return {"first": statistics.median(first), "cached": statistics.median(cached), "cached_cpu": statistics.median(cpu)}


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def export(commit: str, folder: Path) -> Path:
    """`commit` of this repository, exported (git archive) into `folder`."""
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", commit], cwd=PROJECT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def merge_base() -> str:
    return subprocess.run(["git", "merge-base", "HEAD", "main"], cwd=PROJECT, capture_output=True, text=True,
                          check=True).stdout.strip()


def measure(outputs: Path, size: int, repeats: int, before: Path) -> dict:
    build = timed(lambda: make_store(outputs, size))
    newest = lambda folder: index.page_by_started(folder, None, 50)  # noqa: E731
    return {"size": size, "build_seconds": round(build, 1),
            "sqlite": listing_seconds(index.load_rows, outputs, repeats),
            "sqlite_newest_50": listing_seconds(newest, outputs, repeats),
            "command_before": command_seconds(outputs, repeats, before),
            "command": command_seconds(outputs, repeats), "load_average": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000], metavar="N",
                        help="store sizes to time (default: 10000 100000)")
    parser.add_argument("--repeats", type=int, default=3, metavar="N", help="repetitions per figure (default: 3)")
    parser.add_argument("--before", metavar="COMMIT", help="the code to compare the command with (default: the "
                        "merge base with main)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON here")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="store_scale_") as scratch:
        before = export(args.before or merge_base(), Path(scratch) / "before")
        for size in args.sizes:
            outputs = Path(scratch) / f"store_{size}"
            results.append(measure(outputs, size, args.repeats, before))
            print(json.dumps(results[-1]), flush=True)
            shutil.rmtree(outputs)
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


def print_table(results) -> None:
    """First / cached seconds of each figure, one line per store size."""
    figures = ("sqlite", "sqlite_newest_50", "command_before", "command")
    print(f"\n{'runs':>8}  " + "  ".join(f"{name + ' first/cached':>28}" for name in figures)
          + "  cached CPU before/after  load average")
    for result in results:
        cells = "  ".join(f"{result[name]['first']:>13.2f} / {result[name]['cached']:<12.2f}" for name in figures)
        cpu = f"{result['command_before']['cached_cpu']:>11.2f} / {result['command']['cached_cpu']:<11.2f}"
        print(f"{result['size']:>8}  {cells}  {cpu}  " + " ".join(f"{value:.2f}" for value in result["load_average"]))


if __name__ == "__main__":
    main()
