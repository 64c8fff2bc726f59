"""Issue 27, item 2: the grading kernel runs each hidden block's driver (`dlcourse.grader.driver`), never
its checks, expected values, references, messages or comments. The fixtures (tests/test_fixtures.py)
run the same copy, so a driver that lost a call into the student's code fails them."""

from __future__ import annotations

import ast
import json
import textwrap

import nbformat
import pytest
from conftest import ROOT

from dlcourse.cells import exercises, is_test_cell
from dlcourse.grader.driver import (
    CHECKS,
    HIDDEN_BLOCK,
    DriverError,
    driver_only,
    kernel_copy,
    known_names,
    read_elsewhere,
)

SOURCES = sorted((ROOT / "source").glob("0*/0*.ipynb"))
NOTEBOOKS = {path.stem: nbformat.read(path, as_version=4) for path in SOURCES}
CONTEXT = {stem: (exercises(nb), known_names(nb), read_elsewhere(nb)) for stem, nb in NOTEBOOKS.items()}
TEST_CELLS = [(stem, cell.metadata["nbgrader"]["grade_id"], cell.source)
              for stem, nb in NOTEBOOKS.items() for cell in nb.cells
              if is_test_cell(cell) and "BEGIN HIDDEN TESTS" in cell.source]


def _hidden(source: str) -> str:
    return "\n".join(m.group(1) for m in HIDDEN_BLOCK.finditer(source))


def _kernel_hidden(source: str, names=(), known=(), elsewhere=()) -> str:
    """What the kernel copy holds in place of the hidden blocks."""
    copy = kernel_copy(source, names, known, elsewhere)
    for part in HIDDEN_BLOCK.split(source)[::2]:
        assert part in copy, "the visible part must reach the kernel as released"
    return driver_only(source, names, known, elsewhere)


def _words(node: ast.AST) -> set[str]:
    return {sub.value for sub in ast.walk(node)
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and len(sub.value.split()) >= 3}


def _check_texts(block: str) -> set[str]:
    """The messages and hints of the block (pieces of three words or more: the arguments after the first of its
    checks and check helpers, `hint=`, what an assert or a raise says), and its comments."""
    texts = set()
    for node in ast.walk(ast.parse(block)):
        name = node.func.id if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) else ""
        if name in CHECKS or name.lstrip("_").startswith("check_") or name == "_same":
            for arg in [*node.args[1:], *(k.value for k in node.keywords)]:
                texts |= _words(arg)
        if isinstance(node, ast.keyword) and node.arg == "hint":
            texts |= _words(node.value)
        if isinstance(node, ast.Assert) and node.msg is not None:
            texts |= _words(node.msg)
        if isinstance(node, ast.Raise) and node.exc is not None:
            texts |= _words(node.exc)
    texts.update(line.split("#", 1)[1].strip() for line in block.splitlines()
                 if "#" in line and len(line.split("#", 1)[1].strip()) >= 12 and '"' not in line and "'" not in line)
    return texts


def test_every_hidden_block_is_covered():
    assert len(TEST_CELLS) >= 130, len(TEST_CELLS)  # the nine notebooks' hidden blocks


@pytest.mark.parametrize("notebook, grade_id, source", TEST_CELLS, ids=[f"{n}/{g}" for n, g, _ in TEST_CELLS])
def test_the_kernel_gets_no_check_reference_or_message_of_a_hidden_test(notebook, grade_id, source):
    refs = {a.asname or a.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)
            and (node.module or "").startswith("dlcourse.instructor") for a in node.names}
    names, known, elsewhere = CONTEXT[notebook]
    kernel = _kernel_hidden(source, names, known, elsewhere[grade_id])
    tree = ast.parse(kernel)  # it runs: it must parse
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            # check_shape gives the array back in the kernel (how a value such as `arr = check_shape(...)` is
            # made there): its shape and name stay with the judge
            assert node.func.id not in CHECKS or ast.unparse(node).endswith(", (), '')"), ast.unparse(node)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in refs:
            assert node.attr == "_", f"a reference expression reached the kernel: {ast.unparse(node)}"
    for text in _check_texts(_hidden(source)):
        assert text not in kernel, text


