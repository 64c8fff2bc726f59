"""The course in two languages (issue 31): English, the source, and Brazilian Portuguese (pt_BR).

Two catalogues, both gettext PO files read and written with Babel:

- one per notebook, `source/<id>/<id>.pt_BR.po` (`dlcourse.i18n.notebooks`): each markdown cell of
  the released English notebook, keyed by its cell id, and each comment and docstring of its code
  cells (`dlcourse.i18n.code_text`: the code itself is never translated); `dlcourse release` builds
  `release/<id>/pt_BR/<id>.ipynb` from it and fails, naming the cells, on a missing or stale entry;
- one for the messages of the package, `dlcourse/i18n/locale/pt_BR/LC_MESSAGES/dlcourse.po`: feedback
  page headings, grader notes, the late-policy line, the decimal-comma message. Strings are marked
  with `_()` / `N_()` and extracted with Babel (`dlcourse translate messages`). The PO file is read
  by Babel at run time (no compiled .mo file to keep in step); English needs neither Babel nor the file.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

LANGUAGES = ("en", "pt_BR")
SOURCE_LANGUAGE = "en"
METADATA_KEY = "language"  # nb.metadata["dlcourse"]["language"]: "pt_BR" in a Portuguese notebook
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "dlcourse"


def N_(message: str) -> str:
    """Mark a message for extraction where it is defined; translate it where it is shown."""
    return message


def normalize(language: str | None) -> str:
    """"pt-BR", "pt_BR.UTF-8", "pt" -> "pt_BR"; anything else -> "en"."""
    text = (language or "").strip().replace("-", "_").split(".")[0].lower()
    return "pt_BR" if text in ("pt_br", "pt") else SOURCE_LANGUAGE


def notebook_language(nb) -> str:
    """The language a notebook was released in (its metadata; English when it says nothing)."""
    meta = (nb.get("metadata") or {}).get("dlcourse") or {}
    return normalize(meta.get(METADATA_KEY)) if isinstance(meta, dict) else SOURCE_LANGUAGE


def current_language() -> str:
    """The language of the messages in this process: $DLCOURSE_LANG when set (the grader sets it from
    the submitted notebook's metadata, `dlcourse validate` from the notebook's), else a notebook opened
    from release/<id>/pt_BR/ in Jupyter ($JPY_SESSION_NAME), else English."""
    explicit = os.environ.get("DLCOURSE_LANG")
    if explicit:
        return normalize(explicit)
    session = os.environ.get("JPY_SESSION_NAME", "")
    if "/pt_BR/" in session.replace(os.sep, "/"):
        return "pt_BR"
    return _colab_language()


@functools.cache
def _colab_language() -> str:
    """In Colab, the open notebook's own metadata (asked of the page once, with a short timeout);
    English anywhere else or when Colab does not answer."""
    import sys

    if "google.colab" not in sys.modules:
        return SOURCE_LANGUAGE
    try:
        from google.colab import _message  # Colab's own channel to the page

        reply = _message.blocking_request("get_ipynb", timeout_sec=3) or {}
        return notebook_language(reply.get("ipynb") or {})
    except Exception:
        return SOURCE_LANGUAGE


@functools.cache
def _messages(language: str) -> dict[str, str]:
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == SOURCE_LANGUAGE or not path.is_file():
        return {}
    from babel.messages.pofile import read_po

    with path.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    return {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy and isinstance(m.id, str)}


def QUESTIONS_PATH(language: str) -> Path:  # noqa: N802 - a path that depends on the language
    """The concept questions' explanations: instructor-only (an explanation tells the answer), so
    under dlcourse/instructor/, which the student bundle leaves out."""
    return Path(__file__).resolve().parent.parent / "instructor" / "locale" / language / "LC_MESSAGES" / "questions.po"


@functools.cache
def _explanations(language: str) -> tuple[tuple[str, str], ...]:
    """(English, translation) of the concept questions' explanations (msgctxt "question:<name>"); none
    where the instructor catalogue is absent (a student's kernel, the bundle)."""
    path = QUESTIONS_PATH(language)
    if language == SOURCE_LANGUAGE or not path.is_file():
        return ()
    from babel.messages.pofile import read_po

    with path.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    return tuple((m.id, m.string) for m in catalog if isinstance(m.id, str) and m.id and m.string
                 and not m.fuzzy and (m.context or "").startswith("question:"))


def gettext(message: str, language: str | None = None) -> str:
    """`message` in `language` (the current one by default); the English text where none is written."""
    language = normalize(language) if language else current_language()
    return _messages(language).get(message, message) if language != SOURCE_LANGUAGE else message


_ = gettext


def decimal(value: float, language: str | None = None, digits: int = 2) -> str:
    """A number for prose: 0.67 in English, 0,67 in Portuguese."""
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"
    language = normalize(language) if language else current_language()
    return text.replace(".", ",") if language == "pt_BR" else text


def TESTS_PATH(language: str) -> Path:  # noqa: N802 - a path that depends on the language
    """The visible texts of the tests (what each checks, the visible checks' labels, messages and
    hints): shipped, since the release shows them in English."""
    return LOCALE_DIR / language / "LC_MESSAGES" / "tests.po"


def HIDDEN_TESTS_PATH(language: str) -> Path:  # noqa: N802
    """The hidden tests' texts: instructor-only."""
    return Path(__file__).resolve().parent.parent / "instructor" / "locale" / language / "LC_MESSAGES" / "hidden.po"


def _test_text_ids(language: str) -> set[str]:
    """Every test text with a translation in `language`, templates too short to match lines included."""
    exact, _templates = _test_texts(language)
    return set(exact) | {t for t, _s in _all_templates(language)}


def _all_templates(language: str) -> tuple[tuple[str, str], ...]:
    return _read_test_texts(language)[1]


@functools.cache
def _test_texts(language: str) -> tuple[dict[str, str], tuple[tuple[str, str], ...]]:
    exact, templates = _read_test_texts(language)
    # the most specific first; a template with too little fixed text ("{v1} for {v2}") would match
    # any line, so it is left out of matching
    usable = [t for t in templates if _fixed_chars(t[0]) >= MIN_TEMPLATE_TEXT]
    return exact, tuple(sorted(usable, key=lambda t: -_fixed_chars(t[0])))


@functools.cache
def _read_test_texts(language: str) -> tuple[dict[str, str], tuple[tuple[str, str], ...]]:
    """The tests' texts in `language`: (exact texts, templates with {v1}...), from whichever of the two
    catalogues is present."""
    exact, templates = {}, []
    if language == SOURCE_LANGUAGE:
        return exact, ()
    from babel.messages.pofile import read_po

    for path in (TESTS_PATH(language), HIDDEN_TESTS_PATH(language)):
        if not path.is_file():
            continue
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=language)
        for m in catalog:
            if isinstance(m.id, str) and m.id and m.string and not m.fuzzy:
                if "{v1}" in m.id:
                    templates.append((m.id, m.string))
                else:
                    exact[m.id] = m.string
    return exact, tuple(dict.fromkeys(templates))


MIN_TEMPLATE_TEXT = 12  # letters a template must hold outside its {v1}... to be matched against a line


def _fixed_chars(template: str) -> int:
    import re

    return len(re.sub(r"[^A-Za-z]", "", re.sub(r"\{v\d+\}", "", template)))


def describe_test(text: str, language: str) -> str:
    """A test's description in `language` where the catalogue has it (else as the test cell says it)."""
    return text if language == SOURCE_LANGUAGE else _test_texts(language)[0].get(text, text)
