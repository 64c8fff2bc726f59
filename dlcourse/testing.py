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
import re
import sys
from collections.abc import Iterable
from typing import Any

import numpy as np

from .i18n import gettext as _
from .judging import mode

__all__ = [
    "check",
    "check_type",
    "check_shape",
    "check_close",
    "check_finite",
    "check_unchanged",
    "show",
    "describe",
    "check_choice",
    "check_answer",
    "random_one_hot",
    "random_probabilities",
    "passed",
    "to_numpy",
]


SHORT_TEXT = 12  # a string of the judge's own options up to this long is quoted in messages
MAX_ITEMS = 6    # numbers or items a message shows of one value; more are summed up by kind and size
MAX_DIGITS = 15  # an integer with more digits is described by its length, not written out
_PLAIN_TEXT = re.compile(r"[\w .,:/+-]*")
LIBRARIES = {"builtins", "numpy", "torch", "tensorflow", "keras", "pandas", "collections", "fractions",
             "decimal"}


def show(value: Any, width: int = 80, allowed: Iterable[str] = ()) -> str:
    """A value as a person reads it: plain numbers (`1.0`, not `np.float64(1.0)`), cut to `width`.

    Only what this module formats itself (`describe`): never the value's own `repr` or `str`, which
    a student's object chooses (the feedback is no channel out of the grading kernel)."""
    text = describe(value, allowed=allowed)
    return text if len(text) <= width else text[: width - 3] + "..."


def describe(value: Any, depth: int = 0, allowed: Iterable[str] = ()) -> str:
    """What a message says about a value: a few numbers, else its kind, shape, dtype. Bounded: at
    most MAX_ITEMS numbers or items, an integer of at most MAX_DIGITS digits, a list inside a list
    summed up, and a string quoted only when it is one of `allowed` (a question's own options, text
    the judge knows), else "a string of N characters". A message is no channel out of the grading
    kernel: what a student's value can carry into it is a few numbers, whatever the value holds."""
    if value is None:
        return "None"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        text = str(int(value))
        digits = len(text.lstrip("-"))
        return text if digits <= MAX_DIGITS else f"an integer of {digits} digits"
    if isinstance(value, (float, np.floating)):
        text = f"{float(value):.6g}"
        return text + ".0" if text.lstrip("-").isdigit() else text  # a float reads as one: 1.0, not 1
    if isinstance(value, (str, np.str_)):
        text = str(value)
        if depth == 0 and text.strip().lower() in {str(a).strip().lower() for a in allowed} \
                and len(text) <= SHORT_TEXT and _PLAIN_TEXT.fullmatch(text):
            return repr(text)
        return f"a string of {len(text)} characters"
    if type(value) is np.ndarray:
        if value.ndim == 0 and value.dtype.kind in "biufUS":
            return describe(value.item(), depth, allowed)
        if value.dtype.kind in "biuf" and value.size <= MAX_ITEMS:
            return repr(value)  # numpy's own printing of numbers
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if type(value) in (list, tuple):
        if len(value) <= MAX_ITEMS and depth == 0:  # numbers inside read plainly too
            items = ", ".join(describe(v, depth + 1) for v in value)
            return f"[{items}]" if type(value) is list else f"({items}{',' if len(value) == 1 else ''})"
        return f"a {type(value).__name__} of {len(value)} items"
    if type(value) is dict:
        return f"a dict of {len(value)} items"
    return _tensor_shape(value) or _kind(value)


def _tensor_shape(value: Any) -> str | None:
    """'a tensor of shape (2, 3) and dtype float32' for a torch or TensorFlow tensor, else None."""
    torch = sys.modules.get("torch")
    if torch is not None and type(value) in (torch.Tensor, torch.nn.Parameter):
        return f"a tensor of shape {tuple(value.shape)} and dtype {str(value.dtype).replace('torch.', '')}"
    tf = sys.modules.get("tensorflow")
    if tf is not None and type(value) in _tf_tensor_types(tf):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype.name}"
    return None


def _tf_tensor_types(tf) -> tuple:
    eager = type(tf.constant(0.0)) if tf.executing_eagerly() else None
    return tuple(t for t in (eager, tf.Variable) if t is not None)


def _kind(value: Any) -> str:
    """'a Module object' when a value's class is a library's; a student's own class goes unnamed (its
    name is text the student chose). A recorded object's `__class__` is the library class it claims."""
    from .judging import NamedRef, ReplayProxy

    if type(value) is NamedRef:
        return "a function or class"
    cls = value.__class__ if type(value) is ReplayProxy else type(value)
    module = str(getattr(cls, "__module__", "") or "")
    if module.split(".")[0] in LIBRARIES and getattr(sys.modules.get(module), cls.__name__, None) is cls:
        return ("an " if cls.__name__[:1].lower() in "aeiou" else "a ") + f"{cls.__name__} object"
    return "an object of a class of your own"


def _quiet_when_recording(check_fn):
    """In the grading kernel a check only lets the test run on: the grader decides.

    There it never touches its arguments (no conversion, comparison or `repr`): a student's object
    that ran code while a check's frame holds the expected value could read that value, and any use
    of a recorded object would add events the judge does not replay."""

    @functools.wraps(check_fn)
    def wrapper(*args, **kwargs):
        if mode() != "record":
            return check_fn(*args, **kwargs)
        return None

    return wrapper


