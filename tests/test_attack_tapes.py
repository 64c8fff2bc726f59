"""Attacks on the tapes: what the judge reads, in what order, and how much of it.

Each attack is written as a student would, from answers that deserve less than they would get
if it worked. The batch grades them beside two clean students through the real sandboxed path
(`dlcourse autograde`), one grading process, while a sampler records the peak memory of the
grading process and of its judge server (`peaks`). The cheap, in-process cases come first.
"""

from __future__ import annotations

import csv
import json
import os
import threading
import time

import nbformat
import pytest
from conftest import ROOT
from hostile_corpus import HIDDEN_MARK, WRONG, A, _with_cell
from test_grading import _course, dlcourse

from dlcourse.classroom.demo import student_notebook, write_submission

pytestmark = pytest.mark.xdist_group("tapes")

TAPE = "application/vnd.dlcourse.tape+json"
# references to one empty list: 200 MB in the kernel, 25 M objects once parsed (fewer: the run
# against the unchanged grader, which parses them all)
FLOOD_REFS = int(os.environ.get("DLCOURSE_FLOOD_REFS", "25000000"))
LIMITS = {"DLCOURSE_CELL_TIMEOUT": "60", "DLCOURSE_MEMORY_MB": "3000", "DLCOURSE_TAPE_MB": "4"}


# -- in process: the scan, the budget, the order --------------------------------------------------
def test_the_scan_counts_and_measures_without_parsing():
    from dlcourse.grader.tapes import scan

    assert scan('{"a": "[[[[", "b": [1, {"c": 2}]}') == (5, 3)  # brackets inside strings do not count
    assert scan("[" * 300 + "]" * 300, max_depth=128)[1] > 128
    items, _ = scan(json.dumps([[]] * 2_000_000), max_items=1_000_000)
    assert items > 1_000_000


def test_one_budget_per_notebook_and_floods_are_refused_unread():
    from dlcourse.grader.tapes import TapeRecorder

    event = json.dumps({"test": "t", "event": {"op": "value", "name": "x", "result": "A" * 900_000}})
    tapes = TapeRecorder(limit_bytes=2 * 2**20)
    for gid in ("test_a", "test_b", "test_c"):  # each under the old per-cell budget, together over
        tapes.start(gid)
        tapes.add(gid, event)
    assert tapes.tapes["test_a"] and tapes.tapes["test_b"] and "test_c" not in tapes.tapes or not tapes.tapes["test_c"]
    assert "passed 2 MB in total" in tapes.broken["test_c"]
    tapes = TapeRecorder(limit_bytes=2**30)
    tapes.start("test_a")
    assert "more than 1,000,000 values" in tapes.add("test_a", json.dumps([[]] * 1_500_000))
    tapes.start("test_b")
    assert "nested more than" in tapes.add("test_b", "[" * 10_000 + "]" * 10_000)


def test_a_large_message_is_scanned_before_the_client_parses_it(monkeypatch):
    from types import SimpleNamespace

    from jupyter_client.session import Session

    from dlcourse.grader import sandbox
    from dlcourse.grader.tapes import TapeRecorder

    ex = sandbox.SandboxedExecute()
    ex._tapes, ex._output_limit, ex.kc = TapeRecorder(4 * 2**20), 2**20, SimpleNamespace(session=Session())
    monkeypatch.setattr(sandbox, "MESSAGE_FLOOR", 16 * 2**20)
    ex._bound_messages()
    unpack = ex.kc.session.unpack
    long_error = json.dumps({"ename": "E", "evalue": "E" * 10_000_000, "traceback": []}).encode()
    assert unpack(long_error)["evalue"] == "E" * 10_000_000  # parsed, then cut like any output
    assert "1,000,000 values" in unpack(json.dumps({"data": [[]] * 2_000_000}).encode())[sandbox.REFUSED]
    assert "nested more than" in unpack(b"[" * 100_000 + b"]" * 100_000)[sandbox.REFUSED]
    assert "a message of 19 MB" in unpack(json.dumps({"text": "x" * 20_000_000}).encode())[sandbox.REFUSED]


CALL = {"op": "call", "name": "scale", "result": 1.0, "changed": []}


@pytest.mark.parametrize("events, tagged, why", [
    ([{"op": "value", "name": "q", "result": "a"}, {"op": "value", "name": "q", "result": "b"}], None,
     "an answer twice"),
    ([CALL, {"op": "value", "name": "q", "result": "b"}], None, "after its first call"),
    ([CALL], "test_other", "another test"),
], ids=["duplicate-value", "value-after-a-call", "another-test"])
def test_a_tape_this_test_could_not_have_made_fails_it(events, tagged, why):
    from dlcourse.grader.tapes import decode_tape

    with pytest.raises(ValueError, match=why):
        decode_tape("test_scale", [json.dumps({"test": tagged or "test_scale", "event": e}) for e in events])


