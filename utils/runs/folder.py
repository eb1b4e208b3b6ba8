"""A run folder's layout: the one place that knows its file names. Everyone else asks a RunFolder for paths."""
import io
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from utils.core.errors import UserError

RUN_FILE = "run.json"
HISTORY_FILE = "history.csv"
# run.json "format": 2 and later write history.csv with 1-based epochs (epoch 1 is the first finished epoch).
# Folders from before (no "format") hold Keras' 0-based CSVLogger numbering; read_history converts them, here only.
FORMAT = 2
# The test-set report: a classification task's per-class report, or a regression task's errors in its units.
CLASSIFICATION_REPORT = "classification_report.txt"
REGRESSION_REPORT = "regression_report.txt"
# The default name of each export format's copy of a model file, under exports/.
EXPORT_NAMES = {"keras": "{model}.keras", "saved_model": "{model}_saved_model", "onnx": "{model}.onnx"}


@dataclass(frozen=True)
class RunFolder:
    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    @property
    def name(self) -> str:
        return self.path.name

    def __str__(self) -> str:
        return str(self.path)

    def __fspath__(self) -> str:
        return str(self.path)

    # ---------------------------------------------------------------- files
    run_file = property(lambda self: self.path / RUN_FILE)
    history = property(lambda self: self.path / HISTORY_FILE)
    model_file = property(lambda self: self.path / "model.h5")
    models_copy = property(lambda self: self.path / "models.py")  # the run's copy of its --models file
    keras_model = property(lambda self: self.path / "model.keras")  # the same model in Keras 3's native format
    checkpoints = property(lambda self: self.path / "checkpoints")
    last_checkpoint = property(lambda self: self.checkpoints / "last.h5")
    best_checkpoint = property(lambda self: self.checkpoints / "best.h5")
    plots = property(lambda self: self.path / "plots")
    summary = property(lambda self: self.path / "summary.txt")
    resolved_config = property(lambda self: self.path / "config.yaml")
    preprocessing = property(lambda self: self.path / "preprocessing.json")
    fitted_preprocessing = property(lambda self: self.path / "preprocessing.joblib")  # a CSV task's fitted pipeline
    schema_file = property(lambda self: self.path / "schema.json")  # a CSV task's column types and reasons
    split_rows = property(lambda self: self.path / "splits.json")  # the CSV row positions of each split
    classification_report = property(lambda self: self.path / CLASSIFICATION_REPORT)
    regression_report = property(lambda self: self.path / REGRESSION_REPORT)  # a regression run's test report
    report = property(lambda self: self.path / "report.html")
    tensorboard = property(lambda self: self.path / "tensorboard")
    evaluations = property(lambda self: self.path / "evaluations")
    predictions = property(lambda self: self.path / "predictions")
    exports = property(lambda self: self.path / "exports")  # what `export` wrote: deployable copies of a model
    lock_file = property(lambda self: self.path / ".lock")
    environment = property(lambda self: self.path / "environment.txt")  # every installed package, pip-freeze style
    source_patch = property(lambda self: self.path / "source.patch")  # git diff of tracked files, when dirty
    figures = property(lambda self: Figures(self.plots))

    def is_run(self) -> bool:
        return self.run_file.is_file()

    def model_candidates(self) -> list:
        """The files --evaluate and --predict load from a run folder, in order of preference."""
        return [self.model_file, self.keras_model, self.last_checkpoint]

    def artifacts(self) -> list:
        """Files an experiment tracker keeps a copy of."""
        return [self.run_file, self.history, self.report, self.test_report, self.summary, self.model_file,
                self.keras_model]

    @property
    def test_report(self) -> Path:
        """The test-set report the run wrote: the regression report, else the classification report."""
        return report_of(self)

    def exported_model(self, model_stem: str, export_format: str) -> Path:
        """exports/<model>.keras, exports/<model>_saved_model/ (a folder) or exports/<model>.onnx."""
        return self.exports / EXPORT_NAMES[export_format].format(model=safe_name(model_stem))

    def new_evaluation_folder(self, label: str) -> "EvaluationFolder":
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        return EvaluationFolder(_fresh_folder(self.evaluations, f"{stamp}_{safe_name(label)}"))

    def read_history(self):
        """history.csv as a table with 1-based epochs; a last line cut off by a crash (no newline yet) is ignored."""
        import json

        import pandas as pd

        if not self.history.is_file():
            return pd.DataFrame()
        try:
            text = self.history.read_text()
        except UnicodeDecodeError:
            raise UserError(f"{self.history} is damaged (not text); restore it or leave this run out.")
        if text and not text.endswith("\n"):
            text = text[: text.rfind("\n") + 1]
        if not text.strip():
            return pd.DataFrame()
        try:
            history = pd.read_csv(io.StringIO(text))
        except (pd.errors.ParserError, UnicodeDecodeError) as error:
            raise UserError(f"{self.history} is damaged ({str(error).strip().splitlines()[0][:200]}); "
                            "restore it or leave this run out.")
        if "epoch" not in history:
            raise UserError(f"{self.history} is damaged (no epoch column); restore it or leave this run out.")
        for column in history.columns:  # every column is a number per epoch; text would fail deep inside a plot
            numbers = pd.to_numeric(history[column], errors="coerce")
            bad = history[column].notna() & numbers.isna()
            if bad.any():
                row = int(bad.idxmax())
                raise UserError(f"{self.history} is damaged ({column!r} on line {row + 2} is "
                                f"{str(history[column][row])[:40]!r}, not a number); restore it or leave this run out.")
        try:
            version = json.loads(self.run_file.read_text()).get("format", 1)
        except (OSError, ValueError, AttributeError):
            version = FORMAT
        if version < FORMAT and "epoch" in history:
            history["epoch"] = history["epoch"] + 1
        return history


