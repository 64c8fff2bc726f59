"""Grade on submit (issue #32): `dlcourse serve` as a real uvicorn process, spoken to with a real
HTTP client (httpx). 401, 404, 413, 429; a newer submission replaces a queued one; round-robin
across students; the same grade as `dlcourse autograde`; kill -9 while jobs are queued and one is
grading, then a restart: every submission graded exactly once, the orphan grading process gone;
Colab's notebook at its boundary; the late penalty the gradebook records.

The queue's tests run on both backends: SQLite and a real PostgreSQL server that the session starts
itself (initdb and pg_ctl of the installed PostgreSQL, in a temporary folder on a free port; as the
`postgres` user, or `nobody`, when the tests run as root). Without the server binaries those
tests are skipped, saying so; CI installs them with `apt-get install -y postgresql`. Two services
sharing one PostgreSQL queue grade N submissions exactly once, and leases: a restarted service
leaves a live one's jobs alone, and an expired lease is re-queued exactly once."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import httpx
import nbformat
import pytest
from conftest import ROOT

from dlcourse.classroom.demo import demo_class, scratch_course, write_submission
from dlcourse.classroom.serve.pgcluster import _free_port

A = "01_softmax_cross_entropy"
API = "/api/v1"
SUBMIT = {"RATE": [2, 3600], "HIDDEN": "on_submit", "MAX_UPLOAD_MB": 1, "MAX_ATTEMPTS": 3}
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serve")]


def _env() -> dict:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]
    return env


def _run_threads(target, n: int, timeout: float = 120.0) -> None:
    """Run `target()` in `n` threads at once and wait for them all; an exception raised in a thread
    (an assert included) is raised here, so that the test fails, and a thread still running after
    `timeout` seconds fails the test too."""
    errors: list[BaseException] = []

    def run():
        try:
            target()
        except BaseException as exc:  # raised again in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), f"a thread still runs after {timeout:.0f} s"
    if errors:
        raise errors[0]


@pytest.fixture(scope="session")
def postgres():
    from dlcourse.classroom.serve.pgcluster import ThrowawayPostgres

    try:
        server = ThrowawayPostgres().start()
    except FileNotFoundError as err:
        pytest.skip(str(err))
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def queue_db(request, tmp_path):
    """The queue's database on each backend: an SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "queue.db")
    return request.getfixturevalue("postgres").database()


def make_course(base: Path, students: list[str], db: str | None = None, config: str = "", **submit) -> Path:
    course = scratch_course(ROOT, base / "course", [A], release=True)
    with (course / "grader_config.py").open("a") as fh:
        fh.write(f"\nSUBMIT = {({**SUBMIT, **submit})!r}\n{config}")
    kinds = demo_class(ROOT, A)
    write_submission(ROOT, base / "nb" / "reference", A, kinds["reference"])
    write_submission(ROOT, base / "nb" / "blank", A, None)
    out = base / "tokens.csv"
    args = [a for s in students for a in ("--student", s)] + (["--db", db] if db else [])
    run = subprocess.run([sys.executable, "-m", "dlcourse.cli", "--root", str(course), "tokens", *args,
                          "--out", str(out)], env=_env(), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return course


def tokens(course: Path) -> dict[str, str]:
    with (course.parent / "tokens.csv").open() as fh:
        return {row["student_id"]: row["token"] for row in csv.DictReader(fh)}


def notebook(course: Path, kind: str) -> bytes:
    return (course.parent / "nb" / kind / f"{A}.ipynb").read_bytes()


class Server:
    def __init__(self, course: Path, *extra: str, scheme: str = "http", verify=True, db: str | None = None,
                 name: str = "serve"):
        self.course, self.port, self.verify = course, _free_port(), verify
        self.db = db or str(course / "serve.db")
        self.extra = (*extra, *(["--db", db] if db else []))
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.proc = None
        self.log = course.parent / f"{name}.log"

    def start(self) -> Server:
        self.proc = subprocess.Popen([sys.executable, "-m", "dlcourse.cli", "--root", str(self.course), "-v", "serve",
                                      "--port", str(self.port), *self.extra], env=_env(), stdout=self.log.open("ab"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        end = time.time() + 120
        while time.time() < end:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2, verify=self.verify).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.3)
        raise AssertionError("the service did not start: " + self.log.read_text()[-3000:])

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)  # the service and its grading process
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill9()

    def client(self, token: str | None) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, verify=self.verify,
                            headers={"Authorization": f"Bearer {token}"} if token else {})


def post(client: httpx.Client, body: bytes) -> httpx.Response:
    return client.post(f"{API}/assignments/{A}/submissions", content=body,
                       headers={"Content-Type": "application/json"})


