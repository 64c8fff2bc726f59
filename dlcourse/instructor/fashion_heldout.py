"""The hidden held-out set of notebook 04's tuning exercise (instructor only; never in the bundle).

Real Fashion-MNIST test images that the students' bundle does not hold: the original test split
(10,000 images, Debian's `dataset-fashion-mnist` files, sha256-checked by `dlcourse.data`) minus
the 2,000 bundled test images (`test_index` of `data/fashion_mnist.npz`), then 200 per class drawn
with a seed that no student-visible file holds (`data/hidden/SEED`, mixed with the task name).
Stored in `data/hidden/fashion_heldout.npz`:

    X      uint8 (2000, 28, 28)  grey levels 0..255, as in the original files
    y      int64 (2000,)         class ids 0..9 (dlcourse.data.FASHION_CLASSES)
    index  int32 (2000,)         positions in the original t10k files (provenance)

Rebuild (same SEED and the same original files give the same file):
    python -m dlcourse.instructor.fashion_heldout
(set DLCOURSE_FASHION_MNIST_DIR to the folder of the four .gz files if they are not installed.)
"""

from __future__ import annotations

import sys

import numpy as np

from .lung_heldout import HIDDEN_DIR, hidden_seed

HELDOUT_FILE = HIDDEN_DIR / "fashion_heldout.npz"
PER_CLASS = 200


def build(path=HELDOUT_FILE, per_class: int = PER_CLASS) -> dict:
    from .. import data as D

    (_, _), (x_test, y_test) = D.load_raw("fashion_mnist")
    with np.load(D.bundled_path("fashion_mnist.npz", download=False)) as bundled:
        shipped = set(np.asarray(bundled["test_index"]).tolist())
    rs = np.random.RandomState(hidden_seed("fashion_mnist_heldout") % (2**32))
    chosen = []
    for c in range(10):
        pool = np.array([i for i in np.flatnonzero(y_test == c) if i not in shipped])
        chosen.append(rs.choice(pool, size=per_class, replace=False))
    index = np.sort(np.concatenate(chosen)).astype(np.int32)
    assert not shipped & set(index.tolist())
    np.savez_compressed(path, X=x_test[index].astype(np.uint8), y=y_test[index].astype(np.int64), index=index)
    return {"path": str(path), "n": int(len(index))}


def load(path=HELDOUT_FILE) -> tuple[np.ndarray, np.ndarray]:
    """(X float32 (N, 28, 28) in [0, 1], y int64) of the held-out set, scaled as notebook 04 scales."""
    with np.load(path) as data:
        X, y = data["X"], data["y"]
    return X.astype(np.float32) / 255.0, y.astype(np.int64)


def score_model_file(model_path) -> float:
    """Accuracy of the saved model on data/hidden/fashion_heldout.npz (Keras's safe mode)."""
    from pathlib import Path

    import keras

    from .. import env  # noqa: F401  (quiet TensorFlow before it loads)

    if not HELDOUT_FILE.is_file():
        raise FileNotFoundError(f"{HELDOUT_FILE} is missing: run `python -m dlcourse.instructor.fashion_heldout`")
    model = keras.saving.load_model(Path(model_path), safe_mode=True, compile=False)
    X, y = load()
    probs = np.asarray(model.predict(X, batch_size=500, verbose=0))
    if probs.ndim != 2 or probs.shape[1] != 10:
        raise ValueError(f"the model's output has shape {probs.shape}; expected (N, 10)")
    return float(np.mean(probs.argmax(axis=1) == y))


if __name__ == "__main__":
    info = build()
    print(f"wrote {info['path']}: {info['n']} images", file=sys.stdout)
