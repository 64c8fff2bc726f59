"""Public helpers of 07_gan's tuning exercise: a denoising autoencoder tuned to a held-out target.

PyTorch has no "safe mode" like Keras: loading a pickled module runs code. So a student's
denoiser travels as DATA only: an architecture spec (the built-in layer classes of `ALLOWED`,
each with its constructor arguments as plain numbers) and the training settings. The judge and
the held-out scorer rebuild the network from the spec with the library's own classes
(`rebuild`), and the scorer trains it itself with `train_denoiser`, the notebook's fixed training
function, in the stated budget. Nothing the student's code computed is used but the spec and
the settings, which the scorer checks again (`validate_submission`).

`denoiser_spec(model)` reads the spec from a model the student's code returned. It works on a
real module (local mode) and on the grader's recorded stand-ins of it (every attribute it reads
is recorded in the kernel and replayed in the judge), and it names a refused layer by position
and kind only, never by a class name the student chose.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ALLOWED", "LATENT_DIM", "MAX_PARAMS", "SETTINGS_BOUNDS", "NOISE_STD", "SpecError",
           "denoiser_spec", "rebuild", "bottleneck_size", "count_params", "check_settings",
           "validate_submission", "add_noise", "train_denoiser", "noise_removed", "MAX_PARAM_EPOCHS",
           "DenoiserSubmission", "lectures_baseline_spec", "LECTURES_SETTINGS"]

LATENT_DIM = 32          # the bottleneck the held-out test asks for
MAX_PARAMS = 1_000_000   # parameter budget of a tuned denoiser
MAX_PARAM_EPOCHS = 10_000_000  # training budget: parameters x epochs (about 30 s on one busy CPU core)
NOISE_STD = 0.5          # Gaussian noise added to the pixels in [0, 1], then clipped to [0, 1]
MAX_FEATURES = 4096      # widest Linear layer the scorer builds
SETTINGS_BOUNDS = {"lr": (1e-5, 0.05), "batch_size": (32, 1024), "num_epochs": (1, 20)}
LECTURES_SETTINGS = {"lr": 1e-3, "batch_size": 128, "num_epochs": 10}  # the notebook's section 0 loop

_T = "torch.nn.modules."
# class name -> (the library class, the constructor arguments read from the layer)
ALLOWED = {
    _T + "container.Sequential": (nn.Sequential, ()),
    _T + "linear.Linear": (nn.Linear, ("in_features", "out_features", "bias")),
    _T + "flatten.Flatten": (nn.Flatten, ("start_dim", "end_dim")),
    _T + "flatten.Unflatten": (nn.Unflatten, ("dim", "unflattened_size")),
    _T + "activation.ReLU": (nn.ReLU, ()),
    _T + "activation.LeakyReLU": (nn.LeakyReLU, ("negative_slope",)),
    _T + "activation.ELU": (nn.ELU, ("alpha",)),
    _T + "activation.GELU": (nn.GELU, ("approximate",)),
    _T + "activation.SiLU": (nn.SiLU, ()),
    _T + "activation.Tanh": (nn.Tanh, ()),
    _T + "activation.Sigmoid": (nn.Sigmoid, ()),
    _T + "dropout.Dropout": (nn.Dropout, ("p",)),
    _T + "batchnorm.BatchNorm1d": (nn.BatchNorm1d, ("num_features",)),
    _T + "normalization.LayerNorm": (nn.LayerNorm, ("normalized_shape",)),
}
SHORT_NAMES = {name: name.rsplit(".", 1)[1] for name in ALLOWED}
BY_SHORT = {short: name for name, short in SHORT_NAMES.items()}
ALLOWED_TEXT = ", ".join(f"nn.{s}" for s in SHORT_NAMES.values())
REFUSED_HINT = (f"build the network as nn.Sequential(...) of these built-in layers only: {ALLOWED_TEXT} "
                "(no class of your own, no subclass of a layer): the grader rebuilds it from their names.")


class SpecError(AssertionError):
    """The model or its spec cannot be rebuilt from built-in layers (the message says why)."""


def _class_names(obj) -> list[str]:
    """The class names of `obj` as the grader recorded them (never through the object's own code)."""
    from ..judging import KernelProxy, ReplayProxy

    if type(obj) in (KernelProxy, ReplayProxy):
        return [str(c) for c in object.__getattribute__(obj, "_classes")]
    return [f"{c.__module__}.{c.__qualname__}" for c in type(obj).__mro__]


def _plain(value, where: str):
    """A constructor argument as plain data: int, float, bool, str or a tuple of ints."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) in (tuple, list, torch.Size) and all(type(v) is int for v in value):
        return [int(v) for v in value]
    raise SpecError(f"{where} has an argument of an unexpected kind.")


def denoiser_spec(model, where: str = "the model") -> list:
    """The spec of an nn.Sequential of built-in layers: [[short class name, {arg: value}], ...],
    a nested Sequential as ["Sequential", [its spec]]. Raises SpecError for anything else."""
    return _spec(model, where, depth=0)


def _spec(module, where: str, depth: int) -> list:
    if depth > 4:
        raise SpecError(f"{where} nests Sequential containers too deeply (4 levels at most).")
    names = _class_names(module)
    if not names or names[0] != _T + "container.Sequential":
        raise SpecError(f"{where} is not an nn.Sequential of built-in layers. Hint: {REFUSED_HINT}")
    children = list(module)
    if not 1 <= len(children) <= 64:
        raise SpecError(f"{where} has {len(children)} layers; between 1 and 64 are allowed.")
    spec = []
    for i, child in enumerate(children):
        here = f"layer {i} of {where}"
        cls = _class_names(child)[0]
        if cls not in ALLOWED:
            raise SpecError(f"{here} is not one of the built-in layers the grader can rebuild. "
                            f"Hint: {REFUSED_HINT}")
        short = SHORT_NAMES[cls]
        if short == "Sequential":
            spec.append([short, _spec(child, here, depth + 1)])
            continue
        kwargs = {}
        for arg in ALLOWED[cls][1]:
            value = getattr(child, arg)
            if short == "Linear" and arg == "bias":
                value = value is not None
            kwargs[arg] = _plain(value, here)
        spec.append([short, kwargs])
    return spec


def _number(value, kind, low, high, where):
    if kind is int and type(value) is not int:
        raise SpecError(f"{where} must be a whole number.")
    if kind is float and type(value) not in (int, float):
        raise SpecError(f"{where} must be a number.")
    if kind is bool and type(value) is not bool:
        raise SpecError(f"{where} must be True or False.")
    if kind is not bool and not (low <= value <= high and math.isfinite(value)):
        raise SpecError(f"{where} must lie in [{low}, {high}].")
    return value


def rebuild(spec, depth: int = 0) -> nn.Sequential:
    """An nn.Sequential of the library's own classes from `spec`; SpecError for anything else."""
    if depth > 4 or not isinstance(spec, list) or not 1 <= len(spec) <= 64:
        raise SpecError("the spec must be a list of 1 to 64 layers (4 nested levels at most).")
    layers = []
    for i, item in enumerate(spec):
        where = f"layer {i}"
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
            raise SpecError(f"{where} of the spec is not [name, arguments].")
        short, args = item
        if short not in BY_SHORT:
            raise SpecError(f"{where} is not one of the built-in layers the grader can rebuild. Hint: {REFUSED_HINT}")
        if short == "Sequential":
            layers.append(rebuild(args, depth + 1))
            continue
        cls, names = ALLOWED[BY_SHORT[short]]
        if not isinstance(args, dict) or set(args) != set(names):
            raise SpecError(f"{where} ({short}) must have exactly the arguments {list(names)}.")
        a = dict(args)
        if short == "Linear":
            _number(a["in_features"], int, 1, MAX_FEATURES, f"{where}'s in_features")
            _number(a["out_features"], int, 1, MAX_FEATURES, f"{where}'s out_features")
            _number(a["bias"], bool, 0, 0, f"{where}'s bias")
        elif short == "Flatten":
            _number(a["start_dim"], int, -4, 4, f"{where}'s start_dim")
            _number(a["end_dim"], int, -4, 4, f"{where}'s end_dim")
        elif short == "Unflatten":
            _number(a["dim"], int, -4, 4, f"{where}'s dim")
            size = a["unflattened_size"]
            if not (isinstance(size, list) and 1 <= len(size) <= 3 and
                    all(type(s) is int and 1 <= s <= MAX_FEATURES for s in size)):
                raise SpecError(f"{where}'s unflattened_size must be 1 to 3 whole numbers.")
            a["unflattened_size"] = tuple(size)
        elif short in ("LeakyReLU", "ELU"):
            for k in a:
                _number(a[k], float, 0.0, 10.0, f"{where}'s {k}")
        elif short == "GELU":
            if a["approximate"] not in ("none", "tanh"):
                raise SpecError(f"{where}'s approximate must be 'none' or 'tanh'.")
        elif short == "Dropout":
            _number(a["p"], float, 0.0, 0.9, f"{where}'s p")
        elif short == "BatchNorm1d":
            _number(a["num_features"], int, 1, MAX_FEATURES, f"{where}'s num_features")
        elif short == "LayerNorm":
            size = a["normalized_shape"]
            if not (isinstance(size, list) and len(size) == 1 and type(size[0]) is int
                    and 1 <= size[0] <= MAX_FEATURES):
                raise SpecError(f"{where}'s normalized_shape must be one whole number (a LayerNorm of features).")
            a["normalized_shape"] = tuple(size)
        layers.append(cls(**a))
    return nn.Sequential(*layers)


def _leaves(module: nn.Module) -> list[nn.Module]:
    out = []
    for child in module:
        out.extend(_leaves(child) if isinstance(child, nn.Sequential) else [child])
    return out


def bottleneck_size(net: nn.Sequential) -> int:
    """The fewest numbers per image that pass between two layers of a rebuilt chain (the input
    and the output excluded): everything the output knows of the input goes through them."""
    x = torch.zeros(2, 1, 28, 28)
    sizes = []
    net.eval()
    with torch.no_grad():
        leaves = _leaves(net)
        for layer in leaves[:-1]:
            x = layer(x)
            sizes.append(int(x[0].numel()))
    return min(sizes) if sizes else 28 * 28


def count_params(net: nn.Module) -> int:
    return int(sum(p.numel() for p in net.parameters()))


def check_settings(settings) -> dict:
    """The settings as plain numbers, checked against SETTINGS_BOUNDS; SpecError otherwise."""
    import numbers

    if not isinstance(settings, dict) or set(settings) != set(SETTINGS_BOUNDS):
        raise SpecError(f"the settings must be a dict with exactly the keys {sorted(SETTINGS_BOUNDS)}.")
    out = {}
    for key, (low, high) in SETTINGS_BOUNDS.items():
        value, where = settings[key], f"settings[{key!r}]"
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise SpecError(f"{where} must be a number.")
        if key == "lr":
            value = float(value)
        elif isinstance(value, numbers.Integral):
            value = int(value)
        else:
            raise SpecError(f"{where} must be a whole number.")
        out[key] = _number(value, type(value), low, high, where)
    return out


def validate_submission(spec, settings, latent_dim: int = LATENT_DIM) -> tuple[nn.Sequential, dict]:
    """Rebuild the network and check every rule of the exercise: (net, settings) or SpecError."""
    net = rebuild(spec)
    settings = check_settings(settings)
    n = count_params(net)
    if n > MAX_PARAMS:
        raise SpecError(f"the denoiser has {n:,} parameters; the budget is {MAX_PARAMS:,}.")
    if n * settings["num_epochs"] > MAX_PARAM_EPOCHS:
        raise SpecError(f"{n:,} parameters trained for {settings['num_epochs']} epochs is over the training "
                        f"budget: parameters x epochs must stay at most {MAX_PARAM_EPOCHS:,}.")
    try:
        with torch.no_grad():
            out = net.eval()(torch.rand(3, 1, 28, 28))
    except Exception as exc:  # noqa: BLE001 (the layers do not fit together: say which kind)
        raise SpecError(f"the rebuilt network cannot run on images (3, 1, 28, 28): {type(exc).__name__}. "
                        "Check the sizes of consecutive layers.") from None
    if tuple(out.shape) != (3, 1, 28, 28):
        raise SpecError(f"the rebuilt network maps (3, 1, 28, 28) images to shape {tuple(out.shape)}; "
                        "it must give (3, 1, 28, 28).")
    size = bottleneck_size(net)
    if size > latent_dim:
        raise SpecError(f"no layer squeezes the image below {size} numbers; the bottleneck must hold at most "
                        f"latent_dim = {latent_dim}. Without it the network can copy its input.")
    return net, settings


def add_noise(x: torch.Tensor, generator: torch.Generator, noise_std: float = NOISE_STD) -> torch.Tensor:
    """x plus Gaussian noise of standard deviation noise_std, clipped back to [0, 1]."""
    return (x + noise_std * torch.randn(x.shape, generator=generator)).clamp(0.0, 1.0)


def train_denoiser(model: nn.Module, X: torch.Tensor, num_epochs: int = 10, lr: float = 1e-3,
                   batch_size: int = 128, seed: int = 0) -> list[float]:
    """The notebook's fixed training: Adam on the mean squared error between model(noisy x) and
    the clean x, with fresh noise for every batch. Returns the mean training loss of each epoch."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(num_epochs):
        model.train()
        order, total = torch.randperm(len(X), generator=gen), 0.0
        for i in range(0, len(X), batch_size):
            xb = X[order[i:i + batch_size]]
            loss = F.mse_loss(model(add_noise(xb, gen)), xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
        losses.append(total / len(X))
    model.eval()
    return losses


def noise_removed(net: nn.Module, X: torch.Tensor, seed: int) -> float:
    """The score: 1 - MSE(net(noisy X), X) / MSE(noisy X, X), the noise drawn from `seed`.
    1 removes all the noise; 0 removes none; below 0 makes the images worse."""
    noisy = add_noise(X, torch.Generator().manual_seed(seed))
    net.eval()
    with torch.no_grad():
        out = torch.cat([net(noisy[i:i + 500]) for i in range(0, len(X), 500)])
    return float(1.0 - torch.mean((out - X) ** 2) / torch.mean((noisy - X) ** 2))


class DenoiserSubmission:
    """What the held-out test hands the grader: the spec and the settings, saved as plain data
    (`torch.save` of lists, dicts and numbers, which the scorer reads with weights_only=True)."""

    def __init__(self, model, settings, latent_dim: int = LATENT_DIM):
        self.spec = denoiser_spec(model, "build_tuned_denoiser()")  # read now: the same reads in kernel and judge
        self.settings = check_settings(settings)
        self.latent_dim = latent_dim

    def save(self, path) -> None:
        torch.save({"format": 1, "spec": self.spec, "settings": self.settings}, path)


def lectures_baseline_spec(latent_dim: int = LATENT_DIM) -> list:
    """Section 0's Autoencoder as a spec: 784 -> 256 -> latent_dim -> 256 -> 784, sigmoid."""
    return [["Flatten", {"start_dim": 1, "end_dim": -1}],
            ["Linear", {"in_features": 784, "out_features": 256, "bias": True}], ["ReLU", {}],
            ["Linear", {"in_features": 256, "out_features": latent_dim, "bias": True}],
            ["Linear", {"in_features": latent_dim, "out_features": 256, "bias": True}], ["ReLU", {}],
            ["Linear", {"in_features": 256, "out_features": 784, "bias": True}], ["Sigmoid", {}],
            ["Unflatten", {"dim": 1, "unflattened_size": [1, 28, 28]}]]
