"""Correct work gets its points (issue 27, deliverable 6): a notebook from an earlier release,
or with cells deleted, moved or rewritten elsewhere, is graded on what it holds, through the real
`dlcourse autograde`. Each scenario is correct work that nbgrader's own repair (it raised
`KeyError` on a cell whose neighbour was missing too) graded 0/23; the expected scores are the
reference's own points per test, never pasted numbers."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, written_points
from test_grading import _course, _scores, _submit, dlcourse

from dlcourse.cells import exercise_of, exercises, grade_id, is_solution_cell, is_test_cell
from dlcourse.classroom.demo import solution_code, student_notebook

A = "01_softmax_cross_entropy"
EARLIER = ROOT / "tests" / "earlier_releases" / f"{A}_a425aef.ipynb"  # how it was made: its README
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("attack-oldrelease")]


def _cells(nb, *ids: str) -> list:
    return [c for c in nb.cells if grade_id(c) in ids]


def _without(nb, *ids: str):
    nb.cells = [c for c in nb.cells if grade_id(c) not in ids]
    return nb


def _moved_to_end(nb, *ids: str):
    moved = _cells(nb, *ids)
    nb.cells = [c for c in nb.cells if grade_id(c) not in ids] + moved
    return nb


def _deleted_adjacent():
    """A question's answer cell and its test cell, next to each other, deleted."""
    return _without(student_notebook(ROOT, A), "q_softmax_shift", "test_q_softmax_shift")


def _rewritten_elsewhere():
    """softmax written in a cell of the student's own; the answer cell and its first test deleted."""
    nb = student_notebook(ROOT, A)
    answer = _cells(nb, "softmax")[0]
    nb.cells.insert(nb.cells.index(answer), nbformat.v4.new_code_cell(answer.source))
    return _without(nb, "softmax", "test_softmax")


def _moved():
    """A test and a question's answer moved to the end, the question's test deleted."""
    nb = _moved_to_end(student_notebook(ROOT, A), "test_softmax_stability", "q_grad_shape")
    return _without(nb, "test_q_grad_shape")


def _reordered():
    """Renamed ("Copy of …"): the questions gathered at the end, last first, one of them deleted."""
    nb = _moved_to_end(student_notebook(ROOT, A), "q_uniform_loss", "test_q_uniform_loss",
                       "q_softmax_shift", "test_q_softmax_shift")
    return _without(nb, "q_grad_shape", "test_q_grad_shape")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = _course(tmp_path_factory.mktemp("earlier"))
    _submit(course, "reference", student_notebook(ROOT, A))
    _submit(course, "earlier-release", nbformat.read(EARLIER, as_version=4))
    _submit(course, "deleted-adjacent", _deleted_adjacent())
    _submit(course, "rewritten-elsewhere", _rewritten_elsewhere())
    _submit(course, "moved", _moved())
    _submit(course, "renamed-reordered", _reordered(), name=f"Copy of {A}.ipynb")
    run = dlcourse(course, "autograde", A, "--workers", "2", "--quiet")
    assert run.returncode == 0, run.stdout + run.stderr
    return course, _scores(course)


def _marker(course: Path, student: str) -> dict:
    return json.loads((course / "autograded" / student / A / ".dlcourse-graded.json").read_text())


def _test_output(course: Path, student: str, test: str) -> list[dict]:
    nb = nbformat.read(course / "autograded" / student / A / f"{A}.ipynb", as_version=4)
    return [dict(o) for c in _cells(nb, test) for o in c.outputs]


def _tests(scores: dict) -> dict[str, float]:
    return {k: v for k, v in scores.items() if k.startswith("test_")}


def _expect_all_but(graded, student: str, *lost: str) -> None:
    course, scores = graded
    reference = _tests(scores["reference"])
    assert scores["reference"]["total"] == scores["reference"]["max"] - written_points(A) > 0
    assert _marker(course, student)["outcome"] == "graded"
    assert _tests(scores[student]) == {t: 0.0 if t in lost else p for t, p in reference.items()}


