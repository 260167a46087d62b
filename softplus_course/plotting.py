"""Plot helpers for the lessons.

Every helper takes the data to draw and an optional ``ax``; it draws on that axes (or on a
new figure's axes when ``ax`` is None), sets the axis labels and the legend, and returns the
axes so that a lesson can add to it. Call :func:`use_style` once in a lesson's setup cell.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

__all__ = [
    "STYLE_PATH",
    "use_style",
    "skip_figures_while_grading",
    "plot_functions",
    "plot_with_derivative",
    "plot_family",
    "plot_errors",
    "plot_runs",
]

STYLE_PATH = Path(__file__).with_name("softplus.mplstyle")

Curve = Callable[[np.ndarray], np.ndarray] | np.ndarray | Sequence[float]


def use_style() -> None:
    """Apply the course's matplotlib style (colour-blind-safe colours, grid, sizes).

    While nbgrader runs the notebook (``NBGRADER_EXECUTION`` set: autograding or Validate),
    figures are not drawn: see :func:`skip_figures_while_grading`.
    """
    if os.environ.get("NBGRADER_EXECUTION"):  # as softplus_course.experiments.is_grading()
        skip_figures_while_grading()
    plt.style.use(STYLE_PATH)


FIGURE_NOT_DRAWN = "[A figure: not drawn while grading. Run the cell in your notebook to see it.]"


def skip_figures_while_grading() -> bool:
    """Show each figure as one line of text instead of drawing it, in this IPython kernel with
    the inline backend.

    Grading needs the learner's functions, not the pictures; drawing a lesson's figure costs
    0.3-0.6 s, about a quarter of what grading a submission costs. Returns False where there is
    nothing to change (outside IPython, another backend). A later ``%matplotlib inline`` draws
    figures again.
    """
    try:
        from IPython import get_ipython
        from matplotlib.figure import Figure
        from matplotlib_inline.config import InlineBackend
    except ImportError:
        return False
    shell = get_ipython()
    backend = plt.get_backend()
    if shell is None or "inline" not in backend.lower():
        return False
    # Activate the backend now: activating it (at the first figure) selects the figure formats,
    # and would undo what follows.
    plt.switch_backend(backend)
    InlineBackend.instance(parent=shell).figure_formats = set()  # no image of any figure
    shell.display_formatter.formatters["text/plain"].for_type(
        Figure, lambda fig, p, cycle: p.text(FIGURE_NOT_DRAWN)
    )
    return True


def _grid(x: object, name: str = "x") -> np.ndarray:
    """Return ``x`` as a 1-D float array of at least two points, or raise naming ``name``."""
    try:
        if x is None:  # np.asarray would make it nan
            raise TypeError("None is not a number")
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a 1-D array of numbers, got {type(x).__name__}") from exc
    if arr.ndim != 1 or arr.size < 2:
        raise ValueError(
            f"{name} must be a 1-D array with at least 2 points, got shape {arr.shape}"
        )
    return arr


def _values(curve: object, x: np.ndarray, label: str) -> np.ndarray:
    """Evaluate ``curve`` on ``x`` (if callable) and check that it matches ``x`` in shape."""
    y = curve(x) if callable(curve) else curve
    try:
        if y is None:  # np.asarray would make it nan; most often a function missing its `return`
            raise TypeError("None is not a number")
        y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"curve {label!r} must give numbers, got {type(y).__name__}") from exc
    if y.shape != x.shape:
        raise ValueError(f"curve {label!r} has shape {y.shape}, but x has shape {x.shape}")
    return y


def _axes(ax: Axes | None) -> Axes:
    if ax is None:
        _, ax = plt.subplots()
    elif not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    return ax


def plot_functions(
    x: object,
    curves: Mapping[str, Curve],
    *,
    ax: Axes | None = None,
    title: str | None = None,
    xlabel: str = "x",
    ylabel: str = "f(x)",
    styles: Mapping[str, str] | None = None,
) -> Axes:
    """Draw several functions of ``x`` on one axes, one labelled line each.

    Parameters
    ----------
    x : array_like
        1-D grid of inputs.
    curves : mapping of str to callable or array
        Legend label -> function of ``x`` (called once with the whole grid) or values on ``x``.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    title, xlabel, ylabel : str
        Axis texts.
    styles : mapping of str to str, optional
        Legend label -> matplotlib format string (``"--"``, ``":k"``) for some of the curves.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> ax = plot_functions(np.linspace(-3, 3, 61), {"ReLU": lambda x: np.maximum(x, 0)})
    """
    xs = _grid(x)
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("curves must be a non-empty mapping of label -> function or values")
    styles = dict(styles or {})
    unknown = set(styles) - set(curves)
    if unknown:
        raise ValueError(f"styles names curves that are not plotted: {sorted(unknown)}")
    # Evaluate and check every curve before drawing: a bad curve must leave no half-drawn axes
    # and no empty new figure behind.
    ys = {label: _values(curve, xs, label) for label, curve in curves.items()}
    ax = _axes(ax)
    for label, y in ys.items():
        ax.plot(xs, y, styles.get(label, "-"), label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    return ax


def plot_with_derivative(
    f: Callable[[np.ndarray], np.ndarray],
    df: Callable[[np.ndarray], np.ndarray],
    x: object,
    *,
    name: str = "f",
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Draw a function and its derivative on one axes (the derivative dashed).

    Returns
    -------
    matplotlib Axes
    """
    if not callable(f) or not callable(df):
        raise TypeError("f and df must be callables taking an array")
    return plot_functions(
        x,
        {f"{name}(x)": f, f"{name}'(x)": df},
        ax=ax,
        title=title,
        ylabel="value",
        styles={f"{name}'(x)": "--"},
    )


