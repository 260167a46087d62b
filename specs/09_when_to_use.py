"""Check specification of lesson 09 (When to choose Softplus): 14 points.

Instructor material: the hidden inputs below are what grading adds to the visible checks.
References are computed here, in the grader: the dead-unit fraction by counting columns, the
Poisson negative log-likelihood with mpmath at 40 digits (exact far inside every tolerance),
its gradient (1 - k / rate) / n in float64 (within an ulp or two), and Exercise 3's two
statistics by rerunning the learner's seeded experiment in the grader (train_shallow, one
thread) on settings drawn per student.

Tolerances. The old hidden test of ``poisson_nll`` allowed ``1e-14`` times the mean size of
the terms ``|rate| + |k ln rate| + |ln k!|`` (``2e-6`` in float32), a tolerance that differs
from input to input; a property has one ``rtol``, so each property takes about the relative
tolerance that this rule gives its inputs: within a factor of 10 of it, except the ``ln k!``
property, whose 1e-9 is the rule's value on its largest counts and is looser than the rule on
counts 2 to 13 (still 1e4 times below the error of any approximation of ``ln k!``). The
comment at each property gives the numbers.
"""

import dataclasses
import math

import mpmath
import numpy as np

from softplus_course.spec import Close, Equal, Exercise, LessonSpec, Property, Raises, call, code
from softplus_course.wire import TensorInput

S1 = "section 1, 'Dying ReLU units in a shallow network', and Exercise 1"
S3 = "section 6, 'Positive outputs: a Poisson rate', and Exercise 2's requirements"

NUMBER = ("float", "int", "npscalar", "ndarray", "tensor")  # one number, of any kind


def _array_text(a) -> str:
    with np.printoptions(precision=17, threshold=8, edgeitems=3, linewidth=10_000):
        return " ".join(np.array2string(np.asarray(a), separator=", ").split())


def _named(case, label: str):
    """The case, described in messages by ``label`` (for inputs too large to print)."""
    return dataclasses.replace(case, label=label)


def _dead(hidden, what: str):
    return _named(call(hidden), f"dead_unit_fraction({what})")


# --- Exercise 1: dead_unit_fraction -------------------------------------------------------------
def dead_ref(hidden=None, x=None, w=None, **_):
    """The fraction of columns that are exactly 0 in every row (nan and inf are not 0)."""
    if hidden is None:  # the forward-pass driver: relu(x @ w)
        hidden = np.maximum(np.asarray(x) @ np.asarray(w), 0.0)
    h = np.asarray(hidden)
    dead = sum(1 for j in range(h.shape[1]) if bool(np.all(h[:, j] == 0)))
    return dead / h.shape[1]


def _unchanged(*_args, **_kwargs):
    return "unchanged"


