"""What the grading steps hand each other, typed: the job, its result and outcome, the incidents
of its kernel and the marker it leaves.

A job's result says whose fault a failure was:

- `Outcome.GRADED`: the notebooks were graded (their tests may fail: that is the student's score);
- `Outcome.SUBMISSION`: the submission could not be graded because of what it is (refused, no
  notebook, a notebook too slow for its time limit): it scores 0 with the reason, and a rerun
  skips it until it changes;
- `Outcome.GRADER`: the grader failed (a worker died, a Dask task was lost, an exception in the
  grader's own code): the student is not blamed, the report says so, and the next run grades it
  again even if nothing changed.

The marker (`autograded/<student>/<assignment>/.dlcourse-graded.json`) records the digest of
what was graded: the source notebooks, the submission, the grader's version and the limits, so
changing any of them regrades (`grader_version`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent


INCIDENTS_KEY = "incidents"  # in the graded notebook's metadata["dlcourse"], under the job's nonce


@dataclass(frozen=True)
class Problem:
    """Why something failed, carried as its parts: `kind`, the error's name (MemoryLimit, CellTimeout,
    AssertionError, HeldoutError, ...) and `detail`, a sentence. `str()` is the "Kind: detail" text a
    user reads; code reads the fields and never parses that text back."""

    kind: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}" if self.detail else self.kind


@dataclass(frozen=True)
class Incident:
    """Something the kernel supervisor did to a notebook: a cell stopped, output cut, a restart.

    `kind` names it (CellTimeout, MemoryLimit, OutputTruncated, NotebookTimeout, ...); `cell` is
    the index of the cell concerned, None for the notebook as a whole."""

    kind: str
    detail: str
    cell: int | None = None

    def __str__(self) -> str:
        text = f"{self.kind}: {self.detail}" if self.detail else self.kind
        return f"cell {self.cell}: {text}" if self.cell is not None else text

    @classmethod
    def of(cls, problem: Problem, cell: int | None = None) -> Incident:
        """The incident of a kernel stopped for `problem` (the watchdog's or the supervisor's)."""
        return cls(problem.kind, problem.detail, cell)


def write_incidents(nb, nonce: str, incidents: list[Incident]) -> None:
    """Attach the supervisor's incidents to the graded notebook, under the job's secret nonce."""
    nb.metadata.setdefault("dlcourse", {})[INCIDENTS_KEY] = {"nonce": nonce, "items": [asdict(i) for i in incidents]}


def read_incidents(nb, nonce: str) -> list[Incident]:
    """The incidents the supervisor attached (removed from the notebook); none when the nonce does
    not match (a submission cannot forge them: it never sees the nonce)."""
    found = (nb.metadata.get("dlcourse") or {}).pop(INCIDENTS_KEY, None)
    if not isinstance(found, dict) or found.get("nonce") != nonce:
        return []
    return [Incident(str(i["kind"]), str(i["detail"]), i.get("cell")) for i in found.get("items", [])]


class Outcome(str, Enum):
    GRADED = "graded"
    SUBMISSION = "submission"
    GRADER = "grader"


@cache
def grader_version() -> str:
    """The package version and a hash of the code that decides a grade (the grading engine,
    `course.py`, the judge's modules and the test helpers): a change to any regrades every submission."""
    from .. import __version__

    h = hashlib.sha256(__version__.encode())
    files = sorted([*PACKAGE.glob("grader/*.py"), *PACKAGE.glob("testkit/*.py"), *PACKAGE.glob("instructor/*.py"),
                    PACKAGE / "course.py", PACKAGE / "judging.py", PACKAGE / "testing.py"])
    for path in files:
        if path.is_file():
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return f"{__version__}+{h.hexdigest()[:12]}"


@dataclass
class Marker:
    """What the last grading of one submission recorded."""

    digest: str
    outcome: Outcome = Outcome.GRADED
    ok: bool = False
    error: str = ""
    seconds: float = 0.0
    notices: list[str] = field(default_factory=list)
    results: dict[str, list[dict]] = field(default_factory=dict)
    grader: str = ""
    unsandboxed: bool = False  # graded by an authoring run (`--unsandboxed-authoring`): not a class grade
    submission: str = ""  # the digest of the submitted files alone (autograde.submission_digest); "": unknown

    def current_for(self, digest: str) -> bool:
        """Skip the submission on a rerun: same digest, and the grader did not fail last time."""
        return self.digest == digest and self.outcome is not Outcome.GRADER

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "outcome": self.outcome.value}, indent=1)

    @classmethod
    def from_dict(cls, data: dict) -> Marker | None:
        """A marker from its JSON object; None when it is not one (a hand-edited or old file)."""
        if not isinstance(data, dict) or not isinstance(data.get("digest"), str):
            return None
        try:
            outcome = Outcome(data.get("outcome", Outcome.GRADED.value))
        except ValueError:
            outcome = Outcome.GRADER  # unknown: grade it again
        return cls(digest=data["digest"], outcome=outcome, ok=bool(data.get("ok")),
                   error=str(data.get("error") or ""), seconds=float(data.get("seconds") or 0.0),
                   notices=list(data.get("notices") or []), results=dict(data.get("results") or {}),
                   grader=str(data.get("grader") or ""), unsandboxed=bool(data.get("unsandboxed")),
                   submission=str(data.get("submission") or ""))


