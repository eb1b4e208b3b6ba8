"""Benchmark the runner against the tutorial way (bench/bare_keras.py) and plain PyTorch (bench/torch_mnist.py).

    python bench/run.py            # full: 60k Fashion-MNIST, 3 epochs, 3 repetitions (roughly an hour on 2 cores)
    python bench/run.py --quick    # a few minutes: --limit 15000, 2 epochs, 2 repetitions, short churn/scaling

Every contender runs as its own process, so each pays its own start-up and none inherits another's warm caches;
contenders alternate within each repetition, so a slow spell on a shared machine does not land on one of them only.
Writes BENCHMARKS.md (medians and ratios) at the repository root and bench/results.json (every repetition).
"""
import argparse
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Optional

PROJECT = Path(__file__).resolve().parent.parent
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
CHURN_CSV = PROJECT.parent / "shared" / "data" / "Churn_Modelling.csv"
MNIST_MODELS = ["conv_net", "mlp_one_layer", "le_net"]
RUNNER, BARE, TORCH = "runner", "bare_keras", "torch"
# The runner on Keras' JAX backend: the same command with KERAS_BACKEND=jax (tiny tabular models pay far less per
# compiled call there than under TensorFlow).
RUNNER_JAX = "runner_jax"
# The runner of another commit (--before, exported by git archive): before/after figures from one run of the bench.
RUNNER_BEFORE = "runner_before"
BACKEND_ENV = {RUNNER_JAX: {"KERAS_BACKEND": "jax"}}
STDERR_TAIL_LINES = 15


@dataclass(frozen=True)
class Settings:
    mnist_limit: Optional[int]  # None: all 60k training images
    mnist_epochs: int
    mnist_reps: int
    churn_epochs: int
    churn_reps: int
    xor_reps: int
    scaling_limits: tuple
    scaling_epochs: int  # 2: the first epoch includes tracing, the second is the steady one
    child_timeout_s: int
    phase_reps: int  # section p: repetitions of every small workload


QUICK = Settings(15000, 2, 2, 10, 1, 1, (7500, 15000), 2, 300, 2)
FULL = Settings(None, 3, 3, 100, 3, 3, (15000, 30000, 60000), 2, 3600, 5)

# Section p: small runs, where what a run costs around its training decides how many a user gets through.
# (name, the runner's arguments after the script, bench/bare_keras.py's arguments); the same model and epochs.
PHASE_WORKLOADS = (
    ("mlp_small, mnist_5k", ["mnist.py", "-m", "mlp_small", "--dataset", "mnist_5k", "--epochs", "2"],
     ["--task", "mnist", "--dataset", "mnist_5k", "--model", "mlp_small", "--epochs", "2"]),
    ("conv_net, Fashion 2,000", ["mnist.py", "-m", "conv_net", "--dataset", "fashion_mnist", "--data-dir", str(FASHION_DIR),
                                 "--limit", "2000", "--epochs", "2"],
     ["--task", "mnist", "--model", "conv_net", "--data-dir", str(FASHION_DIR), "--limit", "2000", "--epochs", "2"]),
    ("churn_mlp", ["churn.py", "--data", str(CHURN_CSV), "--epochs", "3", "--batch-size", "10"],
     ["--task", "churn", "--data", str(CHURN_CSV), "--epochs", "3"]),
    ("xor_mlp", ["xor.py", "--epochs", "100"], ["--task", "xor", "--epochs", "100"]),
)


