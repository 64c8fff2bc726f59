"""The service's database: the queue and history of submissions, and the students' tokens.

SQLite (one file, WAL) by default. Every change of state is one transaction
(`BEGIN IMMEDIATE`), so a job is claimed by one grader only, and a service killed at any point
loses nothing: at start, a job left `grading` goes back to the queue (`recover`), and a result
is written only by the claim that graded it (`finish` checks the claim), so each submission is
reported graded exactly once.

Fairness: the next job is the oldest queued one of the student served longest ago (round-robin
over students), so one student's many submissions do not starve the class.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    student TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, created REAL NOT NULL, revoked REAL
);
CREATE TABLE IF NOT EXISTS submissions (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, student TEXT NOT NULL, assignment TEXT NOT NULL,
    status TEXT NOT NULL,               -- queued, grading, graded, failed, replaced
    received REAL NOT NULL, started REAL, finished REAL,
    attempts INTEGER NOT NULL DEFAULT 0, claim TEXT, gradable INTEGER,
    notebook BLOB NOT NULL, filename TEXT NOT NULL, result TEXT, reported INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS by_status ON submissions (status, seq);
CREATE INDEX IF NOT EXISTS by_student ON submissions (student, assignment, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass
class Submission:
    id: str
    seq: int
    student: str
    assignment: str
    status: str
    received: float
    started: float | None
    finished: float | None
    attempts: int
    claim: str | None
    gradable: bool | None
    filename: str
    result: dict | None
    reported: int

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Submission:
        g = row["gradable"]
        return cls(row["id"], row["seq"], row["student"], row["assignment"], row["status"], row["received"],
                   row["started"], row["finished"], row["attempts"], row["claim"], None if g is None else bool(g),
                   row["filename"], json.loads(row["result"]) if row["result"] else None, row["reported"])


def default_path(root: Path) -> Path:
    return root / "serve.db"


def sqlite_path(db: str | None, root: Path) -> Path:
    """The SQLite file of --db (a path or sqlite:///path), or serve.db in the course."""
    if not db:
        return default_path(root)
    if db.startswith("sqlite:///"):
        return Path(db[len("sqlite:///"):])
    if "://" in db:
        raise ValueError(f"--db {db!r}: only SQLite (a file path or sqlite:///path) is supported by this version")
    return Path(db)


class Store:
    """One connection per thread (`Store(path)` each time); short transactions."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a committed state survives kill -9 and power loss
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def tx(self):
        return _Tx(self.db)

    # -- tokens ---------------------------------------------------------------------------
    def _secret(self) -> bytes:
        with self.tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key='token_key'").fetchone()
            if row is None:
                key = secrets.token_hex(32)
                db.execute("INSERT INTO meta VALUES ('token_key', ?)", (key,))
                return bytes.fromhex(key)
            return bytes.fromhex(row["value"])

    def _hash(self, token: str) -> str:
        return hmac.new(self._secret(), token.encode("utf-8", "replace"), hashlib.sha256).hexdigest()

    def issue_token(self, student: str) -> str:
        """A new token for `student` (their earlier ones are revoked); only its HMAC is stored."""
        token = secrets.token_urlsafe(32)
        digest = self._hash(token)
        with self.tx() as db:
            db.execute("UPDATE tokens SET revoked=? WHERE student=? AND revoked IS NULL", (time.time(), student))
            db.execute("INSERT INTO tokens VALUES (?, ?, ?, NULL)", (student, digest, time.time()))
        return token

    def revoke(self, student: str) -> int:
        with self.tx() as db:
            return db.execute("UPDATE tokens SET revoked=? WHERE student=? AND revoked IS NULL",
                              (time.time(), student)).rowcount

    def student_of(self, token: str) -> str | None:
        row = self.db.execute("SELECT student FROM tokens WHERE hash=? AND revoked IS NULL",
                              (self._hash(token),)).fetchone()
        return row["student"] if row else None

    # -- submissions ----------------------------------------------------------------------
    def get(self, sub_id: str) -> Submission | None:
        row = self.db.execute("SELECT * FROM submissions WHERE id=?", (sub_id,)).fetchone()
        return Submission.from_row(row) if row else None

    def notebook(self, sub_id: str) -> bytes:
        return self.db.execute("SELECT notebook FROM submissions WHERE id=?", (sub_id,)).fetchone()["notebook"]

    def history(self, student: str, assignment: str) -> list[Submission]:
        rows = self.db.execute("SELECT * FROM submissions WHERE student=? AND assignment=? ORDER BY seq",
                               (student, assignment)).fetchall()
        return [Submission.from_row(r) for r in rows]

    def retry_after(self, student: str, assignment: str, count: int, seconds: float, now: float) -> float:
        """Seconds until `student` may submit `assignment` again (0: now). Counted: every submission in
        the window except those replaced in the queue, the one still queued (a new one replaces it) and those
        the grader could not grade."""
        rows = self.db.execute(
            "SELECT received FROM submissions WHERE student=? AND assignment=? AND received>? "
            "AND status NOT IN ('replaced', 'queued') AND NOT (status='failed' AND gradable=0) ORDER BY received",
            (student, assignment, now - seconds)).fetchall()
        if len(rows) < count:
            return 0.0
        return max(1.0, rows[len(rows) - count]["received"] + seconds - now)

    def add(self, student: str, assignment: str, notebook: bytes, filename: str,
            rate: tuple[int, float] | None = None) -> tuple[Submission | None, float]:
        """Queue a submission (one queued earlier for the same assignment is replaced); returns it and
        0, or None and the seconds to wait when over `rate` (checked in the same transaction)."""
        now = time.time()
        with self.tx() as db:
            if rate is not None:
                wait = self.retry_after(student, assignment, rate[0], rate[1], now)
                if wait > 0:
                    return None, wait
            db.execute("UPDATE submissions SET status='replaced', finished=? WHERE student=? AND assignment=? "
                       "AND status='queued'", (now, student, assignment))
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM submissions").fetchone()[0]
            sub_id = uuid.uuid4().hex
            db.execute("INSERT INTO submissions (id, seq, student, assignment, status, received, notebook, filename) "
                       "VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)", (sub_id, seq, student, assignment, now, notebook,
                                                                 filename))
        return self.get(sub_id), 0.0

    def _order(self, claimable: bool = False) -> str:
        # round-robin: the student whose last grading started longest ago (never: first), then the oldest job;
        # a claim skips a student's assignment while another of its submissions is being graded
        busy = ("AND NOT EXISTS (SELECT 1 FROM submissions g WHERE g.status='grading' AND g.student=s.student "
                "AND g.assignment=s.assignment) ") if claimable else ""
        return ("SELECT s.id FROM submissions s LEFT JOIN (SELECT student, MAX(started) AS last FROM submissions "
                "WHERE started IS NOT NULL GROUP BY student) l ON l.student = s.student WHERE s.status='queued' "
                + busy + "ORDER BY COALESCE(l.last, 0), s.seq")

    def position(self, sub_id: str) -> int | None:
        """1 for the next job to be claimed; None when it is not queued."""
        ids = [r["id"] for r in self.db.execute(self._order()).fetchall()]
        return ids.index(sub_id) + 1 if sub_id in ids else None

    def claim(self) -> Submission | None:
        """The next job, claimed by this call alone (status grading, a new claim id)."""
        with self.tx() as db:
            row = db.execute(self._order(claimable=True) + " LIMIT 1").fetchone()
            if row is None:
                return None
            claim = uuid.uuid4().hex
            db.execute("UPDATE submissions SET status='grading', claim=?, started=?, attempts=attempts+1 "
                       "WHERE id=? AND status='queued'", (claim, time.time(), row["id"]))
        return self.get(row["id"])

    def finish(self, sub: Submission, result: dict, gradable: bool, retry: bool) -> bool:
        """Record the grading of claim `sub.claim`: graded, failed (gradable false), or back in the queue
        (`retry`). False when the claim is no longer this one's (nothing written)."""
        with self.tx() as db:
            if retry:
                n = db.execute("UPDATE submissions SET status='queued', claim=NULL, result=? WHERE id=? AND claim=? "
                               "AND status='grading'", (json.dumps(result), sub.id, sub.claim)).rowcount
            else:
                n = db.execute("UPDATE submissions SET status=?, finished=?, gradable=?, result=?, claim=NULL, "
                               "reported=reported+1 WHERE id=? AND claim=? AND status='grading'",
                               ("graded" if gradable else "failed", time.time(), int(gradable), json.dumps(result),
                                sub.id, sub.claim)).rowcount
        return n == 1

    def recover(self) -> int:
        """At start: jobs a killed service left `grading` go back to the queue."""
        with self.tx() as db:
            return db.execute("UPDATE submissions SET status='queued', claim=NULL WHERE status='grading'").rowcount

    def best_score(self, student: str, assignment: str, exclude: str) -> float | None:
        rows = self.db.execute("SELECT result FROM submissions WHERE student=? AND assignment=? AND status='graded' "
                               "AND id!=?", (student, assignment, exclude)).fetchall()
        scores = [json.loads(r["result"]).get("score_total") for r in rows if r["result"]]
        scores = [s for s in scores if s is not None]
        return max(scores) if scores else None


class _Tx:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, *_):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False
