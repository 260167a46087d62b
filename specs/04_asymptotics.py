"""Check specification of lesson 04 (Large inputs): 8 points.

Instructor material: the hidden inputs below are what grading adds to the visible checks.
References are computed here, in the grader, with mpmath at 40 significant digits and then
rounded once to a float (correctly rounded, far inside every tolerance below).

Where an exercise grades "no warnings", one property carries every input of the old test cell
with ``warnings="error"``; the other properties judge the values alone, so a function that gets
the numbers right but warns loses only that property.
"""

import math

import mpmath
import numpy as np

from softplus_course.spec import (
    ARRAY,
    ONE_NUMBER,
    Close,
    Equal,
    Exercise,
    LessonSpec,
    Property,
    Raises,
    Within,
    call,
    code,
    elementwise,
)

S1 = "section 1, 'Two approximations for large |x|'"
S3 = "section 3, 'When floating point can no longer tell softplus(x) from x'"
INF = math.inf


# --- Exercise 1: softplus_asymptotic ------------------------------------------------------------
def _asymptotic(x: float) -> float:
    with mpmath.workdps(40):
        v = mpmath.mpf(x)
        return float(v + mpmath.exp(-v)) if v >= 0 else float(mpmath.exp(v))


asymptotic_ref = elementwise(_asymptotic)

GRID_700 = np.concatenate(
    [
        -np.geomspace(700.0, 1.0, 120),
        np.linspace(-1.0, 1.0, 41)[1:-1],
        np.geomspace(1.0, 700.0, 120),
    ]
)
GRID_40 = np.concatenate(
    [
        -np.geomspace(40.0, 1.0, 40),
        np.linspace(-1.0, 1.0, 41)[1:-1],
        np.geomspace(1.0, 40.0, 40),
    ]
)
SCALARS_1 = (-36.5, -1.0, -0.25, 0.0, 0.25, 1.0, 17.0)
BIG = (-700.0, 700.0)
LARGE_X = GRID_700[np.abs(GRID_700) >= 1.0]  # where section 1's bound e^-|x| applies


def _exact_softplus(x: float):
    with mpmath.workdps(40):
        return mpmath.log1p(mpmath.exp(mpmath.mpf(x)))


def bound_ref(x):
    """(low, high): the exact Softplus minus and plus max(e^-|x|, 1e-15) of itself, rounded
    outwards to float64, for every x (section 1's bound, as an interval)."""
    xs = np.asarray(x, dtype=np.float64)
    low, high = np.empty_like(xs), np.empty_like(xs)
    for k, v in np.ndenumerate(xs):
        exact = _exact_softplus(float(v))
        with mpmath.workdps(40):
            bound = max(mpmath.exp(-abs(mpmath.mpf(float(v)))), mpmath.mpf("1e-15")) * exact
            low[k] = np.nextafter(float(exact - bound), -np.inf)
            high[k] = np.nextafter(float(exact + bound), np.inf)
    return low, high


