"""Floating-point accuracy helpers: correctly rounded Softplus and errors in ULPs.

Lesson 06 measures how many *units in the last place* (ULPs) a Softplus implementation is off.
That needs two things, both here:

- :func:`softplus_reference` — the correctly rounded Softplus of every element of an array, in
  float16, float32 or float64: the exact value computed with mpmath at more than twice the
  precision of the format, then rounded once, to nearest (ties to even), by
  :func:`round_to_dtype`;
- :func:`ulp_error` — how far computed values are from a reference, in ULPs of the format.

Import them as ``from softplus_course.numerics import softplus_reference, ulp_error``.
Everything works element by element in Python with mpmath: a few thousand points take a
fraction of a second, a million would take minutes.
"""

from __future__ import annotations

import math
from typing import Any

import mpmath
import numpy as np
from numpy.typing import ArrayLike, DTypeLike

__all__ = ["round_to_dtype", "softplus_reference", "ulp_error"]

_FORMATS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def _float_dtype(dtype: object) -> np.dtype:
    """Return ``dtype`` as one of the IEEE binary formats numpy has, or raise naming ``dtype``."""
    if dtype is None or isinstance(dtype, (bool, int, float, complex)):
        # np.dtype(None) would silently mean float64.
        raise TypeError(f"dtype must be a numpy float type such as np.float32, got {dtype!r}")
    try:
        found = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(
            f"dtype must be a numpy float type such as np.float32, got {dtype!r}"
        ) from exc
    if found not in _FORMATS:
        raise ValueError(f"dtype must be float16, float32 or float64, got {found}")
    return found


def _format(dt: np.dtype) -> tuple[int, int, float]:
    """Precision p (bits), smallest frexp exponent of a normal number, largest finite value."""
    info = np.finfo(dt)
    # frexp writes v = m * 2**e with 0.5 <= |m| < 1, so the smallest normal, 2**minexp, has
    # e = minexp + 1; below it the spacing stays 2**(minexp + 1 - p) (subnormals).
    return info.nmant + 1, info.minexp + 1, float(info.max)


def _as_real_array(values: ArrayLike, name: str) -> np.ndarray:
    """``values`` as a numpy array of real numbers (object arrays of mpmath numbers allowed)."""
    if values is None:
        raise TypeError(f"{name} must be a number or an array of numbers, got None")
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a number or an array of numbers") from exc
    if arr.dtype.kind in "iuf":
        return arr
    if arr.dtype.kind == "O" and all(
        isinstance(v, (int, float, np.integer, np.floating, mpmath.mpf)) and not isinstance(v, bool)
        for v in arr.flat
    ):
        return arr
    raise TypeError(
        f"{name} must hold real numbers (int, float or mpmath.mpf), got an array of {arr.dtype}"
    )


def _to_mpf(value: Any) -> mpmath.mpf:
    """An exact mpmath copy of a Python, numpy or mpmath real number."""
    if isinstance(value, mpmath.mpf):
        return value
    if isinstance(value, (int, np.integer)):
        return mpmath.mpf(int(value))
    return mpmath.mpf(float(value))  # every float16/32/64 value is exact as a Python float


def _scalar_or_array(result: np.ndarray) -> Any:
    """Mimic numpy's ufuncs: a 0-d result comes back as a numpy scalar."""
    return result[()] if result.ndim == 0 else result


def _round_one(value: Any, p: int, emin: int, largest: float) -> float:
    """Round one real number to the nearest value of the format (ties to even), as a float."""
    v = _to_mpf(value)
    if mpmath.isnan(v):
        return math.nan
    if mpmath.isinf(v):
        return math.inf if v > 0 else -math.inf
    if not v:
        return 0.0
    _, e = mpmath.frexp(v)
    q = max(int(e), emin) - p  # the exponent of the spacing (ULP) at v
    n = int(mpmath.nint(mpmath.ldexp(v, -q)))  # mpmath's nint rounds ties to even
    try:
        rounded = math.ldexp(n, q)  # exact: |n| <= 2**p and q is in range for float64
    except OverflowError:
        rounded = math.copysign(math.inf, n)
    if abs(rounded) > largest:
        return math.copysign(math.inf, rounded)
    return rounded


