"""Run a sweep: plan its trials, start them on an executor as slots free up, settle each from its run folder,
and keep sweep.json and trials.csv current so that a crash, Ctrl-C or SIGKILL loses nothing but running epochs."""
import importlib
import json
import os
import sys
import threading
import time
from pathlib import Path


from utils.core.options import DEFAULT_SEED, seed_list
from utils.core.errors import UsageError, UserError
from utils.core.signals import TrainingInterrupted, signals_deferred
from utils.reports.index_page import refresh_index_page
from utils.runs import trash
from utils.runs.folder import RunFolder, index_page, prepare_outputs
from utils.runs.record import RunRecord, now_iso
from utils.runs.sweep_summary import FINISHED
from utils.sweeps import study as studies
from utils.sweeps.command import base_options, script_of, trial_arguments, trial_environment
from utils.sweeps.folder import SweepFolder, sweep_runs
from utils.sweeps.progress import DONE, Progress, best_of, progress_line
from utils.sweeps.replaced import replaced_runs
from utils.sweeps.space import Parameter, check_value, grid_parameters, model_names, read_space, sweepable_options
from utils.sweeps.seeds import (average_over_seeds, averaged, interrupted_seed_run, newest_by_seed, seeds_argument,
                                seeds_to_train)
from utils.sweeps.trials import new_trial

OBJECTIVES = ("val_accuracy", "val_loss", "accuracy", "loss", "test_accuracy", "test_loss")
DEFAULT_TRIALS = 10


def run_sweep(task, args, verbosity: int = 1) -> int:
    """The entry of `sweep` (--grid, --search, --resume); returns the exit code (1 when a trial failed)."""
    options = sweepable_options(task)
    with signals_deferred() as signals:  # a signal is acted on between the sweep's steps, never inside one
        if not args.resume_sweep:
            spec = plan(task, args, options)
            executor = make_executor(spec)  # an unreachable cluster fails here, before any folder exists
            signals.install()  # ray.init sets a SIGTERM handler of its own
            if signals.received:  # nothing is written yet: the command just ends
                raise TrainingInterrupted(signals.received)
            folder = create_sweep(spec)
        else:
            folder, spec = reopen(task, args, options)
            executor = make_executor(spec)
            signals.install()
        return Sweep(folder, spec, options, executor, verbosity, signals).run()


def create_sweep(spec: dict) -> SweepFolder:
    grid = spec.pop("grid")
    folder = SweepFolder.create(spec["outputs"], spec.pop("label"))
    spec.update(sweep_id=folder.name, study=folder.name, created=now_iso())
    folder.save_trials([new_trial(position, combination) for position, combination in enumerate(grid)])
    folder.save_spec(spec)
    return folder


def check_counts(args) -> None:
    if args.trials is not None and args.trials < 1:
        raise UsageError(f"--trials must be at least 1. Received: {args.trials}.")
    if args.workers is not None:
        if args.workers < 1:
            raise UsageError(f"--workers must be at least 1. Received: {args.workers}.")
        if args.executor != "ray" and args.workers > (os.cpu_count() or 1):
            raise UsageError(f"--workers {args.workers} is above this machine's {os.cpu_count()} CPUs; "
                             f"use at most {os.cpu_count()} (or --executor ray for more machines).")
    if args.gpus_per_trial is not None and not args.gpus_per_trial > 0:
        raise UsageError(f"--gpus-per-trial must be greater than 0. Received: {args.gpus_per_trial}.")


