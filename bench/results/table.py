"""RESULTS.md from run folders: one table per dataset and device class (Keras backend, CPU or GPU), one row per
model: the runs of one configuration over its seeds (mean ± sample std, n), or a single run; and what the numbers show,
within one table only (figures of different backends or devices are never ranked against each other).

Everything here reads run folders only (run.json, history.csv), so `bench/results/results.py --from-runs` regenerates the
same tables without retraining. Nothing here trains or imports Keras. Every sentence of the analysis is computed
from the table's own numbers.
"""
import os
import shlex
import statistics
import platform
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from utils.core.errors import UserError
from utils.runs.folder import RunFolder
from utils.runs.groups import difference_line, group_id, group_runs
from utils.runs.record import RunRecord
from utils.runs.timing import steady_epoch_seconds

TASK = "mnist"
DATASETS = ["mnist", "fashion_mnist", "mnist_5k"]
DIGIT_DATASETS = {"mnist", "mnist_5k"}
# A best validation epoch at or before this fraction of the epochs counts as "far before the last".
OVERFIT_FRACTION = 0.6
# Suffixes of the regularised variants; the base model is the name without the suffix (conv_net_l2 -> conv_net).
REGULARISERS = ("dropout", "batch_norm", "l1", "l2")
MISSING = "—"

# The tutorial's published test accuracies on full MNIST (60 epochs, batch 256, Adam). Only these three are known;
# every other model shows MISSING rather than a guess.
TUTORIAL_MNIST = {"mlp_one_layer": 98.31, "mlp_two_layers": 98.59, "conv_net": 99.34}

# The Fashion-MNIST authors' README, "Benchmark" section: its table of submitted benchmarks, copied as written
# (classifier, preprocessing, Fashion test accuracy, submitter), MLP and small-CNN rows only.
FASHION_SOURCE = (
    "https://github.com/zalandoresearch/fashion-mnist/blob/02cf0676df9403f820db28474248ba7d7d1060bb/README.md#benchmark"
)
FASHION_REFERENCES = [
    ("MLP 256-128-64", "None", "0.900", "@lianghong"),
    ("2 Conv Layers with max pooling (Keras)", "None", "0.876", "Kashif Rasul"),
    ("2 Conv Layers with max pooling (Tensorflow) >300 epochs", "None", "0.916", "Tensorflow's doc"),
    ("2 Conv Layers net <100K parameters", "None", "0.925", "@hardmaru"),
    ("2 Conv Layers 113K parameters", "Normalization", "0.922", "Abel G."),
    ("3 Conv Layers+pooling+BN", "None", "0.903", "@meghanabhange"),
    ("3 Conv+pooling and 2 FC+dropout", "None", "0.926", "@Umberto Griffo"),
]
FASHION_SKLEARN_PAGE = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

TUTORIAL_COLUMN = "tutorial (full MNIST)"
TABLE_HEADER = [
    "model", "parameters", "epochs", "n", "test accuracy", "best validation accuracy", "best epoch",
    "s/epoch after the 1st", "training time", "device", TUTORIAL_COLUMN, "run folder",
]


@dataclass(frozen=True)
class ModelRow:
    """One model on one dataset, as recorded in the run.json of the run chosen for it."""

    dataset: str
    model: str
    run_id: str
    folder: Path
    parameters: Optional[int]
    epochs: int
    test_accuracy: Optional[float]
    best_val_accuracy: Optional[float]
    best_epoch: Optional[int]  # 1-based, as run.json records it
    seconds_per_epoch: tuple
    candidates: int = 1  # completed runs found for this (dataset, device, model)
    record: dict = field(default_factory=dict, compare=False, repr=False)
    seeds: tuple = ()  # (folder, run.json) of every seed of the row's configuration, this run among them

    @property
    def runs(self) -> tuple:
        return self.seeds or ((self.folder, self.record),)

    @property
    def device(self) -> str:
        return device_text(self.record)

    def values(self, read) -> list:
        """`read(run.json)` of each seed's run, Nones left out."""
        return [value for value in (read(data) for _, data in self.runs) if value is not None]

    @property
    def steady_seconds_per_epoch(self) -> Optional[float]:
        """The median of epochs 2..E (utils.runs.timing, as every view): the first also traces and compiles; with
        seeds, the median of the runs' medians."""
        steady = self.values(lambda data: steady_epoch_seconds(tuple(data.get("seconds_per_epoch") or ())))
        return statistics.median(steady) if steady else None

    @property
    def training_seconds(self) -> float:
        """All epochs of one run (with seeds: the mean over the runs)."""
        return statistics.mean(sum(data.get("seconds_per_epoch") or ()) for _, data in self.runs)


