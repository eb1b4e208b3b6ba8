"""Benchmark sweeps: parallel workers against one, Ray's overhead per trial, and what pruning saves.

    python bench/sweeps.py                     # all three parts (about an hour on 2 shared cores)
    python bench/sweeps.py --parts workers     # 4 trials with --workers 2 against --workers 1 only

Every sweep runs as its own `python mnist.py ...` process, exactly as a user would type it. Prints one JSON object
and writes it to bench/sweeps_results.json; BENCHMARKS.md is written by hand from it.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

PROJECT = Path(__file__).resolve().parent.parent
# 4 trials of the issue: mlp_one_layer, Fashion-MNIST --limit 5000, 5 epochs.
TRIALS_GRID = ["--grid", "learning_rate=0.001,0.002,0.003,0.004"]
COMMON = ["--dataset", "fashion_mnist", "--limit", "5000", "--epochs", "5", "-m", "mlp_one_layer", "--quiet"]
SPACE = "learning_rate: {loguniform: [1.0e-5, 1.0e-1]}\nbatch_size: [32, 64, 128]\n"


def sweep(arguments, outputs) -> dict:
    """Run one sweep; its wall-clock seconds, and from trials.csv its trials' epochs and best objective."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, str(PROJECT / "mnist.py"), *arguments, "--outputs", str(outputs)],
                            cwd=PROJECT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"sweep failed ({result.returncode}): {result.stderr.strip()[-500:]}")
    [folder] = sorted(Path(outputs).glob("sweep_*"))
    trials = pd.read_csv(folder / "trials.csv")
    return {"seconds": round(seconds, 1), "trials": len(trials), "epochs": int(trials["epochs"].sum()),
            "pruned": int((trials["status"] == "pruned").sum()), "best": float(trials["objective"].max()),
            "trial_seconds": [float(value) for value in trials["seconds"]]}


def workers_part(scratch) -> dict:
    one = sweep(TRIALS_GRID + COMMON + ["--workers", "1"], scratch / "workers1")
    two = sweep(TRIALS_GRID + COMMON + ["--workers", "2"], scratch / "workers2")
    return {"workers_1": one, "workers_2": two, "ratio_2_over_1": round(two["seconds"] / one["seconds"], 3)}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ray_part(scratch, local_seconds) -> dict:
    """The same 4 trials on a local 2-CPU Ray head; overhead per trial against the local --workers 2 sweep."""
    port = free_port()
    head = subprocess.Popen([str(Path(sys.executable).parent / "ray"), "start", "--head", "--port", str(port),
                             "--num-cpus", "2", "--include-dashboard=false", "--disable-usage-stats",
                             "--temp-dir", str(scratch / "ray"), "--block"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(120):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(1)
        run = sweep(TRIALS_GRID + COMMON + ["--executor", "ray", "--ray-address", f"127.0.0.1:{port}"], scratch / "ray_out")
    finally:
        head.send_signal(signal.SIGTERM)
        head.wait(timeout=60)
    return {"ray": run, "overhead_seconds_per_trial": round((run["seconds"] - local_seconds) / run["trials"], 1)}


def pruning_part(scratch) -> dict:
    space = scratch / "space.yaml"
    space.write_text(SPACE)
    search = ["--search", "tpe", "--trials", "20", "--space", str(space), "--workers", "2"] + COMMON
    plain = sweep(search, scratch / "no_pruning")
    pruned = sweep(search + ["--prune", "median"], scratch / "median")
    return {"no_pruning": plain, "median": pruned,
            "epochs_saved_fraction": round(1 - pruned["epochs"] / plain["epochs"], 3)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", choices=["workers", "ray", "pruning"], default=["workers", "ray", "pruning"])
    args = parser.parse_args(argv)
    results = {"cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench_sweeps_") as scratch:
        scratch = Path(scratch)
        if "workers" in args.parts or "ray" in args.parts:
            results["workers"] = workers_part(scratch)
        if "ray" in args.parts:
            results["ray"] = ray_part(scratch, results["workers"]["workers_2"]["seconds"])
        if "pruning" in args.parts:
            results["pruning"] = pruning_part(scratch)
    text = json.dumps(results, indent=2)
    (PROJECT / "bench" / "sweeps_results.json").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
