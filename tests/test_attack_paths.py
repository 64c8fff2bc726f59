"""Issue 27, "no path grades unsandboxed": the attacks on the paths around the judge.

* nbgrader's own path: `nbgrader autograde` (formgrader's Autograde button calls it) in the
  course folder would run the tests in the student's kernel, unsandboxed, with no judge. A blank
  notebook whose first solution cell silences every later error scored full marks there; the
  course's configuration now refuses, and points to `dlcourse autograde`.
* a missing sandbox: without bubblewrap, `dlcourse autograde` graded unsandboxed (a student who
  imported the instructor's reference scored full marks); with a `bwrap` that fails, every
  student got 0 with outcome "submission". The preflight now stops the run first: one error
  line, a non-zero exit, nothing recorded.
* a sandbox that breaks mid-run (after the preflight): the grader's failure, never a student's 0.

A fake `bwrap` is a script in a folder of the test's, put first on the PATH of the `dlcourse`
subprocess. Every attack starts from answers that deserve 0 or fewer points than they would get.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, written_points
from test_grading import A, _course, _scores, _submit, dlcourse

from dlcourse.classroom.demo import student_notebook
from dlcourse.classroom.release import register

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("attack_paths")]

FIRST = "softmax"  # the first solution cell of 01


def _blank_with(code: str) -> nbformat.NotebookNode:
    """A blank notebook whose first solution cell holds `code` (and no answer)."""
    return student_notebook(ROOT, A, {FIRST: code}, solve=False)


# -- nbgrader's own path: errors silenced in the student's kernel --------------------------------
INPUT_TRANSFORMER = '''
import textwrap
def _swallow(lines):
    body = "".join(lines)
    if not body.strip():
        return lines
    return ["try:\\n", textwrap.indent(body, "    ") + "\\n    pass\\n", "except BaseException:\\n", "    pass\\n"]
get_ipython().input_transformers_post.append(_swallow)
'''
RUN_CODE_PATCH = '''
ip = get_ipython()
async def _run_code(code_obj, result=None, *, async_=False):  # IPython's own, minus its error report
    try:
        if async_:
            await eval(code_obj, ip.user_global_ns, ip.user_ns)
        else:
            exec(code_obj, ip.user_global_ns, ip.user_ns)
    except BaseException:
        pass
    return False
ip.run_code = _run_code
'''
POST_RUN_CLEAR = '''
from IPython.display import clear_output
def _forget(result):
    if result.error_in_exec is not None:
        clear_output()  # the error already shown is wiped from the cell's outputs
        result.error_in_exec = None  # and the kernel replies "ok"
get_ipython().events.register("post_run_cell", _forget)
'''
NBGRADER_PATH = {"input-transformer": INPUT_TRANSFORMER, "run-code-patch": RUN_CODE_PATCH,
                 "post-run-clear": POST_RUN_CLEAR}


def nbgrader_autograde(course: Path, student: str) -> subprocess.CompletedProcess:
    """nbgrader's own CLI, as an instructor runs it in the course folder."""
    env = dict(os.environ, DLCOURSE_CELL_TIMEOUT="30")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]
    return subprocess.run([sys.executable, "-m", "nbgrader", "autograde", A, "--student", student, "--force"],
                          cwd=course, capture_output=True, text=True, timeout=900, env=env)


@pytest.fixture(scope="module")
def nbgrader_course(tmp_path_factory):
    course = _course(tmp_path_factory.mktemp("nbgrader-path"))
    register(course, A, f"sqlite:///{course / 'gradebook.db'}")
    for name, code in NBGRADER_PATH.items():
        _submit(course, name, _blank_with(code))
    return course


@pytest.mark.parametrize("attack", sorted(NBGRADER_PATH))
def test_nbgrader_autograde_in_the_course_refuses_and_records_nothing(nbgrader_course, attack):
    """Before: 23/23 for each blank notebook (its errors silenced in its own kernel). After: refused."""
    run = nbgrader_autograde(nbgrader_course, attack)
    assert run.returncode != 0, run.stdout + run.stderr
    said = run.stdout + run.stderr
    assert "dlcourse autograde" in said and "sandbox" in said, said[-2000:]
    assert attack not in _scores(nbgrader_course)  # no submission, no score
    assert not (nbgrader_course / "autograded" / attack).exists()


