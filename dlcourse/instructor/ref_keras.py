"""Instructor-only references for notebook 04_keras_api (left out of the student bundle).

Hidden tests use these to inspect students' models by behaviour (weights and outputs),
so that every correct way of writing a model passes: `Dense(10, activation="sigmoid")`
or `Dense(10)` followed by `Activation("sigmoid")`, `Sequential([...])` or `.add()`.
"""

from __future__ import annotations

import json

import numpy as np

# The inspection helpers are public (dlcourse.testkit.keras): they hold no answer.
from ..testkit.keras import (  # noqa: F401  (re-exported)
    dense_summary,
    dense_weights,
    ensure_built,
    fresh_weights,
    layer_summary,
    model_output,
    rebuild_model,
)

ACTIVATIONS = {
    "linear": lambda z: z,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "softmax": lambda z: np.exp(z - z.max(-1, keepdims=True))
    / np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True),
}


# ------------------------------------------------------------------ Keras models
def reference_forward(model, X, activations) -> np.ndarray:
    """The output a plain Dense chain with `activations` would give with `model`'s weights."""
    a = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    for (W, b), act in zip(dense_weights(model), activations, strict=True):
        z = a @ W + (b if b is not None else 0.0)
        a = ACTIVATIONS[act](z)
    return a


def build_mlp(input_shape, units, activations):
    import keras

    layers = [keras.Input(shape=input_shape)]
    if len(input_shape) > 1:
        layers.append(keras.layers.Flatten())
    layers += [keras.layers.Dense(u, activation=a) for u, a in zip(units, activations, strict=True)]
    return keras.Sequential(layers)



def build_fashion_mlp():
    return build_mlp((28, 28), (300, 100, 10), ("relu", "relu", "softmax"))


def keras_accuracy(model, X, y) -> float:
    p = model.predict(np.asarray(X, dtype="float32"), verbose=0, batch_size=512)
    return float(np.mean(np.argmax(p, axis=1) == np.asarray(y)))


def true_class_margins(model, X, y) -> np.ndarray:
    """log p(true class) - log p(best other class) of each image, clipped to [-30, 30]."""
    p = np.asarray(model.predict(np.asarray(X, dtype="float32"), verbose=0, batch_size=512), dtype=np.float64)
    log_p = np.log(np.clip(p, 1e-300, 1.0))
    rows, y = np.arange(len(p)), np.asarray(y, dtype=np.int64)
    true = log_p[rows, y].copy()
    log_p[rows, y] = -np.inf
    return np.clip(true - log_p.max(axis=1), -30.0, 30.0)


def margin_excess_over_unseen(model, X_val, y_val) -> float:
    """How much surer the model is of `X_val`'s labels than of images nobody trains on: the mean
    true-class margin (`true_class_margins`) on X_val minus that on notebook 04's hidden held-out
    images (2,000 Fashion-MNIST test images the grading kernel never holds), in standard
    deviations of the latter.

    Weights fitted on X_val widen their margins there. Margins are differences of logits, so
    dividing the last layer's weights by a temperature (flat probabilities, the same labels)
    changes nothing here; a loss ratio it would bring to 1."""
    from .fashion_heldout import load

    X_unseen, y_unseen = load()
    seen, unseen = true_class_margins(model, X_val, y_val), true_class_margins(model, X_unseen, y_unseen)
    return float((seen.mean() - unseen.mean()) / max(unseen.std(), 1e-12))


def compiled_cross_entropy(trained) -> bool:
    """Whether the loss `trained` (a History's model) was compiled with is notebook 01's cross-entropy
    of probabilities, mean -log p[true class], for integer or one-hot labels (checked on probes)."""
    import keras

    loss = getattr(trained, "loss", None)
    try:
        function = keras.losses.get(loss) if isinstance(loss, str) else loss
    except (ValueError, TypeError):
        return False
    if not callable(function):
        return False
    from .reference import cross_entropy  # notebook 01's, on one-hot labels

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=8).astype("float32")
    labels = rng.integers(0, 3, size=8)
    one_hot = np.eye(3, dtype="float32")[labels]
    want = cross_entropy(one_hot, probs)
    for form in (labels, one_hot):
        try:
            got = float(np.mean(np.asarray(function(form, probs))))
        except Exception:  # noqa: BLE001 - the other label form
            continue
        if np.isclose(got, want, rtol=1e-4):
            return True
    return False


