"""Record in a kernel-like shell, judge in this process: one test per attack family (seconds each).

The recording side runs in a separate plain IPython shell (a subprocess), as the grading
kernel would: whatever the "student" code there patches cannot reach the judge here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import nbformat
import numpy as np
import pytest

from dlcourse.grader.judge import judge_in_process, recording_preamble
from dlcourse.judging import TAPE_MIME, parse_tape

SETUP = "import numpy as np\nfrom dlcourse.testing import check, check_close, check_shape, passed\n"
SOLUTION = "def scale(x, k):\n    return np.asarray(x, dtype=float) * k\n"
WRONG = "def scale(x, k):\n    return np.asarray(x, dtype=float) + k\n"
TEST = textwrap.dedent('''\
    """scale: multiplies by k."""
    check_close(scale([1.0, 2.0], 3), [3.0, 6.0], "scale([1, 2], 3)", hint="multiply, do not add.")
    ### BEGIN HIDDEN TESTS
    from dlcourse.instructor import reference as ref

    rng = np.random.default_rng(7)  # SECRET-CASES
    x = rng.normal(size=(4, 3))
    check_close(scale(x, -2.5), ref.norm_rel_error(x, x) + x * -2.5, "scale of a random (4, 3) array")
    ### END HIDDEN TESTS
    passed("scale")
''')

RECORDER = textwrap.dedent('''\
    import json, sys
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    shell = InteractiveShell.instance()
    cells = json.loads(sys.stdin.read())
    outputs = []
    for code in cells:
        with capture_output() as captured:
            shell.run_cell(code)
        outputs += [{"output_type": "display_data", "data": o.data} for o in captured.outputs]
        print(captured.stdout)
    print("TAPE " + json.dumps(outputs))
''')


def source_notebook(test: str = TEST) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    setup = nbformat.v4.new_code_cell(SETUP)
    setup.metadata["tags"] = ["setup"]
    solution = nbformat.v4.new_code_cell(SOLUTION)
    solution.metadata["nbgrader"] = {"grade": False, "solution": True, "grade_id": "scale", "locked": False}
    cell = nbformat.v4.new_code_cell(test)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "test_scale", "points": 1,
                                 "locked": True}
    nb.cells = [setup, solution, cell]
    return nb


def record(student_cells: list[str], test: str = TEST) -> dict[str, list[dict]]:
    """Run the student's cells and the test cell (record mode) in a fresh shell; return the tapes."""
    cells = [SETUP, *student_cells, recording_preamble("test_scale", ["scale"]) + test]
    proc = subprocess.run([sys.executable, "-c", RECORDER], input=json.dumps(cells), capture_output=True,
                          text=True, timeout=120)
    line = next(x for x in proc.stdout.splitlines() if x.startswith("TAPE "))
    return parse_tape(json.loads(line[5:]))


def judge(tapes: dict[str, list[dict]], test: str = TEST):
    (verdict,) = judge_in_process(source_notebook(test), tapes)
    return verdict


def local_message(student: str) -> str:
    """The message a student sees running the visible test in-process (local mode)."""
    ns: dict = {}
    exec(SETUP + student, ns)
    visible = TEST.split("### BEGIN HIDDEN TESTS")[0]
    try:
        exec(visible, ns)
    except AssertionError as err:
        return f"AssertionError: {err}"
    return ""


def test_a_correct_answer_passes_and_a_wrong_one_fails_with_the_local_message():
    assert judge(record([SOLUTION])).passed
    wrong = judge(record([WRONG]))
    assert not wrong.passed
    assert wrong.message == local_message(WRONG)  # one definition, the same message in both places
    assert "multiply, do not add" in wrong.message


def test_the_kernel_never_holds_a_reference():
    """Family: reading the answers. In record mode dlcourse.instructor is a placeholder module."""
    probe = ("import sys\nfrom dlcourse.instructor import reference as r\n"
             "print('LOADED', [m for m in sys.modules if m.startswith('dlcourse.instructor')],"
             " getattr(r, '__file__', None), repr(r.softmax([1.0])))\n")
    cells = [SETUP, SOLUTION, recording_preamble("test_scale", ["scale"]) + "pass", probe]
    proc = subprocess.run([sys.executable, "-c", RECORDER], input=json.dumps(cells), capture_output=True,
                          text=True, timeout=120)
    line = next(x for x in proc.stdout.splitlines() if x.startswith("LOADED"))
    assert "None" in line and "not available in the grading kernel" in line, line