@dataclass
class GradingJob:
    """Everything a worker needs to grade one submission, in a process here or on a Dask worker
    elsewhere: the files travel inside the job (base64, by relative path), never as paths."""

    assignment: str
    student: str
    source_files: dict[str, str] = field(default_factory=dict)  # the assignment's source/ folder
    # the course's grader_config.py and nbgrader_config.py: the worker's nbgrader configuration
    config_files: dict[str, str] = field(default_factory=dict)
    submission_files: dict[str, str] = field(default_factory=dict)  # read without following links
    intake_notices: list[str] = field(default_factory=list)  # what reading the folder left out, and why
    refused: str = ""  # why the submission was refused unread ("": it was read)
    timestamp: str | None = None
    sandbox: bool = True  # False only in an authoring run (`--unsandboxed-authoring`)
    course_root: str = ""  # where the course is, for the sandbox's hidden paths (not in the digest)
    course_id: str = "course"
    limits: dict = field(default_factory=dict)  # sandbox.Limits overrides
    notebook_timeout: int = 0
    timeout: float = 0.0  # the whole job's wall-clock limit, on every path
    gradebook_template: str = ""  # a scratch gradebook that knows the assignment (base64)
    digest: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_dict(cls, data: dict) -> GradingJob:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class NotebookResult:
    """One graded notebook: its JSON text, each test cell's result, and what was noticed."""

    notebook: str
    results: list[dict] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


@dataclass
class GradingResult:
    """What grading one job gave back to the parent, which alone writes the class gradebook."""

    assignment: str
    student: str
    outcome: Outcome = Outcome.SUBMISSION
    ok: bool = False
    error: str = ""
    notebooks: dict[str, NotebookResult] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)  # about the submission as a whole
    seconds: float = 0.0
    sandboxed: bool = False
    log: str = ""  # the tail of the worker's log for this job (kept beside the marker)

    @classmethod
    def failed(cls, job: GradingJob, message: str, outcome: Outcome) -> GradingResult:
        return cls(job.assignment, job.student, outcome=outcome, error=message)

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "outcome": self.outcome.value})

    @classmethod
    def from_dict(cls, data: dict) -> GradingResult:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["outcome"] = Outcome(values.get("outcome", Outcome.GRADER.value))
        values["notebooks"] = {name: NotebookResult(**entry) for name, entry in values.get("notebooks", {}).items()}
        return cls(**values)
