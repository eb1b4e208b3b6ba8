"""export RUN --to FORMAT: a run's model written as a deployable artefact (a .keras file, a TensorFlow SavedModel
folder, an ONNX file) and checked before it takes its name: reloaded the way a deployment would load it, its
outputs on the run's own test inputs must match the trained model's.

The artefact is written to a hidden sibling and renamed onto its path only when the check passed, so nothing at
that path is ever half-written or unchecked. A failed check keeps the artefact beside it as `<name>.failed`, for a
look, says FAILED and exits 1. Each check is recorded in the run's record, under `exports`.
"""
import importlib.util
import os
import shutil
import sys
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from utils.core.errors import UsageError, UserError
from utils.runs.lock import RunLock
from utils.runs.record import RunRecord
from utils.tasks.inputs import shape_inputs
from utils.training import backend
from utils.training.checkpoints import load_model_file
from utils.training.saved_models import model_outputs, reload_dataset, run_of

TOLERANCE = 1e-5  # max absolute difference allowed between the exported and the trained model's outputs
CHECK_ROWS = 100  # test inputs compared (all of them when the test set is smaller)


@dataclass(frozen=True)
class ExportFormat:
    """How Keras 3 writes one format, and what each backend needs installed to write it and to check it.

    Backends missing from `needs` cannot export the format (Keras 3's model.export: tf_saved_model from
    TensorFlow, JAX through jax2tf and PyTorch; onnx from TensorFlow through tf2onnx, JAX through jax2onnx and
    PyTorch through torch.onnx); None: every backend can."""

    name: str
    needs: Optional[dict] = None  # backend -> modules (pip names alike) the export and its check import
    folder: bool = False  # the artefact is a folder, not a file


FORMATS = {
    "keras": ExportFormat("keras"),
    "saved_model": ExportFormat("saved_model", folder=True, needs={
        "tensorflow": (), "jax": ("tensorflow",), "torch": ("tensorflow",)}),
    "onnx": ExportFormat("onnx", needs={
        "tensorflow": ("tf2onnx", "onnx", "onnxruntime"), "jax": ("jax2onnx", "onnxruntime"),
        "torch": ("onnx", "onnxruntime")}),
}


@dataclass
class ExportCheck:
    """What the run record's `exports` keeps of one export, and what the command prints."""

    format: str
    path: str
    model_file: str
    backend: str
    max_abs_difference: Optional[float]  # None where the outputs could not be compared
    inputs_compared: int
    tolerance: float
    passed: bool
    input: str  # what the exported model takes (a tabular run's: the preprocessed features)
    problem: Optional[str] = None  # why the outputs could not be compared (another shape), when so

    def line(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        compared = (f"max abs difference {self.max_abs_difference:.3g} on {self.inputs_compared} test inputs "
                    f"(tolerance {self.tolerance:g})") if self.problem is None else self.problem
        return f"export {self.format} {verdict}: {compared}; {self.path} from {Path(self.model_file).name}; input: {self.input}"


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def check_exportable(export_format: ExportFormat) -> None:
    """One UserError line when this backend cannot write the format, or lacks a package it needs to."""
    name = backend.name()
    if export_format.needs is None:
        return
    if name not in export_format.needs:
        able = ", ".join(export_format.needs)
        raise UserError(f"--to {export_format.name} needs the {able} backend; this process runs Keras on {name} "
                        "(set KERAS_BACKEND=tensorflow).")
    missing = [module for module in export_format.needs[name] if not installed(module)]
    if missing:
        advice = f"pip install {' '.join(missing)}"
        if name != "tensorflow":
            needed = export_format.needs["tensorflow"]
            advice += (", or export on the tensorflow backend (KERAS_BACKEND=tensorflow"
                       + (f", with {' and '.join(needed)})" if needed else ")"))
        raise UserError(f"--to {export_format.name} on the {name} backend needs {' and '.join(missing)}: {advice}.")


def target_path(folder, model_file: Path, export_format: ExportFormat, output) -> Path:
    """--output as given, else exports/ in the run folder named after the model file; a .keras file must end so."""
    path = Path(output) if output else folder.exported_model(model_file.stem, export_format.name)
    if export_format.name == "keras" and path.suffix != ".keras":
        raise UsageError(f"--to keras writes a .keras file (Keras picks the format by its name). Received: --output {path}.")
    if path.exists() and path.is_dir() != export_format.folder:
        kind = "a folder" if path.is_dir() else "a file"
        raise UsageError(f"--output {path} is {kind}; --to {export_format.name} writes "
                         f"{'a folder' if export_format.folder else 'a file'}: pass another path.")
    return path


def write_artifact(model, export_format: ExportFormat, path: Path) -> None:
    """The model in the format, at `path` (a fresh name in a staging folder)."""
    if export_format.name == "keras":
        model.save(path)
        return
    keras_format = "tf_saved_model" if export_format.name == "saved_model" else "onnx"
    try:
        with warnings.catch_warnings():  # Keras' own tf2onnx patch warns about np.object, which is not ours to fix
            warnings.filterwarnings("ignore", category=FutureWarning, module="keras")
            model.export(str(path), format=keras_format, verbose=False)
    except ImportError as error:  # a module this backend's exporter needs beyond those FORMATS names
        module = error.name or "the missing module"
        raise UserError(f"--to {export_format.name} on the {backend.name()} backend needs {module}: pip install {module}.")


def reloaded_outputs(export_format: ExportFormat, path: Path, inputs: np.ndarray) -> np.ndarray:
    """The exported artefact's outputs for `inputs`, loaded as a deployment loads it."""
    if export_format.name == "keras":
        import keras

        return model_outputs(keras.models.load_model(path, safe_mode=True), inputs)
    if export_format.name == "saved_model":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))  # held: its serve function needs the variables it owns
        return np.asarray(loaded.serve(inputs))
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: inputs})[0]


