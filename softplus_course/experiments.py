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
- :func:`fit_lbfgs` — a one-hidden-layer network fitted with :class:`torch.optim.LBFGS`.

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

__all__ = [
    "ACTIVATIONS",
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
}

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


def _positive_int(value: object, argument: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{argument} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{argument} must be at least {minimum}, got {value}")
    return int(value)


def _positive_float(value: object, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{argument} must be a number, got {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{argument} must be a positive finite number, got {value!r}")
    return float(value)


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
    """

    activation: str
    steps: np.ndarray
    loss: np.ndarray
    off_fraction: np.ndarray
    learning_rates: np.ndarray
    seeds: np.ndarray

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

    Parameters
    ----------
    activation : {"relu", "softplus"}
        The hidden units' activation.
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
    activation = _name(activation, "activation", list(ACTIVATIONS))
    optimizer = _name(optimizer, "optimizer", ["adam", "sgd"])
    x = _tensor_2d(x, "x")
    y = _tensor_2d(y, "y", columns=1)
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"x and y must have as many rows, got {x.shape[0]} and {y.shape[0]}")
    hidden = _positive_int(hidden, "hidden")
    rates = _sequence(learning_rates, "learning_rates", _positive_float)
    seed_list = _sequence(seeds, "seeds", _seed)
    steps = _positive_int(steps, "steps")
    record_every = _positive_int(record_every, "record_every")
    if bias_init is not None:
        if isinstance(bias_init, bool) or not isinstance(bias_init, (int, float)):
            raise TypeError(f"bias_init must be a number or None, got {type(bias_init).__name__}")
        if not math.isfinite(bias_init):
            raise ValueError(f"bias_init must be finite, got {bias_init!r}")

    # One parameter group per learning rate, holding the networks of all seeds stacked along
    # a leading axis: the optimisers work elementwise, so this is exactly one optimiser per
    # network, and one batched forward pass trains them all.
    groups = []
    for rate in rates:
        layers = []
        for seed in seed_list:
            generator = torch.Generator().manual_seed(seed)
            w1, b1 = _init_layer(x.shape[1], hidden, generator)
            w2, b2 = _init_layer(hidden, 1, generator)
            if bias_init is not None:
                b1.fill_(float(bias_init))
            layers.append((w1, b1, w2, b2))
        stacked = [torch.stack(p).requires_grad_() for p in zip(*layers, strict=True)]
        groups.append({"params": stacked, "lr": rate})
    opt = torch.optim.Adam(groups) if optimizer == "adam" else torch.optim.SGD(groups)
    act = ACTIVATIONS[activation]

    recorded_steps, losses, offs = [], [], []
    for step in range(steps + 1):
        w1, b1, w2, b2 = (torch.cat(p) for p in zip(*(g["params"] for g in groups), strict=True))
        z = x @ w1 + b1  # (runs, n, hidden): the pre-activations
        loss = ((act(z) @ w2 + b2 - y) ** 2).mean(dim=(1, 2))
        if step % record_every == 0 or step == steps:
            recorded_steps.append(step)
            losses.append(loss.detach().numpy().copy())
            offs.append((z <= 0).all(dim=1).to(DTYPE).mean(dim=1).detach().numpy().copy())
        if step == steps:
            break
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
    return TrainingRuns(
        activation=activation,
        steps=np.array(recorded_steps),
        loss=np.array(losses),
        off_fraction=np.array(offs),
        learning_rates=np.repeat(np.array(rates), len(seed_list)),
        seeds=np.tile(np.array(seed_list), len(rates)),
    )


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
    activation : {"relu", "softplus"}
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
    generator = torch.Generator().manual_seed(_seed(seed))
    x = torch.randn(size, generator=generator, dtype=dtype)
    act = ACTIVATIONS[activation]
    if not backward:
        return time_callable(lambda: act(x), min_run_time=min_run_time, max_run_time=max_run_time)
    x.requires_grad_()
    ones = torch.ones_like(x)

    def forward_backward() -> None:
        act(x).backward(ones)
        x.grad = None

    return time_callable(forward_backward, min_run_time=min_run_time, max_run_time=max_run_time)


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
    activation : {"relu", "softplus"}
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
            layers += [
                torch.nn.Linear(fan_in, width),
                torch.nn.ReLU() if activation == "relu" else torch.nn.Softplus(),
            ]
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

    return time_callable(step, min_run_time=min_run_time, max_run_time=max_run_time)


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


def _finite(value: object, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{argument} must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{argument} must be finite, got {value!r}")
    return float(value)


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
    """

    activation: str
    seed: int
    loss: np.ndarray
    evaluations: int
    iterations: int
    final_loss: float


def fit_lbfgs(
    activation: str,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    hidden: int = 8,
    seed: int = 0,
    max_iter: int = 200,
    history_size: int = 20,
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
    activation : {"relu", "softplus"}
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
    return LBFGSFit(
        activation=activation,
        seed=seed,
        loss=np.array(losses),
        evaluations=len(losses),
        iterations=int(opt.state[params[0]].get("n_iter", 0)),
        final_loss=final,
    )
