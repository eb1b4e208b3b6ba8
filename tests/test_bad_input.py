"""Bad input of every kind: one clear line on stderr, a non-zero exit code, no traceback, no run left behind."""
import pytest
from conftest import run_script

# Each test here starts the entry point as a subprocess (a TensorFlow import apiece): the slow tier.
pytestmark = pytest.mark.slow

# (arguments, exit code, words the one line must contain)
USAGE_ERRORS = [
    (["-m", "conv_nett"], 2, ["Unknown model 'conv_nett'", "Did you mean 'conv_net'?"]),
    (["--epochs", "0"], 2, ["--epochs must be at least 1", "Received: 0"]),
    (["--batch-size", "-5"], 2, ["--batch-size must be at least 1"]),
    (["--learning-rate", "0"], 2, ["--learning-rate must be greater than 0"]),
    (["--learning-rate", "-0.1"], 2, ["--learning-rate must be greater than 0"]),
    (["--optimizer", "adamm"], 2, ["Unknown optimizer 'adamm'", "adam"]),
    (["--loss", "nonsense"], 2, ["Unknown loss 'nonsense'"]),
    (["--limit", "0"], 2, ["--limit must be at least 1"]),
    (["--validation-split", "1.5"], 2, ["--validation-split must be between 0 and 1"]),
    (["--validation-split", "0"], 2, ["--validation-split must be between 0 and 1"]),
    (["--epochs", "ten"], 2, ["--epochs expects a whole number", "Received: 'ten'"]),
    (["--dataset", "cifar"], 2, ["--dataset must be one of mnist, fashion_mnist, mnist_5k", "Received: 'cifar'"]),
    (["--dataset", "mnist_5k", "--limit", "99999"], 2, ["--limit 99999 is larger than the 4000 training samples"]),
]


def assert_one_clear_line(result, code, words):
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize("arguments, code, words", USAGE_ERRORS, ids=[" ".join(case[0]) for case in USAGE_ERRORS])
def test_bad_options_exit_with_one_line_and_write_nothing(tmp_path, arguments, code, words):
    outputs = tmp_path / "outputs"
    result = run_script("mnist", *arguments, "--outputs", outputs)
    assert_one_clear_line(result, code, words)
    assert not outputs.exists() or not any(outputs.iterdir())


def test_missing_data_says_where_it_looked(tmp_path):
    outputs = tmp_path / "outputs"
    result = run_script("mnist", "--data-dir", tmp_path / "nowhere", "--outputs", outputs)
    assert_one_clear_line(result, 1, ["No mnist data in --data-dir", "IDX"])
    assert not any(outputs.iterdir()) if outputs.exists() else True


def test_outputs_that_is_a_file_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run_script("xor", "--epochs", 1, "--outputs", blocker)
    assert_one_clear_line(result, 2, ["is a file, not a folder"])


def test_empty_data_files_are_reported(tmp_path):
    (tmp_path / "npz").mkdir()
    (tmp_path / "npz" / "mnist.npz").write_bytes(b"")
    result = run_script("mnist", "--data-dir", tmp_path / "npz", "--outputs", tmp_path / "outputs")
    assert_one_clear_line(result, 1, ["Cannot read", "mnist.npz", "not an .npz archive"])
    from utils.tasks.mnist import IDX_FILES

    (tmp_path / "idx").mkdir()
    for name in IDX_FILES.values():
        (tmp_path / "idx" / name).write_bytes(b"")
    result = run_script("mnist", "--data-dir", tmp_path / "idx", "--outputs", tmp_path / "outputs")
    assert_one_clear_line(result, 1, ["train-images-idx3-ubyte.gz"])
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").iterdir())


def test_an_outputs_folder_that_cannot_be_created_is_refused(tmp_path):
    result = run_script("xor", "--epochs", 1, "--outputs", "/proc/no-such-place/outputs")
    assert_one_clear_line(result, 2, ["Cannot create the outputs folder", "--outputs"])


def test_predict_needs_inputs_and_readable_images(mnist_run, tmp_path):
    result = run_script("mnist", "predict", mnist_run)
    assert_one_clear_line(result, 2, ["arguments are required: INPUT", "predict --help"])
    fake = tmp_path / "digit.png"
    fake.write_text("not an image")
    result = run_script("mnist", "predict", mnist_run, fake)
    assert_one_clear_line(result, 1, ["Cannot read image", "digit.png"])
    result = run_script("mnist", "predict", mnist_run, tmp_path / "absent.png")
    assert_one_clear_line(result, 1, ["Image not found"])


def test_a_damaged_run_json_and_a_bad_last_count_are_reported(tmp_path):
    folder = tmp_path / "20260101-000000_xor_mlp"
    folder.mkdir()
    (folder / "run.json").write_text('{"status": "runn')
    result = run_script("xor", "resume", folder)
    assert_one_clear_line(result, 1, ["not valid JSON", "damaged"])
    result = run_script("xor", "compare", "--last", 0, "--outputs", tmp_path)
    assert_one_clear_line(result, 2, ["--last must be at least 1"])
