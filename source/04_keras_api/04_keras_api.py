# metadata: {"dlcourse": {"judged": true}}

# %% [markdown] id=markdown-1
# # 04 · The Keras API (and the same network in PyTorch)
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({{COLAB_URL}})
#
# In notebooks 01 to 03 you wrote every line of a neural network in numpy. Frameworks do
# that work for you: they build the computational graph, compute the gradients and run the
# optimiser. This notebook follows the lectures' recipe for Keras (create the model,
# compile it, fit it, then predict or evaluate), writes the same Iris network in PyTorch
# with an explicit training loop, and trains a dense network on real images
# (Fashion-MNIST).
#
# **Goals**
# 1. Build the slides' small `Sequential` network and read its 271 parameters.
# 2. Write one Iris classifier twice: with `Sequential` and with the Functional API
#    (`keras.Input` + `keras.Model`), then compile and fit it (>= 0.93 test accuracy).
# 3. Write the same network as a PyTorch `nn.Module` and train it with the explicit loop
#    (zero the gradients, forward, loss, backward, step).
# 4. Train a dense network on Fashion-MNIST (>= 0.84 test accuracy) and look at the images,
#    with the lectures' callbacks `EarlyStopping` and `ModelCheckpoint`.
# 5. Measure how the batch size changes the time per epoch and the validation accuracy.
# 6. See that Keras 3 runs the same code on another backend (PyTorch).
#
# **Validation discipline.** Every choice in this notebook (when to stop training, which
# batch size) is made on a **validation** split carved from the training data. The test set is
# used once per model, at the end, to report how well the final model does on data that no
# decision has seen. Choosing on the test set would make its score an optimistic guess.
#
# Short **questions** (set a variable such as `q_onehot_loss = "b"`) check the ideas; each
# wrong answer gets an explanation when it is graded.
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
import logging
import os
import time

import dlcourse.env  # noqa: F401  (quiets TensorFlow's logs: import it before keras)
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split
from torch import nn

from dlcourse.data import FASHION_CLASSES, load_fashion_mnist, load_iris
from dlcourse.env import device_report, seed_everything, torch_device
from dlcourse.judging import mode
from dlcourse.plotting import plot_history, plot_losses, show_images
from dlcourse.testing import (check, check_answer, check_choice, check_close, check_finite, check_shape,
                              check_type, passed, show)

logging.getLogger("tensorflow").setLevel(logging.ERROR)  # no tf.function retracing notes
seed_everything(0)
DEVICE = torch_device()
if DEVICE.type == "cpu":
    torch.set_num_threads(1)  # tiny networks train faster on one CPU thread
_ = device_report(("numpy", "tensorflow", "keras", "torch"))

# Iris (150 flowers, 4 measurements, 3 species): standardised, split 70/30 with stratification.
X_train, X_test, y_train, y_test = load_iris()
# Fashion-MNIST: the course's bundled subset (12,000 training and 2,000 test images, 28x28),
# pixel values scaled from 0..255 to 0..1.
(X_fashion_train, y_fashion_train), (X_fashion_test, y_fashion_test) = load_fashion_mnist()
X_fashion_train = X_fashion_train.astype("float32") / 255.0
X_fashion_test = X_fashion_test.astype("float32") / 255.0
# Validation splits, carved from the training data (stratified): every choice is made on them,
# and the test sets are kept for the end.
X_iris_fit, X_iris_val, y_iris_fit, y_iris_val = train_test_split(
    X_train, y_train, test_size=0.2, stratify=y_train, random_state=0)
X_fashion_fit, X_fashion_val, y_fashion_fit, y_fashion_val = train_test_split(
    X_fashion_train, y_fashion_train, test_size=2000, stratify=y_fashion_train, random_state=0)
print("Iris:", X_train.shape, X_test.shape, "| Fashion-MNIST:", X_fashion_train.shape, X_fashion_test.shape)
print("validation splits: Iris", X_iris_fit.shape, X_iris_val.shape, "| Fashion-MNIST", X_fashion_fit.shape,
      X_fashion_val.shape)

# %% params id=params-1
# Training sizes: CI may shrink them; the published notebook uses the full values.
SMOKE = os.environ.get("DLCOURSE_SMOKE") == "1"
SEED_MLP_EPOCHS = 50 if SMOKE else 500
IRIS_EPOCHS = 10 if SMOKE else 100
FASHION_EPOCHS = 1 if SMOKE else 10
FASHION_SAMPLES = 2000 if SMOKE else 10000   # images of the fitting split (10,000 in all)
PATIENCE = 3                                  # EarlyStopping: epochs without a better val_loss
STUDY_BATCH_SIZES = [64, 512] if SMOKE else [16, 32, 64, 128, 256, 512]
STUDY_EPOCHS = 1 if SMOKE else 3
STUDY_SAMPLES = 1000 if SMOKE else 10000
BACKEND_EPOCHS = 5 if SMOKE else 50

# %% [markdown] id=markdown-2
# ## 1 · The Keras recipe: create, compile, fit
#
# The lectures' road map ("roteiro keras") for every Keras model:
#
# | step | code |
# |---|---|
# | import | `import keras` (then `keras.layers.Dense`, `keras.Sequential`, ...) |
# | prepare `X` | `reshape(...)`, `astype("float32")`, scale to a small range |
# | prepare `y` | integer labels (or `keras.utils.to_categorical(y, 10)` for one-hot rows) |
# | **create** | `model = keras.Sequential([...])` or `model.add(...)` |
# | **compile** | `model.compile(optimizer=..., loss=..., metrics=["accuracy"])` |
# | **fit** | `model.fit(X, y, batch_size=..., epochs=..., verbose=...)` |
# | predict / evaluate | `model.predict(X_test)`, `model.evaluate(X_test, y_test)` |
#
# The slides' first model takes 20 input features and has three `Dense` (fully connected)
# layers, all with the sigmoid activation: 10 units, then 5, then 1 output (a probability
# for a yes/no problem). Its `summary()` on the slides shows
#
# | layer | output shape | parameters |
# |---|---|---|
# | Dense | (None, 10) | 210 = 20·10 weights + 10 biases |
# | Dense | (None, 5) | 55 = 10·5 + 5 |
# | Dense | (None, 1) | 6 = 5·1 + 1 |
# | **total** | | **271** |
#
# `None` is the batch size: Keras does not fix it. A model only knows its number of
# parameters once it knows the shape of its input, so start the model with
# `keras.Input(shape=(input_dim,))`. (The slides' `input_dim=20` argument of `Dense` still
# works in Keras 3 but prints a warning; `keras.Input` is the modern way.)
#
# ### Exercise 1.1 · `build_seed_mlp`
# Return the slides' model, **uncompiled** (the cells below compile and fit it).
#
# **What the grader reads.** The grader rebuilds each model your functions return from its
# configuration, outside your notebook, where none of your code runs. Build models from Keras's
# built-in layers, in a `keras.Sequential` or with the functional API (`keras.Input`, layers
# called on it, `keras.Model(inputs, outputs)`). A `Lambda` layer, a subclass of `keras.Model`,
# or a layer class or activation function of your own cannot be rebuilt: the visible test says
# so and what to use instead.

