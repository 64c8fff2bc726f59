"""Synthetic lung CT patches for the capstone project (notebook 08).

No lung CT data set can be installed offline, so the course draws its own: small
axial CT patches (64 x 64 pixels by default) seen through a lung window, with

- lung parenchyma: dark, slightly mottled tissue with correlated CT noise;
- vessels: bright tubes that curve, branch and thin out, and their round
  cross-sections where a vessel runs through the slice (the classic nodule mimics);
- sometimes the chest wall or a fissure at the edge of the patch;
- for the positive class, one nodule near the centre: solid (round or lobulated),
  part-solid (a ground-glass halo around a solid core) or spiculated (thin strands
  radiating from the core), of varied size and contrast. Some are small and faint,
  so no classifier is perfect on this data.

Negative patches are centred on a vessel cross-section or a branching point as often
as not, as the false-positive candidates of a real nodule detector are.

THE DATA IS SYNTHETIC. It looks like CT and is hard in the same ways, but it is not
medical data; a model trained on it says nothing about real patients.

`write_lung_dataset(folder, n_per_class, seed)` writes PNG files named
`<id>_pos.png` (nodule) and `<id>_neg.png` (no nodule), the naming of the original
course's folder (the label is the last three letters before the extension), so a
loader written for this folder works on a real one laid out the same way.
Generation is deterministic for a given seed, numpy only, and fast (about 1 ms an image).
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["make_lung_patch", "make_lung_images", "write_lung_dataset", "NODULE_KINDS"]

NODULE_KINDS = ("solid", "part-solid", "spiculated")

# Lung window: level -600 HU, width 1500 HU.
_WINDOW_LOW, _WINDOW_WIDTH = -1350.0, 1500.0


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur through the FFT (periodic edges; fine for noise and soft structures)."""
    if sigma <= 0:
        return img
    h, w = img.shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    kernel = np.exp(-2.0 * (np.pi * sigma) ** 2 * (fx**2 + fy**2))
    return np.fft.irfft2(np.fft.rfft2(img) * kernel, s=img.shape)


