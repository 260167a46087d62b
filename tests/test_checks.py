"""Tests for softplus_course.checks: the learner checks of the visible test cells."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest

from softplus_course.checks import check_call, check_calls, check_raises

SECTION = "Section 2, 'The gap to ReLU'"


def relu(x):
    return np.maximum(x, 0.0)


def softplus(x):
    return np.log1p(np.exp(x))


def not_done(x):
    raise NotImplementedError()


def overflowing_softplus(x):
    # Correct for large x only because log(inf) == inf: overflows in the intermediate step.
    return np.log(1.0 + np.exp(np.float64(x)))


def underflowing(x):
    return np.float64(1e-300) * np.float64(x)


class AlwaysEqual:
    """A result that claims to be equal to anything."""

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__


def failure(func, *args, **kwargs) -> str:
    """Run a check that must fail and return its message."""
    with pytest.raises(AssertionError) as info:
        func(*args, **kwargs)
    return str(info.value)


@pytest.fixture
def no_escape(capsys):
    """Record every warning that escapes the check; assert nothing reached stdout/stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
    out, err = capsys.readouterr()
    assert out == ""
    assert err == ""


# --- check_call: passing cases --------------------------------------------------------------


@pytest.mark.parametrize(
    ("func", "args", "expected"),
    [
        (relu, -2.0, 0.0),
        (relu, 3.5, 3.5),
        (relu, (np.float64(1.5),), 1.5),
        (softplus, 0.0, math.log(2.0)),
        (lambda x: 7, 0, 7.0),  # a Python int result is a number
        (lambda x: np.int64(7), 0, 7),
        (lambda x: np.float32(0.5), 0, 0.5),
        (lambda x: np.array(2.0), 0, 2.0),  # a 0-d array counts as a single number
        (relu, np.array([-1.0, 0.0, 2.0]), [0.0, 0.0, 2.0]),
        (relu, np.array([-1.0, 2.0]), np.array([0.0, 2.0])),
        (lambda x: np.arange(4).reshape(2, 2), 0, [[0, 1], [2, 3]]),
    ],
)
def test_check_call_passes_and_returns_none(func, args, expected):
    assert check_call(func, args, expected, section=SECTION) is None


def test_check_call_tuple_args_are_unpacked_and_other_values_passed_whole():
    def add(a, b):
        return a + b

    assert check_call(add, (2.0, 3.0), 5.0, section=SECTION) is None

    def first(values):
        return float(values[0])

    # A list is not a tuple: it is the one and only argument.
    assert check_call(first, [4.0, 5.0], 4.0, section=SECTION) is None


def test_check_call_passes_kwargs():
    def scaled(x, *, beta):
        return np.log1p(np.exp(beta * x)) / beta

    assert check_call(scaled, 0.0, math.log(2.0) / 2.0, kwargs={"beta": 2.0}, section="") is None
    msg = failure(check_call, scaled, 0.0, 1.0, kwargs={"beta": 2.0}, section=SECTION)
    assert "scaled(0.0, beta=2.0)" in msg


# --- check_call: failure messages -----------------------------------------------------------


def test_scalar_failure_names_call_expected_got_and_section():
    msg = failure(check_call, lambda x: x, -2.0, 0.0, name="relu", section=SECTION)
    assert "relu(-2.0)" in msg
    assert "should be 0.0" in msg
    assert "returned -2.0" in msg
    assert f"See {SECTION}." in msg


def test_failure_uses_function_name_by_default():
    def my_relu(x):
        return x

    msg = failure(check_call, my_relu, -2.0, 0.0, section=SECTION)
    assert "my_relu(-2.0)" in msg


def test_empty_section_adds_no_reference():
    msg = failure(check_call, lambda x: x, -2.0, 0.0, name="relu", section="")
    assert "See" not in msg
    assert "relu(-2.0)" in msg


