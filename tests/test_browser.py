"""The student's and the instructor's paths in a real browser: JupyterLab as `make lab` starts it
(dlcourse.lab), on a copy of the course, driven by Playwright in Debian's headless Chromium.

a. A student opens the Assignment List, fetches 01, fills in `softmax` (the source notebook's
   solution) in the notebook, runs the cells down to its tests, sees them pass, saves and
   submits. The submitted notebook then autogrades to the points of exactly the tests that
   this one answer can pass.
b. An instructor opens Formgrader from the Nbgrader menu and sees every assignment of the
   course, and a small demo class (dlcourse.classroom.demo) with the gradebook's scores. The class
   arrives as a Moodle "download all submissions" zip collected with a roster (`dlcourse collect`),
   so Manage Students shows the roster's real names, not "None, None".

Every step leaves a screenshot in $DLCOURSE_ARTIFACTS/browser/ (default tests/artifacts/browser/);
the paths are listed at the end of the pytest run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT

from dlcourse.classroom.demo import demo_class, scratch_course, solution_code, write_submission
from dlcourse.config import load_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
A = "01_softmax_cross_entropy"
EXERCISE = "softmax"
TIMEOUT_MS = 90_000  # generous: CI runs other tests beside these
ARTIFACTS = Path(os.environ.get("DLCOURSE_ARTIFACTS") or ROOT / "tests" / "artifacts") / "browser"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("browser"),  # one JupyterLab and one browser for both journeys
    pytest.mark.skipif(not CHROMIUM.is_file(), reason="no /usr/bin/chromium: install Debian's chromium "
                       "(apt-get install chromium, as .ci/run does) to run the browser tests"),
]


# --- the course, the server and the browser ----------------------------------------------------

def cli(course: Path, *args: str, log: Path | None = None):
    """`dlcourse --root COURSE ARGS...`: its result, or with `log` the running process (output to `log`)."""
    env = dict(os.environ, DLCOURSE_CELL_TIMEOUT="60")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]
    cmd = [sys.executable, "-m", "dlcourse.cli", "--root", str(course), *args]
    if log is not None:
        with open(log, "wb") as out:
            return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run


def copy_course(dest: Path, assignments: list[str] | None = None) -> Path:
    """A course to work in: the configuration, source/ and release/ (all or some assignments)."""
    return scratch_course(ROOT, dest, assignments)


def gradebook_scores(course: Path) -> dict[str, dict[str, float]]:
    """{student: {"total", "max", test grade_id: score}} from the course's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:  # the course's default gradebook
        return {s.student_id: {"total": s.score, "max": s.max_score,
                               **{g.name: g.score for nb in s.notebooks for g in nb.grades}}
                for s in gb.assignment_submissions(A)}


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A copy of the whole course: JupyterLab runs on it, so the repository stays untouched."""
    return copy_course(tmp_path_factory.mktemp("lab") / "course")


DUE = "2026-03-20 23:59"  # the course's TIMEZONE is UTC
# The demo class's roster: real names (one with an accent), as formgrader must show them.
ROSTER_NAMES = {"reference": ("Maria", "Silva"), "blank": ("João", "Souza"), "mistakes-1": ("Ana", "Lima")}


@pytest.fixture(scope="module")
def demo_grading(course):
    """A small demo class of assignment 01 (dlcourse.classroom.demo), handed in through Moodle: its
    "download all submissions" zip is collected with a roster, then autograded in the background."""
    everyone = demo_class(ROOT, A)
    mistakes = [s for s in everyone if s.startswith("mistakes")][:1]
    lms = course.parent / "lms"
    roster = ["student_id,first_name,last_name,email,moodle_id"]
    with zipfile.ZipFile(lms.with_suffix(".zip"), "w", zipfile.ZIP_DEFLATED) as zf:
        for i, student in enumerate(["reference", "blank", *mistakes]):
            write_submission(ROOT, lms / student, A, everyone[student])
            first, last = ROSTER_NAMES[student]
            roster.append(f"{student},{first},{last},{student}@uni.example,{7001 + i}")
            # Moodle's "Download submissions in folders": <Full name>_<participant id>_assignsubmission_file_/
            zf.write(lms / student / f"{A}.ipynb", f"{first} {last}_{7001 + i}_assignsubmission_file_/{A}.ipynb")
    (lms / "roster.csv").write_text("\n".join(roster) + "\n", encoding="utf-8")
    collected = cli(course, "collect", A, str(lms.with_suffix(".zip")), "--lms", "moodle",
                    "--roster", str(lms / "roster.csv"))
    assert f"moodle: {len(roster) - 1} matched" in collected.stdout, collected.stdout
    # a due date and an extension, which autograde writes into nbgrader's gradebook (formgrader shows them)
    config = course / "grader_config.py"
    config.write_text(config.read_text(encoding="utf-8") + f"DEADLINES = {{{A!r}: {DUE!r}}}\n"
                      f"EXTENSIONS = {{{A!r}: {{'blank': '48h'}}}}\n", encoding="utf-8")
    grading = cli(course, "autograde", A, "--workers", "2", "--quiet", log=course.parent / "demo-autograde.log")
    yield grading
    if grading.poll() is None:
        grading.kill()
    grading.wait()


@pytest.fixture(scope="module")
def demo_class_graded(course, demo_grading) -> dict[str, dict[str, float]]:
    """The demo class's scores, from the gradebook, once its autograde has finished."""
    demo_grading.wait(timeout=900)
    assert demo_grading.returncode == 0, (course.parent / "demo-autograde.log").read_text()[-4000:]
    return gradebook_scores(course)


