"""`dlcourse collect ASSIGNMENT ARCHIVE`: an LMS's bulk download into submitted/.

The naming schemes read (each LMS's "download all submissions" zip), checked against the code that
writes them:

- Moodle, "Download submissions in folders" (the default): `Full Name_<participant id>_assignsubmission_file/
  <file>` since Moodle 4.1, `Full Name_<participant id>_assignsubmission_file_/<file>` in 3.1-4.0; flat:
  `Full Name_<participant id>_assignsubmission_file_<file>`. With blind marking the name is "Participant".
  https://github.com/moodle/moodle/blob/main/mod/assign/classes/downloader.php (get_student_prefix,
  load_submissionplugin_filelist; 3.x: mod/assign/locallib.php download_submissions). Moodle 4.1+ stamps
  every entry with the time of the download (zip_writer::add_file_from_stored_file's default), 3.x with the
  stored file's time, so entry times are used only from a 3.x layout, and only when they differ.
- Canvas: `<sortable name, lower case, non-word characters removed>_[LATE_]<user id>_<attachment id>_<file>`
  (`lastfirst_LATE_123_456_x.ipynb`; `anon_<id>` under anonymous grading, which cannot be matched).
  https://github.com/instructure/canvas-lms/blob/master/lib/content_zipper.rb (get_filename,
  add_upload_submission). Entries are written when the zip is built (rubyzip's default time), so Canvas
  zips carry no submission time: lateness comes from the `LATE` marker alone.
- Google Classroom (a Drive folder download): `<Full Name>/<file>` or `<file> - <Full Name>.ipynb`
  (or `<Full Name> - <file>.ipynb`); Drive keeps no submission time. Google documents no naming scheme
  for these downloads (https://support.google.com/edu/classroom/ was searched): matched by roster name.

LMS names and ids are mapped to student ids with the roster (CSV: student_id, first_name,
last_name, email and optionally moodle_id, canvas_id, classroom_name), whose names and emails go
into the gradebook; the roster is `--roster FILE`, else ROSTER of grader_config.py (as for every command).
The archive is read entry by entry, never extracted: entries that escape the folder, absolute paths,
links, encrypted or oversized entries, zip bombs, duplicated or unreadable names are refused with the
reason, and nothing is written outside submitted/ (and reports/<assignment>/collect.csv).

- A zip in no known layout is refused with its first entry names and why each scheme did not match.
- A student's own zip is opened one level deep under the same rules (entry size, compression ratio,
  total size, names, links, encryption, duplicates) and its notebook taken; a zip inside it is not opened.
- A student who handed in no notebook (a PDF, a .py, a docx, a zip without one) is "wrong format".
- The manifest reports/<assignment>/collect.csv is merged per student across collects (a Moodle, then
  a Canvas, then a Classroom zip): the latest attempt wins there and in submitted/, by submission time
  when both are known, else the later collect (`merged_manifest`).
- `dry_run` decides everything and writes nothing (`Result.writes`: what it would write).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import stat
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..course import STUDENT_ID, Course, CourseError
from .deadlines import Schedule, format_timestamp, load_schedule, read_timestamp

LMS_KINDS = ("moodle", "canvas", "classroom")
MAX_ENTRY_BYTES = 64 * 2**20  # one notebook
MAX_TOTAL_BYTES = 2 * 2**30  # the whole archive, uncompressed
MAX_RATIO = 200  # uncompressed / compressed, for entries over 1 MB
MAX_ENTRIES = 20000

# Moodle 4.1+ folders end in `_file`, 3.1-4.0 folders in `_file_` (module docstring)
MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+)(?P<legacy>_?)$")
MOODLE_FLAT = re.compile(r"^(?P<name>.+)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<file>.+)$")
# Canvas: name_[LATE_]userid_attachmentid_file (the third field is the attachment's id, which Canvas's
# "Re-upload submissions" needs back; kept in Candidate.subid)
CANVAS = re.compile(r"^(?P<name>[^_/]+?)_(?:(?P<late>late)_)?(?P<id>\d+)_(?P<subid>\d+)_(?P<file>.+)$", re.I)
CANVAS_ANONYMOUS = re.compile(r"^(?:late_)?anon_", re.I)
SAME_MOMENT_S = 120  # entry times all within this span: the time the LMS built the zip, not submission times
RENAMED = [re.compile(p, re.I) for p in (r"^copy of\s+", r"\s*\(\d+\)$", r"-\d+$")]


class CollectError(CourseError):
    """The archive as a whole cannot be used (corrupt, a zip bomb, no notebook at all)."""


@dataclass
class Student:
    student_id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    moodle_id: str = ""
    canvas_id: str = ""
    classroom_name: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass
class Candidate:
    """One notebook of one attempt in the archive."""

    entry: str  # the (normalised) entry name
    info: zipfile.ZipInfo
    lms_name: str
    lms_id: str
    file_name: str
    when: datetime | None
    flagged_late: bool = False
    subid: str = ""  # Canvas: the attachment id
    student: str | None = None
    timed: bool = True  # whether this LMS layout can carry submission times in the entries
    data: bytes | None = None  # a notebook taken from a zip the student handed in (read when opened)
    holds: str = ""  # a handed-in zip without a notebook: what it holds


@dataclass
class Result:
    lms: str
    taken: dict = field(default_factory=dict)  # student -> Candidate written (or kept)
    status: dict = field(default_factory=dict)  # student -> "new" | "updated" | "unchanged" | "kept newer"
    late: dict = field(default_factory=dict)  # student -> hours late (or None when only flagged)
    refused_late: dict = field(default_factory=dict)  # student -> Candidate not taken (late, not accepted)
    unmatched: list = field(default_factory=list)  # (LMS name, LMS id, entry)
    missing: list = field(default_factory=list)  # roster students without a submission
    notes: list = field(default_factory=list)  # entries ignored or refused, with the reason
    times: str = ""  # where the submission times came from (or why there are none)
    wrong_format: dict = field(default_factory=dict)  # student -> [Candidate]: handed in, but no notebook
    writes: list = field(default_factory=list)  # files written (or, in a dry run, that would be written)
    dry_run: bool = False

    def note(self, entry: str, reason: str) -> None:
        self.notes.append(f"{_printable(entry)}: {reason}")


def _printable(name: str) -> str:
    return name.encode("unicode_escape").decode("ascii") if any(unicodedata.category(ch)[0] == "C"
                                                                 for ch in name) else name


def _key(text: str) -> str:
    """Names compared loosely: no accents, case, spaces or punctuation."""
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def read_roster(path: Path) -> list[Student]:
    """The roster CSV (student_id, first_name, last_name, email[, moodle_id, canvas_id, classroom_name])."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CourseError(f"cannot read the roster {path}: {exc}") from exc
    reader = csv.DictReader(io.StringIO(text))
    fields = {f.strip() for f in reader.fieldnames or []}
    if "student_id" not in fields:
        raise CourseError(f"roster {path} has no student_id column (columns: {', '.join(sorted(fields))})")
    students, seen = [], set()
    for line, row in enumerate(reader, start=2):
        row = {(k or "").strip(): unicodedata.normalize("NFC", (v or "").strip()) for k, v in row.items()}
        sid = row.get("student_id", "")
        if not STUDENT_ID.match(sid):
            raise CourseError(f"roster {path} line {line}: student_id {sid!r} is not a safe folder name "
                              "(letters, digits, . _ @ + -, at most 128)")
        if sid in seen:
            raise CourseError(f"roster {path} line {line}: student_id {sid!r} appears twice")
        seen.add(sid)
        students.append(Student(sid, *(row.get(k, "") for k in ("first_name", "last_name", "email", "moodle_id",
                                                                  "canvas_id", "classroom_name"))))
    return students


