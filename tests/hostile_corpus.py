"""The corpus of hostile and broken submissions of 01_softmax_cross_entropy, with expected outcomes.

Each scenario writes one student's submission folder. Its expectation is relative to
submissions graded in the same batch, never a pasted number:

* "full":   the reference's score (the attack happens beside correct answers and must cost
            nothing but the attacking cell);
* "zero":   0 points (a blank notebook that would earn points only if the attack escaped,
            or a file that cannot be graded);
* "wrong":  the score of `wrong-twin`, the same wrong answers without the attack;
* "no-gain": at most the score of `wrong-twin`: tampering with the kernel changes only the
            values it hands back (patching the public helpers that make a test's inputs can
            cost points, never earn them).

`reason` is a piece of text that must appear in that student's notices or error: what
the instructor reads in the class report and the student in the feedback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat

from dlcourse.classroom.demo import solution_code, student_notebook
from dlcourse.grader.execute import is_test_cell

A = "01_softmax_cross_entropy"

# Wrong but runnable answers: what a student who then patches the checks would hand in.
WRONG = {
    "softmax": "def softmax(z):\n    z = np.asarray(z, dtype=float)\n    return np.ones_like(z) / z.shape[-1]\n",
    "cross_entropy": "def cross_entropy(y_hat, y, eps=1e-12):\n    return 0.0\n",
}


@dataclass
class Scenario:
    name: str
    expect: str                      # "full", "zero", "wrong" or "no-gain"
    reason: str                      # text expected in the notices/error ("" when none is due)
    write: Callable[[Path, dict], None]  # (submission folder, context) -> None
    leak: tuple[str, ...] = ()           # hidden-test text that must not reach the student's feedback


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


STEAL_PRELUDE = """
import numpy as np
_stolen = {}


def steal(code):
    \"\"\"Run code that was read from somewhere forbidden; keep every function it defines.\"\"\"
    ns = {"np": np}
    try:
        exec(code, ns)
    except Exception as exc:  # noqa: BLE001
        print("steal failed:", type(exc).__name__)
    _stolen.update({k: v for k, v in ns.items() if not k.startswith("__") and k != "np"})


def notebook_solutions(text):
    \"\"\"The solution cells of a notebook's JSON text (what a stolen source notebook holds).\"\"\"
    import json
    cells = json.loads(text)["cells"]
    return "\\n\\n".join("".join(c["source"]) for c in cells
                         if c.get("metadata", {}).get("nbgrader", {}).get("solution"))
