"""XLA by default only where its compile pays back: the choice and its reason are recorded, and a resume keeps it."""
import json
from types import SimpleNamespace

import keras
import pytest
from conftest import cli, record_of, run_folders, train_xor

from utils.training import backend, compile as compiling
from utils.training.compile import XLA_PAYS_BACK_STEPS, jit_choice

pytestmark = pytest.mark.skipif(backend.has_gpu(), reason="the step-aware default applies on a CPU; Keras decides on a GPU")


def dense_model():
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])


def conv_model():
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3), keras.layers.Flatten(), keras.layers.Dense(3)])


@pytest.fixture
def compiled_with(monkeypatch) -> list:
    """Whether each model the engine compiles from here on gets XLA, in order."""
    compiled, original = [], compiling.compile_model

    def spy(model, *args, **kwargs):
        choice = original(model, *args, **kwargs)
        compiled.append(bool(model.jit_compile))
        return choice

    monkeypatch.setattr("utils.training.engine.compile_model", spy)
    return compiled


def test_a_dense_model_gets_xla_only_from_the_pay_back_step_count():
    unset = SimpleNamespace(jit=None)
    short = jit_choice(dense_model(), unset, XLA_PAYS_BACK_STEPS - 1)
    assert short.value is False and f"{XLA_PAYS_BACK_STEPS - 1:,} training steps" in short.reason
    long = jit_choice(dense_model(), unset, XLA_PAYS_BACK_STEPS)
    assert long.value is True and f"{XLA_PAYS_BACK_STEPS:,} training steps" in long.reason
    assert jit_choice(conv_model(), unset, 10 * XLA_PAYS_BACK_STEPS).value is False  # oneDNN beats XLA for convolutions


def test_a_given_choice_is_kept_however_long_the_run():
    assert jit_choice(dense_model(), SimpleNamespace(jit=True), 1) == compiling.JitChoice(True, "--jit")
    assert jit_choice(conv_model(), SimpleNamespace(jit=True), 1).value is True
    assert jit_choice(dense_model(), SimpleNamespace(jit=False), 10 * XLA_PAYS_BACK_STEPS).value is False


def test_a_short_run_records_xla_off_with_its_reason(xor_run):
    record = record_of(xor_run)
    assert record["execution"]["jit_compile"] is False and record["hyperparameters"]["jit"] is False
    assert "training steps, under the" in record["execution"]["jit_reason"]
    assert "jit" in record["resolved_settings"]


def test_a_resume_compiles_as_the_run_began_even_where_a_new_run_would_choose_otherwise(tmp_path, monkeypatch, compiled_with):
    outputs = tmp_path / "outputs"
    assert train_xor(outputs, epochs=1) == 0  # a few steps: XLA off
    (folder,) = run_folders(outputs)
    assert record_of(folder)["execution"]["jit_compile"] is False
    compiled_with.clear()  # what is compiled from here on
    monkeypatch.setattr(compiling, "XLA_PAYS_BACK_STEPS", 1)  # from here, any new run would be long enough
    assert cli("xor", ["resume", folder, "--epochs", 2, "--quiet"]) == 0
    assert compiled_with == [False]
    assert train_xor(outputs, epochs=1) == 0  # the patched threshold does reach a new run
    assert compiled_with == [False, True]


def test_an_older_record_without_a_jit_setting_resumes_as_it_compiled(xor_copy, compiled_with):
    record = record_of(xor_copy)  # as runs recorded before the resolved settings: jit unset, its compile in execution
    record["hyperparameters"]["jit"] = None
    record["execution"]["jit_compile"] = True
    (xor_copy / "run.json").write_text(json.dumps(record))
    assert cli("xor", ["resume", xor_copy, "--epochs", 3, "--quiet"]) == 0  # 12 steps: a new run would not get XLA
    assert compiled_with == [True]