def _entry_name(info: zipfile.ZipInfo) -> str | None:
    """The entry's name as the sender meant it, NFC; None when it cannot be trusted."""
    name = info.filename
    if not info.flag_bits & 0x800:  # not marked UTF-8: zipfile decoded it as cp437
        try:
            name = name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass  # genuinely cp437 (old Windows zip): keep zipfile's reading
    return unicodedata.normalize("NFC", name.replace("\\", "/"))


def _refusal(info: zipfile.ZipInfo, name: str) -> str | None:
    """Why an entry must not be used (None: it may be read)."""
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in name):
        return "refused: the name holds control or invisible characters"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "refused: absolute path"
    if ".." in PurePosixPath(name).parts:
        return "refused: the path escapes the archive's folder (zip slip)"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "refused: a symbolic link"
    if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return "refused: not a regular file"
    if info.flag_bits & 0x1:
        return "refused: encrypted"
    if info.file_size > MAX_ENTRY_BYTES:
        return f"refused: {info.file_size} bytes uncompressed, over the {MAX_ENTRY_BYTES} limit"
    if info.file_size > 2**20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        return f"refused: compression ratio over {MAX_RATIO} (a zip bomb?)"
    return None


def read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The entry's bytes, never more than its declared size (a lying header is caught)."""
    out = bytearray()
    with zf.open(info) as fh:
        while chunk := fh.read(2**20):
            out += chunk
            if len(out) > min(info.file_size, MAX_ENTRY_BYTES):
                raise zipfile.BadZipFile("the entry is larger than its header says")
    return bytes(out)


