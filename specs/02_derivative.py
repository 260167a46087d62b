"""Check specification of lesson 02 (Floating point, and the derivative is the sigmoid): 10 points.

Instructor material: the hidden inputs below are what grading adds to the visible checks.
References are computed here, in the grader: the sigmoid and its derivative with mpmath at 60
significant digits, rounded once to float64 (exact to half an ulp, far inside every tolerance
below).
"""

import math

import mpmath
import numpy as np

from softplus_course.spec import (
    ARRAY,
    ONE_NUMBER,
    Close,
    Exercise,
    LessonSpec,
    Property,
    Within,
    call,
    code,
    elementwise,
    unchanged,
)

S1 = "section 1, 'The chain rule gives the sigmoid'"
S2 = "section 2, 'The sigmoid'"
S2_FP = "section 2, 'Computing σ in floating point'"
S3 = "section 3, 'The second derivative, and convexity'"
S3_DIGITS = "section 3, 'Where σ(1 − σ) loses its digits'"
INF, NAN = math.inf, math.nan

NUMBER_OR_ARRAY = ONE_NUMBER  # with shape="same": one number for a number, else the shape

# A context of our own: the notebook's mpmath.mp.dps, or anyone else's, never matters here.
MP = mpmath.MPContext()
MP.dps = 60


# --- References (in the grader) -----------------------------------------------------------------


def _sigma(x: float) -> float:
    if math.isnan(x):
        return NAN
    if abs(x) > 800.0:  # e^-800 ~ 4e-348: the float64 nearest to σ(x) is 0 or 1
        return 0.0 if x < 0 else 1.0
    return float(1 / (1 + MP.exp(-MP.mpf(x))))


def _sigma_prime(x: float) -> float:
    if math.isnan(x):
        return NAN
    if abs(x) > 800.0:  # e^-800 ~ 4e-348 rounds to 0
        return 0.0
    e = MP.exp(-abs(MP.mpf(x)))
    return float(e / (1 + e) ** 2)


sigmoid_ref = elementwise(_sigma)
sigma_prime_ref = elementwise(_sigma_prime)


def nonnegative_ref(x):
    """(low, high) = (0, inf) for every x, (nan, nan) where x is nan: never negative."""
    xs = np.asarray(x, dtype=np.float64)
    low = np.where(np.isnan(xs), NAN, 0.0)
    high = np.where(np.isnan(xs), NAN, INF)
    return (low, high) if xs.ndim else (float(low), float(high))


def _nan_quietly(function: str):
    """``function(nan)``, which must be nan; the one input on which warnings are let pass."""
    source = (
        "import warnings as _w\n"
        "with _w.catch_warnings(), np.errstate(all='ignore'):\n"
        "    _w.simplefilter('ignore')\n"
        f"    result = {function}(x)\n"
    )
    return code(source, f"{function}(nan)", x=NAN)


def _huge(rng, n):
    """n inputs beyond |x| = 725, with random signs: the sigmoid's limits 0 and 1."""
    signs = rng.choice([-1.0, 1.0], n)
    return [
        call(float(s * 10.0**e)) for s, e in zip(signs, rng.uniform(2.87, 300.0, n), strict=True)
    ]


# --- Exercise 1: sigmoid ------------------------------------------------------------------------
SIGMOID_GRID = np.concatenate(
    [np.linspace(-700.0, 700.0, 2801), np.random.default_rng(5).uniform(-40.0, 40.0, 500)]
)
EXTREMES_2D = np.array([[-INF, -1e300, -1000.0, -710.0], [710.0, 1000.0, 1e300, INF]])

SIGMOID = Exercise(
    "sigmoid",
    "test_sigmoid",
    [
        Property(
            "1 / (1 + e^-x) for single numbers, one float64 number out",
            1.0,
            S2,
            Close(sigmoid_ref, rtol=1e-14, types=ONE_NUMBER, dtype="float64"),
            visible=[call(0.0), call(2.0), call(-2.0)],
            hidden=[call(v) for v in (-0.0, 1e-300, -1e-300, 0.5, -3.75, 36.5, -36.5)],
            drawn=lambda rng: [call(float(v)) for v in rng.uniform(-40.0, 40.0, 3)],
            warnings="error",
        ),
        Property(
            "elementwise on arrays: same shape, float64, relative error below 1e-14 on "
            "[-700, 700], input left unchanged",
            1.0,
            S2_FP,
            Close(sigmoid_ref, rtol=1e-14, types=ARRAY, dtype="float64"),
            visible=[
                call(np.array([[-3.0, 0.0], [0.5, 3.0]])),
                call(np.array([-700.0, -100.0, 100.0, 700.0])),
                unchanged(
                    "sigmoid", np.array([-1.0, 0.0, 1.0]), "sigmoid(x), x = [-1.0, 0.0, 1.0]"
                ),
            ],
            hidden=[
                unchanged("sigmoid", SIGMOID_GRID, "sigmoid(x), x = 3301 points in [-700, 700]"),
                call(np.array([-3, 0, 3])),
            ],
            drawn=lambda rng: [call(rng.uniform(-700.0, 700.0, size=(3, 4)))],
            warnings="error",
        ),
        Property(
            "huge inputs (±1000, ±1e300, ±inf): the right limits 0 and 1, without overflow, "
            "invalid or divide warnings; and nan for nan",
            2.0,
            S2_FP,
            # Beyond |x| = 700 the value may underflow: an absolute tolerance of 1e-300.
            Close(sigmoid_ref, rtol=1e-14, atol=1e-300, types=NUMBER_OR_ARRAY, dtype="float64"),
            visible=[call(np.array([-1000.0, -1.0, 0.0, 1.0, 1000.0]))],
            hidden=[
                call(v)
                for v in (709.0, -709.0, 745.0, -745.0, 1000.0, -1000.0, 1e300, -1e300, INF, -INF)
            ]
            + [_nan_quietly("sigmoid"), call(EXTREMES_2D)],
            drawn=lambda rng: _huge(rng, 2),
            warnings="error",
        ),
    ],
)

