"""`dlcourse translate messages`: extract the package's messages with Babel (the strings passed to
`_()`, `gettext()` and `N_()` in dlcourse/) and merge them into the pt_BR message catalogue."""

from __future__ import annotations

from pathlib import Path

from . import DOMAIN, LOCALE_DIR, _explanations, _messages, _read_test_texts, _test_text_ids, _test_texts

PACKAGE = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": (1,), "gettext": (1,), "N_": (1,)}
LANGUAGE = "pt_BR"


def extract_template():
    """A Babel catalogue of every marked message of dlcourse/ (instructor code included)."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    template = Catalog(project="dlcourse", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
            str(PACKAGE), method_map=[("**.py", "python")], keywords=KEYWORDS,
            comment_tags=("TRANSLATORS:",), strip_comment_tags=True):
        if isinstance(message, str) and message:
            template.add(message, None, [(f"dlcourse/{filename}", lineno)], auto_comments=comments,
                         context=context)
    return template


def questions_template():
    """A Babel catalogue of the concept questions' explanations (msgctxt "question:<name>")."""
    from babel.messages.catalog import Catalog

    template = Catalog(project="dlcourse questions", fuzzy=False)
    wanted = translated_questions()
    for name, why, where in question_explanations():
        if name not in wanted:
            continue
        template.add(why, None, [(where, None)], auto_comments=[f"explanation of {name}"],
                     context=f"question:{name}")
    return template


def question_explanations() -> list[tuple[str, str, str]]:
    """(question, explanation, module) of every concept question's key (dlcourse/instructor/ref_*.py,
    reference.py: QUESTIONS[...]["why"]), in the order the modules define them. The judge shows an
    explanation after "Hint:"; the feedback page shows its translation."""
    import importlib
    import pkgutil

    try:
        import dlcourse.instructor as instructor
    except ImportError:  # the student bundle has no instructor package
        return []
    found = []
    for info in sorted(pkgutil.iter_modules(instructor.__path__), key=lambda i: i.name):
        if not (info.name.startswith("ref") or info.name == "reference"):
            continue
        questions = getattr(importlib.import_module(f"dlcourse.instructor.{info.name}"), "QUESTIONS", {})
        for name, key in questions.items():
            why = key.get("why")
            texts = [why] if isinstance(why, str) else [why[k] for k in sorted(why)] if isinstance(why, dict) else []
            found += [(name, text, f"dlcourse/instructor/{info.name}.py") for text in texts if text]
    return found


def translated_sources() -> list[Path]:
    """source/<id>/<id>.ipynb of each assignment that has a catalogue (source/<id>/<id>.pt_BR.po): only
    their tests' texts and questions' explanations are extracted, so that an assignment's texts join
    the message catalogues when its translation starts."""
    source = PACKAGE.parent / "source"
    return [p for p in sorted(source.glob("*/*.ipynb")) if source.is_dir()
            and (p.parent / f"{p.stem}.{LANGUAGE}.po").is_file()]


def translated_questions() -> set[str]:
    """The names of the solution cells (concept questions among them) of the translated assignments."""
    import nbformat

    from .. import cells

    return {cells.grade_id(c) for p in translated_sources() for c in nbformat.read(p, as_version=4).cells
            if cells.is_solution_cell(c)}


CHECK_CALLS = ("check", "check_close", "check_shape", "check_finite", "check_unchanged", "check_number",
               "check_type", "check_choice", "check_answer")
HIDDEN_MARK = "### BEGIN HIDDEN TESTS"


def test_texts() -> list[tuple[str, str, str, str, bool]]:
    """(assignment, test grade id, kind, text, hidden) of every test cell of source/: kind "doc" is
    its docstring's first line (what the feedback page says the test checks), kind "check" a string
    given to a check (a label, a message or a hint; an f-string as a template whose {v1}, {v2}...
    stand for its values). `hidden`: written inside the hidden tests (never in the student bundle)."""
    import nbformat

    from ..classroom.feedback import describe
    from ..grader.execute import is_test_cell

    found = []
    for path in translated_sources():
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if not is_test_cell(cell):
                continue
            gid = cell.metadata["nbgrader"]["grade_id"]
            if describe(cell):
                found.append((path.stem, gid, "doc", describe(cell), False))
            found += [(path.stem, gid, "check", text, hidden) for text, hidden in _check_strings(cell.source)]
    return found


