"""Public helpers for the test cells of 04_keras_api: inspection, stand-ins, spies and probes.

Nothing here is an answer to an exercise:

* `check_rebuildable`, the visible check that the grader can read a returned model: the judge
  rebuilds it from its configuration (`rebuild_model`, safe mode, built-in Keras parts only), so
  a `Lambda` layer, a subclass of `keras.Model` or a layer class of the student's cannot reach
  it; the check says what to change while the student works, and the judge says the same;
* inspection of Keras models by behaviour (which Dense layers, which effective activation,
  their weights, the output), so that every correct way of writing a model passes:
  `Dense(10, activation="sigmoid")` or `Dense(10)` then `Activation("sigmoid")`,
  `Sequential([...])` or `.add()`, Functional or Sequential. In the judge they run on the
  model rebuilt from the tape;
* `keras_mlp` and `torch_mlp`, generic builders of stand-in models that tests hand to the
  students' training functions (the same models the visible tests write out in full);
* `fashion_stand_in`, a smaller network than exercise 4.1's, put in place of
  `build_fashion_mlp` while `batch_size_study` is tested;
* probes, which run next to the student's objects in the grading kernel and whose results
  come back on the tape: the layers of a student's torch module, the device its parameters
  ended on, a gradient spy around a training function, and a stopwatch around a call.
"""

from __future__ import annotations

import time

import numpy as np

from ..judging import mode, probe

__all__ = [
    "check_rebuildable",
    "rebuild_model",
    "UnrebuildableModel",
    "ensure_built",
    "layer_summary",
    "dense_summary",
    "dense_weights",
    "model_output",
    "keras_mlp",
    "fashion_stand_in",
    "torch_mlp",
    "linear_weights",
    "parameter_devices",
    "GradSpy",
    "spy_gradients",
    "timed",
]


# -- Keras models: inspection ---------------------------------------------------------------------
def ensure_built(model, input_shape) -> bool:
    """Build `model` by calling it on zeros when it does not know its input yet."""
    if not model.built:
        try:
            model(np.zeros((1, *input_shape), dtype="float32"))
        except Exception:  # noqa: BLE001 - an unbuildable model is reported by the test
            return False
    return bool(model.built)


def layer_summary(model) -> list[tuple[str, int | None, str]]:
    """[(layer type, units, effective activation)] for the model's computing layers.

    An `Activation` (or `Softmax`) layer right after a linear Dense is folded into that Dense.
    InputLayer is skipped; Flatten (reported as ("Flatten", None, "linear")) and the like are
    kept apart from Dense layers.
    """
    import keras

    out: list[list] = []
    for layer in model.layers:
        kind = type(layer).__name__
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.layers.Activation) and out and out[-1][0] == "Dense" \
                and out[-1][2] == "linear":
            out[-1][2] = layer.activation.__name__
            continue
        if isinstance(layer, keras.layers.Softmax) and out and out[-1][0] == "Dense" \
                and out[-1][2] == "linear":
            out[-1][2] = "softmax"
            continue
        if isinstance(layer, keras.layers.Dense):
            out.append(["Dense", layer.units, layer.activation.__name__])
        else:
            act = getattr(layer, "activation", None)
            out.append([kind, None, act.__name__ if act is not None else "linear"])
    return [tuple(row) for row in out]


def dense_summary(model) -> list[tuple[int, str]]:
    """[(units, effective activation)] of the model's Dense layers, in order."""
    return [(u, a) for kind, u, a in layer_summary(model) if kind == "Dense"]


def dense_weights(model) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """[(kernel, bias or None)] of the model's Dense layers, in float64."""
    import keras

    weights = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            w = [np.asarray(v, dtype=np.float64) for v in layer.get_weights()]
            weights.append((w[0], w[1] if len(w) > 1 else None))
    return weights


def model_output(model, X) -> np.ndarray:
    """The model's output on X (inference mode), in float64."""
    return np.asarray(model(np.asarray(X, dtype="float32"), training=False), dtype=np.float64)


# -- Keras models: what the grader reads -----------------------------------------------------------
GRADER_READS = ("the grader rebuilds your model from its configuration, where no code of yours runs: "
                "use built-in Keras layers in a keras.Sequential or a functional model "
                "(keras.Input, layers called on it, keras.Model(inputs, outputs))")


class UnrebuildableModel(AssertionError):
    """A returned model that the grader cannot rebuild from its configuration; says what to change."""


def check_rebuildable(model, name: str) -> None:
    """Fail, saying what to change, unless the grader can rebuild `model` (a Keras model that
    `name` returned) as it does: from its configuration, in safe mode, with its weights.

    Only while the student works: in the grading kernel the judge rebuilds the model itself (and
    fails the test with the same message), and in the judge the model is already the rebuilt one."""
    if mode() != "local":
        return
    import json

    import keras

    if not isinstance(model, keras.Model):
        return  # the test's type check says so

    text = json.dumps(keras.saving.serialize_keras_object(model), default=str)  # as the tape holds it
    try:
        rebuild_model(text, [np.asarray(w) for w in model.get_weights()])
    except UnrebuildableModel as err:
        raise UnrebuildableModel(f"{name} returned a model the grader cannot read: {err}") from None


