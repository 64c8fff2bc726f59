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

