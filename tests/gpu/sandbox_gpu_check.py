"""On the device machine: a kernel-like Python process under bubblewrap with SANDBOX["gpu"]'s
binds (`dlcourse.grader.gpu`), as `sandbox.sandbox_kernel` builds them: it must see exactly one
GPU and compute on it, see no other /dev/nvidiaN, and write nothing outside its tmpfs.
A full grading job (nbgrader, Jupyter) needs those packages, which the device machine lacks:
this checks the part that is GPU-specific, the bind list and the lock, with the real driver.

    python3 tests/gpu/sandbox_gpu_check.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from dlcourse.grader.binds import ro_bind, system_mounts, under_system  # noqa: E402
from dlcourse.grader.gpu import SandboxBroken, claim_gpu, gpu_binds, gpu_indices, gpu_library_dirs  # noqa: E402

PROBE = r"""
import glob, json, os, torch
ok = torch.cuda.is_available()
out = {"cuda": ok, "count": torch.cuda.device_count(), "nodes": sorted(glob.glob("/dev/nvidia*")),
       "DLCOURSE_GPU": os.environ.get("DLCOURSE_GPU")}
if ok:
    x = torch.randn(1024, 1024, device="cuda")
    out["name"] = torch.cuda.get_device_name(0)
    out["matmul_finite"] = bool(torch.isfinite(x @ x).all())
try:
    open("/etc/dlcourse-escape", "w")
    out["wrote_etc"] = True
except OSError:
    out["wrote_etc"] = False
print(json.dumps(out))
"""


def main() -> int:
    bwrap = shutil.which("bwrap")
    if not bwrap:
        print("sandbox-gpu: bwrap missing (carry it: tests/gpu/prepare_carry.sh)")
        return 1
    print("GPUs seen:", gpu_indices(), "library folders:", [str(p) for p in gpu_library_dirs()])
    try:
        index = claim_gpu()
    except SandboxBroken as exc:
        print("sandbox-gpu: FAILED:", exc)
        return 1
    argv = [bwrap, *system_mounts()]  # as sandbox.sandbox_kernel builds it (dlcourse.grader.binds)
    argv += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--unshare-pid", "--unshare-ipc",
             "--unshare-net", "--die-with-parent", *gpu_binds(index)]
    for path in os.environ.get("PYTHONPATH", "").split(os.pathsep):  # the carried wheels, the repo
        if path and os.path.isdir(path) and not under_system(path):
            argv += ro_bind(path)
    prefix = str(Path(sys.prefix).resolve())
    if not under_system(prefix):
        argv += ro_bind(prefix)
    env = {"PATH": "/usr/bin:/bin", "DLCOURSE_GPU": f"/dev/nvidia{index}", "HOME": "/tmp",
           "LD_LIBRARY_PATH": ":".join(map(str, gpu_library_dirs())) or os.environ.get("LD_LIBRARY_PATH", "")}
    print("binds:", " ".join(gpu_binds(index)))
    proc = subprocess.run([*argv, "--", sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                          timeout=120)
    print(proc.stdout.strip() or "(no output)")
    if proc.returncode:
        print(proc.stderr[-3000:])
        return 1
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    others = [n for n in seen["nodes"] if n.rstrip("0123456789") == "/dev/nvidia" and n != f"/dev/nvidia{index}"]
    ok = seen["cuda"] and seen["count"] == 1 and seen.get("matmul_finite") and not others and not seen["wrote_etc"]
    print("sandbox-gpu:", "OK" if ok else "FAILED", f"(GPU {index}: {seen.get('name')}; other GPU nodes {others})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
