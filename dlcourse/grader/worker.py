"""Grade one submission in a scratch course directory (a subprocess or a Dask task).

The job carries everything it needs (the source notebooks, the submitted files, the
settings) so that it can run in a fresh process on this machine or on a Dask worker
elsewhere. nbgrader's real generate_assignment + autograde run against a scratch
gradebook; the result (each test cell's outcome and the autograded notebooks) goes
back to the parent, which alone writes the class gradebook.

    python -m dlcourse.grader.worker --serve --result-fd N   (jobs on stdin, results on N)
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import secrets
import shutil
import stat
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import nbformat

from ..autograde_guard import sanctioned
from ..cells import exercise_of, exercises, grade_id, has_graded_cells, is_judged, is_test_cell
from ..config import REPO_ROOT
from . import heldout, judge
from .driver import known_names, read_elsewhere
from .execute import cell_results
from .protocol import GradingJob, GradingResult, NotebookResult, Outcome, read_incidents
from .tapes import read_tapes

logger = logging.getLogger("dlcourse.grader.worker")  # also when run as __main__

MAX_SUBMISSION_BYTES = 50 * 1024 * 1024
MAX_SUBMISSION_FILES = 2000


class RefusedSubmission(ValueError):
    """The submission folder itself cannot be read safely (it is a link, or not a folder)."""


def _kind(mode: int) -> str:
    return ("a symbolic link" if stat.S_ISLNK(mode) else "a FIFO" if stat.S_ISFIFO(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "not a regular file")


def _read_nofollow(path: Path, limit: int) -> bytes:
    """A regular file's bytes, never through a link, a FIFO or a device (they raise OSError)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path.name} is {_kind(info.st_mode)}")
        if info.st_size > limit:
            raise OSError(f"{path.name} is larger than {limit // 2**20} MB")
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise OSError(f"{path.name} is larger than {limit // 2**20} MB")
        return b"".join(chunks)
    finally:
        os.close(fd)


def scan_folder(folder: Path, max_bytes: int = MAX_SUBMISSION_BYTES) -> tuple[dict[str, str], list[str]]:
    """The regular files under `folder` as {relative path: base64}, and what was refused and why.

    Links (to files or folders, inside the folder or out), FIFOs, sockets and devices are never
    read or followed: the grader runs as root, and a link could hand it another student's or the
    instructor's files. Caches and hidden files are skipped; a name that is not UTF-8 is read
    under a readable name. Raises RefusedSubmission when `folder` itself is a link.
    """
    info = os.lstat(folder)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise RefusedSubmission(f"the submission folder is {_kind(info.st_mode)}, not a folder: "
                                "it was refused and nothing was graded")
    files: dict[str, str] = {}
    notes: list[str] = []
    total = 0
    stack = [(os.fsencode(folder), b"")]
    while stack:
        base, prefix = stack.pop()
        try:
            entries = sorted(os.scandir(base), key=lambda e: e.name)
        except OSError as exc:
            notes.append(f"the folder {_shown(prefix) or '.'} could not be read ({exc.strerror}); it was skipped")
            continue
        for entry in entries:
            raw = prefix + entry.name
            shown = _shown(raw)
            if len(files) + len(notes) > MAX_SUBMISSION_FILES:
                raise ValueError(f"the submission holds more than {MAX_SUBMISSION_FILES} files")
            if entry.name.startswith(b".") or entry.name == b"__pycache__":
                continue
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError:
                continue
            if stat.S_ISDIR(mode):
                stack.append((entry.path, raw + b"/"))
                continue
            if not stat.S_ISREG(mode):
                notes.append(f"{shown} is {_kind(mode)}: it was refused (only plain files are graded)")
                continue
            try:
                name = raw.decode("utf-8")
            except UnicodeDecodeError:
                name = raw.decode("utf-8", errors="replace").replace("\ufffd", "_")
                notes.append(f"the file name {shown} is not valid UTF-8; it was read as {name!r}")
                if name in files:
                    continue
            try:
                data = _read_nofollow(Path(os.fsdecode(entry.path)), max_bytes)
            except OSError as exc:
                notes.append(f"{shown} was refused: {exc.strerror or exc}")
                continue
            total += len(data)
            if total > max_bytes:
                raise ValueError(f"the submission holds more than {max_bytes // 2**20} MB")
            files[name] = base64.b64encode(data).decode()
    return files, notes


