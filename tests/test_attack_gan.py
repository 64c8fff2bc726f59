"""Attacks on 07_gan's hidden tests, graded through the real path (`dlcourse autograde`, sandboxed
kernel, judge outside it), each beside its twin: the same wrong answer without the attack.

Each attack starts from an answer that deserves to lose the exercise's points (a fixture's
misconception) and patches, in its own solution cell, a test helper that once ran in the grading
kernel and whose result the judge believed: the spy optimiser (`spy_sgd`), `logit_grads`,
`backward_of_sum`, `scaled_output`. An attack holds when it scores what its twin scores. Beside
them, the correct train_step of issue 27 (inline BCE, fresh noise for G), which once scored 0/4.
The fast tests below check the judge-side helpers of dlcourse.testkit.gan in-process.
"""

from __future__ import annotations

import copy

import pytest
import torch
from conftest import ROOT
from test_grading import dlcourse
from torch import nn

from dlcourse.classroom.demo import scratch_course, write_submission
from dlcourse.instructor import ref_gan
from dlcourse.instructor.fixtures import load_fixture
from dlcourse.testkit import gan

A = "07_gan"
FIX = ROOT / "tests" / "fixtures" / A

# A probe is recorded under its module and name: a replacement needs both to replay in the judge.
AS_PROBE = """
import dlcourse.judging as _judging
import dlcourse.testkit.gan as _gan


def _as_probe(fn, name):
    fn.__module__, fn.__qualname__ = "dlcourse.testkit.gan", name
    setattr(_gan, name, _judging.probe(fn))
"""

# spy_sgd whose optimiser clears both players' gradients after each step: a train_step that never
# zeroes D's gradients then records what a correct one records.
SPY_SGD_ZERO = AS_PROBE + """
import torch


def _spy_sgd(recorder, tag, module, lr=0.05):
    params = list(module.parameters())

    class Clearing(torch.optim.SGD):
        def step(self, closure=None):
            recorder.on_step(tag, params)
            out = super().step(closure)
            recorder.G.zero_grad()
            recorder.D.zero_grad()
            return out

    return Clearing(params, lr=lr)


_as_probe(_spy_sgd, "spy_sgd")
"""

# spy_sgd whose D optimiser skips a step that comes right after G's: a train_step that steps D
# again in the generator step then records one D step per call.
SPY_SGD_ONCE = AS_PROBE + """
import torch

_last = {"tag": None}


def _spy_sgd(recorder, tag, module, lr=0.05):
    params = list(module.parameters())

    class Once(torch.optim.SGD):
        def step(self, closure=None):
            if tag == "D" and _last["tag"] == "G":
                _last["tag"] = "skipped"
                return None
            _last["tag"] = tag
            recorder.on_step(tag, params)
            return super().step(closure)

    return Once(params, lr=lr)


_as_probe(_spy_sgd, "spy_sgd")
"""

# logit_grads that differentiates the right BCE whatever loss it is given.
LOGIT_GRADS = AS_PROBE + """
import torch
import torch.nn.functional as F


def _logit_grads(loss_fn, *logits):
    leaves = [t.detach().clone().requires_grad_(True) for t in logits]
    targets = [torch.ones_like(leaves[0])] + [torch.zeros_like(t) for t in leaves[1:]]
    sum(F.binary_cross_entropy_with_logits(t, y) for t, y in zip(leaves, targets)).backward()
    return [t.grad for t in leaves]


_as_probe(_logit_grads, "logit_grads")
"""

# backward_of_sum that reports a gradient in every Linear layer and at the input.
BACKWARD_OF_SUM = AS_PROBE + """
import torch
from torch import nn


def _backward_of_sum(module, x):
    out = module(x).detach()
    linears = [(m.in_features, m.out_features, torch.ones_like(m.weight)) for m in module.modules()
               if isinstance(m, nn.Linear)]
    return {"output": out, "input_grad": torch.ones_like(x), "backward_failed": False, "linears": linears}


_as_probe(_backward_of_sum, "backward_of_sum")
"""

# scaled_output that spreads a probability far outside [0, 1], as a logit would be.
SCALED_OUTPUT = AS_PROBE + """
def _scaled_output(module, factor, x):
    return (module(x).detach() - 0.5) * 100


_as_probe(_scaled_output, "scaled_output")
"""

# (student, exercise, the wrong answer's fixture, the attack's code or None for the twin, test)
ATTACKS = [
    ("spy-no-zero-grad", "train_step", "train_step__no_zero_grad_D", SPY_SGD_ZERO, "test_train_step"),
    ("spy-steps-D-twice", "train_step", "train_step__generator_step_also_steps_D", SPY_SGD_ONCE, "test_train_step"),
    ("logit-grads-rewrapped", "discriminator_loss", "discriminator_loss__item_rewrapped", LOGIT_GRADS,
     "test_discriminator_loss"),
    ("backward-detached", "Generator", "Generator__detached_after_linear", BACKWARD_OF_SUM, "test_Generator"),
    ("scaled-sigmoid", "Discriminator", "Discriminator__sigmoid_output", SCALED_OUTPUT, "test_Discriminator"),
]


