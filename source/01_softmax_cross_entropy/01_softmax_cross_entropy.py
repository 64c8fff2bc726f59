# metadata: {"dlcourse": {"judged": true}}

# %% [markdown] id=markdown-1
# # 01 · Softmax and cross-entropy
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({{COLAB_URL}})
#
# A classifier turns **scores** (logits) into **probabilities** with the softmax. It is trained
# by making the **cross-entropy** between those probabilities and the true labels small. In this
# notebook you write both from scratch in numpy and make them numerically safe. Then you derive
# the gradient, check it numerically, and train a softmax regression on Iris.
#
# **Goals**
# 1. Implement a `softmax` that is stable for huge logits.
# 2. Find a loss that rewards confident right answers, and implement it (the cross-entropy).
# 3. Compute the same loss straight from the logits, without overflow.
# 4. Derive the gradient of the loss with respect to the logits in three steps, and check it
#    with central differences.
# 5. Train a softmax regression with gradient descent. Choose its learning rate $\eta$ on
#    validation data, and touch the test set once (>= 0.90 test accuracy on Iris).
#
# Short **questions** check the ideas: you set a variable such as `q_softmax_shift = "b"`, and
# each wrong answer gets an explanation when it is graded. **Written questions** ask you to
# explain in a few sentences; a person grades them.
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
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from dlcourse.data import load_iris, one_hot
from dlcourse.env import device_report, seed_everything
from dlcourse.gradcheck import rel_error
from dlcourse.plotting import plot_losses
from dlcourse.testing import (check, check_answer, check_choice, check_close, check_finite, check_shape,
                              check_unchanged, passed, random_one_hot, random_probabilities, show)

seed_everything(0)
device_report(("numpy",));

# %% params id=params-1
# Training size: CI may shrink it; the published notebook uses these values.
NUM_EPOCHS = 500
LR_CANDIDATES = [0.01, 0.1, 1.0, 10.0, 100.0]   # the learning rates the validation study compares

# %% [markdown] id=markdown-2
# ## 1 · Softmax
#
# A linear classifier gives one score per class, $z = xW + b$. The softmax turns the scores
# of one sample into probabilities that are positive and sum to 1:
#
# $$\mathrm{softmax}(z)_j = \frac{e^{z_j}}{\sum_k e^{z_k}}$$
#
# The slides' example: the scores $[2, 1, -0.1]$ give $e^{z} = [7.389, 2.718, 0.905]$. The
# normalisation factor is their sum, $11.012$, so the probabilities are $[0.67, 0.25, 0.08]$.

# %% [markdown] id=markdown-2b
# **Numerical stability.** `np.exp(1000)` is `inf`, and `inf / inf` is `nan`. Logits of
# that size do occur in practice. Find a way to compute the same probabilities without any
# overflow. A batch may hold rows of very different scales, and each row must stay safe.
#
# <details><summary>Hint (try first)</summary>
#
# $e^{a - c} = e^{a} / e^{c}$. What happens to the numerator and to the denominator of the
# softmax if you subtract the same number $c$ from every score of a row? Which $c$ keeps every
# exponent at most 0?
# </details>
#
# ### Exercise 1.1 · `softmax` — Warm-up (transcription)
# This is the notebook's one transcription: the formula is on screen. What you must work out
# is the safe computation. Work along the **last axis**, so that the same code takes one
# sample `(C,)`, a batch `(N, C)` or any `(..., C)` array.

# %% solution id=softmax
def softmax(z):
    """Softmax along the last axis.

    Args:
        z: scores (logits), array of shape (..., C).
    Returns:
        probabilities of the same shape as z; each slice along the last axis sums to 1.
    """
    ### BEGIN SOLUTION
    z = np.asarray(z)
    shifted = z - np.max(z, axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)
    ### END SOLUTION

# %% [markdown] id=markdown-3
# **Expected output** of the cell below: `[0.671 0.247 0.082]` for the slides' scores.
# The slides round them to two decimals.

# %% id=code-1
print(np.round(softmax(np.array([2.0, 1.0, -0.1])), 3))