# %% solution id=build_seed_mlp
def build_seed_mlp(input_dim=20):
    """The slides' Sequential network: Dense(10, sigmoid) -> Dense(5, sigmoid) -> Dense(1, sigmoid).

    Args:
        input_dim: number of input features.
    Returns:
        an uncompiled keras.Sequential that maps (N, input_dim) to (N, 1) probabilities;
        271 parameters when input_dim=20.
    """
    ### BEGIN SOLUTION
    return keras.Sequential([
        keras.Input(shape=(input_dim,)),
        keras.layers.Dense(10, activation="sigmoid"),
        keras.layers.Dense(5, activation="sigmoid"),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    ### END SOLUTION

# %% [markdown] id=markdown-3
# **Expected output** of the cell below: three `Dense` layers with 210, 55 and 6 parameters,
# `Total params: 271`.

# %% id=code-1
build_seed_mlp().summary()

# %% test id=test_build_seed_mlp points=2
"""build_seed_mlp: a built Keras model with 271 parameters that maps (N, 20) to (N, 1) probabilities."""
from dlcourse.testkit.keras import check_rebuildable
model = build_seed_mlp()
check_rebuildable(model, "build_seed_mlp()")
check_type(model, keras.Model, "build_seed_mlp()", hint="return the model you built.")
check(model.built, "the model does not know its input shape yet, so it has no weights.",
      hint="start the Sequential with keras.Input(shape=(input_dim,)).")
check(model.count_params() == 271,
      f"build_seed_mlp() should have 271 parameters (210 + 55 + 6), got {model.count_params()}.",
      hint="Dense(10) -> Dense(5) -> Dense(1), each with its bias (use_bias=True is the default).")
out = model.predict(np.zeros((3, 20), dtype="float32"), verbose=0)
check_shape(out, (3, 1), "the output for 3 samples")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_keras as ref
from dlcourse.testkit.keras import dense_summary, dense_weights, ensure_built, model_output

check(not model.compiled,
      "build_seed_mlp() returned a compiled model.",
      hint="builders return the model uncompiled; the notebook compiles it afterwards.")
small = build_seed_mlp(input_dim=7)
check(ensure_built(small, (7,)) and small.count_params() == 7 * 10 + 10 + 55 + 6,
      f"build_seed_mlp(input_dim=7) should have {7 * 10 + 10 + 55 + 6} parameters, got "
      f"{small.count_params() if small.built else 'an unbuilt model'}.",
      hint="use the input_dim argument for the input shape.")
dense = dense_summary(model)
check([u for u, _ in dense] == [10, 5, 1],
      f"Dense layers: expected units [10, 5, 1], got {[u for u, _ in dense]}.")
for i, (_, b) in enumerate(dense_weights(model)):
    check(b is not None, f"Dense layer {i + 1} has no bias.",
          hint="leave use_bias at its default (True): each unit has a bias.")
check([a for _, a in dense] == ["sigmoid"] * 3,
      f"activations: expected ['sigmoid', 'sigmoid', 'sigmoid'] (as on the slides), "
      f"got {[a for _, a in dense]}.",
      hint="every layer of the slides' model uses activation='sigmoid', hidden layers included.")
rng = np.random.default_rng(3)
Xr = rng.normal(size=(16, 20)).astype("float32")
check_close(model_output(model, Xr), ref.reference_forward(model, Xr, ["sigmoid"] * 3),
            "the model's output on random inputs vs a sigmoid Dense chain with its weights",
            rtol=1e-4, atol=1e-5)
### END HIDDEN TESTS
passed("build_seed_mlp")

# %% [markdown] id=markdown-q_dense_params
# ### Question 1.2 · Counting parameters
# The slides' model has 271 parameters with 20 input features. How many parameters does
# `build_seed_mlp(input_dim=30)` have? Count by hand (you may check with `summary()` afterwards).
# Set `q_dense_params` to an integer.

# %% solution id=q_dense_params
# Your answer: q_dense_params = <a number>
### BEGIN SOLUTION
q_dense_params = 371
### END SOLUTION

# %% test id=test_q_dense_params points=1
"""q_dense_params: the parameters of the slides' network on 30 inputs."""
check(np.ndim(q_dense_params) == 0 and np.issubdtype(np.asarray(q_dense_params).dtype, np.number),
      f"q_dense_params: answer with a number, got {show(q_dense_params)}.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_keras as ref

check_answer(q_dense_params, ref.QUESTIONS["q_dense_params"], "q_dense_params")
### END HIDDEN TESTS
passed("q_dense_params")

# %% [markdown] id=markdown-4
# ### Compile, fit, predict, evaluate
# The slides train this model on a binary problem with 20 features, with plain gradient
# descent (`SGD`, learning rate 0.5), the binary cross-entropy and full batches
# (`batch_size=len(X_train)`: one step per epoch). We use a synthetic problem from
# scikit-learn. Two changes from the slides' code, which was written for Keras 2: the
# argument is `learning_rate=` (not `lr=`), and `predict` returns probabilities (there is
# no `predict_classes`: threshold them yourself).
#
# Three splits: `fit` learns on the **training** part and reports the loss on the
# **validation** part after every epoch (`validation_data=`), so that you can watch both curves;
# the **test** part is scored once, at the end.

# %% id=code-2
from sklearn.datasets import make_classification
from sklearn.metrics import log_loss

X_bin, y_bin = make_classification(n_samples=500, n_features=20, n_informative=8, random_state=0)
Xb_train, Xb_test, yb_train, yb_test = train_test_split(X_bin, y_bin, test_size=0.3, random_state=0)
Xb_fit, Xb_val, yb_fit, yb_val = train_test_split(Xb_train, yb_train, test_size=0.2, random_state=0)

seed_everything(0)
seed_model = build_seed_mlp(input_dim=Xb_fit.shape[1])              # 1. create
seed_model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5),  # 2. compile
                   loss="binary_crossentropy", metrics=["accuracy"])
history = seed_model.fit(Xb_fit, yb_fit, epochs=SEED_MLP_EPOCHS,      # 3. fit
                         batch_size=len(Xb_fit), validation_data=(Xb_val, yb_val), verbose=0)
plot_history(history, title="Slides' network, full-batch SGD")
plt.show()
# The end: the test set, once.
p_test = seed_model.predict(Xb_test, verbose=0)                      # predict: probabilities
loss, acc = seed_model.evaluate(Xb_test, yb_test, verbose=0)          # evaluate: loss, metrics
print(f"test: log loss (sklearn) {log_loss(yb_test, p_test.ravel()):.3f} | evaluate: loss {loss:.3f}, "
      f"accuracy {acc:.3f}")
print("first predictions:", np.round(p_test[:5, 0], 2), "-> classes", (p_test[:5, 0] > 0.5).astype(int))

# %% [markdown] id=markdown-activations
# **The activations, side by side.** The slides' network uses the sigmoid everywhere; the
# networks below use `relu` in the hidden layers. The right panel shows why that matters for
# training: the sigmoid's slope is at most 0.25 and almost 0 for large $|z|$, so every sigmoid
# layer shrinks the gradient that backpropagation sends through it; `relu` passes it unchanged
# wherever $z > 0$.

# %% id=code-activations
z = np.linspace(-6, 6, 400)
sig = 1 / (1 + np.exp(-z))
curves = {"sigmoid": (sig, sig * (1 - sig)), "tanh": (np.tanh(z), 1 - np.tanh(z) ** 2),
          "relu": (np.maximum(z, 0), (z > 0).astype(float))}
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3))
for name, (value, slope) in curves.items():
    ax1.plot(z, value, label=name)
    ax2.plot(z, slope, label=name)
ax1.set(xlabel="z", ylabel="activation(z)", title="Activations", ylim=(-1.2, 3))
ax2.set(xlabel="z", ylabel="slope", title="Their derivatives")
ax1.legend()
ax2.legend()
fig.tight_layout()

# %% [markdown] id=markdown-5
# ## 2 · Iris with `Sequential` and with the Functional API
#
# The lecture on frameworks classifies the 3 Iris species from 4 measurements with a
# 4 -> 20 -> 10 -> 3 network, written twice. Its Keras version lists only the layer sizes and
# compiles with Adam and the categorical cross-entropy. Its PyTorch version uses `tanh` in the
# hidden layers, a `sigmoid` on each of the 3 outputs, and the mean squared error against one-hot
# targets. Here both frameworks get the standard choice for classification: `relu` in the
# hidden layers, a softmax output and the cross-entropy (Question 3.3 asks why the
# cross-entropy is the better loss). Whatever the activations, the network has
# (4·20+20) + (20·10+10) + (10·3+3) = 343 parameters.
#
# * `keras.Sequential` stacks layers one after the other: enough for most networks.
# * The **Functional API** describes the graph: `inputs = keras.Input(shape=(4,))`, then each
#   layer is *called* on the previous tensor (`x = keras.layers.Dense(20, activation="relu")(inputs)`),
#   and `keras.Model(inputs=inputs, outputs=outputs)` ties them together. The same idea
#   builds networks with several inputs, outputs or branches, which `Sequential` cannot.
#
# ### Exercise 2.1 · `build_iris_sequential`

# %% solution id=build_iris_sequential
def build_iris_sequential():
    """Iris classifier with keras.Sequential: 4 -> Dense(20, relu) -> Dense(10, relu) -> Dense(3, softmax).

    Returns:
        an uncompiled keras.Sequential mapping (N, 4) to (N, 3) class probabilities (343 parameters).
    """
    ### BEGIN SOLUTION
    return keras.Sequential([
        keras.Input(shape=(4,)),
        keras.layers.Dense(20, activation="relu"),
        keras.layers.Dense(10, activation="relu"),
        keras.layers.Dense(3, activation="softmax"),
    ])
    ### END SOLUTION

# %% test id=test_build_iris_sequential points=2
"""build_iris_sequential: a Sequential with 343 parameters giving (N, 3) probabilities."""
from dlcourse.testkit.keras import check_rebuildable
model = build_iris_sequential()
check_rebuildable(model, "build_iris_sequential()")
check_type(model, keras.Sequential, "build_iris_sequential()", hint="use keras.Sequential([...]).")
check(model.built, "the model does not know its input shape yet.",
      hint="start with keras.Input(shape=(4,)).")
check(model.count_params() == 343,
      f"expected 343 parameters (100 + 210 + 33), got {model.count_params()}.",
      hint="Dense(20) -> Dense(10) -> Dense(3), each with a bias.")
