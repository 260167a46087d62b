"""Tests for softplus_course.plotting: the plot helpers and the course style."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.colors import to_hex, to_rgba  # noqa: E402

from softplus_course.plotting import (  # noqa: E402
    STYLE_PATH,
    plot_errors,
    plot_family,
    plot_functions,
    plot_with_derivative,
    use_style,
)

X = np.linspace(-3.0, 3.0, 13)


def relu(x):
    return np.maximum(x, 0.0)


def softplus(x):
    return np.log1p(np.exp(x))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def scaled_softplus(x, beta):
    return np.log1p(np.exp(beta * x)) / beta


@pytest.fixture(autouse=True)
def _close_figures():
    plt.close("all")
    yield
    plt.close("all")


@pytest.fixture
def restore_rc():
    with matplotlib.rc_context():
        yield


def legend_labels(ax: Axes) -> list[str]:
    legend = ax.get_legend()
    assert legend is not None, "the axes has no legend"
    return [t.get_text() for t in legend.get_texts()]


def line_labels(ax: Axes) -> list[str]:
    return [line.get_label() for line in ax.get_lines()]


def assert_line_data(line, x, y) -> None:
    np.testing.assert_array_equal(np.asarray(line.get_xdata(), dtype=float), x)
    np.testing.assert_allclose(np.asarray(line.get_ydata(), dtype=float), y, rtol=0, atol=0)


def new_axes() -> Axes:
    _, ax = plt.subplots()
    return ax


# --- STYLE_PATH and use_style ---------------------------------------------------------------


def test_style_path_exists_and_is_an_mplstyle_file():
    assert STYLE_PATH.is_file()
    assert STYLE_PATH.suffix == ".mplstyle"
    assert STYLE_PATH.parent.name == "softplus_course"


def test_use_style_changes_rcparams(restore_rc):
    matplotlib.rcParams["axes.grid"] = False
    matplotlib.rcParams["lines.linewidth"] = 1.0
    matplotlib.rcParams["legend.frameon"] = True
    assert use_style() is None
    assert matplotlib.rcParams["axes.grid"] is True
    assert matplotlib.rcParams["lines.linewidth"] == 2.0
    assert matplotlib.rcParams["legend.frameon"] is False
    assert matplotlib.rcParams["axes.spines.top"] is False
    assert matplotlib.rcParams["axes.spines.right"] is False
    colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    assert to_hex(colors[0]).lower() == "#0072b2"
    assert to_hex(colors[1]).lower() == "#d55e00"
    assert len(colors) == 8


def test_use_style_first_line_uses_first_cycle_colour(restore_rc):
    use_style()
    ax = plot_functions(X, {"ReLU": relu})
    assert to_hex(ax.get_lines()[0].get_color()).lower() == "#0072b2"
    ax.figure.canvas.draw()
    assert all(line.get_visible() for line in ax.xaxis.get_gridlines())


def test_without_use_style_grid_is_off(restore_rc):
    # Guards the test above: the grid comes from the course style, not from the default.
    matplotlib.rcdefaults()
    ax = plot_functions(X, {"ReLU": relu})
    ax.figure.canvas.draw()
    assert not any(line.get_visible() for line in ax.xaxis.get_gridlines())
    assert to_hex(ax.get_lines()[0].get_color()).lower() != "#0072b2"


# --- plot_functions -------------------------------------------------------------------------


def test_plot_functions_returns_new_axes_when_ax_is_none():
    before = plt.get_fignums()
    ax = plot_functions(X, {"ReLU": relu})
    assert isinstance(ax, Axes)
    assert len(plt.get_fignums()) == len(before) + 1


def test_plot_functions_draws_on_given_ax_and_returns_it():
    ax = new_axes()
    n_figs = len(plt.get_fignums())
    result = plot_functions(X, {"ReLU": relu}, ax=ax)
    assert result is ax
    assert len(plt.get_fignums()) == n_figs


def test_plot_functions_line_data_for_callables_and_arrays():
    values = np.tanh(X)
    ax = plot_functions(X, {"ReLU": relu, "softplus": softplus, "tanh": values, "list": list(X)})
    lines = ax.get_lines()
    assert len(lines) == 4
    assert_line_data(lines[0], X, relu(X))
    assert_line_data(lines[1], X, softplus(X))
    assert_line_data(lines[2], X, values)
    assert_line_data(lines[3], X, X)


def test_plot_functions_calls_each_function_once_with_the_whole_grid():
    calls = []

    def spy(x):
        calls.append(np.array(x))
        return x * 2

    plot_functions(X, {"spy": spy})
    assert len(calls) == 1
    np.testing.assert_array_equal(calls[0], X)


def test_plot_functions_accepts_list_grid_as_float_array():
    ax = plot_functions([0, 1, 2], {"sq": lambda t: t**2})
    assert_line_data(ax.get_lines()[0], [0.0, 1.0, 2.0], [0.0, 1.0, 4.0])


def test_plot_functions_labels_legend_and_title():
    ax = plot_functions(
        X, {"b": relu, "a": softplus, "c": sigmoid}, title="Three", xlabel="input", ylabel="out"
    )
    assert ax.get_xlabel() == "input"
    assert ax.get_ylabel() == "out"
    assert ax.get_title() == "Three"
    assert legend_labels(ax) == ["b", "a", "c"]
    assert line_labels(ax) == ["b", "a", "c"]


def test_plot_functions_default_labels_and_no_title():
    ax = plot_functions(X, {"ReLU": relu})
    assert ax.get_xlabel() == "x"
    assert ax.get_ylabel() == "f(x)"
    assert ax.get_title() == ""


def test_plot_functions_default_style_is_solid():
    ax = plot_functions(X, {"ReLU": relu, "softplus": softplus})
    assert [line.get_linestyle() for line in ax.get_lines()] == ["-", "-"]


def test_plot_functions_styles_apply_linestyle_and_colour():
    ax = plot_functions(X, {"ReLU": relu, "softplus": softplus}, styles={"ReLU": ":k"})
    relu_line, softplus_line = ax.get_lines()
    assert relu_line.get_linestyle() == ":"
    assert to_rgba(relu_line.get_color()) == to_rgba("black")
    assert softplus_line.get_linestyle() == "-"
    handles = ax.get_legend().legend_handles
    assert handles[0].get_linestyle() == ":"


def test_plot_functions_adds_to_existing_lines_on_ax():
    ax = new_axes()
    plot_functions(X, {"ReLU": relu}, ax=ax)
    plot_functions(X, {"softplus": softplus}, ax=ax)
    assert line_labels(ax) == ["ReLU", "softplus"]
    assert legend_labels(ax) == ["ReLU", "softplus"]


@pytest.mark.parametrize(
    "x",
    [np.zeros((3, 3)), np.array([1.0]), np.array([]), 2.0, [[0.0, 1.0]]],
    ids=["2-D", "one point", "empty", "scalar", "nested"],
)
def test_plot_functions_bad_grid_is_value_error_naming_x(x):
    with pytest.raises(ValueError, match=r"\bx must be a 1-D array"):
        plot_functions(x, {"ReLU": relu})


@pytest.mark.parametrize("x", [["a", "b"], "abc", [object(), object()], None])
def test_plot_functions_non_numeric_grid_is_type_error_naming_x(x):
    with pytest.raises(TypeError, match=r"\bx must be a 1-D array of numbers"):
        plot_functions(x, {"ReLU": relu})


@pytest.mark.parametrize(
    "curve",
    [np.zeros(5), lambda x: 1.0, lambda x: np.zeros((len(x), 2)), list(range(3))],
    ids=["short array", "scalar function", "2-D function", "short list"],
)
def test_plot_functions_curve_of_wrong_shape_is_value_error_naming_label(curve):
    with pytest.raises(ValueError, match="curve 'bad one' has shape"):
        plot_functions(X, {"ok": relu, "bad one": curve})


@pytest.mark.parametrize(
    "curve",
    [["a"] * len(X), lambda x: "text", lambda x: None, None, lambda x: {"a": 1}],
    ids=["strings", "text", "missing return", "None", "dict"],
)
def test_plot_functions_non_numeric_curve_is_type_error_naming_label(curve):
    with pytest.raises(TypeError, match="curve 'bad' must give numbers"):
        plot_functions(X, {"bad": curve})


def test_plot_functions_bad_curve_leaves_given_ax_untouched():
    ax = new_axes()
    with pytest.raises(ValueError, match="'bad'"):
        plot_functions(X, {"ok": relu, "bad": np.zeros(2)}, ax=ax)
    assert ax.get_lines() == []
    assert ax.get_legend() is None


def test_plot_functions_bad_curve_creates_no_figure():
    before = plt.get_fignums()
    with pytest.raises(ValueError):
        plot_functions(X, {"ok": relu, "bad": np.zeros(2)})
    with pytest.raises(TypeError):
        plot_functions(X, {"ok": relu, "bad": lambda x: "text"})
    assert plt.get_fignums() == before


def test_plot_functions_error_in_function_propagates():
    def broken(x):
        raise ZeroDivisionError("boom")

    with pytest.raises(ZeroDivisionError, match="boom"):
        plot_functions(X, {"broken": broken})


@pytest.mark.parametrize("ax", ["axes", 1, plt, object()])
def test_plot_functions_ax_of_wrong_type_is_type_error(ax):
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        plot_functions(X, {"ReLU": relu}, ax=ax)


def test_plot_functions_figure_instead_of_axes_is_type_error():
    fig, _ = plt.subplots()
    with pytest.raises(TypeError, match="got Figure"):
        plot_functions(X, {"ReLU": relu}, ax=fig)


@pytest.mark.parametrize("curves", [{}, [], None, [("ReLU", relu)]])
def test_plot_functions_empty_or_non_mapping_curves_is_value_error(curves):
    with pytest.raises(ValueError, match="curves must be a non-empty mapping"):
        plot_functions(X, curves)


def test_plot_functions_styles_naming_unknown_curve_is_value_error():
    with pytest.raises(ValueError, match=r"styles names curves that are not plotted: \['GELU'\]"):
        plot_functions(X, {"ReLU": relu}, styles={"GELU": "--", "ReLU": ":"})


# --- plot_with_derivative -------------------------------------------------------------------


def test_plot_with_derivative_draws_function_and_dashed_derivative():
    ax = plot_with_derivative(softplus, sigmoid, X, name="softplus", title="d/dx")
    assert isinstance(ax, Axes)
    f_line, df_line = ax.get_lines()
    assert legend_labels(ax) == ["softplus(x)", "softplus'(x)"]
    assert_line_data(f_line, X, softplus(X))
    assert_line_data(df_line, X, sigmoid(X))
    assert f_line.get_linestyle() == "-"
    assert df_line.get_linestyle() == "--"
    assert ax.get_xlabel() == "x"
    assert ax.get_ylabel() == "value"
    assert ax.get_title() == "d/dx"


def test_plot_with_derivative_default_name():
    ax = plot_with_derivative(relu, lambda x: (x > 0).astype(float), X)
    assert legend_labels(ax) == ["f(x)", "f'(x)"]


def test_plot_with_derivative_draws_on_given_ax():
    ax = new_axes()
    assert plot_with_derivative(softplus, sigmoid, X, ax=ax) is ax
    assert len(ax.get_lines()) == 2


@pytest.mark.parametrize(
    ("f", "df"), [(np.zeros(13), sigmoid), (softplus, np.zeros(13)), (None, None)]
)
def test_plot_with_derivative_requires_callables(f, df):
    with pytest.raises(TypeError, match="f and df must be callables"):
        plot_with_derivative(f, df, X)


def test_plot_with_derivative_bad_inputs():
    with pytest.raises(ValueError, match=r"\bx must be"):
        plot_with_derivative(softplus, sigmoid, [1.0])
    with pytest.raises(ValueError, match='curve "f\'\\(x\\)" has shape'):
        plot_with_derivative(softplus, lambda x: x[:-1], X)
    with pytest.raises(TypeError, match="ax must be"):
        plot_with_derivative(softplus, sigmoid, X, ax="ax")


# --- plot_family ----------------------------------------------------------------------------


def test_plot_family_one_line_per_value_with_labels_and_data():
    betas = [0.5, 1, 2, 10]
    ax = plot_family(scaled_softplus, X, betas, title="family")
    assert isinstance(ax, Axes)
    assert legend_labels(ax) == ["β = 0.5", "β = 1", "β = 2", "β = 10"]
    for line, beta in zip(ax.get_lines(), betas, strict=True):
        assert_line_data(line, X, scaled_softplus(X, beta))
        assert line.get_linestyle() == "-"
    assert ax.get_xlabel() == "x"
    assert ax.get_ylabel() == "f(x)"
    assert ax.get_title() == "family"


def test_plot_family_reference_is_dashed_black_and_last():
    ax = plot_family(scaled_softplus, X, [1.0, 2.0], reference=("ReLU", relu))
    assert legend_labels(ax) == ["β = 1", "β = 2", "ReLU"]
    ref = ax.get_lines()[-1]
    assert ref.get_linestyle() == "--"
    assert to_rgba(ref.get_color()) == to_rgba("black")
    assert_line_data(ref, X, relu(X))
    for line in ax.get_lines()[:-1]:
        assert to_rgba(line.get_color()) != to_rgba("black")


def test_plot_family_param_name_ylabel_and_generator_values():
    ax = plot_family(lambda x, a: a * x, X, (a for a in (1.5, 3.0)), param="a", ylabel="a·x")
    assert legend_labels(ax) == ["a = 1.5", "a = 3"]
    assert ax.get_ylabel() == "a·x"
    assert_line_data(ax.get_lines()[1], X, 3.0 * X)


def test_plot_family_draws_on_given_ax():
    ax = new_axes()
    assert plot_family(scaled_softplus, X, [1.0], ax=ax) is ax
    assert len(ax.get_lines()) == 1


def test_plot_family_bad_inputs():
    with pytest.raises(TypeError, match="f must be a callable"):
        plot_family(np.zeros(13), X, [1.0])
    with pytest.raises(ValueError, match="values must name at least one"):
        plot_family(scaled_softplus, X, [])
    with pytest.raises(ValueError, match=r"\bx must be"):
        plot_family(scaled_softplus, np.zeros((2, 2)), [1.0])
    with pytest.raises(ValueError, match="curve 'β = 2' has shape"):
        plot_family(lambda x, b: x[:2] * b, X, [2.0])
    with pytest.raises(ValueError, match="curve 'ReLU' has shape"):
        plot_family(scaled_softplus, X, [2.0], reference=("ReLU", lambda x: 0.0))
    with pytest.raises(TypeError, match="ax must be"):
        plot_family(scaled_softplus, X, [1.0], ax=3)


# --- plot_errors ----------------------------------------------------------------------------


def test_plot_errors_uses_log_scale_and_absolute_values():
    err = np.linspace(-1e-3, 1e-3, 13) + 1e-9  # no exact zero
    ax = plot_errors(X, {"float32": err, "func": lambda x: -np.exp(x)}, title="err")
    assert isinstance(ax, Axes)
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "x"
    assert ax.get_ylabel() == "error"
    assert ax.get_title() == "err"
    assert legend_labels(ax) == ["float32", "func"]
    lines = ax.get_lines()
    assert_line_data(lines[0], X, np.abs(err))
    assert_line_data(lines[1], X, np.exp(X))
    assert all(np.all(np.asarray(line.get_ydata()) >= 0) for line in lines)


def test_plot_errors_linear_scale_when_logy_false():
    ax = plot_errors(X, {"e": -X}, logy=False, xlabel="t", ylabel="abs error")
    assert ax.get_yscale() == "linear"
    assert ax.get_xlabel() == "t"
    assert ax.get_ylabel() == "abs error"
    assert_line_data(ax.get_lines()[0], X, np.abs(X))


def test_plot_errors_floor_replaces_small_values_and_changes_label():
    err = np.array([0.0, 1e-20, -1e-17, 1e-10, -1e-3])
    x = np.arange(5.0)
    ax = plot_errors(x, {"e": err}, floor=1e-16)
    assert_line_data(ax.get_lines()[0], x, [1e-16, 1e-16, 1e-16, 1e-10, 1e-3])
    assert ax.get_ylabel() == "error (values below 1e-16 drawn at 1e-16)"
    assert ax.get_yscale() == "log"


def test_plot_errors_without_floor_keeps_zeros():
    err = np.array([0.0, 1e-3])
    ax = plot_errors([0.0, 1.0], {"e": err})
    assert_line_data(ax.get_lines()[0], [0.0, 1.0], [0.0, 1e-3])
    assert ax.get_ylabel() == "error"


def test_plot_errors_floor_label_on_linear_scale_too():
    # The floor changes the data whatever the scale, so the label must say so.
    ax = plot_errors(X, {"e": np.zeros(13)}, floor=0.5, logy=False, ylabel="gap")
    assert_line_data(ax.get_lines()[0], X, np.full(13, 0.5))
    assert ax.get_ylabel() == "gap (values below 0.5 drawn at 0.5)"


def test_plot_errors_draws_on_given_ax():
    ax = new_axes()
    assert plot_errors(X, {"e": np.ones(13)}, ax=ax) is ax
    assert ax.get_yscale() == "log"


@pytest.mark.parametrize("floor", [0.0, -1e-16, float("nan"), float("inf")])
def test_plot_errors_invalid_floor_is_value_error(floor):
    with pytest.raises(ValueError, match="floor must be a positive"):
        plot_errors(X, {"e": np.ones(13)}, floor=floor)


@pytest.mark.parametrize("errors", [{}, [("e", np.ones(13))], None])
def test_plot_errors_empty_or_non_mapping_errors_is_value_error(errors):
    with pytest.raises(ValueError, match="errors must be a non-empty mapping"):
        plot_errors(X, errors)


def test_plot_errors_bad_inputs():
    with pytest.raises(ValueError, match=r"\bx must be"):
        plot_errors([0.0], {"e": [1.0]})
    with pytest.raises(ValueError, match="curve 'e' has shape"):
        plot_errors(X, {"e": np.ones(12)})
    with pytest.raises(TypeError, match="curve 'e' must give numbers"):
        plot_errors(X, {"e": lambda x: "x"})
    with pytest.raises(TypeError, match="ax must be"):
        plot_errors(X, {"e": np.ones(13)}, ax=[])


def test_plot_errors_bad_input_creates_no_figure():
    before = plt.get_fignums()
    with pytest.raises(ValueError):
        plot_errors(X, {"e": np.ones(13), "bad": np.ones(3)})
    with pytest.raises(ValueError):
        plot_errors(X, {"e": np.ones(13)}, floor=0.0)
    assert plt.get_fignums() == before


def test_every_helper_output_can_be_rendered():
    for ax in [
        plot_functions(X, {"ReLU": relu}),
        plot_with_derivative(softplus, sigmoid, X),
        plot_family(scaled_softplus, X, [1.0, 2.0], reference=("ReLU", relu)),
        plot_errors(X, {"e": np.zeros(13)}, floor=1e-16),
    ]:
        ax.figure.canvas.draw()


# --- figures while grading --------------------------------------------------------------------


@pytest.mark.parametrize("grading", [False, True], ids=["learner", "grading"])
def test_figures_are_drawn_for_the_learner_and_not_while_grading(grading, monkeypatch):
    """In a real kernel: a learner sees the image; under nbgrader (NBGRADER_EXECUTION) the cell
    shows one line saying the figure was not drawn, and no image is made."""
    import nbformat
    from nbclient import NotebookClient

    from softplus_course.plotting import FIGURE_NOT_DRAWN

    if grading:
        monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    else:
        monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import matplotlib.pyplot as plt\n"
            "from softplus_course.plotting import plot_functions, use_style\n"
            "use_style()"
        ),
        nbformat.v4.new_code_cell("plot_functions([0.0, 1.0], {'line': [0.0, 1.0]})\nplt.show()"),
    ]
    NotebookClient(nb, timeout=120).execute()
    outputs = nb.cells[1].outputs
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    texts = [o["data"]["text/plain"] for o in outputs if "text/plain" in o.get("data", {})]
    if grading:
        assert images == [], "a figure was drawn while grading"
        assert FIGURE_NOT_DRAWN in texts, outputs
    else:
        assert len(images) == 1, outputs
        assert FIGURE_NOT_DRAWN not in texts
