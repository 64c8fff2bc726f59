"""Comparing gradients and results: the relative error used throughout the course."""

from __future__ import annotations

import numpy as np


def rel_error(a, b) -> float:
    """Largest elementwise relative error |a - b| / max(1e-8, |a| + |b|), in float64."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))