@dataclass
class Run:
    """One contender process: what was run, what it reported, what it cost."""

    section: str
    contender: str
    model: str
    rep: int
    command: list
    ok: bool = False
    skipped: Optional[str] = None
    error: Optional[str] = None  # why it failed, with the tail of its stderr
    returncode: Optional[int] = None
    wall_seconds: Optional[float] = None  # Popen to exit
    startup_seconds: Optional[float] = None  # Popen to the first training step (the child's fit_started_at)
    peak_rss_mib: Optional[float] = None
    cpu_seconds: Optional[float] = None  # user + system time of the child and the children it reaped (os.wait4)
    epoch_seconds: list = field(default_factory=list)
    train_samples: Optional[int] = None
    validation_samples: Optional[int] = None
    test_accuracy: Optional[float] = None
    test_auc: Optional[float] = None
    load_average_before: Optional[float] = None
    limit: Optional[int] = None

    @property
    def steady_epoch_seconds(self) -> Optional[float]:
        """Median of the epochs after the first (the first includes tracing); the only epoch if there is one."""
        if not self.epoch_seconds:
            return None
        later = self.epoch_seconds[1:] or self.epoch_seconds
        return statistics.median(later)

    @property
    def first_epoch_seconds(self) -> Optional[float]:
        return self.epoch_seconds[0] if self.epoch_seconds else None

    @property
    def training_seconds(self) -> Optional[float]:
        return sum(self.epoch_seconds) if self.epoch_seconds else None

    @property
    def samples_per_second(self) -> Optional[float]:
        steady = self.steady_epoch_seconds
        return self.train_samples / steady if steady and self.train_samples else None

    @property
    def other_seconds(self) -> Optional[float]:
        """Wall time that is neither start-up nor a timed epoch: callbacks between epochs, evaluation, saving."""
        if None in (self.wall_seconds, self.startup_seconds, self.training_seconds):
            return None
        return self.wall_seconds - self.startup_seconds - self.training_seconds

    @property
    def later_epochs_seconds(self) -> Optional[float]:
        """Every epoch after the first, added up (0 with a single epoch)."""
        return sum(self.epoch_seconds[1:]) if self.epoch_seconds else None

    @property
    def non_training_seconds(self) -> Optional[float]:
        """Start-up and finish: the wall time a run costs around its epochs."""
        if None in (self.startup_seconds, self.other_seconds):
            return None
        return self.startup_seconds + self.other_seconds

    def to_json(self) -> dict:
        data = asdict(self)
        data.update(
            first_epoch_seconds=self.first_epoch_seconds, steady_epoch_seconds=self.steady_epoch_seconds, training_seconds=self.training_seconds,
            samples_per_second=self.samples_per_second, other_seconds=self.other_seconds,
            later_epochs_seconds=self.later_epochs_seconds, non_training_seconds=self.non_training_seconds,
        )
        return data


# ---------------------------------------------------------------- running one child
@dataclass
class ChildExit:
    returncode: int
    stdout: str
    stderr: str
    started_at: float
    wall_seconds: float
    peak_rss_mib: float
    cpu_seconds: float
    timed_out: bool


