"""End to end through the real CLI: release, a class of scenario submissions, autograde,
exact scores from the gradebook, feedback without hidden code, validate's exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, written_points

from dlcourse.classroom.demo import scratch_course, student_notebook
from dlcourse.instructor.fixtures import load_fixture

A = "01_softmax_cross_entropy"
FIX = ROOT / "tests" / "fixtures" / A
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grading")]


def dlcourse(course: Path, *args: str, timeout: int = 900, **env_extra) -> subprocess.CompletedProcess:
    # 01's cells take a second or two: 10 s leaves room under load and bounds the infinite loops
    env = dict(os.environ, **{"DLCOURSE_CELL_TIMEOUT": "10", **env_extra})
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]
    return subprocess.run([sys.executable, "-m", "dlcourse.cli", "--root", str(course), *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


def _course(tmp: Path) -> Path:
    """A copy of the course (source, release, config) to grade in."""
    return scratch_course(ROOT, tmp / "course", [A])


def _submit(course: Path, student: str, nb=None, raw: bytes | None = None, name: str = f"{A}.ipynb"):
    folder = course / "submitted" / student / A
    folder.mkdir(parents=True)
    if raw is not None:
        (folder / name).write_bytes(raw)
    else:
        nbformat.write(nb, folder / name)


def _with_code(exercise: str, code: str):
    return student_notebook(ROOT, A, {exercise: code})


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    course = _course(tmp_path_factory.mktemp("class"))
    _submit(course, "reference", student_notebook(ROOT, A))
    _submit(course, "submitted-unchanged", nbformat.read(ROOT / "release" / A / f"{A}.ipynb", as_version=4))
    # with an import of scikit-learn, whose joblib probes /dev/shm (absent in the sandbox) when loaded
    _submit(course, "unstable-softmax", _with_code("softmax", "import sklearn.utils\n" + load_fixture(
        FIX / "softmax__unstable_no_max.py").code))
    cheat = ("import numpy as np\nget_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\n"
             "def softmax(z):\n    raise NotImplementedError()\n")
    cheat_nb = _with_code("softmax", cheat)
    for cell in cheat_nb.cells:  # and the test deleted, which nbgrader puts back (and says so)
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "test_softmax":
            cell.source = "pass  # no test here"
    _submit(course, "submitted-cheat-attempt", cheat_nb)
    loop = "def softmax(z):\n    return None\n\nwhile True:\n    pass\n"
    _submit(course, "infinite-loop", _with_code("softmax", loop))
    _submit(course, "broken-json", raw=b"{ this is not a notebook")
    crash = "import os\n\ndef softmax(z):\n    return z\n\nos._exit(1)\n"
    _submit(course, "kernel-crash", _with_code("softmax", crash))
    hostile = ("import pathlib\nfor p in pathlib.Path('/').glob('tmp/**/gradebook.db'):\n"
               "    try:\n        p.write_text('garbage')\n    except OSError:\n        pass\n")
    _submit(course, "hostile-gradebook", _with_code("cross_entropy", hostile + load_fixture(
        FIX / "cross_entropy__valid_loop.py").code))
    run = dlcourse(course, "autograde", A, "--workers", "2", "--quiet")
    assert run.returncode == 0, run.stdout + run.stderr
    return course, run


def _scores(course: Path) -> dict[str, dict]:
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for sub in gb.assignment_submissions(A):
            out[sub.student_id] = {"total": sub.score, "max": sub.max_score,
                                   **{g.name: g.score for nb in sub.notebooks for g in nb.grades}}
    return out


def test_exact_scores(graded_class):
    course, _ = graded_class
    scores = _scores(course)
    full = scores["reference"]["max"]
    assert full > 0
    assert scores["reference"]["total"] == full - written_points(A)  # written answers: formgrader's
    assert scores["submitted-unchanged"]["total"] == 0
    assert scores["broken-json"]["total"] == 0
    # the unstable softmax loses exactly the stability test's points
    unstable = scores["unstable-softmax"]
    assert unstable["test_softmax_stability"] == 0 and unstable["test_softmax"] > 0
    assert unstable["total"] == scores["reference"]["total"] - scores["reference"]["test_softmax_stability"]


def test_graded_notebooks_carry_no_warning_of_the_sandbox(graded_class):
    """What the sandbox lacks (a home, /dev/shm) never prints into the notebook the student gets back."""
    course, _ = graded_class
    for student in ("reference", "unstable-softmax"):
        nb = nbformat.read(course / "autograded" / student / A / f"{A}.ipynb", as_version=4)
        stderr = [out.text for cell in nb.cells if cell.cell_type == "code"
                  for out in cell.get("outputs", []) if out.get("name") == "stderr"]
        assert not stderr, f"{student}: {stderr[:2]}"


def test_cheat_attempt_gets_no_points_for_swallowed_errors(graded_class):
    course, _ = graded_class
    cheat = _scores(course)["submitted-cheat-attempt"]
    assert cheat["test_softmax"] == 0 and cheat["test_softmax_stability"] == 0


def test_infinite_loop_and_crash_cost_only_that_student(graded_class):
    course, _ = graded_class
    scores = _scores(course)
    assert scores["infinite-loop"]["test_softmax"] == 0
    assert scores["kernel-crash"]["test_softmax"] == 0
    assert scores["reference"]["total"] == scores["reference"]["max"] - written_points(A)


def test_hostile_code_cannot_touch_the_class_gradebook(graded_class):
    course, _ = graded_class
    scores = _scores(course)
    assert scores["hostile-gradebook"]["test_cross_entropy"] > 0  # its code is a valid solution
    assert len(scores) == 8


def test_reports_and_summary(graded_class):
    course, run = graded_class
    assert "graded" in run.stdout and "reference" in run.stdout
    import pandas as pd

    grades = pd.read_csv(course / "reports" / A / "grades.csv")
    assert set(grades["student"]) == set(_scores(course))
    tests = pd.read_csv(course / "reports" / A / "tests.csv").set_index("test")
    assert tests.loc["test_softmax_stability", "failed"] >= 2
    for name in ("canvas.csv", "moodle.csv", "histogram.png"):
        assert (course / "reports" / A / name).stat().st_size > 0


def test_rerun_skips_unchanged_and_regrades_one_student(graded_class):
    course, _ = graded_class
    before = _scores(course)
    again = dlcourse(course, "autograde", A, "--quiet")
    assert again.returncode == 0, again.stderr
    assert "graded 0" in again.stdout and "skipped 8" in again.stdout
    one = dlcourse(course, "autograde", A, "--student", "unstable-softmax", "--force", "--quiet")
    assert one.returncode == 0 and "graded 1" in one.stdout
    assert _scores(course) == before


def test_feedback_never_shows_hidden_test_code(graded_class):
    course, _ = graded_class
    roster = course / "roster.csv"  # issue 29, surprise 19: the page names the student, not only the id
    roster.write_text("student_id,first_name,last_name,email\nsubmitted-unchanged,Bruna,Costa,bruna@uni.example\n")
    run = dlcourse(course, "feedback", A, "--roster", str(roster))
    assert run.returncode == 0, run.stderr
    source = nbformat.read(ROOT / "source" / A / f"{A}.ipynb", as_version=4)
    hidden_lines = []
    for cell in source.cells:
        if "### BEGIN HIDDEN TESTS" in cell.source:
            block = cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
            hidden_lines += [ln.strip() for ln in block.splitlines() if len(ln.strip()) > 25]
    pages = list((course / "feedback").glob(f"*/{A}/*.html"))
    assert len(pages) == 8, sorted(p.parent.parent.name for p in pages)
    for page in pages:
        text = page.read_text()
        assert "BEGIN HIDDEN" not in text
        leaked = [ln for ln in hidden_lines if ln in text]
        assert not leaked, f"{page} shows hidden test code: {leaked[:2]}"
    broken = (course / "feedback" / "broken-json" / A / f"{A}.html").read_text()
    assert "could not be graded" in broken
    unstable = (course / "feedback" / "unstable-softmax" / A / f"{A}.html").read_text()
    assert "test_softmax_stability" in unstable and "subtract the largest score" in unstable
    # issue 29, surprise 11: the released notebook handed in unchanged. Before: each test's message was
    # "NotImplementedError: softmax raised NotImplementedError in the grading kernel", as if it were a bug
    blank = (course / "feedback" / "submitted-unchanged" / A / f"{A}.html").read_text()
    assert "not attempted" in blank and "NotImplementedError:" not in blank
    assert "Not attempted: no exercise of this notebook was written" in blank
    assert "Student: <b>Bruna Costa (submitted-unchanged)</b>" in blank
    assert "Student: <b>reference</b>" in (course / "feedback" / "reference" / A / f"{A}.html").read_text()


def test_markers_record_each_test(graded_class):
    course, _ = graded_class
    marker = json.loads((course / "autograded" / "reference" / A / ".dlcourse-graded.json").read_text())
    assert all(r["passed"] for r in marker["results"][A])
    assert marker["outcome"] == "graded" and marker["grader"]
    log = (course / "autograded" / "reference" / A / ".dlcourse-grading.log").read_text()
    assert f"grading reference/{A}" in log and "judged outside the kernel" in log  # the worker's log, kept


def test_the_job_log_says_what_a_student_changed_and_nothing_that_is_no_news(graded_class):
    """nbgrader warns that every test cell with hidden tests "has changed!" (it compares with the
    source, hidden tests included); the log keeps that only for a test the student edited, and
    none of the known harmless notes (SQLAlchemy's, IPython's read-only folder)."""
    course, _ = graded_class
    logs = {s: (course / "autograded" / s / A / ".dlcourse-grading.log").read_text()
            for s in ("reference", "unstable-softmax", "submitted-cheat-attempt")}
    for student, log in logs.items():
        assert "not in session" not in log and "is not a writable location" not in log, student
    assert "has changed!" not in logs["reference"] and "has changed!" not in logs["unstable-softmax"]
    changed = [ln for ln in logs["submitted-cheat-attempt"].splitlines() if "has changed!" in ln]
    assert len(changed) == 1 and "for cell test_softmax " in changed[0], changed


def test_validate_exit_codes(tmp_path):
    good = tmp_path / "good" / f"{A}.ipynb"
    bad = tmp_path / "bad" / f"{A}.ipynb"
    for path, nb in ((good, student_notebook(ROOT, A)),
                     (bad, _with_code("softmax", load_fixture(FIX / "softmax__batch_axis.py").code))):
        path.parent.mkdir()
        nbformat.write(nb, path)
    ok = dlcourse(ROOT, "validate", str(good))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    failing = dlcourse(ROOT, "validate", str(bad))
    assert failing.returncode == 1 and "FAIL  test_softmax" in failing.stdout
    missing = dlcourse(ROOT, "validate", str(tmp_path / "nope.ipynb"))
    assert missing.returncode == 2


def test_bad_arguments_exit_nonzero_with_a_message(tmp_path):
    course = _course(tmp_path)
    run = dlcourse(course, "autograde", "99_nope")
    assert run.returncode == 2 and "unknown assignment '99_nope'" in run.stderr
    run = dlcourse(course, "autograde", A)
    assert run.returncode == 2 and "no submitted/ folder" in run.stderr
    run = dlcourse(course, "release", "nope")
    assert run.returncode == 2 and "known assignments" in run.stderr


def test_grading_works_with_tmpdir_outside_tmp(tmp_path):
    """$TMPDIR elsewhere than /tmp (clusters and servers set it): the scratch folders land there,
    outside the sandbox's mounts. Before: every kernel died at start and the run blamed bubblewrap."""
    import shutil
    import tempfile

    course = _course(tmp_path)
    _submit(course, "reference", student_notebook(ROOT, A))
    elsewhere = Path(tempfile.mkdtemp(prefix="dlcourse-tmpdir-", dir="/var/tmp"))
    try:
        run = dlcourse(course, "autograde", A, "--quiet", "--workers", "1", TMPDIR=str(elsewhere))
        assert run.returncode == 0, run.stdout + run.stderr
        assert _scores(course)["reference"]["total"] == _scores(course)["reference"]["max"] - written_points(A)
    finally:
        shutil.rmtree(elsewhere, ignore_errors=True)


