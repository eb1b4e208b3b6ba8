"""Data that would train on garbage or hang the reader: non-finite values, fractional labels, hostile image
files, categories seen only in the test split.

Each case runs in-process through the real entry point (utils.cli.main.run_task) and checks the promise: one line
on stderr, the exit code, and nothing half-written.
"""
import os

import numpy as np
import pytest
from conftest import assert_one_line, churn_frame, cli, run_folders
from utils.core.errors import UserError


# ---------------------------------------------------------------- non-finite data
@pytest.mark.parametrize("column, value", [
    ("Balance", "inf"), ("Age", "-inf"), ("EstimatedSalary", "1e308"), ("CreditScore", "1e39"),
])
def test_non_finite_churn_values_are_refused_with_column_and_row(tmp_path, capsys, column, value):
    frame = churn_frame().astype({column: object})
    frame.loc[7, column] = value
    path = tmp_path / "churn.csv"
    frame.to_csv(path, index=False)
    outputs = tmp_path / "outputs"
    code = cli("churn", ["--data", path, "--epochs", 1, "--outputs", outputs])
    assert_one_line(capsys, code, 1, column, "row 8")
    assert run_folders(outputs) == []


@pytest.mark.parametrize("row", ["nan,1", "inf,0", "0,-inf", "1e39,0"])
def test_non_finite_xor_predict_rows_are_refused(xor_run, capsys, row):
    predictions = xor_run / "predictions"
    before = sorted(predictions.iterdir()) if predictions.is_dir() else []
    code = cli("xor", ["predict", xor_run, "0,1", row])
    assert_one_line(capsys, code, 1, "row 2", "column")
    assert (sorted(predictions.iterdir()) if predictions.is_dir() else []) == before


@pytest.mark.parametrize("labels", [np.nan, 2.5])
def test_npz_labels_that_are_not_whole_numbers_are_refused(tmp_path, capsys, labels):
    rng = np.random.default_rng(0)
    y_train = rng.integers(0, 10, 100).astype(np.float64)
    y_train[5] = labels
    np.savez(tmp_path / "fashion_mnist.npz", x_train=rng.integers(0, 255, (100, 28, 28), dtype=np.uint8),
             y_train=y_train, x_test=rng.integers(0, 255, (20, 28, 28), dtype=np.uint8), y_test=np.arange(20) % 10)
    outputs = tmp_path / "outputs"
    code = cli("mnist", ["--dataset", "fashion_mnist", "--data-dir", tmp_path, "--epochs", 1, "--outputs", outputs])
    assert_one_line(capsys, code, 1, "y_train row 5")
    assert run_folders(outputs) == []


# ---------------------------------------------------------------- images
@pytest.fixture
def tiny_png(tmp_path):
    from PIL import Image

    path = tmp_path / "digit.png"
    Image.new("L", (100, 100), 255).save(path)
    return path


def test_a_fifo_named_png_is_refused_without_hanging(tmp_path):
    from utils.tasks.images import image_to_mnist

    fifo = tmp_path / "x.png"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="not a regular file"):
        image_to_mnist(fifo)


@pytest.mark.parametrize("path", ["/dev/null", "/dev/zero"])
def test_a_device_is_refused(path):
    from utils.tasks.images import image_to_mnist

    with pytest.raises(UserError, match="not a regular file"):
        image_to_mnist(path)


def test_a_folder_named_png_is_refused(tmp_path):
    from utils.tasks.images import image_to_mnist

    (tmp_path / "y.png").mkdir()
    with pytest.raises(UserError, match="not a regular file"):
        image_to_mnist(tmp_path / "y.png")


def test_a_decompression_bomb_is_refused(tiny_png, monkeypatch):
    from PIL import Image

    from utils.tasks.images import image_to_mnist

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 100x100 is then a "bomb" (more than twice the limit)
    with pytest.raises(UserError, match="Refusing image"):
        image_to_mnist(tiny_png)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 6000)  # between the limit and twice it: Pillow only warns
    with pytest.raises(UserError, match="Refusing image"):
        image_to_mnist(tiny_png)


def test_an_oversized_image_file_is_refused(tiny_png, monkeypatch):
    from utils.tasks import images

    monkeypatch.setattr(images, "MAX_IMAGE_BYTES", 10)
    with pytest.raises(UserError, match="MiB"):
        images.image_to_mnist(tiny_png)


def test_a_text_file_named_png_is_one_line(tmp_path):
    from utils.tasks.images import image_to_mnist

    (tmp_path / "z.png").write_text("not an image\n" * 5)
    with pytest.raises(UserError, match="Cannot read image"):
        image_to_mnist(tmp_path / "z.png")


def test_a_failed_download_names_its_cause(tmp_path, monkeypatch):
    from utils.tasks import mnist

    def unreachable(dataset):
        raise Exception("URL fetch failure on https://example.invalid/mnist.npz: None -- [Errno -3] "
                        "Temporary failure\nin name resolution")

    monkeypatch.setattr(mnist, "_download", unreachable)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError) as raised:
        mnist.load_image_arrays("mnist")
    message = str(raised.value)
    assert "[Errno -3] Temporary failure in name resolution" in message and "\n" not in message
