"""Public helpers for the tests of 05_cnn: stand-in "pretrained" bases and weight inspection.

Nothing here is an answer to an exercise:

* `pretrained_stand_in` builds a small convolutional base (no head, like
  `VGG16(include_top=False)`) whose weights are drawn from a seeded numpy generator, so the
  grader's judge rebuilds exactly the same base as the student's kernel. It stands in for a
  base pretrained on another data set;
* `fashion_tuning_split` and `train_in_budget` are the fixed data and training of section 11's
  tuning exercise: the student's notebook and the held-out test train every candidate the same way;
* `find_weights` tells, for each array of a base, whether a model holds it unchanged and
  whether that copy is trainable. It works on the model itself (in the kernel) and on the
  model rebuilt from its configuration and weights (in the judge), since it compares values.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pretrained_stand_in", "find_weights", "conv_backward_cases", "check_conv_backward_part",
           "batchnorm_cases", "call_in_training_mode", "fashion_tuning_split", "train_in_budget",
           "check_other_input_shape"]


def pretrained_stand_in(input_shape=(28, 28, 1), filters=(8, 16), batchnorm=False, seed=0,
                        name="pretrained_base"):
    """A small convolutional base with fixed pseudo-random weights (uncompiled, trainable).

    Conv2D(filters[0], 3x3, relu) [BatchNormalization], MaxPooling2D, then the same with
    filters[1]: its output is a 4-D feature map, like a VGG base loaded with include_top=False.
    """
    import keras
    from keras import layers

    stack = [keras.Input(shape=tuple(input_shape))]
    for f in filters:
        stack.append(layers.Conv2D(int(f), (3, 3), activation="relu"))
        if batchnorm:
            stack.append(layers.BatchNormalization())
        stack.append(layers.MaxPooling2D((2, 2)))
    base = keras.Sequential(stack, name=name)
    rng = np.random.default_rng(seed)
    weights = []
    for w in base.get_weights():
        if w.ndim == 4:  # conv kernels: He-like scale
            fan_in = int(np.prod(w.shape[:3]))
            weights.append(rng.normal(scale=np.sqrt(2.0 / fan_in), size=w.shape))
        elif w.ndim == 1 and np.all(w == 1):  # batch-norm gamma or moving variance
            weights.append(rng.uniform(0.5, 1.5, size=w.shape))
        else:  # biases, beta, moving mean
            weights.append(rng.normal(scale=0.1, size=w.shape))
    base.set_weights([w.astype("float32") for w in weights])
    return base


def find_weights(model, arrays, atol: float = 0.0) -> list[tuple[bool, bool]]:
    """For each array of `arrays`: (found unchanged among the model's weights, that weight trainable).

    A weight counts as found when it has the same shape and values (within `atol`). Trainable
    means that it is among `model.trainable_weights`, i.e. `fit` would change it.
    """
    trainable = [np.asarray(v) for v in model.trainable_weights]
    frozen = [np.asarray(v) for v in model.non_trainable_weights]

    def holds(pool, a):
        return any(p.shape == a.shape and np.allclose(p, a, rtol=0.0, atol=atol) for p in pool)

    out = []
    for a in arrays:
        a = np.asarray(a)
        in_trainable, in_frozen = holds(trainable, a), holds(frozen, a)
        out.append((in_trainable or in_frozen, in_trainable and not in_frozen))
    return out


def conv_backward_cases(seed: int) -> list[tuple]:
    """Seeded float64 inputs for checking a convolution's backward pass: (x, w, b, dout, stride,
    padding) for five shapes, strides and paddings (dout has the forward output's shape)."""
    rng = np.random.default_rng(seed)
    cases = []
    for n, h, w_, c_in, kh, kw, c_out, s, p in [  # N, H, W, C_in, kh, kw, C_out, stride, padding
        (2, 4, 4, 1, 3, 3, 2, 1, 0), (2, 5, 6, 2, 3, 2, 3, 1, 1), (3, 6, 6, 2, 3, 3, 2, 2, 0),
        (2, 7, 5, 2, 2, 3, 2, 2, 1), (1, 7, 7, 1, 3, 3, 2, 3, 2),
    ]:
        x = rng.normal(size=(n, h, w_, c_in))
        w = rng.normal(size=(kh, kw, c_in, c_out))
        b = rng.normal(size=c_out)
        dout = rng.normal(size=(n, (h + 2 * p - kh) // s + 1, (w_ + 2 * p - kw) // s + 1, c_out))
        cases.append((x, w, b, dout, s, p))
    return cases


def check_conv_backward_part(conv2d_backward, part: str, seed: int, numeric, rel_error, hint: str) -> None:
    """Check one gradient of `conv2d_backward` ("dx", "dw" or "db") on `conv_backward_cases(seed)`:
    a tuple of three, the gradient's shape, its relative error against `numeric(part, x, w, b, dout,
    stride, padding)` (central differences, given by the caller) and inputs left unchanged."""
    from ..testing import check, check_shape, check_unchanged

    index = {"dx": 0, "dw": 1, "db": 2}[part]
    for x, w, b, dout, s, p in conv_backward_cases(seed=seed):
        x0, w0, d0 = x.copy(), w.copy(), dout.copy()
        got = conv2d_backward(dout, x, w, b, stride=s, padding=p)
        label = f"x {x.shape}, w {w.shape}, stride={s}, padding={p}"
        check(isinstance(got, (tuple, list)) and len(got) == 3,
              f"conv2d_backward should return a tuple (dx, dw, db), got {type(got).__name__}.")
        check_shape(got[index], (x, w, b)[index].shape, f"{part} for {label}")
        err = rel_error(got[index], numeric(part, x, w, b, dout, s, p))
        check(err < 1e-7, f"{part} for {label} does not match central differences: relative error {err:.1e}.",
              hint=hint)
        check_unchanged(x0, x, "the input x")
        check_unchanged(w0, w, "the kernels w")
        check_unchanged(d0, dout, "dout")


def check_other_input_shape(build, call: str, softmax: bool = True):
    """Check that a model builder uses its arguments: `build(input_shape=(32, 32, 3), num_classes=5)`
    must take a (3, 32, 32, 3) batch of seeded images and give a (3, 5) output; with `softmax`, the
    rows must be probabilities. `call` is how the message writes the call, e.g.
    "build_lenet(input_shape=(32, 32, 3), num_classes=5)". Returns the output as a numpy array."""
    from ..testing import check, check_shape

    name = call.split("(")[0]
    model = build(input_shape=(32, 32, 3), num_classes=5)
    x = np.random.default_rng(0).random((3, 32, 32, 3)).astype("float32")
    try:
        probs = np.asarray(model(x))
    except Exception as exc:  # a model built for 28x28x1 rejects these images
        probs = None
        check(False, f"{call} cannot take a (3, 32, 32, 3) batch ({type(exc).__name__}).",
              hint="use the input_shape argument in keras.Input.")
    check_shape(probs, (3, 5), f"the output of {call}", hint="use the num_classes argument in the last Dense layer.")
    if softmax:
        check(np.all(probs >= 0) and np.allclose(probs.sum(axis=1), 1, atol=1e-5),
              f"{name}'s output should be probabilities (softmax).")
    return probs


def batchnorm_cases(seed: int) -> list[tuple]:
    """Seeded float64 inputs for batch normalisation: (x, gamma, beta, running_mean, running_var,
    momentum, eps) for four batch sizes and widths (running_var > 0)."""
    rng = np.random.default_rng(seed)
    cases = []
    for n, d, momentum, eps in [(4, 3, 0.1, 1e-5), (7, 5, 0.3, 1e-5), (2, 4, 0.1, 1e-3), (16, 2, 0.05, 1e-5)]:
        x = rng.normal(loc=rng.normal(size=d) * 3, scale=rng.uniform(0.5, 4, size=d), size=(n, d))
        cases.append((x, rng.normal(size=d), rng.normal(size=d), rng.normal(size=d),
                      rng.uniform(0.5, 3.0, size=d), momentum, eps))
    return cases


def call_in_training_mode(fn, x):
    """fn(x) run eagerly inside a Keras layer called with training=True, so that the layers `fn`
    creates and calls (BatchNormalization above all) run in training mode: a batch-norm layer
    then normalises with the statistics of this very batch."""
    import keras

    class _TrainingCall(keras.layers.Layer):
        def call(self, inputs):
            return fn(inputs)

    return _TrainingCall()(np.asarray(x, dtype="float32"), training=True)


# Hints that a failing visible test shows (kept here, off the notebook's screen, so that a student
# meets the formula only after trying).
BATCHNORM_DX_HINT = ("dx = gamma / sqrt(var + eps) / N * (N * dout - dout.sum(0) - xhat * (dout * xhat).sum(0)), "
                     "with xhat the normalised x and var the biased batch variance.")
DROPOUT_SCALE_HINT = ("a kept entry survives with probability 1 - p, so inverted dropout divides the kept "
                      "entries by 1 - p: the expected output is then (1 - p) * x / (1 - p) = x.")


# Section 11's budget: every candidate network is trained the same way, so only the architecture differs.
TUNE_SAMPLES = 4000     # the first 4,000 images of the Fashion-MNIST training part (after the validation split)
TUNE_EPOCHS = 5
TUNE_BATCH = 64
TUNE_LR = 2e-3          # Adam's initial η, decayed to 0 with a cosine schedule (section 6's recipe)
TUNE_MAX_PARAMS = 500_000


def fashion_tuning_split(n: int = TUNE_SAMPLES):
    """((X_fit, y_fit), (X_val, y_val)): the bundled Fashion-MNIST training split, scaled to [0, 1]
    with a channel axis, (N, 28, 28, 1) float32. The 2,000 validation images are carved out as in
    05's section 10 (stratified, random_state=0); X_fit holds the first `n` of the rest."""
    from sklearn.model_selection import train_test_split

    from ..data import load_fashion_mnist

    (X_raw, y), _ = load_fashion_mnist()
    X = (X_raw[..., None] / 255.0).astype("float32")
    X_pool, X_val, y_pool, y_val = train_test_split(X, y, test_size=2000, stratify=y, random_state=0)
    return (X_pool[:n], y_pool[:n]), (X_val, y_val)


def train_in_budget(model, X, y, validation_data=None, epochs: int = TUNE_EPOCHS, seed: int = 0):
    """Compile and fit `model` in section 11's budget: Adam with η decaying from 2e-3 to 0 (cosine),
    the sparse categorical cross-entropy, batch 64, `epochs` epochs, Keras seeded with `seed`.
    Returns the History of `fit`."""
    import keras

    keras.utils.set_random_seed(seed)
    steps = epochs * int(np.ceil(len(X) / TUNE_BATCH))
    model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(TUNE_LR, steps)),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model.fit(X, y, epochs=epochs, batch_size=TUNE_BATCH, validation_data=validation_data, verbose=0)
