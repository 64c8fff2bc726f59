"""`make bench`: per notebook, the wall time and peak memory of executing the solutions,
and the autograde time of one submission beside the bare execution (grading overhead).

    python -m benchmarks [ASSIGNMENT ...] [--full]

Smoke size (DLCOURSE_SMOKE=1) unless --full. Each measurement runs in a fresh process;
peak memory is the largest resident set of the notebook's kernel.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

EXECUTE = """
import sys, pathlib, resource, nbformat
from dlcourse.grader.execute import execute, kernel_env, cell_results
nb = nbformat.read(sys.argv[1], as_version=4)
env = dict(kernel_env(), DLCOURSE_SMOKE=sys.argv[2])
out = execute(nb, pathlib.Path(sys.argv[3]), timeout=1800, env=env)
kernel_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(sum(r.passed for r in cell_results(out)), len(cell_results(out)), kernel_kb)
"""

GRADE = """
import sys, json, pathlib, tempfile, shutil, nbformat
from dlcourse.grader.autograde import make_job, run_job_subprocess
from dlcourse.classroom.demo import student_notebook
root, a = pathlib.Path(sys.argv[1]), sys.argv[2]
course = pathlib.Path(tempfile.mkdtemp())
shutil.copytree(root / "source" / a, course / "source" / a)
(course / "submitted" / "reference" / a).mkdir(parents=True)
nbformat.write(student_notebook(root, a), course / "submitted" / "reference" / a / f"{a}.ipynb")
result = run_job_subprocess(make_job(course, a, "reference"), 3600)
print(json.dumps({"ok": result.ok, "error": result.error[:200]}))
"""


def _run(code: str, *args: str, smoke: str) -> tuple[float, str]:
    start = time.perf_counter()
    env = {"DLCOURSE_SMOKE": smoke, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
           "TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0", "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - start
    out = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr.strip()[-200:]
    return seconds, out


def main(argv: list[str]) -> int:
    full = "--full" in argv
    names = [a for a in argv if not a.startswith("--")] or sorted(
        p.name for p in (ROOT / "source").iterdir() if (p / f"{p.name}.ipynb").is_file())
    smoke = "0" if full else "1"
    rows = []
    print(f"size: {'full' if full else 'smoke (DLCOURSE_SMOKE=1)'}; machine: {sys.platform}, "
          f"{__import__('os').cpu_count()} cores")
    header = f"{'notebook':<26} {'execute s':>9} {'peak MB':>8} {'tests':>7} {'autograde s':>11} {'overhead':>8}"
    print(header)
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            exec_s, tests = _run(EXECUTE, str(ROOT / "source" / name / f"{name}.ipynb"), smoke, tmp,
                                          smoke=smoke)
        grade_s, graded = _run(GRADE, str(ROOT), name, smoke=smoke)
        fields = tests.split()
        peak_mb = int(fields[2]) / 1024 if len(fields) == 3 and fields[2].isdigit() else float("nan")
        ok = json.loads(graded).get("ok") if graded.startswith("{") else False
        passed = "/".join(fields[:2]) if tests[:1].isdigit() else "error"
        ratio = grade_s / exec_s if exec_s else float("nan")
        row = {"notebook": name, "execute_s": round(exec_s, 1), "peak_mb": round(peak_mb),
               "tests": passed, "autograde_s": round(grade_s, 1), "overhead": round(ratio, 2), "graded_ok": ok}
        rows.append(row)
        print(f"{name:<26} {exec_s:>9.1f} {peak_mb:>8.0f} {passed:>7} {grade_s:>11.1f} {ratio:>7.2f}x"
              + ("" if ok else "  (autograde failed)"), flush=True)
    out = ROOT / "build" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))
    print(f"written: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
