"""Read a submission the way it arrives, repair what can be repaired, and say what happened.

Runs on the grader's side before nbgrader sees the files. Each problem becomes a notice
that reaches the student's feedback and the class report:

* a renamed notebook ("Copy of 01_x.ipynb", "01_x (1).ipynb") is graded under its name;
* an empty file, binary data, invalid JSON or something that is not a notebook scores 0
  with the reason (the file is set aside, so nbgrader records the notebook as missing);
* non-UTF-8 text is read as Latin-1, nbformat 3 is converted, duplicated cell ids are
  renumbered, damaged cells are repaired, a wrong kernel is replaced by Python 3;
* deleted, edited and duplicated graded cells are reported (nbgrader restores the graded
  cells from the gradebook and grades the last copy of a duplicate).
"""

from __future__ import annotations

import difflib
import json
import uuid
import warnings
from collections import Counter
from pathlib import Path

import nbformat

NotebookNotices = dict[str, list[str]]


def _best_match(expected: str, candidates: list[Path]) -> Path | None:
    def score(path: Path) -> float:
        name = path.stem.lower()
        bonus = 1.0 if expected.lower() in name else 0.0
        return bonus + difflib.SequenceMatcher(None, expected.lower(), name).ratio()

    ranked = sorted(candidates, key=score, reverse=True)
    return ranked[0] if ranked and score(ranked[0]) >= 0.5 else None


def _decode(data: bytes, name: str, notes: list[str]) -> str | None:
    if not data.strip():
        notes.append(f"{name} is empty: there was nothing to grade")
        return None
    if b"\x00" in data[:4096]:
        notes.append(f"{name} is not a notebook (it holds binary data): there was nothing to grade")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        notes.append(f"{name} is not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start}); "
                     "it was read as Latin-1")
        return data.decode("latin-1")


