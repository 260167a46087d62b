"""Tests for softplus_course.numerics: correct rounding, the Softplus reference, ULP errors."""

from __future__ import annotations

import math
import struct

import mpmath
import numpy as np
import pytest

from softplus_course.numerics import round_to_dtype, softplus_reference, ulp_error

F16, F32, F64 = np.float16, np.float32, np.float64


def ordinal64(x: float) -> int:
    """Position of a float64 among all float64 values (independent of the module under test)."""
    i = struct.unpack("<q", struct.pack("<d", x))[0]
    return i if i >= 0 else -(i & (2**63 - 1))


def mp_softplus(x: float, prec: int = 300) -> mpmath.mpf:
    with mpmath.workprec(prec):
        return mpmath.log1p(mpmath.exp(mpmath.mpf(x)))


# --- round_to_dtype ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [F16, F32, F64])
def test_round_keeps_values_of_the_format(dtype):
    values = np.array([0.0, 1.0, -2.5, 0.1, 1e-3, 3.0e4], dtype=dtype)
    got = round_to_dtype(values, dtype)
    assert got.dtype == dtype and got.tolist() == values.tolist()


def test_round_to_nearest_single_rounding():
    third = mpmath.mpf(1) / 3
    assert round_to_dtype(third, F32) == np.float32(1.0) / np.float32(3.0)
    with mpmath.workprec(200):
        third = mpmath.mpf(1) / 3
    assert float(round_to_dtype(third, F64)) == 1.0 / 3.0
    # 1 + 2**-24 + 2**-60 is just above a float32 midpoint: rounding to float64 first lands on
    # the midpoint and then, ties to even, on 1.0. One rounding gives the float above 1.
    with mpmath.workprec(100):
        v = mpmath.mpf(1) + mpmath.ldexp(1, -24) + mpmath.ldexp(1, -60)
    assert np.float32(float(v)) == np.float32(1.0)  # the double-rounding trap
    assert round_to_dtype(v, F32) == np.float32(1.0 + 2.0**-23)


@pytest.mark.parametrize(
    ("value", "dtype", "expected"),
    [
        (1 + 2.0**-24, F32, 1.0),  # tie: to the even neighbour below
        (1 + 3 * 2.0**-24, F32, 1 + 2.0**-22),  # tie: to the even neighbour above
        (mpmath.mpf(1) + mpmath.ldexp(1, -53), F64, 1.0),
        (mpmath.ldexp(1, -150), F32, 0.0),  # half the smallest subnormal: tie to 0
        (mpmath.ldexp(3, -150), F32, 2.0**-148),
        (mpmath.ldexp(1, -150) * 1.0001, F32, 2.0**-149),
        (mpmath.ldexp(1, -1075), F64, 0.0),
        (mpmath.ldexp(1, -1075) * 1.0001, F64, 5e-324),
        (mpmath.ldexp(1, -25), F16, 0.0),
        (mpmath.ldexp(3, -25), F16, 2.0**-23),
    ],
)
def test_round_ties_and_subnormals(value, dtype, expected):
    got = round_to_dtype(value, dtype)
    assert type(got) is dtype and float(got) == expected


@pytest.mark.parametrize("dtype", [F16, F32, F64])
def test_round_overflows_to_infinity_at_the_ieee_boundary(dtype):
    info = np.finfo(dtype)
    largest = mpmath.mpf(float(info.max))
    half_ulp = mpmath.ldexp(1, int(info.maxexp) - (info.nmant + 1) - 1)
    with mpmath.workprec(200):
        below = largest + half_ulp * (1 - mpmath.mpf(2) ** -100)
        tie = largest + half_ulp
    assert float(round_to_dtype(below, dtype)) == float(info.max)
    assert float(round_to_dtype(tie, dtype)) == math.inf  # ties to even: max is odd
    assert float(round_to_dtype(-tie, dtype)) == -math.inf
    assert float(round_to_dtype(mpmath.mpf(10) ** 5000, dtype)) == math.inf


def test_round_non_finite_shapes_and_types():
    got = round_to_dtype(np.array([[math.nan, math.inf], [-math.inf, 0.0]]), F32)
    assert got.dtype == F32 and got.shape == (2, 2)
    assert math.isnan(got[0, 0]) and got[0, 1] == np.inf and got[1, 0] == -np.inf
    assert got[1, 1] == 0
    objects = np.array([mpmath.mpf("0.1"), 2, 3.5], dtype=object)
    assert round_to_dtype(objects, F64).tolist() == [0.1, 2.0, 3.5]
    assert type(round_to_dtype(7, "float16")) is np.float16
    assert type(round_to_dtype([1, 2], np.dtype("float64"))) is np.ndarray


