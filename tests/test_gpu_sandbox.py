"""SANDBOX["gpu"] on a machine without a GPU: the bind list against a fake /dev tree, the lock per
GPU, one GPU per Dask task, and the device report's line about the job (issue 33, item 3)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from dlcourse.grader import gpu, sandbox
from dlcourse.grader.cluster import gpu_resources
from dlcourse.grader.gpu import claim_gpu, gpu_binds, gpu_indices
from dlcourse.grader.protocol import GradingJob
from dlcourse.grader.sandbox import Limits, SandboxBroken

needs_root = pytest.mark.skipif(os.getuid() != 0, reason="making character devices (mknod) needs root")

pytestmark = pytest.mark.gpu


def _node(path: Path) -> None:
    os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # /dev/null's numbers: harmless


@pytest.fixture
def fake_dev(tmp_path):
    """A /dev with two GPUs, the control nodes, MIG capabilities, and traps: a link to a GPU,
    a regular file named like one, a link reaching outside /dev, and names that only look alike."""
    dev = tmp_path / "dev"
    dev.mkdir()
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset", "null"):
        _node(dev / name)
    (dev / "nvidia-caps").mkdir()
    _node(dev / "nvidia-caps" / "nvidia-cap1")
    (dev / "nvidia-caps" / "secret").write_text("x")
    (dev / "nvidia7").symlink_to(dev / "nvidia0")          # a link: not a GPU of its own
    (dev / "nvidia8").write_text("not a device")            # a regular file
    (dev / "nvidia9").symlink_to("/etc/shadow")             # a link reaching outside /dev
    _node(dev / "nvidia01")                                  # a leading zero: not a name the driver makes
    _node(dev / "nvidia0x")
    return dev


@needs_root
def test_only_real_gpu_nodes_count(fake_dev):
    assert gpu_indices(fake_dev) == [0, 1]


def _pairs(argv: list[str]) -> list[tuple[str, str, str]]:
    return [tuple(argv[i:i + 3]) for i in range(0, len(argv), 3)]


@needs_root
def test_the_bind_list_gives_one_gpu_and_the_control_nodes(fake_dev, tmp_path):
    libs = tmp_path / "driver" / "lib64"
    libs.mkdir(parents=True)
    argv = gpu_binds(1, fake_dev, library_dirs=(str(libs), "/usr/local/nvidia/lib64", "relative/lib"))
    binds = _pairs(argv)
    devices = [(src, dst) for opt, src, dst in binds if opt == "--dev-bind"]
    assert devices == [(str(fake_dev / "nvidia1"), "/dev/nvidia1"),
                       *[(str(fake_dev / n), f"/dev/{n}") for n in gpu.GPU_SHARED_NODES],
                       (str(fake_dev / "nvidia-caps" / "nvidia-cap1"), "/dev/nvidia-caps/nvidia-cap1")]
    assert "/dev/nvidia0" not in argv  # the other GPU stays out
    # every device bound comes from the fake /dev, lands in /dev, and is a character device
    for src, dst in devices:
        assert Path(src).is_relative_to(fake_dev) and dst.startswith("/dev/nvidia")
        assert stat.S_ISCHR(os.lstat(src).st_mode)
    libraries = [(src, dst) for opt, src, dst in binds if opt == "--ro-bind"]
    assert libraries == [(str(libs), str(libs))]  # read-only; a relative folder refused
    assert {opt for opt, _, _ in binds} <= {"--dev-bind", "--ro-bind"}  # nothing writable, no --bind


@needs_root
@pytest.mark.parametrize("index", [7, 8, 9, 2, -1, True, "0", 1000])
def test_no_bind_for_a_link_a_file_a_missing_or_odd_gpu(fake_dev, index):
    with pytest.raises(SandboxBroken):
        gpu_binds(index, fake_dev)


def test_a_linked_library_folder_is_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    assert gpu.gpu_library_dirs((str(tmp_path / "link"), str(real), str(tmp_path / "x" / ".." / "real"))) \
        == [real]


@needs_root
def test_the_lock_gives_each_grading_process_its_own_gpu(fake_dev, tmp_path):
    """Three processes on a machine of two GPUs: two get different GPUs, the third none."""
    locks = tmp_path / "locks"
    locks.mkdir(mode=0o700)
    code = ("import sys, time\nfrom pathlib import Path\nfrom dlcourse.grader.sandbox import claim_gpu, SandboxBroken\n"
            "try:\n    print(claim_gpu(Path(sys.argv[1]), Path(sys.argv[2])), flush=True)\n"
            "except SandboxBroken as exc:\n    print('none', exc, flush=True)\n"
            "sys.stdin.readline()\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(fake_dev), str(locks)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(3)]
    try:
        answers = [p.stdout.readline().strip() for p in procs]
    finally:
        for p in procs:
            p.communicate("\n", timeout=30)
    assert sorted(a for a in answers if not a.startswith("none")) == ["0", "1"]
    assert sum(a.startswith("none") and "claimed" in a for a in answers) == 1


def test_no_gpu_no_claim(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu, "_claimed_gpu", [])
    (tmp_path / "dev").mkdir()
    with pytest.raises(SandboxBroken, match="no NVIDIA GPU"):
        claim_gpu(tmp_path / "dev", tmp_path / "locks")


def test_gpu_is_off_by_default_and_only_true_or_false():
    assert Limits().gpu is False
    assert Limits.from_dict({"gpu": True}).gpu is True
    for asked in (2, "2", [0, 1], "all", 1):
        with pytest.raises(ValueError, match="one GPU per grading job"):
            Limits.from_dict({"gpu": asked})


def test_a_task_asks_dask_for_one_gpu_at_most():
    assert gpu_resources(GradingJob.from_dict({"assignment": "07_gan", "student": "s", "limits": {"gpu": True}})) \
        == {"GPU": 1}
    assert gpu_resources(GradingJob.from_dict({"assignment": "07_gan", "student": "s"})) is None


def test_without_gpu_the_kernelspec_binds_no_device(tmp_path, monkeypatch):
    """SANDBOX["gpu"] off: no NVIDIA node or driver folder in the kernel's bwrap command line."""
    import json
    import shutil

    if not shutil.which("bwrap"):
        pytest.skip("bwrap missing")
    monkeypatch.setattr(sandbox, "claim_gpu", lambda: pytest.fail("claimed a GPU with gpu off"))
    monkeypatch.setenv("JUPYTER_PATH", "")
    assert sandbox.sandbox_kernel(tmp_path, [], Limits())
    spec = json.loads((tmp_path / "jupyter" / "kernels" / "python3" / "kernel.json").read_text())
    assert not any("nvidia" in arg for arg in spec["argv"])
    assert spec["env"]["DLCOURSE_GPU"] == "none"