def test_what_the_driver_keeps_and_drops():
    source = textwrap.dedent('''\
        """visible docstring"""
        got = softmax(z)
        ### BEGIN HIDDEN TESTS
        from dlcourse.instructor import reference as ref

        # a comment of the hidden test
        def _reference(v):
            return ref.softmax(v) * 2.0

        rng = np.random.default_rng(3)
        x = rng.normal(size=4)
        expected = _reference(x)
        check_close(softmax(x), expected, "softmax of a random vector", hint="subtract the maximum")
        check_close(net.loss(x), ref.loss(rng.normal(size=2)), f"loss {show(x)} secret", atol=1e-3)
        check(abs(float(len(x)) - 4.0) < 1e-9, "a pure check leaves nothing")
        n = len(net.history)
        check(n == 17, f"seventeen secret {n}")
        arr = check_shape(softmax(x), (4,), "shape secret")
        assert softmax(x).sum() > 0.5, "assert secret"
        check(net.depth == 23, "the other side of a comparison stays with the judge")
        check("relu_secret" in net.kinds and net.width <= 64, "`in` iterates the student's value")
        check(all(abs(k - 0.25) < 1e-7 for k in net.sizes), "all() evaluates every element's parts")
        check(np.all(net.mask == np.arange(4) % 2), "a comparison numpy reduces")
        if mode() != "record":
            check(slow_secret_training() > 0.9, "outside the kernel only")
        ### END HIDDEN TESTS
        passed("softmax")
        ''')
    copy = kernel_copy(source, ["softmax", "net"])
    assert copy.startswith('"""visible docstring"""\ngot = softmax(z)\n') and copy.endswith('passed("softmax")\n')
    assert _kernel_hidden(source).split() == textwrap.dedent('''\
        from dlcourse.instructor import reference as ref
        rng = np.random.default_rng(3)
        x = rng.normal(size=4)
        softmax(x)
        net.loss(x)
        rng.normal(size=2)
        n = len(net.history)
        arr = check_shape(softmax(x), (), '')
        softmax(x).sum()
        net.depth
        __import__('dlcourse.judging').judging.iterated(net.kinds)
        net.width
        [(abs(k - 0.25),) for k in net.sizes]
        net.mask
        ''').split()
    for secret in ("comment", "secret", "subtract", "1e-3", "17", "BEGIN HIDDEN", "ref.softmax", "ref.loss",
                   "_reference", "2.0", "slow_secret_training", "0.5", "23", "64", "1e-7", "arange"):
        assert secret not in copy, secret


@pytest.mark.parametrize("marker", ["    ### BEGIN HIDDEN TESTS", "# BEGIN HIDDEN TESTS", "### BEGIN HIDDEN TESTS  "])
def test_a_marker_the_driver_cannot_place_is_refused(marker):
    """nbgrader hides any line holding the marker; a block the driver did not find would reach the kernel whole."""
    source = f"x = 1\n{marker}\ncheck(x == 1, 'secret')\n### END HIDDEN TESTS\n"
    with pytest.raises(DriverError):
        kernel_copy(source)


def test_a_hidden_block_that_does_not_parse_is_refused():
    with pytest.raises(DriverError):
        kernel_copy("x = 1\n### BEGIN HIDDEN TESTS\n%timeit f(x)\n### END HIDDEN TESTS\n")


def test_grading_refuses_an_assignment_whose_driver_cannot_be_made():
    """Before anyone is graded (`worker.unjudged_sources`): an instructor's mistake, never a student's 0."""
    from dlcourse.grader.worker import undriven_sources

    nb = nbformat.read(SOURCES[1], as_version=4)  # a copy of its own: the module's notebooks stay as read
    test = next(c for c in nb.cells if is_test_cell(c) and "BEGIN HIDDEN" in c.source)
    test.source = test.source.replace("### BEGIN HIDDEN TESTS", "  ### BEGIN HIDDEN TESTS", 1)
    with pytest.raises(RuntimeError, match=test.metadata["nbgrader"]["grade_id"]):
        undriven_sources({SOURCES[1].stem: nb})
    undriven_sources(NOTEBOOKS)  # the course's own: all fine


def _hidden_cell(*lines: str) -> str:
    return "\n".join(["### BEGIN HIDDEN TESTS", *lines, "### END HIDDEN TESTS"]) + "\n"


