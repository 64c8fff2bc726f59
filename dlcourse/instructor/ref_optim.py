"""Reference of notebook 03_optimization for hidden tests (instructor-only, float64).

Autodiff against torch.autograd, the optimisers against torch.optim, the schedules against
Keras 3's schedule objects, the initialisers' variances against torch.nn.init.
"""

from __future__ import annotations

import math

import numpy as np

from ..testkit.optim import quadratic_grad


# -- autodiff ---------------------------------------------------------------------------------
def torch_graph(program):
    """{"data": [...], "grad": [...]} of every node of `program`, by torch.autograd in float64."""
    import torch

    nodes = []
    for op in program:
        kind = op[0]
        if kind == "leaf":
            n = torch.tensor(float(op[1]), dtype=torch.float64, requires_grad=True)
        elif kind in ("add", "sub", "mul", "div"):
            a, b = nodes[op[1]], nodes[op[2]]
            n = {"add": a + b, "sub": a - b, "mul": a * b, "div": a / b}[kind]
        elif kind.endswith("_num"):
            a, c = nodes[op[1]], float(op[2])
            n = {"add": a + c, "sub": a - c, "mul": a * c, "div": a / c}[kind[:-4]]
        elif kind.startswith("num_"):
            c, a = float(op[1]), nodes[op[2]]
            n = {"add": c + a, "sub": c - a, "mul": c * a, "div": c / a}[kind[4:]]
        elif kind == "pow":
            n = nodes[op[1]] ** float(op[2])
        else:
            n = getattr(torch, kind)(nodes[op[1]])
        if not n.is_leaf:
            n.retain_grad()
        nodes.append(n)
    nodes[-1].backward()
    return {"data": [float(n.detach()) for n in nodes],
            "grad": [0.0 if n.grad is None else float(n.grad) for n in nodes]}


