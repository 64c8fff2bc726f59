"""Grading on Dask workers (`dlcourse autograde --dask tls://host:8786 --dask-certs DIR`).

A worker is trusted with nothing it cannot show: each task carries the digest of what the
parent grades with (`grading_digest`: the grader's version, the instructor's references, the
hidden data), and a worker whose digest differs, or whose sandbox fails the preflight's own
check (`sandbox_problem`, which runs `worker.check_sandbox`), refuses the job with its reason.
The parent asks every worker first, sends jobs only to those that accept, sends a job refused
anyway to another one, and records nothing from a worker that refused or answered with another
digest. A job that every worker refuses is graded on this machine, through the same local path
(`fallback`, `autograde.local_fallback`), when this machine passes the same preflight, and the
run says so; otherwise it is a grader failure (`Outcome.GRADER`): nothing is recorded, the run
exits non-zero, and the next run grades it again. The client, scheduler and workers talk TLS
only, with the certificates `make_certs` writes (`dlcourse dask-certs DIR`). What every job of
an assignment shares (its source notebooks, the course's configuration, the gradebook template)
goes to each worker once (`client.scatter(..., broadcast=True)`), not in every job.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields, replace
from pathlib import Path

from ..config import REPO_ROOT
from ..course import CourseError
from .protocol import GradingJob, GradingResult, Outcome, grader_version

logger = logging.getLogger(__name__)
ROLES = ("scheduler", "worker", "client")
SUBJECT = "/O=dlcourse grading"


class DaskSetupError(CourseError):
    """A Dask address or certificate folder the grader cannot use safely (the user's to fix)."""


# --- what a worker grades with -------------------------------------------------------------

def _hash_files(h, base: Path, paths) -> None:
    for path in sorted(paths):
        h.update(str(path.relative_to(base)).encode())
        h.update(path.read_bytes())


@functools.cache
def grading_digest() -> str:
    """The grader's version, the instructor's references (as this process imports them) and the
    hidden data (data/hidden/): two machines grade alike only where this is the same."""
    from .. import instructor

    h = hashlib.sha256(grader_version().encode())
    references = Path(instructor.__file__).parent  # not resolved: the package Python imports
    _hash_files(h, references, references.glob("*.py"))
    hidden = REPO_ROOT / "data" / "hidden"
    _hash_files(h, hidden, (p for p in hidden.rglob("*") if p.is_file()))
    return f"{grader_version()}/{h.hexdigest()[:16]}"


PREFLIGHT_TIMEOUT = 180  # seconds the worker's preflight may take (a kernel start, under load)


@functools.cache
def sandbox_problem(course_root: str = "", limits_json: str = "{}", cell_timeout: int = 120) -> str:
    """Why this machine cannot sandbox a grading kernel ("" when it can): the preflight's own check
    (`worker.check_sandbox`: a sandboxed kernel started as a job starts its own, with the job's
    limits, runs a trivial cell), once per worker process and settings, in a fresh process with
    the environment a grading process gets (`autograde.WorkerProcess`), as the job would be graded."""
    from .execute import kernel_env
    from .worker import PREFLIGHT_PREFIX

    argv = [sys.executable, "-m", "dlcourse.grader.worker", "--preflight", course_root or str(REPO_ROOT),
            limits_json, str(cell_timeout)]
    with tempfile.TemporaryDirectory(prefix="dlcourse-worker-") as home:  # as WorkerProcess: an empty cwd
        try:
            run = subprocess.run(argv, capture_output=True, text=True, timeout=PREFLIGHT_TIMEOUT, env=kernel_env(),
                                 cwd=home, start_new_session=True)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"its sandbox preflight did not finish ({type(exc).__name__}: {exc})"
    answers = [line[len(PREFLIGHT_PREFIX):] for line in run.stdout.splitlines() if line.startswith(PREFLIGHT_PREFIX)]
    if not answers:
        tail = (run.stderr.strip().splitlines() or ["no output"])[-1][:300]
        return f"its sandbox preflight failed (exit {run.returncode}: {tail})"
    return json.loads(answers[-1])["problem"]


def refusal(expected: str, sandbox: bool = True, course_root: str = "", limits: dict | None = None) -> str:
    """Why this worker refuses a job that expects `expected` ("" when it grades it): another
    digest, or (for a sandboxed job) a sandbox that fails the preflight's check with the job's limits."""
    mine = grading_digest()
    if mine != expected:
        return (f"it grades with {mine}, the run expects {expected} (another grader version, "
                "instructor references or hidden data): update it from the course's repository")
    if not sandbox:
        return ""
    return sandbox_problem(course_root, json.dumps(limits or {}, sort_keys=True))


async def refusal_off_loop(expected: str, sandbox: bool = True, course_root: str = "",
                           limits: dict | None = None) -> str:
    """`refusal`, as `client.run` asks it of every worker: in a thread of the worker's, since the
    sandbox check starts a kernel, and the worker's event loop keeps answering the scheduler."""
    import asyncio

    return await asyncio.get_running_loop().run_in_executor(None, refusal, expected, sandbox, course_root, limits)


# --- the task a worker runs ----------------------------------------------------------------

@dataclass
class Shared:
    """What every job of one assignment carries alike, sent to each worker once."""

    source_files: dict
    config_files: dict
    gradebook_template: str


def split_shared(job: GradingJob) -> tuple[GradingJob, Shared]:
    """The job without what it shares with its assignment's other jobs, and that shared part."""
    shared = Shared(**_shared_fields(job))
    return replace(job, source_files={}, config_files={}, gradebook_template=""), shared


def _shared_fields(of) -> dict:
    return {f.name: getattr(of, f.name) for f in fields(Shared)}


@dataclass
class WorkerAnswer:
    """What a worker sends back: its address and digest, why it refused (or ""), the result."""

    worker: str
    digest: str
    refused: str = ""
    result: GradingResult | None = None


def grade_on_worker(job: GradingJob, shared: Shared, expected: str, timeout: float) -> WorkerAnswer:
    """The Dask task: refuse the job (wrong digest, no sandbox), else grade it in a fresh grading
    process of this worker's."""
    from distributed import get_worker

    from .autograde import run_job_subprocess

    address = get_worker().address
    why = refusal(expected, job.sandbox, job.course_root, job.limits)
    if why:
        return WorkerAnswer(address, grading_digest(), refused=why)
    whole = replace(job, **_shared_fields(shared))
    return WorkerAnswer(address, grading_digest(), result=run_job_subprocess(whole, timeout))


# --- the parent's side ---------------------------------------------------------------------

def checked(job: GradingJob, answer: WorkerAnswer, expected: str) -> GradingResult:
    """The result to record from a worker's answer: a grader failure unless the worker grades with
    the expected digest, accepted the job and, where the job asks for one, used a sandbox."""
    if answer.digest != expected or answer.result is None:
        return GradingResult.failed(job, f"the Dask worker {answer.worker} refused the job: "
                                         f"{answer.refused or 'it answered with another digest'}", Outcome.GRADER)
    result = answer.result
    if job.sandbox and result.outcome is Outcome.GRADED and not result.sandboxed:
        return GradingResult.failed(job, f"the Dask worker {answer.worker} graded without a sandbox",
                                    Outcome.GRADER)
    return result


def security(certs: Path | str | None, shared: bool = False):
    """The client's `distributed.Security` from a `dlcourse dask-certs` folder (TLS required);
    `shared`: the scheduler's and workers' too (a LocalCluster's, all in this process's hands)."""
    from distributed import Security

    folder = Path(certs)
    missing = [name for name in ("ca.pem", "client.pem", "client-key.pem") if not (folder / name).is_file()]
    if missing:
        raise DaskSetupError(f"{folder} lacks {', '.join(missing)}: make the certificates with "
                             f"`dlcourse dask-certs {folder}`")
    def pem(name: str) -> str:  # a LocalCluster's: the contents, which outlive its temporary folder
        return (folder / name).read_text() if shared else str(folder / name)

    roles = ("client", "scheduler", "worker") if shared else ("client",)
    pairs = {f"tls_{role}_{kind}": pem(f"{role}{suffix}") for role in roles
             for kind, suffix in (("cert", ".pem"), ("key", "-key.pem"))}
    return Security(tls_ca_file=pem("ca.pem"), require_encryption=True, **pairs)


def check_address(address: str | None, certs: Path | str | None) -> None:
    """A scheduler is reached over TLS with the course's certificates, never plain TCP: the jobs
    carry solutions and hidden tests."""
    if address and not address.startswith("tls://"):
        raise DaskSetupError(f"--dask {address}: the jobs carry solutions and hidden tests, so the grader "
                             "talks to a scheduler over TLS only: give tls://host:port and --dask-certs DIR")
    if address and not certs:
        raise DaskSetupError(f"--dask {address} needs --dask-certs DIR (made by `dlcourse dask-certs DIR`)")


def wants_gpu(job: GradingJob) -> bool:
    return bool((job.limits or {}).get("gpu"))


def gpu_resources(job: GradingJob) -> dict[str, int] | None:
    """The Dask resources a job's task asks for: exactly one GPU when SANDBOX["gpu"] is on, never
    more (the job's settings cannot ask for two), none otherwise."""
    return {"GPU": 1} if wants_gpu(job) else None


# jobs every worker refused, and why -> (job, result) for each: `autograde.local_fallback`
Fallback = Callable[[list[GradingJob], str], Iterator[tuple[GradingJob, GradingResult]]]


class DaskRunner:
    """Fan jobs out over a Dask cluster (a LocalCluster with temporary TLS certificates when no
    address is given); see the module's docstring for what a worker must show first."""

    def __init__(self, address: str | None, workers: int, timeout: float, certs: Path | str | None = None,
                 fallback: Fallback | None = None):
        check_address(address, certs)
        if address:
            security(certs)  # the certificates checked before anything is graded
        self.address, self.local_workers, self.timeout, self.certs = address, max(1, workers), timeout, certs
        self.expected = grading_digest()
        self.refused: dict[str, str] = {}  # worker address -> why it refused
        # the jobs every worker refused, and why: graded here (autograde.local_fallback) or reported
        self.fallback = fallback

    def __call__(self, jobs: list[GradingJob]) -> Iterator[tuple[GradingJob, GradingResult]]:
        client, cluster = self._connect(gpu=any(wants_gpu(job) for job in jobs))
        try:
            yield from self._grade(client, jobs)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()

    def _connect(self, gpu: bool = False):
        from distributed import Client, LocalCluster

        from .gpu import gpu_indices

        if self.address:
            return Client(self.address, security=security(self.certs)), None
        with tempfile.TemporaryDirectory(prefix="dlcourse-local-certs-") as tmp:  # read once, at start-up
            make_certs(Path(tmp), days=2)
            local = security(tmp, shared=True)
            # SANDBOX["gpu"]: one local worker per GPU (at most), each with the resource GPU=1
            gpus = len(gpu_indices()) if gpu else 0
            extra = {"resources": {"GPU": 1}} if gpus else {}
            workers = min(self.local_workers, gpus) if gpus else self.local_workers
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, **extra,
                                   protocol="tls", security=local, host="127.0.0.1", dashboard_address=None,
                                   # the scheduler's HTTP routes (health, metrics) on loopback, no dashboard
                                   scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})
            return Client(cluster, security=local), cluster

    def _grade(self, client, jobs: list[GradingJob]) -> Iterator[tuple[GradingJob, GradingResult]]:
        from distributed import as_completed

        self._ask_workers(client, jobs)
        shared: dict[str, object] = {}
        pending = as_completed()
        futures = {}
        nowhere: list[GradingJob] = []  # jobs every worker refused
        for job in jobs:
            future = self._submit(client, job, shared)
            if future is None:
                nowhere.append(job)
            else:
                futures[future] = job
                pending.add(future)
        for future in pending:
            job = futures.pop(future)
            try:
                answer = future.result()
            except Exception as exc:  # noqa: BLE001 (a lost worker costs one retry-able result, not the run)
                yield job, GradingResult.failed(job, f"the Dask task failed: {exc}", Outcome.GRADER)
                continue
            if answer.refused:  # a worker that refused once refuses every job: it gets no more
                self._refuse(answer.worker, answer.refused)
                again = self._submit(client, job, shared)
                if again is not None:
                    futures[again] = job
                    pending.add(again)
                else:
                    nowhere.append(job)
                continue
            yield job, checked(job, answer, self.expected)
        if nowhere:
            yield from self._elsewhere(nowhere)

    def _ask_workers(self, client, jobs: list[GradingJob]) -> None:
        """Ask every worker, before any job is sent, whether it would refuse one (its sandbox
        checked with the course's limits, as the preflight checks this machine's)."""
        if not jobs:
            return
        first = next((job for job in jobs if job.sandbox), jobs[0])
        for worker, why in client.run(refusal_off_loop, self.expected, first.sandbox, first.course_root,
                                      first.limits, on_error="return").items():
            if isinstance(why, BaseException):  # a worker too old to know the question
                why = f"it cannot say what it grades with ({type(why).__name__}: {why})"
            if why:
                self._refuse(worker, why)

    def _refuse(self, worker: str, why: str) -> None:
        if worker not in self.refused:
            logger.warning("the Dask worker %s refuses to grade: %s", worker, why)
        self.refused[worker] = why

    def _submit(self, client, job: GradingJob, shared: dict):
        """The job's task, on a worker that has not refused; None when none is left."""
        accepting = [w for w in client.scheduler_info(n_workers=-1)["workers"] if w not in self.refused]
        if not accepting:
            return None
        slim, data = split_shared(job)
        if job.assignment not in shared:
            shared[job.assignment] = client.scatter(data, broadcast=True, workers=accepting, hash=False)
        # SANDBOX["gpu"]: the task holds one GPU while it runs (a worker started with
        # `--resources GPU=1`, one per GPU); on one machine the lock per GPU (sandbox.claim_gpu) holds too
        return client.submit(grade_on_worker, slim, shared[job.assignment], self.expected,
                             float(job.timeout or self.timeout), pure=False, workers=accepting,
                             allow_other_workers=False, resources=gpu_resources(job))

    def reasons(self) -> str:
        """Why the workers refused, each ("the cluster has no worker" when there is none)."""
        said = "; ".join(f"{worker}: {why}" for worker, why in sorted(self.refused.items()))
        return said or "the cluster has no worker"

    def _elsewhere(self, jobs: list[GradingJob]) -> Iterator[tuple[GradingJob, GradingResult]]:
        """The jobs every worker refused: to the fallback (graded on this machine when its own
        preflight passes), else reported, never recorded."""
        if self.fallback is not None:
            yield from self.fallback(jobs, self.reasons())
            return
        for job in jobs:
            yield job, self._nowhere(job)

    def _nowhere(self, job: GradingJob) -> GradingResult:
        return GradingResult.failed(job, f"no Dask worker can grade it ({self.reasons()})", Outcome.GRADER)


