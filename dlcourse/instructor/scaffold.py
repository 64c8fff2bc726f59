"""`dlcourse new-exercise ASSIGNMENT NAME`: the five places a new exercise needs, scaffolded.

It inserts into `source/<a>/<a>.py` (the notebook's script), after the last exercise and before
the notebook's closing sections ("What you should remember", the versions cell), a markdown
cell, the solution cell (grade_id NAME) and a test cell (test_NAME) with a visible check and a
hidden comparison with the reference; appends a reference stub to the instructor module the
notebook's hidden tests already use (`dlcourse/instructor/ref_*.py`); writes as many
misconception fixtures as the suite requires (`fixtures.MIN_MISCONCEPTIONS`) and one
valid-alternative fixture in `tests/fixtures/<a>/`; and rebuilds the notebook. Every stub
raises or says TODO, so the suite fails until the instructor has written them: a scaffold is
never a finished exercise.
"""

from __future__ import annotations

import keyword
import re
from collections import Counter
from pathlib import Path

from ..course import CourseError
from . import nbbuild
from .fixtures import min_misconceptions

INSTRUCTOR = Path(__file__).resolve().parent
REF_IMPORT = re.compile(r"from dlcourse\.instructor import (ref_\w+|reference)\b")

MARKDOWN = '''# %% [markdown] id={name}-intro
# ## {title}
#
# TODO: what {name} computes, why it matters, and the formula to derive (hints in <details>).
#
# **Expected output** (shapes): TODO.
'''

SOLUTION = '''# %% solution id={name}
def {name}(x):
    """TODO: one line on what it returns.

    Args:
        x: TODO, shape (N, D).
    Returns:
        TODO, shape (N, D).
    """
    ### BEGIN SOLUTION
    raise NotImplementedError("TODO: the reference solution of {name}")
    ### END SOLUTION
'''

TEST = '''# %% test id=test_{name} points=1
"""{name}: TODO what the visible checks cover; hidden: the reference on seeded random inputs."""
x_v = np.arange(6.0).reshape(2, 3)
check_shape({name}(x_v), (2, 3), "{name} for a (2, 3) input")
### BEGIN HIDDEN TESTS
from dlcourse.instructor import {module}

rng = np.random.default_rng(0)
for shape in [(3, 4), (1, 1), (5, 2)]:
    x = rng.normal(size=shape)
    check_close({name}(x), {module}.{name}(x), f"{name} against the reference for shape {{shape}}",
                hint="TODO: the likely cause of a mismatch.")
### END HIDDEN TESTS
passed("{name}")
'''

REFERENCE = '''

def {name}(x):
    """Reference for {assignment}'s {name} (scaffolded by `dlcourse new-exercise`)."""
    raise NotImplementedError("TODO: the reference of {name}")
'''

FIXTURE = '''"""TODO: {what}"""
# exercise: {name}
# expect: {expect}
{must_fail}

def {name}(x):
    raise NotImplementedError("TODO: {what}")
'''


def reference_module(script: str) -> str:
    """The instructor module the notebook's hidden tests import most (`reference` if none)."""
    used = Counter(REF_IMPORT.findall(script))
    return used.most_common(1)[0][0] if used else "reference"


CLOSING = re.compile(r"^# #+ .*(What you should remember|Summary|Going further|Further reading|References)", re.I)


def insertion_point(script: str) -> int:
    """Where a new exercise goes in a script: before the notebook's closing sections (a markdown
    cell headed "What you should remember", "Summary", ..., or the versions cell, `%watermark`);
    without one, after the last test cell and its demos; else at the end."""
    cells = [(m.start(), m.group(0)) for m in re.finditer(r"^# %%.*$", script, re.M)]
    bodies = [script[start:(cells[i + 1][0] if i + 1 < len(cells) else len(script))]
              for i, (start, _) in enumerate(cells)]
    for (start, head), body in zip(cells, bodies, strict=True):
        if (head.startswith("# %% [markdown]") and any(CLOSING.match(line) for line in body.splitlines()[1:3])) \
                or "%watermark" in body:
            return start
    tests = [i for i, (_, head) in enumerate(cells) if head.startswith("# %% test")]
    for start, head in cells[tests[-1] + 1:] if tests else []:
        if head.startswith("# %% [markdown]"):
            return start
    return len(script)


