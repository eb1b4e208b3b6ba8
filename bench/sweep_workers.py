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
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from bench.run import GPU, SWEEP_WORKERS, fill, section_between  # noqa: E402  (the path above makes bench/ importable)

MODEL, DATASET = "mlp_small", "mnist_5k"
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


def sweep(args, scratch: Path, fresh: bool) -> dict:
    space = scratch / "space.yaml"
    space.write_text(f"learning_rate: {{loguniform: [{LOW}, {HIGH}]}}\n")
    outputs = scratch / ("fresh" if fresh else "warm")
    command = [sys.executable, "mnist.py", "sweep", "--search", "random", "--trials", str(args.trials), "--space", str(space),
               "-m", MODEL, "--dataset", DATASET, "--epochs", str(args.epochs), "--workers", str(args.workers),
               "--outputs", str(outputs), "--quiet"]
    figures = timed(command, {"RUNNER_SWEEP_FRESH_PROCESSES": "1"} if fresh else {}, args.timeout)
    [folder] = outputs.glob("sweep_*")
    trials = subprocess.run([sys.executable, "-c", "import pandas, sys; t = pandas.read_csv(sys.argv[1]); "
                             "print((t.status == 'completed').sum())", str(folder / "trials.csv")],
                            capture_output=True, text=True).stdout.strip()
    return {**figures, "completed": int(trials)}


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
    completed = sum(json.loads(output.strip().splitlines()[-1])["trials"] for output in outputs)
    return {"seconds": round(seconds, 2), "uptime_before": before, "uptime_after": uptime(), "completed": completed}


def floor_child(trials: int, epochs: int, seed: int) -> None:
    """The floor's loop: Optuna asks, bare Keras trains, Optuna is told; nothing is written."""
    from utils.training.setup import import_keras

    keras = import_keras()
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
    for _ in range(trials):
        trial = study.ask()
        learning_rate = trial.suggest_float("learning_rate", LOW, HIGH, log=True)
        keras.backend.clear_session()
        keras.utils.set_random_seed(seed)
        model = spec.build(input_shape=(28, 28), num_classes=10)
        optimizer = keras.optimizers.get({"class_name": spec.defaults["optimizer"], "config": {"learning_rate": learning_rate}})
        model.compile(optimizer=optimizer, loss=spec.defaults["loss"], metrics=["accuracy"])
        history = model.fit(x, y, batch_size=batch_size, epochs=epochs, validation_split=0.1, verbose=0)
        study.tell(trial, max(history.history["val_accuracy"]))
    print(json.dumps({"trials": trials}), flush=True)


def render(results: dict) -> str:
    fresh, warm = results["fresh"], results["warm"]
    per_hour = {name: results[name]["completed"] / results[name]["seconds"] * 3600 for name in ("fresh", "warm", "floor")}
    rows = "\n".join(f"| {name} | {results[name]['seconds']:.1f} | {results[name]['completed']} | {per_hour[name]:.0f} | "
                     f"`{results[name]['uptime_before'].split('load average:')[-1].strip()}` → "
                     f"`{results[name]['uptime_after'].split('load average:')[-1].strip()}` |"
                     for name in ("fresh", "warm", "floor"))
    table = ("| contender | wall clock (s) | trials completed | trials per hour | load average before → after |\n"
             "|---|---|---|---|---|\n" + rows)
    section = fill("sweep_workers", trials=results["trials"], epochs=results["epochs"], workers=results["workers"],
                   finished=results["finished"], table=table, warm_to_fresh=f"{warm['seconds'] / fresh['seconds']:.2f}",
                   warm_to_floor=f"{per_hour['warm'] / per_hour['floor']:.2f}",
                   fresh_to_floor=f"{per_hour['fresh'] / per_hour['floor']:.2f}", command=results["command"])
    return f"{SWEEP_WORKERS[0]}\n{section}\n{SWEEP_WORKERS[1]}"


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
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--floor-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=int, default=3600, help="seconds one contender may run (default: 3600)")
    parser.add_argument("--results", default=str(PROJECT / "bench" / "sweep_workers.json"), help="where to write the figures")
    parser.add_argument("--markdown", default=None, help="rewrite this benchmark's block of this file (e.g. BENCHMARKS.md)")
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
        with tempfile.TemporaryDirectory(prefix="sweep-workers-") as scratch:
            for name in ("fresh", "warm", "floor"):
                print(f"{name} ...", flush=True)
                results[name] = floor(args) if name == "floor" else sweep(args, Path(scratch), fresh=name == "fresh")
                print(f"{name}: {results[name]}", flush=True)
        results["finished"] = datetime.now().astimezone().isoformat(timespec="seconds")
        results_path.write_text(json.dumps(results, indent=2) + "\n")
    section = render(json.loads(results_path.read_text()))
    print(section)
    if args.markdown:
        write_section(Path(args.markdown), section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
