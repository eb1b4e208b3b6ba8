"""How long `predict` (two churn rows) and `evaluate` take as whole commands, side by side with `python -c "import
keras"` (the floor every Keras command pays), for this checkout and for --before (default: the merge base with main,
exported by git archive), medians of --repeats, interleaved so that both see the same load.

    python bench/predict_latency.py [--data data/Churn_Modelling.csv] [--repeats 3] [--json bench/predict_latency.json]

It first trains one churn run (1 epoch) in a temporary outputs folder; both versions predict and evaluate that run.
Prints the medians and each command's seconds over `import keras`, with the load average.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
DATA_CANDIDATES = (PROJECT / "data" / "Churn_Modelling.csv", PROJECT.parent / "shared" / "data" / "Churn_Modelling.csv")


def seconds(command, cwd) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=900)
    return time.perf_counter() - start


def export(commit: str, folder: Path) -> Path:
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", commit], cwd=PROJECT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def merge_base() -> str:
    return subprocess.run(["git", "merge-base", "HEAD", "main"], cwd=PROJECT, capture_output=True, text=True,
                          check=True).stdout.strip()


def train_run(data: Path, outputs: Path) -> Path:
    subprocess.run([sys.executable, "churn.py", "--epochs", "1", "--data", str(data), "--outputs", str(outputs)],
                   cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=900)
    return next(path for path in outputs.iterdir() if path.is_dir() and not path.name.startswith("."))


def commands(run: Path, rows: Path, outputs: Path) -> dict:
    churn = [sys.executable, "churn.py"]
    return {"import keras": [sys.executable, "-c", "import keras"],
            "predict": [*churn, "predict", str(run), str(rows), "--outputs", str(outputs)],
            "evaluate": [*churn, "evaluate", str(run), "--outputs", str(outputs)]}


def measure(run: Path, rows: Path, outputs: Path, before: Path, repeats: int) -> dict:
    """{version: {command: median seconds}}, each repetition running every command of both versions once."""
    times = {version: {name: [] for name in commands(run, rows, outputs)} for version in ("before", "after")}
    for _ in range(repeats):
        for version, project in (("before", before), ("after", PROJECT)):
            for name, command in commands(run, rows, outputs).items():
                times[version][name].append(seconds(command, project))
    return {version: {name: statistics.median(values) for name, values in by_name.items()}
            for version, by_name in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, metavar="CSV", help="the churn CSV (default: data/, then ../shared/data/)")
    parser.add_argument("--repeats", type=int, default=3, metavar="N", help="repetitions (default: 3)")
    parser.add_argument("--before", metavar="COMMIT", help="the code to compare with (default: merge base with main)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON here")
    args = parser.parse_args()
    data = args.data or next((path for path in DATA_CANDIDATES if path.is_file()), None)
    if data is None or not data.is_file():
        sys.exit("predict_latency.py: no churn CSV; pass --data PATH.")
    with tempfile.TemporaryDirectory(prefix="predict_latency_") as scratch:
        scratch = Path(scratch)
        before = export(args.before or merge_base(), scratch / "before")
        outputs = scratch / "outputs"
        run = train_run(data, outputs)
        rows = scratch / "two_rows.csv"
        rows.write_text("".join(data.read_text().splitlines(keepends=True)[:3]))
        medians = measure(run, rows, outputs, before, args.repeats)
    result = {"medians": medians, "repeats": args.repeats, "load_average": os.getloadavg()}
    print(f"{'version':<8} {'import keras':>12} {'predict':>8} {'(over import)':>13} {'evaluate':>9} {'(over import)':>13}")
    for version, figures in medians.items():
        floor = figures["import keras"]
        print(f"{version:<8} {floor:>12.2f} {figures['predict']:>8.2f} {figures['predict'] - floor:>+13.2f} "
              f"{figures['evaluate']:>9.2f} {figures['evaluate'] - floor:>+13.2f}")
    print("load average " + " ".join(f"{value:.2f}" for value in result["load_average"]))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
