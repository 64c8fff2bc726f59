"""Deadlines, extensions and the late policy, as data in grader_config.py.

    TIMEZONE = "America/Sao_Paulo"                       # how due dates without an offset are read
    DEADLINES = {"01_softmax_cross_entropy": "2026-03-20 23:59"}
    EXTENSIONS = {"01_softmax_cross_entropy": {"s007": "48h", "s011": "2026-03-25 12:00"}}
    LATE_POLICY = {"kind": "percent", "percent": 10, "per": "day", "cap": 50, "grace_minutes": 5}
    ROSTER = "roster.csv"                                # student_id, first_name, last_name, email, ...

The policy kinds: "none" (late work counts in full), "percent" (`percent` off per started
`per` = day | hour after the grace period, at most `cap` percent) and "not_accepted" (late work
scores 0, and `dlcourse collect` keeps the latest attempt before the due date). The penalty is
applied in the reports (`late_penalty` and `final_score` of grades.csv) and shown in each
feedback page; `InsertLatePolicy` writes the policy at the top of each released notebook.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"  # nbgrader's own timestamp.txt format (always UTC here)
KINDS = ("none", "percent", "not_accepted")
UNITS = {"day": 86400, "hour": 3600}
POLICY_CELL_ID = "dlcourse-late-policy"


def __getattr__(name: str):
    """nbgrader's plugin (`CourseLatePolicy`) and preprocessor (`InsertLatePolicy`), imported on
    first use: they subclass nbgrader's classes, whose import takes most of a second, and a
    command that only checks grader_config.py must answer at once (issue 29, surprise 16)."""
    if name in ("CourseLatePolicy", "InsertLatePolicy"):
        from . import nbgrader_hooks

        return getattr(nbgrader_hooks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class DeadlineError(ValueError):
    """A malformed due date, extension or policy in grader_config.py."""


@dataclass(frozen=True)
class LatePolicy:
    kind: str = "none"
    percent: float = 0.0
    per: str = "day"
    cap: float = 100.0
    grace_minutes: float = 0.0

    @classmethod
    def from_config(cls, data: dict | None) -> LatePolicy:
        data = dict(data or {})
        policy = cls(kind=str(data.pop("kind", "none")), percent=float(data.pop("percent", 0.0)),
                     per=str(data.pop("per", "day")), cap=float(data.pop("cap", 100.0)),
                     grace_minutes=float(data.pop("grace_minutes", 0.0)))
        if data:
            raise DeadlineError(f"LATE_POLICY: unknown keys {sorted(data)}")
        if policy.kind not in KINDS:
            raise DeadlineError(f"LATE_POLICY kind must be one of {', '.join(KINDS)}, not {policy.kind!r}")
        if policy.per not in UNITS:
            raise DeadlineError(f"LATE_POLICY per must be 'day' or 'hour', not {policy.per!r}")
        if not (0 <= policy.percent <= 100 and 0 <= policy.cap <= 100 and policy.grace_minutes >= 0):
            raise DeadlineError("LATE_POLICY percent and cap must be in 0..100, grace_minutes >= 0")
        return policy

    @property
    def accepts_late(self) -> bool:
        return self.kind != "not_accepted"

    def penalty(self, late: timedelta) -> float:
        """Percent of the score taken off for work submitted `late` after the (extended) due date."""
        seconds = late.total_seconds() - 60 * self.grace_minutes
        if seconds <= 0 or self.kind == "none":
            return 0.0
        if self.kind == "not_accepted":
            return 100.0
        units = math.ceil(seconds / UNITS[self.per])  # every started day (hour) counts
        return min(self.cap, self.percent * units)

    def describe(self) -> str:
        if self.kind == "none":
            return "Late work is accepted without penalty."
        if self.kind == "not_accepted":
            return "Late work is not accepted (it scores 0)."
        grace = f" after a grace period of {self.grace_minutes:g} min" if self.grace_minutes else ""
        return (f"Late work loses {self.percent:g}% of its score per started {self.per}{grace}, "
                f"at most {self.cap:g}%.")


@dataclass(frozen=True)
class Schedule:
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    deadlines: dict = field(default_factory=dict)  # assignment -> aware datetime
    extensions: dict = field(default_factory=dict)  # assignment -> {student: aware datetime | timedelta}
    policy: LatePolicy = field(default_factory=LatePolicy)
    roster: Path | None = None

    def due(self, assignment: str, student: str | None = None) -> datetime | None:
        """The due date of `assignment` for `student`, extension included (None: no due date)."""
        base = self.deadlines.get(assignment)
        ext = self.extensions.get(assignment, {}).get(student) if student is not None else None
        if isinstance(ext, datetime):
            return ext
        if base is not None and isinstance(ext, timedelta):
            return base + ext
        return base

    def lateness(self, assignment: str, student: str, submitted: datetime | None) -> timedelta:
        due = self.due(assignment, student)
        if due is None or submitted is None:
            return timedelta(0)
        return max(timedelta(0), submitted - due)

    def penalty(self, assignment: str, student: str, submitted: datetime | None) -> float:
        return self.policy.penalty(self.lateness(assignment, student, submitted))


def _naive_utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(tzinfo=None)  # as nbgrader's gradebook stores times


def extension_of(schedule: Schedule, assignment: str, student: str) -> timedelta | None:
    """A student's extension as nbgrader stores it: time added to the assignment's due date."""
    ext, base = schedule.extensions.get(assignment, {}).get(student), schedule.deadlines.get(assignment)
    delta = ext if isinstance(ext, timedelta) else (ext - base if ext is not None and base else None)
    return delta if delta is not None and delta > timedelta(0) else None


def sync_gradebook(course, db_url: str, assignments: list[str]) -> None:
    """Write the due dates and extensions of grader_config.py into nbgrader's gradebook
    (`Assignment.duedate`, each submission's `extension`): formgrader shows them, and nbgrader
    computes each submission's lateness from them. nbgrader keeps an extension on a submission,
    so a student who has none yet gets theirs when graded (`dlcourse autograde` calls this first
    and sets it on each new submission); one no longer configured is removed. A submission time
    written into timestamp.txt since the last grading is taken, and nbgrader's late penalties are
    computed again: an edit of grader_config.py or timestamp.txt needs no regrading."""
    import warnings

    from nbgrader.api import Gradebook

    from ..course import Course
    from .nbgrader_hooks import CourseLatePolicy

    course = Course.at(course)
    schedule = load_schedule(course)
    plugin = CourseLatePolicy(policy=dataclasses.asdict(schedule.policy))
    with warnings.catch_warnings(), Gradebook(db_url, course.settings.course_id) as gb:
        warnings.simplefilter("ignore")
        for name in assignments:
            due = schedule.deadlines.get(name)
            assignment = gb.update_or_create_assignment(name, duedate=_naive_utc(due) if due else None)
            for submission in assignment.submissions:
                submission.extension = extension_of(schedule, name, submission.student_id)
                when = read_timestamp(course.root / "submitted" / submission.student_id / name)
                if when is not None:  # a time written into timestamp.txt since the last grading
                    submission.timestamp = _naive_utc(when)
            gb.db.commit()
            for submission in assignment.submissions:  # nbgrader's penalty, on the lateness now
                late = float(submission.total_seconds_late or 0)
                for notebook in submission.notebooks:
                    penalty = late and plugin.late_submission_penalty(submission.student_id, notebook.score, late)
                    notebook.late_submission_penalty = min(penalty, notebook.score) if penalty else None
        gb.db.commit()


DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dhm])\s*$")


def parse_time(value, tz: ZoneInfo) -> datetime:
    """An aware datetime from "YYYY-MM-DD HH:MM[:SS]" (in `tz`), ISO text with an offset, or a datetime."""
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value).strip())
        except ValueError as exc:
            raise DeadlineError(f"not a date and time: {value!r} (use 'YYYY-MM-DD HH:MM')") from exc
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=tz)


def parse_extension(value, tz: ZoneInfo) -> datetime | timedelta:
    """An extension: a duration ("48h", "3d", "90m") or a new due date."""
    if isinstance(value, timedelta):
        return value
    m = DURATION.match(str(value))
    if m:
        return timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[m.group(2)]: float(m.group(1))})
    return parse_time(value, tz)


def schedule_from(data: dict, root: Path | None = None) -> Schedule:
    """A Schedule from the grader_config.py constants (TIMEZONE, DEADLINES, EXTENSIONS, LATE_POLICY, ROSTER)."""
    tz = ZoneInfo(str(data.get("TIMEZONE") or "UTC"))
    deadlines = {a: parse_time(v, tz) for a, v in (data.get("DEADLINES") or {}).items()}
    extensions = {a: {str(s): parse_extension(v, tz) for s, v in per.items()}
                  for a, per in (data.get("EXTENSIONS") or {}).items()}
    roster = data.get("ROSTER")
    if roster and root is not None and not Path(roster).is_absolute():
        roster = root / roster
    return Schedule(timezone=tz, deadlines=deadlines, extensions=extensions,
                    policy=LatePolicy.from_config(data.get("LATE_POLICY")), roster=Path(roster) if roster else None)


def load_schedule(course=None) -> Schedule:
    """The course's schedule (a Course, or its directory) from grader_config.py (an empty one when
    it sets none)."""
    from ..course import Course

    settings = Course.at(course).settings
    return schedule_from(getattr(settings, "schedule", {}) or {}, settings.root)


def format_timestamp(dt: datetime) -> str:
    """nbgrader's timestamp.txt text for `dt` (in UTC)."""
    return dt.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def read_timestamp(folder: Path) -> datetime | None:
    """The aware submission time in `folder`/timestamp.txt (None if absent or unreadable)."""
    from nbgrader.utils import parse_utc

    path = folder / "timestamp.txt"
    if any(p.is_symlink() for p in (folder.parent, folder, path)) or not path.is_file():
        return None  # a submission folder that points elsewhere has no trusted time
    try:
        with path.open("rb") as fh:
            text = fh.read(200).decode("utf-8", errors="replace").strip()
        naive = parse_utc(text)
    except (OSError, ValueError, OverflowError, TypeError, LookupError):
        return None
    return naive.replace(tzinfo=UTC) if naive is not None else None


