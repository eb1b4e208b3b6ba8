"""What `sweep --resume` of a finished sweep costs: the one-line answer (nothing to do) beside the driver's full
path that every such resume took before (TensorFlow, Optuna, the figures and report rendered again).

    python bench/sweep_resume.py [--repeats 3]

Makes one finished 2-trial XOR grid in a temporary folder, then alternates the two commands: the finished sweep as
it is, and the same sweep with trials.csv touched after its report (so the driver renders everything again, as it
did for every resume). Prints the medians, their ratio and the load average.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
SWEEP = ["sweep", "--grid", "learning_rate=0.1,0.05", "--epochs", "1", "--quiet"]


def xor(*arguments) -> float:
    """Seconds `python xor.py ARGUMENTS` takes as a user waits for it; its failure stops the bench."""
    started = time.perf_counter()
    subprocess.run([sys.executable, str(PROJECT / "xor.py"), *map(str, arguments)], cwd=PROJECT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, metavar="N", help="repetitions of each command (default: 3)")
    args = parser.parse_args()
    times = {"nothing to do": [], "rendered again": []}
    with tempfile.TemporaryDirectory(prefix="sweep_resume_") as outputs:
        xor(*SWEEP, "--outputs", outputs)
        [folder] = Path(outputs).glob("sweep_*")
        for _ in range(args.repeats):  # alternated, so a slow spell of a shared machine lands on both
            times["nothing to do"].append(xor("sweep", "--resume", folder))
            os.utime(folder / "trials.csv")  # newer than report.html: the driver's whole path runs
            times["rendered again"].append(xor("sweep", "--resume", folder, "--quiet"))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(f"{name:>15}: median {medians[name]:6.2f} s  ({', '.join(f'{value:.2f}' for value in values)})")
    print(f"{'ratio':>15}: {medians['rendered again'] / medians['nothing to do']:.1f}x  load average "
          + " ".join(f"{value:.2f}" for value in os.getloadavg()))


if __name__ == "__main__":
    main()
