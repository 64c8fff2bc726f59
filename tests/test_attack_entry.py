"""Issue 27, items 4-6, round 2: a hostile review of the ENTRY POINTS (a careless instructor, a
hostile student). tests/test_attack_paths.py already covers nbgrader's CLI in the course folder,
a missing bwrap, a bwrap that fails, a sandbox that breaks mid-run and the loud authoring opt-out;
this file tries the paths around those. Each test asserts the SAFE outcome; the ones that do not
hold yet are marked xfail(strict=True) with what works today.

* nbgrader's own grading from elsewhere: another working directory, `--config`, `--Execute.*`,
  `--Autograde.*` on the command line, nbgrader's Python API as its documentation teaches it.
* what the course's tools make of a grade nbgrader gave on its own (reports, LMS files, feedback).
* a bwrap that starts the kernel but isolates nothing (the preflight only checks that a cell runs).
* SANDBOX settings misspelt or of the wrong type (the configuration check does not look at them).
* `dlcourse validate` and `nbgrader validate` pointed at a student's submission by the instructor.

Every attack starts from a blank notebook (its answers deserve 0 of the 23 test points).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT
from test_attack_paths import INPUT_TRANSFORMER, STOLEN, _blank_with
from test_grading import A, _course, _scores, _submit, dlcourse

from dlcourse.classroom.release import register

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("attack_entry")]

TESTS_MAX = 23.0  # the points of 01's test cells (the rest are written answers)


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, **{"DLCOURSE_CELL_TIMEOUT": "30", **extra})
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]
    return env


def _nbgrader(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env=_env())


def _graded_nowhere(course: Path, student: str) -> None:
    """No gradebook submission, no autograded/ folder for `student`."""
    assert student not in _scores(course), _scores(course).get(student)
    assert not (course / "autograded" / student).exists()


STUDENTS = ["elsewhere-root", "elsewhere-config", "execute-override", "sanitize-override", "exporter-override",
            "python-api", "python-api-loop", "python-api-named", "python-api-supervisor", "python-api-no-kernel",
            "edited-config", "feedback-leak"]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course (01 registered in its gradebook) with one blank, error-swallowing notebook per attack."""
    course = _course(tmp_path_factory.mktemp("entry"))
    register(course, A, f"sqlite:///{course / 'gradebook.db'}")
    for student in STUDENTS:
        _submit(course, student, _blank_with(INPUT_TRANSFORMER))
    return course


# -- nbgrader's own autograde, from elsewhere or with overrides: holds ------------------------------
@pytest.mark.parametrize("student, where, args", [
    ("elsewhere-root", "elsewhere", ["--CourseDirectory.root={course}"]),
    ("elsewhere-config", "elsewhere", ["--config={empty}", "--CourseDirectory.root={course}"]),
    ("execute-override", "course", ["--Execute.timeout=5", "--Execute.interrupt_on_timeout=False"]),
    ("sanitize-override", "course", ["--Autograde.sanitize_preprocessors=[]"]),
])
def test_nbgrader_autograde_refuses_from_another_folder_and_with_overrides(course, tmp_path, student, where, args):
    """nbgrader 0.9 loads the course root's nbgrader_config.py after the working directory's, so
    `--CourseDirectory.root` from elsewhere, an empty `--config`, and `--Execute.*` or
    `--Autograde.sanitize_preprocessors` overrides all still meet the refusing exporter. Holds."""
    (tmp_path / "empty_config.py").write_text("c = get_config()  # noqa: F821\n")
    cwd = tmp_path if where == "elsewhere" else course
    run = _nbgrader(cwd, "autograde", A, "--student", student, "--force",
                    *[a.format(course=course, empty=tmp_path / "empty_config.py") for a in args])
    assert run.returncode != 0, run.stdout + run.stderr
    assert "dlcourse autograde" in run.stdout + run.stderr
    _graded_nowhere(course, student)


# -- nbgrader's own autograde, with one more flag or through its Python API: grades in the kernel ----
def test_nbgrader_autograde_with_the_exporter_overridden_still_refuses(course):
    """One command-line flag (what a forum answer to "autograde is turned off" would suggest)
    undoes the only guard: the refusal lives in the exporter class alone, and the autograde
    preprocessors (nbgrader's Execute first) are nbgrader's defaults."""
    run = _nbgrader(course, "autograde", A, "--student", "exporter-override", "--force",
                    "--Autograde.exporter_class=nbconvert.exporters.NotebookExporter")
    assert run.returncode != 0, run.stdout + run.stderr
    assert "dlcourse autograde" in run.stdout + run.stderr
    _graded_nowhere(course, "exporter-override")