@dataclass(frozen=True)
class Figures:
    """A folder of figures (a run's plots/, an evaluation, a comparison): the one place that names them."""

    path: Path

    def metric(self, name: str) -> Path:
        """<name>.png: one metric's curves (loss, accuracy, ...)."""
        return Path(self.path) / f"{name}.png"

    accuracy_loss = property(lambda self: self.metric("accuracy_loss"))  # the two side by side
    epoch_time = property(lambda self: self.metric("epoch_time"))
    learning_rate = property(lambda self: self.metric("learning_rate"))
    confusion_matrix = property(lambda self: self.metric("confusion_matrix"))
    roc_curve = property(lambda self: self.metric("roc_curve"))
    precision_recall_curve = property(lambda self: self.metric("precision_recall_curve"))
    model = property(lambda self: self.metric("model"))  # keras.utils.plot_model's picture

    def all(self) -> list:
        """Every figure written here, loss then accuracy first, the rest by name."""
        return sorted(Path(self.path).glob("*.png"), key=lambda path: (path.stem != "loss", path.stem != "accuracy", path.stem))


@dataclass(frozen=True)
class EvaluationFolder:
    """<run>/evaluations/<time>_<model file>/: what a later --evaluate wrote; the run's own results stay untouched."""

    path: Path
    classification_report = property(lambda self: self.path / CLASSIFICATION_REPORT)
    regression_report = property(lambda self: self.path / REGRESSION_REPORT)
    figures = property(lambda self: Figures(self.path))
    metrics = property(lambda self: self.path / "metrics.json")

    def __str__(self) -> str:
        return str(self.path)


def report_of(folder) -> Path:
    """A run's or an evaluation's test report: regression_report.txt where one was written, else the
    classification report."""
    return folder.regression_report if folder.regression_report.is_file() else folder.classification_report


# ---------------------------------------------------------------- the outputs folder's own files
def store_index(outputs) -> Path:
    """An index of every run's summary row (utils.runs.index_db); the run folders stay the truth."""
    return Path(outputs) / ".runs-index.sqlite"


def trash(outputs) -> Path:
    """Where --delete moves runs to, until --restore or --purge."""
    return Path(outputs) / ".trash"


def index_page(outputs) -> Path:
    """outputs/index.html: every run and comparison on one page."""
    return Path(outputs) / "index.html"


def keep_history_until(folder: RunFolder, done: int):
    """Drop history rows after epoch `done` (a kill between the history row and the checkpoint write leaves
    rows the checkpoint does not have); the file is rewritten 1-based. Returns the kept rows."""
    from utils.core import atomic

    history = folder.read_history()
    if not history.empty:
        history = history[history["epoch"] <= done]
        atomic.write_text(folder.history, history.to_csv(index=False))
    return history


def safe_name(name: str) -> str:
    """A run-name component that cannot escape the outputs folder (no separators, no '..')."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+|\.{2,}", "_", name)
    return re.sub(r"_+", "_", cleaned).strip("._") or "run"


def prepare_outputs(outputs) -> Path:
    outputs = Path(outputs)
    if outputs.exists() and not outputs.is_dir():
        raise UserError(f"--outputs {outputs} is a file, not a folder; pass a folder path.", exit_code=2)
    try:
        outputs.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"Cannot create the outputs folder {outputs}: {error.strerror}; pass a writable --outputs.", exit_code=2)
    if not os.access(outputs, os.W_OK | os.X_OK):
        raise UserError(f"The outputs folder {outputs} is not writable; pass a writable --outputs.", exit_code=2)
    return outputs


def _fresh_folder(parent: Path, base: str) -> Path:
    """`parent/base`, or `base-2`, `base-3`, ... when taken. os.mkdir either creates it or fails, so concurrent
    processes never share one."""
    parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        folder = parent / (base if attempt == 1 else f"{base}-{attempt}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise UserError(f"Could not create a new folder under {parent}.")


def create_run_folder(outputs, label: str, prefix: str = "") -> Path:
    """A new folder `<outputs>/<prefix><YYYYmmdd-HHMMSS>_<label>`; a suffix -2, -3, ... when that second is taken."""
    outputs = prepare_outputs(outputs)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return _fresh_folder(outputs, f"{prefix}{stamp}" + (f"_{safe_name(label)}" if label else ""))
