"""One submission through the autograde engine, into the class gradebook.

The notebook is written into submitted/<student>/<assignment>/ (with its timestamp.txt, so the
course's deadlines, extensions and late policy apply), read into a job by `make_job`, graded by a
`WorkerProcess` (the sandboxed kernel, the judge outside it, the same limits), and saved by
`save_result` exactly as `dlcourse autograde` saves it. There is no second grading path.

With SUBMIT COUNTS 'best', a submission that scores less than the student's best is not saved,
and submitted/ gets the best one back, so a later `dlcourse autograde` gives the same grade.

The result carries what the gradebook then records for the student (`gradebook`: score, late
penalty, final score), read back from nbgrader's gradebook after the save. A grade is saved only
while the job's claim still holds (`Store.holds`): a service that lost its lease saves nothing.
"""

from __future__ import annotations

import contextlib
import json
import threading
import warnings
from datetime import UTC, datetime, timedelta

import nbformat

from ...course import Course, CourseError
from ...grader.autograde import RunOptions, WorkerProcess, gradebook_template, make_job, preflight, save_result
from ...grader.protocol import GradingResult, Outcome
from ...grader.worker import unjudged_sources
from ...i18n import N_, SOURCE_LANGUAGE, notebook_language
from ...i18n import gettext as _
from ...i18n.messages import _pattern, translate_check, translate_note
from ..deadlines import format_timestamp, load_schedule, sync_gradebook
from ..release import register

_prepared: dict[str, str] = {}
_lock = threading.Lock()  # registering an assignment and writing the class gradebook: one at a time


def prepare(course: Course, assignment: str, db_url: str, store=None) -> str:
    """Register `assignment` in the gradebook once per process (one service at a time); its template."""
    with _lock, (store.exclusive("gradebook") if store is not None else contextlib.nullcontext()):
        if assignment not in _prepared:
            root = course.root
            try:
                unjudged_sources({p.stem: nbformat.read(p, as_version=4)
                                  for p in (root / "source" / assignment).glob("*.ipynb")})
            except RuntimeError as exc:
                raise CourseError(str(exc)) from None
            register(root, assignment, db_url)
            sync_gradebook(course, db_url, [assignment])
            _prepared[assignment] = gradebook_template(root, assignment)
        return _prepared[assignment]


def check_sandbox(course: Course, db_url: str) -> None:
    """The autograde preflight: a sandboxed kernel runs a trivial cell, or SandboxUnavailable."""
    preflight(course, RunOptions(db_url=db_url, progress=False))


def hidden_tests(course: Course, assignment: str) -> set[str]:
    """The grade ids of the test cells holding hidden tests."""
    from ... import cells

    found = set()
    for path in (course.root / "source" / assignment).glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            if cells.is_test_cell(cell) and "BEGIN HIDDEN TESTS" in cell.source:
                found.add(cells.grade_id(cell))
    return found


def write_submission(course: Course, student: str, assignment: str, notebook: bytes, received: float) -> None:
    folder = course.root / "submitted" / student / assignment
    if folder.is_symlink():
        folder.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.ipynb"):
        old.unlink()
    (folder / f"{assignment}.ipynb").write_bytes(notebook)
    (folder / "timestamp.txt").write_text(format_timestamp(datetime.fromtimestamp(received, UTC)) + "\n")


def summarise(course: Course, result: GradingResult) -> dict:
    """The result a student is shown (before the HIDDEN policy filters it): score, max, each test."""
    hidden = hidden_tests(course, result.assignment)
    tests, score, total = [], 0.0, 0.0
    for name, entry in sorted(result.notebooks.items()):
        for r in entry.results:
            tests.append({"notebook": name, "name": r["grade_id"], "points": r["points"] if r["passed"] else 0.0,
                          "max_points": r["points"], "passed": bool(r["passed"]), "message": r.get("message", ""),
                          "hidden": r["grade_id"] in hidden})
            score += r["points"] if r["passed"] else 0.0
            total += r["points"]
    notes = list(result.notices) + [n for e in result.notebooks.values() for n in e.notices]
    if result.error:
        notes.insert(0, result.error)
    return {"score_total": score, "max_total": total, "tests": tests, "notes": notes,
            "outcome": result.outcome.value, "seconds": round(result.seconds, 2)}


