"""`dlcourse validate NOTEBOOK`: run a student's notebook and its visible tests.

Exits non-zero when any test fails (nbgrader's own validate exits 0 then, #1908). It runs the
notebook in a plain kernel, as whoever calls it: a submission in a course's submitted/ or
autograded/ is refused (`dlcourse autograde --student` grades it in the sandbox).
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat

from ..course import CourseError
from ..grader.execute import cell_results, execute
from ..i18n import gettext as _
from ..i18n import notebook_language


def submission_of(path: Path) -> str | None:
    """The student whose submission `path` is, when it lies under a course's submitted/ or autograded/,
    as written or once its links are followed (a submitted/ that links to another disk)."""
    for where in (Path(os.path.abspath(path)), path.resolve()):
        for folder in where.parents:
            if folder.name in ("submitted", "autograded") and (folder.parent / "grader_config.py").is_file():
                rel = where.relative_to(folder).parts
                return rel[0] if len(rel) > 1 else "?"
    return None


def validate(path: Path, timeout: int = 600, log=print) -> int:
    student = submission_of(path)
    if student is not None:
        raise CourseError(f"{path} is a submission in the course: `dlcourse validate` would run it unsandboxed, "
                          f"as you; grade it with `dlcourse autograde <assignment> --student {student}`")
    if not path.is_file():
        log(f"error: no notebook at {path}")
        return 2
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # not JSON, not a notebook
        log(f"error: {path} is not a readable notebook: {exc}")
        return 2
    lang = notebook_language(nb)  # the summary in the notebook's language; the checks' messages already are
    executed = execute(nb, cwd=path.resolve().parent, timeout=timeout)
    results = cell_results(executed)
    if not results:
        log(_("{name}: no test cells found (is this a course notebook?)", lang).format(name=path.name))
        return 1
    for r in results:
        mark = _("PASS", lang) if r.passed else _("FAIL", lang)
        first = r.message.splitlines()[0] if r.message else ""
        log(f"  {mark}  {r.grade_id}" + (f"\n        {first}" if first else ""))
    failed = [r for r in results if not r.passed]
    log(_("{passed} passed, {failed} failed", lang).format(passed=len(results) - len(failed), failed=len(failed)))
    return 1 if failed else 0
