"""Reference computations for the hidden tests of 05_cnn (instructor-only, not in the bundle).

Convolutions are channels-last: `x (N, H, W, Cin)`, `w (kh, kw, Cin, Cout)`, `b (Cout,)`,
cross-correlation with symmetric zero padding, as in Keras and PyTorch.
"""

from __future__ import annotations

import numpy as np


def conv_output_size(n: int, k: int, stride: int = 1, padding: int = 0) -> int:
    return (n + 2 * padding - k) // stride + 1


def count_conv_params(kh: int, kw: int, c_in: int, c_out: int) -> int:
    return kh * kw * c_in * c_out + c_out


def keras_conv_rows(n: int, k: int, stride: int) -> int:
    """The rows of Keras's Conv2D(1, k, strides=stride) output for n x n images, run here, in the judge."""
    from keras import layers

    return int(layers.Conv2D(1, k, strides=stride)(np.zeros((1, n, n, 1), np.float32)).shape[1])


def keras_conv_params(kh: int, kw: int, c_in: int, c_out: int) -> int:
    """Keras's own count for Conv2D(c_out, (kh, kw)) over c_in channels: built here, in the judge,
    so that no layer of the test's sits in the student's kernel while count_conv_params runs."""
    from keras import layers

    layer = layers.Conv2D(c_out, (kh, kw))
    layer.build((None, 16, 16, c_in))
    return int(layer.count_params())


def _windows(x_p: np.ndarray, kh: int, kw: int, stride: int, h_out: int, w_out: int) -> np.ndarray:
    """(N, h_out, w_out, kh, kw, C) view of the kernel-sized windows of a padded input."""
    # (N, H', W', C, kh, kw)
    win = np.lib.stride_tricks.sliding_window_view(x_p, (kh, kw), axis=(1, 2))
    win = win[:, ::stride, ::stride][:, :h_out, :w_out]
    return np.moveaxis(win, 3, 5)


def conv2d_forward(x, w, b, stride: int = 1, padding: int = 0) -> np.ndarray:
    x, w, b = (np.asarray(a, dtype=np.float64) for a in (x, w, b))
    kh, kw = w.shape[:2]
    x_p = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    h_out = conv_output_size(x.shape[1], kh, stride, padding)
    w_out = conv_output_size(x.shape[2], kw, stride, padding)
    win = _windows(x_p, kh, kw, stride, h_out, w_out)
    return np.einsum("nijabc,abcd->nijd", win, w) + b


def conv2d_backward(dout, x, w, b, stride: int = 1, padding: int = 0):
    dout, x, w = (np.asarray(a, dtype=np.float64) for a in (dout, x, w))
    kh, kw = w.shape[:2]
    x_p = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    _, h_out, w_out, _ = dout.shape
    dx_p = np.zeros_like(x_p)
    dw = np.zeros_like(w)
    for i in range(h_out):
        for j in range(w_out):
            rows = slice(i * stride, i * stride + kh)
            cols = slice(j * stride, j * stride + kw)
            g = dout[:, i, j, :]
            dw += np.tensordot(x_p[:, rows, cols, :], g, axes=([0], [0]))
            dx_p[:, rows, cols, :] += np.tensordot(g, w, axes=([1], [3]))
    dx = dx_p[:, padding:padding + x.shape[1], padding:padding + x.shape[2], :]
    return dx, dw, dout.sum(axis=(0, 1, 2))


def maxpool2d_forward(x, pool: int = 2, stride: int = 2) -> np.ndarray:
    x = np.asarray(x)
    h_out = (x.shape[1] - pool) // stride + 1
    w_out = (x.shape[2] - pool) // stride + 1
    return _windows(x, pool, pool, stride, h_out, w_out).max(axis=(3, 4))


def torch_conv2d(x, w, b, stride: int = 1, padding: int = 0) -> np.ndarray:
    """torch.nn.functional.conv2d in float64, with the layout changed to and from NCHW."""
    import torch

    xt = torch.as_tensor(np.asarray(x, dtype=np.float64)).permute(0, 3, 1, 2)
    wt = torch.as_tensor(np.asarray(w, dtype=np.float64)).permute(3, 2, 0, 1)
    bt = torch.as_tensor(np.asarray(b, dtype=np.float64))
    out = torch.nn.functional.conv2d(xt, wt, bt, stride=stride, padding=padding)
    return out.permute(0, 2, 3, 1).numpy()


def keras_conv2d(x, w, b, stride: int = 1, padding: str = "valid") -> np.ndarray:
    """keras.layers.Conv2D loaded with w and b (float32)."""
    import keras

    layer = keras.layers.Conv2D(w.shape[3], w.shape[:2], strides=stride, padding=padding)
    layer.build((None,) + tuple(np.shape(x)[1:]))
    layer.set_weights([np.asarray(w, np.float32), np.asarray(b, np.float32)])
    return np.asarray(layer(np.asarray(x, np.float32)))


