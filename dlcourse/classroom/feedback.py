"""`dlcourse feedback`: per-student HTML with each test's name, points and failure message.

Built from the autograded notebook's outputs and the gradebook, never from cell sources,
so no hidden test code reaches the student (unlike nbgrader's own feedback, #917).
"""

from __future__ import annotations

import html
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ..course import CourseError
from ..grader.autograde import foreign_grade, read_marker
from ..grader.execute import cell_results, is_test_cell
from ..grader.protocol import Outcome
from ..i18n import N_, describe_test, notebook_language
from ..i18n import gettext as _
from ..i18n.messages import translate_check, translate_note

STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;
text-align:left;vertical-align:top}.pass{color:#1a7f37}.fail{color:#b42318}
pre{white-space:pre-wrap;margin:0;font-size:.85rem}"""


UNSANDBOXED_NOTE = N_("This notebook was graded without the sandbox, by an authoring run "
                    "(dlcourse autograde --unsandboxed-authoring): it is not a grade of the class.")


def describe(cell) -> str:
    """The first paragraph of a test cell's docstring, on one line: what it checks (no code)."""
    src = cell.source.strip()
    for quote in ('"""', "'''"):
        if src.startswith(quote):
            paragraph = src[3:].split(quote, 1)[0].strip().split("\n\n")[0]
            return " ".join(line.strip() for line in paragraph.splitlines())
    return ""


def _notes_html(notes: list[str], lang: str = "en") -> str:
    if not notes:
        return ""
    items = "".join(f"<li>{html.escape(translate_note(n, lang))}</li>" for n in notes)
    heading = _("Notes from the grader", lang)
    return f"<h2>{heading}</h2><ul>{items}</ul>"


@dataclass(frozen=True)
class WrittenGrade:
    """A written question's grade in the gradebook: `score` None while no grader has marked it."""
    name: str
    score: float | None
    points: float
    comment: str = ""


def written_grades(db_url: str, course_id: str, assignment: str, student: str, notebook: str) -> list[WrittenGrade]:
    """The written questions (nbgrader task cells) of one submitted notebook, as formgrader left them."""
    from nbgrader.api import Gradebook, MissingEntry, TaskCell

    found = []
    with warnings.catch_warnings(), Gradebook(db_url, course_id) as gb:
        warnings.simplefilter("ignore")
        try:
            sub = gb.find_submission_notebook(notebook, assignment, student)
        except MissingEntry:
            return []
        comments = {c.name: (c.manual_comment or c.auto_comment or "") for c in sub.comments}
        for grade in sub.grades:
            if isinstance(grade.cell, TaskCell):
                pending = grade.needs_manual_grade or (grade.manual_score is None and grade.auto_score is None)
                found.append(WrittenGrade(grade.name, None if pending else float(grade.score),
                                          float(grade.max_score), comments.get(grade.name, "")))
    return found


NOT_ATTEMPTED = N_("not attempted: the exercise still raises NotImplementedError, as released "
                 "(write your solution in its cell, in place of that line)")


def stub_tests(nb: nbformat.NotebookNode) -> set[str]:
    """The test cells whose exercise is still the released stub: its solution cell still holds
    `raise NotImplementedError` (from the graded notebook's cells, never from a test's message)."""
    from ..cells import exercise_of, exercises, grade_id, is_solution_cell

    stubs = {grade_id(c) for c in nb.cells if is_solution_cell(c) and "raise NotImplementedError" in c.source}
    names = exercises(nb)
    return {gid for c in nb.cells if is_test_cell(c)
            if exercise_of(gid := c.metadata["nbgrader"]["grade_id"], names) in stubs}


def _who(student: str, name: str) -> str:
    return f"{name} ({student})" if name and name != student else student


def render(student: str, assignment: str, nb: nbformat.NotebookNode, notes: list[str] | None = None,
           late: str = "", written: list[WrittenGrade] | None = None, language: str | None = None,
           name: str = "", penalty: float = 0.0) -> str:
    """The page in the notebook's language (its metadata, dlcourse.language; `language` overrides it):
    headings, statuses, notes and the late line from the message catalogue; a check's message has
    its decimal-comma sentences and "Hint" translated, the rest of it as the test wrote it. `name`:
    the roster's name of `student` (shown beside the id); `penalty`, the late penalty in percent (the
    page then shows the final score grades.csv and the LMS files carry)."""
    lang = language or notebook_language(nb)
    results = cell_results(nb)
    descriptions = {c.metadata["nbgrader"]["grade_id"]: describe_test(describe(c), lang)
                    for c in nb.cells if is_test_cell(c)}
    written = written or []
    score = sum(r.score for r in results) + sum(w.score or 0 for w in written)
    total = sum(r.points for r in results) + sum(w.points for w in written)
    pending = sum(w.points for w in written if w.score is None)
    words = {"passed": _("passed", lang), "failed": _("failed", lang), "to be graded": _("to be graded", lang),
             "not answered": _("not answered", lang), "graded": _("graded", lang),
             "not attempted": _("not attempted", lang),
             "written": _("written question, marked by your instructor", lang), "test": _("test", lang),
             "result": _("result", lang), "points": _("points", lang), "message": _("message", lang)}
    rows = []
    stubs = stub_tests(nb)
    blank = [r for r in results if not r.passed and r.grade_id in stubs]
    for r in results:
        status = (f'<span class="pass">{words["passed"]}</span>' if r.passed
                  else f'<span class="fail">{words["not attempted"]}</span>' if r in blank
                  else f'<span class="fail">{words["failed"]}</span>')
        # a blank exercise is "not attempted", never "NotImplementedError", which blames the student
        text = _(NOT_ATTEMPTED, lang) if r in blank else translate_check(r.message, lang)
        message = f"<pre>{html.escape(text)}</pre>" if text else ""
        rows.append(f"<tr><td><code>{html.escape(r.grade_id)}</code><br><small>"
                    f"{html.escape(descriptions.get(r.grade_id, ''))}</small></td><td>{status}</td>"
                    f"<td>{r.score:g} / {r.points:g}</td><td>{message}</td></tr>")
    for w in written:
        status = (f'<span>{words["to be graded"]}</span>' if w.score is None
                  else f'<span class="fail">{words["not answered"]}</span>'
                  if w.comment.startswith("No answer was written")
                  else f'<span class="pass">{words["graded"]}</span>')
        got = "–" if w.score is None else _number(w.score, lang)
        comment = f"<pre>{html.escape(translate_note(w.comment, lang))}</pre>" if w.comment else ""
        rows.append(f"<tr><td><code>{html.escape(w.name)}</code><br><small>"
                    f"{words['written']}</small></td><td>{status}</td>"
                    f"<td>{got} / {_number(w.points, lang)}</td><td>{comment}</td></tr>")
    so_far = (_(" (so far: {pending} point(s) of written answers are still to be graded)", lang).format(
        pending=_number(pending, lang)) if pending else "")
    if results and len(blank) == len(results):
        so_far += _(". Not attempted: no exercise of this notebook was written (each still raises "
                    "NotImplementedError)", lang)
    who = html.escape(_who(student, name))
    head = (_("Student: <b>{student}</b>. Score: <b>{score} / {total}</b>", lang)
            .format(student=who, score=_number(score, lang), total=_number(total, lang)))
    if penalty > 0:  # as grades.csv's final_score: the score less the penalty's percent
        final = round(score * (1 - penalty / 100), 2)
        so_far += ". " + _("Score after the late penalty: <b>{final} / {total}</b>", lang).format(
            final=_number(final, lang), total=_number(total, lang))
    return (f"<!DOCTYPE html><html lang='{'pt-BR' if lang == 'pt_BR' else 'en'}'><head><meta charset='utf-8'>"
            f"<title>{html.escape(assignment)}: "
            f"{who}</title><style>{STYLE}</style></head><body>"
            f"<h1>{html.escape(assignment)}</h1><p>{head}{so_far}</p>{_late_html(late, lang, penalty)}<table><tr>"
            f"<th>{words['test']}</th><th>{words['result']}</th><th>{words['points']}</th>"
            f"<th>{words['message']}</th></tr>{''.join(rows)}</table>{_notes_html(notes or [], lang)}"
            "</body></html>\n")


def _number(value: float, lang: str) -> str:
    """A score as the page's language writes it: 2.5 or 2,5."""
    text = f"{value:g}"
    return text.replace(".", ",") if lang == "pt_BR" else text


def render_error(student: str, assignment: str, error: str, language: str = "en", name: str = "") -> str:
    """The page of a submission that could not be graded at all (score 0)."""
    lang = language
    lines = [line for line in error.strip().splitlines() if line.strip()]
    first = (lines[0] if lines and "Traceback" not in error else lines[-1]) if lines else "unknown error"
    who = html.escape(_who(student, name))
    head = _("Student: <b>{student}</b>. Score: <b>{score}</b>", lang).format(student=who, score=0)
    failed = _("Your notebook could not be graded:", lang)
    advice = _("Check that it opens in Jupyter, keeps its original name, and runs from top to bottom "
               "(Kernel &gt; Restart and run all) without hanging or crashing the kernel.", lang)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(assignment)}: "
            f"{who}</title><style>{STYLE}</style></head><body>"
            f"<h1>{html.escape(assignment)}</h1><p>{head}</p>"
            f"<p class='fail'>{failed}</p><pre>{html.escape(first)}</pre><p>{advice}</p></body></html>\n")


