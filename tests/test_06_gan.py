"""06_gan at its published size: the trained generator's samples are recognised as digits.

Runs the source notebook top to bottom (solutions, not smoke size) in a fresh kernel, then
reads GAN_QUALITY, the measurement of its section 7: a small CNN classifier trained on the
real MNIST subset judges 1,000 generated images. Slow (a full GAN training on the CPU).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import nbformat
import pytest
from conftest import SOURCE

from dlcourse.grading.execute import execute, kernel_env

NOTEBOOK = SOURCE / "06_gan" / "06_gan.ipynb"
MIN_CLASSES = 5            # classes with >= 5 confident samples among 1,000
MIN_CONFIDENT = 0.1        # share of samples called a digit with p > 0.9 (untrained G: ~0.005)
MAX_LARGEST_SHARE = 0.5    # no single digit holds half of the confident samples (no collapse)
MIN_CLASSIFIER_ACCURACY = 0.93


@pytest.mark.slow
def test_gan_samples_are_recognised_as_several_digits():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import json\nprint('GAN_QUALITY=' + json.dumps(GAN_QUALITY))"))
    env = kernel_env()
    env.pop("DLCOURSE_SMOKE", None)
    with tempfile.TemporaryDirectory(prefix="dlcourse-06-") as tmp:
        nb = execute(nb, Path(tmp), timeout=3600, env=env)
    errors = [f"{o.get('ename')}: {o.get('evalue')}" for c in nb.cells if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"the notebook raised: {errors}"
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("output_type") == "stream")
    quality = json.loads(text.split("GAN_QUALITY=", 1)[1])
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and ("epoch" in out.get("text", "") or
                                                       "classifier" in out.get("text", "")):
                print(out["text"].rstrip())
    print(quality)
    assert quality["classifier_accuracy"] >= MIN_CLASSIFIER_ACCURACY, quality
    assert quality["confident_fraction"] >= MIN_CONFIDENT, quality
    assert quality["classes_covered"] >= MIN_CLASSES, quality
    assert quality["largest_class_share"] <= MAX_LARGEST_SHARE, quality


if __name__ == "__main__":  # pragma: no cover
    os.environ.pop("DLCOURSE_SMOKE", None)
    test_gan_samples_are_recognised_as_several_digits()
