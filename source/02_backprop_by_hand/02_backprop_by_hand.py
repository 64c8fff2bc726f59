# metadata: {"dlcourse": {"judged": true}}

# %% [markdown] id=markdown-1
# # 02 · Backpropagation by hand
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({{COLAB_URL}})
#
# Frameworks compute gradients for you, but it pays to do it once by hand. In this notebook
# you build the slides' small network in numpy. You write forward propagation layer by layer
# and the binary cross-entropy. Then you derive the **deltas** that carry the error backwards,
# and the gradients of every weight and bias. Finally you check your gradients numerically,
# train the network on a non-linear problem, and see that Keras gives the same loss.
#
# **Goals**
# 1. Implement a sigmoid that never overflows, and find its derivative.
# 2. Derive backpropagation in small checked steps: the output delta, then the rule that
#    carries a delta back one layer.
# 3. Write a `Network` class: `forward`, the summed binary cross-entropy `loss`,
#    `backward` (backpropagation) and `fit` (full-batch gradient descent).
# 4. Write `gradient_check`, which compares `backward` with central differences.
# 5. Learn the two-moons problem (>= 0.95 test accuracy) and plot the decision boundary.
#
# Short **questions** check the ideas: you set a variable such as `q_w2_shape = "b"`, and each
# wrong answer gets an explanation when it is graded. **Written questions** ask you to explain
# in a few sentences; a person grades them.
#
# Fill in every cell that says `# YOUR CODE HERE`, then run the test cell below it.
# Some tests are hidden: they run when your notebook is graded.
#
# **How to use the hints.** Try each exercise first. If a visible test fails, its message ends
# with a hint. Other hints sit in collapsed blocks: open them only after you have tried.

# %% setup id=setup-1
# Set-up: in Colab this installs the course package; elsewhere it does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "{{COURSE_PIP}}"], check=True)

# %% setup id=setup-2
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.datasets import make_moons

from dlcourse.env import device_report, seed_everything
from dlcourse.plotting import draw_network_shapes, plot_decision_boundary, plot_losses
from dlcourse.testkit.backprop import (LogCoshHeads, StandInModel, copy_params, init_params, layer_dims,
                                       random_params, set_params)
from dlcourse.testing import (check, check_answer, check_choice, check_close, check_finite, check_shape,
                              check_type, check_unchanged, passed, show)

seed_everything(0)
device_report(("numpy",));

# %% params id=params-1
# Training size: CI may shrink it (DLCOURSE_SMOKE=1); the published notebook uses these values.
SMOKE = os.environ.get("DLCOURSE_SMOKE") == "1"
NUM_EPOCHS = 200 if SMOKE else 2000
LR = 0.05

# %% [markdown] id=markdown-2
# ## 1 · The slides' example
#
# Three observations with two features each, and a binary label:
#
# | obs | $x_1$ | $x_2$ | $y$ |
# |---|---|---|---|
# | #1 | 5 | 2 | 0 |
# | #2 | 1 | 0 | 1 |
# | #3 | 3 | 1 | 1 |
#
# The network has layers $2 \to 4 \to 3 \to 1$ and a sigmoid on **every** layer. The data
# are stored **row-major**: one row per observation, so $X$ is $(3, 2)$ and each layer
# multiplies from the right:
#
# $$z^{(1)} = X W^{(1)} + b^{(1)}, \quad a^{(1)} = \sigma(z^{(1)}) \qquad (3 \times 4)$$
# $$z^{(2)} = a^{(1)} W^{(2)} + b^{(2)}, \quad a^{(2)} = \sigma(z^{(2)}) \qquad (3 \times 3)$$
# $$z^{(3)} = a^{(2)} W^{(3)} + b^{(3)}, \quad \hat y = a^{(3)} = \sigma(z^{(3)}) \qquad (3 \times 1)$$
#
# Here $W^{(1)}$ has shape $(2, 4)$, $W^{(2)}$ $(4, 3)$ and $W^{(3)}$ $(3, 1)$. There is one
# bias per unit: $b^{(1)}$ $(4,)$, $b^{(2)}$ $(3,)$, $b^{(3)}$ $(1,)$. The slides leave the
# biases out; we keep them, as every framework does. Adding $b$ to a $(3, 4)$ matrix
# broadcasts it over the rows. Each row of $z^{(1)}$ holds one observation; the first is
# $5 w^{(1)}_{1j} + 2 w^{(1)}_{2j} + b^{(1)}_j$.

# %% setup id=setup-3
X_toy = np.array([[5.0, 2.0], [1.0, 0.0], [3.0, 1.0]])
y_toy = np.array([0.0, 1.0, 1.0])
pd.DataFrame({"x_1": X_toy[:, 0], "x_2": X_toy[:, 1], "y": y_toy}, index=["#1", "#2", "#3"])

# %% [markdown] id=markdown-3
# The picture below draws the slides' network with the shape of every array for the $N = 3$
# observations. It shows the input $X$ $(3, 2)$, the weight matrices and biases between the
# layers, and $z^{(k)}$, $a^{(k)}$ under each layer, down to the output $\hat y$ $(3, 1)$.
# Check one product yourself: $(3, 2) \cdot (2, 4)$ gives $(3, 4)$. Keep the picture at hand
# for Section 4.

# %% id=code-1
# The drawing helpers live in dlcourse/plotting.py (matplotlib patches, no image files).
draw_network_shapes(dims=(2, 4, 3, 1), n_obs=len(X_toy))
plt.show()

# %% [markdown] id=markdown-4
# ### Question 1.1 · Counting parameters
# How many trainable numbers (weights **and** biases) does the 2-4-3-1 network have? Set
# `q_param_count` to an integer.

# %% solution id=q_param_count
# Your answer: q_param_count = <a number>
### BEGIN SOLUTION
q_param_count = 31
### END SOLUTION

