"""Public helpers for the tests of 06_rnn_lstm: random inputs and weights (no answers)."""

from __future__ import annotations

import numpy as np

__all__ = ["constant_logits_lm", "numeric_gradient", "random_char_lm", "random_gru", "random_lstm", "random_rnn",
           "simple_rnn_states"]


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


def random_rnn(rng: np.random.Generator, n: int, t: int, f: int, h: int, scale: float = 0.7):
    """Random inputs, weights and upstream gradients of a simple RNN in float64 (SimpleRNN's layout).

    Returns (x (n, t, f), h0 (n, h), Wx (f, h), Wh (h, h), b (h,), dhs (n, t, h)).
    """
    return (rng.normal(size=(n, t, f)), rng.normal(scale=0.8, size=(n, h)),
            rng.normal(scale=scale, size=(f, h)), rng.normal(scale=scale, size=(h, h)),
            rng.normal(scale=scale, size=(h,)), rng.normal(size=(n, t, h)))


def numeric_gradient(f, a, eps: float = 1e-5) -> np.ndarray:
    """Central differences (float64) of the scalar function `f` at the array `a`; `a` is not changed."""
    a = np.array(a, dtype=np.float64)
    grad = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        old = a[idx]
        a[idx] = old + eps
        f_plus = float(f(a.copy()))
        a[idx] = old - eps
        f_minus = float(f(a.copy()))
        a[idx] = old
        grad[idx] = (f_plus - f_minus) / (2 * eps)
    return grad


def simple_rnn_states(x, h0, Wx, Wh, b) -> np.ndarray:
    """Every hidden state `(N, T, H)` of a tanh RNN with keras.layers.SimpleRNN's weights (Wx, Wh, b),
    computed by `torch.nn.RNN` in float64: a forward pass for the checks that does not depend on the
    student's. (PyTorch stores the weights transposed and has a second bias, set to 0 here.)"""
    import torch

    t64 = {"dtype": torch.float64}
    F, H = np.shape(Wx)
    rnn = torch.nn.RNN(F, H, nonlinearity="tanh", batch_first=True, **t64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.as_tensor(np.asarray(Wx).T, **t64))
        rnn.weight_hh_l0.copy_(torch.as_tensor(np.asarray(Wh).T, **t64))
        rnn.bias_ih_l0.copy_(torch.as_tensor(np.asarray(b), **t64))
        rnn.bias_hh_l0.zero_()
        out, _ = rnn(torch.as_tensor(np.asarray(x), **t64), torch.as_tensor(np.asarray(h0), **t64)[None])
    return out.numpy()


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
