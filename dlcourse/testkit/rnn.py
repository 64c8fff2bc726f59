"""Public helpers for the tests of 06_rnn_lstm: random inputs and weights (no answers)."""

from __future__ import annotations

import numpy as np

__all__ = ["constant_logits_lm", "random_char_lm", "random_gru", "random_lstm"]


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


def constant_logits_lm(logits):
    """A stand-in character model whose next-character logits are `logits` (V,) whatever it reads.

    Input: integer ids (batch, time); output: (batch, time, V) logits, the same at every step."""
    import keras

    logits = np.asarray(logits, dtype=np.float32)
    V = len(logits)
    model = keras.Sequential([keras.Input(shape=(None,), dtype="int32"), keras.layers.Embedding(V, 1),
                              keras.layers.Dense(V)])
    model.set_weights([np.zeros((V, 1), np.float32), np.zeros((1, V), np.float32), logits])
    return model


def random_char_lm(vocab_size: int, seed: int, units: int = 16, logit_scale: float = 4.0):
    """An untrained character model (Embedding -> LSTM -> Dense logits) with weights drawn from
    `numpy.random.default_rng(seed)`: what it predicts depends on everything it has read."""
    import keras

    model = keras.Sequential([keras.Input(shape=(None,), dtype="int32"), keras.layers.Embedding(vocab_size, 8),
                              keras.layers.LSTM(units, return_sequences=True), keras.layers.Dense(vocab_size)])
    rng = np.random.default_rng(seed)
    weights = [rng.normal(scale=1.0, size=w.shape).astype(np.float32) for w in model.get_weights()]
    weights[-2] *= logit_scale
    model.set_weights(weights)
    return model