def keras_maxpool(x, pool: int = 2, stride: int = 2) -> np.ndarray:
    import keras

    layer = keras.layers.MaxPooling2D(pool_size=pool, strides=stride)
    return np.asarray(layer(np.asarray(x, np.float32)))


def layer_kinds(model) -> list[str]:
    """Class names of a Keras model's layers, without the InputLayer."""
    return [type(layer).__name__ for layer in model.layers if type(layer).__name__ != "InputLayer"]


def mnist_float():
    """The bundled MNIST subset as float32 (N, 28, 28, 1) in [0, 1] and int labels."""
    from dlcourse.data import load_mnist

    (X_train, y_train), (X_test, y_test) = load_mnist()
    return ((X_train[..., None] / 255.0).astype(np.float32), y_train,
            (X_test[..., None] / 255.0).astype(np.float32), y_test)



# Answer keys of the concept questions (instructor-only: never in the release).
QUESTIONS = {
    "q_conv_shape": {
        "answer": "a",
        "why": {
            "b": "(30, 30, 16) forgets the padding: floor((64 - 5) / 2) + 1 = 30. With 2 zeros on every side "
                 "it is floor((64 + 4 - 5) / 2) + 1 = 32.",
            "c": "The number of channels of the output is the number of filters (16), not the input's 3: each "
                 "filter sums over all input channels and makes one feature map.",
            "d": "(64, 64, 16) ignores the stride: with stride 2 the kernel visits every second position, so "
                 "the height and width are about halved: floor((64 + 4 - 5) / 2) + 1 = 32.",
        },
    },
    "q_pooling": {
        "answer": "a",
        "why": {
            "b": "Pooling works on each channel separately: it shrinks the height and width and keeps all 32 "
                 "channels.",
            "c": "MaxPooling2D has no parameters: it only takes the largest value of each 2x2 window (Keras's "
                 "summary shows 0 parameters for it).",
            "d": "Keras's MaxPooling2D(2) uses strides equal to the pool size by default: the windows do not "
                 "overlap, so 26x26 becomes 13x13, not 25x25.",
        },
    },
    "q_shared_params": {
        "value": 1216,
        "rtol": 0.0,
        "why": "A Conv2D layer has one 5 x 5 x 3 kernel and one bias per filter: 5*5*3*16 + 16 = 1216, whatever "
               "the image size (the same weights slide over the whole image: weight sharing). Without the "
               "biases it would be 1200; without the 3 input channels 416.",
    },
    "q_bn_one_image": {
        "answer": "b",
        "why": {
            "a": "In training mode the layer normalises with the batch's mean and variance. With one image, the "
                 "mean of each feature is the image's own value and the variance is 0: every normalised value "
                 "is (x - x) / sqrt(0 + eps) = 0, so the layer outputs beta, whatever the image.",
            "c": "eps keeps the division finite: (x - x) / sqrt(0 + eps) = 0. The layer outputs beta for every "
                 "image, so nothing crashes, but every photo gets the same prediction.",
            "d": "The running statistics are used in eval mode only. In training mode the batch's own mean and "
                 "variance are used; with one image they are its value and 0, so the output is beta.",
        },
    },
    "q_architecture": {
        "answer": "c",
        "why": {
            "a": "An LSTM reads a sequence step by step. The rows of a photo can be read that way, but then "
                 "a face that moves in the frame must be learnt again at every position; a CNN's kernels are "
                 "shared over the whole image, so a feature is found wherever it sits.",
            "b": "The order in which people arrive plays no part: each photo is decided on its own. A "
                 "classifier of single images is a CNN, whose kernels find the face's features anywhere.",
            "d": "The company has labels and wants a decision. An autoencoder only learns to compress and "
                 "rebuild its input; it would still need a classifier, and a CNN is that classifier.",
            "e": "A GAN generates images; it does not decide about the ones it is given. The task is to "
                 "classify each photo, which a CNN does.",
        },
    },
}


