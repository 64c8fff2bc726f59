"""The notebook catalogues: `source/<id>/<id>.pt_BR.po`, one entry per markdown cell of the released
English notebook (msgctxt = cell id, msgid = the cell's whole source, msgstr = the Portuguese text),
and one per comment and per docstring of its code cells but the test cells, which stay byte-identical
(msgctxt = `<cell id>/comment/<digest>` or
`<cell id>/docstring/<digest>`, the digest of the English text; msgid = the comment, `#` included,
or the docstring's text between its quotes). The code itself is never translated: the Portuguese
notebook is built only when each code cell is the same program as the English one
(`code_text.same_code`).

`update` merges the current cells into the catalogue (new cells: empty msgstr; a changed cell keeps
its translation, marked fuzzy, with the msgid it was translated from as `#| msgid`); `status` counts
cells, translated, missing and stale entries; `build` writes the Portuguese notebook and refuses,
naming the cells, when any entry is missing, empty, fuzzy or stale. It never falls back to English.

Two cells are not taken from the catalogue: the late-policy cell (`dlcourse-late-policy`, written by
`dlcourse release` from grader_config.py, so that a changed due date leaves no translation stale) is
written from the message catalogue, and the English Colab link in a translation is pointed at the
Portuguese notebook.
"""

from __future__ import annotations

import copy
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import METADATA_KEY, code_text

LANGUAGE = "pt_BR"
POLICY_CELL_ID = "dlcourse-late-policy"  # = dlcourse.classroom.deadlines.POLICY_CELL_ID
# The written-answer stub in each language, the one place it is written: nbbuild puts the English one
# in every answer cell (its WRITTEN_ANSWER_STUB), every catalogue translates it as here, and an answer
# cell still holding either was not answered (the grader's unanswered_written).
ANSWER_STUBS = {"en": "**Your answer.** *(Write it here, in a few sentences.)*",
                LANGUAGE: "**Sua resposta.** *(Escreva aqui, em poucas frases.)*"}


class TranslationError(Exception):
    """A Portuguese notebook cannot be built: the message names every cell at fault."""


def po_path(root: Path, assignment: str, language: str = LANGUAGE) -> Path:
    return Path(root) / "source" / assignment / f"{assignment}.{language}.po"


def translated_path(release_dir: Path, assignment: str, language: str = LANGUAGE) -> Path:
    """release/<id>/pt_BR/<id>.ipynb: a supporting file of the assignment, not a second notebook."""
    return Path(release_dir) / language / f"{assignment}.ipynb"


def units(nb) -> list[tuple[str, str]]:
    """(context, English text) of each markdown cell, and of each comment and docstring of each code
    cell, in notebook order."""
    found = []
    for cell in nb.cells:
        if cell.cell_type not in ("markdown", "code") or cell.get("id") == POLICY_CELL_ID:
            continue
        if not cell.get("id"):
            raise TranslationError("a cell has no id: every cell needs a stable id (nbbuild gives one)")
        if cell.cell_type == "markdown":
            found.append((cell.id, cell.source))
            continue
        seen = set()
        for context, piece in code_units(cell):
            if context not in seen:
                seen.add(context)
                found.append((context, piece.text))
    return found


def code_units(cell) -> list[tuple[str, code_text.Piece]]:
    """(context, piece) of each comment and docstring of a code cell. A test cell has none: tests stay
    byte-identical in both languages (what a test checks reaches the student translated through the
    message catalogue, tests.po, on every page that shows a verdict)."""
    from ..cells import is_test_cell

    if is_test_cell(cell):
        return []
    return [(f"{cell.id}/{piece.kind}/{hashlib.blake2b(piece.text.encode(), digest_size=4).hexdigest()}", piece)
            for piece in code_text.pieces(cell.source)]


def read_catalog(path: Path):
    from babel.messages.pofile import read_po

    with Path(path).open("rb") as fh:
        catalog = read_po(fh, locale=LANGUAGE)
    for msg in list(catalog) + list(catalog.obsolete.values()):
        _read_previous(msg)
    return catalog


