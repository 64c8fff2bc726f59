"""Run the set-up part of a released notebook as a dry run and report what it tried to do.

    python colab_driver.py NOTEBOOK OUT.json [--colab FAKE_DIR] [--data DIR] [--watch DIR]

The set-up part is every cell before the first solution cell (the whole notebook when it has
none): the Colab set-up cell, imports, seeds, the device report and the data loading; then
the course's `load_*` functions that later cells call are called too (see call_data_loaders).
`--colab FAKE_DIR` simulates Google Colab: FAKE_DIR holds a fake `google/colab/` package,
imported before the first cell as Colab's kernel does. Nothing is installed or downloaded
in either mode; the report (JSON) lists what would have been:

- commands: every external command that a cell or the course package starts (subprocess,
  os.system, IPython's `!cmd` and `%pip`), recorded and not run; helper commands that
  libraries start while loading (`uname -p`) run and are listed apart (library_commands);
- downloads: every `pooch.retrieve` (how `dlcourse` fetches data outside the repository),
  answered with the file of the same name from `--data DIR` after checking its hash;
- connections: every attempt to open a network connection or resolve a host name (refused);
- opened: files the cells opened under `--watch DIR` (Python's audit hook): the data they read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import traceback
from pathlib import Path

EVENTS: dict[str, list] = {"commands": [], "library_commands": [], "downloads": [], "connections": [], "opened": []}


def _argv(cmd) -> list[str]:
    return [str(c) for c in cmd] if isinstance(cmd, (list, tuple)) else [str(cmd)]


def _issued_by_course() -> bool:
    """Whether the command being started comes from a notebook cell or the course package.

    Libraries also start harmless helper commands while they load (platform's `uname -p`,
    matplotlib's `fc-list`): those run as usual and are reported apart.
    """
    frame = sys._getframe(2)
    while frame and frame.f_code.co_filename in (subprocess.__file__, __file__):
        frame = frame.f_back
    name = frame.f_code.co_filename if frame else ""
    package = sys.modules.get("dlcourse")
    package_dir = os.path.dirname(package.__file__) + os.sep if package and package.__file__ else None
    return name.startswith("<ipython-input-") or bool(package_dir and name.startswith(package_dir))


def intercept_commands(shell) -> None:
    real = {name: getattr(subprocess, name) for name in
            ("run", "Popen", "call", "check_call", "check_output", "getoutput", "getstatusoutput")}
    real_system, real_popen = os.system, os.popen

    def course(cmd) -> bool:
        if _issued_by_course():
            EVENTS["commands"].append(_argv(cmd))
            return True
        EVENTS["library_commands"].append(_argv(cmd))
        return False

    def run(cmd, *args, **kwargs):
        if not course(cmd):
            return real["run"](cmd, *args, **kwargs)
        return subprocess.CompletedProcess(cmd, 0, "" if kwargs.get("text") else b"", "")

    class Popen(real["Popen"]):
        def __init__(self, cmd, *args, **kwargs):
            if not course(cmd):
                super().__init__(cmd, *args, **kwargs)
                return
            # a finished, successful process that ran nothing
            super().__init__([sys.executable, "-c", ""], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.args = cmd

    def simple(name, result):
        def fake(cmd, *args, **kwargs):
            if not course(cmd):
                return real[name](cmd, *args, **kwargs)
            return result(kwargs)
        return fake

    subprocess.run = run
    subprocess.Popen = Popen
    subprocess.call = simple("call", lambda kw: 0)
    subprocess.check_call = simple("check_call", lambda kw: 0)
    subprocess.check_output = simple("check_output", lambda kw: "" if kw.get("text") else b"")
    subprocess.getoutput = simple("getoutput", lambda kw: "")
    subprocess.getstatusoutput = simple("getstatusoutput", lambda kw: (0, ""))
    os.system = lambda cmd: 0 if course(cmd) else real_system(cmd)
    os.popen = lambda cmd, *a, **k: __import__("io").StringIO("") if course(cmd) else real_popen(cmd, *a, **k)
    # IPython's `!cmd`, `%pip` and `%conda` go through these two: always the notebook's own
    shell.system = lambda cmd: EVENTS["commands"].append(_argv(cmd))
    shell.getoutput = lambda cmd, *a, **k: (EVENTS["commands"].append(_argv(cmd)), [])[1]


def refuse_network() -> None:
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guard(real):
        def connect(self, address):
            if self.family in (socket.AF_INET, socket.AF_INET6):
                EVENTS["connections"].append(repr(address))
                raise OSError("network access refused by the dry run")
            return real(self, address)
        return connect

    def getaddrinfo(host, *args, **kwargs):
        EVENTS["connections"].append(f"resolve {host}")
        raise socket.gaierror("name resolution refused by the dry run")

    socket.socket.connect = guard(real_connect)
    socket.socket.connect_ex = guard(real_connect_ex)
    socket.getaddrinfo = getaddrinfo


def intercept_pooch(data: Path | None) -> None:
    import pooch

    def matches(file: Path, known_hash: str | None) -> bool:
        algorithm, _, digest = (known_hash or "").rpartition(":")
        return not digest or hashlib.new(algorithm or "sha256", file.read_bytes()).hexdigest() == digest

    def retrieve(url, known_hash=None, fname=None, path=None, **kwargs):
        """pooch.retrieve without the network: a cached file that matches is reused, as pooch does."""
        name = fname or url.rsplit("/", 1)[-1]
        target = Path(path or ".") / name
        if target.is_file() and matches(target, known_hash):
            return str(target)
        EVENTS["downloads"].append({"url": url, "known_hash": known_hash, "fname": name})
        source = (data / name) if data else None
        if source is None or not source.is_file():
            raise OSError(f"dry run: no local copy of {name} to stand in for {url}")
        if not matches(source, known_hash):
            raise ValueError(f"dry run: {source} does not match {known_hash}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        return str(target)

    pooch.retrieve = retrieve


def setup_cells(nb) -> list[str]:
    cells = []
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            break
        if cell.cell_type == "code":
            cells.append(cell.source)
    return cells


CALL = re.compile(r"(?<![\w.])(load_\w+)\s*\(")


def call_data_loaders(nb, namespace: dict) -> list[str]:
    """Call (with their defaults) the course's `load_*` functions that any cell of the notebook calls.

    Some notebooks load their data after the exercises (05 loads the sunspots near the end);
    calling the loaders they use covers every data file the notebook reads.
    """
    called = []
    names = sorted({m.group(1) for cell in nb.cells if cell.cell_type == "code" for m in CALL.finditer(cell.source)})
    for name in names:
        func = namespace.get(name)
        if callable(func) and getattr(func, "__module__", "").startswith("dlcourse."):
            func()
            called.append(name)
    return called


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("notebook")
    parser.add_argument("out")
    parser.add_argument("--colab", help="folder holding the fake google/colab package")
    parser.add_argument("--data", help="folder with the files that stand in for downloads")
    parser.add_argument("--watch", help="report the files opened under this folder")
    args = parser.parse_args(argv)

    # as the grader's processes do (dlcourse/grader/__init__.py): skip a one-second import that
    # nbformat's jsonschema makes for two formats no notebook schema uses
    sys.modules.setdefault("rfc3987_syntax", None)
    import nbformat
    from IPython.core.interactiveshell import InteractiveShell

    nb = nbformat.read(args.notebook, as_version=4)
    if args.colab:
        sys.path.insert(0, args.colab)
        import google.colab  # noqa: F401  (Colab's kernel has it imported before the first cell)
    shell = InteractiveShell.instance()
    intercept_commands(shell)
    refuse_network()
    intercept_pooch(Path(args.data) if args.data else None)
    if args.watch:
        watch = str(Path(args.watch).resolve()) + os.sep

        def audit(event, a):
            if event == "open" and isinstance(a[0], (str, os.PathLike)):
                path = os.path.abspath(os.fspath(a[0]))
                if path.startswith(watch) and path not in EVENTS["opened"]:
                    EVENTS["opened"].append(path)

        sys.addaudithook(audit)

    report = {"cells_run": 0, "loaders_called": [], "error": None, "colab": "google.colab" in sys.modules}
    for source in setup_cells(nb):
        result = shell.run_cell(source, store_history=True)
        if not result.success:
            err = result.error_in_exec or result.error_before_exec
            report["error"] = "".join(traceback.format_exception(err)) if err else "cell failed"
            break
        report["cells_run"] += 1
    if report["error"] is None:
        try:
            report["loaders_called"] = call_data_loaders(nb, shell.user_ns)
        except Exception as err:  # a loader that fails in this mode
            report["error"] = "".join(traceback.format_exception(err))
    package = sys.modules.get("dlcourse")
    report["package"] = getattr(package, "__file__", None)
    report.update(EVENTS)
    Path(args.out).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