@pytest.mark.parametrize("patch", [
    # family: undoing the checks while the test runs (a thread, a patched comparison, an audit hook)
    "import threading, time, numpy, dlcourse.testing as T\n"
    "def loop():\n    while True:\n        numpy.isclose = lambda a, b, **k: numpy.ones(numpy.broadcast("
    "numpy.asarray(a), numpy.asarray(b)).shape, bool)\n        T.check_close = lambda *a, **k: None\n"
    "        time.sleep(0.001)\nthreading.Thread(target=loop, daemon=True).start()\n",
    "import sys, numpy\nsys.addaudithook(lambda e, a: setattr(numpy, 'allclose', lambda *x, **k: True))\n"
    "import dlcourse.testing as T\nT.check_close = lambda *a, **k: None\n",
    "import dlcourse.judging as J\nJ._STATE.mode = 'local'\n",
])
def test_patching_the_kernel_cannot_pass_a_wrong_answer(patch):
    verdict = judge(record([WRONG, patch]))
    assert not verdict.passed, verdict


@pytest.mark.parametrize("stash", [
    # family: keeping the answers once seen: the frame, sys.modules and the heap hold only placeholders
    "import inspect\ndef scale(x, k):\n    f = inspect.currentframe().f_back\n"
    "    ref = f.f_globals.get('ref')\n    return ref.norm_rel_error(x, x) if ref is not None else None\n",
    "import sys\ndef scale(x, k):\n    mods = [m for n, m in sys.modules.items() if 'instructor' in n]\n"
    "    return mods[0].softmax(x) if mods else None\n",
])
def test_nothing_worth_keeping_is_in_the_kernel(stash):
    verdict = judge(record([stash]))
    assert not verdict.passed


@pytest.mark.parametrize("leak", [
    # family: the feedback as a channel: the message is the judge's
    "def scale(x, k):\n    raise AssertionError('LEAK ' + get_ipython().user_ns['In'][-1])\n",
    "def scale(x, k):\n    print('LEAK', get_ipython().user_ns['In'][-1])\n    return 'LEAK ' * 50\n",
    "def scale(x, k):\n    return {'LEAK': get_ipython().user_ns['In'][-1]}\n",
])
def test_failure_messages_never_carry_the_students_text(leak):
    verdict = judge(record([leak]))
    assert not verdict.passed
    assert "LEAK" not in verdict.message and "SECRET-CASES" not in verdict.message, verdict.message


@pytest.mark.parametrize("events", [
    [],                                                            # nothing recorded
    [{"op": "call", "name": "scale", "result": {"__ndarray__": "bm90IGFuIGFycmF5"}, "changed": []}],
    [{"op": "call", "name": "scale", "result": {"__keras__": "{}", "weights": []}, "changed": []}],
    [{"op": "call", "name": "other", "result": [3.0, 6.0], "changed": []}],
    [{"op": "call", "name": "scale", "result": {"__unknown__": 1}, "changed": []}],
    [{"op": "call", "name": "scale", "raised": "SystemExit"}],
])
def test_a_forged_tape_fails_the_test_and_never_the_judge(events):
    verdict = judge({"test_scale": events})
    assert not verdict.passed and verdict.message.startswith("AssertionError: ")


def test_a_tape_with_the_visible_answers_only_still_fails():
    """A student who copies the visible expected values into a forged tape has not passed the hidden cases."""
    forged = [{"op": "call", "name": "scale", "result": {"__tuple__": [3.0, 6.0]}, "changed": []}]
    verdict = judge({"test_scale": forged})
    assert not verdict.passed and "stopped before this test finished" in verdict.message


def test_a_recording_holds_one_event_per_exercise_call():
    tapes = record([SOLUTION])
    assert [e["op"] for e in tapes["test_scale"]] == ["call", "call"]
    assert all(TAPE_MIME not in json.dumps(e) for e in tapes["test_scale"])


