"""Instructor-only references for notebook 03_keras_api (left out of the student bundle).

Hidden tests use these to inspect students' models by behaviour (weights and outputs),
so that every correct way of writing a model passes: `Dense(10, activation="sigmoid")`
or `Dense(10)` followed by `Activation("sigmoid")`, `Sequential([...])` or `.add()`.
"""

from __future__ import annotations

import time

import numpy as np

ACTIVATIONS = {
    "linear": lambda z: z,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "softmax": lambda z: np.exp(z - z.max(-1, keepdims=True))
    / np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True),
}


# ------------------------------------------------------------------ Keras models
def ensure_built(model, input_shape) -> bool:
    """Build `model` by calling it on zeros when it does not know its input yet."""
    if not model.built:
        try:
            model(np.zeros((1, *input_shape), dtype="float32"))
        except Exception:
            return False
    return model.built


def layer_summary(model) -> list[tuple[str, int | None, str]]:
    """[(layer type, units, effective activation)] for the model's computing layers.

    An `Activation` layer right after a linear Dense is folded into that Dense.
    InputLayer, Flatten (reported as ("Flatten", None, "linear")) and the like are kept
    apart from Dense layers.
    """
    import keras

    out: list[list] = []
    for layer in model.layers:
        kind = type(layer).__name__
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.layers.Activation) and out and out[-1][0] == "Dense" \
                and out[-1][2] == "linear":
            out[-1][2] = layer.activation.__name__
            continue
        if isinstance(layer, keras.layers.Softmax) and out and out[-1][0] == "Dense" \
                and out[-1][2] == "linear":
            out[-1][2] = "softmax"
            continue
        if isinstance(layer, keras.layers.Dense):
            out.append(["Dense", layer.units, layer.activation.__name__])
        else:
            act = getattr(layer, "activation", None)
            out.append([kind, None, act.__name__ if act is not None else "linear"])
    return [tuple(row) for row in out]


def dense_summary(model) -> list[tuple[int, str]]:
    return [(u, a) for kind, u, a in layer_summary(model) if kind == "Dense"]


def dense_weights(model) -> list[tuple[np.ndarray, np.ndarray | None]]:
    import keras

    weights = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            w = [np.asarray(v, dtype=np.float64) for v in layer.get_weights()]
            weights.append((w[0], w[1] if len(w) > 1 else None))
    return weights


def reference_forward(model, X, activations) -> np.ndarray:
    """The output a plain Dense chain with `activations` would give with `model`'s weights."""
    a = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    for (W, b), act in zip(dense_weights(model), activations, strict=True):
        z = a @ W + (b if b is not None else 0.0)
        a = ACTIVATIONS[act](z)
    return a


def model_output(model, X) -> np.ndarray:
    return np.asarray(model(np.asarray(X, dtype="float32"), training=False), dtype=np.float64)


def build_mlp(input_shape, units, activations):
    import keras

    layers = [keras.Input(shape=input_shape)]
    if len(input_shape) > 1:
        layers.append(keras.layers.Flatten())
    layers += [keras.layers.Dense(u, activation=a) for u, a in zip(units, activations, strict=True)]
    return keras.Sequential(layers)


def build_iris():
    return build_mlp((4,), (20, 10, 3), ("relu", "relu", "softmax"))


def build_fashion_mlp():
    return build_mlp((28, 28), (300, 100, 10), ("relu", "relu", "softmax"))


def keras_accuracy(model, X, y) -> float:
    p = model.predict(np.asarray(X, dtype="float32"), verbose=0, batch_size=512)
    return float(np.mean(np.argmax(p, axis=1) == np.asarray(y)))


def train_fashion(model, X, y, epochs=10, batch_size=64, lr=1e-3, seed=0):
    """The hidden tests' recipe: Adam with a cosine-decaying learning rate."""
    import keras

    keras.utils.set_random_seed(seed)
    steps = epochs * int(np.ceil(len(X) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(lr, decay_steps=steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model.fit(X, y, epochs=epochs, batch_size=batch_size, verbose=0)


# ------------------------------------------------------------------------ PyTorch
def linear_layers(module):
    import torch

    return [m for m in module.modules() if isinstance(m, torch.nn.Linear)]


def torch_reference_forward(module, X) -> np.ndarray:
    """relu between the Linear layers, nothing after the last one (logits)."""
    a = np.asarray(X, dtype=np.float64)
    layers = linear_layers(module)
    for i, lin in enumerate(layers):
        W = lin.weight.detach().cpu().double().numpy()
        b = lin.bias.detach().cpu().double().numpy() if lin.bias is not None else 0.0
        a = a @ W.T + b
        if i < len(layers) - 1:
            a = np.maximum(a, 0.0)
    return a


def make_iris_net():
    import torch
    from torch import nn

    class IrisNetRef(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 20), nn.ReLU(), nn.Linear(20, 10), nn.ReLU(),
                                     nn.Linear(10, 3))

        def forward(self, x):
            return self.net(x)

    torch.manual_seed(0)
    return IrisNetRef()


def torch_accuracy(model, X, y, device="cpu") -> float:
    import torch

    model.eval()
    with torch.no_grad():
        logits = model(torch.as_tensor(np.asarray(X), dtype=torch.float32, device=device))
    model.train()
    return float((logits.argmax(1).cpu().numpy() == np.asarray(y)).mean())


class GradSpy:
    """Counts backward passes and those that found a stale gradient left in `.grad`.

    A hook on each parameter runs when backward computes its gradient, before the
    gradient is added to `.grad`: if `.grad` then holds anything but zeros, the previous
    step's gradient was never cleared (a forgotten `zero_grad`).
    """

    def __init__(self, model):
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.backward_calls = 0
        self.stale = 0
        self._handles = []

    def _hook(self, p, first):
        def hook(grad):
            if first:
                self.backward_calls += 1
            if p.grad is not None and bool((p.grad != 0).any()):
                self.stale_params.add(id(p))
                if first:
                    self.stale += 1
            return grad

        return hook

    def __enter__(self):
        self.stale_params = set()
        for i, p in enumerate(self.params):
            self._handles.append(p.register_hook(self._hook(p, i == 0)))
        return self

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()
        return False


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start
