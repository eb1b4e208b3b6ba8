"""Render every kind of figure into one HTML page and screenshot it, to check the figures by eye.

    python bench/gallery.py                       # trains tiny runs into /tmp/gallery, writes gallery.html + PNGs
    python bench/gallery.py --work /tmp/g --reuse # rebuild the page from runs already trained there

Sections: one MNIST run, a 2-run comparison, a 20-run comparison (fake run folders: a learning-rate x batch-size
sweep with made-up curves, so it costs no training), a churn run and an XOR run. Each section is the body of the
report.html the project wrote, so the page shows exactly what a user opens. Training goes through the command
line in a subprocess, so the script renders whichever checkout --project names (e.g. an older commit, for a
before/after look).
"""
import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

PROJECT = Path(__file__).resolve().parent.parent
CHURN_CSV = PROJECT.parent / "shared" / "data" / "Churn_Modelling.csv"
CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]


def run(project: Path, script: str, *args) -> Path:
    """Run `python <script>.py args` in `project`; return the folder it printed last (a run or a comparison)."""
    result = subprocess.run([sys.executable, str(project / f"{script}.py"), *map(str, args)], cwd=project,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{script}.py {' '.join(map(str, args))} failed:\n{result.stderr[-3000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


def fake_sweep(outputs: Path, count: int = 20, epochs: int = 12) -> list:
    """`count` run folders of an XOR-like learning-rate x batch-size sweep with plausible, seeded curves."""
    generator = np.random.default_rng(0)
    folders = []
    rates = [0.1, 0.03, 0.01, 0.003, 0.001]
    batches = [1, 4, 16, 64]
    for index in range(count):
        rate, batch = rates[index % len(rates)], batches[index // len(rates) % len(batches)]
        name = f"20261127-0600{index:02d}_xor_mlp"
        folder = outputs / name
        folder.mkdir(parents=True)
        speed = rate * 40 / (1 + np.log2(batch))
        steps = np.arange(epochs)
        loss = 0.7 * np.exp(-speed * steps / 3) + 0.05 + generator.normal(0, 0.01, epochs).cumsum() * 0.1
        val_loss = loss + 0.03 + generator.normal(0, 0.01, epochs)
        accuracy = np.clip(1.0 - loss * 0.7, 0, 1)
        val_accuracy = np.clip(1.0 - val_loss * 0.7, 0, 1)
        seconds = 0.05 * (64 / batch) ** 0.5 + generator.uniform(0, 0.01, epochs)
        pd.DataFrame({"epoch": steps, "accuracy": accuracy, "loss": loss, "val_accuracy": val_accuracy,
                      "val_loss": val_loss, "learning_rate": rate, "epoch_seconds": seconds}).to_csv(
            folder / "history.csv", index=False)
        best_epoch = int(np.argmax(val_accuracy))
        (folder / "run.json").write_text(json.dumps({
            "run_id": name, "task": "xor", "model": "xor_mlp", "status": "completed", "parameters": 17,
            "hyperparameters": {"model": "xor_mlp", "epochs": epochs, "batch_size": batch, "learning_rate": rate,
                                "optimizer": "adam", "seed": 42},
            "epochs_completed": epochs, "seconds_per_epoch": [float(value) for value in seconds],
            "started": f"2026-11-27T06:00:{index:02d}+00:00",
            "best": {"metric": "val_accuracy", "value": float(val_accuracy[best_epoch]), "epoch": best_epoch + 1},
            "test_metrics": {"test_accuracy": float(val_accuracy[-1])}, "environment": {},
        }))
        folders.append(folder)
    return folders


def body_of(report: Path) -> str:
    """The <body> of a report.html, its <h1> turned into an <h2> so the gallery's sections stand out."""
    text = report.read_text()
    body = re.search(r"<body>(.*)</body>", text, re.DOTALL).group(1)
    return body.replace("<h1>", "<h2 class=report-title>").replace("</h1>", "</h2>")


def style_of(report: Path) -> str:
    return re.search(r"<style>(.*?)</style>", report.read_text(), re.DOTALL).group(1)


def screenshot(page: Path, png: Path, width: int, height: int) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([*CHROMIUM, f"--user-data-dir={profile}", f"--screenshot={png}",
                        f"--window-size={width},{height}", page.as_uri()], capture_output=True, timeout=120, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/gallery"), help="folder for runs and pages (/tmp/gallery)")
    parser.add_argument("--project", type=Path, default=PROJECT, help="checkout whose scripts train and render (this one)")
    parser.add_argument("--reuse", action="store_true", help="keep the trained runs in --work; only redo the fake sweep")
    parser.add_argument("--height", type=int, default=6000, help="screenshot height in pixels per section (6000)")
    args = parser.parse_args()
    project = args.project.resolve()
    work = args.work.resolve()
    outputs = work / "outputs"
    index_path = work / "sections.json"
    if not args.reuse or not index_path.is_file():
        shutil.rmtree(work, ignore_errors=True)
        outputs.mkdir(parents=True)
        two = run(project, "mnist", "-m", "mlp_one_layer", "conv_net", "--dataset", "fashion_mnist", "--limit", 300,
                  "--epochs", 3, "--outputs", outputs, "--quiet")
        mnist_run = max(outputs.glob("*_conv_net"))
        churn = run(project, "churn", "--epochs", 2, "--data", CHURN_CSV, "--outputs", outputs, "--quiet")
        xor = run(project, "xor", "--epochs", 50, "--outputs", outputs, "--quiet")
        index_path.write_text(json.dumps({"one MNIST run (conv_net, 3 epochs)": str(mnist_run),
                                          "2-run comparison (mlp_one_layer, conv_net)": str(two),
                                          "churn run (2 epochs)": str(churn), "XOR run (50 epochs)": str(xor)}))
    sections = json.loads(index_path.read_text())
    sweep_outputs = work / "sweep"
    shutil.rmtree(sweep_outputs, ignore_errors=True)
    sweep = run(project, "xor", "--compare", *fake_sweep(sweep_outputs), "--outputs", sweep_outputs, "--quiet")
    order = ["one MNIST run (conv_net, 3 epochs)", "2-run comparison (mlp_one_layer, conv_net)",
             "20-run comparison (fake learning-rate x batch-size sweep)", "churn run (2 epochs)", "XOR run (50 epochs)"]
    sections["20-run comparison (fake learning-rate x batch-size sweep)"] = str(sweep)
    reports = {title: Path(sections[title]) / "report.html" for title in order}
    style = style_of(next(iter(reports.values())))
    extra = "section { border-top: 6px solid #333; margin-top: 3rem; } .report-title { font-size: 1.4rem; }"
    parts = []
    for number, (title, report) in enumerate(reports.items(), start=1):
        section = f"<section><h1>{number}. {html.escape(title)}</h1>{body_of(report)}</section>"
        parts.append(section)
        single = work / f"section_{number}.html"
        single.write_text(f"<!DOCTYPE html><html><head><meta charset=utf-8><style>{style}{extra}</style></head>"
                          f"<body>{section}</body></html>\n")
        screenshot(single, work / f"section_{number}.png", 1400, args.height)
    page = work / "gallery.html"
    page.write_text(f"<!DOCTYPE html><html><head><meta charset=utf-8><title>Figure gallery</title><style>{style}{extra}"
                    f"</style></head><body>{''.join(parts)}</body></html>\n")
    screenshot(page, work / "gallery.png", 1400, args.height)
    print(f"{page}\n" + "\n".join(str(work / f"section_{number}.png") for number in range(1, len(order) + 1)))


if __name__ == "__main__":
    main()
