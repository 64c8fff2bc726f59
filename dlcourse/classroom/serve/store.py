"""The service's database: the queue and history of submissions, the students' tokens, and the
grading services that share the queue.

One schema and one queue, two backends:

- SQLite (one file, WAL), the default: `serve.db` in the course, one command. Every change of
  state is one `BEGIN IMMEDIATE` transaction, so one writer at a time.
- PostgreSQL (`--db postgresql://...`), for several services on one machine or many. A job is
  claimed with `SELECT ... FOR UPDATE OF s SKIP LOCKED`: concurrent claimers never wait on, nor
  take, a row another one is claiming. Schema creation, the token key and each student's
  submissions (the rate check) are serialised by advisory locks. A process keeps one connection
  pool per database (psycopg_pool), shared by its `Store`s and threads: a statement, or a
  transaction, borrows a connection and gives it back, and at most SUBMIT's DB_POOL connections
  are open at once (`set_pool_size`; 10 by default). A connection is checked as it is borrowed,
  so one the server dropped (a restart, `pg_terminate_backend`, a network cut) is replaced by a new
  one and the next statement runs on it; a read whose connection breaks under it is run once again.

Leases: a claimed job records its service (`owner`) and a lease (`lease`, a time). Each service
renews the leases of its jobs every few seconds (`heartbeat`). A job whose lease has run out (its
service died) goes back to the queue (`reap`) in one conditional UPDATE, so it is re-queued
exactly once even when several services reap at the same moment, and a live service's jobs are
never touched. A service found dead on this machine (its process is gone) has its leases ended at
once, so a restart does not wait for them. A result is written only by the claim that graded it
(`finish` checks the claim), so each submission is reported graded exactly once.

Fairness: the next job is the oldest queued one of the student served longest ago (round-robin
over students), so one student's many submissions do not starve the class.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import socket
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

TABLES = [
    "CREATE TABLE IF NOT EXISTS tokens (student TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, created {real} NOT NULL, "
    "revoked {real})",
    # status: queued, grading, graded, failed, replaced
    "CREATE TABLE IF NOT EXISTS submissions (id TEXT PRIMARY KEY, seq {seq}, student TEXT NOT NULL, "
    "assignment TEXT NOT NULL, status TEXT NOT NULL, received {real} NOT NULL, started {real}, finished {real}, "
    "attempts INTEGER NOT NULL DEFAULT 0, claim TEXT, gradable INTEGER, notebook {blob} NOT NULL, "
    "filename TEXT NOT NULL, result TEXT, reported INTEGER NOT NULL DEFAULT 0, owner TEXT, lease {real})",
    "CREATE INDEX IF NOT EXISTS by_status ON submissions (status, seq)",
    "CREATE INDEX IF NOT EXISTS by_student ON submissions (student, assignment, seq)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS services (id TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL, "
    "started {real} NOT NULL, heartbeat {real} NOT NULL)",
]
ADDED_COLUMNS = {"owner": "TEXT", "lease": "{real}"}  # columns a serve.db of the first version lacks
LEASE_SECONDS = 60.0
POOL_SIZE = 10  # SUBMIT["DB_POOL"]'s default: the most connections a process opens to one PostgreSQL queue
POOL_TIMEOUT = 30.0  # seconds a statement waits for a free connection (then psycopg_pool.PoolTimeout)


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
    owner: str | None = None
    position: int | None = None  # in the queue when it was added (1: next)

    @classmethod
    def from_row(cls, row) -> Submission:
        g = row["gradable"]
        return cls(row["id"], row["seq"], row["student"], row["assignment"], row["status"], row["received"],
                   row["started"], row["finished"], row["attempts"], row["claim"], None if g is None else bool(g),
                   row["filename"], json.loads(row["result"]) if row["result"] else None, row["reported"],
                   row["owner"])


def default_path(root: Path) -> Path:
    return root / "serve.db"


def is_postgres(db: str | Path | None) -> bool:
    return str(db or "").startswith(("postgresql://", "postgres://", "postgresql+psycopg://"))


def db_location(db: str | None, root: Path) -> str:
    """--db as the store opens it: a PostgreSQL URL as given, else the SQLite file's path (a path,
    sqlite:///path, or serve.db in the course)."""
    if is_postgres(db):
        return str(db).replace("postgresql+psycopg://", "postgresql://", 1)
    return str(sqlite_path(db, root))


