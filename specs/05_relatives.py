"""Check specification of lesson 05 (Softplus's relatives: LogSumExp, the logistic loss, the
convex conjugate): 12 points.

Instructor material: the hidden inputs below are what grading adds to the visible checks.
References are computed here, in the grader, with mpmath at 40 significant digits and then
rounded once to a float (correctly rounded, far inside every tolerance below; the exact checks
of LogSumExp compare with that correctly rounded value).

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
    call,
    code,
    elementwise,
)

S1 = "section 1, 'LogSumExp and the max-shift'"
S1_DOMINANT = "section 1, 'When one entry dominates, the max-shift is not enough'"
S2 = "section 2, 'The logistic loss is a Softplus'"
S3 = "section 3, 'The convex conjugate'"
INF = math.inf

FLOAT = ("float", "npscalar")  # logsumexp: a Python float or a numpy float, not an array


# --- Exercise 1: logsumexp ----------------------------------------------------------------------
def lse_ref(values) -> float:
    """LogSumExp in 40-digit arithmetic, one largest term kept out of the sum (as log1p's 1), so
    that a tiny result such as LSE(0, -700) = 9.9e-305 keeps its digits."""
    finite = sorted((float(v) for v in values if float(v) != -INF), reverse=True)
    if not finite:
        return -INF
    if math.isinf(finite[0]):
        return finite[0]
    with mpmath.workdps(40):
        top = mpmath.mpf(finite[0])
        rest = mpmath.fsum(mpmath.exp(mpmath.mpf(v) - top) for v in finite[1:])
        return float(top + mpmath.log1p(rest))


def _random_vectors() -> list:
    rng = np.random.default_rng(3)
    cases = []
    for size, scale in ((2, 1.0), (3, 100.0), (10, 1e4), (50, 30.0), (200, 5.0)):
        v = (rng.standard_normal(size) * scale).tolist()
        cases += [call(v), call(tuple(v)), call(np.array(v))]
    return cases


def _drawn_vectors(rng) -> list:
    out = []
    for make in (list, np.array):
        v = rng.normal(0.0, rng.uniform(1.0, 30.0), size=int(rng.integers(2, 9)))
        v = v - v.max() + rng.uniform(5.0, 50.0)  # the value lies between 5 and 60
        out.append(call(make(v.tolist())))
    return out


def _drawn_huge(rng) -> list:
    """[a, a] for a huge |a| whose a + ln 2, computed in float64, is the correctly rounded one."""
    out = []
    while len(out) < 2:
        a = float(rng.choice([-1.0, 1.0]) * rng.uniform(750.0, 1e5))
        if a + math.log(2.0) == lse_ref([a, a]):
            out.append(call([a, a]))
    return out


def _drawn_dominant(rng) -> list:
    """(0, x) and a shuffled (x, 0, y) with x, y far below 0: LSE is tiny, about e^x + e^y."""
    x, y = (float(rng.uniform(-700.0, -20.0)) for _ in range(2))
    return [call([0.0, x]), call(np.array([x, 0.0, y]))]


def _drawn_minus_inf(rng) -> list:
    x = float(rng.uniform(-50.0, 50.0))
    k = int(rng.integers(2, 6))
    return [call([-INF, x, -INF]), call([-INF] * k)]


LOGSUMEXP = Exercise(
    "logsumexp",
    "test_logsumexp",
    [
        Property(
            "ln(e^v1 + ... + e^vn) of a list, tuple or array, one float out",
            1.25,
            S1,
            Close(lse_ref, rtol=1e-14, atol=1e-15, types=FLOAT),
            visible=[call([0.0, 0.0]), call([1.0, 2.0, 3.0])],
            hidden=_random_vectors()
            + [call([0.0, x]) for x in np.linspace(-30.0, 30.0, 61).tolist()],
            drawn=_drawn_vectors,
        ),
        Property(
            "one dominant entry: a tiny result to a relative 1e-14 (log1p)",
            1.0,
            S1_DOMINANT,
            Close(lse_ref, rtol=1e-14, types=FLOAT),
            visible=[call([0.0, -40.0])],
            hidden=[
                call([0.0, -20.0]),
                call([0.0, -30.0]),
                call([0.0, -37.0]),
                call((0.0, -100.0)),
                call(np.array([0.0, -700.0])),
                call([-45.0, 0.0, -50.0]),
                call([0.0, -30.0, -30.0]),
                call([1e-20, -40.0]),
            ],
            drawn=_drawn_dominant,
        ),
        Property(
            "huge and tiny entries: exact (max-shift), no overflow or other warning",
            1.0,
            S1,
            Close(lse_ref, rtol=0.0, types=FLOAT),
            visible=[call([1000.0, 1000.0])],
            hidden=[
                call([-1000.0, -1000.0]),
                call((1000.0, 1000.0)),
                call([1000, 1000]),
                call([7.5]),
                call([1e300, 1e300]),
                call([-1e300, -1e300]),
                call([0.0, -800.0]),
                call(np.array([-1000.0, -1000.0])),
            ],
            drawn=_drawn_huge,
            warnings="error",
        ),
        Property(
            "-inf entries add nothing; all -inf gives -inf, without a warning",
            1.0,
            S1,
            Close(lse_ref, rtol=0.0, types=FLOAT),
            visible=[call([-INF, 0.0])],
            hidden=[
                call([-INF, -INF]),
                call([-INF]),
                call([-INF, 5.0, 5.0]),
                call(np.full(5, -INF)),
            ],
            drawn=_drawn_minus_inf,
            warnings="error",
        ),
        Property(
            "an empty input raises ValueError",
            0.75,
            S1,
            Raises(("ValueError",)),
            visible=[call([])],
            hidden=[call(()), call(np.array([]))],
        ),
    ],
)


# --- Exercise 2: loss_vanishes_from ------------------------------------------------------------
def _vanishes_from(name: str) -> int:
    """By trial, as the task defines it: the loss as written, every operation in the dtype."""
    dt = np.dtype(name).type
    one, last_nonzero = dt(1.0), -1
    with np.errstate(all="ignore"):
        for t in range(0, 200):
            if -np.log(one / (one + np.exp(-dt(t)))) != 0:
                last_nonzero = t
    return last_nonzero + 1


VANISHES = {name: _vanishes_from(name) for name in ("float16", "float32", "float64")}  # 8, 17, 37


def vanishes_ref(_name):
    return VANISHES[_name]


def _vanishes(form: str, name: str):
    return code(f"result = loss_vanishes_from({form})", f"loss_vanishes_from({form})", _name=name)


FORMS = [(f, n) for n in ("float64", "float32", "float16") for f in (f"np.{n}", f'np.dtype("{n}")')]
LOSS_VANISHES_FROM = Exercise(
    "loss_vanishes_from",
    "test_loss_vanishes_from",
    [
        Property(
            "the right t for float64, float32 and float16, either spelling of the dtype",
            2.0,
            S2,
            Equal(vanishes_ref, types=("int", "npscalar", "float")),
            visible=[
                _vanishes("np.float64", "float64"),
                _vanishes('np.dtype("float32")', "float32"),
            ],
            hidden=[_vanishes(form, name) for form, name in FORMS],
        ),
        Property(
            "returns a Python int (not a numpy number)",
            1.0,
            S2,
            Equal(vanishes_ref, types=("int",)),
            visible=[_vanishes("np.float64", "float64")],
            # the type spelling only: a function that fails on np.dtype(...) loses that once
            hidden=[_vanishes(form, name) for form, name in FORMS if not form.startswith("np.d")],
        ),
    ],
)


# --- Exercise 3: softplus_conjugate -------------------------------------------------------------
def _neg_entropy(p: float) -> float:
    if not 0.0 <= p <= 1.0:
        return INF
    with mpmath.workdps(40):
        q = mpmath.mpf(p)
        return float(mpmath.fsum([t * mpmath.log(t) for t in (q, 1 - q) if t > 0]))


conjugate_ref = elementwise(_neg_entropy)

EXTRAS_INSIDE = np.array([5e-324, 1e-300, 1e-10, 0.5 - 2**-40, 1 - 1e-10, 1 - 2**-53])
OUTSIDE = np.array([-1e-12, 1 + 1e-12, 2.0, 1e300, -1e300, INF, -INF])
GRID_P = np.concatenate([np.linspace(0.0, 1.0, 1001), EXTRAS_INSIDE, OUTSIDE])
SCALARS_INSIDE = (0.5, 1e-12, 0.999, np.float64(0.75))
SCALARS_EDGE = (0.0, 1.0, 0, 1, -0.0, 2, -1, 1.25, INF)
EDGES = np.array([0.0, 1.0, 1.5, -0.5])


def _drawn_edges(rng) -> list:
    return [call(float(1.0 + rng.uniform(0.0, 5.0))), call(float(-rng.uniform(0.0, 5.0)))]


def _drawn_mixed(rng) -> list:
    p = np.concatenate([[0.0, 1.0], rng.uniform(-0.5, 1.5, 8)])
    return [call(rng.permutation(p))]


SOFTPLUS_CONJUGATE = Exercise(
    "softplus_conjugate",
    "test_softplus_conjugate",
    [
        Property(
            "p ln p + (1-p) ln(1-p) for 0 < p < 1: one number in, one number out",
            1.0,
            S3,
            Close(conjugate_ref, rtol=1e-12, atol=1e-15, types=ONE_NUMBER),
            visible=[call(0.5), call(0.25)],
            hidden=[call(p) for p in SCALARS_INSIDE] + [call(5e-324), call(1 - 2**-53)],
            drawn=lambda rng: [call(float(p)) for p in rng.uniform(0.001, 0.999, 3)],
        ),
        Property(
            "elementwise on arrays of any shape, same shape out",
            1.0,
            S3,
            Close(conjugate_ref, rtol=1e-12, atol=1e-15, types=ARRAY),
            visible=[call(np.array([0.25, 0.5, 0.75]))],
            hidden=[
                call(np.concatenate([np.linspace(0.0, 1.0, 1001)[1:-1], EXTRAS_INSIDE])),
                call(np.linspace(0.0, 1.0, 1002)[1:-1].reshape(25, 40)),
            ],
            drawn=lambda rng: [call(rng.uniform(0.0, 1.0, size=(2, 5)))],
        ),
        Property(
            "exactly 0 at p = 0 and p = 1, +inf outside [0, 1]",
            1.0,
            S3,
            Close(conjugate_ref, rtol=1e-12, atol=0.0, types=ONE_NUMBER + ARRAY),
            visible=[call(EDGES)],
            hidden=[call(p) for p in SCALARS_EDGE] + [call(-INF), call(OUTSIDE)],
            drawn=_drawn_edges,
        ),
        Property(
            "no warning for any p, including 0, 1 and p outside [0, 1]",
            1.0,
            S3,
            Close(conjugate_ref, rtol=1e-12, atol=1e-15, types=ONE_NUMBER + ARRAY),
            visible=[call(EDGES)],
            hidden=[call(GRID_P), call(GRID_P[:1000].reshape(25, 40))]
            + [call(p) for p in SCALARS_INSIDE + SCALARS_EDGE],
            drawn=_drawn_mixed,
            warnings="error",
        ),
    ],
)

SPEC = LessonSpec("05_relatives", [LOGSUMEXP, LOSS_VANISHES_FROM, SOFTPLUS_CONJUGATE])
