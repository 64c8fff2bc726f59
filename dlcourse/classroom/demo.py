"""`dlcourse demo` (`make demo`): release, build a demo class, grade it, report.

The class: `reference` (the source solutions), `blank` (the release untouched), one
student per valid-alternative set and a few with typical mistakes taken from the
fixtures in tests/fixtures/. By default (`make demo`) the whole class hands in the first graded
notebook (reference, blank, valid alternatives, two with mistakes, a late one, a copy) and every
other notebook is graded for `reference` only, so the demo shows the whole journey and every
notebook graded in a few minutes; `--class full` (`make demo-full`) gives every notebook the
whole class. A notebook without graded cells (00_setup) is released, never handed in: it has
nothing to score. Every notebook runs at smoke size (DLCOURSE_SMOKE=1)
unless --full; hidden tests use fixed sizes either way.

The class arrives as a real one does (issue 17): a Moodle "download all submissions" zip with a
roster (build/demo/), collected by `dlcourse collect`, with one student 26 h late under a 10 % per
day policy and one `copycat` who handed in a disguised copy of a classmate's answers; the demo
prints the late penalty and the most similar pair (`dlcourse similarity`).
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat

from .. import cells
from ..cells import grade_id, is_solution_cell

MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*\n", re.M)


def solution_code(source_cell) -> str:
    return MARKERS.sub("", source_cell.source)


def model_answer(question: str) -> str:
    """The model answer of a written question's mark scheme (its "Model answer" paragraph)."""
    scheme = question.split("BEGIN MARK SCHEME", 1)[-1].split("END MARK SCHEME", 1)[0]
    for paragraph in scheme.split("\n\n"):
        if "Model answer" in paragraph:
            return paragraph.strip().strip("=").strip()
    return scheme.strip()


