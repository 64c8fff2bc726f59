"""Public helpers for the tests of 03_optimization: test inputs and drivers, no answers.

`random_program` draws a random scalar expression (a list of operations) from a seeded
generator; `value_graph` builds that expression with the student's `Value` class, calls
`backward()` on the last node and reads every node's `data` and `grad`. `value_mlp` builds
the slides' 2-4-3-1 sigmoid network from `Value` nodes and runs full-batch gradient descent
with the gradients the student's `backward()` gives. The quadratic helpers make optimiser
test problems. None of this computes a gradient itself.

The drivers are plain test code, not probes: while grading, each construction, operator,
`backward()` and read of `.data` / `.grad` is one recorded call on the student's objects, and
the judge runs the same driver on the replayed values, so it sees every number itself and
compares it with PyTorch.
"""

from __future__ import annotations

import builtins
import math
from contextlib import contextmanager

import numpy as np

from ..judging import TapeMismatch

__all__ = ["random_program", "value_graph", "value_mlp", "random_quadratic", "quadratic_grad",
           "quadratic_loss"]

# Operations of a program (one node each; i, j are indices of earlier nodes, c a number):
#   ("leaf", x)                         a new Value(x)
#   ("add"|"sub"|"mul"|"div", i, j)     node i <op> node j
#   ("add_num"|..., i, c)               node i <op> c       (number on the right)
#   ("num_add"|..., c, i)               c <op> node i       (number on the left)
#   ("pow", i, p)                       node i ** p         (p a number)
#   ("exp"|"log"|"tanh"|"sigmoid"|"relu", i)
BINARY = ("add", "sub", "mul", "div")
UNARY = ("exp", "log", "tanh", "sigmoid", "relu")
_SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/"}


def describe(op) -> str:
    """An operation as the code a student would write (for failure messages)."""
    kind = op[0]
    if kind == "leaf":
        return f"Value({op[1]:.3g})"
    if kind in BINARY:
        return f"v{op[1]} {_SYMBOL[kind]} v{op[2]}"
    if kind.endswith("_num"):
        return f"v{op[1]} {_SYMBOL[kind[:-4]]} {op[2]:.3g}"
    if kind.startswith("num_"):
        return f"{op[1]:.3g} {_SYMBOL[kind[4:]]} v{op[2]}"
    if kind == "pow":
        return f"v{op[1]} ** {op[2]:g}"
    return f"v{op[1]}.{kind}()"


def random_program(rng: np.random.Generator, n_leaves: int = 3, n_ops: int = 10, reuse: bool = True):
    """A random expression: `n_leaves` leaves, then `n_ops` operations, ending in one output.

    Values stay moderate (no division by small numbers, logs only of positive numbers), and
    with `reuse` the expression uses some node more than once (a node used twice).
    """
    prog, vals = [], []

    def add(op, v):
        prog.append(op)
        vals.append(v)

    for _ in range(n_leaves):
        x = float(rng.uniform(0.3, 2.0) * rng.choice([-1.0, 1.0]))
        add(("leaf", round(x, 6)), x)
    for _ in range(n_ops):
        for _attempt in range(50):
            kind = str(rng.choice(["bin", "bin", "num", "pow", "unary"]))
            i = int(rng.integers(len(vals)))
            j = int(rng.integers(len(vals)))
            a, b = vals[i], vals[j]
            if kind == "bin":
                name = str(rng.choice(BINARY))
                if name == "div" and abs(b) < 0.4:
                    continue
                v = {"add": a + b, "sub": a - b, "mul": a * b, "div": a / b if b else 0.0}[name]
                op = (name, i, j)
            elif kind == "num":
                name = str(rng.choice(BINARY))
                c = round(float(rng.uniform(0.5, 3.0) * rng.choice([-1.0, 1.0])), 3)
                if rng.random() < 0.5:
                    v = {"add": a + c, "sub": a - c, "mul": a * c, "div": a / c}[name]
                    op = (name + "_num", i, c)
                else:
                    if name == "div" and abs(a) < 0.4:
                        continue
                    v = {"add": c + a, "sub": c - a, "mul": c * a, "div": c / a if a else 0.0}[name]
                    op = ("num_" + name, c, i)
            elif kind == "pow":
                p = float(rng.choice([2.0, 3.0, 0.5, -1.0, 1.5]))
                if (p != int(p) and a <= 0.2) or (p < 0 and abs(a) < 0.4):
                    continue
                v = a ** p
                op = ("pow", i, p)
            else:
                name = str(rng.choice(UNARY))
                if name == "log" and a <= 0.2:
                    continue
                if name == "exp" and a > 3.0:
                    continue
                if name == "relu" and abs(a) < 1e-3:
                    continue
                v = {"exp": math.exp(a) if name == "exp" else 0.0, "log": math.log(a) if a > 0 else 0.0,
                     "tanh": math.tanh(a), "sigmoid": 1.0 / (1.0 + math.exp(-a)), "relu": max(a, 0.0)}[name]
                op = (name, i)
            if abs(v) > 30.0:
                continue
            add(op, v)
            break
    if reuse:  # the output uses one node twice, and one earlier node feeds it again
        k = int(rng.integers(n_leaves, len(vals))) if len(vals) > n_leaves else 0
        add(("mul", len(vals) - 1, k), vals[-1] * vals[k])
        add(("add", len(vals) - 1, int(rng.integers(n_leaves))), 0.0)
    return prog