def row_from_record(folder, data: dict, candidates: int = 1, seeds: tuple = ()) -> ModelRow:
    best = data.get("best") or {}
    return ModelRow(
        dataset=(data.get("data") or {}).get("name"),
        model=data["model"],
        run_id=data.get("run_id", Path(folder).name),
        folder=Path(folder),
        parameters=data.get("parameters"),
        epochs=data.get("epochs_completed") or 0,
        test_accuracy=(data.get("test_metrics") or {}).get("test_accuracy"),
        best_val_accuracy=best.get("value"),
        best_epoch=best.get("epoch"),
        seconds_per_epoch=tuple(data.get("seconds_per_epoch") or ()),
        candidates=candidates,
        record=data,
        seeds=seeds if len(seeds) > 1 else (),
    )


def history_epochs(run_folder):
    """history.csv of a run with its epoch column 1-based.

    The run store converts folders written before run.json's "format" 2 (0-based epochs), in one place.
    """
    return RunFolder(run_folder).read_history()


def run_folders_in(directory) -> list:
    """`directory` itself when it is a run folder, else the run folders directly inside it, by name."""
    directory = Path(directory)
    if RunFolder(directory).is_run():
        return [directory]
    return sorted(path for path in directory.iterdir() if RunFolder(path).is_run())


@dataclass
class Selection:
    """The rows of each dataset (alphabetical by model) and what was noticed while choosing them."""

    rows: dict  # dataset -> [ModelRow]
    notes: list


def select_rows(folders, datasets, models=None) -> Selection:
    """One row per (dataset, device class, model) from completed mnist runs: the configuration with the most seeds
    (then the most epochs, then the newest), its runs averaged."""
    notes = []
    candidates = {}
    for folder in folders:
        try:
            record = RunRecord.load(folder)
        except UserError as error:
            notes.append(f"skipped {Path(folder).name}: {error}")
            continue
        data = record.data
        dataset = (data.get("data") or {}).get("name")
        if data.get("task") != TASK or record.status != "completed" or dataset not in datasets:
            continue
        if models and data.get("model") not in models:
            continue
        candidates.setdefault((dataset, device_text(data), data["model"]), []).append((Path(folder), data))
    rows = {}
    for (dataset, device, model), runs in sorted(candidates.items()):
        seeds = chosen_configuration(runs)
        folder, data = max(seeds, key=lambda run: (run[1].get("started") or "", run[0].name))
        row = row_from_record(folder, data, candidates=len(runs), seeds=tuple(seeds))
        rows.setdefault(dataset, []).append(row)
        if len(runs) > len(seeds):
            chosen = (f"the {len(seeds)} seeds of one configuration (newest {row.run_id})" if len(seeds) > 1
                      else row.run_id)
            notes.append(f"{dataset} / {device} / {model}: {len(runs)} completed runs found; the table uses {chosen}, "
                         f"the configuration with the most seeds, then the most epochs ({row.epochs}), then the newest.")
    return Selection(rows=rows, notes=notes)


def chosen_configuration(runs) -> list:
    """The runs of the configuration (utils.runs.groups: every setting but the seed) with the most seeds, then the
    most epochs, then the newest run; one run per seed (the one with the most epochs, then the newest), by seed."""
    def newest(run):
        return run[1].get("epochs_completed") or 0, run[1].get("started") or "", run[0].name

    configurations = {}
    for run in runs:
        seeds = configurations.setdefault(group_id(run[1]), {})
        seed = (run[1].get("hyperparameters") or {}).get("seed")
        seeds[seed] = max(seeds.get(seed, run), run, key=newest)
    chosen = max(configurations.values(), key=lambda seeds: (len(seeds), max(map(newest, seeds.values()))))
    return [chosen[seed] for seed in sorted(chosen, key=lambda seed: (seed is None, seed or 0))]