SOFTPLUS_ASYMPTOTIC = Exercise(
    "softplus_asymptotic",
    "test_softplus_asymptotic",
    [
        Property(
            "x + e^(-x) for x >= 0, e^x for x < 0: one number in, one number out",
            1.0,
            S1,
            Close(asymptotic_ref, rtol=1e-15, types=ONE_NUMBER),
            visible=[call(2.0), call(-3.0)],
            hidden=[call(x) for x in SCALARS_1] + [call(np.float64(-2.5)), call(3)],
            drawn=lambda rng: [call(float(v)) for v in rng.uniform(-40.0, 40.0, 3)],
        ),
        Property(
            "elementwise on arrays of any shape, same shape out",
            1.0,
            S1,
            Close(asymptotic_ref, rtol=1e-15, types=ARRAY),
            visible=[call(np.array([-1.0, 0.0, 1.0]))],
            hidden=[
                call(GRID_40),
                call(np.linspace(-40.0, 40.0, 240).reshape(12, 20)),
                call(np.array([-5, 0, 5])),
            ],
            drawn=lambda rng: [call(rng.uniform(-40.0, 40.0, size=(3, 4)))],
        ),
        Property(
            "no warning (no overflow) for any |x| <= 700, right values there too",
            1.0,
            S1,
            Close(asymptotic_ref, rtol=1e-15, types=ONE_NUMBER + ARRAY),
            visible=[call(np.array([-700.0, 700.0]))],
            hidden=[
                call(GRID_700),
                call(GRID_700[:240].reshape(12, 20)),
                call(np.array([-5, 0, 5])),
                *[call(x) for x in BIG + SCALARS_1],
                call(np.float64(-2.5)),
                call(3),
            ],
            drawn=lambda rng: [call(rng.uniform(-700.0, 700.0, size=6))],
            warnings="error",
        ),
        Property(
            "within a relative e^-|x| of the exact Softplus for 1 <= |x| <= 700",
            1.0,
            S1,
            Within(bound_ref, types=("ndarray",)),
            visible=[call(np.array([-20.0, -5.0, -1.0, 1.0, 5.0, 20.0]))],
            hidden=[
                code(
                    "result = softplus_asymptotic(x)",
                    "softplus_asymptotic(x) for 240 values x with 1 <= |x| <= 700",
                    x=LARGE_X,
                )
            ],
        ),
    ],
)


# --- Exercise 2: linear_regime_start ------------------------------------------------------------
def _true_start(bits: int) -> int:
    """The first n whose exact softplus(n), rounded to `bits` significant bits, is n."""
    n = 0
    while True:
        with mpmath.workprec(200):
            exact = mpmath.mpf(n) + mpmath.log1p(mpmath.exp(-mpmath.mpf(n)))
        with mpmath.workprec(bits):
            if +exact == n:
                return n
        n += 1


START = {24: _true_start(24), 53: _true_start(53), 11: _true_start(11)}  # 15, 34, 7


def start_ref(_bits):
    return START[_bits]


def _start(form: str, bits: int):
    return code(f"result = linear_regime_start({form})", f"linear_regime_start({form})", _bits=bits)


FORMS = [
    ("np.float16", 11),
    ('np.dtype("float16")', 11),
    ("np.float32", 24),
    ('np.dtype("float32")', 24),
    ("np.float64", 53),
    ('np.dtype("float64")', 53),
]
BAD_DTYPES = [
    "np.int8",
    "np.int16",
    'np.dtype("int32")',
    "np.int64",
    "np.uint16",
    'np.dtype("uint32")',
    "np.complex64",
    'np.dtype("complex128")',
    'np.dtype("bool")',
]


def _rejects(form: str):
    return code(f"result = linear_regime_start({form})", f"linear_regime_start({form})")


LINEAR_REGIME_START = Exercise(
    "linear_regime_start",
    "test_linear_regime_start",
    [
        Property(
            "the first such n for float16, float32 and float64, either spelling of the dtype",
            1.5,
            S3,
            Equal(start_ref, types=("int", "npscalar", "float")),
            visible=[_start("np.float32", 24), _start('np.dtype("float64")', 53)],
            hidden=[_start(form, bits) for form, bits in FORMS],
        ),
        Property(
            "returns a Python int (not a numpy number)",
            1.0,
            S3,
            Equal(start_ref, types=("int",)),
            visible=[_start("np.float32", 24)],
            # the type spelling only: a function that fails on np.dtype(...) loses that once
            hidden=[_start(form, bits) for form, bits in FORMS if form.startswith("np.float")],
        ),
        Property(
            "any other dtype raises ValueError that mentions dtype",
            1.5,
            S3,
            Raises(("ValueError",), match="dtype"),
            visible=[_rejects("np.int32")],
            hidden=[
                _rejects(f) for f in ('np.dtype("int64")', "np.bool_", "np.complex128", "np.uint8")
            ],
            drawn=lambda rng: [_rejects(f) for f in rng.choice(BAD_DTYPES, 2, replace=False)],
        ),
    ],
)


SPEC = LessonSpec("04_asymptotics", [SOFTPLUS_ASYMPTOTIC, LINEAR_REGIME_START])