def rebuild_model(config_json: str, weights: list[np.ndarray]):
    """The model of a serialized configuration, in safe mode, with `weights` (the judge's way of
    reading a returned model); raises UnrebuildableModel saying what to change."""
    import json

    import keras

    config = json.loads(config_json)
    problem = _unreadable_parts(config)
    if problem:
        raise UnrebuildableModel(f"{problem}; {GRADER_READS}.")
    try:
        model = keras.saving.deserialize_keras_object(config, safe_mode=True)
        if weights:
            model.set_weights(weights)
    except Exception as exc:  # noqa: BLE001 - Keras raises many kinds; the kind alone is named
        raise UnrebuildableModel(f"it could not be rebuilt ({type(exc).__name__}); {GRADER_READS}.") from None
    return model


def _unreadable_parts(config) -> str | None:
    """What in a model's configuration only the student's code can rebuild, said plainly (counted,
    never named: the names come from the student's kernel)."""
    if isinstance(config, dict) and not _is_keras(config):
        return "it is an instance of a class of your own (a subclass of keras.Model)"
    parts = list(_parts(config))
    lambdas = sum(1 for part in parts if part.get("class_name") == "Lambda" and _is_keras(part))
    own = sum(1 for part in parts if not _is_keras(part))
    if lambdas:
        return (f"replace its {lambdas} Lambda layer(s) with built-in layers (Flatten, Reshape, Rescaling, "
                "Activation, ...), whose configuration holds no Python code")
    if own:
        return f"{own} of its layers or functions are of your own classes or Python functions"
    return None


def _parts(config, depth: int = 0):
    """Every serialized Keras object (layer, activation, regularizer...) inside `config`."""
    if depth > 40:
        return
    if isinstance(config, dict):
        if "class_name" in config and "module" in config:
            yield config
        for value in config.values():
            yield from _parts(value, depth + 1)
    elif isinstance(config, list):
        for value in config:
            yield from _parts(value, depth + 1)


def _is_keras(part: dict) -> bool:
    return str(part.get("module") or "").split(".")[0] == "keras"


# -- stand-in models ------------------------------------------------------------------------------
def keras_mlp(input_shape, units, activations, seed=None):
    """A Sequential of Dense layers (after a Flatten for image inputs); seeded when `seed` is given."""
    import keras

    if seed is not None:
        keras.utils.set_random_seed(seed)
    layers = [keras.Input(shape=tuple(input_shape))]
    if len(input_shape) > 1:
        layers.append(keras.layers.Flatten())
    layers += [keras.layers.Dense(u, activation=a) for u, a in zip(units, activations, strict=True)]
    return keras.Sequential(layers)


def fashion_stand_in():
    """A small Fashion-MNIST network (Flatten -> Dense(64, relu) -> Dense(10, softmax)), uncompiled."""
    return keras_mlp((28, 28), (64, 10), ("relu", "softmax"))


def torch_mlp(sizes, seed=0):
    """nn.Sequential of Linear layers of `sizes` with ReLU between them (logits out), seeded."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


# -- probes: run in the grading kernel, their results are recorded ---------------------------------
@probe
def linear_weights(module) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """[(weight (out, in), bias or None)] of every nn.Linear in `module`, in `module.modules()` order."""
    import torch

    out = []
    for m in module.modules():
        if isinstance(m, torch.nn.Linear):
            bias = None if m.bias is None else m.bias.detach().cpu().double().numpy()
            out.append((m.weight.detach().cpu().double().numpy(), bias))
    return out


@probe
def parameter_devices(module, device) -> dict:
    """{"asked": the device type `device` names, "params": the device type of each parameter}."""
    import torch

    return {"asked": torch.device(device).type,
            "params": [p.device.type for p in module.parameters()]}


class GradSpy:
    """Counts backward passes and those that found a stale gradient left in `.grad`.

    A hook on each parameter runs when backward computes its gradient, before the
    gradient is added to `.grad`: if `.grad` then holds anything but zeros, the previous
    step's gradient was never cleared (a forgotten `zero_grad`).
    """

    def __init__(self, model):
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.backward_calls = 0
        self.stale = 0
        self._handles = []

    def _hook(self, p, first):
        def hook(grad):
            if first:
                self.backward_calls += 1
                if p.grad is not None and bool((p.grad != 0).any()):
                    self.stale += 1
            return grad

        return hook

    def __enter__(self):
        for i, p in enumerate(self.params):
            self._handles.append(p.register_hook(self._hook(p, i == 0)))
        return self

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()
        self._handles = []
        return False


@probe
def spy_gradients(train, model, *args, **kwargs) -> dict:
    """Run `train(model, *args, **kwargs)` with a GradSpy on `model`.

    Returns {"backward_calls": ..., "stale": ..., "result": what train returned}.
    """
    with GradSpy(model) as spy:
        result = train(model, *args, **kwargs)
    return {"backward_calls": spy.backward_calls, "stale": spy.stale, "result": result}


@probe
def timed(fn, *args, **kwargs):
    """(fn(*args, **kwargs), the seconds the call took), timed in the grading kernel."""
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start