def run_child(command: list, timeout_s: int, scratch: Path, env: Optional[dict] = None, cwd: Path = PROJECT) -> ChildExit:
    """Run `command` from the repository root; reap it with os.wait4 to get its peak resident memory.

    Output goes to files rather than pipes: nothing reads a pipe while wait4 blocks, and a full pipe would stall
    the child.
    """
    scratch.mkdir(parents=True, exist_ok=True)
    out_path, err_path = scratch / "stdout.txt", scratch / "stderr.txt"
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with open(out_path, "w") as out, open(err_path, "w") as err:
        started_at = time.time()  # the start-up clock starts just before the process is created
        process = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=err, env=environment)
        killed = threading.Event()

        def kill():
            killed.set()
            process.kill()

        timer = threading.Timer(timeout_s, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        wall = time.time() - started_at
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here; keep Popen from waiting again
    return ChildExit(
        returncode=process.returncode, stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"), started_at=started_at, wall_seconds=wall,
        peak_rss_mib=usage.ru_maxrss / 1024,  # KiB on Linux
        cpu_seconds=usage.ru_utime + usage.ru_stime,  # far less moved by other work on the machine than wall time
        timed_out=killed.is_set(),
    )


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def stderr_tail(text: str) -> str:
    return "\n".join(text.strip().splitlines()[-STDERR_TAIL_LINES:])


def read_runner_result(run: Run, child: ChildExit) -> None:
    """The runner prints its run folder last; its run.json has the timings and the test metrics."""
    record = json.loads((Path(last_line(child.stdout)) / "run.json").read_text())
    if record.get("status") != "completed":
        raise RuntimeError(f"run.json status is {record.get('status')!r}: {record.get('reason')}")
    metrics = record.get("test_metrics") or {}
    run.epoch_seconds = list(record["seconds_per_epoch"])
    run.train_samples = record["data"]["sizes"]["train"]
    run.validation_samples = record["data"]["sizes"]["validation"]
    run.test_accuracy = metrics.get("test_accuracy")
    run.test_auc = metrics.get("test_roc_auc")
    run.startup_seconds = record["fit_started_at"] - child.started_at


def read_json_line_result(run: Run, child: ChildExit) -> None:
    """bench/bare_keras.py and bench/torch_mnist.py print one JSON object as their last line."""
    result = json.loads(last_line(child.stdout))
    if "skipped" in result:
        run.skipped = result["skipped"]
        return
    run.epoch_seconds = list(result["epoch_seconds"])
    run.train_samples = result["train_samples"]
    run.validation_samples = result.get("validation_samples")
    run.test_accuracy = result.get("test_accuracy")
    run.test_auc = result.get("test_auc")
    run.startup_seconds = result["fit_started_at"] - child.started_at


def execute(run: Run, settings: Settings, scratch: Path, cwd: Path = PROJECT) -> Run:
    """Run one contender and fill in `run`; a failure is recorded on it, never raised."""
    run.load_average_before = os.getloadavg()[0]
    print(f"  [{run.section}] {run.contender:<10} {run.model:<14} rep {run.rep + 1} ...", end=" ", flush=True)
    child = run_child(run.command, settings.child_timeout_s, scratch, BACKEND_ENV.get(run.contender), cwd)
    run.returncode, run.wall_seconds, run.peak_rss_mib = child.returncode, child.wall_seconds, child.peak_rss_mib
    run.cpu_seconds = child.cpu_seconds
    if child.timed_out:
        run.error = f"killed after {settings.child_timeout_s} s\n{stderr_tail(child.stderr)}"
    elif child.returncode != 0:
        run.error = f"exit code {child.returncode}\n{stderr_tail(child.stderr)}"
    else:
        try:
            (read_runner_result if run.contender.startswith(RUNNER) else read_json_line_result)(run, child)
            run.ok = run.skipped is None
        except Exception as error:  # a missing run.json, a non-JSON last line, a missing key
            run.error = f"unreadable result ({type(error).__name__}: {error})\n{stderr_tail(child.stderr)}"
    outcome = "skipped" if run.skipped else "ok" if run.ok else "FAILED"
    print(f"{outcome} in {child.wall_seconds:.1f} s", flush=True)
    return run


# ---------------------------------------------------------------- commands
def python() -> list:
    return [sys.executable]


def runner_mnist(model: str, epochs: int, limit, outputs: Path) -> list:
    # --data-dir pins the same IDX files the baselines read (the runner would otherwise look in data/ first).
    return python() + [
        "mnist.py", "-m", model, "--dataset", "fashion_mnist", "--data-dir", str(FASHION_DIR),
        "--epochs", str(epochs), *limit_args(limit), "--outputs", str(outputs), "--quiet",
    ]


def bare_mnist(model: str, epochs: int, limit) -> list:
    return python() + [
        "bench/bare_keras.py", "--task", "mnist", "--model", model, "--data-dir", str(FASHION_DIR),
        "--epochs", str(epochs), *limit_args(limit),
    ]


def torch_mnist(model: str, epochs: int, limit) -> list:
    return python() + [
        "bench/torch_mnist.py", "--model", model, "--data-dir", str(FASHION_DIR), "--epochs", str(epochs),
        *limit_args(limit),
    ]


def limit_args(limit) -> list:
    return ["--limit", str(limit)] if limit else []


def rotated(contenders: list, rep: int) -> list:
    """rep 0: a, b, c; rep 1: b, c, a; ... each contender takes each slot in turn."""
    shift = rep % len(contenders)
    return contenders[shift:] + contenders[:shift]


# ---------------------------------------------------------------- sections
class Bench:
    def __init__(self, settings: Settings, temporary_root: Path, results_path: Path, mode: str, before=None):
        self.settings = settings
        self.before = before  # (commit, its exported tree) or None
        self.temporary_root = temporary_root
        self.outputs = temporary_root / "runs"  # run folders of the runner
        self.scratch = temporary_root / "children"  # stdout/stderr of every child
        self.results_path = results_path
        self.runs: list[Run] = []
        self.started = datetime.now().astimezone().isoformat(timespec="seconds")
        self.mode = mode
        self.machine = machine_description()
        self.sections_run: list[str] = []  # started, in order; a section may reuse another's runs
        self.command = shlex.join(["python", "bench/run.py", *sys.argv[1:]])

    def run(self, section, contender, model, rep, command, limit=None) -> Run:
        run = Run(section, contender, model, rep, command, limit=limit)
        cwd = self.before[1] if contender == RUNNER_BEFORE else PROJECT
        execute(run, self.settings, self.scratch / f"{len(self.runs):03d}", cwd)
        self.runs.append(run)
        self.save()  # after every run, so an interrupted benchmark keeps what it measured
        return run

    def save(self, finished=None) -> None:
        data = {
            "command": self.command, "mode": self.mode, "started": self.started, "finished": finished,
            "machine": self.machine,
            "settings": asdict(self.settings), "runs": [run.to_json() for run in self.runs],
        }
        self.results_path.write_text(json.dumps(data, indent=1) + "\n")

    def mnist_training(self) -> None:
        s = self.settings
        commands = {
            RUNNER: lambda model: runner_mnist(model, s.mnist_epochs, s.mnist_limit, self.outputs),
            BARE: lambda model: bare_mnist(model, s.mnist_epochs, s.mnist_limit),
            TORCH: lambda model: torch_mnist(model, s.mnist_epochs, s.mnist_limit),
        }
        for rep in range(s.mnist_reps):
            for model in MNIST_MODELS:
                for contender in rotated([RUNNER, BARE, TORCH], rep):
                    self.run("a", contender, model, rep, commands[contender](model), limit=s.mnist_limit)

    def churn(self) -> None:
        s = self.settings
        commands = {
            RUNNER: python() + [
                "churn.py", "--data", str(CHURN_CSV), "--epochs", str(s.churn_epochs), "--batch-size", "10",
                "--outputs", str(self.outputs), "--quiet",
            ],
            BARE: python() + ["bench/bare_keras.py", "--task", "churn", "--data", str(CHURN_CSV), "--epochs", str(s.churn_epochs)],
        }
        commands[RUNNER_JAX] = commands[RUNNER]
        for rep in range(s.churn_reps):
            for contender in rotated([RUNNER, BARE, RUNNER_JAX], rep):
                self.run("b", contender, "churn_mlp", rep, commands[contender])

    def xor(self) -> None:
        for rep in range(self.settings.xor_reps):
            for contender in rotated([RUNNER, RUNNER_JAX], rep):
                self.run("c", contender, "xor_mlp", rep, python() + ["xor.py", "--outputs", str(self.outputs), "--quiet"])

    def phases(self) -> None:
        """Each small workload by the runner, bare Keras and (with --before) the runner of another commit."""
        contenders = [RUNNER, BARE] + ([RUNNER_BEFORE] if self.before else [])
        runner_tail = ["--outputs", str(self.outputs), "--quiet"]
        for rep in range(self.settings.phase_reps):
            for name, runner_args, bare_args in PHASE_WORKLOADS:
                commands = {RUNNER: python() + runner_args + runner_tail, RUNNER_BEFORE: python() + runner_args + runner_tail,
                            BARE: python() + ["bench/bare_keras.py", *bare_args]}
                for contender in rotated(contenders, rep):
                    self.run("p", contender, name, rep, commands[contender])

    def scaling_command(self, limit: int) -> list:
        return runner_mnist("conv_net", self.settings.scaling_epochs, limit, self.outputs)

    def runs_of(self, command: list) -> list:
        return [run for run in self.runs if run.command == command]

    def scaling(self) -> None:
        for limit in self.settings.scaling_limits:
            command = self.scaling_command(limit)
            if any(run.ok for run in self.runs_of(command)):
                # Section a already ran this exact command (--quick: conv_net, --limit 15000, 2 epochs): reuse it.
                print(f"  [e] runner     conv_net       --limit {limit}: reusing section a's identical runs", flush=True)
                continue
            self.run("e", RUNNER, "conv_net", 0, command, limit=limit)


# ---------------------------------------------------------------- machine
def machine_description() -> dict:
    def version(package):
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    cpu_model, memory_kib = "unknown", None
    try:
        cpu_model = next(
            line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")
        )
        memory_kib = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")))
    except (OSError, StopIteration, ValueError):
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model,
        "memory_gib": round(memory_kib / 2**20, 1) if memory_kib else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": version("tensorflow"),
        "keras": version("keras"),
        "torch": version("torch"),
        "numpy": version("numpy"),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
    }


