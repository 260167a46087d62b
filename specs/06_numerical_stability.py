"""Check specification of lesson 06 (Numerical stability): 18 points.

Instructor material: the hidden inputs below are what grading adds to the visible checks.
References are computed here, in the grader: the overflow and underflow edges with mpmath at
200 to 300 bits, float positions from the bit patterns (struct), and the correctly rounded
Softplus with ``softplus_course.numerics.softplus_reference`` (mpmath at 2p + 64 bits, rounded
once). Softplus is judged in ULPs, exactly, by counting the floats between the returned value
and the correctly rounded one (:class:`WithinUlps`, below).
"""

import math
import struct

import mpmath
import numpy as np

from softplus_course.numerics import softplus_reference
from softplus_course.spec import (
    ONE_NUMBER,
    Close,
    Exercise,
    LessonSpec,
    Property,
    Raises,
    call,
    code,
    judge_close,
)
from softplus_course.wire import decode

S1 = "section 1, 'Overflow'"
S3 = "section 3, 'Counting floats: ULPs'"
S3_SIGN = "section 3, 'Counting floats: ULPs' (the mapping of negative floats)"
S4 = "section 4, 'A Softplus that is right everywhere'"
S4_MEASURED = "section 4, 'A Softplus that is right everywhere' (measured as in section 5)"
S1_EDGE = "section 1, 'Overflow' (which side of the edge the rounded ln(largest) lands on)"
S4_WHERE = (
    "section 4, 'A Softplus that is right everywhere' (every element must take the safe route)"
)
S7 = "section 7, 'Underflow: exactly zero, and so is the gradient'"
INF, NAN = math.inf, math.nan

F32 = np.float32
KIND_NAMES = {
    "float": "a float",
    "int": "an int",
    "npscalar": "a numpy number",
    "ndarray": "a numpy array",
}


def _kinds(types):
    return " or ".join(KIND_NAMES.get(t, t) for t in types)


# --- Exercise 1: exp_overflow_threshold ----------------------------------------------------------
def overflow_edge(name):
    """The largest float of the format whose exp, rounded to nearest, is still finite."""
    dt = np.dtype(name)
    info = np.finfo(dt)
    p = info.nmant + 1
    with mpmath.workprec(300):
        # exp(x) stays finite while it is below max + half a ULP of max.
        edge = mpmath.log(mpmath.mpf(float(info.max)) + mpmath.ldexp(1, int(info.maxexp) - p - 1))
        best = np.asarray(float(edge)).astype(dt)[()]
        while mpmath.mpf(float(best)) >= edge:
            best = np.nextafter(best, dt.type(0))
        while mpmath.mpf(float(np.nextafter(best, dt.type(np.inf)))) < edge:
            best = np.nextafter(best, dt.type(np.inf))
    return float(best)


def edge_value(name):
    """The overflow edge as a number of its own format (the format sets the tolerance)."""
    return np.dtype(name).type(overflow_edge(name))


class ExactEdge:
    """Exactly the overflow edge, as a number of the format of the case (a Python float or a
    numpy float64 counts as float64). The visible checks run it as a :class:`Close` with no
    tolerance and the dtype ``visible_dtype``; grading adds what the returned float does: if it
    is one float above the edge, its exponential overflows, and the message says so."""

    types = ONE_NUMBER
    reference = staticmethod(edge_value)

    def __init__(self, visible_dtype):
        self.visible_dtype = visible_dtype

    def params(self):
        return Close(None, rtol=0.0, atol=0.0, types=self.types, dtype=self.visible_dtype).params()

    def judge(self, result, want, call_text):
        name = want.dtype.name
        p = Close(None, rtol=0.0, atol=0.0, types=self.types, dtype=name).params()
        problem = judge_close(p, result, float(want), call_text)
        if problem is None:
            return None
        value = _as_float(decode(result["returned"]))
        if " dtype " in problem:
            return (
                f"{problem[:-1]}: the edge is a number of the format {name}, and the float "
                f"nearest ln(largest) is not always on the safe side."
            )
        if value is not None and math.isfinite(value):
            as_format = want.dtype.type(value)
            with np.errstate(over="ignore"):
                overflows = not np.isfinite(np.exp(as_format))
            if overflows:
                return (
                    f"{problem[:-1]}: e^x of {as_format} overflows in {name}, so the answer "
                    f"is below it (the rounded ln(largest) can lie above the edge)."
                )
            if as_format < want:
                return f"{problem[:-1]}: a larger {name} still has a finite e^x."
        return problem