def wait_done(client: httpx.Client, sub_id: str, timeout: float = 300) -> dict:
    end = time.time() + timeout
    while time.time() < end:
        view = client.get(f"{API}/submissions/{sub_id}").json()
        if view["status"] in ("graded", "failed"):
            return view
        time.sleep(0.5)
    raise AssertionError(f"{sub_id} not graded in {timeout} s: {view}")


def rows(db: str) -> list[dict]:
    from dlcourse.classroom.serve.store import Store

    store = Store(db)
    try:
        return store.table()
    finally:
        store.close()


def worker_pids(service_pid: int) -> list[int]:
    """The grading processes a service started (children of it, in sessions of their own)."""
    ps = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(service_pid)], capture_output=True, text=True)
    return [int(line.split()[0]) for line in ps.stdout.splitlines() if "dlcourse.grader.worker" in line]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")  # a zombie is dead


def gradebook_scores(db_url: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        subs = gb.assignment_submissions(A)
        assert len({s.student_id for s in subs}) == len(subs), "duplicated submission rows"
        return {s.student_id: s.score for s in subs}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request, tmp_path_factory):
    db = request.getfixturevalue("postgres").database() if request.param == "postgresql" else None
    course = make_course(tmp_path_factory.mktemp("serve"), ["ana", "bob", "p", "q", "r", "dee", "pt", "en"], db=db)
    server = Server(course, db=db).start()
    yield server
    server.stop()


def test_settings_check_names_a_misspelt_submit_key():
    from dlcourse.classroom.serve.policy import SubmitPolicy, submit_problems

    assert submit_problems({"RATES": [1, 60]}) == ["SUBMIT: 'RATES' is not a key (did you mean 'RATE'?)"]
    assert submit_problems({"COUNTS": "first"}) and submit_problems({"RATE": [0, 60]})
    assert SubmitPolicy.from_config(None).hidden == "after_deadline"  # the default


