"""Small tabular models: bank churn (binary), XOR (binary), Iris (three classes)."""
import keras
from keras import layers

from models.registry import register_model


@register_model(task="churn")
def churn_mlp(input_shape, num_classes):
    """The tutorial's 11 -> 6 relu -> 6 relu -> 1 sigmoid with uniform initialisation (121 params)."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Dense(6, activation="relu", kernel_initializer="uniform"),
            layers.Dense(6, activation="relu", kernel_initializer="uniform"),
            layers.Dense(1, activation="sigmoid", kernel_initializer="uniform"),
        ],
        name="churn_mlp",
    )


@register_model(task="churn")
def churn_wide_dropout(input_shape, num_classes):
    """11 -> 64 relu -> Dropout(0.2) -> 32 relu -> Dropout(0.2) -> 1 sigmoid: more capacity, regularised."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Dense(64, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(32, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(1, activation="sigmoid"),
        ],
        name="churn_wide_dropout",
    )


@register_model(task="xor")
def xor_mlp(input_shape, num_classes):
    """2 -> 8 relu -> 4 relu -> 1 sigmoid."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Dense(8, activation="relu"),
            layers.Dense(4, activation="relu"),
            layers.Dense(1, activation="sigmoid"),
        ],
        name="xor_mlp",
    )


@register_model(task="iris")
def iris_mlp(input_shape, num_classes):
    """4 -> 4 relu -> 128 relu -> 3 softmax."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Dense(4, activation="relu"),
            layers.Dense(128, activation="relu"),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="iris_mlp",
    )
