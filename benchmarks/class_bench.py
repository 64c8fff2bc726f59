"""Grading a class: plain sequential `nbgrader autograde` against `dlcourse autograde --workers N`.

    python -m benchmarks.class_bench [--students 40] [--workers 2] [ASSIGNMENT ...]

A generated class (reference, blank and fixture-mistake submissions mixed) of each
assignment is graded twice in separate copies of the course; the script prints both
times, the speedup, the per-submission time beside a bare execution of the notebook,
and whether every score of every cell is identical.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dlcourse.classroom.demo import generated_class  # noqa: E402


def make_course(base: Path, assignments: list[str], students: int) -> Path:
    return generated_class(ROOT, base, assignments, students)


def env() -> dict[str, str]:
    e = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS="0", MPLBACKEND="Agg")
    e["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{e['PATH']}"
    return e


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def scores(course: Path, assignment: str) -> dict:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {(s.student_id, g.name): g.score for s in gb.assignment_submissions(assignment)
                for nb in s.notebooks for g in nb.grades}


def nbgrader_preprocessors() -> str:
    """nbgrader's own default autograde preprocessors, as a command-line list."""
    from nbgrader.converters import Autograde

    names = [f"{c.__module__}.{c.__name__}" for c in Autograde.class_traits()["autograde_preprocessors"].default()]
    return json.dumps(names)


# nbgrader's command line as another environment runs it: `python -S` (no `.pth` file, so no
# dlcourse.autograde_guard) with this environment's packages and the course on sys.path
PLAIN_NBGRADER = ("import sys; sys.path[:0] = sys.argv[1].split(':'); sys.argv = ['nbgrader', *sys.argv[2:]]; "
                  "from nbgrader.apps.nbgraderapp import main; main()")


def plain_nbgrader(*args: str) -> list[str]:
    import sysconfig

    return [sys.executable, "-S", "-c", PLAIN_NBGRADER, f"{sysconfig.get_paths()['purelib']}:{ROOT}", *args]


def bare_execution(assignment: str) -> float:
    code = ("import sys, pathlib, nbformat; from dlcourse.grader.execute import execute; "
            "from dlcourse.classroom.demo import student_notebook; "
            f"execute(student_notebook(pathlib.Path({str(ROOT)!r}), {assignment!r}), pathlib.Path('.'))")
    with tempfile.TemporaryDirectory() as tmp:
        return timed([sys.executable, "-c", code], Path(tmp))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("assignments", nargs="*", default=["01_softmax_cross_entropy", "02_backprop_by_hand"])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args(argv)
    print(f"class of {args.students} submissions per assignment, {args.workers} workers, {os.cpu_count()} cores")
    print(f"{'assignment':<26} {'nbgrader s':>10} {'dlcourse s':>10} {'speedup':>8} {'bare s/nb':>9} "
          f"{'nbgrader s/nb':>13} {'dlcourse s/nb':>13} {'identical':>9}")
    for a in args.assignments:
        with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
            plain = make_course(Path(tmp) / "plain", [a], args.students)
            ours = make_course(Path(tmp) / "ours", [a], args.students)
            nbgrader = str(Path(sys.executable).parent / "nbgrader")
            timed([nbgrader, "generate_assignment", a, "--force", "--log-level=ERROR"], plain)
            # the baseline: nbgrader's own autograde, which the course refuses (it runs the tests in the
            # student's kernel): from another environment, its exporter, preprocessors and kernel manager
            # put back over the course's configuration. This generated class is the course's own answers.
            t_plain = timed(plain_nbgrader("autograde", a, "--force", "--log-level=ERROR",
                                           "--Autograde.exporter_class=nbconvert.exporters.NotebookExporter",
                                           f"--Autograde.autograde_preprocessors={nbgrader_preprocessors()}",
                                           "--Execute.kernel_manager_class=jupyter_client.manager.AsyncKernelManager"),
                            plain)
            t_ours = timed([sys.executable, "-m", "dlcourse.cli", "--root", str(ours), "autograde", a,
                            "--workers", str(args.workers), "--force", "--quiet"], ours)
            by_plain, by_ours = scores(plain, a), scores(ours, a)
            same = by_plain == by_ours
            bare = bare_execution(a)
            n = args.students
            print(f"{a:<26} {t_plain:>10.1f} {t_ours:>10.1f} {t_plain / t_ours:>7.2f}x {bare:>9.1f} "
                  f"{t_plain / n:>13.2f} {t_ours * args.workers / n:>13.2f} {str(same):>9}", flush=True)
            for key in sorted(k for k in by_plain.keys() | by_ours.keys() if by_plain.get(k) != by_ours.get(k)):
                print(f"  {key[0]} {key[1]}: nbgrader in the kernel {by_plain.get(key)}, the judge {by_ours.get(key)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
