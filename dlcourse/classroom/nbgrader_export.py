"""`nbgrader export` in the course folder (grader_config.py: `ExportApp.plugin_class`).

nbgrader's CSV export writes every gradebook row as a grade. A row that dlcourse did not write (nbgrader
graded it in the student's kernel, from another environment) or wrote in an authoring run without the
sandbox is no grade to hand out: dlcourse's reports (reports/<assignment>/grades.csv) leave it out with
a note, and this export refuses, naming each row and what to run, before it writes anything. With
none of those, it is nbgrader's own CSV."""

from __future__ import annotations

import os
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.converters.base import NbGraderException
from nbgrader.plugins import CsvExportPlugin

from ..grader.autograde import foreign_grade
from .reports import unsandboxed


def _course_root(plugin) -> Path:
    """The course folder: nbgrader's `CourseDirectory.root` where the configuration sets it, else the
    working directory (nbgrader's own default)."""
    root = plugin.config.get("CourseDirectory", {}).get("root")
    return Path(root or os.getcwd())


def ungradable_rows(root: Path, gradebook: Gradebook, assignments: list[str], students: list[str]) -> list[str]:
    """Why each submission in the gradebook (within the export's filters) is not a grade dlcourse gave."""
    reasons = []
    for assignment in gradebook.assignments:
        if assignments and assignment.name not in assignments:
            continue
        for student in gradebook.students:
            if students and student.id not in students:
                continue
            try:
                gradebook.find_submission(assignment.name, student.id)
            except MissingEntry:
                continue  # nothing handed in: nbgrader's 0
            why = foreign_grade(root, student.id, assignment.name)
            if not why and unsandboxed(root, assignment.name, student.id):
                why = (f"{student.id}: graded by an authoring run without the sandbox (--unsandboxed-authoring); "
                       f"run `dlcourse autograde {assignment.name} --student {student.id}`")
            if why:
                reasons.append(f"{assignment.name}: {why}")
    return reasons


class DlcourseGradesExport(CsvExportPlugin):
    """nbgrader's CSV export, refused while the gradebook holds a row dlcourse would not report."""

    def export(self, gradebook: Gradebook) -> None:
        reasons = ungradable_rows(_course_root(self), gradebook, [str(a) for a in self.assignment],
                                  [str(s) for s in self.student])
        if reasons:
            message = ("nbgrader export refused: these gradebook rows are not grades dlcourse gave, and nbgrader's "
                       "CSV would pass them on as grades. Nothing was written.\n  "
                       + "\n  ".join(reasons)
                       + "\n  The grades dlcourse gave are in reports/<assignment>/grades.csv "
                         "(written by `dlcourse autograde`).")
            self.log.error(message)
            if hasattr(self.parent, "exit"):  # `nbgrader export`: one message and exit 1, no traceback
                self.parent.exit(1)
            raise NbGraderException(message)
        super().export(gradebook)