def numeric_conv_gradient(part: str, x, w, b, dout, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Central differences (float64) of sum(conv2d_forward(x, w, b) * dout) with respect to
    part = "dx", "dw" or "db": what a correct conv2d_backward returns for it."""
    from .reference import central_gradient

    def loss(xx, ww, bb):
        return np.sum(conv2d_forward(xx, ww, bb, stride, padding) * dout)

    if part == "dx":
        return central_gradient(lambda a: loss(a, w, b), x)
    if part == "dw":
        return central_gradient(lambda a: loss(x, a, b), w)
    if part == "db":
        return central_gradient(lambda a: loss(x, w, a), b)
    raise ValueError(f"part must be dx, dw or db, not {part!r}")


# -- batch normalisation and dropout by hand ------------------------------------------------------
def batchnorm_forward(x, gamma, beta, running_mean, running_var, train, momentum=0.1, eps=1e-5):
    """PyTorch's BatchNorm1d on (N, D) in float64: biased batch variance to normalise, unbiased one
    for the running variance; eval mode uses the running statistics. Inputs are left unchanged."""
    x, gamma, beta, rm, rv = (np.asarray(a, dtype=np.float64) for a in (x, gamma, beta, running_mean,
                                                                        running_var))
    if not train:
        return (x - rm) / np.sqrt(rv + eps) * gamma + beta, rm.copy(), rv.copy()
    n = x.shape[0]
    mu, var = x.mean(axis=0), x.var(axis=0)
    out = (x - mu) / np.sqrt(var + eps) * gamma + beta
    return out, (1 - momentum) * rm + momentum * mu, (1 - momentum) * rv + momentum * var * n / (n - 1)


def batchnorm_backward(dout, x, gamma, eps=1e-5):
    """(dx, dgamma, dbeta) of train-mode batch normalisation, the compact formula."""
    dout, x, gamma = (np.asarray(a, dtype=np.float64) for a in (dout, x, gamma))
    n = x.shape[0]
    inv = 1.0 / np.sqrt(x.var(axis=0) + eps)
    xhat = (x - x.mean(axis=0)) * inv
    dgamma, dbeta = (dout * xhat).sum(axis=0), dout.sum(axis=0)
    dx = gamma * inv / n * (n * dout - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta


def torch_batchnorm(x, gamma, beta, running_mean, running_var, train, momentum=0.1, eps=1e-5):
    """torch.nn.functional.batch_norm in float64: (out, new running mean, new running var)."""
    import torch

    rm = torch.tensor(np.asarray(running_mean, dtype=np.float64))
    rv = torch.tensor(np.asarray(running_var, dtype=np.float64))
    out = torch.nn.functional.batch_norm(
        torch.tensor(np.asarray(x, dtype=np.float64)), rm, rv,
        torch.tensor(np.asarray(gamma, dtype=np.float64)), torch.tensor(np.asarray(beta, dtype=np.float64)),
        training=bool(train), momentum=momentum, eps=eps)
    return out.numpy(), rm.numpy(), rv.numpy()


def torch_batchnorm_grads(dout, x, gamma, eps=1e-5):
    """(dx, dgamma, dbeta) by torch autograd of sum(batch_norm(x) * dout), train mode, float64."""
    import torch

    xt = torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    gt = torch.tensor(np.asarray(gamma, dtype=np.float64), requires_grad=True)
    bt = torch.zeros(xt.shape[1], dtype=torch.float64, requires_grad=True)
    out = torch.nn.functional.batch_norm(xt, None, None, gt, bt, training=True, eps=eps)
    (out * torch.tensor(np.asarray(dout, dtype=np.float64))).sum().backward()
    return xt.grad.numpy(), gt.grad.numpy(), bt.grad.numpy()


def numeric_batchnorm_gradient(part: str, dout, x, gamma, eps=1e-5) -> np.ndarray:
    """Central differences of sum(batchnorm_forward(x, gamma, beta=0, train) * dout)."""
    from .reference import central_gradient

    d = np.shape(x)[1]
    zeros, ones = np.zeros(d), np.ones(d)

    def loss(xx, gg, bb):
        return np.sum(batchnorm_forward(xx, gg, bb, zeros, ones, True, eps=eps)[0] * dout)

    x, gamma = np.array(x, dtype=np.float64), np.array(gamma, dtype=np.float64)
    if part == "dx":
        return central_gradient(lambda a: loss(a, gamma, zeros), x)
    if part == "dgamma":
        return central_gradient(lambda a: loss(x, a, zeros), gamma)
    if part == "dbeta":
        return central_gradient(lambda a: loss(x, gamma, a), zeros.copy())
    raise ValueError(f"part must be dx, dgamma or dbeta, not {part!r}")


# -- residual networks ------------------------------------------------------------------------------
def residual_block(x, filters, stride=1):
    from keras import layers

    y = layers.Conv2D(filters, 3, strides=stride, padding="same")(x)
    y = layers.BatchNormalization()(y)
    y = layers.ReLU()(y)
    y = layers.Conv2D(filters, 3, padding="same")(y)
    y = layers.BatchNormalization()(y)
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride)(x)
        shortcut = layers.BatchNormalization()(shortcut)
    return layers.ReLU()(layers.Add()([y, shortcut]))


def same_output_size(n: int, stride: int) -> int:
    """Height or width after a padding='same' convolution with this stride."""
    return -(-n // stride)
