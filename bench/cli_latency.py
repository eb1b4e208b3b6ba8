"""How fast the command line answers: median of 5 runs of each fast command, before (the commit this branch left
main at, exported to a temporary folder) and after (this checkout), plus `--runs` over a generated store of
10,000 run folders (hard-linked copies of real run folders, each with its own run id): first listing (the index is
built) and second (cached).

    python bench/cli_latency.py --runs-from outputs/ [--repeats 5] [--store-size 10000] [--json results.json]

--runs-from must hold at least two real run folders (e.g. `python xor.py --epochs 2` twice). Prints a table; the
numbers are wall-clock seconds of whole subprocesses, as a user waits for them.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def seconds(command, cwd) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    return time.perf_counter() - start


def median_seconds(command, cwd, repeats: int) -> float:
    return statistics.median(seconds(command, cwd) for _ in range(repeats))


def export_before(folder: Path) -> Path:
    """The merge base with main, exported (git archive) into `folder`: the code as it was before this branch."""
    commit = subprocess.run(["git", "merge-base", "HEAD", "main"], cwd=PROJECT, capture_output=True, text=True,
                            check=True).stdout.strip()
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", commit], cwd=PROJECT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def fast_commands(runs: list, outputs: Path) -> dict:
    python = sys.executable
    return {
        "--help": [python, "xor.py", "--help"],
        "--list": [python, "mnist.py", "--list"],
        "--runs": [python, "xor.py", "--runs", "--outputs", str(outputs)],
        "-m typo": [python, "mnist.py", "-m", "conv_nett"],
        "--diff": [python, "xor.py", "--diff", str(runs[0]), str(runs[1]), "--outputs", str(outputs)],
    }


def generate_store(sources: list, target: Path, size: int) -> Path:
    """`size` run folders: hard links to the files of `sources`, each with its own run.json (a new run id)."""
    target.mkdir(parents=True)
    records = [json.loads((source / "run.json").read_text()) for source in sources]
    for index in range(size):
        source, record = sources[index % len(sources)], dict(records[index % len(sources)])
        name = f"20260101-{index // 60:04d}{index % 60:02d}_{record.get('model', 'run')}_{index}"
        folder = target / name
        shutil.copytree(source, folder, copy_function=os.link, ignore=shutil.ignore_patterns("run.json", ".lock"))
        record["run_id"] = name
        (folder / "run.json").write_text(json.dumps(record))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-from", type=Path, required=True, metavar="DIR")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--store-size", type=int, default=10_000)
    parser.add_argument("--json", type=Path, metavar="FILE")
    parser.add_argument("--no-before", action="store_true", help="measure this checkout only")
    options = parser.parse_args()
    runs = sorted(path for path in options.runs_from.iterdir() if (path / "run.json").is_file())
    if len(runs) < 2:
        parser.error(f"{options.runs_from} holds {len(runs)} run folders; train two tiny runs first")
    results = {"load_average": os.getloadavg(), "cpus": os.cpu_count(), "repeats": options.repeats}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        before = export_before(scratch / "before")
        (before / "data").mkdir(exist_ok=True)
        small_store = generate_store(runs[:3], scratch / "small", 3)
        small_runs = sorted(small_store.iterdir())
        commands = fast_commands(small_runs, small_store)
        results["fast"] = {}
        for name, command in commands.items():
            after = median_seconds(command, PROJECT, options.repeats)
            old = median_seconds(command, before, options.repeats) if name != "--diff" and not options.no_before else None
            results["fast"][name] = {"before": old, "after": after}
            print(f"{name:10} before {old if old is None else round(old, 2)!s:>6} s   after {after:6.2f} s", flush=True)
        store = generate_store(runs, scratch / "store", options.store_size)
        listing = [sys.executable, "xor.py", "--runs", "--outputs", str(store)]
        results["store"] = {"runs": options.store_size, "first": seconds(listing, PROJECT),
                            "second": median_seconds(listing, PROJECT, options.repeats)}
        results["store"]["before"] = None if options.no_before else seconds(listing, before)
        print(f"--runs over {options.store_size:,} runs: first (index build) {results['store']['first']:.2f} s, "
              f"cached {results['store']['second']:.2f} s; before {results['store']['before']} s")
    if options.json:
        options.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