# %% test id=test_softmax points=2
"""softmax: the slides' example, shapes, rows summing to 1, any number of leading axes."""
p = softmax(np.array([2.0, 1.0, -0.1]))
check_close(p, np.exp([2.0, 1.0, -0.1]) / np.exp([2.0, 1.0, -0.1]).sum(), "softmax([2, 1, -0.1])")
batch = softmax(np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]]))
check_shape(batch, (2, 3), "softmax of a (2, 3) batch")
check_close(batch.sum(axis=-1), np.ones(2), "row sums of softmax",
            hint="each row must sum to 1: normalise along the last axis (axis=-1), not the batch axis.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import reference as ref

rng = np.random.default_rng(101)
for shape in [(5,), (1, 4), (7, 3), (2, 3, 6), (4, 1), (3, 2, 2, 5)]:
    z = rng.normal(scale=3.0, size=shape)
    z_before = z.copy()
    got = softmax(z)
    check_close(got, ref.softmax(z), f"softmax of a random {shape} array",
                hint="normalise over the last axis only (axis=-1, keepdims=True).")
    check_unchanged(z_before, z, "the input z")
### END HIDDEN TESTS
passed("softmax")

# %% test id=test_softmax_stability points=2
"""softmax: huge logits (+-1e3) and rows of very different scale stay finite and exact."""
huge = softmax(np.array([1000.0, -1000.0]))
check_finite(huge, "softmax([1000, -1000])",
             hint="subtract the largest score of each row before np.exp.")
check_close(huge, [1.0, 0.0], "softmax([1000, -1000])", atol=1e-12)
### BEGIN HIDDEN TESTS
from dlcourse.instructor import reference as ref

mixed = np.array([[1000.0, 999.0, 998.0], [-1000.0, -1001.0, -1002.5], [0.5, -0.5, 0.0]])
got = softmax(mixed)
check_finite(got, "softmax of rows with very different scales",
             hint="subtract the maximum of each row (axis=-1), not one maximum for the whole array.")
check_close(got, ref.softmax(mixed), "softmax of rows with very different scales")
big3d = np.random.default_rng(7).normal(scale=800.0, size=(3, 4, 5))
check_close(softmax(big3d), ref.softmax(big3d), "softmax of a (3, 4, 5) array with scores up to ~3000",
            atol=1e-300)
z32 = np.array([[1000.0, 0.0, -5.0], [3.0, 2.0, 1.0]], dtype=np.float32)
got32 = softmax(z32)
check_finite(got32, "softmax of float32 scores")
check_close(got32, ref.softmax(z32), "softmax of float32 scores", rtol=1e-5, atol=1e-7)
### END HIDDEN TESTS
passed("softmax_stability")

# %% [markdown] id=markdown-4
# ### Question 1.2 · Shifting every score
# A model gives the slides' scores $[2, 1, -0.1]$ to an image. After an update, its bias of
# every class has grown by 100, so the scores are $[102, 101, 99.9]$. What does the softmax
# give now? Work it out on paper first, then try it in a scratch cell.
#
# - **a** the same probabilities, `[0.67, 0.25, 0.08]`
# - **b** flatter probabilities, close to `[0.34, 0.33, 0.33]`
# - **c** `nan` in every entry, since $e^{102}$ overflows
# - **d** sharper probabilities, close to `[0.99, 0.01, 0.00]`
#
# Set `q_softmax_shift` to one letter.

# %% solution id=q_softmax_shift
# Your answer: q_softmax_shift = "<one letter: a, b, c or d>"
### BEGIN SOLUTION
q_softmax_shift = "a"
### END SOLUTION

# %% test id=test_q_softmax_shift points=1
"""q_softmax_shift: adding a constant to every score."""
check_choice(q_softmax_shift, ["a", "b", "c", "d"], "q_softmax_shift")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import reference as ref

check_answer(q_softmax_shift, ref.QUESTIONS["q_softmax_shift"], "q_softmax_shift")
### END HIDDEN TESTS
passed("q_softmax_shift")

# %% [markdown] id=markdown-5
# ## 2 · Cross-entropy
#
# **Two doctors**, Paulo and Georgia, sit the medical board exam: two questions, three
# possible diseases each. The answers are Q1: disease C and Q2: disease B.

# %% setup id=setup-3
diseases = ["disease A", "disease B", "disease C"]
answers = one_hot([2, 1], 3)  # Q1: C, Q2: B
paulo = np.array([[0.20, 0.30, 0.50],   # Q1
                  [0.30, 0.40, 0.30]])  # Q2
georgia = np.array([[0.00, 0.10, 0.90],
                    [0.05, 0.95, 0.00]])
pd.DataFrame(np.c_[paulo.T, georgia.T], index=diseases,
             columns=pd.MultiIndex.from_product([["Paulo", "Georgia"], ["Q1", "Q2"]]))

# %% [markdown] id=markdown-6
# Both pick the right disease in both questions (the largest probability), so accuracy says
# they are equally good. We want a loss that also rewards confidence in the right answer.
#
# Write $p_{\text{true}}$ for the probability a doctor gives to the right answer of one
# question. A good loss for one question has three properties:
# 1. it is 0 when $p_{\text{true}} = 1$, a certain right answer;
# 2. it grows without limit as $p_{\text{true}}$ goes to 0;
# 3. it adds up over independent questions. The chance of being right on two questions is the
#    product of the two $p_{\text{true}}$, and the loss of the pair must be the sum of the two
#    losses.
#
# One function you know has all three properties. The loss of a batch is the **mean** of the
# losses of its samples. This loss is called the **cross-entropy** (or log-loss).
#
# ### Exercise 2.1 · `cross_entropy`
# The labels are one-hot: `y_true[i]` is 1 at the true class and 0 elsewhere. Use that to pick
# $p_{\text{true}}$ of every sample without a loop. A probability of exactly 0 for the true
# class would make the loss infinite, so first clip `p` to $[\varepsilon, 1]$ (`eps`).

# %% solution id=cross_entropy
def cross_entropy(y_true, p, eps=1e-12):
    """Mean cross-entropy over samples.

    Args:
        y_true: one-hot labels, shape (N, C).
        p: predicted probabilities, shape (N, C).
        eps: p is clipped to [eps, 1] before the log.
    Returns:
        float: the mean over the N samples of each sample's loss.
    """
    ### BEGIN SOLUTION
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1.0)
    n = p.shape[0]
    return float(-np.sum(y_true * np.log(p)) / n)
    ### END SOLUTION

# %% [markdown] id=markdown-7
# **Expected output:** two numbers, and Paulo's loss is about ten times Georgia's. The more
# confident doctor has the lower loss.

# %% id=code-2
print(f"Paulo:   {cross_entropy(answers, paulo):.3f}")
print(f"Georgia: {cross_entropy(answers, georgia):.3f}")

# %% test id=test_cross_entropy points=2
"""cross_entropy: the two doctors, a float result, the mean over samples."""
ce_paulo = cross_entropy(answers, paulo)
check(np.ndim(ce_paulo) == 0, f"cross_entropy must return one number, got shape {np.shape(ce_paulo)}.",
      hint="sum over classes and average over samples.")
check_close(ce_paulo, 0.8047189562170501, "cross_entropy for Paulo",
            hint="the function with the three properties is -log. One sample's loss is -log(p_true), "
                 "that is -sum_j y_j * log(p_j) for a one-hot y. Average over the N samples (divide "
                 "by N, not by N * C).")