def decimal_comma(value: Any) -> str | None:
    """What to say when a number was written with a decimal comma (`2,303` is the tuple (2, 303)),
    in the student's language (dlcourse.i18n.current_language)."""
    if (type(value) is tuple and len(value) == 2 and all(type(v) is int for v in value)
            and value[1] >= 0):
        from .i18n.messages import decimal_comma as message

        return message(value[0], value[1])
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+,\d+\s*", value):
        from .i18n.messages import decimal_comma_text

        return decimal_comma_text(value)
    return None


def _fail(message: str, hint: str | None = None) -> None:
    if hint:
        message = f"{message}\n  Hint: {hint}"
    from .i18n import SOURCE_LANGUAGE, current_language

    language = current_language()
    if language != SOURCE_LANGUAGE:  # the known sentences of a test's message, and "Hint"
        from .i18n.messages import translate_check

        message = translate_check(message, language)
    raise AssertionError(message)


def to_numpy(value: Any) -> np.ndarray:
    """An array of `value`, whether it is a list, a numpy array, a torch or TF tensor.

    An object the student's code returned that the grader could not record as numbers (a class of
    their own, a deque, a Fraction...) fails with what it is: the judge has no numbers to read."""
    from .judging import ReplayProxy

    if type(value) is ReplayProxy:
        _fail(f"expected numbers (an array, a list or a tensor), got {describe(value)}.",
              "return a numpy array or a float (np.asarray(..., dtype=float)).")
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
def check_number(value: Any, name: str, hint: str | None = None) -> None:
    """`value` is one real number (an int, a float or a 0-d array), not a tuple, a string or an array."""
    if isinstance(value, bool) or np.ndim(value) != 0 or not np.issubdtype(np.asarray(value).dtype, np.number):
        _fail(_("{name}: answer with a number, got {got}.").format(name=name, got=show(value)),
              decimal_comma(value) or hint)


@_quiet_when_recording
def check_type(value: Any, types: type | tuple[type, ...], name: str, hint: str | None = None) -> None:
    if not isinstance(value, types):
        names = (types,) if isinstance(types, type) else types
        wanted = " or ".join(t.__name__ for t in names)
        _fail(f"Wrong type for {name}: expected {wanted}, got {describe(value)}.", hint)


def check_shape(value: Any, shape: Iterable[int], name: str, hint: str | None = None) -> np.ndarray | None:
    """Check the shape of `value` and return it as a numpy array.

    In the grading kernel it checks nothing, and gives the array back only for a value whose
    conversion runs no student code (`_inert`: how an exercise's numbers come back there); else None."""
    if mode() == "record":
        return to_numpy(value) if _inert(value) else None
    return _check_shape(value, shape, name, hint)


_NUMPY_SCALARS = (np.float64, np.float32, np.float16, np.int64, np.int32, np.int16, np.int8, np.uint8,
                  np.bool_, np.complex128)


def _inert(value: Any, depth: int = 0) -> bool:
    """Whether `value` is made of library numbers only: converting it runs no student code."""
    if type(value) in (bool, int, float, *_NUMPY_SCALARS):
        return True
    if type(value) is np.ndarray:
        return value.dtype.kind in "biufc"
    if type(value) in (list, tuple):
        return depth < 8 and all(_inert(v, depth + 1) for v in value)
    return _tensor_shape(value) is not None


def _check_shape(value: Any, shape: Iterable[int], name: str, hint: str | None = None) -> np.ndarray:
    if value is None:
        _fail(f"{name} is None: did you forget a `return`?", hint)
    shape = tuple(shape)
    if shape == () and decimal_comma(value):
        _fail(_("{name}: expected a number, got {got}.").format(name=name, got=show(value)), decimal_comma(value))
    arr = to_numpy(value)
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
    largest = (f"largest finite error {finite.max():.3g}" if finite.size
               else "no error is finite: look for nan or inf")
    bad = np.argwhere(~np.isfinite(got)) if got.ndim else ([()] if not np.isfinite(got) else [])
    if len(bad):
        where = ", ".join(f"{tuple(int(i) for i in b)}: {show(got[tuple(b)])}" for b in bad[:3])
        largest += f"; {len(bad)} non-finite value(s), at {where}{' ...' if len(bad) > 3 else ''}"
    return (f"{int((~close).sum())} of {close.size} value(s) differ; first at index {idx}: "
            f"expected {show(e)}, got {show(g)} ({largest}).")


@_quiet_when_recording
def check_close(value: Any, expected: Any, name: str, rtol: float = 1e-7, atol: float = 0.0,
                hint: str | None = None) -> None:
    """Compare shapes, then values within `rtol`/`atol` (numpy's `isclose`)."""
    expected_arr = to_numpy(expected)
    got = _check_shape(value, expected_arr.shape, name, hint)
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
            options = {str(key["answer"]), *map(str, key.get("why", {}))}
            _fail(f"{name}: {show(answer, allowed=options)} is not the best answer.", why or None)
        return
    try:
        value = float(answer)
    except (TypeError, ValueError):
        _fail(_("{name}: answer with a number, got {got}.").format(name=name, got=show(answer)),
              decimal_comma(answer))
    if not np.isclose(value, float(key["value"]), rtol=float(key.get("rtol", 1e-6)), atol=float(key.get("atol", 0))):
        _fail(f"{name}: {show(value)} is not right.", key.get("why"))
