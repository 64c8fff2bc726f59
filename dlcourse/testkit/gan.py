"""Public helpers for the test cells of 07_gan: stand-ins, spies and probes that hold no answer.

* Stand-in losses (least-squares GAN, not the notebook's BCE losses) that the `train_step`
  test puts in place of the student's `discriminator_loss` / `generator_loss`, so that it does
  not depend on exercises 4.1 and 4.2.
* Small stand-in players (`TinyGenerator`, `TinyDiscriminator`) with known gradients.
* Spies made in the grading kernel by probes: a `Recorder` that watches one G and one D
  during `train_step` and an SGD optimiser that reports each `step()` to it. Their recordings
  (events, parameter snapshots, gradients, the generator's inputs and outputs) are data that
  come back on the tape; the judge recomputes from them what the steps should have done.
* Probes that run the student's modules and losses in the kernel where autograd is needed
  (a gradient through the student's code cannot come back on the tape as a graph).
* The measurement of a trained generator (tests/test_07_gan.py): the images it draws are handed
  back, and a digit classifier trained outside the generator's process judges them.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..judging import probe

__all__ = [
    "ls_discriminator_loss",
    "ls_generator_loss",
    "TinyGenerator",
    "TinyDiscriminator",
    "Recorder",
    "make_recorder",
    "spy_sgd",
    "segments",
    "scaled_output",
    "backward_of_sum",
    "logit_grads",
    "grads_of",
    "with_params",
    "max_abs_diff",
    "sgd_update",
    "d_step_candidates",
    "g_step_candidates",
    "generated_images",
    "make_digit_classifier",
    "train_digit_classifier",
    "sample_quality",
]


# -- stand-in losses (least-squares GAN): not the exercises' answers -----------------------------
def ls_discriminator_loss(real_logits, fake_logits):
    """Least-squares discriminator loss: mean (s_real - 1)^2 + mean s_fake^2."""
    return ((real_logits.reshape(-1) - 1.0) ** 2).mean() + (fake_logits.reshape(-1) ** 2).mean()


def ls_generator_loss(fake_logits):
    """Least-squares generator loss: mean (s_fake - 1)^2."""
    return ((fake_logits.reshape(-1) - 1.0) ** 2).mean()


# -- stand-in players ---------------------------------------------------------------------------
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


# -- spies ----------------------------------------------------------------------------------------
def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.named_parameters()}


class Recorder:
    """Watches one G and one D during `train_step`.

    It keeps ("grad", "G" or "D") for each parameter gradient computed by a backward pass
    (tensor hooks), ("step", "G" or "D") for each optimiser step and ("G-forward", index) for
    each call of the generator (its inputs and outputs kept too). At each step it keeps the
    stepping optimiser's gradients and both players' parameters. `take()` hands all of it back
    as data and starts afresh.
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
        self.g_inputs.append(inputs[0].detach().cpu().clone())
        self.g_outputs.append(output.detach().cpu().clone())
        self.events.append(("G-forward", len(self.g_inputs) - 1))

    def on_step(self, tag: str, params):
        self.events.append(("step", tag))
        self.at_step.append({
            "tag": tag,
            "grads": [None if p.grad is None else p.grad.detach().cpu().clone() for p in params],
            "G": {k: v.cpu() for k, v in snapshot(self.G).items()},
            "D": {k: v.cpu() for k, v in snapshot(self.D).items()},
        })

    def take(self) -> dict:
        """What was recorded since the last `take()` (plain data), then start afresh."""
        out = {"events": list(self.events), "g_inputs": list(self.g_inputs),
               "g_outputs": list(self.g_outputs), "at_step": list(self.at_step)}
        self.events, self.g_inputs, self.g_outputs, self.at_step = [], [], [], []
        return out

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []


@probe
def make_recorder(G: nn.Module, D: nn.Module) -> Recorder:
    """A `Recorder` on G and D, made where they live (in the grading kernel when grading)."""
    return Recorder(G, D)


@probe
def spy_sgd(recorder: Recorder, tag: str, module: nn.Module, lr: float = 0.05) -> torch.optim.Optimizer:
    """An SGD optimiser of `module`'s parameters that reports each `step()` to `recorder`."""
    params = list(module.parameters())

    class SpySGD(torch.optim.SGD):
        def step(self, closure=None):  # noqa: D401
            recorder.on_step(tag, params)
            return super().step(closure)

    return SpySGD(params, lr=lr)


def segments(events) -> list[tuple[str, set[str]]]:
    """For each optimiser step, in order: (tag, the players whose parameters got a nonzero
    gradient since the previous step), from a recording's events."""
    out, seen = [], set()
    for kind, value in events:
        if kind == "grad":
            seen.add(value)
        elif kind == "step":
            out.append((value, seen))
            seen = set()
    return out


# -- probes on the student's modules and losses ----------------------------------------------------
@probe
def scaled_output(module: nn.Module, factor: float, x: torch.Tensor) -> torch.Tensor:
    """The output for `x` of a copy of `module` whose parameters are all multiplied by `factor`."""
    scaled = copy.deepcopy(module)
    with torch.no_grad():
        for p in scaled.parameters():
            p.mul_(factor)
    return scaled(x).detach()


