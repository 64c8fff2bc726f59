# metadata: {"dlcourse": {"judged": true}}

# %% [markdown] id=markdown-1
# # 06 · Recurrent networks: an RNN and an LSTM by hand, then a sunspot forecast
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({{COLAB_URL}})
#
# A dense network sees its input all at once. A **recurrent** network reads a sequence one
# step at a time. It carries a **memory** (the hidden state) from one step to the next, so
# what it outputs now depends on what it has seen before. The **LSTM** (Long Short-Term
# Memory) adds a cell state and three gates so that the memory survives over longer
# sequences. You will measure how far back a gradient reaches in each.
#
# In this notebook you cut a time series into the 3-D windows Keras expects. You write a
# simple RNN and an LSTM in numpy and prove that they equal `keras.layers.SimpleRNN` and
# `keras.layers.LSTM` given the same weights. You backpropagate through time by hand,
# count the slides' LSTM parameters, and finally train a Keras LSTM on three centuries of
# real sunspot counts.
#
# **Goals**
# 1. Build `(samples, timesteps, features)` windows of a series, with no target leaking in.
# 2. Work out the SimpleRNN cell from the shapes of its weights.
# 3. Backpropagate through time (BPTT) by hand, and see how far back a gradient reaches.
# 4. Write the LSTM cell and the whole-sequence forward pass with Keras's weight layout
#    and gate order (i, f, c, o).
# 5. Measure the vanishing gradient: how much the last output still depends on earlier
#    inputs, for a SimpleRNN, an LSTM and a GRU.
# 6. Write the GRU cell (Keras's `reset_after=True` layout) and prove it equals `keras.layers.GRU`.
# 7. Count an LSTM's parameters.
# 8. Build an LSTM forecaster and beat the naive "next year = this year" forecast.
# 9. Train a character-level language model on *Dom Casmurro*, measure its perplexity, and
#    write text with it at three temperatures.
# 10. See where a `Bidirectional` layer helps and where it cheats.
#
# Short **questions** (set a variable such as `q_input_shape = "b"`) check the ideas; each
# wrong answer gets an explanation when it is graded. **Written questions** ask you to explain
# in a few sentences; a person grades them.
#
# Fill in every cell that says `# YOUR CODE HERE`, then run the test cell below it.
# Some tests are hidden: they run when your notebook is graded.

# %% setup id=setup-1
# Set-up: in Colab this installs the course package; elsewhere it does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "{{COURSE_PIP}}"], check=True)

# %% setup id=setup-2
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from dlcourse.env import device_report, seed_everything  # before keras: quiet TensorFlow

import keras

from dlcourse.plotting import draw_lstm_cell
from dlcourse.series import load_sunspots
from dlcourse.testkit.rnn import random_gru, random_lstm, random_rnn
from dlcourse.testing import (check, check_answer, check_choice, check_close, check_shape, check_unchanged,
                              passed, show)

seed_everything(0)
device_report(("numpy", "tensorflow", "keras"));

# %% params id=params-1
# Training size: CI sets DLCOURSE_SMOKE=1 for a quick run; the published notebook uses
# the full values.
SMOKE = os.environ.get("DLCOURSE_SMOKE") == "1"
WINDOW = 12          # years the model sees before each forecast (a solar cycle is ~11 years)
UNITS = 32           # LSTM units
NUM_EPOCHS = 2 if SMOKE else 80
BATCH_SIZE = 16
LR = 5e-3

# %% [markdown] id=markdown-2
# ## 1 · Sequences are 3-D
#
# The slides insist: the input of a Keras recurrent layer **must be 3-D**,
# `(s, t, f)`:
# - `s`: the number of samples (sequences) in the batch,
# - `t`: the number of observations in each sample = the number of **time steps**,
# - `f`: the number of features in each observation.
#
# So `[[[1], [1], [0], [2]], [[1], [1], [0], [2]]]` is 2 samples of 4 time steps with
# 1 feature each (shape `(2, 4, 1)`), while `[[[1, 1, 0, 2]], [[1, 1, 0, 2]]]` is 2 samples
# of **1** time step with 4 features (shape `(2, 1, 4)`). Same numbers, a very different
# meaning: the first is a sequence the RNN reads step by step, the second is one step.
#
# To forecast a series we cut it into **windows**: the inputs are `window` consecutive
# values, the target is the value `horizon` steps after the window's last one.
#
# ```
# series:  s0  s1  s2  s3  s4  s5  s6  s7  s8  s9          window = 3, horizon = 1
# X[0]  = [s0  s1  s2]  ->  y[0] = s3
# X[1]  =     [s1  s2  s3]  ->  y[1] = s4
# ...
# X[6]  =                     [s6  s7  s8]  ->  y[6] = s9
# ```
#
# Two classic bugs are common here. The first takes the window's own last value as the target.
# The answer is then inside the input: the model "forecasts" perfectly in training and is
# useless after. The second returns 2-D windows `(samples, window)`, which Keras will not take.
#
# ### Exercise 1.1 · Warm-up (transcription): `make_windows`
# This is the notebook's one warm-up: its full specification is below.
# - `series` is `(T,)` (one feature) or `(T, features)`; treat `(T,)` as `(T, 1)`.
# - `X[i] = series[i : i + window]`, shaped `(samples, window, features)`.
# - `y[i] = series[i + window + horizon - 1]`, shaped `(samples, features)`.
# - `samples = T - window - horizon + 1`.

# %% solution id=make_windows
def make_windows(series, window, horizon=1):
    """Cut a series into input windows and the targets that follow them.

    Args:
        series: array (T,) or (T, features).
        window: number of time steps in each input window.
        horizon: how many steps after the window's last step the target lies (1 = the next).
    Returns:
        (X, y): X of shape (samples, window, features), y of shape (samples, features),
        with samples = T - window - horizon + 1.
    """
    ### BEGIN SOLUTION
    series = np.asarray(series)
    if series.ndim == 1:
        series = series[:, None]
    samples = series.shape[0] - window - horizon + 1
    X = np.stack([series[i:i + window] for i in range(samples)])
    y = np.stack([series[i + window + horizon - 1] for i in range(samples)])
    return X, y
    ### END SOLUTION

# %% [markdown] id=markdown-3
# **Expected output:** `X` has shape `(7, 3, 1)` and `y` `(7, 1)`; the first window is
# `[0, 1, 2]` with target `3`, the last `[6, 7, 8]` with target `9`.

# %% id=code-1
X_demo, y_demo = make_windows(np.arange(10.0), window=3)
print("X:", X_demo.shape, " y:", y_demo.shape)
for i in (0, 1, len(X_demo) - 1):
    print(f"X[{i}] = {X_demo[i, :, 0]}  ->  y[{i}] = {y_demo[i]}")

# %% test id=test_make_windows points=2
"""make_windows on a 1-D series: 3-D windows, the right targets, no target inside its window."""
series = np.arange(10.0)
X_t, y_t = make_windows(series, window=3)
check_shape(X_t, (7, 3, 1), "X of make_windows(np.arange(10.0), window=3)",
            hint="X must be 3-D (samples, window, features): a 1-D series has 1 feature, "
                 "so reshape it to (T, 1) first.")
check_shape(y_t, (7, 1), "y of make_windows(np.arange(10.0), window=3)",
            hint="y has shape (samples, features); samples = T - window - horizon + 1.")
check_close(X_t[0, :, 0], [0.0, 1.0, 2.0], "the first window X[0]")
check_close(y_t[:, 0], np.arange(3.0, 10.0), "the targets y for window=3, horizon=1",
            hint="y[i] = series[i + window + horizon - 1]: the value right AFTER the window, "
                 "not its last value (that would leak the target into the input).")
check(not np.any(X_t[:, :, 0] == y_t), "a target appears inside its own input window: the "
      "target leaks into the input.", hint="y[i] = series[i + window + horizon - 1].")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_rnn

rng = np.random.default_rng(501)
for T, window in [(20, 5), (13, 1), (8, 7), (50, 12)]:
    s = rng.normal(size=T)
    before = s.copy()
    X_h, y_h = make_windows(s, window)
    expected = ref_rnn.make_windows(s, window)  # (X, y)
    X_r, y_r = expected[0], expected[1]
    check_unchanged(before, s, "the input series")
    check_close(X_h, X_r, f"X of make_windows for T={T}, window={window}",
                hint="X[i] = series[i : i + window], shape (samples, window, 1).")
    check_close(y_h, y_r, f"y of make_windows for T={T}, window={window}",
                hint="y[i] = series[i + window + horizon - 1], shape (samples, 1).")
### END HIDDEN TESTS
passed("make_windows")

# %% test id=test_make_windows_features points=1
"""make_windows with several features and a horizon > 1."""
series = np.arange(24.0).reshape(12, 2)      # 12 time steps, 2 features
X_t, y_t = make_windows(series, window=4, horizon=3)
check_shape(X_t, (6, 4, 2), "X of make_windows on a (12, 2) series, window=4, horizon=3",
            hint="samples = T - window - horizon + 1 = 12 - 4 - 3 + 1 = 6.")
check_shape(y_t, (6, 2), "y of make_windows on a (12, 2) series, window=4, horizon=3")
check_close(y_t[0], series[6], "y[0] with window=4, horizon=3",
            hint="the target of window 0 is series[0 + 4 + 3 - 1] = series[6].")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_rnn

rng = np.random.default_rng(502)
for T, f, window, horizon in [(30, 3, 6, 2), (15, 1, 4, 5), (9, 4, 1, 1), (10, 2, 5, 5)]:
    s = rng.normal(size=(T, f))
    before = s.copy()
    X_h, y_h = make_windows(s, window, horizon=horizon)
    expected = ref_rnn.make_windows(s, window, horizon)  # (X, y)
    X_r, y_r = expected[0], expected[1]
    check_unchanged(before, s, "the input series")
    label = f"T={T}, features={f}, window={window}, horizon={horizon}"
    check_close(X_h, X_r, f"X of make_windows for {label}",
                hint="X[i] = series[i : i + window] keeps all the features: "
                     "(samples, window, features).")
    check_close(y_h, y_r, f"y of make_windows for {label}",
                hint="y[i] = series[i + window + horizon - 1] (all features).")
### END HIDDEN TESTS
passed("make_windows_features")

# %% [markdown] id=markdown-4
# ### Question 1.2 · The input shape
# A batch holds 32 sequences; each has 50 time steps of 2 features. Which array shape does
# `keras.layers.LSTM` expect?
#
# - **a** `(32, 50, 2)`
# - **b** `(32, 2, 50)`
# - **c** `(50, 32, 2)`
# - **d** `(32, 50, 2, 1)`
#
# Set `q_input_shape` to one letter.

# %% solution id=q_input_shape
# Your answer: q_input_shape = "<one letter: a, b, c or d>"
### BEGIN SOLUTION
q_input_shape = "a"
### END SOLUTION

# %% test id=test_q_input_shape points=1
"""q_input_shape: the 3-D input of a Keras recurrent layer."""
check_choice(q_input_shape, ['a', 'b', 'c', 'd'], "q_input_shape")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_rnn

check_answer(q_input_shape, ref_rnn.QUESTIONS["q_input_shape"], "q_input_shape")
### END HIDDEN TESTS
passed("q_input_shape")

# %% [markdown] id=markdown-5
# ## 2 · The simple RNN: one cell, a sequence, and its gradient
#
# A recurrent layer applies the **same cell** at every time step. The simple RNN cell
# mixes the current input $x_t$ (shape `(N, F)`) with the previous hidden state
# $h_{t-1}$ (`(N, H)`). It returns the new hidden state $h_t$ (`(N, H)`), squashed by `tanh`.
#
# ```
#         h_0          h_1          h_2                 h_T  (the outputs)
#  h_0 ──> [cell] ──h_1──> [cell] ──h_2──> ... ──> [cell] ──> h_T
#            ^               ^                        ^
#           x_1             x_2                      x_T       (the same W_x, W_h, b)
# ```
#
# Keras stores three arrays: `SimpleRNN(H).get_weights()` returns
# `[kernel (F, H), recurrent_kernel (H, H), bias (H,)]`, which we call $[W_x, W_h, b]$.
# The activation is `tanh`, not `relu`. With `relu` the hidden state can grow without
# bound, because $W_h$ acts on it at every step; `tanh` keeps it in $(-1, 1)$.
#
# ### Exercise 2.1 · `rnn_cell_forward`
# Work the cell out from the shapes. Each input has exactly one weight array whose shape fits
# it, and the result must have the shape `(N, H)`. Add the two products and the bias, then
# apply the activation. If the check fails, its message shows the formula.

# %% solution id=rnn_cell_forward
def rnn_cell_forward(x_t, h_prev, Wx, Wh, b):
    """One step of a simple RNN (keras.layers.SimpleRNN with its default tanh).

    Args:
        x_t: inputs at this step, shape (N, F).
        h_prev: previous hidden state, shape (N, H).
        Wx: input weights (Keras's `kernel`), shape (F, H).
        Wh: recurrent weights (Keras's `recurrent_kernel`), shape (H, H).
        b: bias, shape (H,).
    Returns:
        h: the new hidden state, shape (N, H).
    """
    ### BEGIN SOLUTION
    return np.tanh(x_t @ Wx + h_prev @ Wh + b)
    ### END SOLUTION

# %% [markdown] id=markdown-6
# Now the proof: unroll your cell over a whole sequence and compare it with Keras's
# `SimpleRNN` loaded with the same weights (`set_weights`). **Expected:** a largest
# difference around `1e-7` (Keras computes in float32).

