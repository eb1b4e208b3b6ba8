"""A signal at any moment of a sweep (as it is created, as a trial starts or completes, inside Optuna's journal
writes, while trials.csv is written) ends it as `interrupted`: exit 130, one line, no trial left in a state that
`sweep --resume` cannot finish, which it then does. The trials run on a stand-in executor that writes run folders
at once, so every moment can be hit exactly; the study is Optuna's own, on its journal file."""
import json
import os
import signal
from pathlib import Path

import pandas as pd
import pytest

from conftest import assert_one_line, cli, make_run, set_record

GRID = ["sweep", "--grid", "learning_rate=0.01,0.02,0.03", "-m", "mlp_one_layer", "--epochs", "1", "--quiet"]


class InstantExecutor:
    """Each launched trial has a completed run folder by the next wait (with a val_accuracy history)."""

    threads = 1

    def __init__(self, outputs, hooks):
        self.outputs, self.hooks, self.running = Path(outputs), hooks, {}

    def free_slots(self) -> int:
        return 1 - len(self.running)

    def launch(self, trial_id, arguments, environment, log_path) -> None:
        self.hooks.fire("launch")
        self.running[trial_id] = json.loads(environment["RUNNER_SWEEP_TRIAL"])["sweep"]

    def wait(self, timeout):
        from utils.sweeps.local import Finished

        done = []
        for trial_id, sweep in list(self.running.items()):
            run = make_run(self.outputs, f"20261201-000000_mlp_one_layer_trial{trial_id}-{len(list(self.outputs.iterdir()))}")
            set_record(run, sweep={"id": sweep, "trial": trial_id})
            del self.running[trial_id]
            done.append(Finished(trial_id, 0, ""))
            self.hooks.fire("completes")
        return done

    def stop(self):
        from utils.sweeps.local import Finished

        stopped = [Finished(trial_id, 130, "") for trial_id in self.running]
        self.running.clear()
        return stopped


class Hooks:
    """Sends `number` to this process the first time the chosen moment comes."""

    def __init__(self, moment, number):
        self.moment, self.number, self.armed = moment, number, moment is not None

    def fire(self, moment) -> None:
        if self.armed and moment == self.moment:
            self.armed = False
            os.kill(os.getpid(), self.number)


@pytest.fixture
def sweep_with(tmp_path, monkeypatch):
    """Run the grid (or resume it) in process with a signal at one moment; return (exit code, outputs)."""
    import optuna.storages.journal as journal
    from utils.sweeps import driver, folder, study

    outputs = tmp_path / "outputs"
    outputs.mkdir()
    hooks = Hooks(None, signal.SIGTERM)
    monkeypatch.setattr(driver, "make_executor", lambda spec: InstantExecutor(outputs, hooks))
    append, write, tell = journal.JournalFileBackend.append_logs, folder.write_trials, study.tell
    telling = []

    def append_logs(self, logs):
        hooks.fire("journal write")
        if telling:
            hooks.fire("journal write of a result")
        return append(self, logs)

    def write_trials(path, trials):
        hooks.fire("trials.csv write" if any(trial.status == "completed" for trial in trials) else "sweep created")
        return write(path, trials)

    def tell_result(*arguments):
        telling.append(True)
        try:
            return tell(*arguments)
        finally:
            telling.clear()

    monkeypatch.setattr(journal.JournalFileBackend, "append_logs", append_logs)
    monkeypatch.setattr(folder, "write_trials", write_trials)
    monkeypatch.setattr(driver.studies, "tell", tell_result)

    def run(argv, moment=None, number=signal.SIGTERM):
        hooks.moment, hooks.number, hooks.armed = moment, number, moment is not None
        return cli("mnist", [*argv, "--outputs", outputs]), outputs

    return run


def trials_of(outputs) -> pd.DataFrame:
    [folder] = Path(outputs).glob("sweep_*")
    return pd.read_csv(folder / "trials.csv", dtype={"trial": str})