def test_an_assignment_the_rest_of_the_notebook_reads_is_kept():
    """Dead code is what nothing reads: neither the driver, nor the visible part, nor another cell (a later
    test, or the student's code through a global the exercise reads)."""
    cell = _hidden_cell("shared = np.arange(3)", "unused = np.arange(4)", "check(f(shared), 'x')")
    assert "unused" not in kernel_copy(cell, ["f"]) and "shared = np.arange(3)" in kernel_copy(cell, ["f"])
    cell = _hidden_cell("NUM_EPOCHS = 3", "loss_fn = _stand_in", "check(len(train()) == 3, 'x')")
    assert "NUM_EPOCHS" not in kernel_copy(cell, ["train"])
    kept = kernel_copy(cell, ["train"], elsewhere={"NUM_EPOCHS", "loss_fn"})
    assert "NUM_EPOCHS = 3" in kept and "loss_fn = _stand_in" in kept


# -- the same tape: the driver in the kernel, the whole cell in the judge -----------------------------------
def _record(solution: str, cell: str, names: list[str]) -> tuple[list[dict], BaseException | None]:
    from dlcourse import judging

    events: list[dict] = []
    emit, judging._emit = judging._emit, events.append
    judging.forget()
    namespace: dict = {}
    try:
        exec(PRELUDE + solution, namespace)
        judging.begin_recording("t", names, namespace)
        error = None
        try:
            exec(cell, namespace)
        except Exception as exc:  # noqa: BLE001 - what the kernel would show
            error = exc
        judging._end_recording()
    finally:
        judging._emit = emit
        judging.forget()
    return events, error


def _judge(solution: str, cell: str, names: list[str], events: list[dict]):
    """The grader's own judge (`judge_in_process`) on a source notebook of the set-up, the exercises'
    solution cells and the test cell, with the driver's tape."""
    from dlcourse.grader.judge import judge_in_process

    setup = nbformat.v4.new_code_cell(PRELUDE)
    setup.metadata["tags"] = ["setup"]
    solutions = []
    for i, name in enumerate(names):  # the exercises' cells: the judge replays their calls from the tape
        sol = nbformat.v4.new_code_cell(solution if i == 0 else "")
        sol.metadata["nbgrader"] = {"grade": False, "solution": True, "grade_id": name, "locked": False}
        solutions.append(sol)
    test = nbformat.v4.new_code_cell(cell)
    test.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "t", "points": 1, "locked": True}
    source = nbformat.v4.new_notebook(cells=[setup, *solutions, test], metadata={"dlcourse": {"judged": True}})
    (verdict,) = judge_in_process(source, {"t": events})
    return verdict


