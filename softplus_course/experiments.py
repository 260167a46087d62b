"""Small, seeded experiments that compare Softplus with ReLU (lesson 09).

Everything here runs on a CPU in seconds and gives the same numbers on every run on the same
machine: data and initial weights come from seeded :class:`torch.Generator` objects, and the
training runs in float64. (Timings, in float32 on one thread, are the exception: they vary from
run to run and from machine to machine.) The lesson calls these functions and reads their
results; the functions it asks learners to write are not here.

- :func:`is_grading` — whether nbgrader is executing the notebook (then the lesson runs its
  smallest configuration);
- :func:`regression_data`, :func:`train_shallow` — a one-hidden-layer network on a smooth
  regression task, many seeds and learning rates at once, with the fraction of hidden units
  that are off for every input;
- :func:`time_callable`, :func:`time_activation`, :func:`time_training_step` — timings with
  :mod:`torch.utils.benchmark` (median and interquartile range of many blocks of runs);
- :func:`poisson_data`, :func:`fit_poisson` — Poisson regression by gradient descent with an
  ``exp``, ``softplus`` or ``relu`` link;
- :func:`fit_lbfgs` — a one-hidden-layer network fitted with :class:`torch.optim.LBFGS`;
- :func:`train_mlp`, :func:`matched_widths`, :func:`parameter_count`, :func:`kinked_target` —
  networks of any depth, with a held-out loss, at matched parameter counts;
- :func:`compare_runs` — medians, spread and a permutation test for two sets of runs;
- :func:`time_interleaved`, :func:`activation_callable`, :func:`training_step_callable`,
  :func:`ratio_verdict` — timings that alternate the contenders round by round;
- :func:`fused_addmm_activations` — which activations PyTorch's fused matrix product offers.

Import them as ``from softplus_course.experiments import train_shallow, ...``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils import benchmark

from softplus_course._arguments import finite_number as _finite
from softplus_course._arguments import positive_number as _positive_float
from softplus_course._arguments import whole_number as _positive_int

__all__ = [
    "ACTIVATIONS",
    "SMOOTH_RELUS",
    "Comparison",
    "InterleavedTimings",
    "activation_callable",
    "compare_runs",
    "fused_addmm_activations",
    "kinked_target",
    "matched_widths",
    "parameter_count",
    "rank_correlation",
    "ratio_verdict",
    "time_interleaved",
    "train_mlp",
    "training_step_callable",
    "LINKS",
    "LBFGSFit",
    "PoissonFit",
    "Timing",
    "TrainingRuns",
    "fit_lbfgs",
    "fit_poisson",
    "is_grading",
    "poisson_data",
    "regression_data",
    "smooth_target",
    "time_activation",
    "time_callable",
    "time_training_step",
    "train_shallow",
]

DTYPE = torch.float64

#: The hidden-layer activations the experiments compare, by name.
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "softplus": torch.nn.functional.softplus,
    "leaky_relu": torch.nn.functional.leaky_relu,  # slope 0.01 for z < 0
    "elu": torch.nn.functional.elu,
    "gelu": torch.nn.functional.gelu,  # the exact (erf) form
    "silu": torch.nn.functional.silu,  # also called Swish: z * sigmoid(z)
    "mish": torch.nn.functional.mish,  # z * tanh(softplus(z))
}

#: The smooth (or leaky) relatives of ReLU that practitioners choose today.
SMOOTH_RELUS = ("leaky_relu", "elu", "gelu", "silu", "mish")

#: The links from a linear predictor to a Poisson rate, by name.
LINKS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "exp": torch.exp,
    "softplus": torch.nn.functional.softplus,
    "relu": torch.relu,
}


# --- argument checks -------------------------------------------------------------------------


def _name(value: object, argument: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{argument} must be a str, one of {list(choices)}, got {value!r}")
    if value not in choices:
        raise ValueError(f"{argument} must be one of {list(choices)}, got {value!r}")
    return value


def _seed(value: object, argument: str = "seed") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{argument} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{argument} must be >= 0, got {value}")
    return int(value)


def _sequence(values: object, argument: str, check: Callable[[object, str], float]) -> list:
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise TypeError(f"{argument} must be a sequence, got {type(values).__name__}")
    if len(values) == 0:
        raise ValueError(f"{argument} must not be empty")
    return [check(v, f"{argument}[{i}]") for i, v in enumerate(values)]


def _tensor_2d(value: object, argument: str, columns: int | None = None) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{argument} must be a torch.Tensor, got {type(value).__name__}")
    if value.ndim != 2 or value.shape[0] == 0 or value.shape[1] == 0:
        raise ValueError(
            f"{argument} must be a non-empty 2-D tensor, got shape {tuple(value.shape)}"
        )
    if columns is not None and value.shape[1] != columns:
        raise ValueError(
            f"{argument} must have {columns} column(s), got shape {tuple(value.shape)}"
        )
    if not value.is_floating_point():
        raise TypeError(f"{argument} must hold floating-point numbers, got {value.dtype}")
    return value.detach().to(DTYPE)


# --- grading mode ----------------------------------------------------------------------------


def is_grading() -> bool:
    """Return True while nbgrader executes the notebook (autograding or validating).

    nbgrader sets the environment variable ``NBGRADER_EXECUTION`` (to ``"autograde"`` or
    ``"validate"``) in the kernel it starts; a lesson then runs the smallest configuration of
    its experiments, since grading needs the learner's functions, not the measurements.
    """
    return bool(os.environ.get("NBGRADER_EXECUTION"))


# --- a shallow network on a smooth regression task --------------------------------------------


def smooth_target(x: torch.Tensor) -> torch.Tensor:
    """The smooth function the regression experiments fit: ``sin(2 x) + x / 2``, elementwise."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    return torch.sin(2.0 * x) + 0.5 * x


