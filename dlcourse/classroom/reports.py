"""Class reports from the gradebook: grades.csv, LMS imports, a histogram, per-test failures and,
for held-out tasks that rank scores, a leaderboard under pseudonyms."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from ..course import Course
from ..grader.autograde import MARKER, foreign_grade, read_marker
from ..grader.protocol import Outcome


def grades_table(course: Course | Path, db_url: str, assignment: str) -> pd.DataFrame:
    """One row per student: score, max_score, percent, the points of written answers still to be
    graded in formgrader (`to_grade`), one column per test cell and written question (NaN until
    graded), the grader's notes and whether an authoring run graded it without the sandbox (`unsandboxed`)."""
    from nbgrader.api import Gradebook, MissingEntry

    course = Course.at(course)
    root = course.root
    rows = []
    with Gradebook(db_url, course.settings.course_id) as gb:
        try:
            gb.find_assignment(assignment)
        except MissingEntry:
            return pd.DataFrame(columns=["student", "assignment", "score", "max_score", "percent"])
        for sub in gb.assignment_submissions(assignment):
            row = {"student": sub.student_id, "assignment": assignment,
                   "score": float(sub.score), "max_score": float(sub.max_score), "to_grade": 0.0}
            for nb in sub.notebooks:
                for grade in nb.grades:
                    if grade.cell_type == "code":
                        row[grade.name] = float(grade.score)
                    elif grade.needs_manual_grade:  # a written answer formgrader has not marked yet
                        row["to_grade"] += float(grade.max_score)
                        row[grade.name] = float("nan")
                    else:
                        row[grade.name] = float(grade.score)
            rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=["student", "assignment", "score", "max_score", "percent"])
    table.insert(4, "percent", (100 * table["score"] / table["max_score"].where(table["max_score"] > 0)).round(1))
    table["notes"] = [grader_notes(root, assignment, s) for s in table["student"]]
    table["unsandboxed"] = [unsandboxed(root, assignment, s) for s in table["student"]]
    for i, student in enumerate(table["student"]):  # a row dlcourse did not write is no grade: no score
        why = foreign_grade(root, student, assignment)
        if why:
            graded = [c for c in table.columns if c not in ("student", "assignment", "max_score", "notes",
                                                              "unsandboxed", "to_grade")]
            table.loc[i, graded] = float("nan")
            table.loc[i, "notes"] = why
    return table.sort_values("student").reset_index(drop=True)


def summary_table(course: Course | Path, assignment: str, table: pd.DataFrame, db_url: str) -> str:
    """The table a command prints: score, max_score, percent; the written points still to grade and
    the final score after the late penalty where they matter; a line on what to do next."""
    table = with_late_policy(course, assignment, table, db_url)
    shown = ["student", "score", "max_score", "percent"]
    waiting = int((table["to_grade"] > 0).sum()) if "to_grade" in table else 0
    late = bool((table["late_penalty"] > 0).any())
    marked = bool((table["late"] != "").any())  # late by a time, or by the LMS's mark alone
    shown += (["to_grade"] if waiting else []) + (["late"] if marked else []) + \
        (["late_penalty", "final_score"] if late else [])
    text = table[shown].to_string(index=False)
    if late:
        text += "\nlate_penalty is in percent; final_score is what grades.csv and the LMS files carry"
    if (table["late"] == "late (time unknown)").any():
        text += ("\nlate (time unknown): the LMS marked it late, but its zip has no submission time: no penalty "
                 "until the time is written into submitted/<student>/<assignment>/timestamp.txt")
    if waiting:
        text += (f"\n{waiting} submission(s) have written answers to grade: formgrader (make lab), Manual "
                 "Grading; the scores above and the LMS files count them once graded")
    strangers = not_in_roster(course, table)
    if strangers:
        text += (f"\nnot in the roster: {', '.join(strangers)}: graded, in grades.csv, canvas.csv and moodle.csv, "
                 "but not in canvas_roster.csv, moodle_worksheet.csv or classroom.csv (add them to the roster)")
    return text


