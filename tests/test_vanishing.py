"""Tests for softplus_course.vanishing: the one-unit experiments of lesson 08.

Every test runs small configurations: the whole file takes a few seconds on one CPU core.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from softplus_course.vanishing import (
    DTYPES,
    OPTIMIZERS,
    UnitRun,
    gd_update,
    largest_zero_input,
    steps_to_recover,
    train_unit,
    update_moves,
)

# --- gd_update --------------------------------------------------------------------------------


def test_gd_update_is_the_gradient_descent_step_of_the_unit():
    # (1 - ln 2) * sigma(0) * 2 * lr at z = 0
    assert gd_update(0.0, 0.5) == pytest.approx((1 - math.log(2.0)) / 2, rel=1e-15)
    # for very negative z: 2 lr e^z
    assert gd_update(-30.0, 0.1) == pytest.approx(0.2 * math.exp(-30.0), rel=1e-12)
    # the same number autograd gives for dL/dw, times the learning rate
    w = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(-4.5, dtype=torch.float64, requires_grad=True)
    ((torch.nn.functional.softplus(w + b) - 1.0) ** 2).backward()
    assert gd_update(-3.5, 0.3) == pytest.approx(-0.3 * w.grad.item(), rel=1e-14)
    assert gd_update(1.0, 0.5) < 0  # above ln(e - 1) the output is above the target


@pytest.mark.parametrize(
    ("args", "error", "word"),
    [
        (("a", 0.1), TypeError, "z"),
        ((True, 0.1), TypeError, "z"),
        ((math.nan, 0.1), ValueError, "z"),
        ((-1.0, 0.0), ValueError, "learning_rate"),
        ((-1.0, -0.1), ValueError, "learning_rate"),
        ((-1.0, None), TypeError, "learning_rate"),
    ],
)
def test_gd_update_rejects_bad_arguments(args, error, word):
    with pytest.raises(error, match=word):
        gd_update(*args)


# --- steps_to_recover ---------------------------------------------------------------------------


def test_steps_to_recover_counts_the_steps_of_the_loop():
    assert steps_to_recover(-3.0, 0.5) == 7
    assert steps_to_recover(-6.0, 0.5) == 82
    assert steps_to_recover(0.0, 0.5) == 0  # starts at z = 1
    assert steps_to_recover(-1.0, 0.5) == 0  # z = 0 counts as recovered
    # grows like e^|b0| / (4 lr)
    n = steps_to_recover(-12.0, 0.5)
    assert n == pytest.approx(math.exp(11.0) / 2.0, rel=1e-3)
    assert steps_to_recover(-12.0, 0.5, w0=0.0) > n  # z0 = b0 when w0 = 0


def test_steps_to_recover_gives_up_after_max_steps():
    assert steps_to_recover(-12.0, 0.5, max_steps=100) is None


@pytest.mark.parametrize(
    ("kwargs", "error", "word"),
    [
        ({"b0": "x"}, TypeError, "b0"),
        ({"b0": math.inf}, ValueError, "b0"),
        ({"learning_rate": 0.0}, ValueError, "learning_rate"),
        ({"w0": math.nan}, ValueError, "w0"),
        ({"max_steps": 0}, ValueError, "max_steps"),
        ({"max_steps": 10.0}, TypeError, "max_steps"),
    ],
)
def test_steps_to_recover_rejects_bad_arguments(kwargs, error, word):
    args = {"b0": -3.0, "learning_rate": 0.5, **kwargs}
    with pytest.raises(error, match=word):
        steps_to_recover(**args)


# --- train_unit ---------------------------------------------------------------------------------


def test_train_unit_in_float64_agrees_with_the_plain_loop():
    run = train_unit(-6.0, 0.5, 100, dtype=torch.float64)
    assert isinstance(run, UnitRun)
    assert run.recovered_at == steps_to_recover(-6.0, 0.5) == 82
    assert run.z.shape == (101,)
    assert run.z[0] == -5.0 and run.z[-1] > 0
    assert run.w + run.b == pytest.approx(run.z[-1])


def test_train_unit_float32_gradient_descent_is_frozen_far_left():
    run = train_unit(-20.0, 0.1, 50)
    assert run.recovered_at is None
    assert np.all(run.z == -19.0)


def test_train_unit_adam_revives_a_unit_that_gradient_descent_cannot():
    run = train_unit(-20.0, 0.1, 300, optimizer="adam")
    assert run.recovered_at is not None and run.recovered_at < 300
    slow = train_unit(-32.0, 0.1, 50, optimizer="adam", eps=1e-8)
    assert slow.recovered_at is None


def test_train_unit_in_bfloat16_rounds_its_updates_away():
    assert train_unit(-5.0, 0.1, 20, dtype=torch.bfloat16).recovered_at is None
    assert train_unit(0.0, 0.1, 3, dtype=torch.float16).recovered_at == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "word"),
    [
        ({"steps": 0}, ValueError, "steps"),
        ({"dtype": "float32"}, TypeError, "dtype"),
        ({"dtype": torch.int32}, ValueError, "dtype"),
        ({"optimizer": "lbfgs"}, ValueError, "optimizer"),
        ({"optimizer": 1}, TypeError, "optimizer"),
        ({"eps": 0.0}, ValueError, "eps"),
        ({"learning_rate": -1.0}, ValueError, "learning_rate"),
    ],
)
def test_train_unit_rejects_bad_arguments(kwargs, error, word):
    args = {"b0": -3.0, "learning_rate": 0.1, "steps": 5, **kwargs}
    with pytest.raises(error, match=word):
        train_unit(**args)


def test_constants():
    assert torch.float32 in DTYPES and torch.bfloat16 in DTYPES
    assert OPTIMIZERS == ("sgd", "adam")


# --- update_moves -------------------------------------------------------------------------------


def test_update_moves_finds_the_float32_edge():
    # the weight's edge at lr 0.1 is ln(2^-23 / 0.4) = -15.026
    assert update_moves(-15.0, 0.1) == (True, False)
    assert update_moves(-15.06, 0.1) == (False, False)
    assert update_moves(-10.0, 0.1) == (True, True)
    assert update_moves(-20.0, 0.1, dtype=torch.float64) == (True, True)
    # a weight of 8: the gap is 8 times wider, the edge ln 8 further right
    assert update_moves(-13.0, 0.1, w=8.0) == (False, False)


@pytest.mark.parametrize(
    ("kwargs", "error", "word"),
    [
        ({"z": "a"}, TypeError, "z"),
        ({"w": math.inf}, ValueError, "w"),
        ({"learning_rate": 0}, ValueError, "learning_rate"),
        ({"dtype": np.float32}, TypeError, "dtype"),
    ],
)
def test_update_moves_rejects_bad_arguments(kwargs, error, word):
    args = {"z": -10.0, "learning_rate": 0.1, **kwargs}
    with pytest.raises(error, match=word):
        update_moves(**args)


# --- largest_zero_input -------------------------------------------------------------------------


def test_largest_zero_input():
    x = np.array([-3.0, -2.0, -1.0, 0.0])
    assert largest_zero_input(x, np.array([0.0, 0.0, 0.5, 0.7])) == -2.0
    assert largest_zero_input(x, np.array([0.1, 0.2, 0.5, 0.7])) is None
    grid = torch.arange(-110.0, -100.0, 0.01)
    edge = largest_zero_input(grid, torch.nn.functional.softplus(grid))
    assert -104.0 < edge < -102.0


@pytest.mark.parametrize(
    ("x", "values", "error", "word"),
    [
        (np.zeros((2, 2)), np.zeros((2, 2)), ValueError, "1-D"),
        (np.zeros(3), np.zeros(2), ValueError, "values"),
        (["a", "b"], [0.0, 1.0], TypeError, "real numbers"),
    ],
)
def test_largest_zero_input_rejects_bad_arguments(x, values, error, word):
    with pytest.raises(error, match=word):
        largest_zero_input(x, values)