@dataclass(frozen=True)
class Lateness:
    """One submission's lateness, from one source: nbgrader's gradebook (its timestamp against the
    assignment's `duedate` plus the student's `extension`), and the LMS's own late mark that
    `dlcourse collect` kept in reports/<assignment>/collect.csv for a submission without a time."""

    submitted: datetime | None = None
    late: timedelta = timedelta(0)
    due: datetime | None = None  # this student's due date, extension included
    extended: bool = False  # `due` is an extension of the assignment's due date
    lms_late: bool = False  # the LMS marked it late (Canvas's LATE, ...)

    @property
    def time_unknown(self) -> bool:
        """Late by the LMS's mark, with no submission time: no penalty until timestamp.txt holds the
        time (README, "Running a real class"), but never shown as on time."""
        return self.lms_late and self.submitted is None

    @property
    def hours(self) -> float | str:
        return "" if self.time_unknown else round(self.late.total_seconds() / 3600, 2)


def describe_late(lateness: Lateness, penalty: float, language: str = "en") -> str:
    """The late note of a feedback page: "submitted 26 h late: -20%" ("late (time unknown)" for an
    LMS's late mark without a time; "" when on time), in `language` (the message catalogue). Counted
    from an extension, it says so."""
    from ..i18n import decimal
    from ..i18n import gettext as _

    if lateness.time_unknown:
        return _("late (time unknown): your LMS marked this submission late, but its time is not known "
                 "yet, so no late penalty is applied", language)
    late = lateness.late
    if late <= timedelta(0):
        return ""
    hours = late.total_seconds() / 3600
    amount = f"{hours:.0f} h" if hours >= 1 else f"{late.total_seconds() / 60:.0f} min"
    if lateness.extended and lateness.due is not None:
        when = f"{lateness.due.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        if penalty:
            return _("submitted {amount} after your extended due date ({due}): -{penalty}%", language).format(
                amount=amount, due=when, penalty=decimal(penalty, language))
        return _("submitted {amount} after your extended due date ({due}): no penalty", language).format(
            amount=amount, due=when)
    if penalty:
        return _("submitted {amount} late: -{penalty}%", language).format(
            amount=amount, penalty=decimal(penalty, language))
    return _("submitted {amount} late: no penalty", language).format(amount=amount)


