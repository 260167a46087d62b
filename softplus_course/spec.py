"""Check specifications: what each graded exercise must do, in named properties with points.

One specification per lesson (``specs/NN_topic.py``, with the instructor's material) lists its
exercises; each exercise splits its points over :class:`Property` objects. A property has
inputs (visible ones, shown to the learner; hidden ones; and a few drawn per student), an
expectation (:class:`Close`, :class:`Equal`, :class:`Raises`, :class:`Holds`) with a reference
computed by the grader, and the section of the lesson that teaches it.

The same specification serves twice:

- **grading**: the grader asks the student's sandboxed kernel for the function's results on
  every input (:mod:`softplus_course.probe`), and judges the plain data that comes back here,
  in the grader's process; a property that holds on every input earns its points;
- **visible checks**: ``make release`` writes the visible inputs with their expected values to
  ``softplus_course/visible/NN_topic.json``, which the test cells of the lesson run in the
  learner's own kernel (:func:`softplus_course.checks.check_exercise`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .checks import close_elementwise
from .wire import Plain, WireError, decode, encode, to_python

__all__ = [
    "ARRAY",
    "ONE_NUMBER",
    "Case",
    "Close",
    "Equal",
    "Exercise",
    "Holds",
    "LessonSpec",
    "Property",
    "PropertyResult",
    "Raises",
    "call",
    "code",
    "elementwise",
    "exercise_report",
    "load_spec",
    "student_rng",
    "unchanged",
    "Within",
]

NOT_DONE = (
    "the exercise is not done yet. Replace `raise NotImplementedError()` in the answer cell "
    "with your code."
)


# Kinds of result, for ``types=``: one number (a Python float, a numpy number or a 0-d array;
# with shape="same" a number in wants one of these out), and an array.
ONE_NUMBER = ("float", "npscalar", "ndarray")
ARRAY = ("ndarray",)


def elementwise(scalar_ref: Callable[[float], Any]) -> Callable[[Any], Any]:
    """A reference for a number (a float out) or an array (an array of the same shape out),
    from a reference of one float (an mpmath formula, say)."""

    def ref(x):
        if np.ndim(x) == 0:
            return scalar_ref(float(x))
        arr = np.asarray(x, dtype=np.float64)
        return np.array([scalar_ref(v) for v in arr.ravel().tolist()]).reshape(arr.shape)

    return ref


# --- Inputs -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One input: a call of the exercise's function, or a few lines of driver code."""

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    source: str | None = None  # driver code that sets `result`; its inputs are `kwargs`
    label: str | None = None  # how the input reads in messages (default: the call)

    def request(self, function: str) -> dict:
        if self.source is not None:
            return {"code": self.source, "inputs": {k: encode(v) for k, v in self.kwargs.items()}}
        return {
            "call": function,
            "args": [encode(a) for a in self.args],
            "kwargs": {k: encode(v) for k, v in self.kwargs.items()},
        }

    def describe(self, function: str) -> str:
        if self.label is not None:
            return self.label
        parts = [_short(a) for a in self.args] + [
            f"{k}={_short(v)}" for k, v in self.kwargs.items()
        ]
        return f"{function}({', '.join(parts)})"

    def reference_args(self) -> tuple[tuple, dict]:
        return tuple(_plain_input(a) for a in self.args), {
            k: _plain_input(v) for k, v in self.kwargs.items()
        }


def call(*args: Any, **kwargs: Any) -> Case:
    """The exercise's function called on these arguments."""
    return Case(tuple(args), dict(kwargs))


def code(source: str, label: str, **inputs: Any) -> Case:
    """Driver code run in the notebook's namespace with ``inputs`` bound; it sets ``result``."""
    return Case((), dict(inputs), source=source, label=label)


