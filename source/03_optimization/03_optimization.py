# metadata: {"dlcourse": {"judged": true}}

# %% [markdown] id=markdown-1
# # 03 · Optimization: autodiff, optimisers, schedules and initialisation
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({{COLAB_URL}})
#
# Every framework (TensorFlow, PyTorch, Keras) builds a **computational graph** of your
# calculation and runs it backwards to get the gradients. Then an **optimiser** uses those
# gradients to change the weights, often with a **learning-rate schedule**, starting from
# weights drawn by an **initialiser**. The lectures call the choice of all these
# hyper-parameters "SGD black magic": initial learning rate, learning-rate decay, momentum,
# batch size, weight initialisation. In this notebook you write each piece yourself in
# plain Python and numpy, and check it, number for number, against PyTorch and Keras.
#
# **Goals**
# 1. Follow the slides' graph $z = (a + b)(c - d)$ forwards and backwards by hand.
# 2. Write `Value`, a tiny reverse-mode autodiff engine, and train the slides' 2-4-3-1
#    network with it (the same gradients as notebook 02).
# 3. Write SGD with momentum, RMSprop and Adam exactly as PyTorch does them, and compare
#    them on an ill-conditioned bowl and on the Rosenbrock function.
# 4. Derive the four learning-rate schedules of Keras (step, exponential, cosine, inverse time)
#    from what each one does.
# 5. See why sigmoid networks stop learning, and how Xavier and He initialisation and skip
#    connections help.
# 6. Compare four optimisers on the lectures' Fashion-MNIST network.
#
# Short **questions** (set a variable such as `q_momentum = "b"`) check the ideas; each
# wrong answer gets an explanation when it is graded. **Written questions** ask you to explain
# a result in a few sentences; a teacher grades them by hand.
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
import math
import os
import time

import matplotlib.pyplot as plt
import numpy as np

from dlcourse.env import device_report, seed_everything
from dlcourse.judging import mode
from dlcourse.plotting import draw_computational_graph
from dlcourse.testing import check, check_answer, check_choice, check_close, check_shape, passed, show
from dlcourse.testkit.optim import (describe, quadratic_grad, quadratic_loss, random_program,
                                    random_quadratic, value_graph, value_mlp)

seed_everything(0)


def _uses(program, k):
    """How many times node k feeds a later operation."""
    count = 0
    for op in program:
        kind = op[0]
        if kind == "leaf":
            continue
        if kind in ("add", "sub", "mul", "div"):
            args = [op[1], op[2]]
        else:
            args = [op[2]] if kind.startswith("num_") else [op[1]]
        count += sum(1 for a in args if a == k)
    return count


def check_graph(got, expected, program, name, leaves_only=True):
    """Compare `value_graph`'s numbers with the expected ones, node by node (a test helper)."""
    if mode() == "record":
        return
    if "error" in got:
        at = got.get("at", -1)
        where = describe(program[at]) if 0 <= at < len(program) else "reading .data / .grad"
        hint = ("numbers may be on either side (`2 * v`, `1 - v`, `v / 3`): define __radd__, __rsub__, "
                "__rmul__ and __rtruediv__, and wrap plain numbers in a Value.")
        if got["error"] == "NotImplementedError":
            hint = "fill in the method of Value that this operation uses."
        check(False, f"{name}: your Value raised {got['error']} at `{where}` ({got.get('stage')}).", hint=hint)
    data, grad = np.asarray(got["data"]), np.asarray(got["grad"])
    exp_data, exp_grad = np.asarray(expected["data"]), np.asarray(expected["grad"])
    check(data.shape == exp_data.shape, f"{name}: expected {exp_data.size} nodes, got {data.size}.")
    for k, op in enumerate(program):
        check_close(data[k], exp_data[k], f"{name}: .data of `{describe(op)}` (node v{k})", rtol=1e-9,
                    atol=1e-12, hint="check the forward formula of this operation.")
    for k, op in enumerate(program):
        if leaves_only and op[0] != "leaf":
            continue
        if _uses(program, k) > 1:
            hint = "this node is used more than once: its gradient is the SUM over its uses (`+=`, never `=`)."
        else:
            hint = ("check the local derivative of each operation, and that backward() visits every node "
                    "exactly once, after all the nodes that use it (topological order).")
        check_close(grad[k], exp_grad[k], f"{name}: .grad of node v{k} = `{describe(op)}`", rtol=1e-7,
                    atol=1e-10, hint=hint)


def run_steps(step_fn, h, c, w0, num_steps, **kwargs):
    """Call an optimiser's step function `num_steps` times on f(w) = 0.5 sum(h (w - c)^2).

    Returns the iterates (copies) and a problem: None, "pair" (not `(w, dict)`) or "shape"."""
    w, state, out = np.array(w0, dtype=np.float64), {}, []
    for _ in range(num_steps):
        result = step_fn(w, quadratic_grad(h, c, w), state, **kwargs)
        if not (isinstance(result, (tuple, list)) and len(result) == 2 and isinstance(result[1], dict)):
            return out, "pair"
        w, state = np.array(result[0], dtype=np.float64), result[1]
        out.append(w.copy())      # a copy: the next call may change w in place
        if w.shape != np.shape(w0):
            return out, "shape"
    return out, None


def check_trajectory(name, got, problem, expected, num_steps, shape, hint):
    """The iterates of a step function against the reference iterates, step by step."""
    check(problem != "pair", f"{name} must return a pair (new_w, new_state) with new_state a dict.",
          hint="end with `return w_new, state` where state is a dict (e.g. {'v': v}).")
    check(problem != "shape", f"{name}: the new w must have the shape of w, {shape}; got "
          f"{np.shape(got[-1]) if got else None}.")
    for k in range(min(num_steps, len(got))):
        check_close(got[k], expected[k], f"{name}: w after step {k + 1} of {num_steps}", rtol=1e-7,
                    atol=1e-12, hint=hint)

# %% params id=params-1
# Sizes: CI sets DLCOURSE_SMOKE=1 for a quick run; the published notebook uses the full values.
SMOKE = os.environ.get("DLCOURSE_SMOKE") == "1"
VALUE_EPOCHS = 30 if SMOKE else 300          # the Value engine trains the slides' network
BOWL_STEPS, ROSENBROCK_STEPS = 200, 500      # optimiser comparison (cheap: same in the smoke run)
DEPTH = 20                                   # layers of the gradient-norm study
WIDTH = 32 if SMOKE else 128
FASHION_SAMPLES = 600 if SMOKE else 12000    # training images (validation carved from them)
FASHION_EPOCHS = 1 if SMOKE else 15
BATCH_SIZE = 64

# %% id=code-1
device_report(("numpy", "torch"));

# %% [markdown] id=markdown-2
# ## 1 · Computational graphs
#
# The slides' example has four scalars at the bottom of the graph, $a, b, c, d$, and computes
#
# $$z = (a + b)(c - d)$$
#
# in steps, one vertex per operation: $x = a + b$, $y = c - d$ and $z = x \cdot y$. The
# figure draws that graph with the example below: the forward values on the edges (green, above)
# and the gradients of $z$ coming back (red, below). Read it once from left to right, then once
# from right to left.

# %% id=fig-graph
draw_computational_graph(a=3, b=1, c=4, d=2)   # the drawing helper is in dlcourse/plotting.py
plt.show()

# %% [markdown] id=markdown-graph-2
# **Forward** (propagation of the signal): with $a = 3, b = 1, c = 4, d = 2$ we get
# $x = 4$, $y = 2$ and $z = 8$.
#
# **Backward** (back-propagation): start at the output with $\partial z / \partial z = 1$ and
# walk the graph backwards; each vertex multiplies the gradient that arrives by its **local**
# derivative (the chain rule):
#
# | vertex | local derivatives | gradient of $z$ |
# |---|---|---|
# | $z = x y$ | $\partial z/\partial x = y$, $\partial z/\partial y = x$ | $\partial z/\partial x = 2$, $\partial z/\partial y = 4$ |
# | $x = a + b$ | $\partial x/\partial a = \partial x/\partial b = 1$ | $\partial z/\partial a = \partial z/\partial b = 2$ |
# | $y = c - d$ | $\partial y/\partial c = 1$, $\partial y/\partial d = -1$ | $\partial z/\partial c = 4$, $\partial z/\partial d = -4$ |
#
# The same numbers in plain Python:

# %% id=code-2
a, b, c, d = 3.0, 1.0, 4.0, 2.0
x = a + b          # forward, vertex by vertex
y = c - d
z = x * y
dz_dz = 1.0        # backward, from the output to the leaves
dz_dx, dz_dy = y * dz_dz, x * dz_dz
dz_da, dz_db = 1.0 * dz_dx, 1.0 * dz_dx
dz_dc, dz_dd = 1.0 * dz_dy, -1.0 * dz_dy
print(f"z = {z}; dz/da = {dz_da}, dz/db = {dz_db}, dz/dc = {dz_dc}, dz/dd = {dz_dd}")