# %% id=code-2
rng = np.random.default_rng(0)
N, T, F, H = 2, 6, 3, 4
x_seq = rng.normal(size=(N, T, F)).astype("float32")
Wx_d, Wh_d, b_d = rng.normal(size=(F, H)), rng.normal(size=(H, H)), rng.normal(size=H)
simple_rnn = keras.layers.SimpleRNN(H, return_sequences=True)
simple_rnn.build((N, T, F))
simple_rnn.set_weights([Wx_d, Wh_d, b_d])
h_keras = keras.ops.convert_to_numpy(simple_rnn(x_seq))
h = np.zeros((N, H))
h_mine = []
for t in range(T):
    h = rnn_cell_forward(x_seq[:, t], h, Wx_d, Wh_d, b_d)
    h_mine.append(h)
h_mine = np.stack(h_mine, axis=1)
print("largest difference from keras.layers.SimpleRNN:", np.abs(h_mine - h_keras).max())

# %% test id=test_rnn_cell_forward points=2
"""rnn_cell_forward: shape, a small case by hand, and keras.layers.SimpleRNN with the same
weights."""
x1 = np.array([[1.0, 2.0]])
Wx1 = np.array([[0.1], [0.2]])
Wh1 = np.array([[-1.0]])
h_a = rnn_cell_forward(x1, np.array([[0.5]]), Wx1, Wh1, np.array([0.3]))
check_shape(h_a, (1, 1), "rnn_cell_forward for N=1, F=2, H=1")
check_close(h_a, [[np.tanh(0.1 + 0.4 - 0.5 + 0.3)]], "rnn_cell_forward on x=[1, 2], h_prev=0.5",
            hint="h = tanh(x_t @ Wx + h_prev @ Wh + b).")
h_b = rnn_cell_forward(x1, np.array([[1.5]]), Wx1, Wh1, np.array([0.3]))
check_close(h_b, [[np.tanh(0.1 + 0.4 - 1.5 + 0.3)]],
            "rnn_cell_forward with a negative pre-activation",
            hint="the SimpleRNN activation is tanh: negative values stay negative "
                 "(relu would give 0).")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_rnn

rng = np.random.default_rng(503)
for N, T, F, H in [(3, 1, 4, 5), (2, 7, 1, 3), (5, 4, 6, 2), (1, 9, 3, 8)]:
    x = rng.normal(size=(N, T, F))
    h0 = rng.normal(scale=0.8, size=(N, H))
    Wx, Wh, b = rng.normal(size=(F, H)), rng.normal(scale=0.7, size=(H, H)), rng.normal(size=H)
    expected = ref_rnn.keras_simple_rnn(x, h0, Wx, Wh, b)
    got = rnn_cell_forward(x[:, 0], h0, Wx, Wh, b)
    label = f"N={N}, F={F}, H={H}"
    check_close(got, expected[:, 0],
                f"rnn_cell_forward against keras.layers.SimpleRNN, one step, {label}",
                rtol=1e-7, atol=1e-10,
                hint="h = tanh(x_t @ Wx + h_prev @ Wh + b) with Keras's kernel (F, H) and "
                     "recurrent_kernel (H, H) as they are (no transpose).")
    h = h0
    for t in range(T):
        h = rnn_cell_forward(x[:, t], h, Wx, Wh, b)
    check_close(h, expected[:, -1],
                f"rnn_cell_forward unrolled over {T} steps against SimpleRNN, {label}",
                rtol=1e-7, atol=1e-10)
### END HIDDEN TESTS
passed("rnn_cell_forward")

# %% [markdown] id=markdown-bptt-1
# ### Exercise 2.2 · `rnn_forward`
# A layer runs the cell over the time axis of `x` `(N, T, F)`, starting from $h_0$. Return the
# hidden state of every step, shape `(N, T, H)`, in time order (not $h_0$ itself). You may
# call your `rnn_cell_forward`.

# %% solution id=rnn_forward
def rnn_forward(x, h0, Wx, Wh, b):
    """The simple RNN over a whole sequence (keras.layers.SimpleRNN with return_sequences=True).

    Args:
        x: inputs, shape (N, T, F).
        h0: initial hidden state, shape (N, H).
        Wx (F, H), Wh (H, H), b (H,): the weights, as in rnn_cell_forward.
    Returns:
        array (N, T, H): the hidden state after each time step.
    """
    ### BEGIN SOLUTION
    h = h0
    hs = []
    for t in range(x.shape[1]):
        h = rnn_cell_forward(x[:, t], h, Wx, Wh, b)
        hs.append(h)
    return np.stack(hs, axis=1)
    ### END SOLUTION

# %% test id=test_rnn_forward points=2
"""rnn_forward: shape (N, T, H), the state carried from step to step, and keras.layers.SimpleRNN
(return_sequences=True) with the same weights."""
N, T, F, H = 2, 3, 1, 1
ones = np.ones((N, T, F))
hs_t = rnn_forward(ones, np.zeros((N, H)), np.ones((F, H)), np.ones((H, H)), np.zeros(H))
check_shape(hs_t, (N, T, H), "rnn_forward for N=2, T=3, F=1, H=1",
            hint="return the hidden state of EVERY step, stacked on axis 1: (N, T, H), without h0.")
h1 = np.tanh(1.0)
check_close(hs_t[0, :, 0], [h1, np.tanh(1.0 + h1), np.tanh(1.0 + np.tanh(1.0 + h1))],
            "rnn_forward with x = 1, h0 = 0 and every weight 1",
            hint="carry h from each step into the next: h_t = rnn_cell_forward(x[:, t], h_(t-1), ...).")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_rnn

rng = np.random.default_rng(508)
for N, T, F, H in [(3, 5, 4, 6), (1, 1, 2, 3), (2, 12, 1, 4), (4, 7, 5, 1)]:
    x = rng.normal(size=(N, T, F))
    h0 = rng.normal(scale=0.8, size=(N, H))
    Wx, Wh, b = rng.normal(size=(F, H)), rng.normal(scale=0.7, size=(H, H)), rng.normal(size=H)
    before = [a.copy() for a in (x, h0)]
    got = rnn_forward(x, h0, Wx, Wh, b)
    check_close(got, ref_rnn.keras_simple_rnn(x, h0, Wx, Wh, b),
                f"rnn_forward against keras.layers.SimpleRNN(return_sequences=True), N={N}, T={T}, "
                f"F={F}, H={H}", rtol=1e-7, atol=1e-10,
                hint="start from h0, carry h through the steps in time order, keep every step's h.")
    for name, b_, a_ in zip(("x", "h0"), before, (x, h0), strict=True):
        check_unchanged(b_, a_, f"the input {name}")
### END HIDDEN TESTS
passed("rnn_forward")

# %% [markdown] id=markdown-bptt-2
# ### Exercise 2.3 · `rnn_backward`: backpropagation through time
#
# Training needs the gradient of a loss $L$ with respect to the weights. Unroll the RNN over
# its $T$ steps, as in the drawing above: it becomes an ordinary deep network, and ordinary
# backpropagation applies. This is **backpropagation through time** (BPTT). Two things are new.
# The same $W_x$, $W_h$ and $b$ serve every step. And the loss may depend on every hidden
# state, not only on the last one.
#
# Your function receives `dhs` `(N, T, H)`, with `dhs[:, t]` $= \partial L / \partial h_t$ as
# the layers above the RNN see it (the direct part only). It returns
# `(dx, dh0, dWx, dWh, db)`, each shaped like `x`, `h0`, `Wx`, `Wh` and `b`. It recomputes the
# forward pass itself (call your `rnn_forward`). Its output must equal the gradient of
# $L = \sum_{n,t,j} \text{hs}_{ntj} \cdot \text{dhs}_{ntj}$.
#
# Work it out on paper first, for $T = 3$:
# - Along how many paths does $h_1$ change $L$?
# - What is the derivative of `tanh`, written with its output $h$ rather than its input?
# - A weight that serves three steps gets how many contributions to its gradient?
#
# <details><summary>Hint (try first)</summary>
#
# Go through the steps backwards, $t = T-1, \ldots, 0$, and carry one array from each step to
# the one before it: the gradient that step $t+1$ sends back to $h_t$. At step $t$, first add
# up everything that reaches $h_t$, then go back through `tanh`. From there, the gradients of
# $x_t$, $W_x$, $W_h$, $b$ and $h_{t-1}$ follow as in a dense layer. What is left at the end is
# `dh0`.
# </details>
#
# The checks compare your gradients with central differences (and, when graded, with PyTorch's
# autograd). A failing check's message shows the formula it expected.

# %% solution id=rnn_backward
def rnn_backward(x, h0, Wx, Wh, b, dhs):
    """Backpropagation through time for the simple tanh RNN.

    Args:
        x (N, T, F), h0 (N, H), Wx (F, H), Wh (H, H), b (H,): what rnn_forward was called with.
        dhs: (N, T, H), the gradient of the loss on every hidden state, from the layers above.
    Returns:
        (dx, dh0, dWx, dWh, db), shaped like x, h0, Wx, Wh and b.
    """
    ### BEGIN SOLUTION
    hs = rnn_forward(x, h0, Wx, Wh, b)
    dx = np.zeros(x.shape)
    dWx, dWh, db = np.zeros(Wx.shape), np.zeros(Wh.shape), np.zeros(b.shape)
    dh_next = np.zeros(h0.shape)                 # what step t+1 sends back to h_t
    for t in reversed(range(x.shape[1])):
        h_prev = hs[:, t - 1] if t > 0 else h0
        da = (dhs[:, t] + dh_next) * (1.0 - hs[:, t] ** 2)
        dx[:, t] = da @ Wx.T
        dWx += x[:, t].T @ da
        dWh += h_prev.T @ da
        db += da.sum(axis=0)
        dh_next = da @ Wh.T
    return dx, dh_next, dWx, dWh, db
    ### END SOLUTION

# %% test id=test_rnn_backward points=3
"""rnn_backward, the weight gradients dWx, dWh and db: shapes, and central differences (float64) of
L = sum(rnn_forward(...) * dhs); hidden: more shapes, and PyTorch's autograd."""
from dlcourse.testkit.rnn import numeric_gradient, random_rnn, simple_rnn_states

x_v, h0_v, Wx_v, Wh_v, b_v, dhs_v = random_rnn(np.random.default_rng(7), 2, 4, 3, 3)
got_v = rnn_backward(x_v, h0_v, Wx_v, Wh_v, b_v, dhs_v)
check(isinstance(got_v, (tuple, list)) and len(got_v) == 5,
      f"rnn_backward should return a tuple (dx, dh0, dWx, dWh, db), got {show(got_v)}.")
for name, value, arg in [("dWx", got_v[2], Wx_v), ("dWh", got_v[3], Wh_v), ("db", got_v[4], b_v)]:
    check_shape(value, arg.shape, f"{name} of rnn_backward for N=2, T=4, F=3, H=3")
# the loss whose gradient rnn_backward must return (PyTorch's nn.RNN gives the forward pass)
loss_v = lambda Wx_, Wh_, b_: np.sum(simple_rnn_states(x_v, h0_v, Wx_, Wh_, b_) * dhs_v)  # noqa: E731
formula = ("at step t (going backwards) the gradient on h_t is dhs[:, t] + the gradient sent back "
           "from step t+1; through tanh, da_t = that * (1 - h_t**2) (tanh' written with the output h_t); "
           "step t sends da_t @ Wh.T back to h_(t-1).")
check_close(got_v[4], numeric_gradient(lambda a: loss_v(Wx_v, Wh_v, a), b_v),
            "db against central differences", rtol=1e-5, atol=1e-7,
            hint=formula + " db = the sum of da_t over the batch AND the time steps.")
check_close(got_v[2], numeric_gradient(lambda a: loss_v(a, Wh_v, b_v), Wx_v),
            "dWx against central differences", rtol=1e-5, atol=1e-7,
            hint=formula + " dWx = the sum over t of x_t.T @ da_t.")
