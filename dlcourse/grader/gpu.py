"""SANDBOX["gpu"]: which NVIDIA device nodes and driver folders a grading kernel gets, and the
lock that gives each grading process of a machine its own GPU (issue 33).

Standard library only: the device check (tests/gpu/sandbox_gpu_check.py) imports it on a
machine without nbgrader or Jupyter. `sandbox.sandbox_kernel` adds `gpu_binds(claim_gpu())`
to the kernel's bubblewrap command line when `Limits.gpu` is on.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from pathlib import Path

from .binds import SYSTEM_DIRS, dev_bind, ro_bind, under_system  # noqa: F401 - SYSTEM_DIRS: the device check's


class SandboxBroken(RuntimeError):
    """The sandbox could not start a grading kernel: the grader's failure, never the student's."""


# The device nodes a CUDA program opens: the claimed GPU's /dev/nvidiaN and the shared control
# nodes. Nothing else of the host's /dev: not another GPU, not a link, not a regular file.
GPU_SHARED_NODES = ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")
GPU_NODE = re.compile(r"nvidia(0|[1-9][0-9]{0,2})")
# Where container runtimes and drivers put libcuda & co. outside SYSTEM_DIRS (which are bound
# already: /usr/lib/x86_64-linux-gnu holds them on a plain host).
# Those below SYSTEM_DIRS (/usr/local/nvidia/lib64 of a container) are visible already and only
# join LD_LIBRARY_PATH; the others (a driver container's root) are bound read-only too.
GPU_LIBRARY_DIRS = ("/usr/local/nvidia/lib64", "/usr/local/nvidia/lib", "/usr/lib/wsl/lib",
                    "/run/nvidia/driver/usr/lib/x86_64-linux-gnu", "/run/nvidia/driver/usr/lib64")
_claimed_gpu: list[int] = []  # (index, the descriptor whose lock claims it), for this process's life


def gpu_indices(dev: Path = Path("/dev")) -> list[int]:
    """The GPUs of this machine: the character devices /dev/nvidiaN (no link, no file)."""
    found = []
    try:
        names = os.listdir(dev)
    except OSError:
        return []
    for name in names:
        if GPU_NODE.fullmatch(name) and _is_char_device(dev / name):
            found.append(int(name[len("nvidia"):]))
    return sorted(found)


def _is_char_device(path: Path) -> bool:
    try:
        return stat.S_ISCHR(os.lstat(path).st_mode)  # lstat: a link to a device is refused
    except OSError:
        return False


def claim_gpu(dev: Path = Path("/dev"), lock_dir: Path | None = None) -> int:
    """One GPU of this machine for this grading process, for its life (a lock file per GPU, held
    while the process lives, as for sandbox_uid): two grading jobs on one machine never share a
    GPU. Dask gives each job one (the resource GPU=1); this lock holds where Dask is not told.
    SandboxBroken when the machine has no GPU or all are claimed (the job is graded again later)."""
    import fcntl

    if _claimed_gpu:
        return _claimed_gpu[0]
    indices = gpu_indices(dev)
    if not indices:
        raise SandboxBroken(f'SANDBOX["gpu"] is on but {dev} has no NVIDIA GPU (no {dev}/nvidiaN device)')
    folder = lock_dir or Path(tempfile.gettempdir()) / "dlcourse-gpus"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise SandboxBroken(f"{folder} is not a folder of this user's: cannot claim a GPU")
    for index in indices:
        fd = os.open(folder / str(index), os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        _claimed_gpu.extend((index, fd))
        return index
    raise SandboxBroken(f"all {len(indices)} GPUs of this machine are claimed by other grading processes")


def gpu_binds(index: int, dev: Path = Path("/dev"), library_dirs=GPU_LIBRARY_DIRS) -> list[str]:
    """bwrap options giving the kernel GPU `index` alone: its node and the shared control nodes
    (character devices directly in `dev`, bound to /dev/<name>), and the driver's library folders
    that exist outside the folders bound already (read-only; real folders, no links)."""
    if not isinstance(index, int) or isinstance(index, bool) or not GPU_NODE.fullmatch(f"nvidia{index}"):
        raise SandboxBroken(f"not a GPU index: {index!r}")
    own = dev / f"nvidia{index}"
    if not _is_char_device(own):
        raise SandboxBroken(f"{own} is not a character device")
    argv = dev_bind(own, f"/dev/nvidia{index}")
    for name in GPU_SHARED_NODES:
        if _is_char_device(dev / name):
            argv += dev_bind(dev / name, f"/dev/{name}")
    if os.path.isdir(dev / "nvidia-caps") and not os.path.islink(dev / "nvidia-caps"):  # MIG's capabilities
        for name in sorted(os.listdir(dev / "nvidia-caps")):
            if re.fullmatch(r"nvidia-cap[0-9]+", name) and _is_char_device(dev / "nvidia-caps" / name):
                argv += dev_bind(dev / "nvidia-caps" / name, f"/dev/nvidia-caps/{name}")
    for path in gpu_library_dirs(library_dirs):
        if not under_system(path):
            argv += ro_bind(path)
    return argv


def gpu_library_dirs(library_dirs=GPU_LIBRARY_DIRS) -> list[Path]:
    """The driver's library folders that exist here: absolute, real folders (no link on the way)."""
    found = []
    for folder in library_dirs:
        path = Path(folder)
        if path.is_absolute() and ".." not in path.parts and path.is_dir() \
                and os.path.realpath(path) == str(path):
            found.append(path)
    return found


