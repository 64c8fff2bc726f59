"""Read a submission the way it arrives, repair what can be repaired, and say what happened.

Runs on the grader's side before nbgrader sees the files. Each problem becomes a notice
that reaches the student's feedback and the class report:

* a renamed notebook ("Copy of 01_x.ipynb", "01_x (1).ipynb") is graded under its name;
* an empty file, binary data, invalid JSON or something that is not a notebook scores 0
  with the reason (the file is set aside, so nbgrader records the notebook as missing);
* non-UTF-8 text is read as Latin-1, nbformat 3 is converted, duplicated cell ids are
  renumbered, damaged cells are repaired, a wrong kernel is replaced by Python 3;
* a notebook from an earlier release, or one with cells deleted or moved, is graded on what it
  holds: a missing test or read-only cell is put back, as released, after the cell that comes
  before it in the assignment (wherever that cell was moved); a missing answer cell is noted and
  not put back (its tests run on what the notebook defines); edited and duplicated graded cells
  are reported (nbgrader restores locked cells from the gradebook, the last copy of a duplicate
  is graded);
* nbgrader metadata on a cell the gradebook does not know is removed (a test cell of an earlier
  release is dropped), and a known cell gets the gradebook's metadata back (a solution cell
  marked graded, a test's points changed);
* a notebook that is not part of the assignment is set aside (not graded, noted); links,
  FIFOs and devices are refused; cells beyond what a submission may add are dropped.
"""

from __future__ import annotations

import difflib
import json
import os
import stat
import uuid
import warnings
from collections import Counter
from pathlib import Path

import nbformat

from ..cells import grade_id as grade_id_of
from ..cells import is_setup_cell, tags
from ..classroom.deadlines import POLICY_CELL_ID
from ..i18n.code_text import same_code

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


def _without_mark_scheme(source: str) -> str:
    """A written question as released: its mark scheme (model answer, rubric) removed."""
    from nbgrader.preprocessors import ClearMarkScheme

    cell = nbformat.v4.new_markdown_cell(source)
    ClearMarkScheme()._remove_mark_scheme_region(cell)
    return cell.source


def gradebook_cells(db_url: str, course_id: str, assignment: str) -> dict[str, dict[str, dict]]:
    """{notebook: {grade_id: {cell_type, locked, solution, checksum}}} from the gradebook."""
    from nbgrader.api import Gradebook

    cells: dict[str, dict[str, dict]] = {}
    with Gradebook(db_url, course_id) as gb:
        for notebook in gb.find_assignment(assignment).notebooks:
            solutions = {c.name for c in notebook.solution_cells}
            points = {c.name: float(c.max_score) for c in notebook.grade_cells}
            tasks = {c.name: float(c.max_score) for c in notebook.task_cells}  # written questions
            cells[notebook.name] = {c.name: {"cell_type": c.cell_type, "locked": bool(c.locked),
                                             "solution": c.name in solutions,
                                             "grade": c.name in points, "task": c.name in tasks,
                                             "points": points.get(c.name, tasks.get(c.name)),
                                             "checksum": c.checksum,
                                             "released": (_released(c.source) if c.cell_type == "code"
                                                          else _without_mark_scheme(c.source))}
                                    for c in notebook.source_cells}
    return cells


def _metadata(grade_id: str, info: dict) -> dict:
    """The gradebook's nbgrader metadata of a cell."""
    want = {"grade": bool(info.get("grade")), "grade_id": grade_id, "locked": bool(info["locked"]),
            "schema_version": 3, "solution": bool(info["solution"])}
    if info.get("task"):
        want["task"] = True
    if info.get("grade") or info.get("task"):
        want["points"] = info.get("points") or 0.0
    if info.get("checksum"):
        want["checksum"] = info["checksum"]
    if info.get("cell_type"):
        want["cell_type"] = info["cell_type"]
    return want


def _is_retired_test(meta: dict) -> bool:
    """A test cell (graded, locked, no answer) whose grade_id the assignment no longer has."""
    return bool(meta.get("grade")) and bool(meta.get("locked")) and not meta.get("solution")