def _exception_name(exc: BaseException) -> str:
    for cls in type(exc).__mro__:
        if cls.__module__ == "builtins" and isinstance(getattr(builtins, cls.__name__, None), type):
            return cls.__name__
    return "Exception"


@contextmanager
def _real_class(Value):
    """While grading records a test, the exercise's name in the notebook is a recording wrapper.

    The student's own methods look their class up by name (`type(other) is Value`), so while a
    driver runs the name in their globals points at the class itself again; the driver still
    builds its nodes through `Value`, the recorded name.
    """
    cls = getattr(Value, "__wrapped_exercise__", Value)
    patched = []
    if cls is not Value:
        spaces = {}
        for attr in vars(cls).values():
            fn = getattr(attr, "__func__", attr)
            fn = getattr(fn, "fget", fn)
            g = getattr(fn, "__globals__", None)
            if isinstance(g, dict):
                spaces[id(g)] = g
        for g in spaces.values():
            for name, obj in list(g.items()):
                if obj is Value:
                    g[name] = cls
                    patched.append((g, name))
    try:
        yield
    finally:
        for g, name in patched:
            if g.get(name) is cls:
                g[name] = Value


@contextmanager
def _stage(report: dict, name: str, **where):
    """Turn an exception of the student's code into `report["error"]` (a tape mismatch goes on up)."""
    try:
        yield
    except TapeMismatch:
        raise
    except Exception as exc:  # noqa: BLE001 - reported as data
        report.update(error=_exception_name(exc), stage=name, **where)


def _number(x) -> float:
    return float(np.asarray(x, dtype=np.float64))


def _apply(Value, nodes, op):
    kind = op[0]
    if kind == "leaf":
        return Value(op[1])
    if kind in BINARY:
        a, b = nodes[op[1]], nodes[op[2]]
    elif kind.endswith("_num"):
        a, b, kind = nodes[op[1]], op[2], kind[:-4]
    elif kind.startswith("num_"):
        a, b, kind = op[1], nodes[op[2]], kind[4:]
    elif kind == "pow":
        return nodes[op[1]] ** op[2]
    else:
        return getattr(nodes[op[1]], kind)()
    if kind == "add":
        return a + b
    if kind == "sub":
        return a - b
    if kind == "mul":
        return a * b
    return a / b


def value_graph(Value, program):
    """Build `program` with the class `Value`, call `backward()` on its last node.

    Returns {"data": [...], "grad": [...]} (floats, one per node, in program order), or
    {"error": exception type, "at": index of the operation, "stage": "build"|"backward"|"read"}.
    """
    report: dict = {}
    with _real_class(Value):
        nodes = []
        for k, op in enumerate(program):
            with _stage(report, "build", at=k):
                nodes.append(_apply(Value, nodes, tuple(op)))
            if report:
                return report
        with _stage(report, "backward", at=len(program) - 1):
            nodes[-1].backward()
        with _stage(report, "read", at=-1):
            if not report:
                report = {"data": [_number(n.data) for n in nodes], "grad": [_number(n.grad) for n in nodes]}
    return report


