"""Seeds, quiet TensorFlow, and the device report every notebook starts with."""

from __future__ import annotations

import os
import random
import sys

# TensorFlow writes log noise into notebooks unless both are set before it loads.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def in_colab() -> bool:
    return "google.colab" in sys.modules


def seed_everything(seed: int = 0) -> None:
    """Seed Python, numpy, and PyTorch / Keras when they are already imported."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
    if "keras" in sys.modules:
        sys.modules["keras"].utils.set_random_seed(seed)


def torch_device(prefer: str | None = None):
    """The best PyTorch device here ("cuda" when present, else "cpu")."""
    import torch

    if prefer:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def grading_report() -> str | None:
    """In a grading kernel: what the grading job ran on (the sandbox's GPU or none), else None."""
    sandbox = os.environ.get("DLCOURSE_SANDBOX")
    if sandbox is None:
        return None
    where = "sandboxed kernel" if sandbox == "1" else "unsandboxed kernel (authoring)"
    gpu = os.environ.get("DLCOURSE_GPU", "none")
    if gpu == "none":
        return f"{where}, CPU only (no GPU given to this job)"
    name = ""
    if "torch" in sys.modules and sys.modules["torch"].cuda.is_available():
        name = f" ({sys.modules['torch'].cuda.get_device_name(0)})"
    return f"{where}, one GPU: {gpu}{name}"


def device_report(frameworks: tuple[str, ...] = ("numpy",)) -> dict[str, str]:
    """Print (and return) the accelerators each framework sees.

    Only the frameworks named are imported, so a numpy notebook stays fast.
    """
    report: dict[str, str] = {"python": sys.version.split()[0]}
    if "numpy" in frameworks:
        import numpy as np

        report["numpy"] = f"{np.__version__} (CPU)"
    if "torch" in frameworks:
        import torch

        if torch.cuda.is_available():
            name = torch.cuda.get_device_name(0)
            major, minor = torch.cuda.get_device_capability(0)
            report["torch"] = f"{torch.__version__}: CUDA {name}, compute capability {major}.{minor}"
        else:
            report["torch"] = f"{torch.__version__}: CPU only"
    if "tensorflow" in frameworks:
        try:
            import tensorflow as tf
        except ImportError:  # Keras on another backend (a machine with only PyTorch): said, not fatal
            tf = None
            report["tensorflow"] = "not installed"
    if "tensorflow" in frameworks and tf is not None:
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            cc = details.get("compute_capability")
            cap = f", compute capability {cc[0]}.{cc[1]}" if cc else ""
            report["tensorflow"] = f"{tf.__version__}: GPU {details.get('device_name', gpus[0].name)}{cap}"
        else:
            report["tensorflow"] = f"{tf.__version__}: CPU only"
    if "keras" in frameworks:
        import keras

        report["keras"] = f"{keras.__version__} (backend: {keras.backend.backend()})"
    grading = grading_report()
    if grading:
        report["graded on"] = grading
    width = max(map(len, report))
    for key, value in report.items():
        print(f"{key:<{width}}  {value}")
    return report
