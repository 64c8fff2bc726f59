"""The hostile and broken corpus graded in one batch with 3 workers beside clean students.

Shows: the batch finishes; every clean student's grade equals the grade it gets alone;
each bad submission gets its expected outcome and reason; no file outside the sandbox
changed; no connection reached the loopback listener; no escape earned a point.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import threading
from pathlib import Path

import pytest
from conftest import ROOT
from hostile_corpus import SCENARIOS as CORPUS
from hostile_corpus import WRONG, A
from hostile_folders import FOLDER_SCENARIOS
from test_grading import _course, dlcourse

from dlcourse.classroom.demo import write_submission
from dlcourse.grader.autograde import read_marker
from dlcourse.grader.protocol import Marker

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("hostile")]
# 15 s cells: 01's slowest cell takes about a second alone, and the memory bomb reaches its limit in
# under one; the batch runs beside the other pytest worker's kernels, which once slowed that bomb
# past a 10 s cell (a CellTimeout instead of its MemoryLimit)
LIMITS = {"DLCOURSE_CELL_TIMEOUT": "15", "DLCOURSE_MEMORY_MB": "1500", "DLCOURSE_OUTPUT_MB": "1",
          "DLCOURSE_TAPE_MB": "4", "DLCOURSE_FILE_MB": "64", "DLCOURSE_DISK_MB": "192"}
SCENARIOS = [*CORPUS, *FOLDER_SCENARIOS]
CLEAN = ("reference", "wrong-twin", "blank")


class Listener:
    """A loopback TCP server that records every connection attempt that reaches it."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.attempts: list[str] = []
        self.sock.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                conn, addr = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.attempts.append(f"{addr[0]}:{addr[1]}")
            conn.close()

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


def _tree_digest(paths: list[Path]) -> dict[str, str]:
    digests = {}
    for base in paths:
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file() or p.is_symlink())
        for path in files:
            if "__pycache__" in path.parts:
                continue
            if path.is_symlink():  # a submission's link: the link itself, never what it points to
                digests[str(path)] = "link:" + str(path.readlink())
                continue
            digests[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def _write_clean(course: Path) -> None:
    for student, answers in (("reference", {}), ("wrong-twin", WRONG), ("blank", None)):
        write_submission(ROOT, course / "submitted" / student / A, A, answers)


def _scores(course: Path) -> dict[str, dict[str, float]]:
    import csv

    table = {}
    with open(course / "reports" / A / "grades.csv", newline="") as f:
        for row in csv.DictReader(f):
            table[row["student"]] = {k: float(v) for k, v in row.items() if k == "score" or k.startswith("test_")}
    return table


def _marker(course: Path, student: str) -> Marker:
    marker = read_marker(course, student, A)
    assert marker is not None, f"{student} was never graded"
    return marker


@pytest.fixture(scope="module")
def hostile_batch(tmp_path_factory):
    course = _course(tmp_path_factory.mktemp("hostile"))
    listener = Listener()
    ctx = {"root": ROOT, "course": str(course), "repo": str(ROOT), "a": A, "port": listener.port}
    _write_clean(course)
    for scenario in SCENARIOS:
        folder = course / "submitted" / scenario.name / A
        folder.mkdir(parents=True)
        scenario.write(folder, ctx)
    watched = [ROOT / "dlcourse", ROOT / "source", ROOT / "data", ROOT / "grader_config.py", ROOT / "README.md",
               course / "source", course / "release", course / "submitted", course / "grader_config.py",
               course / "nbgrader_config.py", Path("/etc/hostname")]
    before = _tree_digest(watched)
    run = dlcourse(course, "autograde", A, "--workers", "3", timeout=1500, **LIMITS)
    listener.close()
    after = _tree_digest(watched)
    alone = _course(tmp_path_factory.mktemp("alone"))
    _write_clean(alone)
    alone_run = dlcourse(alone, "autograde", A, "--workers", "1", timeout=600, **LIMITS)
    return {"course": course, "run": run, "alone": alone, "alone_run": alone_run,
            "attempts": listener.attempts, "before": before, "after": after}


def test_the_batch_finishes(hostile_batch):
    run = hostile_batch["run"]
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    scores = _scores(hostile_batch["course"])
    missing = [s.name for s in SCENARIOS if s.name not in scores]
    assert not missing, f"no grade row for {missing}"


def test_clean_students_grade_as_when_alone(hostile_batch):
    assert hostile_batch["alone_run"].returncode == 0, hostile_batch["alone_run"].stderr[-2000:]
    batch, alone = _scores(hostile_batch["course"]), _scores(hostile_batch["alone"])
    for student in CLEAN:
        assert batch[student] == alone[student], f"{student}: {batch[student]} in the batch, {alone[student]} alone"
    full = alone["reference"]["score"]
    assert full > alone["wrong-twin"]["score"] > alone["blank"]["score"] == 0
    for student in CLEAN:  # no false alarm: clean code is never reported as tampering
        assert _marker(hostile_batch["course"], student).notices == [], student


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_each_bad_submission_gets_its_outcome(hostile_batch, scenario):
    scores = _scores(hostile_batch["course"])
    expected = {"full": scores["reference"]["score"], "zero": 0.0, "wrong": scores["wrong-twin"]["score"]}
    marker = _marker(hostile_batch["course"], scenario.name)
    said = " | ".join([marker.error, *marker.notices])
    got = scores[scenario.name]["score"]
    if scenario.expect == "no-gain":  # tampering may cost points, never earn them
        assert got <= expected["wrong"], f"{scenario.name}: {got} points, more than the same answers untampered"
        assert scenario.reason.lower() in said.lower(), f"{scenario.name}: {scenario.reason!r} not in {said!r}"
        return
    assert got == expected[scenario.expect], (
        f"{scenario.name}: {got} points, expected {scenario.expect} ({expected[scenario.expect]}); grader said: {said}")
    assert scenario.reason.lower() in said.lower(), f"{scenario.name}: {scenario.reason!r} not in {said!r}"


def test_no_file_outside_the_sandbox_changed(hostile_batch):
    before, after = hostile_batch["before"], hostile_batch["after"]
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"changed by the batch: {changed[:10]}"


def test_no_connection_reached_the_listener(hostile_batch):
    assert hostile_batch["attempts"] == []


def test_no_escape_printed(hostile_batch):
    import nbformat

    for path in (hostile_batch["course"] / "autograded").rglob("*.ipynb"):
        if "control-" in str(path):  # the control proves that an escape would print and score
            continue
        nb = nbformat.read(path, as_version=4)
        assert "ESCAPED" not in "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", [])), path


