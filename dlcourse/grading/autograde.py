"""`dlcourse autograde`: grade a class, keep every grade, report.

Each submission is graded by `dlcourse.grading.worker` in its own process (or Dask
task) in a scratch course with its own gradebook. Results come back to this process,
which alone writes the class gradebook, one submission per transaction, so parallel
grading never loses or duplicates a row. A marker beside each autograded notebook
records the digest of what was graded: a rerun skips unchanged submissions (unless
forced) and a run killed half-way resumes where it stopped.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..config import load_settings
from .course import CourseError, default_db_url, ensure_tools_on_path, resolve_assignments
from .execute import kernel_env
from .protocol import Marker, Outcome, grader_version
from .release import register
from .worker import RefusedSubmission, pack_files, scan_folder, unjudged_sources

logger = logging.getLogger(__name__)
LOG_CHARS = 64 * 1024  # the tail of a job's log kept beside its marker
LOG_NAME = ".dlcourse-grading.log"

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$")
MARKER = ".dlcourse-graded.json"


@dataclass
class RunSummary:
    graded: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    errors: dict[str, str] = field(default_factory=dict)
    grader_failures: int = 0  # of `failed`: the grader's fault, graded again on the next run

    def line(self) -> str:
        grader = f" ({self.grader_failures} by the grader: retried next run)" if self.grader_failures else ""
        return (f"graded {self.graded}, failed {self.failed}{grader}, skipped {self.skipped} "
                f"(unchanged), {self.seconds:.1f} s")


def submissions(root: Path, assignment: str, student: str | None = None) -> list[str]:
    base = root / "submitted"
    if not base.is_dir():
        raise CourseError(f"no submitted/ folder in {root}: put submissions in "
                          "submitted/<student>/<assignment>/")
    found = sorted(p.parent.name for p in base.glob(f"*/{assignment}") if p.is_dir())
    bad = [s for s in found if not STUDENT_ID.match(s)]
    if bad:
        raise CourseError(f"student ids must be letters, digits and _.@+-: {bad}")
    if student is not None:
        if student not in found:
            raise CourseError(f"no submission of {assignment} by {student!r} in submitted/")
        return [student]
    return found


def digest(job: dict) -> str:
    """What grading this job depends on: the source notebooks, the submission, what intake
    found, the grader's version and the limits (changing any of them regrades)."""
    h = hashlib.sha256()
    h.update(grader_version().encode())
    h.update(json.dumps([job.get("limits"), job.get("notebook_timeout")], sort_keys=True, default=str).encode())
    for part in ("source_files", "submission_files"):  # not course_root: jobs may move
        for rel, data in sorted(job[part].items()):
            h.update(rel.encode("utf-8", "backslashreplace"))
            h.update(data.encode())
    for note in job.get("intake_notices", []):  # a link removed since changes the grade
        h.update(note.encode("utf-8", "backslashreplace"))
    if job.get("refused"):
        h.update(job["refused"].encode("utf-8", "backslashreplace"))
    return h.hexdigest()


def job_timeout(settings, notebooks: int = 1) -> float:
    """Wall-clock seconds one job may take on any path: each notebook's budget, plus start-up,
    the judge and the held-out scoring."""
    return settings.notebook_timeout * max(1, notebooks) + settings.cell_timeout + 300


