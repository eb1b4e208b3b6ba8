"""--models FILE.py: a user's own model file, whose builders register themselves with models.registry's decorator.

The file is imported under a name made of its SHA-256, so the same file (or its copy in a run folder) registers
its models once per process; a run keeps a copy and its hash, and resume, rerun and evaluate import that copy.
Importing it imports Keras only where the file itself does."""
import hashlib
import importlib.util
import shutil
import sys
from pathlib import Path

from models.registry import registered_names
from utils.core.errors import UserError

_LOADED: dict = {}  # sha256 -> the model names the file registered


def file_sha256(path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def load_models_file(path) -> list:
    """Import `path` and return the names of the models it registered; one UserError when it cannot be imported
    or registers nothing."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--models {path}: no such file; pass a Python file of @register_model builders.")
    digest = file_sha256(path)
    if digest in _LOADED:
        return _LOADED[digest]
    before = set(registered_names())
    name = f"user_models_{digest[:16]}"
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except Exception as error:  # a user's file may raise anything: SyntaxError, ImportError, NameError, ...
        sys.modules.pop(name, None)
        detail = " ".join(str(error).split())[:200]
        raise UserError(f"--models {path} failed to import: {type(error).__name__}: {detail}")
    added = [model for model in registered_names() if model not in before]
    if not added:
        raise UserError(f"--models {path} registers no model; decorate a builder with "
                        "@register_model(task=...) from models.registry.")
    _LOADED[digest] = added
    return added


def models_file_facts(path) -> dict:
    """What the run record says of its model file: where it came from and its SHA-256."""
    return {"source": str(Path(path).resolve()), "sha256": file_sha256(path)}


def keep_models_file(path, folder) -> None:
    """Copy the model file into the run folder, so the run outlives the original's changes or removal."""
    shutil.copyfile(path, folder.models_copy)


def load_run_models(folder) -> None:
    """Register the models of a run's kept model file, if the run trained one of those."""
    if folder.models_copy.is_file():
        load_models_file(folder.models_copy)
