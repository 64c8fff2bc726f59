"""Load run of `dlcourse serve`: N students each hand in notebook 01 within a window, through the
HTTP API; reports the p50 and p95 time from submission to result, the throughput, and whether
every submission was graded exactly once (one result each, one gradebook row per student).

    python -m benchmarks.serve_load [--students 60] [--window 60] [--workers 2] [--db postgresql]

--db: the queue's database. sqlite (the default: serve.db in the course); postgresql (a throwaway
server on a free port, started and removed by the run: `dlcourse.classroom.serve.pgcluster`); or
a postgresql://user@host/db URL (only this run's submissions are counted there).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
A = "01_softmax_cross_entropy"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--students", type=int, default=60)
    p.add_argument("--window", type=float, default=60.0, help="seconds over which the submissions arrive")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--db", default="sqlite", help="sqlite (default), postgresql (a throwaway server), or a "
                                                  "postgresql://user@host/db URL")
    args = p.parse_args(argv)
    if args.db not in ("sqlite", "postgresql") and not args.db.startswith(("postgresql://", "postgres://")):
        p.error(f"--db {args.db!r}: give sqlite, postgresql, or a postgresql:// URL")
    cluster = None
    if args.db == "postgresql":
        from dlcourse.classroom.serve.pgcluster import ThrowawayPostgres

        cluster = ThrowawayPostgres().start()
    try:
        return run(args, cluster.database() if cluster else None if args.db == "sqlite" else args.db)
    finally:
        if cluster is not None:
            cluster.stop()


def run(args, db: str | None) -> int:
    import httpx

    from dlcourse.classroom.demo import demo_class, scratch_course, write_submission
    from dlcourse.classroom.serve.store import Store

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    base = Path(tempfile.mkdtemp(prefix="dlcourse-serve-bench-"))
    course = scratch_course(ROOT, base / "course", [A], release=True)
    with (course / "grader_config.py").open("a") as fh:
        fh.write("\nSUBMIT = {'RATE': [100, 3600], 'HIDDEN': 'on_submit'}\n")
    kinds = list(demo_class(ROOT, A).items())
    bodies = []
    for label, repl in kinds:
        write_submission(ROOT, base / "nb" / label, A, repl)
        bodies.append((base / "nb" / label / f"{A}.ipynb").read_bytes())
    students = [f"s{i:03d}" for i in range(args.students)]
    on_db = ["--db", db] if db else []
    subprocess.run([sys.executable, "-m", "dlcourse.cli", "--root", str(course), "tokens", "--out",
                    str(base / "tokens.csv"), *on_db, *[a for s in students for a in ("--student", s)]], env=env,
                   check=True, capture_output=True)
    tokens = dict(line.strip().split(",") for line in (base / "tokens.csv").read_text().splitlines()[1:])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "dlcourse.cli", "--root", str(course), "serve", "--port",
                               str(port), "--workers", str(args.workers), *on_db], env=env, stdout=subprocess.DEVNULL,
                              stderr=(base / "serve.log").open("wb"), start_new_session=True)
    try:
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        ids: dict[str, str] = {}
        lock = threading.Lock()

        def hand_in(i: int, student: str) -> None:
            time.sleep(args.window * i / max(1, len(students)) + random.uniform(0, 0.2))
            r = httpx.post(f"{url}/api/v1/assignments/{A}/submissions", content=bodies[i % len(bodies)],
                           headers={"Authorization": f"Bearer {tokens[student]}"}, timeout=60)
            assert r.status_code == 202, r.text
            with lock:
                ids[student] = r.json()["id"]

        started = time.time()
        since = started - 1  # a database given by URL may hold earlier runs' submissions
        threads = [threading.Thread(target=hand_in, args=(i, s)) for i, s in enumerate(students)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        store = Store(db or course / "serve.db")
        try:
            while store.db.execute("SELECT COUNT(*) AS n FROM submissions WHERE status IN ('queued', 'grading') "
                                   "AND received >= ?", (since,)).fetchone()["n"]:
                time.sleep(1)
            rows = [(r["student"], r["status"], r["received"], r["started"], r["finished"], r["reported"],
                     r["gradable"]) for r in store.db.execute(
                "SELECT student, status, received, started, finished, reported, gradable FROM submissions "
                "WHERE received >= ?", (since,)).fetchall()]
        finally:
            store.close()
    finally:
        server.terminate()
        server.wait(30)
    latency = sorted(r[4] - r[2] for r in rows)
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        subs = gb.assignment_submissions(A)
        gradebook_rows = len(subs)
        distinct = len({s.student_id for s in subs})
    span = max(r[4] for r in rows) - min(r[2] for r in rows)
    report = {
        "db": "sqlite" if db is None else "postgresql", "students": len(students), "window_s": args.window,
        "workers": args.workers,
        "submissions": len(rows), "graded": sum(r[1] == "graded" for r in rows),
        "gradable_false": sum(r[6] == 0 for r in rows),
        "p50_s": round(statistics.median(latency), 1),
        "p95_s": round(latency[min(len(latency) - 1, int(0.95 * len(latency)))], 1),
        "max_s": round(latency[-1], 1),
        "throughput_per_min": round(60 * len(rows) / span, 1), "wall_s": round(time.time() - started, 1),
        "exactly_once": all(r[5] == 1 for r in rows) and len(rows) == len(students)
        and gradebook_rows == distinct == len(students),
    }
    print(json.dumps(report, indent=1))
    return 0 if report["exactly_once"] else 1


if __name__ == "__main__":
    sys.exit(main())
