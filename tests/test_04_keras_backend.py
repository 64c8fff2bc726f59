"""Keras 3 runs the notebook's Keras code on the PyTorch backend (notebook 04, section 6).

Keras reads KERAS_BACKEND once, at import, so the check runs in a fresh subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

SCRIPT = r"""
import json
import keras
import numpy as np

keras.utils.set_random_seed(0)
model = keras.Sequential([
    keras.Input(shape=(4,)),
    keras.layers.Dense(8, activation="relu"),
    keras.layers.Dense(3, activation="softmax"),
])
rng = np.random.default_rng(0)
X = rng.normal(size=(64, 4)).astype("float32")
y = (X[:, 0] > 0).astype("int64") + (X[:, 1] > 0)
# the forward pass equals the numpy computation with the same weights
W1, b1, W2, b2 = [np.asarray(w, dtype=np.float64) for w in model.get_weights()]
h = np.maximum(X @ W1 + b1, 0)
z = h @ W2 + b2
expected = np.exp(z - z.max(1, keepdims=True))
expected /= expected.sum(1, keepdims=True)
got = np.asarray(model.predict(X, verbose=0), dtype=np.float64)
model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(X, y, epochs=30, batch_size=16, verbose=0)
print(json.dumps({
    "backend": keras.backend.backend(),
    "weight_module": type(model.layers[0].kernel.value).__module__,
    "max_forward_error": float(np.abs(got - expected).max()),
    "first_loss": history.history["loss"][0],
    "last_loss": history.history["loss"][-1],
}))
"""


def test_same_keras_code_runs_on_torch_backend():
    # one CPU thread: faster for a tiny network, and no oversubscription under pytest -n
    env = {**os.environ, "KERAS_BACKEND": "torch", "CUDA_VISIBLE_DEVICES": "",
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["backend"] == "torch"
    assert result["weight_module"].startswith("torch")
    assert result["max_forward_error"] < 1e-5
    assert result["last_loss"] < 0.8 * result["first_loss"], result
