"""--models FILE.py: a user's model file registers builders that list and train like built-ins; each run keeps a
copy and its SHA-256, so evaluate works after the original is gone; a broken or empty file is one line."""
import hashlib
import json

import pytest
from conftest import assert_one_line, cli, record_of, run_folders

MODEL_FILE = '''
from models.registry import register_model


@register_model(task="xor", params=17)
def shipped_xor(input_shape, num_classes):
    """2 -> 4 tanh -> 1 sigmoid, from a user's own file."""
    import keras

    return keras.Sequential([keras.Input(shape=input_shape), keras.layers.Dense(4, activation="tanh"),
                             keras.layers.Dense(1, activation="sigmoid")], name="shipped_xor")
'''


@pytest.mark.parametrize("text, words", [
    ("def broken(:\n", ("bad_models.py", "SyntaxError")),
    ("import no_such_module_anywhere\n", ("bad_models.py", "ModuleNotFoundError", "no_such_module_anywhere")),
    ("x = 1\n", ("bad_models.py", "registers no model")),
])
def test_a_model_file_that_cannot_register_is_one_line(tmp_path, capsys, text, words):
    path = tmp_path / "bad_models.py"
    path.write_text(text)
    code = cli("xor", ["--models", path, "-m", "anything", "--outputs", tmp_path / "outputs"])
    assert_one_line(capsys, code, 1, *words)
    assert not (tmp_path / "outputs").exists()


@pytest.mark.slow
def test_a_model_file_lists_trains_and_outlives_its_original(tmp_path, capsys):
    path = tmp_path / "my_models.py"
    path.write_text(MODEL_FILE)
    assert cli("xor", ["list", "--models", path]) == 0
    assert "shipped_xor" in capsys.readouterr().out
    outputs = tmp_path / "outputs"
    assert cli("xor", ["--models", path, "-m", "shipped_xor", "--epochs", 2, "--outputs", outputs, "--quiet"]) == 0
    (folder,) = run_folders(outputs)
    record = record_of(folder)
    assert record["model"] == "shipped_xor" and record["status"] == "completed"
    assert (folder / "models.py").read_text() == MODEL_FILE
    assert record["models_file"]["sha256"] == hashlib.sha256(MODEL_FILE.encode()).hexdigest()
    path.unlink()
    capsys.readouterr()
    assert cli("xor", ["evaluate", folder, "--quiet"]) == 0
    (metrics,) = (folder / "evaluations").glob("*/metrics.json")
    assert json.loads(metrics.read_text())["test_accuracy"] == pytest.approx(record["test_metrics"]["test_accuracy"])
    assert cli("xor", ["resume", folder, "--epochs", 3, "--quiet"]) == 0
    assert record_of(folder)["epochs_completed"] == 3