def test_array_failure_names_first_wrong_index_and_count():
    x = np.array([-1.0, 0.0, 2.0, -3.0])
    msg = failure(check_call, lambda v: v, x, [0.0, 0.0, 2.0, 0.0], name="relu", section=SECTION)
    assert "relu(np.array([-1.,  0.,  2., -3.], dtype=float64))" in msg
    assert "wrong at index 0" in msg
    assert "expected 0.0, got -1.0" in msg
    assert "2 of 4 elements differ" in msg
    assert SECTION in msg


def test_array_failure_in_2d_names_the_index_tuple():
    expected = np.zeros((2, 3))
    got = expected.copy()
    got[1, 2] = 5.0
    msg = failure(check_call, lambda v: got, 0.0, expected, name="f", section=SECTION)
    assert "wrong at index (1, 2)" in msg
    assert "expected 0.0, got 5.0" in msg
    assert "1 of 6 elements differ" in msg


def test_scalar_expected_rejects_one_element_array():
    msg = failure(check_call, lambda x: np.array([0.0]), -2.0, 0.0, name="relu", section=SECTION)
    assert "relu(-2.0)" in msg
    assert "shape (1,)" in msg
    assert "expected a single number" in msg
    assert SECTION in msg


def test_array_expected_rejects_scalar_result():
    x = np.array([-1.0, 2.0])
    msg = failure(check_call, lambda v: 0.0, x, [0.0, 2.0], name="relu", section=SECTION)
    assert "returned 0.0 with shape ()" in msg
    assert "expected an array of shape (2,)" in msg


def test_array_expected_rejects_wrong_shape():
    msg = failure(
        check_call, lambda v: np.zeros(3), 0.0, np.zeros((3, 1)), name="f", section=SECTION
    )
    assert "shape (3,)" in msg
    assert "expected an array of shape (3, 1)" in msg


def test_long_arguments_are_shortened_in_messages():
    x = np.arange(1000.0)
    msg = failure(check_call, lambda v: v + 1.0, x, x, name="f", section=SECTION)
    assert "..." in msg
    assert len(msg) < 600


# --- check_call: wrong return types ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        ([0.0], "list"),
        ("0.0", "str"),
        (None, "NoneType"),
        (False, "bool"),
        (True, "bool"),
        (np.bool_(False), "bool"),
        ((0.0,), "tuple"),
    ],
)
def test_wrong_return_type_fails_naming_the_type(value, type_name):
    msg = failure(check_call, lambda x: value, -2.0, 0.0, name="relu", section=SECTION)
    assert "relu(-2.0) returned" in msg
    assert f"of type {type_name}" in msg
    assert "expected a number or a numpy array" in msg
    assert SECTION in msg


def test_object_whose_eq_is_always_true_does_not_pass():
    msg = failure(check_call, lambda x: AlwaysEqual(), -2.0, 0.0, name="relu", section=SECTION)
    assert "of type AlwaysEqual" in msg


def test_array_of_always_equal_objects_does_not_pass():
    result = np.array([AlwaysEqual(), AlwaysEqual()], dtype=object)
    msg = failure(check_call, lambda x: result, 0.0, [0.0, 1.0], name="f", section=SECTION)
    assert "dtype object" in msg
    assert "expected numbers" in msg


def test_boolean_array_does_not_pass_as_numbers():
    msg = failure(
        check_call, lambda x: np.array([False, True]), 0.0, [0.0, 1.0], name="f", section=SECTION
    )
    assert "dtype bool" in msg


def test_complex_result_does_not_pass():
    msg = failure(check_call, lambda x: np.array([1.0 + 0j]), 0.0, [1.0], name="f", section=SECTION)
    assert "dtype complex128" in msg


# --- check_call: nan and inf ----------------------------------------------------------------


def test_nan_expected_and_nan_returned_passes():
    assert check_call(lambda x: np.nan, 0.0, np.nan, section=SECTION) is None
    assert (
        check_call(lambda x: np.array([1.0, np.nan]), 0.0, [1.0, np.nan], section=SECTION) is None
    )