def _restore_metadata(nb: nbformat.NotebookNode, expected: dict[str, dict], name: str, notes: list[str]) -> None:
    """Cells the gradebook does not know lose their nbgrader metadata (a test cell of an earlier
    release is dropped: it holds no work of the student's); known cells get the gradebook's back
    (nbgrader would otherwise fail on the whole notebook)."""
    stripped, restored, retired = [], [], []
    kept = []
    for cell in nb.cells:
        kept.append(cell)
        meta = cell.metadata.get("nbgrader")
        if meta is None:
            continue
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        info = expected.get(grade_id) if isinstance(grade_id, str) else None
        if info is None:
            del cell.metadata["nbgrader"]
            if isinstance(meta, dict) and _is_retired_test(meta):
                kept.pop()
                retired.append(str(grade_id))
            elif isinstance(meta, dict) and (meta.get("grade") or meta.get("solution") or meta.get("locked")
                                             or meta.get("task")):
                stripped.append(str(grade_id))
            continue
        want = _metadata(grade_id, info)
        changed = any(meta.get(k) != v for k, v in want.items() if k not in ("checksum", "cell_type"))
        changed = changed or set(meta) - set(want) - {"checksum", "cell_type"}
        if changed:
            restored.append(grade_id)
        cell.metadata["nbgrader"] = want
    nb.cells = kept
    _note(notes, name, retired, "test cell(s) are no longer part of the assignment", "they were dropped")
    _note(notes, name, stripped, "cell(s) carried grading metadata the assignment does not have",
          "it was removed and they were run as plain cells")
    if restored:
        notes.append(f"{name}: the grading metadata of {len(restored)} cell(s) had been changed "
                     f"({', '.join(restored[:5])}); the assignment's was put back")


def _note(notes: list[str], name: str, ids: list[str], what: str, outcome: str) -> None:
    """One note for the cells `ids` (if any): how many, what they were, a few names, what was done."""
    if ids:
        notes.append(f"{name}: {len(ids)} {what} ({', '.join(ids[:6])}); {outcome}")


def _released_cell(grade_id: str, info: dict) -> nbformat.NotebookNode:
    """A test or read-only cell as students received it, with the gradebook's metadata."""
    make = nbformat.v4.new_code_cell if info["cell_type"] == "code" else nbformat.v4.new_markdown_cell
    cell = make(info["released"] or "")
    cell.id = uuid.uuid4().hex[:8]
    cell.metadata.update(editable=False, deletable=False, nbgrader=_metadata(grade_id, info))
    return cell


def _put_back_missing(nb: nbformat.NotebookNode, order: list[str], expected: dict[str, dict],
                      name: str, notes: list[str]) -> list[str]:
    """Put back the test and read-only cells the notebook lacks, as released, each right after the
    cell that precedes it in the assignment (`order`, the source's grade_ids), wherever the student
    moved that one; before the next one when none precedes. nbgrader's own repair fails when that
    cell is missing too (an earlier release, two adjacent cells deleted). A missing answer cell is
    only noted (and returned): putting back its empty stub would hide an answer written in another
    cell."""
    present = {grade_id_of(c): c for c in nb.cells if grade_id_of(c) in expected}
    tests, read_only, answers = [], [], []
    for position, gid in enumerate(order):
        info = expected.get(gid)
        if gid in present or info is None:
            continue
        if info["solution"]:
            answers.append(gid)
            continue
        cell = _released_cell(gid, info)
        _insert_near(nb.cells, cell, [present[g] for g in reversed(order[:position]) if g in present],
                     [present[g] for g in order[position + 1:] if g in present])
        present[gid] = cell
        (tests if info.get("grade") else read_only).append(gid)
    missing = "were deleted or missing from your notebook"
    _note(notes, name, answers, f"answer cell(s) {missing}",
          "the tests that use them score 0 unless the notebook defines them elsewhere")
    _note(notes, name, tests, f"test cell(s) {missing}", "they were put back, as released, and run")
    _note(notes, name, read_only, f"read-only cell(s) {missing}", "they were put back")
    return answers


def _run_current_setup(nb: nbformat.NotebookNode, source: nbformat.NotebookNode, name: str,
                       notes: list[str]) -> None:
    """Run the assignment's set-up cells (its imports, its data) where the notebook's differ, right
    after the notebook's cell of the same id: the tests rely on them, and an earlier release's
    imports fewer names. Parameters are the student's, and a cell the release fills in (the
    course's links) holds nothing a test needs."""
    submitted = {c.source.strip() for c in nb.cells}
    by_id = {c.get("id"): c for c in nb.cells}
    anchor, added = None, []
    for cell in source.cells:
        if not is_setup_cell(cell) or "parameters" in tags(cell) or "{{" in cell.source:
            continue
        anchor = by_id.get(cell.get("id"), anchor)
        if cell.source.strip() in submitted:
            continue
        current = nbformat.v4.new_code_cell(cell.source, metadata={"tags": list(tags(cell))})
        nb.cells.insert(_index(nb.cells, anchor) + 1 if anchor is not None else 0, current)
        anchor = current
        added.append(str(cell.get("id")))
    _note(notes, name, added, "set-up cell(s) differ from the assignment's (an earlier release?)",
          "the assignment's were run after yours")