# %% [markdown] id=markdown-3
# ### Reverse-mode automatic differentiation
#
# A framework does this for any expression. Each result remembers **where it came from** (its
# parent nodes) and **how to send a gradient back** to them. When you call `backward()` on the
# output:
#
# 1. sort the graph **topologically**: every node comes after all the nodes it was computed from;
# 2. set the output's gradient to 1;
# 3. visit the nodes in **reverse** topological order; each node adds its contribution to its
#    parents' gradients: `parent.grad += local_derivative * node.grad`.
#
# Two traps:
# - A node used **twice** (in `a * a`, or `x` in `x * y + x`) receives a gradient from each use:
#   the contributions must **add up** (`+=`, never `=`).
# - A node must pass its gradient on only after **all** its uses have reported: that is why
#   the order is topological. A depth-first search with a `visited` set builds the order;
#   without the set, a node reached along two paths is processed twice.
#
# ### Exercise 1.1 · `Value`
# Write the class `Value`: a scalar with `data` (a float) and `grad` (0.0 until `backward()`).
# It supports `+ - * /` between Values **and with plain numbers on either side**: `v + 1`,
# `2 * v`, `1 - v`, `1 / v`. It also supports `v ** p` for a number `p`, and `backward()`.
# The methods `exp()`, `log()`, `tanh()`, `sigmoid()` and `relu()` each return a new Value.
#
# The constructor, `_wrap` (a number as a leaf Value) and `__neg__` are given. Each operation
# returns a new node `out`. Its `_backward` adds the local derivative times `out.grad` to its
# parents' `.grad`. You may change the given code too, as long as the names `data`, `grad`
# and the operations stay.
#
# <details><summary>Hint (try first)</summary>
#
# Local derivatives: $\frac{d}{dx}x^p = p x^{p-1}$, $\frac{d}{dx}e^x = e^x$,
# $\frac{d}{dx}\log x = 1/x$, $\frac{d}{dx}\tanh x = 1 - \tanh^2 x$,
# $\frac{d}{dx}\sigma(x) = \sigma(x)(1 - \sigma(x))$, $\frac{d}{dx}\mathrm{relu}(x) = 1$ if
# $x > 0$ else $0$. `a - b` is `a + (-b)` and `a / b` is `a * b ** -1`. `__radd__` lets
# Python compute `2 + v`.
# </details>