# --- formatting -------------------------------------------------------------------------------------------------

def percent(value) -> str:
    return MISSING if value is None else f"{100 * value:.2f} %"


def percent_over_seeds(values) -> str:
    """'97.12 ± 0.21 %' (mean ± sample std over the seeds), or one run's '97.00 %'."""
    if len(values) < 2:
        return percent(values[0] if values else None)
    return f"{100 * statistics.mean(values):.2f} ± {100 * statistics.stdev(values):.2f} %"


def range_text(values) -> str:
    if not values:
        return MISSING
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}–{high}"


def test_accuracy_of(data: dict):
    return (data.get("test_metrics") or {}).get("test_accuracy")


def best_of(key: str):
    return lambda data: (data.get("best") or {}).get(key)


def seconds_text(value) -> str:
    if value is None:
        return MISSING
    return f"{value / 60:.1f} min" if value >= 600 else f"{value:.1f} s"


def table_cells(row: ModelRow) -> dict:
    """The row's cells by column name, from run.json as recorded."""
    tutorial = TUTORIAL_MNIST.get(row.model)
    cells = [
        row.model,
        MISSING if row.parameters is None else f"{row.parameters:,}",
        str(row.epochs),
        str(len(row.runs)),
        percent_over_seeds(row.values(test_accuracy_of)),
        percent_over_seeds(row.values(best_of("value"))),
        range_text(row.values(best_of("epoch"))),
        MISSING if row.steady_seconds_per_epoch is None else f"{row.steady_seconds_per_epoch:.2f}",
        seconds_text(row.training_seconds),
        device_text(row.record),
        MISSING if tutorial is None else f"{tutorial:.2f} %",
        ", ".join(f"`{folder.name}`" for folder, _ in row.runs),  # names under the outputs folder, never absolute paths
    ]
    return dict(zip(TABLE_HEADER, cells))


def device_text(record: dict) -> str:
    """Where the run trained, as run.json records it: the Keras backend and CPU or GPU."""
    execution = record.get("execution") or {}
    return f"{execution.get('backend', MISSING)} {'GPU' if execution.get('gpu') else 'CPU'}"


def markdown_table(header, lines) -> str:
    rows = [header, ["---"] * len(header), *lines]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in rows)


def results_table(dataset, rows) -> str:
    """One row per model; digit datasets get the tutorial's full-MNIST figure beside each row."""
    header = [column for column in TABLE_HEADER if dataset in DIGIT_DATASETS or column != TUTORIAL_COLUMN]
    return markdown_table(header, [[table_cells(row)[column] for column in header] for row in rows])


def settings_line(rows) -> str:
    """The settings the runs share, and per model where one differs (mlp_small brings its own optimizer and loss)."""
    parts = []
    for key in ("batch_size", "optimizer", "learning_rate", "loss", "validation_split", "limit", "seed"):
        values = {row.model: ",".join(sorted({setting_text(key, (data.get("hyperparameters") or {}).get(key))
                                               for _, data in row.runs}, key=natural)) for row in rows}
        texts = list(values.values())
        common = max(sorted(set(texts)), key=texts.count)
        exceptions = [f"{model}: {value}" for model, value in values.items() if value != common]
        label = "seeds" if key == "seed" and "," in common else key
        parts.append(f"{label} {common}" + (f" ({'; '.join(exceptions)})" if exceptions else ""))
    sizes = []
    for row in rows:
        recorded = (row.record.get("data") or {}).get("sizes") or {}
        text = ", ".join(f"{split} {recorded[split]:,}" for split in ("train", "validation", "test") if split in recorded)
        if text not in sizes:
            sizes.append(text)
    return f"Settings: {', '.join(parts)}. Samples: {'; '.join(sizes) or MISSING}."


