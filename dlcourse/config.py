"""Course settings, read from the repository's `grader_config.py`."""

from __future__ import annotations

import runpy
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from traitlets.config import Config

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
SCHEDULE_KEYS = ("TIMEZONE", "DEADLINES", "EXTENSIONS", "LATE_POLICY", "ROSTER")


@dataclass(frozen=True)
class CourseSettings:
    root: Path
    student_repo: str
    student_branch: str
    course_id: str
    cell_timeout: int
    nbgrader: Config
    notebook_timeout: int = 0  # seconds the whole notebook may run while grading (restarts included)
    sandbox: dict = field(default_factory=dict)  # dlcourse.grading.sandbox.Limits overrides
    # TIMEZONE, DEADLINES, EXTENSIONS, LATE_POLICY, ROSTER (dlcourse.grading.deadlines)
    schedule: dict = field(default_factory=dict)

    @property
    def repo_url(self) -> str:
        return f"https://github.com/{self.student_repo}"

    def colab_url(self, assignment: str) -> str:
        return (f"https://colab.research.google.com/github/{self.student_repo}/blob/"
                f"{self.student_branch}/release/{assignment}/{assignment}.ipynb")

    @property
    def pip_target(self) -> str:
        return f"dlcourse @ git+{self.repo_url}@{self.student_branch}"


def find_root(start: Path | None = None) -> Path:
    """The course directory: the nearest folder holding grader_config.py."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "grader_config.py").is_file():
            return folder
    if (REPO_ROOT / "grader_config.py").is_file():
        return REPO_ROOT
    raise FileNotFoundError(
        f"no grader_config.py in {here} or its parents: run dlcourse from the course repository"
    )


@lru_cache(maxsize=8)
def load_settings(root: Path | None = None) -> CourseSettings:
    root = find_root(root)
    cfg = Config()
    namespace = runpy.run_path(str(root / "grader_config.py"), init_globals={"get_config": lambda: cfg})
    return CourseSettings(
        root=root,
        student_repo=namespace["STUDENT_REPO"],
        student_branch=namespace.get("STUDENT_BRANCH", "main"),
        course_id=namespace.get("COURSE_ID", "course"),
        cell_timeout=int(namespace.get("CELL_TIMEOUT", 600)),
        nbgrader=cfg,
        notebook_timeout=int(namespace.get("NOTEBOOK_TIMEOUT") or 4 * int(namespace.get("CELL_TIMEOUT", 600))),
        sandbox=dict(namespace.get("SANDBOX", {})),
        schedule={k: namespace[k] for k in SCHEDULE_KEYS if k in namespace},
    )
