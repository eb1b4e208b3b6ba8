"""The flat spellings of earlier releases (`--runs`, `--diff A B`, `--resume RUN`, `--grid ...`), kept as hidden
aliases: each becomes its subcommand before parsing, so old scripts and notes keep working."""

# old action flag -> (subcommand, how many values follow it: a count, or "*"/"+" for "until the next option")
ACTION_FLAGS = {
    "--list": ("list", 0), "--runs": ("runs", 0), "--purge": ("purge", 0), "--compare": ("compare", "*"),
    "--evaluate": ("evaluate", 1), "--predict": ("predict", "+"), "--resume": ("resume", 1), "--diff": ("diff", 2),
    "--tag": ("tag", "+"), "--untag": ("untag", 2), "--note": ("note", 2), "--delete": ("delete", "+"),
    "--restore": ("restore", "+"),
}
SWEEP_FLAGS = {"--grid": "--grid", "--search": "--search", "--resume-sweep": "--resume"}


def _values(argv: list, start: int, count) -> int:
    """The index after the values of the flag before `start`."""
    if isinstance(count, int):
        return min(start + count, len(argv))
    end = start
    while end < len(argv) and not argv[end].startswith("-"):
        end += 1
    return end


def rewrite(argv: list) -> list:
    """`argv` in subcommand form: the first old action flag becomes the command, its values its arguments."""
    for index, token in enumerate(argv):
        if token in ACTION_FLAGS:
            name, count = ACTION_FLAGS[token]
            end = _values(argv, index + 1, count)
            return [name, *argv[index + 1:end], *argv[:index], *argv[end:]]
        if token in SWEEP_FLAGS:
            return ["sweep", *(SWEEP_FLAGS.get(item, item) for item in argv)]
    if "--last" in argv:  # `--last N` alone compared the newest N runs
        return ["compare", *argv]
    return argv