def lms_late_marks(root: Path, assignment: str) -> set[str]:
    """The students whose submission the LMS marked late, as `dlcourse collect` recorded it."""
    import csv

    path = root / "reports" / assignment / "collect.csv"
    if not path.is_file():
        return set()
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            return {row["student"] for row in csv.DictReader(fh) if (row.get("lms_late") or "") == "yes"}
    except (OSError, UnicodeDecodeError, csv.Error, KeyError):
        return set()


def gradebook_lateness(db_url: str, course_id: str, assignment: str,
                       root: Path | None = None) -> dict[str, Lateness]:
    """{student: Lateness} as nbgrader's gradebook computes it (its timestamp against the assignment's
    duedate plus the student's extension); with the course's `root`, the LMS's late marks too."""
    import warnings

    from nbgrader.api import Gradebook, MissingEntry

    marked = lms_late_marks(root, assignment) if root is not None else set()
    out = {}
    with warnings.catch_warnings(), Gradebook(db_url, course_id) as gb:
        warnings.simplefilter("ignore")
        try:
            submissions = gb.find_assignment(assignment).submissions
        except MissingEntry:
            return {}
        for sub in submissions:
            due = sub.duedate.replace(tzinfo=UTC) if sub.duedate else None
            out[sub.student_id] = Lateness(
                submitted=sub.timestamp.replace(tzinfo=UTC) if sub.timestamp else None,
                late=timedelta(seconds=float(sub.total_seconds_late or 0)), due=due,
                extended=bool(sub.extension), lms_late=sub.student_id in marked)
    return out