@pytest.mark.parametrize("moment, number", [
    ("sweep created", signal.SIGTERM),
    ("journal write", signal.SIGINT),
    ("launch", signal.SIGTERM),
    ("completes", signal.SIGINT),
    ("journal write of a result", signal.SIGTERM),
    ("trials.csv write", signal.SIGHUP),
])
def test_a_signal_at_any_moment_ends_the_sweep_interrupted_and_resume_finishes_it(sweep_with, capsys, moment, number):
    code, outputs = sweep_with(GRID, moment, number)
    line = assert_one_line(capsys, code, 130, "interrupted", "sweep --resume")
    assert signal.Signals(number).name in line
    assert sorted(path.name for path in outputs.parent.iterdir()) == ["outputs"]  # nothing written elsewhere
    [folder] = outputs.glob("sweep_*")
    trials = trials_of(outputs)
    assert not set(trials["status"]) & {"running"}, trials["status"]
    assert len(trials) == 3 and not (folder / "report.html").exists()

    code, _ = sweep_with(["sweep", "--resume", folder, "--quiet"])
    captured = capsys.readouterr()
    assert code == 0 and "Traceback" not in captured.err, captured.err
    after = trials_of(outputs)
    assert list(after["trial"]) == list(trials["trial"]) and list(after["status"]) == ["completed"] * 3
    finished_before = trials["status"] == "completed"
    assert list(after["run"][finished_before]) == list(trials["run"][finished_before])  # not trained again
    assert len([path for path in outputs.iterdir() if "_trial" in path.name]) == 3
    assert (folder / "report.html").is_file() and not list(outputs.glob(".*"))


def test_a_signal_before_the_sweep_folder_exists_ends_the_command_with_nothing_written(sweep_with, capsys, monkeypatch):
    from utils.sweeps import driver

    plan = driver.plan

    def plan_then_signal(*arguments):
        spec = plan(*arguments)
        os.kill(os.getpid(), signal.SIGTERM)
        return spec

    monkeypatch.setattr(driver, "plan", plan_then_signal)
    code, outputs = sweep_with(GRID)
    assert_one_line(capsys, code, 130, "interrupted")
    assert list(outputs.iterdir()) == []


def give_checkpoint(run) -> None:
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "last.h5").write_bytes(b"an epoch")


class StartedExecutor(InstantExecutor):
    """Trials that have made their run folder but no checkpoint yet (or, with `checkpoint`, one): a SIGINT comes while
    they run, and stop() marks each folder interrupted as a real trial does on SIGTERM. `resume RUN` completes RUN."""

    def __init__(self, outputs, hooks, checkpoint: bool = False):
        super().__init__(outputs, hooks)
        self.stopping, self.resumed, self.resumed_runs, self.checkpoint = True, {}, [], checkpoint

    def free_slots(self) -> int:
        return 2 - len(self.running)

    def launch(self, trial_id, arguments, environment, log_path) -> None:
        super().launch(trial_id, arguments, environment, log_path)
        if arguments[1] == "resume":
            self.resumed[trial_id] = Path(arguments[2])

    def wait(self, timeout):
        from utils.sweeps.local import Finished

        if self.stopping:
            os.kill(os.getpid(), signal.SIGINT)
            return []
        for trial_id, run in list(self.resumed.items()):
            set_record(run, status="completed")
            self.resumed_runs.append(run)
            del self.resumed[trial_id], self.running[trial_id]
            return [Finished(trial_id, 0, "")]
        return super().wait(timeout)

    def stop(self):
        from utils.sweeps.local import Finished

        for trial_id, sweep in self.running.items():
            name = f"20261201-000000_mlp_one_layer_trial{trial_id}-started{len(list(self.outputs.iterdir())) or ''}"
            run = make_run(self.outputs, name, status="interrupted")
            set_record(run, sweep={"id": sweep, "trial": trial_id})
            if self.checkpoint:
                give_checkpoint(run)
        stopped = [Finished(trial_id, 130, "") for trial_id in self.running]
        self.running.clear()
        return stopped


