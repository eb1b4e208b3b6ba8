"""Iris (three classes) from scikit-learn's copy: four measurements in centimetres, a preset of the CSV path with
its column list as the schema."""
from utils.core.errors import UserError
from utils.tasks.datasets import sha256_of_arrays
from utils.tasks.registry import Task, register_task
from utils.tasks.table_preset import TablePreset
from utils.tasks.number_rows import parse_number_rows

IRIS_FEATURES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
IRIS_CLASSES = ("setosa", "versicolor", "virginica")


def read_iris(data_options: dict) -> tuple:
    import numpy as np
    from sklearn.datasets import load_iris

    bunch = load_iris(as_frame=True)
    labels = bunch.target.to_numpy(np.int64)
    # The hash of the arrays as before the preset, so a run's data hash still names the same data.
    return (bunch.data.assign(species=bunch.target_names[labels]), "sklearn.datasets.load_iris()",
            sha256_of_arrays(bunch.data.to_numpy(), labels))


IRIS = TablePreset(
    name="iris", target="species", schema={name: "numeric" for name in IRIS_FEATURES}, task_type="multiclass",
    classes=IRIS_CLASSES, read=read_iris,
)


def read_iris_inputs(inputs, preprocessing):
    """Rows of the four measurements in centimetres, through the run's fitted pipeline."""
    import pandas as pd  # here, so --help and the run store never import pandas

    if preprocessing is None:
        raise UserError("This run saved no preprocessing.joblib; it cannot score new rows.")
    rows = parse_number_rows(inputs, 4, "Iris (sepal length, sepal width, petal length, petal width)")
    features, _ = preprocessing.transform(pd.DataFrame(rows, columns=IRIS_FEATURES))
    return features, list(inputs)


register_task(
    Task(
        name="iris",
        description="three species of iris flowers from four measurements",
        num_classes=len(IRIS_CLASSES),
        sample_shape=(len(IRIS_FEATURES),),
        load=IRIS.load,
        default_model="iris_mlp",
        defaults={"epochs": 100, "batch_size": 8, "optimizer": "adam", "loss": "categorical_crossentropy"},
        read_predict_inputs=read_iris_inputs,
        predict_help="rows of four measurements in cm such as 5.1,3.5,1.4,0.2",
        bind=IRIS.bind,
    )
)