@probe
def backward_of_sum(module: nn.Module, x: torch.Tensor) -> dict:
    """Backpropagate `module(x).sum()` (from zeroed gradients).

    Returns {"output": module(x) detached, "input_grad": the gradient w.r.t. x (None when none
    flows), "backward_failed": whether backward raised, "linears": [(in_features, out_features,
    weight gradient or None) for each nn.Linear inside the module]}.
    """
    x = x.detach().clone().requires_grad_(True)
    module.zero_grad(set_to_none=True)
    out = module(x)
    failed = False
    try:
        out.sum().backward()
    except RuntimeError:
        failed = True
    linears = [(int(m.in_features), int(m.out_features),
                None if m.weight.grad is None else m.weight.grad.detach().clone())
               for m in module.modules() if isinstance(m, nn.Linear)]
    return {"output": out.detach(), "input_grad": None if x.grad is None else x.grad.detach().clone(),
            "backward_failed": failed, "linears": linears}


@probe
def logit_grads(loss_fn, *logits: torch.Tensor) -> list | None:
    """The gradients of `loss_fn(*logits)` w.r.t. each logits tensor (None where none flows),
    or None when the loss cannot be backpropagated at all."""
    leaves = [t.detach().clone().requires_grad_(True) for t in logits]
    try:
        loss_fn(*leaves).backward()
    except RuntimeError:
        return None
    return [None if t.grad is None else t.grad.detach().clone() for t in leaves]


# -- recomputing what the steps should have done (in the judge, from the recordings) ---------------
def grads_of(loss: torch.Tensor, module: nn.Module) -> list[torch.Tensor]:
    """Gradients of `loss` with respect to `module`'s parameters (zeros where unused)."""
    params = list(module.parameters())
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads, strict=True)]


def with_params(module: nn.Module, params: dict[str, torch.Tensor]) -> nn.Module:
    """A copy of `module` (one that carries no hooks) holding the parameter values `params`."""
    out = copy.deepcopy(module).cpu()
    with torch.no_grad():
        for name, p in out.named_parameters():
            p.copy_(params[name])
    return out


def max_abs_diff(a: list[torch.Tensor], b: list) -> float:
    """The largest absolute difference between two lists of tensors (None counts as zeros)."""
    if len(a) != len(b):
        return float("inf")
    worst = 0.0
    for x, y in zip(a, b, strict=True):
        y = torch.zeros_like(x) if y is None else y
        if tuple(x.shape) != tuple(y.shape):
            return float("inf")
        worst = max(worst, float((x - y.to(x.dtype)).abs().max()))
    return worst


def sgd_update(params: dict[str, torch.Tensor], grads: list, lr: float) -> dict[str, torch.Tensor]:
    """Where one plain SGD step moves the snapshot `params` (a None gradient leaves it)."""
    return {name: p if g is None else p - lr * g
            for (name, p), g in zip(params.items(), grads, strict=True)}


def d_step_candidates(D_template: nn.Module, d_params, real, fakes,
                      loss_fn=ls_discriminator_loss) -> list[tuple[list, float]]:
    """(gradients w.r.t. D, loss) of `loss_fn(D(real), D(fake))` for each candidate fake batch,
    with D holding `d_params`."""
    D_at = with_params(D_template, d_params)
    out = []
    for fake in fakes:
        loss = loss_fn(D_at(real.cpu()), D_at(fake.cpu()))
        out.append((grads_of(loss, D_at), float(loss.detach())))
    return out


def g_step_candidates(G_template: nn.Module, g_params, D_template: nn.Module, d_params, noises,
                      loss_fn=ls_generator_loss) -> list[tuple[list, float]]:
    """(gradients w.r.t. G, loss) of `loss_fn(D(G(z)))` for each candidate noise batch, with G
    and D holding `g_params` and `d_params`."""
    G_at, D_at = with_params(G_template, g_params), with_params(D_template, d_params)
    out = []
    for z in noises:
        loss = loss_fn(D_at(G_at(z.cpu())))
        out.append((grads_of(loss, G_at), float(loss.detach())))
    return out


# -- measuring a trained generator's samples (outside the process that trained it) ----------------
def generated_images(G: nn.Module, num_samples: int = 1000, latent_dim: int = 100, seed: int = 123,
                     device="cpu"):
    """`num_samples` images (float32 numpy, (N, 1, 28, 28)) that G draws from seeded noise, in eval mode."""
    import numpy as np

    z = torch.randn(num_samples, latent_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    G.eval()
    with torch.no_grad():
        return np.ascontiguousarray(G(z).detach().cpu().numpy(), dtype=np.float32)


def make_digit_classifier() -> nn.Module:
    """The small CNN of 07_gan's section 7: (N, 1, 28, 28) images in [-1, 1] -> 10 logits."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))


def train_digit_classifier(X: torch.Tensor, y, num_epochs: int, seed: int = 0) -> nn.Module:
    """`make_digit_classifier()` trained with Adam (lr 1e-3, batches of 64) on images X and labels y (CPU)."""
    import torch.nn.functional as F

    torch.manual_seed(seed)
    model = make_digit_classifier()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    y = torch.as_tensor(y)
    for _ in range(num_epochs):
        order = torch.randperm(len(X))
        for i in range(0, len(X), 64):
            idx = order[i:i + 64]
            loss = F.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def sample_quality(images, classifier: nn.Module, threshold: float = 0.9, min_count: int = 5) -> dict:
    """What `classifier` makes of generated `images` (N, 1, 28, 28): the share it calls a digit with
    probability > threshold, the classes with >= min_count such samples, the largest class's share."""
    import numpy as np

    with torch.no_grad():
        probs = torch.softmax(classifier(torch.as_tensor(np.asarray(images, dtype=np.float32))), dim=1)
    confidence, label = probs.max(dim=1)
    sure = confidence > threshold
    counts = np.bincount(label[sure].numpy(), minlength=10)
    return {
        "confident_fraction": float(sure.float().mean()),
        "classes_covered": int((counts >= min_count).sum()),
        "largest_class_share": float(counts.max() / max(counts.sum(), 1)),
        "counts": counts.tolist(),
    }