def _unchanged_tests(earlier) -> tuple[set[str], set[str]]:
    """The tests in both releases whose exercise's answer is the same, and those whose exercise's
    answer cell the earlier release lacks (computed from the two notebooks, not listed)."""
    source = nbformat.read(ROOT / "source" / A / f"{A}.ipynb", as_version=4)
    names = exercises(source)
    current = {grade_id(c): solution_code(c) for c in source.cells if is_solution_cell(c)}
    answered = {grade_id(c): c.source for c in earlier.cells if is_solution_cell(c)}
    tests_then = {grade_id(c) for c in earlier.cells if is_test_cell(c)}
    unchanged, unanswered = set(), set()
    for test in (grade_id(c) for c in source.cells if is_test_cell(c)):
        exercise = exercise_of(test, names)
        if exercise not in answered:
            unanswered.add(test)
        elif test in tests_then and answered[exercise] == current[exercise]:
            unchanged.add(test)
    return unchanged, unanswered


def test_an_earlier_release_gets_full_marks_on_every_unchanged_exercise(graded):
    course, scores = graded
    earlier = nbformat.read(EARLIER, as_version=4)
    unchanged, unanswered = _unchanged_tests(earlier)
    assert len(unchanged) >= 5 and unanswered  # what makes this test mean something
    reference, got = _tests(scores["reference"]), _tests(scores["earlier-release"])
    assert {t: got[t] for t in unchanged} == {t: reference[t] for t in unchanged}
    assert {t: got[t] for t in unanswered} == dict.fromkeys(unanswered, 0.0)
    marker = _marker(course, "earlier-release")
    assert marker["outcome"] == "graded" and marker["ok"]
    notes = " | ".join(marker["notices"])
    assert "answer cell(s) were deleted or missing from your notebook" in notes and "put back" in notes
    for test in unanswered:
        [out] = _test_output(course, "earlier-release", test)
        assert out["ename"] == "MissingCell" and "was missing from your notebook" in out["evalue"], out


def test_two_adjacent_deleted_cells_lose_only_their_points(graded):
    _expect_all_but(graded, "deleted-adjacent", "test_q_softmax_shift")
    course, _ = graded
    notes = " | ".join(_marker(course, "deleted-adjacent")["notices"])
    assert "(q_softmax_shift)" in notes and "(test_q_softmax_shift)" in notes, notes
    [out] = _test_output(course, "deleted-adjacent", "test_q_softmax_shift")
    assert out["evalue"] == "the answer cell 'q_softmax_shift' was missing from your notebook: this test scores 0"


def test_an_answer_rewritten_in_a_cell_of_ones_own_gets_its_points(graded):
    _expect_all_but(graded, "rewritten-elsewhere")


def test_moved_cells_are_graded_where_they_are(graded):
    _expect_all_but(graded, "moved")
    course, _ = graded
    nb = nbformat.read(course / "autograded" / "moved" / A / f"{A}.ipynb", as_version=4)
    order = [grade_id(c) for c in nb.cells if grade_id(c)]
    # the deleted test came back right after its answer, which the student had moved to the end
    assert order[-3:] == ["test_softmax_stability", "q_grad_shape", "test_q_grad_shape"]


def test_a_renamed_and_reordered_notebook_loses_only_the_deleted_question(graded):
    _expect_all_but(graded, "renamed-reordered", "test_q_grad_shape")


# -- models the judge cannot rebuild: refused by the visible test, with what to change ------------
KERAS_FIXTURES = ROOT / "tests" / "fixtures" / "04_keras_api"


def _built(fixture) -> object:
    """The model the fixture's build_fashion_mlp returns, built in this process."""
    import keras

    namespace = {"keras": keras}
    exec(compile(fixture.code, str(fixture.path), "exec"), namespace)  # noqa: S102 - our own fixture
    return namespace["build_fashion_mlp"]()


@pytest.mark.parametrize("scenario, says", [
    ("lambda_flatten", "replace its 1 Lambda layer(s) with built-in"),
    ("subclassed_model", "it is an instance of a class of your own (a subclass of keras.Model)"),
])
def test_a_model_the_grader_cannot_rebuild_is_refused_with_what_to_change(scenario, says):
    """The visible test refuses it while the student works, and the judge (which failed it with a
    bare "(ValueError)" / "(TypeError)") says the same thing."""
    from dlcourse.instructor.fixtures import load_fixture, run_fixture
    from dlcourse.testkit.keras import GRADER_READS, UnrebuildableModel, check_rebuildable

    fixture = load_fixture(KERAS_FIXTURES / f"build_fashion_mlp__{scenario}.py")
    with pytest.raises(UnrebuildableModel) as visible:
        check_rebuildable(_built(fixture), "build_fashion_mlp()")
    assert str(visible.value).startswith("build_fashion_mlp() returned a model the grader cannot read: " + says)
    assert GRADER_READS in str(visible.value)
    [judged] = [r for r in run_fixture(fixture, ROOT / "source", full=False) if r.grade_id == "test_build_fashion_mlp"]
    assert not judged.passed
    explanation = str(visible.value).split(": ", 1)[1]
    assert judged.message == f"AssertionError: {explanation}", judged.message