def sqlite_path(db: str | None, root: Path) -> Path:
    """The SQLite file of --db (a path or sqlite:///path), or serve.db in the course."""
    if not db:
        return default_path(root)
    if db.startswith("sqlite:///"):
        return Path(db[len("sqlite:///"):])
    if "://" in db:
        raise ValueError(f"--db {db!r}: give an SQLite file (a path or sqlite:///path) or postgresql://user@host/db")
    return Path(db)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Sqlite:
    kind = "sqlite"
    lock_rows = ""  # BEGIN IMMEDIATE already makes the claim the only writer

    def __init__(self, path: str):
        self.name, self.path = Path(path).name, path
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a committed state survives kill -9 and power loss
        with self.tx():
            for sql in TABLES:
                self.db.execute(sql.format(real="REAL", seq="INTEGER NOT NULL", blob="BLOB"))
            have = {r["name"] for r in self.db.execute("PRAGMA table_info(submissions)")}
            for column, kind in ADDED_COLUMNS.items():
                if column not in have:
                    self.db.execute(f"ALTER TABLE submissions ADD COLUMN {column} {kind.format(real='REAL')}")

    def execute(self, sql: str, params=()):
        return self.db.execute(sql, params)

    @contextlib.contextmanager
    def tx(self):
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def lock(self, key: str) -> None:
        pass  # BEGIN IMMEDIATE: one writer at a time

    @contextlib.contextmanager
    def exclusive(self, name: str):
        import fcntl

        with open(f"{self.path}.{name}.lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def next_seq(self) -> int:
        return self.db.execute("SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM submissions").fetchone()["n"]

    def close(self) -> None:
        self.db.close()


_pools: dict[str, list] = {}  # URL -> [ConnectionPool, Stores using it]: one pool per database and process
_pool_sizes: dict[str, int] = {}
_pools_lock = threading.Lock()


def set_pool_size(location: str | Path, size: int) -> None:
    """The most connections this process opens to the PostgreSQL queue `location` (SUBMIT's DB_POOL;
    `dlcourse serve` sets it before its first Store). It applies to a pool opened after the call."""
    if int(size) < 1:
        raise ValueError(f"a pool of {size} connections: give 1 or more")
    _pool_sizes[str(location)] = int(size)


def _open_pool(url: str):
    """The process's pool for `url` (opened, and the schema made, on first use); one more Store uses it."""
    import psycopg
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    with _pools_lock:
        if url in _pools and not _pools[url][0].closed:
            _pools[url][1] += 1
            return _pools[url][0]
        # a wrong URL or a server that is down is said now; the schema is made before any Store uses it
        with psycopg.connect(url, connect_timeout=15, autocommit=True, row_factory=dict_row) as conn:
            _schema(conn)
        size = _pool_sizes.get(url, POOL_SIZE)
        pool = None

        def check(conn) -> None:  # as a connection is borrowed
            try:
                ConnectionPool.check_connection(conn)
            except Exception:
                # the server dropped it, so likely every other idle one too (a restart): test them all now
                # and replace the dropped ones, or the pool would try them one by one, backing off 1, 2, 4 s
                pool.check()
                raise

        pool = ConnectionPool(url, min_size=min(2, size), max_size=size, open=False, timeout=POOL_TIMEOUT,
                              kwargs={"autocommit": True, "row_factory": dict_row}, check=check,
                              name="dlcourse-serve")
        pool.open(wait=False)
        _pools[url] = [pool, 1]
        return pool


def _close_pool(url: str) -> None:
    """One Store fewer uses the pool of `url`: the last one closes it."""
    with _pools_lock:
        entry = _pools.get(url)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] > 0:
            return
        del _pools[url]
    entry[0].close()


def _schema(conn) -> None:
    """The tables, made or completed on the connection `conn` (autocommit, rows as dicts)."""

    def missing() -> bool:
        row = conn.execute(
            "SELECT to_regclass('services') IS NOT NULL AS services, (SELECT count(*) FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'submissions' AND column_name = ANY(%s)) AS n",
            (list(ADDED_COLUMNS),)).fetchone()
        return not (row["services"] and row["n"] == len(ADDED_COLUMNS))

    if missing():  # DDL only when needed: even a no-op ALTER TABLE locks out the claims
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("dlcourse-serve-schema",))
            if missing():  # concurrent CREATE IF NOT EXISTS can collide: one service at a time
                for sql in TABLES:
                    conn.execute(sql.format(real="DOUBLE PRECISION", seq="BIGSERIAL", blob="BYTEA"))
                for column, kind in ADDED_COLUMNS.items():
                    conn.execute(f"ALTER TABLE submissions ADD COLUMN IF NOT EXISTS {column} "
                                 f"{kind.format(real='DOUBLE PRECISION')}")