probs = model.predict(X_test[:5], verbose=0)
check_shape(probs, (5, 3), "the output for 5 flowers")
check_close(probs.sum(axis=1), np.ones(5), "row sums of the output", rtol=1e-5,
            hint="the last layer needs activation='softmax'.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_keras as ref
from dlcourse.testkit.keras import dense_summary, model_output

dense = dense_summary(model)
check(dense == [(20, "relu"), (10, "relu"), (3, "softmax")],
      f"Dense layers (units, activation): expected [(20, 'relu'), (10, 'relu'), (3, 'softmax')], "
      f"got {dense}.")
Xr = np.random.default_rng(5).normal(size=(16, 4)).astype("float32")
check_close(model_output(model, Xr), ref.reference_forward(model, Xr, ["relu", "relu", "softmax"]),
            "the output on random inputs vs a relu-relu-softmax chain with the model's weights",
            rtol=1e-4, atol=1e-5)
check(not model.compiled, "build_iris_sequential() returned a compiled model.",
      hint="return it uncompiled: train_iris compiles it.")
### END HIDDEN TESTS
passed("build_iris_sequential")

# %% [markdown] id=markdown-6
# ### Exercise 2.2 · `build_iris_functional`
# The same network with `keras.Input` and `keras.Model` (no `Sequential` anywhere).

# %% solution id=build_iris_functional
def build_iris_functional():
    """The Iris network of build_iris_sequential, written with the Functional API.

    Returns:
        an uncompiled keras.Model (not a Sequential) mapping (N, 4) to (N, 3) probabilities.
    """
    ### BEGIN SOLUTION
    inputs = keras.Input(shape=(4,))
    x = keras.layers.Dense(20, activation="relu")(inputs)
    x = keras.layers.Dense(10, activation="relu")(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    return keras.Model(inputs=inputs, outputs=outputs)
    ### END SOLUTION

# %% test id=test_build_iris_functional points=2
"""build_iris_functional: a Functional keras.Model (not Sequential), 343 parameters, (N, 3) probabilities."""
from dlcourse.testkit.keras import check_rebuildable
model = build_iris_functional()
check_rebuildable(model, "build_iris_functional()")
check_type(model, keras.Model, "build_iris_functional()")
check(not isinstance(model, keras.Sequential),
      "build_iris_functional() returned a Sequential model.",
      hint="inputs = keras.Input(shape=(4,)); call each layer on the previous tensor; "
           "return keras.Model(inputs=inputs, outputs=outputs).")
check(model.count_params() == 343, f"expected 343 parameters, got {model.count_params()}.")
probs = model.predict(X_test[:5], verbose=0)
check_shape(probs, (5, 3), "the output for 5 flowers")
check_close(probs.sum(axis=1), np.ones(5), "row sums of the output", rtol=1e-5,
            hint="the last layer needs activation='softmax'.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_keras as ref
from dlcourse.testkit.keras import dense_summary, model_output

check(type(model).__name__ == "Functional" and len(model.inputs) == 1,
      f"expected a model built from keras.Input and keras.Model (a Functional model), got "
      f"{type(model).__name__}.", hint="use the Functional API, not a subclass of keras.Model.")
dense = dense_summary(model)
check(dense == [(20, "relu"), (10, "relu"), (3, "softmax")],
      f"Dense layers (units, activation): expected [(20, 'relu'), (10, 'relu'), (3, 'softmax')], "
      f"got {dense}.")
Xr = np.random.default_rng(6).normal(size=(16, 4)).astype("float32")
check_close(model_output(model, Xr), ref.reference_forward(model, Xr, ["relu", "relu", "softmax"]),
            "the output on random inputs vs a relu-relu-softmax chain with the model's weights",
            rtol=1e-4, atol=1e-5)
### END HIDDEN TESTS
passed("build_iris_functional")

# %% [markdown] id=markdown-7
# ### Exercise 2.3 · `train_iris`: compile and fit
# Compile the model you are given for integer labels 0..2 and fit it:
# * `optimizer`: `"adam"` (or `keras.optimizers.Adam(...)`) works well here;
# * `loss="sparse_categorical_crossentropy"`: the cross-entropy of notebook 01 for integer
#   labels (`"categorical_crossentropy"` expects one-hot rows);
# * `metrics=["accuracy"]`.
#
# Call `keras.utils.set_random_seed(seed)` first so that the shuffling of the batches is
# repeatable, use the `epochs` and `batch_size` arguments, pass `verbose=0`, and return
# what `fit` returns (a `History`: `history.history["loss"]` holds one loss per epoch).
# With the defaults the model must reach >= 0.93 accuracy on the test flowers.

# %% solution id=train_iris updates=model
def train_iris(model, X_train, y_train, epochs=100, batch_size=16, seed=0):
    """Compile `model` (Adam, sparse categorical cross-entropy, accuracy) and fit it.

    Args:
        model: an uncompiled Keras model mapping (N, 4) to (N, 3) probabilities.
        X_train: (N, 4) features; y_train: (N,) integer labels 0..2.
        epochs, batch_size: passed to fit; seed: seeds Keras before training.
    Returns:
        the keras.callbacks.History returned by model.fit.
    """
    ### BEGIN SOLUTION
    keras.utils.set_random_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model.fit(X_train, y_train, epochs=epochs, batch_size=batch_size, verbose=0)
    ### END SOLUTION

# %% [markdown] id=markdown-8
# **Expected output**: the training loss of both versions falls close to 0. Seeded alike, the
# two versions start from the same weights and give the same numbers: they are the same
# network. They are trained on the fitting part of the training split (84 flowers) and scored
# on its validation part (21 flowers, so each flower is worth about 0.05 of accuracy); the
# test flowers wait for the end.

# %% id=code-3
histories = {}
for name, builder in [("Sequential", build_iris_sequential), ("Functional", build_iris_functional)]:
    seed_everything(0)
    iris_model = builder()
    histories[name] = train_iris(iris_model, X_iris_fit, y_iris_fit, epochs=IRIS_EPOCHS)
    loss, acc = iris_model.evaluate(X_iris_val, y_iris_val, verbose=0)
    print(f"{name:10s}: validation loss {loss:.3f}, validation accuracy {acc:.3f}")
ax = None
for name, hist in histories.items():
    ax = plot_losses(hist.history["loss"], title="Iris in Keras (training loss)", ax=ax, label=name)
plt.show()

# %% [markdown] id=markdown-iris-curves
# `train_iris` returns the training loss only. Given `validation_data=(X_val, y_val)`, `fit`
# also scores the validation data after every epoch, and the `History` gains `val_loss` and
# `val_accuracy`. Below, the same recipe as `train_iris` with the validation curves. The
# two curves tell you how training goes: both falling is learning; the training loss falling
# while the validation loss rises is **overfitting** (the network memorises the training
# flowers).
#
# **Expected output** (full size): the validation loss is lowest after about 20 epochs and then
# climbs while the training loss goes on towards 0: 100 epochs at this learning rate are too many
# for 84 flowers. So the number of epochs is a choice, made on the validation curve: the cell
# retrains with `train_iris` for the epochs where the validation loss was lowest, and only then,
# with nothing left to choose, scores the test set, once. (Section 4's callbacks make this
# choice during training.)

# %% id=code-iris-curves
seed_everything(0)
iris_model = build_iris_sequential()
iris_model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2),
                   loss="sparse_categorical_crossentropy", metrics=["accuracy"])
iris_history = iris_model.fit(X_iris_fit, y_iris_fit, epochs=IRIS_EPOCHS, batch_size=16, verbose=0,
                              validation_data=(X_iris_val, y_iris_val))
plot_history(iris_history, title="Iris in Keras: training and validation")
plt.show()
best_epochs = int(np.argmin(iris_history.history["val_loss"])) + 1
print(f"the validation loss is lowest after {best_epochs} epochs: retrain for that many")
seed_everything(0)
iris_model = build_iris_sequential()
train_iris(iris_model, X_iris_fit, y_iris_fit, epochs=best_epochs)
loss, acc = iris_model.evaluate(X_test, y_test, verbose=0)
print(f"test (once, at the end): loss {loss:.3f}, accuracy {acc:.3f}")
print("probabilities of the first 3 test flowers:\n", np.round(iris_model.predict(X_test[:3], verbose=0), 3))
print("true classes:", y_test[:3])

# %% test id=test_train_iris points=3
"""train_iris: compiles and fits with the given epochs; the model reaches >= 0.93 test accuracy on Iris."""
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(20, activation="relu"),
                          keras.layers.Dense(10, activation="relu"), keras.layers.Dense(3, activation="softmax")])
