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
  `build_fashion_mlp` while `batch_size_study` is tested, and `SimulatedClock`, which makes
  each epoch of its `fit` last a number of seconds the test chose;
* readers of a student's torch module (`linear_weights`, `parameter_devices`): plain code,
  which in grading reads the module through recorded calls.

No helper here is a probe: nothing computed in the grading kernel is believed unless the
judge can recompute it. Where it cannot (the device a module ended on), the test shows it as
information and scores nothing on it.
"""

from __future__ import annotations

import functools
import time
from contextlib import contextmanager

import numpy as np

from ..judging import mode

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
    "SimulatedClock",
    "linear_weights",
    "parameter_devices",
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
    """The model's output on X (inference mode), in float64, on any Keras backend and device
    (np.asarray alone fails on the torch backend: a tensor that requires grad, or on a GPU)."""
    import keras

    out = model(np.asarray(X, dtype="float32"), training=False)
    return np.asarray(keras.ops.convert_to_numpy(out), dtype=np.float64)


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


MAX_SETTING_ARRAY = 16  # numbers in one setting of a layer (a shape, a kernel size: a few)
MAX_SETTINGS_NUMBERS = 1_000  # numbers in all of a model's settings (the course's models: 14 to 84)
MAX_SETTINGS_DEPTH = 64  # levels of a serialized model (the course's: under 12); deeper is refused, never skipped


def fresh_weights(model, seed: int):
    """`model`'s architecture with its weights drawn anew by its layers' own initialisers, Keras
    seeded with `seed` first (a seed in an initialiser's or a layer's settings is dropped, so the
    judge's seed decides): the model a builder returns, before any training it may have done.

    A test that trains a builder's model calls this first, in the judge, on the model rebuilt from
    its configuration: weights fitted inside the builder (on the test split, say) never count. What
    could carry them past the weights is refused (UnrebuildableModel): a setting that holds an array
    of numbers (`Rescaling(scale=array)`, `Normalization(mean=...)`, `Constant(array)`...) or settings
    holding more numbers in all than a description of layers needs."""
    import json

    import keras

    config = keras.saving.serialize_keras_object(model)
    problem = _numbers_in_settings(config)
    if problem:
        advice = ("build it flat, one Sequential or functional model of layers" if "nested" in problem else
                  "use layer settings of single numbers (Rescaling(1 / 255), Dropout(0.3), the initialisers "
                  "\"glorot_uniform\", \"he_normal\", Constant(0.1), ...)")
        raise UnrebuildableModel(f"the grader trains your architecture from weights drawn anew, and {problem}; "
                                 f"{advice}.")
    for part in _parts(config):  # a seed of the student's (`GlorotUniform(seed=42)`) would pick the start
        if isinstance(part.get("config"), dict) and "seed" in part["config"]:
            part["config"]["seed"] = None
    keras.utils.set_random_seed(seed)
    return rebuild_model(json.dumps(config, default=str), [])  # as the judge reads a model, with no weights


def _numbers_in_settings(config) -> str | None:
    """What in a serialized model's settings could carry trained numbers past its weights, said plainly."""
    largest, total, too_deep = 0, 0, False

    def numbers(value, depth: int) -> int | None:  # the numbers in a list holding no dict (an array), else None
        if depth > MAX_SETTINGS_DEPTH or isinstance(value, dict):
            return None
        if isinstance(value, list):
            counts = [numbers(v, depth + 1) for v in value]
            return sum(counts) if all(n is not None for n in counts) else None
        return 1 if isinstance(value, int | float) and not isinstance(value, bool) else 0

    def walk(value, depth: int = 0) -> None:
        nonlocal largest, total, too_deep
        if depth > MAX_SETTINGS_DEPTH:
            too_deep = True
            return
        if isinstance(value, list) and (n := numbers(value, depth)) is not None:
            largest, total = max(largest, n), total + n
        elif isinstance(value, dict | list):
            for item in (value.values() if isinstance(value, dict) else value):
                walk(item, depth + 1)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            total += 1

    walk(config)
    if too_deep:
        return f"its configuration is nested deeper than {MAX_SETTINGS_DEPTH} levels"
    if largest > MAX_SETTING_ARRAY:
        return f"one of its settings holds an array of {largest:,} numbers"
    if total > MAX_SETTINGS_NUMBERS:
        return (f"its settings hold {total:,} numbers, more than a description of layers needs "
                f"({MAX_SETTINGS_NUMBERS:,})")
    return None


def _unreadable_parts(config) -> str | None:
    """What in a model's configuration only the student's code can rebuild, said plainly (counted,
    never named: the names come from the student's kernel)."""
    if isinstance(config, dict) and not _is_keras(config):
        return "it is an instance of a class of your own (a subclass of keras.Model)"
    compiled = config.get("compile_config") if isinstance(config, dict) else None
    if compiled is not None and any(not _is_keras(part) for part in _parts(compiled)):
        return ("it was compiled with a loss, metric or optimiser of your own (a Python function or class): "
                "compile with Keras's own, a name such as \"sparse_categorical_crossentropy\" or an object "
                "of keras.losses, keras.metrics or keras.optimizers")
    parts = list(_parts({k: v for k, v in config.items() if k != "compile_config"} if compiled is not None
                        else config))
    lambdas = sum(1 for part in parts if part.get("class_name") == "Lambda" and _is_keras(part))
    own = sum(1 for part in parts if not _is_keras(part))
    if lambdas:
        return (f"replace its {lambdas} Lambda layer(s) with built-in layers (Flatten, Reshape, Rescaling, "
                "Activation, ...), whose configuration holds no Python code")
    if own:
        return f"{own} of its layers or functions are of your own classes or Python functions"
    return None


def _parts(config, depth: int = 0):
    """Every serialized Keras object (layer, activation, regularizer...) inside `config` (to the depth
    `fresh_weights` accepts; `rebuild_model`'s safe mode refuses what it does not know deeper down)."""
    if depth > MAX_SETTINGS_DEPTH:
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


def torch_mlp(sizes, seed=0, keep_grads=False):
    """nn.Sequential of Linear layers of `sizes` with ReLU between them (logits out), seeded.

    With `keep_grads` it is a `GradsSeen` stand-in: passed to an exercise while grading, the
    judge sees its parameters and their `.grad` as the call left them.
    """
    import torch
    from torch import nn

    torch.manual_seed(seed)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return (_grads_seen() if keep_grads else nn.Sequential)(*layers)


@functools.cache
def _grads_seen():
    import torch

    class GradsSeen(torch.nn.Sequential):
        """An nn.Sequential that declares its parameters and their `.grad` (`judged_state`)."""

        def judged_state(self) -> dict:
            state = {f"param.{k}": v.detach().cpu().numpy() for k, v in self.state_dict().items()}
            return state | {f"grad.{n}": p.grad.detach().cpu().numpy()
                            for n, p in self.named_parameters() if p.grad is not None}

        def load_judged_state(self, state: dict) -> None:
            try:
                self.load_state_dict({k[6:]: torch.as_tensor(v) for k, v in state.items()
                                      if k.startswith("param.")})
            except RuntimeError:
                raise AssertionError("the call changed the shapes of the model's parameters.") from None
            for n, p in self.named_parameters():
                grad = state.get(f"grad.{n}")
                if grad is not None and tuple(np.shape(grad)) != tuple(p.shape):
                    raise AssertionError(f"the call left a gradient of the wrong shape in {n}.")
                p.grad = None if grad is None else torch.as_tensor(grad, dtype=p.dtype)

    return GradsSeen


# -- a clock the test controls ----------------------------------------------------------------
_CLOCKS = ("perf_counter", "time", "monotonic")


class SimulatedClock:
    """Clocks that run `seconds_per_epoch[k]` seconds ahead for each epoch of the k-th stand-in's fit.

    Inside `with clock.running(namespace):` the `time` module's clocks (`perf_counter`, `time`,
    `monotonic` and their `_ns` forms, `timeit.default_timer`, and the names in `namespace`
    bound to them) return the real time plus an offset. `clock.stand_in()` builds
    `fashion_stand_in()` whose `fit` adds the next duration to the offset at the end of every
    epoch (before the callbacks a caller passed see the epoch's end). Any way of timing `fit`
    or its epochs then measures about that duration per epoch: a value the judge knows.
    """

    def __init__(self, seconds_per_epoch):
        self.durations = [float(s) for s in seconds_per_epoch]
        self.offset = 0.0
        self.built = 0

    def _advance(self, seconds: float) -> None:
        self.offset += seconds

    def stand_in(self):
        import keras

        seconds = self.durations[min(self.built, len(self.durations) - 1)]
        self.built += 1
        clock = self

        class _EpochLasts(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                clock._advance(seconds)

        model = fashion_stand_in()
        fit = model.fit

        def timed_fit(*args, callbacks=None, **kwargs):
            return fit(*args, callbacks=[_EpochLasts(), *(callbacks or [])], **kwargs)

        model.fit = timed_fit
        return model

    def _fake(self, real, ns: bool):
        if ns:
            return lambda: real() + int(self.offset * 1e9)
        return lambda: real() + self.offset

    @contextmanager
    def running(self, namespace: dict | None = None):
        import timeit

        real = {name: getattr(time, name) for name in _CLOCKS + tuple(f"{c}_ns" for c in _CLOCKS)}
        fake = {name: self._fake(fn, name.endswith("_ns")) for name, fn in real.items()}
        by_id = {id(fn): fake[name] for name, fn in real.items()}
        rebound = [(namespace, k, v) for k, v in (namespace or {}).items() if id(v) in by_id]
        old_timer = timeit.default_timer
        try:
            for name, fn in fake.items():
                setattr(time, name, fn)
            timeit.default_timer = fake["perf_counter"]
            for space, key, value in rebound:
                space[key] = by_id[id(value)]
            yield self
        finally:
            for name, fn in real.items():
                setattr(time, name, fn)
            timeit.default_timer = old_timer
            for space, key, value in rebound:
                space[key] = value


# -- a student's torch module, read through its public attributes --------------------------------
def linear_weights(module) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """[(weight (out, in), bias or None)] of every nn.Linear in `module`, in `module.modules()` order."""
    import torch

    out = []
    for m in module.modules():
        if isinstance(m, torch.nn.Linear):
            bias = m.bias
            bias = None if bias is None else bias.detach().cpu().double().numpy()
            out.append((m.weight.detach().cpu().double().numpy(), bias))
    return out


def parameter_devices(module, device) -> dict:
    """{"asked": the device type `device` names, "params": the device type of each parameter}.

    Information only: no grader can check where a module lived in the student's kernel.
    """
    import torch

    return {"asked": torch.device(device).type,
            "params": [p.device.type for p in module.parameters()]}
