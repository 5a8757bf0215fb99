"""Input validation shared by every public function of `dlref`.

Each check raises `TypeError` or `ValueError` with a message that says what was expected, what arrived,
and how to fix it, so that a caller never meets a bare numpy broadcasting error from deep inside.
"""

from __future__ import annotations

import math
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
    # `type(...) is float` first: training loops check their hyperparameters at every step.
    if type(value) is not float and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
        raise TypeError(f"{name} must be a real number; got {value!r} of type {type(value).__name__}.")
    value = float(value)
    if not math.isfinite(value):
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


def check_int(value, name: str, *, low: int | None = None) -> int:
    """Return an integer argument as an int, or raise if it is not one or is below `low`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int; got {value!r} of type {type(value).__name__}. Pass a whole "
                        f"number such as {name}=10.")
    if low is not None and value < low:
        raise ValueError(f"{name} must be an int >= {low}; got {value}.")
    return int(value)


def check_shape(shape, name: str = "shape") -> tuple[int, ...]:
    """Return `shape` as a tuple of Python ints, or raise unless it is a tuple of positive ints."""
    if not isinstance(shape, tuple):
        raise TypeError(f"{name} must be a tuple of positive ints such as (out_features, in_features); got "
                        f"{shape!r} of type {type(shape).__name__}. Write (n,) for a single dimension.")
    for i, size in enumerate(shape):
        if isinstance(size, bool) or not isinstance(size, numbers.Integral):
            raise TypeError(f"{name} must be a tuple of positive ints; got {shape!r}, whose entry {i} is "
                            f"{size!r} of type {type(size).__name__}.")
        if size <= 0:
            raise ValueError(f"{name} must be a tuple of positive ints; got {shape!r}, whose entry {i} is "
                             f"{size}. Every dimension needs at least one element.")
    return tuple(int(size) for size in shape)


def check_rng(rng, name: str = "rng") -> np.random.Generator:
    """Raise `TypeError` unless `rng` is a `numpy.random.Generator` (randomness is always explicit)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name} must be a numpy.random.Generator; got {rng!r} of type {type(rng).__name__}. "
                        f"Create one with np.random.default_rng(seed) and pass it explicitly.")
    return rng


def check_bool(value, name: str) -> bool:
    """Return a flag as a bool, or raise `TypeError` if it is not `True` or `False` (a string is always truthy)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r} of type {type(value).__name__}.")
    return bool(value)
