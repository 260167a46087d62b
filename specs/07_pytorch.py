"""Check specification of lesson 07 (Softplus in PyTorch): 17 points.

Instructor material: the hidden inputs below are what grading adds to the visible checks.
References are computed here, in the grader: Exercise 1 against PyTorch's own
``F.softplus`` (imported only when a reference is needed), the others with 40-digit mpmath.

Tolerances. The old hidden tests of Exercises 1 and 4 (float32) counted ULPs; a relative
tolerance of 4 machine epsilons of the dtype (``4 * eps``) accepts everything within 4 ULP and
at most 8 ULP at the top of a binade. Exercise 4 judged ``softplus(x) / y - 1 <= 1e-12``; on
``x`` that is ``|x - x_exact| <= 1e-12 * softplus(x) / sigmoid(x)``, which is about ``1e-12``
for ``y <= 1`` (``atol=1e-12``) and about ``1e-12 * x`` above (``rtol=atol=1e-12``).
"""

import math

import numpy as np

from softplus_course.spec import Case, Close, Exercise, LessonSpec, Property, Raises, call, code
from softplus_course.wire import TensorInput

S1 = "section 1, 'What torch.nn.Softplus computes'"
S1_SWITCH = "section 1, 'What torch.nn.Softplus computes', (a) and (b)"
S1_DTYPE = "section 1, 'What torch.nn.Softplus computes', (c) and steps 1 and 2"
S3 = "section 3, 'threshold: the switch and its jump'"
S3_LARGE = (
    "section 3, 'threshold: the switch and its jump', and lesson 06, section 2: 1 + e^(-t) "
    "rounds away the digits of e^(-t) before the logarithm sees them"
)
S4 = "section 4, 'A Softplus of your own: torch.autograd.Function'"
S4_STABLE = "section 4, 'A Softplus of your own' (the stable form at its start)"
S4_TAIL = (
    "section 4, 'A Softplus of your own' (backward: compute σ(βx) so that it stays relatively "
    "accurate when tiny; 1 minus a number near 1 keeps no digits, lesson 06 section 2)"
)
S5 = "section 5, 'Softplus keeps parameters positive'"
S5_FORMS = "section 5, 'Softplus keeps parameters positive' (the two ways to write the formula)"

EPS32 = float(np.finfo(np.float32).eps)
EPS64 = float(np.finfo(np.float64).eps)
INF = math.inf


def _labelled(label, *args, **kwargs):
    """A call of the exercise's function, described by ``label`` in messages."""
    return Case(tuple(args), dict(kwargs), label=label)


# --- Exercise 1: softplus_like_torch -------------------------------------------------------------
def torch_softplus_ref(x, beta=1.0, threshold=20.0):
    """What PyTorch itself returns, in x's dtype."""
    import torch

    out = torch.nn.functional.softplus(
        torch.from_numpy(np.array(x)), beta=beta, threshold=threshold
    )
    return out.numpy().astype(np.float64)


PAIRS = [
    (1.0, 20.0),
    (2.0, 20.0),
    (0.5, 20.0),
    (3.0, 5.0),
    (0.1, 1.0),
    (10.0, 30.0),
    (1.0, 0.0),
    (0.3, 7.5),
    (7.0, 2.5),
    (1.0, 1.0),
    (1.7, 33.3),
]
LOWEST = {"float32": -80.0, "float64": -700.0}


def switch_grid(beta, threshold, dtype):
    """βx from the smallest safe value to threshold + 40, dense within 4 of the threshold."""
    z = np.concatenate(
        [
            np.linspace(LOWEST[dtype], threshold + 40.0, 1201),
            np.linspace(threshold - 4.0, threshold + 4.0, 801),
        ]
    )
    return (z / beta).astype(dtype)


def switch_neighbours(beta, threshold, dtype):
    """The float x with βx at the threshold (in the dtype), and three floats on each side."""
    dt = np.dtype(dtype)
    centre = dt.type(threshold) / dt.type(beta)
    up, down, out = centre, centre, [centre]
    for _ in range(3):
        up = np.nextafter(up, dt.type(np.inf))
        down = np.nextafter(down, dt.type(-np.inf))
        out += [up, down]
    return np.array(out, dtype=dt)


