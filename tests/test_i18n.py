"""The Brazilian Portuguese edition (issue 31): one source, two languages.

- a Portuguese notebook differs from the English release only in its markdown cells' text and in
  nb.metadata.dlcourse.language: code cells, test cells and every metadata byte-identical;
- a missing, empty, fuzzy or stale catalogue entry fails the build, naming the cells;
- `translate update` keeps translations, marks changed cells fuzzy with their old text, and keeps
  removed cells as obsolete entries;
- the decimal-comma message and the feedback page come in the student's language;
- the real grader gives the Portuguese reference full marks, a misconception the same verdict in
  both languages, and `dlcourse validate` runs a Portuguese notebook.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, assignments

from dlcourse.i18n import notebooks as tr

A = "01_softmax_cross_entropy"
TRANSLATED = [a for a in assignments() if tr.po_path(ROOT, a).is_file()]


def _english(a: str):
    return nbformat.read(ROOT / "release" / a / f"{a}.ipynb", as_version=4)


def _portuguese(a: str):
    return nbformat.read(tr.translated_path(ROOT / "release" / a, a), as_version=4)


def _raw(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_01_is_translated():
    assert A in TRANSLATED


@pytest.mark.parametrize("assignment", TRANSLATED)
def test_code_test_cells_and_metadata_are_byte_identical(assignment):
    """Byte identity, read from the files: every cell's JSON (test cells included) but a markdown
    cell's source and the comments and docstrings of a code cell that is not a test (its program is
    the same: `code_text.same_code`), and the notebook's metadata but dlcourse.language ("pt_BR")."""
    from dlcourse.cells import is_test_cell
    from dlcourse.i18n.code_text import same_code

    en = _raw(ROOT / "release" / assignment / f"{assignment}.ipynb")
    pt = _raw(tr.translated_path(ROOT / "release" / assignment, assignment))
    assert len(en["cells"]) == len(pt["cells"])
    for a, b in zip(en["cells"], pt["cells"], strict=True):
        if a["cell_type"] == "markdown":
            a, b = dict(a, source=None), dict(b, source=None)
        elif a["cell_type"] == "code" and not is_test_cell(nbformat.from_dict(a)):
            assert same_code("".join(a["source"]), "".join(b["source"])), a.get("id")
            a, b = dict(a, source=None), dict(b, source=None)  # a test cell stays byte for byte
        assert json.dumps(a, sort_keys=True, ensure_ascii=False) == json.dumps(b, sort_keys=True,
                                                                                ensure_ascii=False), a.get("id")
    meta = copy.deepcopy(pt["metadata"])
    assert meta["dlcourse"].pop("language") == "pt_BR"
    if not meta["dlcourse"] and "dlcourse" not in en["metadata"]:  # the language was its only entry
        del meta["dlcourse"]
    assert json.dumps(meta, sort_keys=True) == json.dumps(en["metadata"], sort_keys=True)
    assert (en["nbformat"], en["nbformat_minor"]) == (pt["nbformat"], pt["nbformat_minor"])


@pytest.mark.parametrize("assignment", TRANSLATED)
def test_committed_translation_is_current_and_complete(assignment):
    """release/<id>/pt_BR/ is what the catalogue builds from the committed English release now."""
    import shutil
    import tempfile

    from dlcourse.classroom.release import translate

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / assignment
        folder.mkdir()
        shutil.copy2(ROOT / "release" / assignment / f"{assignment}.ipynb", folder)
        out = translate(ROOT, assignment, folder)
        assert out.read_bytes() == tr.translated_path(ROOT / "release" / assignment, assignment).read_bytes(), (
            "release/<id>/pt_BR is stale: run `dlcourse release`")
    found = tr.status(_english(assignment), assignment, tr.read_catalog(tr.po_path(ROOT, assignment)))
    assert found.complete and found.cells == len(found.translated)
    pt = _portuguese(assignment)
    english = {c.id: c.source for c in _english(assignment).cells if c.cell_type == "markdown"}
    same = [c.id for c in pt.cells if c.cell_type == "markdown" and c.id != tr.POLICY_CELL_ID
            and c.source == english[c.id]]
    assert same == [], f"cells left in English: {same}"


