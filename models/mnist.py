"""MNIST-shaped models (28x28 grayscale, 10 classes): the tutorial's table.

Conv nets declare a 28x28x1 input and MLPs a flat 784 input; the engine shapes the data from that declaration.
Keras is imported inside the builders, so listing the registry never imports TensorFlow.
"""
from models.registry import register_model


def _mlp(name, input_shape, num_classes, hidden_units, dropout_rate=0.0):
    import keras
    from keras import layers

    flat_size = 1
    for dimension in input_shape:
        flat_size *= dimension
    stack = [keras.Input(shape=(flat_size,))]
    for units in hidden_units:
        stack.append(layers.Dense(units, activation="relu"))
        if dropout_rate:
            stack.append(layers.Dropout(dropout_rate))
    stack.append(layers.Dense(num_classes, activation="softmax"))
    return keras.Sequential(stack, name=name)


def _conv_net(name, input_shape, num_classes, dropout=False, batch_norm=False, regularizer=None):
    """`regularizer`: a Keras regularizer name with its factor, e.g. ("l1", 1e-4), or None."""
    import keras
    from keras import layers, regularizers

    if regularizer is not None:
        regularizer = getattr(regularizers, regularizer[0])(regularizer[1])
    stack = [
        keras.Input(shape=(*input_shape[:2], 1)),
        layers.Conv2D(32, (3, 3), activation="relu", kernel_regularizer=regularizer),
        layers.MaxPooling2D((2, 2)),
    ]
    if dropout:
        stack.append(layers.Dropout(0.25))
    if batch_norm:
        stack.append(layers.BatchNormalization())
    stack += [
        layers.Conv2D(64, (3, 3), activation="relu", kernel_regularizer=regularizer),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu", kernel_regularizer=regularizer),
        layers.Flatten(),
        layers.Dense(64, activation="relu", kernel_regularizer=regularizer),
    ]
    if batch_norm:
        stack.append(layers.BatchNormalization())
    if dropout:
        stack.append(layers.Dropout(0.5))
    stack.append(layers.Dense(num_classes, activation="softmax"))
    return keras.Sequential(stack, name=name)


@register_model(task="mnist", params=407_050)
def mlp_one_layer(input_shape, num_classes):
    """784 -> 512 relu -> 10 softmax (407,050 params)."""
    return _mlp("mlp_one_layer", input_shape, num_classes, [512])


@register_model(task="mnist", params=669_706)
def mlp_two_layers(input_shape, num_classes):
    """784 -> 512 -> 512 -> 10 (669,706 params)."""
    return _mlp("mlp_two_layers", input_shape, num_classes, [512, 512])


@register_model(task="mnist", params=669_706)
def mlp_two_layers_dropout(input_shape, num_classes):
    """784 -> 512 -> 512 -> 10 with Dropout(0.5) after each hidden layer (669,706 params)."""
    return _mlp("mlp_two_layers_dropout", input_shape, num_classes, [512, 512], dropout_rate=0.5)


@register_model(task="mnist", params=567_434)
def mlp_three_layers(input_shape, num_classes):
    """784 -> 512 -> 256 -> 128 -> 10, relu / softmax."""
    return _mlp("mlp_three_layers", input_shape, num_classes, [512, 256, 128])


@register_model(task="mnist", params=25_450, optimizer="rmsprop", learning_rate=0.001, loss="mse")
def mlp_small(input_shape, num_classes):
    """784 -> 32 relu -> 10 softmax, trained with RMSprop and mean squared error by default."""
    return _mlp("mlp_small", input_shape, num_classes, [32])


@register_model(task="mnist", params=93_322)
def conv_net(input_shape, num_classes):
    """Three 3x3 conv layers with max pooling, then a 64-unit dense head (93,322 params)."""
    return _conv_net("conv_net", input_shape, num_classes)


@register_model(task="mnist", params=93_322)
def conv_net_dropout(input_shape, num_classes):
    """conv_net with Dropout(0.25) after the first pool and Dropout(0.5) before the output."""
    return _conv_net("conv_net_dropout", input_shape, num_classes, dropout=True)


@register_model(task="mnist", params=93_706)
def conv_net_batch_norm(input_shape, num_classes):
    """conv_net with BatchNormalization after the first pool and after the 64-unit dense layer."""
    return _conv_net("conv_net_batch_norm", input_shape, num_classes, batch_norm=True)


@register_model(task="mnist", params=93_322)
def conv_net_l1(input_shape, num_classes):
    """conv_net with an l1(1e-4) kernel regularizer on every conv layer and the 64-unit dense layer."""
    return _conv_net("conv_net_l1", input_shape, num_classes, regularizer=("l1", 1e-4))


@register_model(task="mnist", params=93_322)
def conv_net_l2(input_shape, num_classes):
    """conv_net with an l2(1e-4) kernel regularizer on every conv layer and the 64-unit dense layer."""
    return _conv_net("conv_net_l2", input_shape, num_classes, regularizer=("l2", 1e-4))


@register_model(task="mnist", params=1_256_080)
def le_net(input_shape, num_classes):
    """LeNet: 20 and 50 5x5 'same' conv layers with 2x2 max pooling, a 500-unit dense layer, softmax."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=(*input_shape[:2], 1)),
            layers.Conv2D(20, (5, 5), padding="same", activation="relu"),
            layers.MaxPooling2D((2, 2), strides=(2, 2)),
            layers.Conv2D(50, (5, 5), padding="same", activation="relu"),
            layers.MaxPooling2D((2, 2), strides=(2, 2)),
            layers.Flatten(),
            layers.Dense(500, activation="relu"),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="le_net",
    )