def _zip_time(info: zipfile.ZipInfo, tz: ZoneInfo) -> datetime | None:
    try:
        return datetime(*info.date_time, tzinfo=tz)
    except ValueError:
        return None


NAME_TIME = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})[T _-]?(\d{2})[:h-]?(\d{2})(?:[:m-]?(\d{2}))?")


def _name_time(name: str, tz: ZoneInfo) -> datetime | None:
    """A timestamp written in a file name (e.g. `..._2026-03-20T23-10-05.ipynb`), if any."""
    m = NAME_TIME.search(name)
    if not m:
        return None
    try:
        return datetime(*(int(g or 0) for g in m.groups()), tzinfo=tz)
    except ValueError:
        return None


def _stem(base: str) -> str:
    """A file name without its extension (`X - Maria Silva.pdf` -> `X - Maria Silva`; `A. Lima` stays)."""
    return re.sub(r"\.[A-Za-z0-9]{1,5}$", "", base)


def _classroom_like(name: str, roster: list[Student]) -> bool:
    """A Drive download's naming: a folder or a ` - ` piece naming a roster student (any folder or ` - `
    without a roster)."""
    parts = PurePosixPath(name).parts
    pieces = [p.strip() for p in _stem(parts[-1]).split(" - ")]
    if not roster:
        return len(parts) >= 2 or len(pieces) >= 2
    keys = {_key(s.classroom_name or s.full_name) for s in roster} | {_key(s.full_name) for s in roster}
    keys.discard("")
    return any(_key(p) in keys for p in parts[:-1]) or (len(pieces) >= 2 and any(_key(p) in keys for p in pieces))