# --- certificates --------------------------------------------------------------------------

def make_certs(folder: Path, days: int = 365) -> list[Path]:
    """A CA of the course's own and a certificate and key signed by it for the scheduler, the
    workers and the client (`dlcourse dask-certs DIR`), made with the `openssl` command. The CA's
    key is not kept: to add a machine, copy the folder's files; to renew or revoke, make a new folder."""
    openssl = shutil.which("openssl")
    if not openssl:
        raise DaskSetupError("the `openssl` command is needed to make the certificates (apt install openssl)")
    ec_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dlcourse-certs-") as tmp:
        work = Path(tmp)
        _openssl(openssl, "req", "-x509", *ec_key, "-keyout", work / "ca-key.pem", "-out", work / "ca.pem",
                 "-days", str(days), "-subj", f"{SUBJECT}/CN=dlcourse grading CA",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        (work / "leaf.ext").write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                                       "extendedKeyUsage=serverAuth,clientAuth\n")
        for role in ROLES:
            _openssl(openssl, "req", *ec_key, "-keyout", work / f"{role}-key.pem", "-out", work / f"{role}.csr",
                     "-subj", f"{SUBJECT}/CN=dlcourse {role}")
            _openssl(openssl, "x509", "-req", "-in", work / f"{role}.csr", "-CA", work / "ca.pem", "-CAkey",
                     work / "ca-key.pem", "-set_serial", str(secrets.randbits(63)), "-days", str(days),
                     "-extfile", work / "leaf.ext", "-out", work / f"{role}.pem")
        written = [_write(folder / "ca.pem", (work / "ca.pem").read_bytes(), 0o644)]
        for role in ROLES:
            written.append(_write(folder / f"{role}.pem", (work / f"{role}.pem").read_bytes(), 0o644))
            written.append(_write(folder / f"{role}-key.pem", (work / f"{role}-key.pem").read_bytes(), 0o600))
    return written


def _openssl(*args) -> None:
    run = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if run.returncode != 0:
        raise DaskSetupError(f"openssl {args[1]} failed: {run.stderr.strip()[-300:]}")


def _write(path: Path, data: bytes, mode: int) -> Path:
    if path.is_symlink() or path.exists():
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path
