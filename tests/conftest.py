"""Shared paths and helpers of the test suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import dlcourse.grader  # noqa: F401 - before nbformat: the grader's processes skip a slow import

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "source"
FIXTURES = ROOT / "tests" / "fixtures"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")


def written_points(assignment: str) -> float:
    """The points of an assignment's written questions: a grader marks them in formgrader, so an
    autograded reference scores its maximum less these until then."""
    import nbformat

    from dlcourse import cells

    nb = nbformat.read(SOURCE / assignment / f"{assignment}.ipynb", as_version=4)
    return sum(float(cells.nbgrader(c)["points"]) for c in nb.cells if cells.is_written_question(c))


def assignments() -> list[str]:
    return sorted(p.name for p in SOURCE.iterdir() if (p / f"{p.name}.ipynb").is_file())


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def pytest_terminal_summary(terminalreporter):
    """List the screenshots the browser tests saved (record_property("screenshot", path))."""
    shots = list(dict.fromkeys(value for reports in terminalreporter.stats.values() for rep in reports
                               for key, value in getattr(rep, "user_properties", ()) if key == "screenshot"))
    if shots:
        terminalreporter.section("browser screenshots")
        for path in shots:
            terminalreporter.write_line(str(path))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Make `xdist_group` work again under `--dist loadgroup`.

    pytest-xdist 3.8 groups tests by a "@group" suffix that it appends to `item._nodeid`; pytest 9
    keeps node ids in `item._id`, so the suffix was silently lost and grouped tests (and their
    module fixtures) were spread over all workers. Add the suffix here when xdist could not.
    The long single tests are collected first (`longest_first`).
    """
    if not getattr(config.option, "loadgroup", False):
        return
    items[:] = longest_first(items)
    try:
        from _pytest.nodeid import NodeId
    except ImportError:  # an older pytest, where xdist's own suffix works
        return
    for item in items:
        groups = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                         for m in item.iter_markers("xdist_group")})
        if groups and "@" not in item.nodeid:
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(groups)}")


# Test modules whose tests each run for tens of seconds (a whole notebook, a Colab dry run, Keras
# on a second backend) and are scheduled one by one.
LONG_MODULES = ("test_notebooks.py", "test_colab.py", "test_04_keras_backend.py")


def longest_first(items: list) -> list:
    """The collection with the long single tests first (stable otherwise).

    Under `--dist loadgroup` xdist hands out the groups first (the most tests first: the hostile
    batch, the class's grading) and then the single tests in collection order, one at a time to
    whichever worker is free. A notebook of half a minute collected last kept one worker busy
    while the other had nothing left; the many short fixture cases are the better end."""
    return sorted(items, key=lambda item: item.path.name not in LONG_MODULES)


@pytest.fixture(scope="module")
def kernels():
    """Warm fixture kernels by name, one per module (the attack tests): `kernels("01_softmax...")`."""
    from dlcourse.grader.execute import kernel_env
    from dlcourse.instructor.fixtures import WarmKernel

    warm: dict = {}
    yield lambda notebook: warm.setdefault(notebook, WarmKernel(dict(kernel_env(), DLCOURSE_SMOKE="1")).__enter__())
    for kernel in warm.values():
        kernel.close()
