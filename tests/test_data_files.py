"""The tests' own data files: a missing one skips with where to put it, except on CI, which has every file."""
import pytest

from conftest import require_file


def test_a_missing_data_file_skips_naming_it_and_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"Churn_Modelling\.csv is missing: put it in data/"):
        require_file(tmp_path / "Churn_Modelling.csv", "put it in data/")


def test_on_ci_a_missing_data_file_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="is missing"):
        require_file(tmp_path / "Churn_Modelling.csv", "put it in data/")


def test_a_present_data_file_is_returned(tmp_path):
    (tmp_path / "x.csv").write_text("a\n1\n")
    assert require_file(tmp_path / "x.csv", "unused") == tmp_path / "x.csv"
