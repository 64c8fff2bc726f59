"""`dlcourse bundle OUT`: what students receive, with nothing that reveals an answer.

release/ (each notebook in English and, where translated, in Brazilian Portuguese under
release/<id>/pt_BR/), the student part of data/ (not data/hidden/), the helper package without
dlcourse/instructor/ (reference implementations, fixture tools), and NOTEBOOKS.md: every notebook's
Colab links in both languages.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..course import CourseError
from .release import LEAKS

EXCLUDE_PACKAGE = ("instructor",)
EXCLUDE_DATA = ("hidden",)


def _ignore(_dir, names):
    return [n for n in names if n in ("__pycache__", ".ipynb_checkpoints") or n.endswith(".pyc")]


def build_bundle(root: Path, out: Path) -> Path:
    if out.resolve() == root.resolve() or root.resolve() in out.resolve().parents and out.name in (
            "source", "release", "data", "dlcourse"):
        raise CourseError(f"refusing to write the bundle into {out}")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copytree(root / "release", out / "release", ignore=_ignore)
    if (root / "data").is_dir():
        shutil.copytree(root / "data", out / "data",
                        ignore=lambda d, n: _ignore(d, n) + [x for x in n if x in EXCLUDE_DATA])
    shutil.copytree(root / "dlcourse", out / "dlcourse",
                    ignore=lambda d, n: _ignore(d, n) + ([x for x in n if x in EXCLUDE_PACKAGE]
                                                         if Path(d).name == "dlcourse" else []))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(root / name, out / name)
    (out / "NOTEBOOKS.md").write_text(notebook_index(root), encoding="utf-8")
    problems = check_bundle(out)
    if problems:
        raise CourseError("the student bundle leaks instructor material:\n" + "\n".join(problems))
    return out


def check_bundle(out: Path) -> list[str]:
    problems = []
    if (out / "dlcourse" / "instructor").exists():
        problems.append("dlcourse/instructor is in the bundle")
    if (out / "data" / "hidden").exists():
        problems.append("data/hidden is in the bundle")
    for path in sorted(out.rglob("*")):
        if path.is_file() and path.suffix == ".ipynb":
            text = path.read_text(encoding="utf-8", errors="replace")
            problems += [f"{path.relative_to(out)} contains {x!r}" for x in LEAKS if x in text]
    return problems


def notebook_index(root: Path) -> str:
    """A Markdown table of the released notebooks with a Colab badge per language (English, and
    Portuguese where release/<id>/pt_BR/<id>.ipynb exists)."""
    from ..course import Course
    from .release import colab_url

    badge = "https://colab.research.google.com/assets/colab-badge.svg"
    lines = ["# Notebooks / Notebooks", "",
             "Open a notebook in Colab in English or in Brazilian Portuguese. Hand it in under its own name "
             "(`<id>.ipynb`), whichever language you worked in.", "",
             "Abra um notebook no Colab em inglês ou em português. Entregue com o nome original "
             "(`<id>.ipynb`), em qualquer das duas línguas.", "",
             "| notebook | English | Português |", "|---|---|---|"]
    course = Course.at(root)
    for folder in sorted(p for p in (Path(root) / "release").iterdir() if p.is_dir()):
        a = folder.name
        if not (folder / f"{a}.ipynb").is_file():
            continue
        en = f"[![Open In Colab]({badge})]({colab_url(course, a)})"
        pt = (f"[![Abrir no Colab]({badge})]({colab_url(course, a, 'pt_BR')})"
              if (folder / "pt_BR" / f"{a}.ipynb").is_file() else "–")
        lines.append(f"| `{a}` | {en} | {pt} |")
    return "\n".join(lines) + "\n"
