"""Reference code for the hidden tests of 06_rnn_lstm (instructor-only).

Numpy references of the exercises, the Keras layers they must equal (run in float64,
loaded with the same weights), and the fixed, small forecasting run that checks a
student's `build_lstm_forecaster` beats the naive "next = last" forecast.
"""

from __future__ import annotations

import numpy as np

from ..testkit.rnn import random_lstm  # noqa: F401 (re-exported)

# The fixed forecasting protocol of the hidden test (about 3 s on one CPU core).
FORECAST = {"window": 12, "units": 16, "epochs": 40, "batch_size": 32, "lr": 1e-2,
            "train_fraction": 0.8, "seed": 0}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def make_windows(series, window, horizon=1):
    s = np.asarray(series)
    if s.ndim == 1:
        s = s[:, None]
    n = s.shape[0] - window - horizon + 1
    X = np.stack([s[i:i + window] for i in range(n)])
    y = np.stack([s[i + window + horizon - 1] for i in range(n)])
    return X, y


def rnn_cell_forward(x_t, h_prev, Wx, Wh, b):
    return np.tanh(x_t @ Wx + h_prev @ Wh + b)


def lstm_cell_forward(x_t, h_prev, c_prev, kernel, recurrent_kernel, bias):
    z = x_t @ kernel + h_prev @ recurrent_kernel + bias
    i, f, g, o = np.split(z, 4, axis=-1)
    c = sigmoid(f) * c_prev + sigmoid(i) * np.tanh(g)
    h = sigmoid(o) * np.tanh(c)
    return h, c


def lstm_forward(x, h0, c0, kernel, recurrent_kernel, bias):
    h, c, out = h0, c0, []
    for t in range(x.shape[1]):
        h, c = lstm_cell_forward(x[:, t], h, c, kernel, recurrent_kernel, bias)
        out.append(h)
    return np.stack(out, axis=1)


def count_lstm_params(units, features):
    return 4 * (units * (features + units) + units)


def keras_lstm_params(units: int, features: int) -> int:
    """Keras's own count for LSTM(units) over `features` inputs, built here, in the judge."""
    import keras

    layer = keras.layers.LSTM(units)
    layer.build((None, 5, features))
    return int(layer.count_params())


def keras_simple_rnn(x, h0, Wx, Wh, b):
    """All hidden states `(N, T, H)` of keras.layers.SimpleRNN loaded with (Wx, Wh, b), float64."""
    import keras

    layer = keras.layers.SimpleRNN(Wh.shape[0], return_sequences=True, dtype="float64")
    layer.build(x.shape)
    layer.set_weights([Wx, Wh, b])
    return keras.ops.convert_to_numpy(layer(x, initial_state=[h0]))


def keras_lstm(x, h0, c0, kernel, recurrent_kernel, bias, return_state=False):
    """All hidden states `(N, T, H)` of keras.layers.LSTM(return_sequences=True), float64;
    with `return_state`, also the last (h, c)."""
    import keras

    layer = keras.layers.LSTM(recurrent_kernel.shape[0], return_sequences=True,
                              return_state=return_state, dtype="float64")
    layer.build(x.shape)
    layer.set_weights([kernel, recurrent_kernel, bias])
    out = layer(x, initial_state=[h0, c0])
    if return_state:
        return tuple(keras.ops.convert_to_numpy(o) for o in out)
    return keras.ops.convert_to_numpy(out)


def sunspot_split(window, train_fraction=0.8):
    """Scaled sunspot windows split chronologically, and the scale.

    Returns (X_train, y_train, X_test, y_test, scale): every training target comes
    before every test target; values are divided by the training period's maximum.
    """
    from dlcourse.series import load_sunspots

    _, values = load_sunspots(as_numpy=True)
    n_train = int(train_fraction * len(values))
    scale = values[:n_train].max()
    X, y = make_windows((values / scale).astype(np.float32), window)
    target_index = np.arange(len(y)) + window
    train = target_index < n_train
    return X[train], y[train], X[~train], y[~train], float(scale)