def test_colab_badges_offer_both_languages():
    from dlcourse.classroom.release import colab_url

    pt = _portuguese(A).cells[0].source
    assert colab_url(ROOT, A, "pt_BR") in pt and colab_url(ROOT, A) in pt
    assert colab_url(ROOT, A, "pt_BR").endswith(f"/release/{A}/pt_BR/{A}.ipynb")


def _catalog():
    return tr.read_catalog(tr.po_path(ROOT, A))


def test_a_stale_entry_fails_the_build_naming_the_cell():
    nb = _english(A)
    target = next(c for c in nb.cells if c.cell_type == "markdown" and c.id == "markdown-5")
    target.source += "\nOne more English sentence."
    with pytest.raises(tr.TranslationError) as err:
        tr.build(nb, A, _catalog())
    assert "stale" in str(err.value) and "markdown-5" in str(err.value)
    assert "markdown-6" not in str(err.value)


@pytest.mark.parametrize("how", ["no entry", "empty msgstr", "fuzzy"])
def test_a_missing_or_fuzzy_entry_fails_the_build_naming_the_cell(how):
    catalog = _catalog()
    msg = next(m for m in catalog if m.context == "markdown-7")
    if how == "no entry":
        catalog.delete(msg.id, context=msg.context)
    elif how == "empty msgstr":
        msg.string = ""
    else:
        msg.flags.add("fuzzy")
    with pytest.raises(tr.TranslationError) as err:
        tr.build(_english(A), A, catalog)
    word = "is fuzzy) (1)" if how == "fuzzy" else "missing (1)"
    assert f"{word}: markdown-7" in str(err.value)


def test_a_new_markdown_cell_fails_the_build():
    nb = _english(A)
    cell = nbformat.v4.new_markdown_cell("A new paragraph.")
    cell["id"] = "markdown-new"
    nb.cells.insert(3, cell)
    with pytest.raises(tr.TranslationError, match="missing \\(1\\): markdown-new"):
        tr.build(nb, A, _catalog())


def test_update_keeps_translations_marks_changes_fuzzy_and_keeps_removed_cells(tmp_path):
    po = tmp_path / f"{A}.pt_BR.po"
    po.write_bytes(tr.po_path(ROOT, A).read_bytes())
    nb = _english(A)
    changed = next(c for c in nb.cells if c.get("id") == "markdown-5")
    old_text = changed.source
    changed.source = old_text.replace("Two doctors", "Two physicians")
    nb.cells = [c for c in nb.cells if c.get("id") != "markdown-8"]
    new = nbformat.v4.new_markdown_cell("A new paragraph.")
    new["id"] = "markdown-new"
    nb.cells.append(new)
    merge = tr.update(nb, A, po)
    assert (merge.added, merge.changed, merge.removed) == (["markdown-new"], ["markdown-5"], ["markdown-8"])
    catalog = tr.read_catalog(po)
    entry = next(m for m in catalog if m.context == "markdown-5")
    assert entry.fuzzy and entry.previous_id == [old_text] and entry.string.startswith("## 2 ·")
    assert next(m for m in catalog if m.context == "markdown-new").string == ""
    assert any(key[1] == "markdown-8" for key in catalog.obsolete)
    text = po.read_text(encoding="utf-8")
    assert "#| msgid" in text and "#~ msgctxt \"markdown-8\"" in text
    found = tr.status(nb, A, catalog)
    assert (found.missing, found.stale) == (["markdown-new"], ["markdown-5"])
    # a second change keeps the text the translation was made from
    changed.source = old_text.replace("Two doctors", "Two medics")
    tr.update(nb, A, po)
    entry = next(m for m in tr.read_catalog(po) if m.context == "markdown-5")
    assert entry.fuzzy and entry.previous_id == [old_text]
    # unchanged: an update is a no-op, byte for byte
    before = po.read_bytes()
    tr.update(nb, A, po)
    assert po.read_bytes() == before
    # a removed cell stays obsolete through later updates, and its translation comes back with it
    assert "#~ msgctxt \"markdown-8\"" in po.read_text(encoding="utf-8")
    nb.cells = _english(A).cells
    tr.update(nb, A, po)
    back = next(m for m in tr.read_catalog(po) if m.context == "markdown-8")
    assert not back.fuzzy and back.string.startswith("**A tabela de log-loss")
    # markdown-5 is back to the text it was translated from: no longer fuzzy, the build works again
    assert tr.status(nb, A, tr.read_catalog(po)).complete