def detect_lms(names: list[str], roster: list[Student] | None = None) -> str | None:
    """The LMS whose naming scheme the entries follow; None when none does (see `unknown_layout`)."""
    if any("_assignsubmission_" in n for n in names):
        return "moodle"
    bases = [PurePosixPath(n).name for n in names]
    if names and sum(bool(CANVAS.match(b) or CANVAS_ANONYMOUS.match(b)) for b in bases) >= max(1, len(names) // 2):
        return "canvas"
    if any(_classroom_like(n, roster or []) for n in names):
        return "classroom"
    return None


def unknown_layout(archive: Path, names: list[str], roster: list[Student]) -> str:
    """What a zip in no known layout holds, and why each LMS's scheme did not match (one line)."""
    shown = ", ".join(repr(_printable(n)) for n in names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5
                                                                  else "")
    classroom = ("no folder or `<file> - <name>` naming a roster student" if roster
                 else "no folder and no `<file> - <name>` file")
    return (f"{archive} is in no known layout, so no notebook submission was found; nothing was collected. "
            f"It holds {len(names)} file(s): {shown or 'none'}. Moodle: no `<name>_<id>_assignsubmission_...` "
            f"folder or file; Canvas: no `<name>_[LATE_]<user id>_<attachment id>_<file>` name; Google Classroom: "
            f"{classroom}. If it is one of these, say which with --lms")


def _parse(lms: str, name: str, info: zipfile.ZipInfo, tz: ZoneInfo, roster: list[Student]) -> Candidate | None:
    parts = PurePosixPath(name).parts
    base = parts[-1]
    if lms == "moodle":
        for i, part in enumerate(parts[:-1]):
            m = MOODLE_FOLDER.match(part)
            if m:  # 4.1+ (no trailing `_`) stamps entries with the download time: no submission time
                return Candidate(name, info, m["name"], m["id"], "/".join(parts[i + 1:]), _zip_time(info, tz),
                                 timed=bool(m["legacy"]))
        m = MOODLE_FLAT.match(base)
        if m:
            return Candidate(name, info, m["name"], m["id"], m["file"], _zip_time(info, tz))
        return None
    if lms == "canvas":
        m = CANVAS.match(base)
        if m:  # the entry's time is when Canvas built the zip
            return Candidate(name, info, m["name"], m["id"], m["file"], _zip_time(info, tz),
                             flagged_late=bool(m["late"]), subid=m["subid"], timed=False)
        return None
    # Google Classroom: a folder per student, or the student's name in the file name
    names = {_key(s.classroom_name or s.full_name): s for s in roster}
    for part in parts[:-1]:
        if _key(part) in names:
            return Candidate(name, info, part, "", base, _name_time(base, tz))
    pieces = [p.strip() for p in _stem(base).split(" - ")]
    if len(pieces) >= 2:
        for who in (pieces[-1], pieces[0]):
            if _key(who) in names or not roster:
                return Candidate(name, info, who, "", base, _name_time(base, tz))
        return Candidate(name, info, pieces[-1], "", base, _name_time(base, tz))
    if len(parts) >= 2:
        return Candidate(name, info, parts[-2], "", base, _name_time(base, tz))
    return None


def _match(lms: str, cand: Candidate, roster: list[Student]) -> str | None:
    """The student id of a candidate (None: not in the roster)."""
    if not roster:
        slug = re.sub(r"[^a-z0-9]+", "-", unicodedata.normalize("NFKD", cand.lms_name).encode(
            "ascii", "ignore").decode().lower()).strip("-")
        return slug if slug and STUDENT_ID.match(slug) else None
    id_field = {"moodle": "moodle_id", "canvas": "canvas_id"}.get(lms)
    if id_field and cand.lms_id:
        for s in roster:
            if getattr(s, id_field) and getattr(s, id_field) == cand.lms_id:
                return s.student_id
    key = _key(cand.lms_name)
    for s in roster:
        names = {_key(s.full_name), _key(s.classroom_name)} if lms != "canvas" else {
            _key(s.last_name + s.first_name), _key(s.first_name + s.last_name)}
        if key and key in names - {""}:
            return s.student_id
    return None


def is_assignment_notebook(file_name: str, assignment: str) -> bool:
    """`X.ipynb`, `Copy of X.ipynb`, `X (1).ipynb`, `X-1.ipynb` (Canvas), `X - Maria Silva.ipynb`, ..."""
    stem = PurePosixPath(file_name).name
    stem = stem[:-len(".ipynb")] if stem.lower().endswith(".ipynb") else stem
    for piece in [stem, *stem.split(" - ")]:
        for pattern in RENAMED:
            piece = pattern.sub("", piece.strip()).strip()
        if _key(piece) == _key(assignment):
            return True
    return False


def _choose(cands: list[Candidate], assignment: str, due: datetime | None, accepts_late: bool) -> tuple:
    """(the attempt to keep or None, the latest refused late attempt or None)."""
    named = [c for c in cands if is_assignment_notebook(c.file_name, assignment)] or cands

    def order(c):
        return (c.when or datetime.min.replace(tzinfo=UTC), c.subid.zfill(20), c.entry)

    named.sort(key=order)
    latest = named[-1]
    if due is None or accepts_late:
        return latest, None
    # an attempt without a time (Google Classroom) counts as on time unless the LMS flagged it late
    on_time = [c for c in named if not c.flagged_late and (c.when is None or c.when <= due)]
    return (on_time[-1] if on_time else None), (latest if not on_time or latest is not on_time[-1] else None)


def collect(course: Course | Path, assignment: str, archive: Path, lms: str = "auto", roster_path: Path | None = None,
            db_url: str | None = None, schedule: Schedule | None = None, archive_tz: str | None = None,
            dry_run: bool = False) -> Result:
    """Fill submitted/<student>/<assignment>/ from an LMS archive; see the module's docstring. The roster is
    `roster_path`, else ROSTER of grader_config.py (as for `dlcourse feedback`). With `dry_run`, everything is
    read and decided but nothing is written: `Result.writes` lists what would be."""
    course = Course.at(course)
    root = course.root
    schedule = schedule or load_schedule(course)
    roster_path = roster_path or schedule.roster
    roster = read_roster(roster_path) if roster_path else []
    try:
        tz = ZoneInfo(archive_tz) if archive_tz else schedule.timezone
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CourseError(f"--archive-tz {archive_tz!r} is not a time zone (e.g. America/Sao_Paulo): {exc}") from exc
    if lms not in (*LMS_KINDS, "auto"):
        raise CourseError(f"--lms must be one of moodle, canvas, classroom, auto, not {lms!r}")
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CollectError(f"{archive} is not a readable zip archive ({exc}); nothing was collected") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ENTRIES:
            raise CollectError(f"{archive} has {len(infos)} entries, over the {MAX_ENTRIES} limit; nothing collected")
        total = sum(i.file_size for i in infos)
        if total > MAX_TOTAL_BYTES:
            raise CollectError(f"{archive} would unpack to {total} bytes, over the {MAX_TOTAL_BYTES} limit "
                               "(a zip bomb?); nothing was collected")
        result = _collect(root, assignment, zf, infos, lms, roster, schedule, tz, archive, dry_run)
    if roster:
        if dry_run:
            result.writes.append(f"gradebook: the names and emails of {len(roster)} roster student(s)")
        else:
            _gradebook_students(course, roster, db_url)
    return result


def _is_metadata(name: str) -> bool:
    return name.startswith("__MACOSX/") or PurePosixPath(name).name.startswith("._")


def _read_names(infos: list[zipfile.ZipInfo]) -> tuple[dict, dict]:
    """Each entry's name (by id of its ZipInfo) and how often each name occurs."""
    names, counts = {}, {}
    for info in infos:
        name = _entry_name(info)
        names[id(info)] = name
        counts[name.rstrip("/")] = counts.get(name.rstrip("/"), 0) + 1
    return names, counts


def _open_inner(zf: zipfile.ZipFile, outer: Candidate, result: Result) -> list[Candidate]:
    """The notebooks of a zip a student handed in, opened one level deep under the archive's own rules
    (entry size, compression ratio, total size, names, links, encryption, duplicates). A zip inside it is
    not opened. What it holds besides goes into `outer.holds`."""
    try:
        data = read_entry(zf, outer.info)
        inner = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError, ValueError, OSError) as exc:
        result.note(outer.entry, f"ignored: a .zip that cannot be opened ({exc})")
        outer.holds = "a zip that cannot be opened"
        return []
    found, held = [], []
    with inner:
        infos = inner.infolist()
        total = sum(i.file_size for i in infos)
        if len(infos) > MAX_ENTRIES or total > MAX_ENTRY_BYTES:
            result.note(outer.entry, f"refused: the zip holds {len(infos)} entries of {total} bytes uncompressed, "
                                     f"over the {MAX_ENTRY_BYTES} limit of one submission (a zip bomb?)")
            outer.holds = "a zip over the size limit"
            return []
        names, counts = _read_names(infos)
        for info in infos:
            name = names[id(info)]
            full = f"{outer.entry}/{name}"
            if info.is_dir() or _is_metadata(name):
                continue
            reason = _refusal(info, name)
            if reason is None and counts[name] > 1:
                reason = f"refused: the name appears {counts[name]} times in the zip (which one is meant?)"
            if reason is not None:
                result.note(full, reason)
                held.append(name)
                continue
            if name.lower().endswith(".zip"):
                result.note(full, "ignored: a zip inside a zip is not opened (one level only)")
                held.append(name)
                continue
            if not name.lower().endswith(".ipynb"):
                held.append(name)
                continue
            try:
                body = read_entry(inner, info)
            except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError) as exc:
                result.note(full, f"refused: the entry cannot be read ({exc})")
                held.append(name)
                continue
            found.append(Candidate(full, outer.info, outer.lms_name, outer.lms_id, f"{outer.file_name}/{name}",
                                   outer.when, outer.flagged_late, outer.subid, outer.student, outer.timed, body))
    if found:
        for name in held:
            result.note(f"{outer.entry}/{name}", "ignored: not a notebook")
    outer.holds = ", ".join(held[:5]) + (f" and {len(held) - 5} more" if len(held) > 5 else "") or "nothing"
    return found