def forecast_scores(model, protocol=None):
    """Train the architecture of `model` on sunspots with the fixed protocol.

    `model` is a Keras model (what the student's `build_lstm_forecaster(window, features=1,
    units=...)` returned) or a builder called like that. A model is cloned: its layers, with
    fresh weights drawn after seeding, so only its architecture counts (never weights it came
    with). Returns a dict of MAE/RMSE (in sunspot numbers) of the model and of the naive
    forecast on the chronological test split, and the model's output shape.
    """
    import keras

    p = dict(FORECAST, **(protocol or {}))
    X_tr, y_tr, X_te, y_te, scale = sunspot_split(p["window"], p["train_fraction"])
    keras.utils.set_random_seed(p["seed"])
    if isinstance(model, keras.Model):
        model = keras.models.clone_model(model)
    else:
        model = model(p["window"], features=1, units=p["units"])
    model.compile(optimizer=keras.optimizers.Adam(p["lr"]), loss="mse")
    out = {"shape": (len(y_te), *tuple(model.output_shape)[1:]), "n_test": len(y_te)}
    if tuple(model.output_shape) != (None, 1):  # one forecast per window, or it cannot be scored
        return out
    model.fit(X_tr, y_tr, epochs=p["epochs"], batch_size=p["batch_size"], verbose=0,
              shuffle=True)
    y_hat = keras.ops.convert_to_numpy(model(X_te, training=False))
    out["shape"] = y_hat.shape
    if y_hat.shape != y_te.shape:
        return out
    err = (y_hat - y_te) * scale
    naive = (X_te[:, -1, :] - y_te) * scale
    out.update(mae=float(np.mean(np.abs(err))), rmse=float(np.sqrt(np.mean(err ** 2))),
               naive_mae=float(np.mean(np.abs(naive))),
               naive_rmse=float(np.sqrt(np.mean(naive ** 2))))
    return out


def gru_cell_forward(x_t, h_prev, kernel, recurrent_kernel, bias):
    """One step of keras.layers.GRU(reset_after=True): blocks (z, r, h), bias rows (input, recurrent)."""
    x_z, x_r, x_h = np.split(x_t @ kernel + bias[0], 3, axis=-1)
    h_z, h_r, h_h = np.split(h_prev @ recurrent_kernel + bias[1], 3, axis=-1)
    z = sigmoid(x_z + h_z)
    r = sigmoid(x_r + h_r)
    candidate = np.tanh(x_h + r * h_h)
    return z * h_prev + (1.0 - z) * candidate


def keras_gru(x, h0, kernel, recurrent_kernel, bias):
    """All hidden states `(N, T, H)` of keras.layers.GRU(reset_after=True) loaded with the weights, float64."""
    import keras

    layer = keras.layers.GRU(recurrent_kernel.shape[0], return_sequences=True, reset_after=True,
                             dtype="float64")
    layer.build(x.shape)
    layer.set_weights([kernel, recurrent_kernel, bias])
    return keras.ops.convert_to_numpy(layer(x, initial_state=[h0]))


# -- the character-level language model ---------------------------------------------------------
# The fixed training protocol of the hidden perplexity test: the architecture the student's
# build_char_lm returns, with fresh weights, trained on the first `train_chars` characters of the
# training text, scored on the whole validation text (about a minute on one CPU core).
CHAR_LM = {"embed_dim": 32, "units": 128, "seq_len": 64, "train_chars": 180_000, "epochs": 5,
           "batch_size": 64, "lr": 1e-2, "seed": 0}
CHAR_LM_MAX_PARAMS = 400_000  # the budget: a bigger model would not train in the judge's time
# Validation perplexity at this protocol: the reference 6.06, 5.88, 6.28, 6.02, 6.40 (seeds 0-4, mean
# 6.13); a GRU (valid alternative) 5.28-5.60; no memory (Embedding -> Dense) 9.94; probabilities
# instead of logits 37.6.
CHAR_LM_BAR = 7.0


def build_char_lm(vocab_size, embed_dim=32, units=128):
    import keras

    return keras.Sequential([
        keras.Input(shape=(None,), dtype="int32"),
        keras.layers.Embedding(vocab_size, embed_dim),
        keras.layers.LSTM(units, return_sequences=True),
        keras.layers.Dense(vocab_size),
    ])


def encode(text, vocab):
    index = {ch: i for i, ch in enumerate(vocab)}
    return np.array([index[ch] for ch in text], dtype=np.int32)


def char_windows(ids, seq_len):
    """Non-overlapping (inputs, targets) windows of `ids`: the targets are the inputs shifted by one."""
    n = (len(ids) - 1) // seq_len
    X = ids[:n * seq_len].reshape(n, seq_len)
    y = ids[1:n * seq_len + 1].reshape(n, seq_len)
    return X, y


