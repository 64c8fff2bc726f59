"""Public helpers for the tests of 02_backprop_by_hand: inputs and stand-in models, no answers.

Nothing here answers an exercise: the parameter generators make test inputs (the
initialisation is the notebook's given constructor), `set_params` gives a student's network
the tests' parameters (while grading, a recorded attribute assignment), and `StandInModel`
is the base of the models the tests hand to `gradient_check`: it declares its weights and
biases (`judged_state`), so the judge sees them as `gradient_check` left them in the kernel.
`LogCoshHeads` is one (independent linear heads under a log-cosh loss).
"""

from __future__ import annotations

import numpy as np

__all__ = ["layer_dims", "init_params", "random_params", "copy_params", "set_params", "StandInModel",
           "LogCoshHeads"]


def layer_dims(input_dim: int, hidden_layer_dims, output_dim: int = 1) -> list[int]:
    """[input_dim, *hidden_layer_dims, output_dim] as ints."""
    return [int(input_dim), *[int(d) for d in hidden_layer_dims], int(output_dim)]


def init_params(input_dim: int, hidden_layer_dims, output_dim: int = 1, seed: int = 0):
    """The notebook's (given) initialisation: W ~ N(0, 1/n_prev), b = 0, drawn layer by layer."""
    rng = np.random.default_rng(seed)
    dims = layer_dims(input_dim, hidden_layer_dims, output_dim)
    weights = [rng.normal(0.0, 1.0 / np.sqrt(n_prev), size=(n_prev, n_out))
               for n_prev, n_out in zip(dims[:-1], dims[1:], strict=True)]
    biases = [np.zeros(n_out) for n_out in dims[1:]]
    return weights, biases


def random_params(rng: np.random.Generator, dims, scale: float = 0.7):
    """Random weights AND biases (biases non-zero, so a forward pass that drops them shows)."""
    weights = [rng.normal(0.0, scale, size=(n_prev, n_out))
               for n_prev, n_out in zip(dims[:-1], dims[1:], strict=True)]
    biases = [rng.normal(0.0, scale, size=b) for b in dims[1:]]
    return weights, biases


def copy_params(weights, biases):
    """Float64 copies of two lists of arrays."""
    return ([np.array(w, dtype=np.float64) for w in weights],
            [np.array(b, dtype=np.float64) for b in biases])


def set_params(network, weights, biases) -> None:
    """Give `network` copies of the tests' own parameters: `network.weights, network.biases = ...`."""
    network.weights, network.biases = copy_params(weights, biases)


class StandInModel:
    """A test's model with lists `weights` and `biases`, whose in-place changes the judge sees.

    Passed to an exercise while grading, its arrays are recorded when the call changed them and
    copied into the judge's own instance (`dlcourse.judging`'s `judged_state` protocol).
    """

    weights: list
    biases: list

    def judged_state(self) -> dict:
        arrays = {f"weights.{k}": w for k, w in enumerate(self.weights)}
        return arrays | {f"biases.{k}": b for k, b in enumerate(self.biases)}

    def load_judged_state(self, state: dict) -> None:
        shapes = [np.shape(a) for a in (*self.weights, *self.biases)]
        weights = [state.get(f"weights.{k}") for k in range(len(self.weights))]
        biases = [state.get(f"biases.{k}") for k in range(len(self.biases))]
        if len(state) != len(shapes) or [np.shape(a) for a in (*weights, *biases)] != shapes:
            raise AssertionError("the call changed the number or the shapes of the model's arrays.")
        self.weights, self.biases = copy_params(weights, biases)


class LogCoshHeads(StandInModel):
    """A stand-in model for `gradient_check`, not a neural network.

    Head k is linear, r_k = X @ weights[k] + biases[k] - y (y broadcast over the head's
    columns), and the loss is sum_k sum(log cosh(r_k)). Its exact gradient is
    dJ/dweights[k] = X.T @ tanh(r_k) and dJ/dbiases[k] = sum of tanh(r_k) over the rows.
    `wrong=("b", k, factor)` (or "W") makes `backward` return that array's gradient times
    `factor`: a deliberately wrong backward.
    """

    def __init__(self, rng: np.random.Generator, input_dim: int, head_dims, scale: float = 0.5,
                 wrong=None):
        self.weights = [rng.normal(0.0, scale, size=(int(input_dim), int(m))) for m in head_dims]
        self.biases = [rng.normal(0.0, scale, size=int(m)) for m in head_dims]
        self.wrong = wrong

    def _residuals(self, X, y):
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(-1, 1)
        return [X @ W + b - y for W, b in zip(self.weights, self.biases, strict=True)]

    def loss(self, X, y) -> float:
        total = 0.0
        for r in self._residuals(X, y):
            a = np.abs(r)
            total += float(np.sum(a + np.log1p(np.exp(-2.0 * a)) - np.log(2.0)))  # log cosh, stable
        return total

    def backward(self, X, y):
        X = np.asarray(X, dtype=np.float64)
        t = [np.tanh(r) for r in self._residuals(X, y)]
        grads_W = [X.T @ tk for tk in t]
        grads_b = [tk.sum(axis=0) for tk in t]
        if self.wrong is not None:
            kind, k, factor = self.wrong
            grads = grads_W if kind == "W" else grads_b
            grads[k] = factor * grads[k]
        return grads_W, grads_b