def grid_label(beta, threshold, dtype, keywords):
    args = f"beta={beta!r}, threshold={threshold!r}" if keywords else f"{beta!r}, {threshold!r}"
    return (
        f"softplus_like_torch(x, {args}) for x: 2002 {dtype} values, βx from {LOWEST[dtype]:g} to "
        f"{threshold + 40.0:g} (1201 steps) and from {threshold - 4.0:g} to {threshold + 4.0:g} "
        "(801 steps)"
    )


def near_label(near, beta, threshold, dtype, keywords):
    args = f"beta={beta!r}, threshold={threshold!r}" if keywords else f"{beta!r}, {threshold!r}"
    return (
        f"softplus_like_torch(x, {args}) for x: the {dtype} x0 = {float(near[0])!r} where β·x "
        "meets the threshold, then the next float above, below, the 2nd above, below, the 3rd "
        "above, below"
    )


def switch_cases(beta, threshold, dtype):
    """Dense grid and the floats at the switch, positional and keyword arguments."""
    grid = switch_grid(beta, threshold, dtype)
    near = switch_neighbours(beta, threshold, dtype)
    return [
        _labelled(grid_label(beta, threshold, dtype, False), grid, beta, threshold),
        _labelled(grid_label(beta, threshold, dtype, True), grid, beta=beta, threshold=threshold),
        _labelled(near_label(near, beta, threshold, dtype, False), near, beta, threshold),
        _labelled(
            near_label(near, beta, threshold, dtype, True), near, beta=beta, threshold=threshold
        ),
    ]


def drawn_switch_cases(dtype, n):
    def draw(rng):
        cases = []
        for _ in range(n):
            beta = float(round(10.0 ** rng.uniform(-1.0, 1.0), 3))
            threshold = float(round(rng.uniform(0.5, 40.0), 2))
            grid = switch_grid(beta, threshold, dtype)
            cases.append(
                _labelled(grid_label(beta, threshold, dtype, False), grid, beta, threshold)
            )
            near = switch_neighbours(beta, threshold, dtype)
            cases.append(
                _labelled(
                    near_label(near, beta, threshold, dtype, True),
                    near,
                    beta=beta,
                    threshold=threshold,
                )
            )
        return cases

    return draw


JUST_ABOVE_5_3 = float(np.nextafter(np.float32(5 / 3), np.float32(2.0)))
SPECIAL = [INF, -INF, math.nan, 0.0, -0.0, 1e30, -1e30]


def special_cases(dtype):
    return [
        call(np.array(SPECIAL, dtype=dtype)),
        call(np.array([INF, -INF, 4.0, -4.0], dtype=dtype), 0.25, 1.0),
        _labelled(
            f"softplus_like_torch(x) for x = np.linspace(-30.0, 30.0, 1200).astype({dtype})"
            ".reshape(30, 40)",
            np.linspace(-30.0, 30.0, 1200).astype(dtype).reshape(30, 40),
        ),
    ]


def _default_grid(dtype):
    return _labelled(
        f"softplus_like_torch(x) for x: 2002 {dtype} values from {LOWEST[dtype]:g} to 60 "
        "(1201 steps) and from 16 to 24 (801 steps)",
        switch_grid(1.0, 20.0, dtype),
    )