# %% test id=test_q_param_count points=1
"""q_param_count: the number of parameters of the 2-4-3-1 network."""
check(np.ndim(q_param_count) == 0 and np.issubdtype(np.asarray(q_param_count).dtype, np.number),
      f"q_param_count: answer with a number, got {show(q_param_count)}.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_backprop as ref

check_answer(q_param_count, ref.QUESTIONS["q_param_count"], "q_param_count")
### END HIDDEN TESTS
passed("q_param_count")

# %% [markdown] id=markdown-5
# ## 2 · The sigmoid
#
# $$\sigma(z) = \frac{1}{1 + e^{-z}}$$
#
# The formula as written overflows. For $z = -1000$, `np.exp(1000)` is `inf`, and numpy warns
# `overflow encountered in exp`. The result, $1/\infty = 0$, happens to be right. But a
# warning in every training step hides real problems.
#
# The rule: only ever take `exp` of a **non-positive** number. For $z \ge 0$ the formula above
# already does that. For $z < 0$, find another expression, equal to $\sigma(z)$, in which `exp`
# only sees a non-positive number. Try it on paper first.
#
# <details><summary>Hint (try first)</summary>
#
# Multiply the numerator and the denominator of $\sigma(z)$ by the same positive number. Which
# number turns $e^{-z}$ into something that cannot overflow when $z < 0$?
# </details>
#
# Careful: `np.where(z >= 0, 1 / (1 + np.exp(-z)), ...)` still computes `np.exp(-z)` for
# **every** entry before choosing, so it still overflows.
#
# ### Exercise 2.1 · `sigmoid`

# %% solution id=sigmoid
def sigmoid(z):
    """The logistic sigmoid, elementwise, without overflow warnings.

    Args:
        z: a number or an array of any shape.
    Returns:
        sigma(z), an array shaped like z (float64), with values in [0, 1].
    """
    ### BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    ### END SOLUTION

# %% [markdown] id=markdown-6
# **Expected output:** `[0.     0.2689 0.5    0.7311 1.    ]` and no warning.

# %% id=code-2
print(np.round(sigmoid(np.array([-1000.0, -1.0, 0.0, 1.0, 1000.0])), 4))

# %% test id=test_sigmoid points=1
"""sigmoid: known values, shapes kept, symmetry sigma(-z) = 1 - sigma(z)."""
check_close(sigmoid(0.0), 0.5, "sigmoid(0)")
z = np.array([1.0, -2.0])
check_close(sigmoid(z), 1 / (1 + np.exp(-z)), "sigmoid([1, -2])",
            hint="1 / (1 + exp(-z)): mind the minus sign.")
check_shape(sigmoid(np.zeros((2, 3))), (2, 3), "sigmoid of a (2, 3) array")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_backprop as ref

rng = np.random.default_rng(11)
for shape in [(5,), (3, 4), (2, 3, 2)]:
    z = rng.normal(scale=4.0, size=shape)
    check_close(sigmoid(z), ref.sigmoid(z), f"sigmoid of a random {shape} array", atol=1e-15,
                hint="1 / (1 + exp(-z)) elementwise, for both signs of z.")
    check_close(sigmoid(-z), 1.0 - ref.sigmoid(z), f"sigmoid(-z) for a random {shape} array",
                rtol=1e-7, atol=1e-15)
### END HIDDEN TESTS
passed("sigmoid")

# %% test id=test_sigmoid_stability points=1
"""sigmoid: z = +-1000 gives exactly 1 and 0, without any overflow warning."""
with warnings.catch_warnings():
    warnings.simplefilter("error")
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            extreme = sigmoid(np.array([-1000.0, 1000.0]))
    except (FloatingPointError, RuntimeWarning) as exc:
        check(False, f"sigmoid([-1000, 1000]) raised a floating-point warning "
              f"({type(exc).__name__}).",
              hint="take np.exp only of -|z|. With e = exp(-|z|): sigma(z) = 1 / (1 + e) for z >= 0 "
                   "and e / (1 + e) for z < 0. np.where evaluates both branches for every entry, so "
                   "compute e first and use it in both.")
check_finite(extreme, "sigmoid([-1000, 1000])")
check_close(extreme, [0.0, 1.0], "sigmoid([-1000, 1000])", atol=1e-300)
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_backprop as ref

z = np.array([[-800.0, -50.0, -1e-3], [0.0, 37.0, 745.0]])
with warnings.catch_warnings():
    warnings.simplefilter("error")
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            got = sigmoid(z)
    except (FloatingPointError, RuntimeWarning) as exc:
        check(False, "sigmoid of values between -800 and 745 raised a floating-point warning "
              f"({type(exc).__name__}).",
              hint="compute exp(-|z|) and choose the formula by the sign of z.")
check_close(got, ref.sigmoid(z), "sigmoid of values between -800 and 745", rtol=1e-7, atol=1e-15)
### END HIDDEN TESTS
passed("sigmoid_stability")

# %% [markdown] id=markdown-7
# ### Exercise 2.2 · `sigmoid_prime`
# Backpropagation needs the derivative $\sigma'(z)$ **with respect to $z$**. Differentiate
# $(1 + e^{-z})^{-1}$ on paper. Then write the result with $\sigma(z)$ only, without any `exp`.
# Reuse your `sigmoid`, so that the derivative cannot overflow either.
#
# Two facts to check your result: $\sigma'(0) = 0.25$, and $\sigma'(-z) = \sigma'(z)$.
#
# <details><summary>Hint (try first)</summary>
#
# Write the derivative as a product of two fractions, each with the denominator $1 + e^{-z}$.
# What is $1 - \sigma(z)$?
# </details>

# %% solution id=sigmoid_prime
def sigmoid_prime(z):
    """Derivative of the sigmoid with respect to z, elementwise.

    Args:
        z: a number or an array of any shape (the pre-activation, not sigmoid(z)).
    Returns:
        d sigma / dz at z, shaped like z.
    """
    ### BEGIN SOLUTION
    s = sigmoid(z)
    return s * (1.0 - s)
    ### END SOLUTION

# %% test id=test_sigmoid_prime points=1
"""sigmoid_prime: 0.25 at 0, equal to central differences of the sigmoid, 0 far out, no warning."""
check_close(sigmoid_prime(0.0), 0.25, "sigmoid_prime(0)",
            hint="sigma'(z) = e^(-z) / (1 + e^(-z))^2 = sigma(z) * (1 - sigma(z)). The argument is z: "
                 "compute s = sigmoid(z) first, then s * (1 - s).")
z = np.array([-3.0, -0.5, 1.0, 2.0])
numeric = (1 / (1 + np.exp(-(z + 1e-6))) - 1 / (1 + np.exp(-(z - 1e-6)))) / 2e-6
check_close(sigmoid_prime(z), numeric, "sigmoid_prime([-3, -0.5, 1, 2]) vs central differences",
            rtol=1e-6, hint="the derivative is s * (1 - s) with s = sigmoid(z): apply it to "
                            "sigmoid(z), not to z.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_backprop as ref
from dlcourse.instructor.reference import central_gradient

rng = np.random.default_rng(12)
z = rng.normal(scale=3.0, size=(4, 5))
got = sigmoid_prime(z)
check_shape(got, z.shape, "sigmoid_prime of a (4, 5) array")
check_close(got, ref.sigmoid_prime(z), "sigmoid_prime of a random (4, 5) array", atol=1e-15,
            hint="sigmoid(z) * (1 - sigmoid(z)).")
numeric = central_gradient(lambda v: float(ref.sigmoid(v).sum()), z)  # sigmoid is elementwise
check_close(got, numeric, "sigmoid_prime against central differences", rtol=1e-6, atol=1e-12)
with warnings.catch_warnings():
    warnings.simplefilter("error")
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            far = sigmoid_prime(np.array([-1000.0, 1000.0]))
    except (FloatingPointError, RuntimeWarning) as exc:
        check(False, f"sigmoid_prime([-1000, 1000]) raised a floating-point warning "
              f"({type(exc).__name__}).",
              hint="build it on your stable sigmoid.")
check_close(far, [0.0, 0.0], "sigmoid_prime([-1000, 1000])", atol=1e-300)
### END HIDDEN TESTS
passed("sigmoid_prime")

# %% [markdown] id=markdown-8
# ### Question 2.3 · A saturated unit
# During training, one hidden unit's pre-activation reaches $z = 10$ for every observation.
# Backpropagation multiplies the error that flows back through this unit by $\sigma'(10)$.
# About how large is this factor? Work it out from your formula, then check it with
# `sigmoid_prime`.
#
# - **a** about `0.25`
# - **b** about `4.5e-5`
# - **c** about `0.99995`
# - **d** exactly `0.0`
#
# Set `q_saturation` to one letter.

# %% solution id=q_saturation
# Your answer: q_saturation = "<one letter: a, b, c or d>"
### BEGIN SOLUTION
q_saturation = "b"
### END SOLUTION

# %% test id=test_q_saturation points=1
"""q_saturation: the derivative of a saturated sigmoid."""
check_choice(q_saturation, ['a', 'b', 'c', 'd'], "q_saturation")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_backprop as ref

check_answer(q_saturation, ref.QUESTIONS["q_saturation"], "q_saturation")
### END HIDDEN TESTS
passed("q_saturation")

# %% [markdown] id=markdown-9
# ## 3 · The cost function
#
# The network's output $\hat y_i$ is the probability that observation $i$ has label 1. As
# on the slides, the cost is the binary cross-entropy **summed** (not averaged) over the
# observations:
#
# $$J = \sum_{i=1}^{N} -\bigl(y_i \log \hat y_i + (1 - y_i) \log(1 - \hat y_i)\bigr)$$
#
# For the slides' made-up outputs $\hat y = [0.2, 0.9, 0.6]$:
# $J = -\log 0.8 - \log 0.9 - \log 0.6 \approx 0.223 + 0.105 + 0.511 = 0.839$.

# %% id=code-3
y_hat_slides = np.array([0.2, 0.9, 0.6])
per_obs = -(y_toy * np.log(y_hat_slides) + (1 - y_toy) * np.log(1 - y_hat_slides))
print("per observation:", per_obs.round(3), " J =", per_obs.sum().round(3))

# %% [markdown] id=markdown-10
# ## 4 · Backpropagation: the deltas
#
# Write $\delta^{(k)} = \partial J / \partial z^{(k)}$ for the error at the pre-activation of
# layer $k$. It is shaped like $z^{(k)}$, with one row per observation. Backpropagation rests on
# three ideas, each a short derivation. Try them on paper before you open a hint.
#
# **Step 1 · the output delta.** Observation $i$ contributes
# $l_i = -\bigl(y_i \log \hat y_i + (1 - y_i) \log(1 - \hat y_i)\bigr)$ to $J$, with
# $\hat y_i = \sigma(z^{(3)}_i)$. Find $\partial l_i / \partial z^{(3)}_i$ by the chain rule,
# through $\hat y_i$, and simplify it as far as you can. Your $\sigma'$ from Exercise 2.2 helps.
# The result is very short.
#
# <details><summary>Hint (try first)</summary>
#
# Put the two terms of $\partial l_i / \partial \hat y_i$ over one common denominator. Then
# compare that denominator with $\sigma'(z^{(3)}_i)$ written with $\hat y_i$.
# </details>
#
# ### Exercise 4.1 · `output_delta`
# Return $\delta^{(3)}$ shaped like `y_hat` `(N, 1)`. `y` may come as `(N,)`: reshape it first.

# %% solution id=output_delta
def output_delta(y_hat, y):
    """dJ/dz of the output layer for a sigmoid output and the summed binary cross-entropy.

    Args:
        y_hat: the network's outputs, shape (N, 1).
        y: labels, shape (N,) or (N, 1).
    Returns:
        array shaped like y_hat.
    """
    ### BEGIN SOLUTION
    y_hat = np.asarray(y_hat, dtype=np.float64)
    return y_hat - np.asarray(y, dtype=np.float64).reshape(y_hat.shape)
    ### END SOLUTION

# %% test id=test_output_delta points=2
"""output_delta: the slides' outputs, the shape (N, 1) for labels (N,), and dJ/dz by central differences."""
d3 = output_delta(np.array([[0.2], [0.9], [0.6]]), y_toy)  # the slides' made-up outputs
check_shape(d3, (3, 1), "output_delta for y_hat (3, 1) and y (3,)",
            hint="reshape y to the shape of y_hat: (N,) - (N, 1) broadcasts to (N, N).")
check(d3[0, 0] > 0 and d3[1, 0] < 0,
      f"observation #1 (y=0) must have a positive delta and #2 (y=1) a negative one, got {d3.ravel().round(3)}.",
      hint="the sign: y_hat - y, so that gradient descent moves y_hat towards y.")
y_hat_v = np.array([[0.2], [0.9], [0.6]])
z3_v = np.log(y_hat_v / (1.0 - y_hat_v))  # the pre-activations that give these outputs


def _bce_each(zz):  # each observation's loss as a function of its pre-activation
    s = 1.0 / (1.0 + np.exp(-zz))
    return -(y_toy[:, None] * np.log(s) + (1.0 - y_toy[:, None]) * np.log(1.0 - s))


check_close(d3, (_bce_each(z3_v + 1e-6) - _bce_each(z3_v - 1e-6)) / 2e-6,
            "output_delta for the slides' outputs against central differences", rtol=1e-6,
            hint="dl/dy_hat = (y_hat - y) / (y_hat (1 - y_hat)), and the sigmoid's derivative "
                 "y_hat (1 - y_hat) cancels the denominator: delta3 = y_hat - y.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_backprop as ref

rng = np.random.default_rng(2101)
for n in (1, 4, 9):
    z3 = rng.normal(scale=2.0, size=(n, 1))
    y = rng.integers(0, 2, size=n).astype(np.float64)
    y_hat = 1.0 / (1.0 + np.exp(-z3))  # inputs for student code come from public code only
    numeric = ref.central_gradient(lambda zz, y=y: ref.bce_sum(y, ref.sigmoid(zz)), z3)
    got = output_delta(y_hat, y)
    check_shape(got, (n, 1), f"output_delta for N={n}")
    err = ref.norm_rel_error(got, numeric)
    check(err < 1e-6, f"output_delta differs from the central-difference dJ/dz for N={n}: relative error "
          f"{err:.2e}.", hint="the sigmoid's derivative cancels: the delta is y_hat - y, with no extra "
                              "y_hat * (1 - y_hat) factor.")
### END HIDDEN TESTS
passed("output_delta")

# %% written id=w_output_delta points=2
# **Written question (2 points).** Your output delta has no $\sigma'$ factor, but every hidden
# delta carries the factor $a \odot (1 - a)$. Take one observation with $y = 1$ and a very
# wrong output, $\hat y = 10^{-4}$. Compare its output delta with the delta you would get from
# the squared error $\tfrac12 (\hat y - y)^2$, which does keep the factor $\sigma'$. Why is the
# cross-entropy the better partner for a sigmoid output? Give both numbers.
#
# === BEGIN MARK SCHEME ===
#
# **Model answer.** With the binary cross-entropy, $\delta = \hat y - y \approx -1$: the
# largest possible signal, exactly when the output is most wrong. With the squared error,
# $\delta = (\hat y - y)\,\sigma'(z) = (\hat y - y)\,\hat y (1 - \hat y) \approx -1 \cdot 10^{-4}$.
# The saturated sigmoid almost stops the error, so the weights barely move and learning stalls
# while the output is confidently wrong. The cross-entropy's $1/(\hat y (1 - \hat y))$ cancels
# the sigmoid's derivative, so its gradient stays large. (Hidden sigmoid units still carry
# $a(1 - a)$, so they can still saturate.)
#
# **Rubric.** 2 points: both deltas (about $-1$ and about $-10^{-4}$), and the conclusion that
# the squared error's gradient vanishes for a saturated, confidently wrong output while the
# cross-entropy's does not. 1 point: the right idea without the numbers, or the numbers
# without the conclusion. 0 points: "cross-entropy is for classification" with no argument.
#
# === END MARK SCHEME ===

# %% [markdown] id=markdown-11
# **Step 2 · back one layer.** Here $z^{(3)} = a^{(2)} W^{(3)} + b^{(3)}$ and
# $a^{(2)} = \sigma(z^{(2)})$. The error at $z^{(3)}$ reaches $a^{(2)}$ through $W^{(3)}$, and
# then $z^{(2)}$ through the sigmoid. Use the shapes from the figure. Which product of
# $\delta^{(3)}$ $(N \times 1)$ and $W^{(3)}$ $(3 \times 1)$ gives an $(N \times 3)$ array? And
# what does the sigmoid contribute? It acts on each entry alone, so its derivative multiplies
# entry by entry ($\odot$).
#
# <details><summary>Hint (try first)</summary>
#
# Write the chain rule for one entry first:
# $\partial J / \partial a^{(2)}_{ij} = \sum_m \delta^{(3)}_{im} W^{(3)}_{jm}$. Which matrix
# product computes this sum for every $i$ and $j$ at once? And you can write
# $\sigma'(z^{(2)})$ with $a^{(2)}$ alone.
# </details>
#
# ### Exercise 4.2 · `hidden_delta`
# Given the next layer's delta, the next layer's weights and this layer's **activation** $a$,
# return this layer's delta.

# %% solution id=hidden_delta
def hidden_delta(delta_next, W_next, a):
    """The delta of a sigmoid layer from the delta of the layer after it.

    Args:
        delta_next: dJ/dz of the next layer, shape (N, n_next).
        W_next: the next layer's weights, shape (n_units, n_next).
        a: this layer's activation sigmoid(z), shape (N, n_units).
    Returns:
        array (N, n_units): dJ/dz of this layer.
    """
    ### BEGIN SOLUTION
    return (delta_next @ W_next.T) * a * (1.0 - a)
    ### END SOLUTION

# %% test id=test_hidden_delta points=2
"""hidden_delta: the shape (N, n_units) and the backpropagated dJ/dz of a hidden layer (central differences)."""
rng_v = np.random.default_rng(7)
a2_v = 1.0 / (1.0 + np.exp(-rng_v.normal(size=(3, 3))))
d2 = hidden_delta(rng_v.normal(size=(3, 1)), rng_v.normal(size=(3, 1)), a2_v)
check_shape(d2, (3, 3), "hidden_delta for delta_next (3, 1), W_next (3, 1), a (3, 3)",
            hint="delta_next @ W_next.T is (N, n_units).")
d_wide = hidden_delta(np.ones((2, 5)), np.ones((4, 5)), np.full((2, 4), 0.5))
check_shape(d_wide, (2, 4), "hidden_delta for delta_next (2, 5), W_next (4, 5), a (2, 4)")
check_close(d_wide, np.full((2, 4), 1.25), "hidden_delta with all ones and a = 0.5",
            hint="delta = (delta_next @ W_next.T) * a * (1 - a): multiply by the sigmoid's derivative "
                 "a * (1 - a) (0.25 here), not by a alone.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_backprop as ref

rng = np.random.default_rng(2202)
for n, units, n_next in [(3, 3, 1), (5, 4, 3), (2, 6, 2)]:
    z = rng.normal(size=(n, units))
    W_next = rng.normal(size=(units, n_next))
    G = rng.normal(size=(n, n_next))  # a fixed linear loss J = sum(G * z_next), so delta_next = G
    a = 1.0 / (1.0 + np.exp(-z))  # inputs for student code come from public code only
    a_before, W_before = a.copy(), W_next.copy()
    got = hidden_delta(G, W_next, a)
    check_shape(got, (n, units), f"hidden_delta for N={n}, {units} units, {n_next} units next")
    numeric = ref.central_gradient(lambda zz, G=G, W_next=W_next: float(np.sum(G * (ref.sigmoid(zz) @ W_next))), z)
    err = ref.norm_rel_error(got, numeric)
    check(err < 1e-6, f"hidden_delta differs from the central-difference dJ/dz: relative error {err:.2e}.",
          hint="(delta_next @ W_next.T) * a * (1 - a): transpose W_next, and use the derivative of the "
               "sigmoid written with the activation a.")
    check_unchanged(a_before, a, "the activation a")
    check_unchanged(W_before, W_next, "W_next")
### END HIDDEN TESTS
passed("hidden_delta")

# %% [markdown] id=markdown-12
# **Step 3 · the gradients of the parameters.** Here $z^{(k)} = a^{(k-1)} W^{(k)} + b^{(k)}$. So
# each weight $W^{(k)}_{jm}$ meets the input $a^{(k-1)}_{ij}$ of every observation $i$. Find
# $\partial J / \partial W^{(k)}$ and $\partial J / \partial b^{(k)}$ from $a^{(k-1)}$ and
# $\delta^{(k)}$. You will need them in `Network.backward` below. Use the question below to
# check your idea of the shapes first.
#
# <details><summary>Hint (try first)</summary>
#
# For one entry, $\partial J / \partial W^{(k)}_{jm} = \sum_i a^{(k-1)}_{ij}\, \delta^{(k)}_{im}$:
# a sum over the observations. Write it as one matrix product. Each bias $b^{(k)}_m$ is added
# to every row of $z^{(k)}$. It is the **activation** $a$ that multiplies the delta, not the
# pre-activation $z$.
# </details>
#
# ### Question 4.3 · The shape of a gradient
# You train the slides' network (row-major) on a batch of $N = 200$ observations. What is
# the shape of $\partial J / \partial W^{(2)}$?
#
# - **a** `(4, 3)`
# - **b** `(3, 4)`
# - **c** `(200, 3)`
# - **d** `(200, 4)`
#
# Set `q_w2_shape` to one letter.

# %% solution id=q_w2_shape
# Your answer: q_w2_shape = "<one letter: a, b, c or d>"
### BEGIN SOLUTION
q_w2_shape = "a"
### END SOLUTION

# %% test id=test_q_w2_shape points=1
"""q_w2_shape: the shape of dJ/dW2."""
check_choice(q_w2_shape, ['a', 'b', 'c', 'd'], "q_w2_shape")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_backprop as ref

check_answer(q_w2_shape, ref.QUESTIONS["q_w2_shape"], "q_w2_shape")
### END HIDDEN TESTS
passed("q_w2_shape")

# %% [markdown] id=markdown-13
# **Gradient descent** (steepest descent) then steps against the gradient, with a learning
# rate $\eta$ (the argument `lr`): $W^{(k)} \leftarrow W^{(k)} - \eta\, \partial J / \partial W^{(k)}$,
# and the same for $b^{(k)}$.
#
# ## 5 · The `Network` class
#
# One class for any number of layers: `Network(2, [4, 3])` is the slides' network. The
# constructor is given. It draws $W^{(k)} \sim \mathcal N(0, 1/n_{\text{prev}})$, sets the
# biases to 0, and stores them in two lists, `self.weights` and `self.biases`. Every method
# must read the parameters from these lists (the tests put their own weights there).
#
# ### Exercise 5.1 · `Network`
# - `forward(X)` returns $\hat y$ of shape `(N, output_dim)`. Keep what `backward` needs
#   (the activations of every layer) in an attribute of `self`.
# - `loss(X, y)` returns $J$, the **sum** of Section 3, as a float. `y` may be shaped `(N,)`
#   (as `y_toy`) or `(N, output_dim)`. Reshape it to the shape of $\hat y$ first: `(N,) - (N, 1)`
#   would broadcast to `(N, N)`! Clip $\hat y$ to `[1e-12, 1 - 1e-12]` before the logs.
# - `backward(X, y)` runs a forward pass and returns `(grads_W, grads_b)`: two lists shaped
#   like `self.weights` and `self.biases`. Use your three steps of Section 4, from the last
#   layer back to the first. It must not change the parameters.
# - `fit(X, y, lr=0.5, epochs=1000)`: full-batch gradient descent. In each epoch, record the
#   loss **before** the update, then update every weight and bias. Return the list of losses.
#
# Work in float64.

# %% solution id=Network
class Network:
    """A fully connected network with a sigmoid on every layer, trained on the summed
    binary cross-entropy. Layer k computes a_k = sigmoid(a_{k-1} @ weights[k] + biases[k])."""

    def __init__(self, input_dim, hidden_layer_dims, output_dim=1, seed=0):
        """
        Args:
            input_dim: number of input features (2 on the slides).
            hidden_layer_dims: list of hidden-layer widths ([4, 3] on the slides).
            output_dim: number of output units (1: one probability per observation).
            seed: seed of the weight initialisation.
        """
        rng = np.random.default_rng(seed)
        dims = [input_dim, *hidden_layer_dims, output_dim]
        # weights[k]: (n_prev, n_out); biases[k]: (n_out,)
        self.weights = [rng.normal(0.0, 1.0 / np.sqrt(n_prev), size=(n_prev, n_out))
                        for n_prev, n_out in zip(dims[:-1], dims[1:], strict=True)]
        self.biases = [np.zeros(n_out) for n_out in dims[1:]]

    def forward(self, X):
        """Forward propagation.

        Args:
            X: inputs, shape (N, input_dim).
        Returns:
            y_hat, shape (N, output_dim): the activation of the last layer.
        """
        ### BEGIN SOLUTION
        a = np.asarray(X, dtype=np.float64)
        self.activations = [a]  # [X, a1, a2, ..., y_hat]
        for W, b in zip(self.weights, self.biases, strict=True):
            a = sigmoid(a @ W + b)
            self.activations.append(a)
        return a
        ### END SOLUTION

    def loss(self, X, y):
        """The summed binary cross-entropy J (a float); y shaped (N,) or (N, output_dim)."""
        ### BEGIN SOLUTION
        y_hat = np.clip(self.forward(X), 1e-12, 1.0 - 1e-12)
        y = np.reshape(np.asarray(y, dtype=np.float64), y_hat.shape)
        return float(-np.sum(y * np.log(y_hat) + (1.0 - y) * np.log(1.0 - y_hat)))
        ### END SOLUTION

    def backward(self, X, y):
        """Backpropagation.

        Returns:
            (grads_W, grads_b): lists with dJ/dW for every layer (shaped like self.weights)
            and dJ/db (shaped like self.biases).
        """
        ### BEGIN SOLUTION
        y_hat = self.forward(X)
        y = np.reshape(np.asarray(y, dtype=np.float64), y_hat.shape)
        delta = -(y - y_hat)  # delta of the output layer, (N, output_dim)
        grads_W = [None] * len(self.weights)
        grads_b = [None] * len(self.biases)
        for k in range(len(self.weights) - 1, -1, -1):
            a_prev = self.activations[k]  # what entered layer k
            grads_W[k] = a_prev.T @ delta
            grads_b[k] = delta.sum(axis=0)
            if k > 0:
                delta = (delta @ self.weights[k].T) * a_prev * (1.0 - a_prev)
        return grads_W, grads_b
        ### END SOLUTION

    def fit(self, X, y, lr=0.5, epochs=1000):
        """Full-batch gradient descent; returns the `epochs` losses, each before its update."""
        ### BEGIN SOLUTION
        losses = []
        for _ in range(epochs):
            losses.append(self.loss(X, y))
            grads_W, grads_b = self.backward(X, y)
            self.weights = [W - lr * g for W, g in zip(self.weights, grads_W, strict=True)]
            self.biases = [b - lr * g for b, g in zip(self.biases, grads_b, strict=True)]
        return losses
        ### END SOLUTION

# %% [markdown] id=markdown-14
# **Expected output** of the cell below: the shapes `(2, 4) (4, 3) (3, 1)`, and three
# probabilities strictly between 0 and 1. The loss is near $3 \log 2 \approx 2.08$, because a
# small random network gives probabilities near 0.5.

# %% id=code-4
net = Network(2, [4, 3], seed=0)
print("weights:", *[W.shape for W in net.weights], " biases:", *[b.shape for b in net.biases])
print("y_hat =", net.forward(X_toy).ravel().round(3))
print(f"J = {net.loss(X_toy, y_toy):.3f}")
grads_W, grads_b = net.backward(X_toy, y_toy)
print("dJ/dW shapes:", *[g.shape for g in grads_W])

# %% test id=test_Network_forward points=2
"""Network.forward: shapes on the slides' network, the biases count; random networks vs a ref."""
net_t = Network(2, [4, 3], seed=0)
check(len(net_t.weights) == 3 and len(net_t.biases) == 3,
      f"Network(2, [4, 3]) should have 3 layers, got {len(net_t.weights)} weight arrays.")
y_hat_t = net_t.forward(X_toy)
check_shape(y_hat_t, (3, 1), "forward(X_toy) of Network(2, [4, 3])",
            hint="one row per observation and one column per output unit: (N, output_dim).")
check(bool(np.all((y_hat_t > 0) & (y_hat_t < 1))), "forward should return probabilities in (0, 1).",
      hint="apply the sigmoid on every layer, the last one too.")
# the test's own parameters: set_params does net_t.weights, net_t.biases = (copies of them)
set_params(net_t, [np.zeros_like(W) for W in net_t.weights],
           [np.zeros(4), np.zeros(3), np.array([1.5])])
check_close(net_t.forward(X_toy), np.full((3, 1), 1 / (1 + np.exp(-1.5))),
            "forward with all weights 0 and a last bias of 1.5",
            hint="every layer adds its bias: z = a_prev @ W + b.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_backprop as ref

rng = np.random.default_rng(21)
for (d_in, hidden, d_out), n in [((2, [4, 3], 1), 3), ((3, [5], 2), 7), ((4, [6, 5, 3], 1), 16),
                                 ((5, [], 1), 4), ((2, [8, 8], 3), 1)]:
    net_h = Network(d_in, hidden, d_out, seed=1)
    W_h, b_h = random_params(rng, layer_dims(d_in, hidden, d_out))
    set_params(net_h, W_h, b_h)
    X_h = rng.normal(size=(n, d_in))
    got = net_h.forward(X_h)
    check_close(got, ref.forward(W_h, b_h, X_h),
                f"forward of a {d_in} -> {hidden} -> {d_out} network on {n} observation(s), "
                "with weights and biases set from the tests",
                hint="read the parameters from self.weights / self.biases; z = a_prev @ W + b, "
                     "then the sigmoid, on every layer.")
### END HIDDEN TESTS
passed("Network_forward")

# %% test id=test_Network_loss points=2
"""Network.loss: the SUM of the binary cross-entropy over observations, a float."""
net_t = Network(2, [4, 3], seed=0)
set_params(net_t, [np.zeros_like(W) for W in net_t.weights],
           [np.zeros(4), np.zeros(3), np.array([np.log(0.6 / 0.4)])])  # y_hat = 0.6 everywhere
J_t = net_t.loss(X_toy, y_toy)
check(np.ndim(J_t) == 0, f"loss must return one number, got shape {np.shape(J_t)}.",
      hint="reshape y to the shape of y_hat, (N, 1), before combining them.")
check_close(J_t, -(np.log(0.4) + 2 * np.log(0.6)), "loss when y_hat = 0.6 for the 3 observations",
            hint="sum over the observations (the slides' J), do not average.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_backprop as ref

rng = np.random.default_rng(22)
for (d_in, hidden, d_out), n, y_shape in [((2, [4, 3], 1), 3, "flat"), ((3, [5], 2), 7, "2d"),
                                          ((4, [6, 5], 1), 16, "2d"), ((2, [3], 1), 10, "flat")]:
    net_h = Network(d_in, hidden, d_out, seed=2)
    W_h, b_h = random_params(rng, layer_dims(d_in, hidden, d_out))
    set_params(net_h, W_h, b_h)
    X_h = rng.normal(size=(n, d_in))
    y_h = rng.integers(0, 2, size=(n, d_out)).astype(float)
    if y_shape == "flat":
        y_h = y_h.ravel()
    got = net_h.loss(X_h, y_h)
    check(np.ndim(got) == 0, f"loss must return one number, got shape {np.shape(got)}.")
    check_close(got, ref.loss(W_h, b_h, X_h, y_h),
                f"loss of a {d_in} -> {hidden} -> {d_out} network on {n} observations "
                f"(y shaped {np.shape(y_h)})",
                hint="J = -sum(y log y_hat + (1 - y) log(1 - y_hat)) over observations and "
                     "outputs, with y reshaped to the shape of y_hat.")
### END HIDDEN TESTS
passed("Network_loss")

# %% test id=test_Network_backward points=3
"""Network.backward: shapes, parameters unchanged, dJ/db of the last layer = sum(y_hat - y), central
differences on two entries; hidden: every gradient against central differences in float64."""
net_t = Network(2, [4, 3], seed=0)
W_before = [W.copy() for W in net_t.weights]
try:
    g_W, g_b = net_t.backward(X_toy, y_toy)
except ValueError:
    check(False, "backward(X_toy, y_toy) raised ValueError.",
          hint="y_toy is shaped (3,) and y_hat (3, 1): reshape y to the shape of y_hat first; "
               "then check the shapes of each matrix product.")
check(len(g_W) == 3 and len(g_b) == 3, f"backward should return 3 weight and 3 bias gradients, got "
      f"{len(g_W)} and {len(g_b)}.")
for k in range(3):
    check_shape(g_W[k], net_t.weights[k].shape, f"grads_W[{k}]", hint="dJ/dW has the shape of W.")
    check_shape(g_b[k], net_t.biases[k].shape, f"grads_b[{k}]",
                hint="sum delta over the observations (axis=0).")
    check_close(net_t.weights[k], W_before[k], f"weights[{k}] after backward", rtol=0,
                hint="backward computes gradients; only fit changes the parameters.")
y_hat_t = net_t.forward(X_toy).ravel()
check_close(g_b[-1], [np.sum(y_hat_t - y_toy)], "dJ/db of the output layer",
            hint="delta3 = -(y - y_hat) = y_hat - y, summed over the observations "
                 "(the loss is a sum).")
for name, params, grads, idx in [("W1[0, 0]", net_t.weights, g_W, (0, (0, 0))),
                                 ("b1[0]", net_t.biases, g_b, (0, (0,)))]:
    k, pos = idx
    old = params[k][pos]
    params[k][pos] = old + 1e-5
    J_plus = net_t.loss(X_toy, y_toy)
    params[k][pos] = old - 1e-5
    J_minus = net_t.loss(X_toy, y_toy)
    params[k][pos] = old
    check_close(grads[k][pos], (J_plus - J_minus) / 2e-5, f"dJ/d{name} against central differences",
                rtol=1e-5, hint="each hidden layer's delta is multiplied by a * (1 - a) of that "
                                "layer, and dJ/dW uses the activation that entered the layer "
                                "(X for the first). backward must be the gradient of the summed "
                                "loss, so check that loss is a sum too.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_backprop as ref
from dlcourse.instructor.reference import norm_rel_error

rng = np.random.default_rng(23)
cases = [((2, [4, 3], 1), 3), ((3, [5], 2), 7), ((4, [6, 5, 3], 1), 16), ((5, [], 1), 4),
         ((2, [8, 8], 1), 1)]
for (d_in, hidden, d_out), n in cases:
    net_h = Network(d_in, hidden, d_out, seed=3)
    W_h, b_h = random_params(rng, layer_dims(d_in, hidden, d_out))
    set_params(net_h, W_h, b_h)
    X_h = rng.normal(size=(n, d_in))
    y_h = rng.integers(0, 2, size=(n, d_out)).astype(float)
    if d_out == 1 and n % 2:
        y_h = y_h.ravel()
    arch = f"{d_in} -> {hidden} -> {d_out} on {n} observation(s)"
    gW_h, gb_h = net_h.backward(X_h, y_h)
    check(len(gW_h) == len(W_h) and len(gb_h) == len(b_h),
          f"backward of {arch}: expected {len(W_h)} weight and bias gradients, "
          f"got {len(gW_h)} and {len(gb_h)}.")
    numeric = ref.numeric_grads(W_h, b_h, X_h, y_h)  # (dJ/dW list, dJ/db list) by central differences
    for kind, got_list, params, num_list in (("W", gW_h, W_h, numeric[0]),
                                             ("b", gb_h, b_h, numeric[1])):
        for k, (got, p) in enumerate(zip(got_list, params, strict=True)):
            check_shape(got, p.shape, f"dJ/d{kind}[{k}] of {arch}")
            err = norm_rel_error(got, num_list[k])
            check(err <= 1e-7, f"dJ/d{kind}[{k}] of {arch} differs from central differences: "
                  f"relative error {err:.2e} (want <= 1e-7).",
                  hint="delta_out = y_hat - y; delta_prev = (delta @ W.T) * a * (1 - a); "
                       "dJ/dW = a_prev.T @ delta; dJ/db = delta summed over observations "
                       "(a sum, not a mean).")
    for k in range(len(W_h)):
        check_close(net_h.weights[k], W_h[k], f"weights[{k}] after backward of {arch}", rtol=0)
### END HIDDEN TESTS
passed("Network_backward")

# %% test id=test_Network_backward_autograd points=2
"""Network.backward and loss agree with PyTorch autograd on the same weights (float64)."""
g_W, g_b = Network(2, [4, 3], seed=0).backward(X_toy, y_toy)
check_type(g_W, (list, tuple), "grads_W")
check_type(g_b, (list, tuple), "grads_b")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_backprop as ref
from dlcourse.instructor.reference import norm_rel_error

rng = np.random.default_rng(24)
for (d_in, hidden, d_out), n in [((2, [4, 3], 1), 3), ((3, [7, 4], 2), 9), ((6, [5], 1), 32),
                                 ((2, [3, 3, 3], 4), 5)]:
    net_h = Network(d_in, hidden, d_out, seed=4)
    W_h, b_h = random_params(rng, layer_dims(d_in, hidden, d_out), scale=1.0)
    set_params(net_h, W_h, b_h)
    X_h = rng.normal(size=(n, d_in)) * 2.0
    y_h = rng.integers(0, 2, size=(n, d_out)).astype(float)
    arch = f"{d_in} -> {hidden} -> {d_out} on {n} observations"
    torch_ref = ref.torch_grads(W_h, b_h, X_h, y_h)  # (J, dJ/dW list, dJ/db list) from autograd
    check_close(net_h.loss(X_h, y_h), torch_ref[0], f"loss of {arch} against PyTorch", rtol=1e-9)
    gW_h, gb_h = net_h.backward(X_h, y_h)
    check(len(gW_h) == len(W_h) and len(gb_h) == len(b_h),
          f"backward of {arch}: expected {len(W_h)} weight and bias gradients, "
          f"got {len(gW_h)} and {len(gb_h)}.")
    for kind, got_list, params, t_list in (("W", gW_h, W_h, torch_ref[1]),
                                           ("b", gb_h, b_h, torch_ref[2])):
        for k, (got, p) in enumerate(zip(got_list, params, strict=True)):
            check_shape(got, p.shape, f"dJ/d{kind}[{k}] of {arch}")
            err = norm_rel_error(got, t_list[k])
            check(err <= 1e-9, f"dJ/d{kind}[{k}] of {arch} differs from PyTorch autograd: "
                  f"relative error {err:.2e}.",
                  hint="compare your deltas with the formulas of section 4, layer by layer.")
X_s = np.array([[5.0, 2.0], [1.0, 0.0], [3.0, 1.0]])
net_s = Network(2, [4, 3], seed=0)
W_s, b_s = random_params(rng, [2, 4, 3, 1], scale=0.5)
set_params(net_s, W_s, b_s)
torch_s = ref.torch_grads(W_s, b_s, X_s, np.array([[0.0], [1.0], [1.0]]))
tW, tb = torch_s[1], torch_s[2]
gW_s, gb_s = net_s.backward(X_s, np.array([0.0, 1.0, 1.0]))
check(len(gW_s) == 3 and len(gb_s) == 3, "backward of Network(2, [4, 3]) should return 3 weight and "
      f"3 bias gradients, got {len(gW_s)} and {len(gb_s)}.")
for k in range(3):
    check(norm_rel_error(gW_s[k], tW[k]) <= 1e-9 and norm_rel_error(gb_s[k], tb[k]) <= 1e-9,
          f"on the slides' data (y shaped (3,)), layer {k}'s gradients differ from PyTorch "
          "autograd.",
          hint="reshape y to (N, 1) before computing y_hat - y.")
### END HIDDEN TESTS
passed("Network_backward_autograd")

# %% [markdown] id=markdown-15
# **Gradient descent on the slides' example.** With `lr=0.5` the loss falls from about 2.1,
# and the network ends up predicting the three labels.

# %% id=code-5
net = Network(2, [4, 3], seed=0)
toy_losses = net.fit(X_toy, y_toy, lr=0.5, epochs=1000)
print(f"loss: first {toy_losses[0]:.3f}, last {toy_losses[-1]:.4f}")
print("y_hat =", net.forward(X_toy).ravel().round(3), " y =", y_toy)

# %% test id=test_Network_fit points=3
"""Network.fit: one loss per epoch recorded before each update, a falling loss; hidden: follows
plain gradient descent and learns two moons to >= 0.95 test accuracy."""
net_t = Network(2, [4, 3], seed=0)
losses_t = net_t.fit(X_toy, y_toy, lr=0.5, epochs=50)
check(len(losses_t) == 50, f"fit(..., epochs=50) should return 50 losses, got {len(losses_t)}.")
check_close(losses_t[0], Network(2, [4, 3], seed=0).loss(X_toy, y_toy), "the first recorded loss",
            hint="record the loss before each update (the first one is the loss of the "
                 "initial weights).")
check(losses_t[-1] < losses_t[0],
      f"the loss did not fall: first {losses_t[0]:.3f}, last {losses_t[-1]:.3f}.",
      hint="step against the gradient: W = W - lr * dJ/dW.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_backprop as ref

# Plain gradient descent from the same weights follows the reference trajectory.
W0, b0 = random_params(np.random.default_rng(25), [2, 4, 3, 1], scale=0.5)
net_h = Network(2, [4, 3], seed=5)
set_params(net_h, W0, b0)
got = np.asarray(net_h.fit(X_toy, y_toy, lr=0.3, epochs=20), dtype=float)
ref_fit = ref.fit_losses(W0, b0, X_toy, y_toy, lr=0.3, epochs=20)  # (losses, weights, biases)
expected, W_end, b_end = ref_fit[0], ref_fit[1], ref_fit[2]
check_shape(got, (20,), "losses of fit(X_toy, y_toy, lr=0.3, epochs=20)",
            hint="use the epochs argument.")
check_close(got, expected, "losses of 20 epochs of gradient descent (lr=0.3) on the slides' data",
            rtol=1e-6, hint="each epoch: record the summed loss, then W -= lr * dJ/dW and "
                            "b -= lr * dJ/db for every layer; use the lr argument.")
check_close(net_h.forward(X_toy), ref.forward(W_end, b_end, X_toy),
            "the predictions after fit (the parameters must end in self.weights / self.biases)",
            rtol=1e-6)
# Two moons: a fixed, fast run must reach >= 0.95 test accuracy.
X_tr, y_tr = make_moons(n_samples=200, noise=0.15, random_state=0)
X_te, y_te = make_moons(n_samples=500, noise=0.15, random_state=1)
W0, b0 = init_params(2, [16], 1, seed=0)
net_m = Network(2, [16], seed=0)
set_params(net_m, W0, b0)
moon_losses = np.asarray(net_m.fit(X_tr, y_tr, lr=0.05, epochs=500), dtype=float)
check_finite(moon_losses, "losses on two moons")
exp_moon = ref.fit_losses(W0, b0, X_tr, y_tr, lr=0.05, epochs=500)[0]
check_close(moon_losses[:5], exp_moon[:5], "the first 5 losses on two moons (lr=0.05)", rtol=1e-6)
accuracy = np.mean((net_m.forward(X_te)[:, 0] > 0.5) == y_te)
check(accuracy >= 0.95, "after 500 epochs (lr=0.05) on two moons the test accuracy is "
      f"{accuracy:.3f}, want >= 0.95.",
      hint="check backward first; fit must update every layer's weights and biases.")
### END HIDDEN TESTS
passed("Network_fit")

# %% [markdown] id=markdown-16
# ### Question 5.2 · A sum or a mean
# In Section 7 you train on $N = 200$ observations with the summed loss $J$ and $\eta = 0.05$.
# A classmate uses the mean loss $J / N$ instead, as Keras and PyTorch do by default. She wants
# exactly the same gradient-descent steps as yours. Which learning rate must she use?
#
# - **a** $\eta = 0.05$
# - **b** $\eta = 10$
# - **c** $\eta = 0.00025$
# - **d** $\eta = 0.707$
#
# Set `q_sum_vs_mean` to one letter.

# %% solution id=q_sum_vs_mean
# Your answer: q_sum_vs_mean = "<one letter: a, b, c or d>"
### BEGIN SOLUTION
q_sum_vs_mean = "b"
### END SOLUTION

# %% test id=test_q_sum_vs_mean points=1
"""q_sum_vs_mean: the learning rate for a mean instead of a sum."""
check_choice(q_sum_vs_mean, ['a', 'b', 'c', 'd'], "q_sum_vs_mean")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_backprop as ref

check_answer(q_sum_vs_mean, ref.QUESTIONS["q_sum_vs_mean"], "q_sum_vs_mean")
### END HIDDEN TESTS
passed("q_sum_vs_mean")

# %% [markdown] id=markdown-17
# ## 6 · Checking the gradients numerically
#
# A bug in `backward` does not crash: the network just learns badly, or not at all. So compare
# every gradient with central differences, as in notebook 01, one parameter at a time. For one
# parameter array, let $a$ be the analytic (backprop) gradient and $n$ the numeric one. Their
# relative error is
#
# $$\frac{\lVert a - n \rVert}{\lVert a \rVert + \lVert n \rVert} \qquad (0 \text{ when both are } 0)$$
#
# It does not depend on the scale of the loss. An absolute error $\lVert a - n \rVert$ would
# look tiny for a small loss and huge for a big one. In float64, a correct `backward` gives
# about $10^{-9}$ or less; a wrong one gives $10^{-2}$ or more.
#
# ### Exercise 6.1 · `gradient_check`
# Use only `network.weights`, `network.biases`, `network.loss(X, y)` and
# `network.backward(X, y)`. Change one entry at a time **in place** (the loss reads the
# lists), and put it back: the network must be unchanged when you return. Check the biases
# as well as the weights.

# %% solution id=gradient_check
def gradient_check(network, X, y, h=1e-5):
    """Largest relative error between backprop and central-difference gradients.

    Args:
        network: an object with lists `weights` and `biases`, and methods `loss(X, y)`
            and `backward(X, y)`.
        X, y: the data the loss is computed on.
        h: the central-difference step.
    Returns:
        float: the largest, over all weight and bias arrays, of norm(a - n) / (norm(a) + norm(n)).
    """
    ### BEGIN SOLUTION
    grads_W, grads_b = network.backward(X, y)
    worst = 0.0
    for params, grads in ((network.weights, grads_W), (network.biases, grads_b)):
        for p, analytic in zip(params, grads, strict=True):
            numeric = np.zeros_like(p, dtype=np.float64)
            for idx in np.ndindex(p.shape):
                old = p[idx]
                p[idx] = old + h
                J_plus = network.loss(X, y)
                p[idx] = old - h
                J_minus = network.loss(X, y)
                p[idx] = old
                numeric[idx] = (J_plus - J_minus) / (2 * h)
            denom = np.linalg.norm(analytic) + np.linalg.norm(numeric)
            if denom > 0:
                worst = max(worst, float(np.linalg.norm(analytic - numeric) / denom))
    return worst
    ### END SOLUTION

# %% [markdown] id=markdown-18
# **Expected output:** a relative error around $10^{-9}$ or below for your network, both on
# the slides' data and on a bigger random network.

# %% id=code-6
print(f"slides' network: {gradient_check(Network(2, [4, 3], seed=0), X_toy, y_toy):.2e}")
rng = np.random.default_rng(0)
X_rand, y_rand = rng.normal(size=(10, 5)), rng.integers(0, 2, size=10)
print(f"5 -> [6, 4] -> 1: {gradient_check(Network(5, [6, 4], seed=1), X_rand, y_rand):.2e}")

# %% test id=test_gradient_check points=2
"""gradient_check: 0 for exact gradients, the norm-relative error for wrong ones, biases included,
the network left unchanged."""


class ToyModel(StandInModel):
    """loss = sum(W**2) + sum(sin(b)); backward: the true gradient, bias part times bias_factor.

    (A StandInModel: while grading, the judge sees its weights and biases as gradient_check left them.)"""

    def __init__(self, bias_factor=1.0):
        self.weights = [np.array([[1.0, -2.0], [0.5, 3.0]])]
        self.biases = [np.array([0.3, -1.2, 2.0])]
        self.bias_factor = bias_factor

    def loss(self, X, y):
        return float(np.sum(self.weights[0] ** 2) + np.sum(np.sin(self.biases[0])))

    def backward(self, X, y):
        return [2 * self.weights[0]], [self.bias_factor * np.cos(self.biases[0])]


exact = gradient_check(ToyModel(), None, None)
check(np.ndim(exact) == 0, f"gradient_check must return one number, got shape {np.shape(exact)}.")
check(exact < 1e-8, f"gradient_check of exact gradients returned {exact:.2e}; expected about 0.",
      hint="central differences (J(p + h) - J(p - h)) / (2h), one entry at a time, each put back "
           "afterwards.")
wrong = ToyModel(bias_factor=2.0)
check_close(gradient_check(wrong, None, None), 1 / 3,
            "gradient_check when the bias gradient is doubled", rtol=1e-6,
            hint="the relative error norm(a - n) / (norm(a) + norm(n)) is 1/3 when a = 2n; "
                 "check the biases too, and return the largest error, not an absolute one.")
check_close(wrong.weights[0], ToyModel().weights[0], "the weights after gradient_check", atol=1e-12,
            hint="put every entry back after changing it.")
check_close(wrong.biases[0], ToyModel().biases[0], "the biases after gradient_check", atol=1e-12)
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_backprop as ref

# LogCoshHeads (dlcourse.testkit.backprop): linear heads under a log-cosh loss, with an exact
# backward, or one whose gradient of one array is `factor` times too big.
rng = np.random.default_rng(26)
for d_in, heads, n, (kind, k_wrong) in [(2, [4, 3], 3, ("b", 1)), (3, [5], 6, ("W", 0)),
                                        (4, [3, 1, 2], 8, ("b", 0))]:
    X_h, y_h = rng.normal(size=(n, d_in)), rng.normal(size=n)
    good = LogCoshHeads(rng, d_in, heads)
    before = copy_params(good.weights, good.biases)
    label = f"a model with {d_in} inputs and heads {heads} on {n} observations"
    err = gradient_check(good, X_h, y_h)
    check(np.ndim(err) == 0 and err <= 1e-7,
          f"gradient_check of {label} with exact gradients returned {show(err)}; want <= 1e-7.",
          hint="compare each array's backprop gradient with central differences.")
    for k in range(len(heads)):
        check_close(good.weights[k], before[0][k], f"weights[{k}] after gradient_check", atol=1e-12)
        check_close(good.biases[k], before[1][k], f"biases[{k}] after gradient_check", atol=1e-12)
    array = f"{'weights' if kind == 'W' else 'biases'}[{k_wrong}]"
    for factor in (3.0, 1.01):
        bad = LogCoshHeads(rng, d_in, heads, wrong=(kind, k_wrong, factor))
        bad.weights, bad.biases = copy_params(*before)
        expected = ref.gradient_check(bad, X_h, y_h)
        check_close(gradient_check(bad, X_h, y_h), expected,
                    f"gradient_check of {label} whose gradient of {array} is {factor}x too big",
                    rtol=1e-4,
                    hint="the largest over all arrays (weights and biases) of "
                         "norm(a - n) / (norm(a) + norm(n)).")
coarse = LogCoshHeads(rng, 2, [4, 3])
expected = ref.gradient_check(coarse, X_toy, y_toy, h=1e-2)
check_close(gradient_check(coarse, X_toy, y_toy, h=1e-2), expected, "gradient_check with h=1e-2",
            rtol=1e-3, hint="use the h argument.")
### END HIDDEN TESTS
passed("gradient_check")

# %% [markdown] id=markdown-19
# ## 7 · Learning a non-linear problem: two moons
#
# Two interleaving half-circles cannot be separated by a straight line. A network with one
# hidden layer of 16 sigmoid units can bend its decision boundary around them.
#
# **Expected:** the loss falls from about 150 to below 20, the test accuracy is at least
# 0.95, and the boundary curves between the moons.

# %% id=code-7
X_train, y_train = make_moons(n_samples=200, noise=0.2, random_state=0)
X_test, y_test = make_moons(n_samples=500, noise=0.2, random_state=1)
moons_net = Network(2, [16], seed=0)
moon_losses = moons_net.fit(X_train, y_train, lr=LR, epochs=NUM_EPOCHS)
test_accuracy = np.mean((moons_net.forward(X_test)[:, 0] > 0.5) == y_test)
print(f"loss: first {moon_losses[0]:.1f}, last {moon_losses[-1]:.2f}")
print(f"test accuracy: {test_accuracy:.3f}")
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
plot_losses(moon_losses, title="Summed BCE on two moons", ax=axes[0])
plot_decision_boundary(lambda P: moons_net.forward(P)[:, 0] > 0.5, X_test, y_test, ax=axes[1],
                       title=f"Test set, accuracy {test_accuracy:.3f}")
plt.show()

# %% written id=w_symmetry points=2
# **Written question (2 points). Predict, then check.** The constructor draws random weights.
# Suppose instead that every weight of the 2-16-1 moons network starts at the same value, 0.5,
# and every bias at 0. Before you run the next cell, predict what happens to the 16 hidden
# units during training, and how well the network will do. Then run the cell, and explain
# what you see with your backpropagation formulas.
#
# === BEGIN MARK SCHEME ===
#
# **Model answer.** The 16 hidden units start identical: the same incoming weights, so the
# same activation for every observation. Their outgoing weights are equal too, so
# backpropagation gives every unit the same delta and the same gradient. Each update keeps
# them identical, so they stay copies of one another forever: the cell prints a spread of 0
# between the units' weights. The network behaves like a network with one hidden unit. Its
# boundary is almost a straight line, so the loss stays high and the test accuracy stays far
# below the random start's (about 0.87 against 0.96). Random weights break this symmetry.
#
# **Rubric.** 2 points: the units stay identical because they receive identical gradients
# (symmetry), so the network is no better than one hidden unit, with the measured spread or
# accuracy as evidence. 1 point: says that training is worse, or that the units stay equal,
# without the reason from the gradients. 0 points: "the network does not train at all" (the
# loss does fall) or "it trains the same", with no link to the output.
#
# === END MARK SCHEME ===

# %% id=code-7b
same = Network(2, [16], seed=0)
same.weights = [np.full((2, 16), 0.5), np.full((16, 1), 0.5)]
same.biases = [np.zeros(16), np.zeros(1)]
same_losses = same.fit(X_train, y_train, lr=LR, epochs=NUM_EPOCHS)
same_accuracy = np.mean((same.forward(X_test)[:, 0] > 0.5) == y_test)
spread = np.max(np.ptp(same.weights[0], axis=1))
print(f"loss: first {same_losses[0]:.1f}, last {same_losses[-1]:.2f}")
print(f"test accuracy: {same_accuracy:.3f} (random start: {test_accuracy:.3f})")
print(f"largest difference between two hidden units' incoming weights: {spread:.1e}")

# %% [markdown] id=markdown-20
# ## 8 · The same network in Keras
#
# The slides' `run_keras` builds the network with `Sequential` and `Dense(..., activation="sigmoid")`.
# A Keras `Dense` layer computes exactly our `a_prev @ W + b`, with its kernel stored as
# `(n_prev, n_out)`, so we can copy our weights into it. We sum the loss over the batch
# (`reduction="sum"`). Then Keras gives the same loss as ours. After one SGD step with the
# same learning rate, it also gives the same weights as our `fit`, up to float32 rounding
# (Keras computes in float32). This cell is not graded.

# %% id=code-8
import keras  # imported here only: the rest of the notebook is plain numpy

ours = Network(2, [4, 3], seed=0)
layers = [keras.layers.Dense(b.shape[0], activation="sigmoid") for b in ours.biases]
model = keras.Sequential([keras.Input(shape=(2,)), *layers])
for layer, W, b in zip(model.layers, ours.weights, ours.biases, strict=True):
    layer.set_weights([W, b])
bce_sum = keras.losses.BinaryCrossentropy(reduction="sum")
keras_loss = float(bce_sum(y_toy.reshape(-1, 1), model.predict(X_toy, verbose=0)))
print(f"loss: ours {ours.loss(X_toy, y_toy):.6f}   Keras {keras_loss:.6f}")

model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5), loss=bce_sum)
model.train_on_batch(X_toy, y_toy.reshape(-1, 1))
ours.fit(X_toy, y_toy, lr=0.5, epochs=1)
pairs = zip(model.layers, ours.weights, strict=True)
gap = max(np.max(np.abs(layer.get_weights()[0] - W)) for layer, W in pairs)
print(f"after one step of SGD, largest weight difference: {gap:.1e}")

# %% [markdown] id=markdown-21
# ## What you should remember
# - Forward propagation with row-major data: $z = a_{\text{prev}} W + b$, then $a = \sigma(z)$,
#   layer after layer. Every array keeps one row per observation.
# - A stable sigmoid takes `exp` of non-positive numbers only.
# - With a sigmoid output and the binary cross-entropy, the sigmoid's derivative cancels in
#   the output delta. Going back one layer multiplies by the next weights and by the
#   sigmoid's derivative **of that layer**, so saturated units pass back almost no error.
# - A weight gradient pairs the activation that entered the layer with the layer's delta, and
#   has the shape of its weight matrix. A summed loss has summed gradients, so the learning
#   rate $\eta$ must shrink as the batch grows.
# - Equal starting weights give equal gradients: random initialisation breaks the symmetry.
# - Never trust a hand-written gradient before a gradient check: central differences and
#   the norm-relative error, about $10^{-9}$ in float64 when it is right.
# - Keras' `Dense` and PyTorch's autograd compute the same thing; now you know what.

# %% id=code-9
# Versions of the libraries this notebook ran with.
%load_ext watermark
%watermark --python --machine --packages numpy,pandas,matplotlib,scikit-learn,keras,dlcourse