def round_to_dtype(values: ArrayLike, dtype: DTypeLike) -> Any:
    """Round real numbers to the nearest value of a float format, exactly once.

    Rounding is to nearest with ties to even, as IEEE 754 prescribes, including the subnormal
    range (gradual underflow) and overflow to infinity. Unlike ``np.float32(float(v))``, this
    never rounds twice.

    Parameters
    ----------
    values : number or array_like
        Python, numpy or mpmath real numbers (an object array of ``mpmath.mpf`` included);
        nan and infinities are kept.
    dtype : numpy float type
        ``np.float16``, ``np.float32`` or ``np.float64`` (or their names or ``np.dtype``).

    Returns
    -------
    numpy.ndarray or numpy scalar
        The rounded values, of ``dtype`` and of the shape of ``values``; a numpy scalar when
        ``values`` is a single number.

    Raises
    ------
    TypeError
        If ``values`` holds something that is not a real number, or ``dtype`` is not a type.
    ValueError
        If ``dtype`` is not one of the three float formats.

    Examples
    --------
    >>> import mpmath
    >>> round_to_dtype(mpmath.mpf(1) / 3, np.float32)
    np.float32(0.33333334)
    >>> round_to_dtype(mpmath.mpf(2) ** -150, np.float32)  # a tie between 0 and 2**-149
    np.float32(0.0)
    """
    dt = _float_dtype(dtype)
    arr = _as_real_array(values, "values")
    p, emin, largest = _format(dt)
    flat = [_round_one(v, p, emin, largest) for v in arr.flat]
    result = np.array(flat, dtype=np.float64).reshape(arr.shape).astype(dt)
    return _scalar_or_array(result)


def _softplus_mp(x: float) -> mpmath.mpf:
    """Softplus of one float at the working precision, without cancellation."""
    xm = mpmath.mpf(x)
    if xm > 0:
        # x + ln(1 + e^-x): a sum of two positive terms, so no digits cancel.
        return xm + mpmath.log1p(mpmath.exp(-xm))
    return mpmath.log1p(mpmath.exp(xm))


def softplus_reference(x: ArrayLike, dtype: DTypeLike = np.float64) -> Any:
    """The correctly rounded Softplus, ``ln(1 + e^x)``, of every element of ``x``.

    Each element is first converted to ``dtype`` (the input a ``dtype`` implementation
    actually sees); its Softplus is computed with mpmath at ``2 p + 64`` bits, where ``p`` is
    the precision of ``dtype``, and rounded once to ``dtype``. The result is the value a perfect
    implementation would return.

    Parameters
    ----------
    x : number or array_like
        Real inputs of any shape; nan gives nan, +inf gives +inf and -inf gives 0.
    dtype : numpy float type, default np.float64
        ``np.float16``, ``np.float32`` or ``np.float64`` (or their names or ``np.dtype``).

    Returns
    -------
    numpy.ndarray or numpy scalar
        Of ``dtype`` and of the shape of ``x``; a numpy scalar when ``x`` is a single number.

    Raises
    ------
    TypeError
        If ``x`` is not real numbers, or ``dtype`` is not a type.
    ValueError
        If ``dtype`` is not one of the three float formats.

    Examples
    --------
    >>> softplus_reference(np.array([-800.0, 0.0, 800.0])).tolist()
    [0.0, 0.6931471805599453, 800.0]
    >>> softplus_reference(-100.0, np.float32)
    np.float32(3.8e-44)
    """
    dt = _float_dtype(dtype)
    arr = _as_real_array(x, "x")
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        inputs = arr.astype(dt)
    p, emin, largest = _format(dt)
    out = np.empty(inputs.shape, dtype=np.float64)
    with mpmath.workprec(2 * p + 64):
        for index, xi in np.ndenumerate(inputs):
            xf = float(xi)
            if math.isnan(xf) or xf == math.inf:
                out[index] = xf
            elif xf == -math.inf:
                out[index] = 0.0
            else:
                out[index] = _round_one(_softplus_mp(xf), p, emin, largest)
    return _scalar_or_array(out.astype(dt))


def _check_computed(computed: ArrayLike, dt: np.dtype) -> np.ndarray:
    """``computed`` as an array of ``dt``; values must already be values of ``dt``."""
    if isinstance(computed, (np.ndarray, np.floating)) and computed.dtype.kind == "f":
        if computed.dtype != dt:
            raise ValueError(
                f"computed has dtype {computed.dtype} but dtype is {dt}: measure values in the "
                f"format they were computed in"
            )
        return np.asarray(computed)
    arr = _as_real_array(computed, "computed")
    if arr.dtype.kind == "O":
        raise TypeError("computed must hold floats (the values to measure), not mpmath numbers")
    with np.errstate(over="ignore", invalid="ignore"):
        converted = arr.astype(dt)
    same = (converted.astype(np.float64) == arr.astype(np.float64)) | (
        np.isnan(converted) & np.isnan(arr.astype(np.float64))
    )
    if not bool(np.all(same)):
        raise ValueError(f"computed holds values that are not {dt} values")
    return converted


