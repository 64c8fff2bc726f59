"""The grading protocol, in-process: outcomes, markers, the digest and retries of grader failures."""

from __future__ import annotations

import json

import nbformat
import pytest
from conftest import ROOT

from dlcourse.grader import autograde as ag
from dlcourse.grader.protocol import GradingJob, GradingResult, Marker, NotebookResult, Outcome, grader_version
from dlcourse.grader.worker import grade

A = "01_softmax_cross_entropy"


@pytest.fixture
def course(tmp_path):
    root = tmp_path / "course"
    (root / "source" / A).mkdir(parents=True)
    (root / "source" / A / f"{A}.ipynb").write_bytes((ROOT / "source" / A / f"{A}.ipynb").read_bytes())
    (root / "grader_config.py").write_text((ROOT / "grader_config.py").read_text())
    (root / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text())
    sub = root / "submitted" / "alice" / A
    sub.mkdir(parents=True)
    nbformat.write(nbformat.read(ROOT / "release" / A / f"{A}.ipynb", as_version=4), sub / f"{A}.ipynb")
    from dlcourse.config import load_settings

    load_settings.cache_clear()
    yield root
    load_settings.cache_clear()


def test_the_digest_follows_the_grader_version_and_the_limits_not_the_course_path(course, monkeypatch):
    from dataclasses import replace

    job = ag.make_job(course, A, "alice")
    assert ag.digest(job) == job.digest
    assert ag.digest(replace(job, course_root="/elsewhere")) == job.digest
    assert ag.digest(replace(job, limits={**job.limits, "memory_mb": 1})) != job.digest
    assert ag.digest(replace(job, notebook_timeout=job.notebook_timeout + 1)) != job.digest
    monkeypatch.setattr(ag, "grader_version", lambda: "9.9+other")
    assert ag.digest(job) != job.digest


def test_the_grader_version_names_the_package_and_its_code():
    from dlcourse import __version__

    version = grader_version()
    assert version.startswith(f"{__version__}+") and len(version.split("+")[1]) == 12


def test_a_marker_survives_json_and_refuses_junk():
    marker = Marker("d", Outcome.GRADER, ok=False, error="the grading process died", notices=["n"],
                    results={A: [{"grade_id": "test_x", "passed": True}]}, grader="0.1.0+abc")
    assert Marker.from_dict(json.loads(marker.to_json())) == marker
    assert Marker.from_dict({"no": "digest"}) is None and Marker.from_dict(["x"]) is None
    assert Marker.from_dict({"digest": "d", "outcome": "?"}).outcome is Outcome.GRADER  # unknown: grade again
    assert Marker.from_dict({"digest": "d"}).outcome is Outcome.GRADED  # markers written before outcomes


@pytest.mark.parametrize("outcome, skipped", [(Outcome.GRADED, True), (Outcome.SUBMISSION, True),
                                              (Outcome.GRADER, False)])
def test_a_rerun_skips_unchanged_work_except_where_the_grader_failed(course, outcome, skipped):
    job = ag.make_job(course, A, "alice")
    folder = course / "autograded" / "alice" / A
    folder.mkdir(parents=True)
    (folder / ag.MARKER).write_text(Marker(job.digest, outcome).to_json())
    assert ag.is_current(course, job) is skipped
    (folder / ag.MARKER).write_text(Marker("another digest", Outcome.GRADED).to_json())
    assert not ag.is_current(course, job)


def test_a_dead_grading_process_is_the_graders_failure(course, monkeypatch):
    job = ag.make_job(course, A, "alice")
    monkeypatch.setattr(ag.sys, "executable", "/bin/false")  # the worker exits at once, with no result
    result = ag.run_job_subprocess(job, timeout=60)
    assert not result.ok and "the grading process died" in result.error
    assert result.outcome is Outcome.GRADER


