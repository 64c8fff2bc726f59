"""`dlcourse translate messages`: extract the package's messages with Babel (the strings passed to
`_()`, `gettext()` and `N_()` in dlcourse/) and merge them into the pt_BR message catalogue."""

from __future__ import annotations

from pathlib import Path

from . import DOMAIN, LOCALE_DIR, _messages

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


def messages_path(language: str = LANGUAGE) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def update_messages(language: str = LANGUAGE) -> tuple[Path, dict]:
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    path = messages_path(language)
    template = extract_template()
    if path.is_file():
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=language)
        catalog.update(template, update_header_comment=False, no_fuzzy_matching=False)
    else:
        catalog = Catalog(locale=language, project="dlcourse", fuzzy=False)
        for msg in template:
            if msg.id:
                catalog.add(msg.id, "", msg.locations, auto_comments=msg.auto_comments, context=msg.context)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        write_po(fh, catalog, width=0, sort_output=False, include_previous=True, ignore_obsolete=True)
    _messages.cache_clear()
    entries = [m for m in catalog if m.id]
    counts = {"messages": len(entries), "translated": sum(bool(m.string) and not m.fuzzy for m in entries),
              "missing": sum(not m.string for m in entries), "fuzzy": sum(m.fuzzy for m in entries)}
    return path, counts


def missing_messages(language: str = LANGUAGE) -> list[str]:
    """Marked messages of the package with no translation in the catalogue (a test keeps this empty)."""
    known = _messages(language)
    return sorted(m.id for m in extract_template() if m.id and m.id not in known)