def _parse(text: str, name: str, notes: list[str]) -> nbformat.NotebookNode | None:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        notes.append(f"{name} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                     "was it edited outside Jupyter or cut short?")
        return None
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        notes.append(f"{name} is JSON but not a Jupyter notebook: there was nothing to grade")
        return None
    major = raw.get("nbformat")
    if major == 3:
        notes.append(f"{name} was in the old nbformat 3 and was converted to nbformat 4")
    elif major != 4:
        notes.append(f"{name} has an unknown nbformat version {major!r}; it was read as nbformat 4")
        raw["nbformat"], raw["nbformat_minor"] = 4, raw.get("nbformat_minor", 5) or 5
    cells = raw.get("cells") if isinstance(raw.get("cells"), list) else []
    ids = Counter(c.get("id") for c in cells if isinstance(c, dict) and isinstance(c.get("id"), str))
    duplicated = sorted(i for i, n in ids.items() if n > 1)
    if duplicated:
        notes.append(f"{name}: duplicated cell ids {duplicated[:5]} were renumbered")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nbformat renumbers duplicated ids itself, noisily
            return nbformat.reads(json.dumps(raw), as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds
        notes.append(f"{name} could not be read as a notebook ({type(exc).__name__}: {exc})")
        return None


def _repair(nb: nbformat.NotebookNode, name: str, notes: list[str]) -> None:
    fixed = 0
    cells = []
    for cell in nb.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            fixed += 1
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(str(s) for s in source)
        if not isinstance(source, str):
            source, fixed = str(source), fixed + 1
        cell["source"] = source
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"], fixed = nbformat.NotebookNode(), fixed + 1
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None  # the grader clears them anyway
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
        cells.append(cell)
    nb["cells"] = cells
    if fixed:
        notes.append(f"{name}: {fixed} damaged cell(s) were repaired or dropped")
    seen: set[str] = set()
    for cell in cells:
        if not cell.get("id") or cell["id"] in seen:
            cell["id"] = uuid.uuid4().hex[:8]
        seen.add(cell["id"])
    nb["nbformat"], nb["nbformat_minor"] = 4, max(int(nb.get("nbformat_minor", 5) or 5), 5)
    spec = nb.metadata.get("kernelspec", {}) or {}
    if spec.get("name") not in (None, "python3") or spec.get("language") not in (None, "python"):
        notes.append(f"{name} asked for the kernel {spec.get('name')!r}; it was graded with Python 3")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}


def _released(source: str) -> str:
    """A code cell's text as students received it (hidden tests removed)."""
    from nbgrader.preprocessors import ClearHiddenTests

    cell = nbformat.v4.new_code_cell(source)
    ClearHiddenTests()._remove_hidden_test_region(cell)
    return cell.source.strip()


def gradebook_cells(db_url: str, course_id: str, assignment: str) -> dict[str, dict[str, dict]]:
    """{notebook: {grade_id: {cell_type, locked, solution, checksum}}} from the gradebook."""
    from nbgrader.api import Gradebook

    cells: dict[str, dict[str, dict]] = {}
    with Gradebook(db_url, course_id) as gb:
        for notebook in gb.find_assignment(assignment).notebooks:
            solutions = {c.name for c in notebook.solution_cells}
            cells[notebook.name] = {c.name: {"cell_type": c.cell_type, "locked": bool(c.locked),
                                             "solution": c.name in solutions,
                                             "released": _released(c.source) if c.cell_type == "code" else None}
                                    for c in notebook.source_cells}
    return cells


def _compare_cells(nb: nbformat.NotebookNode, expected: dict[str, dict] | None, name: str,
                   notes: list[str]) -> None:
    """Report deleted, duplicated and edited graded cells (nbgrader repairs them)."""
    graded = [c for c in nb.cells if isinstance(c.metadata.get("nbgrader"), dict)
              and c.metadata["nbgrader"].get("grade_id")]
    submitted = Counter(c.metadata["nbgrader"]["grade_id"] for c in graded)
    for grade_id, count in sorted(submitted.items()):
        if count > 1:
            notes.append(f"{name}: the cell {grade_id!r} appears {count} times; the last copy was graded")
    if not expected:
        return
    missing = [g for g in expected if g not in submitted]
    if missing:
        notes.append(f"{name}: {len(missing)} graded or read-only cell(s) had been deleted and were put back: "
                     + ", ".join(missing[:6]))
    for cell in graded:
        info = expected.get(cell.metadata["nbgrader"]["grade_id"])
        if info is None or info["solution"] or not info["locked"] or info["cell_type"] != "code":
            continue
        if cell.cell_type != "code" or cell.source.strip() != info["released"]:
            notes.append(f"{name}: the read-only cell {cell.metadata['nbgrader']['grade_id']!r} had been "
                         "edited; the original was restored")


def _keep_last_copies(nb: nbformat.NotebookNode) -> None:
    """Earlier copies of a graded cell become plain cells (nbgrader's own de-duplication leaves
    an empty `nbgrader` entry behind, on which its OverwriteCells fails)."""
    seen: set[str] = set()
    for cell in reversed(nb.cells):
        meta = cell.metadata.get("nbgrader")
        if meta is None:
            continue
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if not grade_id or grade_id in seen:
            del cell.metadata["nbgrader"]
            continue
        seen.add(grade_id)


def normalize_submission(source_dir: Path, submitted_dir: Path,
                         expected_cells: dict[str, dict[str, dict]] | None = None) -> NotebookNotices:
    """Repair the submitted notebooks in place; returns notices per notebook ("" for the submission)."""
    notices: NotebookNotices = {"": []}
    expected = sorted(p.stem for p in source_dir.glob("*.ipynb"))
    present = {p.stem: p for p in submitted_dir.glob("*.ipynb") if p.is_file()}
    spare = [p for stem, p in present.items() if stem not in expected]
    for stem in expected:
        notes = notices.setdefault(stem, [])
        path = submitted_dir / f"{stem}.ipynb"
        if stem not in present:
            match = _best_match(stem, spare)
            if match is None:
                notes.append(f"no notebook named {stem}.ipynb was submitted")
                continue
            spare.remove(match)
            match.rename(path)
            notes.append(f"the notebook was submitted as {match.name!r} and was graded as {path.name!r}")
        data = path.read_bytes()
        text = _decode(data, path.name, notes)
        nb = _parse(text, path.name, notes) if text is not None else None
        if nb is None:
            path.rename(path.with_suffix(".ipynb.unreadable"))  # nbgrader scores it as missing
            continue
        _repair(nb, path.name, notes)
        _compare_cells(nb, (expected_cells or {}).get(stem), path.name, notes)
        _keep_last_copies(nb)
        nbformat.write(nb, path)
    for extra in spare:
        notices[""].append(f"{extra.name} is not part of the assignment and was not graded")
    return notices