def input_description(folder, model) -> str:
    """What the exported model takes: a tabular run's preprocessed features (the fitted preprocessing stays in the
    run folder), else the samples as the run's loader gives them."""
    shape = tuple(model.input_shape[1:])
    for preprocessing in (folder.fitted_preprocessing, folder.preprocessing):
        if preprocessing.is_file():
            return (f"{shape[0]} preprocessed features per row (float32), as {preprocessing.name} in the run "
                    "folder makes them from raw rows; the model does not include that preprocessing")
    return f"float32 samples of shape {shape}, as the run's data loader gives them"


def compare(exported: np.ndarray, reference: np.ndarray) -> tuple:
    """(max abs difference, None) or (None, why the outputs cannot be compared)."""
    exported = np.asarray(exported)
    if exported.shape != reference.shape:
        return None, f"outputs of shape {exported.shape}, the trained model's {reference.shape}"
    difference = float(np.max(np.abs(exported.astype(np.float64) - reference.astype(np.float64))))
    return (difference, None) if np.isfinite(difference) else (None, "outputs that are not finite numbers")


def place(staged: Path, path: Path, passed: bool) -> Path:
    """Move the checked artefact onto `path` (replacing an earlier export), or beside it as `<name>.failed`."""
    final = path if passed else path.with_name(path.name + ".failed")
    if final.is_dir() and not final.is_symlink():
        # A folder cannot be renamed onto a full one: move the old one into the staging folder (deleted after).
        os.rename(final, staged.parent / ".replaced")
    os.replace(staged, final)
    return final


def staging_folder(target: Path) -> Path:
    """A hidden folder beside `target` to write the export in (the same file system, so the rename is one step)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.export-"))
    except OSError as error:
        raise UserError(f"Cannot write {target}: {error.strerror or error}; pass a writable --output.")


def export_run(task, path, format_name: str, output=None, verbosity: int = 1) -> ExportCheck:
    """Export the run's model (or the model file named) in `format_name`, check it, record and print the check."""
    export_format = FORMATS[format_name]
    check_exportable(export_format)
    record, model_file, config = run_of(path, task)
    target = target_path(record.folder, model_file, export_format, output)
    with RunLock(record.folder, "export"):
        model = load_model_file(model_file, task, compile=False)  # the forward pass alone: no optimizer to ship
        if verbosity:
            print(f"loading {task.describe_data(config.data_options)} ...", flush=True)
        inputs = shape_inputs(model, reload_dataset(task, record, config).x_test[:CHECK_ROWS]).astype(np.float32)
        reference = model_outputs(model, inputs)
        staging = staging_folder(target)
        try:
            staged = staging / target.name
            if verbosity:
                print(f"exporting {model_file.name} as {format_name} on {backend.name()} ...", flush=True)
            write_artifact(model, export_format, staged)
            difference, problem = compare(reloaded_outputs(export_format, staged, inputs), reference)
            passed = problem is None and difference <= TOLERANCE
            written = place(staged, target, passed)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        check = ExportCheck(format_name, str(written), str(model_file), backend.name(), difference, len(inputs),
                            TOLERANCE, passed, input_description(record.folder, model), problem)
        RunRecord.load(record.folder).record_export(asdict(check))
    if verbosity or not check.passed:  # --quiet: the path alone, unless the check failed
        print(check.line(), file=sys.stdout if check.passed else sys.stderr, flush=True)
    print(written)
    return check
