"""A learner's self-check: ``python -m softplus_course check NOTEBOOK`` (``make check``)."""

from __future__ import annotations

import shutil

import nbformat
import pytest
from conftest import LESSONS, ROOT

from softplus_course.__main__ import main
from softplus_course.pipeline import fill_answers, read_notebook
from softplus_course.selfcheck import check_notebook, find_specs

FIRST = LESSONS[0]
pytestmark = pytest.mark.slow


def _learner_copy(tmp_path, with_specs: bool, answers: dict[str, str] | None = None):
    """A learner's clone: course/ (and specs/ when the class publishes them), one notebook
    with the solutions' answers except ``answers``."""
    release = read_notebook(FIRST.release)
    nb = fill_answers(release, read_notebook(FIRST.source), overrides=answers)
    path = tmp_path / "course" / FIRST.name / FIRST.notebook
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    if with_specs:
        shutil.copytree(ROOT / "specs", tmp_path / "specs")
    return path


def test_with_specs_every_property_is_checked_with_points(tmp_path):
    wrong_relu = "def relu(x):\n    return x * (x > 0)\n"  # nan at -inf: a hidden input
    path = _learner_copy(tmp_path, with_specs=True, answers={"relu": wrong_relu})
    assert find_specs(path, FIRST.name) == tmp_path / "specs" / f"{FIRST.name}.py"
    report, points, maximum = check_notebook(path)
    assert "checked with the full specification" in report
    assert (points, maximum) == (9.5, 10.0)
    assert "[FAILED] infinities: relu(inf) = inf, relu(-inf) = 0 (0/0.5)" in report
    assert "relu(-inf) should be 0.0, got nan." in report
    assert "(a hidden check; reread section 1, 'The definition')" in report
    assert report.rstrip().endswith("Total: 9.5 of 10 points.")


def test_without_specs_only_the_visible_checks_run_and_it_says_so(tmp_path, capsys):
    path = _learner_copy(tmp_path, with_specs=False, answers={"softplus_gap_bound": "x = 1\n"})
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "visible checks only" in out and f"has no specs/{FIRST.name}.py" in out
    assert "[FAILED] test_softplus_gap_bound: AssertionError" in out
    assert "Visible checks pass for 8 of 10 points." in out


def test_a_copy_under_another_name_is_checked_as_its_lesson(tmp_path):
    """A learner keeps attempts side by side (my_attempt.ipynb): the test cells name the
    lesson, so the copy gets the full check."""
    path = _learner_copy(
        tmp_path, with_specs=True, answers={"relu": "def relu(x):\n    return x\n"}
    )
    copy = path.with_name("my_attempt.ipynb")
    path.rename(copy)
    report, points, maximum = check_notebook(copy)
    assert "checked with the full specification" in report
    assert maximum == 10.0 and points < 10.0
    assert "[FAILED]" in report and "relu" in report


def test_a_path_that_is_not_a_lesson_notebook_is_refused(tmp_path, capsys):
    other = tmp_path / "notes.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), other)
    assert main(["check", str(other), str(tmp_path / "missing.ipynb")]) == 2
    err = capsys.readouterr().err
    assert "not a lesson notebook" in err and "no notebook at" in err
