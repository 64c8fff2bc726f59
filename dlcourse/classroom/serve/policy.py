"""The SUBMIT setting of grader_config.py: how `dlcourse serve` treats submissions.

    SUBMIT = {
        "RATE": [3, 3600],        # at most 3 counted submissions per student and assignment per hour
        "HIDDEN": "after_deadline",  # or "on_submit": when the hidden tests' results are shown
        "COUNTS": "latest",       # or "best": which submission the gradebook keeps
        "MAX_UPLOAD_MB": 5,       # larger uploads get 413
        "MAX_ATTEMPTS": 3,        # gradings tried when the grader itself fails (then gradable: false)
        "DB_POOL": 10,            # with --db postgresql://...: the most connections one service opens
    }

A submission the grader could not grade (`gradable: false`) never counts against RATE.
DB_POOL sizes the service's pool of PostgreSQL connections (SQLite has none): its HTTP requests,
grading threads (`--workers`) and heartbeat borrow a connection for each statement or transaction,
so --workers + 2 is enough; several services on one server need DB_POOL each, within the server's
max_connections (100 by default).
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULTS = {"RATE": [3, 3600], "HIDDEN": "after_deadline", "COUNTS": "latest", "MAX_UPLOAD_MB": 5,
            "MAX_ATTEMPTS": 3, "DB_POOL": 10}


@dataclass(frozen=True)
class SubmitPolicy:
    rate_count: int = 3
    rate_seconds: float = 3600.0
    hidden: str = "after_deadline"
    counts: str = "latest"
    max_upload_bytes: int = 5 * 2**20
    max_attempts: int = 3
    db_pool: int = 10

    @classmethod
    def from_config(cls, data: dict | None) -> SubmitPolicy:
        found = submit_problems(data)
        if found:
            raise ValueError("; ".join(found))
        d = {**DEFAULTS, **(data or {})}
        count, seconds = d["RATE"]
        return cls(int(count), float(seconds), d["HIDDEN"], d["COUNTS"], int(float(d["MAX_UPLOAD_MB"]) * 2**20),
                   int(d["MAX_ATTEMPTS"]), int(d["DB_POOL"]))


def submit_problems(data) -> list[str]:
    """Every mistake in SUBMIT, one line each ([] when it is sound or absent)."""
    import difflib

    if data is None or data == {}:
        return []
    if not isinstance(data, dict):
        return [f"SUBMIT must be a dict (keys {', '.join(DEFAULTS)}), not {type(data).__name__}"]
    out = []
    for key in data:
        if key not in DEFAULTS:
            close = difflib.get_close_matches(str(key), list(DEFAULTS), n=1)
            out.append(f"SUBMIT: {key!r} is not a key" + (f" (did you mean {close[0]!r}?)" if close else ""))
    rate = data.get("RATE", DEFAULTS["RATE"])
    if (not isinstance(rate, list | tuple) or len(rate) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in rate)
            or rate[0] < 1 or rate[1] < 0):
        out.append(f"SUBMIT['RATE']: {rate!r} must be [count, seconds], e.g. [3, 3600] (count >= 1, seconds >= 0)")
    if data.get("HIDDEN", "after_deadline") not in ("after_deadline", "on_submit"):
        out.append(f"SUBMIT['HIDDEN']: {data['HIDDEN']!r} must be 'after_deadline' or 'on_submit'")
    if data.get("COUNTS", "latest") not in ("latest", "best"):
        out.append(f"SUBMIT['COUNTS']: {data['COUNTS']!r} must be 'latest' or 'best'")
    for key in ("MAX_UPLOAD_MB", "MAX_ATTEMPTS"):
        value = data.get(key, DEFAULTS[key])
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            out.append(f"SUBMIT[{key!r}]: {value!r} must be a positive number")
    pool = data.get("DB_POOL", DEFAULTS["DB_POOL"])
    if not isinstance(pool, int) or isinstance(pool, bool) or pool < 1:
        out.append(f"SUBMIT['DB_POOL']: {pool!r} must be a whole number of connections, 1 or more")
    return out