def not_in_roster(course: Course | Path, table: pd.DataFrame) -> list[str]:
    """The graded students the course's roster (ROSTER) does not list; [] without a roster."""
    from .collect import read_roster
    from .deadlines import load_schedule

    roster_path = load_schedule(course).roster
    if roster_path is None or not Path(roster_path).is_file() or table.empty:
        return []
    known = {s.student_id for s in read_roster(roster_path)}
    return sorted(s for s in table["student"] if s not in known)


def unsandboxed(root: Path, assignment: str, student: str) -> bool:
    """Graded by an authoring run (`--unsandboxed-authoring`): not a grade to hand out."""
    marker = read_marker(root, student, assignment)
    return marker is not None and marker.unsandboxed


def grader_notes(root: Path, assignment: str, student: str) -> str:
    """What the grader had to say about a submission: why it failed, what it repaired or stopped."""
    marker = read_marker(root, student, assignment)
    if marker is None:
        return ""
    parts = [marker.error.strip().splitlines()[0]] if marker.error.strip() else []
    if marker.outcome is Outcome.GRADER:
        parts[:1] = [f"the grader failed, not the submission (it is graded again on the next run): "
                     f"{parts[0] if parts else 'no reason given'}"]
    parts += [n for n in marker.notices if n not in parts]
    return "; ".join(parts)


def test_failures(root: Path, assignment: str) -> pd.DataFrame:
    """How many students failed each test, with the most common message: the class's misconceptions."""
    counts: dict[str, dict] = {}
    for marker in sorted((root / "autograded").glob(f"*/{assignment}/{MARKER}")):
        data = json.loads(marker.read_text())
        for results in data.get("results", {}).values():
            for r in results:
                entry = counts.setdefault(r["grade_id"], {"test": r["grade_id"], "points": r["points"],
                                                          "students": 0, "failed": 0, "messages": {}})
                entry["students"] += 1
                if not r["passed"]:
                    entry["failed"] += 1
                    first = (r["message"] or "").splitlines()[0][:120]
                    entry["messages"][first] = entry["messages"].get(first, 0) + 1
    rows = []
    for entry in counts.values():
        msgs = entry.pop("messages")
        entry["most_common_failure"] = max(msgs, key=msgs.get) if msgs else ""
        rows.append(entry)
    return pd.DataFrame(rows, columns=["test", "points", "students", "failed", "most_common_failure"])


def write_reports(course: Course | Path, db_url: str, assignment: str) -> Path:
    """Write reports/<assignment>/: grades.csv, canvas.csv, moodle.csv, histogram.png, tests.csv."""
    course = Course.at(course)
    root = course.root
    out = root / "reports" / assignment
    out.mkdir(parents=True, exist_ok=True)
    table = with_late_policy(course, assignment, grades_table(course, db_url, assignment), db_url)
    table.to_csv(out / "grades.csv", index=False)
    table = table[table["score"].notna()]  # no grade of dlcourse's (grades_table's note): none to import
    # Canvas gradebook import: Student, ID, SIS User ID, SIS Login ID, Section, then the assignment.
    pd.DataFrame({"Student": table["student"], "ID": "", "SIS User ID": table["student"],
                  "SIS Login ID": table["student"], "Section": "",
                  f"{assignment}": table["final_score"]}).to_csv(out / "canvas.csv", index=False)
    # Moodle grade import: an identifier column mapped to the user's ID number, then the grade.
    pd.DataFrame({"ID number": table["student"], assignment: table["final_score"]}).to_csv(
        out / "moodle.csv", index=False)
    lms_grade_exports(course, assignment, table, out)
    test_failures(root, assignment).to_csv(out / "tests.csv", index=False)
    _histogram(table, assignment, out / "histogram.png")
    board = leaderboard(course, assignment)
    if not board.empty:  # to show the class: pseudonyms only; the key stays with the instructor
        board.drop(columns=["student"]).to_csv(out / "leaderboard.csv", index=False)
        board[["pseudonym", "student"]].to_csv(out / "leaderboard_key.csv", index=False)
    return out


SECRET_FILE = ".dlcourse-secret"  # in the course directory; never committed, released or bundled


