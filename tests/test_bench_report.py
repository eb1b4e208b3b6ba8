"""bench/run.py's report: section p's phases and differences come from the recorded runs, and a section left out of
a run (--only) keeps its previous figures."""
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "bench"))
import run as bench_run  # noqa: E402


def phase_run(contender, workload, startup, epochs, wall, rep=0):
    return bench_run.Run("p", contender, workload, rep, ["python", "x.py"], ok=True, startup_seconds=startup,
                         epoch_seconds=epochs, wall_seconds=wall, load_average_before=3.0)


def test_section_p_splits_each_run_into_phases_and_keeps_sections_not_run(tmp_path):
    bench = bench_run.Bench(bench_run.QUICK, tmp_path, tmp_path / "results.json", "quick", ("abc1234", tmp_path))
    workload = bench_run.PHASE_WORKLOADS[0][0]
    bench.runs = [phase_run("runner", workload, 10.0, [3.0, 0.5, 0.5], 16.0),
                  phase_run("bare_keras", workload, 9.5, [3.0, 0.5, 0.5], 14.0),
                  phase_run("runner_before", workload, 12.0, [3.0, 0.5, 0.5], 20.0)]
    assert bench.runs[0].later_epochs_seconds == 1.0 and bench.runs[0].other_seconds == 2.0
    assert bench.runs[0].non_training_seconds == 12.0
    bench.sections_run = ["p"]
    previous = "<!-- section-a:start -->\n## a. old figures\n<!-- section-a:end -->\n"
    text = bench_run.Report(bench, "now", 60).markdown(previous)
    assert "## a. old figures" in text and "## p." in text and "`abc1234`" in text
    # around training: runner 10 + 2 = 12 s, bare 9.5 + 0.5 = 10 s, before 12 + 4 = 16 s; the goal (+1 s) missed
    (row,) = [line for line in text.splitlines() if line.startswith(f"| {workload} | +")]
    assert [cell.strip() for cell in row.strip("|").split("|")][1:] == ["+2.00", "+6.00", "-4.00", "**no**"]
