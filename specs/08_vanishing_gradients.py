"""Check specification of lesson 08 (vanishing gradients, dead units, low precision): 9 points.

Instructor material: the hidden inputs below are what grading adds to the visible checks.
References are computed here, in the grader, never taken from student code.

Exercise 1 (``predicted_recovery_steps``). The reference is the count of the float64 loop of
section 1, run here with Python floats where it takes at most ``SIMULATE_UP_TO`` steps, and
otherwise the continuous-time count ``∫_{z0}^{0} dz / (4 lr (1 - softplus(z)) sigma(z))``
(40-digit mpmath): for z0 <= -7 it agrees with the loop's count to better than 0.3 % (at
lr 0.5 and b0 = -12, 29948.7 against 29954), far inside the 5 % the task allows. The simple
answer (e^(-z0) - 1) / (4 lr) is within 2 % for b0 <= -8; e^(-z0) / (4 lr) too. Forgetting that
z0 = 1 + b0 is off by a factor e; forgetting that both parameters move, by a factor 2.

Exercise 2 (``update_edge``). The reference solves ``2 lr (1 - softplus(z)) sigma(z) = gap / 2``
with mpmath, ``gap`` the distance from ``w`` to the next float above it in the dtype: an
update that reaches half the gap changes w (round to nearest). The inputs keep the edge below
-6, where ln(gap / (4 lr)) is within 0.005 of it; the tolerance is 0.01. Using the gap at 1 (eps)
for every w, the full gap instead of half, or the gap away from zero for negative powers of two
(``abs(np.spacing(w))``) is off by ln 2 or more.
"""

import math

import numpy as np

from softplus_course.spec import Close, Exercise, LessonSpec, Property, call, code

S1 = "section 1, 'Vanishing before dead: how long a unit takes to recover'"
S2 = "section 2, 'Float32: when the update rounds away'"

SIMULATE_UP_TO = 100_000


def _softplus(z):
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def _sigmoid(z):
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _loop_count(b0, lr):
    """The float64 loop of section 1 (as softplus_course.vanishing.steps_to_recover)."""
    w, b, n = 1.0, float(b0), 0
    while w + b < 0:
        z = w + b
        d = lr * 2.0 * (1.0 - _softplus(z)) * _sigmoid(z)
        w += d
        b += d
        n += 1
    return n


def _continuous_count(b0, lr):
    import mpmath

    with mpmath.workdps(40):
        z0 = mpmath.mpf(1) + mpmath.mpf(b0)

        def f(z):
            return (1 + mpmath.exp(-z)) / (4 * mpmath.mpf(lr) * (1 - mpmath.log1p(mpmath.exp(z))))

        return float(mpmath.quad(f, [z0, z0 / 2, z0 / 4, 0]))


def recovery_ref(b0, learning_rate):
    estimate = math.exp(-(1.0 + b0)) / (4.0 * learning_rate)
    if estimate <= SIMULATE_UP_TO:
        return float(_loop_count(b0, learning_rate))
    return _continuous_count(b0, learning_rate)


A_NUMBER = ("float", "int", "npscalar")
RECOVERY = Close(recovery_ref, rtol=0.05, types=A_NUMBER)

PREDICTED_RECOVERY_STEPS = Exercise(
    "predicted_recovery_steps",
    "test_predicted_recovery_steps",
    [
        Property(
            "lr 0.5, b0 from -14 to -8: the count grows like e^|z0|, z0 = 1 + b0 (within 5 %)",
            1.0,
            S1,
            RECOVERY,
            visible=[call(-10.0, 0.5)],
            hidden=[call(b0, 0.5) for b0 in (-8.0, -9.5, -11.0, -12.0, -13.0, -14.0)],
            drawn=lambda rng: [call(float(round(rng.uniform(-14.0, -8.0), 2)), 0.5)],
        ),
        Property(
            "other learning rates (0.01 to 1): the count scales like 1 / learning rate",
            1.5,
            S1,
            RECOVERY,
            visible=[call(-9.0, 0.1)],
            hidden=[
                call(b0, lr)
                for b0, lr in [
                    (-8.0, 1.0),
                    (-8.0, 0.01),
                    (-10.0, 0.05),
                    (-11.0, 0.2),
                    (-12.0, 0.75),
                    (-13.0, 0.3),
                    (-9.0, 0.02),
                ]
            ],
            drawn=lambda rng: [
                call(
                    float(round(rng.uniform(-13.0, -8.0), 2)),
                    float(round(rng.uniform(0.01, 1.0), 3)),
                )
            ],
        ),
        Property(
            "b0 down to -20 (tens of millions of steps): by the growth law, not the loop",
            1.5,
            S1,
            RECOVERY,
            visible=[call(-20.0, 0.5)],
            hidden=[call(-16.0, 0.5), call(-18.0, 0.01), call(-20.0, 1.0), call(-17.5, 0.1)],
        ),
    ],
)