def course_secret(root: Path) -> bytes:
    """The course's own secret key, made once (32 random bytes, readable by its owner only)."""
    import secrets

    path = Path(root) / SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    with os.fdopen(fd, "w", encoding="ascii") as out:
        key = secrets.token_bytes(32)
        out.write(key.hex() + "\n")
    return key


def pseudonym(secret: bytes, student: str) -> str:
    """A stable name for a student on a class-facing leaderboard: an HMAC of the student id under
    the course's secret, so that nobody without the secret can tell who is who."""
    import hashlib
    import hmac

    return "player-" + hmac.new(secret, student.encode(), hashlib.sha256).hexdigest()[:8]


def leaderboard(course: Course | Path, assignment: str) -> pd.DataFrame:
    """The held-out scores of the tasks that rank (heldout.TASKS[...].leaderboard), best first, as
    the grader recorded them in the autograded notebooks (never from a submission)."""
    import nbformat

    from ..cells import grade_id
    from ..grader.heldout import METADATA_KEY, TASKS

    # only the task's own test cell counts: the grader overwrites its score there after every
    # grading (worker.apply_heldout), while metadata on any other cell is the submission's
    ranked = {task.grade_id: name for name, task in TASKS.items() if task.leaderboard}
    course = Course.at(course)
    root = course.root
    secret = course_secret(root)
    rows = []
    for path in sorted((root / "autograded").glob(f"*/{assignment}/*.ipynb")):
        student = path.parent.parent.name
        for cell in nbformat.read(path, as_version=4).cells:
            score = (cell.metadata.get("dlcourse") or {}).get(METADATA_KEY) or {}
            if ranked.get(grade_id(cell)) == score.get("task") and isinstance(score.get("accuracy"), float):
                rows.append({"task": score["task"], "pseudonym": pseudonym(secret, student),
                             "student": student, "accuracy": round(score["accuracy"], 4)})
    columns = ["task", "rank", "pseudonym", "accuracy", "student"]
    if not rows:
        return pd.DataFrame(columns=columns)
    board = pd.DataFrame(rows).sort_values(["task", "accuracy", "pseudonym"], ascending=[True, False, True])
    board["rank"] = board.groupby("task")["accuracy"].rank(method="min", ascending=False).astype(int)
    return board[columns].reset_index(drop=True)


def _histogram(table: pd.DataFrame, assignment: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    ax.hist(table["percent"].dropna(), bins=[0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100.0001],
            color="#4878a8", edgecolor="white")
    ax.set(xlabel="score (%)", ylabel="students", title=f"{assignment} ({len(table)} students)")
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


# ---------------------------------------------------------------- late policy and LMS imports
# (issue 17: dlcourse.classroom.deadlines applies grader_config.py's LATE_POLICY to the score)


def with_late_policy(course: Course | Path, assignment: str, table: pd.DataFrame, db_url: str) -> pd.DataFrame:
    """`table` with submitted_at, hours_late, late, late_penalty (percent) and final_score columns, from
    the lateness nbgrader's gradebook computed (formgrader's) and the LMS's late marks (collect.csv)."""
    from .deadlines import gradebook_lateness, late_columns, load_schedule

    course = Course.at(course)
    table = table.copy()
    lateness = gradebook_lateness(db_url, course.settings.course_id, assignment, course.root)
    rows = late_columns(table["student"].tolist(), table["score"].tolist(), load_schedule(course).policy, lateness)
    for key in ("submitted_at", "hours_late", "late", "late_penalty", "final_score"):
        table[key] = [r[key] for r in rows]
    return table


# Each LMS's import layout, as the LMS's own importer reads it (tests/test_collect.py checks the files).
# Canvas, Grades > Import (GradebookImporter#process_header in
# https://github.com/instructure/canvas-lms/blob/master/app/models/gradebook_importer.rb): the header must be
# Student, ID[, SIS User ID, SIS Login ID], Section, then one column per assignment, "Title (assignment id)"
# or the exact title (an unknown title creates a new assignment); a row whose first cell says "Points
# Possible" gives the points of each column. Students are found by ID (Canvas user id) or the SIS ids.
CANVAS_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]  # then one column per assignment
# Moodle assignment, Grading action > Upload grading worksheet (assignfeedback_offline, "Offline grading
# worksheet" feedback type): the importer needs the columns "Identifier" ("Participant <participant id>",
# the id of the submissions download), "Grade" and "Last modified (grade)" (rows whose grade changed in
# Moodle after that time are skipped unless "Allow updating records that have been modified more recently"
# is ticked; a grade above the assignment's maximum grade is skipped), named in the teacher's interface
# language (these are Moodle's English strings); the other columns are ignored. Order of Moodle's own export:
# https://github.com/moodle/moodle/blob/main/mod/assign/feedback/offline/importgradeslib.php and
# mod/assign/gradingtable.php. (Gradebook CSV import, any identifier column mapped to e.g. "ID number" or
# "Email address": moodle.csv; https://docs.moodle.org/en/Grade_import.)
MOODLE_WORKSHEET_HEADER = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
                           "Grade can be changed", "Last modified (submission)", "Last modified (grade)",
                           "Feedback comments"]
