"""Course settings, read from the repository's `grader_config.py`."""

from __future__ import annotations

import runpy
from functools import lru_cache
from pathlib import Path

from traitlets import Dict, Instance, Integer, Unicode
from traitlets.config import Config, Configurable

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
SCHEDULE_KEYS = ("TIMEZONE", "DEADLINES", "EXTENSIONS", "LATE_POLICY", "ROSTER")


class CourseSettings(Configurable):
    """The course's settings, one trait each, read from the course's `grader_config.py`.

    Set a knob there either as the module constant (`CELL_TIMEOUT = 600`) or in nbgrader's own
    style (`c.CourseSettings.cell_timeout = 600`); the constant wins where both are given.
    `load_settings(root)` builds it once per course directory.
    """

    root = Instance(Path, help="the course directory: the folder holding grader_config.py")
    student_repo = Unicode("dl-course-br/deep-learning-course",
                           help="GitHub owner/name of the student bundle (Colab badges, set-up cells)").tag(config=True)
    student_branch = Unicode("main", help="the branch of student_repo the notebooks point to").tag(config=True)
    course_id = Unicode("course", help="nbgrader's course id (gradebook rows, exchange)").tag(config=True)
    cell_timeout = Integer(600, help="seconds one cell may run while grading").tag(config=True)
    notebook_timeout = Integer(0, help="seconds the notebook's cells may run in all while grading, "
                                       "restarts included (0: 4 x cell_timeout)").tag(config=True)
    sandbox = Dict(help="overrides of dlcourse.grader.sandbox.Limits (README, "
                        "'Grading untrusted notebooks')").tag(config=True)
    schedule = Dict(help="TIMEZONE, DEADLINES, EXTENSIONS, LATE_POLICY, ROSTER "
                         "(dlcourse.classroom.deadlines)").tag(config=True)
    submit = Dict(help="grade on submit (`dlcourse serve`): RATE, HIDDEN, COUNTS, MAX_UPLOAD_MB, "
                       "MAX_ATTEMPTS, DB_POOL (dlcourse.classroom.serve.policy)").tag(config=True)
    nbgrader = Instance(Config, args=(), help="the nbgrader configuration grader_config.py builds")

    @property
    def repo_url(self) -> str:
        return f"https://github.com/{self.student_repo}"

    def colab_url(self, assignment: str) -> str:
        return (f"https://colab.research.google.com/github/{self.student_repo}/blob/"
                f"{self.student_branch}/release/{assignment}/{assignment}.ipynb")

    @property
    def pip_target(self) -> str:
        return f"dlcourse @ git+{self.repo_url}@{self.student_branch}"


# grader_config.py's module constants, and the trait each one sets
CONSTANTS = {"STUDENT_REPO": "student_repo", "STUDENT_BRANCH": "student_branch", "COURSE_ID": "course_id",
             "CELL_TIMEOUT": "cell_timeout", "NOTEBOOK_TIMEOUT": "notebook_timeout", "SANDBOX": "sandbox",
             "SUBMIT": "submit"}


def write_constants(root: Path, values: dict, block: str) -> Path:
    """Set grader_config.py's constants `values` ({"DEADLINES": {...}, ...}) in a block of their own,
    headed by the comment line `block` (a later call with the same `block` replaces it), through the
    same check every command runs first (`dlcourse.classroom.settings_check.problems`): an unknown
    name, a value that is not a plain literal, or a setting the check refuses (a misspelt assignment,
    a malformed date) raises ValueError and leaves the file as it was. The demo's schedule goes in
    this way, never as hand-formatted text."""
    import ast

    unknown = sorted(set(values) - set(CONSTANTS) - set(SCHEDULE_KEYS))
    if unknown:
        raise ValueError(f"not settings of grader_config.py: {', '.join(unknown)}")
    lines = []
    for name, value in values.items():
        text = repr(value)
        try:  # a plain literal only: what grader_config.py reads back as it was given
            same = ast.literal_eval(text) == value
        except (ValueError, SyntaxError):
            same = False
        if not same:
            raise ValueError(f"{name}: {value!r} is not a plain literal")
        lines.append(f"{name} = {text}")
    path = Path(root) / "grader_config.py"
    before = path.read_text(encoding="utf-8")
    base = before.split("\n" + block + "\n")[0].rstrip("\n")
    path.write_text(base + "\n\n" + block + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    from .classroom.settings_check import problems
    from .course import Course

    found = problems(Course.at(Path(root)))
    if found:
        path.write_text(before, encoding="utf-8")
        raise ValueError("; ".join(found))
    return path


def find_root(start: Path | None = None) -> Path:
    """The course directory: the nearest folder holding grader_config.py."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "grader_config.py").is_file():
            return folder
    raise FileNotFoundError(
        f"no grader_config.py in {here} or its parents: run dlcourse in a course directory, or pass --root"
    )


def load_settings(root: Path | None = None) -> CourseSettings:
    """The settings of the course at `root` (or the nearest folder above the working directory
    holding grader_config.py), built again whenever that file changes (a long-running process,
    such as `dlcourse lab`, sees an edit)."""
    root = find_root(root)
    stat = (root / "grader_config.py").stat()
    return _load_settings(root, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _load_settings(root: Path, mtime_ns: int, size: int) -> CourseSettings:
    cfg = Config()
    namespace = runpy.run_path(str(root / "grader_config.py"), init_globals={"get_config": lambda: cfg})
    given = {trait: namespace[name] for name, trait in CONSTANTS.items() if namespace.get(name) is not None}
    schedule = {k: namespace[k] for k in SCHEDULE_KEYS if k in namespace}
    if schedule:
        given["schedule"] = schedule
    settings = CourseSettings(config=cfg, root=root, nbgrader=cfg, **given)
    if not settings.notebook_timeout:
        settings.notebook_timeout = 4 * settings.cell_timeout
    return settings


load_settings.cache_clear = _load_settings.cache_clear  # type: ignore[attr-defined]