def test_po_file_is_the_fixed_format():
    catalog = _catalog()
    assert str(catalog.locale) == "pt_BR"
    assert "Language: pt_BR" in tr.po_path(ROOT, A).read_text(encoding="utf-8")
    contexts = [m.context for m in catalog if m.id]
    assert contexts == [cell_id for cell_id, _ in tr.units(_english(A))]


def test_release_without_catalogue_is_english_only_with_one_warning(tmp_path, monkeypatch):
    import shutil

    from dlcourse.classroom.release import translate

    folder = tmp_path / A
    folder.mkdir()
    shutil.copy2(ROOT / "release" / A / f"{A}.ipynb", folder)
    monkeypatch.setattr(tr, "po_path", lambda root, a, language="pt_BR": ROOT / "source" / a / "none.po")
    lines = []
    assert translate(ROOT, A, folder, log=lines.append) is None
    assert len(lines) == 1 and lines[0].startswith("warning:") and "English only" in lines[0]
    assert sorted(p.name for p in folder.iterdir()) == [f"{A}.ipynb"]


def test_cli_check_counts_and_exit_code(tmp_path, monkeypatch, capsys):
    from dlcourse import cli

    monkeypatch.setattr("dlcourse.classroom.release.english_release", lambda course, a: _english(a))
    assert cli.main(["--root", str(ROOT), "translate", "check", A]) == 0
    entries = len(tr.units(_english(A)))
    assert f"{entries} entries (29 markdown cells, {entries - 29} comments and docstrings), {entries} translated, " \
           "0 missing, 0 stale" in capsys.readouterr().out
    stale = _english(A)
    stale.cells[0].source += " More."
    monkeypatch.setattr("dlcourse.classroom.release.english_release", lambda course, a: stale)
    assert cli.main(["--root", str(ROOT), "translate", "check", A]) == 1
    out = capsys.readouterr().out
    assert "1 stale" in out and "stale: markdown-1" in out


# ---------------------------------------------------------------- messages


def test_message_catalogue_translates_every_marked_message_and_the_translated_notebooks_questions():
    from dlcourse import cells
    from dlcourse.i18n.extract import missing_messages

    questions = {cells.grade_id(c) for a in TRANSLATED for c in _english(a).cells if cells.grade_id(c)}
    assert missing_messages(questions=questions, assignments=set(TRANSLATED)) == []


def test_a_concept_questions_explanation_reaches_the_portuguese_page_translated():
    from dlcourse.i18n.messages import translate_check
    from dlcourse.instructor.reference import QUESTIONS

    why = QUESTIONS["q_grad_shape"]["why"]["a"]
    judged = f"q_grad_shape: 'a' is not the best answer.\n  Hint: {why}"
    pt = translate_check(judged, "pt_BR")
    assert pt.startswith("q_grad_shape: 'a' não é a melhor resposta.\n  Dica: (32, 10) é a forma de dL/dZ")
    assert not ENGLISH.search(pt.replace("q_grad_shape", ""))


@pytest.mark.parametrize("language, words", [("en", ["Python writes decimals with a point", "write 2.303",
                                                      "Hint:", "answer with a number"]),
                                             ("pt_BR", ["separada por ponto", "Escreva 2.303", "Dica:",
                                                        "responda com um número"])])
def test_decimal_comma_message_in_both_languages(monkeypatch, language, words):
    from dlcourse import testing

    monkeypatch.setenv("DLCOURSE_LANG", language)
    with pytest.raises(AssertionError) as err:
        testing.check_number((2, 303), "loss")
    for w in words:
        assert w in str(err.value)
    with pytest.raises(AssertionError) as err:
        testing.check_shape((2, 303), (), "loss")
    assert words[0] in str(err.value)