def _as_float(got):
    try:
        return float(np.asarray(got.value).reshape(-1)[0])
    except (TypeError, ValueError, IndexError, AttributeError):
        return None


def _dtype_cases(function, names, dtype_form=False):
    """Driver code calling ``function`` on a numpy float type (or np.dtype) by its name."""
    if dtype_form:
        return [
            code(f"result = {function}(np.dtype(name))", f"{function}(np.dtype({n!r}))", name=n)
            for n in names
        ]
    return [
        code(f"result = {function}(getattr(np, name))", f"{function}(np.{n})", name=n)
        for n in names
    ]


EXP_OVERFLOW = Exercise(
    "exp_overflow_threshold",
    "test_exp_overflow_threshold",
    [
        Property(
            "np.float64: exactly the largest float64 whose e^x is finite",
            0.75,
            S1_EDGE,
            ExactEdge("float64"),
            visible=_dtype_cases("exp_overflow_threshold", ["float64"]),
        ),
        Property(
            "np.float32: exactly the largest float32 whose e^x is finite, as a float32 "
            "(its neighbour above overflows)",
            1.0,
            S1_EDGE,
            ExactEdge("float32"),
            visible=_dtype_cases("exp_overflow_threshold", ["float32"]),
        ),
        Property(
            "np.float16: exactly the largest float16 whose e^x is finite, as a float16 "
            "(its neighbour above overflows)",
            0.75,
            S1_EDGE,
            ExactEdge("float16"),
            hidden=_dtype_cases("exp_overflow_threshold", ["float16"]),
        ),
        Property(
            "a np.dtype works like its type: np.dtype('float64') as np.float64, and so on",
            0.5,
            S1,
            ExactEdge("float64"),
            visible=_dtype_cases("exp_overflow_threshold", ["float64"], dtype_form=True),
            hidden=_dtype_cases("exp_overflow_threshold", ["float32"], dtype_form=True),
        ),
    ],
)


# --- Exercise 2: ulp_distance --------------------------------------------------------------------
def position(v):
    """Position of v among the floats of its format: monotone, +0 and -0 both 0."""
    if isinstance(v, np.float32):
        i = struct.unpack("<i", struct.pack("<f", float(v)))[0]
        return i if i >= 0 else -(i & (2**31 - 1))
    i = struct.unpack("<q", struct.pack("<d", float(v)))[0]
    return i if i >= 0 else -(i & (2**63 - 1))


def distance_ref(a, b):
    return abs(position(a) - position(b))


class Count:
    """An exact count: a Python int or a numpy integer (never a float or a bool)."""

    types = ("int", "npscalar")

    def __init__(self, reference):
        self.reference = reference

    def params(self):
        return {"kind": "equal", "types": list(self.types)}

    def judge(self, result, want, call_text):
        got = decode(result["returned"])
        integer = got.kind == "int" or (got.kind == "npscalar" and got.value.dtype.kind in "iu")
        if not integer:
            return f"{call_text} returned {got.describe()}; expected an int."
        if int(got.value) != want:
            return f"{call_text} should be {want!r}, got {got.describe()}."
        return None


MAX64, MAX32 = float(np.finfo(np.float64).max), np.finfo(np.float32).max
SUB64 = 5e-324
# Fixed pairs of the old hidden tests, both orders each.
FIXED_POSITIVE_64 = [(0.0, SUB64), (2.2250738585072014e-308, 2.225073858507201e-308)]
FIXED_SIGNED = [
    (-0.0, -0.0),
    (-0.0, SUB64),
    (-1.0, 1.0),
    (-1e-300, 1e-300),
    (-MAX64, MAX64),
    (np.float64(3.5), np.float64(-2.25)),
    (F32(0.0), F32(-0.0)),
    (F32(-1.0), F32(1.0)),
    (F32(1.4e-45), F32(-1.4e-45)),
    (-MAX32, MAX32),
]