def gradebook_record(course: Course, db_url: str, assignment: str, student: str) -> dict | None:
    """What nbgrader's gradebook records for `student`'s `assignment`: the score, the late penalty
    (points, and the policy's percent on the gradebook's lateness) and the final score."""
    from nbgrader.api import Gradebook, MissingEntry

    with warnings.catch_warnings(), Gradebook(db_url, course.settings.course_id) as gb:
        warnings.simplefilter("ignore")
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            return None
        score, penalty = float(sub.score or 0.0), float(sub.late_submission_penalty or 0.0)
        late = float(sub.total_seconds_late or 0.0)
    percent = load_schedule(course).policy.penalty(timedelta(seconds=late))
    return {"score": round(score, 4), "late_penalty": round(penalty, 4), "late_percent": percent,
            "hours_late": round(late / 3600, 2), "final_score": round(score - penalty, 4)}


# The service's own notes, stored in English with the result (as the grader's are) and shown in the
# submission's language by their template, like dlcourse.i18n.messages.NOTES
SERVE_NOTES = (
    N_("your best submission ({best} points) still counts"),
    N_("the grader failed: {error}"),
    N_("the grader failed (not your notebook): it is graded again"),
    N_("the grader failed (not your notebook): the attempt does not count"),
    N_("the grading service stopped {count} times while grading it (not your notebook): the attempt does not count"),
)
HIDDEN_WITHHELD = N_("this test includes hidden tests: its result is shown after the deadline")


def submission_language(notebook: bytes) -> str:
    """The language of a submitted notebook (its metadata), English when it is not a notebook."""
    try:
        nb = json.loads(notebook)
    except ValueError:
        return SOURCE_LANGUAGE
    return notebook_language(nb) if isinstance(nb, dict) else SOURCE_LANGUAGE


def translate_serve_note(text: str, language: str) -> str:
    """A note of the result in `language`: the grader's (dlcourse.i18n.messages.NOTES) or the service's."""
    if language == SOURCE_LANGUAGE or not text:
        return text
    translated = translate_note(text, language)
    if translated != text:
        return translated
    for template in SERVE_NOTES:
        match = _pattern(template, whole=True).match(text)
        if match:
            try:
                return _(template, language).format(**match.groupdict())
            except (KeyError, IndexError, ValueError):  # a catalogue entry with a stray brace: keep the English
                return text
    return text


class ClaimLost(Exception):
    """The job's lease ran out while it was graded (another service has it now): nothing is saved."""


