"""Check specification of lesson 02 (The derivative is the sigmoid): 17 points.

Instructor material: the hidden inputs below are what grading adds to the visible checks.
References are computed here, in the grader: the sigmoid, its derivative and the logit with
mpmath at 40 to 60 significant digits, rounded once to float64 (exact to half an ulp, far
inside every tolerance below); the central difference with numpy on the same float64 values
the learner's function sees (the exact formula of the exercise, so only rounding may differ).
"""

import math

import mpmath
import numpy as np

from softplus_course.spec import (
    ARRAY,
    ONE_NUMBER,
    Close,
    Exercise,
    Holds,
    LessonSpec,
    Property,
    call,
    code,
    elementwise,
)

S1 = "section 1, 'The chain rule gives the sigmoid'"
S2 = "section 2, 'The sigmoid'"
S2_FP = "section 2, 'Computing σ in floating point'"
S3 = "section 3, 'The second derivative, and convexity'"
S3_DIGITS = "section 3, 'Where σ(1 − σ) loses its digits'"
S5 = "section 5, 'The logit undoes the sigmoid'"
S5_WARN = "section 5, 'Infinite answers without warnings'"
S7 = "section 7, 'Checking a derivative three ways'"
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


def _logit(p: float) -> float:
    if math.isnan(p) or p < 0.0 or p > 1.0:
        return NAN
    if p == 0.0:  # -0.0 included
        return -INF
    if p == 1.0:
        return INF
    q = MP.mpf(p)
    return float(MP.log(q / (1 - q)))


sigmoid_ref = elementwise(_sigma)
sigma_prime_ref = elementwise(_sigma_prime)
logit_ref = elementwise(_logit)


def _never_negative(got) -> str | None:
    """Holds test: numbers, none of them negative."""
    if got.kind not in ("float", "int", "npscalar", "ndarray"):
        return f"returned {got.describe()}; expected numbers"
    arr = np.asarray(got.value, dtype=np.float64)
    if np.any(arr < 0):
        i = tuple(int(k) for k in np.argwhere(arr < 0)[0]) if arr.ndim else ()
        where = "" if not i else f" at index {i[0] if len(i) == 1 else i}"
        return f"returned the negative value {float(arr[i])!r}{where}; softplus'' is never negative"
    return None


def _unchanged(function: str, x: np.ndarray, label: str):
    """``function(x)``, where ``x`` must come back unchanged (else the result is a message)."""
    source = (
        "x_given = x.copy()\n"
        f"result = {function}(x)\n"
        "if not np.array_equal(x, x_given, equal_nan=True):\n"
        f"    result = 'the call changed the array x it was given: {function} must not "
        "modify its input'\n"
    )
    return code(source, label, x=x)


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
                _unchanged(
                    "sigmoid", np.array([-1.0, 0.0, 1.0]), "sigmoid(x), x = [-1.0, 0.0, 1.0]"
                ),
            ],
            hidden=[
                _unchanged("sigmoid", SIGMOID_GRID, "sigmoid(x), x = 3301 points in [-700, 700]"),
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
                _unchanged(
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
            Holds(_never_negative),
            hidden=[call(D2_GRID), call(SUBNORMAL.reshape(2, 38))] + [call(v) for v in D2_EXTREMES],
        ),
    ],
)

# --- Exercise 4: logit --------------------------------------------------------------------------
LOGIT_GRID = np.concatenate(
    [
        np.logspace(-300.0, math.log10(0.5), 600),
        1.0 - np.logspace(-16.0, math.log10(0.5), 600),
        np.linspace(0.001, 0.999, 999),
        0.5 + np.linspace(-1e-6, 1e-6, 41),
        [5e-324, 1e-310, 1.0 - 2.0**-53, 0.25, 0.75],
    ]
)
# Relative error 1e-12; near p = 1/2, where the logit is near 0, an absolute error of 1e-15.
LOGIT_CLOSE = {"rtol": 1e-12, "atol": 1e-15}
OUTSIDE = (-1e-300, -0.5, -1.0, 1.0000000000000002, 1.5, 2.0, 1e300, -1e300, INF, -INF, NAN)