def student_names(root: Path, roster_path: Path | None = None) -> dict[str, str]:
    """{student id: full name} from the roster, taken as every command takes it (`--roster FILE`, else
    ROSTER of grader_config.py); {} without one."""
    from .collect import read_roster
    from .deadlines import load_schedule

    roster_path = roster_path or load_schedule(root).roster
    if roster_path is None:
        return {}
    return {s.student_id: s.full_name for s in read_roster(roster_path) if s.full_name}


def feedback(root: Path, assignment: str, db_url: str | None = None, roster_path: Path | None = None) -> list[Path]:
    """One HTML page per graded submission (a short one when it could not be graded); written
    questions with the grader's score and comment from the gradebook (`db_url`, the course's by default);
    each student named as the roster names them (`roster_path`, else ROSTER) beside their id."""
    from ..course import Course

    course = Course.at(root)
    from .deadlines import gradebook_lateness

    db_url = db_url or course.db_url
    names = student_names(root, roster_path)
    lateness = gradebook_lateness(db_url, course.settings.course_id, assignment, root)
    written = []
    for folder in sorted((root / "autograded").glob(f"*/{assignment}")):
        student = folder.parent.name
        out_dir = root / "feedback" / student / assignment
        why = foreign_grade(root, student, assignment)
        if why:  # graded some other way (no marker of dlcourse's): no page, and no grade to publish
            print(f"feedback: {why}")
            continue
        notebooks = sorted(folder.glob("*.ipynb"))
        marker = read_marker(root, student, assignment)
        notes = marker.notices if marker is not None else []
        if marker is not None and marker.unsandboxed:
            notes = [UNSANDBOXED_NOTE, *notes]
        pages = []
        for p in notebooks:
            nb = nbformat.read(p, as_version=4)
            late = late_note(root, assignment, student, lateness, notebook_language(nb))
            pages.append((out_dir / f"{p.stem}.html",
                          render(student, assignment, nb, notes, late,
                                 written_grades(db_url, course.settings.course_id, assignment, student, p.stem),
                                 name=names.get(student, ""), penalty=late_penalty(root, student, lateness))))
        if not notebooks:
            if marker is None or marker.outcome is Outcome.GRADER:  # not graded yet: no 0 to show
                continue
            error = marker.error
            pages = [(out_dir / f"{assignment}.html",
                      render_error(student, assignment, error, _submitted_language(root, student, assignment),
                                   name=names.get(student, "")))]
        for out, text in pages:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text, encoding="utf-8")
            written.append(out)
    return written