def _shown(raw: bytes) -> str:
    return repr(raw.decode("utf-8", errors="backslashreplace").rstrip("/"))


def pack_files(folder: Path, max_bytes: int = MAX_SUBMISSION_BYTES) -> dict[str, str]:
    """The files under `folder` as {relative path: base64}, skipping caches, links and special files."""
    return scan_folder(folder, max_bytes)[0]


def unpack_files(files: dict[str, str], folder: Path) -> None:
    """Write the files under `folder` (created here), never outside it nor through a link."""
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    for rel, data in files.items():
        parts = Path(rel).parts
        if not parts or Path(rel).is_absolute() or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"refusing to write outside the scratch folder: {rel}")
        target = root.joinpath(*parts)
        parent = root
        for part in parts[:-1]:
            parent = parent / part
            if parent.is_symlink():
                raise ValueError(f"refusing to write through a link: {rel}")
            parent.mkdir(exist_ok=True)
        write_new(target, base64.b64decode(data))


def write_new(path: Path, data: bytes) -> None:
    """Create `path` with `data`; refuses to follow a link or to reuse what is there."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def copy_out(src: Path, dest: Path, limit: int = 4 * 2**30) -> bool:
    """Copy a file the kernel wrote to a folder of the grader's: plain files only, no link followed."""
    try:
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return False
        if dest.is_symlink() or dest.exists():
            dest.unlink()
        out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(out, "wb") as f:
            while chunk := os.read(fd, 1 << 20):
                f.write(chunk)
        return True
    finally:
        os.close(fd)


HELDOUT_CELLS = {task.grade_id for task in heldout.TASKS.values()}


def apply_heldout(nb: nbformat.NotebookNode, workdir: Path, kernel_dir: Path | None = None) -> None:
    """Decide held-out test cells from the saved models, scored outside the sandbox (all of the
    notebook's tasks in one child of the judge server).

    Each model is copied out of the kernel's folder (`kernel_dir`) into `workdir` first: a
    plain file only, never through a link the kernel left there."""
    cells = {name: cell for name, task in heldout.TASKS.items() for cell in nb.cells if grade_id(cell) == task.grade_id}
    if not cells:
        return
    for name in cells:
        task = heldout.TASKS[name]
        if kernel_dir is not None:
            target = workdir / task.filename
            if target.is_symlink() or target.exists():
                target.unlink()
            copy_out(kernel_dir / task.filename, target)
    try:
        scores = heldout.score_all({name: workdir / heldout.TASKS[name].filename for name in cells}, workdir)
    except RuntimeError as err:  # the judge server died: the grader's failure, graded again next run
        raise JudgeFailed(f"the grader could not score the held-out models: {err}") from None
    for name, cell in cells.items():
        accuracy, error = scores[name]
        problem = heldout.verdict(name, accuracy, error)
        # the score itself, for the class's leaderboard (always the grader's: set or cleared here)
        cell.metadata.setdefault("dlcourse", {})[heldout.METADATA_KEY] = {"task": name, "accuracy": accuracy}
        kept = [o for o in cell.outputs if o.get("output_type") != "error"]
        if problem is not None:
            kept.append(nbformat.v4.new_output("error", ename=problem.kind, evalue=problem.detail, traceback=[]))
        else:
            kept.append(nbformat.v4.new_output(
                "stream", name="stdout", text=f"held-out accuracy (scored by the grader): {accuracy:.3f}\n"))
        cell.outputs = kept


