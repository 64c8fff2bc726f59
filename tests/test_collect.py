"""`dlcourse collect`: one archive per LMS built from its documented naming scheme, every kind of
bad input, the late policy and extensions with exact scores, and the LMS import layouts."""

from __future__ import annotations

import io
import json
import stat
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import ROOT, written_points

from dlcourse.classroom import collect as collect_mod
from dlcourse.classroom.collect import CollectError, collect, format_table, read_roster
from dlcourse.classroom.deadlines import LatePolicy, Schedule, late_columns, read_timestamp, schedule_from
from dlcourse.cli import main as cli

A = "01_softmax_cross_entropy"
TZ = ZoneInfo("America/Sao_Paulo")
DUE = datetime(2026, 3, 20, 23, 59, tzinfo=TZ)
ROSTER = """student_id,first_name,last_name,email,moodle_id,canvas_id,classroom_name
s001,Maria,Silva,maria@uni.example,1001,2001,
s002,João,Souza,joao@uni.example,1002,2002,
s003,Ana,Lima,ana@uni.example,1003,2003,
"""


def nb(tag: str) -> bytes:
    return json.dumps({"cells": [], "metadata": {"tag": tag}, "nbformat": 4, "nbformat_minor": 5}).encode()


def zip_bytes(entries) -> bytes:
    """entries: (name, data, local time) or a ready ZipInfo with data."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, when in entries:
            info = name if isinstance(name, zipfile.ZipInfo) else zipfile.ZipInfo(name, when.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


def local(hours_after_due: float) -> datetime:
    return DUE + timedelta(hours=hours_after_due)


@pytest.fixture
def course(tmp_path, request, monkeypatch):
    if request.node.name != "test_moodle_archive":  # creating a gradebook takes seconds: one test does it
        monkeypatch.setattr(collect_mod, "_gradebook_students", lambda *a, **k: None)
    root = tmp_path / "course"
    (root / "source" / A).mkdir(parents=True)
    (root / "source" / A / f"{A}.ipynb").write_bytes(nb("source"))
    (root / "grader_config.py").write_text(  # the settings collect reads, nothing else
        'STUDENT_REPO = "course/student"\nCOURSE_ID = "deep-learning"\nc = get_config()  # noqa: F821\n'
        'LATE_POLICY = {"kind": "percent", "percent": 10, "per": "day", "cap": 50}\n' + (
        f'TIMEZONE = "America/Sao_Paulo"\nDEADLINES = {{"{A}": "2026-03-20 23:59"}}\n'
        f'EXTENSIONS = {{"{A}": {{"s003": "48h"}}}}\nROSTER = "roster.csv"\n'))
    (root / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text())
    (root / "roster.csv").write_text(ROSTER, encoding="utf-8")
    return root


def schedule(kind="percent", **policy) -> Schedule:
    return schedule_from({"TIMEZONE": "America/Sao_Paulo", "DEADLINES": {A: "2026-03-20 23:59"},
                          "EXTENSIONS": {A: {"s003": "48h"}},
                          "LATE_POLICY": {"kind": kind, **({"percent": 10, "per": "day", "cap": 50} | policy
                                                           if kind == "percent" else {})}})


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def written(root: Path, before: set[str]) -> set[str]:
    return files(root) - before


def run_collect(course: Path, archive: bytes, *args: str, capsys) -> tuple[int, str, str]:
    path = course.parent / "download.zip"
    path.write_bytes(archive)
    rc = cli(["--root", str(course), "collect", A, str(path), *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


# Moodle 3.1-4.0 "download submissions in folders" (`..._file_/`): entries carry the stored files' times.
# https://github.com/moodle/moodle/blob/MOODLE_400_STABLE/mod/assign/locallib.php (download_submissions)
MOODLE = [
    (f"Maria Silva_1001_assignsubmission_file_/{A}.ipynb", nb("maria"), local(-5)),
    (f"João Souza_1002_assignsubmission_file_/Copy of {A}.ipynb", nb("joao"), local(26)),
    ("Zoe Unknown_1999_assignsubmission_file_/notebook.ipynb", nb("zoe"), local(-1)),
    ("Maria Silva_1001_assignsubmission_onlinetext_/onlinetext.html", b"<p>hi</p>", local(-5)),
]


def test_moodle_archive(course, capsys):
    before = files(course)
    rc, out, err = run_collect(course, zip_bytes(MOODLE), capsys=capsys)
    print(out)
    assert rc == 0, err
    sub = course / "submitted"
    assert json.loads((sub / "s001" / A / f"{A}.ipynb").read_bytes())["metadata"]["tag"] == "maria"
    assert json.loads((sub / "s002" / A / f"{A}.ipynb").read_bytes())["metadata"]["tag"] == "joao"
    assert read_timestamp(sub / "s002" / A) == local(26).astimezone(UTC)
    assert (sub / "s001" / A / "timestamp.txt").read_text().strip() == "2026-03-20 21:59:00.000000 UTC"
    assert "moodle: 2 matched, 1 late, 1 unmatched, 1 missing" in out
    assert "Zoe Unknown" in out and "missing (in the roster, no submission): s003" in out
    assert "onlinetext.html: ignored: not a notebook" in out
    assert written(course, before) <= {f"submitted/s001/{A}/{A}.ipynb", f"submitted/s001/{A}/timestamp.txt",
                                       f"submitted/s002/{A}/{A}.ipynb", f"submitted/s002/{A}/timestamp.txt",
                                       "gradebook.db", f"reports/{A}/collect.csv"}
    assert (course / "gradebook.db").is_file()
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        joao = gb.find_student("s002")
        assert (joao.first_name, joao.last_name, joao.email) == ("João", "Souza", "joao@uni.example")
    # a rerun changes nothing
    rc, out, _ = run_collect(course, zip_bytes(MOODLE), capsys=capsys)
    assert rc == 0 and out.count("unchanged") == 2


def test_moodle_41_folders_carry_no_submission_times(course, capsys):
    """Moodle 4.1+ names the folders `..._assignsubmission_file/` (no trailing `_`) and stamps every entry with
    the download time (mod/assign/classes/downloader.php): collected, but no timestamp.txt is written."""
    download = local(30)  # downloaded a day after the due date: these are not submission times
    entries = [(f"Maria Silva_1001_assignsubmission_file/{A}.ipynb", nb("maria"), download),
               (f"João Souza_1002_assignsubmission_file/sub/Copy of {A}.ipynb", nb("joao"), download),
               ("Participant_1003_assignsubmission_file/notes.txt", b"x", download)]
    rc, out, err = run_collect(course, zip_bytes(entries), capsys=capsys)
    print(out)
    assert rc == 0, err
    assert "moodle: 2 matched, 0 late, 0 unmatched, 0 missing, 1 wrong format" in out  # s003: notes.txt
    assert "Moodle 4.1+ stamps its zip entries with the download time" in out
    for student, tag in (("s001", "maria"), ("s002", "joao")):
        folder = course / "submitted" / student / A
        assert json.loads((folder / f"{A}.ipynb").read_bytes())["metadata"]["tag"] == tag
        assert not (folder / "timestamp.txt").exists()


def test_entry_times_that_are_one_moment_are_not_submission_times(course):
    """A flat Moodle download (`..._file_<name>`, the same in every version) from 4.1+ has one time on every
    entry: not submission times. Spread times (3.x) are."""
    path = course / "flat.zip"
    same = [(f"Maria Silva_1001_assignsubmission_file_{A}.ipynb", nb("maria"), local(30)),
            (f"João Souza_1002_assignsubmission_file_{A}.ipynb", nb("joao"), local(30) + timedelta(seconds=40))]
    path.write_bytes(zip_bytes(same))
    result = collect(course, A, path, lms="moodle", roster_path=course / "roster.csv", schedule=schedule())
    assert sorted(result.taken) == ["s001", "s002"] and not result.late
    assert "all the same moment" in result.times
    assert not (course / "submitted" / "s001" / A / "timestamp.txt").exists()
    spread = [same[0], (same[1][0], nb("joao"), local(-3))]
    path.write_bytes(zip_bytes(spread))
    result = collect(course, A, path, lms="moodle", roster_path=course / "roster.csv", schedule=schedule())
    assert result.late == {"s001": 30.0} and "file times" in result.times
    assert read_timestamp(course / "submitted" / "s002" / A) == local(-3).astimezone(UTC)


# Canvas: <sortable name, lower case, non-word characters dropped>_[LATE_]<user id>_<attachment id>_<file>,
# entries written when the zip is built (get_filename and add_upload_submission in
# https://github.com/instructure/canvas-lms/blob/master/lib/content_zipper.rb).
CANVAS_ZIP = [(f"silvamaria_2001_9001_{A}.ipynb", nb("maria"), local(30)),
              (f"souzajoão_LATE_2002_9002_{A}-1.ipynb", nb("joao"), local(30)),
              ("limaana_2003_9003_notes.txt", b"x", local(30)),
              (f"anon_x7k2p_9004_{A}.ipynb", nb("anonymous"), local(30))]


def test_canvas_archive(course, capsys):
    rc, out, err = run_collect(course, zip_bytes(CANVAS_ZIP), "--lms", "canvas", capsys=capsys)
    print(out)
    assert rc == 0, err
    assert "canvas: 2 matched, 1 late, 0 unmatched, 0 missing, 1 wrong format" in out  # s003: notes.txt
    assert "Canvas stamps its zip entries with the download time" in out  # local(30) is not a submission time
    assert "late by the LMS's mark, time unknown (no penalty until timestamp.txt holds the time): s002" in out
    assert "anonymous grading hides the student" in out
    assert not list((course / "submitted").glob(f"*/{A}/timestamp.txt"))
    manifest = (course / "reports" / A / "collect.csv").read_text(encoding="utf-8")
    assert manifest.splitlines()[0].split(",")[4] == "attachment_id"
    assert "s002,canvas,souzajoão,2002,9002," in manifest


def test_a_canvas_pdf_row_records_no_submission_time(course, capsys):
    """Issue 29, surprise 7: Canvas stamps every entry with the download time, so a PDF handed in has no
    known submission time. Before: its collect.csv row said it was submitted when the zip was built."""
    import csv

    entries = [(f"silvamaria_2001_9001_{A}.ipynb", nb("maria"), local(30)),
               ("souzajoão_2002_9002_report.pdf", b"%PDF-1.4", local(30))]
    rc, out, err = run_collect(course, zip_bytes(entries), "--lms", "canvas", capsys=capsys)
    assert rc == 0, err
    with (course / "reports" / A / "collect.csv").open(encoding="utf-8") as fh:
        rows = {row["student"]: row for row in csv.DictReader(fh)}
    assert rows["s002"]["status"] == "wrong format" and rows["s002"]["submitted_at"] == ""
    assert rows["s001"]["submitted_at"] == ""


def test_classroom_archive(course, capsys):
    entries = [(f"{A} (Classroom)/Maria Silva/{A} (1).ipynb", nb("maria"), local(-2)),
               (f"{A} (Classroom)/{A} - João Souza.ipynb", nb("joao"), local(-2)),
               (f"{A} (Classroom)/Ana Lima - {A}.ipynb", nb("ana"), local(-2))]
    rc, out, err = run_collect(course, zip_bytes(entries), capsys=capsys)
    print(out)
    assert rc == 0, err
    assert "classroom: 3 matched, 0 late, 0 unmatched, 0 missing" in out
    tags = {s: json.loads((course / "submitted" / s / A / f"{A}.ipynb").read_bytes())["metadata"]["tag"]
            for s in ("s001", "s002", "s003")}
    assert tags == {"s001": "maria", "s002": "joao", "s003": "ana"}
    assert not (course / "submitted" / "s001" / A / "timestamp.txt").exists()  # Drive keeps no time


def test_attempts_latest_before_due_or_latest_overall(course):
    entries = [(f"Maria Silva_1001_assignsubmission_file_/{A}.ipynb", nb("first"), local(-10)),
               (f"Maria Silva_1001_assignsubmission_file_/{A} (1).ipynb", nb("second"), local(-1)),
               (f"Maria Silva_1001_assignsubmission_file_/{A} (2).ipynb", nb("late"), local(5))]
    path = course / "a.zip"
    path.write_bytes(zip_bytes(entries))
    result = collect(course, A, path, lms="moodle", roster_path=course / "roster.csv",
                     schedule=schedule("not_accepted"))
    target = course / "submitted" / "s001" / A / f"{A}.ipynb"
    assert json.loads(target.read_bytes())["metadata"]["tag"] == "second"
    assert "s001" in result.refused_late and "s001" not in result.late
    result = collect(course, A, path, lms="moodle", roster_path=course / "roster.csv", schedule=schedule("percent"))
    assert json.loads(target.read_bytes())["metadata"]["tag"] == "late"
    assert result.status["s001"] == "updated" and result.late["s001"] == 5.0
    # an older download never replaces the newer submission already collected
    old = course / "old.zip"
    old.write_bytes(zip_bytes(entries[:1]))
    result = collect(course, A, old, lms="moodle", roster_path=course / "roster.csv", schedule=schedule("percent"))
    assert result.status["s001"] == "kept newer"
    assert json.loads(target.read_bytes())["metadata"]["tag"] == "late"


def test_only_late_attempts_when_late_work_is_refused(course):
    path = course / "a.zip"
    path.write_bytes(zip_bytes([(f"Maria Silva_1001_assignsubmission_file_/{A}.ipynb", nb("x"), local(3))]))
    result = collect(course, A, path, lms="moodle", roster_path=course / "roster.csv",
                     schedule=schedule("not_accepted"))
    assert not (course / "submitted").exists()
    assert "late: refused" in format_table(result)


def _symlink_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, local(-1).timetuple()[:6])
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def _raw_name_zip(name_bytes: bytes, placeholder: str, data: bytes) -> bytes:
    """A zip whose entry name is `name_bytes` without the UTF-8 flag (as old zip tools write)."""
    raw = zip_bytes([(placeholder, data, local(-1))])
    assert len(placeholder.encode()) == len(name_bytes)
    return raw.replace(placeholder.encode(), name_bytes)


BAD_ENTRIES = {
    "zip slip": (f"Maria Silva_1001_assignsubmission_file_/../../../../evil/{A}.ipynb", "zip slip"),
    "absolute": (f"/tmp/evil/Maria Silva_1001_assignsubmission_file_/{A}.ipynb", "absolute path"),
    "windows absolute": (f"C:\\evil\\Maria Silva_1001_assignsubmission_file_\\{A}.ipynb", "absolute path"),
    "control character": (f"Maria\x07 Silva_1001_assignsubmission_file_/{A}.ipynb", "control"),
    "bidi override": (f"Maria Silva_1001_assignsubmission_file_/{A}\u202egpj.ipynb", "control"),
}


@pytest.mark.parametrize("case", sorted(BAD_ENTRIES))
def test_bad_entries_are_refused_and_write_nothing(course, capsys, case):
    name, reason = BAD_ENTRIES[case]
    good = (f"João Souza_1002_assignsubmission_file_/{A}.ipynb", nb("joao"), local(-1))
    before = files(course.parent)
    rc, out, err = run_collect(course, zip_bytes([(name, nb("evil"), local(-1)), good]), capsys=capsys)
    assert rc == 0, err
    assert reason in out, out
    new = written(course.parent, before) - {"download.zip"}
    assert all(p.startswith("course/submitted/s002/") or p in ("course/gradebook.db", f"course/reports/{A}/collect.csv")
               for p in new), new
    assert not (course / "submitted" / "s001").exists()


def test_symlink_entry_refused(course, capsys):
    archive = zip_bytes([(_symlink_entry(f"Maria Silva_1001_assignsubmission_file_/{A}.ipynb"), b"/etc/passwd",
                          None), (f"João Souza_1002_assignsubmission_file_/{A}.ipynb", nb("joao"), local(-1))])
    rc, out, _ = run_collect(course, archive, capsys=capsys)
    assert rc == 0 and "refused: a symbolic link" in out
    assert not (course / "submitted" / "s001").exists()


def test_duplicated_names_refused(course, capsys):
    name = f"Maria Silva_1001_assignsubmission_file_/{A}.ipynb"
    with pytest.warns(UserWarning, match="Duplicate name"):
        archive = zip_bytes([(name, nb("one"), local(-2)), (name, nb("two"), local(-1)),
                             (f"João Souza_1002_assignsubmission_file_/{A}.ipynb", nb("joao"), local(-1))])
    rc, out, _ = run_collect(course, archive, capsys=capsys)
    assert rc == 0 and "appears 2 times" in out
    assert not (course / "submitted" / "s001").exists()


def test_non_utf8_and_decomposed_names(course, capsys):
    # UTF-8 bytes without the UTF-8 flag (zip tools of old Windows / macOS): read as UTF-8
    archive = _raw_name_zip("João Souza_1002_assignsubmission_file_/x.ipynb".encode(),
                            "JoXYo Souza_1002_assignsubmission_file_/x.ipynb", nb("joao"))
    rc, out, _ = run_collect(course, archive, capsys=capsys)
    assert rc == 0 and "s002" in out and "1 matched" in out
    # decomposed accents (macOS) are normalised to NFC and match the roster by name
    import unicodedata

    decomposed = unicodedata.normalize("NFD", "João Souza")
    path = course / "nfd.zip"
    path.write_bytes(zip_bytes([(f"{A}/{A} - {decomposed}.ipynb", nb("nfd"), local(-1))]))
    result = collect(course, A, path, lms="classroom", roster_path=course / "roster.csv", schedule=schedule())
    assert "s002" in result.taken


def test_zip_bomb_ratio_and_total(course, capsys, monkeypatch):
    bomb = b"\0" * (8 * 2**20)
    archive = zip_bytes([(f"Maria Silva_1001_assignsubmission_file_/{A}.ipynb", bomb, local(-1)),
                         (f"João Souza_1002_assignsubmission_file_/{A}.ipynb", nb("joao"), local(-1))])
    rc, out, _ = run_collect(course, archive, capsys=capsys)
    assert rc == 0 and "compression ratio" in out
    assert not (course / "submitted" / "s001").exists()
    monkeypatch.setattr(collect_mod, "MAX_TOTAL_BYTES", 2**20)
    before = files(course)
    rc, out, err = run_collect(course, archive, capsys=capsys)
    assert rc == 2 and "zip bomb" in err and "nothing was collected" in err
    assert files(course) == before


@pytest.mark.parametrize("data", [b"PK\x03\x04 this is not a zip", b"", b"\x89PNG\r\n"])
def test_corrupt_archive(course, capsys, data):
    before = files(course)
    rc, out, err = run_collect(course, data, capsys=capsys)
    assert rc == 2 and "not a readable zip archive" in err and "nothing was collected" in err
    assert files(course) == before


def test_archive_without_notebooks(course, capsys):
    rc, _, err = run_collect(course, zip_bytes([("readme.txt", b"x", local(-1))]), capsys=capsys)
    assert rc == 2 and "no" in err and "notebook submission" in err


def test_symlinked_submitted_folder_is_not_written_through(course, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (course / "submitted").symlink_to(outside)
    path = course / "a.zip"
    path.write_bytes(zip_bytes([(f"Maria Silva_1001_assignsubmission_file_/{A}.ipynb", nb("x"), local(-1))]))
    with pytest.raises(CollectError, match="symbolic link"):
        collect(course, A, path, lms="moodle", roster_path=course / "roster.csv", schedule=schedule())
    assert not any(outside.iterdir())


def test_roster_refuses_unsafe_ids(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("student_id,first_name\n../x,Eve\n")
    with pytest.raises(Exception, match="not a safe folder name"):
        read_roster(path)


# ---------------------------------------------------------------- late policy


def _stamp(course: Path, student: str, hours_after_due: float) -> None:
    folder = course / "submitted" / student / A
    folder.mkdir(parents=True, exist_ok=True)
    from dlcourse.classroom.deadlines import format_timestamp

    (folder / "timestamp.txt").write_text(format_timestamp(local(hours_after_due)))


def _lateness(course: Path, students=("s001", "s002", "s003")) -> dict:
    """The lateness as the reports and the feedback take it, from one source: nbgrader's gradebook, after
    `sync_gradebook` has written grader_config.py's due date and extensions and timestamp.txt's times."""
    import warnings

    from nbgrader.api import Gradebook

    from dlcourse.classroom.deadlines import gradebook_lateness, sync_gradebook
    from dlcourse.course import ensure_tools_on_path

    ensure_tools_on_path()
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    with warnings.catch_warnings(), Gradebook(db_url, "deep-learning") as gb:
        warnings.simplefilter("ignore")
        gb.update_or_create_assignment(A)
        have = {sub.student_id for sub in gb.find_assignment(A).submissions}
        for student in set(students) - have:
            gb.update_or_create_student(student)
            gb.add_submission(A, student)
    sync_gradebook(course, db_url, [A])
    return gradebook_lateness(db_url, "deep-learning", A, course)


@pytest.mark.parametrize("policy, hours, expected", [
    ({"kind": "none"}, 26, 0.0),
    ({"kind": "percent", "percent": 10, "per": "day", "cap": 50}, 0, 0.0),
    ({"kind": "percent", "percent": 10, "per": "day", "cap": 50}, 0.01, 10.0),  # a started day counts
    ({"kind": "percent", "percent": 10, "per": "day", "cap": 50}, 26, 20.0),  # ceil(26 / 24) = 2 days
    ({"kind": "percent", "percent": 10, "per": "day", "cap": 50}, 24 * 9, 50.0),  # the cap
    ({"kind": "percent", "percent": 2, "per": "hour", "cap": 30}, 7.5, 16.0),  # ceil(7.5) = 8 hours
    ({"kind": "percent", "percent": 2, "per": "hour", "cap": 100, "grace_minutes": 30}, 0.4, 0.0),
    ({"kind": "percent", "percent": 2, "per": "hour", "cap": 100, "grace_minutes": 30}, 1.6, 4.0),
    ({"kind": "not_accepted"}, 0.1, 100.0),
])
def test_late_policy_formula(policy, hours, expected):
    assert LatePolicy.from_config(policy).penalty(timedelta(hours=hours)) == expected


def test_late_scores_with_extensions(course):
    sched = schedule("percent")  # 10 % per started day, cap 50; s003 has 48 h more
    _stamp(course, "s001", -1)  # on time
    _stamp(course, "s002", 26)  # 2 started days: -20 %
    _stamp(course, "s003", 26)  # within the extension: no penalty
    rows = late_columns(["s001", "s002", "s003"], [7.0, 7.0, 7.0], sched.policy, _lateness(course))
    assert [r["late_penalty"] for r in rows] == [0.0, 20.0, 0.0]
    assert [r["final_score"] for r in rows] == [7.0, 5.6, 7.0]
    assert rows[1]["hours_late"] == 26.0
    _stamp(course, "s003", 48 + 50)  # 50 h after the extended due date: 3 started days
    (row,) = late_columns(["s003"], [9.0], sched.policy, _lateness(course))
    assert row["final_score"] == pytest.approx(9.0 * 0.7) and row["late"] == "50 h after extension"
    absolute = schedule_from({"TIMEZONE": "UTC", "DEADLINES": {A: "2026-03-20 12:00"},
                              "EXTENSIONS": {A: {"s001": "2026-03-22T12:00+00:00"}}})
    assert absolute.due(A, "s001") == datetime(2026, 3, 22, 12, tzinfo=UTC)
    assert absolute.due(A, "s002") == datetime(2026, 3, 20, 12, tzinfo=UTC)


def test_bad_policy_is_refused():
    with pytest.raises(ValueError, match="kind must be"):
        LatePolicy.from_config({"kind": "sometimes"})
    with pytest.raises(ValueError, match="per must be"):
        LatePolicy.from_config({"kind": "percent", "per": "week"})


# ---------------------------------------------------------------- reports, feedback and LMS packs


def _table(students, scores, max_score=10.0):
    import pandas as pd

    return pd.DataFrame({"student": students, "assignment": A, "score": scores, "max_score": max_score,
                         "percent": [100 * s / max_score for s in scores]})


def test_grade_exports_use_the_final_score_and_each_lms_header(course):
    import csv

    from dlcourse.classroom.reports import lms_grade_exports, with_late_policy

    _stamp(course, "s001", -1)
    _stamp(course, "s002", 26)  # TIMEZONE/DEADLINES/ROSTER of the course's grader_config.py; 10 %/day
    _lateness(course)  # the gradebook: the one source of the lateness
    table = with_late_policy(course, A, _table(["s001", "s002"], [8.0, 8.0]), f"sqlite:///{course / 'gradebook.db'}")
    assert table["late_penalty"].tolist() == [0.0, 20.0]
    assert table["final_score"].tolist() == [8.0, 6.4]
    out = course / "reports" / A
    out.mkdir(parents=True)
    paths = {p.name: p for p in lms_grade_exports(course, A, table, out)}

    def rows(name):
        with paths[name].open(encoding="utf-8") as fh:
            return list(csv.reader(fh))

    # Canvas gradebook import (GradebookImporter#process_header): Student, ID, SIS User ID, SIS Login ID,
    # Section, then the assignments; the "Points Possible" row gives each column's points
    canvas = rows("canvas_roster.csv")
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", A]
    assert canvas[1] == ["Points Possible", "", "", "", "", "10.0"]
    assert canvas[3] == ["Souza, João", "2002", "s002", "joao@uni.example", "", "6.4"]
    assert canvas[4][-1] == ""  # s003: no submission
    # Moodle's offline grading worksheet: its importer needs Identifier ("Participant <id>"), Grade and
    # Last modified (grade) (older than a grade changed in Moodle: the row is skipped)
    moodle = rows("moodle_worksheet.csv")
    assert moodle[0][:6] == ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade"]
    assert {"Identifier", "Grade", "Last modified (grade)"} <= set(moodle[0])
    assert moodle[2][:6] == ["Participant 1002", "João Souza", "joao@uni.example", "Submitted for grading",
                             "6.4", "10.0"]
    col = moodle[0].index
    assert moodle[2][col("Last modified (submission)")] == table["submitted_at"][1] != ""
    stamp = datetime.strptime(moodle[2][col("Last modified (grade)")], "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 300  # the export's time, so a re-import applies
    classroom = rows("classroom.csv")  # Classroom has no CSV import: our sheet keyed by Google email
    assert classroom[0] == ["Email Address", "First Name", "Last Name", A]
    assert classroom[1] == ["maria@uni.example", "Maria", "Silva", "8.0"]


def test_feedback_page_shows_the_late_penalty(course):
    import nbformat

    from dlcourse.classroom.feedback import late_note, render

    _stamp(course, "s002", 26)
    _stamp(course, "s003", 26)  # 48 h extension
    lateness = _lateness(course)
    assert late_note(course, A, "s002", lateness) == "submitted 26 h late: -20%"
    assert late_note(course, A, "s003", lateness) == ""
    page = render("s002", A, nbformat.v4.new_notebook(), late=late_note(course, A, "s002", lateness))
    assert "submitted 26 h late: -20%" in page
    # counted from an extension, it says so (issue 29, surprise 12: before, "submitted 2 h late: -10%",
    # which a student whose own due date was two days later could not understand)
    _stamp(course, "s003", 48 + 2)
    assert late_note(course, A, "s003", _lateness(course)) == (
        "submitted 2 h after your extended due date (2026-03-23 02:59 UTC): -10%")


def test_an_lms_late_mark_without_a_time_is_never_shown_as_on_time(course, capsys):
    """Issue 29, surprise 5: Canvas marks s002 LATE, and its zip has no submission times. Before, the
    collect table said "late", then grades.csv and the feedback page showed s002 as on time. Now both
    say "late (time unknown)", and, as the README documents, no penalty until timestamp.txt holds the time."""
    from dlcourse.classroom.feedback import late_note
    from dlcourse.classroom.reports import summary_table, with_late_policy

    rc, out, err = run_collect(course, zip_bytes(CANVAS_ZIP), "--lms", "canvas", capsys=capsys)
    assert rc == 0, err
    lateness = _lateness(course, ("s001", "s002"))
    assert lateness["s002"].time_unknown and not lateness["s001"].time_unknown
    assert late_note(course, A, "s002", lateness).startswith("late (time unknown)")
    assert late_note(course, A, "s001", lateness) == ""
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    table = with_late_policy(course, A, _table(["s001", "s002"], [8.0, 8.0]), db_url)
    assert table["late"].tolist() == ["", "late (time unknown)"]
    assert table["late_penalty"].tolist() == [0.0, 0.0] and table["final_score"].tolist() == [8.0, 8.0]
    assert table["hours_late"].tolist() == [0.0, ""]  # s001: no time and no mark (on time, as documented)
    assert "late (time unknown)" in summary_table(course, A, _table(["s001", "s002"], [8.0, 8.0]), db_url)
    # the time copied from SpeedGrader into timestamp.txt: the policy applies
    _stamp(course, "s002", 26)
    lateness = _lateness(course, ())
    assert not lateness["s002"].time_unknown and late_note(course, A, "s002", lateness) == "submitted 26 h late: -20%"


def test_feedback_packs(course, capsys):
    from dlcourse.classroom.feedback import pack_feedback

    for student in ("s001", "s002", "unknown"):
        folder = course / "feedback" / student / A
        folder.mkdir(parents=True)
        (folder / f"{A}.html").write_text(f"<p>{student}</p>")
    (course / "reports" / A).mkdir(parents=True)
    (course / "reports" / A / "collect.csv").write_text(
        "student,lms,lms_name,lms_id,attachment_id,file,submitted_at,status\n"
        f"s002,canvas,souzajoao,2002,9002,{A}.ipynb,,new\n")
    (moodle,) = pack_feedback(course, A, "moodle")
    with zipfile.ZipFile(moodle) as zf:
        assert sorted(zf.namelist()) == [f"João Souza_1002_assignsubmission_file_/{A}.html",
                                         f"Maria Silva_1001_assignsubmission_file_/{A}.html"]
        # Moodle's feedback-zip importer: explode('_', folder, 5), the 2nd field is the participant id
        assert sorted(n.split("/")[0].split("_", 4)[1] for n in zf.namelist()) == ["1001", "1002"]
    (canvas,) = pack_feedback(course, A, "canvas")
    assert "left out" in capsys.readouterr().out  # s001: no attachment id (not collected from a Canvas zip)
    with zipfile.ZipFile(canvas) as zf:
        assert zf.namelist() == [f"souzajoao_2002_9002_{A}.html"]
        # Canvas's re-upload: the first two all-digit `_` fields are the user id and the attachment id
        assert [p for p in zf.namelist()[0].split("_") if p.isdigit()][:2] == ["2002", "9002"]
        assert all(collect_mod.CANVAS.match(n) for n in zf.namelist())
    singles = pack_feedback(course, A, "zip")
    assert sorted(p.name for p in singles) == ["s001.zip", "s002.zip", "unknown.zip"]


def test_released_notebooks_state_the_policy(course, monkeypatch):
    import nbformat

    from dlcourse.classroom.deadlines import POLICY_CELL_ID, InsertLatePolicy
    from dlcourse.config import load_settings

    load_settings.cache_clear()
    monkeypatch.chdir(course)
    graded = nbformat.v4.new_code_cell("assert True", metadata={"nbgrader": {"grade": True, "points": 1}})
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Softmax"), graded])
    resources = {"nbgrader": {"assignment": A, "notebook": A}}
    ungraded = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Setup")])
    assert len(InsertLatePolicy().preprocess(ungraded, resources)[0].cells) == 1  # nothing graded: no line
    nb, _ = InsertLatePolicy().preprocess(nb, resources)
    nb, _ = InsertLatePolicy().preprocess(nb, resources)  # a rerun gives the same notebook
    assert [c.get("id") for c in nb.cells][1] == POLICY_CELL_ID and len(nb.cells) == 3
    assert nb.cells[0].source == "# Softmax"
    assert nb.cells[1].source == ("> Due **2026-03-20 23:59 (-03)**. Late work loses 10% of its score per started "
                                  "day, at most 50%.")


# ---------------------------------------------------------------- end to end (one LMS, real grading)


@pytest.mark.slow
@pytest.mark.xdist_group("grading")
def test_canvas_archive_collected_graded_and_penalised(tmp_path):
    """A Canvas download with one on-time and one late student: collect, autograde --workers 1,
    reports with the late penalty, feedback saying so, and the Canvas feedback pack."""
    import csv
    import os
    import subprocess
    import sys

    import nbformat

    from dlcourse.classroom.demo import scratch_course, student_notebook

    course = scratch_course(ROOT, tmp_path / "course", [A])
    with (course / "grader_config.py").open("a") as fh:
        fh.write(f'\nTIMEZONE = "America/Sao_Paulo"\nDEADLINES = {{"{A}": "2026-03-20 23:59"}}\n'
                 'LATE_POLICY = {"kind": "percent", "percent": 10, "per": "day", "cap": 50}\nROSTER = "roster.csv"\n')
    (course / "roster.csv").write_text(ROSTER, encoding="utf-8")
    solved = nbformat.writes(student_notebook(ROOT, A)).encode()
    archive = tmp_path / "submissions.zip"
    archive.write_bytes(zip_bytes([(f"silvamaria_2001_9001_{A}.ipynb", solved, local(30)),
                                   (f"souzajoao_LATE_2002_9002_Copy of {A}.ipynb", solved, local(30))]))

    def run(*args):
        env = dict(os.environ, DLCOURSE_CELL_TIMEOUT="60")
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]
        done = subprocess.run([sys.executable, "-m", "dlcourse.cli", "--root", str(course), *args],
                              capture_output=True, text=True, timeout=1200, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    out = run("collect", A, str(archive))
    print(out)
    assert "canvas: 2 matched, 1 late, 0 unmatched, 1 missing" in out
    assert "time unknown" in out and not list((course / "submitted").glob(f"*/{A}/timestamp.txt"))
    # Canvas's zip has no submission times (its entries carry the download time): the instructor copies
    # the late student's time from SpeedGrader into nbgrader's timestamp.txt
    from dlcourse.classroom.deadlines import format_timestamp

    (course / "submitted" / "s002" / A / "timestamp.txt").write_text(format_timestamp(local(26)) + "\n")
    run("autograde", A, "--workers", "1", "--quiet")
    with (course / "reports" / A / "grades.csv").open(encoding="utf-8") as fh:
        grades = {row["student"]: row for row in csv.DictReader(fh)}
    maria, joao = grades["s001"], grades["s002"]
    assert float(maria["score"]) == float(maria["max_score"]) - written_points(A) > 0
    assert float(maria["late_penalty"]) == 0 and float(maria["final_score"]) == float(maria["score"])
    assert float(joao["late_penalty"]) == 20.0  # 26 h: 2 started days at 10 %
    assert float(joao["final_score"]) == pytest.approx(0.8 * float(joao["score"]))
    with (course / "reports" / A / "canvas_roster.csv").open(encoding="utf-8") as fh:
        canvas = {row["SIS User ID"]: row for row in csv.DictReader(fh)}
    assert float(canvas["s002"][A]) == pytest.approx(float(joao["final_score"]))
    run("feedback", A, "--pack", "canvas")
    assert "submitted 26 h late: -20%" in (course / "feedback" / "s002" / A / f"{A}.html").read_text()
    with zipfile.ZipFile(course / "feedback" / f"{A}-canvas.zip") as zf:
        assert sorted(zf.namelist()) == [f"silvamaria_2001_9001_{A}.html", f"souzajoao_2002_9002_{A}.html"]


def test_classroom_without_times_counts_as_on_time_and_odd_names_are_noted(course):
    path = course / "c.zip"
    path.write_bytes(zip_bytes([(f"{A}/Maria Silva/{A}.ipynb", nb("maria"), local(5)),
                                (f"{A}/Ana Lima/scratch.ipynb", nb("a1"), local(1)),
                                (f"{A}/Ana Lima/other.ipynb", nb("a2"), local(2))]))
    result = collect(course, A, path, lms="classroom", roster_path=course / "roster.csv",
                     schedule=schedule("not_accepted"))
    assert sorted(result.taken) == ["s001", "s003"] and not result.refused_late  # Drive keeps no times
    assert any("s003: no notebook named like" in n for n in result.notes)


@pytest.mark.parametrize("text", ["", "not a time", "9" * 10_000, "2026-13-45 99:99:99 UTC", "\x00\xff"])
def test_unreadable_timestamps_are_no_time(tmp_path, text):
    folder = tmp_path / "submitted" / "s" / A
    folder.mkdir(parents=True)
    (folder / "timestamp.txt").write_text(text, errors="surrogateescape")
    assert read_timestamp(folder) is None


@pytest.mark.parametrize("small", [False, True])
def test_the_demo_class_is_late_and_copied_on_the_journey_only(tmp_path, small):
    """`make demo`: the whole class (one late, one copy) on the first notebook; on the others the
    reference alone, handed in on time (its final score is its score)."""
    from dlcourse.classroom.demo import DEMO_DUE, demo_class, late_and_copied, lms_class, scratch_course

    a = "05_cnn"
    students = demo_class(ROOT, a, small=small)
    assert (list(students) == ["reference"]) is small
    course = scratch_course(ROOT, tmp_path / "course", [a])
    archive, _, _ = lms_class(course, a, students, *late_and_copied(students))
    with zipfile.ZipFile(archive) as zf:
        times = {info.filename.split(" Demo_")[0]: datetime(*info.date_time) for info in zf.infolist()}
    assert {name for name, when in times.items() if when > DEMO_DUE.replace(tzinfo=None)} == \
        (set() if small else {"Mistakes 1"})
    assert ("Copycat" in times) is not small


@pytest.mark.parametrize(("cores", "memory_gb", "jobs"), [(2, 24, 3), (16, 16, 5), (2, 4, 1), (1, 64, 2)])
def test_the_demo_grades_one_job_more_than_cores_as_far_as_memory_holds(monkeypatch, cores, memory_gb, jobs):
    import os

    from dlcourse.classroom import demo

    pages = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": memory_gb * 2**30 // 4096}
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    monkeypatch.setattr(os, "sysconf", lambda name: pages[name])
    assert demo.demo_workers() == jobs


# ---- issue 29: collect that never surprises -------------------------------------------------------------

def _manifest(course: Path) -> dict[str, dict]:
    import csv

    with (course / "reports" / A / "collect.csv").open(encoding="utf-8") as fh:
        return {row["student"]: row for row in csv.DictReader(fh)}


def _tag(course: Path, student: str) -> str:
    return json.loads((course / "submitted" / student / A / f"{A}.ipynb").read_bytes())["metadata"]["tag"]


def test_manifest_is_merged_across_collects_and_the_latest_attempt_wins(course, capsys):
    """Moodle, then Canvas, then Classroom zips of one assignment: every student keeps a row, and the row
    (and the notebook in submitted/) is the latest attempt: by submission time when both are known, else
    the later collect. The Canvas attachment id survives a later collect, so the Canvas pack has everyone."""
    from dlcourse.classroom.feedback import pack_feedback

    moodle = [(f"Maria Silva_1001_assignsubmission_file_/{A}.ipynb", nb("maria-moodle"), local(-5)),
              (f"João Souza_1002_assignsubmission_file_/{A}.ipynb", nb("joao-moodle"), local(-3))]
    assert run_collect(course, zip_bytes(moodle), capsys=capsys)[0] == 0
    # an older Moodle download: both times known, the newer submission already collected stays
    older = [(f"Maria Silva_1001_assignsubmission_file_/{A}.ipynb", nb("maria-older"), local(-30)),
             (f"João Souza_1002_assignsubmission_file_/{A}.ipynb", nb("joao-older"), local(-20))]
    assert run_collect(course, zip_bytes(older), capsys=capsys)[0] == 0
    rows = _manifest(course)
    assert _tag(course, "s001") == "maria-moodle" and rows["s001"]["lms"] == "moodle"
    assert rows["s001"]["submitted_at"] == "2026-03-20 21:59:00.000000 UTC"
    canvas = [(f"silvamaria_2001_9001_{A}.ipynb", nb("maria-canvas"), local(30)),
              (f"souzajoão_2002_9002_{A}.ipynb", nb("joao-canvas"), local(30)),
              (f"limaana_LATE_2003_9003_{A}.ipynb", nb("ana-canvas"), local(30))]
    assert run_collect(course, zip_bytes(canvas), "--lms", "canvas", capsys=capsys)[0] == 0
    classroom = [(f"{A} (Classroom)/Maria Silva/{A}.ipynb", nb("maria-classroom"), local(40))]
    rc, out, err = run_collect(course, zip_bytes(classroom), capsys=capsys)
    assert rc == 0, err
    rows = _manifest(course)
    assert sorted(rows) == ["s001", "s002", "s003"]  # before: only the last collect's s001
    assert {s: r["lms"] for s, r in rows.items()} == {"s001": "classroom", "s002": "canvas", "s003": "canvas"}
    assert {s: _tag(course, s) for s in rows} == {"s001": "maria-classroom", "s002": "joao-canvas",
                                                  "s003": "ana-canvas"}
    assert {s: r["attachment_id"] for s, r in rows.items()} == {"s001": "9001", "s002": "9002", "s003": "9003"}
    for student in rows:
        folder = course / "feedback" / student / A
        folder.mkdir(parents=True)
        (folder / f"{A}.html").write_text(f"<p>{student}</p>")
    (pack,) = pack_feedback(course, A, "canvas")
    assert "left out" not in capsys.readouterr().out
    with zipfile.ZipFile(pack) as zf:
        assert sorted(zf.namelist()) == [f"limaana_2003_9003_{A}.html", f"silvamaria_2001_9001_{A}.html",
                                         f"souzajoao_2002_9002_{A}.html"]


def _inner_zip(entries) -> bytes:
    return zip_bytes(entries)


def test_wrong_format_is_its_own_list_and_an_inner_zip_is_opened_one_level(course, capsys):
    nested = _inner_zip([("deeper.zip", _inner_zip([(f"{A}.ipynb", nb("ana-deep"), local(-1))]), local(-1))])
    entries = [(f"Maria Silva_1001_assignsubmission_file_/{A}.pdf", b"%PDF-1.4", local(-2)),
               ("João Souza_1002_assignsubmission_file_/homework.zip",
                _inner_zip([(f"work/{A}.ipynb", nb("joao-zipped"), local(-1)),
                            (f"__MACOSX/work/._{A}.ipynb", b"\0\0", local(-1))]), local(-1)),
               ("Ana Lima_1003_assignsubmission_file_/nested.zip", nested, local(-1))]
    rc, out, err = run_collect(course, zip_bytes(entries), capsys=capsys)
    print(out)
    assert rc == 0, err
    assert "moodle: 1 matched, 0 late, 0 unmatched, 0 missing, 2 wrong format" in out
    assert _tag(course, "s002") == "joao-zipped"
    assert f"homework.zip/work/{A}.ipynb" in out
    assert "wrong format (handed in, but no notebook" in out
    assert f"s001: {A}.pdf" in out and "s003: nested.zip" in out
    assert "a zip inside a zip is not opened" in out
    assert not (course / "submitted" / "s001").exists() and not (course / "submitted" / "s003").exists()
    rows = _manifest(course)
    assert rows["s001"]["status"] == "wrong format" and rows["s001"]["file"] == f"{A}.pdf"
    assert rows["s003"]["status"] == "wrong format" and rows["s002"]["status"] == "new"
    # a later notebook replaces the wrong-format row; a wrong format never replaces a notebook's row
    later = [(f"Maria Silva_1001_assignsubmission_file_/{A}.ipynb", nb("maria"), local(-1)),
             (f"João Souza_1002_assignsubmission_file_/{A}.docx", b"PK", local(-0.5))]
    assert run_collect(course, zip_bytes(later), capsys=capsys)[0] == 0
    rows = _manifest(course)
    assert rows["s001"]["status"] == "new" and rows["s002"]["status"] == "new"
    assert _tag(course, "s002") == "joao-zipped"


def _encrypted_zip() -> bytes:
    """A zip whose one entry is marked encrypted (general purpose flag bit 0, in both headers)."""
    raw = bytearray(zip_bytes([(f"{A}.ipynb", nb("secret"), local(-1))]))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = raw.index(signature) + offset
        raw[at] |= 0x1
    return bytes(raw)


INNER_BAD = {
    "encrypted": (_encrypted_zip, "refused: encrypted"),
    "zip slip": (lambda: _inner_zip([(f"../../{A}.ipynb", nb("evil"), local(-1))]), "zip slip"),
    "symlink": (lambda: _inner_zip([(_symlink_entry(f"{A}.ipynb"), b"/etc/passwd", None)]), "symbolic link"),
    "bomb": (lambda: _inner_zip([(f"{A}.ipynb", b"\0" * (8 * 2**20), local(-1))]), "compression ratio"),
    "not a zip": (lambda: b"PK\x03\x04 not really a zip", "cannot be opened"),
}


@pytest.mark.parametrize("case", sorted(INNER_BAD))
def test_inner_zip_follows_the_same_safety_rules(course, capsys, case):
    make, reason = INNER_BAD[case]
    entries = [("Maria Silva_1001_assignsubmission_file_/mine.zip", make(), local(-1)),
               (f"João Souza_1002_assignsubmission_file_/{A}.ipynb", nb("joao"), local(-1))]
    rc, out, err = run_collect(course, zip_bytes(entries), capsys=capsys)
    print(out)
    assert rc == 0, err
    assert reason in out
    assert not (course / "submitted" / "s001").exists()
    assert "1 matched" in out and "1 wrong format" in out


def test_inner_zip_total_size_is_limited(course, capsys, monkeypatch):
    monkeypatch.setattr(collect_mod, "MAX_ENTRY_BYTES", 4000)
    inner = _inner_zip([(f"{A}.ipynb", nb("a") + b" " * 3000, local(-1)), ("b.ipynb", b" " * 3000, local(-1))])
    entries = [("Maria Silva_1001_assignsubmission_file_/mine.zip", inner, local(-1))]
    rc, out, err = run_collect(course, zip_bytes(entries), capsys=capsys)
    assert rc == 0, err
    assert "over the 4000 limit" in out and not (course / "submitted" / "s001").exists()


@pytest.mark.parametrize("names", [["submissions/foo.ipynb", "submissions/bar.ipynb", "readme.txt"],
                                   ["foo.ipynb", "bar.ipynb"]])
def test_an_unknown_layout_says_what_it_saw(course, capsys, names):
    before = files(course)
    rc, out, err = run_collect(course, zip_bytes([(n, nb(n), local(-1)) for n in names]), capsys=capsys)
    assert rc == 2, out
    assert len(err.strip().splitlines()) == 1 and err.startswith("dlcourse: error: ") and "Traceback" not in err
    assert "no known layout" in err and names[0] in err
    assert "_assignsubmission_" in err and "Canvas" in err and "roster" in err  # why each scheme did not match
    assert files(course) == before


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_dry_run_prints_the_plan_and_writes_nothing(course, capsys, monkeypatch):
    first = [(f"Maria Silva_1001_assignsubmission_file_/{A}.ipynb", nb("maria"), local(-5))]
    assert run_collect(course, zip_bytes(first), capsys=capsys)[0] == 0
    monkeypatch.setattr(collect_mod, "_gradebook_students", lambda *a, **k: pytest.fail("gradebook written"))
    archive = zip_bytes([(f"Maria Silva_1001_assignsubmission_file_/{A}.ipynb", nb("maria2"), local(2)),
                         (f"João Souza_1002_assignsubmission_file_/{A}.pdf", b"%PDF", local(-1)),
                         ("Zoe Unknown_1999_assignsubmission_file_/x.ipynb", nb("zoe"), local(-1))])
    (course.parent / "download.zip").write_bytes(archive)
    before = _snapshot(course)
    rc = cli(["--root", str(course), "collect", A, str(course.parent / "download.zip"), "--dry-run"])
    out = capsys.readouterr().out
    print(out)
    assert rc == 0
    assert _snapshot(course) == before
    assert "dry run: nothing was written" in out
    assert "moodle: 1 matched, 1 late, 1 unmatched, 1 missing, 1 wrong format" in out
    assert "s001" in out and "updated" in out and "Zoe Unknown" in out and "s002: " in out
    assert f"would write: submitted/s001/{A}/{A}.ipynb" in out
    assert f"would write: reports/{A}/collect.csv" in out


def test_collect_takes_the_roster_from_roster_unless_given(course, capsys):
    """ROSTER of grader_config.py when --roster is not given, as feedback does; --roster wins."""
    (course / "roster.csv").rename(course / "people.csv")
    config = course / "grader_config.py"
    config.write_text(config.read_text().replace('ROSTER = "roster.csv"', 'ROSTER = "people.csv"'))
    archive = zip_bytes([(f"Maria Silva_1001_assignsubmission_file_/{A}.ipynb", nb("maria"), local(-1))])
    rc, out, err = run_collect(course, archive, capsys=capsys)
    assert rc == 0, err
    assert "1 matched" in out and "missing (in the roster, no submission): s002, s003" in out
    other = course.parent / "other.csv"
    other.write_text("student_id,first_name,last_name,email,moodle_id\nx9,Maria,Silva,m@x,1001\n")
    rc, out, err = run_collect(course, archive, "--roster", str(other), capsys=capsys)
    assert rc == 0, err
    assert "x9" in out and "missing (in the roster" not in out
    rc, out, err = run_collect(course, archive, "--roster", str(course.parent / "nope.csv"), capsys=capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "cannot read the roster" in err


@pytest.mark.parametrize("args", [["nothere.zip"], ["download.zip", "--lms", "canvas"],
                                  ["download.zip", "--archive-tz", "Mars/Olympus"],
                                  ["download.zip", "--archive-tz", "../../etc/passwd"]])
def test_collect_mistakes_are_one_error_line(course, capsys, args):
    (course.parent / "download.zip").write_bytes(zip_bytes([("readme.txt", b"x", local(-1))]))
    rc = cli(["--root", str(course), "collect", A, str(course.parent / args[0]), *args[1:]])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and err.startswith("dlcourse: error: ")


def test_a_manifest_of_the_former_columns_is_merged_and_an_unreadable_one_stops_the_collect(course, capsys):
    report = course / "reports" / A
    report.mkdir(parents=True)
    (report / "collect.csv").write_text("student,lms,lms_name,lms_id,attachment_id,file,submitted_at,status\n"
                                        f"s003,canvas,limaana,2003,9003,{A}.ipynb,,new\n")
    archive = zip_bytes([(f"Maria Silva_1001_assignsubmission_file_/{A}.ipynb", nb("maria"), local(-1))])
    rc, out, err = run_collect(course, archive, capsys=capsys)
    assert rc == 0, err
    rows = _manifest(course)
    assert sorted(rows) == ["s001", "s003"] and rows["s003"]["attachment_id"] == "9003"
    assert rows["s001"]["collected_at"].endswith("UTC") and rows["s003"]["collected_at"] == ""
    (report / "collect.csv").write_bytes(b"\xff\xfe\x00garbage")
    before = _snapshot(course)
    rc, out, err = run_collect(course, zip_bytes([(f"João Souza_1002_assignsubmission_file_/{A}.ipynb",
                                                   nb("joao"), local(-1))]), capsys=capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "move it aside; nothing was collected" in err
    assert _snapshot(course) == before


def test_feedback_packs_take_the_roster_as_collect_does(course, capsys):
    """`feedback --pack` and `collect`: --roster, else ROSTER of grader_config.py."""
    from dlcourse.classroom.feedback import pack_feedback

    (course / "roster.csv").rename(course / "people.csv")
    config = course / "grader_config.py"
    config.write_text(config.read_text().replace('ROSTER = "roster.csv"', 'ROSTER = "people.csv"'))
    folder = course / "feedback" / "s001" / A
    folder.mkdir(parents=True)
    (folder / f"{A}.html").write_text("<p>s001</p>")
    (pack,) = pack_feedback(course, A, "moodle")
    with zipfile.ZipFile(pack) as zf:
        assert zf.namelist() == [f"Maria Silva_1001_assignsubmission_file_/{A}.html"]


def test_classroom_wrong_format_needs_the_roster(course, tmp_path):
    entries = [(f"{A} (Classroom)/Maria Silva/{A}.ipynb", nb("maria"), local(-1)),
               (f"{A} (Classroom)/João Souza/{A}.pdf", b"%PDF", local(-1)),
               (f"{A} (Classroom)/{A} - Ana Lima.docx", b"PK", local(-1)),
               (f"{A} (Classroom)/instructions.txt", b"x", local(-1))]
    path = course / "c.zip"
    path.write_bytes(zip_bytes(entries))
    result = collect(course, A, path, roster_path=course / "roster.csv", schedule=schedule())
    assert result.lms == "classroom" and sorted(result.taken) == ["s001"]
    assert {s: [c.file_name for c in cs] for s, cs in result.wrong_format.items()} == {
        "s002": [f"{A}.pdf"], "s003": [f"{A} - Ana Lima.docx"]}
    assert any("instructions.txt: ignored: not a notebook" in n for n in result.notes) and not result.missing
    # without a roster, the folder's other files are not taken for students
    bare = tmp_path / "bare"
    (bare / "source" / A).mkdir(parents=True)
    for f in ("grader_config.py", "nbgrader_config.py"):
        (bare / f).write_text((course / f).read_text().replace('ROSTER = "roster.csv"\n', ""))
    result = collect(bare, A, path, lms="classroom", schedule=schedule())
    assert sorted(result.taken) == ["maria-silva"] and not result.wrong_format


def test_a_wrong_format_hand_in_from_an_earlier_collect_is_not_missing(course, capsys):
    """Journey redo: after one LMS's zip held s001's PDF, another LMS's zip without s001 does not call
    s001 missing (collect.csv says "wrong format"); a student in no collect at all still is."""
    first = [(f"Maria Silva_1001_assignsubmission_file_/{A}.pdf", b"%PDF-1.4", local(-2)),
             (f"João Souza_1002_assignsubmission_file_/{A}.ipynb", nb("joao"), local(-2))]
    assert run_collect(course, zip_bytes(first), capsys=capsys)[0] == 0
    second = [(f"João Souza_1002_assignsubmission_file_/{A}.ipynb", nb("joao-2"), local(-1))]
    rc, out, err = run_collect(course, zip_bytes(second), capsys=capsys)
    assert rc == 0, err
    missing = next(line for line in out.splitlines() if line.startswith("missing"))
    assert "s001" not in missing and "s003" in missing, out


def test_a_graded_student_missing_from_the_roster_is_named(course):
    """Journey redo: a student graded but not in the roster is named after the table, since the LMS
    files keyed by the roster leave them out; students in the roster are not."""
    import pandas as pd

    from dlcourse.classroom.reports import not_in_roster

    table = pd.DataFrame({"student": ["s001", "s006", "zz-guest"], "score": [1.0, 2.0, 3.0]})
    assert not_in_roster(course, table) == ["s006", "zz-guest"]
    cfg = course / "grader_config.py"
    cfg.write_text(cfg.read_text().replace('ROSTER = "roster.csv"\n', ""))
    assert not_in_roster(course, table) == []  # no roster: nothing to say


def test_the_feedback_page_shows_the_final_score_after_a_late_penalty():
    """Journey redo: the page carried the penalty but not the score grades.csv and the LMS files carry."""
    import nbformat

    from dlcourse.classroom.feedback import render

    test = nbformat.v4.new_code_cell("pass", execution_count=1, metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "points": 23.0, "grade_id": "test_softmax",
        "schema_version": 3}})
    graded = nbformat.v4.new_notebook(cells=[test])
    page = render("s002", A, graded, [], "submitted 26 h late: -20%", penalty=20.0)
    assert "Score: <b>23 / 23</b>" in page and "Score after the late penalty: <b>18.4 / 23</b>" in page
    assert "(the score above is before the late penalty)" in page
    assert "after the late penalty" not in render("s001", A, graded, [], "")
    # the late note without a penalty (within the grace time, or a policy of none): no "before the penalty"
    free = render("s004", A, graded, [], "submitted 10 min late: no penalty", penalty=0.0)
    assert "no penalty" in free and "before the late penalty" not in free