def test_a_misspelt_submit_key_stops_every_command(tmp_path):
    course = scratch_course(ROOT, tmp_path / "course", [A], release=False)
    with (course / "grader_config.py").open("a") as fh:
        fh.write("\nSUBMIT = {'HIDEN': 'on_submit'}\n")
    run = subprocess.run([sys.executable, "-m", "dlcourse.cli", "--root", str(course), "serve"], env=_env(),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "SUBMIT: 'HIDEN' is not a key (did you mean 'HIDDEN'?)" in run.stderr


def test_a_grading_process_that_dies_is_the_graders_failure_and_retried(served):
    tok = tokens(served.course)
    with served.client(tok["dee"]) as dee:
        sub = post(dee, notebook(served.course, "blank")).json()
        end = time.time() + 120
        while dee.get(f"{API}/submissions/{sub['id']}").json()["status"] != "grading":
            assert time.time() < end
            time.sleep(0.2)
        pids: list[int] = []
        while not pids:  # the grading process (started once the assignment is registered)
            assert time.time() < end
            pids = worker_pids(served.proc.pid)
            time.sleep(0.2)
        time.sleep(1)
        os.kill(pids[0], signal.SIGKILL)
        view = wait_done(dee, sub["id"])
    assert view["status"] == "graded" and view["gradable"] is True and view["attempts"] == 2
    assert view["result"]["score"] == 0  # the blank notebook's own grade, not a 0 for the grader's failure


def test_401_404_413(served):
    tok = tokens(served.course)
    body = notebook(served.course, "blank")
    with served.client(None) as anon, served.client("not-a-token") as wrong:
        assert post(anon, body).status_code == 401
        assert post(wrong, body).status_code == 401
        assert wrong.get(f"{API}/assignments/{A}/submissions").status_code == 401
    with served.client(tok["bob"]) as bob:
        big = json.dumps({"cells": [], "metadata": {}, "pad": "x" * (2 * 2**20)}).encode()
        r = post(bob, big)
        assert r.status_code == 413, r.text
        assert bob.post(f"{API}/assignments/nope/submissions", content=body).status_code == 404
        assert post(bob, b"not json").status_code == 400
        assert bob.get(f"{API}/submissions/0123").status_code == 404
        assert bob.get(f"{API}/assignments/{A}/submissions").json()["submissions"] == []  # nothing counted
    # a revoked token is refused
    subprocess.run([sys.executable, "-m", "dlcourse.cli", "--root", str(served.course), "tokens", "--revoke", "r",
                    "--db", served.db],
                   env=_env(), check=True, capture_output=True, timeout=120)
    with served.client(tok["r"]) as r_client:
        assert r_client.get(f"{API}/assignments/{A}/submissions").status_code == 401
    from dlcourse.classroom.serve.store import Store

    store = Store(served.db)
    stored = store.token_hashes()
    store.close()
    assert len(stored) == len(tok) and not stored & set(tok.values()), "tokens must be stored hashed"


def test_graded_as_autograde_grades_it_own_only_and_429(served, tmp_path):
    tok = tokens(served.course)
    with served.client(tok["ana"]) as ana, served.client(tok["bob"]) as bob:
        r = post(ana, notebook(served.course, "reference"))
        assert r.status_code == 202, r.text
        sub = r.json()
        assert sub["position"] >= 1 and sub["id"]
        assert bob.get(f"{API}/submissions/{sub['id']}").status_code == 404  # another student's
        view = wait_done(ana, sub["id"])
        assert view["status"] == "graded" and view["gradable"] is True
        assert view["received"] <= view["started"] <= view["finished"]
        res = view["result"]
        assert res["max"] > 0 and 0 < res["score"] <= res["max"]
        assert {t["name"] for t in res["tests"]} >= {"test_softmax", "test_cross_entropy"}
        # the same notebook through `dlcourse autograde` in a course of its own: the same grades
        other = scratch_course(ROOT, tmp_path / "course", [A], release=False)
        folder = other / "submitted" / "ana" / A
        folder.mkdir(parents=True)
        (folder / f"{A}.ipynb").write_bytes(notebook(served.course, "reference"))
        run = subprocess.run([sys.executable, "-m", "dlcourse.cli", "--root", str(other), "autograde", A, "--quiet"],
                             env=_env(), capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr
        via_service = gradebook_scores(f"sqlite:///{served.course / 'gradebook.db'}")["ana"]
        assert via_service == gradebook_scores(f"sqlite:///{other / 'gradebook.db'}")["ana"]
        assert via_service == res["score"]
        # second submission counts; the third within the hour is refused with Retry-After
        # (a submission still queued would be replaced instead, so the third comes once the second is graded)
        second = post(ana, notebook(served.course, "blank"))
        assert second.status_code == 202
        wait_done(ana, second.json()["id"])
        third = post(ana, notebook(served.course, "blank"))
        assert third.status_code == 429 and 3000 < int(third.headers["Retry-After"]) <= 3600
        history = ana.get(f"{API}/assignments/{A}/submissions").json()["submissions"]
        assert [h["id"] for h in history] == [sub["id"], second.json()["id"]]
        assert history[1]["result"]["score"] == 0
        assert bob.get(f"{API}/assignments/{A}/submissions").json()["submissions"] == []


def test_replace_queued_and_round_robin(served):
    tok = tokens(served.course)
    blank = notebook(served.course, "blank")
    with served.client(tok["p"]) as p, served.client(tok["q"]) as q, served.client(tok["bob"]) as b:
        p1 = post(p, blank).json()
        end = time.time() + 120
        while p.get(f"{API}/submissions/{p1['id']}").json()["status"] == "queued":  # p1 is being graded
            assert time.time() < end
            time.sleep(0.2)
        p2 = post(p, blank).json()
        p3 = post(p, blank).json()  # replaces p2, still queued
        q1 = post(q, blank).json()
        b1 = post(b, blank).json()
        assert p.get(f"{API}/submissions/{p2['id']}").json()["status"] == "replaced"
        assert q1["position"] == 1 and b1["position"] == 2  # p was served last: its job waits
        assert p.get(f"{API}/submissions/{p3['id']}").json()["position"] == 3
        done = {name: wait_done(client, s["id"]) for name, client, s in
                (("p1", p, p1), ("q1", q, q1), ("b1", b, b1), ("p3", p, p3))}
    assert done["q1"]["started"] <= done["b1"]["started"] <= done["p3"]["started"]
    by_id = {r["id"]: r for r in rows(served.db)}
    assert by_id[p2["id"]]["started"] is None  # never graded
    assert all(by_id[s["id"]]["reported"] == 1 for s in (p1, p3, q1, b1))


def test_kill9_and_restart_grades_each_exactly_once(tmp_path, queue_db):
    """kill -9 while 2 jobs are queued and one is grading: its grading process dies with it (the
    watchdog), so nothing goes on grading the job; after the restart each is graded exactly once."""
    db = None if queue_db.endswith(".db") else queue_db  # SQLite: the course's own serve.db
    course = make_course(tmp_path, ["k1", "k2", "k3"], db=db)
    tok = tokens(course)
    server = Server(course, db=db).start()
    ids = {}
    try:
        for s in ("k1", "k2", "k3"):
            with server.client(tok[s]) as c:
                ids[s] = post(c, notebook(course, "reference" if s == "k1" else "blank")).json()["id"]
        with server.client(tok["k1"]) as c:
            end = time.time() + 120
            while c.get(f"{API}/submissions/{ids['k1']}").json()["status"] != "grading":
                assert time.time() < end
                time.sleep(0.2)
        pids: list[int] = []
        while not pids:
            assert time.time() < end
            pids = worker_pids(server.proc.pid)
            time.sleep(0.2)
        time.sleep(2)  # in the middle of its grading
        server.kill9()
        assert {r["status"] for r in rows(server.db)} == {"grading", "queued"}
        end = time.time() + 10
        while any(alive(p) for p in pids):  # the orphan is killed with its service
            assert time.time() < end, f"the grading process {pids} outlived its service"
            time.sleep(0.1)
        server.start()
        views = {}
        for s, sub_id in ids.items():
            with server.client(tok[s]) as c:
                views[s] = wait_done(c, sub_id)
    finally:
        server.stop()
    assert all(v["status"] == "graded" and v["gradable"] for v in views.values())
    table = {r["id"]: r for r in rows(server.db)}
    assert [table[ids[s]]["reported"] for s in ids] == [1, 1, 1]  # each reported exactly once
    assert table[ids["k1"]]["attempts"] == 2  # interrupted, graded again
    scores = gradebook_scores(f"sqlite:///{course / 'gradebook.db'}")
    assert set(scores) == {"k1", "k2", "k3"} and scores["k1"] > 0 == scores["k2"]


def test_two_services_share_one_postgresql_queue_each_job_graded_once(tmp_path, postgres):
    """Two service processes on one PostgreSQL queue and one PostgreSQL gradebook (as on two
    machines): N submissions, N results, N distinct gradebook rows, each job claimed by one service,
    both services grading ($DLCOURSE_SERVE_TWO_N submissions, default 6)."""
    n = int(os.environ.get("DLCOURSE_SERVE_TWO_N", "6"))
    db = postgres.database()
    gradebook = postgres.database().replace("postgresql://", "postgresql+psycopg://")
    students = [f"s{i}" for i in range(n)]
    course = make_course(tmp_path, students, db=db)
    tok = tokens(course)
    servers = [Server(course, "--gradebook", gradebook, db=db, name=f"serve{i}").start() for i in range(2)]
    start = time.time()
    try:
        ids = {}
        for i, s in enumerate(students):
            with servers[i % 2].client(tok[s]) as c:
                r = post(c, notebook(course, "reference" if i % 3 == 0 else "blank"))
                assert r.status_code == 202, r.text
                ids[s] = r.json()["id"]
        views = {}
        for i, s in enumerate(students):
            with servers[(i + 1) % 2].client(tok[s]) as c:  # read through the other service
                views[s] = wait_done(c, ids[s], timeout=600)
    finally:
        for server in servers:
            server.stop()
    elapsed = time.time() - start
    table = rows(db)
    assert len(table) == n and all(r["status"] == "graded" and r["reported"] == 1 and r["attempts"] == 1
                                   for r in table)
    assert all(v["gradable"] for v in views.values())
    scores = gradebook_scores(gradebook)  # distinct rows: checked inside
    assert sorted(scores) == sorted(students)
    assert all((scores[s] > 0) == (i % 3 == 0) for i, s in enumerate(students))
    logs = [server.log.read_text() for server in servers]
    graded_by = [sum(f"grading {sub_id}" in log for sub_id in ids.values()) for log in logs]
    assert sum(graded_by) == n and min(graded_by) >= 1, graded_by  # each once, and both services graded
    print(f"two services, one PostgreSQL queue: {n} graded exactly once in {elapsed:.1f} s, split {graded_by}")


def test_leases_a_live_services_jobs_stay_an_expired_one_is_requeued_once(queue_db):
    """In-process, no grading: a restarted service does not re-queue a live service's job; a job
    whose lease ran out is re-queued exactly once, however many services reap at once; the dead
    service's claim writes nothing; a service of this machine whose process is gone loses its leases now."""
    from dlcourse.classroom.serve.store import Store

    a, b = Store(queue_db), Store(queue_db)
    sub, _ = a.add("ana", "a1", b"{}", "x.ipynb")
    svc_a = a.register()
    job = a.claim(svc_a, lease=30)
    assert job.id == sub.id and job.owner == svc_a
    svc_b = b.register()  # another service starts (or restarts) while A is alive
    assert b.reap() == (0, 0) and b.get(sub.id).status == "grading"
    assert a.heartbeat(svc_a, 30) == 1
    # A stops renewing (it died): once its lease has run out, four services reap at the same moment
    later = time.time() + 31
    barrier, counts = threading.Barrier(4), []

    def reaper():
        own = Store(queue_db)
        barrier.wait()
        counts.append(own.reap(now=later))
        own.close()

    _run_threads(reaper, 4)
    assert sorted(counts) == [(0, 0)] * 3 + [(1, 0)]  # re-queued exactly once
    assert not a.holds(job) and not a.finish(job, {"score_total": 1.0}, gradable=True, retry=False)
    again = b.claim(svc_b)
    assert again.id == sub.id and again.attempts == 2
    assert b.finish(again, {"score_total": 1.0}, gradable=True, retry=False)
    assert b.get(sub.id).reported == 1
    # a service of this machine whose process is gone (a pid no process has): its jobs are queued at once
    b.add("bob", "a1", b"{}", "x.ipynb")
    ghost = b.register()
    dead_pid = subprocess.Popen(["true"])
    dead_pid.wait()
    with b.tx() as db:
        db.execute("UPDATE services SET pid=? WHERE id=?", (dead_pid.pid, ghost))
    held = b.claim(ghost, lease=3600)
    assert held.student == "bob" and a.reap() == (1, 0) and a.get(held.id).status == "queued"
    # a job its services keep dying on fails after MAX_ATTEMPTS, gradable false, reported once
    for _ in range(2):
        b.claim(ghost, lease=0.0)
        a.reap(max_attempts=3, now=time.time() + 1)
    final = a.get(held.id)
    assert (final.status, final.gradable, final.attempts, final.reported) == ("failed", False, 3, 1)
    a.close()
    b.close()


def test_colab_boundary_gives_the_notebooks_current_content(monkeypatch, tmp_path):
    """In Colab, `dlcourse.submit()` hands in what Colab's "get_ipynb" request returns."""
    from dlcourse.classroom.serve import client

    nb = {"cells": [{"cell_type": "code", "source": "x = 1", "metadata": {}, "outputs": [],
                     "execution_count": None}], "metadata": {"colab": {"name": f"{A}.ipynb"}},
          "nbformat": 4, "nbformat_minor": 5}
    asked = []

    def blocking_request(kind, request="", timeout_sec=5):
        asked.append(kind)
        return {"ipynb": nb}

    message = types.ModuleType("google.colab._message")
    message.blocking_request = blocking_request
    colab = types.ModuleType("google.colab")
    colab._message = message
    google = types.ModuleType("google")
    google.colab = colab
    for name, mod in (("google", google), ("google.colab", colab), ("google.colab._message", message)):
        monkeypatch.setitem(sys.modules, name, mod)
    data, name = client.notebook_content(None)
    assert asked == ["get_ipynb"] and json.loads(data) == nb and name == A
    sent = {}

    def fake_request(method, url, token, body=None, language="en"):
        if method == "POST":
            sent.update(url=url, body=body, token=token)
            return 202, {}, {"id": "x1", "position": 1}
        return 200, {}, {"status": "graded", "gradable": True,
                         "result": {"score": 3, "max": 4, "withheld_points": 0, "notes": [],
                                    "tests": [{"name": "test_a", "points": 3, "max_points": 4, "passed": False,
                                               "message": "AssertionError: wrong sum"}]}}

    monkeypatch.setattr(client, "_request", fake_request)
    out = tmp_path / "out.txt"
    with out.open("w") as fh:
        client.submit(server="http://h", token="t ", out=fh)
    assert sent["url"] == f"http://h{API}/assignments/{A}/submissions" and sent["token"] == "t"
    assert json.loads(sent["body"]) == nb
    text = out.read_text()
    assert "Score: 3 / 4" in text and "[FAIL] test_a 3/4: AssertionError: wrong sum" in text


def _fake_service(view: dict, sent: dict):
    def fake_request(method, url, token, body=None, language="en"):
        sent.setdefault("languages", []).append(language)
        if method == "POST":
            return 202, {}, {"id": "x1", "position": 1}
        return 200, {}, view
    return fake_request


def test_the_client_speaks_its_notebooks_language(monkeypatch, tmp_path):
    """`dlcourse.submit()` of a Portuguese notebook asks the service for Portuguese and prints in it
    (the numbers with a decimal comma); an English notebook's printout is as it was."""
    from dlcourse.classroom.serve import client

    view = {"status": "graded", "gradable": True,
            "result": {"score": 2.5, "max": 4, "withheld_points": 1, "notes": ["a note"],
                       "tests": [{"name": "test_a", "points": 2.5, "max_points": 3, "passed": False,
                                  "message": "AssertionError: wrong sum"},
                                 {"name": "test_b", "points": None, "max_points": 1, "passed": None,
                                  "message": "withheld"}]}}
    assert urllib_request(client, "pt_BR").get_header("Accept-language") == "pt-BR"  # what is sent
    assert urllib_request(client, "en").get_header("Accept-language") == "en"
    nb = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    printed = {}
    for lang in ("en", "pt_BR"):
        if lang == "pt_BR":
            nb["metadata"]["dlcourse"] = {"language": "pt_BR"}
        path = tmp_path / lang / f"{A}.ipynb"
        path.parent.mkdir()
        path.write_text(json.dumps(nb))
        sent = {}
        monkeypatch.setattr(client, "_request", _fake_service(view, sent))
        out = tmp_path / f"{lang}.txt"
        with out.open("w") as fh:
            client.submit(path, server="http://h", token="t", out=fh)
        assert set(sent["languages"]) == {lang}
        printed[lang] = out.read_bytes().decode().replace("\r", "")  # no progress line: the result at once
    assert printed["en"].splitlines() == [
        f"submitted {A}: x1", "Score: 2.5 / 4 (and 1 points of hidden tests, shown after the deadline)",
        "  [FAIL] test_a 2.5/3: AssertionError: wrong sum", "  [hidden] test_b: withheld", "  note: a note"]
    assert printed["pt_BR"].splitlines() == [
        f"entrega de {A} recebida: x1", "Nota: 2,5 / 4 (e mais 1 pontos de testes ocultos, mostrados depois do prazo)",
        "  [FALHOU] test_a 2,5/3: AssertionError: wrong sum", "  [oculto] test_b: withheld", "  observação: a note"]


def urllib_request(client, language: str):
    """The request `client._request` builds for `language` (urlopen replaced: nothing is sent)."""
    built = []

    def urlopen(req, timeout=None):
        built.append(req)
        raise client.urllib.error.URLError("not sent")

    original = client.urllib.request.urlopen
    client.urllib.request.urlopen = urlopen
    try:
        with pytest.raises(client.SubmitError, match="não foi possível acessar" if language == "pt_BR"
                           else "cannot reach"):
            client._request("GET", "http://h/x", "t", language=language)
    finally:
        client.urllib.request.urlopen = original
    return built[0]


def _submission_in(folder: Path, language: str | None) -> Path:
    """A submission of A with the softmax that overflows (test_softmax_stability fails, with its hint),
    released in `language` (its metadata; None: English, as released)."""
    from dlcourse.classroom.demo import student_notebook
    from dlcourse.instructor.fixtures import load_fixture

    unstable = load_fixture(ROOT / "tests" / "fixtures" / A / "softmax__unstable_no_max.py").code
    nb = student_notebook(ROOT, A, {"softmax": unstable})
    if language:
        nb.metadata.setdefault("dlcourse", {})["language"] = language
    path = folder / f"{A}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def test_a_portuguese_submission_is_answered_in_portuguese_an_english_one_in_english(served, tmp_path):
    """The same mistake handed in through `dlcourse.submit()` from a Portuguese and an English
    notebook: the service's reply (status message, tests' messages) and the client's printout follow
    the notebook; the keys and the machine-readable values stay English."""
    from dlcourse.classroom.serve import client

    tok = tokens(served.course)
    views, printed = {}, {}
    for student, language in (("pt", "pt_BR"), ("en", None)):
        out = tmp_path / f"{student}.txt"
        with out.open("w") as fh:
            views[student] = client.submit(_submission_in(tmp_path / student, language), server=served.url,
                                           token=tok[student], poll=0.5, timeout=300, out=fh)
        printed[student] = out.read_text()
    pt, en = views["pt"], views["en"]
    assert set(pt) == set(en) and set(pt["result"]) == set(en["result"])  # the same keys
    assert (pt["status"], pt["language"], en["status"], en["language"]) == ("graded", "pt_BR", "graded", "en")
    assert pt["result"]["score"] == en["result"]["score"] < pt["result"]["max"]
    failed = {t["name"]: t["message"] for t in pt["result"]["tests"] if not t["passed"]}
    failed_en = {t["name"]: t["message"] for t in en["result"]["tests"] if not t["passed"]}
    assert set(failed) == set(failed_en) and "test_softmax_stability" in failed
    assert "Dica: subtraia a maior pontuação" in failed["test_softmax_stability"]
    assert "Hint: subtract the largest score" in failed_en["test_softmax_stability"]
    assert pt["message"].startswith("corrigida: ") and en["message"].startswith("graded: ")
    # no English sentence of the English reply is in the Portuguese one
    lines = [line.strip() for m in failed_en.values() for line in m.splitlines() if line.strip()]
    english = [en["message"], *lines, *(line.split(": ", 1)[-1] for line in lines), *en["result"]["notes"]]
    assert english and not [s for s in english if s in json.dumps(pt, ensure_ascii=False)]
    assert f"entrega de {A} recebida: " in printed["pt"] and "Nota: " in printed["pt"]
    assert "[FALHOU] test_softmax_stability" in printed["pt"] and "Dica: " in printed["pt"]
    for sentence in ("submitted ", "Score: ", "[FAIL]", "Hint: ", "note: ", "shown after the deadline"):
        assert sentence not in printed["pt"], sentence
        assert sentence in printed["en"] or sentence in ("note: ", "shown after the deadline"), sentence
    assert "Nota" not in printed["en"] and "Dica" not in printed["en"] and "entrega" not in printed["en"]


def test_the_result_shown_in_the_submissions_language(monkeypatch):
    """The stored result stays English; `shown` gives its texts in the submission's language: the
    withheld test's message, a check's message (as the feedback page translates it), the grader's and
    the service's notes. English is shown as it is stored."""
    from dlcourse.classroom.serve import grading
    from dlcourse.classroom.serve.policy import SubmitPolicy

    monkeypatch.setattr(grading, "after_deadline", lambda *a: False)
    notes = ["your best submission (2.5 points) still counts", "no notebook named extra.ipynb was submitted",
             "the grading service stopped 3 times while grading it (not your notebook): the attempt does not count",
             "the grader failed (not your notebook): it is graded again", "something else"]
    tests = [{"name": "test_a", "points": 0.0, "max_points": 1.0, "passed": False, "hidden": False,
              "message": "AssertionError: Wrong shape for p: expected (2,), got (3,).\n  Hint: look at the axis"},
             {"name": "test_b", "points": 1.0, "max_points": 1.0, "passed": True, "hidden": True, "message": ""}]
    sub = types.SimpleNamespace(status="graded", assignment=A, student="s", result={
        "score_total": 1.0, "max_total": 2.0, "tests": tests, "notes": notes, "language": "pt_BR"})
    policy = SubmitPolicy()
    en = grading.shown(None, sub, policy)
    assert en["notes"] == notes and en["tests"][0]["message"] == tests[0]["message"] and "language" not in en
    assert en["tests"][1]["message"] == "this test includes hidden tests: its result is shown after the deadline"
    pt = grading.shown(None, sub, policy, "pt_BR")
    assert pt["notes"] == ["a sua melhor entrega (2.5 pontos) continua valendo",
                           "nenhum notebook com o nome extra.ipynb foi entregue",
                           "o serviço de correção parou 3 vezes durante a correção (não foi o seu notebook): "
                           "esta tentativa não conta",
                           "o corretor falhou (não foi o seu notebook): a entrega será corrigida de novo",
                           "something else"]  # a text of no template stays as it is
    assert pt["tests"][0]["message"] == ("AssertionError: Forma errada para p: era esperado (2,); veio (3,).\n"
                                         "  Dica: look at the axis")
    assert pt["tests"][1]["message"] == "este teste inclui testes ocultos: o resultado dele aparece depois do prazo"
    assert (pt["score"], pt["max"], pt["withheld_points"]) == (en["score"], en["max"], en["withheld_points"])
    assert sub.result["notes"] == notes  # the stored result is not changed


def test_a_bad_token_is_refused_in_the_clients_language(served, tmp_path):
    """Before a valid token the service cannot read the notebook: it answers in the client's language
    (Accept-Language), English by default."""
    from dlcourse.classroom.serve import client

    body = notebook(served.course, "blank")
    for header, words in ((None, "a valid token is needed"), ("pt-BR", "é preciso um token válido"),
                          ("pt-BR,pt;q=0.9,en;q=0.8", "é preciso um token válido"),
                          ("en-US,en;q=0.9,pt-BR;q=0.8", "a valid token is needed"),
                          ("fr", "a valid token is needed")):
        with served.client("not-a-token") as wrong:
            r = wrong.post(f"{API}/assignments/{A}/submissions", content=body,
                           headers={"Accept-Language": header} if header else {})
        assert r.status_code == 401 and r.json()["detail"].startswith(words), (header, r.text)
    with served.client(tokens(served.course)["bob"]) as bob:
        pt = {"Accept-Language": "pt-BR"}
        assert bob.get(f"{API}/submissions/0123", headers=pt).json()["detail"] == "essa entrega não existe"
        assert bob.get(f"{API}/submissions/0123").json()["detail"] == "no such submission"
        r = bob.post(f"{API}/assignments/{A}/submissions", content=b"not json", headers=pt)
        assert r.status_code == 400 and "JSON do notebook" in r.json()["detail"]
    with pytest.raises(client.SubmitError) as refused:
        client.submit(_submission_in(tmp_path / "pt", "pt_BR"), server=served.url, token="not-a-token")
    assert str(refused.value) == ("o servidor respondeu 401: é preciso um token válido: "
                                  "Authorization: Bearer <seu token>")


LATE = (f'TIMEZONE = "America/Sao_Paulo"\nDEADLINES = {{"{A}": "2026-03-20 23:59"}}\n'
        'LATE_POLICY = {"kind": "percent", "percent": 10, "per": "day", "cap": 50}\n')


def test_counts_best_and_the_late_penalty_the_gradebook_records(tmp_path):
    """COUNTS best: the best in the gradebook and in submitted/. Both are late (capped at 50 %): the
    API result shows the late penalty and the final score, as the gradebook records them."""
    from nbgrader.api import Gradebook

    course = make_course(tmp_path, ["best"], COUNTS="best", config=LATE)
    server = Server(course).start()
    try:
        with server.client(tokens(course)["best"]) as c:
            good = wait_done(c, post(c, notebook(course, "reference")).json()["id"])
            worse = wait_done(c, post(c, notebook(course, "blank")).json()["id"])
    finally:
        server.stop()
    assert good["result"]["counted"] and not worse["result"]["counted"]
    assert worse["result"]["score"] == 0 < good["result"]["score"]
    assert gradebook_scores(f"sqlite:///{course / 'gradebook.db'}")["best"] == good["result"]["score"]
    assert (course / "submitted" / "best" / A / f"{A}.ipynb").read_bytes() == notebook(course, "reference")
    res = good["result"]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub = gb.find_submission(A, "best")
        recorded = (sub.score, sub.late_submission_penalty, sub.score - sub.late_submission_penalty)
    assert res["late_percent"] == 50 and res["hours_late"] > 24
    assert res["late_penalty"] == pytest.approx(res["score"] * 0.5) == pytest.approx(recorded[1])
    assert res["final_score"] == pytest.approx(res["score"] - res["late_penalty"]) == pytest.approx(recorded[2])
    # the submission that does not count shows what the gradebook still records: the best one's
    assert worse["result"]["final_score"] == pytest.approx(recorded[2])


def test_tls_with_uvicorns_own_certificate(tmp_path):
    """The README's TLS path once: `dlcourse serve --ssl-certfile --ssl-keyfile`, a client that checks it."""
    course = make_course(tmp_path, ["t1"])
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=60)
    server = Server(course, "--ssl-certfile", str(cert), "--ssl-keyfile", str(key), scheme="https",
                    verify=str(cert)).start()
    try:
        with server.client(tokens(course)["t1"]) as c:
            assert c.get(f"{API}/assignments/{A}/submissions").json() == {"assignment": A, "submissions": []}
        with server.client(None) as anon:
            assert anon.get(f"{API}/assignments/{A}/submissions").status_code == 401
        with pytest.raises(httpx.TransportError):  # plain HTTP is not served
            httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=5)
    finally:
        server.stop()