PRELUDE = "import numpy as np\nimport torch\nfrom torch import nn\nfrom dlcourse.testing import *\n"
DEQUE = """
from collections import deque
def train(n):
    d = deque()
    for i in range(n):
        d.appendleft(1.0 / (n - i))
    return d
"""
SOFTMAX = """
def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
"""
VALUE = """
class Value:
    def __init__(self, data): self.data = data
    def __mul__(self, o): return Value(self.data * (o.data if isinstance(o, Value) else o))
"""
ENERGY = """
def energy(x):
    return float((torch.as_tensor(x) ** 2).mean())
"""
GLOBAL = """
loss_fn = None
def train_step(p):
    return 2.0 * loss_fn(p)
"""
SAME_TAPE = {  # name: (solution, names, test cell) - each a correct answer that must pass
    "len, iteration and formatting of a returned deque": (DEQUE, ["train"], """
        ### BEGIN HIDDEN TESTS
        losses = train(5)
        check(len(losses) == 5, f"five losses, got {len(losses)}")
        check(all(v > 0 for v in losses), "positive")
        check_close(losses[-1], 0.2, "last loss")
        ### END HIDDEN TESTS
        """),
    # the whole cell in the kernel skipped `softmax(-x)` there (the reference's placeholder is falsy): a
    # correct answer failed; the driver evaluates all of a check's `and`
    "a student call after a reference's value in a check's `and`": (SOFTMAX, ["softmax"], """
        from dlcourse.instructor import reference as ref
        ### BEGIN HIDDEN TESTS
        x = np.arange(6.0).reshape(2, 3)
        check(ref.norm_rel_error(softmax(x), ref.softmax(x)) < 1e-7 and softmax(-x).sum() > 0, "softmax")
        ### END HIDDEN TESTS
        """),
    "a student call inside a reference call inside arithmetic": (SOFTMAX, ["softmax"], """
        from dlcourse.instructor import reference as ref
        ### BEGIN HIDDEN TESTS
        x = np.arange(6.0).reshape(2, 3)
        err = 2 * ref.norm_rel_error(softmax(x), ref.softmax(x))
        check(err < 1e-7, "softmax")
        ### END HIDDEN TESTS
        """),
    "operators on a returned object in a check": (VALUE, ["Value"], """
        ### BEGIN HIDDEN TESTS
        a = Value(2.0)
        check((a * 3) is not None, "")
        check_close((a * a).data, 4.0, "a*a")
        ### END HIDDEN TESTS
        """),
    "an assert caught by the test": (SOFTMAX, ["softmax"], """
        ### BEGIN HIDDEN TESTS
        x = np.arange(3.0)
        try:
            assert softmax(x)[0] > 0.5, "secret"
        except AssertionError:
            y = softmax(-x)
        check_close(y.sum(), 1.0, "sum")
        ### END HIDDEN TESTS
        """),
    "an input changed in place by numpy (fill_diagonal, out=)": (SOFTMAX, ["softmax"], """
        ### BEGIN HIDDEN TESTS
        z = np.zeros((3, 3))
        np.fill_diagonal(z, 5.0)
        np.multiply(z, 2.0, out=z)
        check_close(softmax(z)[0, 0], np.exp(10) / (np.exp(10) + 2), "diagonal")
        ### END HIDDEN TESTS
        """),
    "a network built for the judge only draws from torch's generator": (ENERGY, ["energy"], """
        from dlcourse.instructor import reference as ref
        ### BEGIN HIDDEN TESTS
        torch.manual_seed(0)
        teacher = nn.Linear(4, 3)
        want = ref.softmax(teacher.weight.detach().numpy())
        x = torch.randn(8, 4)
        check_close(energy(x), float((x ** 2).mean()), "energy of a random batch", rtol=1e-6)
        ### END HIDDEN TESTS
        """),
    "a global the student's code reads, set by the test": (GLOBAL, ["train_step"], """
        ### BEGIN HIDDEN TESTS
        def _stand_in(p):
            return 1.0
        loss_fn = _stand_in
        check_close(train_step(np.array([0.5])), 2.0, "train_step doubles whatever loss_fn gives")
        ### END HIDDEN TESTS
        """),
    "a returned object read inside a lambda, and its truth in a check's `and`": (DEQUE, ["train"], """
        ### BEGIN HIDDEN TESTS
        losses = train(5)
        check(losses and len(losses) == 5, "five")
        check(sorted(range(5), key=lambda i: losses[i]) == [4, 3, 2, 1, 0], "falling")
        ### END HIDDEN TESTS
        """),
    "the truth of a returned object in an assert": (DEQUE, ["train"], """
        ### BEGIN HIDDEN TESTS
        losses = train(3)
        assert losses, "some losses"
        ### END HIDDEN TESTS
        """),
    "a name of the test that shadows a builtin": (VALUE, ["Value"], """
        ### BEGIN HIDDEN TESTS
        sum = Value(1.0) * 3
        check_close(sum.data, 3.0, "three")
        ### END HIDDEN TESTS
        """),
    "an assert and numpy's assertion against a reference": (SOFTMAX, ["softmax"], """
        from dlcourse.instructor import reference as ref
        ### BEGIN HIDDEN TESTS
        x = np.arange(3.0)
        assert np.allclose(softmax(x), ref.softmax(x)), "softmax of 0, 1, 2"
        np.testing.assert_allclose(softmax(-x), ref.softmax(-x), err_msg="secret")
        ### END HIDDEN TESTS
        """),
    # the driver keeps a comparison's sides, not the comparison: `in` on a returned object iterates it there
    "`in`, `all` and comparisons on a returned deque": (DEQUE, ["train"], """
        ### BEGIN HIDDEN TESTS
        losses = train(4)
        check(0.25 in losses and 7 not in losses, "a quarter")
        check(all(abs(v - 1 / k) < 1e-12 for v, k in zip(losses, range(1, 5))), "1, 1/2, 1/3, 1/4")
        check(np.all(np.asarray(losses, dtype=float) > 0.2), "above a fifth")
        check(sorted(losses)[-1] == 1.0, "the last loss is 1")
        ### END HIDDEN TESTS
        """),
    # review: `all` of returned objects takes each one's truth (a `len` event on a deque); an `all` whose value
    # is compared (`is False`) stops early in a passing answer, so it stays whole; a check's bare condition
    "`all` of returned objects, `all(...) is False`, a returned object as a check's condition": (DEQUE, ["train"], """
        ### BEGIN HIDDEN TESTS
        check(all(train(k) for k in range(1, 4)), "each run gives losses")
        check(all(len(train(k)) < 2 for k in range(4)) is False, "longer runs, more losses")
        check(train(2), "some losses")
        ### END HIDDEN TESTS
        """),
    "a random draw inside a check's expected value": (SOFTMAX, ["softmax"], """
        from dlcourse.instructor import reference as ref
        ### BEGIN HIDDEN TESTS
        rng = np.random.default_rng(0)
        check_close(softmax(np.zeros(3)), ref.softmax(rng.normal(size=3)) * 0 + 1 / 3, "uniform")
        z = rng.normal(size=3)
        check_close(softmax(z), ref.softmax(z), "random")
        ### END HIDDEN TESTS
        """),
}