@pytest.mark.parametrize("dtype", [None, 3.0, "no-such-type", True])
def test_round_rejects_a_dtype_that_is_not_a_type(dtype):
    with pytest.raises(TypeError, match="dtype"):
        round_to_dtype(1.0, dtype)


@pytest.mark.parametrize("dtype", [np.int32, np.complex128, np.longdouble, "float128", bool])
def test_round_rejects_other_formats(dtype):
    try:
        np.dtype(dtype)
    except TypeError:
        pytest.skip(f"{dtype} does not exist on this platform")
    if np.dtype(dtype) == np.float64:  # long double is float64 on some platforms
        pytest.skip("long double is float64 here")
    with pytest.raises(ValueError, match="dtype"):
        round_to_dtype(1.0, dtype)


@pytest.mark.parametrize("values", [None, "1.5", ["a", "b"], [1 + 2j], [True, False]])
def test_round_rejects_values_that_are_not_real_numbers(values):
    with pytest.raises(TypeError, match="values"):
        round_to_dtype(values, F64)


# --- softplus_reference -----------------------------------------------------------------------


def test_reference_matches_an_independent_float64_computation():
    xs = np.linspace(-700.0, 700.0, 701)
    got = softplus_reference(xs, F64)
    assert type(got) is np.ndarray and got.dtype == F64 and got.shape == xs.shape
    for x, g in zip(xs.tolist(), got.tolist(), strict=True):
        # mpf -> float rounds once, to nearest, for every normal result
        assert g == float(mp_softplus(x)), x


def test_reference_matches_an_independent_float32_computation():
    xs = np.linspace(-80.0, 80.0, 321, dtype=F32)
    got = softplus_reference(xs, F32)
    assert got.dtype == F32
    for x, g in zip(xs.tolist(), got.tolist(), strict=True):
        with mpmath.workprec(24):
            want = float(+mp_softplus(x))  # unary plus rounds to 24 bits, to nearest
        assert g == want, x


def test_reference_at_the_extremes():
    got = softplus_reference([-1e308, -800.0, -745.2, -745.0, 0.0, 40.0, 800.0, 1e308], F64)
    assert got[:3].tolist() == [0.0, 0.0, 0.0]
    assert got[3] == 5e-324  # e^-745 is about 1.2 x 2**-1074: rounds to the smallest subnormal
    assert got[4] == math.log(2.0)
    assert got[5] == 40.0 + math.exp(-40.0) or got[5] == 40.0
    assert got[6:].tolist() == [800.0, 1e308]
    got = softplus_reference(np.array([-104.0, -103.9, 100.0], dtype=F32), F32)
    assert got.tolist() == [0.0, 2.0**-149, 100.0]
    special = softplus_reference([math.inf, -math.inf, math.nan], F32)
    assert special[0] == np.inf and special[1] == 0 and math.isnan(special[2])


def test_reference_converts_the_input_to_the_dtype_first():
    got = softplus_reference(0.1, F32)
    assert type(got) is np.float32
    assert got == round_to_dtype(mp_softplus(float(np.float32(0.1))), F32)
    assert softplus_reference(1e6, F16) == np.inf  # 1e6 is inf in float16
    assert softplus_reference(0.0, "float16") == np.float16(math.log(2.0))


def test_reference_keeps_shapes():
    xs = np.arange(-6.0, 6.0).reshape(3, 4)
    got = softplus_reference(xs)
    assert got.shape == (3, 4) and got.dtype == F64
    assert softplus_reference(np.array(2.0)).shape == ()
    assert softplus_reference(np.arange(-3, 3)).dtype == F64  # integers are inputs too


@pytest.mark.parametrize(
    ("x", "dtype", "error"),
    [
        ("1.0", F64, TypeError),
        ([1j], F64, TypeError),
        (None, F64, TypeError),
        (1.0, None, TypeError),
        (1.0, np.int64, ValueError),
    ],
)
def test_reference_rejects_bad_arguments(x, dtype, error):
    with pytest.raises(error, match="x|dtype"):
        softplus_reference(x, dtype)


# --- ulp_error --------------------------------------------------------------------------------


def test_ulp_error_counts_floats_between_neighbours():
    one = np.float64(1.0)
    assert ulp_error(one, 1.0, F64) == 0.0
    assert ulp_error(np.nextafter(one, 2.0), 1.0, F64) == 1.0
    assert ulp_error(np.float64(0.1) + np.float64(0.2), 0.3, F64) == 1.0
    f = np.float32(3.0)
    step = np.nextafter(np.nextafter(f, F32(0)), F32(0))
    assert ulp_error(step, F32(3.0), F32) == 2.0
    got = ulp_error(np.array([5e-324, -5e-324]), np.array([0.0, 5e-324]), F64)
    assert type(got) is np.ndarray and got.tolist() == [1.0, 2.0]


