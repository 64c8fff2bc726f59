"""Every source notebook executes top to bottom on CPU (smoke size) with every test passing."""

from __future__ import annotations

import nbformat
import pytest
from conftest import SOURCE, assignments

from dlcourse.grading.execute import cell_results, execute, kernel_env


@pytest.mark.parametrize("assignment", assignments())
def test_source_notebook_executes(assignment, tmp_path):
    nb = nbformat.read(SOURCE / assignment / f"{assignment}.ipynb", as_version=4)
    env = dict(kernel_env(), DLCOURSE_SMOKE="1")
    executed = execute(nb, cwd=tmp_path, timeout=900, env=env)
    errors = [(c.id, o.get("ename"), str(o.get("evalue"))[:300]) for c in executed.cells
              if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, f"cells raised: {errors}"
    results = cell_results(executed)
    assert all(r.passed for r in results)
