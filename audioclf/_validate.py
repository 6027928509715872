"""One home for argument checks: positive integers, ranges, choices and config dictionaries.

Every check raises :class:`~audioclf.errors.ParameterError` (or the error type
a caller passes, e.g. :class:`~audioclf.errors.ModelError` for model
options) with a message in the house style: what was received, what is
expected -- ``"hop_length=0 must be a positive integer"``. A ``bool`` is never
accepted as a number (``True`` is an ``int`` in Python).

This module sits at the bottom of the package: it imports only :mod:`audioclf.errors`.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import AudioclfError, ParameterError

__all__ = ["check_choice", "check_int", "check_keys", "check_number", "check_positive_int", "is_int",
           "is_number"]


def is_int(value: Any) -> bool:
    """An integer (Python or NumPy), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite real number (int or float, Python or NumPy), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))


def check_positive_int(value: Any, name: str, *, hint: str = "", allow_none: bool = False,
                       error: type[AudioclfError] = ParameterError) -> int | None:
    """``value`` as an ``int`` when it is an integer >= 1 (or None with ``allow_none``).

    Example
    -------
    >>> check_positive_int(0, "hop_length")
    Traceback (most recent call last):
    ...
    audioclf.errors.ParameterError: hop_length=0 must be a positive integer
    """
    if value is None and allow_none:
        return None
    if not is_int(value) or value < 1:
        raise error(f"{name}={value!r} must be a positive integer{' or None' if allow_none else ''}{hint}")
    return int(value)


def check_int(value: Any, name: str, *, low: int | None = None, high: int | None = None, hint: str = "",
              error: type[AudioclfError] = ParameterError) -> int:
    """``value`` as an ``int`` when it is an integer in ``[low, high]`` (either bound optional)."""
    if not is_int(value) or (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            expected = f"an integer in [{low}, {high}]"
        elif low == 0:
            expected = "a non-negative integer"
        elif low is not None:
            expected = f"an integer >= {low}"
        elif high is not None:
            expected = f"an integer <= {high}"
        else:
            expected = "an integer"
        raise error(f"{name}={value!r} must be {expected}{hint}")
    return int(value)


def check_number(value: Any, name: str, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False, hint: str = "",
                 error: type[AudioclfError] = ParameterError) -> float:
    """``value`` as a ``float`` when it is a finite number in the interval from ``low`` to ``high``.

    ``low_open`` / ``high_open`` exclude the bound: ``check_number(x, "overlap", low=0, high=1,
    high_open=True)`` accepts [0, 1) and says so.
    """
    ok = is_number(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        if low is not None and high is not None:
            expected = f"in {'(' if low_open else '['}{_fmt(low)}, {_fmt(high)}{')' if high_open else ']'}"
        elif low is not None:
            expected = ("a positive number" if low == 0 and low_open else
                        f"a number {'>' if low_open else '>='} {_fmt(low)}")
        elif high is not None:
            expected = f"a number {'<' if high_open else '<='} {_fmt(high)}"
        else:
            expected = "a finite number"
        raise error(f"{name}={value!r} must be {expected}{hint}")
    return float(value)


def check_choice(value: Any, name: str, choices: Iterable[Any], *,
                 error: type[AudioclfError] = ParameterError) -> Any:
    """``value`` when it is one of ``choices``."""
    choices = tuple(choices)
    try:
        found = value in choices
    except TypeError:  # an unhashable value against a set-like
        found = False
    if not found:
        raise error(f"{name}={value!r} must be one of {', '.join(map(str, choices))}")
    return value


def check_keys(data: Any, cls: type, *, what: str | None = None, required: Iterable[str] = ()) -> dict[str, Any]:
    """The dict ``data`` when its keys are fields of the dataclass ``cls`` (and it holds ``required``).

    Every config's ``from_dict`` starts here, so an unknown key is always an
    error that names the allowed keys.
    """
    what = what or cls.__name__
    if not isinstance(data, Mapping):
        raise ParameterError(f"{what} must be a dict, got {type(data).__name__}")
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(names), key=str)
    if unknown:
        raise ParameterError(f"unknown {what} field(s) {unknown}; allowed: {', '.join(names)}")
    missing = [k for k in required if k not in data]
    if missing:
        raise ParameterError(f"{what} is missing key(s) {missing}")
    return dict(data)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)
