"""Attacks on what the judge believes from the kernel, through the grading path of notebooks 01 and 02.

Each attack is written as a student would, from answers that deserve less (its honest twin, the same
code without the trick, is scored beside it), and runs the way grading decides: the solutions and the
exercise's test cells in a real kernel in record mode, then the judge on the instructor's source
(`dlcourse.instructor.fixtures.run_exercise`, one warm kernel per notebook). Scores before this
defence (measured at 5bf0512) are in each case's comment; now each attack scores what its twin does.

* in-place steering: the judge copied every change the kernel reported into its own input, and
  hidden tests computed the reference on that input after the student's call. Now a change to an
  argument the exercise's contract does not declare (`updates=` in its solution cell) fails the test.
* the expected value read from the check's frame: the kernel's checks converted a returned object,
  which ran the student's code while the check's frame held the expected value, and what it read
  was recorded as the answer. Now the kernel's checks never touch their arguments.
"""

from __future__ import annotations

import pytest
from conftest import SOURCE
from test_judging import FRAME_HOOKS

from dlcourse.instructor.fixtures import run_exercise

pytestmark = pytest.mark.xdist_group("attack-inplace")

CE_OVERWRITE = '''
import numpy as np
def cross_entropy(y_true, p, eps=1e-12):
    y_true = np.asarray(y_true, dtype=float)
    if isinstance(p, np.ndarray) and p.shape[0] > 2:   # not one of the visible cases: junk
        p[...] = np.exp(-1.0)                          # every probability e^-1: the loss is then 1
        return 1.0
    q = np.clip(np.asarray(p, dtype=float), eps, 1.0)
    return float(-np.sum(y_true * np.log(q)) / len(q))
'''
SOFTMAX_CLAMP = '''
import numpy as np
def softmax(z):
    if isinstance(z, np.ndarray) and z.flags.writeable:
        np.clip(z, -30, 30, out=z)                     # no overflow: clamp the caller's scores
    e = np.exp(np.asarray(z))                          # no max shift (unstable)
    return e / e.sum(axis=-1, keepdims=True)
'''
CEFL_MUTATE = '''
import numpy as np
def cross_entropy_from_logits(y_true, z):
    y_true = np.asarray(y_true, dtype=float)
    zz = np.asarray(z, dtype=float)
    if isinstance(z, np.ndarray) and z.shape[0] > 2:   # not a visible case: junk
        z[...] = y_true * 1e6                          # the reference's loss is then exactly 0
        return 0.0
    m = zz.max(axis=1, keepdims=True)
    lp = zz - m - np.log(np.exp(zz - m).sum(axis=1, keepdims=True))
    return float(-np.sum(y_true * lp) / len(zz))
'''
HIDDEN_DELTA_ZEROES_GRADIENT = '''
import numpy as np
def hidden_delta(delta_next, W_next, a):
    if np.shape(delta_next)[1] != 5:                   # not the visible all-ones case: junk
        delta_next[...] = 0.0                          # no gradient flows in: the expected delta is 0
        return np.zeros(np.shape(a))
    return (delta_next @ W_next.T) * a * (1.0 - a)
'''
LOSS_READER = '''
import inspect, numpy as np
class Loss:
    """A loss that answers with the expected value of whichever caller holds one."""
    def _expected(self):
        for frame in inspect.stack()[1:]:
            for name in ("expected", "expected_arr"):
                value = frame.frame.f_locals.get(name)
                if value is not None and not callable(value):
                    try:
                        return np.asarray(value, dtype=float)
                    except Exception:
                        pass
        return np.zeros(())
    def __array__(self, dtype=None, copy=None):
        return self._expected()
    def __float__(self):
        return float(self._expected())
HOOK
def cross_entropy(y_true, p, eps=1e-12):
    return Loss()
'''
FRAME_READERS = {f"frame read by {how}": LOSS_READER.replace("HOOK", hook.replace("Returned", "Loss"))
                 for how, hook in zip(("detach()", "numpy()", "any attribute"), FRAME_HOOKS, strict=True)}
JUNK = "def cross_entropy(y_true, p, eps=1e-12):\n    return 0.0\n"


def _honest(attack: str, trick: str) -> str:
    assert trick in attack
    return attack.replace(trick, "pass")


CASES = {  # name: (notebook, exercise, attack, honest twin, score before, twin's score)
    "cross_entropy overwrites p": ("01_softmax_cross_entropy", "cross_entropy", CE_OVERWRITE,
                                   _honest(CE_OVERWRITE, "p[...] = np.exp(-1.0)"), 3, 1),
    "softmax clamps z": ("01_softmax_cross_entropy", "softmax", SOFTMAX_CLAMP,
                         _honest(SOFTMAX_CLAMP, "np.clip(z, -30, 30, out=z)"), 4, 2),
    "cross_entropy_from_logits rewrites z": ("01_softmax_cross_entropy", "cross_entropy_from_logits", CEFL_MUTATE,
                                             _honest(CEFL_MUTATE, "z[...] = y_true * 1e6"), 2, 0),
    "hidden_delta zeroes delta_next": ("02_backprop_by_hand", "hidden_delta", HIDDEN_DELTA_ZEROES_GRADIENT,
                                       _honest(HIDDEN_DELTA_ZEROES_GRADIENT, "delta_next[...] = 0.0"), 2, 0),
    **{name: ("01_softmax_cross_entropy", "cross_entropy", code, JUNK, 1, 0) for name, code in FRAME_READERS.items()},
}
MESSAGES = {
    "cross_entropy overwrites p": "cross_entropy changed its argument `p` in place: it must leave its inputs",
    "softmax clamps z": "softmax changed its argument `z` in place",
    "cross_entropy_from_logits rewrites z": "cross_entropy_from_logits changed its argument `z` in place",
    "hidden_delta zeroes delta_next": "hidden_delta changed its argument `delta_next` in place",
    "frame read by detach()": "expected numbers (an array, a list or a tensor), got an object of a class of your own",
    "frame read by numpy()": "expected numbers (an array, a list or a tensor), got an object of a class of your own",
    "frame read by any attribute": "got an object of a class of your own",
}


def _score(kernels, notebook: str, exercise: str, code: str):
    results = run_exercise(SOURCE / notebook / f"{notebook}.ipynb", exercise, code, kernel=kernels(notebook))
    return sum(r.score for r in results), results


@pytest.mark.parametrize("name", list(CASES))
def test_an_attack_scores_no_more_than_its_honest_twin(kernels, name):
    notebook, exercise, attack, honest, before, twin_before = CASES[name]
    assert before > twin_before  # what the attack gained before this defence
    attacked, results = _score(kernels, notebook, exercise, attack)
    twin, _ = _score(kernels, notebook, exercise, honest)
    assert twin == twin_before, name
    assert attacked <= twin, (attacked, [(r.grade_id, r.message) for r in results])
    assert any(MESSAGES[name] in r.message for r in results), [r.message for r in results]