def _collect(root, assignment, zf, infos, lms, roster, schedule, tz, archive, dry_run) -> Result:
    names, counts = _read_names(infos)
    files = [n for i in infos if not i.is_dir() and not _is_metadata(n := names[id(i)])]
    kind = detect_lms(files, roster) if lms == "auto" else lms
    if kind is None:
        raise CollectError(unknown_layout(archive, files, roster))
    result = Result(kind, dry_run=dry_run)
    by_student: dict[str, list[Candidate]] = {}
    other: dict[str, list[Candidate]] = {}  # student -> what they handed in that is not a notebook
    for info in infos:
        name = names[id(info)]
        if info.is_dir():
            continue
        reason = _refusal(info, name)
        if reason is None and counts[name] > 1:
            reason = f"refused: the name appears {counts[name]} times in the archive (which one is meant?)"
        if reason is not None:
            result.note(name, reason)
            continue
        if _is_metadata(name):
            result.note(name, "ignored: macOS metadata, not a notebook")
            continue
        if kind == "canvas" and CANVAS_ANONYMOUS.match(PurePosixPath(name).name):
            result.note(name, "ignored: anonymous grading hides the student (turn it off to download by name)")
            continue
        notebook, zipped = name.lower().endswith(".ipynb"), name.lower().endswith(".zip")
        if not notebook and kind == "classroom" and not roster:  # whose it is rests on the roster's names
            result.note(name, "ignored: not a notebook (without a roster, a Drive download's other files "
                              "cannot be told apart from the folder's own)")
            continue
        cand = _parse(kind, name, info, tz, roster)
        if cand is None:
            result.note(name, f"ignored: not named as a {kind} submission" if notebook else "ignored: not a notebook")
            continue
        cand.student = _match(kind, cand, roster)
        if cand.student is None:
            if notebook or zipped:
                result.unmatched.append((cand.lms_name, cand.lms_id, name))
            else:
                result.note(name, "ignored: not a notebook")
            continue
        if notebook:
            by_student.setdefault(cand.student, []).append(cand)
            continue
        inner = _open_inner(zf, cand, result) if zipped else []
        if inner:
            by_student.setdefault(cand.student, []).extend(inner)
        else:
            other.setdefault(cand.student, []).append(cand)
    for student, cands in other.items():
        if student in by_student:  # a notebook too: the rest is not graded
            for c in cands:
                if not c.holds:
                    result.note(c.entry, "ignored: not a notebook")
        else:
            result.wrong_format[student] = cands
    # every candidate's time, a wrong-format hand-in's too (a Canvas PDF's entry time is the download's)
    result.times = _submission_times([c for cands in (*by_student.values(), *result.wrong_format.values())
                                      for c in cands], kind)
    if not by_student and not result.unmatched and not result.wrong_format:
        raise CollectError(f"no {kind} notebook submission in the archive; nothing was collected"
                           + (f" ({len(result.notes)} entries ignored or refused: {result.notes[0]} ...)"
                              if result.notes else ""))
    base = root / "submitted"
    if base.is_symlink():
        raise CollectError(f"{base} is a symbolic link: refusing to write through it; nothing was collected")
    for student, cands in sorted(by_student.items()):
        due = schedule.due(assignment, student)
        chosen, refused = _choose(cands, assignment, due, schedule.policy.accepts_late)
        if len({c.file_name for c in cands}) > 1 and not any(is_assignment_notebook(c.file_name, assignment)
                                                             for c in cands):
            kept = chosen or refused
            result.note(kept.entry, f"{student}: no notebook named like {assignment}; took the latest of "
                                    f"{len(cands)} ({', '.join(sorted({c.file_name for c in cands}))})")
        if refused is not None and chosen is None:
            result.refused_late[student] = refused
            continue
        if refused is not None:
            result.refused_late[student] = refused
        late = schedule.lateness(assignment, student, chosen.when)
        if late.total_seconds() > 0 or chosen.flagged_late:
            result.late[student] = round(late.total_seconds() / 3600, 1) if chosen.when else None
        try:
            result.status[student] = _write(base, student, assignment, zf, chosen, result)
        except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError) as exc:
            result.note(chosen.entry, f"refused: the entry cannot be read ({exc}); {student} not collected")
            result.late.pop(student, None)
            continue
        result.taken[student] = chosen
    # missing: in the roster, in no archive yet (a notebook, or something in the wrong format, collected
    # from another LMS before is not missing: collect.csv of the earlier collects says so)
    try:
        earlier = read_manifest(root, assignment)
    except CourseError:
        earlier = {}
    result.missing = [s.student_id for s in roster if s.student_id not in result.taken
                      and s.student_id not in result.refused_late and s.student_id not in result.wrong_format
                      and s.student_id not in earlier
                      and not any((root / "submitted" / s.student_id / assignment).glob("*.ipynb"))]
    return result