def make_job(root: Path, assignment: str, student: str, sandbox: bool = True) -> dict:
    """The job of one submission. The submission is read without following any link: a link
    in place of the student's folder (or above it) refuses it, a link, FIFO or device inside it
    is left out with a notice."""
    sub = root / "submitted" / student / assignment
    settings = load_settings(root)
    source_files = pack_files(root / "source" / assignment)
    job = {
        "assignment": assignment,
        "student": student,
        "source_files": source_files,
        "submission_files": {},
        "timestamp": None,
        "sandbox": sandbox,
        "course_root": str(root.resolve()),
        "limits": settings.sandbox,
        "course_id": settings.course_id,
        "notebook_timeout": settings.notebook_timeout,
        "timeout": job_timeout(settings, sum(1 for rel in source_files if rel.endswith(".ipynb"))),
    }
    try:
        for folder in (root / "submitted" / student, sub):
            if folder.is_symlink():
                raise RefusedSubmission(f"submitted/{folder.relative_to(root / 'submitted')} is a symbolic link, "
                                        "not a folder: the submission was refused and nothing was graded")
        files, notes = scan_folder(sub)
    except ValueError as exc:  # a link in place of the folder, too many files or bytes: 0, with the reason
        files, notes = {}, []
        job["refused"] = str(exc) if isinstance(exc, RefusedSubmission) else f"the submission was refused: {exc}"
    timestamp = files.pop("timestamp.txt", None)
    if timestamp is not None:
        job["timestamp"] = base64.b64decode(timestamp).decode("utf-8", "replace").strip()[:100] or None
    job["submission_files"] = files
    job["intake_notices"] = notes
    job["digest"] = digest(job)
    return job