API = """
import asyncio
import sys
import time
from nbgrader.apps import NbGraderAPI
from nbgrader.converters import Autograde
from nbgrader.preprocessors import Execute
from traitlets.config import Config

config = Config()  # nbgrader's documentation ("Using nbgrader's Python API"): the course root, nothing else
config.CourseDirectory.root = sys.argv[1]
how = sys.argv[4]
defaults = list(Autograde.class_traits()["autograde_preprocessors"].default())
if how == "named-kernel":  # the instructor's own kernel (`ipykernel install --name dl-course`)
    config.Execute.kernel_name = "dl-course"
elif how == "sandboxed-execute":  # dlcourse's kernel supervisor, outside dlcourse's worker (no bwrap)
    from dlcourse.grader.sandbox import SandboxedExecute
    config.Autograde.autograde_preprocessors = [SandboxedExecute if p is Execute else p for p in defaults]
elif how == "no-execute":  # "grade the outputs they handed in": no kernel at all
    config.Autograde.autograde_preprocessors = [p for p in defaults if p is not Execute]


def grade():
    return NbGraderAPI(config=config).autograde(sys.argv[2], sys.argv[3], force=True)


async def in_a_notebook():  # a cell runs with an event loop running: jupyter_client starts kernels from a thread
    return grade()


result = asyncio.run(in_a_notebook()) if how == "loop" else grade()
print("SUCCESS" if result["success"] else "REFUSED", result.get("error", "")[-300:])
said = result.get("log", "") + result.get("error", "")
print("points to dlcourse autograde:", "Grade with `dlcourse autograde` instead" in said)
"""


def _named_kernelspec(folder: Path, name: str) -> Path:
    """A plain kernelspec `name` for this environment's Python under `folder` (for JUPYTER_PATH)."""
    (folder / "kernels" / name).mkdir(parents=True)
    (folder / "kernels" / name / "kernel.json").write_text(json.dumps(
        {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"], "language": "python",
         "display_name": name}))
    return folder


def _run_api(course: Path, tmp_path: Path, student: str, how: str) -> subprocess.CompletedProcess:
    script = tmp_path / "grade.py"
    script.write_text(API)
    kernels = _named_kernelspec(tmp_path / "user-jupyter", "dl-course")
    return subprocess.run([sys.executable, str(script), str(course), A, student, how], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600, env=_env(JUPYTER_PATH=str(kernels)))


@pytest.mark.parametrize("student, how", [("python-api", "script"), ("python-api-loop", "loop"),
                                          ("python-api-named", "named-kernel"),
                                          ("python-api-supervisor", "sandboxed-execute"),
                                          ("python-api-no-kernel", "no-execute")])
def test_nbgrader_python_api_refuses_however_it_is_configured(course, tmp_path, student, how):
    """A script that follows nbgrader's Python API documentation (formgrader is built the same way,
    but loads the course's config files first; the bare API loads none), and four variants: from a
    notebook's cell (an event loop runs), with a kernelspec of the instructor's, with dlcourse's own
    kernel supervisor in Execute's place but none of the worker's sandbox, and with no Execute at all
    (every test cell then scores). Each graded a blank notebook 23/23 before the guard on nbgrader's
    autograde module (dlcourse/autograde_guard.py); a kernel provisioner in the python3 kernelspec,
    tried first, held only the first two."""
    run = _run_api(course, tmp_path, student, how)
    assert "SUCCESS" not in run.stdout, run.stdout + run.stderr[-2000:]
    assert "points to dlcourse autograde: True" in run.stdout, run.stdout
    _graded_nowhere(course, student)


def test_a_refused_forced_run_leaves_a_grade_of_dlcourse_alone(course, tmp_path):
    """nbgrader's `force=True` deletes autograded/<student>/ before it grades: refused at the start,
    a grade dlcourse gave (its marker, its folder, its gradebook row) stays as it was."""
    _submit(course, "graded-first", _blank_with(""))
    run = dlcourse(course, "autograde", A, "--student", "graded-first")
    assert run.returncode == 0, run.stdout + run.stderr
    before = _scores(course)["graded-first"]
    marker = course / "autograded" / "graded-first" / A / ".dlcourse-graded.json"
    assert marker.is_file()
    refused = _run_api(course, tmp_path, "graded-first", "script")
    assert "SUCCESS" not in refused.stdout, refused.stdout
    assert marker.is_file(), "the refused run deleted dlcourse's grade"
    assert _scores(course)["graded-first"] == before


def test_the_guard_is_in_every_python_of_the_environment():
    """`make venv` writes the `.pth` file; a fresh interpreter's nbgrader autograde module is guarded
    before anything imports it, and the preflight has nothing to say."""
    from dlcourse.autograde_guard import problem

    assert problem() == "", problem()
    fresh = subprocess.run([sys.executable, "-c", "from nbgrader.converters import Autograde; "
                            "print(getattr(Autograde.start, '_dlcourse_guard', False))"],
                           capture_output=True, text=True, timeout=120, env=_env())
    assert fresh.stdout.strip() == "True", fresh.stdout + fresh.stderr