SOFTPLUS_LIKE_TORCH = Exercise(
    "softplus_like_torch",
    "test_softplus_like_torch",
    [
        Property(
            "β = 1 and threshold 20 by default: log1p(exp(x)) up to 20, x above (float64)",
            1.5,
            S1,
            Close(torch_softplus_ref, rtol=4 * EPS64, types=("ndarray",), dtype="float64"),
            visible=[
                call(np.array([-3.0, 0.0, 2.0, 19.5, 20.0, 20.5, 25.0])),
                call(np.array([-INF, INF, math.nan, -1e30, 1e30])),
            ],
            hidden=[
                _default_grid("float64"),
                _labelled(
                    near_label(
                        switch_neighbours(1.0, 20.0, "float64"), 1.0, 20.0, "float64", False
                    ).replace("x, 1.0, 20.0", "x"),
                    switch_neighbours(1.0, 20.0, "float64"),
                ),
                special_cases("float64")[0],
                special_cases("float64")[2],
            ],
            drawn=lambda rng: [call(rng.normal(0.0, 15.0, size=(4, 5)))],
        ),
        Property(
            "the switch is on β·x > threshold (strictly), for every β and threshold (float64)",
            2.0,
            S1_SWITCH,
            Close(torch_softplus_ref, rtol=4 * EPS64, types=("ndarray",), dtype="float64"),
            visible=[
                call(np.array([5.0, 10.5, 21.0]), beta=2.0),
                call(np.array([5.0, 10.5, 21.0]), beta=0.5),
                call(np.array([0.5, 1.0, 1.5]), 1.0, 1.0),
            ],
            hidden=[c for b, t in PAIRS for c in switch_cases(b, t, "float64")]
            + [special_cases("float64")[1]],
            drawn=drawn_switch_cases("float64", 2),
        ),
        Property(
            "float32 in, float32 out: the same rule with β·x, β and the threshold in float32",
            1.5,
            S1_DTYPE,
            Close(torch_softplus_ref, rtol=4 * EPS32, types=("ndarray",), dtype="float32"),
            visible=[
                call(np.array([-1.0, 0.0, 30.0], dtype=np.float32)),
                # Section 1 (c): 3x rounds to 5.0 in float32; 4.99999999 is 5.0 in float32.
                call(np.array([JUST_ABOVE_5_3], dtype=np.float32), beta=3.0, threshold=5.0),
                call(np.array([5.0], dtype=np.float32), threshold=4.99999999),
            ],
            hidden=[_default_grid("float32")]
            + special_cases("float32")
            + [c for b, t in PAIRS for c in switch_cases(b, t, "float32")],
            drawn=drawn_switch_cases("float32", 1),
        ),
    ],
)


# --- Exercise 2: threshold_jump ------------------------------------------------------------------
def jump_ref(beta=1.0, threshold=20.0):
    import mpmath

    with mpmath.workdps(40):
        return float(mpmath.log1p(mpmath.exp(-mpmath.mpf(threshold))) / mpmath.mpf(beta))


A_FLOAT = ("float", "npscalar")  # a Python float or a numpy float64 (checked by dtype)
JUMP_BETAS = (0.25, 1.0, 3.0, 100.0)

THRESHOLD_JUMP = Exercise(
    "threshold_jump",
    "test_threshold_jump",
    [
        Property(
            "ln(1 + e^(-t)) / β for thresholds t up to 5",
            1.0,
            S3,
            Close(jump_ref, rtol=1e-12, types=A_FLOAT, dtype="float64"),
            visible=[call(1.0, 1.0), call(beta=2.0, threshold=0.0)],
            hidden=[call(b, t) for t in (0.0, 0.5, 1.0, 5.0) for b in JUMP_BETAS],
            drawn=lambda rng: [
                call(float(10.0 ** rng.uniform(-1.0, 2.0)), float(rng.uniform(0.0, 5.0)))
                for _ in range(3)
            ],
        ),
        Property(
            "12 digits also for large thresholds (t from 19 to 700), where e^(-t) is tiny",
            1.5,
            S3_LARGE,
            Close(jump_ref, rtol=1e-12, types=A_FLOAT, dtype="float64"),
            visible=[call(1.0, 20.0), call(0.5, 40.0)],
            hidden=[
                call(b, t)
                for t in (19.0, 20.0, 33.0, 37.5, 40.0, 60.0, 100.0, 300.0, 700.0)
                for b in JUMP_BETAS
            ],
            drawn=lambda rng: [
                call(float(10.0 ** rng.uniform(-1.0, 2.0)), float(rng.uniform(20.0, 700.0)))
                for _ in range(3)
            ],
        ),
        Property(
            "defaults β = 1, threshold = 20, integer arguments, and a float out",
            0.5,
            S3,
            # precision is the property above's: here a relative 1e-6 is enough
            Close(jump_ref, rtol=1e-6, types=A_FLOAT, dtype="float64"),
            visible=[call()],
            hidden=[
                call(threshold=3.0),
                call(beta=4.0),
                call(beta=0.5, threshold=4.5),
                call(2, 20),
            ],
        ),
    ],
)