def test_dlcourse_autograde_still_grades_through_nbgrader_with_the_course_config(nbgrader_course):
    """The worker runs nbgrader's autograde with the course's own config files: it sets its own
    exporter and preprocessors, so the refusal never reaches it. The same attacks score 0."""
    run = dlcourse(nbgrader_course, "autograde", A, "--quiet")
    assert run.returncode == 0, run.stdout + run.stderr
    scores = _scores(nbgrader_course)
    assert {name: scores[name]["total"] for name in NBGRADER_PATH} == dict.fromkeys(NBGRADER_PATH, 0)


# -- a missing or broken sandbox -----------------------------------------------------------------
REAL_BWRAP = shutil.which("bwrap")
FAKE_BWRAP = {
    "exits-1": "#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n",
    "exits-0-without-kernel": "#!/bin/sh\nexit 0\n",
}
STOLEN = '''
import json, pathlib, dlcourse  # the course's source notebook, solutions and all, beside the package
_source = pathlib.Path(dlcourse.__file__).parents[1] / "source" / "01_softmax_cross_entropy"
_stolen = {"np": np}
for _cell in json.loads((_source / "01_softmax_cross_entropy.ipynb").read_text())["cells"]:
    if _cell["cell_type"] == "code" and _cell["metadata"].get("nbgrader", {}).get("solution"):
        exec("".join(_cell["source"]), _stolen)
# put back after every cell: the blank answer cells below redefine each function as a stub
get_ipython().events.register("post_run_cell", lambda result: globals().update(_stolen))
'''


def _bin_without_bwrap(tmp: Path) -> Path:
    """A PATH folder holding this interpreter's tools and nothing else (no bwrap)."""
    folder = tmp / "bin"
    folder.mkdir()
    for tool in Path(sys.executable).parent.iterdir():
        (folder / tool.name).symlink_to(tool)
    return folder


def _fake_bwrap(tmp: Path, script: str) -> str:
    folder = tmp / "fake-bwrap"
    folder.mkdir()
    (folder / "bwrap").write_text(script)
    (folder / "bwrap").chmod(0o755)
    return str(folder) + os.pathsep + os.environ["PATH"]


def _nothing_recorded(course: Path) -> None:
    assert not _scores(course) if (course / "gradebook.db").exists() else True
    assert not list(course.glob("autograded/*/*/.dlcourse-graded.json"))
    assert not list(course.glob("autograded/*/*/*.ipynb"))


@pytest.fixture
def small_class(tmp_path):
    course = _course(tmp_path)
    _submit(course, "reference", student_notebook(ROOT, A))
    _submit(course, "blank", student_notebook(ROOT, A, solve=False))
    return course


def test_without_bwrap_a_student_who_imports_the_answers_is_not_graded(tmp_path):
    """Before: graded unsandboxed ("kernel NOT sandboxed" in the log only), and a blank notebook
    that imports the instructor's reference scored 23/23. After: the preflight stops the run."""
    course = _course(tmp_path)
    _submit(course, "thief", _blank_with(STOLEN))
    run = dlcourse(course, "autograde", A, "--quiet", PATH=str(_bin_without_bwrap(tmp_path)))
    assert run.returncode != 0, run.stdout + run.stderr
    assert "dlcourse: error:" in run.stderr and "bwrap" in run.stderr and "apt-get install" in run.stderr
    assert "Traceback" not in run.stderr
    _nothing_recorded(course)


@pytest.mark.parametrize("fake", sorted(FAKE_BWRAP))
def test_a_bwrap_that_fails_stops_the_run_before_anyone_is_graded(small_class, tmp_path, fake):
    """Before: exit 0, every student 0/23 with outcome "submission" (the reference too). After:
    one error line naming the sandbox, a non-zero exit, no gradebook row, marker or notebook."""
    run = dlcourse(small_class, "autograde", A, "--quiet", PATH=_fake_bwrap(tmp_path, FAKE_BWRAP[fake]))
    assert run.returncode != 0, run.stdout + run.stderr
    error = [line for line in run.stderr.splitlines() if line.startswith("dlcourse: error:")]
    assert len(error) == 1 and "sandbox" in error[0], run.stderr
    assert "Traceback" not in run.stderr
    _nothing_recorded(small_class)