check_close(got_v[3], numeric_gradient(lambda a: loss_v(Wx_v, a, b_v), Wh_v),
            "dWh against central differences", rtol=1e-5, atol=1e-7,
            hint=formula + " dWh = the sum over t of h_(t-1).T @ da_t, with h_(-1) = h0.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_rnn
from dlcourse.instructor.reference import norm_rel_error
from dlcourse.testkit.rnn import random_rnn

rng = np.random.default_rng(509)
for N, T, F, H in [(2, 5, 3, 4), (1, 1, 2, 3), (3, 7, 1, 2), (2, 3, 4, 1)]:
    args = random_rnn(rng, N, T, F, H)
    before = [a.copy() for a in args]
    got = rnn_backward(*args)
    check(isinstance(got, (tuple, list)) and len(got) == 5,
          "rnn_backward should return a tuple (dx, dh0, dWx, dWh, db).")
    numeric = ref_rnn.numeric_rnn_gradients(*args)
    label = f"N={N}, T={T}, F={F}, H={H}"
    for i, name in ((2, "dWx"), (3, "dWh"), (4, "db")):
        check_shape(got[i], numeric[name].shape, f"{name} of rnn_backward, {label}")
        err = norm_rel_error(got[i], numeric[name])
        check(err < 1e-7, f"{name} of rnn_backward, {label}, does not match central differences: "
              f"relative error {err:.1e}.",
              hint="sum every step's contribution; the gradient on h_t is dhs[:, t] plus what step t+1 "
                   "sends back; tanh' = 1 - h_t**2.")
    for name, b_, a_ in zip(("x", "h0", "Wx", "Wh", "b", "dhs"), before, args, strict=True):
        check_unchanged(b_, a_, f"the input {name}")
args = random_rnn(rng, 4, 9, 3, 5, scale=0.9)
got = rnn_backward(*args)
auto = ref_rnn.torch_rnn_gradients(*args)
for i, name in ((2, "dWx"), (3, "dWh"), (4, "db")):
    check_close(got[i], auto[name], f"{name} of rnn_backward against torch autograd, N=4, T=9, F=3, H=5",
                rtol=1e-7, atol=1e-10)
    exact = norm_rel_error(got[i], auto[name])
    check(exact < 1e-11, f"{name} of rnn_backward is {exact:.1e} away (relative) from torch autograd: exact "
          "float64 backpropagation through time is within 1e-13; central differences are not.",
          hint="derive the gradient with the chain rule, step by step backwards; do not estimate it by "
               "finite differences.")
### END HIDDEN TESTS
passed("rnn_backward")

# %% test id=test_rnn_backward_inputs points=2
"""rnn_backward, the input gradients dx and dh0: shapes, and central differences (float64);
hidden: more shapes, and PyTorch's autograd."""
from dlcourse.testkit.rnn import numeric_gradient, random_rnn, simple_rnn_states

x_v, h0_v, Wx_v, Wh_v, b_v, dhs_v = random_rnn(np.random.default_rng(8), 2, 4, 3, 3)
got_v = rnn_backward(x_v, h0_v, Wx_v, Wh_v, b_v, dhs_v)
check(isinstance(got_v, (tuple, list)) and len(got_v) == 5,
      f"rnn_backward should return a tuple (dx, dh0, dWx, dWh, db), got {show(got_v)}.")
check_shape(got_v[0], x_v.shape, "dx of rnn_backward for N=2, T=4, F=3, H=3")
check_shape(got_v[1], h0_v.shape, "dh0 of rnn_backward for N=2, T=4, F=3, H=3")
loss_v = lambda x_, h0_: np.sum(simple_rnn_states(x_, h0_, Wx_v, Wh_v, b_v) * dhs_v)  # noqa: E731
formula = ("at step t (going backwards) the gradient on h_t is dhs[:, t] + the gradient sent back "
           "from step t+1; through tanh, da_t = that * (1 - h_t**2); step t sends da_t @ Wh.T back to "
           "h_(t-1).")
check_close(got_v[0], numeric_gradient(lambda a: loss_v(a, h0_v), x_v),
            "dx against central differences", rtol=1e-5, atol=1e-7,
            hint=formula + " dx[:, t] = da_t @ Wx.T.")
check_close(got_v[1], numeric_gradient(lambda a: loss_v(x_v, a), h0_v),
            "dh0 against central differences", rtol=1e-5, atol=1e-7,
            hint=formula + " dh0 is what the first step sends back: da_0 @ Wh.T.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_rnn
from dlcourse.instructor.reference import norm_rel_error
from dlcourse.testkit.rnn import random_rnn

rng = np.random.default_rng(510)
for N, T, F, H in [(2, 5, 3, 4), (1, 1, 2, 3), (3, 7, 1, 2), (2, 3, 4, 1)]:
    args = random_rnn(rng, N, T, F, H)
    before = [a.copy() for a in args]
    got = rnn_backward(*args)
    check(isinstance(got, (tuple, list)) and len(got) == 5,
          "rnn_backward should return a tuple (dx, dh0, dWx, dWh, db).")
    numeric = ref_rnn.numeric_rnn_gradients(*args)
    label = f"N={N}, T={T}, F={F}, H={H}"
    for i, name in ((0, "dx"), (1, "dh0")):
        check_shape(got[i], numeric[name].shape, f"{name} of rnn_backward, {label}")
        err = norm_rel_error(got[i], numeric[name])
        check(err < 1e-7, f"{name} of rnn_backward, {label}, does not match central differences: "
              f"relative error {err:.1e}.",
              hint="dx[:, t] = da_t @ Wx.T; dh0 is what step 0 sends back, da_0 @ Wh.T.")
    for name, b_, a_ in zip(("x", "h0", "Wx", "Wh", "b", "dhs"), before, args, strict=True):
        check_unchanged(b_, a_, f"the input {name}")
args = random_rnn(rng, 4, 9, 3, 5, scale=0.9)
got = rnn_backward(*args)
auto = ref_rnn.torch_rnn_gradients(*args)
for i, name in ((0, "dx"), (1, "dh0")):
    check_close(got[i], auto[name], f"{name} of rnn_backward against torch autograd, N=4, T=9, F=3, H=5",
                rtol=1e-7, atol=1e-10)
    exact = norm_rel_error(got[i], auto[name])
    check(exact < 1e-11, f"{name} of rnn_backward is {exact:.1e} away (relative) from torch autograd: exact "
          "float64 backpropagation through time is within 1e-13; central differences are not.",
          hint="derive the gradient with the chain rule, step by step backwards; do not estimate it by "
               "finite differences.")
### END HIDDEN TESTS
passed("rnn_backward (dx, dh0)")

# %% [markdown] id=markdown-bptt-3
# ### 2.4 · How far back does a gradient reach?
#
# The cell below uses your `rnn_backward`. It puts a gradient on the **last** hidden state only
# (`dhs` is zero at every other step). So `dx[:, T-1-k]` is what reaches the input $k$ steps
# back. The input weights and the inputs stay the same; only the recurrent weights $W_h$
# change. They are drawn with a standard deviation of `scale / sqrt(H)`, at two scales.

# %% id=code-bptt-1
T_BP, F_BP, H_BP = 40, 4, 16
rng_bp = np.random.default_rng(1)
x_bp = rng_bp.normal(size=(32, T_BP, F_BP))
Wx_bp = rng_bp.normal(scale=1 / np.sqrt(F_BP), size=(F_BP, H_BP))
W_unit = rng_bp.normal(scale=1 / np.sqrt(H_BP), size=(H_BP, H_BP))
dhs_bp = np.zeros((32, T_BP, H_BP))
dhs_bp[:, -1] = rng_bp.normal(size=(32, H_BP))           # a gradient on the last state only
k_back = np.arange(T_BP)                                  # k = 0 is the last step
fig, ax = plt.subplots(figsize=(8, 4))
for scale in (0.5, 2.0):
    dx_bp = rnn_backward(x_bp, np.zeros((32, H_BP)), Wx_bp, scale * W_unit, np.zeros(H_BP), dhs_bp)[0]
    norms = np.linalg.norm(dx_bp, axis=2).mean(axis=0)[::-1]     # indexed by k
    ax.semilogy(k_back, norms, "o-", ms=3, label=f"W_h scale {scale}")
    print(f"scale {scale}: " + "  ".join(f"k={k}: {norms[k]:.1e}" for k in (0, 5, 10, 20, 39)))
ax.set(xlabel="steps back from the last output, k", ylabel="||dL / dx_(T-1-k)||  (log scale)",
       title="BPTT: the gradient reaching step T-1-k (tanh RNN, H = 16)")
ax.legend()
plt.show()

# %% written id=w_bptt_scales points=2
# **Written question 2.5 (2 points).** Explain the figure above in three to five sentences.
# Why does the gradient at scale 0.5 fall along a straight line on the log scale? What happens at
# scale 2.0, and what stops it from growing without limit? What does each case mean for an RNN
# that must learn that an input 30 steps back decides the output?
#
# === BEGIN MARK SCHEME ===
#
# **Model answer.** Each step back multiplies the gradient by the same kind of factor: the
# derivative of tanh, $1 - h_t^2 \le 1$, times $W_h^\top$. At scale 0.5 that product shrinks
# vectors by roughly a fixed factor each step, so the norm falls geometrically, a straight line on
# a log scale (from about 2.5 to $10^{-4}$ after 10 steps and $10^{-8}$ after 20). At scale 2.0,
# $W_h$ stretches vectors by more than 1, so the gradient does not vanish: it stays large and
# grows (to about 30 after 39 steps). It grows far more slowly than $2^k$ because the hidden
# states saturate: a large $W_h$ drives $h_t$ towards $\pm 1$, and then $1 - h_t^2$ is near 0 and
# damps the product. At scale 0.5
# an input 30 steps back receives practically no gradient, so the RNN cannot learn the dependency
# (vanishing gradient). At scale 2.0 the gradient reaches it, but it is large and unstable
# (exploding gradients, which need clipping), and saturated units learn slowly.
#
# **Rubric.** 2 points: the per-step factor ($\tanh'$ times $W_h$) repeated $k$ times gives
# geometric decay, hence a straight line; at scale 2.0 the gradient stays large or grows, limited
# by tanh saturation ($1 - h^2 \to 0$); and a consequence for a 30-step dependency (vanishing: no
# learning signal; large: unstable, clipping). 1 point: the repeated factor explained, but the
# role of saturation or the consequence missing. 0 points: "the network forgets" or "the weights
# are too small" with no mechanism.
#
# === END MARK SCHEME ===

# %% [markdown] id=markdown-7
# ## 3 · The LSTM cell
#
# An LSTM carries **two** states from step to step: the hidden state $h$ (its output) and
# the **cell state** $c$ (its long-term memory). Three gates, each a number between 0 and 1
# per unit (a sigmoid), decide what flows:
#
# - the **input gate** $i$: how much of the new candidate to write into the memory,
# - the **forget gate** $f$: how much of the old memory to keep,
# - the **output gate** $o$: how much of the memory to show as the output,
#
# and a **candidate** $\tilde c$ is the new information. The candidate goes through `tanh`, so it
# lies in $(-1, 1)$ and can add or remove. Each of the four blocks is computed from $x_t$ and
# $h_{t-1}$ as in the simple RNN's cell, with its own weights and bias, and then goes through its
# own activation.
#
# The figure below draws the cell. The cell state runs along the top, and the four blocks sit
# below it; $h_t$ leaves on the right. Follow the arrows: from the figure and the roles above,
# write down the new cell state $c_t$ and the new hidden state $h_t$ yourself.

# %% id=fig-lstm
draw_lstm_cell(formulas=False)   # the drawing helper is in dlcourse/plotting.py
plt.show()

# %% [markdown] id=markdown-lstm-2
# **Keras's weight layout.** `keras.layers.LSTM(H)` stores one big matrix for all four
# blocks, side by side in the order **(i, f, c, o)**:
# - `kernel` $W$: `(F, 4H)` = `[W_i | W_f | W_c | W_o]`,
# - `recurrent_kernel` $U$: `(H, 4H)`,
# - `bias` $b$: `(4H,)`.
#
# So one product with each matrix gives all four blocks at once, as one `(N, 4H)` array;
# `np.split(z, 4, axis=-1)` cuts it into four `(N, H)` blocks.

# %% id=code-3
lstm_demo = keras.layers.LSTM(3)
lstm_demo.build((None, 50, 2))   # 50 time steps of 2 features, 3 units
for w in lstm_demo.weights:
    print(f"{w.path:<35} {tuple(w.shape)}")

# %% [markdown] id=markdown-8
# ### Exercise 3.1 · `lstm_cell_forward`
# Which arrow in the figure must be computed before the other? Decide this before you write
# $h_t$. If a check fails, its message shows the formula it expected.

# %% solution id=lstm_cell_forward
def lstm_cell_forward(x_t, h_prev, c_prev, kernel, recurrent_kernel, bias):
    """One step of an LSTM with Keras's weight layout and gate order (i, f, c, o).

    Args:
        x_t: inputs at this step, shape (N, F).
        h_prev: previous hidden state, shape (N, H).
        c_prev: previous cell state, shape (N, H).
        kernel: input weights, shape (F, 4H).
        recurrent_kernel: recurrent weights, shape (H, 4H).
        bias: shape (4H,).
    Returns:
        (h, c): the new hidden state and cell state, each of shape (N, H).
    """
    ### BEGIN SOLUTION
    z = x_t @ kernel + h_prev @ recurrent_kernel + bias
    z_i, z_f, z_c, z_o = np.split(z, 4, axis=-1)
    i = 1.0 / (1.0 + np.exp(-z_i))
    f = 1.0 / (1.0 + np.exp(-z_f))
    c_tilde = np.tanh(z_c)
    o = 1.0 / (1.0 + np.exp(-z_o))
    c = f * c_prev + i * c_tilde
    h = o * np.tanh(c)
    return h, c
    ### END SOLUTION

# %% test id=test_lstm_cell_forward points=2
"""lstm_cell_forward: shapes, all-zero weights by hand, and keras.layers.LSTM with the same
weights."""
N, F, H = 2, 3, 4
c_prev = np.array([[1.0, -2.0, 0.5, 3.0], [0.0, 1.0, -1.0, 2.0]])
zeros = (np.zeros((N, F)), np.zeros((N, H)), c_prev, np.zeros((F, 4 * H)), np.zeros((H, 4 * H)),
         np.zeros(4 * H))
out = lstm_cell_forward(*zeros)
check(isinstance(out, tuple) and len(out) == 2, "lstm_cell_forward must return a tuple (h, c).")
h_z, c_z = out
check_shape(h_z, (N, H), "h of lstm_cell_forward for N=2, F=3, H=4")
check_shape(c_z, (N, H), "c of lstm_cell_forward for N=2, F=3, H=4")
check_close(c_z, 0.5 * c_prev,
            "c with all weights 0 (every gate is sigmoid(0) = 0.5, the candidate tanh(0) = 0)",
            hint="c = f * c_prev + i * candidate, where the candidate uses tanh (tanh(0) = 0), "
                 "not a sigmoid (sigmoid(0) = 0.5).")
check_close(h_z, 0.5 * np.tanh(0.5 * c_prev), "h with all weights 0",
            hint="h = o * tanh(c) with the NEW cell state c, not c_prev.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_rnn

rng = np.random.default_rng(504)
for N, F, H in [(3, 4, 5), (1, 1, 1), (4, 2, 7), (2, 6, 3)]:
    x, h0, c0, kernel, rec, bias = random_lstm(rng, N, 1, F, H, scale=0.8)
    # (every h, the last h, the last c) of keras.layers.LSTM
    keras_out = ref_rnn.keras_lstm(x, h0, c0, kernel, rec, bias, return_state=True)
    h_k, c_k = keras_out[0], keras_out[2]
    h_got, c_got = lstm_cell_forward(x[:, 0], h0, c0, kernel, rec, bias)
    label = f"N={N}, F={F}, H={H}"
    check_close(c_got, c_k, f"c of lstm_cell_forward against keras.layers.LSTM, {label}",
                atol=1e-10,
                hint="z = x_t @ kernel + h_prev @ recurrent_kernel + bias, split into (i, f, c, o) "
                     "blocks of H columns; c = sigmoid(f) * c_prev + sigmoid(i) * tanh(candidate).")
    check_close(h_got, h_k[:, 0], f"h of lstm_cell_forward against keras.layers.LSTM, {label}",
                atol=1e-10,
                hint="h = sigmoid(o) * tanh(c), with the new c.")
### END HIDDEN TESTS
passed("lstm_cell_forward")

# %% test id=test_lstm_cell_forward_gates points=2
"""lstm_cell_forward: each gate read from its own block of Keras's (i, f, c, o) layout."""
N, F, H = 2, 2, 3
rng_g = np.random.default_rng(5)
x_g, h_g = rng_g.normal(size=(N, F)), rng_g.normal(size=(N, H))
c_g = rng_g.normal(size=(N, H))
big = 30.0


def _gate_bias(i=0.0, f=0.0, c=0.0, o=0.0):
    return np.concatenate([np.full(H, i), np.full(H, f), np.full(H, c), np.full(H, o)])


no_weights = (np.zeros((F, 4 * H)), np.zeros((H, 4 * H)))
# forget gate open, input gate shut: the memory passes through unchanged.
h_k, c_k = lstm_cell_forward(x_g, h_g, c_g, *no_weights, _gate_bias(i=-big, f=big))
check_close(c_k, c_g, "c with the forget gate open (block 2 bias +30) and the input gate shut "
            "(block 1 bias -30)", atol=1e-9,
            hint="Keras's blocks are (i, f, c, o): columns 0:H input gate, H:2H forget gate, "
                 "2H:3H candidate, 3H:4H output gate.")
# input gate open, forget gate shut, candidate tanh(2): the memory is overwritten.
h_w, c_w = lstm_cell_forward(x_g, h_g, c_g, *no_weights, _gate_bias(i=big, f=-big, c=2.0, o=big))
check_close(c_w, np.full((N, H), np.tanh(2.0)),
            "c with the input gate open, the forget gate shut and "
            "candidate block bias 2", atol=1e-9,
            hint="the third block (columns 2H:3H) is the candidate, through tanh.")
check_close(h_w, np.tanh(c_w), "h with the output gate open (block 4 bias +30)", atol=1e-9,
            hint="the fourth block (columns 3H:4H) is the output gate; h = o * tanh(c) with the "
                 "new c.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_rnn

rng = np.random.default_rng(505)
for N, F, H in [(2, 3, 4), (3, 1, 6)]:
    # large, different gate biases make every wrong block order visible
    x, h0, c0, kernel, rec, _ = random_lstm(rng, N, 1, F, H, scale=0.3)
    bias = np.concatenate([np.full(H, -2.0), np.full(H, 3.0), rng.normal(scale=2.0, size=H),
                           np.full(H, 1.0)])
    # (every h, the last h, the last c) of keras.layers.LSTM
    keras_out = ref_rnn.keras_lstm(x, h0, c0, kernel, rec, bias, return_state=True)
    h_k, c_k = keras_out[0], keras_out[2]
    h_got, c_got = lstm_cell_forward(x[:, 0], h0, c0, kernel, rec, bias)
    label = f"N={N}, F={F}, H={H}"
    check_close(c_got, c_k, f"c against keras.layers.LSTM with distinct gate biases, {label}",
                atol=1e-10, hint="split z into (i, f, c, o), in that order.")
    check_close(h_got, h_k[:, 0], f"h against keras.layers.LSTM with distinct gate biases, {label}",
                atol=1e-10)
### END HIDDEN TESTS
passed("lstm_cell_forward_gates")

# %% [markdown] id=markdown-9
# ## 4 · The LSTM over a whole sequence
#
# A layer runs the cell over the time axis of `x` `(N, T, F)`, starting from $(h_0, c_0)$
# and **carrying both states** from each step to the next. With
# `return_sequences=True`, Keras returns the hidden state of every step, `(N, T, H)`;
# with the default `return_sequences=False`, only the last one, `(N, H)`.
#
# ### Exercise 4.1 · `lstm_forward`
# Return all the hidden states, shape `(N, T, H)`, in time order. You may call your
# `lstm_cell_forward`.

# %% solution id=lstm_forward
def lstm_forward(x, h0, c0, kernel, recurrent_kernel, bias):
    """The LSTM over a whole sequence (keras.layers.LSTM with return_sequences=True).

    Args:
        x: inputs, shape (N, T, F).
        h0, c0: initial hidden and cell states, each of shape (N, H).
        kernel: (F, 4H); recurrent_kernel: (H, 4H); bias: (4H,); gate order (i, f, c, o).
    Returns:
        array (N, T, H): the hidden state after each time step.
    """
    ### BEGIN SOLUTION
    h, c = h0, c0
    outputs = []
    for t in range(x.shape[1]):
        h, c = lstm_cell_forward(x[:, t, :], h, c, kernel, recurrent_kernel, bias)
        outputs.append(h)
    return np.stack(outputs, axis=1)
    ### END SOLUTION

# %% [markdown] id=markdown-10
# The proof, in float32 as Keras runs by default. **Expected:** a largest difference
# around `1e-7`.

# %% id=code-4
rng = np.random.default_rng(1)
N, T, F, H = 2, 10, 3, 5
x_seq = rng.normal(size=(N, T, F)).astype("float32")
lstm_layer = keras.layers.LSTM(H, return_sequences=True)
lstm_layer.build((N, T, F))
kernel_d, rec_d, bias_d = lstm_layer.get_weights()
h_keras = keras.ops.convert_to_numpy(lstm_layer(x_seq))   # Keras starts from zero states
h_mine = lstm_forward(x_seq, np.zeros((N, H)), np.zeros((N, H)), kernel_d, rec_d, bias_d)
print("shape", h_mine.shape)
print("largest difference from keras.layers.LSTM:", np.abs(h_mine - h_keras).max())

# %% test id=test_lstm_forward points=3
"""lstm_forward: shape (N, T, H), both states carried from step to step, and keras.layers.LSTM
(return_sequences=True) loaded with the same weights."""
N, T, F, H = 2, 4, 3, 2
c0 = np.array([[1.0, -2.0], [0.5, 3.0]])
zeros = (np.zeros((N, T, F)), np.zeros((N, H)), c0, np.zeros((F, 4 * H)), np.zeros((H, 4 * H)),
         np.zeros(4 * H))
hs = lstm_forward(*zeros)
check_shape(hs, (N, T, H), "lstm_forward for N=2, T=4, F=3, H=2",
            hint="return the hidden state of EVERY step, stacked on axis 1: (N, T, H).")
# all weights 0: every gate is 0.5 and the candidate 0, so c_t = 0.5**t * c0.
expected_c = np.stack([0.5 ** t * c0 for t in range(1, T + 1)], axis=1)
check_close(hs, 0.5 * np.tanh(expected_c), "lstm_forward with all weights 0 (c_t = 0.5**t * c0)",
            hint="carry BOTH h and c from each step into the next; start from h0 and c0.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_rnn

rng = np.random.default_rng(506)
for N, T, F, H in [(3, 5, 4, 6), (1, 1, 2, 3), (2, 12, 1, 4), (4, 7, 5, 1)]:
    x, h0, c0, kernel, rec, bias = random_lstm(rng, N, T, F, H)
    before = [a.copy() for a in (x, h0, c0)]
    expected = ref_rnn.keras_lstm(x, h0, c0, kernel, rec, bias)
    got = lstm_forward(x, h0, c0, kernel, rec, bias)
    label = f"N={N}, T={T}, F={F}, H={H}"
    check_close(got, expected,
                f"lstm_forward against keras.layers.LSTM(return_sequences=True), {label}",
                atol=1e-10, hint="start from (h0, c0), carry both states through the steps in time "
                                 "order, and keep the hidden state of every step.")
    for name, b_, a_ in zip(("x", "h0", "c0"), before, (x, h0, c0), strict=True):
        check_unchanged(b_, a_, f"the input {name}")
zero_h = np.zeros((2, 3))
x, _, _, kernel, rec, bias = random_lstm(rng, 2, 6, 3, 3)
check_close(lstm_forward(x, zero_h, zero_h, kernel, rec, bias),
            ref_rnn.keras_lstm(x, zero_h, zero_h, kernel, rec, bias),
            "lstm_forward from zero initial states", atol=1e-10)
### END HIDDEN TESTS
passed("lstm_forward")

# %% [markdown] id=markdown-11
# ### Question 4.2 · All the hidden states
# `keras.layers.LSTM(32, return_sequences=True)` reads a batch of shape `(16, 50, 2)`. What is
# the shape of its output?
#
# - **a** `(16, 32)`
# - **b** `(16, 50, 32)`
# - **c** `(16, 50, 2)`
# - **d** `(16, 50, 2, 32)`
#
# Set `q_sequences_shape` to one letter.

# %% solution id=q_sequences_shape
# Your answer: q_sequences_shape = "<one letter: a, b, c or d>"
### BEGIN SOLUTION
q_sequences_shape = "b"
### END SOLUTION

# %% test id=test_q_sequences_shape points=1
"""q_sequences_shape: the output shape with return_sequences=True."""
check_choice(q_sequences_shape, ['a', 'b', 'c', 'd'], "q_sequences_shape")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_rnn

check_answer(q_sequences_shape, ref_rnn.QUESTIONS["q_sequences_shape"], "q_sequences_shape")
### END HIDDEN TESTS
passed("q_sequences_shape")

# %% [markdown] id=markdown-12
# ## 5 · Does the gradient vanish? A measurement
#
# Section 2.4 showed it for your own RNN: each step back multiplies the gradient by one more
# factor. After $k$ steps it has shrunk roughly like a number below 1 to the power $k$. Do
# gated cells do better, with the weights Keras starts from?
#
# The cell below builds a `SimpleRNN`, an `LSTM` and a `GRU` of 16 units with the **same random
# seed**. It feeds them 8 random sequences of 50 steps. Then automatic differentiation measures
# how strongly the **last** hidden state $h_T$ depends on the input of each earlier step: the norm
# of the Jacobian $\partial h_T / \partial x_t$. The layers are untrained, with Keras's default
# initialisation; this cell is not graded.

# %% id=code-5
import tensorflow as tf


def gradient_norms(layer, x):
    """||d h_T / d x_t|| for every step t: how much the last output still feels each input.

    The Jacobian of the last hidden state (H numbers) with respect to the inputs of each step
    (F numbers), by automatic differentiation; its Frobenius norm, averaged over the batch.
    """
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        h_last = layer(x)                        # (B, H): return_sequences=False
    jac = tape.batch_jacobian(h_last, x)         # (B, H, T, F)
    return np.sqrt(np.sum(jac.numpy() ** 2, axis=(1, 3))).mean(axis=0)   # (T,)


T_VG, F_VG, H_VG = 50, 4, 16
x_vg = np.random.default_rng(0).normal(size=(8, T_VG, F_VG)).astype("float32")
grad_norms = {}
for name, make_layer in [("SimpleRNN", lambda: keras.layers.SimpleRNN(H_VG)),
                         ("LSTM", lambda: keras.layers.LSTM(H_VG)),
                         ("GRU", lambda: keras.layers.GRU(H_VG))]:
    keras.utils.set_random_seed(0)               # the same initial weights every run
    grad_norms[name] = gradient_norms(make_layer(), x_vg)

steps_back = T_VG - 1 - np.arange(T_VG)          # 0 = the last step
print("steps back:      " + "".join(f"{k:>10d}" for k in (0, 5, 10, 20, 30, 49)))
for name, g in grad_norms.items():
    print(f"{name:<16}" + "".join(f"{g[T_VG - 1 - k]:10.2e}" for k in (0, 5, 10, 20, 30, 49)))
fig, ax = plt.subplots(figsize=(8, 4))
for name, g in grad_norms.items():
    ax.semilogy(steps_back, g, label=name)
ax.set(xlabel="steps back from the last output  (T - 1 - t)", ylabel="||d h_T / d x_t||  (log scale)",
       title=f"How much the last output feels earlier inputs (T={T_VG}, H={H_VG}, untrained)")
ax.legend()
plt.show()

# %% [markdown] id=markdown-13
# **What the measurement shows.** These are the numbers printed above. On the course machine,
# from the last step to 49 steps back, they were: SimpleRNN `1.7` to `1e-6`, LSTM `0.32` to
# `1.6e-5`, GRU `0.70` to `2e-11`. All three decay roughly exponentially (straight lines on a log
# scale), so none of them is free of the problem at initialisation. The **LSTM's gradient decays
# more slowly** than the SimpleRNN's: by about a factor 0.82 per step against 0.75. Over 49 steps
# that leaves it a hundred times less diminished ($2 \cdot 10^4$ against $2 \cdot 10^6$).
#
# It still decays. Keras initialises the LSTM's forget bias to 1, so an untrained LSTM's forget
# gates sit near $\sigma(1) \approx 0.73$. Training can push them towards 1 where a long memory
# pays off. The untrained **GRU** decays fastest: its update gate starts near $\sigma(0) = 0.5$,
# and it stays there until training opens it. Gates give a network the *means* to keep a gradient
# alive; it learns to use them.

# %% [markdown] id=markdown-14
# ### Question 5.1 · A gradient along the cell state
# A trained LSTM unit has learnt to keep a fact. At each of 20 steps, its forget gate is 0.97
# and its input gate is 0. Follow the gradient of the loss back 20 steps along the cell state
# alone, from $c_t$ to $c_{t-20}$ (ignore the paths through $h$). It is multiplied by about:
#
# - **a** 0.54, one factor for each step
# - **b** 0.03, one factor of (1 − 0.97)
# - **c** 0, as a tanh' factor at every step
# - **d** 1, as the memory is perfect
#
# Use the cell-state update you wrote in `lstm_cell_forward`. Set `q_vanishing` to one letter.

# %% solution id=q_vanishing
# Your answer: q_vanishing = "<one letter: a, b, c or d>"
### BEGIN SOLUTION
q_vanishing = "a"
### END SOLUTION

# %% test id=test_q_vanishing points=1
"""q_vanishing: the factor a gradient keeps along an LSTM's cell state."""
check_choice(q_vanishing, ['a', 'b', 'c', 'd'], "q_vanishing")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_rnn

check_answer(q_vanishing, ref_rnn.QUESTIONS["q_vanishing"], "q_vanishing")
### END HIDDEN TESTS
passed("q_vanishing")

# %% [markdown] id=markdown-15
# ## 6 · The GRU cell
#
# The **GRU** (Gated Recurrent Unit) is a lighter cousin of the LSTM: no separate cell state,
# two gates instead of three. With $\sigma$ the sigmoid:
#
# - the **update gate** $z = \sigma(\ldots)$ decides how much of the old state to keep,
# - the **reset gate** $r = \sigma(\ldots)$ decides how much of the old state the candidate sees,
# - the **candidate** $\tilde h = \tanh(\ldots)$ is the new information, and
#
# $$h_t = z \odot h_{t-1} + (1 - z) \odot \tilde h.$$
#
# **Keras's layout** is that of `keras.layers.GRU(H)` with its default `reset_after=True`. The
# blocks are side by side in the order **(z, r, h)** in `kernel` `(F, 3H)` and in
# `recurrent_kernel` `(H, 3H)`. The `bias` has **two rows** `(2, 3H)`. `bias[0]` is added to the
# input part $x_t W$, and `bias[1]` to the recurrent part $h_{t-1} U$. With "reset after",
# the reset gate multiplies the recurrent part of the candidate **after** the matrix product and
# its bias.
#
# $$\tilde h = \tanh\bigl(x_t W_h + b^{\text{in}}_h + r \odot (h_{t-1} U_h + b^{\text{rec}}_h)\bigr)$$
#
# Work out the formulas for $z$ and $r$ from this layout before you open the hint.
#
# <details><summary>Hint (try first)</summary>
#
# Compute both products once, each with its own bias row, and split each into three `(N, H)`
# blocks. The candidate's formula above already uses the third block of each. The gates take
# the other blocks, in the order (z, r); unlike the candidate, no gate multiplies a part by $r$.
# If a check fails, its message shows the formula.
#
# PyTorch's `torch.nn.GRU` uses the same convention, $h_t = (1 - z) \odot n + z \odot h_{t-1}$
# with its candidate called $n$. Some textbooks swap the roles and put $z$ on the candidate.
# </details>
#
# ### Exercise 6.1 · `gru_cell_forward`

# %% solution id=gru_cell_forward
def gru_cell_forward(x_t, h_prev, kernel, recurrent_kernel, bias):
    """One step of keras.layers.GRU (reset_after=True) with Keras's weight layout.

    Args:
        x_t: inputs at this step, shape (N, F).
        h_prev: previous hidden state, shape (N, H).
        kernel: input weights, shape (F, 3H), blocks (z, r, h).
        recurrent_kernel: recurrent weights, shape (H, 3H), blocks (z, r, h).
        bias: shape (2, 3H): row 0 the input bias, row 1 the recurrent bias.
    Returns:
        h: the new hidden state, shape (N, H).
    """
    ### BEGIN SOLUTION
    a_z, a_r, a_h = np.split(x_t @ kernel + bias[0], 3, axis=-1)
    b_z, b_r, b_h = np.split(h_prev @ recurrent_kernel + bias[1], 3, axis=-1)
    z = 1.0 / (1.0 + np.exp(-(a_z + b_z)))
    r = 1.0 / (1.0 + np.exp(-(a_r + b_r)))
    candidate = np.tanh(a_h + r * b_h)
    return z * h_prev + (1.0 - z) * candidate
    ### END SOLUTION

# %% [markdown] id=markdown-16
# The proof against Keras, in float32. **Expected:** a largest difference around `1e-7`.

# %% id=code-6
rng = np.random.default_rng(2)
N, F, H = 3, 4, 5
x_step = rng.normal(size=(N, 1, F)).astype("float32")
gru_layer = keras.layers.GRU(H)
gru_layer.build((N, 1, F))
kernel_g, rec_g, bias_g = gru_layer.get_weights()
print("kernel", kernel_g.shape, " recurrent_kernel", rec_g.shape, " bias", bias_g.shape)
bias_g = rng.normal(scale=0.5, size=bias_g.shape).astype("float32")   # non-zero biases show more
gru_layer.set_weights([kernel_g, rec_g, bias_g])
h_start = rng.normal(size=(N, H)).astype("float32")
h_keras = keras.ops.convert_to_numpy(gru_layer(x_step, initial_state=[h_start]))
h_mine = gru_cell_forward(x_step[:, 0], h_start, kernel_g, rec_g, bias_g)
print("largest difference from keras.layers.GRU:", np.abs(h_mine - h_keras).max())

# %% test id=test_gru_cell_forward points=3
"""gru_cell_forward: shape, all-zero weights, the (z, r, h) block order and the two bias rows;
hidden: keras.layers.GRU(reset_after=True) with the same weights."""
N, F, H = 2, 3, 4
rng_v = np.random.default_rng(6)
x_v, h_v = rng_v.normal(size=(N, F)), rng_v.normal(size=(N, H))
no_weights = (np.zeros((F, 3 * H)), np.zeros((H, 3 * H)))
h_z = gru_cell_forward(x_v, h_v, *no_weights, np.zeros((2, 3 * H)))
check_shape(h_z, (N, H), "gru_cell_forward for N=2, F=3, H=4")
check_close(h_z, 0.5 * h_v, "h with all weights 0 (z = 0.5, candidate tanh(0) = 0)",
            hint="h = z * h_prev + (1 - z) * candidate, and the candidate uses tanh.")


def _row(z=0.0, r=0.0, h=0.0):
    return np.concatenate([np.full(H, z), np.full(H, r), np.full(H, h)])


big = 30.0
# update gate shut (block 1 input bias +30): the state passes through unchanged.
h_keep = gru_cell_forward(x_v, h_v, *no_weights, np.stack([_row(z=big, h=2.0), _row()]))
check_close(h_keep, h_v, "h with the update gate z = 1 (first block's input bias +30)", atol=1e-9,
            hint="Keras's blocks are (z, r, h), and Keras keeps z on the OLD state: "
                 "h = z * h_prev + (1 - z) * candidate, with z = sigmoid(A_z + B_z), "
                 "A = x @ kernel + bias[0], B = h_prev @ recurrent_kernel + bias[1].")
# update gate open, candidate input bias 2: the state is replaced by tanh(2).
h_new = gru_cell_forward(x_v, h_v, *no_weights, np.stack([_row(z=-big, h=2.0), _row()]))
check_close(h_new, np.full((N, H), np.tanh(2.0)), "h with z = 0 and the candidate's input bias 2",
            atol=1e-9, hint="the third block (columns 2H:3H) is the candidate; bias[0] is the input bias.")
# the recurrent bias of the candidate is scaled by the reset gate (r = sigmoid(0) = 0.5 here).
h_reset = gru_cell_forward(x_v, h_v, *no_weights, np.stack([_row(z=-big), _row(h=2.0)]))
check_close(h_reset, np.full((N, H), np.tanh(1.0)),
            "h with z = 0, r = 0.5 and the candidate's RECURRENT bias 2 (reset after: tanh(0.5 * 2))",
            atol=1e-9, hint="with reset_after=True, r = sigmoid(A_r + B_r) multiplies (h_prev @ U_h + "
                            "bias[1] block h), the recurrent bias included.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_rnn

rng = np.random.default_rng(507)
for N, F, H in [(3, 4, 5), (1, 1, 1), (4, 2, 7), (2, 6, 3)]:
    x, h0, kernel, rec, bias = random_gru(rng, N, 1, F, H, scale=0.8)
    before = [a.copy() for a in (x, h0, kernel, rec, bias)]
    expected = ref_rnn.keras_gru(x, h0, kernel, rec, bias)[:, 0]
    got = gru_cell_forward(x[:, 0], h0, kernel, rec, bias)
    check_close(got, expected, f"gru_cell_forward against keras.layers.GRU(reset_after=True), N={N}, F={F}, "
                f"H={H}", atol=1e-10,
                hint="z = sigmoid(A_z + B_z), r = sigmoid(A_r + B_r), candidate = tanh(A_h + r * B_h) with "
                     "A = x @ kernel + bias[0], B = h_prev @ recurrent_kernel + bias[1]; "
                     "h = z * h_prev + (1 - z) * candidate.")
    for name, b_, a_ in zip(("x", "h_prev", "kernel", "recurrent_kernel", "bias"), before,
                            (x, h0, kernel, rec, bias), strict=True):
        check_unchanged(b_, a_, f"the input {name}")
### END HIDDEN TESTS
passed("gru_cell_forward")

# %% [markdown] id=markdown-17
# ### Question 6.2 · Counting a GRU's parameters
# How many trainable parameters has `keras.layers.GRU(32)` on inputs with 2 features (Keras's
# default `reset_after=True`)? Set `q_gru_params` to an integer. (You may check your count with
# Keras afterwards, but count by hand first.)

# %% solution id=q_gru_params
# Your answer: q_gru_params = <a number>
### BEGIN SOLUTION
q_gru_params = 3456
### END SOLUTION

# %% test id=test_q_gru_params points=1
"""q_gru_params: the parameters of GRU(32) on 2 features."""
check(np.ndim(q_gru_params) == 0 and np.issubdtype(np.asarray(q_gru_params).dtype, np.number),
      f"q_gru_params: answer with a number, got {show(q_gru_params)}.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_rnn

check_answer(q_gru_params, ref_rnn.QUESTIONS["q_gru_params"], "q_gru_params")
### END HIDDEN TESTS
passed("q_gru_params")

# %% [markdown] id=markdown-18
# ## 7 · Counting an LSTM's parameters
#
# The slides' forecaster starts with the layer `LSTM(32, input_shape=(50, 2))`.
# `input_shape=(50, 2)` is the tuple `(time steps, features)`: 50 observations of 2 features
# each (the batch size is left out). How many parameters has this layer? Count them from the
# weight layout of Section 3.
#
# <details><summary>Hint (try first)</summary>
#
# Look again at the shapes that the cell after Section 3's layout printed, for 3 units on 2
# features. Count the numbers in each array. Then redo the count with the letters $H$ and $F$
# in place of 3 and 2.
# </details>
#
# Notice what is **not** in the count: the 50 time steps.
# The same weights serve every step, so a longer window costs no extra parameters.
# If your count is wrong, the check's message shows the formula.
#
# ### Exercise 7.1 · `count_lstm_params`

# %% solution id=count_lstm_params
def count_lstm_params(units, features):
    """Number of trainable parameters of keras.layers.LSTM(units) on `features` input features."""
    ### BEGIN SOLUTION
    return 4 * (features * units + units * units + units)
    ### END SOLUTION

# %% [markdown] id=markdown-19
# **Expected output:** `4480` for the slides' layer.

# %% id=code-7
print(count_lstm_params(32, 2))

# %% test id=test_count_lstm_params points=1
"""count_lstm_params: the slides' LSTM(32, input_shape=(50, 2)) and other sizes, against Keras."""
check(count_lstm_params(32, 2) == 4480, f"LSTM(32) on 2 features has 4,480 parameters, "
      f"count_lstm_params(32, 2) gave {show(count_lstm_params(32, 2))}.",
      hint="4 blocks x (kernel F*H + recurrent kernel H*H + bias H).")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_rnn

for units, features in [(1, 1), (8, 3), (50, 10), (7, 1)]:
    got = count_lstm_params(units, features)
    expected = ref_rnn.keras_lstm_params(units, features)  # Keras's layer, built in the grader alone
    check(got == expected,
          f"count_lstm_params({units}, {features}): expected {expected}, got {show(got)}.",
          hint="4 * (features * units + units * units + units): four blocks, each with its bias.")
### END HIDDEN TESTS
passed("count_lstm_params")

# %% [markdown] id=markdown-20
# ## 8 · An LSTM forecaster in Keras
#
# The slides' forecaster reads a window and gives **one number**, the forecast for the next year.
# It has two layers: the `LSTM` layer of Section 7 with `units` units, and one more layer.
#
# ### Exercise 8.1 · `build_lstm_forecaster`
# Build the slides' forecaster for any `window`, `features` and `units`, and return it
# **uncompiled**: the notebook compiles and fits it (create, compile, fit). It reads batches of
# shape `(batch, window, features)` and returns `(batch, 1)`. Derive the second layer from two
# facts. Does the LSTM hand on every hidden state, or only the last? And for
# `build_lstm_forecaster(50, features=2, units=32)` the model has **4,513** parameters, of which
# the LSTM holds 4,480. Which layer has the other 33?
#
# **What the grader reads.** The grader rebuilds each model your functions return from its
# configuration, outside your notebook, where none of your code runs. Build models from Keras's
# built-in layers, in a `keras.Sequential` or with the functional API (`keras.Input`, layers
# called on it, `keras.Model(inputs, outputs)`). A `Lambda` layer, a subclass of `keras.Model`,
# or a layer class or activation function of your own cannot be rebuilt: the visible test says
# so and what to use instead.

# %% solution id=build_lstm_forecaster
def build_lstm_forecaster(window, features=1, units=32):
    """The slides' LSTM forecaster, uncompiled.

    Input shape (batch, window, features); output shape (batch, 1): one forecast per window.
    """
    ### BEGIN SOLUTION
    return keras.Sequential([
        keras.Input(shape=(window, features)),
        keras.layers.LSTM(units),
        keras.layers.Dense(1),
    ])
    ### END SOLUTION

# %% [markdown] id=markdown-21
# **Expected output:** the LSTM layer has `4,480` parameters, and the model `4,513` in all.

# %% id=code-8
build_lstm_forecaster(50, features=2, units=32).summary()

# %% test id=test_build_lstm_forecaster points=2
"""build_lstm_forecaster: the slides' LSTM(32) on (50, 2) windows, shapes, uncompiled, units
used."""
from dlcourse.testkit.keras import check_rebuildable
model_t = build_lstm_forecaster(50, features=2, units=32)
check_rebuildable(model_t, "build_lstm_forecaster()")
check(isinstance(model_t, keras.Model), f"build_lstm_forecaster must return a keras Model, got "
      f"{type(model_t).__name__}.")
check(tuple(model_t.input_shape) == (None, 50, 2), f"input shape: expected (None, 50, 2), got "
      f"{model_t.input_shape}.", hint="keras.Input(shape=(window, features)).")
check(tuple(model_t.output_shape) == (None, 1), f"output shape: expected (None, 1), got "
      f"{model_t.output_shape}.",
      hint="the LSTM returns only its last hidden state (return_sequences=False), then Dense(1).")
lstm_layers = [layer for layer in model_t.layers if isinstance(layer, keras.layers.LSTM)]
check(len(lstm_layers) == 1, f"expected exactly one LSTM layer, found {len(lstm_layers)}.")
check(lstm_layers[0].count_params() == 4480, f"the LSTM layer should have 4,480 parameters, it has "
      f"{lstm_layers[0].count_params()}.")
check(model_t.count_params() == 4513,
      f"the model should have 4,513 parameters (4,480 + 33), it has "
      f"{model_t.count_params()}.")
check(not getattr(model_t, "compiled", False),
      "return the model uncompiled: the notebook compiles it.",
      hint="do not call model.compile inside build_lstm_forecaster.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_rnn

for window, features, units in [(12, 1, 16), (7, 3, 5), (30, 1, 64), (5, 4, 1)]:
    m = build_lstm_forecaster(window, features=features, units=units)
    label = f"build_lstm_forecaster({window}, features={features}, units={units})"
    check(tuple(m.input_shape) == (None, window, features),
          f"{label}: input shape should be (None, {window}, {features}), got {m.input_shape}.",
          hint="use the window and features arguments in keras.Input.")
    check(tuple(m.output_shape) == (None, 1), f"{label}: output shape should be (None, 1), got "
          f"{m.output_shape}.")
    lstms = [layer for layer in m.layers if isinstance(layer, keras.layers.LSTM)]
    check(len(lstms) == 1 and lstms[0].units == units,
          f"{label}: expected one LSTM layer with {units} units, got "
          f"{[layer.units for layer in lstms]}.", hint="use the units argument: LSTM(units).")
    expected = ref_rnn.count_lstm_params(units, features) + units + 1
    check(m.count_params() == expected,
          f"{label}: expected {expected} parameters, got {m.count_params()}.",
          hint="LSTM(units) -> Dense(1) and nothing else.")
    check(not getattr(m, "compiled", False), f"{label}: return the model uncompiled.")
### END HIDDEN TESTS
passed("build_lstm_forecaster")

# %% [markdown] id=markdown-22
# ## 9 · Forecasting the sunspots
#
# The number of sunspots on the Sun rises and falls in a cycle of about 11 years. The
# course bundles the yearly mean sunspot numbers from 1700 to 2008 (309 values, public
# domain, from NOAA's National Geophysical Data Center).

# %% id=code-9
sunspots = load_sunspots()
ax = sunspots.plot(figsize=(10, 3), title="Yearly mean sunspot number")
ax.set(xlabel="year", ylabel="sunspots")
plt.show()

# %% [markdown] id=markdown-23
# **A chronological split in three.** A forecaster will be used on the future, so judge it on
# the future. The years are cut in time order into three parts:
# - **training** (the first 65%, targets 1712 to 1899): the model learns from them;
# - **validation** (the next 15%, 1900 to 1946): we watch them while we choose settings;
# - **test** (the last 20%, 1947 to 2008): scored **once**, at the very end.
#
# A random split would let the model peek at years just after the ones it is judged on. The
# scale comes from the training years only: the later years are "unknown" when we train. A window
# belongs to the part that holds its **target** year.
#
# **The baseline.** Before praising a model, compare it with the simplest forecast there
# is, the **naive** one: "next year = this year", i.e. the last value of each window. A
# model that does not beat it has learnt nothing useful.

# %% id=code-10
years = sunspots.index.year.to_numpy()
values = sunspots.to_numpy()
n_train, n_val_end = int(0.65 * len(values)), int(0.8 * len(values))
scale = values[:n_train].max()                      # from the training years only
X_all, y_all = make_windows(values / scale, WINDOW)
target_years = years[WINDOW:]                       # the year each window forecasts
target_index = np.arange(len(y_all)) + WINDOW
parts = {"train": target_index < n_train,
         "val": (target_index >= n_train) & (target_index < n_val_end),
         "test": target_index >= n_val_end}
X_train, y_train = X_all[parts["train"]].astype("float32"), y_all[parts["train"]].astype("float32")
X_val, y_val = X_all[parts["val"]].astype("float32"), y_all[parts["val"]].astype("float32")
X_test, y_test = X_all[parts["test"]].astype("float32"), y_all[parts["test"]].astype("float32")
for name, mask in parts.items():
    print(f"{name:<5}: {mask.sum():3d} windows, targets {target_years[mask][[0, -1]]}")

# %% [markdown] id=markdown-24
# Create, compile, fit: the mean squared error as the loss, Adam as the optimiser.

# %% id=code-11
seed_everything(0)
forecaster = build_lstm_forecaster(WINDOW, features=1, units=UNITS)
forecaster.compile(optimizer=keras.optimizers.Adam(LR), loss="mse", metrics=["mae"])
history = forecaster.fit(X_train, y_train, epochs=NUM_EPOCHS, batch_size=BATCH_SIZE,
                         validation_data=(X_val, y_val), verbose=0)
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(history.history["loss"], label="training")
ax.plot(history.history["val_loss"], label="validation")
ax.set(xlabel="epoch", ylabel="MSE (scaled)", yscale="log", title="LSTM training")
ax.legend()
plt.show()

# %% [markdown] id=markdown-25
# First the validation years: this is where you would compare settings (the window, the units,
# the number of epochs). **Expected:** the LSTM's errors are clearly below the naive forecast's
# at the published size. On the course machine the mean absolute error was about 8.5 against
# 17 sunspots (8.0 to 9.0 over three seeds); the smoke run trains too little to show it.

# %% id=code-12
def _scores(forecast, truth):
    err = forecast - truth
    return {"MAE": np.mean(np.abs(err)), "RMSE": np.sqrt(np.mean(err ** 2))}


def _forecasts(X_part, y_part):
    """(truth, naive, LSTM) in sunspot numbers for one part of the split."""
    lstm = forecaster.predict(X_part, verbose=0)[:, 0] * scale
    return y_part[:, 0] * scale, X_part[:, -1, 0] * scale, lstm


truth_val, naive_val, lstm_val = _forecasts(X_val, y_val)
print("validation years:")
print(pd.DataFrame({"naive (next = last)": _scores(naive_val, truth_val),
                    "LSTM": _scores(lstm_val, truth_val)}).T.round(2))

# %% [markdown] id=markdown-test-once
# **Only now, and only once: the test years.** Every choice is made; the test score tells how the
# forecaster will do on years it has never influenced. **Expected** at the published size: a mean
# absolute error of about 13 against the naive forecast's 25 (13.4 to 14.3 over three seeds).

# %% id=code-test-once
truth, naive, y_hat = _forecasts(X_test, y_test)
print("test years:")
print(pd.DataFrame({"naive (next = last)": _scores(naive, truth), "LSTM": _scores(y_hat, truth)}).T.round(2))
fig, ax = plt.subplots(figsize=(10, 3.5))
test_years = target_years[parts["test"]]
ax.plot(test_years, truth, "k.-", label="truth")
ax.plot(test_years, naive, "--", color="tab:gray", label="naive: next = last")
ax.plot(test_years, y_hat, "-", color="tab:red", label="LSTM")
ax.set(xlabel="year", ylabel="sunspots", title="One-year-ahead forecasts on the test years")
ax.legend()
plt.show()

# %% written id=w_test_once points=2
# **Written question 9.1 (2 points).** A classmate tries 30 combinations of window, units and
# epochs. For each, they look at the **test** MAE, and they report the best one. Is that number a
# fair estimate of the error on the years after 2008? Explain why, and say what the validation
# part changes. Then say why the validation years may not be drawn at random from 1712 to 1946.
#
# === BEGIN MARK SCHEME ===
#
# **Model answer.** No. Picking the best of 30 test scores fits the choice to the test years,
# noise included, so the reported MAE is too optimistic: the test set has become a second
# validation set. With a validation part, all 30 comparisons are made there. The test years
# influence nothing and are scored once, so their MAE is an unbiased estimate for new years.
# Random validation years would sit between training years. The model would then be judged on
# years whose neighbours, before and after, it trained on: that is interpolation, not
# forecasting, and the score would again be too optimistic. In use, the future is never
# available, so validation must come after training in time.
#
# **Rubric.** 2 points: selection on the test set biases the reported score downwards (it is no
# longer untouched data), the validation part takes over the selection so the test is scored once;
# and random validation years leak the future (neighbouring years in training, interpolation).
# 1 point: one of the two parts right. 0 points: "the test set is too small" or "it is fine
# because the model never trained on the test years".
#
# === END MARK SCHEME ===

# %% [markdown] id=markdown-26
# The naive forecast is always one year late: it draws the truth shifted right. The LSTM
# has learnt the shape of the cycle from the 12 years it sees, so it turns up and down
# nearly on time.
#
# The graded test below trains **your** `build_lstm_forecaster` at a fixed, small size
# (window 12, 16 units, 40 epochs) on all the years before 1947. It then checks that the model
# beats the naive forecast on the test years.

# %% test id=test_build_lstm_forecaster_beats_naive points=3
"""build_lstm_forecaster: trained on the sunspots (window 12, 16 units, 40 epochs), it beats the
naive "next = last" forecast on the chronological test split (MAE and RMSE)."""
X_chk = np.zeros((3, 12, 1), dtype="float32")
y_chk = build_lstm_forecaster(12, features=1, units=16)(X_chk)
check_shape(y_chk, (3, 1), "the forecasts of build_lstm_forecaster(12, 1, 16) for 3 windows")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_rnn

# trains a fresh copy of the returned architecture (new weights from a fixed seed) with the fixed protocol
scores = ref_rnn.forecast_scores(build_lstm_forecaster(12, features=1, units=16))
check(scores["shape"] == (scores["n_test"], 1), f"the trained forecaster's predictions should have "
      f"shape ({scores['n_test']}, 1), got {scores['shape']}.")
check(scores["mae"] < 0.85 * scores["naive_mae"],
      f"on the test years the LSTM's MAE is {scores['mae']:.2f}; it must be below 85% of the naive "
      f"forecast's {scores['naive_mae']:.2f}.",
      hint="LSTM(units) reading the whole window, then Dense(1) with a linear output.")
check(scores["rmse"] < 0.85 * scores["naive_rmse"],
      f"on the test years the LSTM's RMSE is {scores['rmse']:.2f}; it must be below 85% of the "
      f"naive "
      f"forecast's {scores['naive_rmse']:.2f}.")
### END HIDDEN TESTS
passed("build_lstm_forecaster_beats_naive")

# %% [markdown] id=markdown-charlm-1
# ## 10 · A character-level language model in Portuguese
#
# A **language model** reads a text one character at a time and gives, at each step, a
# probability for every possible next character. Train it on a book and it learns spelling,
# common words and punctuation. Then it can **write**: draw a character from its prediction,
# feed it back in, and repeat.
#
# The course bundles the first 200,000 characters of *Dom Casmurro* (1899) by Machado de
# Assis, in lower case. The book is in the public domain. The last 20,000 characters are the
# **validation** text: the model never trains on them.
#
# Each character becomes an integer id, its position in the string `VOCAB` (50 characters).

# %% setup id=setup-charlm
from dlcourse.data import DOM_CASMURRO_VOCAB as VOCAB, load_dom_casmurro
from dlcourse.testkit.rnn import constant_logits_lm, random_char_lm

char_train, char_val = load_dom_casmurro()
char_to_id = {ch: i for i, ch in enumerate(VOCAB)}

# %% id=code-charlm-1
print(f"{len(char_train):,} training and {len(char_val):,} validation characters; "
      f"{len(VOCAB)} distinct characters")
print(repr(VOCAB))
print(char_train[:300])

# %% [markdown] id=markdown-charlm-2
# **The training pairs.** Cut the text into pieces of 64 characters. The input is a piece, and
# the target is the same piece shifted one character to the left: at every position the model
# must predict the character that comes next.
#
# **The measure: perplexity.** The loss is the mean cross-entropy of the true next characters
# (natural logarithm). Its exponential is the **perplexity**. A model that spreads its
# probability evenly over $k$ characters has perplexity $k$. So the perplexity is "the number of
# characters the model is still hesitating between". Uniform guessing over the 50 characters
# gives 50; counting how often each character appears in the training text gives about 19.
#
# ### Exercise 10.1 · `build_char_lm`
# Build a model that maps a batch of character ids, shape `(batch, time)`, to one score per
# character of the vocabulary at every step, shape `(batch, time, vocab_size)`. It has three
# jobs, one Keras layer each:
#
# 1. turn each id into a learnt vector of `embed_dim` numbers;
# 2. read the vectors in order with a recurrent layer of `units` units that gives an output at
#    **every** step, not only at the last;
# 3. turn each step's output into `vocab_size` scores.
#
# Which built-in layers do these jobs? Try first, then open the hint.
#
# <details><summary>Hint (try first)</summary>
#
# `Embedding(vocab_size, embed_dim)`, then `LSTM(units, return_sequences=True)`, then
# `Dense(vocab_size)` with no activation.
# </details>
#
# The scores must be **logits**, not probabilities: the notebook trains with
# `SparseCategoricalCrossentropy(from_logits=True)`, and `sample_text` below divides the logits by
# a temperature. Leave the time axis free (`None`), so the same model reads 64 characters when it
# trains and any number when it writes. Return it uncompiled, built from Keras's built-in layers
# (as in section 8).

# %% solution id=build_char_lm
def build_char_lm(vocab_size, embed_dim=32, units=128):
    """An uncompiled Keras model: ids (batch, time) -> next-character logits (batch, time, vocab_size)."""
    ### BEGIN SOLUTION
    return keras.Sequential([
        keras.Input(shape=(None,), dtype="int32"),
        keras.layers.Embedding(vocab_size, embed_dim),
        keras.layers.LSTM(units, return_sequences=True),
        keras.layers.Dense(vocab_size),
    ])
    ### END SOLUTION

# %% test id=test_build_char_lm points=2
"""build_char_lm: ids (batch, time) -> logits (batch, time, vocab_size), any length, uncompiled."""
from dlcourse.testkit.keras import check_rebuildable

lm_t = build_char_lm(len(VOCAB))
check_rebuildable(lm_t, "build_char_lm()")
check(isinstance(lm_t, keras.Model), f"build_char_lm must return a keras Model, got {type(lm_t).__name__}.")
ids_t = np.random.default_rng(0).integers(0, len(VOCAB), size=(3, 11)).astype("int32")
out_t = check_shape(np.asarray(lm_t(ids_t)), (3, 11, len(VOCAB)), "build_char_lm(50) on ids of shape (3, 11)",
                    hint="return_sequences=True keeps one output per time step; Dense(vocab_size) gives the scores.")
check_shape(np.asarray(lm_t(ids_t[:, :4])), (3, 4, len(VOCAB)), "the same model on ids of shape (3, 4)",
            hint="keras.Input(shape=(None,)) leaves the time axis free.")
check(not (np.all(out_t >= 0) and np.allclose(out_t.sum(axis=-1), 1.0, atol=1e-4)),
      "the model returns probabilities (each row is positive and sums to 1); it must return logits.",
      hint="no softmax at the end: Dense(vocab_size) with no activation.")
check(not getattr(lm_t, "compiled", False), "return the model uncompiled: the notebook compiles it.")
check(lm_t.count_params() <= 400_000, f"the model has {lm_t.count_params():,} parameters; keep it under 400,000 "
      "so that it trains in a minute.")
### BEGIN HIDDEN TESTS
for vocab_size, embed_dim, units in [(20, 8, 16), (50, 16, 64), (7, 4, 5)]:
    m = build_char_lm(vocab_size, embed_dim=embed_dim, units=units)
    label = f"build_char_lm({vocab_size}, embed_dim={embed_dim}, units={units})"
    x = np.random.default_rng(vocab_size).integers(0, vocab_size, size=(2, 9)).astype("int32")
    y = check_shape(np.asarray(m(x)), (2, 9, vocab_size), f"{label} on ids of shape (2, 9)",
                    hint="use vocab_size in the Embedding and in the last Dense layer.")
    check(not (np.all(y >= 0) and np.allclose(y.sum(axis=-1), 1.0, atol=1e-4)),
          f"{label} returns probabilities; it must return logits.", hint="no softmax at the end.")
    recurrent = [layer for layer in m.layers if isinstance(layer, keras.layers.RNN)
                 or isinstance(getattr(layer, "layer", None), keras.layers.RNN)]
    check(len(recurrent) >= 1, f"{label} has no recurrent layer: it cannot remember what it has read.",
          hint="Embedding -> LSTM(units, return_sequences=True) -> Dense(vocab_size).")
    # causal: the logits at step t depend on ids[:, :t + 1] only (they predict id t + 1)
    y_first = check_shape(np.asarray(m(x[:, :5])), (2, 5, vocab_size), f"{label} on ids of shape (2, 5)")
    check_close(y_first, y[:, :5], f"{label}: the logits of the first 5 steps, with and without the 4 ids "
                "that follow", rtol=1e-4, atol=1e-5,
                hint="the prediction at step t may use only the characters up to t: a left-to-right "
                     "recurrent layer, not a Bidirectional one.")
    sizes = {getattr(layer, "units", None) for layer in recurrent}
    sizes |= {getattr(getattr(layer, "layer", None), "units", None) for layer in recurrent}
    check(units in sizes, f"{label}: no recurrent layer has {units} units (found {sorted(map(str, sizes))}).",
          hint="use the units argument in the recurrent layer.")
    embeds = [layer.output_dim for layer in m.layers if isinstance(layer, keras.layers.Embedding)]
    check(embed_dim in embeds, f"{label}: the Embedding layers have sizes {embeds}, not embed_dim={embed_dim}.",
          hint="keras.layers.Embedding(vocab_size, embed_dim).")
    check(not getattr(m, "compiled", False), f"{label}: return the model uncompiled.")
### END HIDDEN TESTS
passed("build_char_lm")

# %% [markdown] id=markdown-charlm-3
# Create, compile, fit. The notebook uses the whole training text (the smoke run uses a little
# of it) and measures the perplexity on the validation text.

# %% id=code-charlm-2
# Sizes of this section's training runs (the smoke run trains on a little of the text).
CHAR_SEQ_LEN = 64
CHAR_EPOCHS = 1 if SMOKE else 5
CHAR_TRAIN_CHARS = 12_000 if SMOKE else len(char_train)


def to_ids(text):
    return np.array([char_to_id[ch] for ch in text], dtype="int32")


def next_char_pairs(text, seq_len=CHAR_SEQ_LEN):
    """Pieces of `seq_len` ids, and the same pieces shifted by one character (the targets)."""
    ids = to_ids(text)
    n = (len(ids) - 1) // seq_len
    return ids[:n * seq_len].reshape(n, seq_len), ids[1:n * seq_len + 1].reshape(n, seq_len)


X_char, y_char = next_char_pairs(char_train[:CHAR_TRAIN_CHARS])
X_char_val, y_char_val = next_char_pairs(char_val)
print("inputs ", repr("".join(VOCAB[i] for i in X_char[0, :40])))
print("targets", repr("".join(VOCAB[i] for i in y_char[0, :40])))

seed_everything(0)
char_lm = build_char_lm(len(VOCAB))
char_lm.compile(optimizer=keras.optimizers.Adam(1e-2),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
char_history = char_lm.fit(X_char, y_char, epochs=CHAR_EPOCHS, batch_size=64,
                           validation_data=(X_char_val, y_char_val), verbose=0)
char_ppl = {k: np.exp(v) for k, v in char_history.history.items()}
print(f"validation perplexity after {CHAR_EPOCHS} epochs: {char_ppl['val_loss'][-1]:.2f}")
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(np.arange(1, CHAR_EPOCHS + 1), char_ppl["loss"], "o-", label="training")
ax.plot(np.arange(1, CHAR_EPOCHS + 1), char_ppl["val_loss"], "o-", label="validation")
ax.set(xlabel="epoch", ylabel="perplexity", title="Character model on Dom Casmurro")
ax.legend()
plt.show()

# %% [markdown] id=markdown-charlm-4
# **Expected:** at the published size (5 epochs, about two minutes on a laptop CPU) the
# validation perplexity falls to about 6. The model now hesitates between about 6 characters
# instead of 50. The smoke run trains too little to show it.
#
# The graded test below trains **your** `build_char_lm(50)` in the same way at a fixed size
# (5 epochs, fresh weights) and checks its validation perplexity. The reference model scores
# 5.9 to 6.4 over five seeds; the bar is 7.

# %% test id=test_build_char_lm_perplexity points=3 tags=slow
"""build_char_lm: trained with the fixed protocol (5 epochs of the training text, Adam, fresh weights), its
perplexity on the validation text is below 7 (takes about a minute)."""
check_shape(np.asarray(build_char_lm(len(VOCAB))(np.zeros((2, 5), dtype="int32"))), (2, 5, len(VOCAB)),
            "build_char_lm(50) on ids of shape (2, 5)")
print("When graded, this test trains build_char_lm(50) for 5 epochs on the training text and measures "
      "its perplexity on the validation text (below 7 needed).")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_rnn

# trains a fresh copy of the returned architecture (new weights from a fixed seed) with the fixed protocol
lm_scores = ref_rnn.char_lm_perplexity(build_char_lm(len(VOCAB)))
check(lm_scores["shape"] == (2, 8, len(VOCAB)), f"on ids of shape (2, 8) the model should give logits of "
      f"shape (2, 8, {len(VOCAB)}), got {lm_scores['shape']}.")
check(lm_scores["params"] <= ref_rnn.CHAR_LM_MAX_PARAMS, f"the model has {lm_scores['params']:,} parameters; "
      f"the limit is {ref_rnn.CHAR_LM_MAX_PARAMS:,}.")
check(lm_scores["perplexity"] < ref_rnn.CHAR_LM_BAR,
      f"trained with the fixed protocol, the validation perplexity is {lm_scores['perplexity']:.2f}; it must be "
      f"below {ref_rnn.CHAR_LM_BAR}.",
      hint="Embedding -> LSTM(units, return_sequences=True) -> Dense(vocab_size) with no activation (logits).")
### END HIDDEN TESTS
passed("build_char_lm_perplexity")

# %% [markdown] id=markdown-charlm-5
# ## 11 · Writing with the model: temperature
#
# To write, give the model a **seed text**, take its logits for the character after the last
# one, turn them into probabilities, draw one character, add it to the text, and repeat.
# The **temperature** $T > 0$ changes how bold the draw is:
#
# - $T = 1$ draws from the model's own probabilities (its softmax);
# - as $T \to 0$ the draw picks the most likely character almost every time;
# - a large $T$ makes the characters closer to equally likely.
#
# The rule behind all three: at temperature $T$, a character whose logit is larger by
# $\Delta$ than another's must be $e^{\Delta / T}$ times as likely. Find where $T$ enters the
# softmax so that this holds.
#
# ### Exercise 11.1 · `sample_text`
# `sample_text(model, seed_text, n, temperature, rng)` returns the `n` new characters as one
# string (without the seed).
#
# - Feed the model the ids of the seed **and** of every character written so far
#   (`char_to_id` and `VOCAB` from the set-up cell), and use its logits at the **last** position.
# - Draw each character with the generator `rng` (for example `rng.choice`), never with
#   `np.random`: the same `rng` state must give the same text.
# - Compute in float64, and keep the exponentials from overflowing when $T$ is small.
#
# <details><summary>Hint (try first)</summary>
#
# `model(ids[None, :])` gives logits of shape `(1, time, vocab)`; take `[0, -1]`. Subtract the
# largest value before `np.exp`; it does not change the probabilities.
# </details>

# %% solution id=sample_text
def sample_text(model, seed_text, n, temperature, rng):
    """n characters written by `model` after `seed_text`, drawn with `rng` at `temperature`."""
    ### BEGIN SOLUTION
    ids = [char_to_id[ch] for ch in seed_text]
    out = []
    for _ in range(n):
        logits = np.asarray(model(np.array([ids], dtype="int32")))[0, -1].astype(np.float64)
        z = logits / temperature
        p = np.exp(z - z.max())
        p /= p.sum()
        i = int(rng.choice(len(VOCAB), p=p))
        ids.append(i)
        out.append(VOCAB[i])
    return "".join(out)
    ### END SOLUTION

# %% test id=test_sample_text points=3
"""sample_text: a string of n vocabulary characters, the same for the same rng; the temperature changes
the choices; T -> 0 picks the most likely character; the frequencies follow the rule of section 11."""
# a stand-in model: whatever it reads, its logits favour "a", then "e", then "o"
logits_t = np.full(len(VOCAB), -10.0)
logits_t[[char_to_id["a"], char_to_id["e"], char_to_id["o"]]] = [2.0, 1.0, 0.0]
flat_lm = constant_logits_lm(logits_t)
text_t = sample_text(flat_lm, "capitu", 30, 1.0, np.random.default_rng(0))
check(isinstance(text_t, str), f"sample_text must return a str, got {type(text_t).__name__}.",
      hint="join the characters: ''.join(chars).")
check(len(text_t) == 30, f"sample_text(..., n=30, ...) returned {len(text_t)} characters: {show(text_t)}.",
      hint="return only the n new characters, not the seed.")
check(set(text_t) <= set(VOCAB), f"sample_text returned characters outside VOCAB: {show(text_t)}.")
again_t = sample_text(flat_lm, "capitu", 30, 1.0, np.random.default_rng(0))
check(again_t == text_t, f"two calls with np.random.default_rng(0) gave different texts: {show(text_t)} and "
      f"{show(again_t)}.", hint="draw with the rng argument (rng.choice), not with np.random.")
cold_t = sample_text(flat_lm, "capitu", 100, 0.5, np.random.default_rng(1))
hot_t = sample_text(flat_lm, "capitu", 100, 2.0, np.random.default_rng(1))
check(cold_t.count("a") > hot_t.count("a"), f"the most likely character 'a' came {cold_t.count('a')} times in 100 "
      f"at T = 0.5 and {hot_t.count('a')} times at T = 2: a lower temperature must favour it more.",
      hint="at temperature T, a logit larger by d must make a character exp(d / T) times as likely.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_rnn

# 1. the frequencies of a, e, o match the tempered softmax, at three temperatures
n_draws = 300
for T, seed in [(0.5, 11), (1.0, 12), (2.0, 13)]:
    drawn = sample_text(flat_lm, "dom casmurro", n_draws, T, np.random.default_rng(seed))
    check(isinstance(drawn, str) and len(drawn) == n_draws,
          f"sample_text(..., n={n_draws}, temperature={T}) should return {n_draws} characters, got {show(drawn)}.")
    p = np.exp(ref_rnn.log_softmax(logits_t / T))
    for ch in "aeo":
        freq = drawn.count(ch) / n_draws
        expected = p[char_to_id[ch]]
        check(abs(freq - expected) < 5 * np.sqrt(expected * (1 - expected) / n_draws) + 0.02,
              f"at temperature {T}, {ch!r} came {freq:.1%} of the time; with the stand-in model's logits "
              f"(a: 2, e: 1, o: 0) it should come about {expected:.1%} of the time.",
              hint="divide the logits by the temperature before the softmax (not the probabilities after it), "
                   "then draw with rng.choice(len(VOCAB), p=p).")
# 2. T -> 0 picks the character with the largest logit, given the seed and all the text written so far
for seed, seed_text in [(3, "capitu olhou para mim"), (4, "bentinho")]:
    lm = random_char_lm(len(VOCAB), seed)
    T = 0.02
    drawn = sample_text(lm, seed_text, 30, T, np.random.default_rng(seed))
    check(isinstance(drawn, str) and len(drawn) == 30 and set(drawn) <= set(VOCAB),
          f"sample_text(..., n=30, temperature={T}) should return 30 vocabulary characters, got {show(drawn)}.")
    context = [char_to_id[ch] for ch in seed_text]
    for k, ch in enumerate(drawn):
        z = ref_rnn.next_logits(lm, context)
        check(z[char_to_id[ch]] >= z.max() - 20 * T,
              f"at temperature {T}, character {k + 1} written after {seed_text!r} + {drawn[:k]!r} was {ch!r}, "
              f"not the most likely one {VOCAB[int(np.argmax(z))]!r}.",
              hint="feed the seed text and every character written so far, take the logits at the last "
                   "position, divide by T, and subtract the largest before np.exp.")
        context.append(char_to_id[ch])
# 3. the same rng state gives the same text; another state gives another text
lm = random_char_lm(len(VOCAB), 5, logit_scale=1.0)
first = sample_text(lm, "escobar", 40, 1.0, np.random.default_rng(21))
second = sample_text(lm, "escobar", 40, 1.0, np.random.default_rng(21))
other = sample_text(lm, "escobar", 40, 1.0, np.random.default_rng(22))
check(first == second, f"two calls with np.random.default_rng(21) gave {show(first)} and {show(second)}.",
      hint="draw with the rng argument only.")
check(first != other, f"np.random.default_rng(21) and default_rng(22) gave the same text {show(first)} at T = 1.",
      hint="draw each character at random from the probabilities (rng.choice), do not always take the largest.")
### END HIDDEN TESTS
passed("sample_text")

# %% [markdown] id=markdown-charlm-6
# Three samples from the trained model, from the same seed, at three temperatures.

# %% id=code-charlm-3
SAMPLE_CHARS = 60 if SMOKE else 300
for T in (0.2, 0.8, 1.5):
    written = sample_text(char_lm, "capitu ", SAMPLE_CHARS, T, np.random.default_rng(0))
    print(f"--- temperature {T} ---\ncapitu {written}\n")

# %% written id=w_temperature points=2
# **Written question (2 points).** Compare the three samples above. For each temperature, say what
# you see: real Portuguese words or invented ones, repeated phrases, punctuation, spelling. Then
# explain the differences with what the temperature does to the probabilities of the next
# character. Which temperature would you choose to show a reader, and why?
#
# === BEGIN MARK SCHEME ===
#
# **Model answer.** At T = 0.2 the text is made of very common words ("que", "de", "a") and
# often repeats the same phrase: dividing the logits by a small T sharpens the softmax, so the
# most likely character wins almost every time and the model falls into loops. At T = 0.8 most
# words are real or nearly real, with some variety: the draw follows the model's probabilities,
# slightly sharpened. At T = 1.5 there are many invented words, misspellings and odd punctuation:
# a large T flattens the probabilities, so unlikely characters are drawn often and errors pile up
# (each wrong character is fed back in). A middle temperature (about 0.7 to 1) is the best
# compromise between correct and varied text.
#
# **Rubric.** 2 points: describes the three samples correctly (repetition at low T, invented
# words at high T) and explains them by the sharpening or flattening of the softmax, with a
# reasoned choice. 1 point: correct description without the mechanism, or the mechanism without
# looking at the samples. 0 points: says the temperature changes the model's weights or its
# training, or that a higher temperature always gives better text.
#
# === END MARK SCHEME ===

# %% [markdown] id=markdown-bidir-1
# ## 12 · Reading both ways: `Bidirectional`
#
# `keras.layers.Bidirectional(LSTM(units, return_sequences=True))` runs two LSTMs: one reads
# the sequence from left to right, the other from right to left. At each step it joins their
# two hidden states, so the output at step $t$ depends on the **whole** sequence, before and
# after $t$. That helps when the whole sequence really is available. It is cheating when the
# task is to predict what comes later.
#
# **Where it helps: where does a word end?** Tag every character of a piece of text with 1 when
# it is the last letter of a word, else 0. Which characters does a one-way LSTM get wrong, and
# why would a backward LSTM get them right? Predict, then run the cell.

# %% id=code-bidir-1
BIDIR_EPOCHS = 1 if SMOKE else 3
BIDIR_TRAIN_CHARS = 12_000 if SMOKE else 60_000


def word_end_pairs(text, seq_len=CHAR_SEQ_LEN):
    """Pieces of ids and, for each character, 1 if it is a letter and the next character is not."""
    ids = to_ids(text)
    letter = np.array([ch.isalpha() for ch in text])
    ends = (letter[:-1] & ~letter[1:]).astype("float32")
    n = (len(ids) - 1) // seq_len
    return ids[:n * seq_len].reshape(n, seq_len), ends[:n * seq_len].reshape(n, seq_len, 1)


def word_end_tagger(bidirectional):
    lstm = keras.layers.LSTM(32, return_sequences=True)
    return keras.Sequential([
        keras.Input(shape=(None,), dtype="int32"),
        keras.layers.Embedding(len(VOCAB), 16),
        keras.layers.Bidirectional(lstm) if bidirectional else lstm,
        keras.layers.Dense(1, activation="sigmoid"),
    ])


X_tag, y_tag = word_end_pairs(char_train[:BIDIR_TRAIN_CHARS])
X_tag_val, y_tag_val = word_end_pairs(char_val)
tag_accuracy = {"always 0": 1 - y_tag_val.mean()}
for name, bidirectional in [("LSTM", False), ("Bidirectional(LSTM)", True)]:
    seed_everything(0)
    tagger = word_end_tagger(bidirectional)
    tagger.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=["accuracy"])
    tagger.fit(X_tag, y_tag, epochs=BIDIR_EPOCHS, batch_size=64, verbose=0)
    tag_accuracy[name] = tagger.evaluate(X_tag_val, y_tag_val, verbose=0)[1]
for name, acc in tag_accuracy.items():
    print(f"{name:20s} validation accuracy {acc:.3f}")

# %% [markdown] id=markdown-bidir-2
# **Expected** (published size): always answering 0 is right on 82% of the characters, the
# one-way LSTM on about 86%, and the two-way model on 99.6%. Reading left to right, at the
# last "a" of "casa" the model cannot know whether the word ends there or goes on, as in
# "casamento". Only the next character settles it, and the backward LSTM has read it.

# %% [markdown] id=markdown-bidir-4
# ### Question 12.1 · Which model cheats?
# Each model below reads its input with `Bidirectional(LSTM(..., return_sequences=True))`.
# Which one uses information that will not exist when the model is used?
#
# - **a** It tags each word of a finished sentence as a noun or a verb.
# - **b** It predicts each next word of a message while the user is typing.
# - **c** It forecasts next year's sunspots from the 12 years before it.
# - **d** It labels a recorded phone call, once it has ended, as a complaint or not.
#
# Set `q_bidirectional` to one letter.

# %% solution id=q_bidirectional
# Your answer: q_bidirectional = "<one letter: a, b, c or d>"
### BEGIN SOLUTION
q_bidirectional = "b"
### END SOLUTION

# %% test id=test_q_bidirectional points=1
"""q_bidirectional: a two-way model may read only what exists when it is used."""
check_choice(q_bidirectional, ['a', 'b', 'c', 'd'], "q_bidirectional")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_rnn

check_answer(q_bidirectional, ref_rnn.QUESTIONS["q_bidirectional"], "q_bidirectional")
### END HIDDEN TESTS
passed("q_bidirectional")

# %% [markdown] id=markdown-bidir-5
# **Where it cheats: predicting the next character.** Give the language model of section 10 a
# `Bidirectional` LSTM. At step $t$ the backward LSTM has read character $t + 1$: that is the
# target itself. Watch the validation perplexity.

# %% id=code-bidir-2
seed_everything(0)
cheat_lm = keras.Sequential([
    keras.Input(shape=(None,), dtype="int32"),
    keras.layers.Embedding(len(VOCAB), 32),
    keras.layers.Bidirectional(keras.layers.LSTM(64, return_sequences=True)),
    keras.layers.Dense(len(VOCAB)),
])
cheat_lm.compile(optimizer=keras.optimizers.Adam(1e-2),
                 loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
cheat_lm.fit(X_char[:BIDIR_TRAIN_CHARS // CHAR_SEQ_LEN], y_char[:BIDIR_TRAIN_CHARS // CHAR_SEQ_LEN],
             epochs=BIDIR_EPOCHS, batch_size=64, verbose=0)
cheat_ppl = np.exp(cheat_lm.evaluate(X_char_val, y_char_val, verbose=0))
print(f"one-way LSTM (section 10): validation perplexity {char_ppl['val_loss'][-1]:.2f}")
print(f"Bidirectional LSTM:        validation perplexity {cheat_ppl:.2f}")
print("its sample:", repr(sample_text(cheat_lm, "capitu ", 60, 0.8, np.random.default_rng(0))))

# %% [markdown] id=markdown-bidir-3
# **Expected** (published size): a perplexity of about 1.4, far "better" than section 10's
# model, and yet its sample is nonsense. The score is a leak: during training and validation
# the next character was in the input. When the model writes, the next character does not
# exist yet; the backward LSTM reads nothing useful, and the model falls apart.
#
# Predicting the next character is **forecasting**, like the sunspots of section 9. A forecast
# for year $t$ may use only years before $t$. Inside the 12-year window of section 9 a
# `Bidirectional` layer would be allowed, because the whole window is in the past. Reading
# the years after $t$ would not.

# %% [markdown] id=markdown-27
# ## What you should remember
# - Keras recurrent layers take 3-D input `(samples, time steps, features)`; one feature is
#   still a last axis of size 1.
# - A window's target is the value **after** it (`series[i + window + horizon - 1]`); a
#   target inside its own window is a leak.
# - The simple RNN cell applies the same weights at every step.
# - BPTT is backpropagation through the unrolled network: the gradient on $h_t$ is what comes
#   from above plus what step $t+1$ sends back, and each weight's gradient sums over the steps.
#   Each step back multiplies the gradient by one more factor, so it vanishes or grows
#   geometrically with the distance.
# - The LSTM's gates are sigmoids, its candidate a `tanh`; the new cell state comes first, and
#   $h_t$ is computed from it. Keras packs the blocks as (i, f, c, o) in `kernel (F, 4H)`,
#   `recurrent_kernel (H, 4H)` and `bias (4H,)`.
# - A layer carries $h$ and $c$ from step to step; `return_sequences=True` returns all the
#   hidden states.
# - Measured at initialisation, the gradient of the last output with respect to earlier inputs
#   shrinks roughly exponentially with the distance. The LSTM's decays more slowly than the
#   SimpleRNN's (the additive cell state), but it decays too, and an untrained GRU's fastest.
# - The GRU has two gates, (z, r, h) blocks and, in Keras, two bias rows;
#   $h_t = z h_{t-1} + (1 - z)\tilde h$.
# - An LSTM's parameter count does not depend on the sequence length: 4,480 for
#   `LSTM(32)` on 2 features.
# - Split time series chronologically into training, validation and test; scale with the
#   training part only; choose settings on validation; score the test part once; and always
#   compare with the naive forecast.
# - A character language model predicts the next character at every step; its perplexity,
#   $e^{\text{mean cross-entropy}}$, is the number of characters it still hesitates between.
# - Sampling at temperature $T$ draws from the softmax of the logits divided by $T$: a low $T$
#   repeats safe words, a high $T$ invents words.
# - `Bidirectional` helps when the whole sequence exists (tagging a finished text) and cheats
#   when the task is to predict what comes later (next character, forecasting).

# %% id=code-13
# Versions of the libraries this notebook ran with.
%load_ext watermark
%watermark --python --machine --packages numpy,pandas,matplotlib,tensorflow,keras,dlcourse