# --- Exercise 3: SoftplusFunction ----------------------------------------------------------------
_APPLY = """\
import torch
Function = torch.autograd.Function
if not (isinstance(SoftplusFunction, type) and issubclass(SoftplusFunction, Function)):
    raise TypeError("SoftplusFunction should be a class derived from torch.autograd.Function")
t = torch.tensor(x, dtype=getattr(torch, dtype), requires_grad=True)
y = SoftplusFunction.apply(t, beta)
if type(y) is not torch.Tensor:
    raise TypeError(f"SoftplusFunction.apply should return a tensor, got {type(y).__name__}")
if y.grad_fn is None or "SoftplusFunction" not in type(y.grad_fn).__name__:
    raise TypeError(
        "the output of SoftplusFunction.apply should come from SoftplusFunction's own backward"
    )
"""
VALUE = _APPLY + "result = y\n"
GRADIENT = _APPLY + "y.sum().backward()\nresult = t.grad\n"
# float32: only finiteness is judged here (1.0 = finite), precision in the float32 property.
FINITE = (
    _APPLY
    + "y.sum().backward()\n"
    + "result = torch.stack([torch.isfinite(y.detach()), torch.isfinite(t.grad)]).double()\n"
)
WEIGHTED = _APPLY + "(y * torch.tensor(w, dtype=t.dtype)).sum().backward()\nresult = t.grad\n"
JACOBIAN = (
    _APPLY
    + """\
try:
    torch.autograd.gradcheck(lambda s: SoftplusFunction.apply(s, beta), (t,))
except RuntimeError as exc:
    first = str(exc).splitlines()[0].rstrip(",")
    raise AssertionError(
        f"torch.autograd.gradcheck fails ({first}): the gradients your backward returns differ "
        "from the central differences of your forward"
    ) from None
rows = []
for i in range(t.numel()):
    t.grad = None
    upstream = torch.zeros(t.numel(), dtype=t.dtype)
    upstream[i] = 1.0
    SoftplusFunction.apply(t, beta).backward(upstream)
    rows.append(t.grad.clone())
result = torch.stack(rows)
"""
)


def sp_ref(x, beta, dtype="float64", what="value", w=None):
    """Exact Softplus_β(x), or its gradient w·σ(βx), or the Jacobian diag(σ(βx)), elementwise."""
    import mpmath

    x = np.asarray(x, dtype=np.float64)

    def one(v):
        with mpmath.workdps(40):
            z = mpmath.mpf(beta) * mpmath.mpf(v)
            if what == "value":
                return float(mpmath.log1p(mpmath.exp(z)) / mpmath.mpf(beta))
            return float(1 / (1 + mpmath.exp(-z)))

    out = np.array([one(v) for v in x.ravel().tolist()], dtype=np.float64).reshape(x.shape)
    if what == "finite":
        return np.ones((2, x.size))
    if what == "jacobian":
        return np.diag(out)
    if what == "gradient" and w is not None:
        return out * np.asarray(w, dtype=np.float64)
    return out


def _show(x, dtype):
    if np.asarray(x).size <= 9:
        items = ", ".join(repr(float(v)) for v in np.asarray(x).ravel())
        return f"torch.tensor([{items}], dtype=torch.{dtype})"
    return None


def sp_value(x, beta, dtype="float64", shown=None):
    shown = shown or _show(x, dtype)
    label = f"SoftplusFunction.apply(x, {beta!r}) for x = {shown}"
    return code(VALUE, label, x=np.asarray(x), beta=beta, dtype=dtype, what="value")


def sp_gradient(x, beta, dtype="float64", shown=None):
    shown = shown or _show(x, dtype)
    label = f"x.grad after SoftplusFunction.apply(x, {beta!r}).sum().backward(), x = {shown}"
    return code(GRADIENT, label, x=np.asarray(x), beta=beta, dtype=dtype, what="gradient")


def sp_finite(x, beta):
    label = (
        f"torch.isfinite of the values (row 0) and of the gradients (row 1) of "
        f"SoftplusFunction.apply(x, {beta!r}).sum(), as 1.0 (finite) or 0.0, for "
        f"x = {_show(x, 'float32')}"
    )
    return code(FINITE, label, x=np.asarray(x), beta=beta, dtype="float32", what="finite")


