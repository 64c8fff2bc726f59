"""The tapes the judge reads: what each test cell emitted while it ran, in order, bounded.

The kernel supervisor (`sandbox.SandboxedExecute`) takes each tape event out of the kernel's
messages as they arrive: only display data of a test cell's own execution (nbclient routes a
message to the cell whose execute request is its parent), never an update of a display or an
output with a display id. An event stays the JSON text the kernel sent; the grading process
only scans it (`scan`: brackets and commas outside strings, no objects made) and counts it
against one budget per notebook (`TapeRecorder`). The tapes travel beside the notebook, under
the job's nonce like the incidents, to a file that only the judge's forked child parses
(`load_tapes`, under the child's memory limit): never the grading worker, never the judge server.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TAPES_KEY = "tapes"  # in the graded notebook's metadata["dlcourse"], under the job's nonce
MAX_DEPTH = 128            # nesting of one event's JSON text (the decoder stops at 60 values deep)
MAX_ITEMS = 1_000_000      # containers and elements in all of a notebook's tapes (arrays are one item)
SCAN_FROM = 64 * 1024      # a message smaller than this cannot break the limits: never scanned
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_STEP = np.zeros(256, np.int32)  # what each byte does to the nesting depth
_STEP[list(b"[{")], _STEP[list(b"]}")] = 1, -1


def scan(text: bytes | str, max_depth: int = MAX_DEPTH, max_items: int = MAX_ITEMS) -> tuple[int, int]:
    """(items, depth) of JSON text without parsing it: the brackets and commas outside strings.
    The depth is only measured up to `max_depth` + 1, and not at all past `max_items`."""
    data = text.encode() if isinstance(text, str) else text
    bare = _STRING.sub(b"", data)
    items = bare.count(b"[") + bare.count(b"{") + bare.count(b",")
    if items > max_items:
        return items, 0
    depth, deepest = 0, 0
    chunk = 1 << 22
    for start in range(0, len(bare), chunk):
        part = np.frombuffer(bare, np.uint8, count=min(chunk, len(bare) - start), offset=start)
        steps = _STEP[part]
        if steps.any():
            levels = np.cumsum(steps) + depth
            deepest, depth = max(deepest, int(levels.max())), int(levels[-1])
        if deepest > max_depth:
            break
    return items, deepest


def too_complex(text: bytes | str, items_left: int, max_depth: int = MAX_DEPTH) -> tuple[int, str]:
    """(items, why it cannot be read: "" when it can) for one JSON text, before anything parses it."""
    items, depth = scan(text, max_depth, items_left)
    if items > items_left:
        return items, f"more than {MAX_ITEMS:,} values"
    if depth > max_depth:
        return items, f"values nested more than {max_depth} deep"
    return items, ""


@dataclass
class TapeRecorder:
    """The tapes of one notebook's test cells, as the supervisor captured them, within one budget."""

    limit_bytes: int
    limit_items: int = MAX_ITEMS
    tapes: dict[str, list[str]] = field(default_factory=dict)  # grade_id -> event texts, in order
    broken: dict[str, str] = field(default_factory=dict)       # grade_id -> why it cannot be judged
    used_bytes: int = 0
    used_items: int = 0

    def start(self, grade_id: str) -> None:
        """A test cell starts running: its tape starts empty."""
        self.tapes[grade_id] = []
        self.broken.pop(grade_id, None)

    def refuse(self, grade_id: str, why: str) -> None:
        self.broken.setdefault(grade_id, why)
        self.tapes[grade_id] = []

    def add(self, grade_id: str, text: str) -> str:
        """Keep one event of `grade_id`'s tape; "" or, when it was refused, why (the first time)."""
        if grade_id in self.broken:
            return ""
        size = len(text)
        if self.used_bytes + size > self.limit_bytes:  # refused; a smaller recording may still fit
            why = (f"the recordings of this notebook's tests passed {self.limit_bytes / 2**20:g} MB in total "
                   "(the grader's tape budget); this test's recording was cut")
            self.refuse(grade_id, why)
            return why
        items, why = too_complex(text, self.limit_items - self.used_items)
        if why:
            where = " in this notebook's recordings" if items > self.limit_items - self.used_items else ""
            self.refuse(grade_id, f"this test's recording was refused unread: {why}{where}")
            return self.broken[grade_id]
        self.used_bytes += size
        self.used_items += items
        self.tapes.setdefault(grade_id, []).append(text)
        return ""


def write_tapes(nb, nonce: str, recorder: TapeRecorder) -> None:
    """Attach the captured tapes to the graded notebook, under the job's secret nonce."""
    nb.metadata.setdefault("dlcourse", {})[TAPES_KEY] = {"nonce": nonce, "tapes": recorder.tapes,
                                                         "broken": recorder.broken}


def read_tapes(nb, nonce: str) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The tapes the supervisor attached (removed from the notebook): ({grade_id: event texts},
    {grade_id: why it cannot be judged}); none when the nonce does not match."""
    found = (nb.metadata.get("dlcourse") or {}).pop(TAPES_KEY, None)
    if not isinstance(found, dict) or found.get("nonce") != nonce:
        return {}, {}
    tapes = {str(k): [t for t in v if isinstance(t, str)] for k, v in (found.get("tapes") or {}).items()}
    return tapes, {str(k): str(v) for k, v in (found.get("broken") or {}).items()}


def save_tapes(path: Path, tapes: dict[str, list[str]], broken: dict[str, str]) -> None:
    """The judge's input file: the event texts stay strings, for the judge's child to parse."""
    path.write_text(json.dumps({"tapes": tapes, "broken": broken}))


def load_tapes(path: str | Path) -> tuple[dict[str, list[dict]], dict[str, str]]:
    """In the judge's child only: each test's events, parsed and checked (`decode_tape`)."""
    saved = json.loads(Path(path).read_text())
    broken = dict(saved.get("broken") or {})
    tapes: dict[str, list[dict]] = {}
    for grade_id, texts in (saved.get("tapes") or {}).items():
        if grade_id in broken:
            continue
        try:
            tapes[grade_id] = decode_tape(grade_id, texts)
        except ValueError as exc:
            broken[grade_id] = str(exc)
    return tapes, broken


def decode_tape(grade_id: str, texts: list[str]) -> list[dict]:
    """The events of one test cell's tape; ValueError when it is not one this test could have made:
    an event for another test, a value recorded twice or after the test's first call."""
    events = []
    for text in texts:
        try:
            item = json.loads(text)
        except (ValueError, RecursionError):
            raise ValueError("the recording from the grading kernel is not readable") from None
        if not isinstance(item, dict) or not isinstance(item.get("event"), dict):
            raise ValueError("the recording from the grading kernel is not readable")
        if item.get("test") != grade_id:
            raise ValueError("the recording of this test holds an event of another test")
        events.append(item["event"])
    values = [e.get("name") for e in events if e.get("op") == "value"]
    if len(values) != len(set(values)):
        raise ValueError("the recording of this test holds an answer twice")
    leading = next((i for i, e in enumerate(events) if e.get("op") != "value"), len(events))
    if len(values) != leading:
        raise ValueError("the recording of this test holds an answer after its first call")
    return events
