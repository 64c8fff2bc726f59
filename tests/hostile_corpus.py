"""The corpus of hostile and broken submissions of 01_softmax_cross_entropy, with expected outcomes.

Each scenario writes one student's submission folder. Its expectation is relative to
submissions graded in the same batch, never a pasted number:

* "full":   the reference's score (the attack happens beside correct answers and must cost
            nothing but the attacking cell);
* "zero":   0 points (a blank notebook that would earn points only if the attack escaped,
            or a file that cannot be graded);
* "wrong":  the score of `wrong-twin`, the same wrong answers without the attack (patching
            the comparison functions must not help).

`reason` is a piece of text that must appear in that student's notices or error: what
the instructor reads in the class report and the student in the feedback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat

from dlcourse.grading.demo import solution_code, student_notebook
from dlcourse.grading.execute import is_test_cell

A = "01_softmax_cross_entropy"

# Wrong but runnable answers: what a student who then patches the checks would hand in.
WRONG = {
    "softmax": "def softmax(z):\n    z = np.asarray(z, dtype=float)\n    return np.ones_like(z) / z.shape[-1]\n",
    "cross_entropy": "def cross_entropy(y_hat, y, eps=1e-12):\n    return 0.0\n",
}


@dataclass
class Scenario:
    name: str
    expect: str                      # "full", "zero" or "wrong"
    reason: str                      # text expected in the notices/error ("" when none is due)
    write: Callable[[Path, dict], None]  # (submission folder, context) -> None


def _solutions(root: Path) -> str:
    """Every reference solution as one block of code: what an escape would hand the student."""
    source = nbformat.read(root / "source" / A / f"{A}.ipynb", as_version=4)
    return "\n\n".join(solution_code(c) for c in source.cells if c.metadata.get("nbgrader", {}).get("solution"))


def _with_cell(root: Path, code: str, after: str = "softmax", base: str = "reference",
               at_start: bool = False) -> nbformat.NotebookNode:
    """A submission (reference, blank or wrong answers) with one extra cell of the student's."""
    if base == "reference":
        nb = student_notebook(root, A)
    elif base == "blank":
        nb = student_notebook(root, A, solve=False)
    else:
        nb = student_notebook(root, A, WRONG)
    cell = nbformat.v4.new_code_cell(code)
    if at_start:
        first = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("solution"))
        nb.cells.insert(first, cell)
        return nb
    index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == after)
    nb.cells.insert(index + 1, cell)
    return nb


def _nb(build: Callable[[Path, dict], nbformat.NotebookNode], name: str = f"{A}.ipynb"):
    def write(folder: Path, ctx: dict) -> None:
        nbformat.write(build(ctx["root"], ctx), folder / name)
    return write


def _raw(data: Callable[[Path, dict], bytes], name: str = f"{A}.ipynb"):
    def write(folder: Path, ctx: dict) -> None:
        (folder / name).write_bytes(data(ctx["root"], ctx))
    return write


def _escape(attempt: str) -> Callable[[Path, dict], nbformat.NotebookNode]:
    """A blank notebook whose extra cell runs `attempt`; if it sets `escaped`, it solves everything."""
    def build(root: Path, ctx: dict) -> nbformat.NotebookNode:
        code = ("escaped = False\n" + attempt.format(**ctx)
                + f"\nif escaped:\n    exec({_solutions(root)!r})\n    print('ESCAPED')\n")
        return _with_cell(root, code, base="blank", at_start=True)
    return build


def _patched(code: str, base: str = "wrong") -> Callable[[Path, dict], nbformat.NotebookNode]:
    """The patch runs right after the first answer, before the first test cell."""
    def build(root: Path, ctx: dict) -> nbformat.NotebookNode:
        return _with_cell(root, code, base=base)
    return build


def _edit_tests(root: Path, ctx: dict) -> nbformat.NotebookNode:
    nb = student_notebook(root, A, WRONG)
    for cell in nb.cells:
        if is_test_cell(cell):
            cell.source = "pass  # the tests were deleted by the student"
    return nb


