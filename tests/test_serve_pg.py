"""Grade on submit (issue #32) on PostgreSQL: the service's pool of connections (psycopg_pool,
sized by SUBMIT's DB_POOL) and a dropped connection reopened. The server's processes of the queue's
database are ended (`pg_terminate_backend`, as a database restart or a network cut does) between two
submissions: the second is stored and graded, and the student sees no traceback. Needs PostgreSQL's
server binaries (skipped, saying so, without them; CI installs them)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from test_serve import API, A, Server, _env, make_course, notebook, post, rows, tokens, wait_done

from dlcourse.classroom.serve.pgcluster import ThrowawayPostgres, pg_bin, terminate_backends

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serve")]


@pytest.fixture(scope="module")
def pg():
    bindir = pg_bin()
    if bindir is None or not (bindir / "initdb").exists():
        pytest.skip("PostgreSQL's server binaries (initdb, pg_ctl) are not installed: apt-get install -y postgresql")
    with ThrowawayPostgres(bindir) as server:
        yield server


def test_db_pool_setting_is_checked():
    from dlcourse.classroom.serve.policy import SubmitPolicy, submit_problems

    assert submit_problems({"DB_POOLS": 4}) == ["SUBMIT: 'DB_POOLS' is not a key (did you mean 'DB_POOL'?)"]
    for wrong in (0, 2.5, "8", True):
        assert submit_problems({"DB_POOL": wrong}), wrong
    assert SubmitPolicy.from_config(None).db_pool == 10 and SubmitPolicy.from_config({"DB_POOL": 3}).db_pool == 3


def test_postgres_store_shares_one_pool_and_outlives_terminated_backends(pg):
    """In-process: Stores of one process share one pool of at most DB_POOL connections (8 threads,
    a pool of 3); after every backend is ended, each kind of call works again on new connections, at
    once (not after a back-off per dropped connection)."""
    from dlcourse.classroom.serve import store as store_mod
    from dlcourse.classroom.serve.store import Store

    url = pg.database()
    store_mod.set_pool_size(url, 3)
    store = Store(url)
    errors: list[BaseException] = []

    def submitter(i: int) -> None:
        own = Store(url)
        try:
            for k in range(5):
                own.add(f"s{i}", f"a{k}", b"{}", "x.ipynb")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=submitter, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(store.table()) == 40
    stats = store.db.pool.get_stats()
    assert stats["pool_max"] == 3 and stats["pool_size"] <= 3
    pool = store.db.pool
    with pool.connection(), pool.connection(), pool.connection():  # three idle connections, then all dropped
        pass
    assert terminate_backends(url) == 3
    start = time.monotonic()
    sub = store.claim("svc")  # a transaction, on a new connection
    assert sub is not None and sub.status == "grading"
    # the first dead connection has the pool test the others at once (one by one: 1 s, then 2 s of backoff)
    assert time.monotonic() - start < 2.5
    assert terminate_backends(url) >= 1
    assert store.get(sub.id).status == "grading"  # a read
    with store.exclusive("gradebook"):  # a session lock and the reads under it
        assert len(store.history(sub.student, sub.assignment)) == 1
    assert terminate_backends(url) >= 1
    assert store.finish(sub, {"score_total": 1.0}, gradable=True, retry=False)
    assert store.db.pool.get_stats()["connections_lost"] >= 1
    store.close()


def test_postgres_service_reopens_a_dropped_connection(tmp_path, pg):
    """A real service on a PostgreSQL queue: one submission graded; every connection to the queue's
    database ended; a second submission through `dlcourse submit` is stored and graded, and the
    student's output shows the score, no traceback."""
    db = pg.database()
    course = make_course(tmp_path, ["ana"], db=db, DB_POOL=4)
    tok = tokens(course)["ana"]
    server = Server(course, db=db).start()
    try:
        with server.client(tok) as c:
            first = wait_done(c, post(c, notebook(course, "blank")).json()["id"])
            assert first["status"] == "graded" and first["result"]["score"] == 0
            assert terminate_backends(db) >= 1  # the service's connections, all of them
            assert c.get(f"{API}/submissions/{first['id']}").status_code == 200  # a read, on a new connection
            assert terminate_backends(db) >= 1
            path = course.parent / "nb" / "reference" / f"{A}.ipynb"
            run = subprocess.run([sys.executable, "-m", "dlcourse.cli", "submit", str(path), "--server", server.url,
                                  "--token", tok], env=_env(), capture_output=True, text=True, timeout=600)
            shown = run.stdout + run.stderr
            assert run.returncode == 0 and "Traceback" not in shown and "Score: " in shown, shown
            history = c.get(f"{API}/assignments/{A}/submissions").json()["submissions"]
    finally:
        server.stop()
    assert [h["status"] for h in history] == ["graded", "graded"] and history[1]["result"]["score"] > 0
    table = rows(db)
    assert len(table) == 2 and all(r["status"] == "graded" and r["reported"] == 1 for r in table)
