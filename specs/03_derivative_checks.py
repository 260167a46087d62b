"""Check specification of lesson 03 (The integral, the logit and ReLU's kink: checking a
derivative): 10 points.

Instructor material: the hidden inputs below are what grading adds to the visible checks.
References are computed here, in the grader: the logit with mpmath at 60 significant digits,
rounded once to float64 (exact to half an ulp, far inside every tolerance below); the central
difference with numpy on the same float64 values the learner's function sees (the exact formula
of the exercise, so only rounding may differ).
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
    call,
    code,
    elementwise,
    unchanged,
)

S2 = "section 2, 'The logit undoes the sigmoid'"
S2_WARN = "section 2, 'Infinite answers without warnings'"
S3_DEAD = "section 3, 'What a zero slope does to a unit'"
S4 = "section 4, 'Checking a derivative three ways'"
INF, NAN = math.inf, math.nan

NUMBER_OR_ARRAY = ONE_NUMBER  # with shape="same": one number for a number, else the shape

# A context of our own: the notebook's mpmath.mp.dps, or anyone else's, never matters here.
MP = mpmath.MPContext()
MP.dps = 60


def _logit(p: float) -> float:
    if math.isnan(p) or p < 0.0 or p > 1.0:
        return NAN
    if p == 0.0:  # -0.0 included
        return -INF
    if p == 1.0:
        return INF
    q = MP.mpf(p)
    return float(MP.log(q / (1 - q)))


logit_ref = elementwise(_logit)


# --- Exercise 1: logit --------------------------------------------------------------------------
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
            S2,
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
            S2,
            Close(logit_ref, **LOGIT_CLOSE, types=ARRAY, dtype="float64"),
            visible=[call(np.array([0.1, 0.9])), call(np.array([1e-300, 0.5 + 1e-7, 1.0 - 1e-16]))],
            hidden=[unchanged("logit", LOGIT_GRID, "logit(x), x = 2245 points in (0, 1)")],
            drawn=_logit_arrays,
            warnings="error",
        ),
        Property(
            "−inf at p = 0 and +inf at p = 1, without warnings",
            1.0,
            S2_WARN,
            Close(logit_ref, **LOGIT_CLOSE, types=NUMBER_OR_ARRAY),
            visible=[call(0.0), call(1.0)],
            hidden=[call(-0.0), call(np.array([0.0, 0.5, 1.0]))],
            warnings="error",
        ),
        Property(
            "nan for p outside [0, 1] and for nan, without warnings",
            1.0,
            S2_WARN,
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


# --- Exercise 2: relu_dead_below ---------------------------------------------------------------
def dead_ref(w, lo, hi):
    """-max(w lo, w hi): both products rounded once, as any sensible answer rounds them."""
    return -max(w * lo, w * hi)


def _intervals(rng, sign):
    w = sign * rng.uniform(0.1, 5.0, 2)
    lo = rng.uniform(-5.0, 5.0, 2)
    return [
        call(float(a), float(b), float(b + d))
        for a, b, d in zip(w, lo, rng.uniform(0.0, 5.0, 2), strict=True)
    ]


DEAD_CLOSE = {"rtol": 1e-12, "atol": 1e-15, "types": ONE_NUMBER}
RELU_DEAD_BELOW = Exercise(
    "relu_dead_below",
    "test_relu_dead_below",
    [
        Property(
            "positive weights: w x + b is largest at hi",
            1.0,
            S3_DEAD,
            Close(dead_ref, **DEAD_CLOSE),
            visible=[call(1.0, -1.0, 1.0), call(2.0, 0.5, 3.0)],
            hidden=[call(0.25, -4.0, -1.0), call(3.0, -2.0, 0.0), call(1e-3, 10.0, 1e6)],
            drawn=lambda rng: _intervals(rng, 1.0),
        ),
        Property(
            "negative weights: w x + b is largest at lo",
            1.0,
            S3_DEAD,
            Close(dead_ref, **DEAD_CLOSE),
            visible=[call(-2.0, -1.0, 3.0)],
            hidden=[call(-1.0, -1.0, 1.0), call(-0.5, 2.0, 6.0), call(-3.0, -5.0, -2.0)],
            drawn=lambda rng: _intervals(rng, -1.0),
        ),
        Property(
            "a zero weight, and a single input (lo = hi)",
            1.0,
            S3_DEAD,
            Close(dead_ref, **DEAD_CLOSE),
            visible=[call(0.0, -1.0, 1.0), call(-2.0, 1.5, 1.5)],
            hidden=[call(0.0, 3.0, 7.0), call(2.0, 1.5, 1.5), call(0.0, -2.0, -2.0)],
        ),
    ],
)

# --- Exercise 3: central_difference -------------------------------------------------------------
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
            S4,
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
            S4,
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
            S4,
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

SPEC = LessonSpec("03_derivative_checks", [LOGIT, RELU_DEAD_BELOW, CENTRAL_DIFFERENCE])