# A bwrap that works for the first `n` sandboxes (the preflight's, then the jobs'), then fails.
BREAKS_AFTER = """#!/bin/sh
count=$(cat "{counter}" 2>/dev/null || echo 0)
echo $((count + 1)) > "{counter}"
if [ "$count" -lt {n} ]; then exec {real} "$@"; fi
{fail}
"""
CRASH = "import os\n\ndef softmax(z):\n    return z\n\nos._exit(1)\n"


@pytest.mark.parametrize("fail, n, student", [("exit 1", 1, "reference"), ("exit 0", 1, "reference"),
                                               ("exit 1", 2, "kernel-crash")])
def test_a_sandbox_that_breaks_mid_run_is_the_graders_failure(tmp_path, fail, n, student):
    """The preflight passes, then the sandbox breaks: for every job (n=1), or only when a job needs
    a fresh kernel after its student crashed the first (n=2). Before: the student got 0 with
    outcome "submission", exit 0. After: outcome "grader", no gradebook row, exit non-zero, and
    the next run (a working sandbox) grades the student as if nothing had happened."""
    course = _course(tmp_path)
    nb = student_notebook(ROOT, A, {"softmax": CRASH}) if student == "kernel-crash" else student_notebook(ROOT, A)
    _submit(course, student, nb)
    script = BREAKS_AFTER.format(counter=tmp_path / "count", n=n, real=REAL_BWRAP, fail=fail)
    run = dlcourse(course, "autograde", A, "--quiet", "--workers", "1", PATH=_fake_bwrap(tmp_path, script))
    assert run.returncode != 0, run.stdout + run.stderr
    assert "by the grader: retried next run" in run.stdout, run.stdout
    assert student not in _scores(course)  # no 0 recorded
    assert not (course / "autograded" / student).exists()  # nor a marker or a notebook
    assert "sandbox" in run.stdout + run.stderr  # the reason is said
    again = dlcourse(course, "autograde", A, "--quiet")
    assert again.returncode == 0, again.stdout + again.stderr
    scores = _scores(course)[student]
    if student == "reference":
        assert scores["total"] == scores["max"] - written_points(A) > 0
    else:  # the crash costs its own cell's tests, as with a working sandbox from the start
        assert scores["test_softmax"] == 0 and 0 < scores["total"] < scores["max"]


def _nbgrader_export(course: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", str(out)], cwd=course,
                          capture_output=True, text=True, timeout=600)


def test_unsandboxed_authoring_is_loud_and_recorded_everywhere(tmp_path):
    """The opt-out grades without bubblewrap, says so on stderr, and records it in the marker, in
    grades.csv and on the student's feedback page; a later sandboxed run grades again."""
    import json

    import pandas as pd

    course = _course(tmp_path)
    _submit(course, "reference", student_notebook(ROOT, A))
    run = dlcourse(course, "autograde", A, "--quiet", "--unsandboxed-authoring",
                   PATH=str(_bin_without_bwrap(tmp_path)))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "WARNING" in run.stderr and "unsandboxed" in run.stderr
    marker = json.loads((course / "autograded" / "reference" / A / ".dlcourse-graded.json").read_text())
    assert marker["unsandboxed"] is True
    grades = pd.read_csv(course / "reports" / A / "grades.csv")
    assert grades.set_index("student").loc["reference", "unsandboxed"]
    assert dlcourse(course, "feedback", A).returncode == 0
    page = (course / "feedback" / "reference" / A / f"{A}.html").read_text()
    assert "without the sandbox" in page
    exported = _nbgrader_export(course, tmp_path / "grades.csv")  # nbgrader's CSV would hand it out
    assert exported.returncode == 1 and "--unsandboxed-authoring" in exported.stderr, exported.stderr
    assert f"dlcourse autograde {A} --student reference" in exported.stderr and "Traceback" not in exported.stderr
    assert not (tmp_path / "grades.csv").exists()
    again = dlcourse(course, "autograde", A, "--quiet")  # sandboxed: not "unchanged"
    assert again.returncode == 0 and "graded 1" in again.stdout, again.stdout + again.stderr
    exported = _nbgrader_export(course, tmp_path / "grades.csv")
    assert exported.returncode == 0 and (tmp_path / "grades.csv").is_file(), exported.stderr
    marker = json.loads((course / "autograded" / "reference" / A / ".dlcourse-graded.json").read_text())
    assert marker["unsandboxed"] is False