def unchanged(function: str, x: Any, label: str) -> Case:
    """``function(x)`` for an array ``x`` that must come back unchanged: if the call modified
    it, the result is a message saying so (and the property fails with it)."""
    source = (
        "x_given = x.copy()\n"
        f"result = {function}(x)\n"
        "if not np.array_equal(x, x_given, equal_nan=True):\n"
        f"    result = 'the call changed the array x it was given: {function} must not "
        "modify its input'\n"
    )
    return code(source, label, x=x)


def _plain_input(value: Any) -> Any:
    from .wire import TensorInput

    return np.asarray(value.array, dtype=np.float64) if isinstance(value, TensorInput) else value


def _short(value: Any) -> str:
    from .wire import TensorInput

    if isinstance(value, TensorInput):
        arr = np.asarray(value.array)
        grad = ", requires_grad=True" if value.requires_grad else ""
        with np.printoptions(precision=17, threshold=8, edgeitems=3):
            numbers = np.array2string(arr, separator=", ")
            text = f"torch.tensor({numbers}, dtype=torch.{value.dtype}{grad})"
    elif isinstance(value, np.ndarray):
        with np.printoptions(precision=17, threshold=8, edgeitems=3):
            text = f"np.array({np.array2string(value, separator=', ')}, dtype={value.dtype})"
    elif callable(value) and hasattr(value, "__name__"):
        text = value.__name__
    else:
        text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."


# --- Expectations -------------------------------------------------------------------------------
def _got(result: dict) -> Plain:
    return decode(result["returned"])


def _as_array(plain: Plain) -> np.ndarray | None:
    if plain.kind in ("int", "float", "bool"):
        return np.asarray(float(plain.value))
    if plain.kind in ("npscalar", "ndarray", "tensor") and plain.value.dtype.kind in "biuf":
        return np.asarray(plain.value, dtype=np.float64)
    return None


@dataclass(frozen=True)
class Close:
    """A number or an array, close to the reference: ``|got - want| <= atol + rtol * |want|``.

    ``shape``: ``"same"`` (an array of the reference's shape; a scalar reference wants one
    number), or ``"any"``. ``types``: the kinds of result accepted (a Python float, a numpy
    scalar or 0-d array, an array, a tensor ...). ``dtype``: the result's exact dtype, if given.
    """

    reference: Callable[..., Any] | None = None
    rtol: float = 1e-12
    atol: float = 0.0
    shape: str = "same"
    types: tuple[str, ...] = ("float", "int", "npscalar", "ndarray")
    dtype: str | None = None

    def params(self) -> dict:
        return {"kind": "close", "rtol": self.rtol, "atol": self.atol, "shape": self.shape,
                "types": list(self.types), "dtype": self.dtype}  # fmt: skip

    def judge(self, result: dict, want: Any, call_text: str) -> str | None:
        return judge_close(self.params(), result, want, call_text)


def judge_close(p: dict, result: dict, want: Any, call_text: str) -> str | None:
    got = _got(result)
    if got.kind not in p["types"]:
        return f"{call_text} returned {_typed(got)}; expected {_kinds(p['types'])}."
    arr = _as_array(got)
    if arr is None:
        return f"{call_text} returned {got.describe()}; expected numbers."
    if p["dtype"] is not None:
        dtype = got.extra.get("torch_dtype") or (
            got.value.dtype.name if hasattr(got.value, "dtype") else "float64"
        )
        if dtype != p["dtype"]:
            return f"{call_text} returned dtype {dtype}; expected {p['dtype']}."
    want_arr = np.asarray(want, dtype=np.float64)
    if p["shape"] == "same" and arr.shape != want_arr.shape:
        expected = "one number" if want_arr.ndim == 0 else f"an array of shape {want_arr.shape}"
        return f"{call_text} returned shape {arr.shape}; expected {expected}."
    try:
        ok = close_elementwise(*np.broadcast_arrays(arr, want_arr), p["rtol"], p["atol"])
    except ValueError:
        return f"{call_text} returned shape {arr.shape}; expected shape {want_arr.shape}."
    if bool(np.all(ok)):
        return None
    if ok.ndim == 0:
        return f"{call_text} should be {float(want_arr)!r}, got {got.describe()}."
    i = tuple(int(k) for k in np.argwhere(~ok)[0])
    where = i[0] if len(i) == 1 else i
    bad = np.broadcast_arrays(arr, want_arr)
    return (
        f"{call_text} is wrong at index {where}: expected {float(bad[1][i])!r}, got "
        f"{float(bad[0][i])!r} ({int(np.sum(~ok))} of {ok.size} elements differ)."
    )


