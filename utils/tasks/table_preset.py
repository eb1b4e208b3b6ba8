"""A table whose schema and target are declared rather than inferred. churn.py and iris.py are presets of the CSV
path (csv_table.py): their column lists are their schemas, and they split, preprocess, record and predict through
the same functions as tabular.py."""
import dataclasses
from dataclasses import dataclass
from typing import Callable

from utils.core.errors import UserError
from utils.tasks.csv_table import Table, bind_table, load_table, rows_with_target
from utils.tasks.schema import declared_schema
from utils.tasks.target import class_name, detect_target


@dataclass(frozen=True)
class TablePreset:
    name: str
    target: str
    schema: dict  # column -> kind (utils.tasks.schema.KINDS); a column it does not name is excluded
    task_type: str  # binary or multiclass
    classes: tuple  # the target's values as text, in label order; any other value is refused
    read: Callable  # read(data_options) -> (pandas DataFrame, source, sha256)
    class_names: tuple = ()  # what reports call the classes (churn's 0 and 1: stayed, exited); default: `classes`

    def table(self, data_options: dict) -> Table:
        from utils.tasks.table_pipeline import refuse_non_finite  # here, so the run store never imports numpy

        frame, source, sha256 = self.read(data_options)
        columns = declared_schema(frame, self.target, self.schema, self.name, source)
        rows, dropped = rows_with_target(frame, self.target, source)
        unexpected = sorted({class_name(value) for value in rows[self.target].unique()} - set(self.classes))
        if unexpected:
            raise UserError(f"{source}: the target column {self.target} must hold only {' and '.join(self.classes)}; "
                            f"found {', '.join(unexpected[:5])}.")
        target = dataclasses.replace(detect_target(rows[self.target], self.task_type), reason=f"the {self.name} schema")
        refuse_non_finite(frame, columns, source)
        return Table(rows, columns, target, dropped, self.name, str(source), sha256, list(self.class_names or self.classes))

    def load(self, data_options: dict, seed: int, validation_split: float, limit, preprocessing=None):
        return load_table(data_options, seed, validation_split, limit, preprocessing, read=self.table)

    def bind(self, task, data_options: dict, recorded=None, announce: bool = True):
        if recorded is not None and "schema" not in recorded:
            # Runs from before the presets saved a drop-first one-hot encoding as preprocessing.json, which the
            # CSV path does not read (keeping that reader would keep the old preprocessing alive beside the new).
            raise UserError(f"This {self.name} run was trained before {self.name}.py became a preset of the CSV path "
                            f"(its run.json records no schema); this version cannot evaluate, predict, resume or rerun "
                            f"it: train it again with {self.name}.py.")
        return bind_table(task, data_options, recorded, announce, read=self.table)
