"""Unit tests of the grader's intake (broken files) and sandbox settings, without a kernel."""

from __future__ import annotations

import json

import nbformat
import pytest
from conftest import ROOT

from dlcourse.grading.intake import normalize_submission
from dlcourse.grading.sandbox import Limits, guard_modules

A = "01_softmax_cross_entropy"


@pytest.fixture
def folders(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    (source / f"{A}.ipynb").write_bytes((ROOT / "source" / A / f"{A}.ipynb").read_bytes())
    submitted = tmp_path / "submitted"
    submitted.mkdir()
    return source, submitted


def _release() -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "release" / A / f"{A}.ipynb", as_version=4)


@pytest.mark.parametrize("data, message", [
    (b"", "is empty"),
    (b"\x00\x01binary", "binary data"),
    (b'{"cells": [', "not valid JSON (line 1"),
    (b'"just a string"', "not a Jupyter notebook"),
])
def test_unreadable_files_are_set_aside_with_the_reason(folders, data, message):
    source, submitted = folders
    (submitted / f"{A}.ipynb").write_bytes(data)
    notices = normalize_submission(source, submitted)
    assert any(message in n for n in notices[A]), notices
    assert not (submitted / f"{A}.ipynb").exists()  # nbgrader records the notebook as missing


def test_a_renamed_notebook_is_graded_under_its_name(folders):
    source, submitted = folders
    nbformat.write(_release(), submitted / f"{A} (1).ipynb")
    nbformat.write(_release(), submitted / "scratch-work.ipynb")
    notices = normalize_submission(source, submitted)
    assert (submitted / f"{A}.ipynb").is_file()
    assert any(f"{A} (1).ipynb" in n for n in notices[A])
    assert any("scratch-work.ipynb is not part of the assignment" in n for n in notices[""])


def test_a_missing_notebook_is_reported(folders):
    source, submitted = folders
    assert normalize_submission(source, submitted)[A] == [f"no notebook named {A}.ipynb was submitted"]


def test_repairs_keep_the_answers(folders):
    source, submitted = folders
    nb = _release()
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "softmax")
    answer.source = "def softmax(z):\n    return z  # ção\n"
    raw = json.loads(nbformat.writes(nb))
    raw["metadata"]["kernelspec"] = {"name": "ir", "language": "R", "display_name": "R"}
    raw["cells"][1]["id"] = raw["cells"][0]["id"]  # duplicated ids
    (submitted / f"{A}.ipynb").write_bytes(json.dumps(raw, ensure_ascii=False).encode("latin-1"))
    notices = " | ".join(normalize_submission(source, submitted)[A])
    assert "not UTF-8" in notices and "kernel 'ir'" in notices and "duplicated cell ids" in notices
    fixed = nbformat.read(submitted / f"{A}.ipynb", as_version=4)
    nbformat.validate(fixed)
    assert any("# ção" in c.source for c in fixed.cells)
    assert fixed.metadata.kernelspec.name == "python3"


def test_earlier_copies_of_a_graded_cell_become_plain_cells(folders):
    source, submitted = folders
    nb = _release()
    index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "softmax")
    copy = nbformat.from_dict(json.loads(json.dumps(nb.cells[index])))
    copy.id = "draft"
    nb.cells.insert(index, copy)
    nbformat.write(nb, submitted / f"{A}.ipynb")
    notices = normalize_submission(source, submitted)
    assert any("appears 2 times" in n for n in notices[A])
    fixed = nbformat.read(submitted / f"{A}.ipynb", as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in fixed.cells]
    assert ids.count("softmax") == 1 and "nbgrader" not in fixed.cells[index].metadata


def test_limits_reject_unknown_settings():
    assert Limits.from_dict({"memory_mb": 100}).memory_mb == 100
    with pytest.raises(ValueError, match="memory_gb"):
        Limits.from_dict({"memory_gb": 1})


def test_the_guard_snapshots_what_the_tests_import():
    nb = nbformat.read(ROOT / "source" / "02_backprop_by_hand" / "02_backprop_by_hand.ipynb", as_version=4)
    modules = guard_modules(nb)
    assert "numpy" in modules and "torch" in modules
    assert not any(m.startswith("dlcourse.instructor") for m in modules)
