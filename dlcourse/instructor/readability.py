"""How the course's prose reads: sentence lengths and multiple-choice length cues.

    python -m dlcourse.instructor.readability source/ID/ID.ipynb ...

prints, per notebook, the sentences of its markdown (formulas, code and markup left out), their
average length in words, the longest ones, and each concept question's option lengths.
tests/test_style.py holds every notebook to the limits below.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

MAX_AVERAGE_WORDS = 20
MAX_SENTENCE_WORDS = 35
OPTION = re.compile(r"^\s*[-*]\s+\*\*(?P<letter>[a-h])\*\*[).:]?\s+(?P<text>.+)$")
_MARKUP = re.compile(r"\$\$.*?\$\$|\$[^$\n]*\$|```.*?```|`[^`\n]*`|<[^>]+>|!\[[^\]]*\]\([^)]*\)", re.S)
_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-ZÀ-Þ(*])|\n\s*\n|\n\s*(?:[-*]|\d+\.)\s+|\n\s*#+\s+|\n\s*\|")


def prose_cells(nb) -> list[str]:
    """The markdown students read (a written question's mark scheme and answer stub left out)."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "markdown" or (cell.metadata.get("dlcourse") or {}).get("answer_to"):
            continue
        text = re.sub(r"[^\n]*BEGIN MARK SCHEME.*?END MARK SCHEME[^\n]*", "", cell.source, flags=re.S)
        out.append(text)
    return out


def sentences(nb) -> list[str]:
    """Sentences of three words or more, formulas and code replaced by one word."""
    found = []
    for text in prose_cells(nb):
        text = _MARKUP.sub(" X ", text)
        for part in _BREAK.split(text):
            words = re.sub(r"[#*_>|]", " ", part).split()
            if len(words) >= 3:
                found.append(" ".join(words))
    return found


def average_words(nb) -> float:
    lengths = [len(s.split()) for s in sentences(nb)]
    return sum(lengths) / len(lengths) if lengths else 0.0


def choice_options(markdown: str) -> dict[str, str]:
    """{letter: option text} of a concept question's '- **a** text' lines."""
    return {m.group("letter"): m.group("text").strip() for m in map(OPTION.match, markdown.splitlines()) if m}


def main(argv: list[str] | None = None) -> int:
    for path in argv if argv is not None else sys.argv[1:]:
        nb = nbformat.read(Path(path), as_version=4)
        found = sentences(nb)
        print(f"{path}: {len(found)} sentences, {average_words(nb):.1f} words on average "
              f"(limit {MAX_AVERAGE_WORDS}), {sum(len(s.split()) > MAX_SENTENCE_WORDS for s in found)} "
              f"over {MAX_SENTENCE_WORDS} words (limit 0)")
        for s in sorted(found, key=lambda s: -len(s.split()))[:8]:
            print(f"  {len(s.split()):3d}  {s[:140]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