def _logit_arrays(rng):
    tiny = 10.0 ** -rng.uniform(1.0, 300.0, 3)
    near_one = 1.0 - 10.0 ** -rng.uniform(1.0, 15.9, 3)
    return [call(np.concatenate([tiny, near_one]).reshape(2, 3))]


LOGIT = Exercise(
    "logit",
    "test_logit",
    [
        Property(
            "ln(p / (1 − p)) for single numbers in (0, 1), one float64 number out",
            1.0,
            S5,
            Close(logit_ref, **LOGIT_CLOSE, types=ONE_NUMBER, dtype="float64"),
            visible=[call(0.5), call(0.75)],
            hidden=[call(v) for v in (0.25, 0.1, 0.9, 1e-300, 1.0 - 2.0**-53)],
            drawn=lambda rng: [call(float(v)) for v in rng.uniform(0.01, 0.99, 3)],
            warnings="error",
        ),
        Property(
            "elementwise on arrays: same shape, float64, relative error below 1e-12 for "
            "1e-300 <= p <= 1 − 1e-16, input left unchanged",
            1.0,
            S5,
            Close(logit_ref, **LOGIT_CLOSE, types=ARRAY, dtype="float64"),
            visible=[call(np.array([0.1, 0.9])), call(np.array([1e-300, 0.5 + 1e-7, 1.0 - 1e-16]))],
            hidden=[_unchanged("logit", LOGIT_GRID, "logit(x), x = 2245 points in (0, 1)")],
            drawn=_logit_arrays,
            warnings="error",
        ),
        Property(
            "−inf at p = 0 and +inf at p = 1, without warnings",
            1.0,
            S5_WARN,
            Close(logit_ref, **LOGIT_CLOSE, types=NUMBER_OR_ARRAY),
            visible=[call(0.0), call(1.0)],
            hidden=[call(-0.0), call(np.array([0.0, 0.5, 1.0]))],
            warnings="error",
        ),
        Property(
            "nan for p outside [0, 1] and for nan, without warnings",
            1.0,
            S5_WARN,
            Close(logit_ref, **LOGIT_CLOSE, types=NUMBER_OR_ARRAY),
            visible=[call(2.0), call(-0.5)],
            hidden=[call(v) for v in OUTSIDE]
            + [call(np.array([[-1.0, 0.0, 0.5], [1.0, 2.0, NAN]]))],
            drawn=lambda rng: [
                call(float(rng.uniform(1.0001, 5.0))),
                call(float(-rng.uniform(0.0, 5.0))),
            ],
            warnings="error",
        ),
    ],
)

# --- Exercise 5: central_difference -------------------------------------------------------------
# The functions handed to central_difference, as driver source and as the grader computes them.
FUNCTIONS = {
    "square": ("lambda t: t * t", lambda t, a: t * t),
    "cube": ("lambda t: t * t * t", lambda t, a: t * t * t),
    "sin": ("np.sin", lambda t, a: np.sin(t)),
    "exp": ("np.exp", lambda t, a: np.exp(t)),
    "softplus": ("lambda t: np.logaddexp(0.0, t)", lambda t, a: np.logaddexp(0.0, t)),
    "sin_at": ("lambda t: np.sin(a * t)", lambda t, a: np.sin(a * t)),
}
NAMES = {
    "square": "square",
    "cube": "cube",
    "sin": "np.sin",
    "exp": "np.exp",
    "softplus": "softplus",
}
WHERE = {
    "square": " with square(t) = t * t",
    "cube": " with cube(t) = t * t * t",
    "softplus": " with softplus(t) = np.logaddexp(0, t)",
}


def central_ref(x, fn, h=1e-5, a=1.0):
    """(f(x + h) - f(x - h)) / (2h) in float64, on the values the learner's function gets."""
    f = FUNCTIONS[fn][1]
    x = np.asarray(x) if isinstance(x, np.ndarray) else float(x)
    return (f(x + h, a) - f(x - h, a)) / (2.0 * h)