def test_store_claims_each_job_once_round_robin_and_only_by_its_claim(queue_db):
    """In-process, no grading: two threads claim 40 jobs at once, each exactly once; a stale claim
    writes nothing; the order is round-robin across students."""
    from dlcourse.classroom.serve.store import Store

    path = queue_db
    store = Store(path)
    for i in range(40):
        store.add(f"s{i % 8}", f"a{i}", b"{}", "x.ipynb")
    claimed: list[str] = []

    def claimer():
        own = Store(path)
        while (sub := own.claim()) is not None:
            claimed.append(sub.id)
            assert own.finish(sub, {"score_total": 1.0}, gradable=True, retry=False)
        own.close()

    _run_threads(claimer, 2)
    assert len(claimed) == len(set(claimed)) == 40
    # round-robin: a student with 5 queued jobs gets one turn per round
    fresh = Store(path)  # the same queue, all 40 done: two new students
    for i in range(5):
        fresh.add("busy", f"a{i}", b"{}", "x.ipynb")
    fresh.add("other", "a0", b"{}", "x.ipynb")
    first = fresh.claim()
    assert first.student == "busy"
    assert fresh.claim().student == "other"  # not busy's second job
    # a claim taken back (its lease ran out) cannot write a result
    assert fresh.reap(now=time.time() + 3600) == (2, 0)
    assert not fresh.finish(first, {"score_total": 1.0}, gradable=True, retry=False)


