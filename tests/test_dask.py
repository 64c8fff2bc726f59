"""Grading on Dask workers (issue 27, "Other machines"): a real `dask scheduler` and `dask worker`
processes on 127.0.0.1 over TLS, one worker stale (another reference.py), one without bwrap.

A stale worker is a copy of the package whose files are links to this one's except
dlcourse/instructor/reference.py, which it changes: its kernels import the same package as the
good worker's (so that, before workers checked anything, it graded the reference solution 17/23
and had it recorded as "graded ok"), its judge the changed reference.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT

from dlcourse.classroom.demo import generated_class
from dlcourse.grader import cluster
from dlcourse.grader.autograde import MARKER, make_job
from dlcourse.grader.protocol import GradingJob, GradingResult, Outcome, grader_version

A = "01_softmax_cross_entropy"
BIN = Path(sys.executable).parent
SOFTMAX = "return e / e.sum(axis=-1, keepdims=True)"


def stale_package(dest: Path, new_softmax: str) -> Path:
    """A copy of dlcourse (links to this one's files) whose reference softmax is `new_softmax`."""
    for src in (ROOT / "dlcourse").rglob("*.py"):
        link = dest / src.relative_to(ROOT)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(src)
    reference = dest / "dlcourse" / "instructor" / "reference.py"
    text = reference.read_text()
    assert SOFTMAX in text
    reference.unlink()
    reference.write_text(text.replace(SOFTMAX, new_softmax))
    return dest


def env(**changes: str) -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **changes}


def certs_args(certs: Path, role: str) -> list[str]:
    return ["--tls-ca-file", str(certs / "ca.pem"), "--tls-cert", str(certs / f"{role}.pem"),
            "--tls-key", str(certs / f"{role}-key.pem")]


class Cluster:
    """A TLS `dask scheduler` and named `dask worker`s, each a process of the venv's `dask` CLI."""

    def __init__(self, base: Path):
        self.base, self.certs, self.procs = base, base / "certs", []
        cluster.make_certs(self.certs)
        info = base / "scheduler.json"
        self._start("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", "0", "--protocol", "tls",
                                  "--no-dashboard", "--scheduler-file", str(info),
                                  *certs_args(self.certs, "scheduler")], env())
        deadline = time.time() + 60
        while not info.is_file() and time.time() < deadline:
            time.sleep(0.2)
        self.address = json.loads(info.read_text())["address"]
        assert self.address.startswith("tls://127.0.0.1:")
        self.names: dict[str, str] = {}

    def _start(self, name: str, args: list[str], environ: dict[str, str]) -> None:
        log = open(self.base / f"{name}.log", "w")  # noqa: SIM115 (the process's, closed with it)
        self.procs.append(subprocess.Popen([str(BIN / "dask"), *args], env=environ, cwd=self.base, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True))

    def worker(self, name: str, **changes: str) -> None:
        self._start(name, ["worker", self.address, "--name", name, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                           "--local-directory", str(self.base / name), *certs_args(self.certs, "worker")],
                    env(**changes))

    def wait(self, count: int) -> None:
        from distributed import Client

        with Client(self.address, security=cluster.security(self.certs), timeout=60) as client:
            client.wait_for_workers(count, timeout=120)
            self.names = {w["name"]: a for a, w in client.scheduler_info(n_workers=-1)["workers"].items()}

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """Three workers: `good` (this package), `stale` (another reference.py), `nobwrap` (no bwrap on PATH)."""
    base = tmp_path_factory.mktemp("dask")
    running = Cluster(base)
    try:
        stale = stale_package(base / "stale-tree", "return e / (e.sum(axis=-1, keepdims=True) + 1e-3)")
        running.worker("good")
        running.worker("stale", PYTHONPATH=str(stale))
        running.worker("nobwrap", PATH=str(BIN))
        running.wait(3)
        yield running
    finally:
        running.close()