def sigmoid(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def mlp_loss_grads(weights, biases, X, y):
    """Notebook 02's network (sigmoid everywhere, summed BCE): J and (grads_W, grads_b)."""
    acts = [np.asarray(X, dtype=np.float64)]
    for W, b in zip(weights, biases, strict=True):
        acts.append(sigmoid(acts[-1] @ np.asarray(W, dtype=np.float64) + b))
    y_hat = acts[-1]
    t = np.asarray(y, dtype=np.float64).reshape(y_hat.shape)
    J = float(-np.sum(t * np.log(y_hat) + (1.0 - t) * np.log(1.0 - y_hat)))
    delta = y_hat - t
    gW, gb = [None] * len(weights), [None] * len(weights)
    for k in range(len(weights) - 1, -1, -1):
        gW[k] = acts[k].T @ delta
        gb[k] = delta.sum(axis=0)
        if k:
            delta = (delta @ np.asarray(weights[k]).T) * acts[k] * (1.0 - acts[k])
    return J, gW, gb


def mlp_fit(weights, biases, X, y, lr, epochs):
    """Full-batch gradient descent: (losses, weights, biases)."""
    W = [np.array(w, dtype=np.float64) for w in weights]
    B = [np.array(b, dtype=np.float64) for b in biases]
    losses = []
    for _ in range(epochs):
        J, gW, gb = mlp_loss_grads(W, B, X, y)
        losses.append(J)
        W = [w - lr * g for w, g in zip(W, gW, strict=True)]
        B = [b - lr * g for b, g in zip(B, gb, strict=True)]
    return np.array(losses), W, B


# -- optimisers -------------------------------------------------------------------------------
def torch_trajectory(kind: str, h, c, w0, lr: float, steps: int, **hyper):
    """Iterates w_1..w_steps of torch.optim.<SGD|RMSprop|Adam> on f = 0.5 sum(h (w - c)^2), float64.

    `hyper` uses the notebook's names: momentum; alpha, eps; beta1, beta2, eps.
    """
    import torch

    w = torch.tensor(np.array(w0, dtype=np.float64), requires_grad=True)
    if kind == "sgd":
        opt = torch.optim.SGD([w], lr=lr, momentum=hyper.get("momentum", 0.9))
    elif kind == "rmsprop":
        opt = torch.optim.RMSprop([w], lr=lr, alpha=hyper.get("alpha", 0.99), eps=hyper.get("eps", 1e-8))
    elif kind == "adam":
        opt = torch.optim.Adam([w], lr=lr, betas=(hyper.get("beta1", 0.9), hyper.get("beta2", 0.999)),
                               eps=hyper.get("eps", 1e-8))
    else:
        raise ValueError(kind)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        w.grad = torch.tensor(quadratic_grad(h, c, w.detach().numpy()))
        opt.step()
        out.append(w.detach().numpy().copy())
    return out


# -- schedules --------------------------------------------------------------------------------
def keras_schedule(name: str, lr0: float, **kw):
    """The Keras 3 schedule object (computing in float64) behind each notebook function."""
    import keras

    s = keras.optimizers.schedules
    lr0 = np.float64(lr0)
    if name == "step_decay":
        return s.ExponentialDecay(lr0, kw["every"], kw["drop"], staircase=True)
    if name == "exponential_decay":
        return s.ExponentialDecay(lr0, kw["decay_steps"], kw["rate"])
    if name == "cosine_decay":
        return s.CosineDecay(lr0, kw["decay_steps"], alpha=kw.get("alpha", 0.0))
    if name == "inverse_time_decay":
        return s.InverseTimeDecay(lr0, 1, kw["decay"])
    raise ValueError(name)


def keras_values(name: str, lr0: float, steps, **kw) -> np.ndarray:
    sched = keras_schedule(name, lr0, **kw)
    return np.array([float(sched(np.int64(s))) for s in steps])


def schedule(name: str, lr0: float, step: int, **kw) -> float:
    """The same schedules in plain float64 maths."""
    if name == "step_decay":
        return lr0 * kw["drop"] ** math.floor(step / kw["every"])
    if name == "exponential_decay":
        return lr0 * kw["rate"] ** (step / kw["decay_steps"])
    if name == "cosine_decay":
        alpha, d = kw.get("alpha", 0.0), kw["decay_steps"]
        cosine = 0.5 * (1.0 + math.cos(math.pi * min(step, d) / d))
        return lr0 * ((1.0 - alpha) * cosine + alpha)
    if name == "inverse_time_decay":
        return lr0 / (1.0 + kw["decay"] * step)
    raise ValueError(name)


# -- initialisation ---------------------------------------------------------------------------
def torch_init_variance(kind: str, fan_in: int, fan_out: int, seed: int = 0) -> float:
    """Empirical variance of torch.nn.init's xavier_normal_ / kaiming_normal_ (ReLU) on a weight
    of the same fans (torch stores it as (fan_out, fan_in))."""
    import torch

    g = torch.Generator().manual_seed(seed)
    t = torch.empty(fan_out, fan_in, dtype=torch.float64)
    if kind == "xavier":
        torch.nn.init.xavier_normal_(t, generator=g)
    else:
        torch.nn.init.kaiming_normal_(t, mode="fan_in", nonlinearity="relu", generator=g)
    return float(t.var())


def init_variance(kind: str, fan_in: int, fan_out: int) -> float:
    return 2.0 / (fan_in + fan_out) if kind == "xavier" else 2.0 / fan_in


# -- concept questions ------------------------------------------------------------------------
# Answer keys of the concept questions (instructor-only: never in the release).
QUESTIONS = {
    "q_adam_first_step": {
        "value": 0.01,
        "rtol": 1e-3,
        "why": "On step 1 the bias correction gives m_hat = dw and v_hat = dw**2, so the step is "
               "lr * dw / (|dw| + eps): about lr = 0.01 for every weight, whatever the size of its gradient "
               "(0.01 * 0.001 / (0.001 + 1e-8) = 0.0099999). Plain SGD would move it by lr * dw = 1e-5; without "
               "the bias correction the step would be lr * 0.1 / sqrt(0.001), about 0.0316.",
    },
    "q_momentum": {
        "answer": "c",
        "why": {
            "a": "v = m v + g adds each new gradient to 0.9 times the old velocity. Across the valley the "
                 "signs alternate, so v settles at 1 / (1 + 0.9) = 0.53 in size. Along it they add up to "
                 "0.1 / (1 - 0.9) = 1.0.",
            "b": "Ten times the gradient, 1 / (1 - m), is what a gradient that never changes sign builds up: "
                 "true along the valley (0.1 -> 1.0). Across it the signs alternate and mostly cancel: "
                 "1 / (1 + 0.9) = 0.53.",
            "d": "The alternating components do not cancel completely: v = 0.9 v + g settles at +-1 / (1 + 0.9) "
                 "= +-0.53. Along the valley the gradients add up: 0.1 / (1 - 0.9) = 1.0, ten times g.",
        },
    },
    "q_large_lr": {
        "answer": "b",
        "why": {
            "a": "Bigger steps are faster only while they stay stable. Along y each step multiplies y by "
                 "1 - 50 * 0.05 = -1.5: |-1.5| > 1, so y grows instead of shrinking.",
            "c": "Gradient descent stops only where the gradient is 0, at the minimum (0, 0). Here it never "
                 "gets there: along y each step multiplies y by 1 - 50 * 0.05 = -1.5.",
            "d": "Each step multiplies y by 1 - 50 * 0.05 = -1.5: y does change sign, but |-1.5| > 1, so it "
                 "grows. The factor 0.95 = 1 - 0.05 belongs to x, the flat direction. The largest stable "
                 "learning rate is 2 / 50 = 0.04.",
        },
    },
    "q_he_std": {
        "value": 0.0625,
        "rtol": 0.01,
        "why": "He initialisation (for ReLU) has variance 2 / fan_in = 2 / 512, so the standard deviation is "
               "sqrt(2 / 512) = 1 / 16 = 0.0625. The variance itself is 0.0039; Xavier's would be "
               "sqrt(2 / (512 + 256)) = 0.051; sqrt(1 / 512) = 0.044 forgets that ReLU zeroes half its inputs.",
    },
}