check(cross_entropy(answers, georgia) < ce_paulo,
      "Georgia is more confident in the right answers, so her loss must be lower than Paulo's.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import reference as ref

rng = np.random.default_rng(202)
for n, c in [(1, 2), (10, 4), (33, 7)]:
    y = random_one_hot(rng, n, c)
    probs = random_probabilities(rng, n, c)
    check_close(cross_entropy(y, probs), ref.cross_entropy(y, probs), f"cross_entropy of {n} samples",
                hint="the mean over samples of -sum(y * log p): divide by N only.")
### END HIDDEN TESTS
passed("cross_entropy")

# %% test id=test_cross_entropy_clipping points=1
"""cross_entropy: a probability of 0 for the true class is clipped to eps, so the loss is finite."""
y = np.array([[1.0, 0.0], [0.0, 1.0]])
p = np.array([[0.0, 1.0], [0.0, 1.0]])
loss = cross_entropy(y, p)
check_finite(loss, "cross_entropy with p = 0 for a true class", hint="np.clip(p, eps, 1) before np.log.")
check_close(loss, 13.815510557964274, "cross_entropy with p = 0 for a true class", rtol=1e-6,
            hint="clip p to [eps, 1] with the eps argument (1e-12 by default), then take the loss as usual.")
### BEGIN HIDDEN TESTS
check_close(cross_entropy(y, p, eps=1e-7), -np.log(1e-7) / 2, "cross_entropy with eps=1e-7", rtol=1e-6,
            hint="use the eps argument, not a constant.")
check_close(cross_entropy(np.array([[0.0, 1.0]]), np.array([[0.0, 1.0]])), 0.0,
            "cross_entropy of a perfect prediction", atol=1e-10)
### END HIDDEN TESTS
passed("cross_entropy_clipping")

# %% [markdown] id=markdown-8
# **The slides' log-loss table**: a model's probabilities for 10 clients over 4 labels, and
# the true labels. Which client costs the most? The cell below uses your `cross_entropy` on
# one client at a time.

# %% id=code-3
client_probs = np.array([
    [0.069, 0.213, 0.698, 0.020], [0.164, 0.426, 0.081, 0.329], [0.278, 0.370, 0.269, 0.083],
    [0.055, 0.405, 0.460, 0.080], [0.124, 0.666, 0.145, 0.066], [0.569, 0.045, 0.214, 0.172],
    [0.421, 0.091, 0.353, 0.135], [0.215, 0.323, 0.279, 0.182], [0.139, 0.123, 0.347, 0.390],
    [0.155, 0.036, 0.311, 0.498]])
client_labels = one_hot([1, 3, 0, 3, 1, 2, 2, 2, 0, 3], 4)
per_client = np.array([cross_entropy(client_labels[i:i + 1], client_probs[i:i + 1]) for i in range(10)])
table = pd.DataFrame({"true label": client_labels.argmax(1),
                      "p(true label)": (client_labels * client_probs).sum(1),
                      "loss": per_client.round(3)},
                     index=[f"client {i}" for i in range(10)])
print(f"log-loss of the table: {cross_entropy(client_labels, client_probs):.4f}")
table

# %% [markdown] id=markdown-9
# **Two pictures of the loss.** The left panel shows the softmax probabilities of the slides'
# example as the first score $z_0$ moves. The other two scores stay at $1$ and $-0.1$. The
# right panel shows the loss of one sample, computed with your `cross_entropy`, against the
# probability given to the true class. It marks the doctors' four answers.

# %% id=code-4
z0 = np.linspace(-4, 6, 201)
scores = np.stack([z0, np.ones_like(z0), np.full_like(z0, -0.1)], axis=1)
e = np.exp(scores - scores.max(axis=1, keepdims=True))
probs_curve = e / e.sum(axis=1, keepdims=True)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
for j, style in enumerate(["-", "--", ":"]):
    ax1.plot(z0, probs_curve[:, j], style, label=f"p{j}  (z{j} = {['z0', '1', '-0.1'][j]})")
ax1.axvline(2.0, color="grey", lw=0.8)
ax1.annotate("the slides' z0 = 2", (2.0, 0.9), xytext=(2.3, 0.9))
ax1.set(xlabel="score z0", ylabel="probability", title="softmax([z0, 1, -0.1])")
ax1.legend(loc="center left")
p_true = np.linspace(0.005, 1.0, 400)
ax2.plot(p_true, [cross_entropy(np.array([[1.0, 0.0]]), np.array([[q, 1.0 - q]])) for q in p_true])
for who, probs_who, marker in [("Paulo", paulo, "o"), ("Georgia", georgia, "s")]:
    p_right = (answers * probs_who).sum(axis=1)
    ax2.plot(p_right, [cross_entropy(np.array([[1.0, 0.0]]), np.array([[q, 1.0 - q]])) for q in p_right],
             marker, ms=8, label=who)
ax2.set(xlabel="probability of the true class", ylabel="loss", title="cross-entropy of one sample",
        ylim=(0, 5.5))
ax2.legend()
plt.tight_layout()
plt.show()

# %% written id=w_accuracy_loss points=2
# **Written question (2 points).** Paulo and Georgia have the same accuracy, but different
# losses. Why do we train a classifier by making the cross-entropy small, and not by making
# the accuracy large directly? Think of what happens to each one when a weight of the model
# changes by a tiny amount. Use the right panel above in your answer.
#
# === BEGIN MARK SCHEME ===
#
# **Model answer.** Accuracy only changes when the largest probability moves to another class.
# A tiny change of a weight almost never does that, so the accuracy stays the same: its
# gradient is zero almost everywhere, and it jumps where it changes. Gradient descent gets no
# direction from it. The cross-entropy is smooth: any change of $p_{\text{true}}$ changes the
# loss, so every weight has a useful gradient. The right panel also shows that it keeps
# rewarding a more confident right answer, and that a confident wrong answer costs a lot.
# So it pushes the model towards right answers with margin, which accuracy ignores.
#
# **Rubric.** 2 points: says that accuracy is piecewise constant (zero or undefined gradient,
# so gradient descent cannot use it), and that the cross-entropy is smooth and changes with
# the confidence in the true class. 1 point: only one of these two ideas, or "the loss
# measures confidence" without the link to gradients. 0 points: "cross-entropy is more
# accurate" or "accuracy is only for testing", with no reason.
#
# === END MARK SCHEME ===

# %% [markdown] id=markdown-10
# ### Question 2.1 · The loss of a uniform guess
# An untrained classifier with **10 classes** gives every class the probability $1/10$, for
# every sample. What is its mean cross-entropy (natural log)? Give a number with at least
# two decimals; a formula such as `np.log(...)` is fine.

# %% solution id=q_uniform_loss
# Your answer: q_uniform_loss = <a number>
### BEGIN SOLUTION
q_uniform_loss = 2.303
### END SOLUTION

# %% test id=test_q_uniform_loss points=1
"""q_uniform_loss: the mean cross-entropy of a uniform guess over 10 classes."""
check(not (isinstance(q_uniform_loss, tuple) and len(q_uniform_loss) == 2),
      f"q_uniform_loss: answer with one number, got the tuple {show(q_uniform_loss)}.",
      hint="Python writes decimals with a point: 2.303, not 2,303. A comma makes a tuple of two numbers.")
check(np.ndim(q_uniform_loss) == 0 and np.issubdtype(np.asarray(q_uniform_loss).dtype, np.number),
      f"q_uniform_loss: answer with a number, got {show(q_uniform_loss)}.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import reference as ref

check_answer(q_uniform_loss, ref.QUESTIONS["q_uniform_loss"], "q_uniform_loss")
### END HIDDEN TESTS
passed("q_uniform_loss")

# %% [markdown] id=markdown-11
# ## 3 · Cross-entropy straight from the logits
#
# Computing `softmax` and then `log` loses precision. Take logits $[0, 1000]$ with true
# class 0. The softmax gives class 0 a probability that underflows to 0. The log of 0 is then
# clipped, so the loss comes out as $-\log 10^{-12} \approx 27.6$. The exact loss is $1000$.
#
# The cure is to never form the tiny probability. Take the log of the softmax's definition
# and simplify it by hand. You get $\log p_j$ as $z_j$ minus one term that is shared by the
# whole row. That term still holds an `exp` that can overflow: make it safe with the shift you
# used in Exercise 1.1.
#
# <details><summary>Hint (try first)</summary>
#
# $\log(a / b) = \log a - \log b$, and $\log e^{z_j} = z_j$. For the shared term, pull
# $e^{m}$ out of the sum, where $m$ is the largest score of the row.
# </details>
#
# The result is called the **log-sum-exp** trick. The frameworks' losses that take logits use
# it: PyTorch's `nn.CrossEntropyLoss` (which always expects logits) and Keras's
# `keras.losses.CategoricalCrossentropy(from_logits=True)`.
#
# ### Exercise 3.1 · `cross_entropy_from_logits`

# %% solution id=cross_entropy_from_logits
def cross_entropy_from_logits(y_true, z):
    """Mean cross-entropy computed from the logits with log-sum-exp.

    Args:
        y_true: one-hot labels, shape (N, C).
        z: logits, shape (N, C).
    Returns:
        float, equal to cross_entropy(y_true, softmax(z)) but exact for huge logits.
    """
    ### BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    m = np.max(z, axis=1, keepdims=True)
    log_probs = z - m - np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))
    return float(-np.sum(y_true * log_probs) / z.shape[0])
    ### END SOLUTION

