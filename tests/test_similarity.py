"""`dlcourse similarity`: a planted copy (renamed variables, reordered functions, added comments)
ranks on top; independent valid answers (the fixtures' valid alternatives) and the release's own
code do not. The copy is made by dlcourse.classroom.demo.plant_copy (what `make demo` plants too)."""

from __future__ import annotations

import nbformat
import pytest
from conftest import ROOT

from dlcourse.classroom.demo import plant_copy, scratch_course, student_notebook
from dlcourse.cli import main as cli
from dlcourse.instructor.fixtures import load_fixture

A = "01_softmax_cross_entropy"
FIX = ROOT / "tests" / "fixtures" / A
OWN = {  # one student who wrote every exercise their own way (the valid alternatives)
    "softmax": "softmax__valid_loop.py",
    "cross_entropy": "cross_entropy__valid_loop.py",
    "cross_entropy_from_logits": "cross_entropy_from_logits__valid_scipy_logsumexp.py",
    "numerical_gradient": "numerical_gradient__valid_copies.py",
    "softmax_cross_entropy_grad": "softmax_cross_entropy_grad__valid_per_sample_loop.py",
    "train_softmax_regression": "train_softmax_regression__valid_own_helpers.py",
}


@pytest.fixture(scope="module")
def ranked(tmp_path_factory):
    course = scratch_course(ROOT, tmp_path_factory.mktemp("sim") / "course", [A])
    own = {ex: load_fixture(FIX / name).code for ex, name in OWN.items()}
    students = {
        "reference": {},  # the source's solutions
        "own-answers": own,
        "planted-copy": {ex: plant_copy(code) for ex, code in own.items()},
        "scipy-softmax": {"softmax": load_fixture(FIX / "softmax__valid_scipy.py").code},  # the rest as released
        "float32-softmax": {"softmax": load_fixture(FIX / "softmax__valid_keeps_float32.py").code},
        "blank": None,  # the release untouched
    }
    for student, replacements in students.items():
        folder = course / "submitted" / student / A
        folder.mkdir(parents=True)
        solve = student == "reference"
        nbformat.write(student_notebook(ROOT, A, replacements or {}, solve=solve), folder / f"{A}.ipynb")
    (course / "submitted" / "broken" / A).mkdir(parents=True)
    (course / "submitted" / "broken" / A / f"{A}.ipynb").write_text("{ not json")
    from dlcourse.classroom.similarity import similarity

    report, pairs, notes = similarity(course, A)
    for p in pairs[:8]:
        print(f"{p.a:>16} {p.b:>16} {p.score:.2f} ({p.sim_a:.2f}/{p.sim_b:.2f}) {p.tokens}")
    return course, report, pairs, notes


def test_planted_copy_ranks_first(ranked):
    _, _, pairs, _ = ranked
    top = pairs[0]
    assert {top.a, top.b} == {"own-answers", "planted-copy"}
    assert top.score > 0.8
    assert all(p.score < 0.5 for p in pairs[1:]), [(p.a, p.b, round(p.score, 2)) for p in pairs[1:4]]


def test_independent_valid_answers_and_the_release_are_not_copies(ranked):
    _, _, pairs, _ = ranked
    score = {frozenset((p.a, p.b)): p.score for p in pairs}
    assert score[frozenset(("reference", "own-answers"))] < 0.5
    assert score[frozenset(("scipy-softmax", "float32-softmax"))] < 0.5
    assert not any("blank" in (p.a, p.b) for p in pairs)  # the release's code never counts
    assert "blank: every answer cell is as released" in ranked[3]


def test_report_shows_the_top_pair_side_by_side(ranked):
    course, report, _, notes = ranked
    text = report.read_text()
    assert report == course / "reports" / A / "similarity.html"
    assert "own-answers and planted-copy" in text and "highlight-red" in text and "highlight-green" in text
    assert any("broken" in n for n in notes) and "broken" in text
    assert (course / "reports" / A / "similarity.csv").read_text().splitlines()[1].startswith(
        "own-answers,planted-copy,")


def test_cli(ranked, capsys):
    course, *_ = ranked
    assert cli(["--root", str(course), "similarity", A, "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "own-answers" in out and "planted-copy" in out and "similarity.html" in out
