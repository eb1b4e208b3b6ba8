"""RESULTS.md from run folders: pick one run per (dataset, model), tabulate it, and say what the numbers show.

Everything here reads run folders only (run.json, history.csv), so `bench/results/results.py --from-runs` regenerates the
same tables without retraining. Nothing here trains or imports Keras. Every sentence of the analysis is computed
from the table's own numbers.
"""
import os
import platform
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from utils.core.errors import UserError
from utils.runs.folder import RunFolder
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
    "model", "parameters", "epochs", "test accuracy", "best validation accuracy", "best epoch",
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
    candidates: int = 1  # completed runs found for this (dataset, model)
    record: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def steady_seconds_per_epoch(self) -> Optional[float]:
        """The median of epochs 2..E (utils.runs.timing, as every view): the first also traces and compiles."""
        return steady_epoch_seconds(self.seconds_per_epoch)

    @property
    def training_seconds(self) -> float:
        return sum(self.seconds_per_epoch)


def row_from_record(folder, data: dict, candidates: int = 1) -> ModelRow:
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
    """One row per (dataset, model) from completed mnist runs: the newest among those with the most epochs."""
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
        candidates.setdefault((dataset, data["model"]), []).append((Path(folder), data))
    rows = {}
    for (dataset, model), runs in sorted(candidates.items()):
        folder, data = max(runs, key=lambda run: (run[1].get("epochs_completed") or 0, run[1].get("started") or "", run[0].name))
        row = row_from_record(folder, data, candidates=len(runs))
        rows.setdefault(dataset, []).append(row)
        if len(runs) > 1:
            notes.append(
                f"{dataset} / {model}: {len(runs)} completed runs found; the table uses {row.run_id}, "
                f"the newest of those with the most epochs ({row.epochs})."
            )
    return Selection(rows=rows, notes=notes)


# --- formatting -------------------------------------------------------------------------------------------------

def percent(value) -> str:
    return MISSING if value is None else f"{100 * value:.2f} %"


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
        percent(row.test_accuracy),
        percent(row.best_val_accuracy),
        MISSING if row.best_epoch is None else str(row.best_epoch),
        MISSING if row.steady_seconds_per_epoch is None else f"{row.steady_seconds_per_epoch:.2f}",
        seconds_text(row.training_seconds),
        device_text(row.record),
        MISSING if tutorial is None else f"{tutorial:.2f} %",
        f"`{row.run_id}`",
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
        values = {row.model: setting_text(key, (row.record.get("hyperparameters") or {}).get(key)) for row in rows}
        texts = list(values.values())
        common = max(sorted(set(texts)), key=texts.count)
        exceptions = [f"{model}: {value}" for model, value in values.items() if value != common]
        parts.append(f"{key} {common}" + (f" ({'; '.join(exceptions)})" if exceptions else ""))
    sizes = []
    for row in rows:
        recorded = (row.record.get("data") or {}).get("sizes") or {}
        text = ", ".join(f"{split} {recorded[split]:,}" for split in ("train", "validation", "test") if split in recorded)
        if text not in sizes:
            sizes.append(text)
    return f"Settings: {', '.join(parts)}. Samples: {'; '.join(sizes) or MISSING}."


# What a setting left unset (None in run.json) means.
UNSET = {"learning_rate": "the optimizer's default", "limit": "none (all samples)"}


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


# --- analysis: sentences computed from the rows only ------------------------------------------------------------

def ranked(rows) -> list:
    scored = [row for row in rows if row.test_accuracy is not None]
    return sorted(scored, key=lambda row: (-row.test_accuracy, row.model))


def ranking_line(dataset, rows) -> str:
    """The models by test accuracy; a model trained for fewer epochs than the dataset's longest runs says so."""
    longest = max(row.epochs for row in rows)
    order = ", ".join(
        f"{place}. {row.model} {percent(row.test_accuracy)}" + ("" if row.epochs == longest else f" ({row.epochs} epochs)")
        for place, row in enumerate(ranked(rows), 1)
    )
    return f"- **{dataset}**, by test accuracy: {order}."


def base_model_of(model: str) -> Optional[str]:
    for suffix in REGULARISERS:
        if model.endswith(f"_{suffix}"):
            return model[: -len(suffix) - 1]
    return None