# -- a grade nbgrader gave on its own, as the course's tools see it --------------------------------------
EDITED = """
import sys
import time
from nbgrader.apps import NbGraderAPI
from nbgrader.converters import Autograde
from traitlets.config import Config

# an instructor who edited nbgrader_config.py back to nbgrader's defaults (exporter and preprocessors),
# and runs nbgrader from another environment, where nothing of the course's guards it
config = Config()
config.CourseDirectory.root = sys.argv[1]
config.Autograde.exporter_class = "nbconvert.exporters.NotebookExporter"
config.Autograde.sanitize_preprocessors = list(Autograde.class_traits()["sanitize_preprocessors"].default())
config.Autograde.autograde_preprocessors = list(Autograde.class_traits()["autograde_preprocessors"].default())
result = NbGraderAPI(config=config).autograde(sys.argv[2], sys.argv[3], force=True)
print("SUCCESS" if result["success"] else "FAILED", result.get("error", "")[-500:])
"""


@pytest.fixture(scope="module")
def graded_in_kernel(course, tmp_path_factory):
    """`edited-config` graded by nbgrader in its own kernel (no sandbox, no judge): 23/23 in the gradebook.
    The course's environment refuses it (dlcourse/autograde_guard.py), so it runs as another
    environment's nbgrader would: `python -S` (no `.pth` file runs) with the same packages on sys.path."""
    import sysconfig

    script = tmp_path_factory.mktemp("edited") / "grade.py"
    script.write_text(EDITED)
    elsewhere = ("import runpy, sys; sys.path[:0] = sys.argv[1].split(':'); sys.argv = sys.argv[2:]; "
                 "runpy.run_path(sys.argv[0], run_name='__main__')")
    run = subprocess.run([sys.executable, "-S", "-c", elsewhere, f"{sysconfig.get_paths()['purelib']}:{ROOT}",
                          str(script), str(course), A, "edited-config"], cwd=script.parent,
                         capture_output=True, text=True, timeout=600, env=_env())
    assert "SUCCESS" in run.stdout, run.stdout + run.stderr[-2000:]
    assert _scores(course)["edited-config"]["total"] == TESTS_MAX  # the attack worked on nbgrader's path
    return course


def test_reports_never_carry_a_grade_dlcourse_did_not_give(graded_in_kernel):
    """A gradebook row with no marker of dlcourse's (`.dlcourse-graded.json`) was not graded in the
    sandbox nor judged outside the kernel: the reports must leave it out or flag it, never pass it
    to the LMS files as a grade."""
    from dlcourse.classroom.reports import grades_table

    course = graded_in_kernel
    table = grades_table(course, f"sqlite:///{course / 'gradebook.db'}", A).set_index("student")
    if "edited-config" in table.index:
        row = table.loc["edited-config"]
        assert row["score"] != row["score"] or row["unsandboxed"] or "dlcourse" in row["notes"], row.to_dict()


def test_feedback_never_publishes_a_grade_dlcourse_did_not_give(graded_in_kernel):
    from dlcourse.classroom.feedback import feedback

    course = graded_in_kernel
    pages = feedback(course, A)
    page = course / "feedback" / "edited-config" / A / f"{A}.html"
    assert page not in pages or "dlcourse" in page.read_text(), "a feedback page with no note"


def test_nbgrader_export_refuses_a_grade_dlcourse_did_not_give(graded_in_kernel):
    """`nbgrader export` (nbgrader's CSV of every gradebook row) would hand the 23/23 nbgrader gave in
    the student's kernel to the LMS as a grade. Refused, naming the row and what to run; nothing written."""
    course = graded_in_kernel
    run = _nbgrader(course, "export", "--to", "nbgrader-grades.csv")
    said = run.stdout + run.stderr
    assert run.returncode != 0, said
    assert "edited-config" in said and f"dlcourse autograde {A} --student edited-config" in said, said
    assert "Traceback" not in said, said
    assert not (course / "nbgrader-grades.csv").exists()


@pytest.mark.parametrize("how", ["another exporter", "another folder"])
def test_nbgrader_export_refuses_with_any_exporter_and_from_any_folder(graded_in_kernel, tmp_path, how):
    """The course's configuration names the refusing exporter, but `--exporter` names another, and a run from
    another folder (`--CourseDirectory.root`) loads no course configuration: nbgrader's plain CSV would pass
    the in-kernel 23/23 on as a grade. The guard of the environment (autograde_guard) refuses on every plugin."""
    course, out = graded_in_kernel, str(tmp_path / "g.csv")
    if how == "another exporter":
        run = _nbgrader(course, "export", "--exporter=nbgrader.plugins.CsvExportPlugin", "--to", out)
    else:
        run = _nbgrader(tmp_path, "export", f"--CourseDirectory.root={course}", "--to", out)
    said = run.stdout + run.stderr
    assert run.returncode != 0, said
    assert f"dlcourse autograde {A} --student edited-config" in said and "Traceback" not in said, said
    assert not (tmp_path / "g.csv").exists()