@needs_root
def test_with_gpu_the_kernelspec_binds_the_claimed_gpu(tmp_path, monkeypatch, fake_dev):
    import json
    import shutil

    if not shutil.which("bwrap"):
        pytest.skip("bwrap missing")
    monkeypatch.setattr(sandbox, "claim_gpu", lambda: 1)
    real = sandbox.gpu_binds
    monkeypatch.setattr(sandbox, "gpu_binds", lambda index: real(index, fake_dev, library_dirs=()))
    monkeypatch.setenv("JUPYTER_PATH", "")
    scratch = tmp_path / "scratch"
    assert sandbox.sandbox_kernel(scratch, [], Limits(gpu=True))
    spec = json.loads((scratch / "jupyter" / "kernels" / "python3" / "kernel.json").read_text())
    argv = spec["argv"]
    assert argv.index("--dev-bind") > argv.index("--dev")  # after the fresh /dev, which would hide it
    assert "/dev/nvidia1" in argv and "/dev/nvidia0" not in argv
    assert spec["env"]["DLCOURSE_GPU"] == "/dev/nvidia1"


def test_the_device_report_says_what_the_job_ran_on(monkeypatch, capsys):
    from dlcourse.env import device_report

    monkeypatch.delenv("DLCOURSE_SANDBOX", raising=False)
    assert "graded on" not in device_report(("numpy",))
    monkeypatch.setenv("DLCOURSE_SANDBOX", "1")
    monkeypatch.setenv("DLCOURSE_GPU", "none")
    assert device_report(("numpy",))["graded on"] == "sandboxed kernel, CPU only (no GPU given to this job)"
    monkeypatch.setenv("DLCOURSE_GPU", "/dev/nvidia3")
    assert device_report(("numpy",))["graded on"].startswith("sandboxed kernel, one GPU: /dev/nvidia3")
    assert "graded on" in capsys.readouterr().out


def test_the_sandbox_and_its_gpu_binds_share_one_set_of_bind_helpers():
    """Issue 29, item 3: gpu.py repeated sandbox.py's bind helpers (the system folders' test, the
    read-only bind); both, and the device check, now take them from dlcourse.grader.binds."""
    import inspect

    from dlcourse.grader import binds

    assert sandbox.system_mounts is binds.system_mounts and sandbox.traversable_parents is binds.traversable_parents
    for module in (gpu, sandbox):
        text = inspect.getsource(module)
        assert '"--ro-bind", str(' not in text and 'startswith(d + "/")' not in text, module.__name__
    assert binds.under_system("/usr/lib/x86_64-linux-gnu") and not binds.under_system("/usrlocal")
    assert binds.ro_bind("/opt/x") == ["--ro-bind", "/opt/x", "/opt/x"]