def _error_one(c: float, ref: Any, p: int, emin: int) -> float:
    r = _to_mpf(ref)
    if mpmath.isnan(r) or math.isnan(c):
        return 0.0 if (mpmath.isnan(r) and math.isnan(c)) else math.inf
    if mpmath.isinf(r) or math.isinf(c):
        return 0.0 if mpmath.mpf(c) == r else math.inf
    if r:
        _, e = mpmath.frexp(r)
        q = max(int(e), emin) - p
    else:
        q = emin - p  # the spacing at 0 is the smallest subnormal
    diff = mpmath.fsub(mpmath.mpf(c), r, exact=True)
    return float(abs(mpmath.ldexp(diff, -q)))


def ulp_error(computed: ArrayLike, reference: ArrayLike, dtype: DTypeLike) -> Any:
    """How far computed values are from reference values, in units in the last place (ULPs).

    The error of a computed value ``c`` against a reference ``r`` is ``|c - r| / ulp(r)``,
    where ``ulp(r)`` is the spacing of the ``dtype`` floats at ``r``: ``2**(e - p + 1)`` for
    ``2**e <= |r| < 2**(e + 1)``, with ``p`` the precision of ``dtype``, and never less than the
    smallest subnormal. Against an exact (high-precision mpmath) reference, a correctly rounded
    value is at most 0.5 ULP off. Against a reference already rounded to ``dtype`` (for example
    :func:`softplus_reference`), the error is the number of ``dtype`` floats between ``c`` and
    ``r`` (a whole number, except that a step below a power of two counts half).

    Non-finite values: an error is 0 where ``c`` and ``r`` are the same infinity or both nan,
    and ``inf`` where only one of them is infinite or nan (overflow to ``inf`` is infinitely
    wrong).

    A reference of plain floats is handled with vectorised float64 arithmetic (fast, and exact
    whenever the error is below 2**53 ULP); a reference of mpmath numbers, element by element.

    Parameters
    ----------
    computed : number or array_like
        The values to judge. A numpy float array or scalar must have dtype ``dtype``; Python
        numbers must be exact values of ``dtype``.
    reference : number or array_like
        The right answers, of the same shape: floats, or mpmath numbers for an exact reference.
    dtype : numpy float type
        The format whose ULPs are counted: ``np.float16``, ``np.float32`` or ``np.float64``.

    Returns
    -------
    numpy.ndarray or numpy.float64
        Non-negative errors, float64, of the shape of ``computed``; a scalar for scalar input.

    Raises
    ------
    TypeError
        If an argument holds something that is not a real number, or ``dtype`` is not a type.
    ValueError
        If ``dtype`` is not a float format, ``computed`` is of another format, or the shapes of
        ``computed`` and ``reference`` differ.

    Examples
    --------
    >>> ulp_error(np.float64(0.1) + np.float64(0.2), 0.3, np.float64)
    np.float64(1.0)
    >>> import mpmath
    >>> with mpmath.workprec(100):  # ln 2 to 100 bits, an exact reference for float32
    ...     ln2 = mpmath.log(2)
    >>> round(float(ulp_error(np.log(np.float32(2.0)), ln2, np.float32)), 3)
    0.032
    """
    dt = _float_dtype(dtype)
    comp = _check_computed(computed, dt)
    ref = _as_real_array(reference, "reference")
    if comp.shape != ref.shape:
        raise ValueError(
            f"computed has shape {comp.shape} but reference has shape {ref.shape}; they must match"
        )
    p, emin, _ = _format(dt)
    if ref.dtype.kind != "O":
        return _scalar_or_array(
            _float_errors(comp.astype(np.float64), ref.astype(np.float64), p, emin)
        )
    out = np.empty(comp.shape, dtype=np.float64)
    with mpmath.workprec(2 * p + 64):
        for index, c in np.ndenumerate(comp):
            out[index] = _error_one(float(c), ref[index], p, emin)
    return _scalar_or_array(out)


def _float_errors(c: np.ndarray, r: np.ndarray, p: int, emin: int) -> np.ndarray:
    """Vectorised :func:`_error_one` for a reference of plain floats (exact up to 1e-16)."""
    with np.errstate(all="ignore"):
        _, e = np.frexp(r)
        q = np.where(r == 0, emin, np.maximum(e, emin)) - p
        # Scale before subtracting, so that |c - r| cannot overflow where the error is finite.
        err = np.abs(np.ldexp(c, -q) - np.ldexp(r, -q))
        c_nan, r_nan = np.isnan(c), np.isnan(r)
        err = np.where(c_nan | r_nan, np.where(c_nan & r_nan, 0.0, np.inf), err)
        c_inf, r_inf = np.isinf(c), np.isinf(r)
        err = np.where(c_inf | r_inf, np.where(c == r, 0.0, np.inf), err)
    return err
