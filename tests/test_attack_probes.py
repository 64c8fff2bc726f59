"""Attacks on the checks that once trusted probes (02, 03, 04), through the real grading path.

Each attack starts from answers that deserve less (a misconception fixture or a junk class)
and adds what a student would write in a solution cell to forge a fact the kernel used to
report: a gradient spy that never sees a stale gradient, `value_graph` / `value_mlp` answered
by PyTorch for a `Value` whose `backward` does nothing, `params_of` returning the parameters a
`gradient_check` changed as they were before, and a stopwatch that claims the call took long.
Each must score exactly what its twin without the forgery scores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT

from dlcourse.classroom.demo import scratch_course, student_notebook
from dlcourse.instructor.fixtures import load_fixture

FIX = ROOT / "tests" / "fixtures"

# -- 04: train_torch without zero_grad, and a GradSpy that never reports a stale gradient -----
GRADSPY_SWAP = '''
import dlcourse.testkit.keras as _tk

if hasattr(_tk, "GradSpy"):
    class _NeverStale(_tk.GradSpy):
        def _hook(self, p, first):
            def hook(grad):
                if first:
                    self.backward_calls += 1
                return grad
            return hook

    _tk.GradSpy = _NeverStale
'''

# -- 04: the whole fit's time as seconds per epoch, and a stopwatch that claims a long call ---
TIMED_FORGERY = '''
import dlcourse.judging as _judging
import dlcourse.testkit.keras as _tk


def timed(fn, *args, **kwargs):
    return fn(*args, **kwargs), 1e6


timed.__module__, timed.__qualname__ = "dlcourse.testkit.keras", "timed"
_tk.timed = _judging.probe(timed)
'''

# -- 02: gradient_check that leaves the network changed, and params_of that hides it ----------
PARAMS_OF_FORGERY = '''
import dlcourse.judging as _judging
import dlcourse.testkit.backprop as _tb

_checked = gradient_check


def gradient_check(network, X, y, h=1e-5):
    network._before = _tb.copy_params(network.weights, network.biases)
    return _checked(network, X, y, h)


def params_of(model):
    return getattr(model, "_before", None) or _tb.copy_params(model.weights, model.biases)


params_of.__module__, params_of.__qualname__ = "dlcourse.testkit.backprop", "params_of"
params_of = _judging.probe(params_of)
'''

# -- 03: a Value whose backward only sets its own grad, and PyTorch doing the calculus --------
JUNK_VALUE = '''
import math


class Value:
    def __init__(self, data, _parents=(), _op=""):
        self.data, self.grad, self._parents = float(data), 0.0, tuple(_parents)

    @staticmethod
    def _wrap(other):
        return other if isinstance(other, Value) else Value(other)

    def __add__(self, o):
        return Value(self.data + Value._wrap(o).data, (self, o))

    def __mul__(self, o):
        return Value(self.data * Value._wrap(o).data, (self, o))

    def __pow__(self, p):
        return Value(self.data ** p, (self,))

    def exp(self):
        return Value(math.exp(self.data), (self,))

    def log(self):
        return Value(math.log(self.data), (self,))

    def tanh(self):
        return Value(math.tanh(self.data), (self,))

    def sigmoid(self):
        return Value(1.0 / (1.0 + math.exp(-self.data)) if self.data >= 0
                     else math.exp(self.data) / (1.0 + math.exp(self.data)), (self,))

    def relu(self):
        return Value(max(self.data, 0.0), (self,))

    def __neg__(self):
        return self * -1.0

    def __sub__(self, o):
        return self + (-Value._wrap(o))

    def __truediv__(self, o):
        return self * Value._wrap(o) ** -1

    def __radd__(self, o):
        return self + o

    def __rmul__(self, o):
        return self * o

    def __rsub__(self, o):
        return Value._wrap(o) - self

    def __rtruediv__(self, o):
        return Value._wrap(o) / self

    def backward(self):
        self.grad = 1.0
'''

TORCH_DRIVERS = '''
import numpy as np
import torch

import dlcourse.judging as _judging
import dlcourse.testkit.optim as _to

_UNARY = {"exp": torch.exp, "log": torch.log, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}


def _torch_op(nodes, op):
    kind = op[0]
    if kind == "leaf":
        return torch.tensor(float(op[1]), dtype=torch.float64, requires_grad=True)
    if kind == "pow":
        return nodes[op[1]] ** op[2]
    if kind in _UNARY:
        return _UNARY[kind](nodes[op[1]])
    if kind.endswith("_num"):
        a, b, kind = nodes[op[1]], op[2], kind[:-4]
    elif kind.startswith("num_"):
        a, b, kind = op[1], nodes[op[2]], kind[4:]
    else:
        a, b = nodes[op[1]], nodes[op[2]]
    return {"add": a + b, "sub": a - b, "mul": a * b, "div": a / b}[kind]


def value_graph(Value, program):
    nodes = []
    for op in program:
        nodes.append(_torch_op(nodes, tuple(op)))
        nodes[-1].retain_grad()
    nodes[-1].backward()
    return {"data": [float(n) for n in nodes],
            "grad": [0.0 if n.grad is None else float(n.grad) for n in nodes]}


def value_mlp(Value, X, y, weights, biases, lr=0.5, epochs=1):
    W = [torch.tensor(np.asarray(w, dtype=np.float64)) for w in weights]
    B = [torch.tensor(np.asarray(b, dtype=np.float64)) for b in biases]
    Xt = torch.tensor(np.asarray(X, dtype=np.float64))
    yt = torch.tensor(np.asarray(y, dtype=np.float64).reshape(-1, 1))
    losses, first = [], None
    for _ in range(int(epochs)):
        params = [p.clone().requires_grad_(True) for p in W + B]
        a = Xt
        for w, b in zip(params[:3], params[3:]):
            a = torch.sigmoid(a @ w + b)
        J = -(yt * torch.log(a) + (1 - yt) * torch.log(1 - a)).sum()
        J.backward()
        losses.append(float(J))
        grads = [p.grad.numpy() for p in params]
        first = first or grads
        W = [w - lr * g for w, g in zip(W, [torch.tensor(g) for g in grads[:3]])]
        B = [b - lr * g for b, g in zip(B, [torch.tensor(g) for g in grads[3:]])]
    return {"losses": losses, "grads_W": first[:3], "grads_b": first[3:],
            "weights": [w.numpy() for w in W], "biases": [b.numpy() for b in B]}


for _fn in (value_graph, value_mlp):
    _fn.__module__ = "dlcourse.testkit.optim"
value_graph = _to.value_graph = _judging.probe(value_graph)
value_mlp = _to.value_mlp = _judging.probe(value_mlp)
'''


def _fixture(assignment: str, name: str) -> str:
    return load_fixture(FIX / assignment / f"{name}.py").code


BIASES_NOT_RESTORED = "gradient_check__biases_not_restored"
# assignment -> {student: {exercise: code}}; each "attack-*" has its twin "twin-*" (same answers, no forgery)
ATTACKS = {
    "02_backprop_by_hand": {
        "twin-gradient_check": {"gradient_check": _fixture("02_backprop_by_hand", BIASES_NOT_RESTORED)},
        "attack-params_of": {"gradient_check": _fixture("02_backprop_by_hand", BIASES_NOT_RESTORED)
                             + PARAMS_OF_FORGERY},
    },
    "03_optimization": {
        "twin-value": {"Value": JUNK_VALUE},
        "attack-value_graph": {"Value": JUNK_VALUE + TORCH_DRIVERS},
    },
    "04_keras_api": {
        "twin-zero_grad": {"train_torch": _fixture("04_keras_api", "train_torch__no_zero_grad")},
        "attack-gradspy": {"train_torch": _fixture("04_keras_api", "train_torch__no_zero_grad") + GRADSPY_SWAP},
        "twin-timed": {"batch_size_study": _fixture("04_keras_api", "batch_size_study__total_time")},
        "attack-timed": {"batch_size_study": _fixture("04_keras_api", "batch_size_study__total_time")
                         + TIMED_FORGERY},
    },
}
# the test each forgery aims at
TARGETS = {"attack-params_of": "test_gradient_check", "attack-value_graph": "test_Value_graphs",
           "attack-gradspy": "test_train_torch_zero_grad", "attack-timed": "test_batch_size_study"}


def grade(assignment: str, base: Path, only: list[str] | None = None) -> dict[str, dict]:
    """Grade the attacks and twins of `assignment` (or those in `only`) with `dlcourse autograde`."""
    from nbgrader.api import Gradebook

    course = scratch_course(ROOT, base / "course", [assignment])
    for student, code in ATTACKS[assignment].items():
        if only and student not in only:
            continue
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        nbformat.write(student_notebook(ROOT, assignment, code), folder / f"{assignment}.ipynb")
    env = dict(os.environ, DLCOURSE_SMOKE="1")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]
    run = subprocess.run([sys.executable, "-m", "dlcourse.cli", "--root", str(course), "autograde", assignment,
                          "--workers", "2", "--quiet"], capture_output=True, text=True, timeout=1800, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for sub in gb.assignment_submissions(assignment):
            scores[sub.student_id] = {"total": sub.score,
                                      **{g.name: g.score for nb in sub.notebooks for g in nb.grades}}
    return scores


@pytest.mark.slow
@pytest.mark.xdist_group("attack-probes")
@pytest.mark.parametrize("assignment", sorted(ATTACKS))
def test_a_forged_probe_gains_nothing(assignment, tmp_path):
    scores = grade(assignment, tmp_path)
    for attack, target in TARGETS.items():
        if attack not in ATTACKS[assignment]:
            continue
        twin = "twin-" + {"attack-params_of": "gradient_check", "attack-value_graph": "value",
                          "attack-gradspy": "zero_grad", "attack-timed": "timed"}[attack]
        assert scores[attack][target] == 0, (attack, scores[attack])
        assert scores[attack]["total"] == scores[twin]["total"], (attack, scores[attack]["total"],
                                                                  scores[twin]["total"])


# -- the recorded operations these checks rest on, in a kernel-like shell and the judge (seconds) --
BOX = textwrap.dedent('''\
    class Box:
        def __init__(self, data):
            self.data = float(data)

        def __add__(self, other):
            return Box(self.data + (other.data if isinstance(other, Box) else other))

        def __rmul__(self, k):
            return Box(k * self.data)
    ''')
BOX_TEST = textwrap.dedent('''\
    """Box: arithmetic, attributes."""
    b = Box(2.0)
    b.data = 3.0
    c = 2.0 * (b + b) + 1.0
    check_close(c.data, 13.0, "2 (b + b) + 1 with b.data = 3")
    passed("Box")
    ''')
STAND_IN = textwrap.dedent('''\
    """step: one gradient step on the stand-in's arrays, a module's gradients summed over two passes."""
    import torch
    from dlcourse.testkit.backprop import StandInModel

    class Pair(StandInModel):
        def __init__(self):
            self.weights, self.biases = [np.ones((2, 2))], [np.zeros(2)]

    pair = Pair()
    step(pair, None)
    check_close(pair.weights[0], np.full((2, 2), 0.5), "weights after step")
    from dlcourse.testkit.keras import torch_mlp

    lin = torch_mlp([2, 1], keep_grads=True)
    torch.nn.init.ones_(lin[0].weight)
    step(None, lin)
    check_close(lin[0].weight.grad.numpy(), [[2.0, 4.0]], "the weight's gradient after two passes")
    passed("step")
    ''')
STEP = textwrap.dedent('''\
    def step(pair, module):
        if pair is not None:
            pair.weights[0] -= 0.5
        if module is not None:
            for _ in range(2):
                module(torch.tensor([[1.0, 2.0]])).sum().backward()
    ''')


def _judged(solution: str, test: str, exercise: str, updates: tuple[str, ...] = ()) -> bool:
    """Record `test` after `solution` in a fresh shell, judge it here; whether it passed. `updates`:
    the arguments the exercise's contract lets it change in place."""
    from test_judging import RECORDER

    from dlcourse.grader.judge import judge_in_process, recording_preamble
    from dlcourse.judging import parse_tape

    setup = ("import numpy as np\nimport torch\n"
             "from dlcourse.testing import check, check_close, passed\n")
    cells = [setup, solution, recording_preamble(f"test_{exercise}", [exercise]) + test]
    proc = subprocess.run([sys.executable, "-c", RECORDER], input=json.dumps(cells), capture_output=True,
                          text=True, timeout=300)
    line = next(x for x in proc.stdout.splitlines() if x.startswith("TAPE "))
    nb = nbformat.v4.new_notebook()
    cell_setup = nbformat.v4.new_code_cell(setup)
    cell_setup.metadata["tags"] = ["setup"]
    cell_solution = nbformat.v4.new_code_cell(solution)
    cell_solution.metadata["nbgrader"] = {"grade": False, "solution": True, "grade_id": exercise, "locked": False}
    if updates:
        cell_solution.metadata["dlcourse"] = {"updates": list(updates)}
    cell_test = nbformat.v4.new_code_cell(test)
    cell_test.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": f"test_{exercise}",
                                      "points": 1, "locked": True}
    nb.cells = [cell_setup, cell_solution, cell_test]
    (verdict,) = judge_in_process(nb, parse_tape(json.loads(line[5:])))
    return verdict.passed