def _submitted_language(root: Path, student: str, assignment: str) -> str:
    """The language of a submission that could not be graded, from its notebook's metadata where it
    can be read at all (else English)."""
    import json

    path = root / "submitted" / student / assignment / f"{assignment}.ipynb"
    try:
        nb = json.loads(path.read_text(encoding="utf-8")) if path.is_file() and not path.is_symlink() else None
    except (OSError, ValueError):
        return "en"
    return notebook_language(nb) if isinstance(nb, dict) else "en"


# ---------------------------------------------------------------- late note and LMS packs (issue 17)


def late_penalty(root: Path, student: str, lateness: dict) -> float:
    """The student's late penalty in percent (0 when on time or of unknown time), by the late policy."""
    from .deadlines import load_schedule

    entry = lateness.get(student)
    return float(load_schedule(root).policy.penalty(entry.late)) if entry is not None else 0.0


def late_note(root: Path, assignment: str, student: str, lateness: dict, language: str = "en") -> str:
    """"submitted 26 h late: -20%" from the gradebook's lateness (`deadlines.gradebook_lateness`) and the
    late policy, in `language`; counted from an extension, it names the extended due date."""
    from .deadlines import feedback_line, load_schedule

    return feedback_line(load_schedule(root).policy, lateness.get(student), language)


