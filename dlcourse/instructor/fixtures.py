"""Fixture submissions: one exercise's solution replaced by a (wrong or alternative) version.

A fixture is a Python file in `tests/fixtures/<assignment>/`, named
`<exercise>__<scenario>.py`, whose header says what it is::

    \"\"\"Softmax without subtracting the row maximum: exp(1000) overflows.\"\"\"
    # exercise: softmax
    # expect: fail                 (or: pass, for a valid alternative)
    # must-fail: test_softmax_stability   (optional: test cells that must fail)

`run_fixture` executes, in a fresh kernel, the notebook's set-up cells, every
solution cell (the reference ones, and the fixture in place of its exercise) and
the exercise's test cells, visible and hidden, in notebook order, and returns each
test cell's result. This is the fast path; a few end-to-end autograde runs in the
test suite prove the real pipeline.

`WarmKernel` keeps one kernel for many fixtures of one assignment: between fixtures it
resets the namespace (`%reset`), forgets any recording, clears Keras and matplotlib state and
moves to a fresh empty folder, and the set-up cells run again; imported modules stay loaded,
which is what saves the time (TensorFlow and torch import once). Anything unexpected (a
timeout, a dead kernel, a reset or set-up cell that fails) restarts the kernel.
"""

from __future__ import annotations

import logging
import queue
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..cells import (  # noqa: F401 - exercise_of, is_slow: the fixture API
    exercise_of,
    exercises,
    grade_id,
    is_judged,
    is_setup_cell,
    is_slow,
    is_solution_cell,
    is_test_cell,
    nbgrader,
)
from ..grader.driver import kernel_copy, known_names, read_elsewhere
from ..grader.execute import TestResult, cell_results, execute, kernel_env, mark_not_run
from ..grader.judge import apply_verdicts, judge_in_process, recording_preamble, tapes_of

log = logging.getLogger(__name__)
HEADER = re.compile(r"^#\s*(exercise|expect|must-fail)\s*:\s*(.+?)\s*$", re.M)


# misconception fixtures each exercise needs (tests/test_fixtures.py holds every exercise to it;
# `dlcourse new-exercise` writes as many)
MIN_MISCONCEPTIONS = {"01_softmax_cross_entropy": 3}
NEW_EXERCISE_MISCONCEPTIONS = 3  # what a new exercise starts with, whatever its notebook's floor


def min_misconceptions(assignment: str) -> int:
    """How many misconception fixtures a new exercise of `assignment` gets (at least the suite's floor)."""
    return max(MIN_MISCONCEPTIONS.get(assignment, 1), NEW_EXERCISE_MISCONCEPTIONS)


@dataclass
class Fixture:
    path: Path
    assignment: str
    exercise: str
    expect: str  # "fail" or "pass"
    must_fail: list[str] = field(default_factory=list)
    code: str = ""

    @property
    def name(self) -> str:
        return f"{self.assignment}/{self.path.stem}"


def load_fixture(path: Path) -> Fixture:
    text = path.read_text(encoding="utf-8")
    fields: dict[str, str] = {}
    for key, value in HEADER.findall(text):
        fields[key] = value
    missing = {"exercise", "expect"} - fields.keys()
    if missing:
        raise ValueError(f"{path}: header lacks {sorted(missing)}")
    if fields["expect"] not in ("fail", "pass"):
        raise ValueError(f"{path}: expect must be 'fail' or 'pass', not {fields['expect']!r}")
    must_fail = fields.get("must-fail", "").replace(",", " ").split()
    return Fixture(path, path.parent.name, fields["exercise"], fields["expect"], must_fail, text)


def discover(fixtures_dir: Path) -> list[Fixture]:
    return [load_fixture(p) for p in sorted(fixtures_dir.glob("*/*.py"))]


def harness_notebook(source: nbformat.NotebookNode, exercise: str, replacement: str | None,
                     full: bool = True, keep: tuple[str, ...] = ()) -> nbformat.NotebookNode:
    """The cells to run for one exercise: set-up, solutions (one replaced), its tests.

    With full=False the test cells tagged "slow" are left out, except those named in `keep`
    (a fixture's must-fail cells): the quick suite; `make test-full` runs them all."""
    names = exercises(source)
    if exercise not in names:
        raise KeyError(f"no exercise {exercise!r}; the notebook has {names}")
    nb = nbformat.v4.new_notebook(metadata=source.metadata)
    for cell in source.cells:
        if cell.cell_type != "code":
            continue
        gid = grade_id(cell)
        if is_setup_cell(cell):
            nb.cells.append(nbformat.v4.new_code_cell(cell.source))
        elif is_solution_cell(cell):
            code = replacement if (gid == exercise and replacement is not None) else cell.source
            nb.cells.append(nbformat.v4.new_code_cell(code))
        elif is_test_cell(cell) and exercise_of(gid, names) == exercise:
            if not full and is_slow(cell) and gid not in keep:
                continue
            test = nbformat.v4.new_code_cell(cell.source)
            test.metadata["nbgrader"] = dict(nbgrader(cell))
            nb.cells.append(test)
    return nb


# Run in a reused kernel before each fixture: a fresh namespace and folder, no recording,
# no Keras/matplotlib leftovers. It must print OK, or the kernel is restarted. The reset ends
# with a full garbage collection; freezing what survives it keeps the next one short.
RESET = """\
__import__("os").chdir({cwd!r})
get_ipython().reset(new_session=False, aggressive=False)
import sys as _sys
if "dlcourse.judging" in _sys.modules:
    _sys.modules["dlcourse.judging"].forget()
if "keras" in _sys.modules:
    _sys.modules["keras"].backend.clear_session()
if "matplotlib.pyplot" in _sys.modules:
    _sys.modules["matplotlib.pyplot"].close("all")
del _sys
__import__("gc").freeze()  # the survivors (imported modules) stay out of the next reset's collection
print("OK")
"""


