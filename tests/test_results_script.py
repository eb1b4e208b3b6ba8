"""bench/results/results.py: RESULTS.md's numbers are the run folders' run.json, and --from-runs rebuilds the same file."""
import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECT

sys.path.insert(0, str(PROJECT / "bench" / "results"))

import results  # noqa: E402
import table as results_table  # noqa: E402

SCRIPT = PROJECT / "bench" / "results" / "results.py"


def make_run(outputs, model, dataset, test_accuracy, best_epoch, epochs=60, started="2026-11-01T01:00:00+00:00",
             status="completed", task="mnist", format_version=None, name=None, seed=42, backend="tensorflow", gpu=False):
    """A run folder as the runner writes it, with made-up numbers: run.json and a history.csv (0-based epochs
    unless `format_version` >= 2)."""
    folder = Path(outputs) / (name or f"{started[:10]}_{model}_{dataset}_{epochs}")
    folder.mkdir(parents=True)
    seconds = [5.0] + [2.0] * (epochs - 1)
    data = {
        "run_id": folder.name, "task": task, "model": model, "status": status,
        "command": f"python mnist.py -m {model} --dataset {dataset} --epochs {epochs}",
        "hyperparameters": {"epochs": epochs, "batch_size": 256, "optimizer": "adam", "learning_rate": None,
                            "loss": "categorical_crossentropy", "validation_split": 0.1, "limit": None, "seed": seed},
        "data": {"name": dataset, "sizes": {"train": 54000, "validation": 6000, "test": 10000}},
        "parameters": 1000 + len(model), "execution": {"backend": backend, "gpu": gpu},
        "environment": {"python": "3.11.7", "keras": "3.15.1", "tensorflow": "2.21.0", "numpy": "2.4.6",
                        "platform": "Linux", "hostname": "elsewhere", "git_commit": "abc"},
        "started": started, "ended": started, "epochs_completed": epochs, "seconds_per_epoch": seconds,
        "best": {"metric": "val_accuracy", "value": 0.9, "epoch": best_epoch},
        "test_metrics": {"test_accuracy": test_accuracy, "test_loss": 0.3},
    }
    if format_version is not None:
        data["format"] = format_version
    (folder / "run.json").write_text(json.dumps(data))
    first = 1 if (format_version or 1) >= 2 else 0
    rows = [f"{epoch + first},0.5,{seconds[epoch]},0.001,1.0,{0.5 + epoch / 200},{1.0 - epoch / 200}" for epoch in range(epochs)]
    (folder / "history.csv").write_text("epoch,accuracy,epoch_seconds,learning_rate,loss,val_accuracy,val_loss\n" + "\n".join(rows) + "\n")
    return folder


def rows_of(outputs, datasets=results_table.DATASETS):
    return results_table.select_rows(results_table.run_folders_in(outputs), datasets)


def test_picks_the_newest_completed_run_with_the_most_epochs(tmp_path):
    make_run(tmp_path, "conv_net", "fashion_mnist", 0.91, 50, started="2026-11-01T01:00:00+00:00")
    chosen = make_run(tmp_path, "conv_net", "fashion_mnist", 0.92, 50, started="2026-11-02T01:00:00+00:00")
    make_run(tmp_path, "conv_net", "fashion_mnist", 0.80, 5, epochs=10, started="2026-11-03T01:00:00+00:00")
    make_run(tmp_path, "conv_net", "fashion_mnist", 0.99, 50, epochs=80, status="failed", started="2026-11-04T01:00:00+00:00")
    make_run(tmp_path, "churn_mlp", "fashion_mnist", 0.99, 50, task="churn")
    make_run(tmp_path, "conv_net", "mnist_5k", 0.97, 50)

    selection = rows_of(tmp_path, ["fashion_mnist"])

    assert list(selection.rows) == ["fashion_mnist"]
    [row] = selection.rows["fashion_mnist"]
    assert (row.run_id, row.test_accuracy, row.candidates) == (chosen.name, 0.92, 3)
    assert selection.notes == [
        f"fashion_mnist / tensorflow CPU / conv_net: 3 completed runs found; the table uses {chosen.name}, "
        "the configuration with the most seeds, then the most epochs (60), then the newest."
    ]