def test_nan_returned_where_number_expected_fails():
    msg = failure(check_call, lambda x: np.nan, 0.0, 1.0, name="f", section=SECTION)
    assert "should be 1.0" in msg
    assert "nan" in msg


def test_number_returned_where_nan_expected_fails():
    msg = failure(check_call, lambda x: 1.0, 0.0, np.nan, name="f", section=SECTION)
    assert "should be nan" in msg


@pytest.mark.parametrize("inf", [np.inf, -np.inf])
def test_equal_infinities_pass(inf):
    assert check_call(lambda x: inf, 0.0, inf, section=SECTION) is None
    assert check_call(lambda x: np.array([inf, 1.0]), 0.0, [inf, 1.0], section=SECTION) is None


@pytest.mark.parametrize(
    ("expected", "got"),
    [
        (np.inf, -np.inf),
        (-np.inf, np.inf),
        (np.inf, 1.0),
        (np.inf, 1e308),
        (-np.inf, -1e308),
        (np.inf, np.nan),
        (1.0, np.inf),
        (1e308, np.inf),
    ],
)
def test_infinity_matches_only_the_same_infinity(expected, got):
    failure(check_call, lambda x: got, 0.0, expected, section=SECTION)
    failure(check_call, lambda x: got, 0.0, expected, rtol=0.5, atol=1.0, section=SECTION)


def test_infinity_in_array_matches_only_the_same_infinity():
    msg = failure(
        check_call, lambda x: np.array([1.0, 5.0]), 0.0, [1.0, np.inf], name="f", section=SECTION
    )
    assert "wrong at index 1" in msg
    assert "expected inf, got 5.0" in msg


# --- check_call: tolerances -----------------------------------------------------------------


def test_default_rtol_is_tight():
    assert check_call(lambda x: 1.0 + 1e-13, 0.0, 1.0, section=SECTION) is None
    failure(check_call, lambda x: 1.0 + 1e-9, 0.0, 1.0, section=SECTION)


def test_rtol_loosens_relative_comparison():
    assert check_call(lambda x: 101.0, 0.0, 100.0, rtol=0.02, section=SECTION) is None
    failure(check_call, lambda x: 103.0, 0.0, 100.0, rtol=0.02, section=SECTION)


def test_atol_loosens_absolute_comparison_near_zero():
    failure(check_call, lambda x: 1e-10, 0.0, 0.0, section=SECTION)
    assert check_call(lambda x: 1e-10, 0.0, 0.0, atol=1e-9, section=SECTION) is None
    failure(check_call, lambda x: 1e-8, 0.0, 0.0, atol=1e-9, section=SECTION)


def test_tolerances_apply_elementwise():
    got = np.array([1.0, 2.0 + 1e-6])
    assert check_call(lambda x: got, 0.0, [1.0, 2.0], rtol=1e-5, section=SECTION) is None
    msg = failure(check_call, lambda x: got, 0.0, [1.0, 2.0], rtol=1e-8, section=SECTION)
    assert "wrong at index 1" in msg


# --- check_call: exceptions raised by the learner's function ----------------------------------


def test_not_implemented_error_tells_the_learner_what_to_replace():
    msg = failure(check_call, not_done, 1.0, 1.0, section=SECTION)
    assert "not_done(1.0) raised NotImplementedError" in msg
    assert "Replace `raise NotImplementedError()`" in msg
    assert SECTION in msg


def test_other_exception_is_reported_as_assertion_error_naming_it():
    def broken(x):
        return {}["missing"]

    msg = failure(check_call, broken, 1.0, 1.0, section=SECTION)
    assert "broken(1.0) raised KeyError: 'missing'" in msg
    assert SECTION in msg


def test_exception_message_is_included():
    def broken(x):
        raise ValueError("x must be positive")

    msg = failure(check_call, broken, -1.0, 1.0, section=SECTION)
    assert "raised ValueError: x must be positive" in msg


def test_reported_exception_does_not_chain_the_learner_traceback():
    with pytest.raises(AssertionError) as info:
        check_call(not_done, 1.0, 1.0, section=SECTION)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__ is True