def _delete_tests(root: Path, ctx: dict) -> nbformat.NotebookNode:
    nb = student_notebook(root, A)
    nb.cells = [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("test_")]
    return nb


def _duplicate_ids(root: Path, ctx: dict) -> bytes:
    nb = student_notebook(root, A)
    index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "softmax")
    first = nbformat.from_dict(json.loads(json.dumps(nb.cells[index])))
    first.source = WRONG["softmax"]  # an earlier, wrong draft with the same ids: the last copy counts
    nb.cells.insert(index, first)
    return json.dumps(nb, indent=1).encode()  # raw: nbformat.write would renumber the ids itself


def _kernel(root: Path, ctx: dict) -> nbformat.NotebookNode:
    nb = student_notebook(root, A)
    nb.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    return nb


def _v3(root: Path, ctx: dict) -> bytes:
    nb = student_notebook(root, A)
    return nbformat.writes(nbformat.convert(nb, 3), version=3).encode()


def _latin1(root: Path, ctx: dict) -> bytes:
    nb = student_notebook(root, A)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("Anotações da aluna: função de ativação, ção, ñ"))
    return nbformat.writes(nb).encode("latin-1", errors="replace")


UNPATCH_GUARD = """
for _name in [n for n in globals() if n.startswith('_dlcourse_guard_')]:
    globals()[_name] = type('Fake', (), {'restore': lambda self, c: 'x', 'after_test': lambda self: 'ok',
                                         'mark': lambda self: 'ok'})()
"""

