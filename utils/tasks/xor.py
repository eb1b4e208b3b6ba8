"""XOR: the four-row truth table (binary); validation and test are the same four rows."""
import numpy as np

from utils.tasks.datasets import Dataset, sha256_of_arrays
from utils.tasks.registry import Task, register_task
from utils.tasks.number_rows import parse_number_rows

XOR_FEATURES = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_LABELS = np.array([0, 1, 1, 0], dtype=np.int64)


def load_xor(data_options: dict, seed: int, validation_split: float, limit, preprocessing=None) -> Dataset:
    return Dataset(
        name="xor",
        x_train=XOR_FEATURES, y_train=XOR_LABELS,
        x_val=XOR_FEATURES, y_val=XOR_LABELS,
        x_test=XOR_FEATURES, y_test=XOR_LABELS,
        class_names=["0", "1"],
        sha256=sha256_of_arrays(XOR_FEATURES, XOR_LABELS),
        source="the four rows of the XOR truth table",
        notes=["validation and test are the same four rows as training: XOR has no held-out data "
               "(--validation-split and --limit do not apply)"],
    )


def read_xor_inputs(inputs, preprocessing):
    return parse_number_rows(inputs, 2, "XOR"), list(inputs)


register_task(
    Task(
        name="xor",
        description="the four-row XOR truth table",
        num_classes=2,
        sample_shape=(2,),
        load=load_xor,
        default_model="xor_mlp",
        defaults={"epochs": 500, "batch_size": 1, "optimizer": "adam", "loss": "binary_crossentropy"},
        read_predict_inputs=read_xor_inputs,
        predict_help="rows such as 0,1 1,1",
    )
)
