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

jupytext's `py:percent` format does the reading and writing (cell boundaries, markdown comments,
blank lines); this module is the thin layer of the course's own markers over it: the kind word
(solution, test, ...) is jupytext's cell title, and `key=value` options are its cell metadata
(`_to_jupytext_header` quotes them on the way in, `_from_jupytext_header` unquotes them on the way
out, so the scripts keep their short form).

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

import jupytext
import nbformat
from jupytext.cell_metadata import text_to_metadata

from .. import cells
from ..cells import updates
from ..i18n.notebooks import ANSWER_STUBS

MARKER = re.compile(r"^# %%(?P<rest>.*)$")
METADATA = re.compile(r"^# metadata: (?P<json>\{.*\})\s*$")
WRITTEN_ANSWER_STUB = ANSWER_STUBS["en"]  # the answer cell of a written question, as released
JUPYTEXT_FORMAT = {"extension": ".py", "format_name": "percent", "comment_magics": False}
JUPYTEXT_KEYS = ("title", "lines_to_next_cell")  # jupytext's own cell metadata, never ours
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


def _to_jupytext_header(rest: str) -> str:
    """A course marker's text (after `# %%`) as jupytext's header: the kind as the cell's title,
    markdown kinds marked `[markdown]`, the options as JSON metadata (tags as a list)."""
    kind, opts = _parse_marker(rest)
    head = "# %%" + {"markdown": " [markdown]", "written": " written [markdown]", "code": ""}.get(kind, f" {kind}")
    for key, value in opts.items():
        head += f" {key}={json.dumps(value.split(',') if key == 'tags' else value)}"
    return head


def _from_jupytext_header(rest: str) -> str:
    """jupytext's header text (after `# %%`) back in the course's short form."""
    title, meta = text_to_metadata(rest.strip(), allow_title=True)
    kind = title.replace("[markdown]", "").strip()
    words = ["[markdown]"] if not kind and "[markdown]" in title else [kind] if kind else []
    for key, value in meta.items():
        if key not in JUPYTEXT_KEYS:
            words.append(f"{key}={','.join(value) if isinstance(value, list) else value}")
    return " ".join(words)


def read_cells(script: str) -> tuple[dict, list[tuple[str, dict[str, str], str]]]:
    """(notebook metadata, [(kind, options, source)]) of a script, parsed by jupytext."""
    lines: list[str] = []
    extra: dict = {}
    for line in script.splitlines():
        marker = MARKER.match(line)
        if marker:
            lines.append(_to_jupytext_header(marker.group("rest")))
        elif lines:
            lines.append(line)
        elif METADATA.match(line):
            extra.update(json.loads(METADATA.match(line).group("json")))
    read = jupytext.reads("\n".join(lines) + "\n", fmt=JUPYTEXT_FORMAT)
    out = []
    for cell in read.cells:
        meta = dict(cell.metadata)
        kind = meta.pop("title", "markdown" if cell.cell_type == "markdown" else "code")
        opts = {k: ",".join(v) if k == "tags" else str(v) for k, v in meta.items() if k not in JUPYTEXT_KEYS}
        out.append((kind, opts, cell.source))
    return extra, out


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
    extra, parsed = read_cells(script)
    nb = nbformat.v4.new_notebook()
    nb.metadata = {**KERNEL_METADATA, **extra}
    for kind, opts, text in parsed:
        digest = hashlib.sha1(text.encode()).hexdigest()[:8]
        cell_id = opts.get("id", f"{kind}-{digest}")
        if kind in ("markdown", "written"):
            cell = nbformat.v4.new_markdown_cell(text)
        else:
            cell = nbformat.v4.new_code_cell(text)
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


def _marker(cell) -> tuple[str, dict[str, str]]:
    """The course marker (kind, options) of a cell that `build` made."""
    meta = cell.metadata.get("nbgrader", {})
    tags = list(cell.metadata.get("tags", []))
    if cell.cell_type == "markdown" and meta.get("task"):
        return "written", {"id": meta["grade_id"], "points": f"{meta.get('points', 1):g}"}
    if cell.cell_type == "markdown":
        return "markdown", {"id": cell.id}
    if meta.get("solution"):
        kind, opts = "solution", {"id": meta["grade_id"]}
        if updates(cell):
            opts["updates"] = ",".join(updates(cell))
    elif meta.get("grade"):
        kind, opts = "test", {"id": meta["grade_id"], "points": f"{meta.get('points', 1):g}"}
    elif "parameters" in tags:
        kind, opts, tags = "params", {"id": cell.id}, [t for t in tags if t not in ("parameters", "setup")]
    elif "setup" in tags:
        kind, opts, tags = "setup", {"id": cell.id}, [t for t in tags if t != "setup"]
    else:
        kind, opts = "code", {"id": cell.id}
    if tags:
        opts["tags"] = ",".join(tags)
    return kind, opts


def to_script(nb: nbformat.NotebookNode) -> str:
    """The percent-format script of a notebook written by `build` (round trip), written by
    jupytext with the course's markers as cell titles and metadata."""
    out = nbformat.v4.new_notebook()
    for cell in nb.cells:
        if cells.answer_to(cell):
            continue  # built from its written question
        kind, opts = _marker(cell)
        meta = {"title": kind} if kind not in ("markdown", "code") else {}
        meta["lines_to_next_cell"] = 1  # one blank line between cells, whatever PEP 8 would add
        meta.update({k: v.split(",") if k == "tags" else v for k, v in opts.items()})
        if cell.cell_type == "markdown":
            out.cells.append(nbformat.v4.new_markdown_cell(cell.source, metadata=meta))
        else:
            out.cells.append(nbformat.v4.new_code_cell(cell.source, metadata=meta))
    text = jupytext.writes(out, fmt={**JUPYTEXT_FORMAT, "notebook_metadata_filter": "-all"})
    lines = [f"# %% {_from_jupytext_header(m.group('rest'))}" if (m := MARKER.match(line)) else line
             for line in text.splitlines()]
    extra = {k: v for k, v in nb.metadata.items() if k not in KERNEL_METADATA}
    head = [f"# metadata: {json.dumps(extra, sort_keys=True)}", ""] if extra else []
    return "\n".join(head + lines) + "\n"


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