# --- check_call: warnings policy ------------------------------------------------------------


def test_overflowing_function_really_warns_outside_the_check():
    # Guards the tests below: the helper does trigger a numpy overflow RuntimeWarning.
    with warnings.catch_warnings(record=True) as caught, np.errstate(over="warn"):
        warnings.simplefilter("always")
        assert overflowing_softplus(1000.0) == np.inf
    assert any(issubclass(w.category, RuntimeWarning) for w in caught)


def test_ignore_policy_passes_overflowing_answer_silently(no_escape):
    assert check_call(overflowing_softplus, 1000.0, np.inf, section=SECTION) is None
    assert (
        check_call(overflowing_softplus, 1000.0, np.inf, warnings="ignore", section=SECTION) is None
    )
    assert no_escape == []


def test_ignore_policy_drops_explicit_python_warnings(no_escape):
    def noisy(x):
        warnings.warn("careful", UserWarning, stacklevel=1)
        return x

    assert check_call(noisy, 1.0, 1.0, section=SECTION) is None
    assert no_escape == []


def test_ignore_policy_failure_still_reports_wrong_answer(no_escape):
    msg = failure(check_call, overflowing_softplus, 1000.0, 1000.0, section=SECTION)
    assert "overflowing_softplus(1000.0) should be 1000.0, but returned" in msg
    assert "inf" in msg
    assert no_escape == []


def test_error_policy_fails_naming_the_warning(no_escape):
    msg = failure(
        check_call, overflowing_softplus, 1000.0, np.inf, warnings="error", section=SECTION
    )
    assert "overflowing_softplus(1000.0) raised a warning" in msg
    assert "RuntimeWarning" in msg
    assert "overflow" in msg
    assert SECTION in msg
    assert no_escape == []


def test_error_policy_names_python_warnings(no_escape):
    def noisy(x):
        warnings.warn("careful now", UserWarning, stacklevel=1)
        return x

    msg = failure(check_call, noisy, 1.0, 1.0, warnings="error", section=SECTION)
    assert "UserWarning: careful now" in msg
    assert no_escape == []


def test_error_policy_passes_clean_function(no_escape):
    assert check_call(softplus, 0.0, math.log(2.0), warnings="error", section=SECTION) is None
    assert no_escape == []


def test_underflow_is_never_reported(no_escape):
    # Even where the caller asks numpy to warn on underflow, the check does not report it.
    with np.errstate(all="warn"):
        assert check_call(underflowing, 1e-300, 0.0, warnings="error", section=SECTION) is None
        assert check_call(underflowing, 1e-300, 0.0, section=SECTION) is None
    assert no_escape == []


def test_comparison_of_huge_values_lets_no_warning_escape(no_escape):
    # |got - expected| overflows; the check must still fail cleanly and silently.
    msg = failure(check_call, lambda x: 1e308, 0.0, -1e308, name="f", section=SECTION)
    assert "should be -1e+308" in msg
    failure(check_call, lambda x: np.array([1e308]), 0.0, [-1e308], section=SECTION)
    assert check_call(lambda x: 1e308, 0.0, 1e308, rtol=10.0, section=SECTION) is None
    assert no_escape == []


def test_passing_and_failing_checks_write_nothing(capsys):
    check_call(relu, -2.0, 0.0, section=SECTION)
    failure(check_call, relu, -2.0, 1.0, section=SECTION)
    failure(check_call, not_done, -2.0, 1.0, section=SECTION)
    out, err = capsys.readouterr()
    assert (out, err) == ("", "")


# --- check_call: bad arguments to the check itself ------------------------------------------


def test_func_not_callable_is_type_error():
    with pytest.raises(TypeError, match="func"):
        check_call(3.0, 1.0, 1.0, section=SECTION)


@pytest.mark.parametrize("section", [None, 2, ["Section 2"]])
def test_section_not_str_is_type_error(section):
    with pytest.raises(TypeError, match="section"):
        check_call(relu, 1.0, 1.0, section=section)