def test_nbgrader_export_writes_the_grades_dlcourse_gave(graded_in_kernel):
    """The same export, limited to a student dlcourse graded: nbgrader's own CSV, with dlcourse's score."""
    course = graded_in_kernel
    run = dlcourse(course, "autograde", A, "--student", "feedback-leak", "--quiet")
    assert run.returncode == 0, run.stdout + run.stderr
    run = _nbgrader(course, "export", "--student", "feedback-leak", "--to", "nbgrader-grades.csv")
    assert run.returncode == 0, run.stdout + run.stderr
    rows = (course / "nbgrader-grades.csv").read_text().splitlines()
    assert rows[0].startswith("assignment,duedate,timestamp,student_id")
    exported = [r.split(",") for r in rows[1:] if ",feedback-leak," in r]
    assert len(exported) == 1 and float(exported[0][7]) == _scores(course)["feedback-leak"]["total"], rows


def test_a_marker_handed_in_by_the_student_is_not_a_grade_of_dlcourse(graded_in_kernel):
    """nbgrader's own autograde copies every file of the submission into autograded/, hidden files too:
    a student who hands in `.dlcourse-graded.json` (the digest of the visible files is anyone's to compute)
    would make another environment's in-kernel 23/23 pass for a grade of dlcourse's."""
    from dlcourse.classroom.reports import grades_table
    from dlcourse.grader.autograde import MARKER, foreign_grade, read_submission, submission_digest

    course = graded_in_kernel
    folder = course / "submitted" / "edited-config" / A
    files, _, _ = read_submission(course, "edited-config", A)
    forged = json.dumps({"digest": "x", "submission": submission_digest(files)})
    (folder / MARKER).write_text(forged)
    (course / "autograded" / "edited-config" / A / MARKER).write_text(forged)  # as nbgrader's copy leaves it
    try:
        assert "handed in" in foreign_grade(course, "edited-config", A)
        row = grades_table(course, f"sqlite:///{course / 'gradebook.db'}", A).set_index("student").loc["edited-config"]
        assert row["score"] != row["score"] and "handed in" in row["notes"], row.to_dict()  # NaN, with the note
        run = _nbgrader(course, "export", "--to", "forged.csv")
        assert run.returncode != 0 and "handed in" in run.stdout + run.stderr, run.stdout + run.stderr
    finally:
        (folder / MARKER).unlink()
        (course / "autograded" / "edited-config" / A / MARKER).unlink()


def test_dlcourse_autograde_regrades_what_nbgrader_graded_on_its_own(graded_in_kernel):
    """The next `dlcourse autograde` does not take the marker-less gradebook row for "unchanged":
    it grades the submission again, sandboxed and judged: 0 for the blank notebook. Holds."""
    course = graded_in_kernel
    run = dlcourse(course, "autograde", A, "--student", "edited-config", "--quiet")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "graded 1" in run.stdout, run.stdout
    assert _scores(course)["edited-config"]["total"] == 0


def test_nbgrader_generate_feedback_never_shows_hidden_tests(course):
    """The student is graded the course's way (`dlcourse autograde`); the instructor then makes the
    feedback the way nbgrader teaches. The autograded notebook keeps the hidden tests (the judge's
    code, the reference's calls and seeds): nbgrader's feedback must refuse, or leave them out."""
    run = dlcourse(course, "autograde", A, "--student", "feedback-leak", "--quiet")
    assert run.returncode == 0, run.stdout + run.stderr
    run = _nbgrader(course, "generate_feedback", A, "--student", "feedback-leak", "--force")
    assert run.returncode != 0 and "dlcourse feedback" in run.stdout + run.stderr, run.stdout + run.stderr
    page = course / "feedback" / "feedback-leak" / A / f"{A}.html"
    shown = page.read_text() if page.exists() else ""
    for hidden in ("BEGIN HIDDEN TESTS", "dlcourse.instructor", "default_rng(101)"):
        assert hidden not in shown, hidden


# -- a bwrap that starts the kernel but isolates nothing ----------------------------------------------
# Skips bwrap's own options and the jail's (as root, the jail's setuid alone would stop the kernel;
# an instructor's own account needs no jail skipping: the jail drops no privileges there), then runs
# the kernel as is: no mount, PID or network namespace. A pass-through shim of this kind is what
# gets installed to "make bwrap work" in a container that cannot make namespaces.
PASS_THROUGH = """#!/bin/sh
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done
shift
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done
shift
exec "$@"
"""