def log_softmax(z):
    z = np.asarray(z, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def perplexity(logits, targets):
    """exp of the mean cross-entropy (natural log) of the next characters, from logits."""
    lp = log_softmax(logits)
    nll = -np.take_along_axis(lp, np.asarray(targets)[..., None], axis=-1)[..., 0]
    return float(np.exp(nll.mean()))


def char_lm_perplexity(model, protocol=None):
    """Train the architecture of `model` (fresh weights) with the fixed protocol; return a dict with
    the validation perplexity, the training time and the output shape."""
    import time

    import keras

    from dlcourse.data import DOM_CASMURRO_VOCAB, load_dom_casmurro

    p = dict(CHAR_LM, **(protocol or {}))
    train_text, val_text = load_dom_casmurro()
    V = len(DOM_CASMURRO_VOCAB)
    X_tr, y_tr = char_windows(encode(train_text[:p["train_chars"]], DOM_CASMURRO_VOCAB), p["seq_len"])
    X_va, y_va = char_windows(encode(val_text, DOM_CASMURRO_VOCAB), p["seq_len"])
    keras.utils.set_random_seed(p["seed"])
    if isinstance(model, keras.Model):
        model = keras.models.clone_model(model)
    else:
        model = model(V, embed_dim=p["embed_dim"], units=p["units"])
    out = {"params": int(model.count_params())}
    probe = keras.ops.convert_to_numpy(model(X_va[:2, :8]))
    out["shape"] = tuple(probe.shape)
    if probe.shape != (2, 8, V) or out["params"] > CHAR_LM_MAX_PARAMS:
        return out
    model.compile(optimizer=keras.optimizers.Adam(p["lr"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    start = time.perf_counter()
    model.fit(X_tr, y_tr, epochs=p["epochs"], batch_size=p["batch_size"], verbose=0, shuffle=True)
    out["seconds"] = time.perf_counter() - start
    logits = model.predict(X_va, batch_size=256, verbose=0)
    out["perplexity"] = perplexity(logits, y_va)
    return out


def next_logits(model, ids):
    """The model's logits for the character after the sequence `ids`, float64 (V,)."""
    import keras

    x = np.asarray(ids, dtype=np.int32)[None, :]
    return keras.ops.convert_to_numpy(model(x))[0, -1].astype(np.float64)


def sample_text(model, seed_text, n, temperature, rng, vocab=None):
    from dlcourse.data import DOM_CASMURRO_VOCAB

    vocab = vocab or DOM_CASMURRO_VOCAB
    ids = list(encode(seed_text, vocab))
    out = []
    for _ in range(n):
        z = next_logits(model, ids) / temperature
        p = np.exp(z - z.max())
        p /= p.sum()
        i = int(rng.choice(len(vocab), p=p))
        ids.append(i)
        out.append(vocab[i])
    return "".join(out)


# Answer keys of the concept questions (instructor-only: never in the release).
QUESTIONS = {
    "q_bidirectional": {
        "answer": "b",
        "why": {
            "a": "The sentence is finished before it is tagged: every word exists, and reading the words after "
                 "a word is allowed (and helps to tell a noun from a verb).",
            "c": "The 12 years of the window all come before the forecast year: reading that window in both "
                 "directions uses only the past. Only years after the forecast would be a leak.",
            "d": "The call has ended when it is labelled: the whole recording exists, so reading it both ways "
                 "is allowed.",
        },
    },
    "q_input_shape": {
        "answer": "a",
        "why": {
            "b": "Keras recurrent layers read (samples, time steps, features): the time axis comes second and "
                 "the features last. (32, 2, 50) would be 2 steps of 50 features.",
            "c": "(50, 32, 2) is the time-major layout some libraries use internally; Keras layers take "
                 "batch-major input (samples first).",
            "d": "A trailing axis of size 1 is the channel axis of an image; a recurrent layer has none. Its "
                 "input is 3-D: (samples, time steps, features).",
        },
    },
    "q_sequences_shape": {
        "answer": "b",
        "why": {
            "a": "(16, 32) is the output with the default return_sequences=False: only the last hidden state. "
                 "With return_sequences=True you get one hidden state per time step.",
            "c": "The last axis holds the layer's units (32), not the input features (2): each hidden state "
                 "has H = 32 numbers.",
            "d": "Each hidden state mixes all the input features into H = 32 numbers; there is no separate "
                 "state per feature. The output is (16, 50, 32).",
        },
    },
    "q_gru_params": {
        "value": 3456,
        "rtol": 0.0,
        "why": "3 blocks (z, r, h), each with a (F, H) kernel slice, a (H, H) recurrent slice and, with "
               "reset_after=True, two biases of H: 3 * (2*32 + 32*32 + 2*32) = 3 * 1152 = 3456. With one bias "
               "per block it would be 3 * 1120 = 3360.",
    },
    "q_vanishing": {
        "answer": "a",
        "why": {
            "b": "The cell state is updated as c_t = f * c_(t-1) + i * candidate, so one step back along c "
                 "multiplies the gradient by f = 0.97, not by 1 - f. Twenty steps give 0.97**20, about 0.54.",
            "c": "No tanh lies on the path from c_(t-1) to c_t: the update only scales by f and adds. That is "
                 "why the LSTM's gradient decays more slowly than a simple RNN's. Here: 0.97**20, about 0.54.",
            "d": "Each step back multiplies the gradient by the forget gate, 0.97, which is below 1. Over 20 "
                 "steps it shrinks to 0.97**20, about 0.54. The memory is perfect only when f = 1.",
        },
    },
}


def rnn_forward(x, h0, Wx, Wh, b):
    """All hidden states `(N, T, H)` of the tanh RNN (keras.layers.SimpleRNN's layout)."""
    h, out = h0, []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ Wx + h @ Wh + b)
        out.append(h)
    return np.stack(out, axis=1)


def rnn_backward(x, h0, Wx, Wh, b, dhs):
    """BPTT of the tanh RNN: `(dx, dh0, dWx, dWh, db)` for the upstream gradient `dhs` `(N, T, H)`
    on every hidden state."""
    hs = rnn_forward(x, h0, Wx, Wh, b)
    dx = np.zeros_like(x, dtype=np.result_type(x, dhs))
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh_next = np.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        h_prev = hs[:, t - 1] if t > 0 else h0
        da = (dhs[:, t] + dh_next) * (1.0 - hs[:, t] ** 2)
        dx[:, t] = da @ Wx.T
        dWx += x[:, t].T @ da
        dWh += h_prev.T @ da
        db += da.sum(axis=0)
        dh_next = da @ Wh.T
    return dx, dh_next, dWx, dWh, db


RNN_GRADIENTS = ("dx", "dh0", "dWx", "dWh", "db")


def numeric_rnn_gradients(x, h0, Wx, Wh, b, dhs) -> dict:
    """Central differences (float64) of L = sum(rnn_forward(...) * dhs) with respect to every
    argument: what a correct rnn_backward returns, by name."""
    from .reference import central_gradient

    args = [np.array(a, dtype=np.float64) for a in (x, h0, Wx, Wh, b)]

    def grad(i):
        def loss(a):
            trial = list(args)
            trial[i] = a
            return float(np.sum(rnn_forward(*trial) * dhs))
        return central_gradient(loss, args[i].copy())

    return {name: grad(i) for i, name in enumerate(RNN_GRADIENTS)}


def torch_rnn_gradients(x, h0, Wx, Wh, b, dhs) -> dict:
    """The same gradients by torch autograd (float64), through torch.nn.RNN loaded with the weights
    (PyTorch stores them transposed, and two biases: b and 0)."""
    import torch

    t64 = {"dtype": torch.float64}
    N, T, F = x.shape
    H = Wh.shape[0]
    rnn = torch.nn.RNN(F, H, nonlinearity="tanh", batch_first=True, **t64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.as_tensor(Wx.T, **t64))
        rnn.weight_hh_l0.copy_(torch.as_tensor(Wh.T, **t64))
        rnn.bias_ih_l0.copy_(torch.as_tensor(b, **t64))
        rnn.bias_hh_l0.zero_()
    xt = torch.as_tensor(x, **t64).requires_grad_(True)
    h0t = torch.as_tensor(h0, **t64)[None].requires_grad_(True)
    out, _ = rnn(xt, h0t)
    (out * torch.as_tensor(dhs, **t64)).sum().backward()
    return {"dx": xt.grad.numpy(), "dh0": h0t.grad[0].numpy(),
            "dWx": rnn.weight_ih_l0.grad.numpy().T, "dWh": rnn.weight_hh_l0.grad.numpy().T,
            "db": rnn.bias_ih_l0.grad.numpy()}
