"""The hidden held-out set of notebook 08 (instructor only; never in the student bundle).

The images come from the student-visible generator `dlcourse.lung`, drawn with a seed
that no student-visible file holds: `data/hidden/SEED` (a secret made once with
`secrets`), mixed with the task name. They are stored, already resized to 40 x 40 the
way the reference loader does it, in `data/hidden/lung_heldout.npz`:

    X  uint8 (N, 40, 40)  grey levels (the patches are grey; RGB = three equal channels)
    y  int64 (N,)         1 = nodule ("pos"), 0 = no nodule ("neg")

Rebuild (same SEED gives the same file):  python -m dlcourse.instructor.lung_heldout
"""

from __future__ import annotations

import hashlib
import secrets
import sys
from pathlib import Path

import numpy as np

from ..config import REPO_ROOT

HIDDEN_DIR = REPO_ROOT / "data" / "hidden"
SEED_FILE = HIDDEN_DIR / "SEED"
HELDOUT_FILE = HIDDEN_DIR / "lung_heldout.npz"
N_PER_CLASS = 500
SIZE = 40
NATIVE_SIZE = 64


def hidden_seed(task: str = "lung") -> int:
    """The secret seed of `task`, from data/hidden/SEED (created with `secrets` if missing)."""
    HIDDEN_DIR.mkdir(parents=True, exist_ok=True)
    if not SEED_FILE.is_file():
        SEED_FILE.write_text(f"{secrets.randbits(128)}\n")
    master = SEED_FILE.read_text().strip()
    digest = hashlib.sha256(f"{master}:{task}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def build_test_subset(dataset: str, bundle: str, task: str, path: Path, per_class: int) -> dict:
    """A hidden held-out set from a data set's original test split (`dlcourse.data.load_raw(dataset)`):
    the images the student bundle `bundle` does not ship (its `test_index`), `per_class` of each of
    the 10 classes drawn with `task`'s secret seed; saved as X uint8, y int64 and index (positions in
    the original test files). The same SEED and original files give the same arrays."""
    import numpy as np

    from .. import data as D

    (_, _), (x_test, y_test) = D.load_raw(dataset)
    with np.load(D.bundled_path(bundle, download=False)) as bundled:
        shipped = set(np.asarray(bundled["test_index"]).tolist())
    rs = np.random.RandomState(hidden_seed(task) % (2**32))
    chosen = []
    for c in range(10):
        pool = np.array([i for i in np.flatnonzero(y_test == c) if i not in shipped])
        chosen.append(rs.choice(pool, size=per_class, replace=False))
    index = np.sort(np.concatenate(chosen)).astype(np.int32)
    assert not shipped & set(index.tolist())
    np.savez_compressed(path, X=x_test[index].astype(np.uint8), y=y_test[index].astype(np.int64), index=index)
    return {"path": str(path), "n": int(len(index))}


def build(path=HELDOUT_FILE, n_per_class: int = N_PER_CLASS) -> dict:
    from ..lung import make_lung_images
    from .ref_lung import resize_rgb

    images, labels = make_lung_images(n_per_class, hidden_seed("lung"), size=NATIVE_SIZE)
    X = np.stack([resize_rgb(img, SIZE)[..., 0] for img in images]).astype(np.uint8)
    np.savez_compressed(path, X=X, y=labels.astype(np.int64))
    return {"path": str(path), "n": int(len(labels)), "positives": int(labels.sum())}


def load(path=HELDOUT_FILE) -> tuple[np.ndarray, np.ndarray]:
    """(X float32 (N, 40, 40, 3) in [0, 1], y int64) of the held-out set."""
    with np.load(path) as data:
        grey, y = data["X"], data["y"]
    X = np.repeat(grey[..., None], 3, axis=-1).astype(np.float32) / 255.0
    return X, y.astype(np.int64)


if __name__ == "__main__":
    info = build()
    print(
        f"wrote {info['path']}: {info['n']} images, {info['positives']} positive", file=sys.stdout
    )
