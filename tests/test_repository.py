"""The repository keeps its contract: layout, pins, clean notebooks, valid nbgrader metadata."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import tomllib
import yaml
from conftest import ROOT, SOURCE, assignments

TOP_LEVEL = {
    "README.md", "environment.yml", "grader_config.py", "nbgrader_config.py", "source", "release",
    "autograded", "data", "dlcourse", "tests", "benchmarks", "pyproject.toml", "Makefile", ".ci",
    ".gitignore",
}


def test_top_level_is_exactly_the_contract():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    top = {p.split("/")[0] for p in tracked}
    assert top <= TOP_LEVEL, f"unexpected top-level entries: {sorted(top - TOP_LEVEL)}"
    assert {"README.md", "environment.yml", "grader_config.py", "source", "release", "data"} <= top
    assert [p for p in tracked if p.startswith("autograded/")] == ["autograded/README.md"]


def test_environment_yml_has_the_same_pins_as_pyproject():
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["course"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_pins = [p for p in pip if "==" in p]
    assert sorted(conda_pins) == sorted(pins)
    assert "torch==2.13.0" in pins


def test_package_dependencies_are_loose_lower_bounds():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert all("==" not in d for d in deps), "pins belong in the `course` extra, not in Colab's install"
    assert not any(d.startswith(("torch", "tensorflow", "keras")) for d in deps)


def test_nbgrader_config_only_loads_grader_config():
    lines = [ln for ln in (ROOT / "nbgrader_config.py").read_text().splitlines() if ln.strip()]
    assert len(lines) == 1 and "grader_config.py" in lines[0]


@pytest.mark.parametrize("assignment", assignments())
def test_source_notebook_is_clean_and_valid(assignment):
    nb = nbformat.read(SOURCE / assignment / f"{assignment}.ipynb", as_version=4)
    nbformat.validate(nb)
    ids = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{cell.id} carries outputs"
        meta = cell.metadata.get("nbgrader")
        if not meta:
            continue
        ids.append(meta["grade_id"])
        if meta.get("solution"):
            name = re.escape(meta["grade_id"])  # an exercise defines it; a concept question assigns it
            assert re.search(rf"^((def|class) {name}\b|{name}\s*=)", cell.source, re.M), (
                f"solution cell {meta['grade_id']} must define {meta['grade_id']}")
            assert "### BEGIN SOLUTION" in cell.source
        if meta.get("grade"):
            assert meta.get("locked") and float(meta["points"]) > 0
            assert meta["grade_id"].startswith("test_")
            assert cell.source.lstrip().startswith('"""'), f"{meta['grade_id']} must open with a docstring"
            assert "### BEGIN HIDDEN TESTS" in cell.source, f"{meta['grade_id']} has no hidden tests"
    assert len(ids) == len(set(ids)), "duplicate grade_ids"
    text = [c.source for c in nb.cells]
    assert text[0].startswith("# ") and "{{COLAB_URL}}" in text[0], "title and Colab badge first"
    assert any("{{COURSE_PIP}}" in t and "google.colab" in t for t in text[:3]), "Colab set-up cell"
    assert any("seed_everything" in t for t in text) and any("device_report" in t for t in text)
    assert "%watermark" in text[-1], "the last cell is the watermark cell"
    assert any("What you should remember" in t for t in text)


def test_contract_check_passes():
    tool = ROOT.parent / "shared" / "tools" / "check_contract.py"
    if not tool.is_file():
        pytest.skip("shared/tools/check_contract.py is not beside this checkout")
    run = subprocess.run([sys.executable, str(tool), *assignments()], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_ruff_is_clean():
    ruff = Path(sys.executable).parent / "ruff"
    run = subprocess.run([str(ruff), "check", "dlcourse", "tests", "benchmarks", "source", "grader_config.py"],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:]


GRADING_TARGETS = ("demo", "demo-full", "test", "test-full", "bench")


@pytest.mark.parametrize("target", GRADING_TARGETS)
def test_make_ensures_bubblewrap_before_it_grades(target):
    """Grading fails closed without bubblewrap: each grading target checks for it first."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}  # under `make test`
    dry = subprocess.run(["make", "-n", "--no-print-directory", target], cwd=ROOT, capture_output=True, text=True,
                         env=env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[0] == "sh .ci/bwrap"


def test_without_bubblewrap_or_apt_get_make_says_what_to_run_in_one_line(tmp_path):
    """A machine where it cannot be installed (no apt-get here): one line, and make stops."""
    import shutil

    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("make", "sh", "id"):
        (tools / tool).symlink_to(shutil.which(tool))
    run = subprocess.run(["make", "bwrap"], cwd=ROOT, capture_output=True, text=True, env={"PATH": str(tools)})
    assert run.returncode != 0
    said = [line for line in run.stderr.splitlines() if not line.startswith("make:")]
    assert len(said) == 1 and "apt-get install bubblewrap" in said[0], run.stderr
