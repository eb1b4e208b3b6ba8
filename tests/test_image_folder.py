"""mnist.py --data-dir FOLDER of class sub-folders: Fashion-MNIST test images written as PNG files at test time
train, evaluate and predict under their folder names; a test/ sub-folder is the test split; bad folders are one line."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import assert_one_line, cli, run_folders

from utils.tasks.image_folder import is_image_folder, load_image_folder
from utils.tasks.mnist import FASHION_CLASSES, read_idx

FASHION = Path("/usr/share/datasets/fashion-mnist")


def fashion_images(count: int):
    if not (FASHION / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    images = read_idx(FASHION / "t10k-images-idx3-ubyte.gz", 3)[:count]
    return images, read_idx(FASHION / "t10k-labels-idx1-ubyte.gz", 1)[:count]


def write_folder(root: Path, images, labels, size=40, keep=None) -> Path:
    """One PNG per image (resized: any size is accepted) in a sub-folder named after its class."""
    from PIL import Image

    for index, (image, label) in enumerate(zip(images, labels)):
        if keep is not None and label not in keep:
            continue
        folder = root / FASHION_CLASSES[label].replace("/", "_")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).resize((size, size)).save(folder / f"{index}.png")
    return root


def test_a_folder_of_class_folders_is_told_from_an_idx_folder(tmp_path):
    images, labels = fashion_images(40)
    assert is_image_folder(write_folder(tmp_path / "images", images, labels))
    assert not is_image_folder(FASHION)
    arrays, names, note = load_image_folder(tmp_path / "images")
    assert names == sorted(FASHION_CLASSES[label].replace("/", "_") for label in set(labels))
    assert arrays["x_train"].shape[1:] == (28, 28) and arrays["x_train"].dtype == np.float32
    assert len(arrays["y_train"]) + len(arrays["y_test"]) == 40 and "held out" in note


def test_a_folder_with_one_class_or_no_images_is_one_line(tmp_path, capsys):
    images, labels = fashion_images(40)
    one = write_folder(tmp_path / "one", images, labels, keep={0})
    code = cli("mnist", ["--data-dir", one, "--outputs", tmp_path / "out", "--epochs", 1])
    assert_one_line(capsys, code, 1, "one class", "at least two class")
    empty = tmp_path / "empty"
    (empty / "cats").mkdir(parents=True)
    (empty / "cats" / "notes.txt").write_text("no pictures here")
    code = cli("mnist", ["--data-dir", empty, "--outputs", tmp_path / "out", "--epochs", 1])
    assert_one_line(capsys, code, 1, "no PNG or JPG images")
    assert run_folders(tmp_path / "out") == []


@pytest.mark.slow
def test_fashion_pngs_train_and_predict_under_their_folder_names(tmp_path, capsys):
    images, labels = fashion_images(300)
    root = write_folder(tmp_path / "fashion", images, labels)
    outputs = tmp_path / "out"
    argv = ["--data-dir", root, "-m", "mlp_one_layer", "--epochs", 2, "--batch-size", 32, "--outputs", outputs, "--quiet"]
    assert cli("mnist", argv) == 0
    (folder,) = run_folders(outputs)
    record = json.loads((folder / "run.json").read_text())
    assert record["data"]["class_names"] == sorted(name.replace("/", "_") for name in FASHION_CLASSES)
    assert record["data"]["sizes"]["test"] == 60
    assert "T-shirt_top" in (folder / "classification_report.txt").read_text()
    sneaker = next((root / "Sneaker").iterdir())
    assert cli("mnist", ["predict", folder, sneaker, "--outputs", outputs, "--quiet"]) == 0
    (written,) = (folder / "predictions").glob("*.csv")
    assert pd.read_csv(written)["predicted"].iloc[0] in record["data"]["class_names"]


@pytest.mark.slow
def test_two_classes_with_a_test_folder(tmp_path):
    images, labels = fashion_images(400)
    root = tmp_path / "two"
    write_folder(root, images[:300], labels[:300], keep={1, 9})
    write_folder(root / "test", images[300:], labels[300:], keep={1, 9})
    outputs = tmp_path / "out"
    assert cli("mnist", ["--data-dir", root, "-m", "mlp_one_layer", "--epochs", 2, "--outputs", outputs, "--quiet"]) == 0
    (folder,) = run_folders(outputs)
    record = json.loads((folder / "run.json").read_text())
    assert record["data"]["class_names"] == ["Ankle boot", "Trouser"]
    assert record["data"]["sizes"]["test"] == int(np.isin(labels[300:], [1, 9]).sum())
    assert record["test_metrics"]["test_accuracy"] > record["test_metrics"]["test_majority_baseline_accuracy"]
    assert cli("mnist", ["evaluate", folder, "--outputs", outputs, "--quiet"]) == 0
