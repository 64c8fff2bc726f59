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


def softmax_jacobian(z) -> np.ndarray:
    """d softmax(z)_i / d z_j for one score vector: diag(p) - p p^T."""
    p = softmax(z)
    return np.diag(p) - np.outer(p, p)


# Answer keys of the concept questions (instructor-only: never in the release).
QUESTIONS = {
    "q_softmax_shift": {
        "answer": "a",
        "why": {
            "b": "Adding the same number to every score multiplies every e^z by the same factor e^100, "
                 "which cancels in the normalisation: only the differences between scores matter. "
                 "(Dividing the scores by a large number would flatten the distribution.)",
            "c": "e^102 is about 2e44, far below float64's limit (about e^709); and a stable softmax "
                 "subtracts the largest score first, so it computes exactly the same numbers as before.",
            "d": "A more peaked distribution comes from multiplying the scores by a factor above 1 "
                 "(a lower 'temperature'); adding a constant leaves the differences, and so the "
                 "probabilities, unchanged.",
        },
    },
    "q_uniform_loss": {
        "value": float(np.log(10.0)),
        "rtol": 0.01,
        "why": "Each sample's loss is -log(probability of its true class) = -log(1/10) = log 10, about 2.30 "
               "(natural log, as np.log). A uniform guess over C classes costs log C: log 3 = 1.10 is where "
               "the Iris loss starts in Section 6.",
    },
    "q_grad_shape": {
        "answer": "b",
        "why": {
            "a": "(32, 10) is the shape of dL/dZ, one entry per logit. The loss is one number, so its gradient "
                 "with respect to W has one entry per weight: the shape of W, (784, 10).",
            "c": "(32, 784) is the shape of the inputs X. The gradient with respect to W has the shape of W, "
                 "(784, 10): it is X^T G, a (784, 32) matrix times the (32, 10) matrix G = dL/dZ.",
            "d": "(784, 784) is the shape of X^T X. The gradient with respect to W has one entry per weight, so "
                 "it has the shape of W, (784, 10): X^T G with G = dL/dZ of shape (32, 10).",
        },
    },
}
