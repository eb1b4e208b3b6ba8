"""XOR: the four-row truth table (binary); validation and test are the same four rows."""
from utils.tasks.datasets import Dataset, sha256_of_arrays
from utils.tasks.registry import Task, register_task
from utils.tasks.number_rows import parse_number_rows

XOR_TABLE = ([[0, 0], [0, 1], [1, 0], [1, 1]], [0, 1, 1, 0])  # the inputs and their labels


def load_xor(data_options: dict, seed: int, validation_split: float, limit, preprocessing=None) -> Dataset:
    import numpy as np  # here, so --help and the run store never import numpy

    features, labels = np.array(XOR_TABLE[0], dtype=np.float32), np.array(XOR_TABLE[1], dtype=np.int64)
    return Dataset(
        name="xor",
        x_train=features, y_train=labels,
        x_val=features, y_val=labels,
        x_test=features, y_test=labels,
        class_names=["0", "1"],
        sha256=sha256_of_arrays(features, labels),
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
