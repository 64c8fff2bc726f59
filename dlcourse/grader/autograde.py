"""`dlcourse autograde`: grade a class, keep every grade, report.

Each submission is graded by `dlcourse.grader.worker` in its own process (or Dask
task) in a scratch course with its own gradebook. Results come back to this process,
which alone writes the class gradebook, one submission per transaction, so parallel
grading never loses or duplicates a row. A marker beside each autograded notebook
records the digest of what was graded: a rerun skips unchanged submissions (unless
forced) and a run killed half-way resumes where it stopped.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import itertools
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .. import cells
from ..cells import is_slow
from ..classroom.deadlines import sync_gradebook
from ..classroom.release import register
from ..course import STUDENT_ID, Course, CourseError, ensure_tools_on_path
from .cluster import DaskRunner
from .execute import kernel_env
from .protocol import GradingJob, GradingResult, Marker, Outcome, grader_version
from .worker import RefusedSubmission, pack_files, scan_folder, unjudged_sources

logger = logging.getLogger(__name__)
LOG_CHARS = 64 * 1024  # the tail of a job's log kept beside its marker
LOG_NAME = ".dlcourse-grading.log"

MARKER = ".dlcourse-graded.json"


@dataclass
class RunSummary:
    graded: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0  # the submissions' grading time, added up (the run's wall time is said once)
    errors: dict[str, str] = field(default_factory=dict)
    grader_failures: int = 0  # of `failed`: the grader's fault, graded again on the next run

    def line(self) -> str:
        grader = f" ({self.grader_failures} by the grader: retried next run)" if self.grader_failures else ""
        return (f"graded {self.graded}, failed {self.failed}{grader}, skipped {self.skipped} "
                f"(unchanged), {self.seconds:.1f} s of grading")


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


def digest(job: GradingJob) -> str:
    """What grading this job depends on: the source notebooks, the submission, what intake
    found, the grader's version, the limits and the sandbox (changing any of them regrades)."""
    h = hashlib.sha256()
    h.update(grader_version().encode())
    h.update(json.dumps([job.limits, job.notebook_timeout, job.sandbox], sort_keys=True, default=str).encode())
    for files in (job.source_files, job.submission_files):  # not course_root: jobs may move
        for rel, data in sorted(files.items()):
            h.update(rel.encode("utf-8", "backslashreplace"))
            h.update(data.encode())
    for note in job.intake_notices:  # a link removed since changes the grade
        h.update(note.encode("utf-8", "backslashreplace"))
    if job.refused:
        h.update(job.refused.encode("utf-8", "backslashreplace"))
    return h.hexdigest()


def job_timeout(settings, notebooks: int = 1) -> float:
    """Wall-clock seconds one job may take on any path: each notebook's budget, plus start-up,
    the judge and the held-out scoring."""
    return settings.notebook_timeout * max(1, notebooks) + settings.cell_timeout + 300


def make_job(course: Course | Path, assignment: str, student: str, sandbox: bool = True) -> GradingJob:
    """The job of one submission. The submission is read without following any link: a link
    in place of the student's folder (or above it) refuses it, a link, FIFO or device inside it
    is left out with a notice."""
    course = Course.at(course)
    root, settings = course.root, course.settings
    source_files = pack_files(root / "source" / assignment)
    config_files = {name: base64.b64encode((root / name).read_bytes()).decode()
                    for name in ("grader_config.py", "nbgrader_config.py") if (root / name).is_file()}
    job = GradingJob(assignment, student, source_files=source_files, config_files=config_files, sandbox=sandbox,
                     course_root=str(root.resolve()), course_id=settings.course_id, limits=dict(settings.sandbox),
                     notebook_timeout=settings.notebook_timeout,
                     timeout=job_timeout(settings, sum(1 for rel in source_files if rel.endswith(".ipynb"))))
    files, notes, refused = read_submission(root, student, assignment)
    if refused:
        job.refused = refused
    timestamp = files.pop("timestamp.txt", None)
    if timestamp is not None:
        job.timestamp = base64.b64decode(timestamp).decode("utf-8", "replace").strip()[:100] or None
    job.submission_files = files
    job.intake_notices = notes
    job.digest = digest(job)
    return job


