"""`dlcourse lab` (`make lab`): JupyterLab on the course with nbgrader's extensions.

One server, on loopback only, serves both sides of the course:

- instructors: Formgrader (menu *Nbgrader > Formgrader*, or `/formgrader`) on the course
  directory (`CourseDirectory.root` of grader_config.py) and its gradebook;
- students: the Assignments panel (*Nbgrader > Assignment List*) lists every assignment of
  `release/`, released into a local exchange (`build/lab/exchange/`); *Fetch* copies one
  into `build/lab/student/`, *Submit* hands it back to the exchange, where formgrader's
  *Collect* picks it up. Everything, the students' submission cache included, lives under
  `build/lab/` (ignored by git).

nbgrader's assignment-list and course-list handlers read only configuration *files* (the
server's root folder and Jupyter's config path), never the server's command line, so
the exchange settings are given twice: as command-line traitlets (the server and
formgrader) and in a generated `build/lab/config/nbgrader_config.py` put on
`JUPYTER_CONFIG_PATH` for those handlers.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

NBGRADER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
    "nbgrader.server_extensions.validate_assignment",
)
LOOPBACK = "127.0.0.1"


@dataclass
class LabServer:
    """A running JupyterLab; `url(path)` is an address with the login token."""

    root: Path
    port: int
    token: str
    exchange: Path
    workspace: Path
    log_path: Path
    process: subprocess.Popen

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def url(self, path: str = "lab") -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}/{path.lstrip('/')}{sep}token={self.token}"

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM the server's process group (the server and its kernels); SIGKILL after `timeout`."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def free_port(preferred: int | None = None) -> int:
    """`preferred` when it is free on loopback, else any free port."""
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as s:
            try:
                s.bind((LOOPBACK, port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise OSError("no free port on loopback")


def lab_dirs(root: Path, lab_dir: Path | None = None) -> dict[str, Path]:
    base = Path(lab_dir) if lab_dir else root / "build" / "lab"
    return {"base": base, "exchange": base / "exchange", "workspace": base / "student", "config": base / "config",
            "cache": base / "cache"}


def write_exchange_config(config_dir: Path, exchange: Path, workspace: Path, cache: Path) -> Path:
    """The nbgrader_config.py that nbgrader's assignment-list handlers read (see the module doc)."""
    config_dir.mkdir(parents=True, exist_ok=True)
    path = config_dir / "nbgrader_config.py"
    path.write_text("# Written by `dlcourse lab` for nbgrader's assignment list; regenerated at every start.\n"
                    "c = get_config()  # noqa: F821\n"
                    f"c.Exchange.root = {str(exchange)!r}\n"
                    f"c.Exchange.assignment_dir = {str(workspace)!r}\n"
                    f"c.Exchange.cache = {str(cache)!r}\n")
    return path