def trial_folders(outputs, sweep_id) -> list:
    """The trial of each run folder in outputs whose run.json has the sweep's id."""
    records = [json.loads(path.read_text()) for path in Path(outputs).glob("*/run.json")]
    return sorted(record["sweep"]["trial"] for record in records if (record.get("sweep") or {}).get("id") == sweep_id)


@pytest.mark.parametrize("executor_name", ["local", "ray"])
def test_a_trial_interrupted_before_its_first_checkpoint_has_one_folder_after_resume(tmp_path, monkeypatch, capsys,
                                                                                     executor_name):
    from utils.sweeps import driver

    outputs = tmp_path / "outputs"
    outputs.mkdir()
    executor = StartedExecutor(outputs, Hooks(None, signal.SIGINT))
    monkeypatch.setattr(driver, "make_executor", lambda spec: executor)
    assert cli("mnist", [*GRID, "--workers", "2", "--executor", executor_name, "--outputs", outputs]) == 130
    [folder] = outputs.glob("sweep_*")
    assert list(trials_of(outputs)["status"]) == ["interrupted", "interrupted", "pending"]
    orphans = sorted(outputs.glob("*-started*"))
    assert len(orphans) == 2

    executor.stopping = False
    assert cli("mnist", ["sweep", "--resume", folder, "--quiet"]) == 0, capsys.readouterr().err
    after = trials_of(outputs)
    assert list(after["status"]) == ["completed"] * 3
    assert trial_folders(outputs, folder.name) == sorted(after["trial"])  # one folder per trial
    if executor_name == "local":
        assert sorted(executor.resumed_runs) == orphans  # continued in their own folders
        assert not (outputs / ".trash").exists()
    else:  # a Ray trial starts afresh: its folder without a checkpoint goes to the trash, restorable
        assert not executor.resumed_runs and not any(path.exists() for path in orphans)
        assert sorted(path.name for path in (outputs / ".trash").iterdir()) == [path.name for path in orphans]


def replaced_of(outputs) -> list:
    """trials.csv's `replaced` of each trial, as folder names (an empty cell: none)."""
    return [[Path(path).name for path in json.loads(cell)] if isinstance(cell, str) else []
            for cell in trials_of(outputs)["replaced"]]


def test_a_ray_trial_interrupted_with_a_checkpoint_keeps_its_folder_until_a_fresh_run_completes(tmp_path, monkeypatch,
                                                                                               capsys):
    from utils.sweeps import driver

    outputs = tmp_path / "outputs"
    outputs.mkdir()
    executor = StartedExecutor(outputs, Hooks(None, signal.SIGINT), checkpoint=True)
    monkeypatch.setattr(driver, "make_executor", lambda spec: executor)
    assert cli("mnist", [*GRID, "--workers", "2", "--executor", "ray", "--outputs", outputs]) == 130
    [folder] = outputs.glob("sweep_*")
    first = sorted(outputs.glob("*-started*"))
    assert len(first) == 2

    # Interrupted again: the fresh runs have epochs of their own to keep, and the first folders (their epochs) stay.
    assert cli("mnist", ["sweep", "--resume", folder, "--quiet"]) == 130
    again = sorted(set(outputs.glob("*-started*")) - set(first))
    assert len(again) == 2 and all(path.is_dir() for path in first) and not (outputs / ".trash").exists()
    assert replaced_of(outputs) == [[], [], []]

    executor.stopping = False
    assert cli("mnist", ["sweep", "--resume", folder, "--quiet"]) == 0, capsys.readouterr().err
    after = trials_of(outputs)
    assert list(after["status"]) == ["completed"] * 3 and not executor.resumed_runs  # Ray: started afresh
    assert trial_folders(outputs, folder.name) == sorted(after["trial"])  # one folder per trial, the completed one
    trashed = sorted(path.name for path in (outputs / ".trash").iterdir())
    assert trashed == sorted(path.name for path in first + again)
    assert replaced_of(outputs) == [sorted([first[0].name, again[0].name]), sorted([first[1].name, again[1].name]), []]

    assert cli("mnist", ["restore", first[0].name, "--outputs", outputs]) == 0
    assert (first[0] / "checkpoints" / "last.h5").read_bytes() == b"an epoch"