def _submission_times(cands: list[Candidate], kind: str) -> str:
    """Keep the entry times only where they are submission times; say where the times came from."""
    if kind == "classroom":
        return "no submission times (a Drive download keeps none)"
    untimed = [c for c in cands if not c.timed]
    timed = [c for c in cands if c.timed and c.when is not None]
    for c in untimed:
        c.when = None
    if timed:
        span = max(c.when for c in timed) - min(c.when for c in timed)
        if len(timed) >= 2 and span.total_seconds() <= SAME_MOMENT_S:  # e.g. a flat Moodle 4.1+ download
            for c in timed:
                c.when = None
            return (f"no submission times: the {kind} zip's file times are all the same moment (when the zip "
                    "was built), so lateness comes only from what the LMS marks")
        return f"submission times from the {kind} zip's file times (read in the course's TIMEZONE)"
    if kind == "canvas":
        return "no submission times (Canvas stamps its zip entries with the download time): late = Canvas's LATE mark"
    return ("no submission times (Moodle 4.1+ stamps its zip entries with the download time): take the times "
            "from Moodle's grading worksheet into submitted/<student>/<assignment>/timestamp.txt if needed")


def _write(base: Path, student: str, assignment: str, zf: zipfile.ZipFile, cand: Candidate, result: Result) -> str:
    """Write one notebook into submitted/<student>/<assignment>/ unless the one there is the latest attempt:
    the later submission time when both are known, else this (the later) collect. In a dry run, only
    decide and list the files in `result.writes`."""
    folder = base / student / assignment
    for p in (base, base / student, folder):
        if p.is_symlink():
            raise CollectError(f"{p} is a symbolic link: refusing to write through it")
    if base.exists() and folder.resolve().parent.parent != base.resolve():
        raise CollectError(f"{folder} is outside submitted/")
    data = cand.data if cand.data is not None else read_entry(zf, cand.info)
    target = folder / f"{assignment}.ipynb"
    stamp = folder / "timestamp.txt"
    rel = f"submitted/{student}/{assignment}"
    existing_when = read_timestamp(folder)
    if target.is_file():
        if hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(data).digest():
            if cand.when is not None and existing_when is None:
                result.writes.append(f"{rel}/timestamp.txt")
                if not result.dry_run:
                    stamp.write_text(format_timestamp(cand.when) + "\n")
            return "unchanged"
        if existing_when is not None and cand.when is not None and existing_when > cand.when:
            return "kept newer"
        status = "updated"
    else:
        status = "new"
    result.writes.append(f"{rel}/{assignment}.ipynb")
    if cand.when is not None or stamp.exists():
        result.writes.append(f"{rel}/timestamp.txt" + ("" if cand.when is not None else " (removed: no time)"))
    if result.dry_run:
        return status
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{assignment}.ipynb.collect"
    tmp.write_bytes(data)
    os.replace(tmp, target)
    if cand.when is not None:
        stamp.write_text(format_timestamp(cand.when) + "\n")
    elif stamp.exists():
        stamp.unlink()
    return status


