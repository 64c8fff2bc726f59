"""`make test-gpu`'s runner (tests/gpu/run_gpu.py), checked on a CPU (issue 33, item 1)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "gpu"))
import run_gpu  # noqa: E402

pytestmark = pytest.mark.gpu


def test_without_a_device_one_line_and_exit_0():
    proc = subprocess.run(["make", "-s", "test-gpu"], cwd=ROOT, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "CUDA_VISIBLE_DEVICES": ""}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines() == ["test-gpu: no CUDA device here: nothing run"]


def test_it_finds_the_framework_exercises():
    found = {nb: set(run_gpu.framework_exercises(run_gpu.parse(run_gpu.SOURCE / nb / f"{nb}.py")))
             for nb in ("04_keras_api", "07_gan")}
    assert {"IrisNet", "train_torch", "build_iris_sequential"} <= found["04_keras_api"]
    assert {"Generator", "Discriminator", "discriminator_loss", "generator_loss", "train_step"} <= found["07_gan"]
    assert not any(name.startswith("q_") for names in found.values() for name in names)


def test_on_cpu_references_and_valid_pass_and_misconceptions_are_caught(capsys):
    rc = run_gpu.main(["--device", "cpu", "--misconceptions", "--only", "07_gan:generator_loss,04_keras_api:IrisNet"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "test-gpu (cpu): 5 passed, 7 misconceptions caught, 0 failed" in out
    for name in ("IrisNet__tanh_hidden", "generator_loss__saturating"):
        assert f"{name}" in out and "caught" in out.split(name)[1].splitlines()[0]