_gen = np.random.default_rng(6)
A40 = np.maximum(_gen.standard_normal((40, 10)), 0.0)
A40[:, [1, 4, 5]] = 0.0
TINY = np.zeros((6, 4))
TINY[0, 0], TINY[5, 1], TINY[2, 2] = -0.0, 5e-324, 1e-300
NAN_INF = np.zeros((3, 4))
NAN_INF[:, 0], NAN_INF[1, 1], NAN_INF[:, 2] = np.nan, np.nan, np.inf
VISIBLE_3X3 = np.array([[0.0, 1.5, 0.0], [0.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
SOFTPLUS_LIKE = np.array([[0.01, 2e-9], [0.02, 1e-300]])
# Leaky-ReLU outputs: a column of negatives is off but not exactly 0, so it is not counted.
LEAKY_LIKE = np.array([[0.0, -0.01, 0.5], [0.0, -0.02, 0.0]])
INTS = np.array([[0, 3, 0], [0, 0, 1]])


def _activations(rng, rows, units, dtype="float64"):
    """Relu'd normal activations with a random set of columns set to 0, and their text."""
    h = np.maximum(rng.standard_normal((rows, units)), 0.0)
    dead = sorted(rng.choice(units, size=int(rng.integers(0, units + 1)), replace=False))
    h[:, dead] = 0.0
    zero = [j for j in range(units) if not h[:, j].any()]
    kind = "array" if dtype == "float64" else dtype
    return h, f"a {rows} x {units} {kind} of relu activations whose columns {zero} are all 0"


def _drawn_dead(rng):
    h, text = _activations(rng, int(rng.integers(2, 30)), int(rng.integers(2, 12)))
    return _dead(h, text)


def _drawn_tensor(rng):
    grad = bool(rng.integers(2))
    h, text = _activations(rng, 12, 6, "tensor" + (" (requires_grad=True)" if grad else ""))
    return _dead(TensorInput(h, requires_grad=grad), text)


FLOAT_SOURCE = """\
_r = dead_unit_fraction(hidden)
_type = f"{type(_r).__module__}.{type(_r).__qualname__}".removeprefix("builtins.")
result = _r if type(_r) is float else f"{_r!r}, a {_type} (not a Python float)"
"""


def _float_case(hidden, what=None):
    label = call(hidden).describe("dead_unit_fraction") if what is None else None
    return code(FLOAT_SOURCE, label or f"dead_unit_fraction({what})", hidden=hidden)


FORWARD_PASS = code(
    "result = dead_unit_fraction((x @ w).relu())",
    "dead_unit_fraction(relu(x @ w)), a forward pass with x = torch.linspace(0.5, 2.0, 20) as a "
    "column and w = torch.tensor([[1.0, -1.0, 0.5, -2.0]], requires_grad=True)",
    x=TensorInput(np.linspace(0.5, 2.0, 20)[:, None]),
    w=TensorInput(np.array([[1.0, -1.0, 0.5, -2.0]]), requires_grad=True),
)

UNCHANGED_SOURCE = """\
_before = hidden.clone() if hasattr(hidden, "clone") else hidden.copy()
dead_unit_fraction(hidden)
result = "unchanged" if bool((hidden == _before).all()) else "changed"
"""


def _unchanged_case(hidden, text):
    return code(
        UNCHANGED_SOURCE, f"the argument {text} of dead_unit_fraction after the call", hidden=hidden
    )


DEAD_UNIT_FRACTION = Exercise(
    "dead_unit_fraction",
    "test_dead_unit_fraction",
    [
        Property(
            "the fraction of units (columns) that are exactly 0 for every sample",
            1.5,
            S1,
            # The old hidden test: |got - want| <= 1e-15 (a fraction dead / units is exact).
            Close(dead_ref, rtol=0.0, atol=1e-15, types=NUMBER),
            visible=[call(VISIBLE_3X3), call(SOFTPLUS_LIKE), call(LEAKY_LIKE)],
            hidden=[
                _dead(A40, "a 40 x 10 float64 array with 3 zero columns"),
                _dead(A40.astype(np.float32), "a 40 x 10 float32 array with 3 zero columns"),
                _dead(A40.T.copy(), "a 10 x 40 array, the transpose of a 40 x 10 one"),
                _dead(
                    TINY, "a 6 x 4 array of zeros, -0.0 and tiny positive values (5e-324, 1e-300)"
                ),
                _dead(NAN_INF, "a 3 x 4 array whose columns hold nan and inf (not 0) and zeros"),
                _dead(np.zeros((5, 7)), "np.zeros((5, 7))"),
                call(np.ones((2, 3))),
                call(np.array([[0.0, 2.0, 0.0, 0.0]])),
                _dead(np.zeros((9, 1)), "np.zeros((9, 1)), a single unit"),
                call(INTS),
            ],
            drawn=lambda rng: [_drawn_dead(rng) for _ in range(2)],
        ),
        Property(
            "returns a Python float",
            0.5,
            S1,
            # The old hidden test: type(got) is float, |got - want| <= 1e-15. The driver names
            # the type of anything else (a numpy scalar would otherwise read like a float).
            Close(dead_ref, rtol=0.0, atol=1e-15, types=("float",)),
            visible=[
                _float_case(VISIBLE_3X3),
                _float_case(TensorInput(np.array([[0.0, 0.3], [0.0, 0.0]]), dtype="float32")),
            ],
            hidden=[
                _float_case(np.zeros((5, 7)), "np.zeros((5, 7))"),
                _float_case(np.ones((2, 3))),
                _float_case(A40.astype(np.float32), "a 40 x 10 float32 array, 3 zero columns"),
                _float_case(INTS),
                _float_case(TensorInput(A40, dtype="float32"), "a 40 x 10 float32 tensor"),
            ],
        ),
        Property(
            "works on torch tensors, also on one that requires grad (from a forward pass)",
            1.0,
            S1,
            # Any number, to float32 rounding (fractions with up to 40 units differ by far
            # more): exactness and the Python float are the previous property's.
            Close(dead_ref, rtol=0.0, atol=1e-6, types=NUMBER),
            visible=[call(TensorInput(np.array([[0.0, 0.3], [0.0, 0.0]]), dtype="float32"))],
            hidden=[
                _dead(
                    TensorInput(A40, dtype="float32"), "a 40 x 10 float32 tensor, 3 zero columns"
                ),
                FORWARD_PASS,
                _dead(
                    TensorInput(A40, requires_grad=True),
                    "a 40 x 10 float64 tensor with requires_grad=True, 3 zero columns",
                ),
            ],
            drawn=lambda rng: [_drawn_tensor(rng)],
        ),
        Property(
            "ValueError for anything that is not 2-D, and for an empty array",
            0.75,
            S1,
            Raises(("ValueError",)),
            visible=[call(np.array([0.0, 1.0])), call(np.zeros((0, 3)))],
            hidden=[
                call(np.zeros(4)),
                call(np.zeros((2, 3, 4))),
                call(np.float64(0.0)),
                call(np.zeros((0, 4))),
                call(np.zeros((4, 0))),
                call(TensorInput(np.zeros(5), dtype="float32")),
                call(TensorInput(np.zeros((0, 3)), dtype="float32")),
            ],
        ),
        Property(
            "leaves its argument unchanged",
            0.25,
            S1,
            Equal(_unchanged, types=("str",)),
            visible=[_unchanged_case(VISIBLE_3X3, _array_text(VISIBLE_3X3))],
            hidden=[
                _unchanged_case(A40, "(a 40 x 10 array)"),
                _unchanged_case(TensorInput(A40), "(a 40 x 10 tensor)"),
            ],
        ),
    ],
)


# --- Exercise 2: poisson_nll --------------------------------------------------------------------
def nll_ref(rate, counts, **_):
    """The exact mean of rate - k ln(rate) + ln k!, rounded once to float64."""
    rates = np.asarray(rate, dtype=np.float64).ravel().tolist()
    ks = np.asarray(counts, dtype=np.float64).ravel().tolist()
    with mpmath.workdps(40):
        terms = [
            mpmath.mpf(r) - mpmath.mpf(k) * mpmath.log(mpmath.mpf(r)) + mpmath.loggamma(k + 1)
            for r, k in zip(rates, ks, strict=True)
        ]
        return float(mpmath.fsum(terms) / len(terms))


def grad_ref(rate, counts, **_):
    """d mean(rate - k ln rate + ln k!) / d rate = (1 - k / rate) / n."""
    r = np.asarray(rate, dtype=np.float64)
    return (1.0 - np.asarray(counts, dtype=np.float64) / r) / r.size


def kind_ref(dtype, **_):
    return f"a 0-d tensor of dtype {dtype}"


def _t(values, dtype="float64", requires_grad=False):
    return TensorInput(np.array(values, dtype=np.float64), dtype=dtype, requires_grad=requires_grad)


def _text(values, dtype="float64"):
    arr = np.array(values, dtype=np.int64 if dtype.startswith("int") else np.float64)
    return f"torch.tensor({_array_text(arr)}, dtype=torch.{dtype})"


def _nll(rates, ks, dtype="float64", counts_dtype=None, requires_grad=False):
    """poisson_nll on two tensors (the counts of the rate's dtype unless said otherwise)."""
    counts_dtype = counts_dtype or dtype
    grad = ", requires_grad=True" if requires_grad else ""
    label = f"poisson_nll({_text(rates, dtype)[:-1]}{grad}), {_text(ks, counts_dtype)})"
    return _named(
        call(_t(rates, dtype, requires_grad), _t(ks, counts_dtype)),
        label,
    )


def _poisson_draw(rng, n, low=0.2, high=20.0):
    rates = rng.uniform(low, high, n)
    return rates, rng.poisson(rates).astype(np.float64)


KIND_SOURCE = """\
import torch as _torch
_r = poisson_nll(rate, counts)
if not isinstance(_r, _torch.Tensor):
    result = f"a {type(_r).__name__}, not a tensor"
elif _r.ndim != 0:
    result = f"a tensor of shape {tuple(_r.shape)}, not 0-d"
else:
    result = "a 0-d tensor of dtype " + str(_r.dtype).removeprefix("torch.")
"""


def _kind_case(rates, ks, dtype="float64"):
    return code(
        KIND_SOURCE,
        f"the type of poisson_nll({_text(rates, dtype)}, {_text(ks, dtype)})",
        rate=_t(rates, dtype),
        counts=_t(ks, dtype),
        dtype=dtype,
    )


GRADIENT_SOURCE = """\
import torch as _torch
_loss = poisson_nll(rate, counts)
if not (isinstance(_loss, _torch.Tensor) and _loss.requires_grad):
    result = "no gradient: the loss returned does not require grad"
else:
    _loss.backward()
    result = rate.grad
"""


def _gradient_case(rates, ks):
    return code(
        GRADIENT_SOURCE,
        f"d poisson_nll(rate, counts) / d rate by autograd, at rate = "
        f"{_text(rates)} (requires_grad=True), counts = {_text(ks)}",
        rate=_t(rates, requires_grad=True),
        counts=_t(ks),
    )


COUNTS_SOURCE = """\
_before = counts.clone()
poisson_nll(rate, counts)
_same = counts.dtype == _before.dtype and bool((counts == _before).all())
result = "unchanged" if _same else f"changed to {counts.tolist()}"
"""


def _counts_case(rates, ks, counts_dtype="float64", requires_grad=False):
    grad = " (requires_grad=True)" if requires_grad else ""
    return code(
        COUNTS_SOURCE,
        f"the counts {_text(ks, counts_dtype)} after poisson_nll({_text(rates)}{grad}, counts)",
        rate=_t(rates, requires_grad=requires_grad),
        counts=_t(ks, counts_dtype),
    )


V_RATES, V_COUNTS = [1.0, 2.0, 0.5], [0.0, 1.0, 3.0]  # the old visible check
G_RATES, G_COUNTS = [0.3, 1.7, 5.0, 12.0, 40.0], [0.0, 2.0, 5.0, 11.0, 37.0]
F32_RATES, F32_COUNTS = [0.5, 2.5, 8.0], [1.0, 2.0, 9.0]
TWO_D = ([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]])

POISSON_NLL = Exercise(
    "poisson_nll",
    "test_poisson_nll",
    [
        Property(
            "the mean of rate - k ln(rate) + ln k! over all elements (float64)",
            0.75,
            S3,
            # Old rule 1e-14 x mean term size: 1e-14 to 6e-14 of the value on these inputs (the
            # old visible check: 1e-12); 1e-13 also leaves a correct float64 sum room on drawn
            # inputs, whose terms are up to ~40 times the value.
            Close(nll_ref, rtol=1e-13, shape="any", types=NUMBER),
            visible=[_nll(V_RATES, V_COUNTS)],
            hidden=[
                _nll([3.0, 0.25, 7.5, 1.0], [0.0, 0.0, 0.0, 0.0]),
                _nll([1e-300, 1e-300, 1e300], [0.0, 3.0, 2.0]),
                _nll(TWO_D[0], TWO_D[1]),
            ],
            drawn=lambda rng: [
                _nll(r, k) for r, k in (_poisson_draw(rng, 5), _poisson_draw(rng, 3))
            ],
        ),
        Property(
            "ln k! exact (lgamma), also for large counts",
            0.75,
            S3,
            # Old rule 1e-14 x mean term size: 1.4e-9 of the value for the counts 1000 and
            # 100000 (terms of 1e6, a value of 8), 1.6e-13 for counts 2 to 13. Stirling's
            # approximation is off by ~1/(12k): 1e-6 relative even at k = 100000.
            Close(nll_ref, rtol=1e-9, shape="any", types=NUMBER),
            visible=[_nll([10.0, 50.0], [10.0, 50.0])],
            hidden=[
                _nll([4.0, 6.0, 9.0, 12.0], [2.0, 5.0, 8.0, 13.0]),
                _nll([1000.0, 99000.0], [1000.0, 100000.0]),
            ],
            drawn=lambda rng: [_nll(r, k) for r, k in [_poisson_draw(rng, 3, 50.0, 5000.0)]],
        ),
        Property(
            "returns a 0-d tensor of the rate's dtype",
            0.5,
            S3,
            Equal(kind_ref, types=("str",)),
            visible=[_kind_case(V_RATES, V_COUNTS), _kind_case(V_RATES, V_COUNTS, "float32")],
            hidden=[
                _kind_case(*TWO_D),
                _kind_case(F32_RATES, F32_COUNTS, "float32"),
                _kind_case([1e-300, 1e-300, 1e300], [0.0, 3.0, 2.0]),
            ],
        ),
        Property(
            "integer counts (an int64 tensor) give a float64 result as exact as float64 counts "
            "(lgamma of an int64 tensor is computed in float32)",
            0.5,
            S3,
            # Old rule: 1e-14 x mean term size, 1e-13 of the value here.
            Close(nll_ref, rtol=1e-13, shape="any", types=NUMBER, dtype="float64"),
            visible=[_nll([1.0, 3.0], [2.0, 0.0], counts_dtype="int64")],
            hidden=[
                _nll(F32_RATES, F32_COUNTS, counts_dtype="int64"),
                _nll(TWO_D[0], TWO_D[1], counts_dtype="int64"),
            ],
            drawn=lambda rng: [
                _nll(r, k, counts_dtype="int64") for r, k in [_poisson_draw(rng, 4)]
            ],
        ),
        Property(
            "float32 tensors, to float32 precision",
            0.25,
            S3,
            # Old rule 2e-6 x mean term size: 2e-5 of the value on the hidden input.
            Close(nll_ref, rtol=2e-5, shape="any", types=NUMBER),
            visible=[_nll(V_RATES, V_COUNTS, dtype="float32", counts_dtype="float32")],
            hidden=[_nll(F32_RATES, F32_COUNTS, dtype="float32", counts_dtype="float32")],
        ),
        Property(
            "autograd gives the gradient (1 - k / rate) / n with respect to rate",
            0.5,
            S3,
            # The old visible check's tolerance; the old hidden one was |error| <= 1e-14.
            Close(grad_ref, rtol=1e-12, atol=1e-15, types=("tensor", "ndarray")),
            visible=[_gradient_case([0.5, 2.0, 4.0], [0.0, 3.0, 4.0])],
            hidden=[_gradient_case(G_RATES, G_COUNTS)],
            drawn=lambda rng: [
                _gradient_case(r.tolist(), k.tolist()) for r, k in [_poisson_draw(rng, 4)]
            ],
        ),
        Property(
            "leaves the counts unchanged",
            0.25,
            S3,
            Equal(_unchanged, types=("str",)),
            visible=[_counts_case([0.5, 2.0, 4.0], [0.0, 3.0, 4.0])],
            hidden=[
                _counts_case(G_RATES, G_COUNTS, requires_grad=True),
                _counts_case(F32_RATES, F32_COUNTS, "int64"),
            ],
        ),
        Property(
            "ValueError if any rate is <= 0",
            0.5,
            S3,
            Raises(("ValueError",)),
            visible=[_nll([1.0, 0.0], [1.0, 2.0], dtype="float32", counts_dtype="float32")],
            hidden=[
                _nll(bad, [1.0, 1.0], requires_grad=True)
                for bad in ([1.0, -2.0], [0.0, 1.0], [-0.0, 1.0])
            ]
            + [_nll([2.0, -math.inf, 3.0], [1.0, 1.0, 1.0])],
        ),
    ],
)


# --- Exercise 3: paired_seed_comparison ---------------------------------------------------------
# The learner's function runs a seeded experiment with the course's train_shallow; the grader
# reruns the same experiment here (one thread, float64: the runs are bitwise reproducible on one
# machine, and batched or seed-by-seed training give the same losses) and computes the two
# statistics itself. Settings and data are drawn per student, so no printed number answers it.
S8 = "section 8, 'Your own experiment', and 'How to read a comparison' at the top"


def _final_losses(x, y, hidden, learning_rate, seeds, steps):
    import torch

    from softplus_course.experiments import train_shallow

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        xt = torch.tensor(np.asarray(x, dtype=np.float64))
        yt = torch.tensor(np.asarray(y, dtype=np.float64))
        return {
            name: train_shallow(
                name,
                xt,
                yt,
                hidden=int(hidden),
                learning_rates=[float(learning_rate)],
                seeds=[int(s) for s in seeds],
                steps=int(steps),
            ).loss[-1]
            for name in ("relu", "softplus")
        }
    finally:
        torch.set_num_threads(threads)


def lower_ref(x, y, hidden, learning_rate, seeds, steps, **_):
    final = _final_losses(x, y, hidden, learning_rate, seeds, steps)
    return float(np.mean(final["softplus"] < final["relu"]))


def log_ratio_ref(x, y, hidden, learning_rate, seeds, steps, **_):
    final = _final_losses(x, y, hidden, learning_rate, seeds, steps)
    return float(np.median(np.log10(final["relu"] / final["softplus"])))


def _kind_ok(**_):
    return "a dict of two Python floats"


EXPERIMENT_SOURCE = """\
_r = paired_seed_comparison(x, y, hidden, learning_rate, list(seeds), steps)
if not isinstance(_r, dict):
    result = f"a {{type(_r).__name__}}, not a dict"
elif {key!r} not in _r:
    result = f"a dict without the key {key!r} (its keys: {{sorted(map(str, _r))}})"
else:
    result = _r[{key!r}]
"""
KIND_EXPERIMENT_SOURCE = """\
_r = paired_seed_comparison(x, y, hidden, learning_rate, list(seeds), steps)
_keys = ("softplus_lower", "median_log_ratio")
if not isinstance(_r, dict):
    result = f"a {type(_r).__name__}, not a dict"
elif sorted(_r) != sorted(_keys):
    result = f"a dict with the keys {sorted(map(str, _r))}"
else:
    _bad = [f"{k}: {type(_r[k]).__name__}" for k in _keys if type(_r[k]) is not float]
    result = "a dict of two Python floats" if not _bad else "not Python floats: " + ", ".join(_bad)
"""


def _data(kind: str, n: int, seed: int):
    from softplus_course.experiments import kinked_target, regression_data

    x, y = regression_data(n, seed=seed)
    if kind == "kinked":
        y = kinked_target(x)
    what = "regression_data" if kind == "smooth" else "kinked_target of regression_data"
    return x.numpy(), y.numpy(), f"{what}({n}, seed={seed})"


def _experiment(source, kind, n, data_seed, hidden, learning_rate, seeds, steps, what):
    x, y, data = _data(kind, n, data_seed)
    seeds = [int(s) for s in seeds]
    label = (
        f"{what} of paired_seed_comparison(x, y, hidden={hidden}, learning_rate={learning_rate}, "
        f"seeds={seeds}, steps={steps}) with x, y = {data}"
    )
    return code(
        source,
        label,
        x=TensorInput(x),
        y=TensorInput(y),
        hidden=hidden,
        learning_rate=learning_rate,
        seeds=seeds,
        steps=steps,
    )


# (target, points, data seed, hidden, learning rate, seeds, steps): small enough to grade fast.
VISIBLE_RUN = ("smooth", 48, 3, 6, 0.05, range(6), 80)
HIDDEN_RUNS = [
    ("smooth", 40, 5, 8, 0.02, range(10, 16), 100),
    ("kinked", 48, 7, 4, 0.2, range(20, 27), 80),
]


def _drawn_run(rng):
    n_seeds = int(rng.integers(5, 8))
    first = int(rng.integers(0, 100))
    return (
        str(rng.choice(["smooth", "kinked"])),
        int(rng.integers(32, 57)),
        int(rng.integers(0, 1000)),
        int(rng.choice([4, 6, 8])),
        float(rng.choice([0.02, 0.05, 0.1, 0.2])),
        range(first, first + n_seeds),
        int(rng.choice([60, 80, 100])),
    )


def _runs(source, what):
    return lambda run: _experiment(source, *run, what)


_lower = _runs(EXPERIMENT_SOURCE.format(key="softplus_lower"), "'softplus_lower'")
_ratio = _runs(EXPERIMENT_SOURCE.format(key="median_log_ratio"), "'median_log_ratio'")
_kind = _runs(KIND_EXPERIMENT_SOURCE, "the type")

PAIRED_SEED_COMPARISON = Exercise(
    "paired_seed_comparison",
    "test_paired_seed_comparison",
    [
        Property(
            "'softplus_lower': the fraction of seeds on which softplus ends strictly lower than "
            "relu of the same seed",
            2.5,
            S8,
            # A count over the seeds divided by their number: exact up to rounding.
            Close(lower_ref, rtol=0.0, atol=1e-9, types=NUMBER),
            visible=[_lower(VISIBLE_RUN)],
            hidden=[_lower(run) for run in HIDDEN_RUNS],
            drawn=lambda rng: [_lower(_drawn_run(rng))],
        ),
        Property(
            "'median_log_ratio': the median over seeds of log10(relu loss / softplus loss), "
            "each ratio within one seed",
            2.5,
            S8,
            # Same machine, same float64 training: rounding differences only (the ratio of
            # the two medians, or a natural log, is off by far more).
            Close(log_ratio_ref, rtol=1e-6, atol=1e-9, types=NUMBER),
            visible=[_ratio(VISIBLE_RUN)],
            hidden=[_ratio(run) for run in HIDDEN_RUNS],
            drawn=lambda rng: [_ratio(_drawn_run(rng))],
        ),
        Property(
            "returns a dict of two Python floats",
            0.5,
            S8,
            Equal(_kind_ok, types=("str",)),
            visible=[_kind(VISIBLE_RUN)],
            hidden=[_kind(HIDDEN_RUNS[0])],
        ),
        Property(
            "ValueError for fewer than 2 seeds",
            0.5,
            S8,
            Raises(("ValueError",)),
            visible=[
                _experiment(
                    EXPERIMENT_SOURCE.format(key="softplus_lower"),
                    "smooth",
                    32,
                    0,
                    4,
                    0.1,
                    [3],
                    20,
                    "'softplus_lower'",
                )
            ],
            hidden=[
                _experiment(
                    EXPERIMENT_SOURCE.format(key="median_log_ratio"),
                    "smooth",
                    32,
                    1,
                    4,
                    0.1,
                    [],
                    20,
                    "'median_log_ratio'",
                )
            ],
        ),
    ],
)

SPEC = LessonSpec("09_when_to_use", [DEAD_UNIT_FRACTION, POISSON_NLL, PAIRED_SEED_COMPARISON])
