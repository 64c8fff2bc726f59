"""Public helpers for the test cells of 07_gan: stand-ins and checks that hold no answer.

* Stand-in losses (least-squares GAN, not the notebook's BCE losses) that the `train_step`
  test puts in place of the student's `discriminator_loss` / `generator_loss`, so that it does
  not depend on exercises 4.1 and 4.2.
* Small stand-in players (`TinyGenerator`, `TinyDiscriminator`) for `train_step`.
* Checks made only of calls on what the student's code returned and of its in-place updates, so
  that the judge replays them from the tape and believes nothing else the kernel says: whether
  autograd connects a module's output to its input or to one layer (`output_requires_grad`, from
  the flag of the output the module returned), a module's outputs with scaled weights
  (`scale_parameters`), a loss's gradient from its values (`central_difference_grads`), and
  where a correct `train_step` leaves G and D from the same start and the same noise
  (`judge_train_step`, computed in the judge with the judge's own modules).
* The measurement of a trained generator (tests/test_07_gan.py): the images it draws are handed
  back, and a digit classifier trained outside the generator's process judges them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from ..judging import mode

__all__ = [
    "ls_discriminator_loss",
    "ls_generator_loss",
    "TinyGenerator",
    "TinyDiscriminator",
    "output_requires_grad",
    "scale_parameters",
    "linear_layers",
    "central_difference_grads",
    "StepOutcome",
    "StepVerdict",
    "noise_draws",
    "correct_outcomes",
    "judge_train_step",
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


# -- the module exercises: checks made of calls on the student's module (replayed in the judge) ----
def output_requires_grad(module: nn.Module, x: torch.Tensor, trainable: nn.Module | None = None) -> bool:
    """Whether `module(x)` is connected by autograd to `x` (with `trainable` None: x requires grad
    and every parameter is frozen) or to the parameters of the submodule `trainable` (the others
    frozen). A `.detach()`, `.numpy()` or `torch.no_grad()` on the way gives an output that does
    not require grad. Only calls on `module` and the flag of what it returns are used: in the
    judge they are the recorded calls and return values, nothing a test helper reported."""
    module.requires_grad_(False)
    if trainable is not None:
        trainable.requires_grad_(True)
    else:
        x = x.detach().clone().requires_grad_(True)
    try:
        return bool(module(x).requires_grad)
    finally:
        module.requires_grad_(True)


def scale_parameters(module: nn.Module, factor: float) -> None:
    """Multiply every parameter of `module` by `factor` in place (one `module.apply` call: no
    parameter travels on the tape; the test then judges what the module returns)."""
    def scale(submodule: nn.Module) -> None:
        with torch.no_grad():
            for p in submodule.parameters(recurse=False):
                p.mul_(factor)

    module.apply(scale)


def linear_layers(module: nn.Module) -> list:
    """The `nn.Linear` submodules of `module`, in order."""
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


# -- the losses: gradients from loss values alone ------------------------------------------------
def central_difference_grads(loss_fn, *logits: torch.Tensor, eps: float = 1e-2) -> list[torch.Tensor]:
    """d loss_fn(*logits) / d logits by central differences: two calls of `loss_fn` per logit, each
    with one logit moved by +-eps. Only the values `loss_fn` returns are used (in the judge, the
    values the student's loss returned in the kernel)."""
    base = [t.detach().clone() for t in logits]
    grads = []
    for i, t in enumerate(base):
        grad = torch.zeros_like(t)
        for j in range(t.numel()):
            values = []
            for step in (eps, -eps):
                moved = [b.clone() for b in base]
                moved[i].view(-1)[j] += step
                values.append(float(loss_fn(*moved)))
            grad.view(-1)[j] = (values[0] - values[1]) / (2 * eps)
        grads.append(grad)
    return grads


# -- train_step: every correct step, recomputed by the judge from the same start and noise --------
@dataclass
class StepOutcome:
    """Where one correct train_step leaves G and D, and the losses it returns."""

    variant: str
    G: nn.Module
    D: nn.Module
    d_loss: float
    g_loss: float


@dataclass
class StepVerdict:
    ok: bool
    message: str = ""
    hint: str = ""
    d_loss: float = float("nan")
    g_loss: float = float("nan")


def noise_draws(rng_state: torch.Tensor, n: int, latent_dim: int, count: int = 2) -> list[torch.Tensor]:
    """The first `count` noise batches `torch.randn(n, latent_dim)` draws from the CPU generator
    state `rng_state` (train_step's noise, as the test's generator stands when it is called)."""
    gen = torch.Generator()
    gen.set_state(rng_state)
    return [torch.randn(n, latent_dim, generator=gen) for _ in range(count)]


def sgd_stepped(module: nn.Module, loss: torch.Tensor, lr: float) -> nn.Module:
    """`module` after one plain SGD step on `loss` (computed with `module` itself): a new copy."""
    grads = torch.autograd.grad(loss, list(module.parameters()), allow_unused=True)
    out = copy.deepcopy(module)
    with torch.no_grad():
        for p, g in zip(out.parameters(), grads, strict=True):
            if g is not None:
                p -= lr * g
    return out


def d_step(D: nn.Module, real: torch.Tensor, fake: torch.Tensor, loss_fn, lr: float) -> tuple[nn.Module, float]:
    loss = loss_fn(D(real), D(fake.detach()))
    return sgd_stepped(D, loss, lr), float(loss.detach())


def g_step(G: nn.Module, D: nn.Module, z: torch.Tensor, loss_fn, lr: float) -> tuple[nn.Module, float]:
    loss = loss_fn(D(G(z)))
    return sgd_stepped(G, loss, lr), float(loss.detach())


def correct_outcomes(G: nn.Module, D: nn.Module, real: torch.Tensor, noises: list[torch.Tensor], lr: float,
                     losses: dict[str, tuple]) -> list[StepOutcome]:
    """Every correct train_step from G, D and `real` with plain SGD steps of `lr`.

    Accepted: the D step first (on G(z1), detached) and then the G step on the same noise z1 or on
    fresh noise z2, or the G step first (on z1) and then the D step on fresh or the same fakes;
    each player's loss is any of `losses` ({name: (d_loss_fn, g_loss_fn)}), independently."""
    z1, z2 = noises
    out = []
    for d_fn, _ in losses.values():
        for _, g_fn in losses.values():
            D1, d_val = d_step(D, real, G(z1), d_fn, lr)
            for label, z in (("same noise", z1), ("fresh noise", z2)):
                G1, g_val = g_step(G, D1, z, g_fn, lr)
                out.append(StepOutcome(f"the D step first, {label} for G", G1, D1, d_val, g_val))
            G1, g_val = g_step(G, D, z1, g_fn, lr)
            for label, fake in (("fresh fakes", G1(z2)), ("the same noise", G1(z1)), ("the same fakes", G(z1))):
                D1, d_val = d_step(D, real, fake, d_fn, lr)
                out.append(StepOutcome(f"the G step first, {label} for D", G1, D1, d_val, g_val))
    return out


def distance(a: nn.Module, b: nn.Module) -> float:
    """The largest absolute difference between the parameters of two modules of one kind."""
    worst = 0.0
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        worst = max(worst, float((p.detach() - q.detach()).abs().max()))
    return worst


STEP_HINT = ("each step: zero that optimiser's gradients, compute its loss, backward(), step() once; "
             "detach the fakes in the discriminator step; the generator step moves only G.")


def judge_train_step(G_start: nn.Module, D_start: nn.Module, G_after: nn.Module, D_after: nn.Module,
                     real: torch.Tensor, rng_state: torch.Tensor, lr: float, latent_dim: int,
                     losses: dict[str, tuple], tol: float = 1e-5) -> StepVerdict:
    """Whether G_after and D_after (the parameters train_step left) are where a correct step from
    G_start and D_start puts them, with the noise train_step drew from `rng_state`.

    All of it is computed here from the judge's own modules and inputs; in the grading kernel
    (where nothing is judged) it does nothing."""
    if mode() == "record":
        return StepVerdict(True)
    noises = noise_draws(rng_state, len(real), latent_dim)
    outcomes = correct_outcomes(G_start, D_start, real, noises, lr, losses)
    gaps = [(max(distance(o.D, D_after), distance(o.G, G_after)), o) for o in outcomes]
    gap, best = min(gaps, key=lambda pair: pair[0])
    if gap < tol:
        return StepVerdict(True, d_loss=best.d_loss, g_loss=best.g_loss)
    if distance(D_start, D_after) == 0:
        return StepVerdict(False, "the discriminator did not move in train_step.",
                           "call opt_D.step() after d_loss.backward().")
    if distance(G_start, G_after) == 0:
        return StepVerdict(False, "the generator did not move in train_step.",
                           "call opt_G.step() after g_loss.backward().")
    d_gap, g_gap = distance(best.D, D_after), distance(best.G, G_after)
    player = "the discriminator D" if d_gap >= tol else "the generator G"
    return StepVerdict(False, f"after train_step {player} is not where one correct step puts it (off by "
                       f"{max(d_gap, g_gap):.3g} from the closest correct step).", STEP_HINT)


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
