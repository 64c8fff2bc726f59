"""CUDA against CPU: 04's train_torch, 05's LeNet (Keras, torch backend) and 07's GAN step
(issue 33, item 5). Each case runs the notebook's reference solutions (its set-up and solution
cells, as tests/gpu/run_gpu.py reads them) in a fresh process, once with CUDA hidden, once
with it; one warm-up, then the median of `--repeat` timed runs.

    python tests/gpu/timing.py [--repeat 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run_gpu import ROOT, SOURCE, parse, plain  # noqa: E402

CASES = {
    "04 train_torch (Iris-size MLP, 20 epochs, batch 16)": ("04_keras_api", """
X = np.random.default_rng(0).normal(size=(120, 4)).astype(np.float32)
y = np.random.default_rng(1).integers(0, 3, size=120)
def _run():
    train_torch(IrisNet(), X, y, epochs=20, lr=1e-2, batch_size=16, device=_DEVICE)
"""),
    "05 LeNet (Keras on torch, 1 epoch of 2048 MNIST-size images, batch 64)": ("05_cnn", """
Xl = np.random.default_rng(0).random((2048, 28, 28, 1), dtype=np.float32)
yl = np.random.default_rng(1).integers(0, 10, size=2048)
def _run():
    m = build_lenet()
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    m.fit(Xl, yl, epochs=1, batch_size=64, verbose=0)
"""),
    "07 GAN train_step (batch 64, 10 steps)": ("07_gan", """
G, D = Generator().to(_DEVICE), Discriminator().to(_DEVICE)
oG = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
oD = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
real = (torch.rand(64, 1, 28, 28) * 2 - 1).to(_DEVICE)
def _run():
    for _ in range(10):
        train_step(G, D, real, oG, oD, latent_dim=100, device=_DEVICE)
    if _DEVICE == "cuda":
        torch.cuda.synchronize()
"""),
}


def child(assignment: str, snippet: str, repeat: int) -> None:
    import builtins

    builtins.display = lambda *a, **k: None
    builtins.get_ipython = lambda: None
    ns = {"__name__": "__main__"}
    for cell in parse(SOURCE / assignment / f"{assignment}.py"):
        if cell["kind"] in ("setup", "params", "solution"):
            exec(compile(plain(cell["source"]), f"<{cell['opts'].get('id')}>", "exec"), ns)  # noqa: S102
    import torch

    ns["_DEVICE"] = "cuda" if torch.cuda.is_available() else "cpu"
    exec(compile(snippet, "<case>", "exec"), ns)  # noqa: S102
    ns["_run"]()  # warm-up (cuDNN's autotuning, compilation, first allocations)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        ns["_run"]()
        if ns["_DEVICE"] == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    name = torch.cuda.get_device_name(0) if ns["_DEVICE"] == "cuda" else f"CPU ({os.cpu_count()} cores)"
    print(json.dumps({"device": name, "median_s": statistics.median(times), "times": times}))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], CASES[args.child[1]][1], args.repeat)
        return 0
    rows = []
    for case, (assignment, _snippet) in CASES.items():
        for hide in ("", None):  # CPU first, then CUDA
            env = {**os.environ, "KERAS_BACKEND": "torch", "DLCOURSE_SMOKE": "1", "MPLBACKEND": "Agg",
                   "PYTHONPATH": str(ROOT)}
            if hide is not None:
                env["CUDA_VISIBLE_DEVICES"] = hide
            proc = subprocess.run([sys.executable, __file__, "--repeat", str(args.repeat), "--child", assignment, case],
                                  env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
            row = {"case": case, **(json.loads(lines[-1]) if lines else {"error": proc.stderr[-1500:]})}
            rows.append(row)
            print(f"{case:<72} {row.get('device', 'ERROR')[:28]:<28} "
                  + (f"{row['median_s'] * 1000:9.1f} ms" if "median_s" in row else row["error"]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