# -- the judge server (the grader's path): one fresh forked child per notebook judged

def _captured(tapes: dict[str, list[dict]]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The tapes as the kernel supervisor hands them to the judge: each event's JSON text, by test."""
    return {gid: [json.dumps({"test": gid, "event": e}) for e in events] for gid, events in tapes.items()}, {}


def _judge_in_server(tmp_path, test: str = TEST, tapes=None, **limits):
    from dlcourse.grader.judge import judge_notebook

    source = tmp_path / "source.ipynb"
    nbformat.write(source_notebook(test), source)
    return judge_notebook(source, *_captured(tapes if tapes is not None else record([SOLUTION])), tmp_path, **limits)


def test_the_judge_server_gives_the_in_process_verdicts(tmp_path):
    tapes_right, tapes_wrong = record([SOLUTION]), record([WRONG])
    right = _judge_in_server(tmp_path, tapes=tapes_right)
    wrong = _judge_in_server(tmp_path, tapes=tapes_wrong)
    assert right == [judge(tapes_right)] and right[0].passed
    assert wrong == [judge(tapes_wrong)] and not wrong[0].passed


def test_a_judge_that_hangs_or_blows_its_memory_costs_that_notebook_only(tmp_path):
    from dlcourse.grader import judge as judge_module

    hang = "import time\ntime.sleep(600)\n"
    with pytest.raises(RuntimeError, match="did not finish in 2 s"):
        _judge_in_server(tmp_path, test=hang, timeout=2)
    hog = "blocks = [bytearray(2**28) for _ in range(64)]\n"  # 16 GiB against a 2 GiB limit
    (verdict,) = _judge_in_server(tmp_path, test=hog, memory_mb=2048)
    assert not verdict.passed and "MemoryError" in verdict.message
    killed = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"  # as the kernel's OOM killer would
    with pytest.raises(RuntimeError, match="killed by signal 9"):
        _judge_in_server(tmp_path, test=killed)
    server = judge_module._SERVER[0]
    assert server.alive()  # the same server judges the next notebook
    assert _judge_in_server(tmp_path)[0].passed and judge_module._SERVER[0] is server


def test_stale_judge_folders_of_killed_processes_are_removed_at_start(tmp_path, monkeypatch):
    """Issue 29, surprise 20: a judge server killed with its grading worker, and a judging child killed
    at its time limit, left their scratch folders in /tmp, one per kill. The next server removes
    those of processes that are gone: only its own kind (by prefix, with the pid), never a live one's."""
    import os
    import tempfile

    from dlcourse.grader import judge as judge_module

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    gone = int(dead.stdout)
    stale = [scratch / f"dlcourse-judge-server-{gone}-ab12_cd", scratch / f"dlcourse-judge-{gone}-x9y8z7"]
    kept = [scratch / f"dlcourse-judge-server-{os.getpid()}-live01",  # a live process's
            scratch / "dlcourse-judge-server-oldstyle",  # no pid: not known to be ours
            scratch / f"other-tool-{gone}-abc"]
    for folder in stale + kept:
        folder.mkdir()
        (folder / "tapes.json").write_text("{}")
    for server in judge_module._SERVER:  # a fresh server, which sees TMPDIR
        server.close()
    judge_module._SERVER.clear()
    try:
        with pytest.raises(RuntimeError, match="did not finish in 2 s"):  # its child killed at the limit
            _judge_in_server(tmp_path, test="import time\ntime.sleep(600)\n", timeout=2)
        assert not any(p.exists() for p in stale) and all(p.exists() for p in kept)
        server_home = f"dlcourse-judge-server-{os.getpid()}-"  # the server's own, named for this process
        left = sorted(p.name for p in scratch.iterdir())
        assert [n for n in left if n.startswith(server_home)] and not [
            n for n in left if n.startswith("dlcourse-judge-") and n[len("dlcourse-judge-"):][:1].isdigit()
            and n not in {k.name for k in kept}], left  # the killed child's folder is gone too
    finally:
        for server in judge_module._SERVER:
            server.close()
        judge_module._SERVER.clear()


def test_what_the_judged_code_prints_never_reaches_the_reply(tmp_path):
    noisy = "import os, sys\nprint('{\"verdicts\": []}')\nos.write(1, b'garbage\\n')\n" + TEST
    (verdict,) = _judge_in_server(tmp_path, test=noisy)
    assert verdict.passed


def test_a_dead_judge_server_is_started_again(tmp_path):
    from dlcourse.grader import judge as judge_module

    _judge_in_server(tmp_path)
    old = judge_module._SERVER[0]
    old.proc.kill()
    old.proc.wait()
    assert _judge_in_server(tmp_path)[0].passed
    assert judge_module._SERVER[0] is not old and judge_module._SERVER[0].alive()


def test_the_judge_freezes_what_survives_its_reset(tmp_path):
    """Later collections then skip the imported modules (TensorFlow's: 0.3 s at every reset);
    the server freezes after its imports too, so its children start frozen."""
    import gc

    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    assert judge(record([SOLUTION])).passed
    assert gc.get_freeze_count() > 0
    frozen = "import gc\nassert gc.get_freeze_count() > 1000, gc.get_freeze_count()\n" + TEST
    (verdict,) = _judge_in_server(tmp_path, test=frozen)
    assert verdict.passed, verdict.message


def test_the_graders_processes_skip_the_slow_format_checker_and_still_validate():
    """jsonschema would import rfc3987_syntax (a second per process, for formats no notebook uses)."""
    code = ("import sys, dlcourse.grader, nbformat\n"
            "nbformat.validate(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('x = 1')]))\n"
            "try:\n    nbformat.validate({'nbformat': 4, 'cells': 'not a list'})\n"
            "except nbformat.ValidationError:\n    print('invalid refused')\n"
            "print(sys.modules['rfc3987_syntax'])\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["invalid", "refused", "None"]


def test_a_mismatch_message_names_the_largest_finite_error_or_says_none_is_finite():
    import numpy as np

    from dlcourse.testing import check_close

    with pytest.raises(AssertionError, match=r"largest finite error 2; 1 non-finite value\(s\), at \(2,\): inf"):
        check_close(np.array([1.0, 3.0, np.inf]), np.array([1.0, 1.0, 1.0]), "x")
    neg_inf = r"largest finite error 1.83e-06; 1 non-finite value\(s\), at \(1,\): -inf"
    with pytest.raises(AssertionError, match=neg_inf):
        check_close(np.array([1.0 + 1.83e-6, -np.inf]), np.array([1.0, 2.0]), "x")
    with pytest.raises(AssertionError, match="no error is finite: look for nan or inf"):
        check_close(np.full(3, np.nan), np.ones(3), "x")


def test_a_notebook_needing_more_modules_keeps_the_warm_judge_server(tmp_path):
    """Another assignment's set-up imports more: the running server imports them too (nothing it
    had imported is imported again), and judges the notebook as a fresh one would."""
    from dlcourse.grader import judge as judge_module
    from dlcourse.grader.judge import judge_notebook

    _judge_in_server(tmp_path)
    server = judge_module._SERVER[0]
    pid = server.proc.pid
    source = source_notebook()
    source.cells[0].source = "import colorsys\n" + source.cells[0].source
    path = tmp_path / "more.ipynb"
    nbformat.write(source, path)
    (verdict,) = judge_notebook(path, *_captured(record([SOLUTION])), tmp_path)
    assert verdict.passed
    assert judge_module._SERVER[0] is server and server.proc.pid == pid and server.alive()
    assert "colorsys" in server.preload


def test_warming_up_starts_the_judge_server_without_waiting_for_its_imports(tmp_path, monkeypatch):
    """The worker warms the judge up when the grading kernel starts: the server imports the
    notebook's modules (here one that takes 3 s) while the kernel runs, and then judges it."""
    import time

    from dlcourse.grader import judge as judge_module
    from dlcourse.grader.judge import judge_notebook, warm_up

    imported_by = tmp_path / "imported_by"  # the pid of each process that imported the module
    (tmp_path / "slow_to_import.py").write_text(
        f"import os, time\ntime.sleep(3)\n"
        f"with open({str(imported_by)!r}, 'a') as f:\n    f.write(f'{{os.getpid()}} ')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    for server in judge_module._SERVER:  # a fresh server, which sees PYTHONPATH
        server.close()
    judge_module._SERVER.clear()
    source = source_notebook()
    source.cells[0].source = "import slow_to_import\n" + source.cells[0].source
    path = tmp_path / "slow.ipynb"
    nbformat.write(source, path)
    started = time.monotonic()
    warm_up(source)
    assert time.monotonic() - started < 2.5  # it did not wait for the 3 s import
    server = judge_module._SERVER[0]
    (verdict,) = judge_notebook(path, *_captured(record([SOLUTION])), tmp_path)
    assert verdict.passed and judge_module._SERVER[0] is server
    assert imported_by.read_text().split() == [str(server.proc.pid)]  # the server, once: the child had it
    server.close()
    judge_module._SERVER.clear()


# -- in-place changes: only those the exercise's contract declares (`updates=` in its solution cell)

STEER = ("def scale(x, k):\n    if isinstance(x, np.ndarray):  # a hidden case: junk, and the reference is steered\n"
         "        x[...] = 0.0\n        return np.zeros(x.shape)\n    return np.asarray(x, dtype=float) * k\n")
IN_PLACE = "def scale(x, k):\n    x *= k\n    return x\n"
TEST_UPDATED = textwrap.dedent('''\
    """scale: multiplies x by k in place (its contract says so)."""
    from dlcourse.instructor import reference as ref

    x = np.random.default_rng(3).normal(size=(2, 3))
    x_before = x.copy()
    got = scale(x, 2.0)
    check_close(x, ref.norm_rel_error(x_before, x_before) + 2.0 * x_before, "x after scale(x, 2)")
    check_close(got, x, "what scale returned")
    passed("scale")
''')


def judged(tapes: dict[str, list[dict]], test: str = TEST, updates: list[str] | None = None):
    source = source_notebook(test)
    if updates:
        source.cells[1].metadata["dlcourse"] = {"updates": updates}
    (verdict,) = judge_in_process(source, tapes)
    return verdict


def test_a_change_to_an_undeclared_argument_fails_and_never_steers_the_reference():
    """Family: in-place steering. Junk that zeroes the judge's input made `ref(x)` agree with it."""
    verdict = judged(record([STEER]))
    assert not verdict.passed
    assert "scale changed its argument `x` in place" in verdict.message, verdict.message


def test_a_declared_in_place_update_reaches_the_judges_argument():
    assert judged(record([IN_PLACE], TEST_UPDATED), TEST_UPDATED, updates=["x"]).passed
    undeclared = judged(record([IN_PLACE], TEST_UPDATED), TEST_UPDATED)
    assert not undeclared.passed and "changed its argument `x` in place" in undeclared.message


def test_a_forged_change_is_refused_by_keyword_and_by_position():
    from dlcourse.judging import _npy

    snap = {"array": {"__ndarray__": _npy(np.zeros(3))}}
    for key, name in [(0, "`x`"), ("x", "`x`"), ("k", "`k`"), (7, "number 8")]:
        forged = [{"op": "call", "name": "scale", "result": [3.0, 6.0], "changed": [[key, snap]]}]
        verdict = judged({"test_scale": forged})
        assert not verdict.passed and f"changed its argument {name} in place" in verdict.message, verdict.message


def test_a_declaration_names_a_parameter_of_the_exercise():
    from dlcourse.cells import contracts

    source = source_notebook()
    source.cells[1].metadata["dlcourse"] = {"updates": ["y"]}
    with pytest.raises(ValueError, match=r"declares updates=\['y'\], but its parameters are \['x', 'k'\]"):
        contracts(source)
    source.cells[1].metadata["dlcourse"] = {"updates": ["x"]}
    assert contracts(source) == {"scale": (["x", "k"], {"x"})}


# -- the expected value stays in the check's frame: in the kernel, checks never touch their arguments

TEST_CONSTANT = textwrap.dedent('''\
    """scale: every expected value is a constant (the kernel computes it too)."""
    check_close(scale(np.array([1.0, 2.0]), 3), [3.0, 6.0], "scale([1, 2], 3)")
    ### BEGIN HIDDEN TESTS
    check_close(scale(np.array([4.0]), 0.5), [2.0], "scale([4], 0.5)")
    ### END HIDDEN TESTS
    passed("scale")
''')
# an answer whose conversion reads the expected value from the frame of the check converting it
FRAME_CLASS = textwrap.dedent('''\
    import sys
    import numpy as np
    class Returned:
        def _expected(self):
            f = sys._getframe(1)
            while f is not None:
                for name in ("expected", "expected_arr"):
                    v = f.f_locals.get(name)
                    if v is not None and not callable(v):
                        return np.asarray(v, dtype=float)
                f = f.f_back
            return np.zeros(())
        def __array__(self, dtype=None, copy=None):
            return self._expected()
        def __float__(self):
            return float(self._expected())
''')
FRAME_HOOKS = [  # how the check reaches it: torch's detach(), TensorFlow's numpy(), any attribute
    "Returned.detach = lambda self: __import__('torch').as_tensor(self._expected())",
    "Returned.numpy = lambda self: self._expected()",
    "Returned.__getattr__ = lambda self, name: (lambda *a, **k: __import__('torch').as_tensor(self._expected()))",
]


@pytest.mark.parametrize("hook", FRAME_HOOKS)
def test_an_object_reading_the_checks_frame_gets_no_point(hook):
    """Family: the expected value in the kernel. Before: each passed (it returned what the check
    expected); now the kernel's checks never touch it and the judge has no numbers to compare."""
    student = f"{FRAME_CLASS}{hook}\ndef scale(x, k):\n    return Returned()\n"
    verdict = judged(record([student], TEST_CONSTANT), TEST_CONSTANT)
    assert not verdict.passed
    assert "expected numbers (an array, a list or a tensor), got an object of a class of your own" \
        in verdict.message, verdict.message


def test_checks_in_the_kernel_never_touch_their_arguments(monkeypatch):
    import dlcourse.judging as J
    from dlcourse import testing as T

    class Tripwire:
        def __getattribute__(self, name):
            raise SystemExit(f"touched: {name}")

    monkeypatch.setattr(J._STATE, "mode", "record")
    wire = Tripwire()
    for call in [lambda: T.check_close(wire, [1.0], "x"), lambda: T.check_shape(wire, (1,), "x"),
                 lambda: T.check_type(wire, int, "x"), lambda: T.check_finite(wire, "x"),
                 lambda: T.check_choice(wire, ["a"], "x"), lambda: T.check_answer(wire, {"answer": "a"}, "x"),
                 lambda: T.check_unchanged(wire, wire, "x"), lambda: T.check(wire, "x")]:
        assert call() is None
    assert T.check_shape(np.arange(3.0), (3,), "x").tolist() == [0.0, 1.0, 2.0]  # numbers pass through


TEST_TWO_CALLS = textwrap.dedent('''\
    """scale: two hidden calls (the second one shows whether the tape stayed in step)."""
    check_close(scale([1.0, 2.0], 3), [3.0, 6.0], "scale([1, 2], 3)")
    ### BEGIN HIDDEN TESTS
    from dlcourse.instructor import reference as ref

    for x in (np.array([4.0, -1.0, 0.5]), np.array([2.0])):
        check_close(scale(x, -2.5), ref.norm_rel_error(x, x) + x * -2.5, f"scale of a {x.shape} array")
    ### END HIDDEN TESTS
    passed("scale")
''')


@pytest.mark.parametrize("kind", [
    "__import__('collections').deque", "__import__('pandas').Series", "lambda v: np.array(v, dtype=object)",
])
def test_a_value_of_an_unknown_kind_fails_at_its_own_check_with_what_it_is(kind):
    """Before: a hidden check failing in the kernel (its reference is a placeholder there) read its
    argument again, the tape went out of step, and the next call failed with 'does not match'."""
    student = f"def scale(x, k):\n    return ({kind})(np.asarray(x, dtype=float) * k)\n"
    verdict = judged(record([student], TEST_TWO_CALLS), TEST_TWO_CALLS)
    assert not verdict.passed
    assert verdict.message.startswith("AssertionError: expected numbers (an array, a list or a tensor), got a"), \
        verdict.message
    assert "does not match" not in verdict.message


# -- messages: the judge's own description of a student's value, never its repr

TEST_CHOICE = ('from dlcourse.testing import check_choice\n'
               'check_choice(scale([1.0], 2), ["a", "b"], "scale([1], 2)")\npassed("scale")\n')
# text the kernel could hold (its history held hidden test source): here a stand-in
LEAKS = ("LEAK = 'LEAK-rng = np.random.default_rng(7)  # SECRET-CASES'\n"
         "def named():\n    f = lambda: 0\n    f.__module__, f.__qualname__, f.__name__ = LEAK, LEAK, LEAK\n"
         "    return f\n")


@pytest.mark.parametrize("returns", [
    "LEAK",                                                            # a string
    "type(LEAK, (), {})()",                                            # a class named with the text
    "np.array([LEAK])",                                                # an array of strings
    "type('F', (), {'__repr__': lambda s: LEAK, '__str__': lambda s: LEAK, '__format__': lambda s, f: LEAK})()",
    "named()",                                                         # a function, by its names
])
def test_a_failure_message_never_carries_text_the_student_chose(returns):
    student = LEAKS + f"def scale(x, k):\n    return {returns}\n"
    verdict = judged(record([student], TEST_CHOICE), TEST_CHOICE)
    assert not verdict.passed
    assert "LEAK" not in verdict.message and "scale(x" not in verdict.message, verdict.message


def test_describe_formats_numbers_itself_and_names_only_library_classes():
    import torch  # noqa: F401 - a recorded Module is named only when torch is loaded, as in the judge

    from dlcourse.judging import NamedRef, ReplayProxy
    from dlcourse.testing import describe, show

    assert [describe(v) for v in (3, 2.0, np.float32(0.5), "b", None, [1.0, 2], (1,))] == \
        ["3", "2.0", "0.5", "a string of 1 characters", "None", "[1.0, 2]", "(1,)"]
    assert describe("b", allowed=["a", "b"]) == "'b'"  # a question's own option: text the judge knows
    assert describe("x" * 40) == "a string of 40 characters" and describe("a\nb") == "a string of 3 characters"
    assert describe(np.array(["SECRET"])) == "an array of shape (1,) and dtype <U6"
    assert describe({"SECRET": 1}) == "a dict of 1 items"
    assert describe(ReplayProxy("t:0", ["__main__.SECRET", "torch.nn.modules.module.Module"])) == "a Module object"
    assert describe(ReplayProxy("t:0", ["__main__.SECRET"])) == "an object of a class of your own"
    assert describe(NamedRef("SECRET", "SECRET", "SECRET")) == "a function or class"
    assert "SECRET" not in repr(NamedRef("SECRET", "SECRET", "SECRET"))
    assert "SECRET" not in repr(ReplayProxy("t:0", ["__main__.SECRET"]))
    assert show(np.arange(3.0)) == "array([0., 1., 2.])"


def test_a_message_carries_only_a_few_numbers_of_a_students_value():
    """A student's value reaches a message only as a few numbers, its kind and size: no text it holds,
    no long integer, no long list or array (the feedback would be a channel out of the grading kernel)."""
    from dlcourse.testing import MAX_ITEMS, describe, show

    secret = int.from_bytes(b"from dlcourse.instructor import ref_optim", "big")
    assert describe(secret).startswith("an integer of ") and str(secret) not in show(secret)
    assert describe(["ref_optim", "QUESTIONS"]) == "[a string of 9 characters, a string of 9 characters]"
    assert describe("ref_optim") == "a string of 9 characters"
    assert describe(list(range(MAX_ITEMS + 1))) == f"a list of {MAX_ITEMS + 1} items"
    assert describe([[1, 2], 3]) == "[a list of 2 items, 3]"
    assert describe(np.arange(MAX_ITEMS + 1.0)) == f"an array of shape ({MAX_ITEMS + 1},) and dtype float64"
    assert describe(np.arange(3.0)) == "array([0., 1., 2.])"
    assert describe(np.array("ref_optim")) == "a string of 9 characters"