# ---------------------------------------------------------------- report
def median_of(runs, attribute) -> Optional[float]:
    values = [getattr(run, attribute) for run in runs if run.ok and getattr(run, attribute) is not None]
    return statistics.median(values) if values else None


def spread(runs, attribute) -> str:
    """' (min–max)' over the repetitions, when there are several: how much a shared machine moved the figure."""
    values = [getattr(run, attribute) for run in runs if run.ok and getattr(run, attribute) is not None]
    return f" ({min(values):.2f}–{max(values):.2f})" if len(values) > 1 else ""


def fmt(value, digits=2, suffix="") -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}{suffix}"
    return f"{value:,.{digits}f}{suffix}"


def ratio(numerator, denominator) -> str:
    return f"{numerator / denominator:.2f}×" if numerator and denominator else "–"


PHASE_GOAL_S = 1.0  # section p: the runner's start-up and finish may cost this much more than bare Keras'


def difference(first, second) -> str:
    return f"{first - second:+.2f}" if first is not None and second is not None else "–"


def met(runner, bare) -> str:
    if runner is None or bare is None:
        return "–"
    return "yes" if runner <= bare + PHASE_GOAL_S else "**no**"


def table(headers: list, rows: list) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


TEMPLATES = Path(__file__).resolve().parent / "templates" / "benchmarks.md"


