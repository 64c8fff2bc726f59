"""Scoring of 05's tuning exercise (instructor only): the student's CNN on the hidden Fashion-MNIST set.

The images are notebook 04's hidden held-out set (`dlcourse.instructor.fashion_heldout`: 2,000 real
Fashion-MNIST test images that the bundle does not hold), given a channel axis, (N, 28, 28, 1), as
05's convolutional networks take them. The measured baseline and bar are documented at the
`cnn_tuned` entry of `dlcourse.grader.heldout.TASKS`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .fashion_heldout import HELDOUT_FILE, load


def score_model_file(model_path) -> float:
    """Accuracy of the saved model on data/hidden/fashion_heldout.npz, images (N, 28, 28, 1)."""
    import keras

    from .. import env  # noqa: F401  (quiet TensorFlow before it loads)

    if not HELDOUT_FILE.is_file():
        raise FileNotFoundError(f"{HELDOUT_FILE} is missing: run `python -m dlcourse.instructor.fashion_heldout`")
    model = keras.saving.load_model(Path(model_path), safe_mode=True, compile=False)
    X, y = load()
    probs = np.asarray(model.predict(X[..., None], batch_size=500, verbose=0))
    if probs.ndim != 2 or probs.shape[1] != 10:
        raise ValueError(f"the model's output has shape {probs.shape}; expected (N, 10)")
    return float(np.mean(probs.argmax(axis=1) == y))
