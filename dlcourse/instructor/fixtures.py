"""Fixture submissions: one exercise's solution replaced by a (wrong or alternative) version.

A fixture is a Python file in `tests/fixtures/<assignment>/`, named
`<exercise>__<scenario>.py`, whose header says what it is::

    \"\"\"Softmax without subtracting the row maximum: exp(1000) overflows.\"\"\"
    # exercise: softmax
    # expect: fail                 (or: pass, for a valid alternative)
    # must-fail: test_softmax_stability   (optional: test cells that must fail)

`run_fixture` executes, in a fresh kernel, the notebook's set-up cells, every
solution cell (the reference ones, and the fixture in place of its exercise) and
the exercise's test cells, visible and hidden, in notebook order, and returns each
test cell's result. This is the fast path; a few end-to-end autograde runs in the
test suite prove the real pipeline.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..grading.execute import TestResult, cell_results, execute, is_test_cell
from ..grading.judge import apply_verdicts, is_judged, judge_in_process, recording_preamble, tapes_of

HEADER = re.compile(r"^#\s*(exercise|expect|must-fail)\s*:\s*(.+?)\s*$", re.M)


@dataclass
class Fixture:
    path: Path
    assignment: str
    exercise: str
    expect: str  # "fail" or "pass"
    must_fail: list[str] = field(default_factory=list)
    code: str = ""

    @property
    def name(self) -> str:
        return f"{self.assignment}/{self.path.stem}"


def load_fixture(path: Path) -> Fixture:
    text = path.read_text(encoding="utf-8")
    fields: dict[str, str] = {}
    for key, value in HEADER.findall(text):
        fields[key] = value
    missing = {"exercise", "expect"} - fields.keys()
    if missing:
        raise ValueError(f"{path}: header lacks {sorted(missing)}")
    if fields["expect"] not in ("fail", "pass"):
        raise ValueError(f"{path}: expect must be 'fail' or 'pass', not {fields['expect']!r}")
    must_fail = fields.get("must-fail", "").replace(",", " ").split()
    return Fixture(path, path.parent.name, fields["exercise"], fields["expect"], must_fail, text)


def discover(fixtures_dir: Path) -> list[Fixture]:
    return [load_fixture(p) for p in sorted(fixtures_dir.glob("*/*.py"))]


def exercise_of(grade_id: str, exercises: list[str]) -> str | None:
    """The exercise a test cell belongs to: the longest name n with grade_id == test_n or test_n_*."""
    hits = [n for n in exercises if grade_id == f"test_{n}" or grade_id.startswith(f"test_{n}_")]
    return max(hits, key=len) if hits else None


def exercises(nb: nbformat.NotebookNode) -> list[str]:
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("solution")]


def harness_notebook(source: nbformat.NotebookNode, exercise: str,
                     replacement: str | None) -> nbformat.NotebookNode:
    """The cells to run for one exercise: set-up, solutions (one replaced), its tests."""
    names = exercises(source)
    if exercise not in names:
        raise KeyError(f"no exercise {exercise!r}; the notebook has {names}")
    nb = nbformat.v4.new_notebook(metadata=source.metadata)
    for cell in source.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        if "setup" in cell.metadata.get("tags", []):
            nb.cells.append(nbformat.v4.new_code_cell(cell.source))
        elif meta.get("solution"):
            code = replacement if (meta["grade_id"] == exercise and replacement is not None) else cell.source
            nb.cells.append(nbformat.v4.new_code_cell(code))
        elif is_test_cell(cell) and exercise_of(meta["grade_id"], names) == exercise:
            test = nbformat.v4.new_code_cell(cell.source)
            test.metadata["nbgrader"] = dict(meta)
            nb.cells.append(test)
    return nb


def run_exercise(source_path: Path, exercise: str, replacement: str | None = None,
                 timeout: int = 600) -> list[TestResult]:
    """The exercise's test results, the way grading decides them.

    For a notebook judged outside the kernel (`dlcourse.grading.judge`), the test cells run in
    record mode in the kernel and the verdicts come from the judge; otherwise from the kernel.
    """
    source = nbformat.read(source_path, as_version=4)
    nb = harness_notebook(source, exercise, replacement)
    judged = is_judged(source)
    if judged:
        names = exercises(source)
        for cell in nb.cells:
            if is_test_cell(cell):
                cell.source = recording_preamble(cell.metadata["nbgrader"]["grade_id"], names) + cell.source
    with tempfile.TemporaryDirectory(prefix="dlcourse-fixture-") as tmp:
        executed = execute(nb, cwd=Path(tmp), timeout=timeout)
        if judged:
            tests = {c.metadata["nbgrader"]["grade_id"] for c in executed.cells if is_test_cell(c)}
            # in this process: the tapes are our own fixtures' (grading uses a fresh, limited one)
            apply_verdicts(executed, judge_in_process(source, tapes_of(executed), only=tests))
    return cell_results(executed)


def run_fixture(fixture: Fixture, source_root: Path, timeout: int = 600) -> list[TestResult]:
    path = source_root / fixture.assignment / f"{fixture.assignment}.ipynb"
    return run_exercise(path, fixture.exercise, fixture.code, timeout)
