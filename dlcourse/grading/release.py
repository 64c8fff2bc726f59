"""`dlcourse release`: regenerate release/ from source/ with nbgrader (deterministic)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from .course import CourseError, api, resolve_assignments

LEAKS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
         "dlcourse.instructor", "{{COLAB_URL}}", "{{COURSE_PIP}}")


def generate(root: Path, assignment: str, release_dir: Path, db_url: str | None = None) -> None:
    """Run nbgrader's generate_assignment into `release_dir` (which also fills the gradebook)."""
    nb_api = api(root, db_url, release_directory=str(release_dir))
    result = nb_api.generate_assignment(assignment, force=True, create=True)
    if not result.get("success"):
        raise CourseError(f"nbgrader could not generate {assignment}:\n{result.get('log', '')[-3000:]}\n"
                          f"{result.get('error') or ''}")


def check_release(folder: Path) -> list[str]:
    """Problems in a released assignment folder (solution or hidden-test text)."""
    problems = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in (".ipynb", ".py", ".md", ".txt"):
            text = path.read_text(encoding="utf-8", errors="replace")
            problems += [f"{path}: contains {leak!r}" for leak in LEAKS if leak in text]
    return problems


def release(root: Path, assignment: str | None = None, db_url: str | None = None) -> list[str]:
    names = resolve_assignments(root, assignment)
    for name in names:
        generate(root, name, root / "release", db_url)
        problems = check_release(root / "release" / name)
        if problems:
            raise CourseError("the release leaks instructor material:\n" + "\n".join(problems))
    return names


def register(root: Path, assignment: str, db_url: str | None = None) -> None:
    """Put an assignment in a gradebook without touching release/."""
    with tempfile.TemporaryDirectory(prefix="dlcourse-release-") as tmp:
        generate(root, assignment, Path(tmp), db_url)
