"""The course's late policy and schedule as nbgrader classes: the late-submission plugin
(`CourseLatePolicy`, `AssignLatePenalties.plugin_class` in grader_config.py) and the preprocessor
that writes the due date into each released notebook (`InsertLatePolicy`). They live apart from
`deadlines` because they subclass nbgrader's classes, whose import takes most of a second: the
configuration check of every command imports `deadlines` only. grader_config.py names them as
`dlcourse.classroom.deadlines.<Class>`, which still works (the module's `__getattr__`)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from nbgrader.plugins import LateSubmissionPlugin
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Dict, Unicode

from ..cells import has_graded_cells
from .deadlines import POLICY_CELL_ID, LatePolicy, load_schedule, policy_text


class CourseLatePolicy(LateSubmissionPlugin):
    """The course's LATE_POLICY as nbgrader's late-submission plugin (`AssignLatePenalties.plugin_class`
    in grader_config.py): nbgrader's `AssignLatePenalties`, which `dlcourse autograde` runs after
    saving each notebook's grades, and the reports take the penalty from this one place, on the
    lateness nbgrader's gradebook computes (the submission's timestamp against the assignment's
    `duedate` plus the student's extension, which `sync_gradebook` keeps equal to grader_config.py)."""

    policy = Dict(help="LATE_POLICY of grader_config.py (dlcourse.classroom.deadlines)").tag(config=True)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float | None:
        percent = LatePolicy.from_config(self.policy).penalty(timedelta(seconds=total_seconds_late or 0))
        return score * percent / 100 if percent else None


class InsertLatePolicy(NbGraderPreprocessor):
    """Put the due date and the late policy of grader_config.py at the top of the student version
    (a markdown cell right under the title cell).

    Add "dlcourse.classroom.deadlines.InsertLatePolicy" to GenerateAssignment.preprocessors (before
    the last ComputeChecksums). The cell has a fixed id, so a rerun gives the same notebook.
    """

    course_root = Unicode("", help="the course whose grader_config.py gives the schedule (set by "
                                   "dlcourse.course.nbgrader_config; empty: the working directory's)"
                          ).tag(config=True)

    def preprocess(self, nb, resources):
        import nbformat

        schedule = load_schedule(Path(self.course_root) if self.course_root else None)
        if not schedule.deadlines and schedule.policy.kind == "none":
            return nb, resources
        if not has_graded_cells(nb):
            return nb, resources  # nothing graded (00_setup): no deadline to announce
        assignment = resources["nbgrader"]["assignment"]
        nb.cells = [c for c in nb.cells if c.get("id") != POLICY_CELL_ID]
        cell = nbformat.v4.new_markdown_cell(policy_text(assignment, schedule))
        cell["id"] = POLICY_CELL_ID
        first = nb.cells[0] if nb.cells else None  # right under the title cell (the notebook's contract)
        nb.cells.insert(1 if first is not None and first.cell_type == "markdown" else 0, cell)
        return nb, resources