def test_a_bwrap_that_isolates_nothing_fails_the_preflight(tmp_path):
    course = _course(tmp_path)
    _submit(course, "thief", _blank_with(STOLEN))
    fake = tmp_path / "fake-bwrap"
    fake.mkdir()
    (fake / "bwrap").write_text(PASS_THROUGH)
    (fake / "bwrap").chmod(0o755)
    run = dlcourse(course, "autograde", A, "--quiet", PATH=str(fake) + os.pathsep + os.environ["PATH"])
    assert run.returncode != 0, run.stdout + run.stderr
    assert "sandbox" in run.stderr and "Traceback" not in run.stderr, run.stderr[-2000:]
    assert not (course / "gradebook.db").exists() or "thief" not in _scores(course)
    assert not list(course.glob("autograded/*/*/.dlcourse-graded.json"))


# -- SANDBOX settings misspelt or mistyped ---------------------------------------------------------------
def test_a_misspelt_sandbox_key_is_a_configuration_error(tmp_path):
    course = _course(tmp_path)
    _submit(course, "blank", _blank_with(""))
    with open(course / "grader_config.py", "a") as f:
        f.write('\nSANDBOX["memroy_mb"] = 4096\n')
    run = dlcourse(course, "autograde", A, "--quiet")
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    assert any(line.startswith("dlcourse: error:") and "memroy_mb" in line for line in run.stderr.splitlines())
    assert not (course / "gradebook.db").exists() or not _scores(course)


# Each value below reads as a working sandbox today and is not one:
#   "network": "false"  -> truthy: the kernel gets the host's network (`if not limits.network`)
#   "memory_mb": "6144" -> the Watchdog compares an int with a str: its thread dies with a
#                          TypeError and the kernel runs with no memory, CPU or disk limit
#   "memory_mb": -1     -> every kernel "used more than -1 MB": each student gets MemoryLimit, the
#                          grader's mistake landing on them
#   "cpu_seconds": 0    -> the jail sets no RLIMIT_CPU (`if opts.cpu`), the watchdog kills at once
MISTYPED = {"network-as-text": {"network": "false"}, "memory-as-text": {"memory_mb": "6144"},
            "memory-negative": {"memory_mb": -1}, "cpu-zero": {"cpu_seconds": 0},
            "restarts-float": {"max_restarts": 1.5}}


@pytest.mark.parametrize("name", sorted(MISTYPED))
def test_mistyped_sandbox_values_are_refused(name):
    from dlcourse.grader.sandbox import Limits

    with pytest.raises(ValueError, match="SANDBOX"):
        Limits.from_dict(MISTYPED[name])


@pytest.mark.parametrize("name", sorted(MISTYPED))
def test_the_configuration_check_names_a_mistyped_sandbox_value(tmp_path, name):
    from dlcourse.classroom.settings_check import problems
    from dlcourse.course import Course

    course = _course(tmp_path)
    (key, value), = MISTYPED[name].items()
    with open(course / "grader_config.py", "a") as f:
        f.write(f"\nSANDBOX[{key!r}] = {value!r}\n")
    found = problems(Course.at(course))
    assert any("SANDBOX" in line and key in line for line in found), found


def test_a_limit_too_small_for_any_answer_is_the_graders_failure(tmp_path):
    """`SANDBOX["memory_mb"] = 6` from an instructor who read the unit as GB. No correct answer can
    run under it, so it must stop the run (the configuration check, or a preflight that runs a real
    cell, or one that grades the reference solution), never record a 0 that blames the student."""
    from dlcourse.classroom.demo import student_notebook

    course = _course(tmp_path)
    _submit(course, "reference", student_notebook(ROOT, A))
    with open(course / "grader_config.py", "a") as f:
        f.write('\nSANDBOX["memory_mb"] = 6  # GB\n')
    run = dlcourse(course, "autograde", A, "--quiet")
    assert run.returncode != 0, run.stdout + run.stderr
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    assert not (course / "gradebook.db").exists() or "reference" not in _scores(course)
    assert not (course / "autograded" / "reference").exists()


def test_a_grade_of_another_submission_is_left_out_of_reports_and_feedback(tmp_path):
    """A marker of dlcourse's beside a submission that has changed since (nbgrader regraded a new
    hand-in with `--notebook ... --force`, which keeps the marker): no grade, a note, no page."""
    import nbformat

    from dlcourse.classroom.feedback import feedback
    from dlcourse.grader import autograde as ag
    from dlcourse.grader.protocol import Marker

    course = _course(tmp_path)
    _submit(course, "s1", _blank_with(""))
    job = ag.make_job(course, A, "s1")
    folder = course / "autograded" / "s1" / A
    folder.mkdir(parents=True)
    nbformat.write(_blank_with(""), folder / f"{A}.ipynb")
    (folder / ag.MARKER).write_text(Marker(job.digest, submission=ag.submission_digest(job.submission_files)).to_json())
    assert ag.foreign_grade(course, "s1", A) == ""
    (course / "submitted" / "s1" / A / f"{A}.ipynb").write_text(
        nbformat.writes(_blank_with("x = 1")))  # handed in again: not what dlcourse graded
    assert "submitted/ has changed" in ag.foreign_grade(course, "s1", A)
    assert feedback(course, A) == []
    (folder / ag.MARKER).unlink()
    assert "no .dlcourse-graded.json" in ag.foreign_grade(course, "s1", A)


