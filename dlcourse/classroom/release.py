"""`dlcourse release`: regenerate release/ from source/ with nbgrader (deterministic)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..course import Course, CourseError, api

LEAKS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
         "dlcourse.instructor", "{{COLAB_URL}}", "{{COURSE_PIP}}")


def generate(root: Course | Path, assignment: str, release_dir: Path, db_url: str | None = None) -> None:
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


def release(course: Course | Path, assignment: str | None = None, db_url: str | None = None) -> list[str]:
    """Regenerate release/<name>/ for each assignment. Each is generated into a scratch folder
    and checked first: a failed generation or a leak leaves the committed release untouched."""
    import shutil

    course = Course.at(course)
    root = course.root
    names = course.assignments(assignment)
    for name in names:
        with tempfile.TemporaryDirectory(prefix="dlcourse-release-") as tmp:
            generate(course, name, Path(tmp), db_url)
            problems = check_release(Path(tmp) / name)
            if problems:
                raise CourseError("the release leaks instructor material:\n" + "\n".join(problems))
            target = root / "release" / name
            if target.is_symlink() or target.is_file():
                target.unlink()
            elif target.exists():
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(Path(tmp) / name, target)
    from .deadlines import sync_gradebook

    sync_gradebook(course, db_url or course.db_url, names)  # formgrader shows each due date
    return names


def register(root: Course | Path, assignment: str, db_url: str | None = None) -> None:
    """Put an assignment in a gradebook without touching release/."""
    with tempfile.TemporaryDirectory(prefix="dlcourse-release-") as tmp:
        generate(root, assignment, Path(tmp), db_url)
