"""Bank churn (binary): customers who leave or stay, from Churn_Modelling.csv, a preset of the CSV path with its
column list as the schema."""
from functools import partial
from pathlib import Path

from utils.core.options import Option
from utils.tasks.csv_table import read_table, read_table_inputs
from utils.tasks.datasets import sha256_of_file
from utils.tasks.registry import Task, register_task
from utils.tasks.table_preset import TablePreset

CHURN_DEFAULT_PATH = Path("data") / "Churn_Modelling.csv"
CHURN_NUMERIC = ["CreditScore", "Age", "Tenure", "Balance", "NumOfProducts", "HasCrCard", "IsActiveMember", "EstimatedSalary"]
CHURN_SCHEMA = {
    **{name: "excluded" for name in ("RowNumber", "CustomerId", "Surname")},  # identifiers, not customer traits
    **{name: "numeric" for name in CHURN_NUMERIC},  # HasCrCard and IsActiveMember too: scaled as the tutorial did
    "Geography": "categorical",
    "Gender": "categorical",
}


def read_churn(data_options: dict) -> tuple:
    path = Path(data_options.get("data") or CHURN_DEFAULT_PATH)
    frame = read_table(path, hint="Pass --data PATH or put Churn_Modelling.csv in data/.")
    return frame, path, sha256_of_file(path)


CHURN = TablePreset(
    name="churn", target="Exited", schema=CHURN_SCHEMA, task_type="binary", classes=("0", "1"), read=read_churn,
    class_names=("stayed", "exited"),
)

CHURN_DATA_OPTIONS = (
    Option("data", ("--data",), str, metavar="PATH", group="data", help=f"the churn CSV (default: {CHURN_DEFAULT_PATH})"),
)


register_task(
    Task(
        name="churn",
        description="bank customers who leave (1) or stay (0), from Churn_Modelling.csv",
        num_classes=2,
        sample_shape=(13,),  # until bound to the CSV: 8 numeric columns and one-hot Geography (3) and Gender (2)
        load=CHURN.load,
        default_model="churn_mlp",
        defaults={"epochs": 100, "batch_size": 10, "optimizer": "adam", "loss": "binary_crossentropy"},
        data_options=CHURN_DATA_OPTIONS,
        read_predict_inputs=partial(read_table_inputs, id_column="CustomerId"),
        predict_help="CSV files of customers (Exited may be absent)",
        bind=CHURN.bind,
        data_title=lambda options: f"the churn CSV {options.get('data') or CHURN_DEFAULT_PATH}",
    )
)