# a reference's placeholder is falsy in the kernel: the whole cell skipped the student's second call there
WHOLE_CELL_WAS_WRONG = ("a student call after a reference's value in a check's `and`",
                        "an assert and numpy's assertion against a reference",
                        # a check does nothing in the kernel: the whole cell never took `train(2)`'s truth
                        "`all` of returned objects, `all(...) is False`, a returned object as a check's condition")


@pytest.mark.parametrize("name", SAME_TAPE)
def test_the_driver_records_what_the_whole_cell_records(name):
    """In process, as in the grading kernel and the judge: the driver's tape is the whole cell's, and the
    judge (running the whole cell) passes the correct answer on it."""
    solution, names, cell = SAME_TAPE[name]
    cell = textwrap.dedent(cell)
    whole, whole_error = _record(solution, cell, names)
    reads = {n.id for n in ast.walk(ast.parse(solution)) if isinstance(n, ast.Name)}  # the student's globals
    driven, driven_error = _record(solution, kernel_copy(cell, names, elsewhere=reads), names)
    if name not in WHOLE_CELL_WAS_WRONG:
        assert [e.get("op") for e in driven] == [e.get("op") for e in whole]
    assert driven_error is None, driven_error
    verdict = _judge(solution, cell, names, driven)
    assert verdict.passed, verdict.detail


FRAME_READER = """
import sys
def magic():
    frame = sys._getframe(1)
    while frame is not None:  # the constants of every caller's code: the test's bound, if it is there
        found = [c for c in frame.f_code.co_consts if type(c) is int and 4000 < c < 5000]
        if found:
            return found[0]
        frame = frame.f_back
    return 0
"""


def test_an_answer_that_reads_its_callers_constants_finds_no_expected_value():
    """The attack: an answer that returns whatever bound its caller's code holds. With the comparison in
    the kernel (the whole cell, as the driver sent `magic() == 4242` before a2f97f4) it scores; with the
    driver, which sends `magic()` alone, it finds nothing."""
    cell = textwrap.dedent("""
        ### BEGIN HIDDEN TESTS
        check(magic() == 4242, "the number of parameters")
        ### END HIDDEN TESTS
        """)
    whole, _ = _record(FRAME_READER, cell, ["magic"])
    assert _judge(FRAME_READER, cell, ["magic"], whole).passed  # the comparison in the kernel: forged
    driver = kernel_copy(cell, ["magic"])
    assert "4242" not in driver
    driven, error = _record(FRAME_READER, driver, ["magic"])
    assert error is None and not _judge(FRAME_READER, cell, ["magic"], driven).passed


