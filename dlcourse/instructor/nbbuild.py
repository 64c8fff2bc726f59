"""Write source notebooks from a percent-format script, and back.

Authoring format (one marker line per cell)::

    # %% [markdown]            a markdown cell; its lines start with "# "
    # %% setup                 code the tests may rely on (imports, seeds, data)
    # %% params                the parameters cell (tags: parameters, setup)
    # %% solution id=softmax   the exercise's solution cell (grade_id = name)
    # %% test id=test_softmax points=2
    # %%                       any other code cell (demos, plots, training)

    python -m dlcourse.instructor.nbbuild build script.py source/ID/ID.ipynb
    python -m dlcourse.instructor.nbbuild script source/ID/ID.ipynb > script.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

MARKER = re.compile(r"^# %%(?P<rest>.*)$")


def _parse_marker(rest: str) -> tuple[str, dict[str, str]]:
    rest = rest.strip()
    if rest.startswith("[markdown]"):
        return "markdown", {}
    words = rest.split()
    kind = words[0] if words and "=" not in words[0] else "code"
    opts = dict(w.split("=", 1) for w in words if "=" in w)
    return kind, opts


def build(script: str) -> nbformat.NotebookNode:
    """A notebook (nbformat 4.5, no outputs) from the percent-format `script`."""
    blocks: list[tuple[str, dict[str, str], list[str]]] = []
    for line in script.splitlines():
        m = MARKER.match(line)
        if m:
            blocks.append((*_parse_marker(m.group("rest")), []))
        elif blocks:
            blocks[-1][2].append(line)
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    counts: dict[str, int] = {}
    for kind, opts, lines in blocks:
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        counts[kind] = counts.get(kind, 0) + 1
        cell_id = opts.get("id", f"{kind}-{counts[kind]}")
        if kind == "markdown":
            text = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in lines)
            cell = nbformat.v4.new_markdown_cell(text)
        else:
            cell = nbformat.v4.new_code_cell("\n".join(lines))
        cell.id = cell_id
        if kind == "solution":
            cell.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False,
                                         "grade_id": opts["id"], "schema_version": 3}
        elif kind == "test":
            cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True,
                                         "points": float(opts.get("points", 1)),
                                         "grade_id": opts["id"], "schema_version": 3}
        elif kind == "setup":
            cell.metadata["tags"] = ["setup"]
        elif kind == "params":
            cell.metadata["tags"] = ["parameters", "setup"]
        elif kind not in ("code", "markdown"):
            raise ValueError(f"unknown cell kind {kind!r}")
        nb.cells.append(cell)
    ids = [c.id for c in nb.cells]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise ValueError(f"duplicate cell ids: {sorted(dup)}")
    nbformat.validate(nb)
    return nb


def to_script(nb: nbformat.NotebookNode) -> str:
    """The percent-format script of a notebook written by `build` (round trip)."""
    out: list[str] = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "markdown":
            out.append("# %% [markdown]")
            out.extend(("# " + line).rstrip() for line in cell.source.splitlines())
        else:
            if meta.get("solution"):
                head = f"# %% solution id={meta['grade_id']}"
            elif meta.get("grade"):
                head = f"# %% test id={meta['grade_id']} points={meta.get('points', 1):g}"
            elif "parameters" in tags:
                head = "# %% params"
            elif "setup" in tags:
                head = "# %% setup"
            else:
                head = "# %%"
            out.append(head)
            out.extend(cell.source.splitlines())
        out.append("")
    return "\n".join(out)


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
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