def _typed(got: Plain) -> str:
    """A returned value with its type, for a message about the wrong type."""
    text = got.describe()
    return text if got.kind == "other" or not got.cls else f"{text} (of type {got.cls})"


def _kinds(types: Sequence[str]) -> str:
    names = {
        "float": "a Python float",
        "int": "a Python int",
        "npscalar": "a numpy number",
        "ndarray": "a numpy array",
        "tensor": "a torch tensor",
        "str": "a str",
        "dict": "a dict",
        "bool": "a bool",
        "list": "a list",
    }
    return " or ".join(dict.fromkeys(names.get(t, t) for t in types))


@dataclass(frozen=True)
class Equal:
    """Exactly the reference value (a string, an int, a dict ...), of one of ``types``."""

    reference: Callable[..., Any] | None = None
    types: tuple[str, ...] = ("int",)

    def params(self) -> dict:
        return {"kind": "equal", "types": list(self.types)}

    def judge(self, result: dict, want: Any, call_text: str) -> str | None:
        return judge_equal(self.params(), result, want, call_text)


def judge_equal(p: dict, result: dict, want: Any, call_text: str) -> str | None:
    got = _got(result)
    if got.kind not in p["types"]:
        return f"{call_text} returned {_typed(got)}; expected {_kinds(p['types'])}."
    value = to_python(got)
    if value != want:
        return f"{call_text} should be {want!r}, got {got.describe()}."
    return None


@dataclass(frozen=True)
class Raises:
    """The call raises one of ``exceptions`` (by class name); with ``match``, its text says so."""

    exceptions: tuple[str, ...] = ("ValueError",)
    match: str | None = None

    reference = None

    def params(self) -> dict:
        return {"kind": "raises", "exceptions": list(self.exceptions), "match": self.match}

    def judge(self, result: dict, want: Any, call_text: str) -> str | None:
        return judge_raises(self.params(), result, want, call_text)


def judge_raises(p: dict, result: dict, want: Any, call_text: str) -> str | None:
    names = " or ".join(p["exceptions"])
    if "raised" not in result:
        return f"{call_text} should raise {names}, but returned {_got(result).describe()}."
    raised = result["raised"]
    if raised["type"] == "NotImplementedError" and "NotImplementedError" not in p["exceptions"]:
        return f"{call_text} raised NotImplementedError: {NOT_DONE}"
    if raised["type"] not in p["exceptions"]:
        return f"{call_text} should raise {names}, but raised {raised['type']}: {raised['message']}"
    if p["match"] and p["match"].lower() not in raised["message"].lower():
        return (
            f"{call_text} raised {raised['type']} as it should, but its message "
            f"{raised['message']!r} does not mention {p['match']!r}."
        )
    return None


@dataclass(frozen=True)
class Within:
    """A number or an array inside an interval that depends on the input, elementwise:
    ``reference(...)`` returns ``(low, high)`` (numbers or arrays of the result's shape), and
    ``low <= got <= high``; where ``low`` is nan, ``got`` must be nan. For what has no single
    right value but a range (a bound, a sign) and should still have visible checks: the
    interval is plain data, so the learner's kernel can judge it too."""

    reference: Callable[..., Any] | None = None
    types: tuple[str, ...] = ("float", "int", "npscalar", "ndarray")

    def params(self) -> dict:
        return {"kind": "within", "types": list(self.types)}

    def judge(self, result: dict, want: Any, call_text: str) -> str | None:
        return judge_within(self.params(), result, want, call_text)