def test_events_after_the_last_call_fail_the_test():
    from test_judging import SOLUTION, judge, record

    tapes = record([SOLUTION])
    assert judge(tapes).passed
    tapes["test_scale"] = tapes["test_scale"] + [dict(tapes["test_scale"][-1])]
    verdict = judge(tapes)
    assert not verdict.passed and "after its last call" in verdict.message


# -- the attacks, through the sandboxed grading path ----------------------------------------------
LEAK = """
import glob, linecache, os
_texts = [*get_ipython().user_ns.get('In', []), *get_ipython().user_ns.get('_ih', []),
          *[''.join(e[2]) for e in list(linecache.cache.values()) if len(e) > 2 and e[2]]]
_texts += [open(p).read() for p in glob.glob('/tmp/ipykernel_*/*.py')]
try:
    _texts += [s for _, _, s in get_ipython().history_manager.get_range(raw=True)]
except Exception:
    pass
_mark, _begin = MARK_START + MARK_END, '### BEGIN ' + 'HIDDEN'  # this cell's own text holds neither
_found = [t for t in _texts if _mark in t and _begin in t]
q_uniform_loss = _found[0][_found[0].index(_begin):][:700] if _found else 2.303
""".replace("MARK_START", repr(HIDDEN_MARK[:5])).replace("MARK_END", repr(HIDDEN_MARK[5:]))

# The graded softmax is the wrong one; on its first call in test_softmax it leaves placeholders
# that a later cell rewrites (display_id) into call events with the right answers, which an
# ordinary cell computes there for the inputs it kept.
REWRITE_ANSWER = WRONG["softmax"].replace("def softmax(z):\n", """def softmax(z):
    from IPython.display import display
    import dlcourse.judging
    if dlcourse.judging._STATE.test == 'test_softmax':
        if not _seen:
            for i in range(40):
                display({'text/plain': ''}, raw=True, display_id=f'slot-{i}')
        _seen.append(np.array(z, dtype=float))
""")
REWRITE_LATER = """
from IPython.display import update_display
from dlcourse.judging import _npy

def _right(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)

for i, z in enumerate(_seen[:40]):
    event = {'op': 'call', 'name': 'softmax', 'result': {'__ndarray__': _npy(_right(z))}, 'changed': []}
    update_display({'application/vnd.dlcourse.tape+json': {'test': 'test_softmax', 'event': event}},
                   raw=True, display_id=f'slot-{i}')
"""


def _flood_answer(payload: str) -> str:
    """The right softmax, which pads test_softmax's recording once with `payload` (a value whose
    name is no exercise: the judge once skipped it)."""
    return ("def softmax(z):\n    from IPython.display import display\n    import json\n"
            "    import dlcourse.judging\n"
            "    if not _padded and dlcourse.judging._STATE.test == 'test_softmax':\n        _padded.append(1)\n"
            f"        display({{'{TAPE}': {payload}}}, raw=True)\n"
            "    z = np.asarray(z, dtype=float)\n    e = np.exp(z - z.max(axis=-1, keepdims=True))\n"
            "    return e / e.sum(axis=-1, keepdims=True)\n")


FLOODS = {
    "flood-refs": "{'test': 'test_softmax', 'event': {'op': 'value', 'name': 'pad', "
                  f"'result': [[]] * {FLOOD_REFS}}}}}",
    "flood-refs-as-text": "json.dumps({'test': 'test_softmax', 'event': {'op': 'value', 'name': 'pad', "
                          f"'result': [[]] * {FLOOD_REFS}}}}})",
    "flood-deep": "'{\"test\": \"test_softmax\", \"event\": {\"op\": \"value\", \"name\": \"pad\", "
                  "\"result\": ' + '[' * 200_000 + ']' * 200_000 + '}}'",
}

# every test cell's recording 1.5 MB (under the old 4 MB of each cell), 12 MB in all
PAD_EACH_TEST = """
import json
from IPython.display import display
import dlcourse.judging as _judging
_padded_tests = set()

def _pad():
    test = _judging._STATE.test
    if test and test not in _padded_tests and _judging.mode() == 'record':
        _padded_tests.add(test)
        event = {'op': 'value', 'name': 'pad', 'result': 'A' * 1_500_000}
        display({'application/vnd.dlcourse.tape+json': json.dumps({'test': test, 'event': event})}, raw=True)
"""