class Grader:
    """Grades claimed submissions one at a time in a grading process kept warm between jobs. A
    `watchdog` (`watchdog.Watchdog`) is told of each grading process, so that it dies with the service."""

    def __init__(self, course: Course, db_url: str, counts: str = "latest", watchdog=None,
                 lease: float | None = None):
        self.course, self.db_url, self.counts, self.watchdog = course, db_url, counts, watchdog
        self.lease = lease
        self.worker: WorkerProcess | None = None

    def close(self) -> None:
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.close()
            if self.watchdog is not None:
                self.watchdog.forget(worker.proc.pid)

    def _holds(self, store, sub) -> None:
        if not (store.holds(sub, self.lease) if self.lease else store.holds(sub)):
            raise ClaimLost(sub.id)

    def grade(self, store, sub) -> tuple[dict, Outcome]:
        """Grade `sub` (claimed in `store`); the result the student sees, and whose fault a failure was."""
        course = self.course
        template = prepare(course, sub.assignment, self.db_url, store)
        notebook = store.notebook(sub.id)
        write_submission(course, sub.student, sub.assignment, notebook, sub.received)
        job = make_job(course, sub.assignment, sub.student)
        job.gradebook_template = template
        if job.refused:
            result = GradingResult.failed(job, job.refused, Outcome.SUBMISSION)
        else:
            worker = self.worker
            if worker is None or not worker.alive():
                self.close()
                worker = self.worker = WorkerProcess()
                if self.watchdog is not None:
                    self.watchdog.watch(worker.proc.pid)
            result = worker.grade(job, float(job.timeout))
            if not worker.alive():
                self.close()
        summary = summarise(course, result)
        summary["language"] = submission_language(notebook)  # the language its texts are shown in
        if result.outcome is Outcome.GRADER:
            return summary, result.outcome
        best = store.best_score(sub.student, sub.assignment, sub.id) if self.counts == "best" else None
        self._holds(store, sub)
        if best is not None and summary["score_total"] < best:
            summary["counted"] = False
            summary["notes"].append(f"your best submission ({best:g} points) still counts")
            self._restore_best(store, sub)
            with _lock, store.exclusive("gradebook"):
                summary["gradebook"] = gradebook_record(course, self.db_url, sub.assignment, sub.student)
        else:
            summary["counted"] = True
            with _lock, store.exclusive("gradebook"):
                saved = save_result(course, self.db_url, job, result)
                if saved.outcome is Outcome.GRADER:  # the gradebook could not be written: nothing recorded
                    failed = summarise(course, saved)
                    failed["language"] = summary["language"]
                    return failed, saved.outcome
                summary["gradebook"] = gradebook_record(course, self.db_url, sub.assignment, sub.student)
        return summary, result.outcome

    def _restore_best(self, store, sub) -> None:
        subs = [s for s in store.history(sub.student, sub.assignment) if s.status == "graded" and s.result
                and s.result.get("counted")]
        if subs:
            keep = max(subs, key=lambda s: (s.result["score_total"], s.seq))
            write_submission(self.course, sub.student, sub.assignment, store.notebook(keep.id), keep.received)


def after_deadline(course: Course, assignment: str, student: str, now: datetime | None = None) -> bool:
    due = load_schedule(course).due(assignment, student)
    return due is not None and (now or datetime.now(UTC)) > due


def shown(course: Course, sub, policy, language: str = SOURCE_LANGUAGE) -> dict | None:
    """The result as the student may see it now: the hidden tests' results withheld before the
    deadline unless HIDDEN is 'on_submit'. Its texts (each test's message, the notes) in `language`,
    as the feedback page shows them; the keys and the machine-readable values stay as they are."""
    if not sub.result or sub.status not in ("graded", "failed"):
        return None
    res = dict(sub.result)
    res.pop("language", None)
    record = res.pop("gradebook", None)
    res.update(late_penalty=None, final_score=None, late_percent=None, hours_late=None)
    if res.get("score_total") is None:  # the grader failed: no score at all
        res.update(score=None, max=None, withheld_points=0.0)
    elif policy.hidden == "after_deadline" and not after_deadline(course, sub.assignment, sub.student):
        tests = []
        for t in res["tests"]:
            if t["hidden"]:
                t = {**t, "points": None, "passed": None, "message": HIDDEN_WITHHELD}
            tests.append(t)
        res["tests"] = tests
        res["score"] = sum(t["points"] for t in tests if t["points"] is not None)
        res["max"] = sum(t["max_points"] for t in tests if not t["hidden"])
        res["withheld_points"] = res["max_total"] - res["max"]
    else:
        res["score"], res["max"], res["withheld_points"] = res["score_total"], res["max_total"], 0.0
        if record is not None:  # as the gradebook records it (the counted submission's, with COUNTS 'best')
            res.update({k: record[k] for k in ("late_penalty", "late_percent", "hours_late", "final_score")})
            res["gradebook_score"] = record["score"]
    res.pop("score_total", None)
    res.pop("max_total", None)
    if language != SOURCE_LANGUAGE:
        res["tests"] = [{**t, "message": _(HIDDEN_WITHHELD, language) if t.get("message") == HIDDEN_WITHHELD
                         else translate_check(t.get("message") or "", language)} for t in res.get("tests", [])]
        res["notes"] = [translate_serve_note(n, language) for n in res.get("notes", [])]
    return res