def test_hidden_results_wait_for_the_deadline(tmp_path):
    from dlcourse.classroom.serve.grading import shown
    from dlcourse.classroom.serve.policy import SubmitPolicy
    from dlcourse.classroom.serve.store import Store
    from dlcourse.course import Course

    course = scratch_course(ROOT, tmp_path / "course", [A], release=False)
    store = Store(tmp_path / "serve.db")
    sub, _ = store.add("ana", A, b"{}", "x.ipynb")
    sub = store.claim()
    tests = [{"name": "t_vis", "points": 1.0, "max_points": 1.0, "passed": True, "message": "", "hidden": False},
             {"name": "t_hid", "points": 0.0, "max_points": 2.0, "passed": False, "message": "bad", "hidden": True}]
    store.finish(sub, {"score_total": 1.0, "max_total": 3.0, "tests": tests, "notes": []}, True, False)
    sub = store.get(sub.id)
    c = Course.at(course)
    before = shown(c, sub, SubmitPolicy.from_config({"HIDDEN": "after_deadline"}))
    assert (before["score"], before["max"], before["withheld_points"]) == (1.0, 1.0, 2.0)
    assert before["tests"][1]["passed"] is None and "bad" not in json.dumps(before)
    now = shown(c, sub, SubmitPolicy.from_config({"HIDDEN": "on_submit"}))
    assert (now["score"], now["max"], now["tests"][1]["message"]) == (1.0, 3.0, "bad")
