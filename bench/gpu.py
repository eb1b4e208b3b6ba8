"""conv_net on a GPU: the runner with and without --jit and --mixed-precision, beside bare Keras and PyTorch.

    python bench/gpu.py                                  # full Fashion-MNIST, 3 epochs, 2 repetitions
    python bench/gpu.py --data-dir DIR --results PATH    # IDX files elsewhere; raw figures elsewhere

Every contender is its own process (bench/run.py's child runner), alternating within each repetition. The runner
and bare Keras use whichever Keras backend KERAS_BACKEND names (the GPU machines lent here have JAX's CUDA build
and no TensorFlow, so this sets jax unless told otherwise); PyTorch runs with --device cuda. Writes a JSON of every
run; `--markdown` also rewrites the GPU section of BENCHMARKS.md (between the markers below).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from bench.run import (  # noqa: E402  (the path above makes bench/ importable when run as a script)
    BARE, FASHION_DIR, GPU, RUNNER, TORCH, Run, Settings, execute, fmt, ratio, rotated, section_between, table,
)

MODEL = "conv_net"
# Runner variants: label -> extra flags. Under JAX, --no-jit runs every op eagerly (JAX's only alternative to jit).
VARIANTS = {
    "runner": [],
    "runner --mixed-precision": ["--mixed-precision"],
    "runner --no-jit": ["--no-jit"],
    "runner --no-jit --mixed-precision": ["--no-jit", "--mixed-precision"],
}
EAGER = ("runner --no-jit", "runner --no-jit --mixed-precision")


@dataclass(frozen=True)
class GpuSettings:
    data_dir: Path
    epochs: int
    eager_epochs: int  # eager steps are slow; two epochs give one steady epoch
    reps: int
    child_timeout_s: int
    limit: int = None  # train on the first N images only (a smoke test of this script)


def device_description() -> dict:
    found = {"keras_backend": os.environ.get("KERAS_BACKEND", "tensorflow")}
    try:
        found["gpu"] = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        found["gpu"] = None
    for package in ("keras", "jax", "jaxlib", "tensorflow", "torch"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            pass
    return found


def commands(settings: GpuSettings, outputs: Path) -> dict:
    data = ["--data-dir", str(settings.data_dir), *(["--limit", str(settings.limit)] if settings.limit else [])]
    found = {}
    for label, flags in VARIANTS.items():
        epochs = settings.eager_epochs if label in EAGER else settings.epochs
        found[label] = [sys.executable, "mnist.py", "-m", MODEL, "--dataset", "fashion_mnist", *data,
                        "--epochs", str(epochs), "--outputs", str(outputs), "--quiet", *flags]
    found[BARE] = [sys.executable, "bench/bare_keras.py", "--task", "mnist", "--model", MODEL, *data,
                   "--epochs", str(settings.epochs)]
    found[TORCH] = [sys.executable, "bench/torch_mnist.py", "--model", MODEL, *data, "--epochs", str(settings.epochs),
                    "--device", "cuda"]
    return found


def run_all(settings: GpuSettings, results_path: Path) -> list:
    scratch = Path(tempfile.mkdtemp(prefix="bench-gpu-"))
    child_settings = Settings(None, settings.epochs, settings.reps, 0, 0, 0, (), 0, settings.child_timeout_s)
    plan = commands(settings, scratch / "runs")
    runs = []
    for rep in range(settings.reps):
        # The eager variants are slow and their steady epoch barely varies: one repetition is enough.
        labels = [label for label in plan if rep == 0 or label not in EAGER]
        for label in rotated(labels, rep):
            run = Run("gpu", RUNNER if label.startswith("runner") else label, label, rep, plan[label])
            runs.append(execute(run, child_settings, scratch / "child"))
            save(runs, results_path)
    return runs


def save(runs: list, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"machine": device_description(), "written": datetime.now().astimezone().isoformat(timespec="seconds"),
            "runs": [run.to_json() for run in runs]}
    path.write_text(json.dumps(data, indent=1))


def median(values):
    values = [value for value in values if value is not None]
    return statistics.median(values) if values else None


def render(results: dict) -> str:
    """The BENCHMARKS.md section for a results JSON written by this script."""
    runs = [run for run in results["runs"] if run["ok"]]
    labels = list(dict.fromkeys(run["model"] for run in results["runs"]))
    steady = {label: median(run["steady_epoch_seconds"] for run in runs if run["model"] == label) for label in labels}
    throughput = {label: median(run["samples_per_second"] for run in runs if run["model"] == label) for label in labels}
    rows = []
    for label in labels:
        mine = [run for run in runs if run["model"] == label]
        if not mine:
            rows.append([label, "failed", "", "", "", "", ""])
            continue
        rows.append([
            label, str(len(mine)), fmt(steady[label], 2, " s"),
            fmt(throughput[label], 0),
            fmt(median(run["first_epoch_seconds"] for run in mine), 1, " s"),
            ratio(throughput[label], throughput.get(BARE)),
            fmt(median(run["test_accuracy"] for run in mine) * 100 if median(run["test_accuracy"] for run in mine) else None, 2, " %"),
        ])
    machine = results["machine"]
    versions = ", ".join(f"{key} {value}" for key, value in machine.items() if key not in ("gpu",) and value)
    failures = [f"- {run['model']} rep {run['rep'] + 1}: {run['error'].splitlines()[0] if run['error'] else 'skipped'}"
                for run in results["runs"] if not run["ok"]]
    return "\n".join([
        GPU[0],
        "## conv_net on a GPU",
        "",
        f"Measured {results['written']} on {machine.get('gpu') or 'an unnamed GPU'} ({versions}) with "
        f"`python bench/gpu.py`: Fashion-MNIST, {sizes(runs)}, batch 256. Steady epoch = median of the epochs after the first (the first includes compilation); "
        "the eager variants ran 2 epochs once. samples/s = training samples / steady epoch (its validation "
        "included); the ratio is to bare Keras' samples/s on the same backend (higher is faster).",
        "",
        table(["contender", "runs", "steady epoch", "samples/s", "first epoch", "samples/s vs bare Keras", "test accuracy"], rows),
        *(["", "Failures:", *failures] if failures else []),
        "",
        "The runner and bare Keras ran on Keras' JAX backend (`KERAS_BACKEND=jax`, the same commands): the GPU "
        "machines lent here hold JAX's and PyTorch's CUDA builds but no TensorFlow, whose CUDA build is too large "
        "to carry there. Under JAX, `--no-jit` means op-by-op eager execution, JAX's only alternative to XLA, "
        "so it shows what compilation is worth rather than a setting anyone should use. The first epoch includes "
        "XLA's compilation of the training and validation steps.",
        GPU[1],
    ])


def sizes(runs: list) -> str:
    def of(contender):
        mine = [run for run in runs if run["contender"] == contender]
        return f"{mine[0]['train_samples']:,} train / {mine[0]['validation_samples']:,} validation images" if mine else None

    runner, bare = of(RUNNER), of(BARE)
    found = [f"the runner {runner} (its split of the training set)"] if runner else []
    if bare:
        found.append(f"bare Keras and PyTorch {bare} (validating on the test set each epoch, the tutorial's way)")
    return "; ".join(found)


def write_section(markdown_path: Path, section: str) -> None:
    """Replace the GPU block of the file (bench/run.py keeps it when it rewrites the rest), or append one."""
    text = markdown_path.read_text() if markdown_path.exists() else ""
    old = section_between(text, *GPU)
    markdown_path.write_text(text.replace(old, section) if old else text.rstrip("\n") + "\n\n" + section + "\n")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(FASHION_DIR), help="folder of the four Fashion-MNIST IDX .gz files")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images only (smoke test)")
    parser.add_argument("--timeout", type=int, default=240, help="seconds one contender may run")
    parser.add_argument("--results", default=str(PROJECT / "bench" / "gpu_results.json"))
    parser.add_argument("--markdown", default=None, help="rewrite this file's GPU section (e.g. BENCHMARKS.md)")
    parser.add_argument("--render", action="store_true", help="only render --results into --markdown; run nothing")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    results_path = Path(args.results)
    if not args.render:
        os.environ.setdefault("KERAS_BACKEND", "jax")
        settings = GpuSettings(Path(args.data_dir).resolve(), args.epochs, 2, args.reps, args.timeout, args.limit)
        started = time.perf_counter()
        run_all(settings, results_path)
        print(f"Wrote {results_path} in {(time.perf_counter() - started) / 60:.1f} minutes", flush=True)
    section = render(json.loads(results_path.read_text()))
    print(section)
    if args.markdown:
        write_section(Path(args.markdown), section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
