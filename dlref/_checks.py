"""Input validation shared by every public function of `dlref`.

Each check raises `TypeError` or `ValueError` with a message that says what was expected, what arrived,
and how to fix it, so that a caller never meets a bare numpy broadcasting error from deep inside.
"""

from __future__ import annotations

import numbers

import numpy as np

_KEPT_DTYPES = (np.float32, np.float64)


def as_float_array(x, name: str = "x", *, allow_inf: bool = True) -> np.ndarray:
    """Return `x` as a float32 or float64 array, rejecting non-numeric input and NaN.

    float32 and float64 inputs keep their dtype; other real inputs (ints, bools, Python floats, float16)
    become float64.
    """
    if isinstance(x, np.ndarray) and x.dtype.type in _KEPT_DTYPES:
        array = x
    else:
        try:
            array = np.asarray(x)
        except ValueError as error:  # ragged nested lists
            raise ValueError(f"{name} must be a rectangular array of real numbers; numpy could not "
                             f"build one from the {type(x).__name__} given ({error}).") from None
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold real numbers (bool, int or float); got an array of dtype "
                            f"{array.dtype} from a {type(x).__name__}. Convert it with np.asarray(..., "
                            f"dtype=float) first, if that is meaningful.")
        if array.dtype.type not in _KEPT_DTYPES:
            array = array.astype(np.float64)
    bad = np.isnan(array) if allow_inf else ~np.isfinite(array)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if allow_inf else "NaN or infinite values"
        raise ValueError(f"{name} must not contain {kind}; found {array[where]} at index {where} "
                         f"({int(bad.sum())} such entries of {array.size}). Check the data or the step "
                         f"that produced it.")
    return array


def check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise `ValueError` unless two arrays have exactly the same shape (no broadcasting)."""
    if a.shape != b.shape:
        raise ValueError(f"{name_a} must have the same shape as {name_b}, {b.shape}; got {a.shape}. "
                         f"Pass the upstream gradient of this function's output, which has the output's "
                         f"shape.")


def check_axis(axis, ndim: int, name: str = "axis") -> int:
    """Return `axis` as a non-negative int, or raise if it is not an axis of an `ndim`-dimensional array."""
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"{name} must be an int; got {axis!r} of type {type(axis).__name__}.")
    if ndim == 0:
        raise ValueError(f"{name}={axis} needs an array with at least one dimension; got a 0-d array "
                         f"(a scalar). Wrap it with np.atleast_1d.")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name} must be in [{-ndim}, {ndim - 1}] for an array with {ndim} dimension(s); "
                         f"got {axis}.")
    return int(axis) % ndim


def check_real(value, name: str, *, low: float = -np.inf, high: float = np.inf,
               low_inclusive: bool = True) -> float:
    """Return a finite real hyperparameter as a float, or raise if it is not one or is out of range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r} of type {type(value).__name__}.")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}.")
    too_low = value < low if low_inclusive else value <= low
    if too_low or value > high:
        lower = "[" if low_inclusive else "("
        raise ValueError(f"{name} must be in {lower}{low}, {high}]; got {value}.")
    return value


def check_choice(value, name: str, choices: tuple[str, ...]) -> str:
    """Raise `ValueError` unless `value` is one of the allowed strings."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}.")
    return value
