"""One Softplus unit that has to climb back from a very negative pre-activation (lesson 08).

The unit of lesson 08 is the smallest model in which learning can stall: one Softplus unit
``y = softplus(w * x + b)`` with a single training example, input ``x = 1`` and target 1, and
the squared error ``L = (y - 1) ** 2``. Its pre-activation is ``z = w + b``. Both parameters
get the same gradient, ``dL/dw = dL/db = -2 (1 - y) sigma(z)``, so one step of plain gradient
descent with learning rate ``lr`` adds ``lr * 2 (1 - softplus(z)) sigma(z)`` to each of them.
The unit has *recovered* after the first step that leaves ``z >= 0``.

- :func:`gd_update` — that update, in float64;
- :func:`steps_to_recover` — how many steps of plain gradient descent, in float64 (Python
  floats: a million steps take about a second), until the unit has recovered;
- :func:`train_unit` — the same unit trained with PyTorch (autograd and ``torch.optim``: plain
  gradient descent or Adam) in any floating dtype, with the pre-activation after every step;
- :func:`update_moves` — whether one float step of gradient descent changes ``w`` and ``b``;
- :func:`largest_zero_input` — the largest input of a grid at which a computed value is 0.

The functions lesson 08 asks learners to write are not here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from softplus_course._arguments import finite_number as _real
from softplus_course._arguments import positive_number as _positive
from softplus_course._arguments import whole_number as _count

__all__ = [
    "DTYPES",
    "OPTIMIZERS",
    "UnitRun",
    "gd_update",
    "largest_zero_input",
    "steps_to_recover",
    "train_unit",
    "update_moves",
]

#: The floating dtypes :func:`train_unit` and :func:`update_moves` accept.
DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
#: The optimisers :func:`train_unit` accepts, by name.
OPTIMIZERS = ("sgd", "adam")


# --- argument checks -------------------------------------------------------------------------


def _dtype(value: object) -> torch.dtype:
    if not isinstance(value, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype, got {type(value).__name__}")
    if value not in DTYPES:
        raise ValueError(f"dtype must be one of {[str(d) for d in DTYPES]}, got {value}")
    return value


def _softplus(z: float) -> float:
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


# --- float64, plain Python ----------------------------------------------------------------


def gd_update(z: float, learning_rate: float) -> float:
    """The amount one step of plain gradient descent adds to ``w`` and to ``b``, in float64.

    Parameters
    ----------
    z : float
        The unit's pre-activation ``w + b``.
    learning_rate : float
        The learning rate, positive.

    Returns
    -------
    float
        ``learning_rate * 2 * (1 - softplus(z)) * sigmoid(z)``: positive while
        ``softplus(z) < 1``, that is for ``z < ln(e - 1) = 0.5413``.

    Raises
    ------
    TypeError, ValueError
        If ``z`` is not a finite number or ``learning_rate`` not a positive one.

    Examples
    --------
    >>> gd_update(0.0, 0.5)  # (1 - ln 2) / 2
    0.15342640972002736
    """
    z = _real(z, "z")
    learning_rate = _positive(learning_rate, "learning_rate")
    return learning_rate * 2.0 * (1.0 - _softplus(z)) * _sigmoid(z)


def steps_to_recover(
    b0: float, learning_rate: float, *, w0: float = 1.0, max_steps: int = 10**6
) -> int | None:
    """Steps of plain gradient descent (float64) until the unit's pre-activation is >= 0.

    Parameters
    ----------
    b0 : float
        The starting bias.
    learning_rate : float
        The learning rate, positive.
    w0 : float, optional
        The starting weight (1 by default); the starting pre-activation is ``w0 + b0``.
    max_steps : int, optional
        Give up after this many steps.

    Returns
    -------
    int or None
        The number of the first step after which ``w + b >= 0`` (0 if the unit starts there),
        or None if that did not happen within ``max_steps`` steps.

    Raises
    ------
    TypeError, ValueError
        For arguments that are not finite numbers, a learning rate that is not positive, or
        ``max_steps`` that is not a positive int.

    Examples
    --------
    >>> steps_to_recover(-3.0, 0.5)
    7
    """
    w, b = _real(w0, "w0"), _real(b0, "b0")
    learning_rate = _positive(learning_rate, "learning_rate")
    max_steps = _count(max_steps, "max_steps")
    if w + b >= 0:
        return 0
    for step in range(1, max_steps + 1):
        z = w + b
        update = learning_rate * 2.0 * (1.0 - _softplus(z)) * _sigmoid(z)
        w += update
        b += update
        if w + b >= 0:
            return step
    return None


# --- PyTorch, any dtype ---------------------------------------------------------------------


@dataclass(frozen=True)
class UnitRun:
    """One training run of the unit.

    Attributes
    ----------
    z : numpy.ndarray
        The pre-activation ``w + b`` (computed in the run's dtype) before the first step and
        after every step, as float64: ``steps + 1`` values.
    recovered_at : int or None
        The first step after which ``z >= 0``, or None.
    w, b : float
        The final weight and bias.
    """

    z: np.ndarray
    recovered_at: int | None
    w: float
    b: float


def train_unit(
    b0: float,
    learning_rate: float,
    steps: int,
    *,
    w0: float = 1.0,
    dtype: torch.dtype = torch.float32,
    optimizer: str = "sgd",
    eps: float = 1e-8,
) -> UnitRun:
    """Train the unit with PyTorch: autograd through ``F.softplus``, and ``torch.optim``.

    Parameters
    ----------
    b0 : float
        The starting bias.
    learning_rate : float
        The learning rate, positive.
    steps : int
        How many steps to take (all of them: the run does not stop at recovery).
    w0 : float, optional
        The starting weight (1 by default).
    dtype : torch.dtype, optional
        float16, bfloat16, float32 (the default) or float64: parameters, gradients and
        optimiser state all in this dtype.
    optimizer : {"sgd", "adam"}, optional
        ``torch.optim.SGD`` (plain gradient descent) or ``torch.optim.Adam`` (betas 0.9, 0.999).
    eps : float, optional
        Adam's ``eps`` (ignored by SGD).

    Returns
    -------
    UnitRun

    Raises
    ------
    TypeError, ValueError
        For arguments of the wrong type or out of range, naming the argument.

    Examples
    --------
    >>> run = train_unit(-3.0, 0.5, 20, dtype=torch.float64)
    >>> run.recovered_at
    7
    """
    b0, w0 = _real(b0, "b0"), _real(w0, "w0")
    learning_rate = _positive(learning_rate, "learning_rate")
    steps = _count(steps, "steps")
    dtype = _dtype(dtype)
    if not isinstance(optimizer, str):
        raise TypeError(f"optimizer must be a str, one of {list(OPTIMIZERS)}, got {optimizer!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {optimizer!r}")
    eps = _positive(eps, "eps")
    w = torch.tensor(w0, dtype=dtype, requires_grad=True)
    b = torch.tensor(b0, dtype=dtype, requires_grad=True)
    if optimizer == "sgd":
        opt = torch.optim.SGD([w, b], lr=learning_rate)
    else:
        opt = torch.optim.Adam([w, b], lr=learning_rate, eps=eps)
    one = torch.tensor(1.0, dtype=dtype)
    zs = [float(w.detach() + b.detach())]
    recovered_at = 0 if zs[0] >= 0 else None
    for step in range(1, steps + 1):
        opt.zero_grad()
        loss = (torch.nn.functional.softplus(w * one + b) - one) ** 2
        loss.backward()
        opt.step()
        zs.append(float(w.detach() + b.detach()))
        if recovered_at is None and zs[-1] >= 0:
            recovered_at = step
    return UnitRun(np.array(zs), recovered_at, float(w.detach()), float(b.detach()))


def update_moves(
    z: float, learning_rate: float, *, w: float = 1.0, dtype: torch.dtype = torch.float32
) -> tuple[bool, bool]:
    """Whether one step of plain gradient descent in ``dtype`` changes ``w`` and ``b``.

    The unit starts at weight ``w`` and bias ``z - w`` (both rounded to ``dtype``); autograd
    computes the gradients in ``dtype``, and the step is ``p - learning_rate * p.grad``.

    Parameters
    ----------
    z : float
        The pre-activation.
    learning_rate : float
        The learning rate, positive.
    w : float, optional
        The weight (1 by default).
    dtype : torch.dtype, optional
        float16, bfloat16, float32 (the default) or float64.

    Returns
    -------
    tuple of bool
        ``(w changed, b changed)``.

    Raises
    ------
    TypeError, ValueError
        For arguments of the wrong type or out of range, naming the argument.

    Examples
    --------
    >>> update_moves(-10.0, 0.1)
    (True, True)
    >>> update_moves(-20.0, 0.1)
    (False, False)
    """
    z, w = _real(z, "z"), _real(w, "w")
    learning_rate = _positive(learning_rate, "learning_rate")
    dtype = _dtype(dtype)
    wt = torch.tensor(w, dtype=dtype, requires_grad=True)
    bt = torch.tensor(z - w, dtype=dtype, requires_grad=True)
    one = torch.tensor(1.0, dtype=dtype)
    loss = (torch.nn.functional.softplus(wt * one + bt) - one) ** 2
    loss.backward()
    with torch.no_grad():
        new_w = wt - learning_rate * wt.grad
        new_b = bt - learning_rate * bt.grad
    return bool(new_w != wt), bool(new_b != bt)


def largest_zero_input(x: np.ndarray, values: np.ndarray) -> float | None:
    """The largest ``x[i]`` with ``values[i] == 0``: where a computed value is last exactly 0.

    Parameters
    ----------
    x : array_like
        The inputs, a 1-D grid (any order).
    values : array_like
        What was computed at each input, the same shape.

    Returns
    -------
    float or None
        The largest input whose value is exactly 0 (as float64), or None if no value is 0.

    Raises
    ------
    TypeError
        If an argument is not array-like of real numbers.
    ValueError
        If the shapes differ or ``x`` is not 1-D.

    Examples
    --------
    >>> largest_zero_input(np.array([-3.0, -2.0, -1.0]), np.array([0.0, 0.0, 0.5]))
    -2.0
    """
    if isinstance(x, torch.Tensor):
        x = x.detach().to(torch.float64).numpy()
    if isinstance(values, torch.Tensor):
        values = values.detach().to(torch.float64).numpy()
    try:
        xs = np.asarray(x, dtype=np.float64)
        vs = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"x and values must be arrays of real numbers ({exc})") from None
    if xs.ndim != 1:
        raise ValueError(f"x must be 1-D, got shape {xs.shape}")
    if vs.shape != xs.shape:
        raise ValueError(f"values must have the shape of x {xs.shape}, got {vs.shape}")
    zero = xs[vs == 0]
    return float(zero.max()) if zero.size else None