def grade_cli(course: Path, running: Cluster, *args: str, **changes: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "dlcourse.cli", "--root", str(course), "autograde", A, "--quiet", "--dask",
           running.address, "--dask-certs", str(running.certs), *args]
    return subprocess.run(cmd, env=env(**changes), cwd=course, capture_output=True, text=True, timeout=900)


def markers(course: Path) -> dict[str, dict]:
    return {m.parent.parent.name: json.loads(m.read_text()) for m in course.glob(f"autograded/*/{A}/{MARKER}")}


def scores(course: Path) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s.student_id: s.score for s in gb.assignment_submissions(A)}


@pytest.mark.slow
@pytest.mark.xdist_group("dask-cluster")  # one cluster, on one xdist worker
def test_stale_and_unsandboxed_workers_refuse_and_the_good_one_grades(dask_cluster, tmp_path):
    course = generated_class(ROOT, tmp_path, [A], 3)  # reference, blank, valid alternatives
    run = grade_cli(course, dask_cluster, "--strict")
    said = run.stdout + run.stderr[-4000:]
    assert run.returncode == 0 and "graded 3, failed 0" in run.stdout, said
    stale, nobwrap = dask_cluster.names["stale"], dask_cluster.names["nobwrap"]
    assert f"the Dask worker {stale} refuses to grade: it grades with" in run.stderr, said
    assert f"the Dask worker {nobwrap} refuses to grade: bubblewrap (bwrap) is not on PATH" in run.stderr, said
    assert scores(course)["s000-reference"] == 23.0, said
    assert {m["grader"] for m in markers(course).values()} == {grader_version()}


@pytest.mark.slow
@pytest.mark.xdist_group("dask-cluster")  # one cluster, on one xdist worker
def test_when_every_worker_refuses_and_this_machine_cannot_sandbox_the_run_fails_and_records_nothing(
        dask_cluster, tmp_path):
    """The parent itself runs another reference (every worker differs from what it expects), and
    has no bwrap on its PATH: the fallback's preflight fails, so nobody is graded or recorded."""
    course = generated_class(ROOT, tmp_path, [A], 2)
    parent = stale_package(tmp_path / "parent-tree", "return e / (e.sum(axis=-1, keepdims=True) + 1e-2)")
    run = grade_cli(course, dask_cluster, PYTHONPATH=str(parent), PATH=str(BIN))
    said = run.stdout + run.stderr[-4000:]
    assert run.returncode == 1 and "failed 2 (2 by the grader: retried next run)" in run.stdout, said
    assert "no Dask worker can grade it" in run.stdout and "and this machine cannot either" in run.stdout, said
    assert "graded on this machine" not in said
    assert markers(course) == {} and not list(course.glob("autograded/*/*/*.ipynb"))
    assert not (course / "gradebook.db").exists() or scores(course) == {}


@pytest.mark.slow
def test_jobs_a_stale_worker_refuses_are_graded_here_when_the_local_preflight_passes(tmp_path):
    """Issue 27: a cluster whose only worker is stale refuses every job. Before: each was reported
    as the grader's failure and nobody was graded (exit 1). Now they are graded on this machine,
    through the local path, since its sandbox passes the preflight, and the run says so."""
    running = Cluster(tmp_path / "dask")
    try:
        stale = stale_package(tmp_path / "stale-tree", "return e / (e.sum(axis=-1, keepdims=True) + 1e-3)")
        running.worker("stale", PYTHONPATH=str(stale))
        running.wait(1)
        course = generated_class(ROOT, tmp_path, [A], 1)  # the reference solution
        run = grade_cli(course, running, "--strict")
    finally:
        running.close()
    said = run.stdout + run.stderr[-4000:]
    assert run.returncode == 0 and "graded 1, failed 0" in run.stdout, said
    assert f"the Dask worker {running.names['stale']} refuses to grade: it grades with" in run.stderr, said
    assert "every Dask worker refused 1 submission(s)" in run.stdout and "graded on this machine" in run.stdout, said
    assert scores(course)["s000-reference"] == 23.0, said  # graded with this machine's reference, not the stale one
    assert {m["grader"] for m in markers(course).values()} == {grader_version()}