# Google Classroom has no CSV grade import: grades are typed in its gradebook, imported from a Google Forms
# quiz ("Grade importing"), set through the API (StudentSubmission draftGrade/assignedGrade,
# https://developers.google.com/classroom/guides/key-concepts/grades) or synced from an SIS. classroom.csv is
# therefore our own sheet keyed by the students' Google emails, to paste from or to feed such a script.
CLASSROOM_HEADER = ["Email Address", "First Name", "Last Name"]  # then the assignment's column


def lms_grade_exports(course: Course | Path, assignment: str, table: pd.DataFrame, out: Path) -> list[Path]:
    """With a roster (ROSTER in grader_config.py): the final scores in each LMS's own import layout,
    keyed by the LMS's ids: canvas_roster.csv, moodle_worksheet.csv, classroom.csv (see the headers above)."""
    from datetime import UTC, datetime

    from .collect import read_roster
    from .deadlines import load_schedule

    roster_path = load_schedule(course).roster
    if roster_path is None or not roster_path.is_file():
        return []
    roster = {s.student_id: s for s in read_roster(roster_path)}
    final = dict(zip(table["student"], table["final_score"], strict=True))
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")  # "Last modified (grade)": PHP's strtotime reads it
    max_score = float(table["max_score"].max()) if not table.empty else 0.0
    submitted = dict(zip(table["student"], table.get("submitted_at", [""] * len(table)), strict=True))
    written = []
    points = {"Student": "Points Possible", "ID": "", "SIS User ID": "", "SIS Login ID": "", "Section": "",
              assignment: max_score}
    canvas = [points] + [{"Student": f"{s.last_name}, {s.first_name}", "ID": s.canvas_id, "SIS User ID": s.student_id,
                          "SIS Login ID": s.email, "Section": "", assignment: final.get(sid, "")}
                         for sid, s in roster.items()]
    written.append(out / "canvas_roster.csv")
    pd.DataFrame(canvas, columns=[*CANVAS_HEADER, assignment]).to_csv(written[-1], index=False)
    moodle = [{"Identifier": f"Participant {s.moodle_id}", "Full name": s.full_name, "Email address": s.email,
               "Status": "Submitted for grading" if sid in final else "No submission",
               "Grade": final.get(sid, ""), "Maximum Grade": max_score, "Grade can be changed": "Yes",
               "Last modified (submission)": submitted.get(sid, ""), "Last modified (grade)": now,
               "Feedback comments": ""}
              for sid, s in roster.items() if s.moodle_id]
    written.append(out / "moodle_worksheet.csv")
    pd.DataFrame(moodle, columns=MOODLE_WORKSHEET_HEADER).to_csv(written[-1], index=False)
    classroom = [{"Email Address": s.email, "First Name": s.first_name, "Last Name": s.last_name,
                  assignment: final.get(sid, "")} for sid, s in roster.items() if s.email]
    written.append(out / "classroom.csv")
    pd.DataFrame(classroom, columns=[*CLASSROOM_HEADER, assignment]).to_csv(written[-1], index=False)
    return written