def _random_pairs():
    """The 150 float64 and 150 float32 random pairs of the old hidden tests (seed 42)."""
    rng = np.random.default_rng(42)
    mags = 10.0 ** rng.uniform(-300, 300, (150, 2)) * rng.choice([-1.0, 1.0], (150, 2))
    pairs64 = [(float(a), float(b)) for a, b in mags.tolist()]
    mags32 = (10.0 ** rng.uniform(-40, 38, (150, 2)) * rng.choice([-1.0, 1.0], (150, 2))).astype(
        F32
    )
    pairs32 = [(a, b) for a, b in mags32]
    return pairs64, pairs32


PAIRS64, PAIRS32 = _random_pairs()


def _positive(pair):
    return all(v > 0 or (v == 0 and math.copysign(1.0, float(v)) > 0) for v in pair)


def _both_orders(pairs):
    return [call(a, b) for a, b in pairs] + [call(b, a) for a, b in pairs]


def _near_pairs(rng, low, high, dtype, sign=1.0):
    """A float a and b = a moved by a few hundred floats (one pair), and a far pair."""
    a = dtype(sign * 10.0 ** rng.uniform(low, high))
    b = a
    for _ in range(int(rng.integers(1, 400))):
        b = np.nextafter(b, dtype(np.inf))
    far = dtype(10.0 ** rng.uniform(low, high))
    if dtype is np.float64:
        return [call(float(a), float(b)), call(float(far), float(a))]
    return [call(a, b), call(far, a)]


ULP_DISTANCE = Exercise(
    "ulp_distance",
    "test_ulp_distance",
    [
        Property(
            "float64: the steps between two non-negative numbers, in either order, as an int",
            1.25,
            S3,
            Count(distance_ref),
            visible=[
                call(1.0, 1.0),
                call(1.0, float(np.nextafter(1.0, 2.0))),
                call(1.0, 2.0),
                call(2.0, 1.0),
            ],
            hidden=_both_orders(FIXED_POSITIVE_64)
            + [call(a, b) for a, b in PAIRS64 if _positive((a, b))],
            drawn=lambda rng: _near_pairs(rng, -300, 300, np.float64),
        ),
        Property(
            "float32: counts the steps between float32 numbers",
            1.0,
            S3,
            Count(distance_ref),
            visible=[call(F32(1.0), F32(2.0))],
            hidden=[call(F32(1.0), F32(1.0)), call(F32(2.0), F32(1.0))]
            + [call(a, b) for a, b in PAIRS32 if _positive((a, b))],
            drawn=lambda rng: _near_pairs(rng, -37, 38, np.float32),
        ),
        Property(
            "negative numbers: -0.0 and +0.0 are 0 apart, and counting across zero works",
            1.25,
            S3_SIGN,
            Count(distance_ref),
            visible=[call(0.0, -0.0), call(-5e-324, 5e-324)],
            hidden=_both_orders(FIXED_SIGNED)
            + [call(a, b) for a, b in PAIRS64 + PAIRS32 if not _positive((a, b))],
            drawn=lambda rng: (
                _near_pairs(rng, -300, 300, np.float64, sign=-1.0)
                + _near_pairs(rng, -37, 38, np.float32, sign=-1.0)
                + [
                    call(
                        -float(10.0 ** rng.uniform(-300, 300)),
                        float(10.0 ** rng.uniform(-300, 300)),
                    )
                ]
            ),
        ),
        Property(
            "a nan raises ValueError",
            0.5,
            S3,
            Raises(("ValueError",)),
            visible=[call(NAN, 1.0)],
            hidden=[call(1.0, NAN), call(NAN, NAN), call(F32(NAN), F32(1.0))],
        ),
    ],
)


# --- Exercise 3: softplus_stable -----------------------------------------------------------------
def _format_of(x):
    """The float format a numpy implementation computes in: float32 stays float32, the rest
    (Python floats, float64) is float64."""
    return np.float32 if np.asarray(x).dtype == np.float32 else np.float64


def _positions(values):
    """Positions of float32/float64 values among the floats of their format (Python ints)."""
    arr = np.asarray(values)
    bits = arr.view(np.int32 if arr.dtype == np.float32 else np.int64)
    mask = 2 ** (8 * arr.itemsize - 1) - 1
    return [i if i >= 0 else -(i & mask) for i in (int(v) for v in bits.reshape(-1))]