def fill(section: str, **values) -> str:
    """One section of templates/benchmarks.md (the block after its `## @section` line) with `values` filled in."""
    blocks = re.split(r"^## @(\w+)\n", TEMPLATES.read_text(), flags=re.MULTILINE)
    text = dict(zip(blocks[1::2], blocks[2::2]))[section]
    return string.Template(text.strip()).substitute(values)


class Report:
    """BENCHMARKS.md from the recorded runs: per contender, the median over repetitions of each figure."""

    def __init__(self, bench: Bench, finished: str, elapsed_s: float):
        self.bench = bench
        self.runs = bench.runs
        self.finished = finished
        self.elapsed_s = elapsed_s

    def select(self, section, contender=None, model=None) -> list:
        return [
            run for run in self.runs
            if run.section == section and (contender is None or run.contender == contender)
            and (model is None or run.model == model)
        ]

    def status(self, runs) -> str:
        """'3/3', or 'failed' / 'skipped' when no repetition gave figures (failures are listed at the end)."""
        ok = sum(run.ok for run in runs)
        if not ok and runs and all(run.skipped for run in runs):
            return f"skipped ({runs[0].skipped})"
        if not ok:
            return "**failed** (see Failures)"
        return f"{ok}/{len(runs)}"

    def section_mnist(self) -> str:
        s = self.bench.settings
        rows, ratios = [], []
        for model in MNIST_MODELS:
            figures = {}
            for contender in (RUNNER, BARE, TORCH):
                runs = self.select("a", contender, model)
                if not runs:
                    continue
                steady, per_second = median_of(runs, "steady_epoch_seconds"), median_of(runs, "samples_per_second")
                figures[contender] = (steady, per_second)
                rows.append([
                    model, contender, fmt(median_of(runs, "train_samples"), 0), fmt(median_of(runs, "validation_samples"), 0),
                    fmt(steady) + spread(runs, "steady_epoch_seconds"), fmt(median_of(runs, "first_epoch_seconds")),
                    fmt(per_second, 0), fmt(median_of(runs, "test_accuracy"), 4), self.status(runs),
                ])
            runner = figures.get(RUNNER, (None, None))
            bare = figures.get(BARE, (None, None))
            torch = figures.get(TORCH, (None, None))
            ratios.append([
                model, ratio(runner[0], bare[0]), ratio(runner[1], bare[1]), ratio(runner[0], torch[0]), ratio(runner[1], torch[1]),
            ])
        data = "the first " + f"{s.mnist_limit:,}" if s.mnist_limit else "all 60,000"
        return fill("mnist", data=data, epochs=s.mnist_epochs, reps=s.mnist_reps, table=table(
            ["model", "contender", "train samples", "held-out samples", "s/epoch", "1st epoch s", "train samples/s",
             "test accuracy", "runs ok"], rows), ratios=table(
            ["model", "s/epoch runner/bare", "samples/s runner/bare", "s/epoch runner/torch", "samples/s runner/torch"], ratios))

    def section_churn(self) -> str:
        s = self.bench.settings
        rows, figures = [], {}
        for contender in (RUNNER, RUNNER_JAX, BARE):
            runs = self.select("b", contender)
            if not runs:
                continue
            figures[contender] = (median_of(runs, "training_seconds"), median_of(runs, "samples_per_second"))
            rows.append([
                contender, fmt(median_of(runs, "train_samples"), 0), fmt(figures[contender][0]),
                fmt(median_of(runs, "steady_epoch_seconds"), 3), fmt(figures[contender][1], 0),
                fmt(median_of(runs, "test_auc"), 4), fmt(median_of(runs, "test_accuracy"), 4), self.status(runs),
            ])
        runner, bare = figures.get(RUNNER, (None, None)), figures.get(BARE, (None, None))
        jax = figures.get(RUNNER_JAX, (None, None))
        return fill("churn", epochs=s.churn_epochs, reps=s.churn_reps, table=table(
            ["contender", "train samples", "training s", "s/epoch (after 1st)", "train samples/s", "test ROC AUC",
             "test accuracy", "runs ok"], rows),
            runner_time=ratio(runner[0], bare[0]), runner_rate=ratio(runner[1], bare[1]),
            jax_time=ratio(jax[0], bare[0]), jax_rate=ratio(jax[1], bare[1]))

    def section_xor(self) -> str:
        rows = []
        for contender in (RUNNER, RUNNER_JAX):
            runs = self.select("c", contender)
            if not runs:
                continue
            ok = [run for run in runs if run.ok]
            epochs = len(ok[0].epoch_seconds) if ok else None
            solved = "yes" if ok and all(run.test_accuracy == 1.0 for run in ok) else "no" if ok else "–"
            steady = median_of(runs, "steady_epoch_seconds")
            rows.append([
                contender, fmt(epochs, 0), fmt(median_of(runs, "training_seconds")),
                fmt(steady * 1000 if steady else None, 1), fmt(median_of(runs, "wall_seconds"), 1),
                fmt(median_of(runs, "test_accuracy"), 2), solved, self.status(runs),
            ])
        return fill("xor", reps=self.bench.settings.xor_reps, table=table(
            ["contender", "epochs", "training s (sum of epochs)", "ms per later epoch", "process wall s",
             "test accuracy", "accuracy 1.0 in every run", "runs ok"], rows))

    def section_startup(self) -> str:
        rows = []
        for contender in (RUNNER, BARE, TORCH):
            for model in MNIST_MODELS:
                runs = self.select("a", contender, model)
                if runs and any(run.ok for run in runs):
                    rows.append([
                        contender, model, fmt(median_of(runs, "startup_seconds")), fmt(median_of(runs, "peak_rss_mib"), 0),
                        fmt(median_of(runs, "wall_seconds"), 1), fmt(median_of(runs, "other_seconds"), 1),
                    ])
        return fill("startup", table=table(
            ["contender", "model", "start-up s", "peak RSS MiB", "process wall s", "other s"], rows))

    def section_scaling(self) -> str:
        rows = []
        base = None
        for limit in self.bench.settings.scaling_limits:
            runs = self.bench.runs_of(self.bench.scaling_command(limit))
            steady, samples = median_of(runs, "steady_epoch_seconds"), median_of(runs, "train_samples")
            per_1k = steady / samples * 1000 if steady and samples else None
            base = base or per_1k
            rows.append([fmt(limit, 0), fmt(samples, 0), fmt(steady), fmt(per_1k, 3), ratio(per_1k, base), self.status(runs)])
        return fill("scaling", epochs=self.bench.settings.scaling_epochs, table=table(
            ["--limit", "train samples", "s/epoch", "s per 1k train samples", "relative", "runs ok"], rows))

    def section_phases(self) -> str:
        """Where each small run's wall time goes, per contender; the runner's cost around training against bare
        Keras' (the goal: at most PHASE_GOAL_S more) and against --before's."""
        rows, differences = [], []
        contenders = [RUNNER, BARE] + ([RUNNER_BEFORE] if self.bench.before else [])
        for name, _, _ in PHASE_WORKLOADS:
            around = {}
            for contender in contenders:
                runs = self.select("p", contender, name)
                if not runs:
                    continue
                around[contender] = median_of(runs, "non_training_seconds")
                rows.append([name, contender, *(fmt(median_of(runs, attribute)) for attribute in (
                    "startup_seconds", "first_epoch_seconds", "later_epochs_seconds", "other_seconds")),
                    fmt(around[contender]) + spread(runs, "non_training_seconds"), fmt(median_of(runs, "wall_seconds")),
                    fmt(median_of(runs, "cpu_seconds")), self.status(runs)])
            differences.append([name, *(difference(around.get(first), around.get(second)) for first, second in (
                (RUNNER, BARE), (RUNNER_BEFORE, BARE), (RUNNER, RUNNER_BEFORE))),
                met(around.get(RUNNER), around.get(BARE))])
        before = self.bench.before
        loads = [run.load_average_before for run in self.select("p") if run.load_average_before is not None]
        load = (f"The 1-minute load average before each run went from {min(loads):.1f} to {max(loads):.1f} on "
                f"{self.bench.machine['nproc']} CPUs." if loads else "")
        return (fill(
            "phases", reps=self.bench.settings.phase_reps, goal=f"{PHASE_GOAL_S:.1f}", load=load,
            before=f"`{before[0]}`" if before else "(not run: pass --before COMMIT)",
            table=table(["workload", "contender", "set-up s", "1st epoch s", "later epochs s", "finish s",
                         "around training s", "process wall s", "process CPU s", "runs ok"], rows),
            differences=table(["workload", "runner − bare s", "runner_before − bare s", "runner − runner_before s",
                               f"runner ≤ bare + {PHASE_GOAL_S:.1f} s"], differences)))

    def section_failures(self) -> str:
        failures = [run for run in self.runs if run.error]
        if not failures:
            return ""
        parts = ["## Failures"]
        for run in failures:
            parts.append(
                f"**{run.section} {run.contender} {run.model} rep {run.rep + 1}**: `{self.display(run.command)}`\n\n"
                f"```\n{run.error}\n```"
            )
        return "\n\n".join(parts)

    def header(self) -> str:
        m = self.bench.machine
        return fill("header", command=self.bench.command, finished=self.finished, minutes=f"{self.elapsed_s / 60:.1f}",
                    machine=table(["machine", ""], [
                        ["CPUs (nproc)", m["nproc"]], ["CPU model", m["cpu_model"]], ["RAM", f"{m['memory_gib']} GiB"],
                        ["platform", m["platform"]], ["Python", m["python"]], ["TensorFlow", m["tensorflow"]],
                        ["Keras", m["keras"]], ["PyTorch", m["torch"]], ["NumPy", m["numpy"]],
                        ["load average at start / end", f"{m['load_average_at_start']} / {[round(v, 2) for v in os.getloadavg()]}"],
                        ["1-minute load average before each run", self.load_range()],
                    ]))

    def load_range(self) -> str:
        loads = [run.load_average_before for run in self.runs if run.load_average_before is not None]
        return f"{min(loads):.2f} to {max(loads):.2f}" if loads else "–"

    def commands(self) -> str:
        seen = []
        for run in self.runs:
            prefix = "".join(f"{key}={value} " for key, value in BACKEND_ENV.get(run.contender, {}).items())
            text = prefix + self.display(run.command)
            if text not in seen:
                seen.append(text)
        return "## Commands run\n\n" + "```\n" + "\n".join(seen) + "\n```"

    def display(self, command: list) -> str:
        """The command as typed from the repository root: `python` for this interpreter, $TMP for the scratch folder."""
        text = shlex.join(["python", *command[1:]]).replace(str(self.bench.temporary_root), "$TMP")
        return text.replace(f"{PROJECT.parent}/", "../")

    def markdown(self, previous: str = "") -> str:
        """The report; a section not run this time (--only) keeps its previous block, and so do the by-hand,
        serve, sweep-workers and GPU blocks."""
        sections = [self.header()]
        present = set(self.bench.sections_run)
        for key, marker, render in (("a", "a", self.section_mnist), ("b", "b", self.section_churn),
                                    ("c", "c", self.section_xor), ("a", "d", self.section_startup),
                                    ("e", "e", self.section_scaling), ("p", "p", self.section_phases)):
            if key in present:
                sections.append(wrap(marker, render()))
            else:
                sections.append(section_between(previous, *markers_of(marker)))
        kept = (section_between(previous, *markers) for markers in (BY_HAND, SERVE, SWEEP_WORKERS, GPU))
        sections += [self.section_failures(), *kept, self.commands()]
        return "\n\n".join(part for part in sections if part) + "\n"