history = train_iris(model, X_train, y_train, epochs=3)
check_type(history, keras.callbacks.History, "train_iris(...)", hint="return what model.fit returns.")
check(len(history.history.get("loss", [])) == 3,
      f"with epochs=3, history.history['loss'] should hold 3 values, got "
      f"{len(history.history.get('loss', []))}.", hint="pass epochs=epochs to fit.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_keras as ref
from dlcourse.testkit.keras import keras_mlp

IRIS_MLP = ((4,), (20, 10, 3), ("relu", "relu", "softmax"))  # the network of the visible test
model = keras_mlp(*IRIS_MLP, seed=1)
history = train_iris(model, X_train, y_train)  # the judge gets the trained weights back in `model`
check(len(history.history["loss"]) == 100,
      f"the default is 100 epochs; history holds {len(history.history['loss'])}.")
acc = ref.keras_accuracy(model, X_test, y_test)  # scored by the grader on those weights
check(acc >= 0.93, f"after train_iris with the defaults the test accuracy is {acc:.3f}; expected >= 0.93.",
      hint="use the sparse categorical cross-entropy, Adam (learning rate about 1e-3 to 1e-2), "
           "and the epochs and batch_size arguments.")
model = keras_mlp(*IRIS_MLP, seed=2)
history = train_iris(model, X_train, y_train, epochs=2, batch_size=len(X_train))
steps = history.params.get("steps")
check(steps in (None, 1), f"with batch_size={len(X_train)} each epoch should take 1 step, got {show(steps)}.",
      hint="pass batch_size=batch_size to fit.")
### END HIDDEN TESTS
passed("train_iris")

# %% [markdown] id=markdown-q_onehot_loss
# ### Question 2.4 · Which loss for one-hot labels?
# `train_iris` uses integer labels (`y_train` is `[0, 2, 1, ...]`). Suppose you had converted them
# first with `keras.utils.to_categorical(y_train, 3)`, so every label is a one-hot row such as
# `[0, 0, 1]`. The model still ends in a 3-unit softmax. Which loss is the cross-entropy of
# notebook 01 for these labels?
#
# - **a** `"sparse_categorical_crossentropy"`
# - **b** `"categorical_crossentropy"`
# - **c** `"binary_crossentropy"`
# - **d** `"mean_squared_error"`
#
# Set `q_onehot_loss` to one letter.

# %% solution id=q_onehot_loss
# Your answer: q_onehot_loss = "<one letter: a, b, c or d>"
### BEGIN SOLUTION
q_onehot_loss = "b"
### END SOLUTION

# %% test id=test_q_onehot_loss points=1
"""q_onehot_loss: the loss for one-hot labels and a softmax output."""
check_choice(q_onehot_loss, ['a', 'b', 'c', 'd'], "q_onehot_loss")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_keras as ref

check_answer(q_onehot_loss, ref.QUESTIONS["q_onehot_loss"], "q_onehot_loss")
### END HIDDEN TESTS
passed("q_onehot_loss")

# %% [markdown] id=markdown-9
# ## 3 · The same network in PyTorch
#
# PyTorch gives you the pieces and lets you write the training loop yourself. The lecture
# puts the two side by side:
#
# | Keras | PyTorch |
# |---|---|
# | `Dense(20, activation="relu")` | `nn.Linear(4, 20)` then `nn.ReLU()` (you give the input size) |
# | last layer with `softmax` | last `nn.Linear` returns **logits**; `nn.CrossEntropyLoss` applies log-softmax itself |
# | `model.compile(optimizer, loss)` | `optimizer = torch.optim.Adam(model.parameters(), lr=...)`, `loss_fn = nn.CrossEntropyLoss()` |
# | `model.fit(X, y, epochs, batch_size)` | the loop below |
#
# One training step, for every mini-batch of every epoch:
# ```python
# optimizer.zero_grad()            # 1. forget the previous step's gradients
# logits = model(X_batch)          # 2. forward
# loss = loss_fn(logits, y_batch)  # 3. loss
# loss.backward()                  # 4. backward: fills p.grad of every parameter
# optimizer.step()                 # 5. update the parameters
# ```
# `backward` **adds** the new gradients to whatever `p.grad` already holds: without
# `zero_grad` every step uses the sum of all gradients so far.
#
# ### Exercise 3.1 · `IrisNet`
# A PyTorch model is a class: `__init__` creates the layers (each `nn.Linear` stored as an
# attribute, so that PyTorch finds its parameters), and `forward` says how an input flows
# through them. Do **not** put a softmax at the end: `CrossEntropyLoss` expects logits, and a softmax
# before it squashes the gradients (the network learns slowly or gets stuck).

# %% solution id=IrisNet
class IrisNet(nn.Module):
    """Iris classifier in PyTorch.

    forward(x): x of shape (N, 4) -> logits (N, 3), through
    Linear(4, 20) -> ReLU -> Linear(20, 10) -> ReLU -> Linear(10, 3) (no softmax at the end).
    """

    def __init__(self):
        super().__init__()
        ### BEGIN SOLUTION
        self.hidden1 = nn.Linear(4, 20)
        self.hidden2 = nn.Linear(20, 10)
        self.out = nn.Linear(10, 3)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        x = torch.relu(self.hidden1(x))
        x = torch.relu(self.hidden2(x))
        return self.out(x)
        ### END SOLUTION

# %% test id=test_IrisNet points=2
"""IrisNet: 343 parameters, (N, 4) -> (N, 3) logits (no softmax), works on the notebook's device."""
net = IrisNet()
check_type(net, nn.Module, "IrisNet()")
n_params = sum(p.numel() for p in net.parameters())
check(n_params == 343, f"IrisNet should have 343 parameters, got {show(n_params)}.",
      hint="nn.Linear(4, 20), nn.Linear(20, 10), nn.Linear(10, 3).")
out = net(torch.zeros(5, 4))
check_shape(out, (5, 3), "IrisNet()(torch.zeros(5, 4))")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_keras as ref
from dlcourse.testkit.keras import linear_weights

weights = linear_weights(net)  # [(weight, bias)] of its nn.Linear layers, in order (read from net)
shapes = [tuple(np.shape(W)) for W, _ in weights]
check(shapes == [(20, 4), (10, 20), (3, 10)],
      f"Linear layers (out, in): expected [(20, 4), (10, 20), (3, 10)], got {show(shapes)}.")
torch.manual_seed(0)
Xr = torch.randn(32, 4) * 3
got = net(Xr).detach().numpy()
sums = got.sum(axis=1)
check(not (np.allclose(sums, 1.0, atol=1e-4) and (got >= 0).all()),
      "IrisNet returns probabilities (every row is >= 0 and sums to 1), not logits.",
      hint="remove the softmax: nn.CrossEntropyLoss applies log-softmax to the logits itself.")
check_close(got, ref.torch_reference_forward(weights, Xr.numpy()),
            "IrisNet's output vs Linear -> ReLU -> Linear -> ReLU -> Linear with its weights",
            rtol=1e-4, atol=1e-5, hint="relu after the two hidden layers, nothing after the last one.")
net = IrisNet().to(DEVICE)
check_shape(net(torch.zeros(2, 4, device=DEVICE)), (2, 3), f"IrisNet on device {DEVICE}")
### END HIDDEN TESTS
passed("IrisNet")

# %% [markdown] id=markdown-10
# ### Exercise 3.2 · `train_torch`
# Write the explicit loop:
# 1. move the model to `device`, and turn `X` and `y` (numpy arrays or tensors) into tensors
#    on `device`: `X` as `float32`, `y` as `int64` (`torch.long`), as `CrossEntropyLoss` wants;
# 2. make the optimiser (`torch.optim.Adam(model.parameters(), lr=lr)`, or another standard
#    one) and the loss `nn.CrossEntropyLoss()`;
# 3. for each epoch, shuffle the samples (`torch.randperm`) and walk through them in
#    mini-batches of `batch_size`, doing the five steps above;
# 4. append the epoch's loss to a list: the **mean of its batch losses**, as a Python float
#    (`loss.item()`).

# %% solution id=train_torch updates=model
def train_torch(model, X, y, epochs=100, lr=1e-2, batch_size=16, device="cpu"):
    """Train a PyTorch classifier with mini-batches, Adam and the cross-entropy loss.

    Args:
        model: an nn.Module mapping (N, D) float32 inputs to (N, C) logits.
        X: (N, D) features; y: (N,) integer labels; numpy arrays or tensors.
        epochs: passes over the data; lr: learning rate; batch_size: samples per step;
        device: "cpu", "cuda" or a torch.device.
    Returns:
        list of `epochs` floats: the mean training loss of each epoch.
    """
    ### BEGIN SOLUTION
    model.to(device)
    X = torch.as_tensor(X, dtype=torch.float32).to(device)
    y = torch.as_tensor(y, dtype=torch.long).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(X), device=device)
        batch_losses = []
        for start in range(0, len(X), batch_size):
            idx = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(X[idx]), y[idx])
            loss.backward()
            optimizer.step()
            batch_losses.append(loss.item())
        losses.append(float(np.mean(batch_losses)))
    return losses
    ### END SOLUTION

# %% [markdown] id=markdown-11
# **Expected output**: the training loss falls from about 1.1 (= ln 3, a uniform guess among 3
# classes) to below 0.1. In PyTorch the validation curve is yours to compute too: the cell
# below runs the loop of `train_torch`, written out, scores the validation flowers after each
# epoch (in `eval()` mode and under `torch.no_grad()`), and keeps a copy of the weights of the
# epoch with the lowest validation loss, which is what Keras's `EarlyStopping` with
# `restore_best_weights=True` does for you (section 4). The curves tell the same story as in
# Keras; the best weights are loaded back before the test set is scored, once (full size: a test
# accuracy of about 0.93 or more).

# %% id=code-4
torch.manual_seed(0)
iris_net = IrisNet()
torch_losses = train_torch(iris_net, X_iris_fit, y_iris_fit, epochs=IRIS_EPOCHS, device=DEVICE)


