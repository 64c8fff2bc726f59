"""The authoring path: source/<id>/<id>.py is the source of truth of source/<id>/<id>.ipynb."""

from __future__ import annotations

import nbformat
import pytest
from conftest import SOURCE, assignments

from dlcourse.instructor.nbbuild import build, stale, to_script

SCRIPT = '''# metadata: {"dlcourse": {"judged": true}}

# %% [markdown] id=intro
# # A title
#
# Some text.

# %% setup id=imports
import numpy as np

# %% params id=sizes
N = 3

# %% solution id=double
def double(x):
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION

# %% test id=test_double points=2 tags=slow
assert double(N) == 6

# %% id=demo
print(double(np.arange(N)))
'''


@pytest.mark.parametrize("assignment", assignments())
def test_every_notebook_is_built_from_its_committed_script(assignment):
    script = SOURCE / assignment / f"{assignment}.py"
    assert script.is_file(), f"{script} is missing: python -m dlcourse.instructor.nbbuild script ... > {script}"
    assert not stale(script), stale(script)[0]
    text = script.read_text(encoding="utf-8")
    assert to_script(build(text)) == text, f"{script.name} is not in the written form (ids pinned): rewrite it " \
        "with `nbbuild script`"


def test_a_notebook_edited_in_jupyterlab_is_reported_stale(tmp_path):
    script = tmp_path / "x.py"
    script.write_text(SCRIPT, encoding="utf-8")
    nb = build(SCRIPT)
    (script.with_suffix(".ipynb")).write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    assert stale(script) == []
    nb.cells[-1].source = "print('edited in the browser')"
    (script.with_suffix(".ipynb")).write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    assert "differs from what x.py builds" in stale(script)[0]
    (script.with_suffix(".ipynb")).unlink()
    assert "is missing" in stale(script)[0]


def test_the_script_keeps_kinds_tags_points_and_metadata():
    nb = build(SCRIPT)
    assert nb.metadata["dlcourse"] == {"judged": True} and nb.metadata["kernelspec"]["name"] == "python3"
    by_id = {c.id: c for c in nb.cells}
    assert by_id["imports"].metadata["tags"] == ["setup"]
    assert by_id["sizes"].metadata["tags"] == ["parameters", "setup"]
    solution = by_id["double"].metadata["nbgrader"]
    assert solution["solution"] and solution["grade_id"] == "double"
    test = by_id["test_double"].metadata
    assert test["nbgrader"]["grade"] and test["nbgrader"]["points"] == 2.0 and test["tags"] == ["slow"]
    assert by_id["intro"].cell_type == "markdown" and by_id["intro"].source == "# A title\n\nSome text."
    assert to_script(nb) == SCRIPT


def test_inserting_a_cell_renames_no_other():
    before = [c.id for c in build(SCRIPT).cells]
    inserted = SCRIPT.replace("# %% id=demo", "# %% [markdown]\n# A new explanation.\n\n# %% id=demo")
    after = [c.id for c in build(inserted).cells]
    assert [i for i in after if i in before] == before and len(after) == len(before) + 1
    new = next(i for i in after if i not in before)
    assert new.startswith("markdown-") and new == [c.id for c in build(inserted).cells][len(before) - 1]


def test_duplicate_ids_are_refused():
    with pytest.raises(ValueError, match="duplicate cell ids"):
        build(SCRIPT.replace("# %% id=demo", "# %% id=intro"))