def test_the_worker_says_whose_fault_a_failure_is():
    refused = grade(GradingJob(A, "x", refused="submitted/x is a symbolic link, not a folder"))
    assert refused.outcome is Outcome.SUBMISSION
    # the grader's own bug: a job whose files are not base64
    broken_job = grade(GradingJob(A, "x", source_files={f"{A}.ipynb": "not base64!"}))
    assert not broken_job.ok and broken_job.outcome is Outcome.GRADER
    assert "Error" in broken_job.error


def test_jobs_and_results_survive_json():
    job = GradingJob(A, "x", source_files={"a.ipynb": "e30="}, limits={"memory_mb": 1}, timeout=5.0, digest="d")
    assert GradingJob.from_dict(json.loads(job.to_json())) == job
    result = GradingResult(A, "x", Outcome.GRADED, ok=True, notebooks={A: NotebookResult("{}", [{"passed": 1}])},
                           notices=["n"], seconds=1.5, log="l")
    assert GradingResult.from_dict(json.loads(result.to_json())) == result
    assert GradingResult.from_dict({"assignment": A, "student": "x"}).outcome is Outcome.GRADER  # no outcome: retry


def test_reports_and_summaries_name_grader_failures(course):
    from dlcourse.classroom.reports import grader_notes

    folder = course / "autograded" / "alice" / A
    folder.mkdir(parents=True)
    (folder / ag.MARKER).write_text(Marker("d", Outcome.GRADER, error="the Dask task failed: lost").to_json())
    assert grader_notes(course, A, "alice").startswith("the grader failed, not the submission")
    (folder / ag.MARKER).write_text(Marker("d", Outcome.SUBMISSION, error="no notebook was graded").to_json())
    assert grader_notes(course, A, "alice") == "no notebook was graded"
    summary = ag.RunSummary(graded=3, failed=2, grader_failures=1)
    assert "failed 2 (1 by the grader: retried next run)" in summary.line()


REFUSED = GradingJob(A, "x", refused="submitted/x is a symbolic link, not a folder")


def test_a_workers_log_is_kept_on_both_paths():
    result = ag.run_job_subprocess(REFUSED, timeout=120)  # a fresh grading process (Dask's path)
    assert "grading x/01_softmax_cross_entropy" in result.log
    runner = ag.LocalRunner(1, 120)  # the local path: a kept process's stderr, this job's part of it
    try:
        [(_, first), (_, second)] = list(runner([REFUSED, REFUSED]))
    finally:
        runner.close()
    for pooled in (first, second):
        assert pooled.log.count("grading x/01_softmax_cross_entropy") == 1 and "the grader failed" not in pooled.log


def test_a_grading_process_that_dies_costs_its_job_alone(course):
    """The runner's one process is killed while it grades the first job; the second gets a fresh one."""
    import threading

    runner = ag.LocalRunner(1, 300)
    job = ag.make_job(course, A, "alice")
    killer = threading.Timer(3, lambda: runner.processes[0].proc.kill())
    try:
        killer.start()
        results = [r for _, r in runner([job, REFUSED])]
    finally:
        killer.cancel()
        runner.close()
    died, next_one = results
    assert died.outcome is Outcome.GRADER and "the grading process died" in died.error
    assert next_one.outcome is Outcome.SUBMISSION and next_one.error == REFUSED.refused


def test_nothing_is_generated_or_started_when_nothing_needs_grading(course, monkeypatch):
    job = ag.make_job(course, A, "alice")
    folder = course / "autograded" / "alice" / A
    folder.mkdir(parents=True)
    (folder / ag.MARKER).write_text(Marker(job.digest, Outcome.GRADED).to_json())
    monkeypatch.setattr(ag, "_gradebook_students", lambda *args: {"alice"})  # and its gradebook rows

    def must_not_run(*args, **kwargs):
        raise AssertionError("called although every submission is unchanged")

    monkeypatch.setattr(ag, "register", must_not_run)
    monkeypatch.setattr(ag, "WorkerProcess", must_not_run)
    said: list[str] = []
    summaries = ag.autograde(course, A, progress=False, log=said.append)
    assert (summaries[A].skipped, summaries[A].graded, summaries[A].failed) == (1, 0, 0), said