def torch_eval(net, X, y):
    """(mean cross-entropy, accuracy) of `net` on numpy X, y, without gradients."""
    net.eval()
    with torch.no_grad():
        logits = net(torch.as_tensor(X, dtype=torch.float32, device=DEVICE)).cpu()
    net.train()
    y = torch.as_tensor(y)
    return nn.functional.cross_entropy(logits, y).item(), (logits.argmax(dim=1) == y).float().mean().item()


print(f"train_torch: first loss {torch_losses[0]:.3f}, last loss {torch_losses[-1]:.3f}, "
      f"validation accuracy {torch_eval(iris_net, X_iris_val, y_iris_val)[1]:.3f}")

# The same training, with a validation curve: one optimiser, an evaluation after each epoch.
torch.manual_seed(0)
iris_net = IrisNet().to(DEVICE)
optimizer = torch.optim.Adam(iris_net.parameters(), lr=1e-2)
Xf = torch.as_tensor(X_iris_fit, dtype=torch.float32, device=DEVICE)
yf = torch.as_tensor(y_iris_fit, dtype=torch.long, device=DEVICE)
curves = {"loss": [], "val_loss": [], "accuracy": [], "val_accuracy": []}
best_state, best_val = None, float("inf")
for _epoch in range(IRIS_EPOCHS):
    order = torch.randperm(len(Xf), device=DEVICE)
    for start in range(0, len(Xf), 16):
        idx = order[start:start + 16]
        optimizer.zero_grad()
        nn.functional.cross_entropy(iris_net(Xf[idx]), yf[idx]).backward()
        optimizer.step()
    for prefix, (X_, y_) in (("", (X_iris_fit, y_iris_fit)), ("val_", (X_iris_val, y_iris_val))):
        loss, acc = torch_eval(iris_net, X_, y_)
        curves[prefix + "loss"].append(loss)
        curves[prefix + "accuracy"].append(acc)
    if curves["val_loss"][-1] < best_val:  # the best epoch so far: keep a copy of its weights
        best_val = curves["val_loss"][-1]
        best_state = {k: v.detach().clone() for k, v in iris_net.state_dict().items()}
plot_history(curves, title="Iris in PyTorch: training and validation")
plt.show()
iris_net.load_state_dict(best_state)
print(f"best validation loss {best_val:.3f}, after epoch {int(np.argmin(curves['val_loss'])) + 1}")
test_loss, torch_acc = torch_eval(iris_net, X_test, y_test)
print(f"test (once, at the end): loss {test_loss:.3f}, accuracy {torch_acc:.3f}")
with torch.no_grad():
    probs = torch.softmax(iris_net(torch.as_tensor(X_test[:3], dtype=torch.float32, device=DEVICE)), dim=1)
print("probabilities of the first 3 test flowers:\n", np.round(probs.cpu().numpy(), 3))

# %% test id=test_train_torch points=3
"""train_torch: one mean cross-entropy per epoch, accepts numpy or tensors, trains Iris to >= 0.93."""
torch.manual_seed(0)
small_net = nn.Sequential(nn.Linear(4, 20), nn.ReLU(), nn.Linear(20, 10), nn.ReLU(), nn.Linear(10, 3))
losses = train_torch(small_net, X_train, y_train, epochs=5, device="cpu")
check_type(losses, list, "train_torch(...)", hint="return a list with one loss per epoch.")
check(len(losses) == 5, f"with epochs=5 expected 5 losses, got {len(losses)}.")
check(all(isinstance(v, float) for v in losses),
      f"losses should be Python floats, got {[type(v).__name__ for v in losses]}.",
      hint="use loss.item() (a tensor kept in the list also keeps its graph in memory).")
check_finite(losses, "the losses")
check(losses[-1] < losses[0], f"the loss did not fall in 5 epochs: {np.round(losses, 3)}.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_keras as ref
from dlcourse.testkit.keras import parameter_devices, torch_mlp

IRIS_SIZES = [4, 20, 10, 3]  # a stand-in IrisNet: nn.Sequential of Linear and ReLU, seeded
# 1. the loss is the mean cross-entropy: with lr=0 nothing changes, so the epoch's mean
#    batch loss equals the cross-entropy of the whole data set (96 = 6 batches of 16).
net = torch_mlp(IRIS_SIZES, seed=0)
with torch.no_grad():
    expected = nn.functional.cross_entropy(net(torch.as_tensor(X_train[:96], dtype=torch.float32)),
                                           torch.as_tensor(y_train[:96])).item()
got = train_torch(net, X_train[:96], y_train[:96], epochs=1, lr=0.0, batch_size=16)
check(len(got) == 1 and abs(got[0] - expected) <= 1e-4 * max(1.0, expected),
      f"with lr=0 the epoch loss should be the mean cross-entropy of the data, {expected:.5f}; "
      f"got {np.round(got, 5).tolist()}.",
      hint="nn.CrossEntropyLoss on the logits, the mean of the epoch's batch losses, and the lr argument.")
# 2. tensors in, and the accuracy with the defaults
net = torch_mlp(IRIS_SIZES, seed=0)
torch.manual_seed(1)
losses = train_torch(net, torch.as_tensor(X_train), torch.as_tensor(y_train), device=torch.device("cpu"))
check(len(losses) == 100, f"the default is 100 epochs; got {len(losses)} losses.")
acc = ref.torch_accuracy(net, X_test, y_test)  # the grader's copy of net, with the trained weights
check(acc >= 0.93, f"after train_torch with the defaults IrisNet's test accuracy is {acc:.3f}; "
      "expected >= 0.93.", hint="check the five steps of the loop and the lr argument.")
# 3. the device argument: the call works with DEVICE; where the parameters ended cannot be checked
#    outside your kernel, so it is shown, not scored
net = torch_mlp(IRIS_SIZES, seed=0)
losses = train_torch(net, X_train, y_train, epochs=1, device=DEVICE)
check(len(losses) == 1, f"train_torch(..., epochs=1, device={DEVICE!r}) returned {len(losses)} losses.")
if mode() == "local":
    devices = parameter_devices(net, DEVICE)
    print(f"(information, not graded) after train_torch(..., device={DEVICE!r}) the parameters are on "
          f"{sorted(set(devices['params']))}.")
### END HIDDEN TESTS
passed("train_torch")

# %% test id=test_train_torch_zero_grad points=2
"""train_torch: the gradients are zeroed before every backward pass (no gradient accumulates across steps)."""
torch.manual_seed(0)
small_net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
first_losses = train_torch(small_net, X_train[:64], y_train[:64], epochs=1, batch_size=16)
check(len(first_losses) == 1, f"with epochs=1 expected 1 loss, got {len(first_losses)}.")
### BEGIN HIDDEN TESTS
from dlcourse.testkit.keras import torch_mlp

# With lr=0 no optimiser moves the weights, and 64 copies of one flower make every batch of 16
# the same, in any order: every step's gradient is the same. After the call each p.grad holds
# one step's gradient (or nothing, when zero_grad comes after step); without zero_grad, the sum
# of all 8 steps' gradients.
X_rep = np.repeat(np.asarray(X_train[:1], dtype=np.float32), 64, axis=0)
y_rep = np.repeat(np.asarray(y_train[:1]), 64)
net = torch_mlp([4, 20, 10, 3], seed=0, keep_grads=True)  # the grader sees its p.grad after the call
train_torch(net, X_rep, y_rep, epochs=2, lr=0.0, batch_size=16)
fresh = torch_mlp([4, 20, 10, 3], seed=0)
nn.functional.cross_entropy(fresh(torch.as_tensor(X_rep[:16])), torch.as_tensor(y_rep[:16])).backward()
for (name, p), q in zip(net.named_parameters(), fresh.parameters(), strict=True):
    if p.grad is None or not bool(p.grad.abs().max() > 0):
        continue  # zeroed after the last step
    steps = float((p.grad.double() * q.grad.double()).sum() / (q.grad.double() ** 2).sum())
    check(abs(steps - 1.0) < 1e-3,
          f"after 8 steps with lr=0 the gradient of {name} is {steps:.2f} times one step's gradient: "
          "the gradients added up across steps.",
          hint="call optimizer.zero_grad() before loss.backward() in every step.")
    check_close(p.grad, q.grad, f"the gradient of {name} left by the last step", rtol=1e-4, atol=1e-6)
### END HIDDEN TESTS
passed("train_torch (zero_grad)")

# %% [markdown] id=markdown-q_why_cross_entropy
# ### Question 3.3 · Why the cross-entropy?
# The lecture's PyTorch Iris network ends in a `sigmoid` on each of its 3 outputs and is trained
# with the mean squared error (MSE) against one-hot targets; ours returns logits and
# `CrossEntropyLoss` applies the softmax and the cross-entropy. Why is the cross-entropy the
# better choice for a classifier?
#
# - **a** the MSE cannot be minimised with Adam
# - **b** with a sigmoid output $p = \sigma(z)$ and the MSE, the gradient with respect to the logit
#   is $2(p - y)\,p(1 - p)$: when the network is confidently wrong ($p \approx 0$ for the true
#   class) the factor $p(1 - p)$ makes it almost 0, so the worst mistakes are corrected most
#   slowly; with softmax and the cross-entropy the gradient is $p - y$, largest when most wrong
# - **c** the cross-entropy counts the misclassified flowers, so minimising it maximises the
#   accuracy directly
# - **d** three sigmoid outputs already form a probability distribution over the classes, so
#   the two losses are the same; the cross-entropy is only faster to compute
#
# Set `q_why_cross_entropy` to one letter.

# %% solution id=q_why_cross_entropy
# Your answer: q_why_cross_entropy = "<one letter: a, b, c or d>"
### BEGIN SOLUTION
q_why_cross_entropy = "b"
### END SOLUTION

# %% test id=test_q_why_cross_entropy points=1
"""q_why_cross_entropy: why a classifier is trained with the cross-entropy."""
check_choice(q_why_cross_entropy, ['a', 'b', 'c', 'd'], "q_why_cross_entropy")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_keras as ref

check_answer(q_why_cross_entropy, ref.QUESTIONS["q_why_cross_entropy"], "q_why_cross_entropy")
### END HIDDEN TESTS
passed("q_why_cross_entropy")

# %% [markdown] id=markdown-mse-vs-ce
# **See it.** One output whose true target is 1, and a network that is confidently wrong,
# with the logit $z = -6$ (so $p = \sigma(-6) \approx 0.0025$). The gradient that reaches the
# logit under each loss:

# %% id=code-mse-vs-ce
z = torch.tensor([-6.0, -2.0, 0.0, 2.0], requires_grad=True)  # logits; the true target is 1 for all
p = torch.sigmoid(z)
mse_grad, = torch.autograd.grad(((p - 1.0) ** 2).sum(), z)  # sigmoid output + squared error
ce_grad, = torch.autograd.grad(nn.functional.binary_cross_entropy_with_logits(z, torch.ones(4), reduction="sum"), z)
for zi, pi, g_mse, g_ce in zip(z.tolist(), p.tolist(), mse_grad.tolist(), ce_grad.tolist(), strict=True):
    print(f"z = {zi:+.0f}  p = {pi:.4f}   dMSE/dz = {g_mse:+.4f}   dCE/dz = {g_ce:+.4f}")

# The same, over every probability the network could give the true class.
p_grid = np.linspace(0.001, 0.999, 400)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3))
ax1.plot(p_grid, -np.log(p_grid), label="cross-entropy  -log p")
ax1.plot(p_grid, (1 - p_grid) ** 2, label="squared error  (1 - p)$^2$")
ax1.set(xlabel="p: probability given to the true class", ylabel="loss", title="The losses", ylim=(0, 4))
ax2.plot(p_grid, np.abs(p_grid - 1), label="cross-entropy: |p - 1|")
ax2.plot(p_grid, np.abs(2 * (p_grid - 1) * p_grid * (1 - p_grid)), label="squared error: |2(p - 1) p (1 - p)|")
ax2.set(xlabel="p: probability given to the true class", ylabel="|gradient| w.r.t. the logit",
        title="What reaches the logit")