def test_history_epochs_are_one_based_for_old_and_new_run_folders(tmp_path):
    old = make_run(tmp_path, "conv_net", "mnist_5k", 0.9, 2, epochs=3, name="old")
    new = make_run(tmp_path, "conv_net", "mnist_5k", 0.9, 2, epochs=3, format_version=2, name="new")
    assert list(results_table.history_epochs(old)["epoch"]) == [1, 2, 3]
    assert list(results_table.history_epochs(new)["epoch"]) == [1, 2, 3]


@pytest.fixture
def two_datasets(tmp_path):
    """Four models on mnist_5k and on fashion_mnist, with numbers chosen so every analysis sentence is known."""
    accuracies = {
        "mnist_5k": {"mlp_two_layers": 0.950, "mlp_two_layers_dropout": 0.955, "conv_net": 0.970, "conv_net_l2": 0.965},
        "fashion_mnist": {"mlp_two_layers": 0.880, "mlp_two_layers_dropout": 0.890, "conv_net": 0.885, "conv_net_l2": 0.9025},
    }
    best_epochs = {"mlp_two_layers": 36, "mlp_two_layers_dropout": 37, "conv_net": 12, "conv_net_l2": 60}
    for dataset, models in accuracies.items():
        for model, accuracy in models.items():
            make_run(tmp_path, model, dataset, accuracy, best_epochs[model])
    return tmp_path


def test_analysis_is_computed_from_the_table(two_datasets):
    text = results_table.analysis(rows_of(two_datasets).rows)

    assert "by test accuracy" not in text and "ranked" not in text  # no ranking, within a table or across
    assert "- fashion_mnist, tensorflow CPU: conv_net_l2 against conv_net: +1.75 points (90.25 % vs 88.50 %, mean of " \
           "n=1 and n=1); a single-seed gap, not measured against seed noise" in text
    assert "- mnist_5k, tensorflow CPU: mlp_two_layers_dropout against mlp_two_layers: +0.50 points (95.50 % vs " \
           "95.00 %, mean of n=1 and n=1); a single-seed gap" in text
    # 36 of 60 is exactly 60 %: reported; 37 of 60 is not.
    assert "- mnist_5k, tensorflow CPU: mlp_two_layers: best validation at epoch 36 of 60 (90.00 %)" in text
    assert "- fashion_mnist, tensorflow CPU: conv_net: best validation at epoch 12 of 60 (90.00 %)" in text
    assert "mlp_two_layers_dropout: best validation" not in text


def test_models_trained_for_fewer_epochs_say_so(tmp_path):
    make_run(tmp_path, "conv_net", "fashion_mnist", 0.905, 50)
    make_run(tmp_path, "conv_net_dropout", "fashion_mnist", 0.91, 20, epochs=20)

    text = results_table.analysis(rows_of(tmp_path).rows)

    assert "- fashion_mnist, tensorflow CPU: conv_net_dropout against conv_net: +0.50 points (91.00 % vs 90.50 %, " \
           "mean of n=1 and n=1, epochs differ: 20 vs 60)" in text


