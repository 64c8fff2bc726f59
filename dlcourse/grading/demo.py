"""`dlcourse demo` (`make demo`): release, build a demo class, grade it, report.

The class: `reference` (the source solutions), `blank` (the release untouched), one
student per valid-alternative set and a few with typical mistakes taken from the
fixtures in tests/fixtures/. Every notebook runs at smoke size (DLCOURSE_SMOKE=1)
unless --full; hidden tests use fixed sizes either way.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import nbformat

MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*\n", re.M)


def solution_code(source_cell) -> str:
    return MARKERS.sub("", source_cell.source)


def student_notebook(root: Path, assignment: str, replacements: dict[str, str] | None = None,
                     solve: bool = True) -> nbformat.NotebookNode:
    """The released notebook with its solution cells filled from source/ or `replacements`."""
    release = nbformat.read(root / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    source = nbformat.read(root / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    solutions = {c.metadata["nbgrader"]["grade_id"]: c for c in source.cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    replacements = replacements or {}
    for cell in release.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if not cell.metadata.get("nbgrader", {}).get("solution"):
            continue
        if gid in replacements:
            cell.source = replacements[gid]
        elif solve:
            cell.source = solution_code(solutions[gid])
    return release


def demo_class(root: Path, assignment: str, max_mistake_students: int = 2) -> dict[str, dict[str, str]]:
    """{student: {exercise: code}} built from the fixtures of `assignment`."""
    from ..instructor.fixtures import discover

    fixtures = [f for f in discover(root / "tests" / "fixtures") if f.assignment == assignment]
    students: dict[str, dict[str, str] | None] = {"reference": {}, "blank": None}
    valid = {f.exercise: f.code for f in fixtures if f.expect == "pass"}
    if valid:
        students["valid-alternatives"] = valid
    by_exercise: dict[str, list[str]] = {}
    for f in fixtures:
        if f.expect == "fail":
            by_exercise.setdefault(f.exercise, []).append(f.code)
    for k in range(max_mistake_students):
        picks = {ex: codes[k] for ex, codes in by_exercise.items() if k < len(codes)}
        if picks:
            students[f"mistakes-{k + 1}"] = picks
    return students


def write_submission(root: Path, folder: Path, assignment: str, replacements: dict[str, str] | None) -> None:
    """One submission in `folder`: the release untouched (None) or solved with `replacements`."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    if replacements is None:
        shutil.copy2(root / "release" / assignment / f"{assignment}.ipynb", folder)
    else:
        nbformat.write(student_notebook(root, assignment, replacements), folder / f"{assignment}.ipynb")


def build_submissions(root: Path, assignment: str) -> list[str]:
    students = demo_class(root, assignment)
    for student, replacements in students.items():
        write_submission(root, root / "submitted" / student / assignment, assignment, replacements)
    return list(students)


def scratch_course(root: Path, dest: Path, assignments: list[str] | None = None, release: bool = True) -> Path:
    """A course in `dest` to grade or serve in: the configuration, source/ and (with `release`)
    release/ of all or some assignments, so that the repository itself stays untouched."""
    dest.mkdir(parents=True)
    for name in ("grader_config.py", "nbgrader_config.py"):
        shutil.copy2(root / name, dest / name)
    names = assignments or sorted(p.name for p in (root / "source").iterdir() if p.is_dir())
    for folder in ("source", "release") if release else ("source",):
        for a in names:
            if (root / folder / a).is_dir():
                shutil.copytree(root / folder / a, dest / folder / a,
                                ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return dest


def generated_class(root: Path, base: Path, assignments: list[str], students: int) -> Path:
    """A scratch course in `base/course` with `students` submissions per assignment, cycling
    through the demo class (reference, blank, valid alternatives, mistakes)."""
    course = scratch_course(root, base / "course", assignments, release=False)
    for a in assignments:
        kinds = list(demo_class(root, a).items())
        for i in range(students):
            label, replacements = kinds[i % len(kinds)]
            write_submission(root, course / "submitted" / f"s{i:03d}-{label}" / a, a, replacements)
    return course


def run_demo(root: Path, assignment: str | None = None, full: bool = False, workers: int | None = None,
             log=print) -> int:
    from .autograde import autograde
    from .course import default_db_url
    from .feedback import feedback
    from .release import release
    from .reports import grades_table, write_reports

    if not full:
        os.environ["DLCOURSE_SMOKE"] = "1"
    names = release(root, assignment)
    log(f"released: {', '.join(names)}")
    db_url = default_db_url(root)
    for name in names:
        students = build_submissions(root, name)
        log(f"{name}: demo class {', '.join(students)}")
    autograde(root, assignment, db_url=db_url, force=True, workers=workers)
    for name in names:
        feedback(root, name)
        out = write_reports(root, db_url, name)
        table = grades_table(root, db_url, name)
        log(f"\n== {name} (reports in {out.relative_to(root)})")
        log(table[["student", "score", "max_score", "percent"]].to_string(index=False))
    return 0