def test_a_functional_model_of_built_in_layers_is_rebuilt_with_its_weights():
    import numpy as np

    from dlcourse.instructor.fixtures import load_fixture
    from dlcourse.testkit.keras import check_rebuildable, model_output, rebuild_model

    model = _built(load_fixture(KERAS_FIXTURES / "build_fashion_mlp__valid_functional_softmax_layer.py"))
    check_rebuildable(model, "build_fashion_mlp()")  # no error
    import json

    import keras

    rebuilt = rebuild_model(json.dumps(keras.saving.serialize_keras_object(model), default=str),
                            model.get_weights())
    images = np.random.default_rng(0).random((3, 28, 28)).astype("float32")
    np.testing.assert_allclose(model_output(rebuilt, images), model_output(model, images), rtol=1e-6)


# -- builders that train: the judge trains the architecture from fresh weights -----------------
def _tiny_mlp(**dense):
    import keras

    return keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(4, activation="relu", **dense),
                             keras.layers.Dense(2, activation="softmax")])


def test_fresh_weights_are_a_seeded_builds_and_forget_any_training():
    import keras
    import numpy as np

    from dlcourse.testkit.keras import fresh_weights

    keras.utils.set_random_seed(0)
    untrained = [w.copy() for w in _tiny_mlp().get_weights()]
    keras.utils.set_random_seed(0)
    trained = _tiny_mlp()
    trained.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    trained.fit(np.ones((8, 3), "float32"), np.zeros(8, "int64"), epochs=3, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(untrained, trained.get_weights(), strict=True))
    fresh = fresh_weights(trained, seed=0)
    assert [w.shape for w in fresh.get_weights()] == [w.shape for w in untrained]
    for a, b in zip(untrained, fresh.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(fresh_weights(trained, seed=1).get_weights()[0], untrained[0])
    # a seed in the settings is the student's choice of start: dropped, so the judge's seed decides
    lucky = [fresh_weights(_tiny_mlp(kernel_initializer=keras.initializers.GlorotUniform(seed=s)), seed=0)
             for s in (42, 7)]
    np.testing.assert_array_equal(lucky[0].get_weights()[0], lucky[1].get_weights()[0])


def test_settings_that_could_carry_trained_numbers_are_refused_and_single_numbers_pass():
    """Weights fitted in the builder can hide in settings, past the weights that fresh_weights draws
    anew: an initialiser given an array, a Rescaling given arrays (a reviewer wired two of them into a
    matrix product: 0.92 on the test split with no trainable weight), or many layers of one number each."""
    import keras
    import numpy as np

    from dlcourse.testkit.keras import MAX_SETTING_ARRAY, UnrebuildableModel, fresh_weights

    fresh_weights(_tiny_mlp(kernel_initializer=keras.initializers.Constant(0.1),
                            bias_initializer=keras.initializers.RandomNormal(stddev=0.5, seed=3)), seed=0)
    with pytest.raises(UnrebuildableModel, match="one of its settings holds an array of 40 numbers"):
        fresh_weights(keras.Sequential([keras.Input(shape=(10,)), keras.layers.Dense(
            4, kernel_initializer=keras.initializers.Constant(np.ones((10, 4))))]), seed=0)
    rescaled = keras.Sequential([keras.Input(shape=(MAX_SETTING_ARRAY + 1,)),
                                 keras.layers.Rescaling(scale=np.arange(MAX_SETTING_ARRAY + 1.0))])
    with pytest.raises(UnrebuildableModel, match=f"an array of {MAX_SETTING_ARRAY + 1} numbers"):
        fresh_weights(rescaled, seed=0)
    many = keras.Sequential([keras.Input(shape=(3,)), *(keras.layers.Rescaling(0.5 + i, offset=0.1 * i)
                                                        for i in range(600))])
    with pytest.raises(UnrebuildableModel, match="more than a description of layers needs"):
        fresh_weights(many, seed=0)
    nested = rescaled  # a review hid the array below the depth a first version read
    for _ in range(20):
        nested = keras.Sequential([nested])
    with pytest.raises(UnrebuildableModel, match="nested deeper than 64 levels"):
        fresh_weights(nested, seed=0)