def test_kernel_start_failures_belong_to_their_run(tmp_path, monkeypatch):
    """Issue 27: why kernels could not start is the run's own record (`StartFailures`, handed to
    its SandboxedExecute through the configuration, as the worker and the preflight do), never a
    module global that another run in the same process (serve, tests) would read. Before: run A's
    failure stayed in `sandbox.START_FAILURES`, where run B's worker read it as its own sandbox's
    failure (and B's clearing it hid A's)."""
    from traitlets.config import Config

    from dlcourse.grader import sandbox
    from dlcourse.grader.sandbox import Attempt, SandboxBroken, SandboxedExecute, StartFailures

    assert not hasattr(sandbox, "START_FAILURES")

    def run(name: str, fails: bool) -> StartFailures:
        failures = StartFailures()
        (tmp_path / name / "work").mkdir(parents=True)
        config = Config()
        config.SandboxedExecute.update(scratch=str(tmp_path / name), start_failures=failures, kernel_name="python3")
        execute = SandboxedExecute(config=config)
        assert execute.start_failures is failures  # the run's own, not a copy of it
        if fails:
            monkeypatch.setattr(execute, "_run_kernel", lambda *a, **k: Attempt("start", 0, "DeadKernelError: x"))
        else:
            monkeypatch.setattr(execute, "_run_kernel", lambda *a, **k: Attempt("run"))
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
        try:
            execute.preprocess(nb, {"nbgrader": {"notebook": name}})
        except SandboxBroken as exc:
            assert fails and str(exc) == failures.reasons[-1]
        return failures

    a = run("a", fails=True)
    b = run("b", fails=False)
    assert a and "could not start: DeadKernelError: x" in a.reasons[0]
    assert not b and b.reasons == []  # B's kernels started: nothing of A's is B's
    assert not SandboxedExecute().start_failures  # a SandboxedExecute of nobody's run starts empty