@pytest.fixture(scope="module")
def lab(course, demo_grading, tmp_path_factory):
    """JupyterLab as `make lab` starts it; the demo class is being graded meanwhile."""
    from dlcourse.lab import running_lab

    with running_lab(course, settings_dir=tmp_path_factory.mktemp("lab-settings")) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)  # expect()'s own default is 5 s
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, lab, request):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    failed_before = request.session.testsfailed
    (ARTIFACTS / f"FAILED-{request.node.name}.png").unlink(missing_ok=True)
    yield page
    if request.session.testsfailed > failed_before:  # what the browser showed when the test failed
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"FAILED-{request.node.name}.png"
        page.screenshot(path=str(path))
        print(f"screenshot of the failure: {path}\nJupyterLab's log:\n{lab.log_tail()}")
    context.close()


class Screens:
    """Numbered screenshots of one journey, listed in the pytest summary."""

    def __init__(self, journey: str, record_property):
        self.journey, self.record, self.n = journey, record_property, 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTIFACTS.glob(f"{journey}-*.png"):
            old.unlink()

    def __call__(self, page, step: str) -> Path:
        self.n += 1
        path = ARTIFACTS / f"{self.journey}-{self.n}-{step}.png"
        page.screenshot(path=str(path))
        self.record("screenshot", str(path))
        print(f"screenshot: {path}")
        return path


def open_lab(page, lab, workspace: str) -> None:
    """JupyterLab in a workspace of its own: a fresh layout for each journey (the settings folder
    is new for each run; `?reset` is not used, since it reloads the page while the test works)."""
    page.goto(lab.url(f"lab/workspaces/{workspace}"))
    page.locator(".jp-LabShell").wait_for()
    page.locator("#jp-top-panel").get_by_text("Nbgrader", exact=True).wait_for()


def nbgrader_menu(page, item: str) -> None:
    page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
    page.get_by_role("menuitem", name=item, exact=True).click()


# --- what the notebook says about the exercise ---------------------------------------------------

def type_into_cell(page, editor, code: str, must_contain: str) -> None:
    """Replace a cell's text with `code` (CodeMirror 6), as one edit so nothing is auto-indented.
    The editor is focused first and the text checked after: a click that lands while JupyterLab is
    still laying cells out leaves the focus elsewhere, and the keys would go nowhere."""
    from playwright.sync_api import expect

    for attempt in range(3):
        editor.click()
        try:
            expect(editor).to_be_focused(timeout=10_000)
        except AssertionError:
            if attempt == 2:
                raise
            continue
        page.keyboard.press("Control+A")
        page.keyboard.press("Delete")
        page.keyboard.insert_text(code)
        try:
            expect(editor).to_contain_text(must_contain, timeout=10_000)
            return
        except AssertionError:
            if attempt == 2:
                raise


def exercise_of(grade_id: str, exercises: list[str]) -> str | None:
    """The exercise a test cell belongs to: test_<exercise>[_<what>], the longest exercise that fits."""
    fits = [e for e in exercises if grade_id == f"test_{e}" or grade_id.startswith(f"test_{e}_")]
    return max(fits, key=len) if fits else None