def test_the_kernel_can_read_no_answer(hostile_batch):
    """From inside a grading kernel, every readable file under the course, the repository and /tmp."""

    import nbformat

    path = hostile_batch["course"] / "autograded" / "list-what-the-kernel-can-read" / A / f"{A}.ipynb"
    text = "".join(o.get("text", "") for c in nbformat.read(path, as_version=4).cells for o in c.get("outputs", []))
    listing = json.loads(text.split("LISTING ", 1)[1].splitlines()[0])
    assert listing["seen"] > 20, listing  # the walk itself works: the kernel reads the public package
    # the kernel's own notebook is the only notebook it may read
    suspicious = [p for p in listing["suspicious"] if not p.endswith(f"/{A}.ipynb")]
    assert suspicious == [], suspicious


def test_no_hidden_test_text_reaches_the_feedback(hostile_batch):
    course = hostile_batch["course"]
    run = dlcourse(course, "feedback", A)
    assert run.returncode == 0, run.stderr[-2000:]
    for scenario in SCENARIOS:
        if not scenario.leak:
            continue
        page = (course / "feedback" / scenario.name / A / f"{A}.html").read_text()
        marker = _marker(course, scenario.name)
        said = marker.to_json()
        for text in scenario.leak:
            assert text not in page and text not in said, f"{scenario.name}: {text!r} reached the feedback"


def test_feedback_and_report_give_the_reason(hostile_batch):
    course = hostile_batch["course"]
    run = dlcourse(course, "feedback", A)
    assert run.returncode == 0, run.stderr[-2000:]
    page = (course / "feedback" / "invalid-json" / A / f"{A}.html").read_text()
    assert "not valid JSON" in page
    page = (course / "feedback" / "memory-bomb" / A / f"{A}.html").read_text()
    assert "MemoryLimit" in page
    notes = (course / "reports" / A / "grades.csv").read_text()
    assert "not valid JSON" in notes and "MemoryLimit" in notes


def test_summary_lists_the_corpus(hostile_batch):
    """Print the table the issue asks for: scenario, outcome, reason (see the CI log)."""
    scores = _scores(hostile_batch["course"])
    lines = []
    for s in SCENARIOS:
        m = _marker(hostile_batch["course"], s.name)
        reason = (m.error or "; ".join(m.notices) or "-").splitlines()[0][:110]
        lines.append(f"{s.name:38s} {scores[s.name]['score']:5g}  {reason}")
    print(f"\nhostile corpus: {len(SCENARIOS)} submissions\n" + "\n".join(lines))
    shutil.rmtree(hostile_batch["course"] / "feedback", ignore_errors=True)
