"""The schema of a table: each feature column's type (numeric, categorical, boolean, date) or why it is excluded,
inferred from the values, overridden by a YAML file, printed before training and recorded in run.json."""
from dataclasses import asdict, dataclass
from pathlib import Path

from utils.core.errors import UserError

KINDS = ("numeric", "categorical", "boolean", "date", "excluded")
BOOLEAN_WORDS = {"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0, "y": 1.0, "n": 0.0, "t": 1.0, "f": 0.0}
# A text column with more distinct values than this is an identifier or free text, not a category worth one-hot
# columns (Surname in the churn data has 2,932).
MAX_CATEGORIES = 100
# At least this many rows before "a distinct value in every row" means an identifier rather than a tiny table.
MIN_ROWS_FOR_ID = 20


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # one of KINDS
    reason: str


def infer_column(values) -> Column:
    """The type of one feature column (a pandas Series), with the reason a reader can check."""
    import pandas as pd

    name, present = str(values.name), values.dropna()
    distinct = present.nunique()
    if distinct == 0:
        return Column(name, "excluded", "empty: every value is missing")
    if distinct == 1:
        return Column(name, "excluded", f"constant: every value is {present.iloc[0]!r}")
    if pd.api.types.is_bool_dtype(present) or is_boolean_text(present):
        return Column(name, "boolean", f"two values: {', '.join(map(str, sorted(present.astype(str).unique())))}")
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.notna().all():
        return infer_numeric(name, numbers, len(values))
    return infer_text(name, present.astype(str), len(values))


def infer_numeric(name, numbers, rows) -> Column:
    if set(numbers.unique()) == {0, 1}:
        return Column(name, "boolean", "two values: 0 and 1")
    whole = bool((numbers == numbers.round()).all())
    if whole and numbers.nunique() == rows and rows >= MIN_ROWS_FOR_ID:
        return Column(name, "excluded", "ID-like: a distinct whole number in every row")
    return Column(name, "numeric", f"numbers ({numbers.nunique()} distinct values)")


def infer_text(name, text, rows) -> Column:
    distinct = text.nunique()
    if looks_like_dates(text):
        return Column(name, "excluded", "dates (set it to date in --schema to use it as days since 1970)")
    if distinct == rows and rows >= MIN_ROWS_FOR_ID:
        return Column(name, "excluded", "ID-like: a distinct value in every row")
    if distinct > MAX_CATEGORIES:
        words = text.str.split().str.len().mean()
        what = "free text" if words > 3 else "high cardinality"
        return Column(name, "excluded", f"{what}: {distinct} distinct values (categories are kept up to {MAX_CATEGORIES})")
    return Column(name, "categorical", f"text with {distinct} distinct values")


def is_boolean_text(present) -> bool:
    words = set(present.astype(str).str.strip().str.lower().unique())
    return len(words) == 2 and words <= set(BOOLEAN_WORDS)


def looks_like_dates(text) -> bool:
    import pandas as pd

    sample = text.head(200)
    if not sample.str.contains(r"\d").all():
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().all())


def infer_schema(frame, target: str, overrides: dict) -> list:
    """Every column but the target, inferred, then overridden by `overrides` ({column: kind})."""
    unknown = sorted(set(overrides) - set(frame.columns))
    if unknown:
        raise UserError(f"--schema names column(s) {', '.join(unknown)} that the CSV does not have; its columns: "
                        f"{', '.join(map(str, frame.columns))}.")
    columns = []
    for name in frame.columns:
        if name == target:
            continue
        if name in overrides:
            columns.append(Column(str(name), overrides[name], "set by --schema"))
        else:
            columns.append(infer_column(frame[name]))
    if not any(column.kind != "excluded" for column in columns):
        raise UserError(f"Every feature column is excluded ({describe_exclusions(columns)}); nothing is left to learn "
                        "from. Set a column's type with --schema FILE (e.g. 'Age: numeric').")
    return columns


def declared_schema(frame, target: str, kinds: dict, preset: str, source) -> list:
    """A preset's schema (churn, Iris): the columns `kinds` names with their declared kinds, in its order, then every
    other column of the table, excluded. The target and the columns it uses must be in the table."""
    required = [target] + [name for name, kind in kinds.items() if kind != "excluded"]
    missing = [name for name in required if name not in frame.columns]
    if missing:
        raise UserError(f"{source} lacks the required column(s) {', '.join(missing)}.")
    declared = [Column(name, kind, f"the {preset} schema") for name, kind in kinds.items() if name in frame.columns]
    others = [Column(str(name), "excluded", f"not in the {preset} schema") for name in frame.columns
              if name != target and name not in kinds]
    return declared + others


def describe_exclusions(columns) -> str:
    return "; ".join(f"{column.name}: {column.reason}" for column in columns) or "the table has only its target"


def read_schema_file(path) -> dict:
    """{column: kind} from a YAML mapping such as `Age: numeric` / `Surname: excluded`."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise UserError(f"Schema file not found: {path}; pass a YAML file of 'column: type' lines.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise UserError(f"{path} is not readable YAML: {' '.join(str(error).split())[:200]}")
    if not isinstance(data, dict) or not data:
        raise UserError(f"{path} must be a YAML mapping of column: type, one of {', '.join(KINDS)}.")
    for name, kind in data.items():
        if kind not in KINDS:
            raise UserError(f"{path}: column {name}: type {kind!r} is not one of {', '.join(KINDS)}.")
    return {str(name): kind for name, kind in data.items()}


def schema_table(columns) -> str:
    """The schema as printed before training: one line per column."""
    width = max(len(column.name) for column in columns)
    return "\n".join(f"  {column.name:<{width}}  {column.kind:<11}  {column.reason}" for column in columns)


def schema_record(columns) -> list:
    return [asdict(column) for column in columns]


def columns_of(columns, kind: str) -> list:
    return [column.name for column in columns if column.kind == kind]