def plan(task, args, options) -> dict:
    """sweep.json's content (and the grid's combinations), every value checked; nothing is written yet."""
    check_counts(args)
    if args.objective not in OBJECTIVES:
        raise UsageError(f"--objective must be one of {', '.join(OBJECTIVES)}. Received: {args.objective!r}.")
    if args.prune and args.executor == "ray":
        raise UsageError("--prune reports each epoch to the study file on this machine; it cannot be used with --executor ray.")
    studies.require_optuna()
    base = base_options(args, options)
    seeds = trial_seeds(args, base)
    # -m is no trial setting (sweepable_options leaves it out), so it is read from args: every trial trains what it names.
    models = model_names(task) if args.model == ["all"] else args.model or [task.default_model]
    for name in models:
        check_value(task, options, "model", name, "-m")
    grid = []
    if args.search:
        if args.grid:
            raise UsageError("--grid and --search are two kinds of sweep; pass one of them.")
        if not args.space:
            raise UsageError(f"--search {args.search} needs --space FILE (a YAML search space).")
        parameters = read_space(task, args.space)
        check_given_once(options, base, [parameter.name for parameter in parameters], bool(args.model))
        if len(models) > 1 and all(parameter.name != "model" for parameter in parameters):
            parameters.append(Parameter("model", "choice", list(models)))
    else:
        if args.trials is not None:
            raise UsageError("--trials applies to --search; a --grid runs each of its combinations once.")
        parameters, grid = grid_parameters(task, args.grid, models)
        # The grid's own keys (a model axis from several -m names is not one of them).
        keys = [item.partition("=")[0].strip().replace("-", "_") for item in args.grid]
        check_given_once(options, base, keys, bool(args.model))
        check_grid(task, {**base, "model": models[0]}, grid)
    if all(parameter.name != "model" for parameter in parameters):
        base["model"] = models[0]
    if seeds and any(parameter.name == "seed" for parameter in parameters):
        raise UsageError("--seeds gives every trial its seeds, and the sweep also varies seed; give one of them.")
    outputs = prepare_outputs(args.outputs)
    return {
        "task": task.name, "method": args.search or "grid", "objective": args.objective,
        "direction": studies.direction_of(args.objective), "prune": args.prune, "seed": DEFAULT_SEED if args.seed is None else args.seed,
        "target_trials": (args.trials or DEFAULT_TRIALS) if args.search else len(grid),
        "parameters": [parameter.to_json() for parameter in parameters], "base_options": base,
        "epochs": base.get("epochs") or task.defaults.get("epochs"),
        "workers": args.workers or 1, "executor": args.executor, "ray_address": args.ray_address,
        "gpus_per_trial": args.gpus_per_trial, "outputs": str(Path(outputs).resolve()), "grid": grid,
        "label": args.name or args.search or "grid", "seeds": seeds,
    }


def trial_seeds(args, base: dict) -> list:
    """--seeds as the seeds every trial trains (None without it); checked as train checks it."""
    if args.seeds is None:
        return None
    seeds = seed_list(args.seeds, base.get("seed", DEFAULT_SEED))  # the option's own check has passed
    if len(seeds) > 1 and args.prune:
        raise UsageError(f"--prune judges one run's curve per trial, and with --seeds {args.seeds} a trial is the "
                         f"mean of {len(seeds)} runs; drop --prune or --seeds.")
    return seeds


def check_given_once(options, base: dict, varied: list, models_given: bool) -> None:
    """An option given beside the sweep (command line or --config) that the grid or space also varies would be
    overridden in every trial without a word: refused, so that every option given reaches every trial."""
    for name in varied:
        if name == "model" and models_given or name in base:
            flag = "-m" if name == "model" else options[name].flag_name
            raise UsageError(f"{flag} is given beside the sweep and also varied by it ({name}); give it in one place.")


def check_grid(task, base: dict, grid: list) -> None:
    """Every combination resolves to settings a run accepts (the checks a run makes before it starts)."""
    from models import get_model
    from utils.core.config import resolve_config

    for combination in grid:
        values = {**base, **combination}
        spec = get_model(task.name, values.pop("model", None) or task.default_model)
        resolve_config(task, spec, values)


def reopen(task, args, options):
    folder = SweepFolder.open(args.resume_sweep)
    spec = folder.spec()
    if not isinstance(spec, dict):
        folder.check()  # says what the file holds instead
    if spec.get("task") != task.name:
        raise UsageError(f"{folder.path} is a {spec.get('task')} sweep; resume it with {spec.get('task')}.py.")
    check_counts(args)
    given = [options[name].flag_name for name in base_options(args, options)] + (["-m"] if args.model else [])
    given += ["--seeds"] if args.seeds is not None else []
    if given:  # the trials run with the recorded settings; a new one would reach only some of them
        raise UsageError(f"sweep --resume continues with the sweep's recorded settings; it does not take "
                         f"{', '.join(given)} (start a new sweep to change them).")
    folder.check()
    studies.check_journal(folder.journal)
    if args.trials is not None:
        if spec["method"] == "grid":
            raise UsageError("--trials extends a search; a grid's trials are fixed by its combinations.")
        if args.trials < len(folder.trials()):
            raise UsageError(f"--trials {args.trials} is below the {len(folder.trials())} trials this sweep already has.")
        spec["target_trials"] = args.trials
    if args.workers is not None:
        spec["workers"] = args.workers
    spec["outputs"] = str(folder.path.parent.resolve())  # the folder may have moved with its outputs
    folder.save_spec(spec)
    return folder, spec