def unjudged_sources(sources: dict[str, nbformat.NotebookNode]) -> None:
    """Refuse to grade a notebook whose tests would decide inside the student's kernel: every
    graded source notebook must be judged outside (`"dlcourse": {"judged": true}`)."""
    unjudged = sorted(f"{stem}.ipynb" for stem, nb in sources.items() if has_graded_cells(nb) and not is_judged(nb))
    if unjudged:
        raise RuntimeError(f"{', '.join(unjudged)} has graded test cells but is not judged outside the kernel: "
                           'add "dlcourse": {"judged": true} to its metadata (README, "Writing a notebook")')
    undriven_sources(sources)


def undriven_sources(sources: dict[str, nbformat.NotebookNode]) -> None:
    """Refuse, before anyone is graded, a test cell whose hidden blocks cannot be reduced to the driver
    the kernel runs (`driver.kernel_copy`): grading it would fail every student's test or send its checks."""
    from .driver import DriverError, kernel_copy

    for stem, nb in sorted(sources.items()):
        names, known, elsewhere = exercises(nb), known_names(nb), read_elsewhere(nb)
        for cell in nb.cells:
            if is_test_cell(cell):
                try:
                    kernel_copy(cell.source, names, known, elsewhere.get(cell.metadata["nbgrader"]["grade_id"], ()))
                except DriverError as err:
                    raise RuntimeError(f"{stem}.ipynb, {cell.metadata['nbgrader']['grade_id']}: {err}") from None


def judge_outside(nb: nbformat.NotebookNode, source_path: Path, scratch: Path,
                  tapes: tuple[dict[str, list[str]], dict[str, str]]) -> None:
    """Decide the test cells of `nb` from the tapes the kernel supervisor captured ((event texts,
    why some cannot be judged), by grade_id), in the grader's judge (outside the sandbox)."""
    workdir = scratch / "judge"
    workdir.mkdir(exist_ok=True)
    try:
        verdicts = judge.judge_notebook(source_path, *tapes, workdir)
    except RuntimeError as err:  # the judge died, timed out or ran out of memory: never the student's 0
        raise JudgeFailed(f"the grader could not judge {source_path.name}: {err}") from None
    judge.apply_verdicts(nb, verdicts)


class JudgeFailed(RuntimeError):
    """The judge gave no verdicts (its server died, it timed out, a child ran out of memory): the
    grader's failure, graded again on the next run. A tape over its budget is refused before the judge."""