def _show(value):
    """A float32 as float32 prints it (0.6931472), a float64 as repr does."""
    return str(value) if np.asarray(value).dtype == np.float32 else repr(float(value))


class WithinUlps:
    """Softplus within ``max_ulps`` floats of the correctly rounded value, in the format of the
    input (float32 in, float32 out; Python float or float64 in, float64 out), counted exactly
    from the bit patterns. Equal infinities and nan against nan count as equal.

    For the visible checks, run in the learner's kernel, it is written as a :class:`Close` whose
    tolerance implies ``max_ulps`` (``rtol`` = max_ulps / 2**p, ``atol`` = max_ulps smallest
    subnormals), in the format ``visible_dtype`` of the property's visible inputs.
    """

    def __init__(self, max_ulps=4, types=("ndarray",), visible_dtype="float64", strict_dtype=True):
        self.max_ulps = max_ulps
        self.strict_dtype = strict_dtype  # False: the result's dtype is another property's job
        self.types = tuple(types)
        self.visible_dtype = visible_dtype
        self._inputs = {}  # id(reference value) -> (reference value, input): for messages

    def reference(self, x):
        want = softplus_reference(x, _format_of(x))
        if len(self._inputs) > 2000:
            self._inputs.clear()
        self._inputs[id(want)] = (want, x)
        return want

    def params(self):
        dt = np.dtype(self.visible_dtype)
        info = np.finfo(dt)
        return {
            "kind": "close",
            "rtol": self.max_ulps * 2.0 ** -(info.nmant + 1),
            "atol": self.max_ulps * float(info.smallest_subnormal),
            "shape": "same",
            "types": list(self.types),
            "dtype": dt.name if self.strict_dtype else None,
        }

    def judge(self, result, want, call_text):
        got = decode(result["returned"])
        if got.kind not in self.types:
            return f"{call_text} returned {got.describe()}; expected {_kinds(self.types)}."
        arr = np.asarray(got.value)
        want_arr = np.asarray(want)
        if arr.dtype.kind != "f" or (self.strict_dtype and arr.dtype != want_arr.dtype):
            return (
                f"{call_text} returned dtype {arr.dtype}; expected {want_arr.dtype}, the dtype "
                "of the input."
            )
        if arr.shape != want_arr.shape:
            expected = "one number" if want_arr.ndim == 0 else f"an array of shape {want_arr.shape}"
            return f"{call_text} returned shape {arr.shape}; expected {expected}."
        with np.errstate(over="ignore"):
            g, w = arr.astype(want_arr.dtype).reshape(-1), want_arr.reshape(-1)
        pg, pw = _positions(g), _positions(w)
        bad, worst = [], None
        for i in range(w.size):
            if np.isnan(w[i]) or np.isnan(g[i]) or np.isinf(w[i]) or np.isinf(g[i]):
                same = (np.isnan(w[i]) and np.isnan(g[i])) or g[i] == w[i]
                off = 0 if same else math.inf
            else:
                off = abs(pg[i] - pw[i])
            if off > self.max_ulps:
                bad.append(i)
                if worst is None or off > worst[0]:
                    worst = (off, i)
        if not bad:
            return None
        off, i = worst
        if want_arr.ndim == 0:
            if off == math.inf:
                return f"{call_text} should be {_show(w[0])}, got {_show(g[0])}."
            return (
                f"{call_text} should be within {self.max_ulps} ULP of {_show(w[0])}, got "
                f"{_show(g[0])} ({off} ULP off)."
            )
        x = self._inputs.get(id(want), (None, None))[1]
        where = np.unravel_index(i, want_arr.shape)
        where = int(where[0]) if len(where) == 1 else tuple(int(k) for k in where)
        at = f" (x = {_show(np.asarray(x).reshape(-1)[i])})" if x is not None else ""
        how_far = "wrong" if off == math.inf else f"{off} ULP off"
        return (
            f"{call_text} is {how_far} at index {where}{at}: expected {_show(w[i])}, "
            f"got {_show(g[i])} ({len(bad)} of {w.size} elements are more than "
            f"{self.max_ulps} ULP off)."
        )