# What a setting left unset (None in run.json) means.
UNSET = {"learning_rate": "the optimizer's default", "limit": "none (all samples)"}


def natural(text: str):
    return (len(text), text)  # seeds 42,43,...,100 in number order


def setting_text(key: str, value) -> str:
    return UNSET.get(key, "unset") if value is None else str(value)


def fashion_references() -> str:
    lines = [[name, preprocessing, accuracy, submitter] for name, preprocessing, accuracy, submitter in FASHION_REFERENCES]
    table = markdown_table(["classifier", "preprocessing", "Fashion test accuracy", "submitter"], lines)
    return (
        "Published references: the Fashion-MNIST authors' README, section Benchmark "
        f"([zalandoresearch/fashion-mnist README]({FASHION_SOURCE})), MLP and small-CNN rows of its table of "
        "submitted benchmarks, copied as written. The README says of that table that its authors \"haven't yet "
        "tested these results\" and that \"Test accuracy may differ due to the number of epoch, batch size, etc.\"; "
        "none of these is one of this project's models.\n\n"
        f"{table}\n\n"
        "The authors' own scikit-learn benchmark (129 classifiers, MLPClassifier among them) is published on "
        f"{FASHION_SKLEARN_PAGE}; its MLPClassifier accuracies: not found in the sources available when this script "
        "was written, so none is quoted."
    )


# --- analysis: sentences computed from the rows only, each within one table (one dataset, one device class) -----

def device_tables(rows) -> dict:
    """device class -> its rows, in the order the devices first appear (rows are sorted by model)."""
    tables = {}
    for row in rows:
        tables.setdefault(row.device, []).append(row)
    return tables


def mean_accuracy(row):
    values = row.values(test_accuracy_of)
    return statistics.mean(values) if values else None


def base_model_of(model: str) -> Optional[str]:
    for suffix in REGULARISERS:
        if model.endswith(f"_{suffix}"):
            return model[: -len(suffix) - 1]
    return None


def seed_noise(base, variant) -> str:
    """Whether the gap exceeds the seeds' spread (Welch's 95 % interval, utils.runs.groups), or that it is unmeasured."""
    groups = group_runs([data for _, data in base.runs]) + group_runs([data for _, data in variant.runs])
    if len(groups) != 2 or min(len(base.runs), len(variant.runs)) < 2:
        return "a single-seed gap, not measured against seed noise"
    return difference_line(*groups)


def regularisation_lines(dataset, device, rows) -> list:
    """Per regularised variant in one table, its test-accuracy difference against its base model in that table."""
    by_model = {row.model: row for row in rows}
    lines = []
    for row in rows:
        base = by_model.get(base_model_of(row.model))
        if base is None or mean_accuracy(row) is None or mean_accuracy(base) is None:
            continue
        difference = 100 * (mean_accuracy(row) - mean_accuracy(base))
        epochs = "" if row.epochs == base.epochs else f", epochs differ: {row.epochs} vs {base.epochs}"
        lines.append(f"- {dataset}, {device}: {row.model} against {base.model}: {difference:+.2f} points "
                     f"({percent(mean_accuracy(row))} vs {percent(mean_accuracy(base))}, mean of n={len(row.runs)} and "
                     f"n={len(base.runs)}{epochs}); {seed_noise(base, row)}")
    return lines


def early_best_lines(dataset, device, rows) -> list:
    """Models whose every seed had its best validation epoch at or before OVERFIT_FRACTION of the epochs."""
    lines = []
    for row in rows:
        epochs = row.values(best_of("epoch"))
        if epochs and row.epochs > 1 and max(epochs) <= OVERFIT_FRACTION * row.epochs:
            lines.append(
                f"- {dataset}, {device}: {row.model}: best validation at epoch {range_text(epochs)} of {row.epochs} "
                f"({percent_over_seeds(row.values(best_of('value')))}); test accuracy after the last epoch "
                f"{percent_over_seeds(row.values(test_accuracy_of))}."
            )
    return lines


