"""What the grading steps hand each other, typed: the outcome of a job and the marker it leaves.

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
from dataclasses import asdict, dataclass, field
from enum import Enum
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent


class Outcome(str, Enum):
    GRADED = "graded"
    SUBMISSION = "submission"
    GRADER = "grader"


@cache
def grader_version() -> str:
    """The package version and a hash of the code that decides a grade (the grading package,
    the judge's modules and the test helpers): a change to any regrades every submission."""
    from .. import __version__

    h = hashlib.sha256(__version__.encode())
    files = sorted([*PACKAGE.glob("grading/*.py"), *PACKAGE.glob("testkit/*.py"), *PACKAGE.glob("instructor/*.py"),
                    PACKAGE / "judging.py", PACKAGE / "testing.py"])
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
                   grader=str(data.get("grader") or ""))