def test_only_a_completed_run_of_the_same_seed_replaces_an_older_interrupted_folder(tmp_path):
    from utils.sweeps.folder import sweep_runs
    from utils.sweeps.replaced import replaced_runs

    def replaced(trial_id):
        return replaced_runs([(path, data) for path, data in sweep_runs(tmp_path, "sweep_x")
                              if data["sweep"]["trial"] == trial_id])

    def run(name, status, seed, mtime):
        path = make_run(tmp_path, name, status=status)
        set_record(path, sweep={"id": "sweep_x", "trial": "000-a"}, hyperparameters={"seed": seed})
        os.utime(path, (mtime, mtime))
        return path

    old = run("old", "interrupted", 43, 100)
    run("failed", "failed", 43, 200)
    run("other_seed", "completed", 44, 300)
    assert replaced("000-a") == []  # a failed run and another seed's replace nothing
    new = run("new", "completed", 43, 400)
    assert replaced("000-a") == [(old, new)]
    os.utime(old, (500, 500))  # restored from the trash after the new run: it stays
    assert replaced("000-a") == []


class SeedsExecutor(StartedExecutor):
    """Averaged trials of seeds 42, 43, 44: a SIGINT comes while seed 43 trains, after 42 completed (stop() leaves
    43's folder interrupted, with a checkpoint or none); `train --seeds ...` completes one run per seed it lists."""

    def __init__(self, outputs, hooks, checkpoint: bool):
        super().__init__(outputs, hooks, checkpoint)
        self.trained = []

    def free_slots(self) -> int:
        return 1 - len(self.running)

    def launch(self, trial_id, arguments, environment, log_path) -> None:
        super().launch(trial_id, arguments, environment, log_path)
        if arguments[1] != "resume":
            self.trained.append(arguments[arguments.index("--seeds") + 1])

    def seed_run(self, trial_id, seed, status) -> Path:
        name = f"20261201-000000_mlp_one_layer_trial{trial_id}-seed{seed}-{len(list(self.outputs.iterdir()))}"
        run = make_run(self.outputs, name, status=status)
        set_record(run, sweep={"id": self.running[trial_id], "trial": trial_id},
                   hyperparameters={**json.loads((run / "run.json").read_text())["hyperparameters"], "seed": seed})
        return run

    def wait(self, timeout):
        from utils.sweeps.local import Finished

        if self.stopping or self.resumed:
            return super().wait(timeout)
        for trial_id in list(self.running):
            for seed in self.trained[-1].split(","):
                self.seed_run(trial_id, int(seed), "completed")
            del self.running[trial_id]
            return [Finished(trial_id, 0, "")]
        return []

    def stop(self):
        from utils.sweeps.local import Finished

        for trial_id in self.running:
            self.seed_run(trial_id, 42, "completed")
            interrupted = self.seed_run(trial_id, 43, "interrupted")
            if self.checkpoint:
                give_checkpoint(interrupted)
        stopped = [Finished(trial_id, 130, "") for trial_id in self.running]
        self.running.clear()
        return stopped


def seed_folders(outputs, sweep_id) -> list:
    """(trial, seed) of each run folder in outputs whose run.json has the sweep's id."""
    records = [json.loads(path.read_text()) for path in Path(outputs).glob("*/run.json")]
    return sorted((record["sweep"]["trial"], record["hyperparameters"]["seed"]) for record in records
                  if (record.get("sweep") or {}).get("id") == sweep_id)


