"""`rerun RUN`: a run trained again from its record into a new folder linked to it; the data's SHA-256 checked,
what changed named, a --deterministic rerun reproduced bit for bit; bad input one line and a non-zero exit."""
import shutil

import pytest

from conftest import read_run, run_folder_of, run_script


@pytest.fixture(scope="module")
def churn_run(tmp_path_factory, churn_csv):
    """A deterministic 1-epoch churn run on a 400-row copy of the CSV, which the tests below may change."""
    place = tmp_path_factory.mktemp("rerun")
    data = place / "churn.csv"
    data.write_text("".join(churn_csv.open().readlines()[:400]))
    folder = run_folder_of(run_script("churn", "--data", data, "--epochs", "1", "--deterministic", "--quiet",
                                      "--outputs", place / "out"))
    return folder, data


@pytest.mark.slow
def test_a_deterministic_rerun_matches_the_weights_hash_and_links_its_original(churn_run):
    folder, _ = churn_run
    result = run_script("churn", "rerun", folder, "--deterministic", "--outputs", folder.parent)
    new = run_folder_of(result)
    assert new != folder
    assert "reproduced bit for bit" in result.stdout
    assert "environment: unchanged" in result.stdout and "data: unchanged" in result.stdout
    assert read_run(new)["weights_sha256"] == read_run(folder)["weights_sha256"]
    assert read_run(new)["rerun_of"]["run"] == folder.name
    assert read_run(new)["hyperparameters"]["seed"] == read_run(folder)["hyperparameters"]["seed"]


@pytest.mark.slow
def test_changed_data_is_refused_in_one_line_and_allow_data_change_goes_on(churn_run, tmp_path):
    folder, data = churn_run
    original = data.read_text()
    lines = original.splitlines(keepends=True)
    data.write_text("".join(lines[:5] + lines[6:]))  # one customer fewer
    try:
        before = sorted(folder.parent.iterdir())
        refused = run_script("churn", "rerun", folder, "--outputs", folder.parent)
        assert refused.returncode != 0
        assert refused.stderr.strip().count("\n") == 0, refused.stderr
        assert "changed" in refused.stderr and str(data) in refused.stderr and "--allow-data-change" in refused.stderr
        assert sorted(folder.parent.iterdir()) == before  # no run folder for a refused rerun
        allowed = run_script("churn", "rerun", folder, "--allow-data-change", "--outputs", folder.parent)
        new = run_folder_of(allowed)
        assert "data: data_sha256" in allowed.stdout
        assert read_run(new)["data"]["sha256"] != read_run(folder)["data"]["sha256"]
    finally:
        data.write_text(original)


@pytest.mark.slow
def test_a_vanished_data_file_is_named_in_one_line(churn_run, tmp_path):
    folder, data = churn_run
    moved = tmp_path / "elsewhere.csv"
    shutil.move(data, moved)
    try:
        result = run_script("churn", "rerun", folder, "--outputs", folder.parent)
    finally:
        shutil.move(moved, data)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "is gone" in result.stderr and str(data) in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("text", ["{not json", '{"run_id": "x", "task": "churn", "model": "churn_mlp", '
                                                '"status": "completed", "hyperparameters": {}}'])
def test_a_damaged_record_is_refused_in_one_line(tmp_path, text):
    folder = tmp_path / "out" / "20260101-000000_churn_mlp"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(text)
    result = run_script("churn", "rerun", folder, "--outputs", tmp_path / "out")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "damaged" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