def judge_within(p: dict, result: dict, want: Any, call_text: str) -> str | None:
    got = _got(result)
    if got.kind not in p["types"]:
        return f"{call_text} returned {_typed(got)}; expected {_kinds(p['types'])}."
    arr = _as_array(got)
    if arr is None:
        return f"{call_text} returned {got.describe()}; expected numbers."
    low, high = (np.asarray(w, dtype=np.float64) for w in want)
    if arr.shape != low.shape:
        expected = "one number" if low.ndim == 0 else f"an array of shape {low.shape}"
        return f"{call_text} returned shape {arr.shape}; expected {expected}."
    with np.errstate(invalid="ignore"):
        ok = np.where(np.isnan(low), np.isnan(arr), (arr >= low) & (arr <= high))
    if bool(np.all(ok)):
        return None
    i = tuple(int(k) for k in np.argwhere(~ok)[0]) if ok.ndim else ()
    where = "" if not i else f" at index {i[0] if len(i) == 1 else i}"
    wanted = "nan" if np.isnan(low[i]) else f"a value in [{float(low[i])!r}, {float(high[i])!r}]"
    return f"{call_text} is wrong{where}: expected {wanted}, got {float(arr[i])!r}."


@dataclass(frozen=True)
class Holds:
    """A condition on the result that the grader checks with ``test(value) -> problem or None``
    (for what has no single right value: a bound, a sign, a type). Not for visible checks."""

    test: Callable[[Plain], str | None]
    reference = None

    def params(self) -> dict:
        raise TypeError("Holds cannot be written as a visible check; give it hidden inputs only")

    def judge(self, result: dict, want: Any, call_text: str) -> str | None:
        problem = self.test(_got(result))
        return None if problem is None else f"{call_text}: {problem}."


JUDGES = {
    "close": judge_close,
    "equal": judge_equal,
    "raises": judge_raises,
    "within": judge_within,
}


# --- Properties and exercises -------------------------------------------------------------------
@dataclass(frozen=True)
class Property:
    """One thing an exercise must do, worth ``points``, taught in ``section``."""

    name: str
    points: float
    section: str
    expect: Any  # Close, Equal, Raises or Holds
    visible: Sequence[Case] = ()
    hidden: Sequence[Case] = ()
    drawn: Callable[[np.random.Generator], Sequence[Case]] | None = None
    warnings: str = "ignore"  # "error": any warning the function gives fails the property
    function: str | None = None  # the function called (default: the exercise's)

    def __post_init__(self):
        if self.warnings not in ("ignore", "error"):
            raise ValueError(f"warnings must be 'ignore' or 'error', got {self.warnings!r}")
        if not (self.visible or self.hidden or self.drawn):
            raise ValueError(f"property {self.name!r} has no inputs")


@dataclass(frozen=True)
class Exercise:
    """A graded function (or value) of a lesson: its answer cell, test cell and properties."""

    function: str
    test_cell: str
    properties: Sequence[Property]

    @property
    def points(self) -> float:
        return float(sum(p.points for p in self.properties))


@dataclass(frozen=True)
class LessonSpec:
    lesson: str
    exercises: Sequence[Exercise]

    def exercise(self, test_cell: str) -> Exercise | None:
        return next((e for e in self.exercises if e.test_cell == test_cell), None)


_loaded: dict[Path, tuple[float, LessonSpec]] = {}


def load_spec(path: Path | str) -> LessonSpec:
    """Load ``specs/NN_topic.py`` (instructor code, never student code): its ``SPEC``.

    A grading process loads each specification once (again only when the file changed), so
    the references of its fixed inputs are computed once per process, not per submission.
    """
    path = Path(path).resolve()
    mtime = path.stat().st_mtime
    if path in _loaded and _loaded[path][0] == mtime:
        return _loaded[path][1]
    spec = _load(path)
    _loaded[path] = (mtime, spec)
    return spec


