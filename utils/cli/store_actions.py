"""The run-store subcommands: runs, serve, diff, tag, untag, note, delete, restore, purge. None of them imports
TensorFlow, Keras or JAX."""
import os
import sys
import time
from pathlib import Path

from utils.cli.actions import in_scope
from utils.cli.commands import command
from utils.core.errors import UsageError, UserError
from utils.runs.folder import RUN_FILE, RunFolder
from utils.runs.lock import RunLock
from utils.runs.query import TAG_NAME


def resolve_run(text: str, outputs) -> Path:
    """A run given as a folder path or as a run name under --outputs."""
    for candidate in (Path(text), Path(outputs) / text):
        if RunFolder(candidate).is_run():
            return candidate
    raise UsageError(f"{text} is not a run: no {RUN_FILE} in {text} or in {Path(outputs) / text}.")


def resolve_stored_run(text: str, outputs) -> Path:
    """A run the store may write to (tag, note, delete): one directly inside --outputs, else one line. The folder
    itself is not resolved, so a link in outputs stays a link (it is moved or refused as one, never followed)."""
    folder = resolve_run(text, outputs)
    if Path(os.path.abspath(folder)).parent.resolve() != Path(outputs).resolve():
        raise UsageError(f"{folder} is not inside the outputs folder {outputs}; pass the --outputs it lives in.")
    return folder


@command("runs", "this task's runs: --where, --sort, --columns, --format, --html")
def list_runs(task, args) -> int:
    from utils.runs.query import chosen_columns, render

    if Path(args.outputs).exists() and not Path(args.outputs).is_dir():
        raise UsageError(f"--outputs {args.outputs} is a file, not an outputs folder.")
    if args.group:
        print(grouped_listing(task, args))
        return 0
    shown, hidden, columns, empty_note = listed_runs(task, args)
    if not shown and args.output_format == "table":
        print(empty_note)
    else:
        print(render(shown, chosen_columns(args.columns, columns), args.output_format))
    if args.output_format == "table":  # why each unreadable folder is unreadable, under the table
        for row in shown:
            if row.get("status") == "unreadable":
                print(f"unreadable {row['run']}: {row.get('reason')}")
    if hidden:
        print(f"({hidden} more runs hidden; --show 0 lists all, --where narrows)",
              file=sys.stdout if args.output_format == "table" else sys.stderr)
    if args.html:
        from utils.reports.index_page import write_index_page
        from utils.runs.folder import prepare_outputs

        prepare_outputs(args.outputs)
        print(write_index_page(args.outputs))
    return 0


def grouped_listing(task, args) -> str:
    """`runs --group`: one row per configuration of the completed runs --where selects."""
    from utils.runs.groups import group_rows, group_runs
    from utils.runs.query import query_rows, render
    from utils.runs.record import RunRecord

    rows = query_rows(args.outputs, args.where, in_scope(task, args))
    records = [RunRecord.load(Path(args.outputs) / row["run"]).data for row in rows if row.get("status") == "completed"]
    if not records:
        return f"No completed {task.name} runs in {args.outputs} to group."
    table, columns = group_rows(group_runs(records))
    return render(table, columns, args.output_format)


def listed_runs(task, args) -> tuple:
    """(the rows to show, how many more match, every known column, what an empty listing says). A listing by start
    time with no --where is answered by the index's SQL (only the rows shown are decoded); any other goes through
    utils.runs.query over every row."""
    from utils.runs.index import load_rows, page_by_started
    from utils.runs.query import column_list, known_columns, order, query_rows

    column = (args.sort or "-started").lstrip("-+")
    page = None
    if not args.where and column == "started":
        page = page_by_started(args.outputs, None if args.all_tasks else task.name, args.show or None,
                               descending=(args.sort or "-").startswith("-"))
    if page is not None:
        return page.rows, page.matching - len(page.rows), column_list(page.columns), nothing_shown(task, args, page.total, page.matching)
    rows = load_rows(args.outputs)
    columns = known_columns(rows)
    scoped = in_scope(task, args, rows)
    shown = order(query_rows(args.outputs, args.where, scoped), args.sort, columns)
    hidden = len(shown) - args.show if args.show and len(shown) > args.show else 0
    return shown[: args.show] if hidden else shown, hidden, columns, nothing_shown(task, args, len(rows), len(scoped))


def nothing_shown(task, args, total: int, scoped: int) -> str:
    """What an empty listing says instead of a bare header."""
    if not total:
        return f"No runs in {args.outputs}."
    if not scoped:
        return f"No {task.name} runs in {args.outputs} ({total} of other tasks; --all-tasks lists them)."
    return f"0 of {scoped} runs match --where {' '.join(args.where or [])}."


