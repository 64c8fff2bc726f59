"""Hostile submission folders and limits that must hold: scenarios in the format of
`hostile_corpus.Scenario` (exported as FOLDER_SCENARIOS, merged into the hostile batch).

Folder attacks start from a notebook that scores 0 (its answers are only looked up where
an attack would have put them) and must still score 0; what they try to damage outside the
submission (a classmate's notebook, the gradebook, the course's files) is checked by the
batch's before/after checksums. Limits are exceeded beside correct answers and must cost
only the cells involved. Run with the batch's limits plus DLCOURSE_DISK_MB=192 (a smaller
quota than the default keeps the disk scenario short).
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from hostile_corpus import A, Scenario, _solutions, _with_cell

from dlcourse.classroom.demo import student_notebook

# -- building blocks ---------------------------------------------------------------------

INJECT = """
import builtins as _b
if not getattr(_b, "_answers", None):
    import numpy as _np
    _ns = {{"np": _np}}
    exec({solutions!r}, _ns)
    _b._answers = {{k: v for k, v in _ns.items() if callable(v)}}
    print("ESCAPED: code beside the notebook ran in the kernel")
"""


def _inject(root: Path) -> str:
    """Code that hands every answer to a notebook built by `_lookup` (what an escape would do)."""
    return INJECT.format(solutions=_solutions(root))


def _lookup(root: Path, first_cell: str = "") -> nbformat.NotebookNode:
    """A notebook that scores 0 unless something outside it put the answers in `builtins._answers`."""
    nb = student_notebook(root, A, solve=False)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            name = meta["grade_id"]
            cell.source = (f"def {name}(*args, **kwargs):\n    import builtins\n"
                           f"    return getattr(builtins, '_answers', {{}})[{name!r}](*args, **kwargs)\n")
    if first_cell:
        first = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("solution"))
        nb.cells.insert(first, nbformat.v4.new_code_cell(first_cell))
    return nb


def _write_lookup(first_cell: str = ""):
    def write(folder: Path, ctx: dict) -> None:
        nbformat.write(_lookup(ctx["root"], first_cell.format(**ctx)), folder / f"{A}.ipynb")
    return write


def _blank(folder: Path, ctx: dict) -> None:
    nbformat.write(student_notebook(ctx["root"], A, solve=False), folder / f"{A}.ipynb")


def _reference(folder: Path, ctx: dict) -> None:
    nbformat.write(student_notebook(ctx["root"], A), folder / f"{A}.ipynb")


# -- links: the grader must never read or write through one --------------------------------

def _folder_is_link_to_source(folder: Path, ctx: dict) -> None:
    folder.rmdir()
    folder.symlink_to(Path(ctx["course"]) / "source" / A)


def _student_is_link_to_classmate(folder: Path, ctx: dict) -> None:
    folder.rmdir()
    folder.parent.rmdir()
    folder.parent.symlink_to("reference")  # submitted/<name> -> submitted/reference


def _notebook_is_link_to_source(folder: Path, ctx: dict) -> None:
    (folder / f"{A}.ipynb").symlink_to(Path(ctx["course"]) / "source" / A / f"{A}.ipynb")


def _links_beside_a_blank(folder: Path, ctx: dict) -> None:
    _blank(folder, ctx)
    course = Path(ctx["course"])
    (folder / "answers").symlink_to(course / "source")  # a folder link: source/ must not be copied
    (folder / "answers.ipynb").symlink_to(course / "source" / A / f"{A}.ipynb")
    (folder / "gradebook.db").symlink_to(course / "gradebook.db")
    os.mkfifo(folder / "pipe.ipynb")  # reading it would block the grader forever


# The kernel's folder is where the grader used to write the graded notebook (as root):
# links made there at run time point at files the kernel cannot see but the grader can.
KERNEL_LINKS = """
import os
here = os.getcwd()
for name, target in [({a!r} + '.ipynb', {target!r}), ('stolen.ipynb', '{course}/source/{a}/{a}.ipynb'),
                     ('.dlcourse-graded.json', '{course}/grader_config.py'),
                     ('lung_model.keras', '{course}/source/{a}/{a}.ipynb')]:
    path = os.path.join(here, name)
    try:
        if os.path.lexists(path):
            os.remove(path)
        os.symlink(target, path)
        print('linked', name)
    except OSError as exc:
        print('refused:', name, exc)
