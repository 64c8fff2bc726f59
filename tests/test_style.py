"""How the course reads: no control characters, short sentences, written questions with a mark
scheme, and multiple choice whose key cannot be guessed from its length (issue 28)."""

from __future__ import annotations

import importlib
import pkgutil
import re

import nbformat
import pytest
from conftest import ROOT, SOURCE, assignments

from dlcourse import cells
from dlcourse.instructor import readability

GRADED = [a for a in assignments() if cells.has_graded_cells(nbformat.read(SOURCE / a / f"{a}.ipynb", 4))]
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# a written question may say how many points it is worth and what to look at, but its mark scheme
# must hold both parts
MARK_SCHEME = re.compile(r"BEGIN MARK SCHEME(?P<body>.*?)END MARK SCHEME", re.S)


def _notebook(assignment: str, where: str = "source") -> nbformat.NotebookNode:
    return nbformat.read(ROOT / where / assignment / f"{assignment}.ipynb", as_version=4)


@pytest.mark.parametrize("path", sorted([*SOURCE.glob("*/*.py"), *SOURCE.glob("*/*.ipynb"),
                                         *(ROOT / "release").glob("*/*.ipynb")]), ids=lambda p: p.name)
def test_no_notebook_holds_a_control_character(path):
    """A `\\a` in a Python string once turned `\\approx` into a bell and "pprox" (issue 28)."""
    text = path.read_text(encoding="utf-8")
    bad = [(text.count("\n", 0, m.start()) + 1, repr(m.group())) for m in CONTROL.finditer(text)]
    assert not bad, f"{path.name}: control characters at (line, char) {bad[:5]}: a raw string (r'...') lost?"


@pytest.mark.parametrize("assignment", GRADED)
def test_sentences_are_short(assignment):
    nb = _notebook(assignment)
    long = [s for s in readability.sentences(nb) if len(s.split()) > readability.MAX_SENTENCE_WORDS]
    assert readability.average_words(nb) <= readability.MAX_AVERAGE_WORDS
    assert not long, f"{len(long)} sentence(s) over {readability.MAX_SENTENCE_WORDS} words, e.g. {long[0]!r}"


@pytest.mark.parametrize("assignment", GRADED)
def test_each_graded_notebook_asks_two_or_three_written_questions_with_a_mark_scheme(assignment):
    source, release = _notebook(assignment), _notebook(assignment, "release")
    written = [c for c in source.cells if cells.is_written_question(c)]
    assert 2 <= len(written) <= 3, f"{assignment}: {len(written)} written questions"
    for cell in written:
        scheme = MARK_SCHEME.search(cell.source)
        assert scheme and "Model answer" in scheme["body"] and "Rubric" in scheme["body"], cells.grade_id(cell)
        assert cells.nbgrader(cell)["points"] > 0
        answers = [c for c in source.cells if cells.answer_to(c) == cells.grade_id(cell)]
        assert len(answers) == 1, f"{cells.grade_id(cell)} has no answer cell after it"
    released = {cells.grade_id(c): c for c in release.cells if cells.is_written_question(c)}
    assert sorted(released) == sorted(cells.grade_id(c) for c in written)
    for gid, cell in released.items():
        assert "MARK SCHEME" not in cell.source and "Model answer" not in cell.source, f"{gid}: rubric released"


def _all_keys() -> dict[str, dict]:
    import dlcourse.instructor as instructor

    keys: dict[str, dict] = {}
    for info in pkgutil.iter_modules(instructor.__path__):
        if info.name.startswith("ref") or info.name == "reference":
            keys.update(getattr(importlib.import_module(f"dlcourse.instructor.{info.name}"), "QUESTIONS", {}))
    return keys


def _choice_questions() -> list[tuple[str, str, dict[str, str]]]:
    """(notebook, question, {letter: option}) for every multiple-choice concept question."""
    keys, found = _all_keys(), []
    for assignment in GRADED:
        nb = _notebook(assignment)
        for i, cell in enumerate(nb.cells):
            name = cells.grade_id(cell)
            if not (cells.is_solution_cell(cell) and name in keys and "answer" in keys[name]):
                continue
            options = {}
            for above in reversed(nb.cells[:i]):
                if above.cell_type == "markdown":
                    options = readability.choice_options(above.source)
                    if options:
                        break
            found.append((assignment, name, options))
    return found


def test_every_choice_question_shows_its_options_and_its_key_is_one_of_them():
    keys = _all_keys()
    questions = _choice_questions()
    assert len(questions) >= 8
    for assignment, name, options in questions:
        assert len(options) >= 3, f"{assignment} {name}: options not found as '- **a** text' lines"
        assert keys[name]["answer"] in options, f"{assignment} {name}"


def test_the_key_is_not_given_away_by_its_length():
    """The key is the longest option in at most a third of the questions, never by more than 30 %."""
    keys = _all_keys()
    longest, ratios = [], {}
    for _, name, options in _choice_questions():
        key = keys[name]["answer"]
        others = max(len(text) for letter, text in options.items() if letter != key)
        ratios[name] = len(options[key]) / others
        if ratios[name] > 1:
            longest.append(name)
    assert len(longest) <= len(ratios) / 3, f"the key is the longest option in {longest}"
    assert max(ratios.values()) <= 1.3, {n: round(r, 2) for n, r in ratios.items() if r > 1.3}