def sp_weighted(x, w, beta, shown):
    label = (
        f"x.grad after (SoftplusFunction.apply(x, {beta!r}) * w).sum().backward(), "
        f"with upstream gradients w, for {shown}"
    )
    return code(
        WEIGHTED,
        label,
        x=np.asarray(x),
        w=np.asarray(w),
        beta=beta,
        dtype="float64",
        what="gradient",
    )


def sp_jacobian(x, beta, shown=None):
    shown = shown or _show(x, "float64")
    label = (
        "torch.autograd.gradcheck, then the Jacobian by backward (row i: upstream gradient 1 at "
        f"i, 0 elsewhere), of SoftplusFunction.apply(x, {beta!r}) at x = {shown}"
    )
    return code(JACOBIAN, label, x=np.asarray(x), beta=beta, dtype="float64", what="jacobian")


GRID = np.linspace(-60.0, 60.0, 241)
GRID_SHOWN = "torch.linspace(-60, 60, 241, dtype=torch.float64)"
GRID_BETAS = (0.5, 1.0, 3.0)


def _middle(beta):
    return f"the values of {GRID_SHOWN} with |{beta!r}·x| <= 5"


def _drawn_weighted(rng):
    beta = float(round(10.0 ** rng.uniform(-0.5, 0.7), 3))
    return [
        sp_weighted(
            rng.uniform(-5.0, 5.0, (2, 3)) / beta,
            rng.normal(0.0, 1.0, (2, 3)),
            beta,
            "x: a (2, 3) float64 tensor with β·x in [-5, 5]",
        )
    ]


def _grid_part(beta, relation):
    """The part of GRID where βx is at most, or above, 20 (the threshold F.softplus would use)."""
    return f"the values of {GRID_SHOWN} with {beta!r}·x {relation} 20"


X34 = np.array(
    [
        [1.1361200530247526, -1.9219366785894776, -1.113379044582766, -1.4789391348075958],
        [-1.8710628897818218, 2.8114295834984073, 0.6343816915055953, 1.7603702035446105],
        [2.77932735756276, -0.3754279774410767, -1.1350492498059106, -1.3942229481781157],
    ]
)
W34 = np.array(
    [
        [0.22245857875011651, -0.6662252680581671, 0.684642204505353, 0.5740015890649957],
        [-0.5828826934651677, 0.7679415066984489, 0.057092657777795354, -1.1893745840814036],
        [-0.5658848777044503, -0.8326537688225168, 0.9014486706267418, 0.21157113304359276],
    ]
)
X34_SHOWN = "x: a (3, 4) float64 tensor with values in [-4, 4]"
GRADCHECK_POINTS = {
    0.5: [4.211430550533741, -3.018282552274594, -3.8984701651754414, -4.443308479287417,
          0.5319161827966381, 4.478422141965376, 3.3580254215339065],
    1.0: [5.157095059865607, -2.643391551731512, -0.6496146233091427, 5.603648547291787,
          -5.357492247607044, -1.6420229477051005, 2.2547825784741296],
    3.0: [-2.3939098798170853, 0.705339464578977, 1.5824816926550302, 0.16349983439902038,
          2.9924537645267715, 3.494428806295012, 0.4165567898580962],
}  # fmt: skip
BIG = [-1e4, -2e3, -750.0, -100.0, 100.0, 750.0, 2e3, 1e4]
EXACT = [([20.5, 25.0, 28.0, 30.0], 1.0), ([12.5, 15.0], 2.0), ([0.0, -0.0, 1e-300, -1e-300], 1.0)]
EXACT += [(BIG, b) for b in (0.5, 1.0, 2.0)]
F64 = dict(types=("tensor",), dtype="float64")


def _drawn_exact(rng):
    """Large |x|, with β a power of 2 so that βx is exact."""
    x = rng.uniform(40.0, 1e4, 4) * np.array([1.0, -1.0, 1.0, -1.0])
    beta = float(rng.choice([0.5, 1.0, 2.0]))
    return [sp_value(x, beta), sp_gradient(x, beta)]