def test_comparing_a_recorded_object_makes_no_event():
    """A returned object (a deque) compared with an array is compared by identity in kernel and judge:
    numpy defers to it (`judging.PROXY_PRIORITY`) instead of reading it through `len` and `[i]` (events the
    driver, which withholds the array, would not make). Its numbers are judged only once recorded by value."""
    cell = textwrap.dedent("""
        ### BEGIN HIDDEN TESTS
        losses = train(2)
        check(losses == np.array([0.5, 1.0]), "as an array")
        ### END HIDDEN TESTS
        """)
    whole, _ = _record(DEQUE, cell, ["train"])
    driven, error = _record(DEQUE, kernel_copy(cell, ["train"]), ["train"])
    assert error is None and [e["op"] for e in whole] == [e["op"] for e in driven] == ["call"]
    verdict = _judge(DEQUE, cell, ["train"], driven)
    assert not verdict.passed and "as an array" in verdict.detail, verdict.detail


CAPTURE = '''
def _capture(lines):
    with open({path!r}, "a") as out:
        out.write(json.dumps("".join(lines)) + "\\n")
    return lines
import json
get_ipython().input_transformers_post.append(_capture)
'''


@pytest.mark.slow
def test_an_input_transformer_in_the_kernel_sees_no_hidden_check(tmp_path):
    """The attack of the issue (an input transformer that reads every cell the kernel runs), through the
    recording path the fixtures and grading share: it sees the drivers, not the checks."""
    from dlcourse.instructor.fixtures import run_exercise

    path = ROOT / "source" / "01_softmax_cross_entropy" / "01_softmax_cross_entropy.ipynb"
    seen_file = tmp_path / "seen.jsonl"
    softmax = next(c.source for c in nbformat.read(path, as_version=4).cells
                   if c.metadata.get("nbgrader", {}).get("grade_id") == "softmax")
    results = run_exercise(path, "softmax", CAPTURE.format(path=str(seen_file)) + softmax)
    assert results and all(r.passed for r in results), [(r.grade_id, r.message) for r in results]
    seen = "\n".join(json.loads(line) for line in seen_file.read_text().splitlines())
    assert "rng = np.random.default_rng(101)" in seen  # the test's inputs: the student's code gets them anyway
    for hidden in ("BEGIN HIDDEN", "ref.softmax", "check_unchanged", "normalise over the last axis only",
                   "subtract the maximum of each row", "atol=1e-300"):
        assert hidden not in seen, hidden


def test_grading_puts_the_test_back_after_the_run():
    """The autograded notebook (formgrader's view, the checksums) holds the test cell as the source has it."""
    from dlcourse.grader.preprocessors import AddSentinels, check_sentinels

    source = next(c for c in nbformat.read(SOURCES[1], as_version=4).cells if is_test_cell(c)
                  and "BEGIN HIDDEN" in c.source)
    nb = nbformat.v4.new_notebook(cells=[nbformat.from_dict(json.loads(json.dumps(source)))])
    resources = {"nbgrader": {"notebook": SOURCES[1].stem}}
    AddSentinels(nonce="n0", record={SOURCES[1].stem: ["softmax"]}).preprocess(nb, resources)
    assert "BEGIN HIDDEN" not in nb.cells[0].source  # what the kernel is sent
    check_sentinels(nb, "n0")
    assert nb.cells[0].source == source.source and "dlcourse_full_source" not in nb.cells[0].metadata



# -- subclasses of tuple, list and dict: read by value, through the base class -----------------
SUBCLASSES = """
from collections import OrderedDict, namedtuple
Fit = namedtuple("Fit", "W b")
def fit(n):
    return Fit(np.ones(n), 0.5)
def init_state(n):
    state = OrderedDict(t=0, m=np.zeros(n))
    state.move_to_end("t")
    return state
class Liar(tuple):  # holds zeros, and says ones to whoever iterates or indexes it
    def __iter__(self): return iter((np.ones(3), 0.5))
    def __getitem__(self, i): return (np.ones(3), 0.5)[i]
def lying_fit(n):
    return Liar((np.zeros(n), 0.5))
"""
SUBCLASS_TEST = """
### BEGIN HIDDEN TESTS
got = fit(3)
check_type(got, tuple, "fit(3)")
W, b = got
check_close(W, np.ones(3), "W")
state = init_state(2)
check_type(state, dict, "state")
check(list(state) == ["m", "t"] and state["t"] == 0, "the state's keys, in order")
### END HIDDEN TESTS
"""


