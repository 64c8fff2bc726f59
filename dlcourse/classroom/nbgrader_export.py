"""`nbgrader export`, with any exporter: refused while a row is no grade of dlcourse's.

The environment's guard (`dlcourse.autograde_guard`, a `.pth` file) wraps `ExportApp.init_plugin`, so the
refusal holds for nbgrader's CSV exporter, for another one named with `--exporter`, and from any folder.
nbgrader's CSV export writes every gradebook row as a grade. A row that dlcourse did not write (nbgrader
graded it in the student's kernel, from another environment) or wrote in an authoring run without the
sandbox is no grade to hand out: dlcourse's reports (reports/<assignment>/grades.csv) leave it out with
a note, and the export refuses, naming each row and what to run, before it writes anything. With
none of those, the exporter runs as nbgrader made it."""

from __future__ import annotations

from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.converters.base import NbGraderException

from ..grader.autograde import foreign_grade
from .reports import unsandboxed


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


def refuse_ungradable(root: Path, gradebook: Gradebook, plugin, app=None) -> None:
    """Refuse, before anything is written, an export (by `plugin`, any of nbgrader's exporters) while the
    gradebook holds a row within its filters that is no grade dlcourse gave; `app` (`nbgrader export`)
    then exits 1 with the message and no traceback."""
    reasons = ungradable_rows(root, gradebook, [str(a) for a in plugin.assignment], [str(s) for s in plugin.student])
    if not reasons:
        return
    message = ("nbgrader export refused: these gradebook rows are not grades dlcourse gave, and nbgrader's "
               "CSV would pass them on as grades. Nothing was written.\n  "
               + "\n  ".join(reasons)
               + "\n  The grades dlcourse gave are in reports/<assignment>/grades.csv "
                 "(written by `dlcourse autograde`).")
    plugin.log.error(message)
    if app is not None and hasattr(app, "exit"):  # `nbgrader export`: one message and exit 1, no traceback
        app.exit(1)
    raise NbGraderException(message)
