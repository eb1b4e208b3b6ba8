"""--where, --sort, --show and --columns over summary rows (utils.runs.index), and the table/csv/json output.

A filter is COLUMN OPERATOR VALUE (`model=conv_net`, `test_accuracy>0.9`, `started>2026-11-01`, `learning_rate<=1e-3`,
`model~conv` for "contains") or a tag test (`tag:baseline`, `tag:owner=ana`). Numbers compare as numbers, everything
else as text (ISO dates sort as text). Every mistake is one UsageError naming the filter.
"""
import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import datetime

from utils.core.errors import UsageError
from utils.core.options import setting_options
from utils.runs.index import BASE_COLUMNS, load_rows

OPERATORS = {
    "=": lambda left, right: left == right, "==": lambda left, right: left == right,
    "!=": lambda left, right: left != right, "<": lambda left, right: left < right,
    "<=": lambda left, right: left <= right, ">": lambda left, right: left > right,
    ">=": lambda left, right: left >= right, "~": lambda left, right: str(right) in str(left),
}
# A tag name --where can ask about (tag:NAME, tag:NAME=VALUE): no operator character and no space.
TAG_NAME = re.compile(r"[^=<>!~\s]+")
FILTER = re.compile(r"^\s*(?P<column>tag:[^=<>!~\s]+|[A-Za-z_][\w.]*)\s*(?P<operator>[=<>!~]+)?\s*(?P<value>.*?)\s*$")
DATE_COLUMNS = ("started", "ended")
DEFAULT_COLUMNS = ("run", "status", "task", "dataset", "model", "epochs", "best_val_accuracy", "test_accuracy", "started",
                   "tags")
EXAMPLES = "e.g. model=conv_net, test_accuracy>0.9, started>2026-11-01, tag:baseline"


@dataclass(frozen=True)
class Filter:
    text: str
    column: str
    operator: str  # "" for a bare tag test
    value: str

    def matches(self, row: dict) -> bool:
        if self.column.startswith("tag:"):
            tags = row.get("tags") or {}
            name = self.column[4:]
            return name in tags if not self.operator else _compare(tags.get(name), self.operator, self.value, self.text)
        return _compare(row.get(self.column), self.operator, self.value, self.text)


def known_columns(rows) -> list:
    return column_list(key for row in rows for key in row)


def column_list(names) -> list:
    """The base columns and every setting, then the other `names` (hidden `_` names left out), each once."""
    columns = dict.fromkeys([*BASE_COLUMNS, *(option.name for option in setting_options())])
    columns.update(dict.fromkeys(names))
    return [column for column in columns if not column.startswith("_")]


def parse_filter(text: str, columns) -> Filter:
    match = FILTER.match(text)
    if not match or (not match["operator"] and not match["column"].startswith("tag:")) or (match["operator"] and not match["value"]):
        raise UsageError(f"--where {text!r} is not COLUMN OPERATOR VALUE or tag:NAME ({EXAMPLES}).")
    column, operator = match["column"], match["operator"] or ""
    if operator and operator not in OPERATORS:
        raise UsageError(f"--where {text!r}: unknown operator {operator!r}; use one of {' '.join(OPERATORS)}.")
    if not column.startswith("tag:") and column not in columns:
        raise UsageError(f"--where {text!r}: unknown column {column!r}. Known columns: {', '.join(columns)}.")
    if column in DATE_COLUMNS and operator and operator != "~" and not _is_date(match["value"]):
        # Dates compare as text: a non-date would match some runs by accident and say nothing.
        raise UsageError(f"--where {text!r}: {match['value']!r} is not a date; use YYYY-MM-DD (or YYYY-MM, YYYY, "
                         f"or an ISO time such as 2026-11-01T10:00).")
    return Filter(text, column, operator, match["value"])


def _is_date(text: str) -> bool:
    """An ISO date or time that exists (2026-02-30 does not), or a year or year-month prefix of one."""
    for form in ("%Y", "%Y-%m"):
        try:
            datetime.strptime(text, form)
            return True
        except ValueError:
            pass
    try:
        datetime.fromisoformat(text)
        return True
    except ValueError:
        return False


