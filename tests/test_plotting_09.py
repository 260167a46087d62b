"""Tests for softplus_course.plotting.plot_runs (added for lesson 09)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from softplus_course.plotting import plot_runs  # noqa: E402

STEPS = np.arange(5)
RELU = np.array(
    [[1.0, 3.0, 2.0], [0.5, 2.0, 1.0], [0.4, 1.0, 0.8], [0.3, 0.9, 0.2], [0.2, 0.1, 0.3]]
)


@pytest.fixture(autouse=True)
def _close_figures():
    plt.close("all")
    yield
    plt.close("all")


def test_each_label_gets_its_runs_and_a_median_in_one_colour():
    soft = RELU[:, :2] * 0.5
    ax = plot_runs(STEPS, {"relu": RELU, "softplus": soft}, ylabel="loss", title="runs")
    assert isinstance(ax, Axes)
    lines = ax.get_lines()
    assert len(lines) == (1 + 3) + (1 + 2)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["relu (median of 3)", "softplus (median of 2)"]
    median_relu = lines[0]
    assert np.asarray(median_relu.get_ydata()).tolist() == np.median(RELU, axis=1).tolist()
    assert all(line.get_color() == median_relu.get_color() for line in lines[1:4])
    assert lines[4].get_color() != median_relu.get_color()
    assert [np.asarray(line.get_ydata()).tolist() for line in lines[1:4]] == RELU.T.tolist()
    assert ax.get_xlabel() == "step" and ax.get_ylabel() == "loss" and ax.get_title() == "runs"
    assert ax.get_yscale() == "linear"


def test_one_run_as_a_1d_array_and_log_axis_on_given_axes():
    _, given = plt.subplots()
    ax = plot_runs(STEPS, {"one": RELU[:, 0]}, ax=given, logy=True, xlabel="iteration")
    assert ax is given
    assert len(ax.get_lines()) == 1
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["one (median of 1)"]
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "iteration"


@pytest.mark.parametrize(
    ("steps", "runs", "error", "text"),
    [
        (STEPS, {}, ValueError, "runs must be a non-empty mapping"),
        (STEPS, [RELU], ValueError, "runs must be a non-empty mapping"),
        (STEPS, {"a": RELU[:4]}, ValueError, r"runs 'a' must have shape \(5, n_runs\)"),
        (STEPS, {"a": np.zeros((5, 0))}, ValueError, "runs 'a' must have shape"),
        (STEPS, {"a": np.zeros((5, 2, 2))}, ValueError, "runs 'a' must have shape"),
        (STEPS, {"a": None}, TypeError, "runs 'a' must be an array of numbers"),
        (STEPS, {"a": [["x"] * 2] * 5}, TypeError, "runs 'a' must be an array of numbers"),
        ([0.0], {"a": [1.0]}, ValueError, "steps must be a 1-D array with at least 2 points"),
        ("abc", {"a": RELU}, TypeError, "steps must be a 1-D array of numbers"),
    ],
)
def test_bad_arguments_are_named(steps, runs, error, text):
    with pytest.raises(error, match=text):
        plot_runs(steps, runs)


def test_ax_must_be_axes():
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        plot_runs(STEPS, {"a": RELU}, ax="left")