def test_arithmetic_and_attribute_assignment_on_a_returned_object_are_judged_step_by_step():
    assert _judged(BOX, BOX_TEST, "Box")
    assert not _judged(BOX.replace("return Box(k * self.data)", "return Box(k + self.data)"), BOX_TEST, "Box")
    assert not _judged(BOX.replace("self.data = float(data)", "self.data = float(data)\n\n"
                                   "    def __setattr__(self, name, value):\n"
                                   "        object.__setattr__(self, name, 2.0)"), BOX_TEST, "Box")


def test_a_stand_in_and_a_module_come_back_as_the_call_left_them():
    declared = ("pair", "module")
    assert _judged(STEP, STAND_IN, "step", declared)
    assert not _judged(STEP.replace("-= 0.5", "-= 0.25"), STAND_IN, "step", declared)
    assert not _judged(STEP.replace("range(2)", "range(3)"), STAND_IN, "step", declared)
    assert not _judged(STEP, STAND_IN, "step")  # the same changes, undeclared, fail the test


if __name__ == "__main__":  # print the scores: python tests/test_attack_probes.py 04_keras_api[:student,...]
    import tempfile

    for arg in sys.argv[1:] or sorted(ATTACKS):
        name, _, only = arg.partition(":")
        with tempfile.TemporaryDirectory() as tmp:
            print(name, {s: (v["total"], {k: v[k] for k in TARGETS.values() if k in v}) for s, v in
                         grade(name, Path(tmp), only.split(",") if only else None).items()}, flush=True)
