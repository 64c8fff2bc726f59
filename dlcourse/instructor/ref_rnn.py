"""Reference code for the hidden tests of 05_rnn_lstm (instructor-only).

Numpy references of the exercises, the Keras layers they must equal (run in float64,
loaded with the same weights), and the fixed, small forecasting run that checks a
student's `build_lstm_forecaster` beats the naive "next = last" forecast.
"""

from __future__ import annotations

import numpy as np

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


def random_lstm(rng, n, t, f, h, scale=0.5):
    """(x, h0, c0, kernel, recurrent_kernel, bias) in float64."""
    return (rng.normal(size=(n, t, f)), rng.normal(scale=0.8, size=(n, h)),
            rng.normal(scale=0.8, size=(n, h)), rng.normal(scale=scale, size=(f, 4 * h)),
            rng.normal(scale=scale, size=(h, 4 * h)), rng.normal(scale=scale, size=(4 * h,)))


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


def forecast_scores(build, protocol=None):
    """Train `build(window, features=1, units=...)` on sunspots with the fixed protocol.

    Returns a dict of MAE/RMSE (in sunspot numbers) of the model and of the naive
    forecast on the chronological test split, and the model's output shape.
    """
    import keras

    p = dict(FORECAST, **(protocol or {}))
    X_tr, y_tr, X_te, y_te, scale = sunspot_split(p["window"], p["train_fraction"])
    keras.utils.set_random_seed(p["seed"])
    model = build(p["window"], features=1, units=p["units"])
    model.compile(optimizer=keras.optimizers.Adam(p["lr"]), loss="mse")
    model.fit(X_tr, y_tr, epochs=p["epochs"], batch_size=p["batch_size"], verbose=0,
              shuffle=True)
    y_hat = keras.ops.convert_to_numpy(model(X_te, training=False))
    out = {"shape": y_hat.shape, "n_test": len(y_te)}
    if y_hat.shape != y_te.shape:
        return out
    err = (y_hat - y_te) * scale
    naive = (X_te[:, -1, :] - y_te) * scale
    out.update(mae=float(np.mean(np.abs(err))), rmse=float(np.sqrt(np.mean(err ** 2))),
               naive_mae=float(np.mean(np.abs(naive))),
               naive_rmse=float(np.sqrt(np.mean(naive ** 2))))
    return out
