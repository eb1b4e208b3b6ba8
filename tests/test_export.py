"""export RUN --to keras|saved_model|onnx: the artefact reloads as a deployment would load it and gives the trained
model's outputs; a failed check is kept aside as FAILED; bad requests are one line. (The tabular task types are
exported in tests/test_csv_runs.py.)"""
import numpy as np
import pytest

from conftest import assert_one_line, cli, export_everywhere, record_of, run_script


def test_the_formats_exported_are_the_formats_the_option_offers():
    from utils.core.options import EXPORT_FORMATS
    from utils.runs.folder import EXPORT_NAMES
    from utils.training.export import FORMATS

    assert tuple(FORMATS) == EXPORT_FORMATS and tuple(EXPORT_NAMES) == EXPORT_FORMATS


@pytest.mark.parametrize("argv, code, words", [
    (["export", "RUN", "--to", "tflite"], 2, ["--to", "tflite", "keras"]),
    (["export", "RUN"], 2, ["--to keras|saved_model|onnx"]),
])
def test_an_unknown_or_missing_format_is_one_line(capsys, argv, code, words):
    assert_one_line(capsys, cli("xor", argv), code, *words)


def test_a_missing_run_is_one_line(tmp_path, capsys):
    code = cli("xor", ["export", tmp_path / "no_such_run", "--to", "keras", "--outputs", tmp_path])
    assert_one_line(capsys, code, 1, "does not exist")
    assert not (tmp_path / "no_such_run").exists()


def test_onnx_on_jax_without_jax2onnx_names_the_tensorflow_backend(tmp_path, capsys, monkeypatch):
    from utils.training import backend, export

    monkeypatch.setattr(backend, "name", lambda: "jax")
    monkeypatch.setattr(export, "installed", lambda module: module != "jax2onnx")
    code = cli("xor", ["export", tmp_path / "run", "--to", "onnx"])
    assert_one_line(capsys, code, 1, "jax backend", "pip install jax2onnx", "KERAS_BACKEND=tensorflow", "tf2onnx")


def test_a_missing_exporter_package_says_what_to_install(tmp_path, capsys, monkeypatch):
    from utils.training import export

    monkeypatch.setattr(export, "installed", lambda module: module != "tf2onnx")
    code = cli("xor", ["export", tmp_path / "run", "--to", "onnx"])
    assert_one_line(capsys, code, 1, "needs tf2onnx", "pip install tf2onnx")


def test_a_backend_no_exporter_serves_is_told_which_can(tmp_path, capsys, monkeypatch):
    from utils.training import backend

    monkeypatch.setattr(backend, "name", lambda: "numpy")
    code = cli("xor", ["export", tmp_path / "run", "--to", "saved_model"])
    assert_one_line(capsys, code, 1, "tensorflow, jax, torch backend", "numpy")


@pytest.mark.slow  # trains in process
def test_xor_exports_to_every_format_and_each_reloads_to_the_same_outputs(xor_copy, capsys):
    import keras
    import onnxruntime

    checks = export_everywhere("xor", xor_copy, test_rows=4)
    capsys.readouterr()
    assert cli("xor", ["export", xor_copy, "--to", "onnx"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert "export onnx passed: max abs difference" in printed[-2] and "on 4 test inputs" in printed[-2]
    assert printed[-1] == checks["onnx"]["path"]
    assert [check["format"] for check in record_of(xor_copy)["exports"]] == ["keras", "saved_model", "onnx", "onnx"]
    assert "shape (2,)" in checks["keras"]["input"]
    # Loaded here as a user would load each, not through the command's own check.
    rows = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    trained = keras.models.load_model(xor_copy / "model.h5", compile=False).predict(rows, verbose=0)
    session = onnxruntime.InferenceSession(checks["onnx"]["path"], providers=["CPUExecutionProvider"])
    outputs = {
        "keras": keras.models.load_model(checks["keras"]["path"]).predict(rows, verbose=0),
        "saved_model": keras.ops.convert_to_numpy(keras.layers.TFSMLayer(checks["saved_model"]["path"], "serve")(rows)),
        "onnx": session.run(None, {session.get_inputs()[0].name: rows})[0],
    }
    for name, values in outputs.items():
        np.testing.assert_allclose(values, trained, atol=1e-5, err_msg=name)


@pytest.mark.slow  # trains in process
def test_a_failed_check_is_kept_aside_said_and_recorded(xor_copy, capsys, monkeypatch):
    from utils.training import export

    target = xor_copy / "deploy" / "xor_saved_model"
    assert cli("xor", ["export", xor_copy, "--to", "saved_model", "--output", target, "--quiet"]) == 0
    stamp = (target / "saved_model.pb").stat().st_mtime_ns
    monkeypatch.setattr(export, "TOLERANCE", -1.0)  # no difference, not even 0, is within it
    capsys.readouterr()
    assert cli("xor", ["export", xor_copy, "--to", "saved_model", "--output", target]) == 1
    captured = capsys.readouterr()
    assert "FAILED" in captured.err and "Traceback" not in captured.err
    assert (target / "saved_model.pb").stat().st_mtime_ns == stamp  # the checked export stays as it was
    assert (target.parent / "xor_saved_model.failed" / "saved_model.pb").is_file()
    assert sorted(path.name for path in target.parent.iterdir()) == ["xor_saved_model", "xor_saved_model.failed"]
    assert [check["passed"] for check in record_of(xor_copy)["exports"]] == [True, False]
    monkeypatch.undo()
    assert cli("xor", ["export", xor_copy, "--to", "saved_model", "--output", target, "--quiet"]) == 0
    assert (target / "saved_model.pb").stat().st_mtime_ns != stamp  # a passing export replaces a whole folder


@pytest.mark.slow  # starts a process on the JAX backend
def test_under_jax_a_saved_model_is_exported_through_jax2tf_and_checked(xor_copy):
    result = run_script("xor", "export", xor_copy, "--to", "saved_model", "--quiet", env={"KERAS_BACKEND": "jax"})
    assert result.returncode == 0, result.stderr
    (check,) = record_of(xor_copy)["exports"]
    assert (check["backend"], check["passed"], check["inputs_compared"]) == ("jax", True, 4)
    assert check["max_abs_difference"] <= 1e-5 and (xor_copy / "exports" / "model_saved_model" / "saved_model.pb").is_file()