def student_notebook(root: Path, assignment: str, replacements: dict[str, str] | None = None,
                     solve: bool = True) -> nbformat.NotebookNode:
    """The released notebook with its solution cells filled from source/ or `replacements`."""
    release = nbformat.read(root / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    source = nbformat.read(root / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    solutions = {grade_id(c): c for c in source.cells if is_solution_cell(c)}
    replacements = replacements or {}
    schemes = {grade_id(c): c.source for c in source.cells if cells.is_written_question(c)}
    for cell in release.cells:
        gid = grade_id(cell)
        if solve and cells.answer_to(cell) in schemes:  # a written answer: the mark scheme's model answer
            cell.source = model_answer(schemes[cells.answer_to(cell)])
        if not is_solution_cell(cell):
            continue
        if gid in replacements:
            cell.source = replacements[gid]
        elif solve:
            cell.source = solution_code(solutions[gid])
    return release


def demo_class(root: Path, assignment: str, max_mistake_students: int = 2,
               small: bool = False) -> dict[str, dict[str, str]]:
    """{student: {exercise: code}} built from the fixtures of `assignment` (small: the reference only)."""
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
    if small:
        return {"reference": students["reference"]}
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


def build_submissions(root: Path, assignment: str, small: bool = False, dest: Path | None = None) -> list[str]:
    """The demo class's submissions of `assignment` (from `root`'s fixtures) in `dest`/submitted/."""
    dest = dest or root
    students = demo_class(root, assignment, small=small)
    for student in DEMO_STUDENTS:  # the demo owns these folders (a bigger class's too): start afresh
        shutil.rmtree(dest / "submitted" / student / assignment, ignore_errors=True)
    for student, replacements in students.items():
        write_submission(root, dest / "submitted" / student / assignment, assignment, replacements)
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


DEMO_DUE = datetime(2026, 3, 20, 23, 59, tzinfo=UTC)
DEMO_POLICY = {"kind": "percent", "percent": 10, "per": "day", "cap": 50}


def plant_copy(code: str, salt: str = "q") -> str:
    """What a copier does to a classmate's cell: rename every local variable of its functions (names
    the tests use stay: signatures, module-level names), put the functions in another order, reformat and add
    comments (code that does not parse: comments only)."""
    import ast
    import builtins

    try:
        tree = ast.parse(code)
    except SyntaxError:
        return "\n".join(f"{line}  # {salt}" if line.strip() else line for line in code.splitlines()) + "\n"
    keep = set(dir(builtins)) | {n.asname or n.name.split(".")[0] for node in ast.walk(tree)
                                 if isinstance(node, ast.Import | ast.ImportFrom) for n in node.names}
    keep |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    keep |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
    keep |= {n.id for stmt in tree.body if not isinstance(stmt, ast.FunctionDef | ast.ClassDef)
             for n in ast.walk(stmt) if isinstance(n, ast.Name)}  # module-level names (quiz answers, ...)
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id not in keep:
            node.id = names.setdefault(node.id, f"{salt}_{len(names)}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in names:
            node.id = names[node.id]
    others = [n for n in tree.body if not isinstance(n, ast.FunctionDef)]
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)][::-1]
    lines = []
    for node in others + functions:
        for line in ast.unparse(node).splitlines():
            indent = line[: len(line) - len(line.lstrip())]
            if line.strip() and not line.lstrip().startswith(("def ", "return", "else", "elif", "@")):
                lines.append(f"{indent}# {salt}: next step")
            lines.append(line)
        lines.append("")
    return "\n".join(lines) + "\n"


def lms_class(root: Path, assignment: str, students: dict, late: str | None,
              copied: str | None) -> tuple[Path, Path, Path]:
    """The demo class as Moodle hands it out: build/demo/<assignment>-moodle.zip (plus `copycat`,
    a disguised copy of `copied`), the roster and the schedule (due date and late policy)."""
    import json
    import zipfile

    source = nbformat.read(root / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    solutions = {grade_id(c): solution_code(c) for c in source.cells if is_solution_cell(c)}
    if copied is not None:
        original = {**solutions, **(students.get(copied) or {})}
        students = {**students, "copycat": {ex: plant_copy(code) for ex, code in original.items()}}
    out = root / "build" / "demo"
    out.mkdir(parents=True, exist_ok=True)
    archive, roster = out / f"{assignment}-moodle.zip", out / "roster.csv"
    rows = ["student_id,first_name,last_name,email,moodle_id"]
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, (student, replacements) in enumerate(students.items()):
            first, pid = student.replace("-", " ").title(), 5000 + i
            rows.append(f"{student},{first},Demo,{student}@example.invalid,{pid}")
            when = DEMO_DUE + (timedelta(hours=26) if student == late else timedelta(hours=-2 - i))
            name = f"Copy of {assignment}.ipynb" if student == "copycat" else f"{assignment}.ipynb"
            info = zipfile.ZipInfo(f"{first} Demo_{pid}_assignsubmission_file_/{name}", when.timetuple()[:6])
            if replacements is None:
                data = (root / "release" / assignment / f"{assignment}.ipynb").read_bytes()
            else:
                data = nbformat.writes(student_notebook(root, assignment, replacements)).encode()
            zf.writestr(info, data, zipfile.ZIP_DEFLATED)
    roster.write_text("\n".join(rows) + "\n", encoding="utf-8")
    schedule = out / "schedule.json"
    data = json.loads(schedule.read_text()) if schedule.is_file() else {}
    data = {"TIMEZONE": "UTC", "LATE_POLICY": DEMO_POLICY, "ROSTER": "roster.csv",
            "DEADLINES": {**data.get("DEADLINES", {}), assignment: DEMO_DUE.strftime("%Y-%m-%d %H:%M")}}
    schedule.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return archive, roster, schedule


def late_and_copied(students: dict) -> tuple[str | None, str | None]:
    """Who of the demo class hands in 26 h late, and whose answers `copycat` copies: nobody in a
    class of the reference alone (the small class's other notebooks)."""
    if list(students) == ["reference"]:
        return None, None
    valid = "valid-alternatives" if "valid-alternatives" in students else "reference"
    return next((s for s in students if s.startswith("mistakes")), valid), valid


def demo_settings(course: Path, schedule: Path) -> None:
    """The demo's due dates, late policy and roster (`schedule`, from `lms_class`) set in its own
    course's grader_config.py, where every command reads them (no environment override), through
    the validated config (`config.write_constants`: known names, plain literals, and the check every
    command runs first)."""
    import json

    from ..config import write_constants

    data = json.loads(schedule.read_text(encoding="utf-8"))
    data["ROSTER"] = str((schedule.parent / data["ROSTER"]).resolve())
    write_constants(course, data, DEMO_SETTINGS_MARK)


DEMO_SETTINGS_MARK = "# --- the demo's schedule (dlcourse.classroom.demo.demo_settings) ---"


def collect_demo_class(root: Path, assignment: str, log=print, small: bool = False,
                       dest: Path | None = None) -> list[str]:
    """Build the demo class's Moodle zip from `root`'s fixtures and `dlcourse collect` it into the
    course `dest` (its grader_config.py gets the demo's due date, late policy and roster first)."""
    from .collect import collect, format_table

    dest = dest or root
    students = demo_class(root, assignment, small=small)
    archive, roster, schedule = lms_class(root, assignment, students, *late_and_copied(students))
    demo_settings(dest, schedule)
    for student in {*students, *DEMO_STUDENTS}:  # the demo owns these folders (a bigger class's too): afresh
        shutil.rmtree(dest / "submitted" / student / assignment, ignore_errors=True)
    result = collect(dest, assignment, archive, lms="moodle", roster_path=roster)
    log(f"{assignment}: collected {archive.relative_to(root)} with {roster.relative_to(root)}")
    log(format_table(result))
    return sorted(result.taken)


DEMO_STUDENTS = ("reference", "blank", "valid-alternatives", "mistakes-1", "mistakes-2", "copycat")




DEMO_JOB_GB = 3  # a demo job's kernel at smoke size, its grading process and judge server, with room


def demo_workers() -> int:
    """The demo's grading jobs: one more than cores, as far as memory holds DEMO_JOB_GB each.

    A grading job leaves its core idle for a while (its kernel starting, nbgrader's bookkeeping,
    the judge's plain Python), so a third job on two cores keeps both busy: `make demo` 220 s with
    two, 193 s with three (issue 14's notes). A real class's kernels can use their whole memory
    limit, so `dlcourse autograde` keeps one job per core."""
    cores = os.cpu_count() or 1
    try:
        memory_gb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    except (ValueError, OSError):  # not reported: trust the cores
        memory_gb = DEMO_JOB_GB * (cores + 1)
    return max(1, min(cores + 1, int(memory_gb // DEMO_JOB_GB)))


def run_demo(course, assignment: str | None = None, full: bool = False, workers: int | None = None,
             log=print, lms: bool = True, whole_class: bool = False) -> int:
    from ..course import Course
    from ..grader.autograde import autograde
    from .feedback import feedback
    from .release import release
    from .reports import grades_table, summary_table, write_reports

    if not full:
        os.environ["DLCOURSE_SMOKE"] = "1"
    repo = Course.at(course).root
    names = release(repo, assignment)  # the repository's release/, regenerated
    log(f"released: {', '.join(names)}")
    # the demo class is graded in a course of its own (build/demo-course: its configuration with the
    # demo's schedule, source/, release/, its own gradebook), never in the repository's
    root = repo / "build" / "demo-course"
    if root.exists():
        shutil.rmtree(root)
    scratch_course(repo, root, names)
    course = Course.at(root)
    db_url = course.db_url
    from ..cells import has_graded_cells

    graded = [n for n in names
              if has_graded_cells(nbformat.read(root / "source" / n / f"{n}.ipynb", as_version=4))]
    journey = graded[0] if graded else None  # the whole class hands this one in
    for name in names:
        if name not in graded:  # 00_setup: nothing to score, so the demo class hands nothing in
            log(f"{name}: no graded cells, nothing to hand in")
            continue
        small = not whole_class and name != journey
        students = (collect_demo_class(repo, name, log, small, dest=root) if lms
                    else build_submissions(repo, name, small, dest=root))
        log(f"{name}: demo class {', '.join(students)}")
    summaries = autograde(course, assignment, db_url=db_url, force=True, workers=workers or demo_workers())
    for name in graded:
        feedback(root, name)
        out = write_reports(course, db_url, name)
        table = grades_table(course, db_url, name)
        log(f"\n== {name} (reports in {out.relative_to(repo)})")
        log(summary_table(course, name, table, db_url))
        if lms:
            _late_and_similarity(root, name, log)
    failed_us = sum(s.grader_failures for s in summaries.values())
    if failed_us:
        log(f"the grader failed on {failed_us} submission(s): see the notes above")
    return 1 if failed_us else 0


def _late_and_similarity(root: Path, name: str, log=print) -> None:
    import pandas as pd

    from .similarity import similarity

    grades = pd.read_csv(root / "reports" / name / "grades.csv")
    for row in grades[grades["late_penalty"] > 0].itertuples():
        log(f"late: {row.student} submitted {row.hours_late:g} h late: -{row.late_penalty:g}% "
            f"(score {row.score:g} -> final {row.final_score:g})")
    report, pairs, _ = similarity(root, name)
    if pairs:
        log(f"most similar answers: {pairs[0].a} and {pairs[0].b} ({pairs[0].score:.0%}); "
            f"report {report.relative_to(root)}")
