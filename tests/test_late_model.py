"""Due dates, extensions and the late penalty live in nbgrader's own model (issue 29): the gradebook's
`Assignment.duedate` and each submission's `extension` (formgrader shows the due date), nbgrader's
`AssignLatePenalties` with the course's policy as its plugin, and reports that take the lateness
from the gradebook, so that nbgrader's penalty and dlcourse's can never disagree."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ROOT
from test_grading import A, dlcourse

from dlcourse.classroom.deadlines import CourseLatePolicy, format_timestamp
from dlcourse.classroom.demo import scratch_course, student_notebook

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grading")]
DUE = datetime(2026, 3, 20, 23, 59, tzinfo=UTC)
POLICY = {"kind": "percent", "percent": 10, "per": "day", "cap": 50, "grace_minutes": 0}


def test_the_course_policy_is_nbgraders_plugin():
    plugin = CourseLatePolicy(policy=POLICY)
    assert plugin.late_submission_penalty("s", 8.0, 26 * 3600) == pytest.approx(8.0 * 0.2)  # 2 started days
    assert plugin.late_submission_penalty("s", 8.0, 0) is None
    assert CourseLatePolicy(policy={"kind": "not_accepted"}).late_submission_penalty("s", 8.0, 60) == 8.0


def test_due_dates_extensions_and_penalties_are_nbgraders(tmp_path):
    import nbformat
    from nbgrader.api import Gradebook

    course = scratch_course(ROOT, tmp_path / "course", [A])
    config = course / "grader_config.py"
    config.write_text(config.read_text() + f'DEADLINES = {{"{A}": "2026-03-20 23:59"}}\n'
                      f'EXTENSIONS = {{"{A}": {{"extended": "48h"}}}}\nLATE_POLICY = {POLICY!r}\n')
    for student, hours in (("on-time", -2), ("late", 26), ("extended", 26)):
        folder = course / "submitted" / student / A
        folder.mkdir(parents=True)
        nbformat.write(student_notebook(ROOT, A), folder / f"{A}.ipynb")
        (folder / "timestamp.txt").write_text(format_timestamp(DUE + timedelta(hours=hours)) + "\n")
    run = dlcourse(course, "autograde", A, "--workers", "2", "--quiet")
    assert run.returncode == 0, run.stdout + run.stderr

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assert gb.find_assignment(A).duedate == DUE.replace(tzinfo=None)
        subs = {s.student_id: s for s in gb.assignment_submissions(A)}
        assert subs["extended"].extension == timedelta(hours=48) and subs["late"].extension is None
        assert subs["on-time"].total_seconds_late == 0 and subs["extended"].total_seconds_late == 0
        assert subs["late"].total_seconds_late == 26 * 3600
        penalty = {s: sum(nb.late_submission_penalty or 0 for nb in sub.notebooks) for s, sub in subs.items()}
        scores = {s: sub.score for s, sub in subs.items()}
    assert penalty["late"] == pytest.approx(0.2 * scores["late"]) and penalty["late"] > 0
    assert penalty["on-time"] == penalty["extended"] == 0
    with (course / "reports" / A / "grades.csv").open(encoding="utf-8") as fh:
        grades = {row["student"]: row for row in csv.DictReader(fh)}
    for student in subs:  # the report's final score is nbgrader's score less nbgrader's penalty
        assert float(grades[student]["final_score"]) == pytest.approx(scores[student] - penalty[student])
    assert float(grades["late"]["late_penalty"]) == 20.0 and float(grades["extended"]["hours_late"]) == 0

    # the extension withdrawn in grader_config.py, and a later time written into timestamp.txt: the
    # next run regrades nobody (nothing the grade rests on changed), yet the gradebook, nbgrader's
    # penalties and the reports follow. Before: stale lateness reached the LMS files until --force.
    config.write_text(config.read_text().replace('{"extended": "48h"}', "{}"))
    (course / "submitted" / "on-time" / A / "timestamp.txt").write_text(
        format_timestamp(DUE + timedelta(hours=50)) + "\n")
    run = dlcourse(course, "autograde", A, "--workers", "2", "--quiet")
    assert run.returncode == 0 and "graded 0" in run.stdout, run.stdout + run.stderr
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        subs = {s.student_id: s for s in gb.assignment_submissions(A)}
        assert subs["extended"].extension is None and subs["extended"].total_seconds_late == 26 * 3600
        assert subs["on-time"].total_seconds_late == 50 * 3600
        penalty = {s: sum(nb.late_submission_penalty or 0 for nb in sub.notebooks) for s, sub in subs.items()}
    assert penalty["extended"] == pytest.approx(0.2 * scores["extended"])
    assert penalty["on-time"] == pytest.approx(0.3 * scores["on-time"])  # 3 started days
    with (course / "reports" / A / "grades.csv").open(encoding="utf-8") as fh:
        grades = {row["student"]: row for row in csv.DictReader(fh)}
    assert float(grades["on-time"]["late_penalty"]) == 30.0 and float(grades["extended"]["late_penalty"]) == 20.0