def grade(job: GradingJob) -> GradingResult:
    """Grade the job's submission; never raises (errors come back in the result)."""
    from .sandbox import Limits, SandboxBroken, StartFailures  # imported here: it imports nbgrader

    started = time.time()
    assignment, student = job.assignment, job.student
    result = GradingResult(assignment, student)
    scratch = Path(tempfile.mkdtemp(prefix="dlcourse-grade-"))
    saved_env = {k: os.environ.get(k) for k in KERNEL_ENV}
    logger.info("grading %s/%s", student, assignment)
    start_failures = StartFailures()  # this job's own: read after nbgrader, which catches SandboxBroken
    try:
        if job.refused:  # the parent found a link in place of the submission folder
            raise RefusedSubmission(job.refused)
        nb_api, db_url = _scratch_course(job, scratch)
        source_dir = scratch / "source" / assignment
        sources = {path.stem: nbformat.read(path, as_version=4) for path in sorted(source_dir.glob("*.ipynb"))}
        unjudged_sources(sources)
        judged = {stem: exercises(nb) for stem, nb in sources.items() if is_judged(nb)}
        limits = Limits.from_dict(job.limits)
        notices, missing_answers = _intake(job, scratch, db_url, limits)
        result.sandboxed = _start_kernels_in_sandbox(job, scratch, limits, nb_api)
        for stem in judged:  # the judge server imports what it needs while the kernel runs
            judge.warm_up(sources[stem])
        nonce = secrets.token_hex(16)
        drivers = {stem: {"known": sorted(known_names(sources[stem])),  # what the hidden tests' drivers need
                          "elsewhere": {gid: sorted(names) for gid, names in read_elsewhere(sources[stem]).items()}}
                   for stem in judged}
        _configure_autograde(nb_api, job, scratch, limits, nonce, judged, start_failures, drivers)
        with sanctioned():  # the environment's guard lets nbgrader's autograde run for this call only
            graded = nb_api.autograde(assignment, student, force=True, create=True)
        if start_failures:  # nbgrader caught it: the sandbox broke, the submission is not to blame
            raise SandboxBroken(start_failures.reasons[0])
        logger.info("%s/%s: nbgrader autograde %s", student, assignment,
                    "finished" if graded.get("success") else "failed")
        if not graded.get("success"):
            result.error = _summarise_log((graded.get("log") or "") + (graded.get("error") or ""))
        for path in _graded_notebooks(scratch / "autograded" / student / assignment, set(sources)):
            result.notebooks[path.stem] = _finish_notebook(path, nonce, path.stem in judged, source_dir, scratch,
                                                           notices.get(path.stem, []),
                                                           missing_answers.get(path.stem, []))
            if path.stem in judged:
                logger.info("%s/%s: %s.ipynb judged outside the kernel", student, assignment, path.stem)
        _conclude(result, notices)
    except RefusedSubmission as exc:
        result.error = str(exc)
    except (SandboxBroken, JudgeFailed) as exc:  # graded again on the next run, never a 0
        result.notebooks = {}
        result.error = f"the grader's sandbox failed: {exc}" if isinstance(exc, SandboxBroken) else str(exc)
        result.outcome = Outcome.GRADER
        logger.error("%s/%s: %s", student, assignment, result.error)
    except Exception as exc:  # the grader's own failure: it must not stop the class run, and is retried
        result.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
        result.outcome = Outcome.GRADER
        logger.exception("%s/%s: the grader failed", student, assignment)
    finally:
        _restore_env(saved_env)  # a grading process grades many jobs
        shutil.rmtree(scratch, ignore_errors=True)
        result.seconds = round(time.time() - started, 3)
    return result


KERNEL_ENV = ("JUPYTER_PATH", "JUPYTER_RUNTIME_DIR", "DLCOURSE_SANDBOX", heldout.GRADING_WORKER)