def _gradebook_students(course: Course, roster: list[Student], db_url: str | None) -> None:
    """Real names and emails in the gradebook, so formgrader shows them."""
    from nbgrader.api import Gradebook

    from ..course import ensure_tools_on_path

    ensure_tools_on_path()
    with Gradebook(db_url or course.db_url, course.settings.course_id) as gb:
        for s in roster:
            gb.update_or_create_student(s.student_id, first_name=s.first_name or None,
                                        last_name=s.last_name or None, email=s.email or None)


def _wrong_format_text(cands: list[Candidate]) -> str:
    return ", ".join(_printable(c.file_name) + (f" (holds {_printable(c.holds)})" if c.holds else "") for c in cands)


def format_table(result: Result) -> str:
    """The collect summary: matched, late, wrong format, unmatched, missing and the entries left out."""
    lines = [f"{'student':<22} {'status':<14} {'late':<10} from archive entry"]
    for student, cand in sorted(result.taken.items()):
        late = result.late.get(student, 0)
        late_txt = ("late" if late is None else f"{late:g} h") if student in result.late else ""
        lines.append(f"{student:<22} {result.status[student]:<14} {late_txt:<10} {_printable(cand.entry)}")
    for student, cand in sorted(result.refused_late.items()):
        if student not in result.taken:
            lines.append(f"{student:<22} {'late: refused':<14} {'':<10} {_printable(cand.entry)}")
    for student, cands in sorted(result.wrong_format.items()):
        lines.append(f"{student:<22} {'wrong format':<14} {'':<10} {_printable(cands[0].entry)}")
    summary = [f"{result.lms}: {len(result.taken)} matched, {len(result.late)} late, "
               f"{len(result.unmatched)} unmatched, {len(result.missing)} missing, "
               f"{len(result.wrong_format)} wrong format, {len(result.notes)} left out"]
    if result.times:
        summary.append(result.times)
    unknown = sorted(s for s, h in result.late.items() if h is None)
    if unknown:
        summary.append("late by the LMS's mark, time unknown (no penalty until timestamp.txt holds the time): "
                       + ", ".join(unknown))
    if result.wrong_format:
        summary.append("wrong format (handed in, but no notebook; nothing to grade until a .ipynb comes):")
        summary += [f"  {s}: {_wrong_format_text(c)}" for s, c in sorted(result.wrong_format.items())]
    if result.unmatched:
        summary.append("unmatched (not in the roster; add moodle_id/canvas_id/classroom_name to it):")
        summary += [f"  {_printable(n)} (id {i or '-'}): {_printable(e)}" for n, i, e in result.unmatched]
    if result.missing:
        summary.append("missing (in the roster, no submission): " + ", ".join(result.missing))
    if result.notes:
        summary.append("left out:")
        summary += [f"  {n}" for n in result.notes]
    return "\n".join(lines + summary)


