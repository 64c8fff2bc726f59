"""`dlcourse similarity ASSIGNMENT`: pairs of students whose answers look alike.

Only answer cells are compared: the code cells that nbgrader marks as solutions (by grade_id),
so the released starter code, the tests and the text never count. What the releases put in the
answer cells (the `def` lines, `# YOUR CODE HERE`, and the Portuguese release's translated comments and
docstrings) is given to the detector as boilerplate.

Fingerprinting is copydetect's (https://github.com/blingenf/copydetect): the code is tokenised
with Pygments, names are replaced by their kind (so renaming variables does not help), and
k-grams are winnowed (Schleimer, Wilkerson and Aiken's algorithm, as in MOSS), which makes
the comparison blind to the order of functions and to added comments. The report
(reports/<assignment>/similarity.html) shows the top pairs side by side with the shared
passages highlighted; it is a list of what to read, never a verdict.
"""

from __future__ import annotations

import html
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..cells import grade_id, is_solution_cell

NOISE_T = 12  # k-grams shorter than this many tokens are noise (answers here are short)
GUARANTEE_T = 12  # a shared passage this long is always found


@dataclass
class Pair:
    a: str
    b: str
    sim_a: float  # share of a's answer fingerprints found in b's
    sim_b: float
    tokens: int  # tokens in the shared passages
    html_a: str = ""
    html_b: str = ""

    @property
    def score(self) -> float:
        return (self.sim_a + self.sim_b) / 2


def answer_cells(nb: dict) -> dict[str, str]:
    """grade_id -> source of each code solution cell of a notebook (JSON dict)."""
    out = {}
    for cell in nb.get("cells", []):
        # concept questions (q_*) are one-letter answers every good student shares: not code to compare
        if is_solution_cell(cell) and not grade_id(cell).startswith("q_"):
            src = cell.get("source", "")
            out[grade_id(cell)] = "".join(src) if isinstance(src, list) else str(src)
    return out


def _answers_text(cells: dict[str, str], order: list[str]) -> str:
    return "".join(f"# --- {gid}\n{cells[gid].rstrip()}\n\n" for gid in order if gid in cells)


def student_answers(root: Path, assignment: str) -> tuple[dict[str, str], list[str]]:
    """{student: their answer cells as one text} from submitted/, and notes on what was left out."""
    answers, notes = {}, []
    releases = _releases(root, assignment)
    order = list(releases[0]) if releases else []
    for folder in sorted((root / "submitted").glob(f"*/{assignment}")):
        student = folder.parent.name
        candidates = [folder / f"{assignment}.ipynb"] + sorted(folder.glob("*.ipynb"))
        path = next((p for p in candidates if p.is_file() and not p.is_symlink()), None)
        if path is None:
            notes.append(f"{student}: no notebook")
            continue
        try:
            cells = answer_cells(json.loads(path.read_text(encoding="utf-8", errors="replace")))
        except (ValueError, AttributeError, TypeError):
            notes.append(f"{student}: {path.name} is not a readable notebook")
            continue
        if not cells:
            notes.append(f"{student}: no answer cells (nbgrader metadata missing)")
            continue
        cells = {gid: src for gid, src in cells.items()
                 if all(src.strip() != stubs.get(gid, "").strip() for stubs in releases)}
        if not cells:
            notes.append(f"{student}: every answer cell is as released")
            continue
        answers[student] = _answers_text(cells, order + sorted(set(cells) - set(order)))
    return answers, notes


def _releases(root: Path, assignment: str) -> list[dict[str, str]]:
    """The answer cells of each language's release (English first; the Portuguese one translates the
    comments and docstrings of the same cells)."""
    from ..i18n.notebooks import translated_path

    folder = root / "release" / assignment
    found = []
    for release in (folder / f"{assignment}.ipynb", translated_path(folder, assignment)):
        if release.is_file():
            found.append(answer_cells(json.loads(release.read_text(encoding="utf-8"))))
    return found


def boilerplate(root: Path, assignment: str) -> str:
    """What the releases themselves put in the answer cells (signatures, docstrings, stubs, in either
    language): never evidence of copying. Cells left as released are dropped before the comparison too."""
    return "".join(_answers_text(cells, list(cells)) for cells in _releases(root, assignment))