@pytest.mark.parametrize("executor_name, checkpoint", [("local", True), ("local", False), ("ray", False), ("ray", True)])
def test_an_interrupted_seed_of_an_averaged_trial_keeps_one_folder_after_resume(tmp_path, monkeypatch, capsys,
                                                                                executor_name, checkpoint):
    from utils.sweeps import driver

    outputs = tmp_path / "outputs"
    outputs.mkdir()
    executor = SeedsExecutor(outputs, Hooks(None, signal.SIGINT), checkpoint)
    monkeypatch.setattr(driver, "make_executor", lambda spec: executor)
    grid = ["sweep", "--grid", "learning_rate=0.01", "-m", "mlp_one_layer", "--epochs", "1", "--seeds", "3", "--quiet"]
    assert cli("mnist", [*grid, "--executor", executor_name, "--outputs", outputs]) == 130
    [folder] = outputs.glob("sweep_*")
    [interrupted] = outputs.glob("*-seed43-*")
    assert list(trials_of(outputs)["status"]) == ["interrupted"] and executor.trained == ["42,43,44"]

    executor.stopping = False
    assert cli("mnist", ["sweep", "--resume", folder, "--quiet"]) == 0, capsys.readouterr().err
    [trial] = trials_of(outputs).itertuples()
    assert trial.status == "completed" and len(json.loads(trial.seed_runs)) == 3
    assert seed_folders(outputs, folder.name) == [(trial.trial, seed) for seed in (42, 43, 44)]  # one folder per seed
    if executor_name == "local":  # seed 43 goes on in its own folder, then seed 44 trains
        assert executor.resumed_runs == [interrupted] and executor.trained == ["42,43,44", "44"]
        assert not (outputs / ".trash").exists()
    else:  # seed 43 starts afresh beside 44: its folder goes to the trash (with a checkpoint: once 43 completed)
        assert not executor.resumed_runs and executor.trained == ["42,43,44", "43,44"]
        assert [path.name for path in (outputs / ".trash").iterdir()] == [interrupted.name]
        assert replaced_of(outputs) == [[interrupted.name] if checkpoint else []]
        assert cli("mnist", ["restore", interrupted.name, "--outputs", outputs]) == 0 and interrupted.is_dir()


def test_a_trial_that_ended_while_its_driver_was_dead_has_no_made_up_duration(sweep_with, capsys):
    code, outputs = sweep_with(GRID)
    assert code == 0
    [folder] = outputs.glob("sweep_*")
    table = trials_of(outputs)
    timed = table["seconds"].copy()
    table.loc[1, ["status", "seconds"]] = "running", None  # its run completed after the driver was killed
    table.to_csv(folder / "trials.csv", index=False)

    code, _ = sweep_with(["sweep", "--resume", folder, "--quiet"])
    assert code == 0, capsys.readouterr().err
    after = trials_of(outputs)
    assert list(after["status"]) == ["completed"] * 3 and after["run"][1] == table["run"][1]
    assert pd.isna(after["seconds"][1])  # no driver timed it: unknown, not 0
    assert list(after["seconds"][[0, 2]]) == list(timed[[0, 2]]) and (timed > 0).all()


# ---------------------------------------------------------------- a stopped Ray sweep brings its trials' folders back
class InProcessRay:
    """Ray as RayExecutor uses it, in this process: an actor is a real NodeWorker (its warm worker a real child
    process) whose calls run on as many threads of its own as the actor's max_concurrency (a real actor's default, 1,
    queues a second call behind the first); an object ref is a Future."""

    class exceptions:
        class RayError(Exception):
            pass

        class RayActorError(RayError):
            pass

        class TaskCancelledError(RayError):
            pass

    def __init__(self):
        self.actors, self.killed = [], []

    def init(self, **settings) -> None:
        pass

    def cluster_resources(self) -> dict:
        return {"CPU": 2}

    def remote(self, actor_class):
        return InProcessRay.ActorClass(self, actor_class, {})

    class ActorClass:
        def __init__(self, ray, actor_class, options):
            self.ray, self.actor_class, self.options_given = ray, actor_class, options

        def options(self, **options):
            return InProcessRay.ActorClass(self.ray, self.actor_class, options)

        def remote(self):
            actor = InProcessRay.Actor(self.actor_class(), self.options_given.get("max_concurrency", 1))
            self.ray.actors.append(actor)
            return actor

    class Actor:
        def __init__(self, node, threads):
            from concurrent.futures import ThreadPoolExecutor

            self.node, self.threads = node, ThreadPoolExecutor(threads)

        def __getattr__(self, name):  # actor.method.remote(...): the call on one of the actor's threads
            from types import SimpleNamespace

            method = getattr(self.node, name)
            return SimpleNamespace(remote=lambda *arguments: self.threads.submit(method, *arguments))

    def wait(self, references, num_returns, timeout):
        from concurrent.futures import wait

        done, _ = wait(references, timeout=timeout)
        return [ref for ref in references if ref in done], [ref for ref in references if ref not in done]

    def get(self, reference):
        return reference.result()

    def kill(self, actor) -> None:  # an actor's death takes its worker down (PDEATHSIG)
        self.killed.append(actor)
        actor.node.worker.process.kill()

    def shutdown(self) -> None:
        for actor in self.actors:
            if actor not in self.killed:
                actor.node.close()
            actor.threads.shutdown(wait=True)