@atexit.register
def _close_pools() -> None:
    with _pools_lock:
        pools = [entry[0] for entry in _pools.values()]
        _pools.clear()
    for pool in pools:
        with contextlib.suppress(Exception):
            pool.close(timeout=1)


class _Rows:
    """A statement's rows and rowcount, read before its connection went back to the pool."""

    def __init__(self, cursor):
        self.rows = cursor.fetchall() if cursor.description else []
        self.rowcount = cursor.rowcount

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def fetchall(self):
        return list(self.rows)


class _Postgres:
    kind = "postgresql"
    lock_rows = " FOR UPDATE OF s SKIP LOCKED"

    def __init__(self, url: str):
        self.name = url.rsplit("@", 1)[-1]  # no password in messages
        self.url = url
        self.pool = _open_pool(url)
        self.local = threading.local()  # the connection this thread's transaction (or lock) holds
        self.closed = False

    @contextlib.contextmanager
    def _held(self):
        """This thread's connection: the one its transaction or lock holds, else one borrowed from the
        pool (checked as it is taken) until the block ends."""
        held = getattr(self.local, "conn", None)
        if held is not None:
            yield held
            return
        with self.pool.connection() as conn:
            self.local.conn = conn
            try:
                yield conn
            finally:
                self.local.conn = None

    def execute(self, sql: str, params=()):
        import psycopg

        sql = sql.replace("?", "%s")
        if getattr(self.local, "conn", None) is not None:
            return _Rows(self.local.conn.execute(sql, params))
        for again in (False, True):
            conn = None
            try:
                with self.pool.connection() as conn:
                    return _Rows(conn.execute(sql, params))
            except psycopg.OperationalError:
                # a read whose connection broke under it (the pool replaces that connection): once more
                if again or conn is None or not conn.broken or not sql.lstrip().upper().startswith("SELECT"):
                    raise
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def tx(self):
        with self._held() as conn, conn.transaction():
            yield self

    def lock(self, key: str) -> None:
        self.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (key,))

    @contextlib.contextmanager
    def exclusive(self, name: str):
        import psycopg

        with self._held() as conn:
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (name,))
            try:
                yield
            finally:
                try:
                    conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (name,))
                except psycopg.Error:
                    conn.close()  # a session that may still hold the lock never goes back to the pool

    def next_seq(self) -> int:
        return self.execute("SELECT nextval(pg_get_serial_sequence('submissions', 'seq')) AS n").fetchone()["n"]

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            _close_pool(self.url)