def _visible_text(page: str) -> str:
    """The page's text outside code (<code>, <pre> of a check keeps Python's own words)."""
    page = re.sub(r"<(style|title)>.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r"<code>.*?</code>", " ", page, flags=re.S)
    return re.sub(r"<[^>]+>", " ", page)


ENGLISH = re.compile(r"\b(the|and|of|is|was|not|passed|failed|graded|Student|Score|points?|test|result|message|"
                     r"Hint|write|Notes|late|penalty|answer|number|submitted|Python writes)\b")


def _results_notebook():
    """An autograded-looking 01 in Portuguese: one test passed, one failed with the decimal comma."""
    from dlcourse.cells import is_solution_cell
    from dlcourse.grader.execute import is_test_cell

    nb = _portuguese(A)
    for cell in nb.cells:  # answered: a blank exercise would be "not attempted", not "failed"
        if is_solution_cell(cell):
            cell.source = cell.source.replace("raise NotImplementedError", "pass  # answered")
    tests = [c for c in nb.cells if is_test_cell(c)]
    passed, failed = tests[0], tests[1]
    passed.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ok\n")]
    failed.outputs = [nbformat.v4.new_output(
        "error", ename="AssertionError", evalue="q_uniform_loss: answer with a number, got (2, 303).\n  Hint: "
        "Python writes decimals with a point: 2,303 is the tuple (2, 303); write 2.303.", traceback=[])]
    return nb, failed.metadata["nbgrader"]["grade_id"]


def test_feedback_page_in_portuguese_holds_no_english_sentence():
    from dlcourse.classroom.feedback import WrittenGrade, render
    from dlcourse.grader.execute import cell_results

    nb, failed_id = _results_notebook()
    if not any(r.grade_id == failed_id and r.message for r in cell_results(nb)):
        pytest.skip("cell_results reads failures differently")
    written = [WrittenGrade("w_accuracy_loss", None, 2.0), WrittenGrade("w_step_size", 0.0, 3.0,
               "No answer was written (the answer cell is as released): 0 points, no grader needed.")]
    notes = ["01_softmax_cross_entropy.ipynb is not part of the assignment and was not graded"]
    page = render("maria", A, nb, notes, "entregue com 26 h de atraso: -20%", written, penalty=20.0)
    assert "<html lang='pt-BR'>" in page
    text = _visible_text(page)
    # what each test checks (its docstring's first line) comes from the tests catalogue; the names of
    # the exercises it starts with are code
    for name in re.findall(r"<small>(\w+):", page):
        text = text.replace(f"{name}:", " ")
    found = ENGLISH.findall(text)
    assert found == [], f"English on the pt-BR page: {found}\n{text}"
    for pt in ("Estudante", "Nota", "passou", "falhou", "Dica", "separada por ponto", "Observações do corretor",
               "não faz parte da atividade", "a corrigir", "sem resposta", "desconto por atraso"):
        assert pt in page, pt
    english = render("maria", A, _english(A))
    assert "Student" in english and "<html lang='en'>" in english


def test_late_policy_and_late_line_in_portuguese():
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from dlcourse.classroom.deadlines import Lateness, LatePolicy, Schedule, describe_late, policy_text
    from dlcourse.i18n.messages import policy_text as policy_pt

    due = datetime(2026, 3, 2, 23, 59, tzinfo=ZoneInfo("America/Sao_Paulo"))
    schedule = Schedule(deadlines={A: due}, policy=LatePolicy("percent", 12.5, "day", 50, 5))
    assert policy_pt(A, schedule, "en") == policy_text(A, schedule)
    pt = policy_pt(A, schedule, "pt_BR")
    assert pt.startswith("> Prazo: **2026-03-02 23:59")
    assert "Cada dia de atraso (contado após uma tolerância de 5 min), mesmo incompleto, tira 12,5% da nota" in pt
    assert "tolerância de 5 min" in pt and not ENGLISH.search(pt.replace("**", ""))
    late = Lateness(late=timedelta(hours=26))
    assert describe_late(late, 25) == "submitted 26 h late: -25%"
    assert describe_late(late, 25, "pt_BR") == "entregue com 26 h de atraso: -25%"
    for lateness in (Lateness(late=timedelta(hours=26), extended=True, due=due),
                     Lateness(lms_late=True), Lateness(late=timedelta(hours=3))):
        text = describe_late(lateness, 0 if lateness.lms_late else 10, "pt_BR")
        assert text and not ENGLISH.search(text.replace("UTC", "")), text


# ---------------------------------------------------------------- the real grader


def _pt_student_notebook(replacements: dict[str, str] | None = None):
    """The Portuguese release with the cells a student writes filled as demo.student_notebook fills the
    English one (cells are 1:1)."""
    from dlcourse.classroom.demo import student_notebook

    filled = student_notebook(ROOT, A, replacements)
    english = _english(A)
    nb = _portuguese(A)
    for cell, done, released in zip(nb.cells, filled.cells, english.cells, strict=True):
        assert cell.get("id") == done.get("id") == released.get("id")
        # what the student wrote; every other cell as the Portuguese release has it (comments translated)
        if done.source != released.source and (cell.cell_type == "code" or
                                                (done.get("metadata", {}).get("nbgrader") or {}).get("solution")):
            cell.source = done.source
    return nb


@pytest.mark.slow
@pytest.mark.xdist_group("grading")
def test_portuguese_reference_full_marks_and_same_verdicts_through_the_real_grader(tmp_path):
    from conftest import written_points
    from nbgrader.api import Gradebook
    from test_grading import _course, _submit, _with_code, dlcourse

    from dlcourse.instructor.fixtures import load_fixture

    course = _course(tmp_path)
    unstable = load_fixture(ROOT / "tests" / "fixtures" / A / "softmax__unstable_no_max.py").code
    _submit(course, "pt-reference", _pt_student_notebook())
    _submit(course, "pt-unstable", _pt_student_notebook({"softmax": unstable}))
    _submit(course, "en-unstable", _with_code("softmax", unstable))
    run = dlcourse(course, "autograde", A, "--workers", "2", "--quiet")
    assert run.returncode == 0, run.stdout + run.stderr
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {s.student_id: {"total": s.score, "max": s.max_score,
                                 **{g.name: g.score for nb in s.notebooks for g in nb.grades}}
                  for s in gb.assignment_submissions(A)}
    ref = scores["pt-reference"]
    assert ref["total"] == ref["max"] - written_points(A)
    tests = {k: v for k, v in scores["en-unstable"].items() if k.startswith("test_")}
    assert tests == {k: v for k, v in scores["pt-unstable"].items() if k.startswith("test_")}
    assert tests["test_softmax_stability"] == 0 and tests["test_softmax"] > 0
    graded = nbformat.read(course / "autograded" / "pt-unstable" / A / f"{A}.ipynb", as_version=4)
    assert graded.metadata["dlcourse"]["language"] == "pt_BR"
    fb = dlcourse(course, "feedback", A)
    assert fb.returncode == 0, fb.stdout + fb.stderr
    page = (course / "feedback" / "pt-unstable" / A / f"{A}.html").read_text(encoding="utf-8")
    assert "Estudante" in page and "falhou" in page and "Student:" not in page
    assert "Dica: subtraia a maior pontuação de cada linha antes do np.exp." in page  # the test cell's own hint
    english = (course / "feedback" / "en-unstable" / A / f"{A}.html").read_text(encoding="utf-8")
    assert "Student:" in english
    _screenshot(course / "feedback" / "pt-unstable" / A / f"{A}.html", "pt_BR-feedback-page.png")


def _screenshot(page_path: Path, name: str) -> None:
    """The page as Chromium shows it, in $DLCOURSE_ARTIFACTS/browser/ (where the browser tests put theirs)."""
    import os

    chromium = Path("/usr/bin/chromium")
    if not chromium.is_file():
        return
    from playwright.sync_api import sync_playwright

    out = Path(os.environ.get("DLCOURSE_ARTIFACTS") or ROOT / "tests" / "artifacts") / "browser" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=["--headless", "--no-sandbox",
                                                                            "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(page_path.resolve().as_uri())
        assert page.evaluate("document.documentElement.lang") == "pt-BR"
        page.screenshot(path=str(out), full_page=True)
        browser.close()
    print(f"screenshot: {out}")


@pytest.mark.slow
def test_validate_runs_a_portuguese_notebook(tmp_path):
    from test_grading import dlcourse

    good = tmp_path / "good" / f"{A}.ipynb"
    good.parent.mkdir()
    nbformat.write(_pt_student_notebook(), good)
    ok = dlcourse(ROOT, "validate", str(good))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "  OK  test_softmax" in ok.stdout and "; falharam: 0" in ok.stdout, ok.stdout
    bad = tmp_path / "bad" / f"{A}.ipynb"
    bad.parent.mkdir()
    nbformat.write(_pt_student_notebook({"q_uniform_loss": "q_uniform_loss = 2,303\n"}), bad)
    failing = dlcourse(ROOT, "validate", str(bad))
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "q_uniform_loss: responda com um único número; veio a tupla (2, 303)." in failing.stdout, failing.stdout
    assert "  FALHOU  test_q_uniform_loss" in failing.stdout and "falharam: 1" in failing.stdout, failing.stdout


def test_student_bundle_offers_both_languages(tmp_path):
    from dlcourse.classroom.bundle import build_bundle, check_bundle
    from dlcourse.classroom.release import colab_url

    out = build_bundle(ROOT, tmp_path / "bundle")
    assert check_bundle(out) == []
    assert (out / "release" / A / "pt_BR" / f"{A}.ipynb").is_file()
    assert (out / "dlcourse" / "i18n" / "locale" / "pt_BR" / "LC_MESSAGES" / "dlcourse.po").is_file()
    assert not list((out / "release").rglob("*.po"))
    # the explanations of the concept questions tell the answers: instructor-only
    assert sorted(p.name for p in out.rglob("*.po")) == ["dlcourse.po", "tests.po"]
    tests_po = (out / "dlcourse" / "i18n" / "locale" / "pt_BR" / "LC_MESSAGES" / "tests.po").read_text()
    assert "record the mean cross-entropy before each update" not in tests_po  # hidden: instructor-only
    assert "subtract the largest score of each row" in tests_po  # a visible one ships
    from dlcourse.instructor.reference import QUESTIONS

    shipped = (out / "dlcourse" / "i18n" / "locale" / "pt_BR" / "LC_MESSAGES" / "dlcourse.po").read_text()
    assert QUESTIONS["q_grad_shape"]["why"]["a"][:40] not in shipped and "question:" not in shipped
    index = (out / "NOTEBOOKS.md").read_text(encoding="utf-8")
    assert colab_url(ROOT, A) in index and colab_url(ROOT, A, "pt_BR") in index


@pytest.mark.parametrize("assignment", TRANSLATED)
def test_written_answer_stubs_are_translated_the_one_fixed_way(assignment):
    """The grader tells an unanswered written question by its stub: one stub per language."""
    from dlcourse import cells
    from dlcourse.instructor.nbbuild import WRITTEN_ANSWER_STUB

    pt = _portuguese(assignment)
    en = {c.id: c for c in _english(assignment).cells}
    answers = [c for c in pt.cells if cells.answer_to(c)]
    for cell in answers:
        assert en[cell.id].source.strip() == WRITTEN_ANSWER_STUB
        assert cell.source.strip() == tr.ANSWER_STUBS["pt_BR"], cell.id


def test_the_page_of_an_ungradable_portuguese_submission_is_portuguese():
    from dlcourse.classroom.feedback import render_error

    page = render_error("maria", A, "Traceback...\nKernelDied: the kernel died", "pt_BR")
    assert "Não foi possível corrigir o seu notebook" in page and "Estudante" in page
    assert not ENGLISH.search(re.sub(r"<pre>.*?</pre>|<[^>]+>|Kernel &gt; Restart and run all", " ",
                                     page.split("</style>")[1], flags=re.S))


@pytest.mark.parametrize("message, expected", [
    ("softmax: 2 of 3 value(s) differ", None),  # no template: unchanged
    # a test's own label inside a check's sentence, and its own hint (01's test_softmax_stability)
    ("AssertionError: softmax([1000, -1000]) holds 2 non-finite value(s) (nan or inf), the first at index (0,).\n"
     "  Hint: subtract the largest score of each row before np.exp.",
     "AssertionError: softmax([1000, -1000]) tem 2 valor(es) não finito(s) (nan ou inf); o primeiro está no índice "
     "(0,).\n  Dica: subtraia a maior pontuação de cada linha antes do np.exp."),
    # an f-string of a hidden test, as a template
    ("the loss did not fall: first 1.099, last 1.200.", "a perda não caiu: primeira 1.099, última 1.200."),
    ("Wrong values for cross_entropy of 33 samples: 1 of 1 value(s) differ; first at index (): expected 1.5, got "
     "2.5 (largest finite error 1).",
     "Valores errados para cross_entropy de 33 amostras: 1 de 1 valor(es) diferem; o primeiro no índice (): era "
     "esperado 1.5; veio 2.5 (maior erro finito 1)."),
    ("Wrong shape for grad: expected (3,), got (3, 1).", "Forma errada para grad: era esperado (3,); veio (3, 1)."),
    ("x holds 1 non-finite value(s) (nan or inf), the first at index (1,).\n  Hint: an overflow in exp or a log of 0?",
     "x tem 1 valor(es) não finito(s) (nan ou inf); o primeiro está no índice (1,).\n  Dica: um estouro no exp ou "
     "um log de 0?"),
    ("Wrong value for loss: expected 3.0, got 2.0.\n  Hint: a custom hint of the test.",
     "Valor errado para loss: era esperado 3.0; veio 2.0.\n  Dica: a custom hint of the test."),
])
def test_check_messages_from_the_judge_are_translated_line_by_line(message, expected):
    from dlcourse.i18n.messages import translate_check

    assert translate_check(message, "en") == message
    assert translate_check(message, "pt_BR") == (expected or message)


# ---------------------------------------------------------------- how the Portuguese reads (issue 28's rules)


@pytest.mark.parametrize("assignment", TRANSLATED)
def test_portuguese_sentences_are_short_and_clean(assignment):
    from dlcourse.instructor import readability

    nb = _portuguese(assignment)
    long = [s for s in readability.sentences(nb) if len(s.split()) > readability.MAX_SENTENCE_WORDS]
    assert readability.average_words(nb) <= readability.MAX_AVERAGE_WORDS
    assert not long, long[:1]
    text = tr.translated_path(ROOT / "release" / assignment, assignment).read_text(encoding="utf-8")
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text)


@pytest.mark.parametrize("assignment", TRANSLATED)
def test_portuguese_choice_questions_keep_their_options_and_the_key_is_not_the_longest(assignment):
    """The same letters as in English, and the key is never the longest Portuguese option."""
    import importlib
    import pkgutil

    import dlcourse.instructor as instructor
    from dlcourse import cells
    from dlcourse.instructor import readability

    keys = {}
    for info in pkgutil.iter_modules(instructor.__path__):
        if info.name.startswith("ref") or info.name == "reference":
            keys.update(getattr(importlib.import_module(f"dlcourse.instructor.{info.name}"), "QUESTIONS", {}))
    en, pt = _english(assignment), _portuguese(assignment)
    checked = 0
    for i, cell in enumerate(pt.cells):
        name = cells.grade_id(cell)
        if not (cells.is_solution_cell(cell) and name in keys and "answer" in keys[name]):
            continue
        options = {}
        for j in range(i - 1, -1, -1):
            if pt.cells[j].cell_type == "markdown" and readability.choice_options(pt.cells[j].source):
                options = readability.choice_options(pt.cells[j].source)
                assert sorted(options) == sorted(readability.choice_options(en.cells[j].source)), name
                break
        key = keys[name]["answer"]
        assert key in options, name
        assert len(options[key]) <= max(len(t) for k, t in options.items() if k != key), name
        checked += 1
    assert checked or assignment == "00_setup"


def test_the_kernel_finds_the_notebooks_language(monkeypatch):
    """$DLCOURSE_LANG first; JupyterLab's session path (release/<id>/pt_BR/); Colab's own notebook
    metadata, asked of the page once; else English."""
    import sys
    import types

    from dlcourse import i18n

    monkeypatch.delenv("DLCOURSE_LANG", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    i18n._colab_language.cache_clear()
    assert i18n.current_language() == "en"
    monkeypatch.setenv("JPY_SESSION_NAME", f"/home/me/release/{A}/pt_BR/{A}.ipynb")
    assert i18n.current_language() == "pt_BR"
    monkeypatch.setenv("DLCOURSE_LANG", "en")
    assert i18n.current_language() == "en"
    monkeypatch.delenv("DLCOURSE_LANG")
    monkeypatch.delenv("JPY_SESSION_NAME")
    message = types.ModuleType("google.colab._message")
    message.blocking_request = lambda kind, timeout_sec: {"ipynb": {"metadata": {"dlcourse": {"language": "pt_BR"}}}}
    colab = types.ModuleType("google.colab")
    colab._message = message
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab._message", message)
    i18n._colab_language.cache_clear()  # asked once per kernel: the first answer above was English
    try:
        assert i18n.current_language() == "pt_BR"
    finally:
        i18n._colab_language.cache_clear()


def test_an_untouched_portuguese_answer_counts_as_unanswered():
    """A blank written answer scores 0 in either language: the grader knows both stubs."""
    from dlcourse import cells
    from dlcourse.grader.autograde import unanswered_written

    pt = _portuguese(A)
    written = sorted(cells.grade_id(c) for c in pt.cells if cells.is_written_question(c))
    assert written and unanswered_written(pt) == written
    answer = next(c for c in pt.cells if cells.answer_to(c))
    answer.source = "Porque a softmax não muda quando somamos a mesma constante a cada logit."
    assert cells.answer_to(answer) not in unanswered_written(pt)


# ---------------------------------------------------------------- comments and docstrings of code cells


CODE = '''%matplotlib inline
def softmax(z):  # along the last axis
    """Softmax of each row.

    z: (N, C) -> (N, C)"""
    marker = "# not a comment"
    # YOUR CODE HERE
    raise NotImplementedError()  # noqa: E501
'''


def test_code_pieces_are_comments_and_docstrings_only():
    from dlcourse.i18n.code_text import pieces

    found = [(p.kind, p.text) for p in pieces(CODE)]
    assert found == [("comment", "# along the last axis"),
                     ("docstring", "Softmax of each row.\n\n    z: (N, C) -> (N, C)"),
                     ("comment", "# YOUR CODE HERE")]  # not the string, not the tool's noqa comment


def test_translated_comments_keep_the_program_and_a_changed_program_is_seen():
    from dlcourse.i18n.code_text import replace, same_code

    pt = replace(CODE, {"# along the last axis": "# ao longo do último eixo", "# YOUR CODE HERE": "# SEU CÓDIGO AQUI",
                        "Softmax of each row.\n\n    z: (N, C) -> (N, C)":
                            "Softmax de cada linha.\n\n    z: (N, C) -> (N, C)"})
    assert "# SEU CÓDIGO AQUI" in pt and "Softmax de cada linha." in pt and "# noqa: E501" in pt
    assert same_code(CODE, pt)
    assert not same_code(CODE, pt.replace("marker =", "other ="))
    assert not same_code(CODE, pt.replace('"# not a comment"', '"# não"'))  # a string is code
    assert not same_code(CODE, pt.replace("%matplotlib inline", "%matplotlib widget"))


def _code_catalog(nb, change):
    """The committed catalogue of A with `change(context, message)` applied to its code entries."""
    catalog = _catalog()
    for msg in catalog:
        if msg.context and "/" in msg.context:
            msg.string = msg.string or msg.id  # every entry usable: only the change below is at fault
            change(msg)
    return catalog


@pytest.mark.parametrize("how", ["docstring_closes_early", "comment_without_hash", "comment_on_two_lines"])
def test_a_translation_that_would_change_the_code_fails_the_build_naming_it(how):
    nb = _english(A)
    target = {"docstring_closes_early": "/docstring/", "comment_without_hash": "/comment/",
              "comment_on_two_lines": "/comment/"}[how]
    chosen = []

    def change(msg):
        if target in msg.context and not chosen:
            chosen.append(msg.context)
            msg.string = {"docstring_closes_early": 'Texto."""; import os; """',
                          "comment_without_hash": "comentário sem cerquilha",
                          "comment_on_two_lines": "# linha um\nx = 1  # linha dois"}[how]

    catalog = _code_catalog(nb, change)
    with pytest.raises(tr.TranslationError) as err:
        tr.build(nb, A, catalog)
    cell_id = chosen[0].split("/")[0]
    assert cell_id in str(err.value)


def test_the_portuguese_comments_are_translated():
    """The Portuguese 01 shows the students Portuguese comments in its answer cells."""
    pt = _portuguese(A)
    text = "".join(c.source for c in pt.cells if c.cell_type == "code")
    assert "# SEU CÓDIGO AQUI" in text and "# YOUR CODE HERE" not in text


def test_a_test_description_is_its_whole_first_paragraph():
    """The feedback page (and the catalogue) say what a test checks with the docstring's whole first
    paragraph: a docstring wrapped over two lines is not cut after the first."""
    from nbformat.v4 import new_code_cell

    from dlcourse.classroom.feedback import describe

    cell = new_code_cell('"""fit: a falling loss; hidden: follows\nplain gradient descent.\n\nMore."""\ncheck(1)')
    assert describe(cell) == "fit: a falling loss; hidden: follows plain gradient descent."
    assert describe(new_code_cell("'''one line.'''")) == "one line."
    assert describe(new_code_cell("check(1)")) == ""
