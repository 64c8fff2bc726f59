"""Every source notebook executes top to bottom on CPU (smoke size) with every test passing.

It runs as a student runs it: the test cells keep their visible part only. Their hidden part
never runs in notebook order: grading runs it in the judge, from the set-up cells alone, and the
fixture harness's reference cases (`test_reference_solution_passes_in_isolation`) run it that way.

`make test` leaves out the test cells tagged "slow" (full-size training: an accuracy threshold, a
held-out score), as the fixture harness does; the `full` variant (`make test-full`, which CI also
runs) executes the notebooks that have slow cells with those cells, except the held-out ones:
the capstone's held-out scores are shown by the fixtures' full variants, and a second full-size
training of the same model would only double the exposure to its run-to-run spread (issue 14's
closing note: the reference's bonus model scored 0.929 once against the then 0.945 threshold)."""

from __future__ import annotations

import nbformat
import pytest
from conftest import SOURCE, assignments
from nbgrader.preprocessors import ClearHiddenTests

from dlcourse.cells import grade_id, is_slow
from dlcourse.grader.execute import cell_results, execute, kernel_env
from dlcourse.grader.heldout import TASKS

NOTEBOOKS = {a: nbformat.read(SOURCE / a / f"{a}.ipynb", as_version=4) for a in assignments()}
HELDOUT = {task.grade_id for task in TASKS.values()}
WITH_SLOW_CELLS = [a for a, nb in NOTEBOOKS.items()
                   if any(is_slow(c) and grade_id(c) not in HELDOUT for c in nb.cells)]


def _executes(assignment: str, tmp_path, slow: bool) -> None:
    nb = nbformat.from_dict(NOTEBOOKS[assignment])
    nb.cells = [c for c in nb.cells if not is_slow(c) or (slow and grade_id(c) not in HELDOUT)]
    if not slow:  # the slow cells' thresholds are in their hidden part: the full variant keeps it
        nb, _ = ClearHiddenTests().preprocess(nb, {})
        assert not [c.id for c in nb.cells if "HIDDEN TESTS" in c.source], "hidden tests left in"
    env = dict(kernel_env(), DLCOURSE_SMOKE="1")
    executed = execute(nb, cwd=tmp_path, timeout=900, env=env)
    errors = [(c.id, o.get("ename"), str(o.get("evalue"))[:300]) for c in executed.cells
              if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, f"cells raised: {errors}"
    results = cell_results(executed)
    assert all(r.passed for r in results), [r for r in results if not r.passed]
    assert any(is_slow(c) for c in executed.cells) is (slow and assignment in WITH_SLOW_CELLS)


@pytest.mark.parametrize("assignment", assignments())
def test_source_notebook_executes(assignment, tmp_path):
    _executes(assignment, tmp_path, slow=False)


@pytest.mark.full
@pytest.mark.parametrize("assignment", WITH_SLOW_CELLS)
def test_source_notebook_executes_with_its_slow_tests(assignment, tmp_path):
    _executes(assignment, tmp_path, slow=True)