SCENARIOS: list[Scenario] = [
    # -- the kernel misbehaves: the batch goes on, the student keeps what still runs
    Scenario("infinite-loop", "full", "CellTimeout", _nb(lambda r, c: _with_cell(r, "while True:\n    pass\n"))),
    Scenario("infinite-loop-ignoring-interrupts", "full", "did not stop when interrupted", _nb(lambda r, c: _with_cell(
        r, "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.01)\n"))),
    Scenario("memory-bomb", "full", "MemoryLimit", _nb(lambda r, c: _with_cell(
        r, "hog = []\nwhile True:\n    hog.append(bytearray(64 * 2**20))\n"))),
    Scenario("os-exit", "full", "KernelDied", _nb(lambda r, c: _with_cell(r, "import os\nos._exit(3)\n"))),
    Scenario("sys-exit", "full", "", _nb(lambda r, c: _with_cell(r, "import sys\nsys.exit(3)\n"))),
    Scenario("segfault-ctypes", "full", "KernelDied", _nb(lambda r, c: _with_cell(
        r, "import ctypes\nctypes.string_at(0)\n"))),
    Scenario("kill-everything", "full", "KernelDied", _nb(lambda r, c: _with_cell(
        r, "import os, signal\nfor pid in (-1, os.getppid(), 1):\n    try:\n        os.kill(pid, signal.SIGKILL)\n"
           "    except OSError as exc:\n        print('refused:', pid, exc)\nos.kill(os.getpid(), signal.SIGKILL)\n"))),
    Scenario("fork-bomb-bounded", "full", "", _nb(lambda r, c: _with_cell(
        r, "import os, time\nkids = 0\ntry:\n    for _ in range(5000):\n        if os.fork() == 0:\n"
           "            time.sleep(30)\n            os._exit(0)\n        kids += 1\nexcept OSError as exc:\n"
           "    print('fork refused after', kids, exc)\n"))),
    Scenario("cpu-burn-in-threads", "full", "", _nb(lambda r, c: _with_cell(
        r, "import threading\ndef spin():\n    x = 0\n    for i in range(10**6):\n        x += i\n"
           "threads = [threading.Thread(target=spin) for _ in range(8)]\n[t.start() for t in threads]\n"
           "[t.join() for t in threads]\n"))),
    Scenario("print-flood", "full", "output truncated", _nb(lambda r, c: _with_cell(
        r, "line = 'x' * 1023\nfor _ in range(200_000):\n    print(line)\n"))),
    Scenario("huge-file", "full", "", _nb(lambda r, c: _with_cell(
        r, "try:\n    with open('big.bin', 'wb') as f:\n        for _ in range(200):\n"
           "            f.write(b'0' * 2**20)\nexcept OSError as exc:\n    print('refused:', exc)\n"))),
    # -- escapes: a blank notebook that would score if the attack worked
    Scenario("write-and-delete-outside", "zero", "", _nb(_escape(
        "import os, shutil, glob\n"
        "for target in ['{course}/gradebook.db', '{course}/grader_config.py', '{repo}/README.md', '/etc/hostname']:\n"
        "    try:\n        open(target, 'a').write('pwned')\n        escaped = True\n"
        "    except OSError:\n        pass\n"
        "for target in ['{course}/source', '{repo}/dlcourse', '{course}/release']:\n"
        "    try:\n        shutil.rmtree(target)\n        escaped = True\n    except OSError:\n        pass\n"
        "try:\n    os.remove('{course}/nbgrader_config.py')\n    escaped = True\nexcept OSError:\n    pass\n"))),
    Scenario("read-source-notebook", "zero", "", _nb(_escape(
        "import json\n"
        "for path in ['{course}/source/{a}/{a}.ipynb', '{repo}/source/{a}/{a}.ipynb',\n"
        "             '../../../source/{a}/{a}.ipynb']:\n"
        "    try:\n        json.load(open(path))\n        escaped = True\n    except (OSError, ValueError):\n"
        "        pass\n"))),
    Scenario("read-hidden-data", "zero", "", _nb(_escape(
        "import os\n"
        "for path in ['{repo}/data/hidden/SEED', '{repo}/data/hidden/lung_heldout.npz']:\n"
        "    try:\n        if open(path, 'rb').read():\n            escaped = True\n    except OSError:\n"
        "        pass\n"))),
    Scenario("read-other-submission", "zero", "", _nb(_escape(
        "import glob\n"
        "for path in glob.glob('{course}/submitted/*/{a}/*.ipynb') + glob.glob('{course}/autograded/*/{a}/*.ipynb')"
        " + glob.glob('/tmp/dlcourse-grade-*/**/*.ipynb', recursive=True):\n"
        "    try:\n        if 'reference' in path and open(path).read():\n            escaped = True\n"
        "    except OSError:\n        pass\n"))),
    Scenario("read-gradebook", "zero", "", _nb(_escape(
        "try:\n    escaped = open('{course}/gradebook.db', 'rb').read(16).startswith(b'SQLite')\n"
        "except OSError:\n    pass\n"))),
    Scenario("import-instructor-reference", "zero", "", _nb(_escape(
        "try:\n    from dlcourse.instructor import reference as ref\n    escaped = callable(ref.softmax)\n"
        "except Exception as exc:\n    print('refused:', exc)\n"
        "try:\n    import dlcourse, os\n    src = open(os.path.join(os.path.dirname(dlcourse.__file__),"
        " 'instructor', 'reference.py')).read()\n    escaped = escaped or 'def softmax' in src\n"
        "except Exception as exc:\n    print('refused:', exc)\n"))),
    Scenario("network", "zero", "", _nb(_escape(
        "import socket\n"
        "for host, port in [('127.0.0.1', {port}), ('localhost', {port}), ('1.1.1.1', 80), ('pypi.org', 443)]:\n"
        "    try:\n        socket.create_connection((host, port), timeout=2).close()\n        escaped = True\n"
        "    except OSError:\n        pass\n"))),
    # -- tampering with the tests: the score stays that of the same wrong answers
    Scenario("patch-numpy-comparisons", "wrong", "numpy", _nb(_patched(
        "import numpy, numpy.testing\nnumpy.allclose = lambda *a, **k: True\nnumpy.isclose = lambda a, b, **k: "
        "numpy.ones(numpy.broadcast(numpy.asarray(a), numpy.asarray(b)).shape, bool)\n"
        "numpy.testing.assert_allclose = lambda *a, **k: None\n"
        "numpy.testing.assert_array_equal = lambda *a, **k: None\n"
        "numpy.testing.assert_almost_equal = lambda *a, **k: None\nnumpy.array_equal = lambda *a, **k: True\n"))),
    Scenario("patch-code-objects", "wrong", "__code__", _nb(_patched(
        "import numpy, numpy.testing\n"
        "numpy.allclose.__code__ = (lambda a, b, rtol=1e-05, atol=1e-08, equal_nan=False: True).__code__\n"
        "numpy.testing.assert_allclose.__code__ = (lambda *a, **k: None).__code__\n"))),
    Scenario("patch-course-helpers", "wrong", "dlcourse.testing", _nb(_patched(
        "import dlcourse.testing, dlcourse.gradcheck\n"
        "for _n in dir(dlcourse.testing):\n    if not _n.startswith('_') and callable(getattr(dlcourse.testing, _n)):\n"
        "        setattr(dlcourse.testing, _n, lambda *a, **k: None)\n"
        "dlcourse.gradcheck.rel_error = lambda *a, **k: 0.0\n"))),
    Scenario("patch-builtins", "wrong", "builtins", _nb(_patched(
        "import builtins\nbuiltins.abs = lambda x: 0\nbuiltins.all = lambda x: True\nbuiltins.any = lambda x: True\n"
        "builtins.AssertionError = type('Quiet', (Exception,), {})\n"))),
    Scenario("swap-sys-modules", "wrong", "numpy", _nb(_patched(
        "import sys, types, numpy\nfake = types.ModuleType('numpy')\nfake.__dict__.update(numpy.__dict__)\n"
        "fake.allclose = lambda *a, **k: True\nsys.modules['numpy'] = fake\nnp = fake\n"))),
    Scenario("ipython-hooks", "wrong", "IPython", _nb(_patched(
        "ip = get_ipython()\n"
        "ip.set_custom_exc((BaseException,), lambda self, etype, value, tb, tb_offset=None: None)\n"
        "ip.input_transformers_post.append(lambda lines: [l for l in lines if 'print(' in l] or ['pass\\n'])\n"
        "ip.events.register('pre_run_cell', lambda *a: None)\n"))),
    Scenario("disable-the-guard", "zero", "guard", _nb(_patched(UNPATCH_GUARD, base="reference"))),
    Scenario("edited-test-cells", "wrong", "had been edited", _nb(_edit_tests)),
    # -- broken files: graded if they can be repaired, 0 with the reason if not
    Scenario("invalid-json", "zero", "not valid JSON", _raw(lambda r, c: b'{"cells": [{"cell_type": "code",')),
    Scenario("empty-file", "zero", "is empty", _raw(lambda r, c: b"")),
    Scenario("binary-file", "zero", "binary data", _raw(lambda r, c: bytes(range(256)) * 64)),
    Scenario("json-not-notebook", "zero", "not a Jupyter notebook", _raw(lambda r, c: b"[1, 2, 3]")),
    Scenario("nbformat-3", "full", "nbformat 3", _raw(_v3)),
    Scenario("non-utf8", "full", "not UTF-8", _raw(_latin1)),
    Scenario("deleted-test-cells", "full", "deleted", _nb(_delete_tests)),
    Scenario("duplicated-cell-ids", "full", "appears 2 times", _raw(_duplicate_ids)),
    Scenario("wrong-kernel-name", "full", "kernel 'ir'", _nb(_kernel)),
    Scenario("renamed-notebook", "full", "Copy of", _nb(lambda r, c: student_notebook(r, A),
                                                         name=f"Copy of {A}.ipynb")),
]
