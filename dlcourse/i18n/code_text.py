"""The translatable text of a code cell: its comments and its docstrings, nothing else.

`pieces(source)` finds them (Python's own `tokenize` for comments, `ast` for docstrings, so a `#` in
a string or a string that is not a docstring is never taken); `replace(source, translations)` puts
translations in their place; `same_code(a, b)` says whether two sources are the same program once
comments and docstrings are set aside: the Portuguese notebook is built only when it is, and the
grader reads a read-only or test cell with translated comments as the cell it released.

IPython's line magics and shell escapes (`%matplotlib`, `!pip`) are masked before parsing; a cell that
still does not parse as Python has no translatable text (it is kept as it is).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass

# Comments that tools read: never translated
_TOOL_COMMENT = re.compile(r"#\s*(noqa|type:|pragma|fmt:|%%|!|-\*-)")
_STRING_PREFIX = re.compile(r"^([rRbBuUfF]*)('''|\"\"\"|'|\")")


@dataclass(frozen=True)
class Piece:
    kind: str    # "comment" (the whole token, "#" included) or "docstring" (the text between the quotes)
    start: int   # offsets of `text` in the source
    end: int
    text: str


def masked(source: str) -> str:
    """Magic and shell lines blanked to spaces of the same length (offsets unchanged)."""
    lines = source.splitlines(keepends=True)
    out = []
    for line in lines:
        body = line.rstrip("\r\n")
        if body.lstrip().startswith(("%", "!")):
            line = " " * len(body) + line[len(body):]
        out.append(line)
    return "".join(out)


def _line_starts(source: str) -> list[int]:
    starts, pos = [0], 0
    for line in source.splitlines(keepends=True):
        pos += len(line)
        starts.append(pos)
    return starts


def _docstring_nodes(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                yield first.value


def pieces(source: str) -> list[Piece]:
    """Comments and docstrings of `source`, in order; [] when it does not parse."""
    text = masked(source)
    try:
        tree = ast.parse(text)
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (SyntaxError, tokenize.TokenError, IndentationError, ValueError):
        return []
    starts = _line_starts(source)
    found: list[Piece] = []
    for tok in tokens:
        if tok.type == tokenize.COMMENT and not _TOOL_COMMENT.match(tok.string):
            begin = starts[tok.start[0] - 1] + tok.start[1]
            found.append(Piece("comment", begin, begin + len(tok.string), tok.string))
    for node in _docstring_nodes(tree):
        # ast offsets are UTF-8 byte columns: convert through the line's bytes
        lines = source.splitlines(keepends=True)
        line, end_line = lines[node.lineno - 1], lines[node.end_lineno - 1]
        begin = starts[node.lineno - 1] + len(line.encode()[:node.col_offset].decode())
        end = starts[node.end_lineno - 1] + len(end_line.encode()[:node.end_col_offset].decode())
        literal = source[begin:end]
        match = _STRING_PREFIX.match(literal)
        if match is None or not literal.endswith(match.group(2)) or "f" in match.group(1).lower():
            continue  # implicit concatenation or an f-string: left as it is
        open_len = len(match.group(0))
        close_len = len(match.group(2))
        found.append(Piece("docstring", begin + open_len, end - close_len, literal[open_len:-close_len]))
    return sorted(found, key=lambda p: p.start)


def replace(source: str, translations: dict[str, str]) -> str:
    """`source` with each piece whose text is a key of `translations` replaced by its value."""
    out = source
    for piece in sorted(pieces(source), key=lambda p: -p.start):
        new = translations.get(piece.text)
        if new is not None:
            out = out[:piece.start] + new + out[piece.end:]
    return out


def problem(piece_kind: str, english: str, translation: str) -> str | None:
    """Why a translation cannot stand in the English one's place, or None."""
    if piece_kind == "comment":
        if not translation.startswith("#"):
            return "a comment's translation must start with '#'"
        if "\n" in translation or "\r" in translation:
            return "a comment's translation must stay on one line"
    elif piece_kind == "docstring":
        if english.count("\n") == 0 and "\n" in translation:
            return "a one-line docstring's translation must stay on one line"
    return None


def _program(source: str) -> str | None:
    """The program without comments and docstrings (the AST, docstrings emptied), or None."""
    try:
        tree = ast.parse(masked(source))
    except (SyntaxError, ValueError):
        return None
    for node in _docstring_nodes(tree):
        node.value = ""
    return ast.dump(tree, include_attributes=False)


def same_code(a: str, b: str) -> bool:
    """True when `a` and `b` are the same program once comments and docstrings are set aside (and
    the same magic lines); sources that do not parse must be equal byte for byte."""
    if a == b:
        return True
    pa, pb = _program(a), _program(b)
    if pa is None or pb is None or pa != pb:
        return False
    return _magics(a) == _magics(b)


def _magics(source: str) -> list[str]:
    return [line.strip() for line in source.splitlines() if line.lstrip().startswith(("%", "!"))]