def test_section_is_required():
    with pytest.raises(TypeError, match="section"):
        check_call(relu, 1.0, 1.0)


@pytest.mark.parametrize("policy", ["warn", "raise", "", None, "Error"])
def test_unknown_warnings_policy_is_value_error(policy):
    with pytest.raises(ValueError, match="warnings"):
        check_call(relu, 1.0, 1.0, section=SECTION, warnings=policy)


@pytest.mark.parametrize(
    "tolerances",
    [
        {"rtol": -1e-9},
        {"atol": -1.0},
        {"rtol": float("nan")},
        {"atol": float("inf")},
        {"rtol": float("inf")},
    ],
)
def test_invalid_tolerance_is_value_error(tolerances):
    name = next(iter(tolerances))
    with pytest.raises(ValueError, match=name):
        check_call(relu, 1.0, 1.0, section=SECTION, **tolerances)


def test_bad_arguments_are_rejected_before_calling_func():
    calls = []

    def spy(x):
        calls.append(x)
        return x

    with pytest.raises(ValueError):
        check_call(spy, 1.0, 1.0, section=SECTION, warnings="loud")
    with pytest.raises(ValueError):
        check_call(spy, 1.0, 1.0, section=SECTION, rtol=-1.0)
    assert calls == []


# --- check_calls ----------------------------------------------------------------------------


def test_check_calls_with_mapping_passes():
    assert check_calls(relu, {-2.0: 0.0, 0.0: 0.0, 3.0: 3.0}, section=SECTION) is None


def test_check_calls_with_pairs_passes():
    cases = [(-2.0, 0.0), ((np.array([-1.0, 1.0]),), [0.0, 1.0])]
    assert check_calls(relu, cases, section=SECTION) is None


def test_check_calls_stops_at_first_failure_and_names_it():
    calls = []

    def wrong_relu(x):
        calls.append(x)
        return abs(x)

    msg = failure(check_calls, wrong_relu, [(1.0, 1.0), (-2.0, 0.0), (-3.0, 0.0)], section=SECTION)
    assert "wrong_relu(-2.0) should be 0.0, but returned 2.0" in msg
    assert SECTION in msg
    assert calls == [1.0, -2.0]


def test_check_calls_passes_options_on():
    def scaled(x, *, beta):
        return beta * x

    cases = [(1.0, 2.0 + 1e-6), (2.0, 4.0)]
    assert (
        check_calls(scaled, cases, section=SECTION, kwargs={"beta": 2.0}, rtol=1e-5, name="g")
        is None
    )
    msg = failure(check_calls, scaled, cases, section=SECTION, kwargs={"beta": 2.0}, name="g")
    assert "g(1.0, beta=2.0)" in msg


def test_check_calls_passes_warnings_policy_on(no_escape):
    cases = [(1000.0, np.inf)]
    assert check_calls(overflowing_softplus, cases, section=SECTION) is None
    msg = failure(check_calls, overflowing_softplus, cases, section=SECTION, warnings="error")
    assert "RuntimeWarning" in msg
    assert no_escape == []


@pytest.mark.parametrize("cases", [[], {}, ()])
def test_check_calls_empty_cases_is_value_error(cases):
    with pytest.raises(ValueError, match="cases"):
        check_calls(relu, cases, section=SECTION)


@pytest.mark.parametrize(
    "cases",
    [
        [(1.0, 1.0), (2.0,)],
        [(1.0, 1.0, 1.0)],
        [[1.0, 1.0]],
        [1.0],
    ],
)
def test_check_calls_malformed_case_is_value_error(cases):
    with pytest.raises(ValueError, match="case"):
        check_calls(relu, cases, section=SECTION)


def test_check_calls_validates_func_and_section():
    with pytest.raises(TypeError, match="func"):
        check_calls("relu", [(1.0, 1.0)], section=SECTION)
    with pytest.raises(TypeError, match="section"):
        check_calls(relu, [(1.0, 1.0)], section=3)


