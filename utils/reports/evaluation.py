"""The test-set report of a model: metrics, classification report, confusion matrix, the threshold curves of a
binary task, every row of a tiny test set, and history reading."""

import numpy as np
import pandas as pd
from sklearn import metrics as sk_metrics

from utils.core import atomic

# A binary model's output is P(class 1); this is where it turns into a predicted class (precision, recall, F1 and
# the confusion matrix depend on it; ROC AUC and average precision do not).
DECISION_THRESHOLD = 0.5
# Test sets this small (XOR's truth table) are reported row by row with their predicted probabilities.
SMALL_TEST_SET = 16


def predicted_classes(task, probabilities: np.ndarray) -> np.ndarray:
    if task.binary:
        return (probabilities.reshape(-1) >= DECISION_THRESHOLD).astype(np.int64)
    return probabilities.argmax(axis=1)


def evaluating_line(dataset) -> str:
    """The status line while the test set is evaluated: 'evaluating on 10,000 test images ...'."""
    kind = "images" if dataset.x_test.ndim > 2 else "rows"
    return f"evaluating on {len(dataset.x_test):,} test {kind} ..."


def draw_here(what: str, function, *args, **kwargs) -> None:
    function(*args, **kwargs)


def report_test_set(task, dataset, keras_metrics: dict, outputs, destination, draw=draw_here) -> dict:
    """Write the classification report and the figures (confusion matrix; ROC and precision-recall curves for a
    binary task) of the test split into `destination` (a RunFolder or an EvaluationFolder); return the test_*
    metrics: `keras_metrics` (Keras' evaluate) and scikit-learn's from `outputs` (the model's outputs for every test
    sample; utils.training.test_pass). `draw(what, function, *args)` draws a figure
    (utils.reports.drawing.FigureJobs.draw: in the drawing process)."""
    from utils.reports.plots import plot_confusion_matrix, plot_threshold_curves  # matplotlib: not for predict

    test_metrics = dict(keras_metrics)
    if task.regression:
        return regression_report(dataset, outputs, test_metrics, destination)
    test_metrics.update(classification_metrics(task, dataset, outputs))
    predictions = predicted_classes(task, outputs)
    labels = list(range(task.num_classes))
    matrix = sk_metrics.confusion_matrix(dataset.y_test, predictions, labels=labels)
    names = [str(name) for name in dataset.class_names]
    atomic.write_text(destination.classification_report,
                      classification_text(task, dataset, outputs, matrix, test_metrics))
    draw("the confusion matrix", plot_confusion_matrix, matrix, names, destination.figures.confusion_matrix)
    if task.binary and len(set(dataset.y_test)) == 2:
        draw("the ROC and precision-recall curves", plot_threshold_curves, dataset.y_test, outputs.reshape(-1),
             names[1], DECISION_THRESHOLD, destination.figures)
    return test_metrics


def classification_text(task, dataset, probabilities, matrix, test_metrics) -> str:
    """classification_report.txt: scikit-learn's report, the confusion matrix, the decision threshold of a binary
    task, every row of a tiny test set, and the test metrics beside the majority-class baseline."""
    names = [str(name) for name in dataset.class_names]
    report = sk_metrics.classification_report(
        dataset.y_test, predicted_classes(task, probabilities), labels=list(range(task.num_classes)),
        target_names=names, digits=4, zero_division=0,
    )
    matrix_text = pd.DataFrame(matrix, index=[f"true {n}" for n in names], columns=[f"pred {n}" for n in names])
    sections = [report, "Confusion matrix (rows: true class, columns: predicted class)\n" + matrix_text.to_string()]
    if task.binary:
        sections.append(threshold_sentence(names[1]))
    if len(dataset.x_test) <= SMALL_TEST_SET:
        sections.append("Every test row with its predicted probability:\n" + prediction_table(task, dataset, probabilities))
    return "\n\n".join(sections + [format_test_metrics(test_metrics)]) + "\n"


def threshold_sentence(positive_name: str) -> str:
    return (f"Decision threshold {DECISION_THRESHOLD:g}: a row is predicted {positive_name} when P({positive_name}) >= "
            f"{DECISION_THRESHOLD:g}; precision, recall, F1 and the confusion matrix use it, ROC AUC and average "
            "precision do not.")