def test_seeds_are_averaged_and_each_device_class_gets_its_own_table(tmp_path):
    for seed, accuracy in zip((42, 43, 44), (0.97, 0.96, 0.98)):
        make_run(tmp_path, "conv_net", "mnist_5k", accuracy, 8, epochs=10, seed=seed, name=f"conv_{seed}")
    for seed, accuracy in zip((42, 43, 44), (0.90, 0.91, 0.89)):
        make_run(tmp_path, "conv_net_l2", "mnist_5k", accuracy, 4 + seed - 42, epochs=10, seed=seed, name=f"l2_{seed}")
    make_run(tmp_path, "conv_net", "mnist_5k", 0.99, 50, name="single_60")  # one seed beats three? no: fewer seeds
    make_run(tmp_path, "conv_net_l2", "mnist_5k", 0.5, 3, epochs=10, backend="jax", gpu=True, name="gpu_l2")
    selection = rows_of(tmp_path)
    out = tmp_path / "RESULTS.md"
    markdown = results.render(selection, [], {}, out, [])

    tables = markdown.split("## What")[0].split("### mnist_5k on ")
    cpu = next(part for part in tables if part.startswith("tensorflow CPU"))
    gpu = next(part for part in tables if part.startswith("jax GPU"))
    conv = next(line for line in cpu.splitlines() if line.startswith("| conv_net |"))
    assert "| 3 | 97.00 ± 1.00 % |" in conv and "| 8 |" in conv  # the 60-epoch single seed is not the row
    assert "`conv_42`, `conv_43`, `conv_44`" in conv and "single_60" not in cpu
    assert "| 4–6 |" in next(line for line in cpu.splitlines() if line.startswith("| conv_net_l2 |"))
    assert "gpu_l2" in gpu and "gpu_l2" not in cpu and "| 1 | 50.00 % |" in gpu
    assert "seeds 42,43,44" in cpu and "seed 42." in gpu
    assert "from 7 run folders" in markdown  # the runs its rows average, not the rows
    assert results_table.outputs_hidden("python mnist.py -m a --outputs /tmp/x --quiet") == \
        "python mnist.py -m a --outputs OUTPUTS --quiet"
    text = results_table.analysis(selection.rows)
    assert "- mnist_5k, tensorflow CPU: conv_net_l2 against conv_net: -7.00 points (90.00 % vs 97.00 %, mean of n=3 " \
           "and n=3); test_accuracy:" in text and "exceeds seed noise" in text
    assert "jax GPU: conv_net_l2 against" not in text  # its base model has no run on that device


def parse_tables(markdown: str) -> dict:
    """dataset -> [{column: cell}] for every results table (the first table of each '## <dataset>' section)."""
    tables = {}
    for section in markdown.split("\n## ")[1:]:
        name, _, body = section.partition("\n")
        if name not in results_table.DATASETS:
            continue
        lines = [line for line in body.splitlines() if line.startswith("| ")]
        header = [cell.strip() for cell in lines[0].strip("|").split("|")]
        rows = []
        for line in lines[2:]:
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            if cells[0] in header or len(cells) != len(header):
                break  # the next table (Fashion-MNIST references)
            rows.append(dict(zip(header, cells)))
        tables[name] = rows
    return tables


def expected_cells(run_json: dict) -> dict:
    """The cells a row must show, computed here from run.json without the script's own formatting code."""
    seconds = run_json["seconds_per_epoch"]
    total = sum(seconds)
    return {
        "model": run_json["model"],
        "parameters": f"{run_json['parameters']:,}",
        "epochs": str(run_json["epochs_completed"]),
        "test accuracy": f"{run_json['test_metrics']['test_accuracy'] * 100:.2f} %",
        "best validation accuracy": f"{run_json['best']['value'] * 100:.2f} %",
        "best epoch": str(run_json["best"]["epoch"]),
        "s/epoch after the 1st": f"{statistics.median(seconds[1:]):.2f}" if len(seconds) > 1 else "—",
        "training time": f"{total / 60:.1f} min" if total >= 600 else f"{total:.1f} s",
        "run folder": f"`{run_json['run_id']}`",
    }


def check_rows_against_run_folders(markdown: str, folders) -> None:
    tables = parse_tables(markdown)
    by_id = {json.loads((folder / "run.json").read_text())["run_id"]: folder for folder in folders}
    shown = 0
    for dataset, rows in tables.items():
        for row in rows:
            run_json = json.loads((by_id[row["run folder"].strip("`")] / "run.json").read_text())
            assert run_json["data"]["name"] == dataset
            assert {column: row[column] for column in expected_cells(run_json)} == expected_cells(run_json)
            shown += 1
    assert shown == len(folders)


