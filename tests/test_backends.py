"""Mixed precision, and the same commands on Keras' JAX backend (the backend the GPU benchmark ran on)."""
import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
from conftest import FASHION_DIR, PROJECT, last_line, read_run, run_folder_of, run_here, run_script

# The tests here train: on TensorFlow in-process, on JAX in processes of their own (Keras picks its backend once per
# process): the slow tier.
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


def test_mixed_precision_run_records_policy_keeps_float32_output_and_resumes(tmp_path, fashion_available, capsys):
    result = run_here(capsys, "mnist", "-m", "conv_net", *SHORT, "--epochs", 1, "--mixed-precision", "--outputs", tmp_path)
    folder = run_folder_of(result)
    record = read_run(folder)
    assert record["hyperparameters"]["mixed_precision"] is True
    assert record["execution"]["dtype_policy"] == "mixed_bfloat16"  # no GPU here: bfloat16, no loss scaling
    *hidden, output = layer_policies(folder / "model.h5").items()
    assert output[1] == "float32"  # probabilities and the loss in float32
    assert {policy for name, policy in hidden if "conv" in name or "dense" in name} == {"mixed_bfloat16"}
    # Two steps on 270 images: not good yet, but clearly above chance (10 %), so bfloat16 training does learn.
    assert record["test_metrics"]["test_accuracy"] > 0.15

    resumed = run_here(capsys, "mnist", "resume", folder, "--epochs", 2, "--quiet")
    assert run_folder_of(resumed) == folder
    record = read_run(folder)
    assert (record["status"], record["epochs_completed"]) == ("completed", 2)


def test_mixed_float16_adds_loss_scaling_and_resume_restores_its_state(tmp_path, fashion_available, capsys, monkeypatch):
    # What a GPU gets (mixed_float16): Keras wraps the optimizer in a LossScaleOptimizer, whose state (the dynamic
    # loss scale included) must survive a resume. Forced here on the CPU, for the train and the resume.
    from utils.training import backend

    monkeypatch.setattr(backend, "mixed_precision_policy", lambda: "mixed_float16")
    outputs = tmp_path / "outputs"
    common = ["-m", "mlp_one_layer", *SHORT, "--outputs", outputs]
    folder = run_folder_of(run_here(capsys, "mnist", *common, "--epochs", 1, "--mixed-precision"))
    assert read_run(folder)["execution"]["dtype_policy"] == "mixed_float16"
    with h5py.File(folder / "checkpoints" / "last.h5", "r") as saved:
        assert "loss_scale_optimizer" in saved["optimizer_weights"]
    resumed = run_here(capsys, "mnist", "resume", folder, "--epochs", 2, "--quiet")
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

    # The resume and the two refusals share one more JAX process (the backend is fixed per process, not per command).
    refusals = [[*map(str, SHORT), "--epochs", "1", *option, "--outputs", str(tmp_path / "refused")]
                for option in (["--deterministic"], ["--distribute", "mirrored"])]
    resumed, *refused = commands_in_one_process([["resume", str(folder), "--epochs", "2", "--quiet"], *refusals], JAX)
    assert resumed.returncode == 0, resumed.stderr
    assert run_folder_of(resumed) == folder
    assert read_run(folder)["epochs_completed"] == 2

    for option, answer in zip((["--deterministic"], ["--distribute", "mirrored"]), refused):
        assert answer.returncode == 2
        assert answer.stderr.strip().splitlines() == [
            f"mnist.py: error: {' '.join(option)} needs the TensorFlow backend; this process runs Keras on jax "
            "(unset KERAS_BACKEND or set it to tensorflow)."
        ]
        assert not (tmp_path / "refused").exists() or not any((tmp_path / "refused").iterdir())


# Runs mnist.py's entry point once per argv in one interpreter; prints [exit code, stdout, stderr] per command.
COMMANDS = """
import contextlib, io, json, sys
sys.path.insert(0, sys.argv[1])
from utils.cli.main import run_task
answers = []
for argv in json.loads(sys.argv[2]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            run_task("mnist", argv)
        except SystemExit as exited:
            answers.append([exited.code, out.getvalue(), err.getvalue()])
print(json.dumps(answers))
"""


def commands_in_one_process(commands, env):
    """Each command's (exit code, stdout, stderr), as run_script gives them, from one process with `env`."""
    process = subprocess.run([sys.executable, "-c", COMMANDS, str(PROJECT), json.dumps(commands)], cwd=PROJECT,
                             capture_output=True, text=True, timeout=600, env={**os.environ, **env})
    assert process.returncode == 0, process.stderr
    answers = json.loads(last_line(process.stdout))
    assert len(answers) == len(commands), process.stdout
    return [subprocess.CompletedProcess(argv, *answer) for argv, answer in zip(commands, answers)]
