"""Check specification of lesson 01 (What is Softplus?): 10 points.

Instructor material: the hidden inputs below are what grading adds to the visible checks.
References are computed here, in the grader, with math and numpy's logaddexp (correctly
rounded to within an ulp, far inside every tolerance below).
"""

import math

import numpy as np

from softplus_course.spec import (
    ARRAY,
    ONE_NUMBER,
    Close,
    Exercise,
    LessonSpec,
    Property,
    Raises,
    call,
)

S1 = "section 1, 'The definition'"
S3 = "section 3, 'The β-family'"
S3_GAP = "section 3, 'The β-family' (and the gap formula in section 2)"
INF = math.inf


def relu_ref(x):
    return np.maximum(np.asarray(x, dtype=np.float64), 0.0)


def softplus_ref(x):
    return np.logaddexp(0.0, np.asarray(x, dtype=np.float64))


def softplus_beta_ref(x, beta=1.0):
    return np.logaddexp(0.0, beta * np.asarray(x, dtype=np.float64)) / beta


def gap_ref(beta):
    return math.log(2.0) / beta


def _numbers(low, high, n):
    return lambda rng: [call(float(v)) for v in rng.uniform(low, high, n)]


RELU = Exercise(
    "relu",
    "test_relu",
    [
        Property(
            "max(0, x) for a single number, one number out",
            0.75,
            S1,
            Close(relu_ref, rtol=0.0, types=ONE_NUMBER),
            visible=[call(-2.0), call(0.0), call(3.5)],
            hidden=[call(-7.25), call(1e-300), call(42.0), call(-1e300)],
            drawn=_numbers(-50.0, 50.0, 3),
        ),
        Property(
            "elementwise on an array, same shape out",
            0.75,
            S1,
            Close(relu_ref, rtol=0.0, types=ARRAY),
            visible=[call(np.array([-1.0, 0.0, 2.5]))],
            hidden=[
                call(np.linspace(-50.0, 50.0, 1001)),
                call(np.array([[-1e300, -1.0, 0.0], [0.5, 2.0, 1e300]])),
            ],
            drawn=lambda rng: [call(rng.normal(0.0, 10.0, size=(3, 4)))],
        ),
        Property(
            "infinities: relu(inf) = inf, relu(-inf) = 0",
            0.5,
            S1,
            Close(relu_ref, rtol=0.0, types=ONE_NUMBER + ARRAY),
            visible=[call(INF)],
            hidden=[call(-INF), call(np.array([-INF, 1.0, INF]))],
        ),
    ],
)

SOFTPLUS = Exercise(
    "softplus",
    "test_softplus",
    [
        Property(
            "ln(1 + e^x) for single numbers, to 12 digits",
            1.0,
            S1,
            # The direct formula loses relative accuracy for negative x, never more than about
            # 1e-16 in absolute terms: an absolute plus a relative tolerance.
            Close(softplus_ref, rtol=1e-12, atol=1e-15, shape="any", types=ONE_NUMBER),
            visible=[call(0.0), call(1.0)],
            hidden=[call(v) for v in (-30.0, -12.5, -1.0, 0.5, 7.0, 30.0)],
            drawn=_numbers(-30.0, 30.0, 3),
        ),
        Property(
            "elementwise on an array, same shape out",
            1.5,
            S1,
            Close(softplus_ref, rtol=1e-12, atol=1e-15, types=ARRAY),
            visible=[call(np.array([-4.0, 4.0]))],
            hidden=[
                call(np.linspace(-30.0, 30.0, 601)),
                call(np.linspace(-30.0, 30.0, 601)[:600].reshape(20, 30)),
            ],
            drawn=lambda rng: [call(rng.uniform(-30.0, 30.0, size=(2, 5)))],
        ),
        Property(
            "one number in, one number out",
            0.5,
            S1,
            Close(softplus_ref, rtol=1e-12, atol=1e-15, types=ONE_NUMBER),
            visible=[call(0.0)],
            hidden=[call(-2.5), call(12.0)],
        ),
    ],
)

SOFTPLUS_BETA = Exercise(
    "softplus_beta",
    "test_softplus_beta",
    [
        Property(
            "ln(1 + e^(βx)) / β, with β = 1 by default",
            1.5,
            S3,
            Close(softplus_beta_ref, rtol=1e-12, atol=1e-14, shape="any"),
            visible=[
                call(0.0, beta=2.0),
                call(1.0),
                call(np.array([-1.0, 1.0]), 0.5),
            ],
            hidden=[
                call(np.linspace(-30.0 / b, 30.0 / b, 241), b) for b in (0.25, 0.5, 1.0, 4.0, 10.0)
            ]
            + [call(1.5, beta=2)],
            drawn=lambda rng: [
                call(float(x), beta=float(b))
                for x, b in zip(rng.uniform(-5, 5, 3), rng.uniform(0.2, 8.0, 3), strict=True)
            ],
        ),
        Property(
            "β <= 0 raises ValueError that mentions beta",
            1.0,
            S3,
            Raises(("ValueError",), match="beta"),
            visible=[call(1.0, 0.0), call(1.0, -2.0)],
            hidden=[call(1.0, 0), call(1.0, -0.5), call(1.0, -1e-12), call(1.0, -INF)],
        ),
        Property(
            "one number out for a number, the same shape out for an array",
            0.5,
            S3,
            Close(softplus_beta_ref, rtol=1e-12, atol=1e-14, types=ONE_NUMBER + ARRAY),
            visible=[call(1.5, beta=2.0)],
            hidden=[call(np.zeros((3, 4)), 3.0), call(-0.5, beta=0.5)],
        ),
    ],
)

GAP_BOUND = Exercise(
    "softplus_gap_bound",
    "test_softplus_gap_bound",
    [
        Property(
            "the exact largest gap for every β > 0",
            1.5,
            S3_GAP,
            Close(gap_ref, rtol=1e-12, shape="any", types=ONE_NUMBER + ("int",)),
            visible=[call(1.0), call(2.0)],
            hidden=[call(b) for b in (0.01, 0.3, 1, 3.0, 25.0, 1000.0, 1e6)],
            drawn=lambda rng: [call(float(10.0**e)) for e in rng.uniform(-2.0, 4.0, 2)],
        ),
        Property(
            "one number out",
            0.5,
            S3_GAP,
            Close(gap_ref, rtol=1e-12, types=ONE_NUMBER),
            visible=[call(1.0)],
            hidden=[call(4.0)],
        ),
    ],
)

SPEC = LessonSpec("01_definition", [RELU, SOFTPLUS, SOFTPLUS_BETA, GAP_BOUND])