def regularisation_lines(rows_by_dataset, datasets) -> list:
    """Per regularised variant, its test-accuracy difference against its base model on every dataset that has both."""
    differences = {}
    for dataset in datasets:
        by_model = {row.model: row for row in rows_by_dataset[dataset]}
        for row in rows_by_dataset[dataset]:
            base = by_model.get(base_model_of(row.model))
            if base is None or row.test_accuracy is None or base.test_accuracy is None:
                continue
            difference = 100 * (row.test_accuracy - base.test_accuracy)
            epochs = "" if row.epochs == base.epochs else f", epochs differ: {row.epochs} vs {base.epochs}"
            if device_text(row.record) != device_text(base.record):  # other backend: other initial weights too
                epochs += f", trained on {device_text(row.record)} vs {device_text(base.record)}"
            differences.setdefault((row.model, base.model), []).append(
                f"{difference:+.2f} points on {dataset} ({percent(row.test_accuracy)} vs {percent(base.test_accuracy)}{epochs})"
            )
    return [f"- {variant} against {base}: {'; '.join(parts)}." for (variant, base), parts in sorted(differences.items())]


def early_best_lines(dataset, rows) -> list:
    lines = []
    for row in rows:
        if row.best_epoch is not None and row.epochs > 1 and row.best_epoch <= OVERFIT_FRACTION * row.epochs:
            lines.append(
                f"- {dataset}: {row.model}: best validation at epoch {row.best_epoch} of {row.epochs} "
                f"({percent(row.best_val_accuracy)}); test accuracy after the last epoch {percent(row.test_accuracy)}."
            )
    return lines


def ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def rank_change_lines(rows_by_dataset, first: str, second: str) -> list:
    """How `second` orders the models both datasets have, against `first` (ranks among those shared models only)."""
    shared = set(row.model for row in rows_by_dataset.get(first, [])) & set(row.model for row in rows_by_dataset.get(second, []))
    if len(shared) < 2:
        return []
    ranks = {
        dataset: {row.model: place for place, row in enumerate(ranked([r for r in rows_by_dataset[dataset] if r.model in shared]), 1)}
        for dataset in (first, second)
    }
    moved = sorted(
        (model for model in ranks[first] if model in ranks[second] and ranks[first][model] != ranks[second][model]),
        key=lambda model: ranks[second][model],
    )
    heading = f"- {second} against {first} ({len(ranks[first])} models in both, ranked among themselves):"
    if not moved:
        return [f"{heading} the same order."]
    changes = [
        f"  - {model}: {ordinal(ranks[first][model])} on {first}, {ordinal(ranks[second][model])} on {second} "
        f"({'up' if ranks[second][model] < ranks[first][model] else 'down'} {abs(ranks[first][model] - ranks[second][model])})"
        for model in moved
    ]
    return [heading, *changes]


def test_size(rows):
    """The test-set size the runs of one dataset recorded (run.json data.sizes.test)."""
    sizes = {((row.record.get("data") or {}).get("sizes") or {}).get("test") for row in rows} - {None}
    return max(sizes) if sizes else None


def analysis(rows_by_dataset) -> str:
    datasets = [dataset for dataset in DATASETS if rows_by_dataset.get(dataset)]
    sections = ["### Ranking", *[ranking_line(dataset, rows_by_dataset[dataset]) for dataset in datasets]]
    regularisation = regularisation_lines(rows_by_dataset, datasets)
    sections += ["", "### Regularised variants against their base model (test accuracy, percentage points)"]
    sections += regularisation or ["- No variant was measured beside its base model."]
    sections += [f"- Scale: one test image is {100 / size:.2f} points on {dataset} ({size:,} test images); each row is "
                 "one run with one seed, and the spread between seeds was not measured."
                 for dataset in datasets
                 for size in [test_size(rows_by_dataset[dataset])] if size]
    early = [line for dataset in datasets for line in early_best_lines(dataset, rows_by_dataset[dataset])]
    sections += ["", f"### Best validation epoch at or before {OVERFIT_FRACTION:.0%} of the epochs"]
    sections += early or ["- None: every model's best validation accuracy came late in its run."]
    changes = []
    if "fashion_mnist" in datasets:
        for digits in ("mnist_5k", "mnist"):
            if digits in datasets:
                changes += rank_change_lines(rows_by_dataset, digits, "fashion_mnist")
    sections += ["", "### How Fashion-MNIST ranks the models against the digits"]
    sections += changes or ["- Not measured: needs fashion_mnist and a digits dataset with at least two models in common."]
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
    commands = sorted({row.record.get("command") or MISSING for row in all_rows})
    return "```\n" + "\n".join(commands) + "\n```"