def _read_previous(msg) -> None:
    """Babel writes the previous msgid (`#| msgid "..."`) but reads it back as a user comment: take
    it back into msg.previous_id."""
    from babel.messages.pofile import unescape

    lines = [c for c in msg.user_comments if c.startswith("|")]
    if not lines:
        return
    msg.user_comments = [c for c in msg.user_comments if not c.startswith("|")]
    text = " ".join(line[1:].strip() for line in lines)
    if not text.startswith("msgid "):
        return
    text = text[len("msgid "):].split(" msgid_plural ", 1)[0]
    msg.previous_id = ["".join(unescape(q) for q in re.findall(r'"(?:[^"\\]|\\.)*"', text))]


def write_catalog(catalog, path: Path) -> None:
    from babel.messages.pofile import write_po

    buf = io.BytesIO()
    write_po(buf, catalog, width=0, sort_output=False, omit_header=False, include_previous=True,
             ignore_obsolete=False)
    Path(path).write_bytes(buf.getvalue())


def new_catalog(assignment: str):
    from babel.messages.catalog import Catalog

    catalog = Catalog(locale=LANGUAGE, project=f"dlcourse {assignment}", version="1", fuzzy=False,
                      header_comment=f"# Brazilian Portuguese catalogue of {assignment} (issue 31).\n"
                                     "# msgctxt: the cell id; msgid: the English markdown cell, as released.",
                      charset="utf-8")
    catalog.creation_date = catalog.revision_date = _EPOCH
    return catalog


def _entries(catalog) -> dict[str, object]:
    """Entries by cell id (msgctxt); the header has none."""
    return {m.context: m for m in catalog if m.id and m.context}


@dataclass
class Merge:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def update(nb, assignment: str, path: Path) -> Merge:
    """Merge the notebook's cells into the catalogue at `path` (created when absent)."""
    from babel.messages.catalog import Message

    old = read_catalog(path) if Path(path).is_file() else None
    catalog = new_catalog(assignment)
    if old is not None:  # keep the translators' header (team, dates) as it was
        catalog.creation_date, catalog.revision_date = old.creation_date, old.revision_date
        catalog.last_translator, catalog.language_team = old.last_translator, old.language_team
    previous = _entries(old) if old is not None else {}
    retired = {m.context: m for m in (old.obsolete.values() if old is not None else []) if m.context}
    merge = Merge()
    current = units(nb)
    for cell_id, source in current:
        before = previous.pop(cell_id, None) or retired.pop(cell_id, None)  # a cell that came back
        if before is None:
            catalog[source] = Message(source, "", context=cell_id)  # keyed by (msgid, context)
            merge.added.append(cell_id)
            continue
        msg = Message(source, before.string, context=cell_id, flags=set(before.flags),
                      user_comments=list(before.user_comments), previous_id=list(before.previous_id or []))
        if before.id != source and before.fuzzy and list(before.previous_id or []) == [source]:
            msg.flags.discard("fuzzy")  # the English went back to the text that was translated
            msg.previous_id = []
        elif before.id != source:
            msg.flags.add("fuzzy")
            if not msg.previous_id:  # the text the translation was made from, kept through later changes
                msg.previous_id = [before.id]
            merge.changed.append(cell_id)
        catalog[source] = msg
        if catalog.get(source, context=cell_id) is None:
            raise TranslationError(f"{cell_id}: Babel did not keep the entry")
    for cell_id, msg in previous.items():  # cells that are gone: kept as obsolete (#~) entries
        catalog.obsolete[(msg.id, cell_id)] = msg
        merge.removed.append(cell_id)
    for cell_id, msg in retired.items():  # gone before, still gone
        catalog.obsolete[(msg.id, cell_id)] = msg
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_catalog(catalog, path)
    return merge