def test_a_graded_notebook_not_judged_outside_is_refused_before_anyone_is_graded(course):
    from dlcourse.course import CourseError

    path = course / "source" / A / f"{A}.ipynb"
    nb = nbformat.read(path, as_version=4)
    del nb.metadata["dlcourse"]  # its tests would decide inside the student's kernel
    nbformat.write(nb, path)
    with pytest.raises(CourseError, match='not judged outside the kernel: add "dlcourse"'):
        ag.autograde(course, A, progress=False, log=lambda *_: None)
    assert not (course / "autograded").exists()


@pytest.mark.parametrize("flags, logged", [([], False), (["-v"], True)])
def test_verbose_logs_each_step_of_the_course_only(course, caplog, flags, logged, monkeypatch):
    import logging

    from dlcourse import cli

    job = ag.make_job(course, A, "alice")
    folder = course / "autograded" / "alice" / A
    folder.mkdir(parents=True)
    (folder / ag.MARKER).write_text(Marker(job.digest, Outcome.GRADED).to_json())
    monkeypatch.setattr(ag, "_gradebook_students", lambda *args: {"alice"})  # and its gradebook rows
    try:
        assert cli.main(["--root", str(course), *flags, "autograde", A]) == 0
        said = [r for r in caplog.records if r.name.startswith("dlcourse") and r.levelno == logging.INFO]
        assert any("unchanged since it was graded" in r.getMessage() for r in said) is logged
        assert not [r for r in caplog.records if not r.name.startswith("dlcourse") and r.levelno < logging.WARNING]
    finally:
        logging.getLogger("dlcourse").setLevel(logging.NOTSET)


def test_course_settings_are_documented_traits_set_either_way(tmp_path):
    from dlcourse.config import CourseSettings, load_settings

    traits = CourseSettings.class_traits(config=True)
    assert {"student_repo", "course_id", "cell_timeout", "notebook_timeout", "sandbox", "schedule"} <= set(traits)
    from traitlets.config import Configurable

    own = {name: t for name, t in CourseSettings.class_traits().items() if name not in Configurable.class_traits()}
    assert all(trait.help for trait in own.values()), "every knob has its help"
    (tmp_path / "grader_config.py").write_text("c = get_config()\nc.CourseSettings.cell_timeout = 99\n"
                                               "c.CourseSettings.course_id = 'styled'\nCOURSE_ID = 'constant'\n")
    load_settings.cache_clear()
    try:
        settings = load_settings(tmp_path)
        assert settings.cell_timeout == 99 and settings.notebook_timeout == 4 * 99  # nbgrader's style, and the default
        assert settings.course_id == "constant"  # the module constant wins where both are given
        assert settings.student_branch == "main" and settings.root == tmp_path.resolve()
    finally:
        load_settings.cache_clear()


def test_the_job_carries_the_courses_configuration(course, tmp_path, monkeypatch):
    """A worker grades with the course's grader_config.py (here: 2 s per cell), wherever it runs."""
    config = course / "grader_config.py"
    text = config.read_text()
    assert 'CELL_TIMEOUT = int(os.environ.get("DLCOURSE_CELL_TIMEOUT", "600"))' in text
    config.write_text(text.replace('CELL_TIMEOUT = int(os.environ.get("DLCOURSE_CELL_TIMEOUT", "600"))',
                                   "CELL_TIMEOUT = 2"))
    notebook = course / "submitted" / "alice" / A / f"{A}.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.insert(1, nbformat.v4.new_code_cell("import time\ntime.sleep(30)"))
    nbformat.write(nb, notebook)
    job = ag.make_job(course, A, "alice")
    monkeypatch.chdir(tmp_path)  # a working folder with no grader_config.py
    result = ag.run_job_subprocess(job, timeout=600)
    said = " ".join(result.notebooks[A].notices)
    assert result.outcome is Outcome.GRADED and "CellTimeout: interrupted after 2 s" in said, said


