"""The course directory as nbgrader sees it, and nbgrader's API configured for it."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path

from traitlets.config import Config

from ..config import load_settings


class CourseError(RuntimeError):
    """A bad argument or a missing folder; the message says what to do."""


def ensure_tools_on_path() -> None:
    """nbgrader shells out to `alembic`: this interpreter's bin/ must be on PATH."""
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def default_db_url(root: Path) -> str:
    return f"sqlite:///{root / 'gradebook.db'}"


def nbgrader_config(root: Path, db_url: str | None = None, **dirs: str) -> Config:
    settings = load_settings(load_root(root))
    cfg = Config(settings.nbgrader)
    cfg.CourseDirectory.root = str(root)
    for preprocessor in ("InsertCourseLinks", "InsertLatePolicy"):  # they read grader_config.py of this course
        cfg[preprocessor].course_root = str(load_root(root))
    cfg.CourseDirectory.db_url = db_url or default_db_url(root)
    for key, value in dirs.items():
        setattr(cfg.CourseDirectory, key, value)
    return cfg


def load_root(root: Path) -> Path:
    """The folder with grader_config.py for `root` (a scratch course copies none)."""
    return root if (root / "grader_config.py").is_file() else load_settings().root


def api(root: Path, db_url: str | None = None, **dirs: str):
    """An NbGraderAPI for the course at `root` (quiet unless something fails)."""
    ensure_tools_on_path()
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    cfg = nbgrader_config(root, db_url, **dirs)
    coursedir = CourseDirectory(config=cfg)
    nb_api = NbGraderAPI(coursedir=coursedir, config=cfg)
    nb_api.log.setLevel(logging.WARNING)
    return nb_api


def assignments(root: Path) -> list[str]:
    src = root / "source"
    if not src.is_dir():
        raise CourseError(f"no source/ folder in {root}")
    return sorted(p.name for p in src.iterdir() if p.is_dir() and list(p.glob("*.ipynb")))


def resolve_assignments(root: Path, requested: str | None) -> list[str]:
    known = assignments(root)
    if requested is None:
        return known
    if requested not in known:
        raise CourseError(f"unknown assignment {requested!r}; known assignments: {', '.join(known)}")
    return [requested]


@contextlib.contextmanager
def chdir(path: Path):
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)
