"""Tests for softplus_course.experiments: data, training loops, timings (lesson 09).

Every test runs tiny configurations, so the whole file takes a few seconds on one CPU core.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from softplus_course.experiments import (
    ACTIVATIONS,
    LINKS,
    SMOOTH_RELUS,
    Comparison,
    InterleavedTimings,
    LBFGSFit,
    PoissonFit,
    Timing,
    TrainingRuns,
    activation_callable,
    compare_runs,
    fit_lbfgs,
    fit_poisson,
    fused_addmm_activations,
    is_grading,
    kinked_target,
    matched_widths,
    parameter_count,
    poisson_data,
    rank_correlation,
    ratio_verdict,
    regression_data,
    smooth_target,
    time_activation,
    time_callable,
    time_interleaved,
    time_training_step,
    train_mlp,
    train_shallow,
    training_step_callable,
)

FAST = {"min_run_time": 0.002, "max_run_time": 0.02}


@pytest.fixture(scope="module")
def small_data():
    return regression_data(32, seed=3)


# --- is_grading -------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [(None, False), ("", False), ("autograde", True)])
def test_is_grading_reads_nbgraders_variable(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    else:
        monkeypatch.setenv("NBGRADER_EXECUTION", value)
    assert is_grading() is expected


# --- data -------------------------------------------------------------------------------------


def test_smooth_target_values():
    x = torch.tensor([0.0, math.pi / 4, -1.0], dtype=torch.float64)
    expected = [0.0, 1.0 + math.pi / 8, math.sin(-2.0) - 0.5]
    got = smooth_target(x).tolist()
    assert all(abs(g - e) <= 1e-15 for g, e in zip(got, expected, strict=True)), got
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        smooth_target([0.0])


def test_regression_data_shapes_range_and_determinism():
    x, y = regression_data(50, seed=1, low=-1.0, high=3.0)
    assert x.shape == (50, 1) and y.shape == (50, 1)
    assert x.dtype == torch.float64 and y.dtype == torch.float64
    assert float(x.min()) >= -1.0 and float(x.max()) <= 3.0
    assert torch.equal(y, smooth_target(x))
    x2, _ = regression_data(50, seed=1, low=-1.0, high=3.0)
    x3, _ = regression_data(50, seed=2, low=-1.0, high=3.0)
    assert torch.equal(x, x2) and not torch.equal(x, x3)


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"n_samples": 0}, ValueError, "n_samples"),
        ({"n_samples": 5.0}, TypeError, "n_samples"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": "0"}, TypeError, "seed"),
        ({"low": 1.0, "high": 1.0}, ValueError, "low"),
        ({"low": "a"}, TypeError, "low"),
        ({"high": math.inf}, ValueError, "high"),
    ],
)
def test_regression_data_rejects_bad_arguments(kwargs, error, text):
    with pytest.raises(error, match=text):
        regression_data(**kwargs)


def test_poisson_data_follows_the_log_linear_model():
    x, counts, rate = poisson_data(200, weights=(0.5, -0.2), bias=1.0, seed=4)
    assert x.shape == (200, 2) and counts.shape == (200,) and rate.shape == (200,)
    expected = torch.exp(x @ torch.tensor([0.5, -0.2], dtype=torch.float64) + 1.0)
    assert torch.allclose(rate, expected, rtol=1e-15, atol=0.0)
    assert bool(torch.all(counts >= 0)) and bool(torch.all(counts == torch.round(counts)))
    # The sample mean of the counts is close to the mean rate (200 draws).
    assert abs(float(counts.mean()) - float(rate.mean())) < 0.5
    again = poisson_data(200, weights=(0.5, -0.2), bias=1.0, seed=4)
    assert torch.equal(counts, again[1]) and torch.equal(x, again[0])


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"n_samples": -3}, ValueError, "n_samples"),
        ({"weights": ()}, ValueError, "weights"),
        ({"weights": 0.5}, TypeError, "weights"),
        ({"weights": (0.5, math.nan)}, ValueError, r"weights\[1\]"),
        ({"bias": None}, TypeError, "bias"),
    ],
)
def test_poisson_data_rejects_bad_arguments(kwargs, error, text):
    with pytest.raises(error, match=text):
        poisson_data(**kwargs)


# --- train_shallow ----------------------------------------------------------------------------


def test_train_shallow_records_every_run(small_data):
    x, y = small_data
    runs = train_shallow(
        "softplus",
        x,
        y,
        hidden=4,
        learning_rates=[0.01, 0.1],
        seeds=[0, 1, 2],
        steps=5,
        record_every=2,
    )
    assert isinstance(runs, TrainingRuns) and runs.activation == "softplus"
    assert runs.steps.tolist() == [0, 2, 4, 5]
    assert runs.loss.shape == (4, 6) and runs.off_fraction.shape == (4, 6)
    assert runs.learning_rates.tolist() == [0.01, 0.01, 0.01, 0.1, 0.1, 0.1]
    assert runs.seeds.tolist() == [0, 1, 2, 0, 1, 2]
    assert runs.columns(0.1).tolist() == [3, 4, 5]
    assert bool(np.all((runs.off_fraction >= 0) & (runs.off_fraction <= 1)))
    # Four hidden units: the off fraction is a multiple of 1/4.
    assert bool(np.all(runs.off_fraction * 4 == np.round(runs.off_fraction * 4)))
    # The same seed gives the same initial network whatever the learning rate.
    assert runs.loss[0, :3].tolist() == runs.loss[0, 3:].tolist()
    with pytest.raises(ValueError, match="no run with learning_rate=0.5"):
        runs.columns(0.5)


def test_train_shallow_trains_each_network_on_its_own(small_data):
    """Training networks together gives each the same result as training it alone."""
    x, y = small_data
    together = train_shallow(
        "relu", x, y, hidden=5, learning_rates=[0.01, 0.05], seeds=[0, 7], steps=20
    )
    alone = train_shallow("relu", x, y, hidden=5, learning_rates=[0.05], seeds=[7], steps=20)
    column = int(np.flatnonzero((together.learning_rates == 0.05) & (together.seeds == 7))[0])
    for a, b in zip(together.loss[:, column].tolist(), alone.loss[:, 0].tolist(), strict=True):
        assert abs(a - b) <= 1e-12 * abs(b), (a, b)
    again = train_shallow(
        "relu", x, y, hidden=5, learning_rates=[0.01, 0.05], seeds=[0, 7], steps=20
    )
    assert together.loss.tolist() == again.loss.tolist(), "not deterministic"


def test_train_shallow_matches_nn_linear_and_adam(small_data):
    """One run equals the same network written with nn.Linear and torch.optim.Adam."""
    x, y = small_data
    hidden, seed, rate, steps = 6, 11, 0.02, 15
    runs = train_shallow(
        "softplus",
        x,
        y,
        hidden=hidden,
        learning_rates=[rate],
        seeds=[seed],
        steps=steps,
        record_every=steps,
    )
    generator = torch.Generator().manual_seed(seed)
    bound1, bound2 = 1.0, 1.0 / math.sqrt(hidden)  # 1/sqrt(fan_in), fan_in = 1 and hidden
    w1 = (2 * torch.rand(1, hidden, generator=generator, dtype=torch.float64) - 1) * bound1
    b1 = (2 * torch.rand(1, hidden, generator=generator, dtype=torch.float64) - 1) * bound1
    w2 = (2 * torch.rand(hidden, 1, generator=generator, dtype=torch.float64) - 1) * bound2
    b2 = (2 * torch.rand(1, 1, generator=generator, dtype=torch.float64) - 1) * bound2
    first = torch.nn.Linear(1, hidden, dtype=torch.float64)
    second = torch.nn.Linear(hidden, 1, dtype=torch.float64)
    with torch.no_grad():
        first.weight.copy_(w1.T)
        first.bias.copy_(b1[0])
        second.weight.copy_(w2.T)
        second.bias.copy_(b2[0])
    net = torch.nn.Sequential(first, torch.nn.Softplus(), second)
    opt = torch.optim.Adam(net.parameters(), lr=rate)
    losses = []
    for step in range(steps + 1):
        loss = ((net(x) - y) ** 2).mean()
        losses.append(float(loss.detach()))
        if step < steps:
            opt.zero_grad()
            loss.backward()
            opt.step()
    got = runs.loss[:, 0].tolist()
    want = [losses[0], losses[-1]]
    assert all(abs(g - w) <= 1e-12 * w for g, w in zip(got, want, strict=True)), (got, want)


def test_dead_relu_units_stay_dead_under_gradient_descent(small_data):
    """With plain gradient descent a ReLU unit that is off for every input never comes back."""
    x, y = small_data
    runs = train_shallow(
        "relu",
        x,
        y,
        hidden=16,
        learning_rates=[0.5, 1.0],
        seeds=[0, 1],
        steps=40,
        optimizer="sgd",
        record_every=1,
    )
    assert bool(np.all(np.diff(runs.off_fraction, axis=0) >= 0))
    assert float(runs.off_fraction[-1].max()) > float(runs.off_fraction[0].max()), "none died"


def test_all_units_off_relu_learns_only_the_output_bias(small_data):
    """Hidden biases of -10 switch every ReLU unit off on [-2, 2]: only the mean is learnt."""
    x, y = small_data
    relu = train_shallow(
        "relu", x, y, hidden=4, learning_rates=[0.1], steps=150, optimizer="sgd", bias_init=-10.0
    )
    assert relu.off_fraction.min() == 1.0
    variance = float(((y - y.mean()) ** 2).mean())
    assert abs(float(relu.loss[-1, 0]) - variance) <= 1e-9, (relu.loss[-1, 0], variance)
    soft = train_shallow(
        "softplus", x, y, hidden=4, learning_rates=[0.1], steps=150, bias_init=-10.0
    )
    assert soft.off_fraction[0, 0] == 1.0
    assert float(soft.loss[-1, 0]) < variance - 0.05, "Softplus units should have learnt"


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"activation": "tanh"}, ValueError, "activation"),
        ({"activation": 1}, TypeError, "activation"),
        ({"x": np.zeros((4, 1))}, TypeError, "x must be a torch.Tensor"),
        ({"x": torch.zeros(4)}, ValueError, "x must be a non-empty 2-D"),
        ({"x": torch.zeros(4, 1, dtype=torch.int64)}, TypeError, "x must hold floating"),
        ({"y": torch.zeros(4, 2)}, ValueError, "y must have 1 column"),
        ({"y": torch.zeros(3, 1)}, ValueError, "as many rows"),
        ({"hidden": 0}, ValueError, "hidden"),
        ({"learning_rates": []}, ValueError, "learning_rates"),
        ({"learning_rates": 0.1}, TypeError, "learning_rates"),
        ({"learning_rates": [0.1, 0.0]}, ValueError, r"learning_rates\[1\]"),
        ({"seeds": ["a"]}, TypeError, r"seeds\[0\]"),
        ({"steps": 0}, ValueError, "steps"),
        ({"record_every": 1.5}, TypeError, "record_every"),
        ({"optimizer": "rmsprop"}, ValueError, "optimizer"),
        ({"bias_init": "low"}, TypeError, "bias_init"),
        ({"bias_init": math.nan}, ValueError, "bias_init"),
    ],
)
def test_train_shallow_rejects_bad_arguments(kwargs, error, text):
    arguments = {"activation": "relu", "x": torch.zeros(4, 1), "y": torch.zeros(4, 1), "steps": 1}
    arguments.update(kwargs)
    activation, x, y = arguments.pop("activation"), arguments.pop("x"), arguments.pop("y")
    with pytest.raises(error, match=text):
        train_shallow(activation, x, y, **arguments)


# --- timings ----------------------------------------------------------------------------------


def test_time_callable_measures_blocks_of_calls():
    calls = []
    timing = time_callable(lambda: calls.append(1), **FAST)
    assert isinstance(timing, Timing)
    assert timing.median > 0 and timing.iqr >= 0
    assert timing.blocks >= 1 and timing.calls_per_block >= 1
    # Three warm-up calls, the block-size estimate, then the timed blocks.
    assert len(calls) >= 3 + timing.blocks * timing.calls_per_block


def test_time_callable_takes_at_least_four_blocks_when_time_allows():
    data = torch.ones(20_000)
    timing = time_callable(lambda: torch.exp(data), min_run_time=0.01, max_run_time=0.5)
    assert timing.blocks >= 4


def test_time_callable_orders_cheap_and_expensive_work():
    small, large = torch.ones(10), torch.ones(200_000)
    cheap = time_callable(lambda: small.sum(), **FAST)
    dear = time_callable(lambda: torch.exp(large), **FAST)
    assert dear.median > cheap.median


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "text"),
    [
        ((42,), {}, TypeError, "fn must be callable"),
        ((print,), {"min_run_time": 0.0}, ValueError, "min_run_time"),
        ((print,), {"min_run_time": 0.2, "max_run_time": 0.1}, ValueError, "max_run_time"),
        ((print,), {"max_run_time": "1"}, TypeError, "max_run_time"),
    ],
)
def test_time_callable_rejects_bad_arguments(args, kwargs, error, text):
    with pytest.raises(error, match=text):
        time_callable(*args, **kwargs)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("backward", [False, True])
def test_time_activation_returns_a_timing(activation, backward):
    timing = time_activation(activation, 1000, backward=backward, **FAST)
    assert isinstance(timing, Timing) and timing.median > 0


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"activation": "tanh"}, ValueError, "activation"),
        ({"size": 0}, ValueError, "size"),
        ({"backward": 1}, TypeError, "backward"),
        ({"dtype": torch.int32}, ValueError, "dtype"),
        ({"seed": -2}, ValueError, "seed"),
    ],
)
def test_time_activation_rejects_bad_arguments(kwargs, error, text):
    arguments = {"activation": "relu", "size": 10, **kwargs}
    with pytest.raises(error, match=text):
        time_activation(arguments.pop("activation"), arguments.pop("size"), **arguments, **FAST)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_time_training_step_leaves_the_global_generator_alone(activation):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    timing = time_training_step(activation, width=8, depth=1, batch=4, n_features=3, **FAST)
    assert isinstance(timing, Timing) and timing.median > 0
    assert torch.equal(torch.rand(3), expected), "time_training_step changed the global RNG"


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"activation": "tanh"}, ValueError, "activation"),
        ({"depth": 0}, ValueError, "depth"),
        ({"width": 2.5}, TypeError, "width"),
        ({"batch": True}, TypeError, "batch"),
    ],
)
def test_time_training_step_rejects_bad_arguments(kwargs, error, text):
    arguments = {"activation": "relu", **kwargs}
    with pytest.raises(error, match=text):
        time_training_step(arguments.pop("activation"), **arguments, **FAST)


# --- fit_poisson ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def counts_data():
    return poisson_data(300, seed=0)


def test_fit_poisson_records_the_exact_negative_log_likelihood(counts_data):
    x, counts, _ = counts_data
    fits = {link: fit_poisson(x, counts, link, learning_rate=0.05, steps=3) for link in LINKS}
    mean = sum(counts.tolist()) / len(counts)
    # Every link starts from the rate `mean` for every input.
    want = sum(mean - k * math.log(mean) + math.lgamma(k + 1) for k in counts.tolist()) / len(
        counts
    )
    for link, fit in fits.items():
        assert isinstance(fit, PoissonFit) and fit.link == link and fit.learning_rate == 0.05
        assert fit.nll.shape == (4,) and fit.weights.shape == (3,) and fit.finite
        assert abs(float(fit.nll[0]) - want) <= 1e-12 * want, (link, fit.nll[0], want)
        assert fit.nll[-1] < fit.nll[0], f"{link}: three small steps should lower the loss"


def test_fit_poisson_exp_link_reaches_the_maximum_likelihood(counts_data):
    x, counts, rate = counts_data
    fit = fit_poisson(x, counts, "exp", learning_rate=0.1, steps=300)
    true_nll = float((rate - counts * torch.log(rate) + torch.lgamma(counts + 1)).mean())
    assert fit.nll[-1] <= true_nll, "the fitted rates should beat the true ones on these data"
    eta = x @ torch.tensor(fit.weights) + fit.bias
    grad_bias = float((torch.exp(eta) - counts).mean())  # 0 at the maximum likelihood
    assert abs(grad_bias) < 1e-8


def test_fit_poisson_large_steps(counts_data):
    """Gradient descent with the exp link blows up at large steps; Softplus stays finite."""
    x, counts, _ = counts_data
    exp_fit = fit_poisson(x, counts, "exp", learning_rate=3.0, steps=30)
    soft_fit = fit_poisson(x, counts, "softplus", learning_rate=1.0, steps=30)
    relu_fit = fit_poisson(x, counts, "relu", learning_rate=3.0, steps=30)
    assert not exp_fit.finite and math.isnan(exp_fit.nll[-1])
    assert soft_fit.finite and soft_fit.nll[-1] < soft_fit.nll[0]
    assert not relu_fit.finite and np.isinf(relu_fit.nll).any(), "a rate of 0 gives inf"


@pytest.mark.parametrize(
    ("change", "error", "text"),
    [
        ({"x": np.zeros((3, 1))}, TypeError, "x must be a torch.Tensor"),
        ({"counts": [1.0, 2.0, 3.0]}, TypeError, "counts must be a torch.Tensor"),
        ({"counts": torch.tensor([1.0, 2.0])}, ValueError, r"counts must have shape \(3,\)"),
        ({"counts": torch.tensor([1.0, -1.0, 2.0])}, ValueError, "non-negative whole"),
        ({"counts": torch.tensor([1.0, 1.5, 2.0])}, ValueError, "non-negative whole"),
        ({"counts": torch.zeros(3)}, ValueError, "must not all be 0"),
        ({"link": "identity"}, ValueError, "link"),
        ({"learning_rate": -1.0}, ValueError, "learning_rate"),
        ({"steps": 0}, ValueError, "steps"),
    ],
)
def test_fit_poisson_rejects_bad_arguments(change, error, text):
    arguments = {
        "x": torch.zeros(3, 1, dtype=torch.float64),
        "counts": torch.tensor([1.0, 0.0, 2.0]),
        "link": "softplus",
        "learning_rate": 0.1,
        "steps": 2,
        **change,
    }
    with pytest.raises(error, match=text):
        fit_poisson(arguments.pop("x"), arguments.pop("counts"), arguments.pop("link"), **arguments)


# --- fit_lbfgs --------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_fit_lbfgs_lowers_the_loss(small_data, activation):
    x, y = small_data
    fit = fit_lbfgs(activation, x, y, hidden=4, seed=2, max_iter=15)
    assert isinstance(fit, LBFGSFit) and fit.activation == activation and fit.seed == 2
    assert fit.evaluations == len(fit.loss) >= 2
    assert 1 <= fit.iterations <= 15
    assert fit.final_loss < 0.5 * float(fit.loss[0])
    again = fit_lbfgs(activation, x, y, hidden=4, seed=2, max_iter=15)
    assert again.loss.tolist() == fit.loss.tolist(), "not deterministic"


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"activation": "sigmoid"}, ValueError, "activation"),
        ({"hidden": 0}, ValueError, "hidden"),
        ({"max_iter": 0}, ValueError, "max_iter"),
        ({"history_size": 2.0}, TypeError, "history_size"),
        ({"seed": None}, TypeError, "seed"),
        ({"y": torch.zeros(5, 1, dtype=torch.float64)}, ValueError, "as many rows"),
    ],
)
def test_fit_lbfgs_rejects_bad_arguments(small_data, kwargs, error, text):
    x, y = small_data
    arguments = {"activation": "relu", "x": x, "y": y, **kwargs}
    with pytest.raises(error, match=text):
        fit_lbfgs(arguments.pop("activation"), arguments.pop("x"), arguments.pop("y"), **arguments)


# --- the second edition of lesson 09: depth, held-out loss, statistics, interleaved timing ----


def test_new_activations_are_the_torch_functions():
    z = torch.linspace(-3.0, 3.0, 13, dtype=torch.float64)
    expected = {
        "leaky_relu": torch.where(z > 0, z, 0.01 * z),
        "elu": torch.where(z > 0, z, torch.expm1(z)),
        "gelu": 0.5 * z * (1 + torch.erf(z / math.sqrt(2.0))),
        "silu": z * torch.sigmoid(z),
        "mish": z * torch.tanh(torch.nn.functional.softplus(z)),
    }
    assert set(SMOOTH_RELUS) == set(expected) and set(SMOOTH_RELUS) < set(ACTIVATIONS)
    for name, want in expected.items():
        assert torch.allclose(ACTIVATIONS[name](z), want, rtol=1e-12, atol=1e-14), name


def test_kinked_target_is_a_triangle_wave_plus_half_x():
    x = torch.tensor([-2.0, -1.0, 0.0, 0.5, 1.0, 2.0], dtype=torch.float64)
    assert kinked_target(x).tolist() == pytest.approx([0.0, -1.5, 1.0, 0.25, -0.5, 2.0])
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        kinked_target([0.0])


def test_parameter_count_and_matched_widths():
    assert parameter_count([8]) == 25 and parameter_count([32]) == 97
    assert parameter_count([8, 8]) == 97 and parameter_count([5, 5, 5, 5]) == 106
    assert parameter_count([3], n_inputs=2) == 13
    assert matched_widths(1, 97) == (32,) and matched_widths(2, 97) == (8, 8)
    assert matched_widths(4, 97) == (5, 5, 5, 5)
    with pytest.raises(ValueError, match="depth"):
        matched_widths(0, 97)
    with pytest.raises(TypeError, match="widths"):
        parameter_count(8)


def test_train_mlp_one_layer_equals_train_shallow(small_data):
    x, y = small_data
    kwargs = {"learning_rates": [0.01, 0.1], "seeds": [0, 5], "steps": 12, "record_every": 4}
    shallow = train_shallow("relu", x, y, hidden=5, **kwargs)
    mlp = train_mlp("relu", x, y, widths=(5,), **kwargs)
    assert mlp.loss.tolist() == shallow.loss.tolist()
    assert mlp.off_fraction.tolist() == shallow.off_fraction.tolist()
    assert mlp.widths == (5,) and mlp.test_loss is None
    assert mlp.units_off().tolist() == np.round(shallow.off_fraction[-1] * 5).tolist()
    # train_shallow is train_mlp's one-layer case, so its runs know their widths too.
    assert shallow.widths == (5,) and shallow.units_off().tolist() == mlp.units_off().tolist()
    with pytest.raises(ValueError, match="widths"):
        dataclasses.replace(shallow, widths=()).units_off()  # runs that did not record them


def test_train_mlp_deep_records_held_out_loss(small_data):
    x, y = small_data
    x_test, y_test = regression_data(16, seed=9)
    runs = train_mlp(
        "gelu", x, y, widths=(4, 3), learning_rates=[0.05], seeds=[1, 2, 3], steps=6,
        record_every=3, x_test=x_test, y_test=y_test,
    )  # fmt: skip
    assert runs.loss.shape == runs.test_loss.shape == runs.off_fraction.shape == (3, 3)
    # Seven hidden units over two layers: the off fraction is a multiple of 1/7.
    assert bool(np.all(np.isclose(runs.off_fraction * 7, np.round(runs.off_fraction * 7))))
    # The held-out loss before training is that of the initial network on the test data.
    gen = torch.Generator().manual_seed(1)
    params, fan_in = [], 1
    for width in (4, 3, 1):
        bound = 1.0 / math.sqrt(fan_in)
        w = (2.0 * torch.rand(fan_in, width, generator=gen, dtype=torch.float64) - 1.0) * bound
        b = (2.0 * torch.rand(1, width, generator=gen, dtype=torch.float64) - 1.0) * bound
        params += [w, b]
        fan_in = width
    h = x_test
    for i in (0, 2):
        h = torch.nn.functional.gelu(h @ params[i] + params[i + 1])
    want = float(((h @ params[4] + params[5] - y_test) ** 2).mean())
    assert runs.test_loss[0, 0] == pytest.approx(want, rel=1e-12)
    with pytest.raises(ValueError, match="both x_test and y_test"):
        train_mlp("relu", x, y, x_test=x_test)
    with pytest.raises(ValueError, match="activation"):
        train_mlp("tanh", x, y)


def test_compare_runs_paired_exact_and_sampled():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    c = compare_runs(a, 2 * a, paired=True)
    # All four log-ratios equal: only the two all-same-sign flips reach the observed mean.
    assert isinstance(c, Comparison) and c.exact and c.p_value == pytest.approx(2 / 16)
    assert c.a_lower == 1.0 and c.median_a == 2.5 and c.median_b == 5.0
    assert c.quartiles_a == pytest.approx((1.75, 3.25))
    big = compare_runs(np.arange(1.0, 41.0), np.arange(1.0, 41.0) * 1.5, paired=True)
    assert not big.exact and big.p_value == pytest.approx(1 / 20_001)
    same = compare_runs(a, a, paired=True)
    assert same.p_value == 1.0 and same.a_lower == 0.0
    assert "p = " in str(c)
    with pytest.raises(ValueError, match="as many"):
        compare_runs(a, a[:3], paired=True)
    with pytest.raises(ValueError, match="positive"):
        compare_runs([0.0, 1.0], [1.0, 1.0], paired=True)


def test_compare_runs_unpaired():
    c = compare_runs([1.0, 2.0], [3.0, 4.0, 5.0], paired=False)
    # C(5, 2) = 10 relabellings, all enumerated; only the observed one and its mirror (a and
    # b swapped is a different split here, so just one) are as extreme.
    assert c.exact and c.a_lower == 1.0
    assert c.p_value == pytest.approx(1 / 10)
    d = compare_runs(np.arange(1.0, 21.0), np.arange(1.0, 21.0), paired=False)
    assert not d.exact and d.p_value > 0.9 and d.a_lower == pytest.approx(0.5)


def test_rank_correlation():
    rho, p = rank_correlation([0, 1, 2, 3, 4, 5], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], resamples=2000)
    assert rho == pytest.approx(1.0) and p < 0.01
    rho, _ = rank_correlation([0, 0, 1, 1], [4.0, 3.0, 2.0, 1.0], resamples=100)
    assert rho == pytest.approx(-math.sqrt(0.8))
    with pytest.raises(ValueError, match="same length"):
        rank_correlation([1, 2, 3], [1, 2])


def test_activation_and_training_step_callables_run():
    for name in ACTIVATIONS:
        activation_callable(name, 10)()
        activation_callable(name, 10, backward=True)()
    step = training_step_callable("mish", width=4, depth=1, batch=3, n_features=2)
    step()
    with pytest.raises(ValueError, match="activation"):
        activation_callable("tanh", 10)


def test_time_interleaved_alternates_and_orders_work():
    cheap = torch.ones(10)
    dear = torch.ones(200_000)
    t = time_interleaved(
        {"cheap": lambda: cheap.sum(), "dear": lambda: torch.exp(dear)}, rounds=4,
        block_time=0.002,
    )  # fmt: skip
    assert isinstance(t, InterleavedTimings)
    assert set(t.times) == {"cheap", "dear"} and all(v.shape == (4,) for v in t.times.values())
    assert t.median("dear") > t.median("cheap") and t.iqr("cheap") >= 0
    assert bool(np.all(t.ratios("dear", "cheap") > 1))
    with pytest.raises(TypeError, match="fns"):
        time_interleaved({})


@pytest.mark.parametrize(
    ("ratios", "text"),
    [
        ([0.95, 1.0, 1.05, 1.1], "within the noise"),
        ([0.6, 0.8, 0.85, 0.9], "FASTER"),
        ([1.02, 1.04, 1.05, 1.06], "below the claimed 10 to 20 %"),
        ([1.12, 1.14, 1.15, 1.18], "inside the claimed"),
        ([1.3, 1.4, 1.5, 1.6], "above the claimed"),
        ([1.05, 1.1, 1.15, 1.2], "overlapping the claimed"),
    ],
)
def test_ratio_verdict(ratios, text):
    assert text in ratio_verdict(ratios)


def test_ratio_verdict_rejects_bad_ratios():
    with pytest.raises(ValueError, match="positive"):
        ratio_verdict([1.0, -1.0])


def test_fused_addmm_activations_offers_relu_and_gelu_not_softplus():
    offered = fused_addmm_activations()
    assert set(offered) == set(ACTIVATIONS)
    assert offered["relu"] and offered["gelu"] and not offered["softplus"]


def test_fit_lbfgs_records_the_held_out_loss(small_data):
    x, y = small_data
    x_test, y_test = regression_data(8, seed=4)
    fit = fit_lbfgs("softplus", x, y, hidden=3, seed=0, max_iter=5, x_test=x_test, y_test=y_test)
    assert fit.test_loss is not None and fit.test_loss > 0
    assert fit_lbfgs("relu", x, y, hidden=3, seed=0, max_iter=5).test_loss is None
    with pytest.raises(ValueError, match="both x_test and y_test"):
        fit_lbfgs("relu", x, y, x_test=x_test)
