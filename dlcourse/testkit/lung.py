"""Public helpers for the test cells of 08_lung_cancer_project (they hold no answer).

* `resize_rgb`: resize a uint8 RGB patch with PIL's bilinear filter, the way the held-out
  set is made from `dlcourse.lung`'s patches, so that the held-out test trains on images
  like the ones it is scored on.
* `lung_patches`: patches from the public generator, resized to `size` and scaled to [0, 1].
* `small_cnn`: a small CNN with seeded weights, the models the saliency tests differentiate.
* `average_of`: one model that averages the predictions of several trained copies (an ensemble),
  what 08's bonus test scores.
"""

from __future__ import annotations

import numpy as np

__all__ = ["resize_rgb", "lung_patches", "small_cnn", "average_of"]


def resize_rgb(img: np.ndarray, size: int) -> np.ndarray:
    """uint8 RGB (H, W, 3) resized to (size, size, 3) with PIL's bilinear filter."""
    from PIL import Image

    if img.shape[:2] == (size, size):
        return img
    return np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR))


def lung_patches(n_per_class: int, seed: int, size: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """(X float32 (2 * n_per_class, size, size, 3) in [0, 1], y int64): `dlcourse.lung` patches
    drawn at their native size and resized to `size` x `size`."""
    from ..lung import make_lung_images

    images, labels = make_lung_images(n_per_class, seed=seed)
    X = np.stack([resize_rgb(img, size) for img in images]).astype(np.float32) / 255.0
    return X, labels


def small_cnn(input_shape=(12, 12, 3), classes=3, seed=0, softmax=True, functional=False, dropout=0.0):
    """A small CNN with weights drawn from numpy (same seed, same network, in any process):
    Conv2D(4, 3x3) relu, MaxPool 2x2, Flatten, Dense(8) relu, [Dropout(dropout) when dropout > 0],
    Dense(classes), with a softmax when `softmax` is true. Sequential, or functional with
    `functional=True`."""
    import keras
    from keras import layers

    stack = [
        layers.Conv2D(4, (3, 3), padding="same", activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(8, activation="relu"),
        *([layers.Dropout(dropout)] if dropout > 0 else []),
        layers.Dense(classes, activation="softmax" if softmax else None),
    ]
    if functional:
        inputs = keras.Input(input_shape)
        x = inputs
        for layer in stack:
            x = layer(x)
        model = keras.Model(inputs, x)
    else:
        model = keras.Sequential([keras.Input(input_shape), *stack])
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.0, 0.6, size=w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def average_of(models):
    """One Keras model whose output is the mean of `models`' outputs (each a softmax over the same
    classes): an ensemble of several trainings of one architecture. Each member is renamed
    `run_<i>` so that their names never clash."""
    import keras
    from keras import layers

    inputs = keras.Input(tuple(models[0].input_shape[1:]))
    outputs = []
    for i, model in enumerate(models):
        model.name = f"run_{i}"
        outputs.append(model(inputs))
    return keras.Model(inputs, layers.Average()(outputs), name="average_of_runs")
