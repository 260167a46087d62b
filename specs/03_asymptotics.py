"""Check specification of lesson 03 (Large inputs, and Softplus's relatives): 17 points.

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
    Holds,
    LessonSpec,
    Property,
    Raises,
    call,
    code,
    elementwise,
)

S1 = "section 1, 'Two approximations for large |x|'"
S3 = "section 3, 'When floating point can no longer tell softplus(x) from x'"
S4 = "section 4, 'LogSumExp and the max-shift'"
S4_DOMINANT = "section 4, 'When one entry dominates, the max-shift is not enough'"
S6 = "section 6, 'The convex conjugate'"
INF = math.inf

FLOAT = ("float", "npscalar")  # logsumexp: a Python float or a numpy float, not an array


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


def _within_the_bound(got) -> str | None:
    """softplus_asymptotic(LARGE_X) within a relative max(e^-|x|, 1e-15) of the exact Softplus."""
    if got.kind != "ndarray":
        return f"returned {got.describe()}; expected a numpy array"
    values = np.asarray(got.value)
    if values.shape != LARGE_X.shape or values.dtype.kind not in "iuf":
        return f"returned an array of shape {values.shape}; expected shape {LARGE_X.shape}"
    for x, g in zip(LARGE_X.tolist(), values.astype(np.float64).tolist(), strict=True):
        exact = _exact_softplus(x)
        with mpmath.workdps(40):
            rel = float(abs((mpmath.mpf(g) - exact) / exact)) if math.isfinite(g) else math.inf
        bound = max(math.exp(-abs(x)), 1e-15)
        if not rel <= bound:
            return (
                f"at x = {x!r} it returned {g!r}, a relative error of {rel:.3e} against the "
                f"exact Softplus {float(exact)!r}; the bound e^-|x| allows {bound:.3e}"
            )
    return None


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
            Holds(_within_the_bound),
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
            "returns a Python int (not a numpy integer)",
            1.0,
            S3,
            Equal(start_ref, types=("int",)),
            visible=[_start("np.float32", 24)],
            hidden=[_start(form, bits) for form, bits in FORMS if form != "np.float32"],
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


# --- Exercise 3: logsumexp ----------------------------------------------------------------------
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
            S4,
            Close(lse_ref, rtol=1e-14, atol=1e-15, types=FLOAT),
            visible=[call([0.0, 0.0]), call([1.0, 2.0, 3.0])],
            hidden=_random_vectors()
            + [call([0.0, x]) for x in np.linspace(-30.0, 30.0, 61).tolist()],
            drawn=_drawn_vectors,
        ),
        Property(
            "one dominant entry: a tiny result to a relative 1e-14 (log1p)",
            1.0,
            S4_DOMINANT,
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
            S4,
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
            S4,
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
            S4,
            Raises(("ValueError",)),
            visible=[call([])],
            hidden=[call(()), call(np.array([]))],
        ),
    ],
)


# --- Exercise 4: softplus_conjugate -------------------------------------------------------------
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
            S6,
            Close(conjugate_ref, rtol=1e-12, atol=1e-15, types=ONE_NUMBER),
            visible=[call(0.5), call(0.25)],
            hidden=[call(p) for p in SCALARS_INSIDE] + [call(5e-324), call(1 - 2**-53)],
            drawn=lambda rng: [call(float(p)) for p in rng.uniform(0.001, 0.999, 3)],
        ),
        Property(
            "elementwise on arrays of any shape, same shape out",
            1.0,
            S6,
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
            S6,
            Close(conjugate_ref, rtol=1e-12, atol=0.0, types=ONE_NUMBER + ARRAY),
            visible=[call(EDGES)],
            hidden=[call(p) for p in SCALARS_EDGE] + [call(-INF), call(OUTSIDE)],
            drawn=_drawn_edges,
        ),
        Property(
            "no warning for any p, including 0, 1 and p outside [0, 1]",
            1.0,
            S6,
            Close(conjugate_ref, rtol=1e-12, atol=1e-15, types=ONE_NUMBER + ARRAY),
            visible=[call(EDGES)],
            hidden=[call(GRID_P), call(GRID_P[:1000].reshape(25, 40))]
            + [call(p) for p in SCALARS_INSIDE + SCALARS_EDGE],
            drawn=_drawn_mixed,
            warnings="error",
        ),
    ],
)

SPEC = LessonSpec(
    "03_asymptotics", [SOFTPLUS_ASYMPTOTIC, LINEAR_REGIME_START, LOGSUMEXP, SOFTPLUS_CONJUGATE]
)