ax1.legend()
ax2.legend()
fig.tight_layout()

# %% [markdown] id=markdown-12
# ## 4 · Fashion-MNIST with a dense network
#
# Fashion-MNIST (Zalando Research) has 28x28 grey-scale photos of clothes in 10 classes. It
# is a drop-in replacement for the MNIST digits that is harder to classify. The course
# bundles a stratified subset (see `data/README.md`); `load_fashion_mnist(full=True)` gives
# all 70,000 images when they are available. The lecture first looks at the images:

# %% id=code-5
print("classes:", list(FASHION_CLASSES))
show_images(X_fashion_train[:40], y_fashion_train[:40], FASHION_CLASSES, rows=4, cols=10);

# %% [markdown] id=markdown-13
# A dense layer needs a vector per sample, so the lecture's network starts with
# `keras.layers.Flatten()`, which turns each 28x28 image into 784 numbers (it has no
# parameters), then `Dense(300, relu)`, `Dense(100, relu)` and `Dense(10, softmax)`:
# 784·300+300 + 300·100+100 + 100·10+10 = **266,610** parameters.
#
# ### Exercise 4.1 · `build_fashion_mlp`

# %% solution id=build_fashion_mlp
def build_fashion_mlp():
    """Flatten(28x28) -> Dense(300, relu) -> Dense(100, relu) -> Dense(10, softmax).

    Returns:
        an uncompiled Keras model mapping (N, 28, 28) images in [0, 1] to (N, 10)
        class probabilities; 266,610 parameters.
    """
    ### BEGIN SOLUTION
    return keras.Sequential([
        keras.Input(shape=(28, 28)),
        keras.layers.Flatten(),
        keras.layers.Dense(300, activation="relu"),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    ### END SOLUTION

# %% test id=test_build_fashion_mlp points=2
"""build_fashion_mlp: Flatten then Dense 300/100/10 (relu, relu, softmax), 266,610 parameters."""
from dlcourse.testkit.keras import check_rebuildable
model = build_fashion_mlp()
check_rebuildable(model, "build_fashion_mlp()")
check_type(model, keras.Model, "build_fashion_mlp()")
check(model.built, "the model does not know its input shape yet.",
      hint="start with keras.Input(shape=(28, 28)).")
check(model.count_params() == 266_610, f"expected 266,610 parameters, got {model.count_params():,}.",
      hint="Flatten -> Dense(300) -> Dense(100) -> Dense(10), each Dense with a bias.")
probs = model.predict(X_fashion_test[:4], verbose=0)
check_shape(probs, (4, 10), "the output for 4 images",
            hint="Flatten the (28, 28) images before the Dense layers.")
check_close(probs.sum(axis=1), np.ones(4), "row sums of the output", rtol=1e-5,
            hint="the last layer needs activation='softmax'.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_keras as ref
from dlcourse.testkit.keras import dense_summary, layer_summary, model_output

summary = layer_summary(model)
check(summary and summary[0][0] == "Flatten",
      f"the first layer after the input should be Flatten, got {summary[:1]}.")
dense = dense_summary(model)
check(dense == [(300, "relu"), (100, "relu"), (10, "softmax")],
      f"Dense layers (units, activation): expected [(300, 'relu'), (100, 'relu'), (10, 'softmax')], "
      f"got {dense}.")
Xr = np.random.default_rng(7).random((8, 28, 28)).astype("float32")
check_close(model_output(model, Xr), ref.reference_forward(model, Xr, ["relu", "relu", "softmax"]),
            "the output on random images vs Flatten + a relu-relu-softmax chain with the model's weights",
            rtol=1e-4, atol=1e-5)
### END HIDDEN TESTS
passed("build_fashion_mlp")

# %% [markdown] id=markdown-callbacks
# ### Callbacks: stop at the right epoch, keep the best model
#
# How many epochs? Too few and the network has not learnt; too many and it starts to
# memorise the training images: the training loss keeps falling while the validation loss
# turns back up. The lectures answer with two **callbacks**, objects that `fit` calls after
# every epoch (`model.fit(..., validation_data=(X_val, y_val), callbacks=[...])`):
#
# * `keras.callbacks.EarlyStopping` watches one number of the epoch's logs (its argument
#   `monitor`, such as `"loss"` or `"val_loss"`) and stops training when it has not improved for
#   `patience` epochs in a row. Its argument `restore_best_weights` says what the model keeps:
#   when true, the weights of its best epoch; when false (the default), those of the last epoch,
#   `patience` epochs past the best.
# * `keras.callbacks.ModelCheckpoint` saves the model to a file (its first argument, a name
#   ending in `.keras`) at the end of epochs; with `save_best_only=True` only when the monitored
#   number improves, so the file always holds the best model so far, even if the kernel dies.
#   `keras.models.load_model(path)` loads it back.
#
# Which number should they watch? Not the training loss, which keeps falling while the network
# memorises, and never anything measured on the test set, which must not steer any choice
# (and when to stop is a choice): the loss on the validation split, which `fit` logs as
# `"val_loss"` when it is given `validation_data`.
#
# ### Exercise 4.2 · `make_callbacks`
# Return a list with the two callbacks, configured as above: an `EarlyStopping` with the given
# `patience` that restores the best weights, and a `ModelCheckpoint` that saves only the best
# model to `path`; both monitor `"val_loss"`.

# %% solution id=make_callbacks
def make_callbacks(patience, path):
    """The lectures' two callbacks for training with a validation split.

    Args:
        patience: epochs without a better validation loss before training stops.
        path: file for the best model (ends in ".keras").
    Returns:
        a list [EarlyStopping, ModelCheckpoint], both monitoring "val_loss": the first with
        `patience` and restore_best_weights=True, the second saving only the best model to `path`.
    """
    ### BEGIN SOLUTION
    return [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True),
        keras.callbacks.ModelCheckpoint(path, monitor="val_loss", save_best_only=True),
    ]
    ### END SOLUTION

# %% test id=test_make_callbacks points=2
"""make_callbacks: one EarlyStopping and one ModelCheckpoint, both on val_loss, with the patience and path given."""
callbacks = make_callbacks(patience=3, path="best_model.keras")
check(isinstance(callbacks, (list, tuple)), f"make_callbacks(...) should return a list of callbacks, got "
      f"{type(callbacks).__name__}.", hint="return [early_stopping, checkpoint].")
kinds = [c.__class__.__name__ for c in callbacks]
early = [c for c in callbacks if isinstance(c, keras.callbacks.EarlyStopping)]
saver = [c for c in callbacks if isinstance(c, keras.callbacks.ModelCheckpoint)]
check(len(callbacks) == 2 and len(early) == 1 and len(saver) == 1,
      f"expected one EarlyStopping and one ModelCheckpoint, got {show(kinds)}.",
      hint="keras.callbacks.EarlyStopping(...) and keras.callbacks.ModelCheckpoint(...).")
check(early[0].monitor == "val_loss", f"EarlyStopping monitors {show(early[0].monitor)}; expected 'val_loss'.",
      hint="the training loss keeps falling while the network overfits: watch the validation loss.")
check(early[0].patience == 3, f"make_callbacks(patience=3): EarlyStopping has patience {show(early[0].patience)}.")
check(early[0].restore_best_weights is True,
      f"EarlyStopping has restore_best_weights={show(early[0].restore_best_weights)}; expected True.",
      hint="without it the model keeps the weights of the last epoch, `patience` epochs past the best.")
check(saver[0].filepath == "best_model.keras",
      f"ModelCheckpoint saves to {show(saver[0].filepath)}; expected the path given, 'best_model.keras'.")
### BEGIN HIDDEN TESTS
check(saver[0].monitor == "val_loss", f"ModelCheckpoint monitors {show(saver[0].monitor)}; expected 'val_loss'.",
      hint="keep the model that is best on the validation data, not on the training data.")
check(saver[0].save_best_only is True,
      f"ModelCheckpoint has save_best_only={show(saver[0].save_best_only)}; expected True.",
      hint="otherwise every epoch overwrites the file, and it ends holding the last model, not the best.")
callbacks = make_callbacks(7, "fashion_patience_7.keras")
early = [c for c in callbacks if isinstance(c, keras.callbacks.EarlyStopping)]
saver = [c for c in callbacks if isinstance(c, keras.callbacks.ModelCheckpoint)]
check(len(early) == 1 and len(saver) == 1, "make_callbacks(7, path) should also return one EarlyStopping and one "
      "ModelCheckpoint.")
check(early[0].patience == 7, f"make_callbacks(7, ...): EarlyStopping has patience {show(early[0].patience)}.",
      hint="use the patience argument.")
check(saver[0].filepath == "fashion_patience_7.keras",
      f"make_callbacks(7, 'fashion_patience_7.keras'): ModelCheckpoint saves to {show(saver[0].filepath)}.",
      hint="use the path argument.")
### END HIDDEN TESTS
passed("make_callbacks")

# %% [markdown] id=markdown-14
# ### Training it
# Adam with a learning rate that shrinks along a cosine curve to 0 over the training
# (`keras.optimizers.schedules.CosineDecay`) ends with small, careful steps, which makes the
# final accuracy steadier than a constant learning rate. The network learns on the fitting
# split (10,000 images), `fit` scores the validation split (2,000 images) after every epoch,
# and your callbacks stop the training when the validation loss stops improving and keep the
# best model in `fashion_best.keras`, in the working folder.
#
# **Expected output** (full size): both losses fall for the first epochs; later the training
# loss keeps falling while the validation loss flattens (the gap between them is the network
# starting to memorise), and the best validation loss comes near the end. With the cosine
# schedule the last steps are tiny, so `EarlyStopping` rarely has to stop here; train with a
# constant learning rate for 30 epochs and you will see it stop, and restore, well before the end.

# %% id=code-6
seed_everything(0)
fashion_model = build_fashion_mlp()
steps = FASHION_EPOCHS * int(np.ceil(FASHION_SAMPLES / 64))
fashion_model.compile(
    optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=steps)),
    loss="sparse_categorical_crossentropy", metrics=["accuracy"])