def test_the_preflight_fails_when_the_limits_kill_its_kernel(monkeypatch):
    """Row 12's second guard, under the configuration check's minimum: a memory limit below what a
    kernel needs kills the preflight's kernel (its cell outlives a few watchdog ticks), and the
    preflight says so, before any student's notebook meets the limit."""
    from dlcourse.grader import limits
    from dlcourse.grader.sandbox import Limits, SandboxBroken
    from dlcourse.grader.worker import check_sandbox

    monkeypatch.setitem(limits.LIMIT_MINIMUMS, "memory_mb", 1)
    with pytest.raises(SandboxBroken, match="MemoryLimit"):
        check_sandbox(str(ROOT), Limits(memory_mb=20), 30)


# -- validate pointed at a student's submission ----------------------------------------------------------
def _canary_notebook(canary: Path):
    return _blank_with(f"import pathlib\npathlib.Path({str(canary)!r}).write_text('ran unsandboxed')\n")


def test_dlcourse_validate_runs_no_submission_unsandboxed(tmp_path):
    """`dlcourse validate` is the students' command on their own notebook; the instructor who points
    it at a submission in the course runs that student's code with the instructor's rights. Safe:
    refuse under submitted/ and autograded/ (pointing to `dlcourse autograde --student`), or sandbox."""
    course = _course(tmp_path)
    canary = tmp_path / "canary"
    _submit(course, "s1", _canary_notebook(canary))
    run = dlcourse(course, "validate", str(course / "submitted" / "s1" / A / f"{A}.ipynb"))
    assert not canary.exists(), run.stdout[-1000:]
    assert run.returncode == 2 and "dlcourse: error:" in run.stderr and "autograde" in run.stderr, run.stderr


def test_nbgrader_validate_in_the_course_runs_no_submission_unsandboxed(tmp_path):
    course = _course(tmp_path)
    canary = tmp_path / "canary"
    _submit(course, "s1", _canary_notebook(canary))
    run = _nbgrader(course, "validate", str(Path("submitted") / "s1" / A / f"{A}.ipynb"))
    assert not canary.exists()
    assert f"dlcourse autograde {A} --student s1" in run.stdout + run.stderr, run.stdout + run.stderr


def test_nbgrader_validate_from_another_folder_runs_no_submission_unsandboxed(tmp_path):
    """From outside the course folder nbgrader loads none of the course's configuration; the guard in
    nbgrader's validator module (the environment's `.pth` file) refuses the submission all the same:
    one line, exit 1, no kernel started."""
    course = _course(tmp_path / "course")
    canary = tmp_path / "canary"
    _submit(course, "s1", _canary_notebook(canary))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = _nbgrader(elsewhere, "validate", str(course / "submitted" / "s1" / A / f"{A}.ipynb"))
    said = run.stdout + run.stderr
    assert not canary.exists(), said
    assert run.returncode != 0 and f"dlcourse autograde {A} --student s1" in said and "Traceback" not in said, said


def test_nbgrader_validate_refuses_a_submission_through_a_linked_submitted_folder(tmp_path):
    """submitted/ kept on another disk and linked into the course: the path as written names the course."""
    course = _course(tmp_path / "course")
    canary = tmp_path / "canary"
    _submit(course, "s1", _canary_notebook(canary))
    (course / "submitted").rename(tmp_path / "elsewhere-disk")
    (course / "submitted").symlink_to(tmp_path / "elsewhere-disk")
    run = _nbgrader(tmp_path, "validate", str(course / "submitted" / "s1" / A / f"{A}.ipynb"))
    said = run.stdout + run.stderr
    assert not canary.exists(), said
    assert run.returncode != 0 and "--student s1" in said and "Traceback" not in said, said


def test_nbgrader_validate_still_runs_a_notebook_outside_any_course(tmp_path):
    """The guard refuses submissions only: the student's own notebook, anywhere else, is nbgrader's to run."""
    canary = tmp_path / "canary"
    notebook = tmp_path / "mine" / "01.ipynb"
    notebook.parent.mkdir()
    nbformat.write(_canary_notebook(canary), notebook)
    run = _nbgrader(tmp_path, "validate", str(notebook))
    assert canary.exists(), run.stdout + run.stderr