# --- check_raises ---------------------------------------------------------------------------


def strict_log(x):
    if x <= 0:
        raise ValueError(f"x must be positive, got {x}")
    return math.log(x)


def test_check_raises_passes_when_exception_is_raised():
    assert check_raises(strict_log, -1.0, ValueError, section=SECTION) is None


def test_check_raises_accepts_subclass_of_expected_exception():
    assert check_raises(lambda x: [][x], 3, LookupError, section=SECTION) is None


def test_check_raises_passes_with_matching_text_case_insensitively():
    assert check_raises(strict_log, -1.0, ValueError, match="MUST BE POSITIVE", section="") is None


def test_check_raises_fails_when_match_text_is_missing():
    msg = failure(check_raises, strict_log, -1.0, ValueError, match="negative", section=SECTION)
    assert "strict_log(-1.0) raised ValueError as it should" in msg
    assert "'x must be positive, got -1.0'" in msg
    assert "'negative'" in msg
    assert SECTION in msg


def test_check_raises_fails_when_nothing_is_raised():
    msg = failure(check_raises, strict_log, 1.0, ValueError, section=SECTION)
    assert "strict_log(1.0) should raise ValueError, but returned 0.0" in msg
    assert SECTION in msg


def test_check_raises_fails_when_another_exception_is_raised():
    def wrong(x):
        raise TypeError("bad type")

    msg = failure(check_raises, wrong, -1.0, ValueError, section=SECTION)
    assert "wrong(-1.0) should raise ValueError, but raised TypeError: bad type" in msg
    assert SECTION in msg


def test_check_raises_not_implemented_tells_the_learner_what_to_replace():
    msg = failure(check_raises, not_done, -1.0, ValueError, section=SECTION)
    assert "not_done(-1.0) raised NotImplementedError" in msg
    assert "Replace `raise NotImplementedError()`" in msg
    assert SECTION in msg


def test_check_raises_passes_when_not_implemented_is_what_is_expected():
    assert check_raises(not_done, 0.0, NotImplementedError, section=SECTION) is None


def test_check_raises_uses_args_kwargs_and_name():
    def checked(a, b, *, strict):
        if strict and a > b:
            raise ValueError("a > b")
        return a - b

    assert check_raises(checked, (2, 1), ValueError, kwargs={"strict": True}, section="") is None
    msg = failure(
        check_raises, checked, (2, 1), ValueError, kwargs={"strict": False}, name="cmp", section=""
    )
    assert "cmp(2, 1, strict=False) should raise ValueError, but returned 1" in msg


def test_check_raises_lets_no_warning_escape(no_escape):
    def noisy(x):
        np.exp(np.float64(1000.0))
        warnings.warn("careful", UserWarning, stacklevel=1)
        raise ValueError("bad")

    assert check_raises(noisy, 1.0, ValueError, section=SECTION) is None
    failure(check_raises, lambda x: np.exp(np.float64(x)), 1000.0, ValueError, section=SECTION)
    assert no_escape == []


def test_check_raises_func_not_callable_is_type_error():
    with pytest.raises(TypeError, match="func"):
        check_raises(None, 1.0, ValueError, section=SECTION)


def test_check_raises_section_not_str_is_type_error():
    with pytest.raises(TypeError, match="section"):
        check_raises(strict_log, 1.0, ValueError, section=None)


@pytest.mark.parametrize("exception", [ValueError("x"), "ValueError", int, None])
def test_check_raises_exception_not_exception_class_is_type_error(exception):
    with pytest.raises(TypeError, match=re.escape("exception must be an exception class")):
        check_raises(strict_log, -1.0, exception, section=SECTION)


def test_function_arguments_are_named_in_messages():
    def apply(f, x):
        return f(x) + 1.0

    def square(x):
        return x * x

    with pytest.raises(AssertionError, match=r"apply\(square, 2\.0\) should be 4\.0"):
        check_call(apply, (square, 2.0), 4.0, section="s")
