"""A model you can ship: model.keras beside model.h5, read back by evaluate and predict, and checkpoints that share
one file where they hold the same bytes instead of tripling the disk."""
import json
import os

import pytest
from conftest import cli, record_of, run_folders, train_xor


@pytest.mark.slow
def test_identical_model_files_are_one_file_on_disk(xor_run):
    files = [xor_run / "model.h5", xor_run / "checkpoints" / "last.h5"]
    if record_of(xor_run)["best"]["epoch"] == record_of(xor_run)["epochs_completed"]:
        files.append(xor_run / "checkpoints" / "best.h5")
    assert len({os.stat(path).st_ino for path in files}) == 1
    assert (xor_run / "model.keras").stat().st_size > 0


@pytest.mark.slow
def test_a_resume_never_changes_the_files_an_earlier_epoch_left(tmp_path):
    outputs = tmp_path / "outputs"
    assert train_xor(outputs, epochs=1) == 0
    (folder,) = run_folders(outputs)
    kept = tmp_path / "kept.h5"  # another name for the inode model.h5, last.h5 and best.h5 share after epoch 1
    os.link(folder / "model.h5", kept)
    before = kept.read_bytes()
    assert cli("xor", ["resume", folder, "--epochs", 2, "--quiet"]) == 0
    import h5py

    assert kept.read_bytes() == before  # every later write replaced a name; none wrote into the shared file

    with h5py.File(folder / "checkpoints" / "last.h5", "r") as last:
        assert last.attrs["epoch"] == 2
    with h5py.File(folder / "checkpoints" / "best.h5", "r") as best:
        assert best.attrs["epoch"] == record_of(folder)["best"]["epoch"]
    assert os.stat(folder / "model.h5").st_ino != os.stat(kept).st_ino


@pytest.mark.slow
def test_evaluate_and_predict_read_model_keras(xor_copy, capsys):
    (xor_copy / "model.h5").unlink()
    assert cli("xor", ["evaluate", xor_copy, "--quiet"]) == 0
    (metrics,) = (xor_copy / "evaluations").glob("*/metrics.json")
    assert json.loads(metrics.read_text())["model_file"].endswith("model.keras")
    assert cli("xor", ["predict", xor_copy / "model.keras", "0,1", "1,1"]) == 0
    assert "input" in capsys.readouterr().out