ACCURACY_METRICS = {"accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy"}
ACCURACY_CLASSES = {"SparseCategoricalAccuracy", "CategoricalAccuracy"}


def compiled_accuracy(trained) -> bool:
    """Whether `trained` (a History's model, rebuilt from its configuration) was compiled with a
    classifier's accuracy among its metrics: `fit` then reports it after every epoch."""
    config = trained.get_compile_config() or {}
    found: list[bool] = []

    def walk(metric, depth: int = 0) -> None:
        if depth > 8:
            return
        if isinstance(metric, str):
            found.append(metric.lower() in ACCURACY_METRICS)
        elif isinstance(metric, dict) and "class_name" in metric:
            found.append(metric["class_name"] in ACCURACY_CLASSES)
        elif isinstance(metric, dict):
            for value in metric.values():
                walk(value, depth + 1)
        elif isinstance(metric, (list, tuple)):
            for value in metric:
                walk(value, depth + 1)

    walk(config.get("metrics"))
    walk(config.get("weighted_metrics"))
    return any(found)


def same_weights(first, second, rtol: float = 0.0, atol: float = 1e-6) -> bool:
    """Whether two lists of weight arrays are equal (shapes, and values within `rtol` and `atol`)."""
    return len(first) == len(second) and all(np.shape(a) == np.shape(b) and np.allclose(a, b, rtol=rtol, atol=atol)
                                             for a, b in zip(first, second, strict=True))


def refit_matches(trained, start, final, X, y, epochs: int, batch_size: int, logged_rates=None) -> bool:
    """Whether `final` (the weights a training function left in its model) are what `epochs` epochs
    give from the judge's `start` weights, with the optimiser and loss that `trained` was compiled
    with (the History's model, rebuilt from its configuration in the judge). Only a fit with no
    order to draw can be redone: full batches (batch_size >= len(X), one step per epoch), or any
    batch size over rows that are all the same (every batch, the last smaller one too, has the
    same gradient whatever the shuffle). Labels go in as integers, or one-hot when the compiled
    loss wants that form; both forms are correct answers.

    A callback that changed the learning rate during fit (LearningRateScheduler, ReduceLROnPlateau)
    logs each epoch's rate in the History (`logged_rates`); when the plain refit does not match, the
    refit is done again one epoch at a time at those rates (the History's word, used only to replay a
    schedule: the weights must still come out of it)."""
    import keras

    if not isinstance(trained, keras.Model) or getattr(trained, "optimizer", None) is None \
            or len(final) != len(start):
        return False
    rows, labels = np.asarray(X), np.asarray(y)
    if batch_size < len(rows) and not ((rows == rows[:1]).all() and (labels == labels[:1]).all()):
        raise ValueError("refit_matches: batches smaller than X need identical rows (no order to redo)")
    config = json.dumps(keras.saving.serialize_keras_object(trained), default=str)
    schedules = [None]
    if isinstance(logged_rates, list | tuple) and len(logged_rates) == epochs:
        schedules.append([float(rate) for rate in logged_rates])
    for rates in schedules:
        for form in (labels, keras.utils.to_categorical(labels, int(labels.max()) + 1)):
            model = rebuild_model(config, start)  # a fresh optimiser, the judge's start
            try:
                _refit(model, np.asarray(X, dtype="float32"), form, epochs, batch_size, rates)
            except Exception:  # noqa: BLE001 - this label form is not the one the loss takes
                continue
            if same_weights(model.get_weights(), final, rtol=1e-3, atol=1e-4):
                return True
    return False


def _refit(model, X, y, epochs: int, batch_size: int, rates) -> None:
    """`epochs` epochs of fit, in one call, or one epoch per call at each of `rates`."""
    if rates is None:
        model.fit(X, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0)
        return
    for rate in rates:
        model.optimizer.learning_rate = rate  # raises for a LearningRateSchedule: not this refit's case
        model.fit(X, y, epochs=1, batch_size=batch_size, shuffle=False, verbose=0)


