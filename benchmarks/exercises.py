"""`make bench` (its second part): the new exercises of issue 30, each reference solution graded the
way grading does it (its test cells record in a kernel, the judge decides outside it), timed at smoke
size and, with --full, at full size (the `slow` test cells too), against its budget.

    python -m benchmarks.exercises [--full] [ASSIGNMENT/EXERCISE ...]

One kernel per notebook is kept warm between its exercises (as the fixture harness does); its
set-up cells run for each exercise, so a time is the set-up plus the exercise's tests. The budget is a
target, not a test: an exercise over it is printed OVER and the run exits 1.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (assignment, exercise): (smoke seconds, full seconds) on a quiet 2-core machine
BUDGETS = {
    ("05_cnn", "batchnorm_forward"): (45, 45),
    ("05_cnn", "batchnorm_backward"): (45, 45),
    ("05_cnn", "dropout_forward"): (45, 45),
    ("05_cnn", "dropout_backward"): (45, 45),
    ("05_cnn", "residual_block"): (60, 60),
    ("05_cnn", "build_small_resnet"): (60, 120),
    ("05_cnn", "build_tuned_cnn"): (60, 240),
    ("06_rnn_lstm", "rnn_forward"): (45, 45),
    ("06_rnn_lstm", "rnn_backward"): (45, 45),
    ("06_rnn_lstm", "build_char_lm"): (60, 240),
    ("06_rnn_lstm", "sample_text"): (60, 60),
    ("07_gan", "build_tuned_denoiser"): (60, 120),  # full: the held-out test trains the reference (~30 s)
    ("07_gan", "tuned_denoiser_settings"): (45, 45),
    ("08_lung_cancer_project", "saliency_map"): (60, 60),
}


def main(argv: list[str]) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    full = "--full" in argv
    os.environ["DLCOURSE_SMOKE"] = "0" if full else "1"
    wanted = [a for a in argv if not a.startswith("--")]
    chosen = [k for k in BUDGETS if not wanted or f"{k[0]}/{k[1]}" in wanted]
    from dlcourse.instructor.fixtures import WarmKernel, run_exercise

    size = "full" if full else "smoke"
    print(f"{'exercise':42} {size:>8} {'budget':>8}  tests")
    over = 0
    by_assignment: dict[str, list[str]] = {}
    for assignment, exercise in chosen:
        by_assignment.setdefault(assignment, []).append(exercise)
    for assignment, names in by_assignment.items():
        source = ROOT / "source" / assignment / f"{assignment}.ipynb"
        with WarmKernel() as kernel:
            for exercise in names:
                started = time.perf_counter()
                results = run_exercise(source, exercise, kernel=kernel, full=full, timeout=1800)
                seconds = time.perf_counter() - started
                budget = BUDGETS[(assignment, exercise)][1 if full else 0]
                passed = sum(r.passed for r in results)
                flag = "" if seconds <= budget else "  OVER"
                over += bool(flag)
                print(f"{assignment + '/' + exercise:42} {seconds:7.1f}s {budget:7d}s  "
                      f"{passed}/{len(results)} passed{flag}", flush=True)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