def _late_html(late: str, lang: str = "en", penalty: float = 0.0) -> str:
    if not late:
        return ""
    before = " " + _("(the score above is before the late penalty)", lang) if penalty > 0 else ""
    return f"<p class='fail'>{html.escape(late)}{before}</p>"


PACKS = ("moodle", "canvas", "zip")


def pack_feedback(root: Path, assignment: str, kind: str, roster_path: Path | None = None) -> list[Path]:
    """The feedback pages in the form an LMS uploads in bulk, under feedback/<assignment>-<kind>...:

    - moodle: one zip of `Full Name_<participant id>_assignsubmission_file_/<page>.html` folders for
      Moodle's "Upload multiple feedback files in a zip" (feedback files plugin), which splits each folder
      name at `_` and takes the second field as the participant id (both the 4.1+ `..._file/` and the older
      `..._file_/` folders are read), as in its submissions download:
      https://github.com/moodle/moodle/blob/main/mod/assign/feedback/file/importziplib.php;
    - canvas: one zip of `<lastnamefirstname>_<user id>_<attachment id>_<page>.html` for Canvas's
      "Re-upload submissions", which reads the first two all-digit fields as the user id and the id of
      an attachment of that user's submission (Assignment#infer_comment_context_from_filename in
      https://github.com/instructure/canvas-lms/blob/master/app/models/assignment.rb); the user id comes
      from the roster, the attachment id from reports/<assignment>/collect.csv (`dlcourse collect`);
    - zip: one zip per student, feedback/<assignment>-zip/<student>.zip, to send by any means.
    Students without the LMS ids are left out, with a note.
    """
    import csv
    import zipfile

    from .collect import _key, read_roster
    from .deadlines import load_schedule

    if kind not in PACKS:
        raise CourseError(f"--pack must be one of {', '.join(PACKS)}, not {kind!r}")
    pages = {p.parent.parent.name: sorted(p.parent.glob("*.html"))
             for p in sorted((root / "feedback").glob(f"*/{assignment}/*.html"))}
    if not pages:
        raise CourseError(f"no feedback pages of {assignment} to pack: grade, then run dlcourse feedback first")
    out_dir = root / "feedback"
    if kind == "zip":
        written = []
        (out_dir / f"{assignment}-zip").mkdir(parents=True, exist_ok=True)
        for student, files in pages.items():
            path = out_dir / f"{assignment}-zip" / f"{student}.zip"
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
                for f in files:
                    zf.write(f, f"{assignment}/{f.name}")
            written.append(path)
        return written
    roster_path = roster_path or load_schedule(root).roster
    if roster_path is None:
        raise CourseError(f"--pack {kind} needs the roster's LMS ids: pass --roster FILE or set ROSTER in "
                          "grader_config.py")
    roster = {s.student_id: s for s in read_roster(roster_path)}
    manifest = root / "reports" / assignment / "collect.csv"
    attachments = {}
    if manifest.is_file():
        with manifest.open(encoding="utf-8") as fh:
            attachments = {row["student"]: row.get("attachment_id", "") for row in csv.DictReader(fh)}
    path = out_dir / f"{assignment}-{kind}.zip"
    skipped = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for student, files in pages.items():
            s = roster.get(student)
            if kind == "moodle" and s is not None and s.moodle_id:
                who = s.full_name.replace("_", " ") or "Participant"  # Moodle splits the folder name at `_`
                for f in files:
                    zf.write(f, f"{who}_{s.moodle_id}_assignsubmission_file_/{f.name}")
            elif kind == "canvas" and s is not None and s.canvas_id and attachments.get(student, "").isdigit():
                name = _key(s.last_name + s.first_name) or student  # Canvas ignores it; no `_<digits>_` in it
                for f in files:
                    zf.write(f, f"{name}_{s.canvas_id}_{attachments[student]}_{f.name}")
            else:
                skipped.append(student)
    if skipped:
        need = "a moodle_id in the roster" if kind == "moodle" else \
            "a canvas_id in the roster and an attachment id from collecting a Canvas zip"
        if len(skipped) == len(pages):
            path.unlink()
            raise CourseError(f"{kind} pack: no student could be packed (each needs {need}): "
                              f"{', '.join(skipped)}; nothing was written")
        print(f"{kind} pack: left out (needs {need}): {', '.join(skipped)}")
    return [path]