@dataclass
class Status:
    assignment: str
    cells: int
    translated: list[str]
    missing: list[str]
    stale: list[str]
    words: int = 0  # words of the English cells
    code: int = 0   # entries that are comments or docstrings of code cells (the rest: markdown cells)

    @property
    def complete(self) -> bool:
        return not self.missing and not self.stale

    def line(self) -> str:
        return (f"{self.assignment}: {self.cells} entries ({self.cells - self.code} markdown cells, {self.code} "
                f"comments and docstrings), {len(self.translated)} translated, "
                f"{len(self.missing)} missing, {len(self.stale)} stale ({self.words} English words)")


def status(nb, assignment: str, catalog) -> Status:
    """Each cell is translated (its entry has a msgstr, is not fuzzy and its msgid is the cell's current
    text), missing (no entry or an empty msgstr) or stale (fuzzy, or the English text changed since)."""
    entries = _entries(catalog)
    found = Status(assignment, 0, [], [], [])
    for cell_id, source in units(nb):
        found.cells += 1
        found.code += "/" in cell_id
        found.words += len(source.split())
        msg = entries.get(cell_id)
        if msg is None or not (msg.string or "").strip():
            found.missing.append(cell_id)
        elif msg.fuzzy or msg.id != source:
            found.stale.append(cell_id)
        else:
            found.translated.append(cell_id)
    return found


def build(nb, assignment: str, catalog, *, english_url: str = "", translated_url: str = "",
          policy_text: str | None = None):
    """The Portuguese notebook: `nb` (the English release) with each markdown cell's source replaced by
    its translation and each code cell's comments and docstrings by theirs, every other byte of cells
    and metadata as it was, and metadata dlcourse.language. Raises TranslationError naming every
    missing or stale entry, and every translation that would change a code cell's program."""
    found = status(nb, assignment, catalog)
    if not found.complete:
        parts = []
        if found.missing:
            parts.append(f"missing ({len(found.missing)}): {', '.join(found.missing)}")
        if found.stale:
            parts.append(f"stale (the English text changed since it was translated, or the entry is fuzzy) "
                         f"({len(found.stale)}): {', '.join(found.stale)}")
        raise TranslationError(f"{assignment}: the {LANGUAGE} catalogue is incomplete, {'; '.join(parts)}. "
                               f"Run `dlcourse translate update {assignment}`, translate those cells in "
                               f"source/{assignment}/{assignment}.{LANGUAGE}.po, then release again.")
    entries = _entries(catalog)
    out = copy.deepcopy(nb)
    wrong = []
    for cell in out.cells:
        if cell.cell_type == "code" and cell.get("id") != POLICY_CELL_ID:
            translations = {}
            for context, piece in code_units(cell):
                text = entries[context].string
                why = code_text.problem(piece.kind, piece.text, text)
                if why:
                    wrong.append(f"{context} ({why})")
                translations[piece.text] = text
            source = code_text.replace(cell.source, translations)
            if not code_text.same_code(cell.source, source):
                wrong.append(f"{cell.id} (the translated comments or docstrings change the code)")
            cell.source = source
            continue
        if cell.cell_type != "markdown":
            continue
        if cell.get("id") == POLICY_CELL_ID:
            if policy_text is not None:
                cell.source = policy_text
            continue
        text = entries[cell.id].string
        if english_url and translated_url and translated_url not in text:
            text = text.replace(english_url, translated_url)
        cell.source = text
    if wrong:
        raise TranslationError(f"{assignment}: {len(wrong)} translation(s) of code cells cannot be used: "
                               f"{'; '.join(wrong)}. Fix them in source/{assignment}/{assignment}.{LANGUAGE}.po.")
    out.metadata.setdefault("dlcourse", {})[METADATA_KEY] = LANGUAGE
    return out


def write_notebook(nb, path: Path) -> None:
    """As nbgrader writes a release (nbformat's JSON, one space indent, a final newline)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(nb)
    Path(path).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


def _epoch():
    from datetime import datetime, timezone

    return datetime(2026, 1, 1, tzinfo=timezone.utc)


_EPOCH = _epoch()