def plot_family(
    f: Callable[[np.ndarray, float], np.ndarray],
    x: object,
    values: Sequence[float],
    *,
    param: str = "β",
    ax: Axes | None = None,
    reference: tuple[str, Callable[[np.ndarray], np.ndarray]] | None = None,
    title: str | None = None,
    ylabel: str = "f(x)",
) -> Axes:
    """Draw ``f(x, value)`` for each parameter value, optionally with a dashed reference curve.

    Parameters
    ----------
    f : callable
        ``f(x, value)`` for a grid ``x`` and one parameter value.
    values : sequence of float
        Parameter values, one line each, labelled ``"<param> = <value>"``.
    reference : (label, callable), optional
        A curve drawn dashed in black for comparison (for example ReLU).

    Returns
    -------
    matplotlib Axes
    """
    if not callable(f):
        raise TypeError("f must be a callable f(x, value)")
    values = list(values)
    if not values:
        raise ValueError("values must name at least one parameter value")
    xs = _grid(x)
    curves: dict[str, Curve] = {f"{param} = {v:g}": (lambda t, v=v: f(t, v)) for v in values}
    styles = {}
    if reference is not None:
        label, ref = reference
        curves[label] = ref
        styles[label] = "--k"
    return plot_functions(xs, curves, ax=ax, title=title, ylabel=ylabel, styles=styles)


def plot_errors(
    x: object,
    errors: Mapping[str, Curve],
    *,
    ax: Axes | None = None,
    title: str | None = None,
    xlabel: str = "x",
    ylabel: str = "error",
    logy: bool = True,
    floor: float | None = None,
) -> Axes:
    """Draw error curves, by default on a logarithmic y axis.

    A log axis cannot show an error of exactly 0; with ``floor`` set, errors below it are drawn
    at ``floor`` (and the axis label says so) instead of leaving gaps in the line.

    Returns
    -------
    matplotlib Axes
    """
    xs = _grid(x)
    if floor is not None and not (floor > 0 and np.isfinite(floor)):
        raise ValueError(f"floor must be a positive finite number, got {floor!r}")
    if not isinstance(errors, Mapping) or not errors:
        raise ValueError("errors must be a non-empty mapping of label -> function or values")
    curves: dict[str, np.ndarray] = {}
    for label, curve in errors.items():
        y = np.abs(_values(curve, xs, label))
        curves[label] = np.maximum(y, floor) if floor is not None else y
    ax = plot_functions(xs, curves, ax=ax, title=title, xlabel=xlabel, ylabel=ylabel)
    if logy:
        ax.set_yscale("log")
    if floor is not None:
        ax.set_ylabel(f"{ylabel} (values below {floor:g} drawn at {floor:g})")
    return ax


def plot_runs(
    steps: object,
    runs: Mapping[str, object],
    *,
    ax: Axes | None = None,
    title: str | None = None,
    xlabel: str = "step",
    ylabel: str = "value",
    logy: bool = False,
) -> Axes:
    """Draw repeated runs of an experiment: per label, every run thin and their median thick.

    Parameters
    ----------
    steps : array_like
        1-D grid shared by all runs (training steps, say).
    runs : mapping of str to array
        Legend label -> values of shape ``(len(steps), n_runs)`` (one column per run, e.g. per
        seed) or ``(len(steps),)`` for a single run. Each label gets one colour; its runs are
        drawn thin and translucent, their median over the runs thick and labelled
        ``"<label> (median of n)"``.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    title, xlabel, ylabel : str
        Axis texts.
    logy : bool
        Logarithmic y axis.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> ax = plot_runs(np.arange(3), {"relu": np.array([[1.0, 2.0], [0.5, 1.0], [0.2, 0.1]])})
    """
    xs = _grid(steps, "steps")
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError("runs must be a non-empty mapping of label -> array of runs")
    values: dict[str, np.ndarray] = {}
    for label, data in runs.items():
        try:
            if data is None:
                raise TypeError("None is not a number")
            arr = np.asarray(data, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"runs {label!r} must be an array of numbers") from exc
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[0] != xs.size or arr.shape[1] == 0:
            raise ValueError(
                f"runs {label!r} must have shape ({xs.size}, n_runs) to match steps, "
                f"got {np.shape(data)}"
            )
        values[label] = arr
    ax = _axes(ax)
    for label, arr in values.items():
        (median,) = ax.plot(
            xs, np.median(arr, axis=1), lw=2.2, label=f"{label} (median of {arr.shape[1]})"
        )
        if arr.shape[1] > 1:
            ax.plot(xs, arr, color=median.get_color(), lw=0.8, alpha=0.35, label="_nolegend_")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if logy:
        ax.set_yscale("log")
    ax.legend()
    return ax