def _mlp_loss(Value, X, y, Wv, bv):
    """The summed binary cross-entropy of the sigmoid network, built from Value nodes."""
    loss = None
    for x_row, target in zip(X, y, strict=True):
        a = [float(v) for v in x_row]
        for W, b in zip(Wv, bv, strict=True):
            out = []
            for j in range(len(b)):
                z = b[j]
                for i in range(len(a)):
                    z = z + W[i][j] * a[i]
                out.append(z.sigmoid())
            a = out
        y_hat = a[0]
        t = float(target)
        term = (t * y_hat.log() + (1.0 - t) * (1.0 - y_hat).log()) * -1.0
        loss = term if loss is None else loss + term
    return loss


def _mlp_epoch(Value, X, y, W, B, report):
    """One epoch: the loss and every parameter's gradient, read from the Value nodes (or None)."""
    with _stage(report, "forward"):
        Wv = [[[Value(float(v)) for v in row] for row in w] for w in W]
        bv = [[Value(float(v)) for v in b] for b in B]
        J = _mlp_loss(Value, X, y, Wv, bv)
    if not report:
        with _stage(report, "backward"):
            J.backward()
    if not report:
        with _stage(report, "read"):
            gW = [np.array([[_number(v.grad) for v in row] for row in w]) for w in Wv]
            gb = [np.array([_number(v.grad) for v in b]) for b in bv]
            return _number(J.data), gW, gb
    return None


def value_mlp(Value, X, y, weights, biases, lr: float = 0.5, epochs: int = 1):
    """Full-batch gradient descent on the sigmoid network with `Value` nodes doing the calculus.

    Each epoch builds the network from the current numbers (`weights[k]` is `(n_prev, n_out)`,
    row-major `z = a_prev @ W + b`), the loss J = sum of binary cross-entropies, calls
    `J.backward()`, reads every parameter's `.grad` and steps `p -= lr * grad`.
    Returns {"losses": [...], "grads_W": [...], "grads_b": [...] (of the first epoch),
    "weights": [...], "biases": [...] (after training)}, or {"error": ..., "stage": ...}.
    """
    W = [np.array(w, dtype=np.float64) for w in weights]
    B = [np.array(b, dtype=np.float64) for b in biases]
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    losses, first, report = [], None, {}
    with _real_class(Value):
        for _ in range(int(epochs)):
            epoch = _mlp_epoch(Value, X, y, W, B, report)
            if epoch is None:
                return report
            J, gW, gb = epoch
            losses.append(J)
            first = first or (gW, gb)
            W = [w - lr * g for w, g in zip(W, gW, strict=True)]
            B = [b - lr * g for b, g in zip(B, gb, strict=True)]
    return {"losses": losses, "grads_W": first[0] if first else [], "grads_b": first[1] if first else [],
            "weights": W, "biases": B}


def random_quadratic(rng: np.random.Generator, shape, condition: float = 10.0, scale: float = 1.0):
    """A convex quadratic test problem f(w) = 0.5 * sum(h * (w - c)**2) * scale.

    Returns (h, c, w0): positive curvatures `h` (between 1 and `condition`), the minimum `c`
    and a starting point `w0`, all of `shape`.
    """
    h = np.exp(rng.uniform(0.0, np.log(condition), size=shape))
    c = rng.normal(size=shape)
    w0 = c + rng.normal(scale=2.0, size=shape)
    return h * scale, c, w0


def quadratic_grad(h, c, w):
    """Gradient of f(w) = 0.5 * sum(h * (w - c)**2): h * (w - c)."""
    return h * (np.asarray(w, dtype=np.float64) - c)


def quadratic_loss(h, c, w) -> float:
    return float(0.5 * np.sum(h * (np.asarray(w, dtype=np.float64) - c) ** 2))
