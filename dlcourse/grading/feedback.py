"""`dlcourse feedback`: per-student HTML with each test's name, points and failure message.

Built from the autograded notebook's outputs and the gradebook, never from cell sources,
so no hidden test code reaches the student (unlike nbgrader's own feedback, #917).
"""

from __future__ import annotations

import html
from pathlib import Path

import nbformat

from .autograde import read_marker
from .execute import cell_results, is_test_cell

STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;
text-align:left;vertical-align:top}.pass{color:#1a7f37}.fail{color:#b42318}
pre{white-space:pre-wrap;margin:0;font-size:.85rem}"""


def describe(cell) -> str:
    """The first docstring line of a test cell: what it checks (no code)."""
    src = cell.source.strip()
    for quote in ('"""', "'''"):
        if src.startswith(quote):
            return src[3:].split(quote, 1)[0].strip().splitlines()[0]
    return ""


def _notes_html(notes: list[str]) -> str:
    if not notes:
        return ""
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return f"<h2>Notes from the grader</h2><ul>{items}</ul>"


def render(student: str, assignment: str, nb: nbformat.NotebookNode, notes: list[str] | None = None) -> str:
    results = cell_results(nb)
    descriptions = {c.metadata["nbgrader"]["grade_id"]: describe(c) for c in nb.cells if is_test_cell(c)}
    score = sum(r.score for r in results)
    total = sum(r.points for r in results)
    rows = []
    for r in results:
        status = '<span class="pass">passed</span>' if r.passed else '<span class="fail">failed</span>'
        message = f"<pre>{html.escape(r.message)}</pre>" if r.message else ""
        rows.append(f"<tr><td><code>{html.escape(r.grade_id)}</code><br><small>"
                    f"{html.escape(descriptions.get(r.grade_id, ''))}</small></td><td>{status}</td>"
                    f"<td>{r.score:g} / {r.points:g}</td><td>{message}</td></tr>")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(assignment)}: "
            f"{html.escape(student)}</title><style>{STYLE}</style></head><body>"
            f"<h1>{html.escape(assignment)}</h1><p>Student: <b>{html.escape(student)}</b>. "
            f"Score: <b>{score:g} / {total:g}</b></p><table><tr><th>test</th><th>result</th>"
            f"<th>points</th><th>message</th></tr>{''.join(rows)}</table>{_notes_html(notes or [])}"
            "</body></html>\n")


def render_error(student: str, assignment: str, error: str) -> str:
    """The page of a submission that could not be graded at all (score 0)."""
    lines = [line for line in error.strip().splitlines() if line.strip()]
    first = (lines[0] if lines and "Traceback" not in error else lines[-1]) if lines else "unknown error"
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(assignment)}: "
            f"{html.escape(student)}</title><style>{STYLE}</style></head><body>"
            f"<h1>{html.escape(assignment)}</h1><p>Student: <b>{html.escape(student)}</b>. Score: <b>0</b></p>"
            f"<p class='fail'>Your notebook could not be graded:</p><pre>{html.escape(first)}</pre>"
            "<p>Check that it opens in Jupyter, keeps its original name, and runs from top to bottom "
            "(Kernel &gt; Restart and run all) without hanging or crashing the kernel.</p></body></html>\n")


def feedback(root: Path, assignment: str) -> list[Path]:
    """One HTML page per graded submission (a short one when it could not be graded)."""
    written = []
    for folder in sorted((root / "autograded").glob(f"*/{assignment}")):
        student = folder.parent.name
        out_dir = root / "feedback" / student / assignment
        notebooks = sorted(folder.glob("*.ipynb"))
        marker = read_marker(root, student, assignment)
        notes = (marker or {}).get("notices", [])
        pages = [(out_dir / f"{p.stem}.html", render(student, assignment, nbformat.read(p, as_version=4), notes))
                 for p in notebooks]
        if not notebooks:
            if marker is None:
                continue
            error = marker.get("error", "")
            pages = [(out_dir / f"{assignment}.html", render_error(student, assignment, error))]
        for out, text in pages:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text, encoding="utf-8")
            written.append(out)
    return written