def train_fashion(model, X, y, epochs=10, batch_size=64, lr=1e-3, seed=0):
    """The hidden tests' recipe: Adam with a cosine-decaying learning rate."""
    import keras

    keras.utils.set_random_seed(seed)
    steps = epochs * int(np.ceil(len(X) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(lr, decay_steps=steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model.fit(X, y, epochs=epochs, batch_size=batch_size, verbose=0)


# ------------------------------------------------------------------------ PyTorch

def torch_reference_forward(weights, X) -> np.ndarray:
    """relu between the Linear layers, nothing after the last one (logits).

    `weights`: [(weight (out, in), bias or None)] of the Linear layers, in order
    (`dlcourse.testkit.keras.linear_weights`).
    """
    a = np.asarray(X, dtype=np.float64)
    for i, (W, b) in enumerate(weights):
        a = a @ np.asarray(W, dtype=np.float64).T + (0.0 if b is None else np.asarray(b, dtype=np.float64))
        if i < len(weights) - 1:
            a = np.maximum(a, 0.0)
    return a


def torch_accuracy(model, X, y, device="cpu") -> float:
    import torch

    model.eval()
    with torch.no_grad():
        logits = model(torch.as_tensor(np.asarray(X), dtype=torch.float32, device=device))
    model.train()
    return float((logits.argmax(1).cpu().numpy() == np.asarray(y)).mean())


# The optimisers a train_torch may reasonably make (torch's defaults but the learning rate), and the
# ways of clearing gradients: every step (right), never or once before the loop, once per epoch.
TORCH_OPTIMISERS = {
    "SGD": lambda params, lr, torch: torch.optim.SGD(params, lr=lr),
    "SGD with momentum 0.9": lambda params, lr, torch: torch.optim.SGD(params, lr=lr, momentum=0.9),
    "Adam": lambda params, lr, torch: torch.optim.Adam(params, lr=lr),
    "AdamW": lambda params, lr, torch: torch.optim.AdamW(params, lr=lr),
    "RMSprop": lambda params, lr, torch: torch.optim.RMSprop(params, lr=lr),
    "Adagrad": lambda params, lr, torch: torch.optim.Adagrad(params, lr=lr),
    # every other optimiser of torch.optim, with its defaults ("any standard optimiser", the contract)
    "SGD with Nesterov momentum 0.9": lambda params, lr, torch: torch.optim.SGD(params, lr=lr, momentum=0.9,
                                                                               nesterov=True),
    "NAdam": lambda params, lr, torch: torch.optim.NAdam(params, lr=lr),
    "RAdam": lambda params, lr, torch: torch.optim.RAdam(params, lr=lr),
    "Adamax": lambda params, lr, torch: torch.optim.Adamax(params, lr=lr),
    "Adadelta": lambda params, lr, torch: torch.optim.Adadelta(params, lr=lr),
    "ASGD": lambda params, lr, torch: torch.optim.ASGD(params, lr=lr),
    "Rprop": lambda params, lr, torch: torch.optim.Rprop(params, lr=lr),
}
ZERO_GRAD = {"step": "before every step", "never": "never (or once, before the loop)",
             "epoch": "once per epoch"}


def torch_trained_weights(sizes, seed, X, y, epochs, lr, batch_size, optimiser, zero) -> np.ndarray:
    """The parameters, flattened, of `torch_mlp(sizes, seed)` after the grader's own loop: the
    `optimiser` of TORCH_OPTIMISERS, the gradients cleared as `zero` says (ZERO_GRAD), the batches
    taken in order (the test's samples are all alike, so any order gives these batches)."""
    import torch
    from torch import nn

    from ..testkit.keras import torch_mlp

    net = torch_mlp(list(sizes), seed=seed)
    opt = TORCH_OPTIMISERS[optimiser](net.parameters(), lr, torch)
    X = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(y), dtype=torch.long)
    for _ in range(epochs):
        if zero == "epoch":
            opt.zero_grad()
        for start in range(0, len(X), batch_size):
            if zero == "step":
                opt.zero_grad()
            nn.functional.cross_entropy(net(X[start:start + batch_size]), y[start:start + batch_size]).backward()
            opt.step()
    return torch.cat([p.detach().flatten() for p in net.parameters()]).numpy()


def train_torch_accumulation(model, sizes, seed, X, y, epochs, lr, batch_size, atol=1e-4) -> str:
    """Why `model` (a `torch_mlp(sizes, seed)` that train_torch trained on X, y) shows gradients
    added up across steps, or "". Decided from the weights alone, which the judge compares with
    its own runs from the same start: the right loop and the accumulating ones, for each standard
    optimiser. Weights that match a right loop, or no loop the grader knows (another optimiser or
    setting), pass: only a match with an accumulating loop fails."""
    import torch

    got = torch.cat([p.detach().flatten().cpu() for p in model.parameters()]).numpy()
    runs = {(name, zero): torch_trained_weights(sizes, seed, X, y, epochs, lr, batch_size, name, zero)
            for name in TORCH_OPTIMISERS for zero in ZERO_GRAD}

    def close(name, zero) -> bool:
        want = runs[name, zero]
        return want.shape == got.shape and bool(np.all(np.abs(got - want) <= atol))

    if any(close(name, "step") for name in TORCH_OPTIMISERS):
        return ""
    wrong = [(name, zero) for name in TORCH_OPTIMISERS for zero in ("never", "epoch") if close(name, zero)]
    if not wrong:
        return ""
    name, zero = wrong[0]
    steps = epochs * -(-len(X) // batch_size)
    return (f"after {steps} steps (lr={lr}, {epochs} epochs) the model's weights are exactly those of {name} "
            f"with the gradients cleared {ZERO_GRAD[zero]}: some steps used the sum of several batches' "
            "gradients, not the gradient of their own batch.")


# ------------------------------------------------------------------------ concept questions
# Answer keys of the concept questions (instructor-only: never in the release).
QUESTIONS = {
    "q_dense_params": {
        "value": 371,
        "rtol": 0.0,
        "why": "Only the first layer changes: Dense(10) on 30 inputs has 30 * 10 weights + 10 biases = 310; "
               "then 10 * 5 + 5 = 55 and 5 * 1 + 1 = 6, so 310 + 55 + 6 = 371. Without the biases it would "
               "be 355; 271 is the count for 20 inputs.",
    },
    "q_onehot_loss": {
        "answer": "b",
        "why": {
            "a": "sparse_categorical_crossentropy expects one integer class per sample, shape (N,). Given "
                 "one-hot rows of shape (N, 3), Keras stops with a shape error. 'sparse' means integer labels; "
                 "one-hot rows need categorical_crossentropy.",
            "c": "binary_crossentropy treats each of the 3 outputs as a separate yes/no question, and Keras's "
                 "'accuracy' then becomes the binary accuracy of each output (a model that always says 'no' "
                 "scores 0.67). The softmax cross-entropy of notebook 01 is categorical_crossentropy.",
            "d": "mean_squared_error runs, but it is not the cross-entropy of notebook 01, and with softmax "
                 "outputs its gradient shrinks when the network is confidently wrong (Question 3.3).",
        },
    },
    "q_why_cross_entropy": {
        "answer": "c",
        "why": {
            "a": "Only the cross-entropy gives about 0.99: its gradient at the logit is p - 1 = -0.993. The "
                 "squared error's is 2(p - 1) p (1 - p): the factor p (1 - p) = 0.0066 (the sigmoid's slope) "
                 "makes it about -0.013, so the squared error corrects a confident mistake slowly.",
            "b": "The two are swapped. The squared error's gradient at the logit is 2(p - 1) times the sigmoid's "
                 "slope p (1 - p) = 0.0066, so about -0.013. For the cross-entropy the slope cancels: "
                 "d(-log p)/dz = p - 1 = -0.993, largest when the network is most wrong.",
            "d": "Only the squared error gives about 0.013, because its gradient carries the sigmoid's slope "
                 "p (1 - p) = 0.0066. For the cross-entropy that factor cancels: d(-log p)/dz = p - 1 = -0.993, "
                 "so it corrects a confident mistake quickly.",
        },
    },
    "q_fit_updates": {
        "value": 160,
        "rtol": 0.0,
        "why": "One update per mini-batch: 1000 / 32 = 31.25, and the last, smaller batch of 8 images is a "
               "step too, so each epoch makes ceil(1000 / 32) = 32 updates and 5 epochs make 160. A larger "
               "batch size means fewer, less noisy updates per epoch.",
    },
}
