"""Run a submission's notebook in a sandboxed kernel, within limits, and survive anything it does.

* `sandbox_kernel` writes a kernelspec whose kernel starts under bubblewrap: its own
  network, PID, IPC and UTS namespaces, the file system read-only, /tmp empty, writable
  only in the notebook's folder and a scratch home, the gradebooks, `source/`, other
  submissions and the hidden data invisible; then `jail.py` sets the resource limits and
  drops to an unprivileged user. The kernel talks to the grader over Unix sockets (ZMQ
  `ipc`), so it needs no network at all.
* `SandboxedExecute` (nbgrader's Execute preprocessor, extended) watches the kernel's
  memory and CPU time and caps each cell's output; its test cells only record the exercise
  calls (`dlcourse.judging`), and the grader's judge decides outside. When a cell hangs past
  the interrupt, or the kernel dies (exit, crash, OOM kill, limit), the cell gets an
  error naming the reason, a fresh kernel replays the cells that had run, and grading
  goes on after the culprit: the student keeps the tests that can still pass.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import secrets
import shutil
import stat
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.preprocessors import Execute
from traitlets import Dict, Instance, Integer, List, Unicode

from ..config import REPO_ROOT
from ..judging import TAPE_MIME
from .binds import ro_bind, system_mounts, traversable_parents, under_system
from .execute import error_message, is_test_cell, mark_not_run
from .gpu import SandboxBroken, claim_gpu, gpu_binds, gpu_library_dirs  # noqa: F401
from .limits import Limits  # noqa: F401 (imported from here by other modules)
from .preprocessors import SENTINEL
from .protocol import Incident, Problem, write_incidents
from .tapes import MAX_DEPTH, MAX_ITEMS, SCAN_FROM, TapeRecorder, too_complex, write_tapes

JAIL = Path(__file__).with_name("jail.py")




UID_BASE, UID_COUNT = 61000, 4000
_claimed_uid: list[int] = []  # (uid, the descriptor whose lock claims it), for this process's life


def sandbox_uid() -> int:
    """An unprivileged uid of this grading process, unique among the grading processes of this
    machine (a lock file per uid, held while the process lives): concurrent kernels never share a
    process limit or each other's files, however their pids fall."""
    import fcntl

    if _claimed_uid:
        return _claimed_uid[0]
    folder = Path(tempfile.gettempdir()) / "dlcourse-uids"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise RuntimeError(f"{folder} is not a folder of this user's: cannot claim a sandbox uid")
    first = os.getpid() % UID_COUNT
    for k in range(UID_COUNT):
        uid = UID_BASE + (first + k) % UID_COUNT
        fd = os.open(folder / str(uid), os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        _claimed_uid.extend((uid, fd))
        return uid
    raise RuntimeError(f"all {UID_COUNT} sandbox uids are in use on this machine")


BWRAP_MISSING = ("bubblewrap (bwrap) is not on PATH, and students' code runs only in its sandbox: install it "
                 "(`apt-get install bubblewrap`, as root) and grade again; to try your own notebooks while "
                 "authoring, `dlcourse autograde --unsandboxed-authoring`")


class StartFailures:
    """Why the kernels of one run could not start (`SandboxedExecute`): nbgrader catches the
    exception, so the run that starts the kernels (a grading job, the preflight) owns one of these,
    hands it to its SandboxedExecute through the configuration (`SandboxedExecute.start_failures`)
    and reads it afterwards to tell its sandbox's failure apart from a submission nbgrader could
    not grade. Per run, never per process: two runs in one process (serve, tests) never see each
    other's. traitlets copies configuration values; this one is a handle, never copied."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def add(self, reason: str) -> str:
        self.reasons.append(reason)
        return reason

    def __bool__(self) -> bool:
        return bool(self.reasons)

    def __deepcopy__(self, memo) -> StartFailures:
        return self

    def __copy__(self) -> StartFailures:
        return self


def sandbox_kernel(scratch: Path, hide: list[Path], limits: Limits) -> bool:
    """Make the grading kernel start inside bubblewrap; False when bwrap is missing."""
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return False
    uid = sandbox_uid()
    home, runtime, work = scratch / "home", scratch / "runtime", scratch / "work"
    for folder in (home / "tmp", runtime, work):
        folder.mkdir(parents=True, exist_ok=True)
    ipython = ipython_dir(scratch)
    # Only the operating system and the interpreter are visible, never the whole file system:
    # other checkouts and courses on the grading machine may hold answers.
    argv = [bwrap, *system_mounts(), "--dev", "/dev", "--proc", "/proc", "--perms", "1777",
            "--size", str(min(limits.file_mb, limits.disk_mb) * 2**20), "--tmpfs", "/tmp",
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--new-session", "--die-with-parent"]
    if not limits.network:
        argv.append("--unshare-net")
    gpu_env: dict[str, str] = {"DLCOURSE_GPU": "none"}
    if limits.gpu:  # after --dev /dev: the claimed GPU's nodes are bound into the fresh /dev
        index = claim_gpu()
        argv += gpu_binds(index)
        gpu_env = {"DLCOURSE_GPU": f"/dev/nvidia{index}"}
        libraries = ":".join(map(str, gpu_library_dirs()))
        if libraries:
            gpu_env["LD_LIBRARY_PATH"] = libraries
    interpreters = sorted({Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()})
    argv += reachable([*interpreters, REPO_ROOT])
    for path in interpreters:  # those below a world-traversable folder were not bound by reachable()
        if str(path) not in argv:
            argv += [*traversable_parents(path), *ro_bind(path)]
    argv += traversable_parents(REPO_ROOT)
    # of the course repository, only the package and the public data: not source/, tests/
    # (fixtures hold working answers), .git (history holds solutions) or anything else
    argv += ["--tmpfs", str(REPO_ROOT)]
    for keep in (REPO_ROOT / "dlcourse", REPO_ROOT / "data", Path(sys.prefix).resolve()):
        if keep.exists() and REPO_ROOT in keep.parents:
            argv += ro_bind(keep)
    for path in hide:
        if path.is_dir():
            argv += ["--tmpfs", str(path)]
        elif path.is_file():
            argv += ["--ro-bind", "/dev/null", str(path)]
    for parent in [*reversed(scratch.parents)][1:] + [scratch]:
        # inside the empty /tmp, or wherever $TMPDIR put the scratch folder outside the mounted
        # system (/var/tmp/...): made in the sandbox, crossable by the kernel's user
        if str(parent) == "/tmp" or under_system(parent):
            continue
        argv += ["--perms", "0711", "--dir", str(parent)]
    # the kernel writes only in its own folders (work/<notebook>, its home, its runtime folder),
    # never where the grader writes (autograded/): nothing it leaves there (a link) is followed
    for folder in (work, home, runtime):
        argv += ["--bind", str(folder), str(folder)]
    argv += ro_bind(ipython)
    argv += ["--", sys.executable, "-I", str(JAIL), "--uid", str(uid), "--cpu", str(limits.cpu_seconds),
             "--nproc", str(limits.max_processes), "--fsize", str(limits.file_mb * 2**20),
             "--conn", "{connection_file}", "--", *kernel_command("{connection_file}")]
    mpl = home / "mpl"
    mpl.mkdir(exist_ok=True)
    fonts = font_list()
    if fonts is not None:  # matplotlib would otherwise scan the system's fonts in every kernel
        try:
            shutil.copyfile(fonts, mpl / fonts.name)
        except OSError:  # the grader's cache was emptied since: this kernel scans the fonts itself
            pass
    if os.getuid() == 0:  # the kernel runs as `uid`: it must be able to reach and write these
        os.chmod(scratch, 0o711)
        os.chmod(work, 0o755)  # root's: the kernel cannot swap its notebook folder for a link
        for path in (home, home / "tmp", runtime, mpl, *mpl.iterdir()):
            os.chown(path, uid, uid)
    spec_dir = scratch / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True, exist_ok=True)
    # JOBLIB_MULTIPROCESSING=0: the sandbox has no /dev/shm, and joblib (under scikit-learn) would
    # print its "will operate in serial mode" warning into the student's graded notebook.
    # PYTHONWARNINGS: IPython's folder is read-only on purpose; its warning that it is goes unsaid
    env = {"HOME": str(home), "TMPDIR": str(home / "tmp"), "MPLCONFIGDIR": str(home / "mpl"),
           "DLCOURSE_SANDBOX": "1", "DLCOURSE_GRADING_WORKER": "1", "JOBLIB_MULTIPROCESSING": "0", **ISOLATED_ENV,
           "IPYTHONDIR": str(ipython),
           "PYTHONWARNINGS": "ignore:IPython dir:UserWarning", **gpu_env}
    (spec_dir / "kernel.json").write_text(json.dumps(
        {"argv": argv, "env": env, "display_name": "Python 3 (sandboxed)", "language": "python",
         "interrupt_mode": "message"}))
    os.environ["JUPYTER_PATH"] = str(scratch / "jupyter")
    os.environ["JUPYTER_RUNTIME_DIR"] = str(runtime)
    return True


@functools.cache
def font_list() -> Path | None:
    """matplotlib's list of the system's fonts (`fontlist-*.json`) in this process's cache folder.

    A sandboxed kernel starts with an empty home, where matplotlib would scan the fonts again
    (0.4 s per notebook, `fc-list` included); `sandbox_kernel` copies this list into it instead.
    Loading matplotlib's font manager here builds the list once if it is missing (0.2 s per
    grading process otherwise). The kernel sees the same system folders and interpreter as this
    process; a font it cannot find makes its matplotlib scan again, as without the list.
    None when matplotlib is not installed: kernels then do without.
    """
    try:
        import matplotlib
        from matplotlib import font_manager
    except ImportError:
        return None
    path = Path(matplotlib.get_cachedir()) / f"fontlist-v{font_manager.FontManager.__version__}.json"
    return path if path.is_file() else None




# Nothing beside the notebook or written by the kernel changes how a kernel starts or what it
# imports: no current folder on sys.path (-P), no user site-packages in its home (-s), and a
# read-only IPython folder made by the grader (no start-up files, no profile of the student's).
ISOLATED_ENV = {"PYTHONSAFEPATH": "1", "PYTHONNOUSERSITE": "1", "PYTHONSTARTUP": "", "PYTHONPATH": ""}


def kernel_command(connection_file: str) -> list[str]:
    return [sys.executable, "-P", "-s", "-m", "ipykernel_launcher", "-f", connection_file]


def isolated_kernel(scratch: Path) -> None:
    """Without bubblewrap: the kernelspec still starts Python isolated from its folder and home."""
    spec_dir = scratch / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True, exist_ok=True)
    env = {**ISOLATED_ENV, "IPYTHONDIR": str(ipython_dir(scratch))}
    (spec_dir / "kernel.json").write_text(json.dumps(
        {"argv": kernel_command("{connection_file}"), "env": env, "display_name": "Python 3 (isolated)",
         "language": "python", "interrupt_mode": "signal"}))
    os.environ["JUPYTER_PATH"] = str(scratch / "jupyter")


def ipython_dir(scratch: Path) -> Path:
    """An empty IPython folder made by the grader (read-only to the kernel)."""
    ipython = scratch / "ipython"
    for sub in ("startup", "security", "log", "pid", "static"):
        (ipython / "profile_default" / sub).mkdir(parents=True, exist_ok=True)
    for folder, _dirs, _files in os.walk(ipython):
        os.chmod(folder, 0o755)
    return ipython


def reachable(paths: list[Path]) -> list[str]:
    """bwrap options that let the kernel's user reach `paths` (the interpreter, the course).

    /tmp is empty in the sandbox and a private folder (/root, where pyenv lives) cannot be
    crossed by another user: such a folder is replaced by an empty one and only the paths
    below it that the kernel needs are mounted back, read-only.
    """
    covers: list[str] = []
    binds: list[str] = []
    for path in paths:
        ancestors = [*reversed(path.parents)][1:]
        blocked = [a for a in ancestors if str(a) == "/tmp" or not (a.stat().st_mode & 0o001)]
        if not blocked:
            continue
        top = blocked[0]
        if str(top) not in covers and str(top) != "/tmp":
            covers += ["--tmpfs", str(top)]
        for folder in ancestors[ancestors.index(top) + 1:]:  # bwrap would make them 0700
            binds += ["--perms", "0755", "--dir", str(folder)]
        binds += ro_bind(path)
    return covers + binds


def kernel_workdir(scratch: Path, notebook: str) -> Path:
    """A fresh, empty folder for the kernel of `notebook`, handed to the kernel's user."""
    work = scratch / "work"
    work.mkdir(exist_ok=True)
    folder = work / (re.sub(r"[^A-Za-z0-9_.-]", "_", notebook) or "notebook")
    if folder.is_symlink() or folder.exists():
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder)
        else:
            folder.unlink()
    folder.mkdir()
    prepare_workdir(folder)
    return folder