def notebook_plan(assignment: str, exercise: str) -> dict:
    """Cell indices, the answer (from source/) and the points each test can earn with that one answer."""
    release = nbformat.read(ROOT / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    source = nbformat.read(ROOT / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    meta = [c.metadata.get("nbgrader", {}) for c in release.cells]
    exercises = [m["grade_id"] for m in meta if m.get("solution")]
    tests = {m["grade_id"]: float(m["points"]) for m in meta if m.get("grade") and not m.get("solution")}
    mine = [i for i, m in enumerate(meta) if m.get("grade_id") in tests
            and exercise_of(m["grade_id"], exercises) == exercise]
    assert mine, f"no test cell for {exercise}"
    answer = next(c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") == exercise)
    return {
        "cells": len(release.cells),
        "solution": next(i for i, m in enumerate(meta) if m.get("grade_id") == exercise),
        "tests": mine,
        "code": solution_code(answer),
        # only this exercise's tests can pass; every other exercise still raises NotImplementedError
        "expected": {gid: (pts if exercise_of(gid, exercises) == exercise else 0.0) for gid, pts in tests.items()},
    }


# --- a. the student ------------------------------------------------------------------------------

def test_student_fetches_solves_runs_saves_submits_and_autogrades(page, lab, tmp_path, record_property):
    from playwright.sync_api import expect

    shot = Screens("student", record_property)
    plan = notebook_plan(A, EXERCISE)
    course_id = load_settings().course_id

    open_lab(page, lab, "student")
    nbgrader_menu(page, "Assignment List")
    released = page.locator("#released_assignments_list .list_item", has_text=A)
    expect(released).to_be_visible()
    shot(page, "assignment-list")

    released.get_by_role("button", name="Fetch").click()
    fetched = page.locator("#fetched_assignments_list .list_item", has_text=A).first
    expect(fetched).to_be_visible()
    fetched.locator("a.assignment-notebooks-link").click()
    notebook_link = page.locator(f"#fetched_assignments_list #nbgrader-{course_id}-{A} .nested_list_item a",
                                 has_text=A)
    expect(notebook_link).to_be_visible()
    shot(page, "fetched")
    notebook_link.click()

    panel = page.locator(".jp-NotebookPanel")
    cells = panel.locator(".jp-Notebook .jp-Cell")
    expect(cells).to_have_count(plan["cells"])
    status = panel.locator(".jp-Notebook-ExecutionIndicator")
    expect(status).to_have_attribute("data-status", "idle")

    # fill in the solution cell (CodeMirror 6): insert the text as one edit, so no auto-indent
    editor = cells.nth(plan["solution"]).locator(".cm-content")
    type_into_cell(page, editor, plan["code"], "def softmax")
    page.keyboard.press("Escape")
    expect(editor).to_contain_text("def softmax")
    expect(editor).not_to_contain_text("NotImplementedError")
    shot(page, "solution-typed")

    # run from the top down to the exercise's last test cell, as a student does (Shift+Enter)
    cells.nth(0).locator(".jp-InputPrompt").click()
    for _ in range(max(plan["tests"]) + 1):
        page.keyboard.press("Shift+Enter")
    for i in plan["tests"]:
        expect(cells.nth(i).locator(".jp-InputPrompt")).to_have_text(re.compile(r"\[\d+\]"))
    expect(status).to_have_attribute("data-status", "idle")
    for i in range(max(plan["tests"]) + 1):
        errors = cells.nth(i).locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
        expect(errors).to_have_count(0)
    for i in plan["tests"]:
        expect(cells.nth(i).locator(".jp-OutputArea")).to_contain_text("All tests passed")
    cells.nth(max(plan["tests"])).scroll_into_view_if_needed()
    shot(page, "tests-passed")

    page.keyboard.press("Control+S")
    expect(page.locator(".lm-TabBar-tab.jp-mod-current")).not_to_have_class(re.compile(r"\bjp-mod-dirty\b"))
    saved = nbformat.read(lab.workspace / A / f"{A}.ipynb", as_version=4)
    assert saved.cells[plan["solution"]].source == plan["code"]
    for i in plan["tests"]:
        assert "All tests passed" in "".join(o.get("text", "") for o in saved.cells[i].outputs)

    page.locator(".lm-TabBar-tab", has_text="Assignments").click()
    page.locator("#fetched_assignments_list .list_item", has_text=A).first.get_by_role(
        "button", name="Submit").click()
    expect(page.locator("#submitted_assignments_list .list_item", has_text=A).first).to_be_visible()
    shot(page, "submitted")

    # what the instructor collects from the exchange, graded in a scratch course
    (submission,) = lab.exchange.glob(f"{course_id}/inbound/*+{A}+*/{A}.ipynb")
    scratch = copy_course(tmp_path / "scratch", [A])
    (scratch / "submitted" / "browser-student" / A).mkdir(parents=True)
    shutil.copy2(submission, scratch / "submitted" / "browser-student" / A / f"{A}.ipynb")
    cli(scratch, "autograde", A, "--quiet")
    scores = gradebook_scores(scratch)["browser-student"]
    assert {gid: scores[gid] for gid in plan["expected"]} == plan["expected"]
    assert scores["total"] == sum(plan["expected"].values()) > 0


# --- b. the instructor ---------------------------------------------------------------------------

def score_cell(text: str) -> tuple[float, float]:
    got, _, out_of = text.partition("/")
    return float(got), float(out_of)


def test_instructor_sees_assignments_and_class_scores_in_formgrader(page, lab, course, demo_class_graded,
                                                                    record_property):
    from playwright.sync_api import expect

    shot = Screens("instructor", record_property)
    scores = demo_class_graded
    assert len(scores) >= 2 and len({s["total"] for s in scores.values()}) >= 2, "the demo class has no spread"

    open_lab(page, lab, "instructor")
    nbgrader_menu(page, "Formgrader")
    frame = page.frame_locator("iframe[src*='formgrader']")
    rows = frame.locator("#main-table tr")
    expected_names = sorted(p.name for p in (course / "source").iterdir() if p.is_dir())
    expect(rows).to_have_count(len(expected_names))
    assert sorted(rows.locator("td.name").all_inner_texts()) == expected_names
    row = rows.filter(has=frame.locator("td.name", has_text=A))
    expect(row.locator("td.num-submissions")).to_have_text(str(len(scores)))
    shot(page, "formgrader-assignments")

    row.locator("td.num-submissions a").click()
    subs = frame.locator("#main-table tr")
    expect(subs).to_have_count(len(scores))
    expect(frame.locator("#main-table td.score").first).to_contain_text("/")
    shown = {subs.nth(i).locator("td.student-id").inner_text().strip():
             score_cell(subs.nth(i).locator("td.score").inner_text()) for i in range(len(scores))}
    assert shown == {s: (v["total"], v["max"]) for s, v in scores.items()}
    shot(page, "formgrader-submissions")

    frame.get_by_role("link", name="Manage Students").click()
    students = frame.locator("#main-table tr")
    expect(students).to_have_count(len(scores))
    expect(frame.locator("#main-table td.score").first).to_contain_text("/")
    shown = {students.nth(i).locator("td.id").inner_text().strip():
             score_cell(students.nth(i).locator("td.score").inner_text()) for i in range(len(scores))}
    assert shown == {s: (v["total"], v["max"]) for s, v in scores.items()}
    shot(page, "formgrader-students")

    # the roster's names, which `dlcourse collect` put in the gradebook, shown as "Last, First"
    expected = {sid: f"{last}, {first}" for sid, (first, last) in ROSTER_NAMES.items() if sid in scores}
    assert set(expected) == set(scores)
    names = {students.nth(i).locator("td.id").inner_text().strip():
             students.nth(i).locator("td.name").inner_text().strip() for i in range(len(scores))}
    assert names == expected
    expect(frame.locator("#main-table td.name", has_text="None")).to_have_count(0)
    shot(page, "formgrader-roster-names")


def test_formgrader_shows_the_due_date_and_the_gradebook_holds_the_extension(page, lab, course, demo_class_graded,
                                                                             record_property):
    """DEADLINES and EXTENSIONS of grader_config.py live in nbgrader's own model (issue 29): formgrader's
    Manage Assignments shows the due date; the extension is the submission's in the gradebook, from
    which nbgrader computes lateness (formgrader has no view of extensions)."""
    from datetime import timedelta

    from nbgrader.api import Gradebook
    from playwright.sync_api import expect

    shot = Screens("due-date", record_property)
    open_lab(page, lab, "due-date")
    nbgrader_menu(page, "Formgrader")
    frame = page.frame_locator("iframe[src*='formgrader']")
    row = frame.locator("#main-table tr").filter(has=frame.locator("td.name", has_text=A))
    expect(row.locator("td.duedate")).to_contain_text(DUE)
    expect(frame.locator("#main-table tr").filter(has=frame.locator("td.name", has_text="02_")).locator(
        "td.duedate")).to_contain_text("None")
    shot(page, "formgrader-due-date")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assert gb.find_submission(A, "blank").extension == timedelta(hours=48)
        assert gb.find_submission(A, "reference").extension is None


# --- c. nbgrader's own Autograde button refuses (issue 27) -----------------------------------------

def test_formgraders_autograde_button_refuses_and_records_no_score(page, lab, course, demo_class_graded,
                                                                    record_property):
    """formgrader's Autograde calls nbgrader's own autograde, which would run the tests in the
    student's kernel, unsandboxed: there, a blank notebook whose first answer cell installs an input
    transformer that silences every later error scored 23/23. The course refuses: the button shows
    the refusal, pointing to `dlcourse autograde`, and nothing is recorded for the student."""
    from nbgrader.api import Gradebook
    from playwright.sync_api import expect
    from test_attack_paths import INPUT_TRANSFORMER, _blank_with

    shot = Screens("autograde-button", record_property)
    student = "formgrader-attack"
    folder = course / "submitted" / student / A
    folder.mkdir(parents=True)
    nbformat.write(_blank_with(INPUT_TRANSFORMER), folder / f"{A}.ipynb")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:  # as Manage Students adds one
        gb.update_or_create_student(student)

    open_lab(page, lab, "autograde-button")
    nbgrader_menu(page, "Formgrader")
    frame = page.frame_locator("iframe[src*='formgrader']")
    frame.locator("#main-table tr").filter(has=frame.locator("td.name", has_text=A)).locator(
        "td.num-submissions a").click()
    row = frame.locator("#main-table tr").filter(has=frame.locator("td.student-id", has_text=student))
    expect(row).to_have_count(1)
    shot(page, "submission-listed")
    row.locator("td.autograde a").click()
    modal = frame.locator("#error-modal")
    expect(modal).to_be_visible()
    expect(modal).to_contain_text("dlcourse autograde")
    expect(modal).to_contain_text("unsandboxed")
    shot(page, "refused")
    assert student not in gradebook_scores(course)
    assert not (course / "autograded" / student).exists()
    assert demo_class_graded == {s: v for s, v in gradebook_scores(course).items() if s in demo_class_graded}


# --- d. a written question graded in formgrader, with its rubric (issue 28) ------------------------

def test_instructor_grades_a_written_answer_beside_its_rubric_and_the_student_sees_the_score(
        page, lab, course, demo_class_graded, record_property):
    """formgrader's Manual Grading shows a written question with its mark scheme (model answer and
    rubric, never released), the reference student's answer under it and a score box; the score and
    comment typed there reach the gradebook, grades.csv and the student's feedback page."""
    from nbgrader.api import Gradebook
    from playwright.sync_api import expect

    from dlcourse import cells as cellmeta
    from dlcourse.classroom.reports import grades_table
    from dlcourse.course import Course

    source = nbformat.read(course / "source" / A / f"{A}.ipynb", as_version=4)
    question = next(c for c in source.cells if cellmeta.is_written_question(c))
    qid, points = cellmeta.grade_id(question), cellmeta.nbgrader(question)["points"]
    before = grades_table(course, f"sqlite:///{course / 'gradebook.db'}", A).set_index("student")
    assert before.loc["reference", "to_grade"] > 0 and before.loc["blank", "to_grade"] == 0  # blank: 0 at once
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        submission_id = gb.find_submission_notebook(A, A, "reference").id

    shot = Screens("written-question", record_property)
    open_lab(page, lab, "written-question")  # logs in: formgrader's own page then shares the session
    page.goto(f"{lab.base_url}/formgrader/submissions/{submission_id}")
    rubric = page.get_by_text("Rubric", exact=False).first
    expect(rubric).to_be_visible()
    rubric.scroll_into_view_if_needed()
    expect(page.get_by_text("Model answer", exact=False).first).to_be_visible()
    shot(page, "rubric-and-answer")
    score = page.locator(f"input.score#{qid}")
    score.fill(f"{points - 1:g}")
    score.press("Tab")
    comment = page.locator(f"textarea#{qid}-comment")
    comment.fill("A good start: now say why, not only what.")
    comment.press("Tab")
    deadline = time.monotonic() + 60
    while True:  # formgrader saves each box when it loses focus
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            grade = gb.find_grade(qid, A, A, "reference")
            saved = (grade.manual_score, grade.needs_manual_grade) == (points - 1, False)
            saved = saved and gb.find_comment(qid, A, A, "reference").manual_comment is not None
        if saved or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert saved, "formgrader did not save the score and comment"
    score.scroll_into_view_if_needed()
    shot(page, "scored")
    after = grades_table(Course.at(course), f"sqlite:///{course / 'gradebook.db'}", A).set_index("student")
    assert after.loc["reference", "score"] == before.loc["reference", "score"] + points - 1
    cli(course, "feedback", A)
    page_text = (course / "feedback" / "reference" / A / f"{A}.html").read_text(encoding="utf-8")
    assert f"{points - 1:g} / {points:g}" in page_text and "now say why, not only what" in page_text
    assert "Model answer" not in page_text and "MARK SCHEME" not in page_text