def _load(path: Path) -> LessonSpec:
    module_spec = importlib.util.spec_from_file_location(f"softplus_spec_{path.stem}", path)
    if module_spec is None or module_spec.loader is None:
        raise FileNotFoundError(f"cannot load the check specification {path}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    spec = getattr(module, "SPEC", None)
    if not isinstance(spec, LessonSpec):
        raise TypeError(f"{path} must define SPEC = LessonSpec(...)")
    return spec


def student_rng(student: str, lesson: str, exercise: str, prop: str) -> np.random.Generator:
    """The generator of one student's drawn inputs: the same on every regrade."""
    digest = hashlib.sha256(f"{student}\0{lesson}\0{exercise}\0{prop}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


# --- Judging ------------------------------------------------------------------------------------
@dataclass
class PropertyResult:
    name: str
    points: float
    earned: float
    section: str
    problem: str | None = None  # why it failed: the input, the expected and the returned value
    hidden: bool = False  # the failing input was a hidden one
    checked: bool = True  # False: no input could be checked (a dead or silent kernel)

    @property
    def passed(self) -> bool:
        return self.problem is None


def cases_of(prop: Property, student: str, lesson: str, exercise: str) -> list[tuple[Case, bool]]:
    """Every input of a property, each with whether it is hidden."""
    cases = [(c, False) for c in prop.visible] + [(c, True) for c in prop.hidden]
    if prop.drawn is not None:
        rng = student_rng(student, lesson, exercise, prop.name)
        cases += [(c, True) for c in prop.drawn(rng)]
    return cases


def judge_property(
    prop: Property,
    function: str,
    cases: list[tuple[Case, bool]],
    results: list[dict] | None,
    failure: str | None = None,
) -> PropertyResult:
    """Judge the kernel's ``results`` (one per case) in the grader; ``failure`` when there are
    none (a timeout, a dead kernel, a malformed reply)."""
    out = PropertyResult(prop.name, prop.points, 0.0, prop.section)
    if results is None or len(results) != len(cases):
        out.problem = failure or "no answer came back from the notebook"
        out.checked = False
        return out
    name = prop.function or function
    for (case, hidden), result in zip(cases, results, strict=True):
        text = case.describe(name)
        problem = judge_one(prop, case, result, text)
        if problem is not None:
            out.problem, out.hidden = problem, hidden
            return out
    out.earned = prop.points
    return out


def judge_one(prop: Property, case: Case, result: dict, text: str) -> str | None:
    try:
        if not isinstance(result, dict):
            raise WireError("a result must be a JSON object")
        if "raised" in result and not isinstance(prop.expect, Raises):
            raised = result["raised"]
            if not (isinstance(raised, dict) and {"type", "message"} <= set(raised)):
                raise WireError("bad exception report")
            if raised["type"] == "NotImplementedError":
                return f"{text} raised NotImplementedError: {NOT_DONE}"
            return f"{text} raised {clean(raised['type'])}: {clean(raised['message'])}"
        if "raised" not in result and "returned" not in result:
            raise WireError("neither a value nor an exception")
        if prop.warnings == "error" and result.get("warnings"):
            first = clean(str(result["warnings"][0]))
            return f"{text} gave a warning, which this exercise does not allow: {first}"
        want = reference(prop, case)
        problem = prop.expect.judge(result, want, text)
        return None if problem is None else clean(problem)
    except WireError as exc:
        return f"{text}: the notebook's answer could not be read ({exc})"


_references: dict[tuple[int, int], tuple[Property, Case, Any]] = {}


def reference(prop: Property, case: Case) -> Any:
    """The expected value of one input, computed in the grader; remembered for the fixed
    (visible and hidden) inputs of a loaded specification."""
    if prop.expect.reference is None:
        return None
    key = (id(prop), id(case))
    known = _references.get(key)
    if known is not None and known[0] is prop and known[1] is case:
        return known[2]
    args, kwargs = case.reference_args()
    want = prop.expect.reference(*args, **kwargs)
    if any(case is c for c in (*prop.visible, *prop.hidden)):
        _references[key] = (prop, case, want)
    return want


def warm_references(spec: LessonSpec) -> int:
    """Compute now the references of every fixed (visible and hidden) input of ``spec``, as a
    grading process starts, rather than while its first complete submission waits; returns how
    many. Drawn inputs differ per student and are computed when judged."""
    count = 0
    for exercise in spec.exercises:
        for prop in exercise.properties:
            for case in (*prop.visible, *prop.hidden):
                reference(prop, case)
                count += 1
    return count


def clean(text: str) -> str:
    """Text from a student's kernel, safe for a report line: no control characters."""
    return "".join(ch if ch.isprintable() else " " for ch in str(text))[:600]


def exercise_report(exercise_title: str, results: list[PropertyResult]) -> str:
    """The text a test cell shows in feedback: every property, passed or failed, with points."""
    earned = sum(r.earned for r in results)
    total = sum(r.points for r in results)
    lines = [f"{exercise_title}: {_num(earned)} of {_num(total)} points"]
    if results and all(r.problem and NOT_DONE in r.problem for r in results):
        lines.append(
            "  Not done yet: it raised NotImplementedError. Replace `raise NotImplementedError()` "
            "in the answer cell with your code."
        )
        lines += [f"  [not checked] {r.name} ({_num(r.points)} points)" for r in results]
        return "\n".join(lines)
    for r in results:
        mark = "passed" if r.passed else "FAILED"
        lines.append(f"  [{mark}] {r.name} ({_num(r.earned)}/{_num(r.points)})")
        if not r.passed:
            kind = ("a hidden check; " if r.hidden else "a visible check; ") if r.checked else ""
            lines.append(f"      {r.problem}")
            lines.append(f"      ({kind}reread {r.section})")
    return "\n".join(lines)


def _num(value: float) -> str:
    return f"{value:g}"


# --- Visible checks, written for the learner ----------------------------------------------------
def visible_checks(spec: LessonSpec) -> dict:
    """The visible inputs of every property with their expected values: plain JSON."""
    out: dict = {"lesson": spec.lesson, "exercises": {}}
    for ex in spec.exercises:
        props = []
        for prop in ex.properties:
            if not prop.visible:
                continue
            cases = []
            for case in prop.visible:
                want = None
                if prop.expect.reference is not None:
                    args, kwargs = case.reference_args()
                    want = encode(prop.expect.reference(*args, **kwargs))
                cases.append(
                    {
                        "request": case.request(prop.function or ex.function),
                        "label": case.describe(prop.function or ex.function),
                        "expected": want,
                    }
                )
            props.append(
                {
                    "name": prop.name,
                    "points": prop.points,
                    "section": prop.section,
                    "warnings": prop.warnings,
                    "expect": prop.expect.params(),
                    "cases": cases,
                }
            )
        out["exercises"][ex.test_cell] = {"function": ex.function, "properties": props}
    return out


def write_visible_checks(spec: LessonSpec, path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(visible_checks(spec), indent=1, sort_keys=True, allow_nan=False) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def judge_visible(prop: dict, case: dict, result: dict) -> str | None:
    """Judge one visible case in the learner's kernel (same judges as grading)."""
    text = case["label"]
    if "raised" in result and prop["expect"]["kind"] != "raises":
        raised = result["raised"]
        if raised["type"] == "NotImplementedError":
            return f"{text} raised NotImplementedError: {NOT_DONE}"
        return f"{text} raised {raised['type']}: {raised['message']}"
    if prop["warnings"] == "error" and result.get("warnings"):
        return f"{text} gave a warning, which this exercise does not allow: {result['warnings'][0]}"
    want = None if case["expected"] is None else to_python(decode(case["expected"]))
    return JUDGES[prop["expect"]["kind"]](prop["expect"], result, want, text)


def is_finite_number(value: Any) -> bool:
    return isinstance(value, float) and math.isfinite(value)
