"""Reference pieces for the hidden tests of 06_gan (instructor only, never in the student bundle).

Small stand-in players (so that tests of the losses and of `train_step` do not depend on the
student's Generator / Discriminator), the reference losses, and spies that record what
`train_step` does: which parameters receive gradients before each optimiser step, what the
optimisers see when they step, and what goes in and out of the generator.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn


def discriminator_loss(real_logits, fake_logits):
    """Mean BCE of the real logits against 1 plus mean BCE of the fake logits against 0."""
    real_logits, fake_logits = real_logits.reshape(-1), fake_logits.reshape(-1)
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_loss(fake_logits):
    """Non-saturating generator loss: mean BCE of the fake logits against 1."""
    fake_logits = fake_logits.reshape(-1)
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


class TinyGenerator(nn.Module):
    """noise (N, latent_dim) (any trailing 1-sized axes) -> image (N, 1, 28, 28) in [-1, 1]."""

    def __init__(self, latent_dim: int = 100, hidden: int = 32):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden, 28 * 28), nn.Tanh())

    def forward(self, z):
        return self.net(z.reshape(len(z), -1)).reshape(-1, 1, 28, 28)


class TinyDiscriminator(nn.Module):
    """image (N, 1, 28, 28) -> one logit per image (N, 1)."""

    def __init__(self, hidden: int = 16):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden, 1))

    def forward(self, x):
        return self.net(x)


def scaled_copy(module: nn.Module, factor: float) -> nn.Module:
    """A copy of `module` with every parameter multiplied by `factor` (pushes outputs to extremes)."""
    out = copy.deepcopy(module)
    with torch.no_grad():
        for p in out.parameters():
            p.mul_(factor)
    return out


def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def changed(before: dict[str, torch.Tensor], module: nn.Module) -> list[str]:
    """Names of the parameters of `module` that differ from the snapshot `before`."""
    return [name for name, p in module.named_parameters()
            if not torch.equal(before[name], p.detach().to(before[name].device))]


class Recorder:
    """Watches one G and one D during `train_step`.

    `events` is a list of ("grad", "G" or "D") for each parameter gradient computed by a
    backward pass (tensor hooks), ("step", "G" or "D") for each optimiser step, and
    ("G-forward", index) for each call of the generator (inputs and outputs kept in
    `g_inputs` / `g_outputs`). At each step the optimiser's parameters' gradients and both
    players' parameters are kept in `at_step`.
    """

    def __init__(self, G: nn.Module, D: nn.Module):
        self.G, self.D = G, D
        self.events: list[tuple[str, object]] = []
        self.g_inputs: list[torch.Tensor] = []
        self.g_outputs: list[torch.Tensor] = []
        self.at_step: list[dict] = []
        self._handles = []
        for tag, module in (("G", G), ("D", D)):
            for p in module.parameters():
                self._handles.append(p.register_hook(self._grad_hook(tag)))
        self._handles.append(G.register_forward_hook(self._g_forward))

    def _grad_hook(self, tag):
        def hook(grad):
            if grad is not None and bool(torch.any(grad != 0)):
                self.events.append(("grad", tag))
            return None
        return hook

    def _g_forward(self, module, inputs, output):
        self.g_inputs.append(inputs[0].detach().clone())
        self.g_outputs.append(output.detach().clone())
        self.events.append(("G-forward", len(self.g_inputs) - 1))

    def on_step(self, tag: str, params):
        self.events.append(("step", tag))
        self.at_step.append({
            "tag": tag,
            "grads": [None if p.grad is None else p.grad.detach().clone() for p in params],
            "G": snapshot(self.G),
            "D": snapshot(self.D),
        })

    def reset(self):
        """Forget what was recorded (keep watching)."""
        self.events.clear()
        self.g_inputs.clear()
        self.g_outputs.clear()
        self.at_step.clear()

    def remove(self):
        for h in self._handles:
            h.remove()

    def segments(self) -> list[tuple[str, set[str]]]:
        """For each optimiser step, in order: (tag, the players whose parameters got a nonzero
        gradient since the previous step)."""
        out, seen = [], set()
        for kind, value in self.events:
            if kind == "grad":
                seen.add(value)
            elif kind == "step":
                out.append((value, seen))
                seen = set()
        return out


def spy_sgd(recorder: Recorder, tag: str, params, lr: float = 0.05) -> torch.optim.Optimizer:
    """An SGD optimiser that reports each `step()` to `recorder` before stepping."""
    params = list(params)

    class SpySGD(torch.optim.SGD):
        def step(self, closure=None):  # noqa: D401
            recorder.on_step(tag, params)
            return super().step(closure)

    return SpySGD(params, lr=lr)


def grads_of(loss_fn, module: nn.Module) -> list[torch.Tensor]:
    """Gradients of `loss_fn()` with respect to `module`'s parameters (zeros where unused)."""
    params = list(module.parameters())
    grads = torch.autograd.grad(loss_fn(), params, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads, strict=True)]


def with_params(module: nn.Module, params: dict[str, torch.Tensor]) -> nn.Module:
    """A copy of `module` holding the parameter values `params` (a snapshot).

    Copy a module that carries no Recorder hooks (keep a deepcopy made before recording)."""
    out = copy.deepcopy(module)
    with torch.no_grad():
        for name, p in out.named_parameters():
            p.copy_(params[name])
    return out


def max_abs_diff(a: list[torch.Tensor], b: list) -> float:
    worst = 0.0
    for x, y in zip(a, b, strict=True):
        y = torch.zeros_like(x) if y is None else y
        worst = max(worst, float((x - y).abs().max()))
    return worst


def sgd_update(params: dict[str, torch.Tensor], grads: list, lr: float) -> dict[str, torch.Tensor]:
    """Where one plain SGD step moves the snapshot `params` (a None gradient leaves it)."""
    return {name: p if g is None else p - lr * g
            for (name, p), g in zip(params.items(), grads, strict=True)}


def d_step_candidates(D_template: nn.Module, d_params, real, fakes) -> list[tuple[list, float]]:
    """(gradients w.r.t. D, loss) of the reference discriminator loss for each candidate fake batch,
    with D holding `d_params`."""
    D_at = with_params(D_template, d_params)
    out = []
    for fake in fakes:
        loss = discriminator_loss(D_at(real), D_at(fake))
        out.append((grads_of(lambda loss=loss: loss, D_at), float(loss.detach())))
    return out


def g_step_candidates(G_template: nn.Module, g_params, D_template: nn.Module, d_params,
                      noises) -> list[tuple[list, float]]:
    """(gradients w.r.t. G, loss) of the reference generator loss for each candidate noise batch,
    with G and D holding `g_params` and `d_params`."""
    G_at, D_at = with_params(G_template, g_params), with_params(D_template, d_params)
    out = []
    for z in noises:
        loss = generator_loss(D_at(G_at(z)))
        out.append((grads_of(lambda loss=loss: loss, G_at), float(loss.detach())))
    return out