def test_from_runs_writes_the_table_figures_and_references(two_datasets, tmp_path):
    out = tmp_path / "report" / "RESULTS.md"
    figures = tmp_path / "report" / "figures"

    assert results.main(["--from-runs", str(two_datasets), "--out", str(out), "--figures", str(figures)]) == 0

    markdown = out.read_text()
    check_rows_against_run_folders(markdown, results_table.run_folders_in(two_datasets))
    tables = parse_tables(markdown)
    assert "tutorial (full MNIST)" not in tables["fashion_mnist"][0]
    assert {row["model"]: row["tutorial (full MNIST)"] for row in tables["mnist_5k"]} == {
        "conv_net": "99.34 %", "conv_net_l2": "—", "mlp_two_layers": "98.59 %", "mlp_two_layers_dropout": "—"}
    assert "| MLP 256-128-64 | None | 0.900 | @lianghong |" in markdown
    for dataset in ("mnist_5k", "fashion_mnist"):
        for name in ("val_accuracy", "val_loss", "epoch_time"):
            png = figures / f"{dataset}_{name}.png"
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size < 150_000
            assert f"](figures/{dataset}_{name}.png)" in markdown


def run_results(*args, timeout=900):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], cwd=PROJECT, capture_output=True, text=True, timeout=timeout)


def test_nothing_to_tabulate_is_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "RESULTS.md"
    missing = run_results("--from-runs", tmp_path / "absent", "--out", out)
    empty = run_results("--from-runs", tmp_path, "--out", out)

    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "is not a folder" in missing.stderr
    assert empty.returncode == 1 and empty.stderr.count("\n") == 1 and "no completed mnist runs" in empty.stderr
    assert not out.exists()


@pytest.mark.slow
def test_trains_two_models_and_rebuilds_the_same_file_from_their_folders(tmp_path, fashion_available):
    outputs, trained, rebuilt = tmp_path / "outputs", tmp_path / "RESULTS.md", tmp_path / "again" / "RESULTS.md"
    # 2 epochs, so "s/epoch after the 1st" has a number to check.
    result = run_results("--datasets", "fashion_mnist", "--models", "mlp_one_layer", "conv_net", "--epochs", 2,
                         "--limit", 300, "--outputs", outputs, "--out", trained, "--figures", tmp_path / "figs")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(trained)

    folders = results_table.run_folders_in(outputs)
    assert len(folders) == 2
    markdown = trained.read_text()
    check_rows_against_run_folders(markdown, folders)
    assert [row["model"] for row in parse_tables(markdown)["fashion_mnist"]] == ["conv_net", "mlp_one_layer"]
    for name in ("val_accuracy", "val_loss", "epoch_time"):
        assert (tmp_path / "figs" / f"fashion_mnist_{name}.png").stat().st_size > 0

    again = run_results("--from-runs", outputs, "--out", rebuilt, "--figures", tmp_path / "again" / "figs")
    assert again.returncode == 0, again.stderr
    # Everything after the header line (which names the command and the time) is the same file.
    assert rebuilt.read_text().split("\n## ", 1)[1] == markdown.split("\n## ", 1)[1]


def test_seeds_reach_the_training_command(tmp_path, monkeypatch):
    seen = []

    class Refused:
        returncode = 2

        def __init__(self, command, **_):
            seen.append(command)

        def communicate(self):
            return "", None

    monkeypatch.setattr(results.subprocess, "Popen", Refused)
    args = results.parse_args(["--datasets", "mnist_5k", "--seeds", "5", "--epochs", "10", "--outputs", str(tmp_path)])
    with pytest.raises(results.UsageError, match="refused the options for mnist_5k"):
        results.train_dataset("mnist_5k", args)
    assert seen[0][-2:] == ["--seeds", "5"] and "10" in seen[0]