def _restore_env(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _scratch_course(job: GradingJob, scratch: Path):
    """The job's files in a scratch course, and nbgrader's API over its own gradebook."""
    from ..course import api  # imported here: nbgrader is heavy

    assignment, student = job.assignment, job.student
    unpack_files(job.config_files, scratch)  # the course's configuration, never the working folder's
    unpack_files(job.source_files, scratch / "source" / assignment)
    unpack_files(job.submission_files, scratch / "submitted" / student / assignment)
    if job.timestamp:
        (scratch / "submitted" / student / assignment / "timestamp.txt").write_text(job.timestamp)
    db_url = f"sqlite:///{scratch / 'gradebook.db'}"
    nb_api = api(scratch, db_url)
    nb_api.coursedir.root = str(scratch)
    if job.gradebook_template:  # the assignment already registered by the parent
        (scratch / "gradebook.db").write_bytes(base64.b64decode(job.gradebook_template))
    else:
        generated = nb_api.generate_assignment(assignment, force=True, create=True)
        if not generated.get("success"):
            raise RuntimeError(f"generate_assignment failed: {generated.get('error') or generated.get('log')}")
    return nb_api, db_url


def _intake(job: GradingJob, scratch: Path, db_url: str, limits) -> tuple[dict[str, list[str]],
                                                                       dict[str, list[str]]]:
    """Repair and check the submitted notebooks against the gradebook's cells; the notes, by notebook
    ("" for the submission as a whole, what reading its folder left out included), and the answer
    cells each notebook lacks."""
    from . import intake

    expected_cells = intake.gradebook_cells(db_url, job.course_id, job.assignment)
    missing_answers: dict[str, list[str]] = {}
    notices = intake.normalize_submission(scratch / "source" / job.assignment,
                                          scratch / "submitted" / job.student / job.assignment, expected_cells,
                                          max_added_cells=limits.max_added_cells, missing_answers=missing_answers)
    notices[""] = list(job.intake_notices) + notices.get("", [])
    return notices, missing_answers


def _start_kernels_in_sandbox(job: GradingJob, scratch: Path, limits, nb_api) -> bool:
    """Write the kernelspec the grading kernels start from: sandboxed (bubblewrap, the limits, the
    answers and the class's files hidden), or raise SandboxBroken. Only a job of an authoring run
    (`--unsandboxed-authoring`, job.sandbox False) starts its kernels unsandboxed; True when sandboxed."""
    from .sandbox import isolated_kernel

    if job.sandbox:
        sandboxed_kernels(scratch, job.course_root, limits, nb_api.config)
    else:  # still: nothing beside the notebook changes how the kernel starts
        isolated_kernel(scratch)
        logger.warning("%s/%s: kernel NOT sandboxed (--unsandboxed-authoring)", job.student, job.assignment)
    logger.info("%s/%s: kernel %s, limits %s", job.student, job.assignment,
                "sandboxed" if job.sandbox else "NOT sandboxed", limits.as_dict())
    os.environ[heldout.GRADING_WORKER] = "1"  # this process scores the held-out models (heldout.graded_by_worker)
    os.environ["DLCOURSE_SANDBOX"] = "1" if job.sandbox else "0"  # whether the kernel is (env.grading_report)
    return job.sandbox


def sandboxed_kernels(scratch: Path, course_root: str, limits, config) -> None:
    """The sandboxed kernelspec in `scratch`, and `config`'s kernels on Unix sockets (the kernel
    has no network to talk over); SandboxBroken when bubblewrap is missing."""
    from .sandbox import BWRAP_MISSING, SandboxBroken, sandbox_kernel

    course = Path(course_root or REPO_ROOT)
    # the repository itself is reduced to dlcourse/ and data/ by sandbox_kernel
    hide = [course / "gradebook.db", course / "submitted", course / "autograded",
            course / "feedback", course / "reports", course / "source", course / ".git",
            course / "tests", course / "benchmarks", course / "data" / "hidden",
            REPO_ROOT / "data" / "hidden"]
    hide.append(REPO_ROOT / "dlcourse" / "instructor")  # the answers never enter the sandbox
    if not sandbox_kernel(scratch, hide, limits):
        raise SandboxBroken(BWRAP_MISSING)
    config.KernelManager.transport = "ipc"
    config.KernelManager.connection_file = str(scratch / "runtime" / "kernel.json")


def check_sandbox(course_root: str, limits, cell_timeout: int) -> float:
    """The preflight: start one sandboxed kernel as a grading job does (`sandboxed_kernels`, the
    same limits, `SandboxedExecute`) and run a trivial cell in it. Raises SandboxBroken saying
    why it failed (with the last line the sandbox printed); returns the seconds it took."""
    from .sandbox import SandboxBroken

    started = time.monotonic()
    with tempfile.TemporaryFile() as printed:
        try:
            with _output_to(printed):  # the kernel's start-up chatter, bwrap's complaint
                _run_trivial_cell(course_root, limits, cell_timeout)
        except SandboxBroken as exc:
            printed.seek(0)
            lines = [ln for ln in printed.read().decode("utf-8", "replace").splitlines() if ln.strip()]
            raise SandboxBroken(f"{exc}" + (f" (it printed: {lines[-1].strip()[:300]})" if lines else "")) from None
    return time.monotonic() - started


@contextlib.contextmanager
def _output_to(file):
    """This process's stdout and stderr (and so a kernel's it starts) into `file`, for a while."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        os.dup2(file.fileno(), 1)
        os.dup2(file.fileno(), 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


def _run_trivial_cell(course_root: str, limits, cell_timeout: int) -> None:
    from traitlets.config import Config

    from .execute import error_message
    from .sandbox import SandboxBroken, SandboxedExecute, StartFailures

    scratch = Path(tempfile.mkdtemp(prefix="dlcourse-preflight-"))
    saved_env = {k: os.environ.get(k) for k in KERNEL_ENV}
    token = secrets.token_hex(8)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(_isolation_cell(course_root, limits, token))])
    try:
        config = Config()
        sandboxed_kernels(scratch, course_root, limits, config)
        config.SandboxedExecute.update(limits=limits.as_dict(), scratch=str(scratch), kernel_name="python3",
                                       timeout=max(1, min(cell_timeout, 120)), nonce=token,
                                       start_failures=StartFailures())
        SandboxedExecute(config=config).preprocess(nb, {"nbgrader": {"notebook": "preflight"}})
    except SandboxBroken:
        raise
    except Exception as exc:  # noqa: BLE001 (any failure to run the kernel is the sandbox's)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise SandboxBroken(f"{type(exc).__name__}: {first}") from None
    finally:
        _restore_env(saved_env)
        shutil.rmtree(scratch, ignore_errors=True)
    printed = "".join(out.get("text", "") for out in nb.cells[0].outputs)
    if NOT_ISOLATED in printed:  # a bwrap (or a stand-in for one) that starts the kernel but hides nothing
        why = printed.split(NOT_ISOLATED, 1)[1].strip().splitlines()[0][:500]
        raise SandboxBroken(f"a kernel started by bwrap is not isolated ({why}); the `bwrap` on PATH must be "
                            "the real bubblewrap")
    if token not in printed:
        said = error_message(nb.cells[0]) or "no output"
        raise SandboxBroken(f"a sandboxed kernel started but did not run a trivial cell ({said.splitlines()[0]})")


NOT_ISOLATED = "dlcourse-preflight: NOT ISOLATED:"


def _isolation_cell(course_root: str, limits, token: str) -> str:
    """The preflight's cell: prints `token` only when the kernel is isolated as `sandbox_kernel`
    means it to be: the course's source/ and the repository's source/ and tests/ out of sight, a PID
    and a mount namespace of its own (the grader's are not its), and no network interface but `lo`
    when SANDBOX's network is off. It also runs for a few of the watchdog's ticks, so that a kernel
    the limits kill (memory) fails here, not in every student's notebook."""
    hidden = sorted({str(Path(course_root or REPO_ROOT) / "source"), str(REPO_ROOT / "source"),
                     str(REPO_ROOT / "tests")})
    namespaces = {}
    for kind in ("pid", "mnt") + (() if limits.network else ("net",)):
        with contextlib.suppress(OSError):
            namespaces[kind] = os.readlink(f"/proc/self/ns/{kind}")
    return f"""import os, socket, time
def _dlcourse_preflight():
    seen = []
    for path in {hidden!r}:
        try:
            if os.listdir(path):
                seen.append(path + " is visible")
        except OSError:
            pass
    for kind, grader in {namespaces!r}.items():
        try:
            if os.readlink("/proc/self/ns/" + kind) == grader:
                seen.append("it shares the grader's " + kind + " namespace")
        except OSError:
            seen.append("it cannot read its own " + kind + " namespace")
    if {not limits.network!r}:
        names = sorted(name for _, name in socket.if_nameindex())
        if names != ["lo"]:
            seen.append("network interfaces " + ", ".join(names) + " with SANDBOX's network off")
    x = b"1" * (32 * 2**20)  # what every answer needs at least, held for a few watchdog ticks
    time.sleep(0.3)
    del x
    print({NOT_ISOLATED!r} + " " + "; ".join(seen) if seen else {token!r})
_dlcourse_preflight()
"""


def _configure_autograde(nb_api, job: GradingJob, scratch: Path, limits, nonce: str, judged: dict,
                         start_failures, drivers: dict) -> None:
    """nbgrader's autograde, with the sentinels and the recording preamble before each test cell,
    the kernel supervisor (`SandboxedExecute`) in place of its Execute, and `OverwriteCellsQuietly`
    in place of its OverwriteCells. All set here, over the course's configuration, which refuses
    nbgrader's own autograde (`preprocessors.RefuseInKernelGrading`)."""
    from jupyter_client.manager import AsyncKernelManager
    from nbconvert.exporters import NotebookExporter
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute, OverwriteCells

    from .preprocessors import AddSentinels, OverwriteCellsQuietly
    from .sandbox import SandboxedExecute

    nb_api.config.AddSentinels.nonce = nonce
    nb_api.config.AddSentinels.record = judged
    nb_api.config.AddSentinels.drivers = drivers
    nb_api.config.SandboxedExecute.nonce = nonce
    nb_api.config.SandboxedExecute.limits = limits.as_dict()
    nb_api.config.SandboxedExecute.scratch = str(scratch)  # the kernel runs in scratch/work/<notebook>
    nb_api.config.SandboxedExecute.notebook_timeout = int(job.notebook_timeout)
    nb_api.config.SandboxedExecute.start_failures = start_failures  # the job's, read after autograde
    nb_api.config.OverwriteCells.add_missing_cells = True  # OverwriteCellsQuietly's too (a subclass)
    nb_api.config.Autograde.exporter_class = NotebookExporter
    nb_api.config.SandboxedExecute.kernel_manager_class = AsyncKernelManager  # the course's refuses (validate)
    defaults = Autograde.class_traits()["autograde_preprocessors"].default()
    nb_api.config.Autograde.autograde_preprocessors = [
        AddSentinels, *[SandboxedExecute if p is Execute else p for p in defaults]]
    sanitize = Autograde.class_traits()["sanitize_preprocessors"].default()
    nb_api.config.Autograde.sanitize_preprocessors = [OverwriteCellsQuietly if p is OverwriteCells else p
                                                      for p in sanitize]


def blame_missing_answers(nb: nbformat.NotebookNode, missing: list[str]) -> None:
    """A failed test of an exercise whose answer cell the notebook lacks says so, in place of what
    the missing name made it say."""
    if not missing:
        return
    for cell in nb.cells:
        exercise = exercise_of(grade_id(cell) or "", missing) if is_test_cell(cell) else None
        if exercise and any(o.get("output_type") == "error" for o in cell.outputs):
            cell.outputs = [nbformat.v4.new_output(
                "error", ename="MissingCell", traceback=[],
                evalue=f"the answer cell {exercise!r} was missing from your notebook: this test scores 0")]


def _graded_notebooks(out_dir: Path, expected: set[str]) -> list[Path]:
    """The assignment's notebooks nbgrader wrote (never another file, never a link)."""
    if not out_dir.is_dir():
        return []
    return [p for p in sorted(out_dir.glob("*.ipynb")) if p.stem in expected and not p.is_symlink()]


def _finish_notebook(path: Path, nonce: str, judged: bool, source_dir: Path, scratch: Path,
                     notices: list[str], missing_answers: list[str]) -> NotebookResult:
    """Judge one graded notebook outside the kernel, score its saved model, and package it."""
    from .preprocessors import check_sentinels

    nb = nbformat.reads(_read_nofollow(path, 1 << 30).decode("utf-8"), as_version=4)
    check_sentinels(nb, nonce)
    said = [str(i) for i in read_incidents(nb, nonce)]  # what the supervisor did to the kernel
    tapes = read_tapes(nb, nonce)  # what each test cell recorded, as the supervisor captured it
    started = time.monotonic()
    if judged:
        judge_outside(nb, source_dir / path.name, scratch, tapes)
        logger.info("%s: judged in %.1f s", path.name, time.monotonic() - started)
    judge.strip_tapes(nb)
    # scored in a folder of the grader's, which holds nothing but the copied models
    score_dir = scratch / "heldout" / path.stem
    score_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    apply_heldout(nb, score_dir, scratch / "work" / path.stem)
    if any(grade_id(c) in HELDOUT_CELLS for c in nb.cells):
        logger.info("%s: held-out models scored in %.1f s", path.name, time.monotonic() - started)
    blame_missing_answers(nb, missing_answers)
    return NotebookResult(nbformat.writes(nb), [r.__dict__ for r in cell_results(nb)], notices + said)


def _conclude(result: GradingResult, notices: dict[str, list[str]]) -> None:
    """The result's notes, error, ok and outcome, from what was graded."""
    result.notices = notices.get("", []) + [n for stem, found in notices.items()
                                            if stem and stem not in result.notebooks for n in found]
    if not result.notebooks:
        result.error = ("; ".join(result.notices) or result.error
                        or "no notebook was graded (was the notebook renamed?)")
    result.ok = bool(result.notebooks) and not result.error
    if result.notebooks:
        result.outcome = Outcome.GRADED


def _summarise_log(log: str) -> str:
    lines = [line for line in log.splitlines() if "ERROR" in line or "Error" in line]
    return "\n".join(lines[-8:]) or log[-2000:]


def serve(out) -> None:
    """Grade jobs read from stdin (one JSON line each), writing one result line each to `out`.

    The heavy modules are imported once, before the first job; `autograde.WorkerProcess` keeps
    such a process per worker and reads this process's stderr (its kernels' too) as the log."""
    import nbclient  # noqa: F401
    import nbgrader.apps  # noqa: F401

    from . import intake, sandbox  # noqa: F401

    for line in sys.stdin:
        result = grade(GradingJob.from_dict(json.loads(line)))
        out.write(result.to_json() + "\n")
        out.flush()


PREFLIGHT_PREFIX = "dlcourse-preflight: "  # the line `--preflight` answers with, JSON after it


def preflight_main(course_root: str, limits_json: str, cell_timeout: str) -> int:
    """`--preflight ROOT LIMITS_JSON CELL_TIMEOUT`: `check_sandbox` in this fresh process (as a
    job's grading process would start its kernel), answered on stdout as one line:
    PREFLIGHT_PREFIX + {"problem": why it failed or "", "seconds": ...}."""
    from .sandbox import Limits, SandboxBroken

    try:
        seconds, problem = check_sandbox(course_root, Limits.from_dict(json.loads(limits_json)), int(cell_timeout)), ""
    except SandboxBroken as exc:
        seconds, problem = 0.0, str(exc)
    print(PREFLIGHT_PREFIX + json.dumps({"problem": problem, "seconds": round(seconds, 3)}), flush=True)
    return 0


def main() -> int:
    """`--serve --result-fd N`: grade jobs from stdin until it closes, results to descriptor N
    (a separate descriptor keeps them clean of anything a library or kernel prints).
    `--preflight ROOT LIMITS_JSON CELL_TIMEOUT`: the preflight's check, once (`preflight_main`)."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # SQLAlchemy 2's note on nbgrader's backref cascades (harmless, three per job in the log)
    warnings.filterwarnings("ignore", message="Object of type .* not in session", module="nbgrader")
    if sys.argv[1:2] == ["--preflight"] and len(sys.argv) == 5:
        return preflight_main(*sys.argv[2:5])
    if sys.argv[1:3] != ["--serve", "--result-fd"] or len(sys.argv) != 4:
        print("usage: python -m dlcourse.grader.worker --serve --result-fd N\n"
              "       python -m dlcourse.grader.worker --preflight ROOT LIMITS_JSON CELL_TIMEOUT", file=sys.stderr)
        return 2
    out = os.fdopen(int(sys.argv[3]), "w")
    os.dup2(2, 1)  # stray prints go to stderr
    serve(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
