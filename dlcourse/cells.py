"""What a notebook cell is, read from its metadata: the one place the course asks.

nbgrader marks solution cells (`solution: true`) and graded test cells (`grade: true`) with a
`grade_id`; the course adds the tags `setup` (tests may rely on it), `parameters` and `slow`
(a test that trains at full size), and `"dlcourse": {"judged": true}` in the notebook's metadata.
Cells may be nbformat nodes or plain dicts (a notebook read as JSON): both work.
"""

from __future__ import annotations

SETUP_TAG = "setup"
SLOW_TAG = "slow"


def nbgrader(cell) -> dict:
    """The cell's nbgrader metadata ({} when it has none, or junk in its place)."""
    meta = (cell.get("metadata") or {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def grade_id(cell) -> str | None:
    gid = nbgrader(cell).get("grade_id")
    return gid if isinstance(gid, str) else None


def tags(cell) -> list[str]:
    found = (cell.get("metadata") or {}).get("tags") or []
    return [t for t in found if isinstance(t, str)]


def is_code(cell) -> bool:
    return cell.get("cell_type") == "code"


def is_solution_cell(cell) -> bool:
    """An exercise's answer cell (code; its grade_id is the exercise's name)."""
    return is_code(cell) and bool(nbgrader(cell).get("solution")) and grade_id(cell) is not None


def is_test_cell(cell) -> bool:
    """A graded test cell (code, graded, not a solution)."""
    meta = nbgrader(cell)
    return is_code(cell) and bool(meta.get("grade")) and not meta.get("solution")


def is_setup_cell(cell) -> bool:
    """A set-up cell: the tests may rely on it; the fixture harness and the judge run it."""
    return is_code(cell) and SETUP_TAG in tags(cell)


def is_slow(cell) -> bool:
    """A test cell that trains a model at full size (`make test-full` runs it on every fixture)."""
    return SLOW_TAG in tags(cell)


def has_graded_cells(nb) -> bool:
    return any(nbgrader(c).get("grade") for c in nb.get("cells", []))


def exercises(nb) -> list[str]:
    """The notebook's exercise names (solution cells' grade_ids), in order."""
    return [grade_id(c) for c in nb.get("cells", []) if is_solution_cell(c)]


def exercise_of(test_id: str, names: list[str]) -> str | None:
    """The exercise a test cell belongs to: the longest name n with test_id == test_n or test_n_*."""
    hits = [n for n in names if test_id == f"test_{n}" or test_id.startswith(f"test_{n}_")]
    return max(hits, key=len) if hits else None


def is_judged(nb) -> bool:
    """Whether a notebook's tests are judged outside the kernel (its source says so)."""
    meta = (nb.get("metadata") or {}).get("dlcourse")
    return isinstance(meta, dict) and bool(meta.get("judged"))
