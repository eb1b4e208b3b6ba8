"""--distribute multi-worker against one process, in training samples per second (conv_net, Fashion-MNIST).

    python bench/multiworker.py                 # CPU: 2 processes x 1 core (taskset) vs 1 process x 2 cores
    python bench/multiworker.py --gpu           # GPUs: N processes, one GPU each, vs 1 process on one GPU
    python bench/multiworker.py --limit 5000 --epochs 3 --reps 1 --batch-size 256

Every process is mnist.py itself under KERAS_BACKEND=jax, on 127.0.0.1. The figure is the training samples of a
steady epoch (every epoch after the first, which compiles) over its seconds, from process 0's run.json; the
whole command's wall time is reported beside it. Prints one JSON document; BENCHMARKS.md is not touched.
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def mnist_command(settings, outputs: Path) -> list:
    command = [sys.executable, str(PROJECT / "mnist.py"), "-m", "conv_net", "--dataset", "fashion_mnist",
               "--epochs", str(settings.epochs), "--batch-size", str(settings.batch_size), "--outputs", str(outputs),
               "--quiet"]
    return command + (["--limit", str(settings.limit)] if settings.limit else [])


def launch(settings, placements: list, outputs: Path) -> dict:
    """One job: a process per placement (a CPU list for taskset, or a GPU number); its figures from run.json."""
    port = free_port()
    processes = []
    for index, placement in enumerate(placements):
        command = mnist_command(settings, outputs)
        environment = {**os.environ, "KERAS_BACKEND": "jax"}
        if len(placements) > 1:
            command += ["--distribute", "multi-worker", "--coordinator", f"127.0.0.1:{port}",
                        "--num-processes", str(len(placements)), "--process-id", str(index)]
        if settings.gpu:
            environment["CUDA_VISIBLE_DEVICES"] = str(placement)
        else:
            command = ["taskset", "-c", placement, *command]
        processes.append(subprocess.Popen(command, cwd=PROJECT, env=environment, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True))
    start = time.perf_counter()
    outcomes = [process.communicate(timeout=settings.timeout) for process in processes]
    wall = time.perf_counter() - start
    failed = [(process.returncode, stderr[-400:]) for process, (_, stderr) in zip(processes, outcomes) if process.returncode]
    if failed:
        raise SystemExit(f"a benchmark job failed: {failed}")
    folder = Path(outcomes[0][0].strip().splitlines()[-1])
    record = json.loads((folder / "run.json").read_text())
    steady = record["seconds_per_epoch"][1:] or record["seconds_per_epoch"]
    seconds = statistics.median(steady)
    return {"processes": len(placements), "placements": placements, "wall_seconds": round(wall, 2),
            "steady_epoch_seconds": round(seconds, 3),
            "samples_per_second": round(record["data"]["sizes"]["train"] / seconds, 1),
            "test_accuracy": record["test_metrics"]["test_accuracy"], "world": record.get("world")}


def gpu_count() -> int:
    listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=60).stdout
    return sum(1 for line in listing.splitlines() if line.startswith("GPU "))


def contenders(settings) -> dict:
    """label -> placements: each job's processes, where they run."""
    if settings.gpu:
        count = gpu_count()
        if count < 2:
            raise SystemExit(f"--gpu compares 1 GPU with N; this machine has {count}.")
        return {"1 process, 1 GPU": [0], f"{count} processes, 1 GPU each": list(range(count))}
    cores = sorted(os.sched_getaffinity(0))[:2]
    return {"1 process x 2 cores": [f"{cores[0]},{cores[1]}"],
            "2 processes x 1 core": [str(cores[0]), str(cores[1])]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpu", action="store_true", help="1 GPU against one process per GPU")
    parser.add_argument("--limit", type=int, default=None,
                        help="training images (default: 5000 on CPUs, all on GPUs)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per job (default: 3)")
    parser.add_argument("--batch-size", type=int, default=256, help="the global batch (default: 256)")
    parser.add_argument("--reps", type=int, default=1, help="repetitions, alternating the contenders (default: 1)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per job (default: 1800)")
    settings = parser.parse_args()
    if settings.limit is None and not settings.gpu:
        settings.limit = 5000
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-multiworker-") as scratch:
        for rep in range(settings.reps):
            jobs = list(contenders(settings).items())
            for label, placements in (jobs if rep % 2 == 0 else jobs[::-1]):
                results.append({"label": label, "rep": rep,
                                **launch(settings, placements, Path(scratch) / f"{rep}-{len(results)}")})
    summary = {}
    for label in dict.fromkeys(result["label"] for result in results):
        summary[label] = statistics.median(r["samples_per_second"] for r in results if r["label"] == label)
    print(json.dumps({"settings": vars(settings), "machine": {"cpus": os.cpu_count(), "load": os.getloadavg()},
                      "samples_per_second": summary, "runs": results}, indent=2))


if __name__ == "__main__":
    main()
