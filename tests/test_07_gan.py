"""07_gan at its published size: the trained generator's samples are recognised as digits.

Runs the source notebook top to bottom (solutions, not smoke size) in a fresh kernel. The kernel
only hands back 1,000 images that the trained generator draws from seeded noise (a .npy file,
read without pickle); this process measures them, as section 7 of the notebook does: a small CNN
classifier, trained here on the real MNIST subset, judges them. The numbers the notebook itself
prints (GAN_QUALITY) are not used. Slow (a full GAN training on the CPU).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import nbformat
import numpy as np
import pytest
from conftest import SOURCE

from dlcourse.grader.execute import execute, kernel_env

NOTEBOOK = SOURCE / "07_gan" / "07_gan.ipynb"
NUM_SAMPLES = 1000
CLASSIFIER_EPOCHS = 4
MIN_CLASSES = 5            # classes with >= 5 confident samples among 1,000
MIN_CONFIDENT = 0.1        # share of samples called a digit with p > 0.9 (untrained G: ~0.005)
MAX_LARGEST_SHARE = 0.5    # no single digit holds half of the confident samples (no collapse)
MIN_CLASSIFIER_ACCURACY = 0.93
HAND_BACK = f"""
import numpy as np
from dlcourse.testkit.gan import generated_images
np.save("gan_samples.npy", generated_images(G, {NUM_SAMPLES}, latent_dim=100, seed=123, device=device),
        allow_pickle=False)
"""


def generated_samples(smoke: bool = False) -> np.ndarray:
    """Run the notebook in a fresh kernel; return the images its trained generator drew."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(HAND_BACK))
    env = kernel_env()
    if smoke:
        env["DLCOURSE_SMOKE"] = "1"
    else:
        env.pop("DLCOURSE_SMOKE", None)
    with tempfile.TemporaryDirectory(prefix="dlcourse-06-") as tmp:
        nb = execute(nb, Path(tmp), timeout=3600, env=env)
        errors = [f"{o.get('ename')}: {o.get('evalue')}" for c in nb.cells if c.cell_type == "code"
                  for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"the notebook raised: {errors}"
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                if out.get("output_type") == "stream" and "epoch" in out.get("text", ""):
                    print(out["text"].rstrip())
        images = np.load(Path(tmp) / "gan_samples.npy", allow_pickle=False)
    assert images.shape == (NUM_SAMPLES, 1, 28, 28) and images.dtype == np.float32, (images.shape, images.dtype)
    assert np.isfinite(images).all() and images.min() >= -1 and images.max() <= 1, "images outside [-1, 1]"
    return images


def measure(images: np.ndarray) -> dict:
    """Section 7's measurement, here: a classifier trained on the real digits judges the images."""
    import torch

    from dlcourse.data import load_mnist
    from dlcourse.testkit.gan import sample_quality, train_digit_classifier

    (X_train, y_train), (X_test, y_test) = load_mnist()

    def to_tensor(images_u8):
        return torch.tensor(images_u8[:, None] / 127.5 - 1.0, dtype=torch.float32)

    classifier = train_digit_classifier(to_tensor(X_train), y_train, CLASSIFIER_EPOCHS)
    with torch.no_grad():
        predicted = classifier(to_tensor(X_test)).argmax(1).numpy()
    quality = sample_quality(images, classifier)
    quality["classifier_accuracy"] = float(np.mean(predicted == y_test))
    return quality


@pytest.mark.full
def test_gan_samples_are_recognised_as_several_digits():
    quality = measure(generated_samples())
    print(quality)
    assert quality["classifier_accuracy"] >= MIN_CLASSIFIER_ACCURACY, quality
    assert quality["confident_fraction"] >= MIN_CONFIDENT, quality
    assert quality["classes_covered"] >= MIN_CLASSES, quality
    assert quality["largest_class_share"] <= MAX_LARGEST_SHARE, quality


if __name__ == "__main__":  # pragma: no cover
    os.environ.pop("DLCOURSE_SMOKE", None)
    test_gan_samples_are_recognised_as_several_digits()
