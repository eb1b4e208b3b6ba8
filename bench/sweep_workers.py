"""A random search with warm sweep workers, beside a fresh process per trial and the floor.

    python bench/sweep_workers.py                              # 20 trials of mlp_small on mnist_5k, 5 epochs, 2 workers
    python bench/sweep_workers.py --trials 8 --epochs 3 --markdown BENCHMARKS.md

fresh: `mnist.py sweep --search random ... --workers 2` with RUNNER_SWEEP_FRESH_PROCESSES=1, a process per trial as
before warm workers; warm: the same command as it runs now (a warm worker per slot); floor: as many processes as
workers, each training its share of the trials in one loop with an in-memory Optuna study and bare Keras (the same
model and compile defaults, model.fit on the arrays with the runner's validation split; no run folders, reports or
journal). Each contender is timed from start to exit, one after another in this one run; the load average is read
before and after each. Writes a JSON of the figures; `--markdown` rewrites this benchmark's block of BENCHMARKS.md
(the prose is bench/templates/benchmarks.md's `@sweep_workers` section).
"""
import argparse
import csv
import json
import statistics
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from bench.bare_keras import plain_keras  # noqa: E402  (the path above makes bench/ importable)
from bench.run import GPU, SWEEP_WORKERS, fill, section_between  # noqa: E402

MODEL, DATASET = "mlp_small", "mnist_5k"
CONTENDERS = ("fresh", "warm", "warm_no_jit", "floor")
# A trial's phases (utils/runs/timing.py's vocabulary), as the phase table names them.
PHASES = {"trial": "whole trial (its wall clock)", "setup": "set-up (imports, data, model; to the first step)",
          "first_epoch": "first epoch (tracing included)", "later_epochs": "later epochs, together",
          "finish": "finish (final save, test pass, figures, report)", "other": "other (process start, reset, driver)"}
LOW, HIGH = 1e-4, 1e-2  # the learning rate's log-uniform range, in the sweep's space file and the floor's loop


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def timed(command: list, env: dict, timeout: int) -> dict:
    """Wall seconds of `command` run from the project folder, with the load before and after."""
    before = uptime()
    started = time.perf_counter()
    result = subprocess.run(command, cwd=PROJECT, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, command))} exited {result.returncode}:\n{result.stderr[-2000:]}")
    return {"seconds": round(seconds, 2), "uptime_before": before, "uptime_after": uptime()}


def sweep(args, scratch: Path, name: str) -> dict:
    space = scratch / "space.yaml"
    space.write_text(f"learning_rate: {{loguniform: [{LOW}, {HIGH}]}}\n")
    outputs, fresh = scratch / name, name == "fresh"
    command = [sys.executable, "mnist.py", "sweep", "--search", "random", "--trials", str(args.trials), "--space", str(space),
               "-m", MODEL, "--dataset", DATASET, "--epochs", str(args.epochs), "--workers", str(args.workers),
               "--outputs", str(outputs), "--quiet", *(["--no-jit"] if name == "warm_no_jit" else [])]
    figures = timed(command, {"RUNNER_SWEEP_FRESH_PROCESSES": "1"} if fresh else {}, args.timeout)
    [folder] = outputs.glob("sweep_*")
    trials = list(csv.DictReader(open(folder / "trials.csv")))
    phases = [trial_phases(Path(trial["run"]), float(trial["seconds"])) for trial in trials if trial["status"] == "completed"]
    return {**figures, "completed": len(phases), "phases": median_phases(phases)}


def trial_phases(run: Path, seconds: float) -> dict:
    """A trial's seconds by phase, from its run.json (utils/runs/timing.py's vocabulary) and the driver's clock:
    `other` is what the trial's wall time (launch to settled, as trials.csv has it) holds beyond the run's phases
    (a process's start before the run's record, the worker's reset, the driver's bookkeeping)."""
    data = json.loads((run / "run.json").read_text())
    epochs, timing = data["seconds_per_epoch"], data.get("timing") or {}
    found = {"trial": seconds, "setup": timing.get("setup_seconds") or 0.0, "first_epoch": epochs[0],
             "later_epochs": sum(epochs[1:]), "finish": timing.get("finish_seconds") or 0.0}
    found["other"] = seconds - sum(value for name, value in found.items() if name != "trial")
    return found


def median_phases(phases: list) -> dict:
    """The median of each phase over the trials; the worker's first trial (setup with TensorFlow's import) is one of them."""
    return {name: round(statistics.median(trial[name] for trial in phases), 3) for name in PHASES} if phases else {}