class Store:
    """Short transactions. `location`: a PostgreSQL URL, or the SQLite file's path. SQLite: one
    connection per Store (one Store per thread). PostgreSQL: the process's pool of connections for
    that URL, shared by every Store and thread; a Store used by several threads is safe."""

    def __init__(self, location: Path | str):
        self.location = str(location)
        self.db = _Postgres(self.location) if is_postgres(self.location) else _Sqlite(self.location)
        self.kind = self.db.kind
        self.name = self.db.name
        self.path = Path(self.location) if self.kind == "sqlite" else None

    def close(self) -> None:
        self.db.close()

    def tx(self):
        return self.db.tx()

    def exclusive(self, name: str):
        """One holder at a time among every service sharing this store (the gradebook's writes): a
        PostgreSQL advisory lock, or a file lock beside the SQLite file."""
        return self.db.exclusive(name)

    # -- tokens ---------------------------------------------------------------------------
    def _secret(self) -> bytes:
        if not hasattr(self, "_key"):
            with self.tx() as db:
                db.execute("INSERT INTO meta (key, value) VALUES ('token_key', ?) ON CONFLICT (key) DO NOTHING",
                           (secrets.token_hex(32),))
                self._key = bytes.fromhex(db.execute("SELECT value FROM meta WHERE key='token_key'")
                                          .fetchone()["value"])
        return self._key

    def _hash(self, token: str) -> str:
        return hmac.new(self._secret(), token.encode("utf-8", "replace"), hashlib.sha256).hexdigest()

    def issue_token(self, student: str) -> str:
        """A new token for `student` (their earlier ones are revoked); only its HMAC is stored."""
        token = secrets.token_urlsafe(32)
        digest = self._hash(token)
        with self.tx() as db:
            db.execute("UPDATE tokens SET revoked=? WHERE student=? AND revoked IS NULL", (time.time(), student))
            db.execute("INSERT INTO tokens (student, hash, created, revoked) VALUES (?, ?, ?, NULL)",
                       (student, digest, time.time()))
        return token

    def revoke(self, student: str) -> int:
        with self.tx() as db:
            return db.execute("UPDATE tokens SET revoked=? WHERE student=? AND revoked IS NULL",
                              (time.time(), student)).rowcount

    def student_of(self, token: str) -> str | None:
        row = self.db.execute("SELECT student FROM tokens WHERE hash=? AND revoked IS NULL",
                              (self._hash(token),)).fetchone()
        return row["student"] if row else None

    def token_hashes(self) -> set[str]:
        return {r["hash"] for r in self.db.execute("SELECT hash FROM tokens").fetchall()}

    # -- submissions ----------------------------------------------------------------------
    def get(self, sub_id: str) -> Submission | None:
        row = self.db.execute("SELECT * FROM submissions WHERE id=?", (sub_id,)).fetchone()
        return Submission.from_row(row) if row else None

    def notebook(self, sub_id: str) -> bytes:
        return bytes(self.db.execute("SELECT notebook FROM submissions WHERE id=?", (sub_id,)).fetchone()["notebook"])

    def history(self, student: str, assignment: str) -> list[Submission]:
        rows = self.db.execute("SELECT * FROM submissions WHERE student=? AND assignment=? ORDER BY seq",
                               (student, assignment)).fetchall()
        return [Submission.from_row(r) for r in rows]

    def table(self) -> list[dict]:
        """Every submission's state (no notebooks), in the order received: for tests and reports."""
        return [dict(r) for r in self.db.execute(
            "SELECT id, seq, student, assignment, status, started, finished, attempts, reported, gradable, owner "
            "FROM submissions ORDER BY seq").fetchall()]

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
            db.lock(f"submit/{student}/{assignment}")  # two services: one rate check at a time per student
            if rate is not None:
                wait = self.retry_after(student, assignment, rate[0], rate[1], now)
                if wait > 0:
                    return None, wait
            db.execute("UPDATE submissions SET status='replaced', finished=? WHERE student=? AND assignment=? "
                       "AND status='queued'", (now, student, assignment))
            sub_id = uuid.uuid4().hex
            db.execute("INSERT INTO submissions (id, seq, student, assignment, status, received, notebook, filename) "
                       "VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)", (sub_id, db.next_seq(), student, assignment, now,
                                                                 notebook, filename))
            position = self.position(sub_id)  # before any grader can see it
        sub = self.get(sub_id)
        sub.position = position
        return sub, 0.0

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

    def claim(self, owner: str | None = None, lease: float = LEASE_SECONDS) -> Submission | None:
        """The next job, claimed by this call alone (status grading, a new claim id, `owner`'s lease)."""
        with self.tx() as db:
            row = db.execute(self._order(claimable=True) + " LIMIT 1" + db.lock_rows).fetchone()
            if row is None:
                return None
            claim, now = uuid.uuid4().hex, time.time()
            n = db.execute("UPDATE submissions SET status='grading', claim=?, owner=?, lease=?, started=?, "
                           "attempts=attempts+1 WHERE id=? AND status='queued'",
                           (claim, owner, now + lease, now, row["id"])).rowcount
        return self.get(row["id"]) if n == 1 else None

    def holds(self, sub: Submission, lease: float = LEASE_SECONDS) -> bool:
        """Whether `sub.claim` still holds its job (its lease renewed): checked before its grade is saved."""
        with self.tx() as db:
            return db.execute("UPDATE submissions SET lease=? WHERE id=? AND claim=? AND status='grading'",
                              (time.time() + lease, sub.id, sub.claim)).rowcount == 1

    def finish(self, sub: Submission, result: dict, gradable: bool, retry: bool) -> bool:
        """Record the grading of claim `sub.claim`: graded, failed (gradable false), or back in the queue
        (`retry`; replaced instead when a newer submission is queued). False when the claim is no longer
        this one's (nothing written)."""
        now = time.time()
        with self.tx() as db:
            if retry:
                newer = db.execute("SELECT 1 AS x FROM submissions WHERE student=? AND assignment=? "
                                   "AND status='queued' AND seq>?", (sub.student, sub.assignment, sub.seq)).fetchone()
                n = db.execute("UPDATE submissions SET status=?, finished=?, claim=NULL, owner=NULL, lease=NULL, "
                               "result=? WHERE id=? AND claim=? AND status='grading'",
                               ("replaced" if newer else "queued", now if newer else None, json.dumps(result),
                                sub.id, sub.claim)).rowcount
            else:
                n = db.execute("UPDATE submissions SET status=?, finished=?, gradable=?, result=?, claim=NULL, "
                               "owner=NULL, lease=NULL, reported=reported+1 WHERE id=? AND claim=? "
                               "AND status='grading'", ("graded" if gradable else "failed", now, int(gradable),
                                                        json.dumps(result), sub.id, sub.claim)).rowcount
        return n == 1

    # -- services and leases ----------------------------------------------------------------
    def register(self) -> str:
        """This service, in the table of services; its id (the owner of the jobs it claims)."""
        service, now = uuid.uuid4().hex, time.time()
        with self.tx() as db:
            db.execute("INSERT INTO services (id, host, pid, started, heartbeat) VALUES (?, ?, ?, ?, ?)",
                       (service, socket.gethostname(), os.getpid(), now, now))
        return service

    def heartbeat(self, service: str, lease: float = LEASE_SECONDS) -> int:
        """`service` is alive: its leases run `lease` seconds from now. The number of its jobs."""
        now = time.time()
        with self.tx() as db:
            db.execute("UPDATE services SET heartbeat=? WHERE id=?", (now, service))
            return db.execute("UPDATE submissions SET lease=? WHERE owner=? AND status='grading'",
                              (now + lease, service)).rowcount

    def release(self, service: str) -> int:
        """A service that stops: its jobs go back to the queue now, and it leaves the table."""
        with self.tx() as db:
            n = db.execute("UPDATE submissions SET status='queued', claim=NULL, owner=NULL, lease=NULL "
                           "WHERE owner=? AND status='grading'", (service,)).rowcount
            db.execute("DELETE FROM services WHERE id=?", (service,))
        return n

    def reap(self, max_attempts: int = 3, now: float | None = None) -> tuple[int, int]:
        """Jobs whose lease ran out (their service died): back to the queue, or failed (gradable
        false) once `max_attempts` gradings were started. Each such job is taken by one UPDATE, so it
        is re-queued exactly once however many services reap at once. (re-queued, failed)."""
        now = time.time() if now is None else now
        host = socket.gethostname()
        dead = [r["id"] for r in self.db.execute("SELECT id, pid FROM services WHERE host=?", (host,)).fetchall()
                if r["pid"] != os.getpid() and not _alive(r["pid"])]
        for service in dead:  # a service of this machine whose process is gone: its leases end now
            with self.tx() as db:
                db.execute("UPDATE submissions SET lease=0 WHERE owner=? AND status='grading'", (service,))
                db.execute("DELETE FROM services WHERE id=?", (service,))
        with self.tx() as db:  # services silent for a day (on other machines) leave the table
            db.execute("DELETE FROM services WHERE heartbeat < ?", (now - 86400,))
        note = {"score_total": None, "max_total": None, "tests": [], "outcome": "grader",
                "notes": [f"the grading service stopped {max_attempts} times while grading it (not your notebook): "
                          "the attempt does not count"]}
        expired = "status='grading' AND (lease IS NULL OR lease < ?)"
        with self.tx() as db:
            queued = db.execute("UPDATE submissions SET status='queued', claim=NULL, owner=NULL, lease=NULL "
                                f"WHERE {expired} AND attempts < ?", (now, max_attempts)).rowcount
            failed = db.execute("UPDATE submissions SET status='failed', gradable=0, finished=?, result=?, "
                                "claim=NULL, owner=NULL, lease=NULL, reported=reported+1 "
                                f"WHERE {expired} AND attempts >= ?", (now, json.dumps(note), now,
                                                                      max_attempts)).rowcount
        return queued, failed

    def best_score(self, student: str, assignment: str, exclude: str) -> float | None:
        rows = self.db.execute("SELECT result FROM submissions WHERE student=? AND assignment=? AND status='graded' "
                               "AND id!=?", (student, assignment, exclude)).fetchall()
        scores = [json.loads(r["result"]).get("score_total") for r in rows if r["result"]]
        scores = [s for s in scores if s is not None]
        return max(scores) if scores else None
