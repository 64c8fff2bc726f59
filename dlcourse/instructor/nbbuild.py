"""Write source notebooks from a percent-format script, and back.

`source/<id>/<id>.py` is the committed source of truth; `source/<id>/<id>.ipynb` is generated
from it (tests/test_authoring.py fails when either is stale). Authoring format, one marker line
per cell, each with a stable id (so inserting a cell renames no other)::

    # metadata: {"dlcourse": {"judged": true}}   notebook metadata (JSON), before the first cell
    # %% [markdown] id=intro                    a markdown cell; its lines start with "# "
    # %% setup id=imports                       code the tests may rely on (imports, seeds, data)
    # %% params id=sizes                        the parameters cell (tags: parameters, setup)
    # %% solution id=softmax                    the exercise's solution cell (grade_id = name)
    # %% solution id=adam_step updates=w        ... whose exercise may change the argument w in place
    # %% test id=test_softmax points=2          a graded test cell (tags=slow: full-size training)
    # %% id=demo-plot                           any other code cell (demos, plots, training)
    # %% written id=w_why points=2              a written question: a manually graded nbgrader task
                                                 (markdown; its BEGIN/END MARK SCHEME region holds the
                                                 model answer and rubric, removed on release) and,
                                                 built after it, the student's answer cell `w_why-answer`

A cell without an id gets one from its kind and content (`code-1a2b3c4d`); `to_script` always
writes the ids back, so run `script` after adding cells to pin them.

    python -m dlcourse.instructor.nbbuild build source/ID/ID.py source/ID/ID.ipynb
    python -m dlcourse.instructor.nbbuild script source/ID/ID.ipynb > source/ID/ID.py
    python -m dlcourse.instructor.nbbuild check source/*/*.py      (exit 1 when a notebook is stale)
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import nbformat

from .. import cells
from ..cells import updates

MARKER = re.compile(r"^# %%(?P<rest>.*)$")
METADATA = re.compile(r"^# metadata: (?P<json>\{.*\})\s*$")
WRITTEN_ANSWER_STUB = "**Your answer.** *(Write it here, in a few sentences.)*"
KERNEL_METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def _parse_marker(rest: str) -> tuple[str, dict[str, str]]:
    rest = rest.strip()
    if rest.startswith("[markdown]"):
        words = rest[len("[markdown]"):].split()
        return "markdown", dict(w.split("=", 1) for w in words if "=" in w)
    words = rest.split()
    kind = words[0] if words and "=" not in words[0] else "code"
    opts = dict(w.split("=", 1) for w in words if "=" in w)
    return kind, opts


def _own_paragraphs(text: str, markers: tuple[str, ...]) -> str:
    """`text` with each line holding a marker set off by blank lines (else Markdown joins it to its
    neighbours, or reads `===` under a line as a heading)."""
    out: list[str] = []
    lines = text.split("\n")
    for i, line in enumerate(lines):
        marked = any(m in line for m in markers)
        if marked and out and out[-1].strip():
            out.append("")
        out.append(line)
        if marked and i + 1 < len(lines) and lines[i + 1].strip():
            out.append("")
    return "\n".join(out)


def build(script: str) -> nbformat.NotebookNode:
    """A notebook (nbformat 4.5, no outputs) from the percent-format `script`."""
    blocks: list[tuple[str, dict[str, str], list[str]]] = []
    extra: dict = {}
    for line in script.splitlines():
        m = MARKER.match(line)
        if m:
            blocks.append((*_parse_marker(m.group("rest")), []))
        elif blocks:
            blocks[-1][2].append(line)
        elif METADATA.match(line):
            extra.update(json.loads(METADATA.match(line).group("json")))
    nb = nbformat.v4.new_notebook()
    nb.metadata = {**KERNEL_METADATA, **extra}
    for kind, opts, lines in blocks:
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        digest = hashlib.sha1("\n".join(lines).encode()).hexdigest()[:8]
        cell_id = opts.get("id", f"{kind}-{digest}")
        if kind in ("markdown", "written"):
            text = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in lines)
            cell = nbformat.v4.new_markdown_cell(text)
        else:
            cell = nbformat.v4.new_code_cell("\n".join(lines))
        cell.id = cell_id
        if kind == "solution":
            cell.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False,
                                         "grade_id": opts["id"], "schema_version": 3}
            if opts.get("updates"):  # the judge accepts in-place changes to these arguments only
                cell.metadata["dlcourse"] = {"updates": opts["updates"].split(",")}
        elif kind == "test":
            cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True,
                                         "points": float(opts.get("points", 1)),
                                         "grade_id": opts["id"], "schema_version": 3}
        elif kind == "setup":
            cell.metadata["tags"] = ["setup"]
        elif kind == "params":
            cell.metadata["tags"] = ["parameters", "setup"]
        elif kind == "written":
            cell.source = text = _own_paragraphs(text, ("BEGIN MARK SCHEME", "END MARK SCHEME"))
            if "BEGIN MARK SCHEME" not in text or "END MARK SCHEME" not in text:
                raise ValueError(f"written question {cell_id!r} has no BEGIN/END MARK SCHEME region")
            cell.metadata["nbgrader"] = {"grade": False, "solution": False, "task": True, "locked": True,
                                         "points": float(opts.get("points", 1)),
                                         "grade_id": opts["id"], "schema_version": 3}
        elif kind not in ("code", "markdown"):
            raise ValueError(f"unknown cell kind {kind!r}")
        if opts.get("tags"):
            cell.metadata["tags"] = cell.metadata.get("tags", []) + opts["tags"].split(",")
        nb.cells.append(cell)
        if kind == "written":  # where the student writes; formgrader shows it under the rubric
            answer = nbformat.v4.new_markdown_cell(WRITTEN_ANSWER_STUB)
            answer.id = f"{cell_id}-answer"
            answer.metadata["dlcourse"] = {"answer_to": cell_id}
            nb.cells.append(answer)
    ids = [c.id for c in nb.cells]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise ValueError(f"duplicate cell ids: {sorted(dup)}")
    nbformat.validate(nb)
    return nb


def to_script(nb: nbformat.NotebookNode) -> str:
    """The percent-format script of a notebook written by `build` (round trip)."""
    out: list[str] = []
    extra = {k: v for k, v in nb.metadata.items() if k not in KERNEL_METADATA}
    if extra:
        out.extend([f"# metadata: {json.dumps(extra, sort_keys=True)}", ""])
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        tags = list(cell.metadata.get("tags", []))
        if cells.answer_to(cell):
            continue  # built from its written question
        if cell.cell_type == "markdown" and meta.get("task"):
            out.append(f"# %% written id={meta['grade_id']} points={meta.get('points', 1):g}")
            out.extend(("# " + line).rstrip() for line in cell.source.splitlines())
        elif cell.cell_type == "markdown":
            out.append(f"# %% [markdown] id={cell.id}")
            out.extend(("# " + line).rstrip() for line in cell.source.splitlines())
        else:
            if meta.get("solution"):
                head = f"# %% solution id={meta['grade_id']}"
                if updates(cell):
                    head += f" updates={','.join(updates(cell))}"
            elif meta.get("grade"):
                head = f"# %% test id={meta['grade_id']} points={meta.get('points', 1):g}"
            elif "parameters" in tags:
                head, tags = f"# %% params id={cell.id}", [t for t in tags if t not in ("parameters", "setup")]
            elif "setup" in tags:
                head, tags = f"# %% setup id={cell.id}", [t for t in tags if t != "setup"]
            else:
                head = f"# %% id={cell.id}"
            out.append(head + (f" tags={','.join(tags)}" if tags else ""))
            out.extend(cell.source.splitlines())
        out.append("")
    return "\n".join(out)


def stale(script_path: Path) -> list[str]:
    """Why `script_path`'s notebook (same name, .ipynb) is out of date with it; [] when in step."""
    notebook = script_path.with_suffix(".ipynb")
    if not notebook.is_file():
        return [f"{notebook} is missing: build it from {script_path.name}"]
    built = nbformat.writes(build(script_path.read_text(encoding="utf-8")), version=4) + "\n"
    if notebook.read_text(encoding="utf-8") != built:
        return [f"{notebook} differs from what {script_path.name} builds: edited in JupyterLab? Run\n"
                f"  python -m dlcourse.instructor.nbbuild script {notebook} > {script_path}\n"
                f"to keep the notebook's edits, or build to keep the script's."]
    return []


def write(nb: nbformat.NotebookNode, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(nb, version=4) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 3 and argv[0] == "build":
        write(build(Path(argv[1]).read_text(encoding="utf-8")), Path(argv[2]))
        return 0
    if len(argv) == 2 and argv[0] == "script":
        sys.stdout.write(to_script(nbformat.read(argv[1], as_version=4)))
        return 0
    if len(argv) >= 2 and argv[0] == "check":
        problems = [p for path in argv[1:] for p in stale(Path(path))]
        print("\n".join(problems) or "every notebook is in step with its script", file=sys.stderr)
        return 1 if problems else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