def _field(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    """A smooth random field with unit standard deviation."""
    f = _blur(rng.standard_normal((size, size)), sigma)
    return f / (f.std() + 1e-12)


def _segment_distance(yy, xx, p0, p1) -> np.ndarray:
    """Distance of each pixel to the segment p0-p1."""
    d = p1 - p0
    length2 = float(d @ d) + 1e-12
    t = ((yy - p0[0]) * d[0] + (xx - p0[1]) * d[1]) / length2
    t = np.clip(t, 0.0, 1.0)
    return np.hypot(yy - (p0[0] + t * d[0]), xx - (p0[1] + t * d[1]))


def _tube_profile(dist: np.ndarray, radius: float) -> np.ndarray:
    """Cross-section of a vessel of `radius` pixels, blurred by the partial-volume effect."""
    return 1.0 / (1.0 + np.exp((dist - radius) / 0.45))


def _vessel(rng, yy, xx, size, start, radius, hu, canvas, depth=0):
    """Draw a curving vessel that thins out, and maybe a branch; max-blend into canvas."""
    angle = rng.uniform(0, 2 * np.pi)
    point = np.array(start, dtype=float)
    n_steps = int(rng.integers(4, 9))
    step = size / rng.uniform(5.0, 9.0)
    for i in range(n_steps):
        angle += rng.normal(0.0, 0.35)
        nxt = point + step * np.array([np.sin(angle), np.cos(angle)])
        r = radius * (1.0 - 0.5 * i / n_steps)
        contrast = hu * min(1.0, 0.45 + r / 2.2)  # thin vessels look fainter (partial volume)
        prof = _tube_profile(_segment_distance(yy, xx, point, nxt), r)
        np.maximum(canvas, contrast * prof, out=canvas)
        if depth == 0 and i == n_steps // 2 and rng.random() < 0.6:
            _vessel(rng, yy, xx, size, point.copy(), r * 0.7, hu, canvas, depth=1)
        point = nxt


def _blob(yy, xx, cy, cx, radius, harmonics=(), edge=0.5) -> np.ndarray:
    """A soft disc whose radius varies with the angle by the given (amplitude, order, phase)."""
    dy, dx = yy - cy, xx - cx
    dist = np.hypot(dy, dx)
    theta = np.arctan2(dy, dx)
    r = np.full_like(dist, radius)
    for amp, order, phase in harmonics:
        r = r * (1.0 + amp * np.cos(order * theta + phase))
    return 1.0 / (1.0 + np.exp((dist - r) / edge))


def _nodule(rng, yy, xx, size, cy, cx, hard):
    """(profile in [0, 1] x HU above the parenchyma, kind) of one nodule."""
    kind = NODULE_KINDS[int(rng.choice(3, p=[0.5, 0.25, 0.25]))]
    scale = size / 64.0
    if hard:  # small, faint: as hard as a vessel cross-section
        radius = rng.uniform(1.8, 2.8) * scale
        hu = rng.uniform(450.0, 700.0)
        kind = "solid"
    else:
        radius = rng.uniform(4.0, 11.0) * scale
        hu = rng.uniform(650.0, 950.0)
    harm = [(rng.uniform(0.0, 0.12), int(k), rng.uniform(0, 2 * np.pi)) for k in (2, 3, 5)]
    if kind == "solid":
        return hu * _blob(yy, xx, cy, cx, radius, harm, edge=rng.uniform(0.35, 0.8)), kind
    if kind == "part-solid":
        halo_r = radius * rng.uniform(1.4, 2.0)
        halo = rng.uniform(0.35, 0.55) * hu * _blob(yy, xx, cy, cx, halo_r, harm, edge=1.2)
        core = hu * _blob(yy, xx, cy, cx, radius * rng.uniform(0.45, 0.7), harm, edge=0.5)
        return np.maximum(halo, core), kind
    core = hu * _blob(yy, xx, cy, cx, radius, harm, edge=0.5)
    n_spic = int(rng.integers(5, 13))
    spic = np.zeros_like(core)
    for a in rng.uniform(0, 2 * np.pi, n_spic):
        length = radius * rng.uniform(0.7, 1.8)
        p0 = np.array([cy, cx]) + 0.8 * radius * np.array([np.sin(a), np.cos(a)])
        p1 = np.array([cy, cx]) + (radius + length) * np.array([np.sin(a), np.cos(a)])
        width = rng.uniform(0.35, 0.7) * scale
        np.maximum(
            spic, 0.7 * hu * _tube_profile(_segment_distance(yy, xx, p0, p1), width), out=spic
        )
    return np.maximum(core, spic), kind


def make_lung_patch(
    rng: np.random.Generator, positive: bool, size: int = 64
) -> tuple[np.ndarray, dict]:
    """One synthetic CT patch as a float array `(size, size)` in [0, 1] (lung window).

    Returns `(image, info)`; info tells the nodule kind ("none" for negatives),
    whether the case is a hard one, and the number of vessels.
    """
    scale = size / 64.0
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    centre = size / 2.0
    # Parenchyma: about -860 HU, mottled at two scales.
    hu = (
        -860.0
        + rng.uniform(-30, 30)
        + 25.0 * _field(rng, size, 6.0 * scale)
        + 12.0 * _field(rng, size, 1.5 * scale)
    )
    structures = np.zeros((size, size))
    # Small peripheral vessels: many faint dots and short tubes.
    for _ in range(int(rng.integers(6, 16))):
        cy, cx = rng.uniform(0, size, 2)
        r = rng.uniform(0.5, 1.1) * scale
        np.maximum(
            structures, rng.uniform(150, 380) * _blob(yy, xx, cy, cx, r, edge=0.5), out=structures
        )
    # Larger vessels running in the slice.
    n_vessels = int(rng.integers(1, 5))
    vessel_hu = rng.uniform(700.0, 900.0)
    for _ in range(n_vessels):
        start = rng.uniform(-0.1 * size, 1.1 * size, 2)
        _vessel(rng, yy, xx, size, start, rng.uniform(0.9, 2.6) * scale, vessel_hu, structures)
    # Vessels crossing the slice: round bright dots, the nodule mimics.
    for _ in range(int(rng.integers(0, 4))):
        cy, cx = rng.uniform(0.1 * size, 0.9 * size, 2)
        r = rng.uniform(1.0, 2.8) * scale
        np.maximum(
            structures,
            vessel_hu * min(1.0, 0.5 + r / 3.0) * _blob(yy, xx, cy, cx, r, edge=0.45),
            out=structures,
        )
    info = {"kind": "none", "hard": False, "vessels": n_vessels}
    jitter = 5.0 * scale
    cy, cx = centre + rng.uniform(-jitter, jitter, 2)
    if positive:
        hard = bool(rng.random() < 0.05)
        nod, kind = _nodule(rng, yy, xx, size, cy, cx, hard)
        np.maximum(structures, nod, out=structures)
        info.update(kind=kind, hard=hard)
    else:
        # A detector's false-positive candidate at the centre: a vessel seen end-on
        # (sometimes a large one), a branching point, or nothing in particular.
        u = rng.random()
        if u < 0.45:
            r = rng.uniform(1.4, 3.0) * scale
            amp = vessel_hu * min(1.0, 0.5 + r / 3.0) * rng.uniform(0.7, 1.0)
            np.maximum(structures, amp * _blob(yy, xx, cy, cx, r, edge=0.45), out=structures)
            info["hard"] = bool(r > 2.6 * scale)
        elif u < 0.7:
            _vessel(
                rng, yy, xx, size, (cy, cx), rng.uniform(1.4, 2.4) * scale, vessel_hu, structures
            )
    hu = hu + structures
    # Chest wall or a fissure at the edge of some patches.
    if rng.random() < 0.25:
        side = rng.integers(4)
        ramp = [yy, size - 1 - yy, xx, size - 1 - xx][side]
        wall = rng.uniform(2, 12) * scale + 2.0 * scale * _field(rng, size, 8 * scale)
        mask = 1.0 / (1.0 + np.exp((ramp - wall) / 0.6))
        tissue = 40.0 + 40.0 * _field(rng, size, 2.0 * scale)
        hu = hu * (1 - mask) + tissue * mask
    elif rng.random() < 0.15:
        p0 = rng.uniform(0, size, 2)
        p1 = rng.uniform(0, size, 2)
        fissure = _tube_profile(_segment_distance(yy, xx, p0, p1), 0.4 * scale)
        hu = hu + 250.0 * fissure
    # Scanner blur, then correlated noise.
    hu = _blur(hu, rng.uniform(0.4, 0.8) * scale)
    noise_sd = rng.uniform(25.0, 70.0)
    hu = hu + noise_sd * _field(rng, size, 0.7 * scale)
    img = np.clip((hu - _WINDOW_LOW) / _WINDOW_WIDTH, 0.0, 1.0)
    return img, info


def make_lung_images(n_per_class: int, seed: int, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """`(images, labels)`: uint8 RGB `(2 * n_per_class, size, size, 3)` and int labels (1 = nodule).

    Half are positive, in a shuffled order; the same seed always gives the same images. They are
    drawn once per process (the last few sets are kept): each call returns its own copy.
    """
    images, labels = _drawn_images(int(n_per_class), int(seed), int(size))
    return images.copy(), labels.copy()


@lru_cache(maxsize=3)
def _drawn_images(n_per_class: int, seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.array([1, 0], dtype=np.int64), n_per_class))
    images = np.empty((2 * n_per_class, size, size, 3), dtype=np.uint8)
    for i, label in enumerate(labels):
        img, _ = make_lung_patch(rng, bool(label), size)
        images[i] = np.round(img * 255.0).astype(np.uint8)[..., None]
    return images, labels


def write_lung_dataset(folder, n_per_class: int, seed: int = 0, size: int = 64) -> Path:
    """Write `2 * n_per_class` PNG patches to `folder` and return its path.

    Files are named `<id>_pos.png` (a nodule: cancer suspected) and `<id>_neg.png`
    (no nodule). A folder already holding exactly this data set is left as it is;
    other PNG files in the folder are removed.
    """
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # The stamp lives next to the folder, so the folder holds nothing but images.
    stamp = folder.parent / f".{folder.name}.dlcourse_lung"
    key = f"n_per_class={n_per_class} seed={seed} size={size}"
    if stamp.is_file() and stamp.read_text() == key:
        return folder
    for old in folder.glob("*.png"):
        old.unlink()
    if key not in _ENCODED:  # drawn and encoded once per process (a set-up cell run again, a test harness)
        images, labels = make_lung_images(n_per_class, seed, size)
        files = []
        for i, (img, label) in enumerate(zip(images, labels, strict=True)):
            buffer = io.BytesIO()
            Image.fromarray(img).save(buffer, format="PNG", optimize=False, compress_level=1)
            files.append((f"img{i:05d}_{'pos' if label else 'neg'}.png", buffer.getvalue()))
        while len(_ENCODED) >= 2:
            _ENCODED.pop(next(iter(_ENCODED)))
        _ENCODED[key] = files
    for name, data in _ENCODED[key]:
        (folder / name).write_bytes(data)
    stamp.write_text(key)
    return folder


# the PNG files of the last data sets written, by key: {key: [(name, bytes)]}
_ENCODED: dict[str, list[tuple[str, bytes]]] = {}
