"""The runner's three MNIST models in plain PyTorch on the CPU: a reference point for what this machine can do.

Same layer sizes and parameter counts as models/mnist.py, same data as bench/bare_keras.py (Fashion-MNIST, the first
--limit training images, the 10k test set as the held-out set), Adam with lr 1e-3, batch 256, reshuffled every
epoch. Differences that remain: PyTorch's default weight initialisation, and the softmax folded into the loss.
OpenMP threads wait passively (OMP_WAIT_POLICY=PASSIVE unless set), see main().
The last stdout line is one JSON object for bench/run.py, or {"skipped": ...} when torch is not installed.

    python bench/torch_mnist.py --model conv_net --epochs 3 [--limit N]
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # utils/ lives one folder up
from utils.tasks.mnist import read_idx  # noqa: E402

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
# The parameter counts of the Keras definitions; a mismatch means the two models are not the same network.
KERAS_PARAMETERS = {"conv_net": 93_322, "mlp_one_layer": 407_050, "le_net": 1_256_080}
BATCH_SIZE = 256
EVAL_BATCH_SIZE = 1024


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(KERAS_PARAMETERS), default="conv_net")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N training samples only")
    parser.add_argument("--data-dir", default=str(FASHION_DIR), help="folder of the four Fashion-MNIST IDX .gz files")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: the CPUs this process may use)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--device", default="cpu", help="torch device: cpu, or cuda (the whole data set then lives on the GPU)")
    return parser.parse_args(argv)


def load_tensors(data_dir: Path, limit):
    """float32 NCHW images in [0, 1] and int64 labels, train then test."""
    import torch

    def images(name):
        # .float() copies the read-only uint8 buffer; from_numpy only wraps it, so it is never written.
        return torch.from_numpy(read_idx(data_dir / name, 3).copy()).unsqueeze(1).float().div_(255)

    def labels(name):
        return torch.from_numpy(read_idx(data_dir / name, 1).astype(np.int64))

    x_train, y_train = images("train-images-idx3-ubyte.gz"), labels("train-labels-idx1-ubyte.gz")
    if limit:
        x_train, y_train = x_train[:limit].contiguous(), y_train[:limit].contiguous()
    return (x_train, y_train), (images("t10k-images-idx3-ubyte.gz"), labels("t10k-labels-idx1-ubyte.gz"))


def build(name: str):
    """The Keras models layer for layer; outputs are logits (CrossEntropyLoss applies the softmax)."""
    from torch import nn

    if name == "mlp_one_layer":  # 784 -> 512 relu -> 10
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    if name == "conv_net":  # 3x3 convs 32-64-64 ('valid'), 2x2 pools, 64-unit head: 28 -> 26 -> 13 -> 11 -> 5 -> 3
        return nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3), nn.ReLU(),
            nn.Flatten(), nn.Linear(64 * 3 * 3, 64), nn.ReLU(), nn.Linear(64, 10),
        )
    if name == "le_net":  # 5x5 'same' convs 20 and 50, 2x2 pools, 500-unit dense: 28 -> 14 -> 7
        return nn.Sequential(
            nn.Conv2d(1, 20, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(20, 50, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Flatten(), nn.Linear(50 * 7 * 7, 500), nn.ReLU(), nn.Linear(500, 10),
        )
    raise ValueError(f"unknown model {name!r}")


def train_epoch(model, optimizer, loss_function, x, y, generator) -> None:
    import torch

    model.train()
    # Indexing the tensors with a fresh permutation is PyTorch's cheap shuffle; a DataLoader over a TensorDataset
    # would add a Python call per sample.
    order = torch.randperm(len(x), generator=generator).to(x.device)
    for start in range(0, len(x), BATCH_SIZE):
        batch = order[start : start + BATCH_SIZE]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_function(model(x[batch]), y[batch])
        loss.backward()
        optimizer.step()


def accuracy(model, x, y) -> float:
    import torch

    model.eval()
    correct = 0
    with torch.inference_mode():
        for start in range(0, len(x), EVAL_BATCH_SIZE):
            correct += (model(x[start : start + EVAL_BATCH_SIZE]).argmax(1) == y[start : start + EVAL_BATCH_SIZE]).sum().item()  # .item() waits for the GPU
    return correct / len(x)


def run(args) -> dict:
    import torch

    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    torch.manual_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = load_tensors(Path(args.data_dir), args.limit)
    device = torch.device(args.device)
    x_train, y_train, x_test, y_test = (tensor.to(device) for tensor in (x_train, y_train, x_test, y_test))
    model = build(args.model).to(device)
    parameters = sum(parameter.numel() for parameter in model.parameters())
    if parameters != KERAS_PARAMETERS[args.model]:
        raise SystemExit(f"{args.model}: {parameters:,} parameters, the Keras model has {KERAS_PARAMETERS[args.model]:,}")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_function = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(args.seed)

    fit_started_at = time.time()
    epoch_seconds, test_accuracy = [], None
    for _ in range(args.epochs):
        start = time.perf_counter()
        train_epoch(model, optimizer, loss_function, x_train, y_train, generator)
        test_accuracy = accuracy(model, x_test, y_test)  # held-out pass each epoch, like Keras' validation
        epoch_seconds.append(time.perf_counter() - start)
    return {
        "epoch_seconds": epoch_seconds,
        "fit_started_at": fit_started_at,
        "test_accuracy": test_accuracy,
        "train_samples": len(x_train),
        "validation_samples": len(x_test),
        "parameters": parameters,
        "threads": threads,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "torch": torch.__version__,
        "device": str(device),
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    # OpenMP threads that spin while waiting collapse when the CPUs are shared: with a neighbour busy on one of two
    # cores, an epoch took 20-30x longer than on an idle machine. Passive waiting keeps PyTorch's figures about its
    # own speed; it must be set before torch (libgomp) is loaded. An explicit OMP_WAIT_POLICY wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import torch  # noqa: F401
    except ImportError:
        print(json.dumps({"skipped": "torch not installed"}), flush=True)
        return 0
    print(json.dumps(run(args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
