"""`dlcourse bundle OUT`: what students receive, with nothing that reveals an answer.

release/, the student part of data/ (not data/hidden/), and the helper package without
dlcourse/instructor/ (reference implementations, fixture tools).
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
