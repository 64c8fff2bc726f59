"""The bubblewrap options the grading kernel's sandbox is built from, shared by the sandbox
(`sandbox.sandbox_kernel`), its GPU nodes (`gpu.gpu_binds`) and the device check
(tests/gpu/sandbox_gpu_check.py). Standard library only: the device check imports it on a
machine without nbgrader or Jupyter."""

from __future__ import annotations

import os
from pathlib import Path

# the operating system's folders, bound read-only into every sandbox (`system_mounts`)
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt")


def under_system(path: Path | str) -> bool:
    """Whether `path` is one of SYSTEM_DIRS or lies below one: visible in the sandbox already."""
    text = str(path)
    return any(text == d or text.startswith(d + "/") for d in SYSTEM_DIRS)


def ro_bind(path: Path | str) -> list[str]:
    """bwrap options showing `path` read-only at the same place."""
    return ["--ro-bind", str(path), str(path)]


def dev_bind(path: Path | str, target: str) -> list[str]:
    """bwrap options showing the device node `path` at `target` (under the sandbox's fresh /dev)."""
    return ["--dev-bind", str(path), target]


def system_mounts() -> list[str]:
    """bwrap options for the read-only operating system (merged-/usr links kept as links)."""
    argv: list[str] = []
    for name in SYSTEM_DIRS:
        path = Path(name)
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            argv += ro_bind(name)
    return argv


def traversable_parents(path: Path) -> list[str]:
    """bwrap options that create `path`'s missing parents so that the kernel's user can cross them."""
    argv: list[str] = []
    for folder in [*reversed(path.parents)][1:]:
        if not under_system(folder):
            argv += ["--perms", "0755", "--dir", str(folder)]
    return argv
