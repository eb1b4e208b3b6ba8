"""Small tabular models: bank churn (binary), XOR (binary), Iris (three classes). Keras is imported inside the
builders, so listing the registry never imports TensorFlow."""
from models.registry import register_model


@register_model(task="churn", params=121)
def churn_mlp(input_shape, num_classes):
    """The tutorial's 11 -> 6 relu -> 6 relu -> 1 sigmoid with uniform initialisation (121 params)."""
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


@register_model(task="churn", params=2_881)
def churn_wide_dropout(input_shape, num_classes):
    """11 -> 64 relu -> Dropout(0.2) -> 32 relu -> Dropout(0.2) -> 1 sigmoid: more capacity, regularised."""
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
