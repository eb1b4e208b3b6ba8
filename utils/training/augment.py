"""Image augmentation of training batches with Keras 3 preprocessing layers (the tutorial's ImageDataGenerator
settings: rotation up to 8 degrees, shifts up to 8 %, shear up to 0.3, zoom up to 8 %)."""
import keras
from keras import layers


def image_augmenter(model, config):
    """A function batch -> augmented batch in the model's own input shape; refuses non-image data."""
    sample_shape = tuple(model.input_shape[1:])
    pipeline = keras.Sequential(
        [
            layers.RandomRotation(8 / 360, fill_mode="constant", seed=config.seed),
            layers.RandomTranslation(0.08, 0.08, fill_mode="constant", seed=config.seed + 1),
            layers.RandomShear(x_factor=0.3, y_factor=0.3, fill_mode="constant", seed=config.seed + 2),
            layers.RandomZoom(0.08, 0.08, fill_mode="constant", seed=config.seed + 3),
        ],
        name="augmentation",
    )

    def augment(batch):
        # keras.ops follow the backend: graph tensors inside a tf.data map, arrays under JAX or torch.
        images = keras.ops.reshape(batch, (-1, 28, 28, 1))
        return keras.ops.reshape(pipeline(images, training=True), (-1, *sample_shape))

    return augment