# --- Exercise 2: update_edge -----------------------------------------------------------------
def edge_ref(learning_rate, w, name):
    import mpmath

    dt = np.dtype(name)
    w_d = dt.type(w)
    gap = float(np.nextafter(w_d, dt.type(np.inf))) - float(w_d)
    with mpmath.workdps(40):
        lr, half = mpmath.mpf(learning_rate), mpmath.mpf(gap) / 2

        def excess(z):
            e = mpmath.exp(z)
            return 2 * lr * (1 - mpmath.log1p(e)) * e / (1 + e) - half

        lo, hi = mpmath.mpf(-800), mpmath.mpf(-1)
        for _ in range(200):
            mid = (lo + hi) / 2
            if excess(mid) < 0:
                lo = mid
            else:
                hi = mid
        return float((lo + hi) / 2)


def edge_case(learning_rate, w, name):
    return code(
        "result = update_edge(learning_rate, w, getattr(np, name))",
        f"update_edge({learning_rate!r}, {w!r}, np.{name})",
        learning_rate=learning_rate,
        w=w,
        name=name,
    )


EDGE = Close(edge_ref, rtol=0.0, atol=0.01, types=A_NUMBER)

UPDATE_EDGE = Exercise(
    "update_edge",
    "test_update_edge",
    [
        Property(
            "float32, w = 1: the update must reach half the gap above 1, for any learning rate",
            2.0,
            S2,
            EDGE,
            visible=[edge_case(0.05, 1.0, "float32")],
            hidden=[edge_case(lr, 1.0, "float32") for lr in (1e-4, 0.001, 0.01, 0.1, 0.3, 1.0)],
            drawn=lambda rng: [
                edge_case(float(round(10.0 ** rng.uniform(-4.0, 0.0), 5)), 1.0, "float32")
            ],
        ),
        Property(
            "float32, other weights: half the gap next to w in the direction of the step (upwards)",
            1.5,
            S2,
            EDGE,
            visible=[
                edge_case(0.1, 3.0, "float32"),
                edge_case(0.1, -0.75, "float32"),
                edge_case(0.1, -2.0, "float32"),
            ],
            hidden=[
                edge_case(lr, w, "float32")
                for lr, w in [
                    (0.1, 2.0),
                    (0.1, -2.0),
                    (0.01, 0.5),
                    (0.01, -0.5),
                    (0.1, 1000.0),
                    (0.001, 0.0009765625),
                    (0.1, -1024.0),
                    (0.05, -7.5),
                ]
            ],
        ),
        Property(
            "float16 and float64: the same rule with their own gaps",
            1.5,
            S2,
            EDGE,
            visible=[edge_case(0.2, 1.0, "float16"), edge_case(0.1, 1.0, "float64")],
            hidden=[
                edge_case(lr, w, name)
                for lr, w, name in [
                    (0.5, 1.0, "float16"),
                    (0.2, -1.5, "float16"),
                    (1.0, 2.0, "float16"),
                    (0.05, 0.25, "float16"),
                    (0.3, -0.75, "float16"),
                    (1.0, 1.0, "float64"),
                    (0.001, -3.0, "float64"),
                    (0.1, 1000.0, "float64"),
                ]
            ],
        ),
    ],
)

SPEC = LessonSpec("08_vanishing_gradients", [PREDICTED_RECOVERY_STEPS, UPDATE_EDGE])
