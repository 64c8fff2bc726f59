"""Scoring of 05's tuning exercise (instructor only): the student's CNN on the hidden Fashion-MNIST set.

The grader trains the student's architecture here, from fresh weights, in the exercise's budget
(`dlcourse.testkit.cnn.train_in_budget`). The images are notebook 04's hidden held-out set
(`dlcourse.instructor.fashion_heldout`: 2,000 real Fashion-MNIST test images that the bundle does
not hold), given a channel axis, (N, 28, 28, 1), as 05's convolutional networks take them. The
measured baseline and bar are documented at the `cnn_tuned` entry of `dlcourse.grader.heldout.TASKS`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .fashion_heldout import HELDOUT_FILE, load


def score_model_file(model_path) -> float:
    """The saved model's architecture, trained here from fresh weights (seed 0) by
    `train_in_budget` on the first 4,000 bundled fitting images, then its accuracy on
    data/hidden/fashion_heldout.npz, images (N, 28, 28, 1). The saved weights never count: a
    builder that trained on anything, or a patched `train_in_budget` in the student's kernel, gains
    nothing."""
    import keras

    from .. import env  # noqa: F401  (quiet TensorFlow before it loads)
    from ..testkit.cnn import fashion_tuning_split, train_in_budget
    from ..testkit.keras import fresh_weights

    if not HELDOUT_FILE.is_file():
        raise FileNotFoundError(f"{HELDOUT_FILE} is missing: run `python -m dlcourse.instructor.fashion_heldout`")
    model = fresh_weights(keras.saving.load_model(Path(model_path), safe_mode=True, compile=False), seed=0)
    (X_fit, y_fit), _ = fashion_tuning_split()
    train_in_budget(model, X_fit, y_fit, seed=0)
    X, y = load()
    probs = np.asarray(model.predict(X[..., None], batch_size=500, verbose=0))
    if probs.ndim != 2 or probs.shape[1] != 10:
        raise ValueError(f"the model's output has shape {probs.shape}; expected (N, 10)")
    return float(np.mean(probs.argmax(axis=1) == y))