SWITCHES64 = [0.0, 2.0, 15.0, 18.0, 20.0, 30.0, 33.27, 36.74, 37.0, 40.0, 50.0, 87.34, 88.72]
SWITCHES64 += [103.97, 708.4, 709.78, 745.13]
SWITCHES32 = [0.0, 2.0, 8.0, 14.56, 15.0, 16.64, 17.0, 18.0, 20.0, 30.0, 87.34, 88.72, 103.97]


def _grid(dt, low, high, switches, rng):
    """The old hidden grid: even, random, tiny, and dense around every switch point +-s."""
    parts = [
        np.linspace(low, high, 601),
        rng.uniform(low, high, 400),
        np.array([0.0, -0.0, 1e-30, -1e-30, 1e-3, -1e-3]),
    ]
    for s in switches:
        for centre in (s, -s):
            parts.append(centre + np.linspace(-0.5, 0.5, 41))
            parts.append(centre * (1.0 + np.arange(-3, 4) * 1e-7))
    xs = np.concatenate(parts).astype(dt)
    return xs[(xs >= low) & (xs <= high)]


_GRID_RNG = np.random.default_rng(2004)
GRID64 = _grid(np.float64, -750.0, 750.0, SWITCHES64, _GRID_RNG)
GRID32 = _grid(np.float32, -110.0, 100.0, SWITCHES32, _GRID_RNG)
BIG64, BIG32 = MAX64 / 2, F32(MAX32 / 2)
# The old tests' extremes also held 0.0 and -0.0: those are in the grids (accuracy, above).
EXTREMES64 = np.array([BIG64, -BIG64, INF, -INF])
EXTREMES32 = np.array([BIG32, -BIG32, INF, -INF], dtype=F32)
# Far out, where the correctly rounded Softplus is x or 0 (beyond 33.27 and -745.13 in float64,
# 14.56 and -103.97 in float32): any exponential of x itself overflows somewhere here.
FAR64 = np.array([-1e300, -1000.0, -800.0, -750.0, 750.0, 800.0, 1000.0, 1e300])
FAR32 = np.array([-1e38, -1000.0, -200.0, -110.0, 89.0, 100.0, 200.0, 1e38], dtype=F32)

SOFTPLUS_STABLE = Exercise(
    "softplus_stable",
    "test_softplus_stable",
    [
        Property(
            "float64 arrays: within 4 ULP of the correctly rounded Softplus on [-750, 750], "
            "just above 20 too (where returning x drops e^-x), same shape out",
            2.5,
            S4_MEASURED,
            WithinUlps(4, types=("ndarray",), visible_dtype="float64"),
            visible=[call(np.array([-800.0, -30.0, -2.0, 2.0, 25.0, 40.0, 800.0]))],
            hidden=[call(GRID64), call(np.linspace(-50.0, 50.0, 24).reshape(4, 6))],
            drawn=lambda rng: [call(rng.uniform(-750.0, 750.0, 200))],
        ),
        Property(
            "float32 arrays: within 4 ULP on [-110, 100], and float32 stays float32",
            2.0,
            S4_MEASURED,
            WithinUlps(4, types=("ndarray",), visible_dtype="float32"),
            visible=[call(np.array([-120.0, -20.0, 0.0, 20.0, 100.0], dtype=F32))],
            hidden=[call(GRID32)],
            drawn=lambda rng: [call(rng.uniform(-110.0, 100.0, 200).astype(F32))],
        ),
        Property(
            "one number in, one number out, in the input's dtype (a Python float gives float64)",
            1.0,
            S4,
            WithinUlps(4, types=ONE_NUMBER, visible_dtype="float64"),
            visible=[call(0.0), call(-40.0)],
            hidden=[
                call(1.5),
                call(-745.0),
                call(np.float64(-3.0)),
                call(F32(0.0)),
                call(F32(-3.5)),
                call(F32(15.0)),
            ],
            drawn=lambda rng: [
                call(float(rng.uniform(-20.0, 20.0))),
                call(F32(rng.uniform(-20.0, 20.0))),
            ],
        ),
        Property(
            "no warning for any number or infinity: ±1e308 and ±inf give x, 0, inf and 0 "
            "(no element may compute e^x of a large x, not even in a branch np.where discards)",
            2.0,
            S4_WHERE,
            WithinUlps(4, types=ONE_NUMBER, visible_dtype="float64", strict_dtype=False),
            visible=[call(1000.0), call(-1000.0), call(np.array([INF, -INF, -1000.0, 1000.0]))],
            hidden=[
                call(EXTREMES64),
                call(EXTREMES32),
                call(FAR64),
                call(FAR32),
                call(1e308),
                call(-1e308),
                call(INF),
                call(-INF),
                call(BIG32),
                call(F32(INF)),
                call(F32(-INF)),
            ],
            drawn=lambda rng: [
                call(float(s * 10.0 ** rng.uniform(300.0, 308.0))) for s in (1.0, -1.0)
            ],
            warnings="error",
        ),
        Property(
            "nan gives nan, in an array and as one number (a warning is allowed here)",
            0.5,
            S4,
            WithinUlps(4, types=ONE_NUMBER, visible_dtype="float64", strict_dtype=False),
            visible=[call(np.array([NAN, 0.0]))],
            hidden=[call(NAN), call(F32(NAN)), call(np.array([NAN, -INF, INF], dtype=F32))],
        ),
    ],
)


