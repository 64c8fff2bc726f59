"""What the grading kernel gets of the hidden tests (`dlcourse.grader.driver`), in numbers.

    python -m benchmarks.driver_size [--list]

Per notebook and in all: the hidden blocks, their characters, the characters of the drivers that
replace them in the kernel, and the comparisons left in the drivers (those on a value of the
student's apart). `--list` prints each comparison left.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import nbformat

from dlcourse.cells import exercises, is_test_cell
from dlcourse.grader.driver import (
    HIDDEN_BLOCK,
    _clean_names,
    _reference_names,
    _student_names,
    driver_only,
    known_names,
    read_elsewhere,
)

ROOT = Path(__file__).resolve().parent.parent


def measure(path: Path) -> tuple[dict, list[str]]:
    nb = nbformat.read(path, as_version=4)
    names, known, elsewhere = exercises(nb), known_names(nb), read_elsewhere(nb)
    row = {"blocks": 0, "hidden": 0, "driver": 0, "comparisons": 0, "on_student": 0, "blocks_on_student": 0}
    listed = []
    for cell in nb.cells:
        if not (is_test_cell(cell) and "BEGIN HIDDEN TESTS" in cell.source):
            continue
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        blocks = HIDDEN_BLOCK.findall(cell.source)
        driver = driver_only(cell.source, names, known, elsewhere).strip()
        tree = ast.parse(cell.source)
        clean = _clean_names(tree, _reference_names(tree), set(names), set(known))
        row["blocks"] += len(blocks)
        row["hidden"] += sum(len(b) for b in blocks)
        row["driver"] += len(driver)
        on_student = 0
        for node in ast.walk(ast.parse(driver)):
            if isinstance(node, ast.Compare):
                row["comparisons"] += 1
                student = bool(_student_names(node, clean))
                on_student += student
                listed.append(f"{path.stem}/{grade_id}{' (student)' if student else ''}: {ast.unparse(node)}")
        row["on_student"] += on_student
        row["blocks_on_student"] += bool(on_student)
    return row, listed


def main(argv: list[str]) -> int:
    total: dict[str, int] = {}
    print(f"{'notebook':28} {'blocks':>6} {'hidden':>8} {'driver':>8} {'compare':>8} {'student':>8}")
    for path in sorted((ROOT / "source").glob("0*/0*.ipynb")):
        row, listed = measure(path)
        for key, value in row.items():
            total[key] = total.get(key, 0) + value
        print(f"{path.stem:28} {row['blocks']:6} {row['hidden']:8,} {row['driver']:8,} {row['comparisons']:8} "
              f"{row['on_student']:8}")
        if "--list" in argv:
            print("\n".join(f"    {line}" for line in listed))
    print(f"{'all':28} {total['blocks']:6} {total['hidden']:8,} {total['driver']:8,} {total['comparisons']:8} "
          f"{total['on_student']:8}  ({total['blocks_on_student']} blocks compare a student's value)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