@pytest.mark.slow
@pytest.mark.xdist_group("dask-cluster")  # one cluster, on one xdist worker
def test_a_job_a_worker_refuses_is_graded_by_another(dask_cluster, tmp_path, monkeypatch):
    """Without the question asked first, jobs land on every worker: the refused ones go to `good`."""
    from nbgrader.api import Gradebook  # noqa: F401 (imported before the runner's threads)

    from dlcourse.classroom.release import register
    from dlcourse.grader.autograde import gradebook_template

    course = generated_class(ROOT, tmp_path, [A], 3)
    register(course, A, f"sqlite:///{course / 'gradebook.db'}")
    template = gradebook_template(course, A)
    jobs = [make_job(course, A, student) for student in sorted(p.name for p in (course / "submitted").iterdir())]
    for job in jobs:
        job.gradebook_template = template
    runner = cluster.DaskRunner(dask_cluster.address, 1, 600, dask_cluster.certs)
    monkeypatch.setattr(runner, "_ask_workers", lambda client, jobs: None)
    results = dict((job.student, result) for job, result in runner(jobs))
    assert {r.outcome for r in results.values()} == {Outcome.GRADED}, [r.error for r in results.values()]
    assert runner.refused and set(runner.refused) <= {dask_cluster.names["stale"], dask_cluster.names["nobwrap"]}
    reference = results["s000-reference"].notebooks[A].results
    assert all(r["passed"] for r in reference) and sum(r["points"] for r in reference) == 23.0


def test_dask_certs_writes_a_ca_and_a_signed_pair_per_role(tmp_path):
    from dlcourse.cli import main

    assert main(["dask-certs", str(tmp_path / "certs")]) == 0
    folder = tmp_path / "certs"
    for role in cluster.ROLES:
        check = subprocess.run(["openssl", "verify", "-CAfile", folder / "ca.pem", folder / f"{role}.pem"],
                               capture_output=True, text=True)
        assert check.returncode == 0 and check.stdout.strip().endswith(": OK"), check.stdout + check.stderr
        assert stat.S_IMODE((folder / f"{role}-key.pem").stat().st_mode) == 0o600
    other = tmp_path / "other"
    cluster.make_certs(other)  # another course's CA does not vouch for this one's workers
    assert subprocess.run(["openssl", "verify", "-CAfile", other / "ca.pem", folder / "worker.pem"],
                          capture_output=True).returncode != 0
    assert not list(folder.glob("ca-key*")), "the CA's key is not kept"


