"""Mixed precision, and the same commands on Keras' JAX backend (the backend the GPU benchmark ran on)."""
import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
from conftest import FASHION_DIR, PROJECT, read_run, run_folder_of, run_script

# Each test here starts the entry point as a subprocess (a TensorFlow import apiece): the slow tier.
pytestmark = pytest.mark.slow

SHORT = ["--dataset", "fashion_mnist", "--data-dir", FASHION_DIR, "--limit", 300, "--quiet"]
JAX = {"KERAS_BACKEND": "jax"}


def layer_policies(model_file) -> dict:
    """Each layer's saved dtype policy name, read from the .h5 model config (no Keras needed)."""
    with h5py.File(model_file, "r") as saved:
        config = json.loads(saved.attrs["model_config"])
    policies = {}
    for layer in config["config"]["layers"]:
        dtype = layer["config"].get("dtype")
        if isinstance(dtype, dict):
            policies[layer["config"]["name"]] = dtype["config"]["name"]
    return policies


def test_numpy_batches_depend_only_on_seed_and_epoch():
    from utils.training.inputs import EpochPlan, numpy_training_batches

    features = np.arange(10, dtype=np.float32).reshape(10, 1)
    targets = np.arange(10, dtype=np.float32)
    straight = [batch for batch, _ in numpy_training_batches(features, targets, EpochPlan(4, 7, 0, 3))]
    resumed = [batch for batch, _ in numpy_training_batches(features, targets, EpochPlan(4, 7, 2, 3))]
    assert len(straight) == 9  # 3 epochs of batches of 4, 4, 2
    for epoch in range(3):
        seen = np.concatenate(straight[3 * epoch: 3 * epoch + 3]).ravel()
        assert sorted(seen) == list(range(10))  # every sample exactly once per epoch
    assert not np.array_equal(np.concatenate(straight[0:3]), np.concatenate(straight[3:6]))  # reshuffled
    for after_resume, uninterrupted in zip(resumed, straight[6:]):
        np.testing.assert_array_equal(after_resume, uninterrupted)
    # Labels travel with their samples; augmentation touches the features only.
    for batch, labels in numpy_training_batches(features, targets, EpochPlan(4, 7, 0, 1), augment=lambda batch: batch + 100):
        np.testing.assert_array_equal(batch.ravel(), labels + 100)


def test_mixed_precision_run_records_policy_keeps_float32_output_and_resumes(tmp_path, fashion_available):
    result = run_script("mnist", "-m", "conv_net", *SHORT, "--epochs", 1, "--mixed-precision", "--outputs", tmp_path)
    folder = run_folder_of(result)
    record = read_run(folder)
    assert record["hyperparameters"]["mixed_precision"] is True
    assert record["execution"]["dtype_policy"] == "mixed_bfloat16"  # no GPU here: bfloat16, no loss scaling
    *hidden, output = layer_policies(folder / "model.h5").items()
    assert output[1] == "float32"  # probabilities and the loss in float32
    assert {policy for name, policy in hidden if "conv" in name or "dense" in name} == {"mixed_bfloat16"}
    # Two steps on 270 images: not good yet, but clearly above chance (10 %), so bfloat16 training does learn.
    assert record["test_metrics"]["test_accuracy"] > 0.15

    resumed = run_script("mnist", "resume", folder, "--epochs", 2, "--quiet")
    assert run_folder_of(resumed) == folder
    record = read_run(folder)
    assert (record["status"], record["epochs_completed"]) == ("completed", 2)


def test_mixed_float16_adds_loss_scaling_and_resume_restores_its_state(tmp_path, fashion_available):
    # What a GPU gets (mixed_float16): Keras wraps the optimizer in a LossScaleOptimizer, whose state (the dynamic
    # loss scale included) must survive a resume. Forced here on the CPU through a wrapper of the entrypoint.
    wrapper = tmp_path / "float16_mnist.py"
    wrapper.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(PROJECT)!r})\n"
        "from utils.training import backend\n"
        "backend.mixed_precision_policy = lambda: 'mixed_float16'\n"
        "from utils.cli.main import run_task\n"
        "run_task('mnist', sys.argv[1:])\n"
    )
    outputs = tmp_path / "outputs"
    common = ["-m", "mlp_one_layer", *SHORT, "--outputs", outputs]
    folder = run_folder_of(run_python(wrapper, *common, "--epochs", 1, "--mixed-precision"))
    assert read_run(folder)["execution"]["dtype_policy"] == "mixed_float16"
    with h5py.File(folder / "checkpoints" / "last.h5", "r") as saved:
        assert "loss_scale_optimizer" in saved["optimizer_weights"]
    resumed = run_python(wrapper, "resume", folder, "--epochs", 2, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert read_run(folder)["epochs_completed"] == 2


def test_jax_backend_trains_resumes_and_refuses_tensorflow_only_options(tmp_path, fashion_available):
    # mlp_one_layer compiles fast; --augment still reshapes its flat rows to images and back through keras.ops.
    result = run_script("mnist", "-m", "mlp_one_layer", *SHORT, "--epochs", 1, "--augment", "--outputs", tmp_path,
                        env=JAX)
    folder = run_folder_of(result)
    record = read_run(folder)
    assert record["execution"]["backend"] == "jax"
    assert record["environment"]["keras_backend"] == "jax" and "jax" in record["environment"]
    assert record["status"] == "completed" and len(record["seconds_per_epoch"]) == 1
    assert result.stderr.strip() == ""  # TensorFlow, imported by Keras' data adapters, stays quiet

    resumed = run_script("mnist", "resume", folder, "--epochs", 2, "--quiet", env=JAX)
    assert run_folder_of(resumed) == folder
    assert read_run(folder)["epochs_completed"] == 2

    for option in (["--deterministic"], ["--distribute", "mirrored"]):
        refused = run_script("mnist", *SHORT, "--epochs", 1, *option, "--outputs", tmp_path / "refused", env=JAX)
        assert refused.returncode == 2
        assert refused.stderr.strip().splitlines() == [
            f"mnist.py: error: {' '.join(option)} needs the TensorFlow backend; this process runs Keras on jax "
            "(unset KERAS_BACKEND or set it to tensorflow)."
        ]
        assert not (tmp_path / "refused").exists() or not any((tmp_path / "refused").iterdir())


def run_python(script, *args):
    """Run a Python file (here: a wrapper of the entrypoint) from the project root, as run_script does."""
    return subprocess.run(
        [sys.executable, str(script), *map(str, args)], cwd=PROJECT, capture_output=True, text=True,
        timeout=600, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
