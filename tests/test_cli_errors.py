"""User errors: one clear line on stderr, a non-zero exit code, no traceback, and no run folder left behind."""
import pytest

from conftest import run_script

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
    (["--epochs", "ten"], 2, ["invalid int value: 'ten'"]),
    (["--dataset", "cifar"], 2, ["invalid choice: 'cifar'"]),
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