"""


def _stealing(root: Path, attempt: str, ctx: dict, at: str = "start") -> nbformat.NotebookNode:
    """A notebook that scores 0 unless `attempt` steals the answers.

    Every solution cell only forwards to `_stolen`, which the attack must fill (through
    `steal(code)`) with answers read from somewhere the kernel must not reach. The attack
    runs before the first solution (`at="start"`), or inside the student's functions
    while the tests run (`at="functions"`: `attempt` is then a function body that returns
    the stolen function or None).
    """
    nb = student_notebook(root, A, solve=False)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            name = meta["grade_id"]
            if at == "functions":
                cell.source = (f"def {name}(*args, **kwargs):\n    found = _find({name!r})\n"
                               f"    if found is None:\n        raise NotImplementedError({name!r})\n"
                               "    return found(*args, **kwargs)\n")
            elif name.startswith("q_"):  # a concept question's answer is a value
                cell.source = f"{name} = _stolen.get({name!r})\n"
            else:
                cell.source = f"def {name}(*args, **kwargs):\n    return _stolen[{name!r}](*args, **kwargs)\n"
    if at == "start":  # an attack that only finds a way out sets `escaped`: it then has the answers
        code = (STEAL_PRELUDE + "escaped = False\n" + attempt.format(**ctx)
                + f"\nif escaped:\n    steal({_solutions(root)!r})\n    print('ESCAPED')\n")
    else:
        code = STEAL_PRELUDE + "\n\ndef _find(name):\n" + "\n".join("    " + line for line in attempt.splitlines())
    first = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("solution"))
    nb.cells.insert(first, nbformat.v4.new_code_cell(code))
    return nb


def _escape(attempt: str, at: str = "start") -> Callable[[Path, dict], nbformat.NotebookNode]:
    """A blank-equivalent notebook (see `_stealing`) whose attack would solve everything if it escaped."""
    def build(root: Path, ctx: dict) -> nbformat.NotebookNode:
        return _stealing(root, attempt, ctx, at)
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


DISABLE_RECORDER = """
import dlcourse.judging
dlcourse.judging.begin_recording = lambda *args, **kwargs: None
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
    Scenario("patch-numpy-comparisons", "no-gain", "", _nb(_patched(
        "import numpy, numpy.testing\nnumpy.allclose = lambda *a, **k: True\nnumpy.isclose = lambda a, b, **k: "
        "numpy.ones(numpy.broadcast(numpy.asarray(a), numpy.asarray(b)).shape, bool)\n"
        "numpy.testing.assert_allclose = lambda *a, **k: None\n"
        "numpy.testing.assert_array_equal = lambda *a, **k: None\n"
        "numpy.testing.assert_almost_equal = lambda *a, **k: None\nnumpy.array_equal = lambda *a, **k: True\n"))),
    Scenario("patch-code-objects", "no-gain", "", _nb(_patched(
        "import numpy, numpy.testing\n"
        "numpy.allclose.__code__ = (lambda a, b, rtol=1e-05, atol=1e-08, equal_nan=False: True).__code__\n"
        "numpy.testing.assert_allclose.__code__ = (lambda *a, **k: None).__code__\n"))),
    Scenario("patch-course-helpers", "no-gain", "", _nb(_patched(
        "import dlcourse.testing, dlcourse.gradcheck\n"
        "for _n in dir(dlcourse.testing):\n    if not _n.startswith('_') and callable(getattr(dlcourse.testing, _n)):\n"
        "        setattr(dlcourse.testing, _n, lambda *a, **k: None)\n"
        "dlcourse.gradcheck.rel_error = lambda *a, **k: 0.0\n"))),
    Scenario("patch-builtins", "no-gain", "", _nb(_patched(
        "import builtins\nbuiltins.abs = lambda x: 0\nbuiltins.all = lambda x: True\nbuiltins.any = lambda x: True\n"
        "builtins.AssertionError = type('Quiet', (Exception,), {})\n"))),
    Scenario("swap-sys-modules", "no-gain", "", _nb(_patched(
        "import sys, types, numpy\nfake = types.ModuleType('numpy')\nfake.__dict__.update(numpy.__dict__)\n"
        "fake.allclose = lambda *a, **k: True\nsys.modules['numpy'] = fake\nnp = fake\n"))),
    Scenario("ipython-hooks", "no-gain", "", _nb(_patched(
        "ip = get_ipython()\n"
        "ip.set_custom_exc((BaseException,), lambda self, etype, value, tb, tb_offset=None: None)\n"
        "ip.input_transformers_post.append(lambda lines: [l for l in lines if 'print(' in l] or ['pass\\n'])\n"
        "ip.events.register('pre_run_cell', lambda *a: None)\n"))),
    Scenario("disable-the-recorder", "zero", "", _nb(_patched(DISABLE_RECORDER, base="reference"))),
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


# -- attacks on the design itself (issue 13): each starts from answers that score 0 ----------------
REPATCH = """
import numpy, dlcourse.testing as _T

def _patch(*_args):
    numpy.isclose = lambda a, b, **k: numpy.ones(numpy.broadcast(numpy.asarray(a), numpy.asarray(b)).shape, bool)
    numpy.allclose = lambda *a, **k: True
    for _n in ('check', 'check_close', 'check_shape', 'check_finite', 'check_unchanged', 'check_type'):
        setattr(_T, _n, lambda *a, **k: None)
        globals()[_n] = getattr(_T, _n)
"""
HIDDEN_MARK = "default_rng(101)"  # a line of test_softmax's hidden block