def prepare_workdir(path: Path) -> None:
    """Hand the notebook's folder to the kernel's user (nbgrader created it as root)."""
    if os.getuid() != 0 or not path.is_dir():
        return
    uid = sandbox_uid()
    for folder, _dirs, files in os.walk(path):
        os.chown(folder, uid, uid)
        for name in files:
            os.chown(os.path.join(folder, name), uid, uid, follow_symlinks=False)


class Watchdog(threading.Thread):
    """Kill the kernel's process tree when it passes the memory or CPU limit, saying why."""

    def __init__(self, pid: int, limits: Limits, interval: float = 0.1, disk: list[Path] | tuple = (),
                 disk_interval: float = 0.5):
        super().__init__(daemon=True)
        import psutil

        self.root = psutil.Process(pid)
        self.limits = limits
        self.interval = interval
        self.disk = list(disk)  # the folders the kernel writes in (its /tmp is counted too)
        self.disk_interval = disk_interval
        self.problem: Problem | None = None  # why it stopped the kernel
        self.peak_mb = 0.0
        self._stop_event = threading.Event()

    def tree(self):
        import psutil

        try:
            return [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return []

    def disk_usage(self, procs=()) -> tuple[int, int]:
        """(bytes, files) the kernel has written: its folders and its private /tmp."""
        return written(self.disk, procs, self.limits.max_files)

    def run(self) -> None:
        import psutil

        next_disk = 0.0
        while not self._stop_event.wait(self.interval):
            rss = cpu = 0.0
            procs = self.tree()
            if not procs:
                return
            many = len(procs) > 16  # forked children share pages: count each page once (PSS)
            for proc in procs:
                try:
                    rss += proc.memory_full_info().pss if many else proc.memory_info().rss
                    times = proc.cpu_times()
                    cpu += times.user + times.system
                except psutil.Error:
                    continue
            self.peak_mb = max(self.peak_mb, rss / 2**20)
            if rss > self.limits.memory_mb * 2**20:
                self.problem = Problem("MemoryLimit", f"the kernel used more than {self.limits.memory_mb} MB of "
                                                      "memory and was stopped")
            elif cpu > self.limits.cpu_seconds:
                self.problem = Problem("CPULimit", f"the kernel used more than {self.limits.cpu_seconds} s of CPU "
                                                   "time and was stopped")
            elif self.disk and time.monotonic() >= next_disk:
                next_disk = time.monotonic() + self.disk_interval
                used, count = self.disk_usage(procs)
                if used > self.limits.disk_mb * 2**20 or count > self.limits.max_files:
                    self.problem = Problem("DiskLimit", f"the kernel wrote more than {self.limits.disk_mb} MB "
                                                        f"(or {self.limits.max_files} files) in total in its "
                                                        "folders and was stopped")
            if self.problem is not None:
                self.kill()
                return

    def kill(self) -> None:
        import psutil

        for proc in reversed(self.tree()):
            try:
                proc.kill()
            except psutil.Error:
                pass

    def stop(self) -> None:
        self._stop_event.set()


def written(folders: list[Path], procs=(), max_files: int = 1_000_000) -> tuple[int, int]:
    """(bytes, entries) under `folders`, links not followed, plus the private /tmp of `procs`
    (the walk stops past `max_files` entries)."""
    total = count = 0
    stack = [str(f) for f in folders]
    while stack and count <= max_files:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    count += 1
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    total += max(info.st_blocks * 512, 0)
                    if stat.S_ISDIR(info.st_mode):
                        stack.append(entry.path)
        except OSError:
            continue
    try:
        host = os.stat("/tmp").st_dev
    except OSError:
        host = None
    for proc in list(procs)[1:]:  # bwrap's children see the sandbox's own tmpfs /tmp
        try:
            tmp = f"/proc/{proc.pid}/root/tmp"
            if os.stat(tmp).st_dev == host:
                continue
            vfs = os.statvfs(tmp)
            total += (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize
            count += max(vfs.f_files - vfs.f_ffree, 0)
            break
        except OSError:
            continue
    return total, count


def clear_folder(folder: Path) -> None:
    """Empty a folder the kernel wrote in, never following a link it left there."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
        except OSError:
            pass


ERROR_KEEP = 64 * 1024  # characters of an error (name, message, traceback) kept in the graded notebook


def cap_error(content: dict, keep: int = ERROR_KEEP) -> dict:
    """An error output cut to `keep` characters or so: still an error, with a note that it was cut."""
    def cut(text, limit: int) -> str:
        text = str(text)
        return text if len(text) <= limit else f"{text[:limit]}... [{len(text) - limit} characters cut by the grader]"

    lines = [cut(line, keep // 8) for line in list(content.get("traceback") or [])]
    if len(lines) > 40:
        lines = lines[:10] + [f"... [{len(lines) - 30} traceback lines cut by the grader]"] + lines[-20:]
    while len(lines) > 1 and sum(len(x) for x in lines) > keep // 2:  # each line is at most keep // 8
        lines = lines[:1] + lines[2:]
    return {**content, "ename": cut(content.get("ename", "Error"), 200),
            "evalue": cut(content.get("evalue", ""), keep // 4), "traceback": lines}


REFUSED = "dlcourse_refused"  # in a message's content: the supervisor refused to parse it, and why
MESSAGE_FLOOR = 128 * 2**20  # a message up to this size is parsed when its scan passes (a long error is cut after)


def refused_content(why: str) -> dict:
    """What stands for a refused message: harmless whatever its type (an output, an error, a reply)."""
    return {REFUSED: why, "name": "stdout", "text": "", "data": {}, "metadata": {}, "status": "error",
            "ename": "OutputRefused", "evalue": why, "traceback": [], "comm_id": ""}


class KernelStuck(Exception):
    """A kernel that no longer answers; `problem` says why."""

    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


class NotebookTimeout(Exception):
    pass


def _error(ename: str, evalue: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


@dataclass
class Attempt:
    """How one kernel's run of the notebook ended."""

    phase: str = "start"  # start, replay (the cells that ran before a restart) or run
    failed_at: int | None = None  # the cell its kernel failed in (crash, hang, broken limit)
    problem: Problem | None = None  # why, as the watchdog or nbclient said it
    out_of_time_at: int | None = None  # the first cell the notebook's time budget left unrun

    @property
    def reason(self) -> str:
        """The "Kind: text" a user reads ("" when nothing failed)."""
        return str(self.problem) if self.problem is not None else ""


class SandboxedExecute(Execute):
    """nbgrader's Execute, with limits and recovery from hangs and crashes. The kernel is trusted
    with nothing: its test cells only record (`dlcourse.judging`) and the judge decides."""

    limits = Dict({}).tag(config=True)
    nonce = Unicode("").tag(config=True)
    max_grace = Integer(20, help="seconds a timed-out kernel has to answer after its interrupt").tag(config=True)
    scratch = Unicode("", help="the worker's scratch course: the kernel runs in scratch/work/<notebook>, "
                               "a fresh folder holding nothing of the submission").tag(config=True)
    notebook_timeout = Integer(0, help="seconds the notebook's cells may run in all, replays after a "
                                       "restart included (0: no limit)").tag(config=True)
    start_failures = Instance(StartFailures, args=(), help="the run's record of kernels that could not start "
                              "(its owner passes it through the configuration and reads it after)").tag(config=True)
    incidents = List([], help="what the supervisor did (protocol.Incident), attached to the notebook's "
                              "metadata under the nonce when it finishes")

    def preprocess(self, nb, resources=None, km=None):
        """Run the notebook, one kernel at a time: after a crash, a hang or a broken limit, a fresh
        kernel replays the cells that ran cleanly and goes on after the failed cell."""
        limits = self._begin(nb, resources, km)
        workdir, disk = self._workdir(resources)
        ran_ok: list[int] = []  # code cells (not tests) that ran cleanly: replayed after a restart
        start, restarts, startup_failures = 0, 0, 0
        while start < len(nb.cells):
            if self._over_budget():
                self._out_of_time(nb.cells[start:])
                break
            attempt = self._run_kernel(nb, resources, start, ran_ok, workdir, disk, limits)
            if attempt.out_of_time_at is not None:
                self._out_of_time(nb.cells[attempt.out_of_time_at:])
                break
            if attempt.failed_at is None:
                break
            if attempt.problem is not None and attempt.problem.kind == "DiskLimit":  # start with empty folders
                self._empty(disk)
            if attempt.phase == "start":  # the grader's problem, not the student's: retry, then give up
                startup_failures += 1
                if startup_failures > 1:
                    raise SandboxBroken(self.start_failures.add(
                        f"the grading kernel could not start: {attempt.reason}"))
                continue
            if attempt.phase == "replay":
                mark_not_run(nb.cells[start:], "after a restart, the cells before this one failed to run again "
                                               f"({attempt.reason})")
                self.incidents.append(Incident("ReplayFailed", attempt.reason))
                break
            ename = self._record_failure(nb.cells[attempt.failed_at], attempt)
            restarts += 1
            start = attempt.failed_at + 1
            if restarts > limits.max_restarts:
                mark_not_run(nb.cells[start:], f"the kernel was restarted {limits.max_restarts} times "
                                               f"(last: {ename}); the remaining cells did not run")
                break
        self.set_widgets_metadata()
        write_incidents(self.nb, self.nonce, self.incidents)
        write_tapes(self.nb, self.nonce, self._tapes)
        return self.nb, self.resources

    # -- the steps of preprocess ------------------------------------------------------------
    def _begin(self, nb, resources, km) -> Limits:
        """nbclient's per-notebook state, and this run's budgets and trackers."""
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self.resources = resources
        self.timeout_func = self.cell_timeout  # nbclient's documented hook for each cell's time limit
        limits = Limits.from_dict(self.limits)
        self.incidents = []
        self._output_limit = int(limits.output_mb * 2**20)
        self._tapes = TapeRecorder(int(limits.tape_mb * 2**20))
        self._noted: set[tuple[str, int]] = set()  # (incident kind, cell) already noted
        self._spent = 0.0  # seconds the notebook's cells have run (replays included; not kernel start-ups)
        return limits

    def _workdir(self, resources) -> tuple[Path, list[Path]]:
        """The kernel's working folder, and the folders whose size the disk limit counts."""
        if self.scratch:  # a fresh, empty folder: files beside the notebook never reach the kernel
            notebook_name = ((resources or {}).get("nbgrader") or {}).get("notebook", "")
            workdir = kernel_workdir(Path(self.scratch), notebook_name)
            return workdir, [workdir, Path(self.scratch) / "home"]
        workdir = Path((resources or {}).get("metadata", {}).get("path") or ".")
        prepare_workdir(workdir)
        return workdir, []

    def _run_kernel(self, nb, resources, start: int, ran_ok: list[int], workdir: Path, disk: list[Path],
                    limits: Limits) -> Attempt:
        """One kernel: start it, replay the cells in `ran_ok`, run the cells from `start` on."""
        self.km, self.kc = None, None
        attempt, watchdog, index = Attempt(), None, start
        try:
            with self.setup_kernel(cwd=str(workdir)):
                self._bound_messages()
                watchdog = Watchdog(self.km.provisioner.process.pid, limits, disk=disk)
                watchdog.start()
                info = self.wait_for_reply(self.kc.kernel_info())
                nb.metadata["language_info"] = info["content"]["language_info"]
                attempt.phase = "replay"
                for i in ran_ok:
                    self._replay(nb.cells[i], i)
                attempt.phase = "run"
                for index in range(start, len(nb.cells)):
                    cell = nb.cells[index]
                    if cell.cell_type != "code":
                        continue
                    self._run_cell(cell, resources, index)
                    if not is_test_cell(cell) and not error_message(cell):
                        ran_ok.append(index)
        except NotebookTimeout:
            attempt.out_of_time_at = index
        except (DeadKernelError, KernelStuck, CellTimeoutError, RuntimeError, TimeoutError) as exc:
            attempt.failed_at = index
            attempt.problem = watchdog.problem if watchdog and watchdog.problem else self._describe(exc)
        finally:
            if watchdog is not None:
                watchdog.stop()
                if attempt.failed_at is not None:
                    watchdog.kill()
        return attempt

    def _empty(self, disk: list[Path]) -> None:
        for folder in disk:
            clear_folder(folder)
        if self.scratch:
            (Path(self.scratch) / "home" / "tmp").mkdir(exist_ok=True)
            prepare_workdir(Path(self.scratch) / "home")

    def _record_failure(self, cell, attempt: Attempt) -> str:
        """The failed cell shows why its kernel was stopped (one error, not nbclient's timeout too)."""
        problem = attempt.problem or Problem("KernelDied")
        cell.outputs = [o for o in cell.get("outputs", [])
                        if not (o.get("output_type") == "error" and o.get("ename") == "CellTimeoutError")]
        cell.outputs.append(_error(problem.kind, problem.detail))
        self.incidents.append(Incident.of(problem, attempt.failed_at))
        return problem.kind

    # -- the notebook's time and its kernel's files ----------------------------------------
    def _over_budget(self) -> bool:
        return self.notebook_timeout > 0 and getattr(self, "_spent", 0.0) >= self.notebook_timeout - 0.5

    def _timed(self, run, *args, **kwargs) -> None:
        started = time.monotonic()
        try:
            run(*args, **kwargs)
        finally:
            self._spent = getattr(self, "_spent", 0.0) + time.monotonic() - started

    def _budget_text(self) -> str:
        return f"the notebook's cells ran longer than {self.notebook_timeout} s in total (the grading time limit)"

    def _out_of_time(self, cells) -> None:
        mark_not_run(cells, f"NotebookTimeout: {self._budget_text()}; this cell did not run")
        self.incidents.append(Incident("NotebookTimeout", f"{self._budget_text()}; the remaining cells did not run"))

    def cell_timeout(self, cell) -> int | None:
        """A cell's time limit: `timeout`, cut to what is left of the notebook's budget."""
        timeout = self.timeout if self.timeout and self.timeout > 0 else None
        if self.notebook_timeout <= 0:
            return timeout
        left = max(1, int(self.notebook_timeout - getattr(self, "_spent", 0.0)) + 1)
        return left if timeout is None else min(timeout, left)

    def create_kernel_manager(self):
        """Each kernel gets a fresh runtime folder of unguessable name for its connection file,
        so no link a previous kernel left in the runtime folder is written through."""
        km = super().create_kernel_manager()
        runtime = Path(self.scratch) / "runtime" if self.scratch else None
        if runtime is not None and runtime.is_dir():  # made by sandbox_kernel
            fresh = runtime / secrets.token_hex(8)
            fresh.mkdir(mode=0o700)
            if os.getuid() == 0:
                os.chown(fresh, sandbox_uid(), sandbox_uid())
            km.connection_file = str(fresh / "kernel.json")
        return km

    # -- one cell -----------------------------------------------------------------------
    def _run_cell(self, cell, resources, index: int) -> None:
        if self._over_budget():
            raise NotebookTimeout(self._budget_text())
        self._cell_bytes, self._cell_truncated = 0, False
        if is_test_cell(cell):  # kept out of the kernel's history (In, _ih, the history database)
            self._tapes.start(cell.metadata["nbgrader"]["grade_id"])
            self._timed(self.execute_cell, cell, index, store_history=False)
        else:
            self._timed(self.preprocess_cell, cell, resources, index)
        timed_out = any(o.get("output_type") == "error" and o.get("ename") == "CellTimeoutError"
                        for o in cell.outputs)
        if timed_out and self._over_budget():
            for out in cell.outputs:
                if out.get("output_type") == "error" and out.get("ename") == "CellTimeoutError":
                    out["ename"], out["evalue"] = "NotebookTimeout", f"{self._budget_text()}: the cell was stopped"
            raise NotebookTimeout(self._budget_text())
        if timed_out:
            if not self._responsive():
                raise KernelStuck(Problem("CellTimeout", f"the cell ran longer than {self.timeout} s and did not "
                                                         "stop when interrupted"))
            for out in cell.outputs:
                if out.get("output_type") == "error" and out.get("ename") == "CellTimeoutError":
                    out["evalue"] = f"the cell ran longer than {self.timeout} s and was interrupted"
            self.incidents.append(Incident("CellTimeout", f"interrupted after {self.timeout} s", index))

    def _replay(self, cell, index: int) -> None:
        shadow = copy.deepcopy(cell)
        shadow.outputs = []
        self._cell_bytes, self._cell_truncated = 0, False
        self._timed(self.execute_cell, shadow, index, store_history=False)
        if any(o.get("ename") == "CellTimeoutError" for o in shadow.outputs if o.get("output_type") == "error"):
            raise KernelStuck(Problem("CellTimeout", f"replaying cell {index} after a restart timed out"))

    # -- limits and liveness ------------------------------------------------------------
    def _responsive(self) -> bool:
        deadline = time.monotonic() + self.max_grace
        while time.monotonic() < deadline:
            try:
                msg_id = self.kc.kernel_info()
                self.wait_for_reply(msg_id, timeout=max(1, int(deadline - time.monotonic())))
                return True
            except (TimeoutError, RuntimeError):
                return False
            except Exception:  # noqa: BLE001 - any failure to answer counts as unresponsive
                return False
        return False

    def wait_for_reply(self, msg_id, cell=None, timeout=None):
        if timeout is None:
            return super().wait_for_reply(msg_id, cell)
        saved = self.timeout
        self.timeout = timeout
        try:
            return super().wait_for_reply(msg_id, cell)
        finally:
            self.timeout = saved

    def output(self, outs, msg, display_id, cell_index):
        if REFUSED in msg["content"]:
            self._refused(msg["content"][REFUSED], cell_index)
            return None
        data = msg["content"].get("data")
        if isinstance(data, dict) and TAPE_MIME in data:  # a recording for the judge: never an output
            self._take_tape(msg, data[TAPE_MIME], cell_index)
            return None
        if msg["msg_type"] == "error":  # an error is output too: ename, evalue and traceback are capped
            size = len(json.dumps(msg["content"]))
            self._cell_bytes = getattr(self, "_cell_bytes", 0) + size
            if self._cell_bytes > self._output_limit:
                msg = {**msg, "content": cap_error(msg["content"])}
                self.incidents.append(Incident("OutputTruncated", f"output truncated (an error of "
                                               f"{size / 2**20:.1f} MB was cut to its start)", cell_index))
            return super().output(outs, msg, display_id, cell_index)
        if msg["msg_type"] in ("stream", "display_data", "execute_result", "update_display_data"):
            size = len(json.dumps(msg["content"]))
            self._cell_bytes = getattr(self, "_cell_bytes", 0) + size
            if self._cell_bytes > self._output_limit:
                text = msg["content"].get("text", "") if msg["msg_type"] == "stream" else ""
                kept = "".join(line for line in text.splitlines(True) if SENTINEL in line)
                if not getattr(self, "_cell_truncated", False):
                    self._cell_truncated = True
                    outs.append(nbformat.v4.new_output(
                        "stream", name="stdout",
                        text=f"\n[output truncated: this cell printed more than {self._output_limit / 2**20:g} MB]\n"))
                    self.incidents.append(Incident("OutputTruncated", "output truncated (more than "
                                                   f"{self._output_limit / 2**20:g} MB)", cell_index))
                if kept:
                    out = nbformat.v4.new_output("stream", name="stdout", text=kept)
                    outs.append(out)
                    return out
                return None
        return super().output(outs, msg, display_id, cell_index)

    # -- the tapes, and messages too large to read ------------------------------------------
    def _note(self, kind: str, detail: str, cell_index: int) -> None:
        if (kind, cell_index) not in self._noted:
            self._noted.add((kind, cell_index))
            self.incidents.append(Incident(kind, detail, cell_index))

    def _take_tape(self, msg, text, cell_index: int) -> None:
        """Keep a tape event of the running test cell; anything else under the tape's type is dropped."""
        cell = self.nb.cells[cell_index]
        if not is_test_cell(cell):  # no test runs there: dropped
            return
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        transient = msg["content"].get("transient") or {}
        if msg["msg_type"] != "display_data" or transient.get("display_id") or not isinstance(text, str):
            self._tapes.refuse(grade_id, "the recording of this test was not made by the grader's recorder "
                                         "(a display id, or not its format)")
            self._note("TapeMismatch", self._tapes.broken[grade_id], cell_index)
            return
        why = self._tapes.add(grade_id, text)
        if why:
            self._note("TapeTruncated", why, cell_index)

    def _refused(self, why: str, cell_index: int) -> None:
        """A message the supervisor would not parse (`_bound_messages`): noted, and its test fails."""
        cell = self.nb.cells[cell_index]
        if is_test_cell(cell):
            self._tapes.refuse(cell.metadata["nbgrader"]["grade_id"],
                               f"an output of this test was refused unread: {why}")
        self._note("OutputRefused", f"an output was refused unread: {why}", cell_index)

    def _bound_messages(self) -> None:
        """Scan each large message from the kernel before the client parses it (`tapes.scan`): one
        too large, too deeply nested or with too many values is never parsed in this process."""
        session = self.kc.session
        unpack = session.unpack
        limit = max(self._tapes.limit_bytes, self._output_limit, MESSAGE_FLOOR)

        def bounded(data):
            if len(data) < SCAN_FROM:
                return unpack(data)
            why = f"a message of {len(data) / 2**20:.0f} MB" if len(data) > limit else \
                too_complex(data, MAX_ITEMS, MAX_DEPTH)[1]
            return refused_content(why) if why else unpack(data)

        session.unpack = bounded

    def _describe(self, exc: Exception) -> Problem:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if isinstance(exc, KernelStuck):
            return exc.problem
        if isinstance(exc, CellTimeoutError):  # nbclient gave up waiting after the interrupt
            return Problem("CellTimeout",
                           f"the cell ran longer than {self.timeout} s and did not stop when interrupted")
        if isinstance(exc, DeadKernelError):
            return Problem("KernelDied", "the kernel stopped while running this cell (it exited or crashed)")
        return Problem(type(exc).__name__, text)