def test_the_cli_builds_the_course_once_and_passes_it_down(course, tmp_path, monkeypatch):
    """One Course from --root reaches autograde and the reports, whatever the working folder holds."""
    from dlcourse import cli
    from dlcourse.classroom import reports
    from dlcourse.config import load_settings
    from dlcourse.course import Course

    seen = []
    monkeypatch.setattr(ag, "autograde", lambda c, *a, **k: seen.append(c) or {})
    monkeypatch.setattr(reports, "write_reports", lambda c, *a: seen.append(c) or c.root / "reports" / A)
    monkeypatch.setattr(reports, "grades_table", lambda c, *a: seen.append(c) or __import__("pandas").DataFrame())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "grader_config.py").write_text("COURSE_ID = 'the-wrong-course'\n")
    monkeypatch.chdir(elsewhere)
    load_settings.cache_clear()
    assert cli.main(["--root", str(course), "autograde", A]) == 0
    assert len(seen) == 3 and all(c is seen[0] for c in seen), "one Course object, passed down"
    assert isinstance(seen[0], Course) and seen[0].root == course
    assert seen[0].settings.course_id != "the-wrong-course" and seen[0].settings.root == course.resolve()
    assert Course.at(seen[0]) is seen[0]


def test_the_jobs_expected_to_take_longest_start_first(course):
    """Last grading's time first, else a minute per slow test cell: 08's held-out training
    (two slow cells) goes before 01's quick notebook, unless 01 took longer last time."""
    lung = "08_lung_cancer_project"
    (course / "source" / lung).mkdir(parents=True)
    (course / "source" / lung / f"{lung}.ipynb").write_bytes((ROOT / "source" / lung / f"{lung}.ipynb").read_bytes())
    quick, slow_last_time, lung_job = GradingJob(A, "ana"), GradingJob(A, "bia"), GradingJob(lung, "ana")
    parts = [ag._Assignment(A, jobs=[quick, slow_last_time]), ag._Assignment(lung, jobs=[lung_job])]
    folder = course / "autograded" / "bia" / A
    folder.mkdir(parents=True)
    (folder / ag.MARKER).write_text(Marker("old", seconds=500.0).to_json())
    from dlcourse.course import Course

    order = ag._longest_first(Course.at(course), parts)
    assert [(j.assignment, j.student) for j in order] == [(A, "bia"), (lung, "ana"), (A, "ana")]


def test_new_gradebooks_take_the_schema_head_from_alembic_in_process_once(tmp_path):
    """nbgrader runs `alembic heads` in a subprocess for every new gradebook (seconds each); the
    grader asks alembic's API in its own process, once, and every gradebook records the head
    that nbgrader's subprocess reports."""
    import sqlite3

    import nbgrader.api
    from nbgrader.api import Gradebook

    from dlcourse.course import NBGRADER_HEAD, alembic_head, ensure_tools_on_path

    ensure_tools_on_path()
    ensure_tools_on_path()  # idempotent: nbgrader's own is kept, not the replacement
    assert nbgrader.api.get_alembic_version is alembic_head
    (nbgrader_head,) = NBGRADER_HEAD
    assert nbgrader_head.__module__ == "nbgrader.api" and nbgrader_head is not alembic_head
    before = alembic_head.cache_info()
    for name in ("a", "b"):
        with Gradebook(f"sqlite:///{tmp_path / name}.db", "course"):
            pass
    after = alembic_head.cache_info()
    assert after.hits + after.misses == before.hits + before.misses + 2 and after.misses <= 1
    real = nbgrader_head()  # nbgrader's: `alembic heads` in a subprocess
    assert real and alembic_head() == real
    for name in ("a", "b"):
        with sqlite3.connect(tmp_path / f"{name}.db") as db:
            assert db.execute("select version_num from alembic_version").fetchall() == [(real,)]