def make_executor(spec: dict):
    if spec["executor"] == "ray":
        from utils.sweeps.ray_executor import RayExecutor

        return RayExecutor(spec["ray_address"], spec["workers"] if spec["workers"] > 1 else None, 1,
                           spec["gpus_per_trial"], spec["outputs"])
    from utils.sweeps.local import LocalExecutor

    return LocalExecutor(spec["workers"], spec["gpus_per_trial"], spec["outputs"])


def find_trial_runs(outputs, sweep_id: str) -> dict:
    """trial id -> its newest run folder under outputs (a trial rerun after a failure has a newer one)."""
    found = {}
    for path, data in sweep_runs(outputs, sweep_id):
        trial = data["sweep"]["trial"]
        found[trial] = max(found.get(trial, path), path, key=lambda item: item.stat().st_mtime)
    return found


def objective_of(run: Path, objective: str, direction: str):
    """The best value of the objective over the run's epochs (or its test metric)."""
    if objective.startswith("test_"):
        return (RunRecord.load(run).get("test_metrics") or {}).get(objective)
    history = RunFolder(run).read_history()  # empty when it stopped before its first epoch ended
    if objective not in history or history[objective].isna().all():
        return None
    return float(history[objective].max() if direction == "maximize" else history[objective].min())


class Sweep:
    def __init__(self, folder: SweepFolder, spec: dict, options: dict, executor, verbosity: int, signals):
        self.signals = signals  # DeferredSignals: asked between steps
        self.folder = folder
        self.spec = spec
        self.options = options
        self.executor = executor
        self.verbosity = verbosity
        self.parameters = [Parameter(**parameter) for parameter in spec["parameters"]]
        self.trials = folder.trials()
        self.study, self.storage = studies.open_study(folder.journal, spec, len(self.trials))
        self.clock = {}  # trial id -> monotonic start of its current process
        self.began = time.monotonic()  # of this invocation: the progress lines' elapsed time and ETA
        self.durations = []  # seconds of each trial this invocation ran to an end (the ETA's pace)
        self.seed_resumes = set()  # averaged trials whose process now continues one interrupted seed
        self.report_imported = None  # the thread importing the report's modules, once started

    def save(self) -> None:
        self.folder.save_trials(self.trials)

    def say(self, message: str) -> None:
        if self.verbosity:
            print(message, flush=True)

    def run(self) -> int:
        self.settle_leftovers()
        self.loop()
        if self.signals.received:
            self.stop_for_signal()
        if hasattr(self.executor, "release"):
            self.executor.release()  # the idle workers exit while the report is written
        try:
            return self.finish()
        finally:
            if hasattr(self.executor, "close"):
                self.executor.close()

    def stop_for_signal(self) -> None:
        """Stop the workers (each trial checkpoints and marks itself interrupted), record them, and end the sweep."""
        for finished in self.executor.stop():
            self.settle(finished, interrupted=True)
        self.save()
        raise UserError(f"Sweep interrupted by {self.signals.name}; continue with: {self.spec['task']}.py sweep "
                        f"--resume {self.folder.path}", exit_code=130)

    def settle_leftovers(self) -> None:
        """Trials still marked running belong to a driver that died: wait for their processes, then let them be
        continued (interrupted) on this run."""
        leftovers = [trial for trial in self.trials if trial.status == "running"]
        if not leftovers:
            return
        from utils.sweeps.local import Finished

        runs = find_trial_runs(self.spec["outputs"], self.spec["sweep_id"])
        deadline = time.monotonic() + 90
        for trial in leftovers:
            run = runs.get(trial.trial)
            while run and RunRecord.load(run).status == "running" and time.monotonic() < deadline:
                if self.signals.received:  # the rest stay `running`: the next resume settles them
                    return
                time.sleep(1)  # its process got SIGTERM with the driver and is writing its checkpoint
            finished = run is not None and RunRecord.load(run).status in FINISHED  # it ended before the driver saw it
            self.settle(Finished(trial.trial, 0 if finished else 130, ""), interrupted=not finished)

    def loop(self) -> None:
        pending = sorted((trial for trial in self.trials if trial.status not in FINISHED), key=lambda item: item.position)
        while not self.signals.received:
            while self.executor.free_slots() > 0 and not self.signals.received:
                trial = pending.pop(0) if pending else self.new_search_trial()
                if trial is None:
                    self.prepare_report()
                    break
                self.start(trial)
            if not self.executor.running:
                return
            for finished in self.executor.wait(1.0):
                self.settle(finished)

    def prepare_report(self) -> None:
        """Once a slot stays free (no trial is left to start), the report's modules (matplotlib, scikit-learn) are
        imported on a thread: about 2 s on the idle core, which the sweep's end would otherwise wait for."""
        if self.report_imported is None:
            self.report_imported = threading.Thread(target=importlib.import_module, args=("utils.sweeps.report",),
                                                    daemon=True)
            self.report_imported.start()

    def new_search_trial(self):
        if self.spec["method"] == "grid" or len(self.trials) >= self.spec["target_trials"]:
            return None
        optuna_trial_id, params = studies.ask(self.study, self.storage, self.parameters)
        trial = new_trial(max((trial.position for trial in self.trials), default=-1) + 1, params)
        trial.optuna_trial_id = optuna_trial_id
        self.trials.append(trial)
        return trial

    def optuna_trial_running(self, trial) -> bool:
        return trial.optuna_trial_id is not None and studies.is_running(self.storage, trial.optuna_trial_id)

    def start(self, trial, going_on: bool = False) -> None:
        script = script_of(self.spec["task"])
        by_seed = self.seed_runs(trial) if averaged(self.spec) else {}  # one scan of the outputs for all three uses
        run = self.run_to_continue(trial, by_seed)
        continuing = run is not None
        if continuing:
            arguments = [script, "resume", run]
            if averaged(self.spec):  # one seed goes on; settle then starts the seeds still to train
                self.seed_resumes.add(trial.trial)
        else:
            if not self.optuna_trial_running(trial):
                trial.optuna_trial_id, _ = studies.ask(self.study, self.storage, self.parameters, fixed=trial.params)
            self.discard_unstarted_runs(trial, by_seed)
            trial.run = None
            arguments = [script, *trial_arguments(self.spec, self.options, trial)]
            if averaged(self.spec):  # seeds that already completed in an earlier try are kept, not trained again
                arguments += seeds_argument(seeds_to_train(self.spec, by_seed))
        environment = trial_environment(self.spec, trial, self.folder.journal, self.executor.threads)
        trial.status, trial.reason, trial.ended = "running", None, None
        trial.started = trial.started if continuing or going_on else now_iso()
        self.clock[trial.trial] = time.monotonic()
        self.save()
        self.executor.launch(trial.trial, arguments, environment, self.folder.log_path(trial.trial))
        self.say(f"trial {trial.trial} {'continued' if continuing or going_on else 'started'}: {json.dumps(trial.params)}")

    def trial_runs(self, trial) -> list:
        """(path, run record data) of the trial's run folders: one scan of the outputs."""
        return [(path, data) for path, data in sweep_runs(self.spec["outputs"], self.spec["sweep_id"])
                if data["sweep"].get("trial") == trial.trial]

    def seed_runs(self, trial) -> dict:
        return newest_by_seed(self.trial_runs(trial))

    def run_to_continue(self, trial, by_seed: dict):
        """The folder a local trial goes on in with `resume` (from its last checkpoint, or again from epoch 1 when
        it stopped before its first), so it keeps one folder (an averaged trial, one per seed); None to start it."""
        if self.spec["executor"] != "local" or not self.optuna_trial_running(trial):
            return None
        if averaged(self.spec):
            return interrupted_seed_run(self.spec, by_seed)
        if trial.status == "interrupted" and trial.run and RunFolder(trial.run).is_run():
            return trial.run
        return None

    def discard_unstarted_runs(self, trial, by_seed: dict) -> None:
        """An interrupted trial that starts afresh (on Ray, or its Optuna trial was closed) leaves its folder (an
        averaged trial's, that of its interrupted seed) to the trash when that holds no checkpoint, hence no epoch
        to keep: `runs` shows one folder per trial, not an orphan `interrupted` one beside it. One with a checkpoint
        waits until its new run completes (trash_replaced_runs). A failed trial's folder stays: it records why it
        failed."""
        if averaged(self.spec):
            runs = [path for path, status in by_seed.values() if status == "interrupted"]
        else:
            runs = [trial.run] if trial.status == "interrupted" and trial.run else []
        for folder in map(RunFolder, runs):
            if not folder.is_run() or folder.last_checkpoint.is_file():
                continue
            try:
                trash.delete(folder, self.spec["outputs"])
            except UserError as error:  # its process still holds the lock: left where it is
                self.say(f"trial {trial.trial}: keeping {folder.name} ({error})")

    def trash_replaced_runs(self, trial, runs: list) -> list:
        """The trial's interrupted folders that a newer completed run of theirs replaced go to the trash, each named
        in trials.csv's `replaced` (a lock still held leaves the folder where it is); returns the runs left."""
        for folder, replacement in replaced_runs(runs):
            try:
                target = trash.delete(folder, self.spec["outputs"])
            except UserError as error:
                self.say(f"trial {trial.trial}: keeping {folder.name} ({error})")
                continue
            trial.replaced.append(str(target))
            runs = [(path, data) for path, data in runs if path != folder]
            self.say(f"trial {trial.trial}: {folder.name} (interrupted) is replaced by {replacement.name} and in the "
                     f"trash (restore {target.name} brings it back)")
        return runs

    def settle(self, finished, interrupted: bool = False) -> None:
        trial = next(item for item in self.trials if item.trial == finished.trial_id)
        runs = self.trash_replaced_runs(trial, self.trial_runs(trial))  # the one scan of the outputs settle needs
        resumed_seed = trial.trial in self.seed_resumes
        self.seed_resumes.discard(trial.trial)
        run = max((path for path, _ in runs), key=lambda path: path.stat().st_mtime, default=None)  # a rerun's is newer
        record = RunRecord.load(run) if run else None
        status = record.status if record else None
        if interrupted or status == "interrupted":
            trial.status = "interrupted"
        elif status in FINISHED and finished.returncode == 0:
            trial.status = status
        else:
            trial.status = "failed"
            trial.reason = finished.message or (record and record.get("reason")) or f"exit code {finished.returncode}"
        if status == "pruned":
            trial.reason = record.get("reason")
        trial.run = str(run) if run else None
        trial.epochs = record.get("epochs_completed") if record else None
        trial.objective = objective_of(run, self.spec["objective"], self.spec["direction"]) if run else None
        if averaged(self.spec) and trial.status == "completed":
            by_seed = newest_by_seed(runs)
            if resumed_seed and seeds_to_train(self.spec, by_seed):
                return self.go_on_with_seeds(trial)
            average_over_seeds(trial, self.spec, by_seed, objective_of)
        if trial.status == "completed" and trial.objective is None:
            trial.status, trial.reason = "failed", f"the run recorded no {self.spec['objective']}"
        started = self.clock.pop(trial.trial, None)  # None: a leftover of a driver that died, not timed here
        ran = None if started is None else time.monotonic() - started
        if ran is not None:  # a process no driver timed adds nothing: its trial's seconds stay empty, not 0
            trial.seconds = round((trial.seconds or 0) + ran, 2)
        trial.ended = now_iso()
        if trial.optuna_trial_id is not None:
            studies.tell(self.study, self.storage, trial.optuna_trial_id, trial.status, trial.objective)
        self.save()
        if ran is not None and trial.status in DONE:
            self.durations.append(ran)
        self.say(self.progress_line(trial))

    def go_on_with_seeds(self, trial) -> None:
        """An averaged trial whose interrupted seed was continued in its folder trains its other seeds next (after a
        signal, the next resume does)."""
        trial.seconds = round((trial.seconds or 0) + time.monotonic() - self.clock.pop(trial.trial), 2)
        if not self.signals.received:
            return self.start(trial, going_on=True)
        trial.status = "interrupted"
        self.save()

    def progress_line(self, trial) -> str:
        best, best_trial = best_of(self.trials, self.spec["direction"])
        total = max(self.spec["target_trials"], len(self.trials))
        now = time.monotonic()
        progress = Progress(self.spec["objective"], sum(item.status in DONE for item in self.trials), total,
                            now - self.began, best, best_trial,
                            sum(self.durations) / len(self.durations) if self.durations else None,
                            tuple(now - started for started in self.clock.values()),
                            self.executor.free_slots() + len(self.executor.running))  # its parallel slots
        spread = ""
        if trial.seed_runs and trial.objective_std is not None:
            spread = f" ± {trial.objective_std:.4f} (mean of {len(trial.seed_runs)} seeds)"
        return progress_line(trial.trial, trial.status, trial.objective, progress,
                             trial.reason if trial.status == "failed" else None, spread)

    def refresh_index(self) -> None:
        """The page the trials' runs wrote, again: its Sweeps row counts the last trial, settled after that run wrote it."""
        if index_page(self.spec["outputs"]).is_file():
            refresh_index_page(self.spec["outputs"])

    def finish(self) -> int:
        from utils.sweeps.report import results_table, write_sweep_report

        report = write_sweep_report(self.folder, self.spec, self.trials, self.study)
        self.refresh_index()
        if self.signals.received:  # every trial is settled; a resume writes the report again
            self.stop_for_signal()
        if self.verbosity:
            print(results_table(self.trials, self.spec))
            print(f"report: {report}")
        failed = [trial for trial in self.trials if trial.status == "failed"]
        for trial in failed:
            print(f"failed: trial {trial.trial} {json.dumps(trial.params)}: {trial.reason}", file=sys.stderr)
        print(self.folder.path)
        return 1 if failed else 0
