"""Small tabular models: bank churn (binary), XOR (binary), Iris (three classes), and any CSV (tabular: they adapt
to its width and task). Keras is imported inside the builders, so listing the registry never imports TensorFlow."""
from models.registry import register_model


@register_model(task="churn", params=133)
def churn_mlp(input_shape, num_classes):
    """The tutorial's 6 relu -> 6 relu -> 1 sigmoid with uniform initialisation (133 params on churn's 13 inputs)."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Dense(6, activation="relu", kernel_initializer="uniform"),
            layers.Dense(6, activation="relu", kernel_initializer="uniform"),
            layers.Dense(1, activation="sigmoid", kernel_initializer="uniform"),
        ],
        name="churn_mlp",
    )


@register_model(task="churn", params=3_009)
def churn_wide_dropout(input_shape, num_classes):
    """13 -> 64 relu -> Dropout(0.2) -> 32 relu -> Dropout(0.2) -> 1 sigmoid: more capacity, regularised."""
    import keras
    from keras import layers

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


@register_model(task="xor", params=65)
def xor_mlp(input_shape, num_classes):
    """2 -> 8 relu -> 4 relu -> 1 sigmoid."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Dense(8, activation="relu"),
            layers.Dense(4, activation="relu"),
            layers.Dense(1, activation="sigmoid"),
        ],
        name="xor_mlp",
    )


@register_model(task="iris", params=1_047)
def iris_mlp(input_shape, num_classes):
    """4 -> 4 relu -> 128 relu -> 3 softmax."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Dense(4, activation="relu"),
            layers.Dense(128, activation="relu"),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="iris_mlp",
    )


def table_output(num_classes):
    """The output layer a CSV task asks for: one linear unit (regression, num_classes 1), one sigmoid (binary) or
    a softmax over the classes."""
    from keras import layers

    if num_classes == 1:
        return layers.Dense(1, name="value")
    if num_classes == 2:
        return layers.Dense(1, activation="sigmoid", name="probability")
    return layers.Dense(num_classes, activation="softmax", name="probabilities")


@register_model(task="tabular", params=9, learning_rate=0.01)
def tabular_linear(input_shape, num_classes):
    """One dense layer on the features: logistic, softmax or linear regression, as the target asks."""
    import keras

    return keras.Sequential([keras.Input(shape=input_shape), table_output(num_classes)], name="tabular_linear")


@register_model(task="tabular", params=2_689)
def tabular_mlp(input_shape, num_classes):
    """features -> 64 relu -> Dropout(0.1) -> 32 relu -> the target's output (2,689 params at 8 inputs, binary)."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Dense(64, activation="relu"),
            layers.Dropout(0.1),
            layers.Dense(32, activation="relu"),
            table_output(num_classes),
        ],
        name="tabular_mlp",
    )