def compare(answers: dict[str, str], boiler: str = "") -> list[Pair]:
    """Every pair of students, most similar first (copydetect's winnowed fingerprints)."""
    from copydetect import CopyDetector

    if len(answers) < 2:
        return []
    with tempfile.TemporaryDirectory(prefix="dlcourse-similarity-") as tmp:
        tmp = Path(tmp)
        files = {}
        for i, (student, text) in enumerate(sorted(answers.items())):
            files[student] = tmp / f"s{i:05d}.py"  # no student text in file names
            files[student].write_text(text, encoding="utf-8")
        detector = CopyDetector(noise_t=NOISE_T, guarantee_t=GUARANTEE_T, display_t=0.0, autoopen=False,
                                silent=True, out_file=str(tmp / "report.html"), extensions=["py"])
        for path in files.values():
            detector.add_file(str(path))
        if boiler.strip():
            (tmp / "release").mkdir()
            (tmp / "release" / "boilerplate.py").write_text(boiler, encoding="utf-8")
            detector.add_file(str(tmp / "release" / "boilerplate.py"), type="boilerplate")
        detector.run()
        by_file = {str(p): s for s, p in files.items()}
        pairs = []
        for sim1, sim2, f1, f2, hl1, hl2, overlap in detector.get_copied_code_list():
            a, b = by_file[str(f1)], by_file[str(f2)]
            if a > b:
                a, b, sim1, sim2, hl1, hl2 = b, a, sim2, sim1, hl2, hl1
            pairs.append(Pair(a, b, float(sim1), float(sim2), int(overlap), hl1, hl2))
    seen = {(p.a, p.b) for p in pairs}
    students = sorted(answers)
    pairs += [Pair(a, b, 0.0, 0.0, 0) for i, a in enumerate(students) for b in students[i + 1:]
              if (a, b) not in seen]
    return sorted(pairs, key=lambda p: (-p.score, -p.tokens, p.a, p.b))


STYLE = """body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse}
td,th{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left;vertical-align:top}
.side{display:grid;grid-template-columns:1fr 1fr;gap:1rem}pre{background:#f6f8fa;padding:.6rem;
white-space:pre-wrap;font-size:.8rem}.highlight-red{background:#ffd7d5}.highlight-green{background:#d2f4d3}"""


def render_report(assignment: str, pairs: list[Pair], notes: list[str], top: int = 10) -> str:
    rows = "".join(f"<tr><td>{i}</td><td>{html.escape(p.a)}</td><td>{html.escape(p.b)}</td>"
                   f"<td>{p.score:.0%}</td><td>{p.sim_a:.0%} / {p.sim_b:.0%}</td><td>{p.tokens}</td></tr>"
                   for i, p in enumerate(pairs[:50], start=1))
    sides = "".join(f"<h2>{i}. {html.escape(p.a)} and {html.escape(p.b)}: {p.score:.0%}</h2><div class='side'>"
                    f"<div><b>{html.escape(p.a)}</b><pre>{p.html_a}</pre></div>"
                    f"<div><b>{html.escape(p.b)}</b><pre>{p.html_b}</pre></div></div>"
                    for i, p in enumerate(pairs[:top], start=1) if p.tokens)
    left_out = ("<h2>Left out</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>"
                if notes else "")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(assignment)}: similarity"
            f"</title><style>{STYLE}</style></head><body><h1>{html.escape(assignment)}: similar answers</h1>"
            "<p>Answer cells only (nbgrader solution cells), the release's own code excluded; fingerprints "
            "by copydetect (names normalised, order and comments ignored). A high score is a reason to "
            "read both notebooks, not a verdict.</p><table><tr><th>#</th><th>student</th><th>student</th>"
            f"<th>similarity</th><th>each side</th><th>shared tokens</th></tr>{rows}</table>{sides}{left_out}"
            "</body></html>\n")


def similarity(root: Path, assignment: str, top: int = 10) -> tuple[Path, list[Pair], list[str]]:
    """Compare the class's answers; write reports/<assignment>/similarity.html and .csv."""
    import csv

    answers, notes = student_answers(root, assignment)
    pairs = compare(answers, boilerplate(root, assignment))
    out = root / "reports" / assignment
    out.mkdir(parents=True, exist_ok=True)
    (out / "similarity.html").write_text(render_report(assignment, pairs, notes, top), encoding="utf-8")
    with (out / "similarity.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["student_a", "student_b", "similarity", "sim_a", "sim_b", "shared_tokens"])
        for p in pairs:
            w.writerow([p.a, p.b, round(p.score, 4), round(p.sim_a, 4), round(p.sim_b, 4), p.tokens])
    return out / "similarity.html", pairs, notes