"""


def _kernel_links(target: str):
    def write(folder: Path, ctx: dict) -> None:
        code = KERNEL_LINKS.format(a=A, course=ctx["course"], target=target.format(**ctx))
        nbformat.write(_with_cell(ctx["root"], code, base="blank", at_start=True), folder / f"{A}.ipynb")
    return write


# -- files beside the notebook that would run in the kernel if it imported from its folder --

def _shadow_files(folder: Path, ctx: dict) -> None:
    nbformat.write(_lookup(ctx["root"]), folder / f"{A}.ipynb")
    inject = _inject(ctx["root"])
    unshadow = ("import os, sys\nhere = os.path.dirname(os.path.abspath(__file__))\n"
                "sys.path[:] = [p for p in sys.path if os.path.abspath(p or '.') != here]\n")
    (folder / "numpy.py").write_text(unshadow + "del sys.modules['numpy']\nimport numpy\n" + inject)
    (folder / "sitecustomize.py").write_text(inject)
    (folder / "usercustomize.py").write_text(inject)
    pkg = folder / "dlcourse"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(unshadow.replace("__file__", "os.path.dirname(__file__)")
                                     + "del sys.modules['dlcourse']\nimport dlcourse\n" + inject)
    startup = folder / ".ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-answers.py").write_text(inject)


def _shadow_launcher(folder: Path, ctx: dict) -> None:
    nbformat.write(_lookup(ctx["root"]), folder / f"{A}.ipynb")
    (folder / "ipykernel_launcher.py").write_text(
        _inject(ctx["root"]) + "\nfrom ipykernel import kernelapp as app\napp.launch_new_instance()\n")


# Written by the kernel itself, then a crash: the fresh kernel must not pick any of it up.
RUNTIME_STARTUP = """
import os, site, sys
code = {inject!r}
home = os.path.expanduser('~')
places = [os.path.join(os.environ.get('IPYTHONDIR') or os.path.join(home, '.ipython'),
                       'profile_default', 'startup', '00-answers.py'),
          os.path.join(home, '.ipython', 'profile_default', 'startup', '00-answers.py'),
          os.path.join(site.getusersitepackages(), 'usercustomize.py'),
          os.path.join(site.getusersitepackages(), 'numpy.py'),
          os.path.join(os.getcwd(), 'numpy.py'), os.path.join(os.getcwd(), 'sitecustomize.py')]
for path in places:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(code)
        print('wrote', path)
    except OSError as exc:
        print('refused:', path, exc)
import builtins
if not getattr(builtins, '_answers', None):
    os._exit(1)  # the next kernel would start with the files above