def late_columns(students, scores, policy: LatePolicy, lateness: dict[str, Lateness]) -> list[dict]:
    """Per student: submitted_at, hours_late ("" when the LMS marked it late without a time), late
    (what the lateness is, in words), late_penalty (percent) and final_score, from the gradebook's
    lateness (`gradebook_lateness`), the one source of the reports and the feedback pages."""
    rows = []
    for student, score in zip(students, scores, strict=True):
        lt = lateness.get(str(student), Lateness())
        penalty = policy.penalty(lt.late)
        rows.append({"submitted_at": format_timestamp(lt.submitted) if lt.submitted else "",
                     "hours_late": lt.hours, "late_penalty": penalty,
                     "late": "late (time unknown)" if lt.time_unknown else
                     (f"{lt.hours:g} h" + (" after extension" if lt.extended else "")) if lt.late > timedelta(0)
                     else "",
                     "final_score": round(float(score) * (1 - penalty / 100), 4)})
    return rows


def feedback_line(policy: LatePolicy, lateness: Lateness | None, language: str = "en") -> str:
    """The late note of a feedback page ("submitted 26 h late: -20%"), "" when on time."""
    lateness = lateness or Lateness()
    return describe_late(lateness, policy.penalty(lateness.late), language)


def policy_text(assignment: str, schedule: Schedule) -> str:
    due = schedule.deadlines.get(assignment)
    when = f"Due **{due.strftime('%Y-%m-%d %H:%M')} ({due.tzname()})**. " if due else ""
    return f"> {when}{schedule.policy.describe()}"