def test_new_exercise_scaffolds_every_place_and_fails_until_written(tmp_path):
    import shutil

    from dlcourse.course import CourseError
    from dlcourse.instructor.fixtures import exercise_of, exercises, load_fixture, run_exercise
    from dlcourse.instructor.scaffold import new_exercise, reference_module

    a = "06_rnn_lstm"
    (tmp_path / "source" / a).mkdir(parents=True)
    shutil.copy(SOURCE / a / f"{a}.py", tmp_path / "source" / a / f"{a}.py")
    instructor = tmp_path / "instructor"
    instructor.mkdir()
    shutil.copy(SOURCE.parent / "dlcourse" / "instructor" / "ref_rnn.py", instructor / "ref_rnn.py")
    assert reference_module((tmp_path / "source" / a / f"{a}.py").read_text()) == "ref_rnn"

    before = (tmp_path / "source" / a / f"{a}.py").read_text()
    written = new_exercise(tmp_path, a, "peephole_step", instructor=instructor)
    script, notebook, ref, *wrongs, valid = written
    wrong = wrongs[0]
    assert len(wrongs) == 3  # as many misconceptions as a new exercise needs
    # inserted after the last exercise, before the closing sections (not after the versions cell)
    text = script.read_text()
    assert text.index("id=test_peephole_step") < text.index("What you should remember") < text.index("%watermark")
    assert text.index("id=test_build_lstm_forecaster") < text.index("id=peephole_step-intro")
    assert text.replace(text[text.index("# %% [markdown] id=peephole_step-intro"):
                             text.index("# %% [markdown]", text.index("id=test_peephole_step"))], "") == before
    nb = nbformat.read(notebook, as_version=4)
    assert "peephole_step" in exercises(nb)
    test = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_peephole_step")
    assert exercise_of("test_peephole_step", exercises(nb)) == "peephole_step"
    assert "### BEGIN HIDDEN TESTS" in test.source and "ref_rnn.peephole_step(x)" in test.source
    assert not stale(script)
    assert "def peephole_step(x):" in ref.read_text() and "NotImplementedError" in ref.read_text()
    compile(ref.read_text(), str(ref), "exec")
    mistake, alternative = load_fixture(wrong), load_fixture(valid)
    assert (mistake.exercise, mistake.expect, mistake.must_fail) == ("peephole_step", "fail", ["test_peephole_step"])
    assert (alternative.exercise, alternative.expect) == ("peephole_step", "pass")
    with pytest.raises(CourseError, match="already has"):
        new_exercise(tmp_path, a, "peephole_step", instructor=instructor)
    with pytest.raises(CourseError, match="not a valid exercise name"):
        new_exercise(tmp_path, a, "test_x", instructor=instructor)
    # the scaffold is not an exercise yet: its own test fails until the TODOs are written
    results = run_exercise(notebook, "peephole_step")
    assert results and not any(r.passed for r in results), results


def test_a_solution_declares_the_arguments_it_updates_in_place():
    """`updates=` reaches the solution cell's metadata, where the judge reads the exercise's contract."""
    from dlcourse.cells import contracts

    script = SCRIPT.replace("# %% solution id=double", "# %% solution id=double updates=x")
    nb = build(script)
    assert {c.id: c for c in nb.cells}["double"].metadata["dlcourse"] == {"updates": ["x"]}
    assert to_script(nb) == script
    assert contracts(nb) == {"double": (["x"], {"x"})} and contracts(build(SCRIPT)) == {"double": (["x"], set())}


def test_the_course_declares_in_place_updates_only_where_the_contract_says_so():
    """The audit of every exercise: optimiser steps update w, training functions the model they are
    given, train_step both networks; nothing else changes its inputs."""
    from dlcourse.cells import contracts

    declared = {(a, name): sorted(updates) for a in assignments()
                for name, (_, updates) in contracts(nbformat.read(SOURCE / a / f"{a}.ipynb", as_version=4)).items()
                if updates}
    assert declared == {
        ("03_optimization", "sgd_momentum_step"): ["w"], ("03_optimization", "rmsprop_step"): ["w"],
        ("03_optimization", "adam_step"): ["w"], ("04_keras_api", "train_iris"): ["model"],
        ("04_keras_api", "train_torch"): ["model"], ("04_keras_api", "train_tuned_fashion"): ["model"],
        ("07_gan", "train_step"): ["D", "G"],
        ("08_lung_cancer_project", "train_lung_cnn"): ["model"],
    }


WRITTEN = '''# %% [markdown] id=intro
# Read this.

# %% written id=w_why points=2
# **Written question (2 points).** Why?
# === BEGIN MARK SCHEME ===
# **Model answer.** Because.
# **Rubric.** 2 points: says because.
# === END MARK SCHEME ===

# %% id=after
x = 1
'''