# ---------------------------------------------------------------- main
# Blocks of BENCHMARKS.md this script does not measure, kept when it rewrites the file: figures measured by hand
# (peak memory on the full data set), bench/serve_latency.py's and bench/sweep_workers.py's sections and
# bench/gpu.py's table from a GPU machine.
BY_HAND = ("<!-- by-hand:start -->", "<!-- by-hand:end -->")
SERVE = ("<!-- serve:start -->", "<!-- serve:end -->")
SWEEP_WORKERS = ("<!-- sweep-workers:start -->", "<!-- sweep-workers:end -->")
GPU = ("<!-- gpu:start -->", "<!-- gpu:end -->")


def section_between(text: str, start: str, end: str) -> Optional[str]:
    """The block from `start` to `end`, both markers included; None where the text has no such block."""
    if start in text and end in text:
        return start + text.split(start, 1)[1].split(end, 1)[0] + end
    return None


# Each section sits between its own markers, so that a run of some sections (--only) keeps the others' figures.
def markers_of(key: str) -> tuple:
    return f"<!-- section-{key}:start -->", f"<!-- section-{key}:end -->"


def wrap(key: str, text: str) -> str:
    start, end = markers_of(key)
    return f"{start}\n{text}\n{end}"


SECTIONS = {"a": "mnist_training", "b": "churn", "c": "xor", "e": "scaling", "p": "phases"}