start = time.perf_counter()
fashion_history = fashion_model.fit(X_fashion_fit[:FASHION_SAMPLES], y_fashion_fit[:FASHION_SAMPLES],
                                    epochs=FASHION_EPOCHS, batch_size=64, verbose=0,
                                    validation_data=(X_fashion_val, y_fashion_val),
                                    callbacks=make_callbacks(PATIENCE, "fashion_best.keras"))
val_losses = fashion_history.history["val_loss"]
print(f"trained {len(val_losses)} epochs in {time.perf_counter() - start:.1f} s; the best validation loss, "
      f"{min(val_losses):.3f}, came at epoch {int(np.argmin(val_losses)) + 1}")
plot_history(fashion_history, title="Fashion-MNIST: training and validation")
plt.show()

# %% [markdown] id=markdown-fashion-test
# Every choice is made, so the test set can be used, once: the best model, loaded back from
# its file, scored on the 2,000 test images.
#
# **Expected output** (full size): a test accuracy of about 0.86 (the contract asks >= 0.84).

# %% id=code-fashion-test
best_fashion_model = keras.models.load_model("fashion_best.keras")
loss, acc = best_fashion_model.evaluate(X_fashion_test, y_fashion_test, verbose=0)
print(f"test (once, at the end): loss {loss:.3f}, accuracy {acc:.3f}")
pred = best_fashion_model.predict(X_fashion_test[:40], verbose=0).argmax(axis=1)
# the predicted class of each image; (x) marks a wrong prediction
names = [FASHION_CLASSES[p] + ("" if p == t else " (x)")
         for p, t in zip(pred, y_fashion_test[:40], strict=True)]
show_images(X_fashion_test[:40], range(40), names, rows=4, cols=10);

# %% test id=test_build_fashion_mlp_accuracy points=3 tags=slow
"""build_fashion_mlp: trained on the bundled training subset, it reaches >= 0.84 on the bundled test subset."""
model = build_fashion_mlp()
check_shape(model.predict(X_fashion_test[:2], verbose=0), (2, 10), "the output for 2 images")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_keras as ref

keras.utils.set_random_seed(0)
model = build_fashion_mlp()
ref.train_fashion(model, X_fashion_train, y_fashion_train, epochs=10, batch_size=64)
acc = ref.keras_accuracy(model, X_fashion_test, y_fashion_test)
check(acc >= 0.84, f"trained for 10 epochs (Adam, cosine decay), the test accuracy is {acc:.3f}; "
      "expected >= 0.84.", hint="Flatten -> Dense(300, relu) -> Dense(100, relu) -> Dense(10, softmax).")
### END HIDDEN TESTS
passed("build_fashion_mlp (accuracy)")

# %% [markdown] id=markdown-15
# ## 5 · Looking for a better batch size
#
# The lecture asks you to try other batch sizes. A small batch makes many small, noisy
# steps per epoch (slow epochs, often good accuracy); a large batch makes few steps per
# epoch (fast epochs on parallel hardware, but fewer updates, so after the same number of
# epochs it has learnt less). The best choice depends on the hardware: on a GPU large
# batches are almost free, on a CPU less so.
#
# ### Exercise 5.1 · `batch_size_study`
# For every batch size: seed with `keras.utils.set_random_seed(0)`, build a fresh
# `build_fashion_mlp()`, compile it (Adam, sparse categorical cross-entropy, accuracy),
# time `fit` on `X, y` for `epochs` epochs (`time.perf_counter()`), and measure the accuracy
# on the **validation** data `X_val, y_val`. Return one row per batch size, in the order given.
# The notebook passes the validation split carved from the training data: the batch size is a
# choice, and choices are never made on the test set.

# %% solution id=batch_size_study
def batch_size_study(batch_sizes, X, y, X_val, y_val, epochs):
    """Train build_fashion_mlp() once per batch size; time it and score it on validation data.

    Args:
        batch_sizes: list of ints.
        X, y: training images (N, 28, 28) in [0, 1] and integer labels (N,).
        X_val, y_val: validation images and labels.
        epochs: training epochs for every batch size.
    Returns:
        pandas DataFrame with one row per batch size and the columns
        batch_size (int), seconds_per_epoch (float), val_accuracy (float in [0, 1]).
    """
    ### BEGIN SOLUTION
    rows = []
    for batch_size in batch_sizes:
        keras.utils.set_random_seed(0)
        model = build_fashion_mlp()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        start = time.perf_counter()
        model.fit(X, y, epochs=epochs, batch_size=batch_size, verbose=0)
        seconds = (time.perf_counter() - start) / epochs
        _, val_accuracy = model.evaluate(X_val, y_val, verbose=0)
        rows.append({"batch_size": int(batch_size), "seconds_per_epoch": seconds,
                     "val_accuracy": float(val_accuracy)})
    return pd.DataFrame(rows, columns=["batch_size", "seconds_per_epoch", "val_accuracy"])
    ### END SOLUTION