# %% test id=test_cross_entropy_from_logits points=2
"""cross_entropy_from_logits: agrees with softmax + log on moderate logits; exact on huge ones."""
z = np.array([[2.0, 1.0, -0.1], [0.5, 0.5, 3.0]])
y = one_hot([0, 2], 3)
expected = -np.mean(np.log((np.exp(z) / np.exp(z).sum(1, keepdims=True))[[0, 1], [0, 2]]))
check_close(cross_entropy_from_logits(y, z), expected, "cross_entropy_from_logits on moderate logits",
            hint="log softmax(z)_j = z_j - m - log(sum_k exp(z_k - m)), with m the largest score of the "
                 "row. The loss is the mean over samples of -log softmax(z)_true.")
huge = cross_entropy_from_logits(np.array([[1.0, 0.0]]), np.array([[0.0, 1000.0]]))
check_finite(huge, "cross_entropy_from_logits with a logit of 1000",
             hint="subtract the row maximum inside the log-sum-exp.")
check_close(huge, 1000.0, "cross_entropy_from_logits([[0, 1000]]) with true class 0",
            hint="work with log-probabilities (log-sum-exp); do not take the log of a softmax "
                 "that underflowed to 0.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import reference as ref

rng = np.random.default_rng(303)
for n, c, scale in [(4, 3, 1.0), (20, 10, 5.0), (8, 5, 400.0), (3, 2, 2000.0)]:
    y = random_one_hot(rng, n, c)
    z = rng.normal(scale=scale, size=(n, c))
    check_close(cross_entropy_from_logits(y, z), ref.cross_entropy_from_logits(y, z),
                f"cross_entropy_from_logits on ({n}, {c}) logits of scale {scale:g}",
                hint="mean over samples of -(z_true - logsumexp(z)), with the row max subtracted.")
### END HIDDEN TESTS
passed("cross_entropy_from_logits")

# %% [markdown] id=markdown-12
# ## 4 · The gradient with respect to the logits
#
# Training needs $\partial L / \partial z$. You can look the answer up, but it is worth deriving
# once, in three small steps that are each checked. Start with **one sample**: logits
# $z \in \mathbb{R}^C$, probabilities $p = \mathrm{softmax}(z)$, a one-hot label $y$, and
# the loss $L$ of this one sample, as in Exercise 2.1.
#
# **Step 1 · the softmax Jacobian.** Every $p_i$ depends on every $z_j$, through the sum in
# the denominator. The Jacobian $J_{ij} = \partial p_i / \partial z_j$ is a $C \times C$ matrix.
# Write $p_i = e^{z_i} / S$ with $S = \sum_k e^{z_k}$. Differentiate it by the quotient rule,
# once for $j = i$ and once for $j \neq i$. Write both results with $p_i$ and $p_j$ only.
#
# Try it on paper first. Two facts to check your result: the probabilities always sum to 1,
# and raising $z_i$ raises $p_i$.
#
# <details><summary>Hint (try first)</summary>
#
# $\partial e^{z_i} / \partial z_j$ is $e^{z_i}$ when $j = i$ and 0 otherwise, and
# $\partial S / \partial z_j = e^{z_j}$. After the quotient rule, split each fraction into
# products of $e^{z_i} / S$ and $e^{z_j} / S$.
# </details>
#
# ### Exercise 4.1 · `softmax_jacobian`
# Return the $C \times C$ Jacobian for **one** score vector `z` of shape `(C,)`.

# %% solution id=softmax_jacobian
def softmax_jacobian(z):
    """Jacobian of the softmax of one score vector.

    Args:
        z: scores, array of shape (C,).
    Returns:
        array (C, C) whose entry [i, j] is d softmax(z)_i / d z_j.
    """
    ### BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max())
    p = e / e.sum()
    return np.diag(p) - np.outer(p, p)
    ### END SOLUTION

# %% test id=test_softmax_jacobian points=2
"""softmax_jacobian: shape (C, C), symmetric, columns summing to 0, and equal to central differences."""
J = softmax_jacobian(np.array([2.0, 1.0, -0.1]))
check_shape(J, (3, 3), "softmax_jacobian([2, 1, -0.1])", hint="one row per probability, one column per score.")
check_close(J.sum(axis=0), np.zeros(3), "column sums of the Jacobian", atol=1e-12,
            hint="the probabilities always sum to 1, so moving one score cannot change their sum: "
                 "each column must sum to 0. The quotient rule gives p_i - p_i**2 on the diagonal and "
                 "-p_i * p_j off it: J[i, j] = p_i * (1[i == j] - p_j), that is diag(p) - outer(p, p).")
check(np.all(np.diag(J) > 0), f"the diagonal of the Jacobian must be positive (raising z_i raises p_i), "
      f"got {np.round(np.diag(J), 4)}.", hint="check the sign: J = diag(p) - outer(p, p).")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import reference as ref

rng = np.random.default_rng(303)
for c in (2, 4, 7):
    z = rng.normal(scale=2.0, size=c)
    z_before = z.copy()
    got = softmax_jacobian(z)
    check_shape(got, (c, c), f"softmax_jacobian of a ({c},) vector")
    check_close(got, ref.softmax_jacobian(z), f"softmax_jacobian of random scores (C={c})", rtol=1e-7, atol=1e-12,
                hint="J[i, j] = p_i * (1[i == j] - p_j).")
    numeric = np.stack([ref.central_gradient(lambda zz, i=i: ref.softmax(zz)[i], z) for i in range(c)])
    err = ref.norm_rel_error(got, numeric)
    check(err < 1e-7, f"softmax_jacobian differs from central differences for C={c}: relative error {err:.2e}.")
    check_unchanged(z_before, z, "the input z")
big = softmax_jacobian(np.array([1000.0, 0.0, -1000.0]))
check_finite(big, "softmax_jacobian([1000, 0, -1000])", hint="compute p with a stable softmax (subtract the max).")
### END HIDDEN TESTS
passed("softmax_jacobian")

# %% [markdown] id=markdown-13
# **Step 2 · the chain rule.** The loss depends on $z$ only through $p$. So
#
# $$\frac{\partial L}{\partial z_j} = \sum_i \frac{\partial L}{\partial p_i}\, J_{ij}.$$
#
# First find $\partial L / \partial p_i$ from your loss of Exercise 2.1. Then
# combine it with your Jacobian, for a one-hot $y$, and simplify as far as you can. The
# result is short.
#
# <details><summary>Hint (try first)</summary>
#
# Let $t$ be the true class. The loss is $-\log p_t$. So only
# $\partial L / \partial p_t$ is not zero. In the sum over $i$ only row $t$ of $J$ is left.
# </details>
#
# ### Exercise 4.2 · `one_sample_logit_grad`
# Return $\partial L/\partial z$ for one sample, shape `(C,)`. You may use your Jacobian and
# the chain rule, or the simplified form if you found it.

# %% solution id=one_sample_logit_grad
def one_sample_logit_grad(y, z):
    """Gradient of one sample's cross-entropy loss with respect to its scores z.

    Args:
        y: one-hot label, shape (C,).
        z: scores, shape (C,).
    Returns:
        array (C,): dL/dz.
    """
    ### BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max())
    p = e / e.sum()
    dL_dp = -np.asarray(y, dtype=np.float64) / p
    return softmax_jacobian(z).T @ dL_dp
    ### END SOLUTION

# %% test id=test_one_sample_logit_grad points=2
"""one_sample_logit_grad: shape, entries summing to 0, the true class pushed up, central differences."""
g = one_sample_logit_grad(np.array([0.0, 1.0, 0.0]), np.array([2.0, 1.0, -0.1]))
check_shape(g, (3,), "one_sample_logit_grad for the slides' scores", hint="one entry per score.")
check_close(np.sum(g), 0.0, "the sum of the gradient's entries", atol=1e-10,
            hint="you may have returned dL/dp = -y / p: apply the chain rule through the Jacobian, "
                 "dL/dz = J^T dL/dp. For a one-hot y it simplifies to p - y.")
check(g[1] < 0, f"the gradient for the true class (index 1) must be negative, so that gradient descent raises "
      f"its score; got {g[1]:.4f}.", hint="the sign: dL/dp_i = -y_i / p_i, and dL/dz = p - y.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import reference as ref

rng = np.random.default_rng(505)
for c in (2, 5, 10):
    y = np.eye(c)[rng.integers(0, c)]
    z = rng.normal(scale=2.0, size=c)
    numeric = ref.central_gradient(lambda zz, y=y: ref.cross_entropy_from_logits(y[None], zz[None]), z)
    got = one_sample_logit_grad(y, z)
    check_shape(got, (c,), f"one_sample_logit_grad for C={c}")
    err = ref.norm_rel_error(got, numeric)
    check(err < 1e-7, f"one_sample_logit_grad differs from central differences for C={c}: relative error "
          f"{err:.2e} (want < 1e-7).", hint="dL/dz = J^T (-y / p), which simplifies to p - y.")
    exact = ref.norm_rel_error(got, ref.softmax(z[None])[0] - y)
    check(exact < 1e-12, f"one_sample_logit_grad for C={c} is {exact:.1e} away (relative) from the exact "
          "gradient: a derived formula is within 1e-15; a finite-difference estimate is not.",
          hint="derive dL/dz with the chain rule; do not estimate it by finite differences.")
### END HIDDEN TESTS
passed("one_sample_logit_grad")

# %% [markdown] id=markdown-14
# **Step 3 · a batch.** Our loss is the **mean** over $N$ samples. Each sample's loss depends
# only on its own row of logits. So each row of $\partial L / \partial Z$ comes from Step 2.
# Think about what the mean does to it.
#
# <details><summary>Hint (try first)</summary>
#
# $L = \frac{1}{N} \sum_i L_i$, and $L_i$ depends only on row $i$ of $Z$. Differentiate with
# respect to one entry $Z_{ij}$: only one term of the sum is left.
# </details>
#
# ### Exercise 4.3 · `softmax_cross_entropy_grad`
# Work on the whole `(N, C)` batch at once (no loop needed).

# %% solution id=softmax_cross_entropy_grad
def softmax_cross_entropy_grad(y_true, z):
    """Gradient of the mean cross-entropy with respect to the logits.

    Args:
        y_true: one-hot labels, shape (N, C).
        z: logits, shape (N, C).
    Returns:
        array (N, C): d loss / d z.
    """
    ### BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    return (probs - y_true) / z.shape[0]
    ### END SOLUTION

# %% test id=test_softmax_cross_entropy_grad points=2
"""softmax_cross_entropy_grad: shape, and equal to the central-difference gradient of the loss."""
z = np.array([[2.0, 1.0, -0.1], [0.5, 0.5, 3.0]])
y = one_hot([0, 2], 3)
grad = softmax_cross_entropy_grad(y, z)
check_shape(grad, (2, 3), "softmax_cross_entropy_grad")
check_close(grad.sum(axis=1), np.zeros(2), "row sums of the gradient", atol=1e-12,
            hint="each row of softmax(z) - y sums to 0.")
def _mean_loss(zz):  # the mean cross-entropy of this small batch, for a central difference
    return -np.mean(np.log(np.exp(zz) / np.exp(zz).sum(axis=1, keepdims=True))[[0, 1], [0, 2]])


step = np.zeros_like(z)
step[0, 0] = 1e-6
check_close(grad[0, 0], (_mean_loss(z + step) - _mean_loss(z - step)) / 2e-6,
            "the gradient's entry [0, 0] against a central difference", rtol=1e-6,
            hint="dL/dZ = (softmax(Z) - Y) / N: the gradient of Step 2 for each row, divided by N because "
                 "the loss is a mean over the N samples.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import reference as ref

rng = np.random.default_rng(404)
for n, c in [(1, 3), (5, 4), (16, 10)]:
    y = random_one_hot(rng, n, c)
    z = rng.normal(scale=2.0, size=(n, c))
    numeric = ref.central_gradient(lambda zz, y=y: ref.cross_entropy_from_logits(y, zz), z)
    got = softmax_cross_entropy_grad(y, z)
    check_shape(got, (n, c), f"softmax_cross_entropy_grad for N={n}, C={c}")
    err = ref.norm_rel_error(got, numeric)
    check(err < 1e-7, f"softmax_cross_entropy_grad differs from central differences for N={n}, C={c}: "
          f"relative error {err:.2e} (want < 1e-7).",
          hint="the loss is a mean: divide softmax(z) - y by N. Check the sign: p - y, not y - p.")
    exact = ref.norm_rel_error(got, (ref.softmax(z) - y) / n)
    check(exact < 1e-12, f"softmax_cross_entropy_grad for N={n}, C={c} is {exact:.1e} away (relative) from the "
          "exact gradient: a derived formula is within 1e-15; a finite-difference estimate is not.",
          hint="derive dL/dZ with the chain rule; do not estimate it by finite differences.")
### END HIDDEN TESTS
passed("softmax_cross_entropy_grad")

# %% [markdown] id=markdown-15
# ### Question 4.4 · The shape of a weight gradient
# A model reads a batch of 32 images of $28 \times 28$ pixels, flattened to 784 inputs. It has
# 10 classes and computes the logits $Z = XW + b$, of shape `(32, 10)`. What is the shape of
# $\partial L / \partial W$ for the mean cross-entropy $L$?
#
# - **a** `(32, 10)`
# - **b** `(784, 10)`
# - **c** `(32, 784)`
# - **d** `(784, 784)`
#
# Set `q_grad_shape` to one letter.

# %% solution id=q_grad_shape
# Your answer: q_grad_shape = "<one letter: a, b, c or d>"
### BEGIN SOLUTION
q_grad_shape = "b"
### END SOLUTION

# %% test id=test_q_grad_shape points=1
"""q_grad_shape: the shape of dL/dW for a batch."""
check_choice(q_grad_shape, ["a", "b", "c", "d"], "q_grad_shape")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import reference as ref

check_answer(q_grad_shape, ref.QUESTIONS["q_grad_shape"], "q_grad_shape")
### END HIDDEN TESTS
passed("q_grad_shape")

# %% [markdown] id=markdown-16
# ## 5 · Checking gradients numerically
#
# How do you know a gradient you derived by hand is right? Compare it with a numerical
# estimate. For each entry $x_i$, evaluate $f$ at two points placed symmetrically around $x$:
# $x + h e_i$ and $x - h e_i$, where $e_i$ is the unit vector of entry $i$. The slope of the
# straight line through these two points estimates $\partial f / \partial x_i$. This estimate is
# called **central differences**. Compare in float64, with the relative error `rel_error`.
#
# ### Exercise 5.1 · `numerical_gradient`
# Change one entry at a time, and put it back afterwards: the caller's `x` must be
# unchanged when you return. (Work on a float64 copy.)

# %% solution id=numerical_gradient
def numerical_gradient(f, x, h=1e-5):
    """Central-difference gradient of a scalar function.

    Args:
        f: function taking an array shaped like x and returning a float.
        x: the point, array of any shape.
        h: the step.
    Returns:
        array shaped like x: the estimated gradient of f at x.
    """
    ### BEGIN SOLUTION
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        f_plus = f(x)
        x[idx] = old - h
        f_minus = f(x)
        x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad
    ### END SOLUTION

# %% test id=test_numerical_gradient points=2
"""numerical_gradient: shape, accuracy of central differences, and x left unchanged."""
x = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, -1.5]])
x_before = x.copy()
g = numerical_gradient(lambda a: np.sum(a ** 3), x)
check_shape(g, x.shape, "numerical_gradient of sum(x**3) at a (2, 3) x",
            hint="return an array shaped like x (np.zeros_like(x), filled entry by entry).")