# A stand-in trial: makes its run folder, then trains until SIGTERM, when it writes its checkpoint, marks itself
# interrupted and exits 130 (as a real run does); a `stubborn` one ignores SIGTERM.
STOPPABLE_TRIAL = """
import os, signal, sys, time
name, ready = sys.argv[1], sys.argv[2]
run = os.path.join(sys.argv[sys.argv.index('--outputs') + 1], 'run_' + name)
os.mkdir(run)

def interrupted(number, frame):
    if name == 'stubborn':
        return
    open(os.path.join(run, 'last.h5'), 'w').write('epoch 1')
    open(os.path.join(run, 'status'), 'w').write('interrupted')
    print('Interrupted by SIGTERM after epoch 1')
    sys.exit(130)

signal.signal(signal.SIGTERM, interrupted)
print('epoch 1/9  loss 0.5')
open(ready, 'w').close()
while True:
    time.sleep(0.05)
"""


def test_a_stopped_ray_sweep_brings_its_trials_folders_back_interrupted_and_kills_only_an_actor_that_does_not_answer(
        tmp_path, monkeypatch, capsys):
    import sys
    import time

    from utils.sweeps import ray_executor

    ray = InProcessRay()
    monkeypatch.setitem(sys.modules, "ray", ray)
    monkeypatch.setattr(ray_executor, "STOP_GRACE_SECONDS", 3)
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    trial = tmp_path / "trial.py"
    trial.write_text(STOPPABLE_TRIAL)
    executor = ray_executor.RayExecutor("auto", 2, 1, None, outputs)
    for trial_id, name in (("000", "obeys"), ("001", "stubborn")):
        executor.launch(trial_id, [str(trial), name, str(tmp_path / f"{name}.ready")], {}, tmp_path / f"{trial_id}.log")
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"{name}.ready").exists() for name in ("obeys", "stubborn")) and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        stopped = executor.stop()
    finally:
        ray.shutdown()
    assert sorted((item.trial_id, item.returncode, item.message) for item in stopped) == [
        ("000", 130, "Interrupted by SIGTERM after epoch 1"), ("001", 130, "cancelled")]
    # The trial that answered is back in the driver's outputs, interrupted, with its checkpoint, and its console in
    # its log; its actor lives on. Only the stubborn trial's actor was killed, and one line says so.
    assert sorted(path.name for path in outputs.iterdir()) == ["run_obeys"]
    assert (outputs / "run_obeys" / "last.h5").read_text() == "epoch 1"
    assert (outputs / "run_obeys" / "status").read_text() == "interrupted"
    assert (tmp_path / "000.log").read_text().splitlines() == ["epoch 1/9  loss 0.5", "Interrupted by SIGTERM after epoch 1"]
    assert ray.killed == [ray.actors[1]] and list(executor.actors) == [0] and executor.running == {}
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and "trial 001" in lines[0] and "stays on its node" in lines[0], lines