def test_ulp_error_against_an_exact_reference():
    with mpmath.workprec(200):
        ln2 = mpmath.log(2)
    err64 = ulp_error(np.log(np.float64(2.0)), ln2, F64)
    assert type(err64) is np.float64 and 0.2088 < err64 < 0.2089
    rng = np.random.default_rng(5)
    with mpmath.workprec(200):
        exact = [mpmath.mpf(float(v)) * mpmath.pi for v in rng.uniform(-1e3, 1e3, 300)]
    exact_arr = np.array(exact, dtype=object)
    for dtype in (F16, F32, F64):
        rounded = round_to_dtype(exact_arr, dtype)
        err = ulp_error(rounded, exact_arr, dtype)
        assert err.max() <= 0.5 and err.min() >= 0.0  # correctly rounded: at most half an ULP


def test_ulp_error_agrees_with_counting_floats_within_a_binade():
    rng = np.random.default_rng(7)
    a = rng.uniform(1.0, 2.0, 200)
    b = a + rng.integers(-50, 50, 200) * np.spacing(1.0)
    b = np.clip(b, 1.0, np.nextafter(2.0, 0.0))
    got = ulp_error(a, b, F64)
    want = [abs(ordinal64(x) - ordinal64(y)) for x, y in zip(a.tolist(), b.tolist(), strict=True)]
    assert got.tolist() == [float(w) for w in want]


def test_ulp_error_below_a_power_of_two_counts_half():
    assert ulp_error(np.nextafter(1.0, 0.0), 1.0, F64) == 0.5


def test_ulp_error_non_finite():
    comp = np.array([np.inf, np.inf, np.nan, np.nan, 1.0, -np.inf, 3.0])
    ref = np.array([np.inf, np.finfo(F64).max, np.nan, 1.0, np.nan, np.inf, np.inf])
    assert ulp_error(comp, ref, F64).tolist() == [0.0, np.inf, 0.0, np.inf, np.inf, np.inf, np.inf]


def test_ulp_error_accepts_python_numbers_that_are_values_of_the_dtype():
    assert ulp_error([0.5, 1.0], [0.5, 1.0], F32).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="not float32 values"):
        ulp_error([0.1], [0.1], F32)


def test_ulp_error_rejects_bad_arguments():
    with pytest.raises(ValueError, match="computed has dtype float32"):
        ulp_error(np.float32(1.0), 1.0, F64)
    with pytest.raises(ValueError, match="shape"):
        ulp_error(np.zeros(3), np.zeros(4), F64)
    with pytest.raises(TypeError, match="computed"):
        ulp_error("1.0", 1.0, F64)
    with pytest.raises(TypeError, match="computed"):
        ulp_error(np.array([mpmath.mpf(1)], dtype=object), [1.0], F64)
    with pytest.raises(TypeError, match="reference"):
        ulp_error(np.zeros(1), ["x"], F64)
    with pytest.raises(TypeError, match="dtype"):
        ulp_error(np.zeros(1), np.zeros(1), None)
    with pytest.raises(ValueError, match="dtype"):
        ulp_error(np.zeros(1), np.zeros(1), np.int16)


def test_reference_and_ulp_error_on_the_lessons_grid_are_quick():
    """A few thousand points, as lesson 06 uses them, take well under a few seconds."""
    import time

    xs = np.linspace(-750.0, 750.0, 3001)
    start = time.perf_counter()
    ref = softplus_reference(xs, F64)
    err = ulp_error(np.logaddexp(0.0, xs), ref, F64)
    assert time.perf_counter() - start < 10.0
    assert err.max() <= 4.0


def test_ulp_error_fast_path_for_float_references_agrees_with_mpmath():
    """A plain float reference takes a vectorised path; an object array takes mpmath's."""
    rng = np.random.default_rng(11)
    big = np.finfo(F64).max
    comp = np.concatenate(
        [
            rng.uniform(-10, 10, 200),
            [big, -big, 5e-324, 1.0, 0.0, -0.0, np.inf, np.nan, 1e-310, 3.0],
        ]
    )
    ref = np.concatenate(
        [
            comp[:200] + rng.integers(-5, 5, 200) * np.spacing(comp[:200]),
            [-big, big, 0.0, 5e-324, -0.0, 1e-300, np.inf, 2.0, -1e-310, np.nan],
        ]
    )
    fast = ulp_error(comp, ref, F64)
    slow = ulp_error(comp, np.array(ref.tolist(), dtype=object), F64)
    assert fast.tolist() == slow.tolist()
    assert fast[200] == 2.0**54 - 2  # max to -max: no overflow in between
    comp32, ref32 = comp[:200].astype(F32), ref[:200].astype(F32)
    assert (
        ulp_error(comp32, ref32, F32).tolist()
        == ulp_error(comp32, np.array(ref32.tolist(), dtype=object), F32).tolist()
    )