# %% solution id=Value
class Value:
    """A scalar node of a computational graph with reverse-mode automatic differentiation."""

    def __init__(self, data, _parents=(), _op=""):
        self.data = float(data)       # the number this node holds
        self.grad = 0.0               # d(output)/d(this node), filled in by backward()
        self._parents = tuple(_parents)   # the nodes this one was computed from
        self._op = _op                # a label, e.g. "+" (for printing)
        self._backward = lambda: None     # adds this node's contribution to its parents' .grad

    @staticmethod
    def _wrap(other):
        """A plain number as a Value (a leaf); a Value unchanged."""
        return other if isinstance(other, Value) else Value(other)

    def __add__(self, other):
        """self + other (other: a Value or a number)."""
        ### BEGIN SOLUTION
        other = Value._wrap(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out
        ### END SOLUTION

    def __mul__(self, other):
        """self * other."""
        ### BEGIN SOLUTION
        other = Value._wrap(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out
        ### END SOLUTION

    def __pow__(self, p):
        """self ** p for a number p."""
        ### BEGIN SOLUTION
        out = Value(self.data ** p, (self,), f"**{p}")

        def _backward():
            self.grad += p * self.data ** (p - 1) * out.grad
        out._backward = _backward
        return out
        ### END SOLUTION

    def exp(self):
        ### BEGIN SOLUTION
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad
        out._backward = _backward
        return out
        ### END SOLUTION

    def log(self):
        ### BEGIN SOLUTION
        out = Value(math.log(self.data), (self,), "log")

        def _backward():
            self.grad += out.grad / self.data
        out._backward = _backward
        return out
        ### END SOLUTION

    def tanh(self):
        ### BEGIN SOLUTION
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward():
            self.grad += (1.0 - out.data ** 2) * out.grad
        out._backward = _backward
        return out
        ### END SOLUTION

    def sigmoid(self):
        ### BEGIN SOLUTION
        x = self.data
        s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        out = Value(s, (self,), "sigmoid")

        def _backward():
            self.grad += s * (1.0 - s) * out.grad
        out._backward = _backward
        return out
        ### END SOLUTION

    def relu(self):
        ### BEGIN SOLUTION
        out = Value(max(self.data, 0.0), (self,), "relu")

        def _backward():
            self.grad += (1.0 if self.data > 0 else 0.0) * out.grad
        out._backward = _backward
        return out
        ### END SOLUTION

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        """self - other."""
        ### BEGIN SOLUTION
        return self + (-Value._wrap(other))
        ### END SOLUTION

    def __truediv__(self, other):
        """self / other."""
        ### BEGIN SOLUTION
        return self * Value._wrap(other) ** -1
        ### END SOLUTION

    def __radd__(self, other):
        """other + self, when other is a number."""
        ### BEGIN SOLUTION
        return self + other
        ### END SOLUTION

    def __rmul__(self, other):
        """other * self."""
        ### BEGIN SOLUTION
        return self * other
        ### END SOLUTION

    def __rsub__(self, other):
        """other - self."""
        ### BEGIN SOLUTION
        return Value._wrap(other) - self
        ### END SOLUTION

    def __rtruediv__(self, other):
        """other / self."""
        ### BEGIN SOLUTION
        return Value._wrap(other) / self
        ### END SOLUTION

    def backward(self):
        """Fill in .grad of every node this one depends on (this node's own grad is 1)."""
        ### BEGIN SOLUTION
        order, visited = [], set()

        def visit(node):
            if id(node) not in visited:
                visited.add(id(node))
                for parent in node._parents:
                    visit(parent)
                order.append(node)
        visit(self)
        self.grad = 1.0
        for node in reversed(order):
            node._backward()
        ### END SOLUTION

    def __repr__(self):
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

# %% [markdown] id=markdown-4
# **Expected output:** `z = 8.0` and the gradients of the table: `2.0 2.0 4.0 -4.0`.

# %% id=code-3
a, b, c, d = Value(3.0), Value(1.0), Value(4.0), Value(2.0)
z = (a + b) * (c - d)
z.backward()
print(f"z = {z.data}; gradients: {a.grad} {b.grad} {c.grad} {d.grad}")

# %% test id=test_Value points=3
"""Value: the slides' graph, each operation and numbers on either side, against torch.autograd."""
slides = [("leaf", 3.0), ("leaf", 1.0), ("leaf", 4.0), ("leaf", 2.0), ("add", 0, 1), ("sub", 2, 3),
          ("mul", 4, 5)]
check_graph(value_graph(Value, slides), {"data": [3.0, 1.0, 4.0, 2.0, 4.0, 2.0, 8.0],
                                         "grad": [2.0, 2.0, 4.0, -4.0, 2.0, 4.0, 1.0]},
            slides, "z = (a + b)(c - d)")
square = [("leaf", 3.0), ("mul", 0, 0)]
check_graph(value_graph(Value, square), {"data": [3.0, 9.0], "grad": [6.0, 1.0]}, square, "a * a")
numbers = [("leaf", 2.0), ("num_sub", 1.0, 0), ("num_mul", 3.0, 1), ("div_num", 2, 4.0), ("num_add", 5.0, 3)]
check_graph(value_graph(Value, numbers), {"data": [2.0, -1.0, -3.0, -0.75, 4.25], "grad": [-0.75, 0, 0, 0, 1]},
            numbers, "5 + (3 * (1 - a)) / 4")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_optim as ref

cases = []
for kind in ["add", "sub", "mul", "div"]:
    cases.append([("leaf", 1.7), ("leaf", -0.6), (kind, 0, 1)])
    cases.append([("leaf", 1.3), (kind + "_num", 0, 2.5)])
    cases.append([("leaf", -1.3), ("num_" + kind, 2.5, 0)])
for p in [2.0, 3.0, 0.5, -1.0, -2.5]:
    cases.append([("leaf", 1.8), ("pow", 0, p)])
for kind in ["exp", "log", "tanh", "sigmoid", "relu"]:
    cases.append([("leaf", 0.7), (kind, 0)])
    if kind != "log":
        cases.append([("leaf", -1.4), (kind, 0)])
cases.append([("leaf", 2.0), ("add", 0, 0)])
cases.append([("leaf", 2.0), ("div", 0, 0)])
cases.append([("leaf", 1.5), ("sub", 0, 0), ("add_num", 1, 1.0)])
cases.append([("leaf", 40.0), ("sigmoid", 0)])
cases.append([("leaf", -40.0), ("sigmoid", 0)])
for prog in cases:
    check_graph(value_graph(Value, prog), ref.torch_graph(prog), prog, "one operation", leaves_only=False)
### END HIDDEN TESTS
passed("Value")

# %% test id=test_Value_graphs points=3
"""Value: random expression graphs with reused nodes, every leaf's gradient against torch.autograd."""
diamond = [("leaf", 2.0), ("leaf", -3.0), ("mul", 0, 1), ("add", 2, 0), ("mul", 3, 2)]
# v2 = a b = -6, v3 = v2 + a = -4, z = v3 * v2 = 24; dz/da = (b + 1) v2 + b v3 = 24, dz/db = a v2 + a v3 = -20
check_graph(value_graph(Value, diamond), {"data": [2.0, -3.0, -6.0, -4.0, 24.0],
                                          "grad": [24.0, -20.0, 0, 0, 1]}, diamond, "(a b + a) a b")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_optim as ref

chain = [("leaf", 0.9)]
for k in range(12):            # x used by two paths at every level: x_{k+1} = x_k * x_k tanh ... (many paths)
    chain += [("tanh", 2 * k), ("mul", 2 * k, 2 * k + 1)]
check_graph(value_graph(Value, chain), ref.torch_graph(chain), chain, "a deep graph with shared nodes")
rng = np.random.default_rng(303)
for trial in range(12):
    prog = random_program(rng, n_leaves=int(rng.integers(2, 5)), n_ops=int(rng.integers(6, 25)))
    check_graph(value_graph(Value, prog), ref.torch_graph(prog), prog, f"random graph #{trial}")
### END HIDDEN TESTS
passed("Value_graphs")

# %% [markdown] id=markdown-5
# ### The slides' network, trained by `Value`
# Notebook 02 derived the gradients of the 2-4-3-1 sigmoid network by hand. With `Value` you
# only write the **forward** pass: each weight is a `Value`, the loss
# $J = \sum -(y \log \hat y + (1 - y)\log(1 - \hat y))$ is built from them, and
# `J.backward()` fills in every `.grad`. The course's helper `value_mlp` does exactly this
# with your class (read its code in `dlcourse/testkit/optim.py`) and returns plain numbers.
# (When your notebook is graded, each operation on your `Value` objects is recorded and the
# grader checks every number it read.)

# %% setup id=setup-3
X_toy = np.array([[5.0, 2.0], [1.0, 0.0], [3.0, 1.0]])
y_toy = np.array([0.0, 1.0, 1.0])
toy_rng = np.random.default_rng(2)
toy_dims = [2, 4, 3, 1]
toy_W = [toy_rng.normal(0.0, 1.0 / np.sqrt(n), size=(n, m)) for n, m in zip(toy_dims[:-1], toy_dims[1:], strict=True)]
toy_b = [np.zeros(m) for m in toy_dims[1:]]

# %% id=code-4
trained = value_mlp(Value, X_toy, y_toy, toy_W, toy_b, lr=0.5, epochs=VALUE_EPOCHS)
plt.figure(figsize=(5, 3))
plt.plot(trained["losses"])
plt.xlabel("epoch")
plt.ylabel("J")
plt.title("The slides' network, trained with Value")
plt.show()
print(f"J: {trained['losses'][0]:.4f} -> {trained['losses'][-1]:.4f}")

# %% test id=test_Value_mlp points=2
"""Value: the slides' 2-4-3-1 network gives notebook 02's gradients, and trains like it."""
res = value_mlp(Value, X_toy, y_toy, toy_W, toy_b, lr=0.5, epochs=1)
check("error" not in res,
      f"building the network with Value failed: {show(res.get('error'))} in {show(res.get('stage'))}.",
      hint="the network uses +, *, sigmoid(), log(), numbers times Values and `1 - v`.")
check(len(res["grads_W"]) == 3, f"expected gradients of 3 weight matrices, got {len(res['grads_W'])}.")
check_shape(res["grads_W"][0], (2, 4), "the gradient of W1")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_optim as ref

expected = ref.mlp_loss_grads(toy_W, toy_b, X_toy, y_toy)   # (J, grads_W, grads_b)
check_close(res["losses"][0], expected[0], "J of the slides' network built from Value nodes", rtol=1e-9)
for k in range(3):
    check_close(res["grads_W"][k], expected[1][k], f"dJ/dW{k + 1} from Value", rtol=1e-7, atol=1e-12,
                hint="each weight is used by several samples: its gradient must add up over them.")
    check_close(res["grads_b"][k], expected[2][k], f"dJ/db{k + 1} from Value", rtol=1e-7, atol=1e-12)
rng = np.random.default_rng(31)
Ws = [rng.normal(0.0, 0.8, size=(n, m)) for n, m in zip([2, 4, 3], [4, 3, 1], strict=True)]
bs = [rng.normal(0.0, 0.8, size=m) for m in [4, 3, 1]]
res = value_mlp(Value, X_toy, y_toy, Ws, bs, lr=0.3, epochs=6)
check("error" not in res, f"training with Value failed: {show(res.get('error'))} in {show(res.get('stage'))}.")
fit = ref.mlp_fit(Ws, bs, X_toy, y_toy, 0.3, 6)   # (losses, weights, biases)
check_close(res["losses"], fit[0], "the 6 losses of gradient descent with Value", rtol=1e-7)
for k in range(3):
    check_close(res["weights"][k], fit[1][k], f"W{k + 1} after 6 steps", rtol=1e-7, atol=1e-12)
### END HIDDEN TESTS
passed("Value_mlp")

# %% [markdown] id=markdown-6
# ## 2 · Optimisers by hand
#
# Plain gradient descent takes $w \leftarrow w - \eta\, \nabla J(w)$. On a long narrow valley
# it zig-zags across the valley and crawls along it. The three classic fixes keep a
# **state** between steps. You will write each one exactly as PyTorch does: its defaults, and
# no weight decay. Below, $g$ is the gradient `dw`, and $t$ counts the steps from 1.
#
# Each function takes the weights `w`, their gradient `dw`, a `state` dict (empty `{}` on the
# first call) and the hyper-parameters. It returns `(new_w, new_state)`. What goes into the
# state is up to you; the tests only look at the weights. The descriptions below say what each
# optimiser does. Turning them into update rules is your job.
#
# ### Exercise 2.1 · `sgd_momentum_step`
# Momentum moves the weights along a **velocity** $v$ instead of the gradient:
# $w \leftarrow w - \eta\, v$. In PyTorch, the velocity is a weighted sum of all the gradients
# so far. The newest gradient has weight 1, the one before it weight $m$ (the `momentum`
# argument), the one before that $m^2$, and so on. Each call must cost the same, however
# long training runs: keep in the state what lets you update $v$ without the old gradients.
#
# <details><summary>Hint (try first)</summary>
# Write the sum at step t and the sum at step t − 1 one under the other. One multiplication
# and one addition turn the second into the first.
# </details>

# %% solution id=sgd_momentum_step updates=w
def sgd_momentum_step(w, dw, state, lr, momentum=0.9):
    """One step of SGD with momentum, as torch.optim.SGD(lr=lr, momentum=momentum).

    Returns (new_w, new_state)."""
    ### BEGIN SOLUTION
    w, dw = np.asarray(w, dtype=np.float64), np.asarray(dw, dtype=np.float64)
    v = dw.copy() if "v" not in state else momentum * state["v"] + dw
    return w - lr * v, {"v": v}
    ### END SOLUTION

# %% test id=test_sgd_momentum_step points=2
"""sgd_momentum_step: the first two steps by hand, then 50 steps against torch.optim.SGD."""
w1, s1 = sgd_momentum_step(np.array([1.0, -2.0]), np.array([0.5, 1.0]), {}, lr=0.1)
check(isinstance(s1, dict), "the new state must be a dict.", hint="return (new_w, state) with state a dict.")
check_close(w1, [0.95, -2.1], "w after the first step (v = dw)",
            hint="on the first step the velocity is the gradient itself: v = dw, w - lr * v.")
w2, s2 = sgd_momentum_step(w1, np.array([0.5, 1.0]), s1, lr=0.1)
check_close(w2, [0.95 - 0.1 * (0.9 * 0.5 + 0.5), -2.1 - 0.1 * (0.9 * 1.0 + 1.0)], "w after the second step",
            hint="v = momentum * v + dw (PyTorch adds the whole gradient; no (1 - momentum) factor).")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_optim as ref

rng = np.random.default_rng(211)
for shape, kw in [((5,), {}), ((3, 4), {"momentum": 0.5}), ((7,), {"momentum": 0.99}), ((2, 2), {})]:
    h, c, w0 = random_quadratic(rng, shape, condition=20.0)
    got, problem = run_steps(sgd_momentum_step, h, c, w0, 50, lr=0.02, **kw)
    check_trajectory("sgd_momentum_step", got, problem, ref.torch_trajectory("sgd", h, c, w0, 0.02, 50, **kw),
                     50, shape, "v = momentum * v + dw, then w - lr * v; keep v in the state between calls.")
### END HIDDEN TESTS
passed("sgd_momentum_step")

# %% [markdown] id=markdown-7
# ### Exercise 2.2 · `rmsprop_step`
# RMSprop divides each coordinate of the gradient by the typical size of that coordinate's
# recent gradients, then steps by η times the result. The size is $\sqrt{s}$, where $s$ is a
# running mean of $g^2$, coordinate by coordinate. At each step, $s$ keeps the fraction
# `alpha` of its old value and takes the rest from the new $g^2$. It starts at 0. So that
# nothing is divided by 0, PyTorch adds `eps` to $\sqrt{s}$: after the square root, not
# inside it.

# %% solution id=rmsprop_step updates=w
def rmsprop_step(w, dw, state, lr, alpha=0.99, eps=1e-8):
    """One step of RMSprop, as torch.optim.RMSprop(lr=lr, alpha=alpha, eps=eps).

    Returns (new_w, new_state)."""
    ### BEGIN SOLUTION
    w, dw = np.asarray(w, dtype=np.float64), np.asarray(dw, dtype=np.float64)
    s = alpha * state.get("s", np.zeros_like(dw)) + (1.0 - alpha) * dw ** 2
    return w - lr * dw / (np.sqrt(s) + eps), {"s": s}
    ### END SOLUTION

# %% test id=test_rmsprop_step points=2
"""rmsprop_step: the first step by hand, then 50 steps against torch.optim.RMSprop (small gradients too)."""
w1, s1 = rmsprop_step(np.array([1.0, -2.0]), np.array([0.5, -1.0]), {}, lr=0.01)
check(isinstance(s1, dict), "the new state must be a dict.")
check_close(w1, [1.0 - 0.01 * 0.5 / (np.sqrt(0.01 * 0.25) + 1e-8), -2.0 + 0.01 / (np.sqrt(0.01) + 1e-8)],
            "w after the first step", hint="s = alpha * s + (1 - alpha) * dw**2 with s = 0 at first; "
                                           "w - lr * dw / (sqrt(s) + eps).")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_optim as ref

rng = np.random.default_rng(221)
cases = [((5,), 1.0, {}), ((3, 4), 1.0, {"alpha": 0.9}), ((6,), 1e-7, {}), ((4,), 1e-7, {"eps": 1e-6}),
         ((2, 3), 1.0, {"alpha": 0.5, "eps": 1e-3})]
for shape, scale, kw in cases:
    h, c, w0 = random_quadratic(rng, shape, condition=20.0, scale=scale)
    got, problem = run_steps(rmsprop_step, h, c, w0, 50, lr=0.01, **kw)
    check_trajectory("rmsprop_step" + (" (tiny gradients, where eps matters)" if scale < 1 else ""), got, problem,
                     ref.torch_trajectory("rmsprop", h, c, w0, 0.01, 50, **kw), 50, shape,
                     "s = alpha * s + (1 - alpha) * dw**2; divide dw by (sqrt(s) + eps): eps goes after the "
                     "square root, and use the alpha and eps arguments.")
### END HIDDEN TESTS
passed("rmsprop_step")

# %% [markdown] id=markdown-8
# ### Exercise 2.3 · `adam_step`
# Adam combines the two ideas. It keeps a running mean $m$ of $g$ (it keeps the fraction
# `beta1` of the old value) and a running mean $v$ of $g^2$ (fraction `beta2`). Both start
# at 0, like RMSprop's $s$. The step is η times $\hat m / (\sqrt{\hat v} + \epsilon)$, with
# `eps` after the root again.
#
# The hats are the **bias correction**. Because $m$ and $v$ start at 0, they are too small
# in the first steps. Suppose the gradient were the same $g$ at every step. Work out $m$
# after $t$ steps: it is $g$ times a factor smaller than 1. Adam divides $m$ by exactly that
# factor to get $\hat m$, and does the same for $v$ to get $\hat v$. Without the correction,
# the first steps would be too **large**, because $v$ is the more biased of the two.

# %% solution id=adam_step updates=w
def adam_step(w, dw, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One step of Adam, as torch.optim.Adam(lr=lr, betas=(beta1, beta2), eps=eps).

    Returns (new_w, new_state)."""
    ### BEGIN SOLUTION
    w, dw = np.asarray(w, dtype=np.float64), np.asarray(dw, dtype=np.float64)
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", np.zeros_like(dw)) + (1.0 - beta1) * dw
    v = beta2 * state.get("v", np.zeros_like(dw)) + (1.0 - beta2) * dw ** 2
    m_hat = m / (1.0 - beta1 ** t)
    v_hat = v / (1.0 - beta2 ** t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), {"t": t, "m": m, "v": v}
    ### END SOLUTION

# %% test id=test_adam_step points=3
"""adam_step: the first two steps by hand, then 50 steps against torch.optim.Adam."""
w1, s1 = adam_step(np.array([1.0, -2.0]), np.array([0.5, -3.0]), {}, lr=0.1)
check(isinstance(s1, dict), "the new state must be a dict.")
check_close(w1, [1.0 - 0.1 * 0.5 / (0.5 + 1e-8), -2.0 + 0.1 * 3.0 / (3.0 + 1e-8)], "w after the first step",
            hint="with bias correction, m_hat = dw and v_hat = dw**2 on step 1. Did you divide by "
                 "(1 - beta ** t) with t = 1 on the first step?")
w1_before = np.array(w1, dtype=np.float64)
w2, s2 = adam_step(w1, np.array([0.5, -3.0]), s1, lr=0.1)
check_close(w2, w1_before - 0.1 * np.array([0.5, -3.0]) / (np.abs([0.5, -3.0]) + 1e-8), "w after the second step "
            "with the same gradient", hint="count the steps in the state: t = 2 on the second call.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_optim as ref

rng = np.random.default_rng(231)
cases = [((5,), 1.0, {}), ((3, 4), 1.0, {"beta1": 0.8, "beta2": 0.99}), ((6,), 1e-7, {}),
         ((4,), 1.0, {"eps": 1e-3}), ((2, 3), 1e-6, {"beta2": 0.9, "eps": 1e-6})]
for shape, scale, kw in cases:
    h, c, w0 = random_quadratic(rng, shape, condition=20.0, scale=scale)
    got, problem = run_steps(adam_step, h, c, w0, 50, lr=0.05, **kw)
    check_trajectory("adam_step" + (" (tiny gradients, where eps matters)" if scale < 1 else ""), got, problem,
                     ref.torch_trajectory("adam", h, c, w0, 0.05, 50, **kw), 50, shape,
                     "m and v start at 0; t counts the steps from 1; m_hat = m / (1 - beta1**t), "
                     "v_hat = v / (1 - beta2**t); w - lr * m_hat / (sqrt(v_hat) + eps).")
### END HIDDEN TESTS
passed("adam_step")

# %% [markdown] id=markdown-9
# ### Question 2.4 · Adam's first step
# Adam with `lr=0.01` and its default `beta1`, `beta2` and `eps` takes its first step with the
# gradient `dw = [0.001, 1000.0]`. By how much does the **first** weight (the one with the tiny
# gradient 0.001) change? Set `q_adam_first_step` to a number (the size of the change).

# %% solution id=q_adam_first_step
# Your answer: q_adam_first_step = <a number>
### BEGIN SOLUTION
q_adam_first_step = 0.01
### END SOLUTION

# %% test id=test_q_adam_first_step points=1
"""q_adam_first_step: the size of Adam's first step for a tiny gradient."""
check(np.ndim(q_adam_first_step) == 0 and np.issubdtype(np.asarray(q_adam_first_step).dtype, np.number),
      f"q_adam_first_step: answer with a number, got {show(q_adam_first_step)}.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_optim as ref

check_answer(q_adam_first_step, ref.QUESTIONS["q_adam_first_step"], "q_adam_first_step")
### END HIDDEN TESTS
passed("q_adam_first_step")

# %% [markdown] id=markdown-10
# ### Question 2.5 · Momentum in a ravine
# In a ravine, the gradient's component across the valley flips sign at every step. The
# component along the valley keeps its sign. Say the gradients are $(+1, 0.1)$, $(-1, 0.1)$,
# $(+1, 0.1)$, and so on. You run `sgd_momentum_step` with $m = 0.9$ for many steps. About
# what is the velocity $v$ then? Reason it out, or run your function in a new cell.
#
# - **a** $v \approx (\pm 1.0,\ 0.1)$: the same as the gradient
# - **b** $v \approx (\pm 10,\ 1.0)$: ten times the gradient
# - **c** $v \approx (\pm 0.53,\ 1.0)$: across shrinks, along grows
# - **d** $v \approx (0,\ 0.1)$: across cancels out, along is unchanged
#
# Set `q_momentum` to one letter.

# %% solution id=q_momentum
# Your answer: q_momentum = "<one letter: a, b, c or d>"
### BEGIN SOLUTION
q_momentum = "c"
### END SOLUTION

# %% test id=test_q_momentum points=1
"""q_momentum: what momentum does in a ravine."""
check_choice(q_momentum, ["a", "b", "c", "d"], "q_momentum")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_optim as ref

check_answer(q_momentum, ref.QUESTIONS["q_momentum"], "q_momentum")
### END HIDDEN TESTS
passed("q_momentum")

# %% [markdown] id=markdown-11
# ### Question 2.6 · A learning rate that is too large
# Plain gradient descent on the bowl $f(x, y) = \frac{1}{2}(x^2 + 50 y^2)$, whose gradient is
# $(x, 50 y)$, with the learning rate $\eta = 0.05$, starting from $(-9, 1.5)$. What happens?
#
# - **a** it converges faster than with $\eta = 0.01$, because its steps are larger
# - **b** $y$ changes sign at every step and grows: the loss blows up
# - **c** it stops early, at a point where the gradient becomes zero
# - **d** $y$ changes sign at every step but shrinks: it settles at the minimum
#
# Set `q_large_lr` to one letter.

# %% solution id=q_large_lr
# Your answer: q_large_lr = "<one letter: a, b, c or d>"
### BEGIN SOLUTION
q_large_lr = "b"
### END SOLUTION

# %% test id=test_q_large_lr points=1
"""q_large_lr: gradient descent with a learning rate that is too large."""
check_choice(q_large_lr, ["a", "b", "c", "d"], "q_large_lr")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_optim as ref

check_answer(q_large_lr, ref.QUESTIONS["q_large_lr"], "q_large_lr")
### END HIDDEN TESTS
passed("q_large_lr")

# %% [markdown] id=markdown-12
# ### Comparing the optimisers
# We use two test functions of two weights. The first is an **ill-conditioned bowl**,
# $f(x, y) = \frac{1}{2}(x^2 + 50 y^2)$, with a curvature 50 times larger along $y$. The second
# is the **Rosenbrock** function $f(x, y) = (1 - x)^2 + 100(y - x^2)^2$, a curved valley with its
# minimum at $(1, 1)$.
# Every optimiser starts from the same point; the learning rates are typical for each.

# %% id=code-5
def bowl(w):
    return 0.5 * (w[0] ** 2 + 50.0 * w[1] ** 2), np.array([w[0], 50.0 * w[1]])


def rosenbrock(w):
    x, y = w
    f = (1 - x) ** 2 + 100 * (y - x ** 2) ** 2
    return f, np.array([-2 * (1 - x) - 400 * x * (y - x ** 2), 200 * (y - x ** 2)])


def plain_sgd_step(w, dw, state, lr):
    return w - lr * dw, state


def optimise(fn, step_fn, w0, num_steps, **kw):
    w, state, path, losses = np.array(w0, dtype=np.float64), {}, [np.array(w0, dtype=np.float64)], []
    for _ in range(num_steps):
        f, g = fn(w)
        losses.append(f)
        w, state = step_fn(w, g, state, **kw)
        path.append(np.array(w))
    losses.append(fn(w)[0])
    return np.array(path), np.array(losses)


problems = {
    "ill-conditioned bowl": (bowl, [-9.0, 1.5], [(-10, 10), (-2.5, 2.5)], BOWL_STEPS, {
        "SGD": (plain_sgd_step, {"lr": 0.035}), "SGD + momentum": (sgd_momentum_step, {"lr": 0.004}),
        "RMSprop": (rmsprop_step, {"lr": 0.05}), "Adam": (adam_step, {"lr": 0.3})}),
    "Rosenbrock": (rosenbrock, [-1.5, 2.0], [(-2, 2), (-1, 3)], ROSENBROCK_STEPS, {
        "SGD": (plain_sgd_step, {"lr": 1e-3}), "SGD + momentum": (sgd_momentum_step, {"lr": 5e-4}),
        "RMSprop": (rmsprop_step, {"lr": 1e-2}), "Adam": (adam_step, {"lr": 0.1})}),
}
fig, axes = plt.subplots(2, 2, figsize=(12, 9))
for row, (title, (fn, w0, (xr, yr), num_steps, opts)) in enumerate(problems.items()):
    gx, gy = np.meshgrid(np.linspace(*xr, 200), np.linspace(*yr, 200))
    fz = fn(np.array([gx, gy]))[0]
    axes[row, 0].contour(gx, gy, fz, levels=np.logspace(-1, 3.5, 20), cmap="Greys", linewidths=0.7)
    for name, (step_fn, kw) in opts.items():
        path, losses = optimise(fn, step_fn, w0, num_steps, **kw)
        axes[row, 0].plot(path[:, 0], path[:, 1], ".-", ms=2, lw=1, label=name)
        axes[row, 1].semilogy(np.maximum(losses, 1e-16), label=name)
        print(f"{title:>20} | {name:<15} final loss {losses[-1]:.3g} at ({path[-1, 0]:.3f}, {path[-1, 1]:.3f})")
    axes[row, 0].set_xlim(*xr)
    axes[row, 0].set_ylim(*yr)
    axes[row, 0].set_title(f"{title}: trajectories")
    axes[row, 0].legend()
    axes[row, 1].set_title(f"{title}: loss")
    axes[row, 1].set_xlabel("step")
    axes[row, 1].legend()
plt.tight_layout()
plt.show()

# How far does RMSprop move each weight per step, in units of its learning rate?
rms_lr = problems["ill-conditioned bowl"][4]["RMSprop"][1]["lr"]
rms_path, _ = optimise(bowl, rmsprop_step, [-9.0, 1.5], BOWL_STEPS, lr=rms_lr)
rms_steps = np.abs(np.diff(rms_path, axis=0)) / rms_lr
print(f"RMSprop on the bowl, step / lr along x: first step {rms_steps[0, 0]:.2f}, "
      f"median of the later steps {np.median(rms_steps[1:, 0]):.2f}")

# %% [markdown] id=markdown-13
# Read the figure and the printed losses. On the bowl, plain SGD must keep η below $2/50$,
# or the steep direction diverges. So along the flat direction it multiplies the distance by
# $1 - \eta > 0.96$ at each step. Momentum builds up speed along the valley and damps the
# zig-zag. RMSprop and Adam divide each coordinate by the size of its own gradients, so
# both directions move at a similar pace. The last line printed above gives RMSprop's step
# sizes along $x$, in units of η. Its first step is far longer than η, and its later steps are
# shorter than η. On Rosenbrock the valley is narrow **and** curved. With these learning
# rates, plain SGD has barely entered it after 500 steps, while momentum and Adam follow it
# towards $(1, 1)$. The learning rate of each optimiser matters as much as the choice of
# optimiser: try others.

# %% written id=w_rmsprop_steps points=2
# **Written question (2 points).** The cell above printed RMSprop's first step and its later
# steps along $x$, in units of η. Explain both numbers from the way $s$ is updated. Why is the
# first step 10 η whatever the gradient is? Why are the later steps on the bowl shorter than η?
#
# === BEGIN MARK SCHEME ===
#
# **Model answer.** $s$ starts at 0, so after the first step $s = (1 - 0.99)\, g^2 = 0.01\, g^2$ and
# $\sqrt{s} = 0.1\, |g|$. The step is $\eta\, g / (0.1 |g|) = 10\, \eta$ in size, for any
# non-zero $g$. Later, $s$ is a running mean of past squared gradients. On the bowl the
# gradient along $x$ shrinks as $x$ approaches 0, so $s$ still remembers the larger old
# gradients: $|g| / \sqrt{s} < 1$ and the step is shorter than η (about η/2 here).
#
# **Rubric.** 2 points: the first step follows from $s = 0.01\, g^2$ (so $\sqrt{s} = 0.1 |g|$),
# and the later steps are short because $s$ averages older, larger gradients. 1 point: one of
# the two explained. 0 points: "RMSprop normalises the gradient" with no reason for the
# numbers, or a claim that steps are always about η.
#
# === END MARK SCHEME ===

# %% [markdown] id=markdown-13b
# ## 3 · Learning-rate schedules
#
# A large learning rate early and a smaller one later is the "learning-rate decay" of the
# slides. A schedule is a function of the step number: the number of optimiser steps so far,
# starting at 0. At step 0 every schedule returns `lr0`, and each function returns one float.
# Each docstring below says how the rate behaves. Find the formula that behaves that way,
# using only the arguments of the function.
#
# ### Exercise 3.1 · four schedules from their behaviour
# - `step_decay(lr0, step, drop, every)`: the rate stays flat, then is multiplied by `drop`
#   all at once, every `every` steps (a staircase). With `drop=0.5, every=10` it halves at
#   steps 10, 20, 30, …
# - `exponential_decay(lr0, step, rate, decay_steps)`: the same total decay as the staircase,
#   but smooth. The rate is multiplied by the same factor at **every** step, and by `rate` over
#   each stretch of `decay_steps` steps.
# - `cosine_decay(lr0, step, decay_steps, alpha=0.0)`: the rate follows half a period of a
#   cosine, from `lr0` at step 0 down to `alpha * lr0` at step `decay_steps`. After that it
#   stays at `alpha * lr0`.
# - `inverse_time_decay(lr0, step, decay)`: the **reciprocal** of the rate, $1/\eta$, grows by
#   the same amount at every step. After `1 / decay` steps the rate is half of `lr0`.
#
# <details><summary>Hint (try first)</summary>
# For the exponential schedule, what single factor, applied `decay_steps` times, gives
# `rate`? For the cosine, which expression in `step` goes from 1 to 0 along half a period?
# Then rescale it so that it goes from 1 to `alpha`. For the inverse time decay, write
# $1/\eta$ as a straight line in `step`.
# </details>

# %% solution id=step_decay
def step_decay(lr0, step, drop, every):
    """lr0, multiplied by `drop` all at once every `every` steps (a staircase)."""
    ### BEGIN SOLUTION
    return float(lr0 * drop ** math.floor(step / every))
    ### END SOLUTION

# %% solution id=exponential_decay
def exponential_decay(lr0, step, rate, decay_steps):
    """lr0, multiplied by the same factor at every step, and by `rate` every `decay_steps` steps."""
    ### BEGIN SOLUTION
    return float(lr0 * rate ** (step / decay_steps))
    ### END SOLUTION

# %% solution id=cosine_decay
def cosine_decay(lr0, step, decay_steps, alpha=0.0):
    """Half a cosine from lr0 down to alpha * lr0 over `decay_steps` steps, then constant."""
    ### BEGIN SOLUTION
    progress = min(step, decay_steps) / decay_steps
    return float(lr0 * ((1.0 - alpha) * 0.5 * (1.0 + math.cos(math.pi * progress)) + alpha))
    ### END SOLUTION

# %% solution id=inverse_time_decay
def inverse_time_decay(lr0, step, decay):
    """lr0 at step 0; 1 / rate grows by the same amount each step; lr0 / 2 after 1 / decay steps."""
    ### BEGIN SOLUTION
    return float(lr0 / (1.0 + decay * step))
    ### END SOLUTION

# %% id=code-6
steps = np.arange(0, 300)
plt.figure(figsize=(7, 4))
plt.plot(steps, [step_decay(0.1, s, 0.5, 50) for s in steps], label="step_decay(drop=0.5, every=50)")
plt.plot(steps, [exponential_decay(0.1, s, 0.5, 50) for s in steps], label="exponential_decay(rate=0.5, 50)")
plt.plot(steps, [cosine_decay(0.1, s, 200, alpha=0.1) for s in steps], label="cosine_decay(200, alpha=0.1)")
plt.plot(steps, [inverse_time_decay(0.1, s, 0.05) for s in steps], label="inverse_time_decay(decay=0.05)")
plt.xlabel("step")
plt.ylabel("learning rate")
plt.legend()
plt.title("Learning-rate schedules")
plt.show()

# %% test id=test_step_decay points=1
"""step_decay: the staircase by hand; the hidden tests compare it with Keras 3's schedule."""
got = [step_decay(0.1, s, 0.5, 10) for s in (0, 9, 10, 19, 20, 35)]
check_close(got, [0.1, 0.1, 0.05, 0.05, 0.025, 0.0125], "step_decay(0.1, step, drop=0.5, every=10) at steps "
            "0, 9, 10, 19, 20, 35", hint="drop once every `every` steps: lr0 * drop ** floor(step / every).")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_optim as ref

for lr0, drop, every in [(0.1, 0.5, 10), (1e-3, 0.9, 7), (0.5, 0.1, 1), (0.01, 0.75, 100)]:
    steps_ = list(range(0, 5 * every + 3, max(1, every // 5))) + [every - 1, every, every + 1, 3 * every]
    got = np.array([step_decay(lr0, s, drop, every) for s in steps_], dtype=np.float64)
    check_close(got, ref.keras_values("step_decay", lr0, steps_, drop=drop, every=every),
                f"step_decay({lr0}, ...) against Keras 3's schedule", rtol=1e-6, atol=1e-15)
    check_close(got, [ref.schedule("step_decay", lr0, s, drop=drop, every=every) for s in steps_],
                f"step_decay({lr0}, step, drop={drop}, every={every})", rtol=1e-9,
                hint="the first drop happens at step == every (floor division), not one step earlier or later.")
### END HIDDEN TESTS
passed("step_decay")

# %% test id=test_exponential_decay points=1
"""exponential_decay: values by hand; the hidden tests compare it with Keras 3's schedule."""
got = [exponential_decay(0.1, s, 0.5, 10) for s in (0, 5, 10, 20)]
check_close(got, [0.1, 0.1 * 0.5 ** 0.5, 0.05, 0.025], "exponential_decay(0.1, step, rate=0.5, decay_steps=10)",
            hint="lr0 * rate ** (step / decay_steps), with a fractional exponent (no floor).")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_optim as ref

for lr0, rate, decay_steps in [(0.1, 0.96, 1000), (1e-3, 0.5, 7), (0.5, 0.1, 3), (0.01, 0.9, 50)]:
    steps_ = [0, 1, 2, 3, decay_steps - 1, decay_steps, 2 * decay_steps + 1, 5 * decay_steps]
    got = np.array([exponential_decay(lr0, s, rate, decay_steps) for s in steps_], dtype=np.float64)
    check_close(got, ref.keras_values("exponential_decay", lr0, steps_, rate=rate, decay_steps=decay_steps),
                f"exponential_decay({lr0}, ...) against Keras 3's schedule", rtol=1e-6, atol=1e-15)
    check_close(got, [ref.schedule("exponential_decay", lr0, s, rate=rate, decay_steps=decay_steps) for s in steps_],
                f"exponential_decay({lr0}, step, rate={rate}, decay_steps={decay_steps})", rtol=1e-9,
                hint="lr0 * rate ** (step / decay_steps): step 0 gives lr0.")
### END HIDDEN TESTS
passed("exponential_decay")

# %% test id=test_cosine_decay points=1
"""cosine_decay: start, middle, end and after the end; the hidden tests compare it with Keras 3."""
got = [cosine_decay(0.1, s, 100) for s in (0, 50, 100, 150)]
check_close(got, [0.1, 0.05, 0.0, 0.0], "cosine_decay(0.1, step, decay_steps=100) at steps 0, 50, 100, 150",
            atol=1e-15, hint="0.5 * (1 + cos(pi * step / decay_steps)); after decay_steps it stays at the end value.")
check_close(cosine_decay(0.1, 100, 100, alpha=0.2), 0.02, "cosine_decay(0.1, 100, 100, alpha=0.2)",
            hint="alpha is the final value as a FRACTION of lr0: lr0 * ((1 - alpha) * cosine + alpha).")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_optim as ref

for lr0, decay_steps, alpha in [(0.1, 100, 0.0), (1e-3, 7, 0.1), (0.5, 1000, 0.5), (0.02, 3, 0.0)]:
    steps_ = [0, 1, decay_steps // 3, decay_steps // 2, decay_steps - 1, decay_steps, decay_steps + 1,
              3 * decay_steps]
    got = np.array([cosine_decay(lr0, s, decay_steps, alpha) for s in steps_], dtype=np.float64)
    check_close(got, ref.keras_values("cosine_decay", lr0, steps_, decay_steps=decay_steps, alpha=alpha),
                f"cosine_decay({lr0}, ...) against Keras 3's schedule", rtol=1e-6, atol=1e-15)
    check_close(got, [ref.schedule("cosine_decay", lr0, s, decay_steps=decay_steps, alpha=alpha) for s in steps_],
                f"cosine_decay({lr0}, step, decay_steps={decay_steps}, alpha={alpha})", rtol=1e-9, atol=1e-15,
                hint="clip the step at decay_steps, and scale: lr0 * ((1 - alpha) * cosine + alpha).")
### END HIDDEN TESTS
passed("cosine_decay")

# %% test id=test_inverse_time_decay points=1
"""inverse_time_decay: values by hand; the hidden tests compare it with Keras 3's schedule."""
got = [inverse_time_decay(0.1, s, 0.5) for s in (0, 1, 2, 10)]
check_close(got, [0.1, 0.1 / 1.5, 0.05, 0.1 / 6], "inverse_time_decay(0.1, step, decay=0.5)",
            hint="lr0 / (1 + decay * step): step 0 gives lr0.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_optim as ref

for lr0, decay in [(1e-3, 1e-3 / 50), (0.1, 0.01), (0.5, 2.0), (0.01, 1e-5)]:
    steps_ = [0, 1, 2, 10, 99, 1000, 12345]
    got = np.array([inverse_time_decay(lr0, s, decay) for s in steps_], dtype=np.float64)
    check_close(got, ref.keras_values("inverse_time_decay", lr0, steps_, decay=decay),
                f"inverse_time_decay({lr0}, ...) against Keras 3's schedule", rtol=1e-6, atol=1e-15)
    check_close(got, [ref.schedule("inverse_time_decay", lr0, s, decay=decay) for s in steps_],
                f"inverse_time_decay({lr0}, step, decay={decay})", rtol=1e-9,
                hint="lr0 / (1 + decay * step), the decay applied once per step.")
### END HIDDEN TESTS
passed("inverse_time_decay")

# %% [markdown] id=markdown-13c
# **In Keras.** Keras 3 has these schedules as objects in `keras.optimizers.schedules`, and the
# hidden tests compare your functions with them. `step_decay` is `ExponentialDecay` with
# `staircase=True`, and `exponential_decay` is the same without it. `cosine_decay` is
# `CosineDecay`, and `inverse_time_decay` is `InverseTimeDecay`. The last one is what the
# lectures' project wrote as `Adam(lr=lr, decay=lr / epochs)`. Old Keras applied that `decay`
# at every **batch**, not every epoch. Keras 3 removed the argument: you pass a schedule as the
# learning rate instead, as in
# `keras.optimizers.Adam(learning_rate=keras.optimizers.schedules.InverseTimeDecay(lr, 1, lr / epochs))`.

# %% written id=w_old_decay points=2
# **Written question (2 points).** Predict, then check. The lectures' project trains for 50
# epochs with η₀ = 10⁻³ and `Adam(lr=lr, decay=lr / epochs)`. Its author wanted the rate to
# fall during training. Old Keras applied `decay` at every batch; say there are 100 batches
# per epoch. First write down your guess: at the end of training, what fraction of η₀ is
# left? Then compute it with your `inverse_time_decay` in a new cell. Explain the result, and
# give a value of `decay` that would halve the rate by the end of training.
#
# === BEGIN MARK SCHEME ===
#
# **Model answer.** The decay is $10^{-3} / 50 = 2 \cdot 10^{-5}$ per step, and training takes
# $50 \cdot 100 = 5000$ steps. At the end $\eta = \eta_0 / (1 + 2 \cdot 10^{-5} \cdot 5000) =
# \eta_0 / 1.1$, about $0.91\, \eta_0$: the rate falls by only 9 %. The author tied the decay to
# the learning rate, but `decay` is a rate per step: it should be compared with 1 / (number of
# steps), not with η. To halve the rate at the end, $\text{decay} \cdot 5000 = 1$, so
# $\text{decay} = 2 \cdot 10^{-4}$ (ten times larger).
#
# **Rubric.** 2 points: the fraction (about 0.91) computed from 5000 steps, the reason (decay
# counts per step, and lr / epochs is tiny), and decay = 1 / 5000 = 2e-4. 1 point: the fraction
# right but no reason or no decay value, or a correct method with a wrong step count. 0 points:
# a fraction computed per epoch (1 / (1 + 2e-5 · 50)) with no mention of batches, or no number.
#
# === END MARK SCHEME ===

# %% [markdown] id=markdown-14
# ## 4 · Activations and initialisation
#
# Back-propagation multiplies, layer after layer, by the derivative of the activation and by
# the weights. The sigmoid's derivative is at most $1/4$; tanh's at most 1; ReLU's is exactly
# 1 for positive inputs.

# %% id=code-7
zs = np.linspace(-6, 6, 400)
sig = 1 / (1 + np.exp(-zs))
fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
for ax, (name, f, df) in zip(axes, [("sigmoid", sig, sig * (1 - sig)),
                                    ("tanh", np.tanh(zs), 1 - np.tanh(zs) ** 2),
                                    ("ReLU", np.maximum(zs, 0), (zs > 0).astype(float))], strict=True):
    ax.plot(zs, f, label=name)
    ax.plot(zs, df, "--", label="derivative")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_title(name)
    ax.legend()
plt.show()

# %% [markdown] id=markdown-15
# So the **scale of the weights** decides whether signals and gradients survive 20 layers.
# Take one unit with $n_\text{in}$ inputs $x_i$ and weights $W_i$, all independent with mean 0.
# Its pre-activation is $z = \sum_i W_i x_i$, so
# $\mathrm{Var}(z) = n_\text{in}\, \mathrm{Var}(W)\, \mathrm{E}[x^2]$. The backward pass is the
# same sum, taken over the $n_\text{out}$ units that a weight feeds. The goal of both
# initialisers is one property: **keep the variance of the activations equal across
# layers**, so that nothing shrinks or explodes with depth.
#
# - **Xavier (Glorot)**, for sigmoid and tanh, which behave like the identity near 0. The
#   forward pass asks for one variance, the backward pass for another. Xavier takes the
#   harmonic mean of the two: it uses the **average** of $n_\text{in}$ and $n_\text{out}$ in
#   place of $n_\text{in}$.
# - **He (Kaiming)**, for ReLU. ReLU sets the negative half of its inputs to 0. Work out what
#   that does to $\mathrm{E}[a^2]$ for $a = \mathrm{ReLU}(z)$, with $z$ symmetric around 0. Then
#   choose $\mathrm{Var}(W)$ so that the forward pass keeps $\mathrm{E}[a^2]$ equal across layers.
#
# A normal distribution with that variance is the usual choice. A uniform one, $U(-r, r)$,
# works too if its variance $r^2/3$ is the same. These are Keras's `GlorotNormal`/`HeNormal`
# and PyTorch's `xavier_normal_`/`kaiming_normal_`. (PyTorch stores a weight as `(out, in)`;
# we keep the course's `(fan_in, fan_out)`.)
#
# ### Exercise 4.1 · `xavier_init` and `he_init`
# Return a float array of shape `(fan_in, fan_out)` drawn with the numpy generator `rng`. Use
# its methods, such as `rng.normal`, so that a seed reproduces the weights. The visible tests
# send data through one layer of your weights and check the property above. If a test
# fails, its message gives the variance it expected.
#
# <details><summary>Hint (try first)</summary>
# For Xavier, solve $\mathrm{Var}(W) \cdot \frac{n_\text{in} + n_\text{out}}{2} = 1$. For He,
# $\mathrm{E}[\mathrm{ReLU}(z)^2]$ is half of $\mathrm{Var}(z)$. `rng.normal` takes the standard
# deviation, not the variance.
# </details>

# %% solution id=xavier_init
def xavier_init(fan_in, fan_out, rng):
    """Weights (fan_in, fan_out), mean 0, the Xavier variance (sigmoid and tanh layers)."""
    ### BEGIN SOLUTION
    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=(fan_in, fan_out))
    ### END SOLUTION

# %% solution id=he_init
def he_init(fan_in, fan_out, rng):
    """Weights (fan_in, fan_out), mean 0, the He variance (ReLU layers)."""
    ### BEGIN SOLUTION
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
    ### END SOLUTION

# %% setup id=setup-4
def check_init(name, draw, target_var, fan_in, fan_out, torch_var=None, rel=0.04):
    """Statistics of an initialiser's weights: shape, mean about 0, variance within `rel`."""
    W = check_shape(draw, (fan_in, fan_out), f"{name}({fan_in}, {fan_out}, rng)",
                    hint="the shape is (fan_in, fan_out): one row per input, one column per unit.")
    if mode() == "record":
        return
    W = W.astype(np.float64)
    n = W.size
    var = float(W.var())
    check(abs(float(W.mean())) < 5 * math.sqrt(target_var / n),
          f"{name}({fan_in}, {fan_out}): the mean of the weights is {W.mean():.3g}; it should be about 0.",
          hint="draw from a distribution centred on 0 (normal(0, std) or uniform(-r, r)).")
    check(abs(var / target_var - 1) < rel,
          f"{name}({fan_in}, {fan_out}): the variance of the weights is {var:.4g}, expected "
          f"{target_var:.4g} (ratio {var / target_var:.3f}).",
          hint="the variance is std**2 (normal) or r**2 / 3 (uniform on [-r, r]); check which fan goes "
               "in the formula.")
    for axis, what in ((1, "units (columns)"), (0, "inputs (rows)")):
        spread = float(W.std(axis=axis).mean())
        check(spread > 0.5 * math.sqrt(target_var),
              f"{name}({fan_in}, {fan_out}): the {what} hold almost the same weights (spread {spread:.3g}).",
              hint="draw every weight independently: one call rng.normal(..., size=(fan_in, fan_out)).")
    if torch_var is not None:
        check(abs(var / torch_var - 1) < rel + 0.02,
              f"{name}({fan_in}, {fan_out}): variance {var:.4g}, while torch.nn.init gives {torch_var:.4g}.")


def check_keeps_scale(name, draw, fan_in, fan_out, relu, hint, rel=0.05):
    """Send standard-normal data through one layer of the weights `draw` and compare the scales.

    Without relu: n_in Var(W) and n_out Var(W), on average over the two passes, should be 1 (the
    forward and backward factors). With relu: E[a^2] of a = relu(x @ W) should equal E[x^2] = 1."""
    W = check_shape(draw, (fan_in, fan_out), f"{name}({fan_in}, {fan_out}, rng)",
                    hint="the shape is (fan_in, fan_out): one row per input, one column per unit.")
    if mode() == "record":
        return
    W = W.astype(np.float64)
    x = np.random.default_rng(99).normal(size=(1000, fan_in))
    z = x @ W
    if relu:
        got = float(np.mean(np.maximum(z, 0.0) ** 2))
        what = "E[a**2] after one ReLU layer, for inputs with E[x**2] = 1"
    else:
        forward = float(np.mean(z ** 2))                       # n_in Var(W)
        backward = forward * fan_out / fan_in                  # n_out Var(W)
        got = (forward + backward) / 2
        what = (f"the average of the forward factor ({forward:.3f}) and the backward factor "
                f"({backward:.3f})")
    check(abs(got - 1.0) < rel, f"{name}({fan_in}, {fan_out}): {what} is {got:.3f}; it should be 1.",
          hint=hint)

# %% test id=test_xavier_init points=2
"""xavier_init: one layer keeps the scale (forward and backward on average); reproducible with a seed."""
for fan_in, fan_out in [(500, 500), (600, 400)]:
    check_keeps_scale("xavier_init", xavier_init(fan_in, fan_out, np.random.default_rng(0)), fan_in, fan_out,
                      relu=False, hint="Var(W) = 2 / (fan_in + fan_out), and rng.normal takes the standard "
                                       "deviation: np.sqrt(2 / (fan_in + fan_out)).")
check_shape(xavier_init(3, 7, np.random.default_rng(1)), (3, 7), "xavier_init(3, 7, rng)")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_optim as ref

for fan_in, fan_out, seed in [(400, 600, 11), (1000, 100, 12), (50, 2000, 13)]:
    W = xavier_init(fan_in, fan_out, np.random.default_rng(seed))
    check_init("xavier_init", W, ref.init_variance("xavier", fan_in, fan_out), fan_in, fan_out,
               torch_var=ref.torch_init_variance("xavier", fan_in, fan_out, seed))
W1 = np.asarray(xavier_init(20, 30, np.random.default_rng(5)))
W2 = np.asarray(xavier_init(20, 30, np.random.default_rng(5)))
W3 = np.asarray(xavier_init(20, 30, np.random.default_rng(6)))
check(W1.shape == W2.shape == W3.shape == (20, 30) and np.array_equal(W1, W2) and not np.array_equal(W1, W3),
      "xavier_init must draw from the rng argument: the same seed must give the same weights, another seed "
      "different ones.", hint="use rng.normal(...) or rng.uniform(...), not np.random.")
### END HIDDEN TESTS
passed("xavier_init")

# %% test id=test_he_init points=2
"""he_init: one ReLU layer keeps E[a**2] equal to that of its inputs; reproducible with a seed."""
for fan_in, fan_out in [(500, 500), (600, 400)]:
    check_keeps_scale("he_init", he_init(fan_in, fan_out, np.random.default_rng(0)), fan_in, fan_out,
                      relu=True, hint="ReLU halves E[a**2], so Var(W) = 2 / fan_in (only fan_in counts); "
                                      "rng.normal takes the standard deviation: np.sqrt(2 / fan_in).")
check_shape(he_init(3, 7, np.random.default_rng(1)), (3, 7), "he_init(3, 7, rng)")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_optim as ref

for fan_in, fan_out, seed in [(400, 600, 21), (1000, 100, 22), (50, 2000, 23)]:
    W = he_init(fan_in, fan_out, np.random.default_rng(seed))
    check_init("he_init", W, ref.init_variance("he", fan_in, fan_out), fan_in, fan_out,
               torch_var=ref.torch_init_variance("he", fan_in, fan_out, seed))
W1 = np.asarray(he_init(20, 30, np.random.default_rng(5)))
W2 = np.asarray(he_init(20, 30, np.random.default_rng(5)))
W3 = np.asarray(he_init(20, 30, np.random.default_rng(6)))
check(W1.shape == W2.shape == W3.shape == (20, 30) and np.array_equal(W1, W2) and not np.array_equal(W1, W3),
      "he_init must draw from the rng argument: the same seed must give the same weights, another seed "
      "different ones.", hint="use rng.normal(...) or rng.uniform(...), not np.random.")
### END HIDDEN TESTS
passed("he_init")

# %% [markdown] id=markdown-16
# ### Question 4.2 · The scale of He weights
# A ReLU layer has 512 inputs and 256 units. With He initialisation drawn from a normal
# distribution, what is the **standard deviation** of its weights? Set `q_he_std` to a number.

# %% solution id=q_he_std
# Your answer: q_he_std = <a number>
### BEGIN SOLUTION
q_he_std = 0.0625
### END SOLUTION

# %% test id=test_q_he_std points=1
"""q_he_std: the standard deviation of He-initialised weights."""
check(np.ndim(q_he_std) == 0 and np.issubdtype(np.asarray(q_he_std).dtype, np.number),
      f"q_he_std: answer with a number, got {show(q_he_std)}.")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import ref_optim as ref

check_answer(q_he_std, ref.QUESTIONS["q_he_std"], "q_he_std")
### END HIDDEN TESTS
passed("q_he_std")

# %% [markdown] id=markdown-17
# ### Gradients through 20 layers
# A 20-layer MLP of width `WIDTH`, no biases, one batch of standard-normal inputs, the loss
# the mean of the outputs. For each activation and each initialisation we measure the norm
# of the loss's gradient with respect to each layer's weights (PyTorch autograd, float64),
# and the spread of the activations.

# %% id=code-8
import torch


def layer_gradients(activation, init, depth=DEPTH, width=WIDTH, seed=0, skip=False):
    """Gradient norm per layer, activation std per layer, last activations (skip: a = a + act(a @ W))."""
    rng = np.random.default_rng(seed)
    draw = {"N(0, 1)": lambda n, m: rng.normal(size=(n, m)), "Xavier": lambda n, m: xavier_init(n, m, rng),
            "He": lambda n, m: he_init(n, m, rng)}[init]
    act = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "ReLU": torch.relu}[activation]
    Ws = [torch.tensor(draw(width, width), requires_grad=True) for _ in range(depth)]
    a = torch.tensor(rng.normal(size=(256, width)))
    stds = []
    for W in Ws:
        a = a + act(a @ W) if skip else act(a @ W)
        stds.append(float(a.detach().std()))
    a.mean().backward()
    return [float(W.grad.norm()) for W in Ws], stds, a.detach().numpy()


results = {}
fig, axes = plt.subplots(1, 2, figsize=(13, 4))
for activation in ["sigmoid", "ReLU"]:
    for init in ["N(0, 1)", "Xavier", "He"]:
        norms, stds, last = layer_gradients(activation, init)
        results[(activation, init)] = (norms, stds, last)
        axes[0].semilogy(range(1, DEPTH + 1), np.maximum(norms, 1e-300), "o-", ms=3, label=f"{activation}, {init}")
        axes[1].semilogy(range(1, DEPTH + 1), np.maximum(stds, 1e-300), "o-", ms=3, label=f"{activation}, {init}")
        print(f"{activation:>7} {init:>7} | gradient norm layer 1: {norms[0]:9.3g}  layer {DEPTH}: {norms[-1]:9.3g}"
              f"  ratio {norms[0] / norms[-1]:9.2g} | activation std at layer {DEPTH}: {stds[-1]:.3g}")
axes[0].set_xlabel("layer")
axes[0].set_title("norm of dLoss/dW per layer")
axes[0].legend(fontsize=8)
axes[1].set_xlabel("layer")
axes[1].set_title("std of the activations per layer")
plt.show()

# %% id=code-9
fig, axes = plt.subplots(1, 3, figsize=(13, 3))
for ax, key in zip(axes, [("sigmoid", "N(0, 1)"), ("sigmoid", "Xavier"), ("ReLU", "He")], strict=True):
    ax.hist(results[key][2].ravel(), bins=50)
    ax.set_title(f"last-layer activations: {key[0]}, {key[1]}")
plt.show()

# %% [markdown] id=markdown-18
# What the numbers say. With sigmoid and Xavier or He weights, the gradient of the **first**
# layer is many orders of magnitude smaller than that of the last one: read the ratio printed
# for each case. Each layer it crosses multiplies it by $\sigma' \le 1/4$ and by weights of
# size about $1/\sqrt n$. So the first layers of a deep sigmoid network barely learn: the
# **vanishing gradient**. With N(0, 1) weights the sigmoids **saturate** instead. The
# activations pile up near 0 and 1 (histogram above), and only the large weights make up for
# the tiny $\sigma'$: a poor start as well. With ReLU, N(0, 1) weights make the signal grow by
# about $\sqrt{\text{width}/2}$ per layer, so activations and gradients **explode**. Xavier's
# variance is half of what ReLU needs, so the signal shrinks by $1/\sqrt 2$ per layer. He
# initialisation keeps activations and gradients at the same scale in every layer. That is
# why ReLU with He weights is the default for deep networks.
#
# ### Skip connections
# A **skip connection** adds a layer's input to its output: $a_l = a_{l-1} + f(a_{l-1} W_l)$
# instead of $a_l = f(a_{l-1} W_l)$. Residual networks (ResNets) are built from such blocks.
# The cell below repeats the sigmoid network with Xavier weights, the case where the gradient
# vanished, with and without skips. It uses your `xavier_init`.

# %% id=code-8b
fig, ax = plt.subplots(figsize=(7, 4))
for skip, label in [(False, "plain: a = f(a W)"), (True, "with skips: a = a + f(a W)")]:
    norms, stds, _ = layer_gradients("sigmoid", "Xavier", skip=skip)
    ax.semilogy(range(1, DEPTH + 1), norms, "o-", ms=3, label=label)
    print(f"{label:<28} | gradient norm layer 1: {norms[0]:9.3g}  layer {DEPTH}: {norms[-1]:9.3g}"
          f"  ratio {norms[0] / norms[-1]:9.2g}")
ax.set_xlabel("layer")
ax.set_ylabel("norm of dLoss/dW")
ax.set_title(f"sigmoid, Xavier, {DEPTH} layers: with and without skip connections")
ax.legend()
plt.show()

# %% written id=w_skip points=2
# **Written question (2 points).** Explain the figure above. Why does the gradient of the
# first layer stay within a few orders of magnitude of the last layer's with skips, but not
# without them? Use the chain rule for $a_l = a_{l-1} + f(a_{l-1} W_l)$. Then say what could
# still go wrong with skips: look at how the activation's scale changes from layer to layer.
#
# === BEGIN MARK SCHEME ===
#
# **Model answer.** Without skips, $\partial a_l / \partial a_{l-1} = \mathrm{diag}(\sigma')\, W_l^\top$,
# and each factor is small ($\sigma' \le 1/4$, weights of size $1/\sqrt n$). The product of 20
# such factors makes the first layer's gradient vanish (the printed ratio is
# $10^{-12}$ or less). With skips, $\partial a_l / \partial a_{l-1} = I + \mathrm{diag}(\sigma')\, W_l^\top$.
# Expanding the product, one term is the identity: the loss's gradient reaches every layer
# unchanged along the skip path, so no layer's gradient vanishes. What can still go wrong:
# each block adds to $a$, so the activations grow with depth (the sigmoid branch adds about
# 0.5 per layer here). Deep ResNets control this with normalisation or small branch weights.
# With ReLU and He weights, the scale grows by a roughly constant factor per block and explodes.
#
# **Rubric.** 2 points: the identity term in the chain rule gives a direct path, so the
# gradient is not a product of small factors; and the growth of the activations with depth
# (or exploding with ReLU) is named as the risk. 1 point: the direct path alone, or a correct
# but vague "the gradient flows through the skip". 0 points: "skips add more parameters" or
# "skips make the network shallower" with no chain-rule reason.
#
# === END MARK SCHEME ===

# %% [markdown] id=markdown-18c
# ## 5 · One network, four optimisers
# In the lectures, the Fashion-MNIST MLP is compiled with RMSprop, and the teacher mentions
# switching it to SGD. Here we run a comparison of our own, with four optimisers. The network
# is the lectures' MLP: Flatten -> Dense(300, relu) -> Dense(100, relu) -> Dense(10, softmax).
# Each run uses the same data, batch size, epochs and initial weights; only the optimiser
# changes. The validation data come from the training split, and the test set stays unused.

# %% id=code-10
import keras

from dlcourse.data import load_fashion_mnist

(X_fm, y_fm), _ = load_fashion_mnist()
X_fm = X_fm[:FASHION_SAMPLES].astype("float32") / 255.0
y_fm = y_fm[:FASHION_SAMPLES]
n_val = len(X_fm) // 6
X_tr, y_tr, X_val, y_val = X_fm[n_val:], y_fm[n_val:], X_fm[:n_val], y_fm[:n_val]
print("training", X_tr.shape, "validation", X_val.shape)


def fashion_mlp():
    return keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                             keras.layers.Dense(300, activation="relu"),
                             keras.layers.Dense(100, activation="relu"),
                             keras.layers.Dense(10, activation="softmax")])


optimisers = {"SGD": lambda: keras.optimizers.SGD(learning_rate=0.01),
              "SGD + momentum": lambda: keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
              "RMSprop": lambda: keras.optimizers.RMSprop(learning_rate=1e-3),
              "Adam": lambda: keras.optimizers.Adam(learning_rate=1e-3)}
histories = {}
for name, make in optimisers.items():
    keras.utils.set_random_seed(0)        # the same initial weights for every optimiser
    model = fashion_mlp()
    model.compile(optimizer=make(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    histories[name] = model.fit(X_tr, y_tr, validation_data=(X_val, y_val), epochs=FASHION_EPOCHS,
                                batch_size=BATCH_SIZE, verbose=0).history
    h = histories[name]
    print(f"{name:<15} train loss {h['loss'][-1]:.3f}  val loss {h['val_loss'][-1]:.3f}  "
          f"val accuracy {h['val_accuracy'][-1]:.3f}  ({time.perf_counter() - start:.1f} s)")

fig, axes = plt.subplots(1, 2, figsize=(13, 4))
for k, (name, h) in enumerate(histories.items()):
    epochs_ = np.arange(1, len(h["loss"]) + 1)
    axes[0].plot(epochs_, h["loss"], "-", color=f"C{k}", label=f"{name} (training)")
    axes[0].plot(epochs_, h["val_loss"], "--", color=f"C{k}", label=f"{name} (validation)")
    axes[1].plot(epochs_, h["accuracy"], "-", color=f"C{k}", label=f"{name} (training)")
    axes[1].plot(epochs_, h["val_accuracy"], "--", color=f"C{k}", label=f"{name} (validation)")
axes[0].set_title("loss")
axes[1].set_title("accuracy")
for ax in axes:
    ax.set_xlabel("epoch")
    ax.legend(fontsize=7)
plt.show()

# %% [markdown] id=markdown-19
# **What to choose.** Compare the printed losses and the curves. With their usual learning
# rates, Adam and RMSprop tend to reach a low training loss in the fewest epochs, and
# momentum makes SGD much faster. Adam is the safe first choice, since it needs little tuning.
# Well-tuned SGD with momentum and a schedule often generalises as well or better on large
# image problems, but its learning rate must be tuned. Whatever you pick, compare on the
# **validation** curves. When the validation loss starts rising while the training loss still
# falls, the model is over-fitting, and a faster optimiser only gets there sooner.
#
# ## What you should remember
# - A framework records a computational graph of your calculation; `backward()` visits it in
#   reverse topological order and each node adds `local derivative x incoming gradient` to
#   its parents. Gradients of a node used twice add up.
# - Momentum accumulates past gradients (`v = m v + g`). RMSprop divides by the root of a
#   running mean of squared gradients, with `eps` after the square root. Adam does both, with
#   bias correction because its averages start at 0.
# - A learning-rate schedule is a function of the step: step, exponential, cosine and inverse
#   time decay (the old `Adam(decay=...)`, now `InverseTimeDecay`).
# - Sigmoid derivatives are at most 1/4, so deep sigmoid networks lose their gradient; match
#   the initialisation to the activation: Xavier `2/(n_in + n_out)` for sigmoid/tanh, He
#   `2/n_in` for ReLU. Both keep the variance of the activations equal across layers.
# - A skip connection gives the gradient a direct path to the early layers, so it does not
#   vanish with depth.
# - Compare optimisers on validation curves, with everything else fixed.

# %% id=code-11
# Versions of the libraries this notebook ran with.
%load_ext watermark
%watermark --python --machine --packages numpy,matplotlib,torch,keras,dlcourse