def floor(args) -> dict:
    """`workers` floor processes at once, each with its share of the trials and of the CPU threads."""
    threads = str(max(1, (os.cpu_count() or 1) // args.workers))
    env = {name: threads for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")}
    shares = [args.trials // args.workers + (index < args.trials % args.workers) for index in range(args.workers)]
    before = uptime()
    started = time.perf_counter()
    children = [subprocess.Popen([sys.executable, __file__, "--floor-child", "--trials", str(share), "--epochs",
                                  str(args.epochs), "--seed", str(index)], cwd=PROJECT, env={**os.environ, **env},
                                 stdout=subprocess.PIPE, text=True) for index, share in enumerate(shares)]
    outputs = [child.communicate(timeout=args.timeout)[0] for child in children]
    seconds = time.perf_counter() - started
    if any(child.returncode for child in children):
        raise SystemExit("a floor process failed")
    reports = [json.loads(output.strip().splitlines()[-1]) for output in outputs]
    phases = median_phases([trial for report in reports for trial in report["phases"]])
    return {"seconds": round(seconds, 2), "uptime_before": before, "uptime_after": uptime(),
            "completed": sum(report["trials"] for report in reports), "phases": phases}


def floor_child(trials: int, epochs: int, seed: int) -> None:
    """The floor's loop: Optuna asks, bare Keras trains, Optuna is told; nothing is written."""
    keras = plain_keras()
    import optuna

    from models import get_model
    from utils.tasks.mnist import load_image_arrays

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from utils.tasks import get_task

    arrays, _ = load_image_arrays(DATASET)
    spec = get_model("mnist", MODEL)
    shape = tuple(spec.build(input_shape=(28, 28), num_classes=10).input_shape[1:])  # 784 for an MLP
    x = arrays["x_train"].astype("float32").reshape((-1, *shape)) / 255.0
    y = keras.utils.to_categorical(arrays["y_train"], 10)
    batch_size = get_task("mnist").defaults["batch_size"]
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=seed))
    phases = []
    for _ in range(trials):
        started = time.perf_counter()
        trial = study.ask()
        learning_rate = trial.suggest_float("learning_rate", LOW, HIGH, log=True)
        keras.backend.clear_session()
        keras.utils.set_random_seed(seed)
        model = spec.build(input_shape=(28, 28), num_classes=10)
        optimizer = keras.optimizers.get({"class_name": spec.defaults["optimizer"], "config": {"learning_rate": learning_rate}})
        model.compile(optimizer=optimizer, loss=spec.defaults["loss"], metrics=["accuracy"])
        ends = [time.perf_counter()]  # the set-up's end, then each epoch's
        clock = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: ends.append(time.perf_counter()))
        history = model.fit(x, y, batch_size=batch_size, epochs=epochs, validation_split=0.1, verbose=0, callbacks=[clock])
        study.tell(trial, max(history.history["val_accuracy"]))
        seconds = time.perf_counter() - started
        phases.append({"trial": seconds, "setup": ends[0] - started, "first_epoch": ends[1] - ends[0],
                       "later_epochs": ends[-1] - ends[1], "finish": 0.0, "other": seconds - (ends[-1] - started)})
    print(json.dumps({"trials": trials, "phases": phases}), flush=True)


def render(results: dict) -> str:
    fresh = results["fresh"]
    present = [name for name in CONTENDERS if name in results]
    per_hour = {name: results[name]["completed"] / results[name]["seconds"] * 3600 for name in present}
    rows = "\n".join(f"| {name} | {results[name]['seconds']:.1f} | {results[name]['completed']} | {per_hour[name]:.0f} | "
                     f"`{results[name]['uptime_before'].split('load average:')[-1].strip()}` → "
                     f"`{results[name]['uptime_after'].split('load average:')[-1].strip()}` |"
                     for name in present)
    table = ("| contender | wall clock (s) | trials completed | trials per hour | load average before → after |\n"
             "|---|---|---|---|---|\n" + rows)
    ratios = repetition_ratios(results)
    section = fill("sweep_workers", trials=results["trials"], epochs=results["epochs"], workers=results["workers"],
                   finished=results["finished"], table=table, phases=phase_table(results),
                   warm_to_fresh=f"{ratios['warm_to_fresh']:.2f}", warm_to_floor=f"{ratios['warm_to_floor']:.2f}",
                   fresh_to_floor=f"{ratios['fresh_to_floor']:.2f}", repetitions=ratios["text"], command=results["command"],
                   no_jit=(f" With `--no-jit`, warm / floor trials per hour: **{per_hour['warm_no_jit'] / per_hour['floor']:.2f}**, "
                           f"warm / fresh wall clock {results['warm_no_jit']['seconds'] / fresh['seconds']:.2f}."
                           if "warm_no_jit" in per_hour else ""))
    return f"{SWEEP_WORKERS[0]}\n{section}\n{SWEEP_WORKERS[1]}"


def repetition_ratios(results: dict) -> dict:
    """warm / fresh wall clock and the trials-per-hour ratios, each the median over the repetitions (each
    repetition's contenders ran one after another); `text` lists every repetition's, where there were several."""
    runs = results.get("repetitions") or {name: [results[name]] for name in ("fresh", "warm", "floor")}
    seconds = {name: [run["seconds"] for run in runs[name]] for name in runs}
    per_hour = {name: [run["completed"] / run["seconds"] for run in runs[name]] for name in runs}
    each = {"warm_to_fresh": [warm / fresh for warm, fresh in zip(seconds["warm"], seconds["fresh"])],
            "warm_to_floor": [warm / floor for warm, floor in zip(per_hour["warm"], per_hour["floor"])],
            "fresh_to_floor": [fresh / floor for fresh, floor in zip(per_hour["fresh"], per_hour["floor"])]}
    found = {key: statistics.median(values) for key, values in each.items()}
    listed = lambda values, digits: ", ".join(f"{value:.{digits}f}" for value in values)  # noqa: E731
    found["text"] = "" if len(seconds["warm"]) < 2 else (
        f" Medians of {len(seconds['warm'])} repetitions; by repetition, warm / fresh {listed(each['warm_to_fresh'], 2)} "
        f"and warm / floor {listed(each['warm_to_floor'], 2)}; wall clocks (s) fresh {listed(seconds['fresh'], 1)}, "
        f"warm {listed(seconds['warm'], 1)}, floor {listed(seconds['floor'], 1)}. The tables show each contender's "
        f"repetition of median wall clock.")
    return found


def phase_table(results: dict) -> str:
    """Median seconds per trial by phase, one column per contender, and warm's excess over the floor."""
    names = [name for name in CONTENDERS if results.get(name, {}).get("phases")]
    if not names:
        return "(These results hold no phase figures.)"
    rows = [f"| {PHASES[phase]} | " + " | ".join(f"{results[name]['phases'][phase]:.2f}" for name in names)
            + (f" | {results['warm']['phases'][phase] - results['floor']['phases'][phase]:+.2f} |"
               if {"warm", "floor"} <= set(names) else " |") for phase in PHASES]
    extra = " | warm − floor" if {"warm", "floor"} <= set(names) else ""
    return (f"| median seconds per trial | {' | '.join(names)}{extra} |\n|---|" + "---|" * (len(names) + bool(extra))
            + "\n" + "\n".join(rows))


def write_section(markdown_path: Path, section: str) -> None:
    """Replace this benchmark's block of the file (bench/run.py keeps it when it rewrites the rest), or add it before
    the GPU block (or at the end)."""
    text = markdown_path.read_text()
    old = section_between(text, *SWEEP_WORKERS)
    if old:
        text = text.replace(old, section)
    elif GPU[0] in text:
        text = text.replace(GPU[0], section + "\n\n" + GPU[0], 1)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    markdown_path.write_text(text)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20, help="trials per contender (default: 20)")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per trial (default: 5)")
    parser.add_argument("--workers", type=int, default=2, help="trials at once (default: 2)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="repetitions, the contenders in turn within each; the ratios are medians (default: 1)")
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--floor-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=int, default=3600, help="seconds one contender may run (default: 3600)")
    parser.add_argument("--results", default=str(PROJECT / "bench" / "sweep_workers.json"), help="where to write the figures")
    parser.add_argument("--markdown", default=None, help="rewrite this benchmark's block of this file (e.g. BENCHMARKS.md)")
    parser.add_argument("--no-jit-too", action="store_true",
                        help="also time warm workers with the trials' XLA compilation off (`sweep --no-jit`)")
    parser.add_argument("--render", action="store_true", help="only render --results into --markdown; run nothing")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.floor_child:
        floor_child(args.trials, args.epochs, args.seed)
        return 0
    results_path = Path(args.results)
    if not args.render:
        results = {"trials": args.trials, "epochs": args.epochs, "workers": args.workers,
                   "command": " ".join(["python", "bench/sweep_workers.py", *(argv if argv is not None else sys.argv[1:])])}
        names = ("fresh", "warm", *(["warm_no_jit"] if args.no_jit_too else []), "floor")
        runs = {name: [] for name in names}
        for repetition in range(args.repeats):  # the contenders in turn, so a change of load falls on all of them
            with tempfile.TemporaryDirectory(prefix="sweep-workers-") as scratch:
                for name in names:
                    print(f"{name} ({repetition + 1} of {args.repeats}) ...", flush=True)
                    runs[name].append(floor(args) if name == "floor" else sweep(args, Path(scratch), name))
                    print(f"{name}: {runs[name][-1]}", flush=True)
        for name in names:  # the repetition of median wall clock stands for the contender in the tables
            results[name] = sorted(runs[name], key=lambda run: run["seconds"])[(args.repeats - 1) // 2]
        results["repetitions"] = {name: [{"seconds": run["seconds"], "completed": run["completed"]} for run in runs[name]]
                                  for name in names}
        results["finished"] = datetime.now().astimezone().isoformat(timespec="seconds")
        results_path.write_text(json.dumps(results, indent=2) + "\n")
    section = render(json.loads(results_path.read_text()))
    print(section)
    if args.markdown:
        write_section(Path(args.markdown), section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
