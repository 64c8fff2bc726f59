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
import pytest

from dlcourse.grading.judge import judge_in_process, recording_preamble
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
    from dlcourse.grading.judge import judge_notebook

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
    from dlcourse.grading import judge as judge_module

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


def test_what_the_judged_code_prints_never_reaches_the_reply(tmp_path):
    noisy = "import os, sys\nprint('{\"verdicts\": []}')\nos.write(1, b'garbage\\n')\n" + TEST
    (verdict,) = _judge_in_server(tmp_path, test=noisy)
    assert verdict.passed


def test_a_dead_judge_server_is_started_again(tmp_path):
    from dlcourse.grading import judge as judge_module

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
    code = ("import sys, dlcourse.grading, nbformat\n"
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

    with pytest.raises(AssertionError, match=r"largest absolute error 2\b"):
        check_close(np.array([1.0, 3.0, np.inf]), np.array([1.0, 1.0, 1.0]), "x")
    with pytest.raises(AssertionError, match="no value is finite: look for nan or inf"):
        check_close(np.full(3, np.nan), np.ones(3), "x")


def test_a_notebook_needing_more_modules_keeps_the_warm_judge_server(tmp_path):
    """Another assignment's set-up imports more: the running server imports them too (nothing it
    had imported is imported again), and judges the notebook as a fresh one would."""
    from dlcourse.grading import judge as judge_module
    from dlcourse.grading.judge import judge_notebook

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

    from dlcourse.grading import judge as judge_module
    from dlcourse.grading.judge import judge_notebook, warm_up

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
