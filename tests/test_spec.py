"""The check-specification language, the plain-data wire format and the probe (no kernel)."""

from __future__ import annotations

import base64
import json
import math

import numpy as np
import pytest
import torch

from softplus_course import probe, wire
from softplus_course.checks import check_exercise, visible_checks
from softplus_course.spec import (
    Close,
    Equal,
    Property,
    Raises,
    Within,
    call,
    cases_of,
    code,
    exercise_report,
    judge_property,
    student_rng,
)


def roundtrip(value):
    return wire.decode(json.loads(json.dumps(wire.encode(value))))


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (None, "none"),
        (True, "bool"),
        (12, "int"),
        (1.5, "float"),
        (-math.inf, "float"),
        ("text", "str"),
        (np.float32(2.5), "npscalar"),
        (np.arange(6, dtype=np.float32).reshape(2, 3), "ndarray"),
        ([1.0, 2.0], "list"),
        ((1, "a"), "tuple"),
        ({"a": 1}, "dict"),
    ],
)
def test_plain_values_travel_unchanged(value, kind):
    plain = roundtrip(value)
    assert plain.kind == kind
    got = wire.to_python(plain)
    if isinstance(value, np.ndarray):
        assert got.dtype == value.dtype and np.array_equal(got, value)
    elif isinstance(value, float) and math.isnan(value):
        assert math.isnan(got)
    else:
        assert got == value


def test_tensors_travel_as_arrays_with_their_torch_dtype():
    t = torch.tensor([1.0, 2.0], dtype=torch.bfloat16, requires_grad=True)
    plain = roundtrip(t)
    assert plain.kind == "tensor" and plain.extra == {
        "torch_dtype": "bfloat16",
        "requires_grad": True,
    }
    assert plain.value.tolist() == [1.0, 2.0]
    back = wire.rebuild(plain)
    assert back.dtype == torch.bfloat16 and back.requires_grad


def test_objects_are_described_never_rebuilt():
    class Liar:
        def __eq__(self, other):
            return True

        def __repr__(self):
            return "Liar()"

    plain = roundtrip(Liar())
    assert plain.kind == "other" and plain.value == "Liar()" and plain.cls.endswith("Liar")
    assert roundtrip(type("F", (float,), {})(2.0)).value == 2.0  # a float subclass: its number


@pytest.mark.parametrize(
    "bad",
    [
        "not a dict",
        {"t": "pickle", "v": "gASV"},
        {"t": "int", "v": "12a"},
        {"t": "float", "v": "1e5" * 20},
        {"t": "ndarray", "dtype": "object", "shape": [1], "data": ""},
        {"t": "ndarray", "dtype": "float64", "shape": [2], "data": base64.b64encode(b"x").decode()},
        {"t": "ndarray", "dtype": "float64", "shape": [10**9], "data": ""},
        {
            "t": "list",
            "v": [
                {
                    "t": "list",
                    "v": [{"t": "list", "v": [{"t": "list", "v": [{"t": "list", "v": []}]}]}],
                }
            ],
        },  # fmt: skip
    ],
)
def test_malformed_replies_are_refused(bad):
    with pytest.raises(wire.WireError):
        wire.decode(bad)


def test_probe_reports_values_exceptions_and_warnings():
    namespace = {
        "f": lambda x: np.exp(x),
        "g": lambda x: 1 / 0,
        "np": np,
    }
    ok = probe.call_case(call(1000.0).request("f"), namespace)
    assert wire.decode(ok["returned"]).value == math.inf
    assert ok["warnings"] and ok["warnings"][0].startswith("RuntimeWarning")
    raised = probe.call_case(call(1.0).request("g"), namespace)
    assert raised["raised"]["type"] == "ZeroDivisionError"
    missing = probe.call_case(call(1.0).request("nope"), namespace)
    assert missing["raised"]["type"] == "NameError"
    driven = probe.call_case(code("result = f(x) * 2", "2 f(x)", x=0.0).request("f"), namespace)
    assert wire.decode(driven["returned"]).value == 2.0


def judge(prop, namespace, function="f", student="ada"):
    cases = cases_of(prop, student, "01_definition", function)
    results = [probe.call_case(c.request(prop.function or function), namespace) for c, _ in cases]
    return judge_property(prop, function, cases, results)


def test_a_property_holds_only_on_every_input_and_names_the_first_failure():
    prop = Property(
        "max(0, x)",
        1.5,
        "section 1",
        Close(lambda x: max(x, 0.0), rtol=0.0, types=("float",)),
        visible=[call(-1.0)],
        hidden=[call(2.0), call(-3.0)],
    )
    good = judge(prop, {"f": lambda x: max(x, 0.0)})
    assert good.passed and good.earned == 1.5
    bad = judge(prop, {"f": lambda x: 0.0})
    assert not bad.passed and bad.earned == 0.0 and bad.hidden
    assert bad.problem == "f(2.0) should be 2.0, got 0.0."


def test_close_checks_type_shape_and_dtype():
    prop = Property(
        "array",
        1,
        "s",
        Close(lambda x: np.asarray(x) * 2, types=("ndarray",), dtype="float32"),
        visible=[call(np.ones(3, dtype=np.float32))],
    )
    assert judge(prop, {"f": lambda x: x * 2}).passed
    assert "expected a numpy array" in judge(prop, {"f": lambda x: list(x * 2)}).problem
    assert "dtype float64" in judge(prop, {"f": lambda x: (x * 2).astype(np.float64)}).problem
    assert "shape (1, 3)" in judge(prop, {"f": lambda x: (x * 2)[None, :]}).problem