def run_job_subprocess(job: dict, timeout: float) -> dict:
    """Grade one job in a fresh interpreter; a hang or crash becomes an error result."""
    env = kernel_env()
    with tempfile.TemporaryFile() as result_file:
        fd = result_file.fileno()
        proc = subprocess.Popen([sys.executable, "-m", "dlcourse.grading.worker", "--result-fd", str(fd)],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env=env, text=True, start_new_session=True, pass_fds=(fd,))
        try:
            _, err = proc.communicate(json.dumps(job), timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return _error_result(job, f"grading took longer than {timeout:.0f} s and was stopped",
                                 Outcome.SUBMISSION)
        result_file.seek(0)
        out = result_file.read().decode()
    try:
        result = json.loads(out)
        result["log"] = err[-LOG_CHARS:]
        return result
    except json.JSONDecodeError:
        tail = "\n".join(err.strip().splitlines()[-5:])
        return _error_result(job, f"the grading process died (exit {proc.returncode}): {tail}", Outcome.GRADER)


def _error_result(job: dict, message: str, outcome: Outcome) -> dict:
    return {"assignment": job["assignment"], "student": job["student"], "ok": False,
            "error": message, "notebooks": {}, "seconds": 0.0, "outcome": outcome.value}


def outcome_of(result: dict) -> Outcome:
    """The result's outcome (a result without one, from an older worker: graded if it is ok)."""
    try:
        return Outcome(result["outcome"])
    except (KeyError, ValueError):
        return Outcome.GRADED if result.get("ok") else Outcome.GRADER


def _own_dir(root: Path, *parts: str) -> Path:
    """root/parts..., made by the grader: a link in its way is removed, never followed."""
    folder = root
    for part in parts:
        folder = folder / part
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            folder.unlink()
        folder.mkdir(exist_ok=True)
    return folder


def _write_own(path: Path, data: bytes) -> None:
    """Write a file of the grader's: a fresh file renamed over the old one (a link there is replaced)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def save_result(root: Path, db_url: str, job: dict, result: dict) -> None:
    """Write one graded submission: autograded notebooks, gradebook rows, then the marker.

    Only the assignment's notebooks are saved (any other is noted, never fatal to the batch)."""
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.preprocessors import SaveAutoGrades

    assignment, student = job["assignment"], job["student"]
    out_dir = _own_dir(root, "autograded", student, assignment)
    course_id = load_settings(root).course_id
    notices = list(result.get("notices", []))
    with warnings.catch_warnings(), Gradebook(db_url, course_id) as gb:
        warnings.simplefilter("ignore")  # nbgrader's own SQLAlchemy autoflush warnings
        known = {nb.name for nb in gb.find_assignment(assignment).notebooks}
        gb.update_or_create_student(student)
        kwargs = {"timestamp": job["timestamp"]} if job.get("timestamp") else {}
        submission = gb.update_or_create_submission(assignment, student, **kwargs)
        if not result["notebooks"]:  # nothing could be graded: every test scores 0
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    grade.auto_score = 0.0
                    grade.needs_manual_grade = False
            gb.db.commit()
    saved = {}
    for name, entry in result["notebooks"].items():
        if name not in known:
            notices.append(f"{name}.ipynb is not part of the assignment and was not graded")
            continue
        nb = nbformat.reads(entry["notebook"], as_version=4)
        _write_own(out_dir / f"{name}.ipynb", nbformat.writes(nb).encode())
        resources = {"nbgrader": {"notebook": name, "assignment": assignment, "student": student,
                                  "db_url": db_url}}
        try:
            SaveAutoGrades().preprocess(nb, resources)
        except MissingEntry as exc:  # a cell the gradebook does not know: the rest is still saved
            notices.append(f"{name}.ipynb: a grade could not be saved ({exc})")
        saved[name] = entry
    for entry in saved.values():
        notices += entry.get("notices", [])
    marker = Marker(digest=job["digest"], outcome=outcome_of(result), ok=result["ok"], error=result["error"],
                    seconds=result["seconds"], notices=notices, grader=grader_version(),
                    results={name: entry["results"] for name, entry in saved.items()})
    _write_own(out_dir / MARKER, marker.to_json().encode())
    _write_own(out_dir / LOG_NAME, str(result.get("log") or "")[-LOG_CHARS:].encode())
    logger.info("%s/%s: %s in %.1f s%s", student, assignment, marker.outcome.value, marker.seconds,
                f" ({marker.error.splitlines()[0]})" if marker.error else "")


def read_marker(root: Path, student: str, assignment: str) -> Marker | None:
    """What the last grading of a submission recorded (digest, outcome, error, notices, results), if any."""
    try:
        data = json.loads((root / "autograded" / student / assignment / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return Marker.from_dict(data)


def is_current(root: Path, job: dict) -> bool:
    """A rerun skips the job: graded before with the same digest, and not a grader failure."""
    marker = read_marker(root, job["student"], job["assignment"])
    return marker is not None and marker.current_for(job["digest"])


def gradebook_template(root: Path, assignment: str) -> str:
    """A scratch gradebook that already knows the assignment (base64), so that a worker
    need not run generate_assignment and the database migrations for every submission."""
    with tempfile.TemporaryDirectory(prefix="dlcourse-template-") as tmp:
        path = Path(tmp) / "gradebook.db"
        register(root, assignment, f"sqlite:///{path}")
        return base64.b64encode(path.read_bytes()).decode()


Runner = Callable[[list[dict]], Iterator[tuple[dict, dict]]]


class JobTimeout(Exception):
    pass


def _grade_in_pool(job: dict, timeout: float | None = None) -> dict:
    """Grade a job in a pool process, within its time limit (SIGALRM; the parent kills the
    process if even that does not stop it)."""
    from .worker import grade

    start = _stderr_offset()
    limit = int(job.get("timeout") or timeout or 0)
    if not limit:
        return _with_log(grade(job), start)

    def stop(signum, frame):
        raise JobTimeout(f"grading took longer than {limit} s and was stopped")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(limit)
    try:
        result = grade(job)
    except JobTimeout as exc:
        result = _error_result(job, str(exc), Outcome.SUBMISSION)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    if "JobTimeout" in result.get("error", ""):
        result["error"] = f"grading took longer than {limit} s and was stopped"
    return _with_log(result, start)


def _stderr_offset() -> int:
    try:
        return os.lseek(2, 0, os.SEEK_END)
    except OSError:  # a terminal or a pipe: nothing to read back
        return -1


def _with_log(result: dict, start: int) -> dict:
    """The job's log: what this pool process (its kernels included) wrote to stderr meanwhile."""
    if start >= 0:
        end = os.lseek(2, 0, os.SEEK_END)
        size = min(end - start, LOG_CHARS)
        result["log"] = os.pread(2, size, end - size).decode("utf-8", "replace") if size > 0 else ""
    return result


def _warm_up() -> None:
    """Import the heavy modules once per pool process, while the parent prepares the jobs.

    The process's stderr (and so its kernels') goes to a file of its own, never the terminal
    (kernel start-up chatter would bury the progress bar): each job's part of it is returned
    as the job's log and kept beside its marker.
    """
    handle, path = tempfile.mkstemp(prefix="dlcourse-worker-", suffix=".log")
    log_fd = os.open(path, os.O_RDWR | os.O_APPEND)
    os.close(handle)
    os.unlink(path)  # nobody else reads it; it goes with the process
    os.dup2(log_fd, 2)
    os.close(log_fd)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", force=True)
    import nbclient  # noqa: F401
    import nbgrader.apps  # noqa: F401

    from . import worker  # noqa: F401


def start_pool(workers: int):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=max(1, workers), mp_context=multiprocessing.get_context("forkserver"),
                               initializer=_warm_up)
    for _ in range(max(1, workers)):
        pool.submit(int)  # start the processes now
    return pool


def local_runner(pool, workers: int, timeout: float) -> Runner:
    """Grade jobs in a pool of long-lived processes (each submission still gets a fresh,
    sandboxed kernel); yield (job, result) as they finish. A job whose process dies is
    graded again alone in a fresh subprocess, so it cannot take others down with it."""

    def run(jobs: list[dict]) -> Iterator[tuple[dict, dict]]:
        from concurrent.futures.process import BrokenProcessPool

        retry: list[dict] = []
        pending: dict[Future, dict] = {}
        running_since: dict[Future, float] = {}
        for j in jobs:
            try:
                pending[pool.submit(_grade_in_pool, j, timeout)] = j
            except BrokenProcessPool:
                retry.append(j)
        while pending:
            done, _ = wait(pending, timeout=5, return_when=FIRST_COMPLETED)
            for fut in done:
                job = pending.pop(fut)
                running_since.pop(fut, None)
                try:
                    yield job, fut.result()
                except BrokenProcessPool:
                    if not job.get("_overdue"):
                        retry.append(job)
                    else:
                        yield job, _error_result(job, job.pop("_overdue"), Outcome.SUBMISSION)
            now = time.monotonic()
            for fut in pending:
                if fut.running():
                    running_since.setdefault(fut, now)
            # the pool's own alarm stops an overdue job; a process that ignores it is killed
            # (its pool breaks: the other jobs are graded again, each in a fresh subprocess)
            overdue = [f for f, t in running_since.items() if f in pending
                       and now - t > 2 * float(pending[f].get("timeout") or timeout) + 60]
            if overdue:
                for fut in overdue:
                    limit = float(pending[fut].get("timeout") or timeout)
                    pending[fut]["_overdue"] = f"grading took longer than {limit:.0f} s and was stopped"
                for proc in list(getattr(pool, "_processes", {}).values()):
                    proc.kill()
        with ThreadPoolExecutor(max_workers=max(1, workers)) as threads:
            runs = threads.map(lambda j: run_job_subprocess(j, float(j.get("timeout") or timeout)), retry)
            for job, result in zip(retry, runs, strict=True):
                yield job, result

    return run


def dask_runner(address: str | None, workers: int, timeout: float) -> Runner:
    """Fan jobs out over a Dask cluster (a LocalCluster when no address is given)."""

    def run(jobs: list[dict]) -> Iterator[tuple[dict, dict]]:
        from dask.distributed import Client, LocalCluster, as_completed

        cluster = None
        if address:
            client = Client(address)
        else:
            cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            client = Client(cluster)
        try:
            futures = {client.submit(run_job_subprocess, j, float(j.get("timeout") or timeout), pure=False): j
                       for j in jobs}
            for fut in as_completed(futures):
                job = futures[fut]
                try:
                    yield job, fut.result()
                except Exception as exc:  # a lost worker costs one retry-able result, not the run
                    yield job, _error_result(job, f"the Dask task failed: {exc}", Outcome.GRADER)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()

    return run


def autograde(root: Path, assignment: str | None = None, *, db_url: str | None = None,
              student: str | None = None, force: bool = False, workers: int | None = None,
              scheduler: str | None = None, use_dask: bool = False, sandbox: bool = True,
              progress: bool = True, log=print) -> dict[str, RunSummary]:
    """Grade every (or one student's) submission of each assignment; returns a summary each."""
    ensure_tools_on_path()
    for key, value in kernel_env().items():  # inherited by pool processes and kernels
        os.environ.setdefault(key, value)
    db_url = db_url or default_db_url(root)
    workers = workers or os.cpu_count() or 1
    if workers > 1:  # one core per grading kernel: no BLAS/OpenMP oversubscription
        for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(key, "1")
    settings = load_settings(root)
    timeout = job_timeout(settings)  # each job carries its own (per its notebooks); this is the default
    summaries: dict[str, RunSummary] = {}
    names = resolve_assignments(root, assignment)
    use_dask = bool(scheduler or use_dask)
    pool: dict = {}  # the local pool, started when the first job needs it
    try:
        for name in names:
            _grade_assignment(root, name, db_url, student, force, workers, scheduler, use_dask, sandbox,
                              progress, log, timeout, pool, summaries)
    finally:
        if "pool" in pool:
            pool["pool"].shutdown(wait=False, cancel_futures=True)
    return summaries


def _grade_assignment(root, name, db_url, student, force, workers, scheduler, use_dask, sandbox, progress, log,
                      timeout, pool, summaries) -> None:
    """Grade one assignment's submissions into the class gradebook (see `autograde`)."""
    try:  # checked once here, before anyone is graded (the worker checks again)
        unjudged_sources({p.stem: nbformat.read(p, as_version=4) for p in (root / "source" / name).glob("*.ipynb")})
    except RuntimeError as exc:
        raise CourseError(str(exc)) from None
    students = submissions(root, name, student)
    summary = RunSummary()
    summaries[name] = summary
    if not students:
        log(f"{name}: no submissions in submitted/*/{name}/")
        return
    started = time.time()
    jobs, refused = [], []
    for s in students:
        try:
            job = make_job(root, name, s, sandbox=sandbox)
        except ValueError as exc:
            summary.failed += 1
            summary.errors[s] = str(exc)
            continue
        if not force and is_current(root, job):
            summary.skipped += 1
            logger.info("%s/%s: unchanged since it was graded, skipped", s, name)
        elif job.get("refused"):  # graded 0 with the reason, never run
            refused.append((job, _error_result(job, job["refused"], Outcome.SUBMISSION)))
        else:
            jobs.append(job)
    if jobs or refused:  # generating the assignment takes seconds: only when something is graded
        register(root, name, db_url)
    if jobs:
        template = gradebook_template(root, name)
        for job in jobs:
            job["gradebook_template"] = template
        if not use_dask and "pool" not in pool:  # started once, for the first assignment that needs it
            pool["pool"] = start_pool(workers)
    logger.info("%s: %d to grade, %d refused, %d unchanged", name, len(jobs), len(refused), summary.skipped)
    runner = (dask_runner(scheduler, workers, timeout) if use_dask
              else local_runner(pool.get("pool"), workers, timeout))
    bar = _progress(len(jobs), name, progress)
    for job, result in itertools.chain(refused, runner(jobs)):
        save_result(root, db_url, job, result)
        if result["ok"]:
            summary.graded += 1
        else:
            summary.failed += 1
            summary.errors[job["student"]] = result["error"]
            if outcome_of(result) is Outcome.GRADER:
                summary.grader_failures += 1
        bar.update(1)
    bar.close()
    summary.seconds = time.time() - started
    log(f"{name}: {summary.line()}")
    for s, err in summary.errors.items():
        log(f"  {s}: {err.splitlines()[0] if err else 'failed'}")


def _progress(total: int, name: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=f"grading {name}", unit="nb", disable=not enabled or total == 0,
                file=sys.stderr)
