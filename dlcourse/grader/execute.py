"""Run notebook cells in a fresh kernel and read the test cells' results."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from ..cells import is_test_cell  # noqa: F401 - imported from here by the grading modules

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class TestResult:
    grade_id: str
    points: float
    passed: bool
    message: str = ""  # "AssertionError: Wrong shape ..." when failed

    @property
    def score(self) -> float:
        return self.points if self.passed else 0.0


def kernel_env() -> dict[str, str]:
    """The environment of a grading kernel: this interpreter's bin/ on PATH, quiet TF."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


def execute(nb: nbformat.NotebookNode, cwd: Path, timeout: int = 600,
            env: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """Execute every code cell in a new kernel, keeping going past errors.

    A cell that times out or a kernel that dies marks the remaining cells as
    failed instead of raising: a broken notebook costs points, never the run.
    """
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", allow_errors=True,
        interrupt_on_timeout=True, resources={"metadata": {"path": str(cwd)}},
        record_timing=False,
    )
    client.on_cell_error = None
    kernel_env_vars = env or kernel_env()
    try:
        client.execute(env=kernel_env_vars)
    except (CellTimeoutError, DeadKernelError, RuntimeError) as exc:
        mark_not_run(nb.cells, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    return nb


def mark_not_run(cells: list[nbformat.NotebookNode], reason: str) -> None:
    """Give each code cell that never ran a `NotRun` error saying why (so its test fails visibly)."""
    for cell in cells:
        if cell.cell_type == "code" and cell.get("execution_count") is None and not cell.outputs:
            cell.outputs = [nbformat.v4.new_output("error", ename="NotRun", evalue=reason, traceback=[])]


def error_message(cell: nbformat.NotebookNode) -> str:
    """`ename: evalue` of the cell's first error output, without colours or code."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            text = ANSI.sub("", str(out.get("evalue", ""))).strip()
            return f"{out.get('ename', 'Error')}: {text}" if text else str(out.get("ename", "Error"))
    return ""


def cell_results(nb: nbformat.NotebookNode) -> list[TestResult]:
    """One result per graded test cell: passed when it ran without an error output."""
    results = []
    for cell in nb.cells:
        if not is_test_cell(cell):
            continue
        meta = cell.metadata["nbgrader"]
        message = error_message(cell)
        ran = cell.get("execution_count") is not None or bool(cell.outputs)
        passed = ran and not message
        if not ran and not message:
            message = "NotRun: the cell did not run (an earlier cell stopped the kernel?)"
        results.append(TestResult(meta["grade_id"], float(meta.get("points", 0)), passed, message))
    return results