FAMILY_SCENARIOS: list[Scenario] = [
    # a control: the stealing notebooks do score when the answers reach them, so a 0 below is real
    Scenario("control-stolen-answers-score", "full", "", _nb(_escape("escaped = True\n"))),
    # -- reading the answers: dlcourse/instructor and source/ are not in the sandbox at all
    Scenario("read-answers-child-process", "zero", "", _nb(_escape(
        "import subprocess\n"
        "for path in ['{repo}/dlcourse/instructor/reference.py']:\n"
        "    out = subprocess.run(['cat', path], capture_output=True, text=True).stdout\n"
        "    if 'def softmax' in out:\n        steal(out)\n        print('ESCAPED')\n"
        "for path in ['{repo}/source/{a}/{a}.ipynb', '{course}/source/{a}/{a}.ipynb']:\n"
        "    out = subprocess.run(['cat', path], capture_output=True, text=True).stdout\n"
        "    if out.lstrip().startswith('{{'):\n        steal(notebook_solutions(out))\n        print('ESCAPED')\n"))),
    Scenario("read-answers-ctypes", "zero", "", _nb(_escape(
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "def raw_read(path):\n    fd = libc.open(path.encode(), os.O_RDONLY)\n    if fd < 0:\n        return ''\n"
        "    buf = ctypes.create_string_buffer(1 << 21)\n    n = libc.read(fd, buf, len(buf))\n    libc.close(fd)\n"
        "    return buf.raw[:max(n, 0)].decode(errors='replace')\n"
        "text = raw_read('{repo}/dlcourse/instructor/reference.py')\n"
        "if 'def softmax' in text:\n    steal(text)\n    print('ESCAPED')\n"
        "for path in ['{repo}/source/{a}/{a}.ipynb', '{course}/source/{a}/{a}.ipynb']:\n"
        "    text = raw_read(path)\n"
        "    if text.lstrip().startswith('{{'):\n"
        "        steal(notebook_solutions(text))\n        print('ESCAPED')\n"))),
    Scenario("read-answers-runtime-symlink", "zero", "", _nb(_escape(
        "import os\n"
        "for target, link in [('{repo}/dlcourse/instructor', 'inst'), ('{repo}/source', 'src'),\n"
        "                     ('/proc/1/root{repo}/dlcourse/instructor', 'inst2'), ('{course}/source', 'src2')]:\n"
        "    try:\n        os.symlink(target, link)\n    except OSError:\n        pass\n"
        "for path in ['inst/reference.py', 'inst2/reference.py']:\n"
        "    try:\n        text = open(path).read()\n    except OSError:\n        continue\n"
        "    if 'def softmax' in text:\n        steal(text)\n        print('ESCAPED')\n"
        "for path in ['src/{a}/{a}.ipynb', 'src2/{a}/{a}.ipynb']:\n"
        "    try:\n        steal(notebook_solutions(open(path).read()))\n        print('ESCAPED')\n"
        "    except (OSError, ValueError):\n        pass\n"))),
    Scenario("read-answers-mountinfo-search", "zero", "", _nb(_escape(
        "import glob, os, sys\nroots = set()\n"
        "for line in open('/proc/self/mountinfo'):\n    roots.add(line.split()[4])\n"
        "for root in sorted(roots):\n"
        "    if root in ('/', '/proc', '/dev', '/sys') or root.startswith(('/proc/', '/dev/', '/sys/', sys.prefix,\n"
        "                                                               sys.base_prefix)):\n        continue\n"
        "    found = glob.glob(os.path.join(root, '**', '*.py'), recursive=True)[:4000]\n"
        "    found += glob.glob(os.path.join(root, '**', '*.ipynb'), recursive=True)[:200]\n"
        "    for path in found:\n"
        "        try:\n            text = open(path).read()\n        except (OSError, UnicodeDecodeError):\n"
        "            continue\n"
        "        if path.endswith('.py') and 'def cross_entropy_from_logits' in text:\n"
        "            steal(text)\n            print('ESCAPED', path)\n"
        "        elif path.endswith('.ipynb') and 'BEGIN SOLUTION' in text:\n"
        "            steal(notebook_solutions(text))\n            print('ESCAPED', path)\n"))),
    # -- undoing the checks while a test runs: the verdicts are no longer made in the kernel
    Scenario("repatch-from-a-thread", "no-gain", "", _nb(_patched(
        REPATCH + "import threading, time\n\ndef _loop():\n    while True:\n        _patch()\n"
        "        time.sleep(0.001)\n\nthreading.Thread(target=_loop, daemon=True).start()\n"))),
    Scenario("repatch-from-a-signal-timer", "no-gain", "", _nb(_patched(
        REPATCH + "import signal\nsignal.signal(signal.SIGALRM, _patch)\n"
        "signal.setitimer(signal.ITIMER_REAL, 0.002, 0.002)\n"))),
    Scenario("repatch-from-an-audit-hook", "no-gain", "", _nb(_patched(
        REPATCH + "import sys\nsys.addaudithook(lambda event, args: _patch() if event in ('exec', 'compile') "
        "else None)\n"))),
    Scenario("patch-ipykernel-classes", "no-gain", "", _nb(_patched(
        "from ipykernel.zmqshell import ZMQInteractiveShell\nfrom IPython.core.interactiveshell import "
        "InteractiveShell\n_orig = ZMQInteractiveShell.run_cell\n\n"
        "def run_cell(self, raw_cell, *args, **kwargs):\n    result = _orig(self, raw_cell, *args, **kwargs)\n"
        "    result.error_in_exec = None\n    print('\\u2714 All tests passed: softmax')\n    return result\n\n"
        "ZMQInteractiveShell.run_cell = run_cell\n"
        "InteractiveShell.showtraceback = lambda self, *a, **k: print('\\u2714 All tests passed')\n"
        "ZMQInteractiveShell._showtraceback = lambda self, *a, **k: None\n"))),
    Scenario("fake-function-under-numpys-name", "no-gain", "", _nb(_patched(
        "import numpy, numpy._core.numeric as _num\n"
        "_code = compile('def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):\\n    import numpy\\n'\n"
        "                '    return numpy.ones(numpy.broadcast(numpy.asarray(a), numpy.asarray(b)).shape, bool)\\n',\n"
        "                _num.__file__, 'exec')\n_ns = {}\nexec(_code, _ns)\n_fake = _ns['isclose']\n"
        "_fake.__wrapped__, _fake.__module__ = numpy.isclose, 'numpy'\nnumpy.isclose = _num.isclose = _fake\n"))),
    # -- keeping the answers once seen: the kernel never sees them, so there is nothing to keep
    Scenario("stash-reference-from-the-test-frame", "zero", "", _nb(_escape(
        "import inspect\nframe = inspect.currentframe()\nwhile frame is not None and name not in _stolen:\n"
        "    for value in list(frame.f_globals.values()) + list(frame.f_locals.values()):\n"
        "        fn = getattr(value, name, None)\n"
        "        if callable(fn) and 'instructor' in str(getattr(value, '__name__', '')):\n"
        "            _stolen[name] = fn\n"
        "    frame = frame.f_back\nreturn _stolen.get(name)\n", at="functions"))),
    Scenario("stash-reference-from-sys-modules", "zero", "", _nb(_escape(
        "import sys\nfor modname, mod in list(sys.modules.items()):\n"
        "    if 'instructor' in modname and callable(getattr(mod, name, None)):\n"
        "        _stolen[name] = getattr(mod, name)\nreturn _stolen.get(name)\n", at="functions"))),
    Scenario("stash-reference-from-the-heap", "zero", "", _nb(_escape(
        "import gc\nif name not in _stolen and not _stolen.get('_searched_' + name):\n"
        "    _stolen['_searched_' + name] = True\n"
        "    for obj in gc.get_objects():\n"
        "        if callable(obj) and getattr(obj, '__name__', '') == name and \\\n"
        "                'instructor' in str(getattr(obj, '__module__', '')):\n"
        "            _stolen[name] = obj\nreturn _stolen.get(name)\n", at="functions"))),
    # -- the feedback as a channel: messages come from the judge, never from the student's text
    Scenario("leak-hidden-test-in-an-exception", "zero", "", _nb(_escape(
        "ip = get_ipython()\nraise AssertionError('LEAK ' + '\\n'.join(ip.user_ns.get('In', [''])[-1:]))\n",
        at="functions")), leak=(HIDDEN_MARK, "LEAK")),
    Scenario("leak-hidden-test-in-printed-output", "zero", "", _nb(_escape(
        "from IPython.display import HTML, display\nip = get_ipython()\ntext = ip.user_ns.get('In', [''])[-1]\n"
        "print('LEAK', text)\ndisplay(HTML('<pre>LEAK ' + text + '</pre>'))\nimport warnings\n"
        "warnings.warn('LEAK ' + text)\nreturn None\n", at="functions")), leak=(HIDDEN_MARK, "LEAK")),
    Scenario("leak-hidden-test-in-a-return-value", "zero", "", _nb(_escape(
        "ip = get_ipython()\ntext = 'LEAK ' + ip.user_ns.get('In', [''])[-1]\n"
        "return lambda *a, **k: {'a': text, 'b': [text] * 3}\n", at="functions")), leak=(HIDDEN_MARK, "LEAK")),
    # -- forged tapes: a tape only carries values, and the judge survives any tape
    Scenario("forged-tape-flood", "zero", "was cut", _nb(_escape(  # 4.5 MB of forged tape, 4 calls
        "global _floods\nimport json\nfrom IPython.display import display\n"
        "_floods = globals().get('_floods', 0) + 1\nfor i in range(45 if _floods <= 4 else 0):\n"
        "    display({'application/vnd.dlcourse.tape+json': json.dumps({'test': 'test_softmax', 'event': "
        "{'op': 'call', 'name': name, 'result': 'A' * 100_000, 'changed': []}})}, raw=True)\n"
        "return None\n", at="functions"))),
    Scenario("forged-tape-nested", "zero", "", _nb(_escape(
        "from IPython.display import display\nvalue = 1.0\nfor _ in range(5000):\n    value = [value]\n"
        "display({'application/vnd.dlcourse.tape+json': {'test': 'test_softmax', 'event': "
        "{'op': 'call', 'name': name, 'result': {'__ndarray__': 'AAAA' * 1000}, 'changed': []}}}, raw=True)\n"
        "return lambda *a, **k: value\n", at="functions"))),
]
SCENARIOS += FAMILY_SCENARIOS


# What a grading kernel can read: listed from inside one (see test_hostile.py).
LISTING = """
import json, os, sys
seen, suspicious = 0, []
roots = ['{repo}', '{course}', os.path.dirname('{repo}'), '/tmp', os.path.expanduser('~'), '/root', '/srv', '/home']
for root in roots:
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.join(folder, d) not in (sys.prefix, sys.base_prefix)
                   and d not in ('site-packages', '.mirror', '.library')]
        for name in files:
            path = os.path.join(folder, name)
            try:
                with open(path, 'rb') as f:
                    f.read(1)
            except OSError:
                continue
            seen += 1
            if any(part in path for part in ('instructor', '/source/', '/tests/', 'hidden', 'gradebook', '.git/',
                                             '.ipynb', 'ref_')):
                suspicious.append(path)
print('LISTING ' + json.dumps({{'seen': seen, 'suspicious': sorted(set(suspicious))}}))
"""
SCENARIOS.append(Scenario("list-what-the-kernel-can-read", "zero", "", _nb(_escape(LISTING))))