def test_a_written_question_builds_a_task_cell_with_its_answer_cell_and_round_trips():
    nb = build(WRITTEN)
    assert [c.id for c in nb.cells] == ["intro", "w_why", "w_why-answer", "after"]
    task, answer = nb.cells[1], nb.cells[2]
    assert task.metadata["nbgrader"] == {"grade": False, "solution": False, "task": True, "locked": True,
                                         "points": 2.0, "grade_id": "w_why", "schema_version": 3}
    assert "\n\n=== BEGIN MARK SCHEME ===\n\n" in task.source  # its own paragraph, not a heading
    assert answer.metadata["dlcourse"] == {"answer_to": "w_why"} and answer.cell_type == "markdown"
    script = to_script(nb)
    assert to_script(build(script)) == script and "w_why-answer" not in script


def test_a_written_question_without_a_mark_scheme_is_refused():
    with pytest.raises(ValueError, match="MARK SCHEME"):
        build(WRITTEN.replace("=== BEGIN MARK SCHEME ===\n", "").replace("=== END MARK SCHEME ===\n", ""))


@pytest.mark.slow
def test_a_scaffolded_exercise_once_filled_in_grades_its_fixtures(tmp_path, monkeypatch):
    """The whole path of a new exercise: `dlcourse new-exercise` in a copy of the course, the TODOs
    written (solution, reference, three misconceptions, one valid answer), then each fixture through
    the grading path (record in the kernel, judge outside it): mistakes fail, the valid one passes."""
    import shutil

    import numpy as np

    import dlcourse.instructor.ref_backprop as ref_module
    from dlcourse.instructor import scaffold
    from dlcourse.instructor.fixtures import WarmKernel, load_fixture, run_exercise

    a, name = "02_backprop_by_hand", "leaky_relu"
    course = tmp_path / "course"
    (course / "source" / a).mkdir(parents=True)
    for f in ("grader_config.py", "nbgrader_config.py"):
        shutil.copy(SOURCE.parent / f, course / f)
    shutil.copy(SOURCE / a / f"{a}.py", course / "source" / a / f"{a}.py")
    instructor = SOURCE.parent / "dlcourse" / "instructor"
    ref_text = (instructor / "ref_backprop.py").read_text()
    shutil.copy(instructor / "ref_backprop.py", tmp_path / "ref_backprop.py")
    assert scaffold.reference_module((course / "source" / a / f"{a}.py").read_text()) == "ref_backprop"
    written = scaffold.new_exercise(course, a, name, instructor=tmp_path)
    script = course / "source" / a / f"{a}.py"
    text = script.read_text().replace(
        f'raise NotImplementedError("TODO: the reference solution of {name}")',
        "return np.where(x > 0, x, 0.01 * x)")
    script.write_text(text)
    (course / "source" / a / f"{a}.ipynb").write_text(nbformat.writes(build(text)) + "\n")
    monkeypatch.setattr(ref_module, name, lambda x: np.where(x > 0, x, 0.01 * x), raising=False)
    assert (instructor / "ref_backprop.py").read_text() == ref_text  # the real module is untouched
    bodies = {"wrong_TODO_1": "return np.maximum(x, 0)",             # plain ReLU: the leak forgotten
              "wrong_TODO_2": "return np.where(x > 0, x, 0.1 * x)",  # the wrong slope
              "wrong_TODO_3": "return np.where(x >= 0, 0.01 * x, x)",  # the branches swapped
              "valid_TODO": "return np.maximum(x, 0.01 * x)"}
    notebook = course / "source" / a / f"{a}.ipynb"
    with WarmKernel() as kernel:
        for path in written:
            if "__" not in path.name:
                continue
            scenario = path.stem.split("__", 1)[1]
            code = path.read_text().replace('raise NotImplementedError("TODO: ', f"{bodies[scenario]}  # (")
            path.write_text("import numpy as np\n" + code)
            fixture = load_fixture(path)
            results = run_exercise(notebook, name, fixture.code, kernel=kernel)
            assert results, scenario
            assert all(r.passed for r in results) == (fixture.expect == "pass"), (scenario, results)
