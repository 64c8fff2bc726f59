"""Score a saved lung-CNN model on the hidden held-out set (instructor only).

`score_model_file(path)` is what the grader calls, in a separate process (a child of its judge
server), on the `.keras` file a hidden test saved: the file is loaded with Keras's safe mode
(no arbitrary code from the student's kernel runs) and only the accuracy comes back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def score_model_file(model_path) -> float:
    """Accuracy of the saved model on data/hidden/lung_heldout.npz."""
    import keras

    from .. import env  # noqa: F401  (quiet TensorFlow before it loads)
    from .lung_heldout import HELDOUT_FILE, load

    if not HELDOUT_FILE.is_file():
        raise FileNotFoundError(
            f"{HELDOUT_FILE} is missing: run `python -m dlcourse.instructor.lung_heldout`"
        )
    model = keras.saving.load_model(Path(model_path), safe_mode=True, compile=False)
    X, y = load()
    probs = np.asarray(model.predict(X, batch_size=256, verbose=0))
    if probs.ndim != 2:
        raise ValueError(f"the model's output has shape {probs.shape}; expected (N, classes)")
    y_pred = (probs[:, 0] > 0.5).astype(int) if probs.shape[1] == 1 else probs.argmax(axis=1)
    return float(np.mean(y_pred == y))
