"""Instructor-only references for notebook 04_keras_api (left out of the student bundle).

Hidden tests use these to inspect students' models by behaviour (weights and outputs),
so that every correct way of writing a model passes: `Dense(10, activation="sigmoid")`
or `Dense(10)` followed by `Activation("sigmoid")`, `Sequential([...])` or `.add()`.
"""

from __future__ import annotations

import numpy as np

# The inspection helpers are public (dlcourse.testkit.keras): they hold no answer.
from ..testkit.keras import (  # noqa: F401  (re-exported)
    dense_summary,
    dense_weights,
    ensure_built,
    layer_summary,
    model_output,
)

ACTIVATIONS = {
    "linear": lambda z: z,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "softmax": lambda z: np.exp(z - z.max(-1, keepdims=True))
    / np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True),
}


# ------------------------------------------------------------------ Keras models
def reference_forward(model, X, activations) -> np.ndarray:
    """The output a plain Dense chain with `activations` would give with `model`'s weights."""
    a = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    for (W, b), act in zip(dense_weights(model), activations, strict=True):
        z = a @ W + (b if b is not None else 0.0)
        a = ACTIVATIONS[act](z)
    return a


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


def torch_reference_forward(weights, X) -> np.ndarray:
    """relu between the Linear layers, nothing after the last one (logits).

    `weights`: [(weight (out, in), bias or None)] of the Linear layers, in order
    (`dlcourse.testkit.keras.linear_weights`).
    """
    a = np.asarray(X, dtype=np.float64)
    for i, (W, b) in enumerate(weights):
        a = a @ np.asarray(W, dtype=np.float64).T + (0.0 if b is None else np.asarray(b, dtype=np.float64))
        if i < len(weights) - 1:
            a = np.maximum(a, 0.0)
    return a


def torch_accuracy(model, X, y, device="cpu") -> float:
    import torch

    model.eval()
    with torch.no_grad():
        logits = model(torch.as_tensor(np.asarray(X), dtype=torch.float32, device=device))
    model.train()
    return float((logits.argmax(1).cpu().numpy() == np.asarray(y)).mean())