def test_a_namedtuple_and_an_ordered_dict_are_judged_as_what_they_hold():
    """A correct answer returning a namedtuple or an OrderedDict failed: the judge saw "an object of a
    class of your own". They are recorded by value now, read through tuple's and dict's own methods."""
    cell = textwrap.dedent(SUBCLASS_TEST)
    names = ["fit", "init_state"]
    events, error = _record(SUBCLASSES, kernel_copy(cell, names, elsewhere={"np"}), names)
    assert error is None, error
    verdict = _judge(SUBCLASSES, cell, names, events)
    assert verdict.passed, verdict.detail


def test_a_tuple_that_lies_when_iterated_is_judged_by_what_it_holds():
    solution = SUBCLASSES.replace("def fit(", "def _fit(").replace("def lying_fit(", "def fit(")
    cell = "### BEGIN HIDDEN TESTS\nW, b = fit(3)\ncheck_close(W, np.ones(3), 'W')\n### END HIDDEN TESTS\n"
    events, error = _record(solution, kernel_copy(cell, ["fit"], elsewhere={"np"}), ["fit"])
    assert error is None, error
    verdict = _judge(solution, cell, ["fit"], events)
    assert not verdict.passed and "Wrong values for W" in verdict.detail, verdict.detail


# -- a condition on a reference's value: the kernel holds a placeholder, so its branch is not the judge's
BRANCHES = {
    "if": "if ref.softmax(x).max() > 0.5:\n    check_close(softmax(x), ref.softmax(x), 'peaked')\n",
    "and/or": "peaked = ref.softmax(x).max() > 0.5 or softmax(x).max()\n",
    "for": "for row in ref.softmax(x):\n    softmax(row)\n",
    "comprehension": "rows = [softmax(r) for r in ref.softmax(x)]\n",
    "comprehension if": "rows = [softmax(r) for r in x if ref.softmax(r).max() > 0.5]\n",
    "through a name": "want = ref.softmax(x)\nif want.max() > 0.5:\n    softmax(x)\n",
    # a second review's ways round the first version
    "a function's parameter": "def f(v):\n    if v.max() > 0.5:\n        softmax(x)\nf(ref.softmax(x))\n",
    "a default argument": "def f(v=ref.softmax(x)):\n    if v.max() > 0.5:\n        softmax(x)\nf()\n",
    "a lambda's parameter": "g = lambda v: softmax(x) if v.max() > 0.5 else None\ng(ref.softmax(x))\n",
    "an attribute store": ("import types\nns = types.SimpleNamespace()\nns.want = ref.softmax(x)\n"
                           "if ns.want.max() > 0.5:\n    softmax(x)\n"),
    "a subscript store": "d = {}\nd['w'] = ref.softmax(x)\nif d['w'].max() > 0.5:\n    softmax(x)\n",
    "an append": "ws = []\nws.append(ref.softmax(x))\nif ws[0].max() > 0.5:\n    softmax(x)\n",
    "a starred literal": "for row in [*ref.softmax(x)]:\n    softmax(row)\n",
    "an assert in a try": ("try:\n    assert ref.softmax(x).max() > 0.5\n    softmax(x)\n"
                           "except AssertionError:\n    pass\n"),
    # a third review's
    "a break": "while True:\n    softmax(x)\n    if ref.softmax(x).max() > 0.5:\n        break\n",
    "setattr": ("import types\nns = types.SimpleNamespace()\nsetattr(ns, 'w', ref.softmax(x))\n"
                "if ns.w.max() > 0.5:\n    softmax(x)\n"),
}


def _branch_cell(body: str) -> str:
    return ("from dlcourse.instructor import reference as ref\n### BEGIN HIDDEN TESTS\n"
            "x = np.array([[0.0, 5.0, 1.0], [2.0, 2.0, 2.0]])\n" + body + "### END HIDDEN TESTS\n")