SOFTPLUS_FUNCTION = Exercise(
    "SoftplusFunction",
    "test_SoftplusFunction",
    [
        Property(
            "a torch.autograd.Function: apply(x, β) is (1/β) ln(1 + e^(βx)), x's dtype and shape",
            1.25,
            S4,
            Close(sp_ref, rtol=1e-13, **F64),
            visible=[sp_value([-2.0, 0.0, 3.0], b) for b in (1.0, 2.0)],
            hidden=[
                sp_value(GRID[b * GRID <= 20.0], b, shown=_grid_part(b, "<=")) for b in GRID_BETAS
            ]
            + [sp_value(X34, 1.5, shown=X34_SHOWN)],
            drawn=lambda rng: [
                sp_value(
                    rng.uniform(-30.0, 30.0, 5), float(round(10.0 ** rng.uniform(-0.5, 0.7), 3))
                )
            ],
        ),
        Property(
            "backward: grad_output · σ(βx) for x (βx >= -5), None for β (gradcheck passes)",
            1.0,
            S4,
            Close(sp_ref, rtol=1e-13, **F64),
            visible=[sp_gradient([-2.0, 0.0, 3.0], b) for b in (1.0, 2.0)]
            + [
                sp_jacobian(
                    np.linspace(-4.0, 4.0, 9), 1.5, "torch.linspace(-4, 4, 9, dtype=torch.float64)"
                )
            ],
            hidden=[
                sp_gradient(GRID[np.abs(b * GRID) <= 5.0], b, shown=_middle(b)) for b in GRID_BETAS
            ]
            + [sp_weighted(X34, W34, 1.5, X34_SHOWN)]
            + [
                sp_jacobian(np.array([v for v in x if b * v >= -5.0]), b)
                for b, x in GRADCHECK_POINTS.items()
            ],
            drawn=_drawn_weighted,
        ),
        Property(
            "the gradient σ(βx) to a relative 1e-13 also where it is tiny, βx from -5 down to -180",
            0.5,
            S4_TAIL,
            Close(sp_ref, rtol=1e-13, **F64),
            visible=[sp_gradient([-30.0, -10.0], 1.0)],
            hidden=[sp_gradient(GRID, b, shown=GRID_SHOWN) for b in GRID_BETAS]
            + [sp_gradient([-15.0, -40.0, -60.0], 3.0)],
            drawn=lambda rng: [sp_gradient(-rng.uniform(20.0, 60.0, 4), 1.0)],
        ),
        Property(
            "no overflow: exact above βx = 20, finite and exact for |x| up to 1e4",
            1.5,
            S4_STABLE,
            Close(sp_ref, rtol=1e-15, atol=1e-300, **F64),
            visible=[
                sp_value([-1000.0, 25.0, 1000.0], 1.0),
                sp_gradient([-1000.0, 25.0, 1000.0], 1.0),
            ],
            hidden=[case for x, b in EXACT for case in (sp_value(x, b), sp_gradient(x, b))]
            + [sp_value(GRID[b * GRID > 20.0], b, shown=_grid_part(b, ">")) for b in GRID_BETAS]
            + [sp_finite(np.array(BIG, dtype=np.float32), 1.0)],
            drawn=_drawn_exact,
        ),
        Property(
            "float32 in, float32 out: values and gradients to float32 precision",
            0.75,
            S4,
            Close(sp_ref, rtol=1e-6, atol=1e-30, types=("tensor",), dtype="float32"),
            visible=[
                sp_value(np.array([-20.0, -2.0, 0.0, 2.0, 20.0], dtype=np.float32), 2.0, "float32"),
                sp_gradient(
                    np.array([-20.0, -2.0, 0.0, 2.0, 20.0], dtype=np.float32), 2.0, "float32"
                ),
            ],
            hidden=[
                sp_value(
                    np.linspace(-20.0, 20.0, 81, dtype=np.float32),
                    2.0,
                    "float32",
                    "torch.linspace(-20, 20, 81, dtype=torch.float32)",
                ),
                sp_gradient(
                    np.linspace(-20.0, 20.0, 81, dtype=np.float32),
                    2.0,
                    "float32",
                    "torch.linspace(-20, 20, 81, dtype=torch.float32)",
                ),
            ],
        ),
    ],
)


# --- Exercise 4: inverse_softplus ----------------------------------------------------------------
def inverse_ref(y):
    """ln(e^y - 1), exactly, at the given y (float32 inputs arrive as their float64 values)."""
    import mpmath

    y = np.asarray(y, dtype=np.float64)

    def one(v):
        with mpmath.workdps(40):
            return float(mpmath.log(mpmath.expm1(mpmath.mpf(v))))

    return np.array([one(v) for v in y.ravel().tolist()], dtype=np.float64).reshape(y.shape)


