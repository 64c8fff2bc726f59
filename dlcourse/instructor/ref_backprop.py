"""Reference of notebook 02_backprop_by_hand for hidden tests (instructor-only, float64).

The network follows the course contract: row-major layers `z = a_prev @ W + b`, sigmoid on
every layer, the SUMMED binary cross-entropy `J = sum(-(y log y_hat + (1 - y) log(1 - y_hat)))`.
"""

from __future__ import annotations

import numpy as np

from .reference import central_gradient, norm_rel_error

EPS = 1e-12


def sigmoid(z):
    """1 / (1 + exp(-z)) without overflow (exp only of -|z|)."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_prime(z):
    """sigma(z) (1 - sigma(z)) = e / (1 + e)^2 with e = exp(-|z|): exact in both tails."""
    e = np.exp(-np.abs(np.asarray(z, dtype=np.float64)))
    return e / (1.0 + e) ** 2


def layer_dims(input_dim: int, hidden_layer_dims, output_dim: int = 1) -> list[int]:
    return [int(input_dim), *[int(d) for d in hidden_layer_dims], int(output_dim)]


def init_params(input_dim: int, hidden_layer_dims, output_dim: int = 1, seed: int = 0):
    """The notebook's initialisation: W ~ N(0, 1/n_prev), b = 0, drawn layer by layer."""
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
    return ([np.array(w, dtype=np.float64) for w in weights],
            [np.array(b, dtype=np.float64) for b in biases])


def as_targets(y, y_hat_shape) -> np.ndarray:
    return np.asarray(y, dtype=np.float64).reshape(y_hat_shape)


def forward_all(weights, biases, X):
    """Activations [X, a1, ..., y_hat] of the network."""
    acts = [np.asarray(X, dtype=np.float64)]
    for W, b in zip(weights, biases, strict=True):
        acts.append(sigmoid(acts[-1] @ W + b))
    return acts


def forward(weights, biases, X) -> np.ndarray:
    return forward_all(weights, biases, X)[-1]


def bce_sum(y, y_hat) -> float:
    y_hat = np.clip(y_hat, EPS, 1.0 - EPS)
    y = as_targets(y, y_hat.shape)
    return float(-np.sum(y * np.log(y_hat) + (1.0 - y) * np.log(1.0 - y_hat)))


def loss(weights, biases, X, y) -> float:
    return bce_sum(y, forward(weights, biases, X))


def backward(weights, biases, X, y):
    acts = forward_all(weights, biases, X)
    y = as_targets(y, acts[-1].shape)
    delta = acts[-1] - y
    grads_W = [None] * len(weights)
    grads_b = [None] * len(weights)
    for k in range(len(weights) - 1, -1, -1):
        grads_W[k] = acts[k].T @ delta
        grads_b[k] = delta.sum(axis=0)
        if k:
            delta = (delta @ weights[k].T) * acts[k] * (1.0 - acts[k])
    return grads_W, grads_b


def numeric_grads(weights, biases, X, y, h: float = 1e-5):
    """Central-difference gradients of the summed loss, for every weight and bias array."""
    weights, biases = copy_params(weights, biases)
    gW, gb = [], []
    for params, out in ((weights, gW), (biases, gb)):
        for k, p in enumerate(params):
            def f(value, k=k, params=params):
                saved = params[k]
                params[k] = value
                try:
                    return loss(weights, biases, X, y)
                finally:
                    params[k] = saved
            out.append(central_gradient(f, p, h))
    return gW, gb


def torch_grads(weights, biases, X, y):
    """Loss and gradients of the same network from PyTorch autograd, in float64."""
    import torch

    Ws = [torch.tensor(np.asarray(w, dtype=np.float64), requires_grad=True) for w in weights]
    bs = [torch.tensor(np.asarray(b, dtype=np.float64), requires_grad=True) for b in biases]
    a = torch.tensor(np.asarray(X, dtype=np.float64))
    for W, b in zip(Ws, bs, strict=True):
        a = torch.sigmoid(a @ W + b)
    t = torch.tensor(as_targets(y, tuple(a.shape)))
    J = -(t * torch.log(a) + (1 - t) * torch.log(1 - a)).sum()
    J.backward()
    return (float(J.detach()), [W.grad.numpy().copy() for W in Ws],
            [b.grad.numpy().copy() for b in bs])


def fit_losses(weights, biases, X, y, lr: float, epochs: int):
    """Full-batch gradient descent, the loss recorded before each update.

    Returns (losses, weights, biases)."""
    weights, biases = copy_params(weights, biases)
    losses = []
    for _ in range(epochs):
        losses.append(loss(weights, biases, X, y))
        gW, gb = backward(weights, biases, X, y)
        weights = [W - lr * g for W, g in zip(weights, gW, strict=True)]
        biases = [b - lr * g for b, g in zip(biases, gb, strict=True)]
    return np.array(losses), weights, biases


class Network:
    """A correct network with the contract's interface (used to test gradient_check)."""

    def __init__(self, input_dim, hidden_layer_dims, output_dim=1, seed=0):
        self.weights, self.biases = init_params(input_dim, hidden_layer_dims, output_dim, seed)

    def forward(self, X):
        return forward(self.weights, self.biases, X)

    def loss(self, X, y):
        return loss(self.weights, self.biases, X, y)

    def backward(self, X, y):
        return backward(self.weights, self.biases, X, y)


class ScaledGradNetwork(Network):
    """A wrong network: backward returns `factor` times the true gradient of the last bias."""

    def __init__(self, *args, factor=2.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.factor = factor

    def backward(self, X, y):
        gW, gb = backward(self.weights, self.biases, X, y)
        gb[-1] = self.factor * gb[-1]
        return gW, gb


def gradient_check(network, X, y, h: float = 1e-5) -> float:
    """Largest norm-relative error between network.backward and central differences."""
    gW, gb = network.backward(X, y)
    worst = 0.0
    for params, analytic in ((network.weights, gW), (network.biases, gb)):
        for p, a in zip(params, analytic, strict=True):
            def f(value, p=p):
                saved = p.copy()
                p[...] = value
                try:
                    return network.loss(X, y)
                finally:
                    p[...] = saved
            worst = max(worst, norm_rel_error(a, central_gradient(f, p, h)))
    return worst
