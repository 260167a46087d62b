"""Learner checks for the visible test cells of the lessons.

Each check calls the learner's function, compares what came back with what was expected, and
either returns ``None`` or raises ``AssertionError`` with a message that names the call that
was tried, the value expected, the value returned, and the section of the lesson that explains
it. A check never prints to stderr and never lets a warning escape: nbgrader scores a test cell
that writes to stderr as failed, even when every assertion holds.

Warnings raised by the learner's code are handled by a deliberate policy, ``warnings=``:

- ``"ignore"`` (the default): warnings are caught and dropped, so a correct answer that, say,
  overflows in an intermediate step still passes where the lesson does not grade that;
- ``"error"``: any warning (``RuntimeWarning`` from numpy included) fails the check with a message
  that names it — used where a lesson grades numerical hygiene (lesson 06).
"""

from __future__ import annotations

import math
import warnings as _warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["check_call", "check_calls", "check_exercise", "check_raises", "visible_checks"]

_POLICIES = ("ignore", "error")


def _describe_call(name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    parts = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def _short(value: Any) -> str:
    """A readable, bounded representation of an argument or a result."""
    if callable(value) and hasattr(value, "__name__") and not isinstance(value, type):
        return value.__name__  # a function argument reads better as its name than its repr
    if isinstance(value, np.ndarray):
        with np.printoptions(precision=17, threshold=8, edgeitems=3):
            text = f"np.array({np.array2string(value, separator=', ')}, dtype={value.dtype})"
    else:
        text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _where(section: str) -> str:
    return f" See {section}." if section else ""


def _validate_common(func: Any, section: str, policy: str) -> None:
    if not callable(func):
        raise TypeError(f"func must be the function to check, got {type(func).__name__}")
    if not isinstance(section, str):
        raise TypeError(f"section must be a str naming the lesson section, got {section!r}")
    if policy not in _POLICIES:
        raise ValueError(f"warnings must be one of {_POLICIES}, got {policy!r}")


def _invoke(
    func: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    call: str,
    section: str,
    policy: str,
) -> Any:
    """Call ``func`` under the warning policy; turn its exceptions into teaching messages."""
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always")
        # Underflow to 0 is ordinary rounding, not a fault: it is never reported.
        with np.errstate(over="warn", divide="warn", invalid="warn", under="ignore"):
            try:
                result = func(*args, **kwargs)
            except NotImplementedError:
                raise AssertionError(
                    f"{call} raised NotImplementedError: the exercise is not done yet. Replace "
                    f"`raise NotImplementedError()` in the answer cell with your code."
                    f"{_where(section)}"
                ) from None
            except Exception as exc:
                raise AssertionError(
                    f"{call} raised {type(exc).__name__}: {exc}{_where(section)}"
                ) from None
    if policy == "error" and caught:
        first = caught[0]
        raise AssertionError(
            f"{call} raised a warning, which this exercise does not allow: "
            f"{first.category.__name__}: {first.message}{_where(section)}"
        )
    return result


def _as_float_array(result: Any, call: str, section: str) -> np.ndarray:
    """Convert a result to a float64 array without trusting the object's own comparisons."""
    if isinstance(result, (bool, np.bool_)) or not isinstance(
        result, (int, float, np.integer, np.floating, np.ndarray)
    ):
        raise AssertionError(
            f"{call} returned {_short(result)} of type {type(result).__name__}; expected a "
            f"number or a numpy array.{_where(section)}"
        )
    arr = np.asarray(result)
    if arr.dtype.kind not in "iuf":
        raise AssertionError(
            f"{call} returned an array of dtype {arr.dtype}; expected numbers.{_where(section)}"
        )
    return arr.astype(np.float64)


def close_elementwise(
    got: np.ndarray, expected: np.ndarray, rtol: float, atol: float
) -> np.ndarray:
    """Elementwise closeness; equal infinities and nan against nan count as close (used by the
    learner checks here and by the graded checks of :mod:`softplus_course.spec`)."""
    both_nan = np.isnan(got) & np.isnan(expected)
    same_inf = np.isinf(expected) & (got == expected)
    # A relative tolerance of an infinite answer is infinite: only an equal infinity may match it.
    # Overflow here (|got - expected| beyond the float range) must not escape as a warning.
    with np.errstate(invalid="ignore", over="ignore"):
        near = np.isfinite(expected) & (np.abs(got - expected) <= atol + rtol * np.abs(expected))
    return both_nan | same_inf | near


def check_call(
    func: Callable[..., Any],
    args: Sequence[Any] | Any,
    expected: Any,
    *,
    section: str,
    kwargs: Mapping[str, Any] | None = None,
    rtol: float = 1e-12,
    atol: float = 0.0,
    name: str | None = None,
    warnings: str = "ignore",
) -> None:
    """Check that ``func(*args, **kwargs)`` returns ``expected`` (to ``rtol``/``atol``).

    Parameters
    ----------
    func : callable
        The learner's function.
    args : tuple or single value
        Positional arguments; a value that is not a tuple is passed as the only argument.
    expected : float or array_like
        The right answer. An array answer also fixes the shape the result must have; a scalar
        answer requires a scalar result (a Python or numpy number, or a 0-d array).
    section : str
        Where the lesson explains this, for example ``"Section 2, 'The gap to ReLU'"``.
    kwargs : mapping, optional
        Keyword arguments.
    rtol, atol : float
        Relative and absolute tolerance: ``|got - expected| <= atol + rtol * |expected|``.
    name : str, optional
        The function's name in messages; ``func.__name__`` by default.
    warnings : {"ignore", "error"}
        What to do with warnings raised inside ``func`` (see the module docstring).

    Returns
    -------
    None

    Raises
    ------
    AssertionError
        With a message naming the call, the expected value and the returned value.
    """
    _validate_common(func, section, warnings)
    if rtol < 0 or atol < 0 or not (math.isfinite(rtol) and math.isfinite(atol)):
        raise ValueError(f"rtol and atol must be finite and >= 0, got rtol={rtol}, atol={atol}")
    args = tuple(args) if isinstance(args, tuple) else (args,)
    kwargs = dict(kwargs or {})
    call = _describe_call(name or getattr(func, "__name__", "func"), args, kwargs)
    want = np.asarray(expected, dtype=np.float64)

    result = _invoke(func, args, kwargs, call, section, warnings)
    got = _as_float_array(result, call, section)
    if got.shape != want.shape:
        shape_text = "a single number" if want.ndim == 0 else f"an array of shape {want.shape}"
        raise AssertionError(
            f"{call} returned {_short(result)} with shape {got.shape}; expected {shape_text}."
            f"{_where(section)}"
        )
    ok = close_elementwise(got, want, rtol, atol)
    if not bool(np.all(ok)):
        if want.ndim == 0:
            detail = f"should be {float(want)!r}, but returned {_short(result)}"
        else:
            i = tuple(int(k) for k in np.argwhere(~ok)[0])
            detail = (
                f"is wrong at index {i[0] if len(i) == 1 else i}: expected "
                f"{float(want[i])!r}, got {float(got[i])!r} ({int(np.sum(~ok))} of "
                f"{ok.size} elements differ)"
            )
        raise AssertionError(f"{call} {detail}.{_where(section)}")


def check_calls(
    func: Callable[..., Any],
    cases: Mapping[Any, Any] | Sequence[tuple[Any, Any]],
    *,
    section: str,
    **options: Any,
) -> None:
    """Run :func:`check_call` for each ``(args, expected)`` case, stopping at the first failure.

    ``cases`` is a mapping ``args -> expected`` or a sequence of pairs; ``options`` are passed
    on (``kwargs``, ``rtol``, ``atol``, ``name``, ``warnings``).
    """
    pairs = list(cases.items()) if isinstance(cases, Mapping) else list(cases)
    if not pairs:
        raise ValueError("cases must hold at least one (args, expected) pair")
    for case in pairs:
        if not (isinstance(case, tuple) and len(case) == 2):
            raise ValueError(f"each case must be an (args, expected) pair, got {case!r}")
        check_call(func, case[0], case[1], section=section, **options)


def check_raises(
    func: Callable[..., Any],
    args: Sequence[Any] | Any,
    exception: type[BaseException],
    *,
    section: str,
    kwargs: Mapping[str, Any] | None = None,
    match: str | None = None,
    name: str | None = None,
) -> None:
    """Check that ``func(*args, **kwargs)`` raises ``exception``.

    With ``match``, the text of the exception must contain it (case-insensitive).

    Raises
    ------
    AssertionError
        When nothing, or another exception, is raised.
    """
    _validate_common(func, section, "ignore")
    if not (isinstance(exception, type) and issubclass(exception, BaseException)):
        raise TypeError(f"exception must be an exception class, got {exception!r}")
    args = tuple(args) if isinstance(args, tuple) else (args,)
    kwargs = dict(kwargs or {})
    call = _describe_call(name or getattr(func, "__name__", "func"), args, kwargs)
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        try:
            result = func(*args, **kwargs)
        except exception as exc:
            if match is not None and match.lower() not in str(exc).lower():
                raise AssertionError(
                    f"{call} raised {exception.__name__} as it should, but its message "
                    f"{str(exc)!r} does not mention {match!r}.{_where(section)}"
                ) from None
            return None
        except NotImplementedError:
            raise AssertionError(
                f"{call} raised NotImplementedError: the exercise is not done yet. Replace "
                f"`raise NotImplementedError()` in the answer cell with your code."
                f"{_where(section)}"
            ) from None
        except Exception as exc:
            raise AssertionError(
                f"{call} should raise {exception.__name__}, but raised "
                f"{type(exc).__name__}: {exc}{_where(section)}"
            ) from None
    raise AssertionError(
        f"{call} should raise {exception.__name__}, but returned {_short(result)}.{_where(section)}"
    )


def check_exercise(lesson: str, test_cell: str, namespace: Mapping[str, Any]) -> None:
    """Run the visible checks of one exercise (by its test cell's id), as its test cell does.

    The checks come from the lesson's check specification (``softplus_course/visible/<lesson>
    .json``, written by ``make release``); grading runs the same checks and hidden ones, and
    judges them the same way. ``namespace`` is the notebook's, ``globals()``.

    Raises
    ------
    AssertionError
        For the first failing check, naming the input, the expected and the returned value,
        and the section to reread; when every check passes, returns None and prints nothing.
    """
    from .probe import call_case
    from .spec import judge_visible

    data = visible_checks(lesson)
    exercise = data["exercises"].get(test_cell)
    if exercise is None:
        raise ValueError(f"lesson {lesson} has no visible checks for test cell {test_cell!r}")
    for prop in exercise["properties"]:
        for case in prop["cases"]:
            result = call_case(case["request"], dict(namespace))
            problem = judge_visible(prop, case, result)
            if problem is not None:
                # The requirement's name says which idea the input tested, as grading will.
                raise AssertionError(
                    f"{problem} See {prop['section']}. Requirement: {prop['name']}."
                )


def visible_checks(lesson: str) -> dict:
    """The visible checks of a lesson, as ``make release`` wrote them."""
    import json
    from importlib import resources

    if not isinstance(lesson, str) or "/" in lesson or "\\" in lesson:
        raise ValueError(f"lesson must be a lesson's folder name, got {lesson!r}")
    path = resources.files("softplus_course") / "visible" / f"{lesson}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no visible checks for lesson {lesson!r} in softplus_course")
    return json.loads(path.read_text(encoding="utf-8"))
