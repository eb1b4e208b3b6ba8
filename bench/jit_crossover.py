"""Where XLA pays back on this machine: each workload trained by the runner with `--jit` and with `--no-jit`.

From each run's run.json: the first epoch (tracing and compiling included), the steady epoch (the median of the
later ones) and the finish (final save, test pass, figures). XLA's one-off cost is what it adds to the first
epoch beyond a steady one, plus what it adds to the finish; its saving is what it takes off each training step.
The crossover is one-off cost / saving per step: the number of training steps (steps per epoch x epochs) beyond
which a run with XLA ends sooner. Medians of --repeats, the two settings alternated.

    python bench/jit_crossover.py [--repeats 3] [--json PATH]
"""
import argparse
import json
import math
import os
import statistics
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
from bench.run import CHURN_CSV, FASHION_DIR, last_line, run_child  # noqa: E402  (the path above makes bench/ importable)

# (label, command, epochs): each trains at its model's defaults (batch size included) but for the epochs, enough
# for steady epochs to be measured.
WORKLOADS = (
    ("mlp_small, mnist_5k", ["mnist.py", "-m", "mlp_small", "--dataset", "mnist_5k"], 4),
    ("mlp_two_layers, Fashion 15,000",
     ["mnist.py", "-m", "mlp_two_layers", "--dataset", "fashion_mnist", "--data-dir", str(FASHION_DIR), "--limit", "15000"], 3),
    ("churn_mlp, batch 10", ["churn.py", "--data", str(CHURN_CSV), "--batch-size", "10"], 3),
    ("xor_mlp", ["xor.py"], 200),
)


def one_run(command: list, epochs: int, jit: bool, outputs: Path) -> dict:
    flag = "--jit" if jit else "--no-jit"
    child = run_child([sys.executable, *command, "--epochs", str(epochs), flag, "--outputs", str(outputs), "--quiet"],
                      1800, outputs / "scratch")
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} {flag} exited {child.returncode}:\n{child.stderr[-2000:]}")
    record = json.loads((Path(last_line(child.stdout)) / "run.json").read_text())
    if record["execution"]["jit_compile"] is not jit:
        raise SystemExit(f"{' '.join(command)} {flag} recorded jit_compile={record['execution']['jit_compile']}")
    seconds = record["seconds_per_epoch"]
    sizes = record["data"]["sizes"]
    return {"first": seconds[0], "steady": statistics.median(seconds[1:]), "finish": record["timing"]["finish_seconds"],
            "steps_per_epoch": math.ceil(sizes["train"] / record["hyperparameters"]["batch_size"]),
            "load": os.getloadavg()[0]}


def median(runs: list, key: str) -> float:
    return statistics.median(run[key] for run in runs)


def summary(label: str, jit_runs: list, plain_runs: list) -> dict:
    steps = jit_runs[0]["steps_per_epoch"]
    one_off = ((median(jit_runs, "first") - median(jit_runs, "steady"))
               - (median(plain_runs, "first") - median(plain_runs, "steady"))
               + median(jit_runs, "finish") - median(plain_runs, "finish"))
    saving = (median(plain_runs, "steady") - median(jit_runs, "steady")) / steps
    return {"workload": label, "steps_per_epoch": steps, "steady_jit": median(jit_runs, "steady"),
            "steady_plain": median(plain_runs, "steady"), "one_off_seconds": round(one_off, 3),
            "saving_ms_per_step": round(saving * 1000, 4),
            "crossover_steps": round(one_off / saving) if saving > 0 and one_off > 0 else None,
            "load": [run["load"] for run in jit_runs + plain_runs]}


def table(rows: list) -> str:
    lines = ["| workload | steps per epoch | steady epoch, XLA / none (s) | XLA's one-off cost (s) | saved per step (ms) "
             "| crossover (training steps) |", "|---|---|---|---|---|---|"]
    for row in rows:
        crossover = row["crossover_steps"] if row["crossover_steps"] is not None else "never (no saving)"
        lines.append(f"| {row['workload']} | {row['steps_per_epoch']} | {row['steady_jit']:.3f} / {row['steady_plain']:.3f} "
                     f"| {row['one_off_seconds']:.2f} | {row['saving_ms_per_step']:.3f} | {crossover} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per workload and setting (default: 3)")
    parser.add_argument("--only", nargs="*", help="workload labels starting with these words")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="jit-crossover-") as scratch:
        for label, command, epochs in WORKLOADS:
            if args.only and not any(label.startswith(word) for word in args.only):
                continue
            runs = {True: [], False: []}
            for rep in range(args.repeats):
                for jit in ((True, False) if rep % 2 == 0 else (False, True)):
                    runs[jit].append(one_run(command, epochs, jit, Path(scratch)))
                    print(f"  {label} jit={jit} rep {rep + 1}: {runs[jit][-1]}", flush=True)
            rows.append(summary(label, runs[True], runs[False]))
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