# %% [markdown] id=markdown-16
# **Expected output**: the seconds per epoch fall as the batch grows; the validation
# accuracy after a fixed number of epochs usually falls for the largest batches.

# %% id=code-7
study = batch_size_study(STUDY_BATCH_SIZES, X_fashion_fit[:STUDY_SAMPLES], y_fashion_fit[:STUDY_SAMPLES],
                         X_fashion_val, y_fashion_val, epochs=STUDY_EPOCHS)  # the validation split
print(study.to_string(index=False))
best = study.loc[study.val_accuracy.idxmax()]
print(f"the best validation accuracy after {STUDY_EPOCHS} epochs: batch size {int(best.batch_size)} "
      f"({best.val_accuracy:.3f}, {best.seconds_per_epoch:.2f} s per epoch)")
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3))
ax1.plot(study.batch_size, study.seconds_per_epoch, "o-")
ax1.set(xscale="log", xlabel="batch size", ylabel="seconds per epoch", title="Time")
ax2.plot(study.batch_size, study.val_accuracy, "o-")
ax2.set(xscale="log", xlabel="batch size", ylabel="validation accuracy",
        title=f"Accuracy after {STUDY_EPOCHS} epochs")
for ax in (ax1, ax2):
    ax.set_xticks(study.batch_size, [str(b) for b in study.batch_size])
fig.tight_layout()

# %% test id=test_batch_size_study points=3
"""batch_size_study: a DataFrame with one row per batch size, seconds per epoch and validation accuracy."""
Xs, ys = X_fashion_train[:256], y_fashion_train[:256]
df = batch_size_study([32, 128], Xs, ys, X_fashion_val[:128], y_fashion_val[:128], epochs=1)
check_type(df, pd.DataFrame, "batch_size_study(...)", hint="return pd.DataFrame(rows).")
check(list(df.columns) == ["batch_size", "seconds_per_epoch", "val_accuracy"],
      f"expected the columns ['batch_size', 'seconds_per_epoch', 'val_accuracy'], got {show(list(df.columns))}.")
check(len(df) == 2 and sorted(df.batch_size.tolist()) == [32, 128],
      f"expected one row per batch size [32, 128], got batch_size {show(df.batch_size.tolist())}.")
check(bool((df.seconds_per_epoch > 0).all()),
      f"seconds_per_epoch must be > 0, got {show(df.seconds_per_epoch.tolist())}.")
check(bool(df.val_accuracy.between(0, 1).all()),
      f"val_accuracy must lie in [0, 1], got {show(df.val_accuracy.tolist())}.")
### BEGIN HIDDEN TESTS
from dlcourse.testkit.keras import SimulatedClock

# A smaller network than exercise 4.1's in place of build_fashion_mlp, whose epochs each last
# 40 s (first batch size) or 25 s (second) on every clock: timed by epoch or by the whole fit,
# divided by the epochs, the seconds per epoch are those plus the real (short) training time.
clock = SimulatedClock([40.0, 25.0])
_student_builder = build_fashion_mlp
build_fashion_mlp = clock.stand_in
try:
    # Validation labels shifted by one class: a model scored on them is almost always wrong,
    # while its accuracy on the training labels is high.
    Xs, ys = X_fashion_train[:1024], y_fashion_train[:1024]
    with clock.running(globals()):
        df = batch_size_study([32, 64], Xs, ys, Xs, (ys + 1) % 10, epochs=3)
finally:
    build_fashion_mlp = _student_builder
check(df.batch_size.tolist() == [32, 64], f"rows should follow the order of batch_sizes [32, 64], "
      f"got {show(df.batch_size.tolist())}.")
vals = np.asarray(df.val_accuracy, dtype=float)
check(bool((vals < 0.3).all()),
      f"with validation labels that are all wrong the validation accuracy should be near 0, got {show(vals)}.",
      hint="score the model on X_val and y_val (model.evaluate(X_val, y_val)), not on the training data.")
for simulated, seconds in zip(clock.durations, np.asarray(df.seconds_per_epoch, dtype=float), strict=True):
    check(simulated <= seconds < simulated + 15.0,
          f"an epoch of this test's model lasts {simulated:.0f} s (plus the real training time, under a "
          f"second), but seconds_per_epoch is {seconds:.2f}.",
          hint="time fit with time.perf_counter() and divide by the number of epochs.")
### END HIDDEN TESTS
passed("batch_size_study")

# %% [markdown] id=markdown-q_fit_updates
# ### Question 5.2 · What the batch size changes
# `X_train` holds 1,000 images. `model.fit(X_train, y_train, batch_size=32, epochs=5)` runs. How many
# times does the optimiser update the weights in total? Set `q_fit_updates` to an integer.

# %% solution id=q_fit_updates
# Your answer: q_fit_updates = <a number>
### BEGIN SOLUTION
q_fit_updates = 160
### END SOLUTION

# %% test id=test_q_fit_updates points=1
"""q_fit_updates: the number of weight updates of a fit."""
check(np.ndim(q_fit_updates) == 0 and np.issubdtype(np.asarray(q_fit_updates).dtype, np.number),
      f"q_fit_updates: answer with a number, got {show(q_fit_updates)}.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_keras as ref

check_answer(q_fit_updates, ref.QUESTIONS["q_fit_updates"], "q_fit_updates")
### END HIDDEN TESTS
passed("q_fit_updates")

# %% [markdown] id=markdown-17
# ## 6 · Keras 3: one API, several backends
#
# Keras 3 is a front end: the same Keras code runs on TensorFlow, PyTorch or JAX. The
# environment variable `KERAS_BACKEND` picks the backend, and it is read **once, when Keras is
# imported**. This notebook's kernel already imported Keras with TensorFlow, so the cell below
# runs the Iris code of section 2 in a fresh Python process with `KERAS_BACKEND=torch`.
# Nothing in the Keras code changes. (In your own scripts: set the variable before
# `import keras`, e.g. `os.environ["KERAS_BACKEND"] = "torch"`.)

# %% id=code-8
BACKEND_SCRIPT = f"""
import keras
import numpy as np
from dlcourse.data import load_iris

X_train, X_test, y_train, y_test = load_iris()
keras.utils.set_random_seed(0)
model = keras.Sequential([
    keras.Input(shape=(4,)),
    keras.layers.Dense(20, activation="relu"),
    keras.layers.Dense(10, activation="relu"),
    keras.layers.Dense(3, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(X_train, y_train, epochs={BACKEND_EPOCHS}, batch_size=16, verbose=0)
loss, acc = model.evaluate(X_test, y_test, verbose=0)
print("backend:", keras.backend.backend())
print("type of a weight:", type(model.layers[0].kernel.value).__module__)
print(f"test accuracy: {{acc:.3f}}")
"""
env = {**os.environ, "KERAS_BACKEND": "torch"}
if DEVICE.type == "cpu":
    env["OMP_NUM_THREADS"] = "1"  # one CPU thread is faster for this tiny network
result = subprocess.run([sys.executable, "-c", BACKEND_SCRIPT], env=env, capture_output=True,
                        text=True, timeout=600)
print(result.stdout or result.stderr[-2000:])

# %% [markdown] id=markdown-18
# **Expected output**: `backend: torch`, weights that are `torch` tensors, and a test accuracy
# close to the TensorFlow run of section 2.
#
# ## What you should remember
# - Keras in three steps: **create** the model (`Sequential` or `keras.Input` + `keras.Model`),
#   **compile** it (optimiser, loss, metrics), **fit** it; then `predict` gives probabilities
#   and `evaluate` gives the loss and the metrics.
# - A `Dense` layer with `n_in` inputs and `n_out` units has `n_in·n_out + n_out` parameters:
#   210 + 55 + 6 = 271 for the slides' network; `Flatten` has none.
# - Use `sparse_categorical_crossentropy` for integer labels, `categorical_crossentropy` for
#   one-hot rows.
# - Train classifiers with the cross-entropy, not the squared error of sigmoid outputs: its
#   gradient at the logits, $p - y$, is largest when the network is most wrong.
# - PyTorch leaves the loop to you: `zero_grad`, forward, loss, `backward`, `step`. Forget
#   `zero_grad` and the gradients add up from step to step. The network returns logits;
#   `CrossEntropyLoss` applies the softmax itself.
# - Batch size trades time per epoch against the number of updates: measure it on your hardware.
# - Three splits: learn on the training part, make every choice (epochs, batch size, model) on a
#   validation part carved from it, and score the test set once, at the end. Plot the training
#   and validation curves: the validation loss turning up while the training loss falls is overfitting.
# - `EarlyStopping(monitor="val_loss", patience=p, restore_best_weights=True)` stops when the
#   validation loss stops improving and keeps the best weights; `ModelCheckpoint(path,
#   monitor="val_loss", save_best_only=True)` keeps the best model on disk.
# - Keras 3 runs the same code on TensorFlow, PyTorch or JAX (`KERAS_BACKEND`, set before import).

# %% id=code-9
# Versions of the libraries this notebook ran with.
%load_ext watermark
%watermark --python --machine --packages numpy,pandas,matplotlib,scikit-learn,tensorflow,keras,torch,dlcourse
