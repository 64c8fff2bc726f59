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


def translate(course: Course | Path, assignment: str, folder: Path, log=print) -> Path | None:
    """Write the Portuguese notebook of a generated release `folder` (release/<id>/pt_BR/<id>.ipynb)
    from source/<id>/<id>.pt_BR.po. No catalogue yet: English only, with a one-line warning. A
    catalogue with a missing or stale entry: CourseError naming the cells (never a fallback to English)."""
    from ..i18n import notebooks as tr
    from ..i18n.messages import policy_text
    from .deadlines import load_schedule

    course = Course.at(course)
    for stray in folder.glob("*.po"):  # a catalogue is no supporting file of the assignment
        stray.unlink()
    po = tr.po_path(course.root, assignment)
    if not po.is_file():
        log(f"warning: {assignment} has no {tr.LANGUAGE} catalogue ({po.relative_to(course.root)}): "
            "released in English only")
        return None
    import nbformat

    english = nbformat.read(folder / f"{assignment}.ipynb", as_version=4)
    schedule = load_schedule(course.root)
    has_policy = any(c.get("id") == tr.POLICY_CELL_ID for c in english.cells)
    try:
        translated = tr.build(english, assignment, tr.read_catalog(po),
                              english_url=course.settings.colab_url(assignment),
                              translated_url=colab_url(course, assignment, tr.LANGUAGE),
                              policy_text=policy_text(assignment, schedule, tr.LANGUAGE) if has_policy else None)
    except tr.TranslationError as exc:
        raise CourseError(str(exc)) from None
    out = tr.translated_path(folder, assignment)
    tr.write_notebook(translated, out)
    return out


def colab_url(course: Course | Path, assignment: str, language: str = "en") -> str:
    """The Colab link of a released notebook, English or translated (release/<id>/<language>/<id>.ipynb)."""
    url = Course.at(course).settings.colab_url(assignment)
    if language == "en":
        return url
    return url.rsplit("/", 1)[0] + f"/{language}/{assignment}.ipynb"


def build_release(course: Course | Path, assignment: str, out_dir: Path, db_url: str | None = None,
                  log=print) -> Path:
    """Generate release/<assignment>/ into `out_dir` (both languages), checked for leaks."""
    generate(course, assignment, out_dir, db_url)
    translate(course, assignment, out_dir / assignment, log=log)
    problems = check_release(out_dir / assignment)
    if problems:
        raise CourseError("the release leaks instructor material:\n" + "\n".join(problems))
    return out_dir / assignment


def release(course: Course | Path, assignment: str | None = None, db_url: str | None = None) -> list[str]:
    """Regenerate release/<name>/ for each assignment, in English and, where source/<name>/ has a
    catalogue, in Brazilian Portuguese (release/<name>/pt_BR/<name>.ipynb). Each is generated into a
    scratch folder and checked first: a failed generation, an incomplete translation or a leak leaves
    the committed release untouched."""
    import shutil

    course = Course.at(course)
    root = course.root
    names = course.assignments(assignment)
    for name in names:
        with tempfile.TemporaryDirectory(prefix="dlcourse-release-") as tmp:
            build_release(course, name, Path(tmp), db_url)
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


def english_release(course: Course | Path, assignment: str):
    """The English student notebook as `release` would write it now (generated into a scratch folder
    with a scratch gradebook): the text the catalogues translate, even before release/ is refreshed."""
    import nbformat

    with tempfile.TemporaryDirectory(prefix="dlcourse-translate-") as tmp:
        generate(course, assignment, Path(tmp) / "release", db_url=f"sqlite:///{Path(tmp) / 'gradebook.db'}")
        return nbformat.read(Path(tmp) / "release" / assignment / f"{assignment}.ipynb", as_version=4)
