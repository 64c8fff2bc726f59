"""The course's configuration, checked before any command does any work.

A misspelt key must be an error, never silently ignored: a `DEADLINES` key naming no
assignment once made a student's 20 % penalty vanish, and a malformed date surfaced as a
traceback only after the whole class had been graded. `problems(course)` lists every mistake
in `grader_config.py` (one line each, naming the setting and the fix); the CLI prints them as
`dlcourse: error: ...` lines and exits 2 before touching anything.
"""

from __future__ import annotations

import difflib
import runpy
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..config import CONSTANTS, SCHEDULE_KEYS
from ..course import Course, CourseError, resolve_assignments
from .deadlines import DeadlineError, LatePolicy, parse_extension, parse_time

KNOWN_CONSTANTS = set(CONSTANTS) | set(SCHEDULE_KEYS)


def _suggest(word: str, known) -> str:
    close = difflib.get_close_matches(word, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_constants(root: Path) -> list[str]:
    """UPPERCASE names grader_config.py sets that the course does not read (a misspelling)."""
    from traitlets.config import Config

    namespace = runpy.run_path(str(root / "grader_config.py"), init_globals={"get_config": Config})
    return [f"grader_config.py: {name} is not a setting{_suggest(name, KNOWN_CONSTANTS)}"
            for name in sorted(namespace) if name.isupper() and not name.startswith("_")
            and name not in KNOWN_CONSTANTS]


def known_students(course: Course, roster) -> set[str]:
    """The roster's student ids and the folders of submitted/."""
    found = {s.student_id for s in roster}
    submitted = course.root / "submitted"
    if submitted.is_dir():
        found |= {p.name for p in submitted.iterdir() if p.is_dir()}
    return found


def schedule_problems(course: Course) -> list[str]:
    """Every mistake in TIMEZONE, DEADLINES, EXTENSIONS, LATE_POLICY and ROSTER."""
    from .collect import read_roster

    data = course.settings.schedule or {}
    out: list[str] = []
    try:
        tz = ZoneInfo(str(data.get("TIMEZONE") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        from zoneinfo import available_timezones

        near = _suggest(str(data.get("TIMEZONE")), available_timezones()) or " (e.g. 'America/Sao_Paulo', 'UTC')"
        out.append(f"TIMEZONE: {data.get('TIMEZONE')!r} is not a time zone{near}")
        tz = ZoneInfo("UTC")
    assignments = resolve_assignments(course.root, None)
    for key in ("DEADLINES", "EXTENSIONS"):
        if not isinstance(data.get(key) or {}, dict):
            out.append(f"{key} must be a dict keyed by assignment, not {type(data[key]).__name__}")
    deadlines = data.get("DEADLINES") if isinstance(data.get("DEADLINES"), dict) else {}
    extensions = data.get("EXTENSIONS") if isinstance(data.get("EXTENSIONS"), dict) else {}

    def assignment_ok(key: str, name) -> bool:
        if name in assignments:
            return True
        out.append(f"{key}: {name!r} is not an assignment in source/{_suggest(str(name), assignments)}")
        return False

    for name, value in deadlines.items():
        if assignment_ok("DEADLINES", name):
            try:
                parse_time(value, tz)
            except DeadlineError as exc:
                out.append(f"DEADLINES[{name!r}]: {exc}")
    roster = []
    if data.get("ROSTER"):
        path = Path(data["ROSTER"])
        path = path if path.is_absolute() else course.root / path
        try:
            roster = read_roster(path)
        except (OSError, CourseError, ValueError) as exc:
            out.append(f"ROSTER: {exc}")
            roster = None
    students = known_students(course, roster or [])
    for name, per in extensions.items():
        if not assignment_ok("EXTENSIONS", name):
            continue
        if not isinstance(per, dict):
            out.append(f"EXTENSIONS[{name!r}] must be a dict {{student: '48h' or a date}}")
            continue
        for student, value in per.items():
            if roster is not None and str(student) not in students:  # (an unreadable roster: said above)
                out.append(f"EXTENSIONS[{name!r}]: {student!r} is neither in the roster nor in submitted/"
                           f"{_suggest(str(student), students)}")
            try:
                ext = parse_extension(value, tz)
            except DeadlineError:
                out.append(f"EXTENSIONS[{name!r}][{student!r}]: {value!r} is neither a duration ('48h', '3d', "
                           "'90m') nor a new due date ('YYYY-MM-DD HH:MM')")
                continue
            if not hasattr(ext, "tzinfo") and name not in deadlines:
                out.append(f"EXTENSIONS[{name!r}][{student!r}]: {value!r} extends a due date, but DEADLINES "
                           f"gives {name!r} none")
    try:
        LatePolicy.from_config(data.get("LATE_POLICY"))
    except (DeadlineError, TypeError, ValueError) as exc:
        text = str(exc).removeprefix("LATE_POLICY").lstrip(": ")
        out.append(f"LATE_POLICY: {text}")
    return out


def sandbox_problems(sandbox) -> list[str]:
    """Every mistake in SANDBOX, one line per setting: an unknown name ("did you mean"), a value of
    the wrong type (`"false"`, `"6144"`) or below what any grading kernel needs (`memory_mb: 6`)."""
    from ..grader.limits import Limits

    if not isinstance(sandbox or {}, dict):
        return [f"SANDBOX must be a dict of limits, not {type(sandbox).__name__}"]
    out = []
    for name, value in (sandbox or {}).items():
        try:
            Limits.from_dict({name: value})
        except ValueError as exc:
            out.append(str(exc).split("; known:")[0])
    return out


def problems(course: Course) -> list[str]:
    """Every mistake in the course's configuration, one line each ([] when it is sound)."""
    from .serve.policy import submit_problems

    return (unknown_constants(course.root) + schedule_problems(course) + submit_problems(course.settings.submit)
            + sandbox_problems(course.settings.sandbox))