@command("serve", "a live dashboard of every run in --outputs at http://127.0.0.1:8765/ (read-only)")
def serve_dashboard(task, args) -> int:
    from utils.serve.server import serve

    return serve(args.outputs, args.host, args.port, task.name)


@command("diff", "what differs between two runs: settings, data, environment, results")
def diff_runs(task, args) -> int:
    from utils.runs.diff import differences, render
    from utils.runs.record import RunRecord

    first, second = (resolve_run(text, args.outputs) for text in args.diff)
    if first.resolve() == second.resolve():
        raise UsageError(f"diff needs two different runs; both name {first}.")
    records = RunRecord.load(first), RunRecord.load(second)
    print(render(*records, differences(*records, show_all=args.show_all), args.output_format))
    return 0


def parse_tags(pairs) -> dict:
    tags = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if not key.strip() or any(character.isspace() for character in key):
            raise UsageError(f"tag expects KEY=VALUE (or KEY) after the run. Received: {pair!r}.")
        if not TAG_NAME.fullmatch(key):  # --where tag:NAME could never find it
            raise UsageError(f"tag name {key!r} has an operator character (< > ! ~), which --where tag:NAME cannot "
                             f"query; use letters, digits, '_', '-', '.' or ':'.")
        tags[key] = value if "=" in pair else "true"
    return tags


def edit_record(folder: Path, change) -> None:
    """Apply `change(record)` under the run's lock (a run still training is refused), then refresh report.html."""
    from utils.runs.record import RunRecord

    if Path(folder).is_symlink():  # its lock and record would be written into a folder outside outputs
        raise UsageError(f"{folder} is a link to {os.path.realpath(folder)}; edit the run where it lives.")
    with RunLock(folder, "tag"):
        change(RunRecord.load(folder))
    if RunFolder(folder).report.is_file():
        from utils.reports.html import write_run_report

        write_run_report(folder)


@command("tag", "tag a run: KEY=VALUE (KEY alone means KEY=true)")
def tag_run(task, args) -> int:
    if not args.tags:
        raise UsageError("tag expects a run and at least one KEY=VALUE, e.g. tag RUN baseline owner=ana.")
    folder = resolve_stored_run(args.run, args.outputs)
    tags = parse_tags(args.tags)
    edit_record(folder, lambda record: record.set_tags(tags))
    print(f"{folder.name}: tagged {', '.join(f'{key}={value}' for key, value in tags.items())}")
    return 0


@command("untag", "remove a tag from a run")
def untag_run(task, args) -> int:
    folder, key = resolve_stored_run(args.run, args.outputs), args.key

    def remove(record):
        if not record.remove_tag(key):
            raise UserError(f"{folder.name} has no tag {key!r}.")

    edit_record(folder, remove)
    print(f"{folder.name}: removed tag {key}")
    return 0


@command("note", "add a note to a run")
def note_run(task, args) -> int:
    folder, text = resolve_stored_run(args.run, args.outputs), args.text
    if not text.strip():
        raise UsageError("note expects a run and a non-empty text.")
    edit_record(folder, lambda record: record.add_note(text))
    print(f"{folder.name}: note added")
    return 0


@command("delete", "move runs to <outputs>/.trash/ (never a run still training)")
def delete_runs(task, args) -> int:
    from utils.runs import trash

    folders = [resolve_stored_run(text, args.outputs) for text in args.targets]  # every name checked before anything moves
    for folder in folders:
        target = trash.delete(folder, args.outputs)
        print(f"{folder.name} -> {target} (restore {folder.name} brings it back)")
    return 0


@command("restore", "bring runs back from the trash")
def restore_runs(task, args) -> int:
    from utils.runs import trash

    for name in args.targets:
        target = trash.restore(name, args.outputs)
        others = trash.other_copies(name, args.outputs)
        deleted = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(target.lstat().st_mtime))
        print(f"restored {target} (the copy deleted {deleted})" + (
            f"; {len(others)} more trashed under that name: {', '.join(path.name for path in others)} "
            f"(restore one by that exact name)" if others else ""))
    return 0


@command("purge", "delete trashed runs for good (--older-than AGE, --yes)")
def purge_runs(task, args) -> int:
    from utils.runs import trash

    age = trash.parse_age(args.older_than) if args.older_than else 0.0
    folders = trash.purgeable(args.outputs, age)
    if not args.yes:
        raise UsageError(f"purge deletes trashed runs for good ({len(folders)} now); add --yes to confirm.")
    if not folders:
        print("Nothing to purge.")
        return 0
    trash.purge(folders)
    print(f"Purged {len(folders)} run(s) from the trash.")
    return 0
