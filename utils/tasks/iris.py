"""Iris (three classes) from scikit-learn's copy: four measurements in centimetres."""
import numpy as np

from utils.tasks.datasets import Dataset, sha256_of_arrays
from utils.tasks.preprocessing import TabularPreprocessor
from utils.tasks.registry import Task, register_task
from utils.tasks.tabular import parse_number_rows, require_preprocessing, split_and_preprocess

IRIS_FEATURES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


def load_iris(data_options: dict, seed: int, validation_split: float, limit, preprocessing=None) -> Dataset:
    from sklearn.datasets import load_iris as sklearn_iris

    bunch = sklearn_iris(as_frame=True)
    frame, labels = bunch.data, bunch.target.to_numpy(np.int64)
    return Dataset(
        name="iris",
        **split_and_preprocess(
            frame, labels, seed, validation_split, limit, preprocessing or TabularPreprocessor(IRIS_FEATURES)
        ),
        class_names=list(bunch.target_names),
        sha256=sha256_of_arrays(frame.to_numpy(), labels),
        source="sklearn.datasets.load_iris()",
        notes=["stratified 80/20 train/test split (fixed seed); features standard-scaled on the training split"],
    )


def read_iris_inputs(inputs, preprocessing):
    """Rows of the four measurements in centimetres, scaled with the run's saved preprocessing."""
    import pandas as pd  # here, so --help and the run store never import pandas

    rows = parse_number_rows(inputs, 4, "Iris (sepal length, sepal width, petal length, petal width)")
    return require_preprocessing(preprocessing).transform(pd.DataFrame(rows, columns=IRIS_FEATURES)), list(inputs)


register_task(
    Task(
        name="iris",
        description="three species of iris flowers from four measurements",
        num_classes=3,
        sample_shape=(4,),
        load=load_iris,
        default_model="iris_mlp",
        defaults={"epochs": 100, "batch_size": 8, "optimizer": "adam", "loss": "categorical_crossentropy"},
        read_predict_inputs=read_iris_inputs,
        predict_help="rows of four measurements in cm such as 5.1,3.5,1.4,0.2",
    )
)
