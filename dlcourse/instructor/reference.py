"""Reference computations for hidden tests (instructor-only, not in the student bundle)."""

from __future__ import annotations

import numpy as np


def central_gradient(f, x, h: float = 1e-5) -> np.ndarray:
    """Central-difference gradient of scalar `f` at `x`, in float64; `x` is left unchanged."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        f_plus = float(f(x))
        x[idx] = old - h
        f_minus = float(f(x))
        x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


def norm_rel_error(a, n) -> float:
    """norm(a - n) / (norm(a) + norm(n)), 0 when both are 0 (the course's gradient-check error)."""
    a = np.asarray(a, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    denom = np.linalg.norm(a) + np.linalg.norm(n)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - n) / denom)


def softmax(z) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def cross_entropy(y_true, p, eps: float = 1e-12) -> float:
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1.0)
    return float(-np.sum(np.asarray(y_true) * np.log(p)) / p.shape[0])


def cross_entropy_from_logits(y_true, z) -> float:
    z = np.asarray(z, dtype=np.float64)
    m = z.max(axis=-1, keepdims=True)
    log_p = z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))
    return float(-np.sum(np.asarray(y_true) * log_p) / z.shape[0])


def random_one_hot(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    return np.eye(c)[rng.integers(0, c, size=n)]