MANIFEST_COLUMNS = ["student", "lms", "lms_name", "lms_id", "attachment_id", "file", "submitted_at", "status",
                    "collected_at", "lms_late"]  # lms_late: "yes" where the LMS marked the attempt late


def read_manifest(root: Path, assignment: str) -> dict[str, dict]:
    """The rows of reports/<assignment>/collect.csv by student ({} when there is none yet)."""
    path = root / "reports" / assignment / "collect.csv"
    if not path.is_file():
        return {}
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            if "student" not in (reader.fieldnames or []):
                raise CourseError(f"{path} has no student column, so this collect cannot be merged into it: "
                                  "move it aside; nothing was collected")
            return {row["student"]: row for row in reader if row.get("student")}
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CourseError(f"cannot read {path} to merge this collect into it ({exc}): move it aside; "
                          "nothing was collected") from exc


def merged_manifest(root: Path, assignment: str, result: Result, now: datetime | None = None) -> list[dict]:
    """reports/<assignment>/collect.csv's rows after this collect, merged per student with the rows already
    there (a Moodle, then a Canvas, then a Classroom zip of the same assignment):

    - a student this collect does not mention keeps their row;
    - the latest attempt wins, as in submitted/: the later submission time when both are known, else the
      later collect (this one). A row whose notebook stayed in submitted/ ("kept newer") is kept;
    - a wrong-format hand-in ("wrong format": no notebook) never replaces a row with a notebook;
    - the Canvas attachment id (what `feedback --pack canvas` needs) is carried over when the new row has
      none, so a later Moodle or Classroom collect does not drop a student from the Canvas pack.
    """
    old = read_manifest(root, assignment)
    stamp = format_timestamp(now or datetime.now(UTC))
    rows = dict(old)

    def row(student: str, c: Candidate, status: str) -> dict:
        return {"student": student, "lms": result.lms, "lms_name": c.lms_name, "lms_id": c.lms_id,
                "attachment_id": c.subid, "file": c.file_name,
                "submitted_at": format_timestamp(c.when) if c.when else "", "status": status, "collected_at": stamp,
                "lms_late": "yes" if c.flagged_late else ""}

    for student, c in result.taken.items():
        prev = old.get(student)
        if prev is not None and result.status[student] == "kept newer" and prev.get("status") != "wrong format":
            continue
        new = row(student, c, result.status[student])
        if not new["attachment_id"] and prev is not None and (prev.get("attachment_id") or "").isdigit():
            new["attachment_id"] = prev["attachment_id"]
        rows[student] = new
    for student, cands in result.wrong_format.items():
        prev = old.get(student)
        if prev is not None and prev.get("status") != "wrong format":
            continue
        new = row(student, cands[0], "wrong format")
        new["file"] = _wrong_format_text(cands)
        if prev is not None and (prev.get("attachment_id") or "").isdigit() and not new["attachment_id"]:
            new["attachment_id"] = prev["attachment_id"]
        rows[student] = new
    return [{k: r.get(k) or "" for k in MANIFEST_COLUMNS} for _, r in sorted(rows.items())]


def write_manifest(root: Path, assignment: str, result: Result) -> Path:
    """reports/<assignment>/collect.csv: which archive entry each student's submission came from (the LMS
    name, id and Canvas attachment id that `dlcourse feedback --pack` needs), merged with earlier collects
    (`merged_manifest`). Written whole, then moved into place."""
    rows = merged_manifest(root, assignment, result)
    out = root / "reports" / assignment
    out.mkdir(parents=True, exist_ok=True)
    path = out / "collect.csv"
    tmp = out / ".collect.csv.new"
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, MANIFEST_COLUMNS)
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)
    return path