check_unchanged(x_before, x, "x", hint="put each entry back after changing it, or work on a copy.")
check(rel_error(g, 3 * x ** 2) < 1e-7, f"numerical_gradient of sum(x**3) is not accurate enough: relative "
      f"error {rel_error(g, 3 * x ** 2):.1e}.",
      hint="the two points are 2h apart: (f(x + h e_i) - f(x - h e_i)) / (2h). Forward differences "
           "(f(x + h e_i) - f(x)) / h are too coarse.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import reference as ref

rng = np.random.default_rng(505)
A = rng.normal(size=(4, 4))
cases = [
    ("log-sum-exp of a (6,) vector", lambda v: np.log(np.sum(np.exp(v))), rng.normal(size=6)),
    ("x^T A x at a (4,) vector", lambda v: v @ A @ v, rng.normal(size=4)),
    ("sum(sin(x) * x^2) at a (2, 3, 2) array", lambda v: np.sum(np.sin(v) * v ** 2), rng.normal(size=(2, 3, 2))),
]
for label, f, x0 in cases:
    before = x0.copy()
    got = numerical_gradient(f, x0)
    check_unchanged(before, x0, f"x in {label}")
    expected = ref.central_gradient(f, x0)
    check_shape(got, x0.shape, f"numerical_gradient of {label}")
    err = rel_error(got, expected)
    check(err < 1e-6, f"numerical_gradient of {label}: relative error {err:.1e} against central "
          "differences.", hint="(f(x + h) - f(x - h)) / (2 * h), one entry at a time, with the given h.")
g_h = numerical_gradient(lambda v: np.sum(v ** 3), np.array([1.0, 2.0]), h=1e-2)
check_close(g_h, [3.0 + 1e-4, 12.0 + 1e-4], "numerical_gradient of sum(x**3) with h=1e-2", rtol=1e-9,
            hint="use the h argument.")
### END HIDDEN TESTS
passed("numerical_gradient")

# %% [markdown] id=markdown-17
# Now check your gradient from Exercise 4.3 against `numerical_gradient`. A relative error
# around $10^{-9}$ or smaller means the formula is right; $10^{-2}$ means it is wrong.

# %% id=code-5
rng = np.random.default_rng(0)
z_check = rng.normal(size=(5, 4))
y_check = one_hot(rng.integers(0, 4, size=5), 4)
analytic = softmax_cross_entropy_grad(y_check, z_check)
numeric = numerical_gradient(lambda zz: cross_entropy_from_logits(y_check, zz), z_check)
print(f"relative error: {rel_error(analytic, numeric):.2e}")

# %% [markdown] id=markdown-17b
# **How large should $h$ be?** The figure below estimates the derivative of $\sin$ at $x = 1$,
# where the exact value is $\cos 1$. It uses your `numerical_gradient` and, for comparison,
# forward differences $(f(x + h) - f(x)) / h$. Both axes are logarithmic.

# %% id=code-5b
x_point = np.array([1.0])
steps = np.logspace(-13, -1, 49)
central_err = [abs(numerical_gradient(lambda v: np.sin(v[0]), x_point, h=h)[0] - np.cos(1.0)) for h in steps]
forward_err = [abs((np.sin(1.0 + h) - np.sin(1.0)) / h - np.cos(1.0)) for h in steps]
plt.figure(figsize=(6, 3.8))
plt.loglog(steps, forward_err, "o-", ms=3, label="forward differences")
plt.loglog(steps, central_err, "s-", ms=3, label="central differences (yours)")
plt.xlabel("step h")
plt.ylabel("error of the estimate")
plt.title("Numerical derivative of sin at x = 1")
plt.legend()
plt.show()

# %% written id=w_step_size points=3
# **Written question (3 points).** Explain the figure above.
# 1. As $h$ shrinks from $10^{-1}$, both errors fall. Why does the central error fall faster?
#    Read the two slopes from the figure.
# 2. Why do both errors rise again when $h$ becomes very small?
# 3. Which $h$ would you choose for central differences, and why is the default `h=1e-5` a
#    sensible choice?
#
# === BEGIN MARK SCHEME ===
#
# **Model answer.** (1) A Taylor expansion gives
# $f(x \pm h) = f(x) \pm h f'(x) + \tfrac{h^2}{2} f''(x) \pm \tfrac{h^3}{6} f'''(x) + \dots$
# Forward differences keep the $h f''/2$ term, so their error shrinks like $h$: slope 1 on the
# log-log plot (the error falls ten times per decade). In central differences the $h^2$ terms
# cancel, so the error is about $h^2 f'''/6$: slope 2 (a hundred times per decade).
# (2) Rounding: float64 stores $f$ with a relative error of about $10^{-16}$. The difference of
# two nearly equal values keeps that absolute error, and dividing by $h$ magnifies it like
# $10^{-16}/h$. For tiny $h$ this rounding error dominates, so the curves rise with slope -1.
# (3) The best $h$ balances the two errors: about $10^{-8}$ for forward differences and about
# $10^{-5}$ for central differences (error near $10^{-12}$). So `h=1e-5` sits near the minimum of
# the central curve.
#
# **Rubric.** 3 points, one per part: (1) truncation error of order $h$ versus $h^2$ (the $h^2$
# term cancels), read as slopes 1 and 2; (2) round-off: cancellation of nearly equal numbers
# divided by a small $h$; (3) a choice near $10^{-5}$ (anything from $10^{-6}$ to $10^{-4}$),
# justified by the balance of the two errors. Half credit is not given within a part. No
# point for part 1 if it only says "central is more accurate" without a reason.
#
# === END MARK SCHEME ===

# %% [markdown] id=markdown-18
# ## 6 · Softmax regression on Iris
#
# Put it together: a linear model $Z = XW + b$, probabilities $\mathrm{softmax}(Z)$, the mean
# cross-entropy as the loss, and full-batch gradient descent. Exercise 4.3 gives
# $G = \partial L/\partial Z$. Use the chain rule to find $\partial L/\partial W$ and
# $\partial L/\partial b$ from $X$ and $G$.
#
# <details><summary>Hint (try first)</summary>
#
# A gradient has the shape of the parameter it belongs to. Find the product of $X$ (or
# $X^\top$) and $G$ that has the shape of $W$. Each bias entry is added to every row of $Z$.
# </details>
#
# Each epoch takes one step **against** the gradient, with the learning rate $\eta$ (the
# argument `lr`): $W \leftarrow W - \eta\,\partial L/\partial W$, and the same for $b$.
#
# ### Exercise 6.1 · `train_softmax_regression`
# Initialise `W` with `0.01 * rng.standard_normal((D, C))` where
# `rng = np.random.default_rng(seed)`, and `b` with zeros. In each epoch, compute the logits
# and record the loss **before** the update. Then update `W` and `b`. Return `(W, b, losses)`.

# %% solution id=train_softmax_regression
def train_softmax_regression(X, y, num_classes, lr=0.1, epochs=200, seed=0):
    """Full-batch gradient descent on the mean cross-entropy of a linear softmax model.

    Args:
        X: inputs, shape (N, D).
        y: integer class labels, shape (N,).
        num_classes: C.
        lr: the learning rate eta.
        epochs: number of gradient steps (one per epoch).
        seed: seed of the weight initialisation.
    Returns:
        (W, b, losses): W (D, C), b (C,), losses a list of `epochs` floats.
    """
    ### BEGIN SOLUTION
    rng = np.random.default_rng(seed)
    n, d = X.shape
    Y = np.eye(num_classes)[y]
    W = 0.01 * rng.standard_normal((d, num_classes))
    b = np.zeros(num_classes)
    losses = []
    for _ in range(epochs):
        Z = X @ W + b
        losses.append(cross_entropy_from_logits(Y, Z))
        G = softmax_cross_entropy_grad(Y, Z)
        W -= lr * (X.T @ G)
        b -= lr * G.sum(axis=0)
    return W, b, losses
    ### END SOLUTION

# %% [markdown] id=markdown-19
# **Choosing the learning rate on validation data.** The learning rate $\eta$ is a choice. A
# choice made by looking at the test set makes the test score optimistic. So we carve a
# **validation split** out of the training data: a quarter of it, stratified. The cell below
# trains one model for each rate in `LR_CANDIDATES` on the rest. It keeps the rate with the
# lowest validation loss. The test split is not touched here.

# %% written id=w_learning_rate points=2
# **Written question (2 points). Predict, then check.** Before you run the next cell, write
# down which of the five rates you expect to win, and what you expect from $\eta = 100$. Then
# run the cell and look at the figure. Explain what happens with the smallest rate and with
# the largest one. Why can the rate with the lowest *training* loss still lose on validation?
#
# === BEGIN MARK SCHEME ===
#
# **Model answer.** With $\eta = 0.01$ the steps are too small: after 500 epochs the loss is
# still far above the others and still falling, so the model is underfitted. With
# $\eta = 100$ the steps overshoot: in the first epochs the training loss jumps far above its
# start ($\log 3 \approx 1.10$) and goes up and down instead of falling. The weights become very
# large, so the model is very confident, and its validation loss is the worst of all. The
# training loss can keep falling for large rates because the weights grow along a direction
# that separates the training points. On the validation points this makes confident
# mistakes, and a confident mistake costs a lot (Section 2). So the rate with the lowest
# training loss is not the one with the lowest validation loss. In this study validation
# picks a middle rate ($\eta = 1$).
#
# **Rubric.** 2 points: explains both ends (too small: slow, loss still high; too large:
# overshoot, loss rises or oscillates) and why training loss is not the criterion (large or
# overconfident weights hurt on unseen data). The prediction itself earns no points whether
# right or wrong; the explanation after running does. 1 point: both ends explained but no
# reason why validation differs from training, or only one end. 0 points: "the largest rate
# is always best" or no link to the figure.
#
# === END MARK SCHEME ===

# %% id=code-6
from dlcourse.data import stratified_split   # scikit-learn's train_test_split(..., stratify=y)

X_train, X_test, y_train, y_test = load_iris(test_size=0.3, seed=0)
X_fit, X_val, y_fit, y_val = stratified_split(X_train, y_train, test_size=0.25, seed=0)
val_losses, curves = {}, {}
for lr_candidate in LR_CANDIDATES:
    W_c, b_c, curves[lr_candidate] = train_softmax_regression(X_fit, y_fit, num_classes=3, lr=lr_candidate,
                                                              epochs=NUM_EPOCHS)
    val_losses[lr_candidate] = cross_entropy_from_logits(one_hot(y_val, 3), X_val @ W_c + b_c)
    val_acc = np.mean(np.argmax(X_val @ W_c + b_c, axis=1) == y_val)
    print(f"η = {lr_candidate:<6g} training loss {curves[lr_candidate][-1]:.3f}  "
          f"validation loss {val_losses[lr_candidate]:.3f}  validation accuracy {val_acc:.3f}")
best_lr = min(val_losses, key=val_losses.get)
print(f"chosen learning rate: η = {best_lr:g}")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
for lr_candidate, curve in curves.items():
    ax1.plot(np.arange(1, len(curve) + 1), curve, label=f"η = {lr_candidate:g}")
ax1.set(xscale="log", yscale="log", xlabel="epoch", ylabel="training loss", title="Training loss per rate")
ax1.legend()
ax2.bar([f"{lr:g}" for lr in val_losses], list(val_losses.values()))
ax2.set(yscale="log", xlabel="learning rate η", ylabel="validation loss", title="Validation loss after training")
plt.tight_layout()
plt.show()

# %% [markdown] id=markdown-20
# Now train with the chosen learning rate on the **whole** training split and plot the loss.
# Then, once, measure the test accuracy. **Expected:** the loss falls smoothly, and the test
# accuracy is at least `0.90`.

# %% id=code-7
W, b, losses = train_softmax_regression(X_train, y_train, num_classes=3, lr=best_lr, epochs=NUM_EPOCHS)
y_hat = np.argmax(X_test @ W + b, axis=1)
print(f"first loss {losses[0]:.3f}, last loss {losses[-1]:.3f}")
print(f"test accuracy (measured once, at the end): {np.mean(y_hat == y_test):.3f}")
plot_losses(losses, title="Softmax regression on Iris")
plt.show()

# %% test id=test_train_softmax_regression points=3
"""train_softmax_regression: shapes, one loss per epoch, a falling loss, >= 0.90 test accuracy on Iris
(lr=0.5, 500 epochs)."""
Xtr, Xte, ytr, yte = load_iris(test_size=0.3, seed=0)
W_t, b_t, losses_t = train_softmax_regression(Xtr, ytr, num_classes=3, lr=0.5, epochs=500, seed=0)
check_shape(W_t, (4, 3), "W")
check_shape(b_t, (3,), "b")
check(len(losses_t) == 500, f"losses should hold one value per epoch (500), got {len(losses_t)}.")
_grad_hint = ("with G = dL/dZ from Exercise 4.3, dL/dW = X.T @ G (shape (D, C)) and dL/db = G.sum(axis=0) "
              "(shape (C,)). Step against them: W -= lr * dL/dW, b -= lr * dL/db.")
check(losses_t[-1] < losses_t[0], f"the loss did not fall: first {losses_t[0]:.3f}, last {losses_t[-1]:.3f}.",
      hint=_grad_hint)
accuracy = np.mean(np.argmax(Xte @ W_t + b_t, axis=1) == yte)
check(accuracy >= 0.90, f"test accuracy on Iris is {accuracy:.3f}, want >= 0.90.", hint=_grad_hint)
### BEGIN HIDDEN TESTS
from dlcourse.instructor import reference as ref


def _reference_losses(X, y, c, lr, epochs, seed):
    Y = np.eye(c)[y]
    W = 0.01 * np.random.default_rng(seed).standard_normal((X.shape[1], c))
    b = np.zeros(c)
    out = []
    for _ in range(epochs):
        Z = X @ W + b
        out.append(ref.cross_entropy_from_logits(Y, Z))
        G = (ref.softmax(Z) - Y) / X.shape[0]
        W, b = W - lr * X.T @ G, b - lr * G.sum(0)
    return np.array(out)


losses_arr = np.asarray(losses_t, dtype=float)
check_finite(losses_arr, "losses")
steps_down = np.mean(np.diff(losses_arr) <= 1e-12)
check(steps_down >= 0.99, f"the loss rose in {100 * (1 - steps_down):.0f}% of epochs; full-batch gradient "
      "descent with lr=0.5 on this convex loss should fall every epoch.",
      hint="divide the gradient by N (the loss is a mean), and step against it.")
expected = _reference_losses(Xtr, ytr, 3, 0.5, 500, 0)
for epoch in (0, 9, 49, 499):
    got_l, exp_l = losses_arr[epoch], expected[epoch]
    check(abs(got_l - exp_l) <= 0.03 + 0.05 * exp_l,
          f"loss at epoch {epoch + 1}: expected about {exp_l:.3f} (plain gradient descent from a small "
          f"initialisation with lr=0.5), got {got_l:.3f}.",
          hint="record the mean cross-entropy before each update; the gradient of a mean has a 1/N; "
               "update b as well as W.")
final = ref.cross_entropy_from_logits(np.eye(3)[ytr], Xtr @ W_t + b_t)
check(abs(final - expected[-1]) <= 0.03 + 0.05 * expected[-1],
      f"the returned W and b give a training loss of {final:.3f}; expected about {expected[-1]:.3f}.")
W_s, b_s, l_s = train_softmax_regression(Xtr, ytr, num_classes=3, lr=0.05, epochs=30, seed=3)
check(len(l_s) == 30, f"with epochs=30, losses should hold 30 values, got {len(l_s)}.",
      hint="use the epochs argument.")
last_s = float(l_s[-1])  # a number of the library's: the comparison below is the judge's alone
exp_s = _reference_losses(Xtr, ytr, 3, 0.05, 30, 3)
check(abs(last_s - exp_s[-1]) <= 0.03 + 0.05 * exp_s[-1],
      f"with lr=0.05 and 30 epochs the last loss should be about {exp_s[-1]:.3f}, got {last_s:.3f}.",
      hint="use the lr argument.")
### END HIDDEN TESTS
passed("train_softmax_regression")

# %% [markdown] id=markdown-21
# ## What you should remember
# - The softmax turns scores into probabilities along the class axis. Only the differences
#   between scores matter, so subtract each row's maximum before `exp`.
# - The cross-entropy looks only at the probability of the true class. It rewards confident
#   right answers: Georgia beats Paulo although both got 2/2.
# - Compute the loss from the logits with log-sum-exp. Clip probabilities if you must take
#   their log.
# - The gradient of the mean softmax cross-entropy with respect to the logits is simple. You
#   derived it from the softmax Jacobian and the chain rule, and central differences
#   confirmed it.
# - Check every hand-derived gradient with central differences, and choose their step $h$ with care.
# - Choose settings such as the learning rate $\eta$ on a validation split carved from the
#   training data. Measure the test set once, at the end.

# %% id=code-8
# Versions of the libraries this notebook ran with.
%load_ext watermark
%watermark --python --machine --packages numpy,pandas,matplotlib,scikit-learn,dlcourse