def accuracy_baseline(task, dataset):
    """The validation accuracy of predicting the training split's commonest class for everyone, drawn on a binary
    task's accuracy plot (churn's first epochs sit on it); None for other tasks, whose chance level lies far
    below their curves and would squash them, and without validation rows."""
    if not task.binary or len(dataset.y_val) == 0:
        return None
    majority_class = np.bincount(dataset.y_train, minlength=task.num_classes).argmax()
    return float(np.mean(dataset.y_val == majority_class))


def regression_metrics(truth, predicted, prefix: str = "test_") -> dict:
    return {f"{prefix}mae": float(sk_metrics.mean_absolute_error(truth, predicted)),
            f"{prefix}rmse": float(np.sqrt(sk_metrics.mean_squared_error(truth, predicted))),
            f"{prefix}r2": float(sk_metrics.r2_score(truth, predicted))}


def regression_report(dataset, outputs, keras_metrics: dict, destination) -> dict:
    """MAE, RMSE and R² in the target's own units, beside the mean predictor's (the training rows' mean); the
    Keras loss is on the standardised target, as the model trained."""
    restore = dataset.preprocessing.restore_target
    truth, predicted = restore(dataset.y_test), restore(outputs)
    mean_of_training = float(restore(dataset.y_train).mean())
    test_metrics = {"test_loss": keras_metrics["test_loss"], **regression_metrics(truth, predicted),
                    **regression_metrics(truth, np.full_like(truth, mean_of_training), "test_mean_baseline_")}
    atomic.write_text(destination.regression_report,
                      f"Regression on {len(truth)} test rows (target mean of the training rows: {mean_of_training:.6g})\n\n"
                      + format_test_metrics(test_metrics) + "\n")
    return test_metrics


def classification_metrics(task, dataset, probabilities) -> dict:
    predictions = predicted_classes(task, probabilities)
    majority_class = np.bincount(dataset.y_train, minlength=task.num_classes).argmax()
    extra = {"test_majority_baseline_accuracy": float(np.mean(dataset.y_test == majority_class))}
    if task.binary:
        scores = probabilities.reshape(-1)
        both = len(set(dataset.y_test)) == 2
        extra.update(
            test_roc_auc=float(sk_metrics.roc_auc_score(dataset.y_test, scores)) if both else None,
            test_average_precision=float(sk_metrics.average_precision_score(dataset.y_test, scores)) if both else None,
            test_precision=float(sk_metrics.precision_score(dataset.y_test, predictions, zero_division=0)),
            test_recall=float(sk_metrics.recall_score(dataset.y_test, predictions, zero_division=0)),
            test_f1=float(sk_metrics.f1_score(dataset.y_test, predictions, zero_division=0)),
        )
    return extra


def prediction_table(task, dataset, probabilities) -> str:
    """Each test row with its true label and predicted probabilities, for tiny test sets such as XOR's."""
    table = pd.DataFrame(dataset.x_test.reshape(len(dataset.x_test), -1), columns=None)
    table.columns = [f"x{index}" for index in range(table.shape[1])]
    table["label"] = dataset.y_test
    if task.binary:
        table["P(1)"] = probabilities.reshape(-1).round(4)
    else:
        for index, name in enumerate(dataset.class_names):
            table[f"P({name})"] = probabilities[:, index].round(4)
    table["predicted"] = predicted_classes(task, probabilities)
    return table.to_string(index=False)


def format_test_metrics(test_metrics: dict) -> str:
    """One readable line; accuracy stands beside the majority-class baseline so nobody mistakes it for skill."""
    parts = []
    accuracy = test_metrics.get("test_accuracy")
    baseline = test_metrics.get("test_majority_baseline_accuracy")
    if accuracy is not None:
        parts.append(f"test accuracy {accuracy:.2%}" + (f" (majority-class baseline {baseline:.2%})" if baseline is not None else ""))
    for name, label in (("test_loss", "loss"), ("test_roc_auc", "ROC AUC"),
                        ("test_average_precision", "average precision"), ("test_precision", "precision"),
                        ("test_recall", "recall"), ("test_f1", "F1")):
        if test_metrics.get(name) is not None:
            parts.append(f"{label} {test_metrics[name]:.4f}" + (" (constant-score baseline 0.5)" if name == "test_roc_auc" else ""))
    for name, label in (("mae", "MAE"), ("rmse", "RMSE"), ("r2", "R²")):
        if test_metrics.get(f"test_{name}") is not None:
            parts.append(f"{label} {test_metrics[f'test_{name}']:.4g} (mean-predictor baseline "
                         f"{test_metrics[f'test_mean_baseline_{name}']:.4g})")
    return "Test set: " + ", ".join(parts)
