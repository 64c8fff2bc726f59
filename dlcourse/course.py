"""The course directory as nbgrader sees it, and nbgrader's API configured for it."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config

from .config import CourseSettings, find_root, load_settings

# a student id: a safe folder name (submitted/<id>/), the same for every command that reads one
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$")


class CourseError(RuntimeError):
    """A bad argument or a missing folder; the message says what to do."""


@dataclass(frozen=True)
class Course:
    """One course: its directory and its settings (grader_config.py). The CLI builds it once
    (`Course.at`) and passes it down; the commands' functions also take a bare directory."""

    root: Path
    settings: CourseSettings

    @classmethod
    def at(cls, where: Course | Path | str | None = None) -> Course:
        """The course at `where` (a Course is returned as it is; None: the folder with
        grader_config.py at or above the working directory). A folder without its own
        grader_config.py is refused (CourseError)."""
        if isinstance(where, Course):
            return where
        root = Path(where) if where is not None else find_root()
        return cls(root, load_settings(load_root(root)))

    @property
    def db_url(self) -> str:
        """The class gradebook unless --db names another: gradebook.db in the course directory."""
        return default_db_url(self.root)

    def assignments(self, requested: str | None = None) -> list[str]:
        """Every assignment of source/, or just `requested` (a CourseError names the known ones)."""
        return resolve_assignments(self.root, requested)


def ensure_tools_on_path() -> None:
    """nbgrader shells out to `alembic`: this interpreter's bin/ must be on PATH.

    nbgrader also asks `alembic heads` in a subprocess for the schema's head revision each time
    it creates a gradebook (a template for the workers, a test's course): two and a half seconds
    of importing in a new process for an answer that cannot change while this one runs. The
    grader asks alembic's own API in this process instead, once (`alembic_head`)."""
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import nbgrader.api

    if nbgrader.api.get_alembic_version is not alembic_head:
        NBGRADER_HEAD[:] = [nbgrader.api.get_alembic_version]  # nbgrader's own, kept for the tests
        nbgrader.api.get_alembic_version = alembic_head


NBGRADER_HEAD: list = []


@functools.cache
def alembic_head() -> str:
    """The head revision of nbgrader's gradebook schema, as `alembic heads` prints it (its first word)."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", ALEMBIC_DIR)
    return ScriptDirectory.from_config(cfg).get_current_head()


def default_db_url(root: Path) -> str:
    return f"sqlite:///{root / 'gradebook.db'}"


def nbgrader_config(root: Course | Path, db_url: str | None = None, **dirs: str) -> Config:
    course = Course.at(root)
    root = course.root
    cfg = Config(course.settings.nbgrader)
    cfg.CourseDirectory.root = str(root)
    for preprocessor in ("InsertCourseLinks", "InsertLatePolicy"):  # they read grader_config.py of this course
        cfg[preprocessor].course_root = str(course.settings.root)
    cfg.CourseDirectory.db_url = db_url or default_db_url(root)
    for key, value in dirs.items():
        setattr(cfg.CourseDirectory, key, value)
    return cfg


def load_root(root: Path) -> Path:
    """`root`, when it holds grader_config.py: a folder without one is no course (never another's)."""
    if (root / "grader_config.py").is_file():
        return root
    raise CourseError(f"no grader_config.py in {root}: run dlcourse in a course directory, or pass --root")


def api(root: Course | Path, db_url: str | None = None, **dirs: str):
    """An NbGraderAPI for the course at `root` (quiet unless something fails)."""
    ensure_tools_on_path()
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    cfg = nbgrader_config(root, db_url, **dirs)
    coursedir = CourseDirectory(config=cfg)
    # On start the API looks for a student exchange (`dlcourse lab` configures its own; grading
    # uses none) and logs a CRITICAL "Unwritable directory" when there is none: not an error here.
    quiet = _DropMessages("Unwritable directory")
    logging.getLogger("traitlets").addFilter(quiet)
    try:
        nb_api = NbGraderAPI(coursedir=coursedir, config=cfg)
    finally:
        logging.getLogger("traitlets").removeFilter(quiet)
    nb_api.log.setLevel(logging.WARNING)
    return nb_api


class _DropMessages(logging.Filter):
    """Drops the log records whose message starts with `prefix`."""

    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefix)


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