def _number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _compare(left, operator: str, right: str, text: str) -> bool:
    if left is None:
        return operator == "!="
    if isinstance(left, bool):
        left = str(left).lower()
    if isinstance(left, (int, float)) and operator != "~":
        number = _number(right)
        if number is None:
            raise UsageError(f"--where {text!r}: the column holds numbers; {right!r} is not one.")
        return OPERATORS[operator](float(left), number)
    return OPERATORS[operator](str(left), right)


def check_value_type(condition: Filter, rows) -> None:
    """A value of the wrong type for its column is one UsageError before any row is compared: text against a column
    of numbers, a number ordered against a column of text, anything but true/false against a yes/no column."""
    if condition.column.startswith("tag:") or condition.operator in ("", "~"):
        return
    values = [row.get(condition.column) for row in rows if row.get(condition.column) is not None]
    if not values:
        return
    flags = [value for value in values if isinstance(value, bool)]
    numbers = [value for value in values if isinstance(value, (int, float)) and not isinstance(value, bool)]
    if len(flags) == len(values) and condition.value.lower() not in ("true", "false"):
        raise UsageError(f"--where {condition.text!r}: the column holds true/false; {condition.value!r} is neither.")
    if numbers and _number(condition.value) is None:
        raise UsageError(f"--where {condition.text!r}: the column holds numbers; {condition.value!r} is not one.")
    if not numbers and not flags and condition.operator in ("<", "<=", ">", ">=") and _number(condition.value) is not None \
            and condition.column not in DATE_COLUMNS:
        raise UsageError(f"--where {condition.text!r}: the column holds text (e.g. {str(values[0])!r}), not numbers; "
                         f"use = != or ~ with it.")


def select(rows, filters) -> list:
    return [row for row in rows if all(condition.matches(row) for condition in filters)]


def sort_key(column: str):
    def key(row):
        value = row.get(column)
        number = _number(value) if not isinstance(value, str) else None
        return (0, number, "") if number is not None else (1, 0.0, str(value))

    return key


def order(rows, sort: str, columns) -> list:
    """Rows sorted by `sort` ('column' or '-column' for descending; empty values last); default newest first."""
    descending = sort.startswith("-") if sort else True
    column = sort.lstrip("-+") if sort else "started"
    if column not in columns:
        raise UsageError(f"--sort {sort!r}: unknown column {column!r}. Known columns: {', '.join(columns)}.")
    present = [row for row in rows if row.get(column) is not None]
    missing = [row for row in rows if row.get(column) is None]
    return sorted(present, key=sort_key(column), reverse=descending) + missing


def chosen_columns(text, columns) -> list:
    if not text:
        return list(DEFAULT_COLUMNS)
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in columns]
    if unknown:
        raise UsageError(f"--columns: unknown column(s) {', '.join(unknown)}. Known columns: {', '.join(columns)}.")
    return chosen


def cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, dict):
        return ",".join(f"{key}={item}" for key, item in value.items()) or "-"
    if isinstance(value, list):
        return " | ".join(map(str, value)) or "-"
    return str(value)


def render(rows, columns, output_format: str) -> str:
    """Rows as an aligned text table, CSV, or JSON (JSON keeps the values' types)."""
    if output_format == "json":
        return json.dumps([{column: row.get(column) for column in columns} for row in rows], indent=1)
    if output_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[cell(row.get(column)) if row.get(column) is not None else "" for column in columns]
                          for row in rows])
        return buffer.getvalue().rstrip("\n")
    cells = [[cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(column)] + [len(line[index]) for line in cells]) for index, column in enumerate(columns)]
    lines = ["  ".join(column.ljust(width) for column, width in zip(columns, widths))]
    lines += ["  ".join(text.ljust(width) for text, width in zip(line, widths)) for line in cells]
    return "\n".join(line.rstrip() for line in lines)


def query_rows(outputs, where, rows=None) -> list:
    """The rows of `outputs` matching every --where filter."""
    rows = load_rows(outputs) if rows is None else rows
    columns = known_columns(rows)
    filters = [parse_filter(text, columns) for text in where or []]
    for condition in filters:
        check_value_type(condition, rows)
    return select(rows, filters)