# --- Exercise 2: softplus_derivative ------------------------------------------------------------
SOFTPLUS_DERIVATIVE = Exercise(
    "softplus_derivative",
    "test_softplus_derivative",
    [
        Property(
            "σ(x) for single numbers, one float64 number out",
            0.75,
            S1,
            Close(sigmoid_ref, rtol=1e-14, types=ONE_NUMBER, dtype="float64"),
            visible=[call(0.0), call(3.0)],
            hidden=[call(v) for v in (-0.0, 1e-300, -2.5, 40.0, -40.0)],
            drawn=lambda rng: [call(float(v)) for v in rng.uniform(-40.0, 40.0, 3)],
            warnings="error",
        ),
        Property(
            "elementwise on arrays: same shape, relative error below 1e-14 on [-700, 700]",
            0.5,
            S1,
            Close(sigmoid_ref, rtol=1e-14, types=ARRAY),
            visible=[call(np.array([[-700.0, -3.0, 0.0], [3.0, 40.0, 700.0]]))],
            hidden=[call(np.linspace(-700.0, 700.0, 1401).reshape(3, 467))],
            drawn=lambda rng: [call(rng.uniform(-700.0, 700.0, size=(2, 3)))],
            warnings="error",
        ),
        Property(
            "huge inputs (±720, ±1000, ±1e300, ±inf): the right limits 0 and 1, without warnings",
            0.75,
            S2_FP,
            Close(sigmoid_ref, rtol=1e-14, atol=1e-300, types=NUMBER_OR_ARRAY),
            visible=[call(np.array([-1000.0, -3.0, 3.0, 1000.0]))],
            hidden=[call(v) for v in (720.0, -720.0, 1e300, -1e300, INF, -INF)],
            drawn=lambda rng: _huge(rng, 2),
            warnings="error",
        ),
    ],
)

# --- Exercise 3: softplus_second_derivative -----------------------------------------------------
D2_GRID = np.concatenate(
    [np.linspace(-700.0, 700.0, 2801), np.random.default_rng(7).uniform(-60.0, 60.0, 500)]
)
SUBNORMAL = np.concatenate([np.linspace(-745.0, -708.0, 38), np.linspace(708.0, 745.0, 38)])
D2_EXTREMES = (720.0, -745.0, 1000.0, -1000.0, 1e300, -1e300, INF, -INF)


def _tails(rng, n):
    """n inputs with 30 <= |x| <= 700, random signs: tiny values of softplus''."""
    signs = rng.choice([-1.0, 1.0], n)
    return [call(float(s * v)) for s, v in zip(signs, rng.uniform(30.0, 700.0, n), strict=True)]


SOFTPLUS_SECOND_DERIVATIVE = Exercise(
    "softplus_second_derivative",
    "test_softplus_second_derivative",
    [
        Property(
            "σ(x)(1 − σ(x)) for single numbers, one float64 number out",
            0.75,
            S3,
            Close(sigma_prime_ref, rtol=1e-13, atol=1e-323, types=ONE_NUMBER, dtype="float64"),
            visible=[call(0.0), call(2.0), call(-2.0)],
            hidden=[call(v) for v in (-0.0, 1e-300, 0.75, -3.5)],
            drawn=lambda rng: [call(float(v)) for v in rng.uniform(-10.0, 10.0, 3)],
            warnings="error",
        ),
        Property(
            "relative error below 1e-13 also where the value is tiny (|x| up to 700), for "
            "numbers and arrays (same shape, float64, input left unchanged)",
            1.75,
            S3_DIGITS,
            Close(sigma_prime_ref, rtol=1e-13, atol=1e-323, types=NUMBER_OR_ARRAY, dtype="float64"),
            visible=[call(40.0), call(np.array([-40.0, 40.0]))],
            hidden=[call(v) for v in (20.0, -20.0, -40.0, 100.0, -100.0, 700.0, -700.0)]
            + [
                unchanged(
                    "softplus_second_derivative",
                    D2_GRID,
                    "softplus_second_derivative(x), x = 3301 points in [-700, 700]",
                )
            ],
            drawn=lambda rng: _tails(rng, 3),
            warnings="error",
        ),
        Property(
            "huge inputs (|x| >= 708, ±inf): within 1e-300 of the exact value (0 allowed), "
            "without warnings; and nan for nan",
            1.25,
            S2_FP,
            # Subnormal or underflowed values: an absolute tolerance of 1e-300.
            Close(sigma_prime_ref, rtol=1e-13, atol=1e-300, types=NUMBER_OR_ARRAY, dtype="float64"),
            visible=[call(np.array([-1000.0, -1.0, 0.0, 1.0, 1000.0]))],
            hidden=[call(v) for v in D2_EXTREMES]
            + [_nan_quietly("softplus_second_derivative"), call(SUBNORMAL.reshape(2, 38))],
            drawn=lambda rng: _huge(rng, 2),
            warnings="error",
        ),
        Property(
            "never negative",
            0.25,
            S3,
            Within(nonnegative_ref),
            visible=[call(np.array([-745.0, -40.0, 0.0, 40.0, 745.0]))],
            hidden=[call(D2_GRID), call(SUBNORMAL.reshape(2, 38))] + [call(v) for v in D2_EXTREMES],
        ),
    ],
)

SPEC = LessonSpec("02_derivative", [SIGMOID, SOFTPLUS_DERIVATIVE, SOFTPLUS_SECOND_DERIVATIVE])