REBUILD = "python -m dlcourse.instructor.nbbuild build source/{a}/{a}.py source/{a}/{a}.ipynb"
NEXT_STEPS = """Next, for {name} in {assignment}:
  1. write the markdown (what it computes; hints in <details>, formulas in failure messages),
     the solution, the visible check and the hidden comparison in source/{assignment}/{assignment}.py;
  2. write the reference in dlcourse/instructor/{module}.py;
  3. turn the {wrong} misconception fixtures into real mistakes students make (rename each after its
     scenario, list the tests it must fail) and the valid one into another correct answer;
  4. rebuild: {rebuild}
  5. check: pytest tests/test_fixtures.py -k {name};
  6. translate (the notebook has a Portuguese edition when source/{assignment}/{assignment}.pt_BR.po
     exists): dlcourse translate update {assignment}, then fill the new entries of that file and of
     dlcourse/i18n/locale/pt_BR/LC_MESSAGES/tests.po and dlcourse/instructor/locale/pt_BR/LC_MESSAGES/hidden.po
     (dlcourse translate check lists what is left); then dlcourse release {assignment}.
The suite fails until every TODO is written."""


def new_exercise(root: Path, assignment: str, name: str, instructor: Path = INSTRUCTOR) -> list[Path]:
    """Scaffold exercise `name` in `assignment`; return the files written or changed."""
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith(("test_", "q_")):
        raise CourseError(f"{name!r} is not a valid exercise name: a Python identifier, not test_* or q_* "
                          "(concept questions are written by hand, see the README)")
    script_path = root / "source" / assignment / f"{assignment}.py"
    if not script_path.is_file():
        raise CourseError(f"no {script_path.relative_to(root)}: notebooks are authored from their script "
                          f"(python -m dlcourse.instructor.nbbuild script ... > {script_path.name})")
    script = script_path.read_text(encoding="utf-8")
    nb = nbbuild.build(script)
    taken = {c.id for c in nb.cells} | {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}
    if name in taken or f"test_{name}" in taken or f"{name}-intro" in taken:
        raise CourseError(f"{assignment} already has a cell or exercise named {name!r}")
    module = reference_module(script)
    fixtures = root / "tests" / "fixtures" / assignment
    wrong = [fixtures / f"{name}__wrong_TODO_{i}.py" for i in range(1, min_misconceptions(assignment) + 1)]
    valid = fixtures / f"{name}__valid_TODO.py"
    for path in (*wrong, valid):
        if path.exists():
            raise CourseError(f"{path.relative_to(root)} exists already")

    title = name.replace("_", " ").capitalize()
    cells = "\n".join(t.format(name=name, title=title, module=module) for t in (MARKDOWN, SOLUTION, TEST))
    at = insertion_point(script)
    head, tail = script[:at].rstrip("\n"), script[at:]
    script_path.write_text(head + "\n\n" + cells + ("\n" + tail if tail else ""), encoding="utf-8")
    nbbuild.write(nbbuild.build(script_path.read_text(encoding="utf-8")), script_path.with_suffix(".ipynb"))
    ref_path = instructor / f"{module}.py"
    ref_path.write_text(ref_path.read_text(encoding="utf-8").rstrip("\n") + "\n"
                        + REFERENCE.format(name=name, assignment=assignment), encoding="utf-8")
    fixtures.mkdir(parents=True, exist_ok=True)
    for path in wrong:
        path.write_text(FIXTURE.format(name=name, expect="fail", must_fail=f"# must-fail: test_{name}",
                                       what="a misconception students really have, and the test it fails"),
                        encoding="utf-8")
    valid.write_text(FIXTURE.format(name=name, expect="pass", must_fail="",
                                    what="another correct way to write it (a loop, another library call)"),
                     encoding="utf-8")
    return [script_path, script_path.with_suffix(".ipynb"), ref_path, *wrong, valid]