def release_to_exchange(root: Path, exchange: Path, names: list[str] | None = None) -> list[str]:
    """Release the assignments of release/ into the exchange (what students' Assignment List shows)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from .course import nbgrader_config

    names = names if names is not None else sorted(
        p.name for p in (root / "release").iterdir() if p.is_dir() and list(p.glob("*.ipynb")))
    cfg = nbgrader_config(root)
    cfg.Exchange.root = str(exchange)
    cfg.ExchangeReleaseAssignment.force = True
    nb_api = NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)
    nb_api.log.setLevel("WARNING")
    exchange.mkdir(parents=True, exist_ok=True)
    for name in names:
        result = nb_api.release_assignment(name)
        if not result.get("success"):
            raise RuntimeError(f"could not release {name} into {exchange}:\n{result.get('log', '')[-2000:]}")
    return names


def lab_command(root: Path, port: int, token: str, dirs: dict[str, Path],
                settings_dir: Path | None = None) -> list[str]:
    extensions = "{" + ", ".join(f"{name!r}: True" for name in NBGRADER_EXTENSIONS) + "}"
    cmd = [
        sys.executable, "-m", "jupyterlab",
        f"--ServerApp.ip={LOOPBACK}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.jpserver_extensions={extensions}",
        f"--Exchange.root={dirs['exchange']}",
        f"--Exchange.assignment_dir={dirs['workspace']}",
        f"--Exchange.cache={dirs['cache']}",
        # no calls home: no news feed, no update check
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI run as root
        cmd.append("--ServerApp.allow_root=True")
    if settings_dir is not None:  # a fresh layout and settings (tests; see start_lab)
        cmd += [f"--LabApp.user_settings_dir={settings_dir / 'settings'}",
                f"--LabApp.workspaces_dir={settings_dir / 'workspaces'}"]
    return cmd


def quiet_settings(settings: Path) -> None:
    """User settings without the first-run "Jupyter news?" question (a fresh settings folder asks it)."""
    path = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"fetchNews": "false", "checkForUpdates": false}\n')


def lab_env(config_dir: Path, settings_dir: Path | None = None) -> dict[str, str]:
    from .course import ensure_tools_on_path

    ensure_tools_on_path()  # nbgrader runs alembic from this interpreter's bin/
    env = dict(os.environ)
    if settings_dir is not None:  # nothing in the user's ~/.local/share/jupyter either (tests)
        env["JUPYTER_DATA_DIR"] = str(settings_dir / "data")
        env["JUPYTER_RUNTIME_DIR"] = str(settings_dir / "runtime")
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
        [str(config_dir)] + [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    return env


def start_lab(root: Path, port: int | None = None, token: str | None = None, lab_dir: Path | None = None,
              settings_dir: Path | None = None, release: bool = True, timeout: float = 90) -> LabServer:
    """Start JupyterLab on the course at `root` and wait until it answers.

    `settings_dir` (tests): a private folder for JupyterLab's user settings, workspaces, data and
    runtime files instead of the user's own, so each run starts from the same fresh state.
    """
    root = Path(root).resolve()
    dirs = lab_dirs(root, lab_dir)
    for key in ("exchange", "workspace", "cache"):
        dirs[key].mkdir(parents=True, exist_ok=True)
    write_exchange_config(dirs["config"], dirs["exchange"], dirs["workspace"], dirs["cache"])
    if release:
        release_to_exchange(root, dirs["exchange"])
    if settings_dir is not None:
        quiet_settings(settings_dir / "settings")
    port = free_port(port)
    token = token or secrets.token_hex(24)
    log_path = dirs["base"] / "jupyterlab.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            lab_command(root, port, token, dirs, settings_dir),
            cwd=root, env=lab_env(dirs["config"], settings_dir), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
    server = LabServer(root, port, token, dirs["exchange"], dirs["workspace"], log_path, process)
    try:
        wait_until_up(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def wait_until_up(server: LabServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {server.process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url("api/status"), timeout=5) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"JupyterLab did not answer within {timeout:.0f} s:\n{server.log_tail()}")
        time.sleep(0.25)


@contextlib.contextmanager
def running_lab(root: Path, **kwargs) -> Iterator[LabServer]:
    server = start_lab(root, **kwargs)
    try:
        yield server
    finally:
        server.stop()


def run_lab(root: Path, port: int = 8888, token: str | None = None, log=print) -> int:
    """What `dlcourse lab` runs: start, print the addresses, wait for Ctrl-C."""
    root = Path(root).resolve()
    server = start_lab(root, port=port, token=token)
    rel = lambda p: p.relative_to(root) if p.is_relative_to(root) else p
    log(f"JupyterLab on the course at {root} (loopback only)\n"
        f"  open:        {server.url('lab')}\n"
        f"  formgrader:  {server.url('formgrader')}   (instructors; menu Nbgrader > Formgrader)\n"
        f"  assignments: menu Nbgrader > Assignment List   (students; fetched into {rel(server.workspace)}/,\n"
        f"               submitted to the exchange {rel(server.exchange)}/)\n"
        f"  server log:  {rel(server.log_path)}\n"
        "Ctrl-C stops it.")
    sys.stdout.flush()
    for sig in (signal.SIGTERM, signal.SIGHUP):  # stop the server too when this process is told to stop
        signal.signal(sig, lambda *_: sys.exit(0))
    try:
        return server.process.wait()
    except KeyboardInterrupt:
        log("\nstopping JupyterLab ...")
        return 0
    finally:
        server.stop()
