"""The grading protocol, in-process: outcomes, markers, the digest and retries of grader failures."""

from __future__ import annotations

import json

import nbformat
import pytest
from conftest import ROOT

from dlcourse.grading import autograde as ag
from dlcourse.grading.protocol import Marker, Outcome, grader_version
from dlcourse.grading.worker import grade

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
    job = ag.make_job(course, A, "alice")
    assert ag.digest(job) == job["digest"]
    moved = dict(job, course_root="/elsewhere")
    assert ag.digest(moved) == job["digest"]
    assert ag.digest(dict(job, limits={**job["limits"], "memory_mb": 1})) != job["digest"]
    assert ag.digest(dict(job, notebook_timeout=job["notebook_timeout"] + 1)) != job["digest"]
    monkeypatch.setattr(ag, "grader_version", lambda: "9.9+other")
    assert ag.digest(job) != job["digest"]


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
    (folder / ag.MARKER).write_text(Marker(job["digest"], outcome).to_json())
    assert ag.is_current(course, job) is skipped
    (folder / ag.MARKER).write_text(Marker("another digest", Outcome.GRADED).to_json())
    assert not ag.is_current(course, job)


def test_a_dead_grading_process_is_the_graders_failure(course, monkeypatch):
    job = ag.make_job(course, A, "alice")
    monkeypatch.setattr(ag.sys, "executable", "/bin/false")  # the worker exits at once, with no result
    result = ag.run_job_subprocess(job, timeout=60)
    assert not result["ok"] and "the grading process died" in result["error"]
    assert ag.outcome_of(result) is Outcome.GRADER


def test_the_worker_says_whose_fault_a_failure_is():
    refused = grade({"assignment": A, "student": "x", "refused": "submitted/x is a symbolic link, not a folder",
                     "source_files": {}, "submission_files": {}})
    assert ag.outcome_of(refused) is Outcome.SUBMISSION
    broken_job = grade({"assignment": A, "student": "x"})  # the grader's own bug: a job without its files
    assert not broken_job["ok"] and ag.outcome_of(broken_job) is Outcome.GRADER
    assert "KeyError" in broken_job["error"]


def test_reports_and_summaries_name_grader_failures(course):
    from dlcourse.grading.reports import grader_notes

    folder = course / "autograded" / "alice" / A
    folder.mkdir(parents=True)
    (folder / ag.MARKER).write_text(Marker("d", Outcome.GRADER, error="the Dask task failed: lost").to_json())
    assert grader_notes(course, A, "alice").startswith("the grader failed, not the submission")
    (folder / ag.MARKER).write_text(Marker("d", Outcome.SUBMISSION, error="no notebook was graded").to_json())
    assert grader_notes(course, A, "alice") == "no notebook was graded"
    summary = ag.RunSummary(graded=3, failed=2, grader_failures=1)
    assert "failed 2 (1 by the grader: retried next run)" in summary.line()


REFUSED = {"assignment": A, "student": "x", "refused": "submitted/x is a symbolic link, not a folder",
           "source_files": {}, "submission_files": {}}


def test_a_workers_log_is_kept_on_both_paths(monkeypatch):
    import sys

    # an in-process IPython shell (the judge's, in another test) leaves a __main__ without __spec__,
    # which multiprocessing's forkserver start reads
    monkeypatch.setattr(sys.modules["__main__"], "__spec__", None, raising=False)
    result = ag.run_job_subprocess(dict(REFUSED), timeout=120)  # a fresh subprocess (the retry path)
    assert "grading x/01_softmax_cross_entropy" in result["log"]
    pool = ag.start_pool(1)  # the pool path: the pool process's stderr, this job's part of it
    try:
        [(_, pooled)] = list(ag.local_runner(pool, 1, 120)([dict(REFUSED)]))
    finally:
        pool.shutdown()
    assert "grading x/01_softmax_cross_entropy" in pooled["log"] and "the grader failed" not in pooled["log"]


def test_nothing_is_generated_or_started_when_nothing_needs_grading(course, monkeypatch):
    job = ag.make_job(course, A, "alice")
    folder = course / "autograded" / "alice" / A
    folder.mkdir(parents=True)
    (folder / ag.MARKER).write_text(Marker(job["digest"], Outcome.GRADED).to_json())

    def must_not_run(*args, **kwargs):
        raise AssertionError("called although every submission is unchanged")

    monkeypatch.setattr(ag, "register", must_not_run)
    monkeypatch.setattr(ag, "start_pool", must_not_run)
    said: list[str] = []
    summaries = ag.autograde(course, A, progress=False, log=said.append)
    assert (summaries[A].skipped, summaries[A].graded, summaries[A].failed) == (1, 0, 0), said


def test_a_graded_notebook_not_judged_outside_is_refused_before_anyone_is_graded(course):
    from dlcourse.grading.course import CourseError

    path = course / "source" / A / f"{A}.ipynb"
    nb = nbformat.read(path, as_version=4)
    del nb.metadata["dlcourse"]  # its tests would decide inside the student's kernel
    nbformat.write(nb, path)
    with pytest.raises(CourseError, match='not judged outside the kernel: add "dlcourse"'):
        ag.autograde(course, A, progress=False, log=lambda *_: None)
    assert not (course / "autograded").exists()