def test_size(rows):
    """The test-set size the runs of one dataset recorded (run.json data.sizes.test)."""
    sizes = {((row.record.get("data") or {}).get("sizes") or {}).get("test") for row in rows} - {None}
    return max(sizes) if sizes else None


def scale_line(dataset, device, rows) -> str:
    size = test_size(rows)
    single = sorted(row.model for row in rows if len(row.runs) < 2)
    seeds = ("every row is one run with one seed: the spread between seeds was not measured" if len(single) == len(rows)
             else "rows with n ≥ 2 are the mean ± sample std over their seeds"
             + (f"; one seed only (spread not measured): {', '.join(single)}" if single else ""))
    return f"- Scale, {dataset}, {device}: one test image is {100 / size:.2f} points ({size:,} test images); {seeds}."


def analysis(rows_by_dataset) -> str:
    """Regularised variants against their base model and early best epochs, within each table; no ranking."""
    datasets = [dataset for dataset in DATASETS if rows_by_dataset.get(dataset)]
    tables = [(dataset, device, rows) for dataset in datasets
              for device, rows in device_tables(rows_by_dataset[dataset]).items()]
    sections = ["### Regularised variants against their base model (test accuracy, percentage points, same table)"]
    sections += [line for table in tables for line in regularisation_lines(*table)] or [
        "- No variant was measured beside its base model in one table."]
    sections += [scale_line(*table) for table in tables if test_size(table[2])]
    sections += ["", f"### Best validation epoch at or before {OVERFIT_FRACTION:.0%} of the epochs (every seed)"]
    sections += [line for table in tables for line in early_best_lines(*table)] or [
        "- None: every model's best validation accuracy came late in its run."]
    return "\n".join(sections)


# --- the machine and the software -------------------------------------------------------------------------------

def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def distinct(rows, section: str, key: str) -> str:
    values = sorted({str((row.record.get(section) or {}).get(key)) for row in rows})
    return ", ".join(values) if values else MISSING


def setup_lines(all_rows) -> list:
    hosts = sorted({(row.record.get("environment") or {}).get("hostname") or "unknown" for row in all_rows})
    here = socket.gethostname()
    if hosts == [here]:
        machine = f"{distinct(all_rows, 'environment', 'platform')}; CPU {cpu_model()}, {os.cpu_count()} cores"
    else:  # run.json does not record the CPU, and this machine is not the one that trained
        machine = f"{distinct(all_rows, 'environment', 'platform')} (hosts {', '.join(hosts)}; CPU model not recorded in run.json)"
    gpu = {bool((row.record.get("execution") or {}).get("gpu")) for row in all_rows}
    started = sorted(str(row.record.get("started")) for row in all_rows)
    ended = sorted(str(row.record.get("ended")) for row in all_rows)
    versions = (
        f"Python {distinct(all_rows, 'environment', 'python')}, Keras {distinct(all_rows, 'environment', 'keras')}, "
        f"TensorFlow {distinct(all_rows, 'environment', 'tensorflow')}, NumPy {distinct(all_rows, 'environment', 'numpy')}"
    )
    return [
        f"- Machine: {machine}.",
        f"- Backend: {distinct(all_rows, 'execution', 'backend')} ({'GPU' if gpu == {True} else 'CPU' if gpu == {False} else 'CPU and GPU'}); {versions}.",
        f"- Code: git commit {distinct(all_rows, 'environment', 'git_commit')}.",
        f"- Trained: {started[0]} to {ended[-1]}.",
    ]


def commands_block(all_rows) -> str:
    """Each run's command as run.json records it, with its --outputs folder shown as OUTPUTS: the run folders are
    named relative to it, and the folder was a path on the machine that trained."""
    commands = sorted({outputs_hidden(data.get("command")) or MISSING for row in all_rows for _, data in row.runs})
    return "```\n" + "\n".join(commands) + "\n```"


def outputs_hidden(command):
    if not command:
        return command
    words = shlex.split(command)
    for index, word in enumerate(words[:-1]):
        if word == "--outputs":
            words[index + 1] = "OUTPUTS"
    return shlex.join(words)