@pytest.mark.parametrize("args, said", [
    (["--dask", "tcp://127.0.0.1:8786"], "over TLS only"),
    (["--scheduler", "tcp://127.0.0.1:8786"], "over TLS only"),
    (["--dask", "tls://127.0.0.1:8786"], "needs --dask-certs DIR"),
    (["--dask", "tls://127.0.0.1:8786", "--dask-certs", "/nonexistent"], "dlcourse dask-certs /nonexistent"),
])
def test_plain_tcp_or_missing_certificates_are_refused_in_one_line(args, said, capsys):
    from dlcourse.cli import main

    assert main(["--root", str(ROOT), "autograde", A, "--quiet", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dlcourse: error:") and said in err and len(err.splitlines()) == 1


def test_a_worker_refuses_another_digest_and_a_machine_without_bwrap(monkeypatch):
    expected = cluster.grading_digest()
    assert expected.startswith(grader_version() + "/")
    assert "the run expects other" in cluster.refusal("other")
    if shutil.which("bwrap"):
        assert cluster.refusal(expected) == ""
    monkeypatch.setenv("PATH", str(BIN))  # the grading process's PATH: this interpreter's bin/ alone
    cluster.sandbox_problem.cache_clear()
    try:
        assert cluster.refusal(expected).startswith("bubblewrap (bwrap) is not on PATH")  # the preflight's words
        assert cluster.refusal(expected, sandbox=False) == ""  # a job graded unsandboxed on purpose
    finally:
        cluster.sandbox_problem.cache_clear()


FAKE_BWRAP = """#!/bin/sh
# runs `true` as bubblewrap would, and nothing else: a sandbox that cannot start a kernel
for last; do :; done
[ "$last" = true ] && exit 0
echo "bwrap: Creating new namespace failed: Operation not permitted" >&2
exit 1
"""


@pytest.mark.slow
def test_a_worker_checks_its_sandbox_as_the_preflight_does(tmp_path, monkeypatch):
    """Issue 27: one sandbox check (`worker.check_sandbox`) for the preflight and the Dask worker.
    Before: the worker ran `bwrap ... true`, which a sandbox that cannot start a kernel passes: it
    accepted jobs that its grading processes then failed, while the preflight refused the machine."""
    from dlcourse.grader.sandbox import Limits, SandboxBroken
    from dlcourse.grader.worker import check_sandbox

    fake = tmp_path / "bin" / "bwrap"
    fake.parent.mkdir()
    fake.write_text(FAKE_BWRAP)
    fake.chmod(0o755)
    assert subprocess.run([str(fake), "--ro-bind", "/", "/", "true"]).returncode == 0
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(SandboxBroken) as preflight:
        check_sandbox(str(ROOT), Limits(), 30)
    cluster.sandbox_problem.cache_clear()
    try:
        why = cluster.refusal(cluster.grading_digest())
    finally:
        cluster.sandbox_problem.cache_clear()
    assert why and why.split(" (it printed")[0] == str(preflight.value).split(" (it printed")[0], (why, preflight.value)


def test_nothing_is_recorded_from_a_worker_that_refused_differs_or_skipped_the_sandbox():
    job = GradingJob(A, "x")
    expected = cluster.grading_digest()
    graded = GradingResult(A, "x", Outcome.GRADED, ok=True, sandboxed=True)
    assert cluster.checked(job, cluster.WorkerAnswer("w", expected, result=graded), expected) is graded
    for answer in (cluster.WorkerAnswer("w", expected, refused="bwrap is not on its PATH"),
                   cluster.WorkerAnswer("w", "0.0.1+old/x", result=graded),
                   cluster.WorkerAnswer("w", expected, result=GradingResult(A, "x", Outcome.GRADED, ok=True))):
        result = cluster.checked(job, answer, expected)
        assert result.outcome is Outcome.GRADER and "the Dask worker w" in result.error


def test_what_every_job_of_an_assignment_shares_travels_apart():
    job = GradingJob(A, "x", source_files={"a.ipynb": "e30="}, config_files={"c.py": "eA=="},
                             submission_files={"b.ipynb": "e30="}, gradebook_template="ZGI=", digest="d")
    slim, shared = cluster.split_shared(job)
    assert (slim.source_files, slim.config_files, slim.gradebook_template) == ({}, {}, "")
    assert slim.submission_files == job.submission_files and slim.digest == "d"
    assert shared == cluster.Shared({"a.ipynb": "e30="}, {"c.py": "eA=="}, "ZGI=")


def test_a_local_cluster_talks_tls_with_certificates_of_its_own(monkeypatch):
    """`--dask` without an address: a LocalCluster whose scheduler and workers accept TLS only."""
    # an xdist worker's __main__ (code run by `python -c`) has no __spec__, which the nanny's spawn reads
    monkeypatch.setattr(sys.modules["__main__"], "__spec__", getattr(sys.modules["__main__"], "__spec__", None),
                        raising=False)
    runner = cluster.DaskRunner(None, 1, 120)
    refused = GradingJob(A, "x", refused="submitted/x is a symbolic link, not a folder", timeout=120)
    client, local = runner._connect()
    try:
        assert client.scheduler.address.startswith("tls://")
        assert all(w.startswith("tls://") for w in client.scheduler_info(n_workers=-1)["workers"])
        [(_, result)] = list(runner._grade(client, [refused]))
    finally:
        client.close()
        local.close()
    assert result.outcome is Outcome.SUBMISSION and "symbolic link" in result.error  # graded there, not refused