@pytest.mark.parametrize("construct", BRANCHES)
def test_a_branch_on_a_reference_value_is_refused(construct, monkeypatch):
    """The judge takes the branch the reference's value decides; the kernel, where the reference is a
    placeholder, another one: the tapes differ and a correct answer fails. Refused before grading."""
    from dlcourse.grader import driver

    cell = _branch_cell(BRANCHES[construct])
    with pytest.raises(DriverError, match="decides on a reference's value"):
        kernel_copy(cell, ["softmax"])
    if construct == "if":  # without the refusal: the correct answer fails
        monkeypatch.setattr(driver, "_branch_on_reference", lambda body, reducer: None)
        copy = kernel_copy(cell, ["softmax"], elsewhere={"np"})
        driver._kernel_copy.cache_clear()  # drivers are kept per process: not this one, made without the refusal
        events, error = _record(SOFTMAX, copy, ["softmax"])
        assert not _judge(SOFTMAX, cell, ["softmax"], events).passed


def test_a_loop_over_reference_values_that_runs_alike_is_kept():
    """A literal's length is the judge's too, and a loop whose body reads only the reference's values
    (names bound from the placeholder) produces no event: neither is refused, and the answer passes."""
    cell = _branch_cell(
        "for kind, want in (('rows', ref.softmax(x)), ('cols', ref.softmax(x.T))):\n"
        "    check_close(softmax(x if kind == 'rows' else x.T), want, kind)\n"
        "shapes = [w.shape for w in ref.softmax(x)]\n")
    driven = kernel_copy(cell, ["softmax"], elsewhere={"np"})
    events, error = _record(SOFTMAX, driven, ["softmax"])
    assert error is None, error
    verdict = _judge(SOFTMAX, cell, ["softmax"], events)
    assert verdict.passed, verdict.detail


LIBRARY_CONTAINERS = {  # a correct answer of each kind, and what a test may do with it (a review's table)
    "Counter, a missing key": ("import collections\ndef f(x):\n    return collections.Counter(['a', 'a', 'b'])\n",
                               "c = f(x)\ncheck(c['zzz'] == 0 and c['a'] == 2, 'counts')\n"),
    "defaultdict, a missing key": ("import collections\ndef f(x):\n    d = collections.defaultdict(int)\n"
                                   "    d['a'] += 2\n    return d\n", "c = f(x)\ncheck(c['zzz'] == 0, 'counts')\n"),
    "a namedtuple's field": ("import collections\nP = collections.namedtuple('P', 'loss acc')\n"
                             "def f(x):\n    return P(0.5, 0.9)\n", "r = f(x)\ncheck(r.acc == 0.9, 'acc')\n"),
    "torch.max's indices": ("def f(x):\n    return torch.max(torch.as_tensor(x), 1)\n",
                            "r = f(x)\ncheck(r.indices.tolist() == [1, 0], 'argmax')\n"),
    "torch.Size's numel": ("def f(x):\n    return torch.as_tensor(x).shape\n",
                           "s = f(x)\ncheck(s.numel() == 6, 'numel')\n"),
    # a defaultdict's own factory runs in the kernel only: it stays behind a handle
    "defaultdict(lambda: 0), a missing key": ("import collections\ndef f(x):\n"
                                              "    return collections.defaultdict(lambda: 0, a=2)\n",
                                              "c = f(x)\ncheck(c['zzz'] == 0 and c['a'] == 2, 'counts')\n"),
    "a namedtuple with renamed fields": ("import collections\n"
                                         "P = collections.namedtuple('P', 'loss def', rename=True)\n"
                                         "def f(x):\n    return P(0.5, 0.9)\n",
                                         "r = f(x)\ncheck(r._1 == 0.9, 'acc')\n"),
}


@pytest.mark.parametrize("name", LIBRARY_CONTAINERS)
def test_a_library_container_keeps_its_behaviour_in_the_kernel_and_the_judge(name):
    """Read by value, a Counter, a defaultdict, a namedtuple or a torch tuple is rebuilt as its own kind (a
    namedtuple with the recorded fields) on both sides: a test reading a field or a missing key passes."""
    solution, body = LIBRARY_CONTAINERS[name]
    cell = _branch_cell(body)
    events, error = _record(solution, kernel_copy(cell, ["f"], elsewhere={"np"}), ["f"])
    assert error is None, error
    verdict = _judge(solution, cell, ["f"], events)
    assert verdict.passed, verdict.detail
