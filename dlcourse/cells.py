"""What a notebook cell is, read from its metadata: the one place the course asks.

nbgrader marks solution cells (`solution: true`) and graded test cells (`grade: true`) with a
`grade_id`; the course adds the tags `setup` (tests may rely on it), `parameters` and `slow`
(a test that trains at full size), `"dlcourse": {"judged": true}` in the notebook's metadata, and
`"dlcourse": {"updates": [...]}` in a solution cell's: the arguments its exercise may change in place.
Cells may be nbformat nodes or plain dicts (a notebook read as JSON): both work.
"""

from __future__ import annotations

import ast

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


def is_written_question(cell) -> bool:
    """A written question: a manually graded nbgrader task cell (markdown) with points."""
    return cell.get("cell_type") == "markdown" and bool(nbgrader(cell).get("task")) and grade_id(cell) is not None


def answer_to(cell) -> str | None:
    """The written question whose answer cell this is (None for any other cell)."""
    meta = (cell.get("metadata") or {}).get("dlcourse")
    found = meta.get("answer_to") if isinstance(meta, dict) else None
    return found if isinstance(found, str) else None


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


def updates(cell) -> list[str]:
    """The arguments a solution cell's exercise may change in place (its contract; [] for none)."""
    meta = (cell.get("metadata") or {}).get("dlcourse")
    found = meta.get("updates") if isinstance(meta, dict) else None
    return [a for a in found if isinstance(a, str)] if isinstance(found, list) else []


def parameters(cell) -> list[str]:
    """The parameter names of the function (or the class's `__init__`, less `self`) a solution
    cell defines under its exercise's name; [] when it defines none."""
    try:
        tree = ast.parse(cell.get("source", ""))
    except SyntaxError:
        return []
    name = grade_id(cell)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            init = [n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"]
            return [a.arg for a in init[0].args.args[1:]] if init else []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return [a.arg for a in node.args.posonlyargs + node.args.args]
    return []


def contracts(nb) -> dict[str, tuple[list[str], set[str]]]:
    """Each exercise's parameter names and the ones it may change in place, from the (instructor's)
    notebook. A declared name that is no parameter of the exercise is the author's mistake."""
    found = {}
    for cell in nb.get("cells", []):
        if not is_solution_cell(cell):
            continue
        params, declared = parameters(cell), set(updates(cell))
        if declared - set(params):
            raise ValueError(f"solution cell {grade_id(cell)!r} declares updates={sorted(declared)}, but its "
                             f"parameters are {params}")
        found[grade_id(cell)] = (params, declared)
    return found
