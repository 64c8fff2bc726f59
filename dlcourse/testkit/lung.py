"""Public helpers for the test cells of 08_lung_cancer_project (they hold no answer).

* `resize_rgb`: resize a uint8 RGB patch with PIL's bilinear filter, the way the held-out
  set is made from `dlcourse.lung`'s patches, so that the held-out test trains on images
  like the ones it is scored on.
* `lung_patches`: patches from the public generator, resized to `size` and scaled to [0, 1].
"""

from __future__ import annotations

import numpy as np

__all__ = ["resize_rgb", "lung_patches"]


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