class WorkerProcess:
    """One grading process (`python -m dlcourse.grader.worker --serve`), kept for many jobs so
    that nbgrader, the kernel machinery and the judge's modules are imported once.

    Jobs go in on its stdin, one result line comes back per job on a pipe of its own. Its stderr
    (its kernels' too) goes to a file of the parent's: each job's slice of it is the job's log.
    A job past its time limit, or a process that dies, costs that job alone: the process (its
    session, and with it every sandbox, which dies with its parent) is killed, and the next job
    gets a fresh one.
    """

    def __init__(self, extra_env: dict[str, str] | None = None):
        self.log = tempfile.TemporaryFile()
        # an empty folder of its own as the working folder, which `python -m` puts first on the path
        self.home = tempfile.TemporaryDirectory(prefix="dlcourse-worker-")
        read_fd, write_fd = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dlcourse.grader.worker", "--serve", "--result-fd", str(write_fd)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self.log,
            env={**kernel_env(), **(extra_env or {})},
            start_new_session=True, pass_fds=(write_fd,), cwd=self.home.name)
        os.close(write_fd)
        self.results = os.fdopen(read_fd, "rb")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def grade(self, job: GradingJob, timeout: float) -> GradingResult:
        import selectors

        start = os.fstat(self.log.fileno()).st_size
        try:
            self.proc.stdin.write(job.to_json().encode() + b"\n")
            self.proc.stdin.flush()
        except OSError:  # it died before this job
            pass
        with selectors.DefaultSelector() as sel:
            sel.register(self.results, selectors.EVENT_READ)
            ready = sel.select(timeout)
        if not ready:
            self.close()
            result = GradingResult.failed(job, f"grading took longer than {timeout:.0f} s and was stopped",
                                          Outcome.SUBMISSION)
        else:
            line = self.results.readline()
            try:
                result = GradingResult.from_dict(json.loads(line))
            except ValueError:  # nothing, or a line cut short: the process died
                self.close()
                tail = "\n".join(self._log_since(start).strip().splitlines()[-5:])
                result = GradingResult.failed(job, f"the grading process died (exit {self.proc.returncode}): "
                                                   f"{tail}", Outcome.GRADER)
        result.log = self._log_since(start)
        return result

    def _log_since(self, start: int) -> str:
        end = os.fstat(self.log.fileno()).st_size
        size = min(end - start, LOG_CHARS)
        return os.pread(self.log.fileno(), size, end - size).decode("utf-8", "replace") if size > 0 else ""

    def close(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        self.home.cleanup()


def run_job_subprocess(job: GradingJob, timeout: float) -> GradingResult:
    """Grade one job in a fresh grading process (a Dask task's way, and the benchmark's)."""
    worker = WorkerProcess()
    try:
        return worker.grade(job, timeout)
    finally:
        worker.close()


class LocalRunner:
    """Grade jobs on this machine: `workers` grading processes (`WorkerProcess`), each fed one
    job at a time by a thread of this process, kept across assignments and closed at the end."""

    def __init__(self, workers: int, timeout: float):
        self.workers = max(1, workers)
        self.timeout = timeout
        self.processes: list[WorkerProcess] = []
        # several jobs at once: one core per grading kernel, no BLAS/OpenMP oversubscription (set in the
        # grading processes' environment, never in the caller's)
        self.extra_env = ({key: os.environ.get(key, "1") for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                                      "MKL_NUM_THREADS")}
                          if self.workers > 1 else {})

    def __call__(self, jobs: list[GradingJob]) -> Iterator[tuple[GradingJob, GradingResult]]:
        import queue
        import threading

        todo: queue.Queue = queue.Queue()
        for job in jobs:
            todo.put(job)
        done: queue.Queue = queue.Queue()
        self.warm(len(jobs))

        def feed(slot: int) -> None:
            while True:
                try:
                    job = todo.get_nowait()
                except queue.Empty:
                    return
                if not self.processes[slot].alive():
                    self.processes[slot] = WorkerProcess(self.extra_env)
                try:
                    result = self.processes[slot].grade(job, float(job.timeout or self.timeout))
                except Exception as exc:  # noqa: BLE001 (the runner's own failure: this job is retried)
                    result = GradingResult.failed(job, f"the runner failed: {type(exc).__name__}: {exc}",
                                                  Outcome.GRADER)
                done.put((job, result))

        threads = [threading.Thread(target=feed, args=(slot,), daemon=True) for slot in range(len(self.processes))]
        for thread in threads:
            thread.start()
        for _ in jobs:
            yield done.get()

    def warm(self, jobs: int) -> None:
        """Start the processes `jobs` jobs will use, so that they import while the parent prepares."""
        while len(self.processes) < min(self.workers, jobs):
            self.processes.append(WorkerProcess(self.extra_env))

    def close(self) -> None:
        for worker in self.processes:
            worker.close()
        self.processes = []


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