class WarmKernel:
    """One kernel reused for many harness notebooks (see the module's docstring).

    `run(nb, timeout)` executes every code cell of `nb` in order, keeping going past errors,
    and returns it with outputs, like `execute`. Use as a context manager, or call `close()`.
    """

    def __init__(self, env: dict[str, str] | None = None):
        self.env = env or kernel_env()
        self.km = None
        self.kc = None
        self.home = Path(tempfile.mkdtemp(prefix="dlcourse-warm-"))
        self.runs = 0
        self.restarts = 0

    def __enter__(self) -> WarmKernel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._stop()
        shutil.rmtree(self.home, ignore_errors=True)

    def _stop(self) -> None:
        if self.kc is not None:
            self.kc.stop_channels()
        if self.km is not None:
            self.km.shutdown_kernel(now=True)
        self.km = self.kc = None

    def _start(self) -> None:
        from jupyter_client import KernelManager

        self._stop()
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(env=self.env, cwd=str(self.home))
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)

    def restart(self, why: str) -> None:
        log.warning("warm kernel: restarting (%s)", why)
        self.restarts += 1
        self._stop()

    def _run_cell(self, code: str, timeout: float) -> tuple[list, int | None, bool]:
        """(outputs, execution count, finished) of one cell."""
        outputs: list = []
        count = None

        def hook(msg):
            nonlocal count
            kind = msg["header"]["msg_type"]
            if kind == "clear_output":
                outputs.clear()
            elif kind == "execute_input":
                count = msg["content"].get("execution_count")
            elif kind in ("stream", "display_data", "execute_result", "error"):
                outputs.append(nbformat.v4.output_from_msg(msg))

        try:
            self.kc.execute_interactive(code, timeout=timeout, output_hook=hook, allow_stdin=False,
                                        store_history=True)
        except (TimeoutError, queue.Empty):
            return outputs, count, False
        return outputs, count, self.km.is_alive()

    def run(self, nb: nbformat.NotebookNode, timeout: int = 600) -> nbformat.NotebookNode:
        folder = Path(tempfile.mkdtemp(dir=self.home))
        if self.km is None or not self.km.is_alive():
            self._start()
        outputs, _, ok = self._run_cell(RESET.format(cwd=str(folder)), 120)
        if not ok or any(o.get("output_type") == "error" for o in outputs):
            self.restart("the reset failed")
            self._start()
            self._run_cell(RESET.format(cwd=str(folder)), 120)
        self.runs += 1
        cells = [c for c in nb.cells if c.cell_type == "code"]
        for i, cell in enumerate(cells):
            cell.outputs, cell.execution_count, ok = self._run_cell(cell.source, timeout)
            failed_setup = not is_test_cell(cell) and any(o.get("output_type") == "error" for o in cell.outputs)
            if not ok:  # a timeout or a dead kernel: what did not run fails, and the next run starts afresh
                reason = "CellTimeoutError" if self.km.is_alive() else "DeadKernelError"
                cell.outputs.append(nbformat.v4.new_output("error", ename=reason, evalue="", traceback=[]))
                mark_not_run(cells[i + 1:], reason)
                self.restart(reason)
                break
            if failed_setup:  # the kernel may be in a state a fresh one would not be: start afresh next time
                self.restart("a set-up or solution cell failed")
        shutil.rmtree(folder, ignore_errors=True)
        return nb


def run_exercise(source_path: Path, exercise: str, replacement: str | None = None,
                 timeout: int = 600, kernel: WarmKernel | None = None, full: bool = True,
                 keep: tuple[str, ...] = ()) -> list[TestResult]:
    """The exercise's test results, the way grading decides them.

    For a notebook judged outside the kernel (`dlcourse.grader.judge`), the test cells run in
    record mode in the kernel and the verdicts come from the judge; otherwise from the kernel.
    With `kernel`, the cells run in that reused kernel instead of a fresh one; `full` and
    `keep` as in `harness_notebook`.
    """
    source = nbformat.read(source_path, as_version=4)
    nb = harness_notebook(source, exercise, replacement, full, keep)
    judged = is_judged(source)
    if judged:
        names, known, elsewhere = exercises(source), known_names(source), read_elsewhere(source)
        for cell in nb.cells:
            if is_test_cell(cell):  # as grading sends it (`preprocessors.AddSentinels`)
                gid = cell.metadata["nbgrader"]["grade_id"]
                driver = kernel_copy(cell.source, names, known, elsewhere.get(gid, ()))
                cell.source = recording_preamble(gid, names) + driver
    with tempfile.TemporaryDirectory(prefix="dlcourse-fixture-") as tmp:
        executed = kernel.run(nb, timeout) if kernel else execute(nb, cwd=Path(tmp), timeout=timeout)
        if judged:
            tests = {c.metadata["nbgrader"]["grade_id"] for c in executed.cells if is_test_cell(c)}
            # in this process: the tapes are our own fixtures' (grading uses a fresh, limited one)
            tapes, broken = tapes_of(executed)
            apply_verdicts(executed, judge_in_process(source, tapes, only=tests, broken=broken))
    return cell_results(executed)


def run_fixture(fixture: Fixture, source_root: Path, timeout: int = 600,
                kernel: WarmKernel | None = None, full: bool = True) -> list[TestResult]:
    path = source_root / fixture.assignment / f"{fixture.assignment}.ipynb"
    return run_exercise(path, fixture.exercise, fixture.code, timeout, kernel, full, tuple(fixture.must_fail))