def test_the_pass_through_shim_runs_the_kernel_command_alone():
    """Guard for the xfail above: the shim skips bwrap's options and the jail's, and runs the rest."""
    argv = ["--ro-bind", "/", "/", "--", "python", "jail.py", "--uid", "1", "--", "echo", "kernel"]
    shim = Path(os.environ.get("TMPDIR", "/tmp")) / f"shim-{os.getpid()}.sh"
    shim.write_text(PASS_THROUGH)
    try:
        out = subprocess.run(["sh", str(shim), *argv], capture_output=True, text=True, timeout=30).stdout
    finally:
        shim.unlink()
    assert out.strip() == "kernel"


# -- the grade-on-submit service when its sandbox breaks after it started --------------------------------
BREAKS_AFTER_ONE = """#!/bin/sh
count=$(cat "{counter}" 2>/dev/null || echo 0)
echo $((count + 1)) > "{counter}"
if [ "$count" -lt 1 ]; then exec {real} "$@"; fi
echo 'bwrap: setting up uid map: Permission denied' >&2
exit 1
"""


@pytest.fixture(scope="module")
def broken_serve(tmp_path_factory):
    """`dlcourse serve` preflights once, at start; then bubblewrap breaks (a kernel update turns off
    unprivileged user namespaces). `ana` hands in the reference solution. Returns what she is shown,
    the service's /healthz status after that, the course and the fake bwrap's call count."""
    import shutil

    from test_serve import Server, make_course, notebook, post, tokens

    tmp = tmp_path_factory.mktemp("broken-serve")
    course = make_course(tmp, ["ana"])
    fake = tmp / "fake-bwrap"
    fake.mkdir()
    (fake / "bwrap").write_text(BREAKS_AFTER_ONE.format(counter=tmp / "count", real=shutil.which("bwrap")))
    (fake / "bwrap").chmod(0o755)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", str(fake) + os.pathsep + os.environ["PATH"])
        server = Server(course).start()
    try:
        with server.client(tokens(course)["ana"]) as ana:
            sub = post(ana, notebook(course, "reference")).json()
            view, health = {}, 200
            for _ in range(120):  # a minute: graded within seconds when the sandbox works
                view = ana.get(f"/api/v1/submissions/{sub['id']}").json()
                health = ana.get("/healthz").status_code
                if view["status"] in ("graded", "failed") or (health != 200 and view["attempts"] >= 1):
                    break
                time.sleep(0.5)
    finally:
        server.stop()
    return view, health, course, int((tmp / "count").read_text())


def test_serve_with_a_sandbox_broken_after_start_gives_no_student_a_0(broken_serve):
    """Holds: the submission fails as the grader's ("the attempt does not count"), or waits queued
    until the sandbox works again; no gradebook row."""
    from test_serve import gradebook_scores

    view, _, course, calls = broken_serve
    assert calls >= 2, "the job never met the broken sandbox"
    assert not (view.get("status") == "graded" and (view.get("result") or {}).get("score") == 0), view
    assert (view.get("result") or {}).get("outcome") == "grader" or view.get("status") == "queued", view
    if (course / "gradebook.db").exists():
        assert "ana" not in gradebook_scores(f"sqlite:///{course / 'gradebook.db'}"), view


def test_serve_with_a_broken_sandbox_says_so_on_healthz(broken_serve):
    """Nobody is blamed, and the service does not fail hand-in after hand-in while its health check
    (what a load balancer or the instructor's monitor reads) says all is well: after a job the
    grader failed it runs the preflight again, answers 503 while that fails, and grades no job."""
    _, health, _, _ = broken_serve
    assert health != 200


# -- a disk that fills up while grading ----------------------------------------------------------------
FULL_DISK = """#!/bin/sh
# in a mount namespace of its own: the course on a tmpfs with {extra} KB left after copying it
set -e
mkdir -p "{mnt}"
mount -t tmpfs -o size={size}k tmpfs "{mnt}"
cp -a "{course}" "{mnt}/course"
set +e
"{python}" -m dlcourse.cli --root "{mnt}/course" autograde {assignment} --quiet > "{out}/stdout" 2> "{out}/stderr"
echo $? > "{out}/rc"
cp "{mnt}/course/gradebook.db" "{out}/gradebook.db" 2>/dev/null
ls "{mnt}/course/autograded/reference/{assignment}" > "{out}/autograded" 2>/dev/null
exit 0
"""
EXTRA_KB = (140, 260, 400)  # 01 with one submission (tmpfs counts 4 KB pages): the disk fills while the
# assignment is registered (~180 KB), while the grades are saved (~200-320 KB), or never (the whole run fits)