def _insert_near(cells: list, cell, before: list, after: list) -> None:
    """Insert `cell` after the first of `before` (cells preceding it, nearest first), or else before
    the first of `after`, or else at the end."""
    if before:
        cells.insert(_index(cells, before[0]) + 1, cell)
    elif after:
        cells.insert(_index(cells, after[0]), cell)
    else:
        cells.append(cell)


def _index(cells: list, cell) -> int:
    return next(i for i, c in enumerate(cells) if c is cell)


def _cap_added_cells(nb: nbformat.NotebookNode, source_cells: int, expected: dict[str, dict],
                     limit: int, name: str, notes: list[str]) -> None:
    """Keep at most `limit` cells beyond the assignment's: the last extra cells are dropped."""
    allowed = source_cells + limit
    if len(nb.cells) <= allowed:
        return
    known = {g for g in expected}
    keep_plain = allowed - sum(1 for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") in known)
    kept, dropped = [], 0
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in known:
            kept.append(cell)
        elif keep_plain > 0:
            kept.append(cell)
            keep_plain -= 1
        else:
            dropped += 1
    nb.cells = kept
    notes.append(f"{name}: the notebook added more than {limit} cells to the assignment's {source_cells}; "
                 f"the last {dropped} extra cell(s) were dropped and did not run")


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _refuse_special(folder: Path, notes: list[str]) -> None:
    """Remove links, FIFOs, sockets and devices from the scratch copy (none should arrive)."""
    for dirpath, dirnames, filenames in os.walk(folder):
        for entry in [*dirnames, *filenames]:
            path = Path(dirpath) / entry
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                continue
            if stat.S_ISDIR(mode) or stat.S_ISREG(mode):
                continue
            path.unlink()
            kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
            notes.append(f"{path.relative_to(folder)} is {kind}: it was refused (only plain files are graded)")
        dirnames[:] = [d for d in dirnames if _regular_dir(Path(dirpath) / d)]


def _regular_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _compare_cells(nb: nbformat.NotebookNode, expected: dict[str, dict] | None, name: str,
                   notes: list[str]) -> None:
    """Report duplicated and edited graded cells (nbgrader repairs them)."""
    graded = [c for c in nb.cells if isinstance(c.metadata.get("nbgrader"), dict)
              and c.metadata["nbgrader"].get("grade_id")]
    submitted = Counter(c.metadata["nbgrader"]["grade_id"] for c in graded)
    for grade_id, count in sorted(submitted.items()):
        if count > 1:
            notes.append(f"{name}: the cell {grade_id!r} appears {count} times; the last copy was graded")
    if not expected:
        return
    for cell in graded:
        info = expected.get(cell.metadata["nbgrader"]["grade_id"])
        if info is None or info["solution"] or not info["locked"] or info["cell_type"] != "code":
            continue
        if cell.cell_type != "code" or not same_code(cell.source.strip(), info["released"]):
            notes.append(f"{name}: the read-only cell {cell.metadata['nbgrader']['grade_id']!r} had been "
                         "edited (or comes from an earlier release); the assignment's was run")


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
                         expected_cells: dict[str, dict[str, dict]] | None = None,
                         max_added_cells: int | None = None,
                         missing_answers: dict[str, list[str]] | None = None) -> NotebookNotices:
    """Repair the submitted notebooks in place; returns notices per notebook ("" for the submission).
    `missing_answers` gets, by notebook, the answer cells the notebook lacks."""
    notices: NotebookNotices = {"": []}
    _refuse_special(submitted_dir, notices[""])
    expected = sorted(p.stem for p in source_dir.glob("*.ipynb"))
    present = {p.stem: p for p in submitted_dir.glob("*.ipynb") if _regular(p)}
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
        known = (expected_cells or {}).get(stem)
        source = nbformat.read(source_dir / f"{stem}.ipynb", as_version=4)
        _compare_cells(nb, known, path.name, notes)
        _keep_last_copies(nb)
        if known:
            _restore_metadata(nb, known, path.name, notes)
            lacking = _put_back_missing(nb, [g for g in map(grade_id_of, source.cells) if g], known, path.name,
                                        notes)
            if missing_answers is not None:
                missing_answers[stem] = lacking
            _run_current_setup(nb, source, path.name, notes)
        if max_added_cells is not None:
            # the release adds one cell of its own: the deadline and late policy (deadlines.py)
            source_cells = len(source.cells) + sum(1 for c in nb.cells if c.get("id") == POLICY_CELL_ID)
            _cap_added_cells(nb, source_cells, known or {}, max_added_cells, path.name, notes)
        nbformat.write(nb, path)
    for extra in spare:  # set aside: nbgrader grades every notebook in the folder
        extra.rename(extra.with_name(extra.name + ".not-graded"))
        notices[""].append(f"{extra.name} is not part of the assignment and was not graded")
    return notices
