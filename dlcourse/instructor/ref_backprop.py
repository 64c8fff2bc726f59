"""Reference of notebook 02_backprop_by_hand for hidden tests (instructor-only, float64).

The network follows the course contract: row-major layers `z = a_prev @ W + b`, sigmoid on
every layer, the SUMMED binary cross-entropy `J = sum(-(y log y_hat + (1 - y) log(1 - y_hat)))`.
"""

from __future__ import annotations

import numpy as np

from ..testkit.backprop import copy_params, init_params, layer_dims, random_params  # noqa: F401 (re-exported)
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


# Answer keys of the concept questions (instructor-only: never in the release).
QUESTIONS = {
    "q_param_count": {
        "value": 31,
        "rtol": 0.0,
        "why": "Each layer has n_prev * n_out weights and n_out biases: (2*4 + 4) + (4*3 + 3) + (3*1 + 1) "
               "= 12 + 15 + 4 = 31. Did you forget the biases (23) or count units instead of connections?",
    },
    "q_saturation": {
        "answer": "b",
        "why": {
            "a": "0.25 is the largest value of sigma'(z), reached at z = 0. At z = 10, sigma(z) is about "
                 "0.99995, so sigma'(z) = sigma(z)(1 - sigma(z)) is about 4.5e-5: the unit is saturated.",
            "c": "sigma(10) is close to 1, but its derivative sigma(z)(1 - sigma(z)) is close to 0: the curve "
                 "is flat there. A saturated unit passes back almost no error.",
            "d": "sigma'(z) = sigma(z)(1 - sigma(z)) is never exactly 0 (in exact arithmetic); at z = 10 it is "
                 "about 4.5e-5: tiny, which is the problem, but not zero.",
        },
    },
    "q_w2_shape": {
        "answer": "a",
        "why": {
            "b": "(3, 4) is W2 transposed (the column-major convention z = W a + b). Here z = a_prev @ W + b with "
                 "W2 of shape (4, 3), and dJ/dW2 has one entry per weight, so it has the shape of W2.",
            "c": "(200, 3) is the shape of z2, a2 and delta2 (N observations by 3 units). dJ/dW2 = a1^T delta2 "
                 "is (4, 200) @ (200, 3) = (4, 3): the product sums over the observations.",
            "d": "(200, 4) is the shape of a1, the activation that enters layer 2. dJ/dW2 = a1^T delta2 "
                 "is (4, 200) @ (200, 3) = (4, 3): the shape of W2, whatever the batch size.",
        },
    },
    "q_sum_vs_mean": {
        "answer": "b",
        "why": {
            "a": "The mean's gradient is the sum's gradient divided by N = 200, so with the same rate every step "
                 "would be 200 times shorter. She needs 0.05 * 200 = 10.",
            "c": "0.00025 = 0.05 / 200 divides by N, the wrong way: the mean's gradient is already 200 times "
                 "smaller than the sum's, so the rate must be 200 times larger, 0.05 * 200 = 10.",
            "d": "0.707 = 0.05 * sqrt(200). The gradients differ by exactly the factor N (the mean is J / N), so "
                 "the rate must grow by N = 200, not by sqrt(N): 0.05 * 200 = 10.",
        },
    },
}