def _check_strings(source: str) -> list[tuple[str, bool]]:
    import ast
    import re

    from .code_text import masked

    lines = source.splitlines()
    hidden_from = next((i + 1 for i, line in enumerate(lines) if line.strip() == HIDDEN_MARK), len(lines) + 1)
    code = masked(source)  # IPython's magics and shell lines blanked, as the catalogue's code_text does
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", "")
        if name not in CHECK_CALLS:
            continue
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            text = _template(arg)
            if text and not re.fullmatch(r"\w+", text):  # a bare name is code
                found.append((text, node.lineno >= hidden_from))
    return found


def _template(node) -> str | None:
    """A string constant as it is; an f-string with {v1}, {v2}... for its values; else None."""
    import ast

    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
    elif isinstance(node, ast.JoinedStr):
        parts, count = [], 0
        for value in node.values:
            if isinstance(value, ast.Constant):
                if "{" in value.value or "}" in value.value:
                    return None
                parts.append(value.value)
            else:
                count += 1
                parts.append(f"{{v{count}}}")
        text = "".join(parts)
    else:
        return None
    if isinstance(node, ast.Constant) and ("{" in text or "}" in text):
        return None
    return text.strip() or None


def tests_template(hidden: bool):
    """A Babel catalogue of the tests' texts: the visible ones (shipped: the release shows them) or
    the hidden ones (instructor-only)."""
    from babel.messages.catalog import Catalog

    template = Catalog(project="dlcourse tests", fuzzy=False)
    for assignment, grade_id, kind, text, is_hidden in test_texts():
        if is_hidden == hidden:
            template.add(text, None, [(f"source/{assignment}/{assignment}.ipynb", None)],
                         context=f"{'test' if kind == 'doc' else 'check'}:{assignment}:{grade_id}")
    return template


def messages_path(language: str = LANGUAGE) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def update_messages(language: str = LANGUAGE) -> tuple[Path, dict]:
    """Merge the package's messages into dlcourse.po and the concept questions' explanations into the
    instructor-only questions.po (never in the student bundle: an explanation tells the answer)."""
    from . import HIDDEN_TESTS_PATH, QUESTIONS_PATH, TESTS_PATH

    counts = {}
    for path, template, label in ((messages_path(language), extract_template(), ""),
                                  (QUESTIONS_PATH(language), questions_template(), "explanations"),
                                  (TESTS_PATH(language), tests_template(hidden=False), "tests"),
                                  (HIDDEN_TESTS_PATH(language), tests_template(hidden=True), "hidden")):
        catalog = _merge(path, template, language)
        entries = [m for m in catalog if m.id]
        counts[label or "messages"] = len(entries)
        counts[f"{label}_translated" if label else "translated"] = sum(bool(m.string) and not m.fuzzy
                                                                       for m in entries)
        if not label:
            counts["missing"] = sum(not m.string for m in entries)
            counts["fuzzy"] = sum(m.fuzzy for m in entries)
    _messages.cache_clear()
    _explanations.cache_clear()
    _test_texts.cache_clear()
    _read_test_texts.cache_clear()
    return messages_path(language), counts


def _merge(path: Path, template, language: str):
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    if path.is_file():
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=language)
        template.creation_date = catalog.creation_date  # an unchanged catalogue is rewritten byte for byte
        catalog.update(template, update_header_comment=False, no_fuzzy_matching=False)
    else:
        catalog = Catalog(locale=language, project=template.project, fuzzy=False)
        for msg in template:
            if msg.id:
                catalog.add(msg.id, "", msg.locations, auto_comments=msg.auto_comments, context=msg.context)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        write_po(fh, catalog, width=0, sort_output=False, include_previous=True, ignore_obsolete=True)
    return catalog


def missing_messages(language: str = LANGUAGE, questions: set[str] | None = None,
                     assignments: set[str] | None = None) -> list[str]:
    """Marked messages of the package, and the explanations of `questions` (all by default), with no
    translation in the catalogues (a test keeps this empty for the translated notebooks' questions)."""
    known = _messages(language)
    explained = dict(_explanations(language))
    missing = sorted(m.id for m in extract_template() if m.id and m.id not in known)
    for m in questions_template():
        name = (m.context or "").split(":", 1)[-1]
        if m.id and (questions is None or name in questions) and m.id not in explained:
            missing.append(f"{m.context}: {m.id}")
    known_tests = _test_text_ids(language)
    for hidden in (False, True):
        for m in tests_template(hidden):
            if not m.id:
                continue
            assignment = (m.context or "").split(":")[1]
            if (assignments is None or assignment in assignments) and m.id not in known_tests:
                missing.append(f"{m.context}: {m.id}")
    return missing