def _can_mount_tmpfs(tmp: Path) -> bool:
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mkdir -p {tmp}/probe && mount -t tmpfs -o size=64k "
                            f"tmpfs {tmp}/probe"], capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.fixture(scope="module")
def full_disk_runs(tmp_path_factory):
    """`dlcourse autograde` of the reference solution on a course folder whose disk fills up at
    each point of the run in turn. Returns {extra KB: (exit code, stderr, gradebook scores, autograded/)}."""
    from dlcourse.classroom.demo import student_notebook

    tmp = tmp_path_factory.mktemp("full-disk")
    if not _can_mount_tmpfs(tmp):
        pytest.skip("needs `unshare -m` and a tmpfs mount (root, or a user namespace)")
    course = _course(tmp)
    _submit(course, "reference", student_notebook(ROOT, A))
    used = int(subprocess.run(["du", "-sk", str(course)], capture_output=True, text=True).stdout.split()[0])
    runs = {}
    for extra in EXTRA_KB:
        out = tmp / f"run-{extra}"
        out.mkdir()
        script = out / "run.sh"
        script.write_text(FULL_DISK.format(extra=extra, mnt=tmp / f"mnt-{extra}", size=used + extra, course=course,
                                           python=sys.executable, assignment=A, out=out))
        subprocess.run(["unshare", "-m", "sh", str(script)], env=_env(), timeout=600)
        scores = {}
        if (out / "gradebook.db").exists():
            from nbgrader.api import Gradebook

            with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
                scores = {s.student_id: s.score for s in gb.assignment_submissions(A)}
        runs[extra] = (int((out / "rc").read_text()), (out / "stderr").read_text(), scores,
                       (out / "autograded").read_text().split() if (out / "autograded").exists() else [])
    return runs


def test_a_full_disk_is_the_graders_failure_at_every_point_of_the_run(full_disk_runs):
    """Wherever the disk fills, the run ends with one `dlcourse: error:` line and a non-zero exit, or
    grades the reference solution in full; the gradebook never holds a 0 for it. (Before the fix: the
    reference stayed in the gradebook at 0, no marker, exit 1, a sqlite3 'database or disk is full' traceback.)"""
    assert any(rc == 0 for rc, *_ in full_disk_runs.values()), "no run had room enough: the sizes are off"
    assert any(rc != 0 for rc, *_ in full_disk_runs.values()), "no run filled the disk: the sizes are off"
    bad = {}
    for extra, (rc, stderr, scores, _) in full_disk_runs.items():
        if rc == 0 and scores.get("reference") != TESTS_MAX:
            bad[extra] = f"exit 0, scores {scores}"
        elif rc != 0 and "reference" in scores:
            bad[extra] = f"exit {rc}, the gradebook holds {scores['reference']} for the reference solution"
        elif rc != 0 and ("Traceback" in stderr or "dlcourse: error:" not in stderr):
            bad[extra] = f"exit {rc}, a traceback: {stderr.strip().splitlines()[-1][:120]}"
    assert not bad, bad


# -- a judge the machine kills (the OOM killer) --------------------------------------------------------------
def test_a_judge_killed_by_the_machine_is_the_graders_failure(tmp_path):
    """The host runs short of memory and its OOM killer takes the judge server (the largest process
    of the run; every restart too). Only this run's own judge servers (descendants of the `dlcourse`
    process the test starts) are killed. Safe: outcome "grader", no gradebook row, exit non-zero.
    (Before the fix: the reference scored 0/23, outcome graded, exit 0, note 'the judge server died'.)"""
    import threading

    import psutil

    from dlcourse.classroom.demo import student_notebook

    course = _course(tmp_path)
    _submit(course, "reference", student_notebook(ROOT, A))
    env = _env(DLCOURSE_CELL_TIMEOUT="10")
    proc = subprocess.Popen([sys.executable, "-m", "dlcourse.cli", "--root", str(course), "autograde", A, "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    killed: list[int] = []

    def oom_killer() -> None:
        parent = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                family = parent.children(recursive=True)
            except psutil.Error:
                return
            for child in family:
                try:
                    if "dlcourse.grader.judge" in child.cmdline() and "--serve" in child.cmdline():
                        child.kill()
                        killed.append(child.pid)
                except psutil.Error:
                    continue
            time.sleep(0.05)

    killer = threading.Thread(target=oom_killer, daemon=True)
    killer.start()
    stdout, stderr = proc.communicate(timeout=600)
    killer.join(10)
    assert killed, "no judge server was seen"
    marker = course / "autograded" / "reference" / A / ".dlcourse-graded.json"
    said = json.loads(marker.read_text()) if marker.exists() else {}
    assert proc.returncode != 0, (stdout + stderr)[-2000:]
    assert said.get("outcome") in (None, "grader"), said.get("notices")
    assert "reference" not in _scores(course)