def T64(values):
    return TensorInput(np.asarray(values, dtype=np.float64), "float64")


def T32(values):
    return TensorInput(np.asarray(values, dtype=np.float32), "float32")


LOGSPACE = np.logspace(-30.0, 30.0, 241)
SMALL_Y, LARGE_Y = LOGSPACE[LOGSPACE <= 1.0], LOGSPACE[LOGSPACE > 1.0]
ONE_TENSOR = ("tensor",)

INVERSE_SOFTPLUS = Exercise(
    "inverse_softplus",
    "test_inverse_softplus",
    [
        Property(
            "ln(e^y - 1) for 0 < y <= 1, tiny y included (float64, within 1e-12)",
            1.25,
            S5_FORMS,
            Close(inverse_ref, rtol=0.0, atol=1e-12, types=ONE_TENSOR, dtype="float64"),
            visible=[call(T64([0.5, 1.0])), call(T64([1e-10]))],
            hidden=[
                _labelled(
                    "inverse_softplus(y) for y: the 121 values of np.logspace(-30, 30, 241) up to "
                    "1, a float64 tensor",
                    T64(SMALL_Y),
                ),
                call(T64([1e-30, 0.01, 0.6931471805599453, 1.0])),
            ],
            drawn=lambda rng: [call(T64(10.0 ** rng.uniform(-30.0, 0.0, 3)))],
        ),
        Property(
            "no overflow for large y: within a relative 1e-12 up to y = 1e30 (float64)",
            1.25,
            S5_FORMS,
            Close(inverse_ref, rtol=1e-12, atol=1e-12, types=ONE_TENSOR, dtype="float64"),
            visible=[call(T64([2.0])), call(T64([800.0]))],
            hidden=[
                _labelled(
                    "inverse_softplus(y) for y: the 120 values of np.logspace(-30, 30, 241) above "
                    "1, a float64 tensor",
                    T64(LARGE_Y),
                ),
                call(T64([17.0, 21.0, 25.0, 36.0, 37.0, 709.0, 710.0, 745.0, 1e4])),
                _labelled(
                    "inverse_softplus(y) for y = torch.logspace(-3, 3, 12, dtype=torch.float64)"
                    ".reshape(3, 4)",
                    T64(np.logspace(-3.0, 3.0, 12).reshape(3, 4)),
                ),
            ],
            drawn=lambda rng: [
                call(
                    T64(
                        np.concatenate(
                            [10.0 ** rng.uniform(0.0, 30.0, 2), rng.uniform(700.0, 750.0, 1)]
                        )
                    )
                )
            ],
        ),
        Property(
            "float32 in, float32 out, within a relative 4 float32 machine epsilons",
            0.5,
            S5,
            Close(inverse_ref, rtol=4 * EPS32, types=ONE_TENSOR, dtype="float32"),
            visible=[call(T32([1e-3, 1.0, 1e3]))],
            hidden=[
                _labelled(
                    "inverse_softplus(y) for y = torch.logspace(-30, 30, 61, dtype=torch.float32)",
                    T32(np.logspace(-30.0, 30.0, 61)),
                )
            ],
        ),
        Property(
            "ValueError when some element of y is <= 0",
            1.0,
            S5,
            Raises(("ValueError",)),
            visible=[call(T32([1.0, 0.0])), call(T32([-2.0]))],
            hidden=[
                call(T32([0.0])),
                call(T32([1.0, -1e-30])),
                call(T32(0.0)),
                call(T64([[1.0, 2.0], [3.0, 0.0]])),
                call(T32([-INF])),
                call(T32([-5.0, -1.0])),
            ],
            drawn=lambda rng: [call(T64(_one_not_positive(rng)))],
        ),
    ],
)


def _one_not_positive(rng):
    y = rng.uniform(0.1, 5.0, 6)
    y[int(rng.integers(0, 6))] = float(rng.choice([0.0, -rng.uniform(0.01, 3.0)]))
    return y


SPEC = LessonSpec(
    "07_pytorch", [SOFTPLUS_LIKE_TORCH, THRESHOLD_JUMP, SOFTPLUS_FUNCTION, INVERSE_SOFTPLUS]
)