"""


def _runtime_startup(folder: Path, ctx: dict) -> None:
    code = RUNTIME_STARTUP.format(inject=_inject(ctx["root"]))
    nbformat.write(_lookup(ctx["root"], code), folder / f"{A}.ipynb")


# -- mistakes students make by accident: they cost nothing ---------------------------------

def _second_notebook(folder: Path, ctx: dict) -> None:
    _reference(folder, ctx)
    nbformat.write(student_notebook(ctx["root"], A, solve=False), folder / "scratch work.ipynb")
    nbformat.write(student_notebook(ctx["root"], A), folder / f"{A}-checkpoint.ipynb")


def _odd_file_name(folder: Path, ctx: dict) -> None:
    _reference(folder, ctx)
    with open(os.path.join(os.fsencode(folder), b"notas-\xe7\xe3o.txt"), "wb") as f:  # Latin-1 name
        f.write(b"minhas anotacoes\n")


def _stray_metadata(folder: Path, ctx: dict) -> None:
    nb = _with_cell(ctx["root"], "print('my own check')\nassert True\n")
    extra = next(c for c in nb.cells if c.source.startswith("print('my own check')"))
    extra.metadata["nbgrader"] = {"grade": True, "grade_id": "my_own_test", "locked": False, "points": 5,
                                  "schema_version": 3, "solution": False}
    nbformat.write(nb, folder / f"{A}.ipynb")


def _solutions_marked_graded(folder: Path, ctx: dict) -> None:
    nb = student_notebook(ctx["root"], A)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            meta.update(grade=True, points=10)
        elif meta.get("grade"):
            meta["points"] = 100  # and the tests' points raised
    nbformat.write(nb, folder / f"{A}.ipynb")


# -- limits: exceeded beside correct answers, they cost only the cells involved -------------

def _at_end(codes: list[str]):
    def write(folder: Path, ctx: dict) -> None:
        nb = student_notebook(ctx["root"], A)
        nb.cells += [nbformat.v4.new_code_cell(code) for code in codes]
        nbformat.write(nb, folder / f"{A}.ipynb")
    return write


DISK_FILL = """
import os, tempfile
block = b'0' * 2**20
places = [os.getcwd(), os.path.expanduser('~'), tempfile.gettempdir(), '/tmp']
written = 0
for i in range(100):  # 32 MB files, each under the per-file limit, spread over every writable folder
    path = os.path.join(places[i % len(places)], f'fill-{i}.bin')
    try:
        with open(path, 'wb') as f:
            for _ in range(32):
                f.write(block)
        written += 32
    except OSError as exc:
        print('refused after', written, 'MB:', exc)
print('wrote', written, 'MB')
"""

MANY_FILES = """
import os
os.makedirs('many', exist_ok=True)
for i in range(300_000):
    open(os.path.join('many', str(i)), 'w').close()
"""

FOLDER_SCENARIOS: list[Scenario] = [
    # -- links and special files in the submission folder
    Scenario("folder-is-link-to-source", "zero", "symbolic link", _folder_is_link_to_source),
    Scenario("student-is-link-to-classmate", "zero", "symbolic link", _student_is_link_to_classmate),
    Scenario("notebook-is-link-to-source", "zero", "symbolic link", _notebook_is_link_to_source),
    Scenario("links-and-fifo-beside-blank", "zero", "FIFO", _links_beside_a_blank),
    # -- links made by the kernel at run time where the grader writes or reads
    Scenario("kernel-links-notebook-to-classmate", "zero", "",
             _kernel_links("{course}/submitted/reference/" + A + "/" + A + ".ipynb")),
    Scenario("kernel-links-notebook-to-gradebook", "zero", "", _kernel_links("{course}/gradebook.db")),
    Scenario("kernel-links-notebook-to-course-file", "zero", "", _kernel_links("{course}/nbgrader_config.py")),
    # -- files beside the notebook, or written by the kernel, that would change its start-up
    Scenario("shadow-modules-beside-notebook", "zero", "", _shadow_files),
    Scenario("shadow-kernel-launcher", "zero", "", _shadow_launcher),
    Scenario("kernel-writes-startup-files", "zero", "KernelDied", _runtime_startup),
    # -- accidents: graded as if they were not there, with a note
    Scenario("second-notebook", "full", "not part of the assignment", _second_notebook),
    Scenario("non-utf8-file-name", "full", "not valid UTF-8", _odd_file_name),
    Scenario("stray-grade-metadata", "full", "grading metadata", _stray_metadata),
    Scenario("solutions-marked-graded", "full", "grading metadata", _solutions_marked_graded),
    # -- limits beside correct answers
    Scenario("disk-fill-everywhere", "full", "DiskLimit", _at_end([DISK_FILL])),
    Scenario("file-count-bomb", "full", "DiskLimit", _at_end([MANY_FILES])),
    Scenario("huge-error-message", "full", "output truncated", _at_end(["raise RuntimeError('E' * 5_000_000)"])),
    Scenario("slow-cells-past-notebook-budget", "full", "NotebookTimeout",
             _at_end(["import time\ntime.sleep(8)\n"] * 15)),
    Scenario("five-thousand-cells", "full", "added more than", _at_end(["x = 1\n"] * 5000)),
]