def _grades(course) -> dict[str, dict[str, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {sub.student_id: {g.name: g.score for nb in sub.notebooks for g in nb.grades}
                for sub in gb.assignment_submissions(A)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = scratch_course(ROOT, tmp_path_factory.mktemp("gan-attacks") / "course", [A])
    for student, exercise, fixture, attack, _ in ATTACKS:
        wrong = load_fixture(FIX / f"{fixture}.py").code
        write_submission(ROOT, course / "submitted" / f"twin-{student}" / A, A, {exercise: wrong})
        write_submission(ROOT, course / "submitted" / f"attack-{student}" / A, A, {exercise: attack + wrong})
    issue = load_fixture(FIX / "train_step__valid_fresh_noise.py").code
    write_submission(ROOT, course / "submitted" / "issue-train-step" / A, A, {"train_step": issue})
    run = dlcourse(course, "autograde", A, "--workers", "2", "--quiet", DLCOURSE_SMOKE="1",
                   DLCOURSE_CELL_TIMEOUT="120")
    assert run.returncode == 0, run.stdout + run.stderr
    return _grades(course)


@pytest.mark.parametrize(("student", "test"), [(a[0], a[4]) for a in ATTACKS], ids=[a[0] for a in ATTACKS])
@pytest.mark.slow
@pytest.mark.xdist_group("attack-gan")
def test_a_patched_test_helper_earns_nothing(graded, student, test):
    attack, twin = graded[f"attack-{student}"], graded[f"twin-{student}"]
    print(f"{student}: attack {sum(attack.values())}, twin {sum(twin.values())}, {test}: {attack[test]}")
    assert twin[test] == 0, twin
    assert attack[test] == 0, attack
    assert sum(attack.values()) == sum(twin.values()), (attack, twin)


@pytest.mark.slow
@pytest.mark.xdist_group("attack-gan")
def test_the_correct_train_step_of_issue_27_gets_its_points(graded):
    assert graded["issue-train-step"]["test_train_step"] == 4, graded["issue-train-step"]


# -- the judge-side helpers, in-process (mode "local": what the judge computes) ---------------------
LOSSES = {"called": (gan.ls_discriminator_loss, gan.ls_generator_loss),
          "inline BCE": (ref_gan.discriminator_loss, ref_gan.generator_loss)}


def _one_step(step, seed=5):
    """G and D before and after `step(G, D, real, opt_G, opt_D)`, the batch and the noise's generator state."""
    torch.manual_seed(seed)
    G, D = gan.TinyGenerator(7), gan.TinyDiscriminator()
    real = torch.rand(12, 1, 28, 28) * 2 - 1
    G0, D0, state = copy.deepcopy(G), copy.deepcopy(D), torch.get_rng_state()
    step(G, D, real, torch.optim.SGD(G.parameters(), lr=0.05), torch.optim.SGD(D.parameters(), lr=0.05))
    return gan.judge_train_step(G0, D0, G, D, real, state, 0.05, 7, LOSSES)


def _step(d_twice=False, fresh=False):
    def step(G, D, real, opt_G, opt_D):
        z = torch.randn(len(real), 7)
        opt_D.zero_grad()
        ref_gan.discriminator_loss(D(real), D(G(z).detach())).backward()
        opt_D.step()
        opt_G.zero_grad()
        gan.ls_generator_loss(D(G(torch.randn(len(real), 7) if fresh else z))).backward()
        opt_G.step()
        if d_twice:
            opt_D.step()
    return step


def test_judge_train_step_accepts_mixed_losses_and_fresh_noise_and_refuses_a_second_D_step():
    assert _one_step(_step()).ok and _one_step(_step(fresh=True)).ok
    refused = _one_step(_step(d_twice=True))
    assert not refused.ok and "discriminator" in refused.message, refused


def test_output_requires_grad_sees_a_detached_layer():
    first = nn.Linear(4, 8)
    plain = nn.Sequential(first, nn.Tanh(), nn.Linear(8, 2))
    assert gan.output_requires_grad(plain, torch.rand(3, 4))
    assert gan.output_requires_grad(plain, torch.rand(3, 4), trainable=first)

    class Detached(nn.Module):
        def __init__(self):
            super().__init__()
            self.first, self.rest = first, nn.Linear(8, 2)

        def forward(self, x):
            return self.rest(self.first(x).detach())

    assert not gan.output_requires_grad(Detached(), torch.rand(3, 4))
    assert not gan.output_requires_grad(Detached(), torch.rand(3, 4), trainable=first)
    assert all(p.requires_grad for p in plain.parameters())  # unfrozen again


def test_central_difference_grads_match_autograd():
    r, f = torch.randn(5, 1) * 2, torch.randn(3, 1) * 2
    grads = gan.central_difference_grads(ref_gan.discriminator_loss, r, f)
    r2, f2 = r.clone().requires_grad_(True), f.clone().requires_grad_(True)
    ref_gan.discriminator_loss(r2, f2).backward()
    assert torch.allclose(grads[0], r2.grad, atol=2e-3) and torch.allclose(grads[1], f2.grad, atol=2e-3)