def test_the_grader_api_does_not_cry_about_a_student_exchange_it_never_uses(course, caplog):
    """nbgrader's API logs a CRITICAL "Unwritable directory" on start when no exchange exists;
    `course.api` (grading, release, the demo) drops that one record and nothing else."""
    import logging

    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from dlcourse.course import api, nbgrader_config

    cfg = nbgrader_config(course)
    cfg.Exchange.root = str(course / "no-exchange-here")
    with caplog.at_level(logging.WARNING):
        NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)
    assert any("Unwritable directory" in r.getMessage() for r in caplog.records), "nbgrader's own API says it"
    caplog.clear()
    config = course / "grader_config.py"  # the same missing exchange, through the course's own settings
    config.write_text(config.read_text() + f"\nc.Exchange.root = {str(course / 'no-exchange-here')!r}\n")
    from dlcourse.config import load_settings

    load_settings.cache_clear()
    assert nbgrader_config(course).Exchange.root == str(course / "no-exchange-here")
    with caplog.at_level(logging.WARNING):
        api(course)
        logging.getLogger("traitlets").critical("another message")
    said = [r.getMessage() for r in caplog.records]
    assert "another message" in said and not [m for m in said if "Unwritable directory" in m]


def test_failures_travel_as_kind_and_detail_never_as_text_parsed_back():
    """Issue 29, item 2: the watchdog's reasons, the supervisor's incidents, the judge's verdicts and the
    held-out verdicts carry (kind, detail); the "Kind: detail" text users read is made from them, the same
    words as before, and nothing splits it back (a detail holding ": " once risked a wrong split)."""
    from dlcourse.grader import heldout
    from dlcourse.grader.judge import Verdict, apply_verdicts
    from dlcourse.grader.protocol import Incident, Problem
    from dlcourse.grader.sandbox import Attempt, KernelStuck

    problem = Problem("MemoryLimit", "the kernel used more than 2048 MB of memory and was stopped")
    assert str(Incident.of(problem, 3)) == ("cell 3: MemoryLimit: the kernel used more than 2048 MB of memory "
                                            "and was stopped")
    assert Attempt(problem=problem).reason == str(problem) and Attempt().reason == ""
    assert KernelStuck(Problem("CellTimeout", "x")).problem.kind == "CellTimeout"

    low = heldout.verdict("lung", 0.5)
    assert (low.kind, str(low)) == ("AssertionError", "AssertionError: accuracy on the hidden held-out set is 0.500, "
                                    "want >= 0.9. Hint: check the preprocessing (scaling to [0, 1]), the labels and "
                                    "the training; the model may be overfitting the training images.")
    broken = heldout.verdict("lung", None, "ValueError: File format not supported: a: b")
    assert broken.kind == "HeldoutError" and broken.detail.endswith("ValueError: File format not supported: a: b")
    assert heldout.verdict("lung", 0.95) is None

    verdict = Verdict.failed("test_x", "got 'a: b', want 'c'")
    again = Verdict(**json.loads(json.dumps(verdict.__dict__)))  # as the judge server's child replies
    assert (again.kind, again.detail, again.message) == ("AssertionError", "got 'a: b', want 'c'",
                                                         "AssertionError: got 'a: b', want 'c'")
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("pass", metadata={"nbgrader": {"grade": True, "grade_id": "test_x", "points": 1,
                                                                    "solution": False, "locked": True}})
    nb.cells = [cell]
    apply_verdicts(nb, [Verdict.failed("test_x", "a: b", kind="HeldoutError")])
    (out,) = nb.cells[0].outputs
    assert (out.ename, out.evalue) == ("HeldoutError", "a: b")