def test_raises_and_equal_and_the_warnings_policy():
    raises = Property("raises", 1, "s", Raises(("ValueError",), match="beta"), visible=[call(0)])

    def no_beta(b):
        raise ValueError("bad")

    assert "does not mention 'beta'" in judge(raises, {"f": no_beta}).problem
    assert "should raise ValueError, but returned 1" in judge(raises, {"f": lambda b: 1}).problem
    equal = Property("word", 1, "s", Equal(lambda: "relu", types=("str",)), hidden=[call()])
    assert judge(equal, {"f": lambda: "relu"}).passed
    assert not judge(equal, {"f": lambda: "softplus"}).passed
    strict = Property(
        "no warnings", 1, "s", Close(np.exp, rtol=1.0), visible=[call(1000.0)], warnings="error"
    )
    assert "gave a warning" in judge(strict, {"f": np.exp}).problem


def test_within_an_interval_per_element_with_nan_where_nan_is_right():
    def interval(x):
        x = np.asarray(x, dtype=np.float64)
        return np.where(np.isnan(x), np.nan, 0.0), np.where(np.isnan(x), np.nan, 2.0 * x)

    prop = Property(
        "between 0 and 2x",
        1,
        "section 9",
        Within(interval),
        visible=[call(np.array([1.0, 2.0, np.nan]))],
    )
    assert judge(prop, {"f": lambda x: 1.5 * x}).passed  # nan in, nan out
    low = judge(prop, {"f": lambda x: -x}).problem
    assert "wrong at index 0: expected a value in [0.0, 2.0], got -1.0" in low
    nan = judge(prop, {"f": lambda x: np.nan_to_num(x)}).problem
    assert "at index 2: expected nan, got 0.0" in nan
    assert "shape" in judge(prop, {"f": lambda x: x[:2]}).problem
    # it is plain data, so it travels as a visible check and the learner's kernel judges it
    from softplus_course.spec import judge_visible

    vis = Within(interval).params()
    assert vis == {"kind": "within", "types": ["float", "int", "npscalar", "ndarray"]}
    case = {"label": "f(x)", "expected": wire.encode(interval(np.array([1.0])))}
    result = {"returned": wire.encode(np.array([3.0])), "warnings": []}
    problem = judge_visible({"expect": vis, "warnings": "ignore"}, case, result)
    assert problem == "f(x) is wrong at index 0: expected a value in [0.0, 2.0], got 3.0."


def test_drawn_inputs_differ_between_students_and_repeat_for_one():
    prop = Property(
        "drawn",
        1,
        "s",
        Close(lambda x: x),
        visible=[call(0.0)],
        drawn=lambda rng: [call(float(v)) for v in rng.uniform(-5, 5, 3)],
    )
    ada = [c.args for c, _ in cases_of(prop, "ada", "L", "f")]
    assert ada == [c.args for c, _ in cases_of(prop, "ada", "L", "f")]
    assert ada != [c.args for c, _ in cases_of(prop, "bob", "L", "f")]
    assert student_rng("ada", "L", "f", "p").random() != student_rng("ada", "L", "f", "q").random()


def test_report_lists_every_property_with_points_and_where_to_look():
    prop = Property("p", 1, "section 2", Close(lambda x: x), visible=[call(1.0)])
    passed = judge(prop, {"f": lambda x: x})
    failed = judge(prop, {"f": lambda x: x + 1})
    text = exercise_report("Exercise f", [passed, failed])
    assert text.splitlines()[0] == "Exercise f: 1 of 2 points"
    assert "[passed] p (1/1)" in text and "[FAILED] p (0/1)" in text
    assert "f(1.0) should be 1.0, got 2.0." in text
    assert "(a visible check; reread section 2)" in text


def test_a_blank_exercise_is_reported_as_not_done():
    prop = Property("p", 1, "s", Close(lambda x: x), visible=[call(1.0)])

    def blank(x):
        raise NotImplementedError()

    text = exercise_report("Exercise f", [judge(prop, {"f": blank})])
    assert "Not done yet" in text and "[not checked] p" in text


def test_control_characters_from_a_kernel_never_reach_a_report():
    prop = Property("p", 1, "s", Close(lambda x: x), visible=[call(1.0)])

    def evil(x):
        raise type("Evil\x1b[2J\nforged", (Exception,), {})("line\r\nbreak")

    problem = judge(prop, {"f": evil}).problem
    assert "\x1b" not in problem and "\n" not in problem and "\r" not in problem


def test_visible_checks_run_in_the_learners_kernel_with_teaching_messages():
    data = visible_checks("01_definition")
    assert set(data["exercises"]) == {
        "test_relu",
        "test_softplus",
        "test_softplus_beta",
        "test_softplus_gap_bound",
    }
    check_exercise("01_definition", "test_relu", {"relu": lambda x: np.maximum(x, 0.0)})
    with pytest.raises(AssertionError, match=r"relu\(3.5\) should be 3.5, got 0.0. See section 1"):
        check_exercise("01_definition", "test_relu", {"relu": lambda x: np.maximum(x, 0.0) * 0})
    # the failure names the requirement it broke, as the graded report does
    with pytest.raises(AssertionError, match=r"Requirement: negative weights: w x \+ b is largest"):
        check_exercise(
            "03_derivative_checks",
            "test_relu_dead_below",
            {"relu_dead_below": lambda w, lo, hi: -w * hi},
        )
    with pytest.raises(ValueError, match="lesson"):
        visible_checks("../secrets")