def _write_students(course):
    def put(student, nb):
        folder = course / "submitted" / student / A
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{A}.ipynb")

    write_submission(ROOT, course / "submitted" / "reference" / A, A, {})
    write_submission(ROOT, course / "submitted" / "wrong-twin" / A, A, WRONG)
    put("leak-history", student_notebook(ROOT, A, {"q_uniform_loss": LEAK}))
    nb = _with_cell(ROOT, "_seen = []\n", at_start=True, base="wrong")
    nb = _replace_answer(nb, "softmax", REWRITE_ANSWER)
    nb.cells.append(nbformat.v4.new_code_cell(REWRITE_LATER))
    put("display-id-rewrite", nb)
    for name, payload in FLOODS.items():
        nb = _with_cell(ROOT, "_padded = []\n", at_start=True)
        put(name, _replace_answer(nb, "softmax", _flood_answer(payload)))
    nb = _with_cell(ROOT, PAD_EACH_TEST, at_start=True)
    for exercise in ("softmax", "cross_entropy"):
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == exercise)
        cell.source = cell.source.replace("):\n", "):\n    _pad()\n", 1)
    put("flood-many-cells", nb)


def _replace_answer(nb, exercise: str, code: str):
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == exercise)
    cell.source = code
    return nb


class PeakMemory(threading.Thread):
    """The peak resident memory of each kind of this test's grading processes (psutil, every 50 ms;
    this process's descendants only: other graders may run on the machine)."""

    KINDS = {"worker": "dlcourse.grader.worker", "judge-server": "dlcourse.grader.judge"}

    def __init__(self):
        super().__init__(daemon=True)
        self.peaks = dict.fromkeys(self.KINDS, 0.0)
        self.done = threading.Event()

    def run(self):
        import psutil

        while not self.done.wait(0.05):
            for proc in psutil.Process().children(recursive=True):
                try:
                    line, rss = " ".join(proc.cmdline()), proc.memory_info().rss
                except psutil.Error:
                    continue
                for kind, module in self.KINDS.items():
                    if module in line and "--serve" in line:
                        self.peaks[kind] = max(self.peaks[kind], rss / 2**20)


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    course = _course(tmp_path_factory.mktemp("tapes"))
    _write_students(course)
    sampler = PeakMemory()
    sampler.start()
    started = time.monotonic()
    run = dlcourse(course, "autograde", A, "--workers", "1", timeout=1800, **LIMITS)
    seconds = time.monotonic() - started
    sampler.done.set()
    sampler.join()
    scores, notes = {}, {}
    with open(course / "reports" / A / "grades.csv", newline="") as f:
        for row in csv.DictReader(f):
            scores[row["student"]] = float(row["score"])
    for marker in (course / "autograded").glob(f"*/{A}/.dlcourse-graded.json"):
        notes[marker.parent.parent.name] = marker.read_text()
    print(f"\ntape attacks: {json.dumps(scores)}\npeak MB {json.dumps(sampler.peaks)}; {seconds:.0f} s")
    return {"course": course, "run": run, "scores": scores, "notes": notes, "peaks": sampler.peaks}


@pytest.mark.slow
def test_the_batch_finishes_and_clean_students_are_not_noted(attacked):
    assert attacked["run"].returncode == 0, attacked["run"].stderr[-3000:]
    assert attacked["scores"]["reference"] > attacked["scores"]["wrong-twin"]
    for student in ("reference", "wrong-twin"):
        assert '"notices": []' in attacked["notes"][student], attacked["notes"][student]


@pytest.mark.slow
def test_no_hidden_test_text_reaches_the_feedback(attacked):
    course = attacked["course"]
    run = dlcourse(course, "feedback", A)
    assert run.returncode == 0, run.stderr[-2000:]
    page = (course / "feedback" / "leak-history" / A / f"{A}.html").read_text()
    assert HIDDEN_MARK not in page and "BEGIN HIDDEN" not in page
    assert HIDDEN_MARK not in attacked["notes"]["leak-history"]


@pytest.mark.slow
def test_a_later_cell_cannot_rewrite_a_tests_recording(attacked):
    assert attacked["scores"]["display-id-rewrite"] <= attacked["scores"]["wrong-twin"]


@pytest.mark.slow
@pytest.mark.parametrize("student, said", [
    ("flood-refs", "refused unread"), ("flood-refs-as-text", "this test's recording was"),
    ("flood-deep", "nested more than"), ("flood-many-cells", "in total")])
def test_a_flood_costs_its_test_and_is_noted(attacked, student, said):
    scores = attacked["scores"]
    assert scores[student] < scores["reference"], f"{student}: {scores[student]} points"
    assert said in attacked["notes"][student], attacked["notes"][student][:2000]


@pytest.mark.slow
def test_the_flood_stays_out_of_the_graders_memory(attacked):
    """25 M references parsed would take gigabytes (6.2 GB in the grading process, 2.0 GB in the
    judge server before); scanned and refused, neither passes a few hundred MB."""
    peaks = attacked["peaks"]
    assert 0 < peaks["worker"] < 1500 and 0 < peaks["judge-server"] < 1500, peaks