def regression_data(
    n_samples: int = 256, *, seed: int = 0, low: float = -2.0, high: float = 2.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs drawn uniformly from ``[low, high]`` and their targets :func:`smooth_target`.

    Parameters
    ----------
    n_samples : int
        Number of points.
    seed : int
        Seed of the generator that draws the inputs.
    low, high : float
        The interval of the inputs (``low < high``).

    Returns
    -------
    x, y : torch.Tensor
        float64 tensors of shape ``(n_samples, 1)``.
    """
    n_samples = _positive_int(n_samples, "n_samples")
    seed = _seed(seed)
    for value, argument in ((low, "low"), (high, "high")):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{argument} must be a number, got {type(value).__name__}")
        if not math.isfinite(value):
            raise ValueError(f"{argument} must be finite, got {value!r}")
    if not low < high:
        raise ValueError(f"low must be below high, got low={low!r}, high={high!r}")
    generator = torch.Generator().manual_seed(seed)
    x = low + (high - low) * torch.rand(n_samples, 1, generator=generator, dtype=DTYPE)
    return x, smooth_target(x)


@dataclass(frozen=True)
class TrainingRuns:
    """What :func:`train_shallow` recorded, one column per run.

    Attributes
    ----------
    activation : str
        ``"relu"`` or ``"softplus"``.
    steps : numpy.ndarray
        The training steps at which the records were taken (0 = before the first update).
    loss : numpy.ndarray
        Mean squared error on the training data, shape ``(len(steps), n_runs)``.
    off_fraction : numpy.ndarray
        Fraction of hidden units whose pre-activation is <= 0 for every training input, shape
        ``(len(steps), n_runs)``. A ReLU unit in that state outputs exactly 0 for every input
        and gets a gradient of exactly 0: it is dead. A Softplus unit in that state still
        outputs a positive value and gets a positive gradient.
    learning_rates, seeds : numpy.ndarray
        The learning rate and the seed of each run (column).
    test_loss : numpy.ndarray or None
        Mean squared error on held-out data, like ``loss`` (:func:`train_mlp` with test data).
    widths : tuple of int
        The hidden layers' widths (``(hidden,)`` for one hidden layer; empty if not recorded).
    """

    activation: str
    steps: np.ndarray
    loss: np.ndarray
    off_fraction: np.ndarray
    learning_rates: np.ndarray
    seeds: np.ndarray
    test_loss: np.ndarray | None = None
    widths: tuple[int, ...] = ()

    def units_off(self) -> np.ndarray:
        """The number of hidden units off at the end of each run (integers, one per column)."""
        total = sum(self.widths) if self.widths else None
        if total is None:
            raise ValueError("these runs did not record their widths")
        return np.round(self.off_fraction[-1] * total).astype(int)

    def columns(self, learning_rate: float) -> np.ndarray:
        """The indices of the runs (columns) trained with ``learning_rate``."""
        found = np.flatnonzero(self.learning_rates == learning_rate)
        if found.size == 0:
            raise ValueError(
                f"no run with learning_rate={learning_rate!r}; "
                f"the runs used {sorted(set(self.learning_rates.tolist()))}"
            )
        return found


def _init_layer(
    fan_in: int, fan_out: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """PyTorch's default for nn.Linear: weights and biases uniform in +-1/sqrt(fan_in)."""
    bound = 1.0 / math.sqrt(fan_in)
    weight = (2.0 * torch.rand(fan_in, fan_out, generator=generator, dtype=DTYPE) - 1.0) * bound
    bias = (2.0 * torch.rand(1, fan_out, generator=generator, dtype=DTYPE) - 1.0) * bound
    return weight, bias


def train_shallow(
    activation: str,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    hidden: int = 8,
    learning_rates: Sequence[float] = (0.01,),
    seeds: Sequence[int] = (0,),
    steps: int = 500,
    record_every: int = 10,
    optimizer: str = "adam",
    bias_init: float | None = None,
) -> TrainingRuns:
    """Train one-hidden-layer networks ``y ~ W2 act(W1 x + b1) + b2`` on the mean squared error.

    One network is trained for every pair (learning rate, seed), all of them at once: their
    weights are stacked along a leading axis and each network's loss is added to the total, so
    each network receives exactly the gradient of its own loss. Full-batch training, float64.
    It is :func:`train_mlp` with one hidden layer of ``hidden`` units.

    Parameters
    ----------
    activation : str
        The hidden units' activation, a key of :data:`ACTIVATIONS`.
    x, y : torch.Tensor
        Inputs ``(n, d)`` and targets ``(n, 1)``.
    hidden : int
        Hidden units per network.
    learning_rates : sequence of float
        Learning rates to try (each with every seed).
    seeds : sequence of int
        Seeds of the initial weights (PyTorch's default initialisation of ``nn.Linear``).
    steps : int
        Optimiser updates.
    record_every : int
        Record the loss and the off fraction every this many steps (and after the last one).
    optimizer : {"adam", "sgd"}
        :class:`torch.optim.Adam` (default settings) or plain gradient descent.
    bias_init : float, optional
        If given, every hidden bias starts at this value instead of at random.

    Returns
    -------
    TrainingRuns
    """
    return train_mlp(
        activation,
        x,
        y,
        widths=(_positive_int(hidden, "hidden"),),
        learning_rates=learning_rates,
        seeds=seeds,
        steps=steps,
        record_every=record_every,
        optimizer=optimizer,
        bias_init=bias_init,
    )


def kinked_target(x: torch.Tensor) -> torch.Tensor:
    """A target with kinks, the counterpart of :func:`smooth_target` of the same size:
    a triangle wave of period 2 and height 2 plus ``x / 2``, elementwise (kinks at the odd
    integers)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    return 2.0 * torch.abs(torch.remainder(x, 2.0) - 1.0) - 1.0 + 0.5 * x


def parameter_count(widths: Sequence[int], n_inputs: int = 1) -> int:
    """Weights and biases of a network ``n_inputs -> widths[0] -> ... -> widths[-1] -> 1``."""
    sizes = [_positive_int(n_inputs, "n_inputs")] + _sequence(widths, "widths", _positive_int)
    return sum((a + 1) * b for a, b in zip(sizes, sizes[1:] + [1], strict=True))


def matched_widths(depth: int, parameters: int, n_inputs: int = 1) -> tuple[int, ...]:
    """``depth`` equal hidden widths whose :func:`parameter_count` is nearest ``parameters``."""
    depth = _positive_int(depth, "depth")
    parameters = _positive_int(parameters, "parameters")
    best = min(
        range(1, parameters + 1),
        key=lambda w: (abs(parameter_count([w] * depth, n_inputs) - parameters), w),
    )
    return (best,) * depth


def train_mlp(
    activation: str,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    widths: Sequence[int] = (8,),
    learning_rates: Sequence[float] = (0.01,),
    seeds: Sequence[int] = (0,),
    steps: int = 500,
    record_every: int = 10,
    x_test: torch.Tensor | None = None,
    y_test: torch.Tensor | None = None,
    optimizer: str = "adam",
    bias_init: float | None = None,
) -> TrainingRuns:
    """Train multilayer perceptrons ``x -> widths[0] -> ... -> 1`` with Adam on the MSE.

    :func:`train_shallow` is its one-layer case (``widths=(hidden,)``); this one takes any
    number of hidden layers, and records the loss on held-out data beside the training loss.
    A unit is *off* when its pre-activation is <= 0 for every training input;
    ``off_fraction`` is over all hidden units of all layers.

    Parameters
    ----------
    activation : str
        A key of :data:`ACTIVATIONS`.
    x, y : torch.Tensor
        Training inputs ``(n, d)`` and targets ``(n, 1)``.
    widths : sequence of int
        The hidden layers' widths.
    learning_rates, seeds, steps, record_every
        As for :func:`train_shallow`.
    x_test, y_test : torch.Tensor, optional
        Held-out inputs and targets (both or neither); then ``test_loss`` is recorded.
    optimizer : {"adam", "sgd"}
        :class:`torch.optim.Adam` (default settings) or plain gradient descent.
    bias_init : float, optional
        If given, every bias of the first hidden layer starts at this value instead of at random.

    Returns
    -------
    TrainingRuns
    """
    activation = _name(activation, "activation", list(ACTIVATIONS))
    optimizer = _name(optimizer, "optimizer", ["adam", "sgd"])
    x = _tensor_2d(x, "x")
    y = _tensor_2d(y, "y", columns=1)
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"x and y must have as many rows, got {x.shape[0]} and {y.shape[0]}")
    if bias_init is not None:
        if isinstance(bias_init, bool) or not isinstance(bias_init, (int, float)):
            raise TypeError(f"bias_init must be a number or None, got {type(bias_init).__name__}")
        if not math.isfinite(bias_init):
            raise ValueError(f"bias_init must be finite, got {bias_init!r}")
    width_list = _sequence(widths, "widths", _positive_int)
    rates = _sequence(learning_rates, "learning_rates", _positive_float)
    seed_list = _sequence(seeds, "seeds", _seed)
    steps = _positive_int(steps, "steps")
    record_every = _positive_int(record_every, "record_every")
    if (x_test is None) != (y_test is None):
        raise ValueError("give both x_test and y_test, or neither")
    if x_test is not None:
        x_test = _tensor_2d(x_test, "x_test", columns=x.shape[1])
        y_test = _tensor_2d(y_test, "y_test", columns=1)
        if y_test.shape[0] != x_test.shape[0]:
            raise ValueError("x_test and y_test must have as many rows")

    groups = []
    for rate in rates:
        nets = []
        for seed in seed_list:
            generator = torch.Generator().manual_seed(seed)
            params, fan_in = [], x.shape[1]
            for width in [*width_list, 1]:
                params += _init_layer(fan_in, width, generator)
                fan_in = width
            if bias_init is not None:
                params[1].fill_(float(bias_init))
            nets.append(params)
        # One parameter group per learning rate, holding the networks of all seeds stacked along
        # a leading axis: the optimisers work elementwise, so this is exactly one optimiser per
        # network, and one batched forward pass trains them all.
        stacked = [torch.stack(p).requires_grad_() for p in zip(*nets, strict=True)]
        groups.append({"params": stacked, "lr": rate})
    if optimizer == "adam":
        opt = torch.optim.Adam(groups, foreach=True)  # one fused update: same numbers, faster
    else:
        opt = torch.optim.SGD(groups)
    act = ACTIVATIONS[activation]
    n_hidden = sum(width_list)

    def forward(inputs, params, record=False):
        h, off = inputs, []
        for i in range(0, len(params) - 2, 2):
            z = h @ params[i] + params[i + 1]
            if record:
                off.append((z <= 0).all(dim=1).to(DTYPE).sum(dim=1))
            h = act(z)
        return h @ params[-2] + params[-1], (sum(off) / n_hidden if record else None)

    recorded, losses, offs, tests = [], [], [], []
    for step in range(steps + 1):
        if len(groups) == 1:
            params = groups[0]["params"]
        else:
            params = [torch.cat(p) for p in zip(*(g["params"] for g in groups), strict=True)]
        record = step % record_every == 0 or step == steps
        out, off = forward(x, params, record)
        loss = ((out - y) ** 2).mean(dim=(1, 2))
        if record:
            recorded.append(step)
            losses.append(loss.detach().numpy().copy())
            offs.append(off.detach().numpy().copy())
            if x_test is not None:
                with torch.no_grad():
                    test_out, _ = forward(x_test, params)
                    tests.append(((test_out - y_test) ** 2).mean(dim=(1, 2)).numpy().copy())
        if step == steps:
            break
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
    return TrainingRuns(
        activation=activation,
        steps=np.array(recorded),
        loss=np.array(losses),
        off_fraction=np.array(offs),
        learning_rates=np.repeat(np.array(rates), len(seed_list)),
        seeds=np.tile(np.array(seed_list), len(rates)),
        test_loss=np.array(tests) if x_test is not None else None,
        widths=tuple(width_list),
    )


# --- statistics over seeds -------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """Two sets of runs compared by :func:`compare_runs` (``a`` against ``b``).

    Attributes
    ----------
    median_a, median_b : float
        Medians of the two sets.
    quartiles_a, quartiles_b : tuple of float
        25th and 75th percentiles (the spread).
    a_lower : float
        Paired: the fraction of pairs with ``a < b``. Unpaired: the probability that a run of
        ``a`` drawn at random is below one of ``b`` (ties count half).
    p_value : float
        Two-sided permutation test of "no difference" on ``log10`` of the values: paired, the
        signs of the per-pair differences are flipped; unpaired, the labels are shuffled. The
        statistic is the mean (paired) or the difference of the means of the logs.
    n_a, n_b : int
    paired : bool
    exact : bool
        Whether every permutation was enumerated (else ``resamples`` random ones, seeded).
    """

    median_a: float
    median_b: float
    quartiles_a: tuple[float, float]
    quartiles_b: tuple[float, float]
    a_lower: float
    p_value: float
    n_a: int
    n_b: int
    paired: bool
    exact: bool

    def __str__(self) -> str:
        qa = ", ".join(f"{q:.1e}" for q in self.quartiles_a)
        qb = ", ".join(f"{q:.1e}" for q in self.quartiles_b)
        return (
            f"{self.median_a:.2e} [{qa}]  {self.median_b:.2e} [{qb}]  "
            f"{self.a_lower:4.0%}  p = {self.p_value:.2g}"
        )


def compare_runs(
    a: object, b: object, *, paired: bool, resamples: int = 20_000, seed: int = 0
) -> Comparison:
    """Medians, quartiles, a win fraction and a permutation test for positive values ``a``, ``b``.

    Paired (``a[i]`` and ``b[i]`` share a seed): exact sign-flip test for up to 16 pairs, else
    ``resamples`` random sign flips. Unpaired: ``resamples`` random relabellings (exact when
    there are at most that many). The p-value of a random test counts the observed statistic
    as one of the permutations, so it is never 0.
    """
    x = np.asarray(a, dtype=np.float64).ravel()
    z = np.asarray(b, dtype=np.float64).ravel()
    if x.size == 0 or z.size == 0:
        raise ValueError("a and b must not be empty")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(z)) and x.min() > 0 and z.min() > 0):
        raise ValueError("a and b must hold positive finite numbers")
    if not isinstance(paired, bool):
        raise TypeError(f"paired must be a bool, got {type(paired).__name__}")
    resamples = _positive_int(resamples, "resamples")
    rng = np.random.default_rng(_seed(seed))
    la, lb = np.log10(x), np.log10(z)
    if paired:
        if x.size != z.size:
            raise ValueError(f"paired runs must be as many, got {x.size} and {z.size}")
        d = la - lb
        observed = abs(d.mean())
        exact = d.size <= 16
        if exact:
            signs = 1 - 2 * ((np.arange(2**d.size)[:, None] >> np.arange(d.size)) & 1)
        else:
            signs = rng.choice([-1.0, 1.0], size=(resamples, d.size))
        stats = np.abs((signs * d).mean(axis=1))
        hits = int(np.sum(stats >= observed - 1e-12))
        p = hits / len(stats) if exact else (hits + 1) / (resamples + 1)
        lower = float(np.mean(x < z))
    else:
        pooled = np.concatenate([la, lb])
        observed = abs(la.mean() - lb.mean())
        exact = math.comb(pooled.size, x.size) <= resamples
        if exact:
            from itertools import combinations

            index = np.array(list(combinations(range(pooled.size), x.size)))
            mask = np.zeros((len(index), pooled.size), dtype=bool)
            np.put_along_axis(mask, index, True, axis=1)
        else:
            mask = np.zeros((resamples, pooled.size), dtype=bool)
            for row in mask:
                row[rng.choice(pooled.size, size=x.size, replace=False)] = True
        mean_a = (mask * pooled).sum(axis=1) / x.size
        mean_b = (~mask * pooled).sum(axis=1) / z.size
        hits = int(np.sum(np.abs(mean_a - mean_b) >= observed - 1e-12))
        p = hits / len(mask) if exact else (hits + 1) / (resamples + 1)
        lower = float(np.mean((x[:, None] < z[None, :]) + 0.5 * (x[:, None] == z[None, :])))
    return Comparison(
        median_a=float(np.median(x)),
        median_b=float(np.median(z)),
        quartiles_a=(float(np.percentile(x, 25)), float(np.percentile(x, 75))),
        quartiles_b=(float(np.percentile(z, 25)), float(np.percentile(z, 75))),
        a_lower=lower,
        p_value=float(p),
        n_a=int(x.size),
        n_b=int(z.size),
        paired=paired,
        exact=exact,
    )


def rank_correlation(
    a: object, b: object, *, resamples: int = 20_000, seed: int = 0
) -> tuple[float, float]:
    """Spearman's rank correlation of ``a`` and ``b`` (ties get their average rank) and the
    two-sided p-value of a permutation test (``b`` shuffled ``resamples`` times, seeded)."""
    x = np.asarray(a, dtype=np.float64).ravel()
    z = np.asarray(b, dtype=np.float64).ravel()
    if x.size != z.size or x.size < 3:
        raise ValueError("a and b must have the same length, at least 3")
    resamples = _positive_int(resamples, "resamples")

    def ranks(v: np.ndarray) -> np.ndarray:
        order = np.argsort(v, kind="stable")
        r = np.empty(v.size)
        r[order] = np.arange(v.size, dtype=np.float64)
        for value in np.unique(v):  # ties: the average of their ranks
            tied = v == value
            r[tied] = r[tied].mean()
        return r - r.mean()

    rx, rz = ranks(x), ranks(z)
    norm = math.sqrt(float((rx**2).sum() * (rz**2).sum()))
    if norm == 0:
        return float("nan"), 1.0
    rho = float((rx * rz).sum() / norm)
    rng = np.random.default_rng(_seed(seed))
    shuffled = np.array([rng.permutation(rz) for _ in range(resamples)])
    stats = np.abs(shuffled @ rx) / norm
    p = (int(np.sum(stats >= abs(rho) - 1e-12)) + 1) / (resamples + 1)
    return rho, float(p)


# --- timings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """One measurement by :mod:`torch.utils.benchmark`, in seconds per call.

    Attributes
    ----------
    median, iqr : float
        Median and interquartile range over the blocks of calls (seconds per call).
    blocks : int
        How many blocks were timed.
    calls_per_block : int
        How many calls each block made.
    """

    median: float
    iqr: float
    blocks: int
    calls_per_block: int


def time_callable(
    fn: Callable[[], object], *, min_run_time: float = 0.2, max_run_time: float = 1.0
) -> Timing:
    """Time ``fn()`` with ``torch.utils.benchmark.Timer(...).adaptive_autorange``, one thread.

    After three warm-up calls, the timer calls ``fn`` in blocks (enough calls per block that
    the clock's own cost does not matter) and keeps adding blocks until it has at least four,
    has spent ``min_run_time``, and the spread (IQR / median) is below 10 %, or until
    ``max_run_time`` is spent.

    Parameters
    ----------
    fn : callable
        Called without arguments.
    min_run_time, max_run_time : float
        Seconds (``0 < min_run_time <= max_run_time``).

    Returns
    -------
    Timing
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    min_run_time = _positive_float(min_run_time, "min_run_time")
    max_run_time = _positive_float(max_run_time, "max_run_time")
    if max_run_time < min_run_time:
        raise ValueError(
            f"max_run_time must be >= min_run_time, got {max_run_time!r} < {min_run_time!r}"
        )
    for _ in range(3):  # warm up: the first calls pay for allocations and lazy initialisation
        fn()
    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=1)
    m = timer.adaptive_autorange(
        threshold=0.1, min_run_time=min_run_time, max_run_time=max_run_time
    )
    return Timing(
        median=float(m.median),
        iqr=float(m.iqr),
        blocks=len(m.raw_times),
        calls_per_block=int(m.number_per_run),
    )


def time_activation(
    activation: str,
    size: int,
    *,
    backward: bool = False,
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
    min_run_time: float = 0.2,
    max_run_time: float = 1.0,
) -> Timing:
    """Time one activation on a tensor of ``size`` standard normal numbers.

    Parameters
    ----------
    activation : str
        A key of :data:`ACTIVATIONS`.
    size : int
        Number of elements.
    backward : bool
        False: the forward pass ``act(x)`` only. True: forward and backward,
        ``act(x).backward(ones)``, as autograd runs them in training.
    dtype : torch.dtype
        ``torch.float32`` (what networks are usually trained in) or ``torch.float64``.
    seed : int
        Seed of the input values.
    min_run_time, max_run_time : float
        Passed to :func:`time_callable`.

    Returns
    -------
    Timing
    """
    activation = _name(activation, "activation", list(ACTIVATIONS))
    size = _positive_int(size, "size")
    if not isinstance(backward, bool):
        raise TypeError(f"backward must be a bool, got {type(backward).__name__}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
    fn = activation_callable(activation, size, backward=backward, dtype=dtype, seed=seed)
    return time_callable(fn, min_run_time=min_run_time, max_run_time=max_run_time)


def activation_callable(
    activation: str,
    size: int,
    *,
    backward: bool = False,
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
) -> Callable[[], None]:
    """The work :func:`time_activation` times, as a callable without arguments: ``act(x)`` on
    ``size`` standard normal numbers, or with ``backward=True`` ``act(x).backward(ones)``."""
    activation = _name(activation, "activation", list(ACTIVATIONS))
    size = _positive_int(size, "size")
    if not isinstance(backward, bool):
        raise TypeError(f"backward must be a bool, got {type(backward).__name__}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
    generator = torch.Generator().manual_seed(_seed(seed))
    x = torch.randn(size, generator=generator, dtype=dtype)
    act = ACTIVATIONS[activation]
    if not backward:

        def forward() -> None:
            act(x)

        return forward
    x.requires_grad_()
    ones = torch.ones_like(x)

    def forward_backward() -> None:
        act(x).backward(ones)
        x.grad = None

    return forward_backward


def time_training_step(
    activation: str,
    *,
    width: int = 256,
    depth: int = 2,
    batch: int = 256,
    n_features: int = 64,
    seed: int = 0,
    min_run_time: float = 0.2,
    max_run_time: float = 1.0,
) -> Timing:
    """Time one training step of a multilayer perceptron, float32, one thread.

    The network is ``n_features -> width -> ... -> width -> 1`` with ``depth`` hidden layers,
    each followed by the activation; one step is ``zero_grad``, the forward pass on a batch,
    the mean squared error, the backward pass and an SGD update.

    Parameters
    ----------
    activation : str
        A key of :data:`ACTIVATIONS`.
    width, depth : int
        Units per hidden layer, and hidden layers.
    batch, n_features : int
        Examples per batch, and inputs per example (standard normal numbers).
    seed : int
        Seed of the initial weights and of the batch.
    min_run_time, max_run_time : float
        Passed to :func:`time_callable`.

    Returns
    -------
    Timing
    """
    step = training_step_callable(
        activation, width=width, depth=depth, batch=batch, n_features=n_features, seed=seed
    )
    return time_callable(step, min_run_time=min_run_time, max_run_time=max_run_time)


class _Activation(torch.nn.Module):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.fn = ACTIVATIONS[name]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.fn(z)


def training_step_callable(
    activation: str,
    *,
    width: int = 256,
    depth: int = 2,
    batch: int = 256,
    n_features: int = 64,
    seed: int = 0,
) -> Callable[[], None]:
    """One training step of the network :func:`time_training_step` times, as a callable."""
    activation = _name(activation, "activation", list(ACTIVATIONS))
    width = _positive_int(width, "width")
    depth = _positive_int(depth, "depth")
    batch = _positive_int(batch, "batch")
    n_features = _positive_int(n_features, "n_features")
    seed = _seed(seed)
    layers: list[torch.nn.Module] = []
    fan_in = n_features
    # nn.Linear draws its initial weights from the global generator: seed it, and give the
    # caller's generator state back afterwards.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for _ in range(depth):
            layers += [torch.nn.Linear(fan_in, width), _Activation(activation)]
            fan_in = width
        net = torch.nn.Sequential(*layers, torch.nn.Linear(fan_in, 1))
    opt = torch.optim.SGD(net.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(seed + 1)
    inputs = torch.randn(batch, n_features, generator=generator)
    targets = torch.randn(batch, 1, generator=generator)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(net(inputs), targets).backward()
        opt.step()

    return step


@dataclass(frozen=True)
class InterleavedTimings:
    """Seconds per call of several callables, timed in alternation by :func:`time_interleaved`.

    Attributes
    ----------
    times : dict of str to numpy.ndarray
        One time per round (seconds per call, the mean of one block of calls) for each name.
    calls_per_block : dict of str to int
    """

    times: dict[str, np.ndarray]
    calls_per_block: dict[str, int]

    def median(self, name: str) -> float:
        """The median over the rounds."""
        return float(np.median(self.times[name]))

    def iqr(self, name: str) -> float:
        """The interquartile range over the rounds."""
        q25, q75 = np.percentile(self.times[name], [25, 75])
        return float(q75 - q25)

    def ratios(self, name: str, baseline: str) -> np.ndarray:
        """``name``'s time over ``baseline``'s, round by round (both timed within one round)."""
        return self.times[name] / self.times[baseline]


def time_interleaved(
    fns: dict[str, Callable[[], object]], *, rounds: int = 15, block_time: float = 0.005
) -> InterleavedTimings:
    """Time several callables in alternation: in every round, one block of calls each.

    Each callable is warmed up (three calls), then given as many calls per block as fill about
    ``block_time`` seconds. Every round times one block of each, in an order that rotates from
    round to round, with :class:`timeit.Timer`. A disturbance (another program taking the core)
    then falls on all contenders alike, and the per-round ratios of two of them stay paired.
    """
    import timeit

    if not isinstance(fns, dict) or not fns:
        raise TypeError("fns must be a non-empty dict of name -> callable")
    for name, fn in fns.items():
        if not callable(fn):
            raise TypeError(f"fns[{name!r}] must be callable, got {type(fn).__name__}")
    rounds = _positive_int(rounds, "rounds")
    block_time = _positive_float(block_time, "block_time")
    names = list(fns)
    timers, number = {}, {}
    for name in names:
        for _ in range(3):
            fns[name]()
        timers[name] = timeit.Timer(fns[name])
        once = min(timers[name].repeat(repeat=3, number=1))
        number[name] = max(1, int(block_time / max(once, 1e-9)))
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(timers[name].timeit(number[name]) / number[name])
    return InterleavedTimings(
        times={name: np.array(t) for name, t in times.items()}, calls_per_block=number
    )


def ratio_verdict(ratios: object, *, low: float = 0.10, high: float = 0.20) -> str:
    """A sentence on a set of per-round time ratios (contender / baseline) and a claimed
    surcharge range ``[low, high]`` (fractions): the median surcharge, and whether the middle
    half of the rounds leaves no doubt about its sign."""
    r = np.asarray(ratios, dtype=np.float64).ravel()
    if r.size == 0 or not np.all(np.isfinite(r)) or r.min() <= 0:
        raise ValueError("ratios must be positive finite numbers")
    q25, med, q75 = (float(v) for v in np.percentile(r, [25, 50, 75]))
    text = f"median {100 * (med - 1):+.1f} % (middle half of the rounds {100 * (q25 - 1):+.1f} to "
    text += f"{100 * (q75 - 1):+.1f} %): "
    if q25 <= 1.0 <= q75:
        return text + "within the noise, no measurable difference"
    if q75 < 1.0:
        return text + "FASTER than the baseline: a measured saving, not a surcharge"
    if q75 < 1 + low:
        where = "below"
    elif q25 > 1 + high:
        where = "above"
    elif q25 >= 1 + low and q75 <= 1 + high:
        where = "inside"
    else:
        where = "overlapping"
    return text + f"slower, {where} the claimed {100 * low:.0f} to {100 * high:.0f} %"


def fused_addmm_activations() -> dict[str, bool]:
    """Which of :data:`ACTIVATIONS` PyTorch's fused ``bias + x @ w`` then activation,
    ``torch.ops.aten._addmm_activation``, offers: read from the op's schema (an activation
    it offers is a flag, ``use_<name>``; ReLU is its default) and checked on the CPU against
    ``act(torch.addmm(...))``. Every name maps to False if the op does not exist."""
    op = getattr(torch.ops.aten, "_addmm_activation", None)
    offered = dict.fromkeys(ACTIVATIONS, False)
    if op is None:
        return offered
    flags = {arg.name for arg in op.default._schema.arguments}
    generator = torch.Generator().manual_seed(0)
    bias, m1, m2 = (torch.randn(*s, generator=generator) for s in ((4,), (3, 5), (5, 4)))
    for name, act in ACTIVATIONS.items():
        flag = f"use_{name}"
        if name != "relu" and flag not in flags:
            continue
        kwargs = {} if name == "relu" else {flag: True}
        fused = op(bias, m1, m2, **kwargs)
        offered[name] = bool(torch.allclose(fused, act(torch.addmm(bias, m1, m2)), atol=1e-6))
    return offered


# --- Poisson regression ----------------------------------------------------------------------


def poisson_data(
    n_samples: int = 400,
    *,
    weights: Sequence[float] = (0.8, -0.5, 0.3),
    bias: float = 0.5,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Synthetic counts from a log-linear Poisson model (the textbook GLM).

    Features are standard normal; the true rate is ``exp(x @ weights + bias)``; each count is
    drawn from a Poisson distribution with that rate.

    Parameters
    ----------
    n_samples : int
        Number of observations.
    weights : sequence of float
        True weights, one per feature.
    bias : float
        True bias.
    seed : int
        Seed of the features and the counts.

    Returns
    -------
    x : torch.Tensor
        Features, float64, ``(n_samples, len(weights))``.
    counts : torch.Tensor
        Counts (whole numbers stored as float64), ``(n_samples,)``.
    rate : torch.Tensor
        The true rates, ``(n_samples,)``.
    """
    n_samples = _positive_int(n_samples, "n_samples")
    w = _sequence(weights, "weights", _finite)
    b = _finite(bias, "bias")
    generator = torch.Generator().manual_seed(_seed(seed))
    x = torch.randn(n_samples, len(w), generator=generator, dtype=DTYPE)
    rate = torch.exp(x @ torch.tensor(w, dtype=DTYPE) + b)
    counts = torch.poisson(rate, generator=generator)
    return x, counts, rate


@dataclass(frozen=True)
class PoissonFit:
    """The result of :func:`fit_poisson`.

    Attributes
    ----------
    link : str
        ``"exp"``, ``"softplus"`` or ``"relu"``.
    learning_rate : float
    nll : numpy.ndarray
        Mean negative log-likelihood (with the ``ln k!`` term) before each update and after
        the last one: ``steps + 1`` values. ``inf`` where some rate was 0 with a positive count
        (or overflowed), ``nan`` once the weights are no longer numbers.
    weights : numpy.ndarray
    bias : float
        The final parameters.
    finite : bool
        Whether the final mean negative log-likelihood is a finite number.
    """

    link: str
    learning_rate: float
    nll: np.ndarray
    weights: np.ndarray
    bias: float
    finite: bool


def fit_poisson(
    x: torch.Tensor,
    counts: torch.Tensor,
    link: str,
    *,
    learning_rate: float,
    steps: int = 300,
) -> PoissonFit:
    """Poisson regression ``rate = link(x @ w + b)`` by full-batch gradient descent.

    The loss is the mean negative log-likelihood of the counts. The weights start at 0 and the
    bias where the rate equals the mean count for every input (``b = link^-1(mean count)``), so
    every link starts from the same rates.

    Parameters
    ----------
    x : torch.Tensor
        Features ``(n, d)``.
    counts : torch.Tensor
        Non-negative whole numbers ``(n,)``.
    link : {"exp", "softplus", "relu"}
    learning_rate : float
    steps : int

    Returns
    -------
    PoissonFit
    """
    x = _tensor_2d(x, "x")
    if not isinstance(counts, torch.Tensor):
        raise TypeError(f"counts must be a torch.Tensor, got {type(counts).__name__}")
    if counts.shape != (x.shape[0],):
        raise ValueError(
            f"counts must have shape ({x.shape[0]},) to match x, got {tuple(counts.shape)}"
        )
    k = counts.detach().to(DTYPE)
    if not bool(torch.all((k >= 0) & (k == torch.round(k)))):
        raise ValueError("counts must be non-negative whole numbers")
    link = _name(link, "link", list(LINKS))
    learning_rate = _positive_float(learning_rate, "learning_rate")
    steps = _positive_int(steps, "steps")
    mean = float(k.mean())
    if mean <= 0:
        raise ValueError("counts must not all be 0")
    start = {"exp": math.log(mean), "softplus": mean + math.log(-math.expm1(-mean)), "relu": mean}
    w = torch.zeros(x.shape[1], dtype=DTYPE, requires_grad=True)
    b = torch.tensor(start[link], dtype=DTYPE, requires_grad=True)
    log_factorial = torch.lgamma(k + 1.0).mean()
    f = LINKS[link]
    history = []
    for step in range(steps + 1):
        rate = f(x @ w + b)
        # ln(rate) via xlogy: a count of 0 contributes 0, whatever the rate.
        loss = (rate - torch.special.xlogy(k, rate)).mean() + log_factorial
        history.append(float(loss.detach()))
        if step == steps:
            break
        grad_w, grad_b = torch.autograd.grad(loss, (w, b))
        with torch.no_grad():
            w -= learning_rate * grad_w
            b -= learning_rate * grad_b
    return PoissonFit(
        link=link,
        learning_rate=learning_rate,
        nll=np.array(history),
        weights=w.detach().numpy().copy(),
        bias=float(b.detach()),
        finite=math.isfinite(history[-1]),
    )


# --- second-order optimisation ---------------------------------------------------------------


@dataclass(frozen=True)
class LBFGSFit:
    """The result of :func:`fit_lbfgs`.

    Attributes
    ----------
    activation : str
    seed : int
    loss : numpy.ndarray
        The loss at every evaluation, in order (line-search trials included, so it need not
        fall monotonically; ``numpy.minimum.accumulate(loss)`` is the best loss so far).
    evaluations : int
        How many times L-BFGS evaluated the loss and its gradient (line searches included).
    iterations : int
        L-BFGS iterations done (fewer than ``max_iter`` when it stopped early).
    final_loss : float
    test_loss : float or None
        The final network's mean squared error on held-out data, if given.
    """

    activation: str
    seed: int
    loss: np.ndarray
    evaluations: int
    iterations: int
    final_loss: float
    test_loss: float | None = None


def fit_lbfgs(
    activation: str,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    hidden: int = 8,
    seed: int = 0,
    max_iter: int = 200,
    history_size: int = 20,
    x_test: torch.Tensor | None = None,
    y_test: torch.Tensor | None = None,
) -> LBFGSFit:
    """Fit a one-hidden-layer network to ``(x, y)`` with L-BFGS (strong Wolfe line search).

    The same network as :func:`train_shallow` (PyTorch's default initialisation, float64, mean
    squared error), optimised by :class:`torch.optim.LBFGS` with ``lr=1``. L-BFGS builds a
    picture of the loss's curvature from the changes of the gradient. It stops after
    ``max_iter`` iterations or ``max_iter * 5 // 4`` loss evaluations (PyTorch's default budget),
    or earlier, by itself, when a step no longer changes the loss or the parameters (tolerance
    1e-15) or the gradient is below 1e-10.

    Parameters
    ----------
    activation : str
        A key of :data:`ACTIVATIONS`.
    x, y : torch.Tensor
        Inputs ``(n, d)`` and targets ``(n, 1)``.
    hidden : int
        Hidden units.
    seed : int
        Seed of the initial weights.
    max_iter : int
        Most L-BFGS iterations.
    history_size : int
        How many recent steps L-BFGS keeps for its curvature estimate.
    x_test, y_test : torch.Tensor, optional
        Held-out inputs and targets (both or neither): then ``test_loss`` is recorded.

    Returns
    -------
    LBFGSFit
    """
    activation = _name(activation, "activation", list(ACTIVATIONS))
    x = _tensor_2d(x, "x")
    y = _tensor_2d(y, "y", columns=1)
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"x and y must have as many rows, got {x.shape[0]} and {y.shape[0]}")
    hidden = _positive_int(hidden, "hidden")
    seed = _seed(seed)
    max_iter = _positive_int(max_iter, "max_iter")
    history_size = _positive_int(history_size, "history_size")
    if (x_test is None) != (y_test is None):
        raise ValueError("give both x_test and y_test, or neither")
    if x_test is not None:
        x_test = _tensor_2d(x_test, "x_test", columns=x.shape[1])
        y_test = _tensor_2d(y_test, "y_test", columns=1)
    generator = torch.Generator().manual_seed(seed)
    w1, b1 = _init_layer(x.shape[1], hidden, generator)
    w2, b2 = _init_layer(hidden, 1, generator)
    params = [p.requires_grad_() for p in (w1, b1, w2, b2)]
    opt = torch.optim.LBFGS(
        params,
        lr=1.0,
        max_iter=max_iter,
        history_size=history_size,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-10,
        tolerance_change=1e-15,
    )
    act = ACTIVATIONS[activation]
    losses: list[float] = []

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = ((act(x @ w1 + b1) @ w2 + b2 - y) ** 2).mean()
        loss.backward()
        losses.append(float(loss.detach()))
        return loss

    opt.step(closure)
    with torch.no_grad():
        final = float(((act(x @ w1 + b1) @ w2 + b2 - y) ** 2).mean())
        test = None
        if x_test is not None:
            test = float(((act(x_test @ w1 + b1) @ w2 + b2 - y_test) ** 2).mean())
    return LBFGSFit(
        activation=activation,
        seed=seed,
        loss=np.array(losses),
        evaluations=len(losses),
        iterations=int(opt.state[params[0]].get("n_iter", 0)),
        final_loss=final,
        test_loss=test,
    )