def save_result(course: Course | Path, db_url: str, job: GradingJob, result: GradingResult) -> GradingResult:
    """Write one graded submission: autograded notebooks, gradebook rows, then the marker.

    Only the assignment's notebooks are saved (any other is noted, never fatal to the batch).
    A failure of the grader's own records nothing, not even a 0 or a marker: whatever an earlier
    grading saved stays until the next run grades it again. The gradebook rows are one transaction,
    committed after the marker is written: a save that fails (a full disk, a broken database) is
    rolled back, its marker removed, and comes back as the grader's failure (returned)."""
    if result.outcome is Outcome.GRADER:
        return result
    course = Course.at(course)
    try:
        out_dir = _own_dir(course.root, "autograded", job.student, job.assignment)
        _save_grades(course, db_url, job, result, out_dir)
    except _save_errors() as exc:
        why = f"the grades could not be saved ({_first_line(exc)}); nothing was recorded"
        logger.error("%s/%s: %s", job.student, job.assignment, why)
        return GradingResult.failed(job, why, Outcome.GRADER)
    return result


def _save_errors() -> tuple[type[BaseException], ...]:
    """What a save that failed raises: a full disk, a database that cannot be written (imported late)."""
    from nbgrader.api import InvalidEntry
    from sqlalchemy.exc import SQLAlchemyError

    return OSError, SQLAlchemyError, InvalidEntry


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200] if text else ''}"


