"""A throwaway PostgreSQL server for the tests and the load benchmark (`benchmarks.serve_load --db
postgresql`): initdb into a temporary folder, pg_ctl start on a free port of 127.0.0.1 (trust
authentication, fsync off), stopped and removed at the end. As `postgres` (or `nobody`) when run
as root, since initdb refuses root. The server binaries come from $DLCOURSE_PG_BIN, PATH, or
Debian's /usr/lib/postgresql/N/bin (`apt-get install -y postgresql`)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path


def pg_bin() -> Path | None:
    """The folder of initdb and pg_ctl, or None when they are not installed."""
    if os.environ.get("DLCOURSE_PG_BIN"):
        return Path(os.environ["DLCOURSE_PG_BIN"])
    found = shutil.which("initdb") or shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[-3]))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


class ThrowawayPostgres:
    """`with ThrowawayPostgres() as pg: url = pg.database()`; `start()` and `stop()` otherwise."""

    def __init__(self, bindir: Path | None = None):
        self.bindir = bindir or pg_bin()
        if self.bindir is None or not (self.bindir / "initdb").exists():
            raise FileNotFoundError("PostgreSQL's server binaries (initdb, pg_ctl) are not installed: "
                                    "apt-get install -y postgresql")
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="dlcourse-pg-"))
        self.data, self.user = self.dir / "data", "dlcourse"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            name = next(n for n in ("postgres", "nobody") if _has_user(n))
            os.chown(self.dir, pwd.getpwnam(name).pw_uid, -1)
            self.as_user = ["runuser", "-u", name, "--"]

    def _run(self, *args: str) -> None:
        run = subprocess.run([*self.as_user, *args], capture_output=True, text=True, timeout=120)
        if run.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {run.stdout}{run.stderr}")

    def start(self) -> ThrowawayPostgres:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", self.user, "-E", "UTF8",
                  "--no-sync")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
                  "start")
        return self

    def stop(self) -> None:
        subprocess.run([*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=120)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> ThrowawayPostgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def database(self) -> str:
        """A new, empty database on this server; its URL."""
        import psycopg

        name = "t" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url("postgres"), autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{name}"


def terminate_backends(url: str) -> int:
    """End every server process connected to `url`'s database but this call's own (as a database
    restart or a network cut drops them): how many were ended."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        return db.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()[0]
