"""Checks behind the notebooks' tests, with messages that diagnose.

Every check raises `AssertionError` with a message that says what was checked,
what was expected and what came back (shape first, then values) and, when given,
the likely cause. Tests call these instead of bare `assert` so that a failing test
explains itself without showing its code.

Inside the grading kernel (`dlcourse.judging`, mode "record") the checks do nothing: the
values are only recorded there, and the same checks decide in the grader's process.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import numpy as np

from .judging import mode

__all__ = [
    "check",
    "check_type",
    "check_shape",
    "check_close",
    "check_finite",
    "check_unchanged",
    "show",
    "check_choice",
    "check_answer",
    "random_one_hot",
    "random_probabilities",
    "passed",
    "to_numpy",
]


def show(value: Any, width: int = 80) -> str:
    """A value as a person reads it: plain numbers (`1.0`, not `np.float64(1.0)`), cut to `width`."""
    if isinstance(value, (bool, np.bool_)):
        text = str(bool(value))
    elif isinstance(value, (int, np.integer)):
        text = str(int(value))
    elif isinstance(value, (float, np.floating)):
        text = f"{float(value):.6g}"
        if text.lstrip("-").isdigit():  # a float reads as one: 1.0, not 1
            text += ".0"
    elif isinstance(value, (str, np.str_)):
        text = repr(str(value))
    elif isinstance(value, np.ndarray) and value.ndim == 0:
        return show(value.item(), width)
    elif isinstance(value, (list, tuple)) and len(value) <= 1000:  # numbers inside read plainly too
        items = ", ".join(show(v, 10**6) for v in value)
        text = f"[{items}]" if isinstance(value, list) else f"({items}{',' if len(value) == 1 else ''})"
    else:
        text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _quiet_when_recording(check_fn):
    """In the grading kernel a check only lets the test run on: the grader decides."""

    @functools.wraps(check_fn)
    def wrapper(*args, **kwargs):
        if mode() != "record":
            return check_fn(*args, **kwargs)
        try:
            return check_fn(*args, **kwargs)
        except Exception:  # noqa: BLE001 - every verdict is made again by the grader
            return to_numpy_or_none(args[0]) if args else None

    return wrapper


def to_numpy_or_none(value: Any):
    try:
        return to_numpy(value)
    except Exception:  # noqa: BLE001
        return None


def _fail(message: str, hint: str | None = None) -> None:
    if hint:
        message = f"{message}\n  Hint: {hint}"
    raise AssertionError(message)


def to_numpy(value: Any) -> np.ndarray:
    """An array of `value`, whether it is a list, a numpy array, a torch or TF tensor."""
    if hasattr(value, "detach"):  # torch
        value = value.detach().cpu().numpy()
    elif hasattr(value, "numpy") and not isinstance(value, np.ndarray):  # tensorflow
        value = value.numpy()
    return np.asarray(value)


@_quiet_when_recording
def check(condition: bool, message: str, hint: str | None = None) -> None:
    """Fail with `message` (and `hint`) unless `condition` holds."""
    if not condition:
        _fail(message, hint)


@_quiet_when_recording
def check_type(value: Any, types: type | tuple[type, ...], name: str, hint: str | None = None) -> None:
    if not isinstance(value, types):
        names = (types,) if isinstance(types, type) else types
        wanted = " or ".join(t.__name__ for t in names)
        _fail(f"Wrong type for {name}: expected {wanted}, got {type(value).__name__}.", hint)


@_quiet_when_recording
def check_shape(value: Any, shape: Iterable[int], name: str, hint: str | None = None) -> np.ndarray:
    """Check the shape of `value` and return it as a numpy array."""
    if value is None:
        _fail(f"{name} is None: did you forget a `return`?", hint)
    arr = to_numpy(value)
    shape = tuple(shape)
    if arr.shape != shape:
        _fail(f"Wrong shape for {name}: expected {shape}, got {arr.shape}.", hint)
    return arr


@_quiet_when_recording
def check_finite(value: Any, name: str, hint: str | None = None) -> None:
    arr = to_numpy(value).astype(float)
    bad = ~np.isfinite(arr)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0]) if arr.ndim else ()
        _fail(f"{name} holds {int(bad.sum())} non-finite value(s) (nan or inf), the first at "
              f"index {where}.", hint or "an overflow in exp or a log of 0?")


def _describe_mismatch(got: np.ndarray, expected: np.ndarray, close: np.ndarray) -> str:
    idx = tuple(int(i) for i in np.argwhere(~close)[0]) if got.ndim else ()
    g, e = got[idx], expected[idx]
    err = np.abs(got.astype(float) - expected.astype(float))
    finite = err[np.isfinite(err)]
    largest = (f"largest absolute error {finite.max():.3g}" if finite.size
               else "no value is finite: look for nan or inf")
    return (f"{int((~close).sum())} of {close.size} value(s) differ; first at index {idx}: "
            f"expected {show(e)}, got {show(g)} ({largest}).")


@_quiet_when_recording
def check_close(value: Any, expected: Any, name: str, rtol: float = 1e-7, atol: float = 0.0,
                hint: str | None = None) -> None:
    """Compare shapes, then values within `rtol`/`atol` (numpy's `isclose`)."""
    expected_arr = to_numpy(expected)
    got = check_shape(value, expected_arr.shape, name, hint)
    try:
        got_f = got.astype(np.float64)
    except (TypeError, ValueError):
        _fail(f"{name} should be numeric, got values of dtype {got.dtype}.", hint)
    exp_f = expected_arr.astype(np.float64)
    close = np.isclose(got_f, exp_f, rtol=rtol, atol=atol, equal_nan=False)
    if not close.all():
        if got.ndim == 0:
            _fail(f"Wrong value for {name}: expected {show(exp_f.item())}, got {show(got_f.item())}.", hint)
        _fail(f"Wrong values for {name}: {_describe_mismatch(got_f, exp_f, close)}", hint)


@_quiet_when_recording
def check_unchanged(before: Any, after: Any, name: str, hint: str | None = None) -> None:
    """Check that an input was not modified in place."""
    if not np.array_equal(to_numpy(before), to_numpy(after)):
        _fail(f"{name} was modified in place.", hint or "work on a copy instead of the input array.")


def passed(name: str) -> None:
    """Print the line a test cell ends with when every check held."""
    print(f"\u2714 All tests passed: {name}")


def random_one_hot(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    """`n` random one-hot rows of `c` classes (test inputs)."""
    return np.eye(c)[rng.integers(0, c, size=n)]


def random_probabilities(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    """`n` random probability rows of `c` classes, each summing to 1 (test inputs)."""
    return rng.dirichlet(np.ones(c), size=n)


@_quiet_when_recording
def check_choice(answer: Any, options: Iterable[str], name: str) -> None:
    """A multiple-choice answer is one of `options` (the visible check of a concept question)."""
    options = [str(o) for o in options]
    if not isinstance(answer, str) or answer.strip().lower() not in [o.lower() for o in options]:
        _fail(f"{name}: answer with one of {options} (a string), got {show(answer)}.")


@_quiet_when_recording
def check_answer(answer: Any, key: dict, name: str) -> None:
    """Judge a concept question's answer with its key (hidden: keys never reach the release).

    `key` is {"answer": "b", "why": {"a": "why a is wrong", ...}} for multiple choice, or
    {"value": 3.0, "rtol": 0.01, "why": "what the number means"} for a numeric answer.
    """
    if "answer" in key:
        given = str(answer).strip().lower() if isinstance(answer, str) else answer
        if given != str(key["answer"]).lower():
            why = key.get("why", {}).get(given, "") if isinstance(given, str) else ""
            _fail(f"{name}: {show(answer)} is not the best answer.", why or None)
        return
    try:
        value = float(answer)
    except (TypeError, ValueError):
        _fail(f"{name}: answer with a number, got {show(answer)}.")
    if not np.isclose(value, float(key["value"]), rtol=float(key.get("rtol", 1e-6)), atol=float(key.get("atol", 0))):
        _fail(f"{name}: {show(value)} is not right.", key.get("why"))