@contextlib.contextmanager
def _one_transaction(db_url: str, course_id: str):
    """One gradebook session for a whole submission; nbgrader's preprocessors that open their own
    (`SaveAutoGrades`, `AssignLatePenalties`) are given it too, and their commits only flush. The
    caller commits with `commit()`; an error rolls everything back (nbgrader's own rollback log,
    a traceback, is kept quiet: the caller says why in one line)."""
    from unittest import mock

    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import latesubmissions, saveautogrades

    gb = Gradebook(db_url, course_id)
    session = gb.db
    session.commit = session.flush  # nbgrader commits after each row

    class Shared:
        def __init__(self, *args, **kwargs):
            pass

        def __getattr__(self, name):
            return getattr(gb, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

    try:
        with _quiet_app_log(), warnings.catch_warnings(), mock.patch.object(saveautogrades, "Gradebook", Shared), \
                mock.patch.object(latesubmissions, "Gradebook", Shared):
            warnings.simplefilter("ignore")  # nbgrader's own SQLAlchemy autoflush warnings
            yield gb, lambda: type(session).commit(session)
    except BaseException:
        with contextlib.suppress(Exception):
            session.rollback()
        raise
    finally:
        with contextlib.suppress(Exception):
            gb.close()


@contextlib.contextmanager
def _quiet_app_log():
    """nbgrader logs a traceback before it raises for a database error (its app_log) or fails an app
    (traitlets): kept off the terminal, the caller says why in one line (nbgrader's own capture stays)."""
    app_log, apps = logging.getLogger("tornado.application"), logging.getLogger("traitlets")
    level, propagate = app_log.level, apps.propagate
    app_log.setLevel(logging.CRITICAL)
    apps.propagate = False
    try:
        yield
    finally:
        app_log.setLevel(level)
        apps.propagate = propagate


def _save_grades(course: Course, db_url: str, job: GradingJob, result: GradingResult, out_dir: Path) -> None:
    from nbgrader.api import MissingEntry
    from nbgrader.preprocessors import AssignLatePenalties, SaveAutoGrades
    from traitlets.config import Config

    from ..classroom.deadlines import CourseLatePolicy, extension_of, load_schedule

    assignment, student = job.assignment, job.student
    course_id = course.settings.course_id
    notices = list(result.notices)
    schedule = load_schedule(course)
    late_config = Config({"AssignLatePenalties": {"plugin_class": CourseLatePolicy},
                          "CourseLatePolicy": {"policy": dataclasses.asdict(schedule.policy)}})
    late_penalties = AssignLatePenalties(config=late_config)
    late_penalties.log = _QuietLate(logger.getChild("late"), {})  # lateness is in the reports, not mid-bar
    marker = out_dir / MARKER
    with _one_transaction(db_url, course_id) as (gb, commit):
        known = {nb.name for nb in gb.find_assignment(assignment).notebooks}
        gb.update_or_create_student(student)
        kwargs = {"timestamp": job.timestamp} if job.timestamp else {}
        submission = gb.update_or_create_submission(assignment, student, **kwargs)
        submission.extension = extension_of(schedule, assignment, student)
        if not result.notebooks:  # nothing could be graded: every test scores 0
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    grade.auto_score = 0.0
                    grade.needs_manual_grade = False
        saved = {}
        for name, entry in result.notebooks.items():
            if name not in known:
                notices.append(f"{name}.ipynb is not part of the assignment and was not graded")
                continue
            nb = nbformat.reads(entry.notebook, as_version=4)
            _write_own(out_dir / f"{name}.ipynb", nbformat.writes(nb).encode())
            resources = {"nbgrader": {"notebook": name, "assignment": assignment, "student": student,
                                      "db_url": db_url}}
            try:
                SaveAutoGrades().preprocess(nb, resources)
            except MissingEntry as exc:  # a cell the gradebook does not know: the rest is still saved
                notices.append(f"{name}.ipynb: a grade could not be saved ({exc})")
            blank = unanswered_written(nb)
            if blank:  # 0 with a comment saying why (the feedback page shows it), not a note of tampering
                _score_blank_written(gb, job, name, blank)
            late_penalties.preprocess(nb, resources)  # nbgrader's own, with the course's policy as its plugin
            saved[name] = entry
        for entry in saved.values():
            notices += entry.notices
        gb.db.flush()  # a full disk fails here, before the marker says "graded"
        _write_marker(out_dir, job, result, notices, saved)
        try:
            commit()
        except BaseException:
            with contextlib.suppress(OSError):
                marker.unlink()
            raise


def unanswered_written(nb) -> list[str]:
    """The written questions whose answer cell is still the released stub, or empty.

    A question whose answer cell is gone stays for the grader: the answer may be in another cell."""
    from ..i18n.notebooks import ANSWER_STUBS

    stubs = {"", *ANSWER_STUBS.values()}  # the stub in either language
    written = {cells.grade_id(c) for c in nb.cells if cells.is_written_question(c)}
    return sorted({cells.answer_to(c) for c in nb.cells
                   if cells.answer_to(c) in written and c.source.strip() in stubs})


def _score_blank_written(gb, job: GradingJob, notebook: str, names: list[str]) -> None:
    """An unanswered written question scores 0 and needs no grader (formgrader then skips it)."""
    for name in names:
        grade = gb.find_grade(name, notebook, job.assignment, job.student)
        grade.manual_score = 0.0
        grade.needs_manual_grade = False
        gb.find_comment(name, notebook, job.assignment, job.student).auto_comment = UNANSWERED
    gb.db.flush()


UNANSWERED = "No answer was written (the answer cell is as released): 0 points, no grader needed."


def _write_marker(out_dir: Path, job: GradingJob, result: GradingResult, notices: list[str], saved: dict) -> None:
    marker = Marker(digest=job.digest, outcome=result.outcome, ok=result.ok, error=result.error,
                    seconds=result.seconds, notices=notices, grader=grader_version(),
                    results={name: entry.results for name, entry in saved.items()}, unsandboxed=not job.sandbox,
                    submission=submission_digest(job.submission_files))
    _write_own(out_dir / MARKER, marker.to_json().encode())
    _write_own(out_dir / LOG_NAME, result.log[-LOG_CHARS:].encode())
    student, assignment = job.student, job.assignment
    logger.info("%s/%s: %s in %.1f s%s", student, assignment, marker.outcome.value, marker.seconds,
                f" ({marker.error.splitlines()[0]})" if marker.error else "")


def read_marker(root: Path, student: str, assignment: str) -> Marker | None:
    """What the last grading of a submission recorded (digest, outcome, error, notices, results), if any."""
    try:
        data = json.loads((root / "autograded" / student / assignment / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return Marker.from_dict(data)


def read_submission(root: Path, student: str, assignment: str) -> tuple[dict[str, str], list[str], str]:
    """The files of submitted/<student>/<assignment>/ read without following links (scan_folder),
    the intake's notes, and why it was refused ("" if it was not): a link in place of the folder,
    too many files or bytes (then no files)."""
    sub = root / "submitted" / student / assignment
    try:
        for folder in (root / "submitted" / student, sub):
            if folder.is_symlink():
                raise RefusedSubmission(f"submitted/{folder.relative_to(root / 'submitted')} is a symbolic link, "
                                        "not a folder: the submission was refused and nothing was graded")
        files, notes = scan_folder(sub)
    except ValueError as exc:
        return {}, [], str(exc) if isinstance(exc, RefusedSubmission) else f"the submission was refused: {exc}"
    return files, notes, ""


def submission_digest(files: dict[str, str]) -> str:
    """The digest of a submission's files alone (scan_folder's, timestamp.txt left out): the marker
    keeps it, so that a grade whose submission has changed since is known for another's."""
    h = hashlib.sha256()
    for rel, data in sorted(files.items()):
        if rel != "timestamp.txt":
            h.update(rel.encode("utf-8", "backslashreplace") + b"\0" + data.encode() + b"\0")
    return h.hexdigest()


def foreign_grade(root: Path, student: str, assignment: str) -> str:
    """Why a gradebook row of `student` is not a grade of dlcourse's ("" when it is): dlcourse writes
    its marker beside every grade it saves, so a row with none was graded some other way (nbgrader in
    the student's kernel, unsandboxed and unjudged), and a marker of other files than those in
    submitted/ now is a grade of another submission. Reports and feedback leave such a row out."""
    marker = read_marker(root, student, assignment)
    why = f"no {MARKER}: nbgrader graded it in the student's kernel?" if marker is None else ""
    if (root / "submitted" / student / assignment / MARKER).exists():
        # nbgrader's own autograde copies a submission's every file into autograded/, this one too: a
        # marker the student wrote would pass for the grader's (scan_folder skips hidden files, so its
        # digest of the submission can be computed by anyone)
        why = f"a file named {MARKER}, like the grader's marker, was handed in: remove it from submitted/"
    elif marker is not None and marker.submission:
        files, _, _ = read_submission(root, student, assignment)  # read as grading read it
        if submission_digest(files) != marker.submission:
            why = "submitted/ has changed since dlcourse graded it"
    if not why:
        return ""
    return (f"{student}: not graded by dlcourse ({why}): left out; run `dlcourse autograde {assignment} "
            f"--student {student}`")


def is_current(root: Path, job: GradingJob) -> bool:
    """A rerun skips the job: graded before with the same digest, and not a grader failure."""
    marker = read_marker(root, job.student, job.assignment)
    return marker is not None and marker.current_for(job.digest)


def gradebook_template(root: Path, assignment: str) -> str:
    """A scratch gradebook that already knows the assignment (base64), so that a worker
    need not run generate_assignment and the database migrations for every submission."""
    with tempfile.TemporaryDirectory(prefix="dlcourse-template-") as tmp:
        path = Path(tmp) / "gradebook.db"
        register(root, assignment, f"sqlite:///{path}")
        return base64.b64encode(path.read_bytes()).decode()


Runner = Callable[[list[GradingJob]], Iterator[tuple[GradingJob, GradingResult]]]


@dataclass
class RunOptions:
    """How `autograde` grades: what it was asked on the command line."""

    db_url: str
    student: str | None = None
    force: bool = False
    sandbox: bool = True
    progress: bool = True
    log: Callable[[str], object] = print
    remote: bool = False  # graded on a Dask cluster elsewhere: its workers check their own sandboxes


def autograde(course: Course | Path, assignment: str | None = None, *, db_url: str | None = None,
              student: str | None = None, force: bool = False, workers: int | None = None,
              scheduler: str | None = None, use_dask: bool = False, dask_certs: Path | str | None = None,
              sandbox: bool = True, progress: bool = True, log=print) -> dict[str, RunSummary]:
    """Grade every (or one student's) submission of each assignment; returns a summary each
    (on a Dask cluster with `use_dask`, at `scheduler` over TLS with `dask_certs`: `cluster`)."""
    ensure_tools_on_path()
    for key, value in kernel_env().items():  # inherited by grading processes and kernels
        os.environ.setdefault(key, value)
    course = Course.at(course)
    options = RunOptions(db_url or course.db_url, student, force, sandbox, progress, log, remote=bool(scheduler))
    workers = workers or os.cpu_count() or 1
    timeout = job_timeout(course.settings)  # each job carries its own (per its notebooks); the default
    names = course.assignments(assignment)
    local = None if scheduler or use_dask else LocalRunner(workers, timeout)
    runner = local or DaskRunner(scheduler, workers, timeout, dask_certs,
                                 fallback=local_fallback(course, options, workers, timeout))
    try:
        return _grade_all(course, names, options, runner)
    finally:
        if local is not None:
            local.close()


@dataclass
class _Assignment:
    """One assignment's part of a run: what to grade, what was refused unread, its summary."""

    name: str
    summary: RunSummary = field(default_factory=RunSummary)
    jobs: list[GradingJob] = field(default_factory=list)
    refused: list[tuple[GradingJob, GradingResult]] = field(default_factory=list)


def _grade_all(course: Course, names: list[str], options: RunOptions, runner: Runner) -> dict[str, RunSummary]:
    """Grade the submissions of every assignment in `names` into the class gradebook, all the
    assignments' jobs in one batch (the grading processes stay busy from the first to the last)."""
    started = time.time()
    parts = [_prepare(course, name, options) for name in names]  # every check before anyone is graded
    jobs = _longest_first(course, parts)
    if jobs:
        preflight(course, options)
    if jobs and isinstance(runner, LocalRunner):
        runner.warm(len(jobs))  # the processes import while the assignments are registered
    try:
        with _quiet_app_log():
            _register_all(course, parts, options)
    except _save_errors() as exc:  # a full disk, a database that cannot be written: nobody was graded
        raise CourseError(f"the gradebook could not be written ({_first_line(exc)}); nobody was graded") from None
    except CourseError as exc:  # nbgrader's generate_assignment failed: what failed, from its log
        lines = str(exc).splitlines()
        why = [line for line in lines[1:] if re.match(r"[\w.]+(Error|Exception): ", line)
               and "NbGraderException" not in line]
        raise CourseError(f"{lines[0]} {why[-1][:300] if why else ''}; nobody was graded") from None
    by_name = {part.name: part for part in parts}
    bar = _progress(len(jobs), names[0] if len(names) == 1 else f"{len(names)} assignments", options.progress)
    refused = [pair for part in parts for pair in part.refused]
    for job, result in itertools.chain(refused, runner(jobs) if jobs else []):
        result = save_result(course, options.db_url, job, result)  # records nothing for the grader's failure
        summary = by_name[job.assignment].summary
        summary.seconds += result.seconds
        if result.ok:
            summary.graded += 1
        else:
            summary.failed += 1
            summary.errors[job.student] = result.error
            if result.outcome is Outcome.GRADER:
                summary.grader_failures += 1
        bar.update(1)
    bar.close()
    if jobs:
        count = sum(1 for part in parts if part.jobs)
        options.log(f"graded {len(jobs)} submission(s) of {count} assignment(s) in {time.time() - started:.1f} s "
                    f"({_workers(runner)})")
    for part in parts:
        if part.summary.graded or part.summary.failed or part.summary.skipped:
            options.log(f"{part.name}: {part.summary.line()}")
        for s, err in part.summary.errors.items():
            options.log(f"  {s}: {err.splitlines()[0] if err else 'failed'}")
    return {part.name: part.summary for part in parts}


def _register_all(course: Course, parts: list[_Assignment], options: RunOptions) -> None:
    """The assignments in the class gradebook, and their gradebook templates in the jobs."""
    root = course.root
    for part in parts:
        if part.jobs or part.refused:  # generating the assignment takes seconds: only when something is graded
            register(root, part.name, options.db_url)
        if part.jobs or part.refused or _registered(options.db_url, course, part.name):
            # due date, extensions, submission times and late penalties as grader_config.py and
            # timestamp.txt say now, even when nobody is regraded
            sync_gradebook(course, options.db_url, [part.name])
        if part.jobs:
            template = gradebook_template(root, part.name)
            for job in part.jobs:
                job.gradebook_template = template
        logger.info("%s: %d to grade, %d refused, %d unchanged", part.name, len(part.jobs), len(part.refused),
                    part.summary.skipped)


class SandboxUnavailable(CourseError):
    """The preflight could not run a sandboxed kernel: nobody was graded."""


UNSANDBOXED_WARNING = ("dlcourse: WARNING: --unsandboxed-authoring: the notebooks' code runs WITHOUT the sandbox, "
                       "with your rights and no limits. For your own notebooks while authoring only, never a "
                       "class's submissions: every grade of this run is marked unsandboxed (marker, grades.csv, "
                       "feedback)")


class _QuietLate(logging.LoggerAdapter):
    """nbgrader's AssignLatePenalties warns of every late submission (in points, mid-progress bar):
    debug detail here (`-vv`), since the reports and feedback say it in the course's own terms."""

    def warning(self, msg, *args, **kwargs):
        self.debug(msg, *args, **kwargs)


def _workers(runner) -> str:
    n = getattr(runner, "workers", None)
    return "on Dask" if n is None else f"{n} worker{'s' if n != 1 else ''}"


def _registered(db_url: str, course: Course, assignment: str) -> bool:
    """Whether the gradebook knows `assignment` already (an earlier run registered it)."""
    if db_url.startswith("sqlite:///") and not Path(db_url[len("sqlite:///"):]).is_file():
        return False
    from nbgrader.api import Gradebook, MissingEntry

    with warnings.catch_warnings(), Gradebook(db_url, course.settings.course_id) as gb:
        warnings.simplefilter("ignore")
        try:
            gb.find_assignment(assignment)
        except MissingEntry:
            return False
    return True


def _gradebook_students(db_url: str, course: Course, assignment: str) -> set[str]:
    """The students whose submission of `assignment` the gradebook holds (none when it does not know it)."""
    if db_url.startswith("sqlite:///") and not Path(db_url[len("sqlite:///"):]).is_file():
        return set()
    from nbgrader.api import Gradebook

    with warnings.catch_warnings(), Gradebook(db_url, course.settings.course_id) as gb:
        warnings.simplefilter("ignore")  # an assignment no earlier run registered: no submissions
        return {submission.student_id for submission in gb.assignment_submissions(assignment)}


def preflight(course: Course, options: RunOptions) -> None:
    """Before anyone is graded: one sandboxed kernel, started as a job starts its own, runs a
    trivial cell. If it cannot, SandboxUnavailable says why and nothing is recorded. An authoring
    run (`--unsandboxed-authoring`) is warned about instead."""
    from .sandbox import Limits, SandboxBroken
    from .worker import check_sandbox

    if not options.sandbox:
        print(UNSANDBOXED_WARNING, file=sys.stderr)
        return
    if options.remote:  # no kernel starts here: a worker whose sandbox fails fails as the grader's
        return
    try:
        seconds = check_sandbox(str(course.root.resolve()), Limits.from_dict(course.settings.sandbox),
                                course.settings.cell_timeout)
    except SandboxBroken as exc:
        hint = "" if shutil.which("bwrap") is None else (
            ". Check that `bwrap --ro-bind / / true` runs as this user (bubblewrap needs unprivileged user "
            "namespaces, or root)")
        raise SandboxUnavailable(f"the grading sandbox does not work on this machine, so nobody was graded: "
                                 f"{exc}{hint}") from None
    logger.info("preflight: a sandboxed kernel ran a trivial cell in %.1f s", seconds)
    from ..autograde_guard import problem

    unguarded = problem()  # this run is safe either way; nbgrader's Python API, run from here, is not
    if unguarded:
        logger.warning(unguarded)


def local_fallback(course: Course, options: RunOptions, workers: int, timeout: float):
    """What a Dask run does with the jobs every worker refused (`DaskRunner.fallback`): grade them
    on this machine, through the same path as a local run (`LocalRunner`), when this machine passes
    the same preflight (`preflight`: one sandboxed kernel), and say so; otherwise each is the
    grader's failure (nothing recorded, the run exits non-zero, the next run grades it again)."""
    def grade_here(jobs: list[GradingJob], refused: str) -> Iterator[tuple[GradingJob, GradingResult]]:
        try:
            preflight(course, dataclasses.replace(options, remote=False))
        except SandboxUnavailable as exc:
            why = (f"no Dask worker can grade it ({refused}), and this machine cannot either: {exc}")
            logger.error("%d job(s) not graded: %s", len(jobs), why)
            for job in jobs:
                yield job, GradingResult.failed(job, why, Outcome.GRADER)
            return
        said = (f"every Dask worker refused {len(jobs)} submission(s) ({refused}): graded on this machine, "
                "whose sandbox passed the preflight")
        logger.warning("%s", said)
        options.log(f"dlcourse: {said}")
        local = LocalRunner(workers, timeout)
        try:
            for job, result in local(jobs):
                result.log = f"{said}\n{result.log}"
                yield job, result
        finally:
            local.close()

    return grade_here


def _longest_first(course: Course, parts: list[_Assignment]) -> list[GradingJob]:
    """Every part's jobs, those expected to take longest first: the time the submission's last
    grading took, else a minute per slow test cell (full-size training) of its assignment. A long
    job that started last would keep the batch waiting on it alone."""
    def expected(job: GradingJob) -> float:
        marker = read_marker(course.root, job.student, job.assignment)
        return marker.seconds if marker is not None and marker.seconds > 0 else 60.0 * slow[job.assignment]

    slow = {part.name: sum(1 for path in (course.root / "source" / part.name).glob("*.ipynb")
                           for cell in nbformat.read(path, as_version=4).cells if is_slow(cell))
            for part in parts if part.jobs}
    return sorted((job for part in parts for job in part.jobs), key=expected, reverse=True)


def _prepare(course: Course, name: str, options: RunOptions) -> _Assignment:
    """One assignment's jobs: its submissions read, the unchanged ones skipped, the refused ones
    answered at once (see `autograde`)."""
    root = course.root
    try:  # checked once here, before anyone is graded (the worker checks again)
        unjudged_sources({p.stem: nbformat.read(p, as_version=4) for p in (root / "source" / name).glob("*.ipynb")})
    except RuntimeError as exc:
        raise CourseError(str(exc)) from None
    part = _Assignment(name)
    students = submissions(root, name, options.student)
    if not students:
        options.log(f"{name}: no submissions in submitted/*/{name}/")
    # the marker is written before the gradebook commits: a run killed between the two leaves a marker
    # whose rows never landed, which is no grade (graded again)
    recorded = _gradebook_students(options.db_url, course, name) if students and not options.force else set()
    for s in students:
        try:
            job = make_job(course, name, s, sandbox=options.sandbox)
        except ValueError as exc:
            part.summary.failed += 1
            part.summary.errors[s] = str(exc)
            continue
        if not options.force and is_current(root, job) and s in recorded:
            part.summary.skipped += 1
            logger.info("%s/%s: unchanged since it was graded, skipped", s, name)
        elif job.refused:  # graded 0 with the reason, never run
            part.refused.append((job, GradingResult.failed(job, job.refused, Outcome.SUBMISSION)))
        else:
            part.jobs.append(job)
    return part


def _progress(total: int, name: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=f"grading {name}", unit="nb", disable=not enabled or total == 0,
                file=sys.stderr)
