"""Tolerances for comparing against a framework, per device and precision (issue 33, item 2).

A check that compares a student's numpy result with what PyTorch or Keras computes must hold
wherever the notebook runs: the grading CPU, a Colab T4 (float32), an A100/H100 where float32
matrix products and convolutions run in TF32 (10 mantissa bits: about 1e-3 relative after a
few layers), or bfloat16 (8 bits: about 1e-2). The table below is the one place these numbers
live; `framework_tolerance()` reads what the framework is set to do right now.

Gradient checks are not in the table on purpose: they compare finite differences, which lose
half the digits, so they run in float64 on every device (TF32 and bfloat16 never apply to
float64: `ref_cnn.torch_conv2d`, `ref_cnn.numeric_conv_gradient` and the numpy gradient checks
of 01-03 are float64 throughout).

`emulate(x, precision)` rounds an array to what the device would keep of it (TF32's or
bfloat16's mantissa): on a CPU, a product of emulated inputs has the error a GPU's TF32 or
bfloat16 kernels give, which is how the tolerances are proven without a GPU
(tests/test_gpu_tolerances.py).
"""

from __future__ import annotations

import numpy as np

# (rtol, atol) for a float32 framework result against a float64 numpy reference, of values
# about 1 in size (the course's inputs are standardised); per precision the device computes in.
TOLERANCES: dict[str, tuple[float, float]] = {
    "float64": (1e-7, 1e-10),    # any device: no TF32 or reduced precision for float64
    "float32": (1e-4, 1e-5),     # CPU, or a GPU with TF32 off (a T4 has none): full float32
    "tf32": (5e-3, 5e-4),        # Ampere and later, TF32 on (TensorFlow's default; torch's "high")
    "bfloat16": (3e-2, 3e-3),    # torch's "medium" matmul precision, or bfloat16 inputs
}
MANTISSA_BITS = {"float32": 23, "tf32": 10, "bfloat16": 7}


def torch_precision(device=None, dtype: str = "float32") -> str:
    """The precision torch computes float32 products in, on `device` (default: where torch would
    put them: "cuda" when present), with torch's current settings."""
    if dtype == "float64":
        return "float64"
    if dtype == "bfloat16":
        return "bfloat16"
    import torch

    kind = str(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
    setting = torch.get_float32_matmul_precision()
    if setting == "medium":
        return "bfloat16"
    if kind.startswith("cuda"):
        tf32 = setting == "high" or torch.backends.cuda.matmul.allow_tf32 or torch.backends.cudnn.allow_tf32
        major = torch.cuda.get_device_capability(torch.device(kind))[0] if torch.cuda.is_available() else 0
        if tf32 and major >= 8:  # TF32 exists from Ampere (compute capability 8.0) on
            return "tf32"
    elif setting == "high":  # a CPU may also use reduced precision when allowed (oneDNN)
        return "tf32"
    return "float32"


def tensorflow_precision(dtype: str = "float32") -> str:
    """TensorFlow's: TF32 is on by default and used on Ampere and later GPUs."""
    if dtype in ("float64", "bfloat16"):
        return dtype
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus or not tf.config.experimental.tensor_float_32_execution_enabled():
        return "float32"
    cc = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability") or (0, 0)
    return "tf32" if cc[0] >= 8 else "float32"


def keras_precision(dtype: str = "float32") -> str:
    """The precision Keras's layers compute in, for its current backend."""
    import keras

    backend = keras.backend.backend()
    if backend == "torch":
        return torch_precision(dtype=dtype)
    if backend == "tensorflow":
        return tensorflow_precision(dtype)
    return "float32" if dtype == "float32" else dtype


def framework_tolerance(precision: str | None = None, framework: str = "torch", device=None,
                        scale: float = 0.0) -> dict[str, float]:
    """`dict(rtol=..., atol=...)` for check_close, for `precision` or the one the framework uses
    now ("torch", "keras" or "tensorflow"; `device` for torch).

    `scale`: the size of the result's entries (`np.abs(expected).max()`). A sum of many products
    (a convolution, a wide layer) loses digits against its largest terms, not against its own
    value: an entry near 0 gets an absolute tolerance of rtol * scale."""
    if precision is None:
        precision = {"torch": lambda: torch_precision(device), "keras": keras_precision,
                     "tensorflow": tensorflow_precision}[framework]()
    rtol, atol = TOLERANCES[precision]
    return {"rtol": rtol, "atol": max(atol, rtol * float(scale))}


def emulate(x, precision: str) -> np.ndarray:
    """`x` as float32 whose mantissa is rounded (to nearest, ties to even) to what `precision`
    keeps: TF32's 10 bits or bfloat16's 7; float32 and float64 unchanged."""
    arr = np.asarray(x)
    if precision == "float64":
        return arr.astype(np.float64)
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    drop = 23 - MANTISSA_BITS[precision]
    if drop == 0:
        return arr
    bits = arr.view(np.uint32).astype(np.uint64)
    half = np.uint64(1 << (drop - 1))
    lsb = (bits >> np.uint64(drop)) & np.uint64(1)
    rounded = ((bits + half - np.uint64(1) + lsb) >> np.uint64(drop)) << np.uint64(drop)
    return rounded.astype(np.uint32).view(np.float32)