def difference(fn, x, h=None, *, how="positional", a=None, shown=None):
    """A call of central_difference on the function named fn (which cannot travel as data).

    ``how``: h passed positionally, as ``h=...``, or every argument by keyword; ``h=None``
    leaves h to its default. ``shown``: how x reads in the label (default: its repr).
    """
    source_f = FUNCTIONS[fn][0]
    x_text = shown or repr(x)
    name = NAMES[fn] if a is None else f"sin({a!r} * t)"
    if h is None:
        args, label_args = f"{source_f}, x", f"{name}, {x_text}"
    elif how == "positional":
        args, label_args = f"{source_f}, x, h", f"{name}, {x_text}, {h!r}"
    elif how == "h=":
        args, label_args = f"{source_f}, x, h=h", f"{name}, {x_text}, h={h!r}"
    else:
        args, label_args = f"f={source_f}, x=x, h=h", f"f={name}, x={x_text}, h={h!r}"
    label = f"central_difference({label_args}){WHERE.get(fn, '')}"
    inputs = {"x": x, "fn": fn}
    if h is not None:
        inputs["h"] = h
    if a is not None:
        inputs["a"] = a
    return code(f"result = central_difference({args})", label, **inputs)


def _sine_points(rng, n):
    """n calls with the default h on sin(a t), a between 300 and 1000: h shows in the value."""
    return [
        difference("sin_at", float(x), a=float(a))
        for x, a in zip(rng.uniform(-2.0, 2.0, n), rng.uniform(300.0, 1000.0, n), strict=True)
    ]


def _sine_array(x):
    with np.printoptions(precision=17):
        shown = f"np.array({np.array2string(x, separator=', ')})"
    return difference("sin", x, 1e-3, shown=" ".join(shown.split()).replace(" ,", ","))


CENTRAL_DIFFERENCE = Exercise(
    "central_difference",
    "test_central_difference",
    [
        Property(
            "(f(x + h) − f(x − h)) / (2h) for a number x, with the step h the caller passes "
            "(by position or as h=)",
            1.0,
            S7,
            # Only rounding may differ from the reference: about 1e-15 (|f(x+h)| + |f(x-h)|) / h.
            Close(central_ref, rtol=1e-12, atol=2e-12, types=ONE_NUMBER),
            visible=[difference("cube", 1.0, 0.5)],
            hidden=[
                difference("exp", 1.0, 0.25),
                difference("sin", 0.0, 2.0, how="h="),
                difference("sin", -1.5, 1e-3, how="keywords"),
            ],
            drawn=lambda rng: [
                difference("exp", float(x), float(h))
                for x, h in zip(rng.uniform(-3.0, 3.0, 2), rng.uniform(0.01, 1.0, 2), strict=True)
            ],
        ),
        Property(
            "the default step h = 1e-5 when none is given",
            1.0,
            S7,
            # h = 1e-5: rounding errors up to about 1e-15 |f| / 1e-5, for |f| up to 8.
            Close(central_ref, rtol=1e-9, atol=2e-9, types=NUMBER_OR_ARRAY),
            visible=[difference("square", 3.0)],
            hidden=[
                difference("cube", 2.0),
                difference("sin_at", 0.001, a=1000.0),
                difference("softplus", np.linspace(-5.0, 5.0, 41), shown="np.linspace(-5, 5, 41)"),
            ],
            drawn=lambda rng: _sine_points(rng, 2),
        ),
        Property(
            "an array x gives an array of the same shape",
            1.0,
            S7,
            Close(central_ref, rtol=1e-12, atol=2e-12, types=ARRAY),
            visible=[
                difference(
                    "cube", np.array([0.0, 1.0, 2.0]), 0.5, shown="np.array([0.0, 1.0, 2.0])"
                )
            ],
            hidden=[
                difference(
                    "sin",
                    np.linspace(-2.0, 2.0, 12).reshape(3, 4),
                    1e-3,
                    shown="np.linspace(-2, 2, 12).reshape(3, 4)",
                ),
                difference("cube", np.array([1, 2, 3]), 0.5, shown="np.array([1, 2, 3])"),
            ],
            drawn=lambda rng: [_sine_array(rng.uniform(-3.0, 3.0, size=(2, 3)))],
        ),
    ],
)

SPEC = LessonSpec(
    "02_derivative",
    [SIGMOID, SOFTPLUS_DERIVATIVE, SOFTPLUS_SECOND_DERIVATIVE, LOGIT, CENTRAL_DIFFERENCE],
)