def export(commit: str, folder: Path) -> Path:
    """`commit` of this repository, exported (git archive) into `folder`."""
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", commit], cwd=PROJECT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes and few repetitions (under 10 minutes on 2 cores)")
    parser.add_argument("--only", default="abce", help="sections to run, e.g. 'ab' (d comes from a's runs; default: all)")
    parser.add_argument("--markdown", default=str(PROJECT / "BENCHMARKS.md"), help="where to write the report")
    parser.add_argument("--results", default=str(PROJECT / "bench" / "results.json"), help="where to write the raw figures")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder of run folders and child output")
    parser.add_argument("--before", metavar="COMMIT", help="also run this commit's runner (git archive) in the sections "
                        "that compare before and after (p)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    settings = QUICK if args.quick else FULL
    unknown = set(args.only) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"--only: unknown section(s) {''.join(sorted(unknown))}; choose from {''.join(SECTIONS)}")
    for path in (FASHION_DIR, CHURN_CSV):
        if not path.exists():
            print(f"warning: {path} is missing; the contenders that read it will fail", file=sys.stderr)
    # Run folders go to a temporary folder, never the repository's outputs/.
    temporary_root = Path(tempfile.mkdtemp(prefix="bench-"))
    before = (args.before, export(args.before, temporary_root / "before")) if args.before else None
    bench = Bench(settings, temporary_root, Path(args.results), "quick" if args.quick else "full", before)
    started = time.perf_counter()
    print(f"Benchmarking ({bench.mode}); scratch folder {temporary_root}", flush=True)
    try:
        for key, method in SECTIONS.items():
            if key in args.only:
                bench.sections_run.append(key)
                getattr(bench, method)()
    finally:
        finished = datetime.now().astimezone().isoformat(timespec="seconds")
        bench.save(finished)
        report = Report(bench, finished, time.perf_counter() - started)
        markdown = Path(args.markdown)
        previous = markdown.read_text() if markdown.is_file() else ""
        markdown.write_text(report.markdown(previous))
        if args.keep:
            print(f"Kept {temporary_root}")
        else:
            shutil.rmtree(temporary_root, ignore_errors=True)
    print(f"Wrote {args.markdown} and {args.results} in {(time.perf_counter() - started) / 60:.1f} minutes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
