"""Public helpers for the tests of 06_rnn_lstm: random inputs and weights (no answers)."""

from __future__ import annotations

import numpy as np

__all__ = ["random_gru", "random_lstm"]


def random_lstm(rng: np.random.Generator, n: int, t: int, f: int, h: int, scale: float = 0.5):
    """Random LSTM inputs and weights in float64, in Keras's layout and gate order (i, f, c, o).

    Returns (x (n, t, f), h0 (n, h), c0 (n, h), kernel (f, 4h), recurrent_kernel (h, 4h), bias (4h,)).
    """
    return (rng.normal(size=(n, t, f)), rng.normal(scale=0.8, size=(n, h)),
            rng.normal(scale=0.8, size=(n, h)), rng.normal(scale=scale, size=(f, 4 * h)),
            rng.normal(scale=scale, size=(h, 4 * h)), rng.normal(scale=scale, size=(4 * h,)))


def random_gru(rng: np.random.Generator, n: int, t: int, f: int, h: int, scale: float = 0.5):
    """Random GRU inputs and weights in float64, in the layout of keras.layers.GRU(reset_after=True):
    blocks (z, r, h) side by side, and two bias rows (input bias, recurrent bias).

    Returns (x (n, t, f), h0 (n, h), kernel (f, 3h), recurrent_kernel (h, 3h), bias (2, 3h)).
    """
    return (rng.normal(size=(n, t, f)), rng.normal(scale=0.8, size=(n, h)),
            rng.normal(scale=scale, size=(f, 3 * h)), rng.normal(scale=scale, size=(h, 3 * h)),
            rng.normal(scale=scale, size=(2, 3 * h)))