# --- Exercise 4: softplus_underflow_threshold ----------------------------------------------------
def underflow_edge(name):
    """softplus(x) = t/2 exactly at x = ln(e^(t/2) - 1), t the smallest subnormal; below it,
    round to nearest gives 0."""
    tiny = float(np.finfo(np.dtype(name)).smallest_subnormal)
    with mpmath.workprec(200):
        return float(mpmath.log(mpmath.expm1(mpmath.mpf(tiny) / 2)))


class UnderflowEdge:
    """The underflow edge to a relative 1e-6, one number (a :class:`Close` for the visible
    checks); grading adds which idea a wrong answer missed: ln of the smallest subnormal itself
    (the half of round-to-nearest forgotten), ln of the smallest normal number, or -inf (half the
    smallest subnormal computed in the format, where it is 0)."""

    types = ONE_NUMBER
    reference = staticmethod(lambda name: underflow_edge(name))

    def params(self):
        return Close(None, rtol=1e-6, types=self.types).params()

    def judge(self, result, want, call_text):
        problem = judge_close(self.params(), result, want, call_text)
        if problem is None:
            return None
        value = _as_float(decode(result["returned"]))
        if value is None:
            return problem
        if value == -math.inf:
            return (
                f"{problem[:-1]}: -inf is the logarithm of 0. Half the smallest subnormal is not "
                f"a number of the format (it rounds to 0), so it cannot be computed in it."
            )
        if abs(value - (want + math.log(2.0))) < 1e-3:
            return (
                f"{problem[:-1]}: that is where Softplus equals the smallest subnormal itself; "
                f"rounding to nearest keeps it down to half of it."
            )
        return problem


def _underflow_property(name, points=0.75, note=""):
    return Property(
        f"np.{name}: the x below which Softplus rounds to 0 (to nearest), to a relative 1e-6, "
        f"as one number{note}",
        points,
        S7,
        UnderflowEdge(),
        visible=_dtype_cases("softplus_underflow_threshold", [name]),
    )


UNDERFLOW = Exercise(
    "softplus_underflow_threshold",
    "test_softplus_underflow_threshold",
    [
        _underflow_property(
            "float64", 1.0, " (computed without a number that float64 cannot hold)"
        ),
        _underflow_property("float32"),
        _underflow_property("float16"),
        Property(
            "a np.dtype works like its type: np.dtype('float64') as np.float64, and so on",
            0.5,
            S7,
            UnderflowEdge(),
            visible=_dtype_cases("softplus_underflow_threshold", ["float64"], dtype_form=True),
            hidden=_dtype_cases("softplus_underflow_threshold", ["float32"], dtype_form=True),
        ),
    ],
)

SPEC = LessonSpec(
    "06_numerical_stability", [EXP_OVERFLOW, ULP_DISTANCE, SOFTPLUS_STABLE, UNDERFLOW]
)
