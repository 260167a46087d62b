"""Grading a class with broken and hostile submissions (softplus_course/pipeline/corpus.py).

The whole corpus is graded once, in a temporary copy of the course, with short limits (a few
seconds per cell, 1 GiB per kernel) so that the endless loop and the memory hog cost little.
"""

from __future__ import annotations

import time

import pytest
from conftest import LESSONS, feedback_text, hidden_test_lines, make_course_copy, submit
from nbgrader.api import Gradebook

from softplus_course.pipeline import fill_answers, grade, read_notebook, summary
from softplus_course.pipeline.corpus import EXPECTED, LESSON, build
from softplus_course.pipeline.lessons import Lesson

pytestmark = pytest.mark.slow
CELL_TIMEOUT_S = "5"
KERNEL_MEMORY_MB = "1024"


def _other_lesson_release(lesson: Lesson):
    """A released notebook of another lesson (or, while there is only one, a renamed copy)."""
    others = [other for other in LESSONS if other.name != lesson.name]
    if others:
        return read_notebook(others[0].release)
    nb = read_notebook(lesson.release)
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta:
            meta["grade_id"] = "other_" + meta["grade_id"]
    return nb


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Grade the corpus; return (course root, results by student, seconds taken)."""
    lesson = next(x for x in LESSONS if x.name == LESSON)
    release, source = read_notebook(lesson.release), read_notebook(lesson.source)
    complete = fill_answers(release, source)
    course = make_course_copy(tmp_path_factory.mktemp("corpus") / "course")
    for student, nb in build(release, complete, _other_lesson_release(lesson)).items():
        submit(course, student, LESSON, nb)
    submit(course, "unknown_folder", "99_no_such_lesson", complete)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTPLUS_CELL_TIMEOUT", CELL_TIMEOUT_S)
        mp.setenv("SOFTPLUS_KERNEL_MEMORY_MB", KERNEL_MEMORY_MB)
        start = time.perf_counter()
        results = grade(course)
        seconds = time.perf_counter() - start
    return course, {r.student: r for r in results}, seconds


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_case_is_graded_as_expected(corpus, case):
    _, results, _ = corpus
    r = results[case]
    want = EXPECTED[case]
    assert r.lesson == LESSON
    assert r.status == want.status, f"{case}: {r.status} ({r.reason})"
    assert r.scores == {k: float(v) for k, v in want.scores.items()}, f"{case}: {r.reason}"
    for text in [want.reason, *want.notes]:
        assert text in r.reason, f"{case}: reason {r.reason!r} should mention {text!r}"
    if not want.reason:
        assert "needs manual grading" not in r.reason


def test_unknown_lesson_folder_is_reported(corpus):
    _, results, _ = corpus
    r = results["unknown_folder"]
    assert r.status == "not graded" and "no lesson named '99_no_such_lesson'" in r.reason


def test_every_submission_is_in_the_gradebook_with_the_reported_score(corpus):
    course, results, _ = corpus
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student, r in results.items():
            if r.lesson != LESSON:
                continue
            nb = gb.find_submission_notebook(LESSON, LESSON, student)
            assert nb.score == r.score, student
            assert not nb.needs_manual_grade, f"{student} is left waiting for manual grading"


def test_feedback_exists_for_graded_work_and_hides_hidden_tests(corpus):
    course, results, _ = corpus
    lesson = next(x for x in LESSONS if x.name == LESSON)
    hidden = hidden_test_lines(read_notebook(lesson.source))
    assert hidden
    for student, r in results.items():
        page = course / "feedback" / student / r.lesson / f"{r.lesson}.html"
        assert page.is_file() == (r.status != "not graded"), student
        if page.is_file():
            text = feedback_text(course, student, r.lesson)
            assert f"Score: {r.score:.1f} / {r.max_score:.1f}" in text, student
            leaked = [line for line in hidden if line in text]
            assert not leaked, f"{student}: hidden test code in the feedback: {leaked[:2]}"


def test_summary_names_every_problem(corpus):
    _, results, seconds = corpus
    text = summary(list(results.values()), seconds)
    for student, r in results.items():
        if r.status != "graded" or r.notes:
            assert f"{student} / {r.lesson}: {r.reason}" in text


def test_regrading_gives_the_same_grades_and_a_consistent_gradebook(corpus):
    course, first, _ = corpus
    again_students = ["kernel_dies", "deleted_test", "monkeypatch", "broken_json", "control"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTPLUS_CELL_TIMEOUT", CELL_TIMEOUT_S)
        mp.setenv("SOFTPLUS_KERNEL_MEMORY_MB", KERNEL_MEMORY_MB)
        again = {r.student: r for r in grade(course, only_students=again_students)}
    for student in again_students:
        a, b = first[student], again[student]
        assert (a.status, a.scores, a.reason) == (b.status, b.scores, b.reason), student
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        submissions = gb.assignment_submissions(LESSON)
        students = sorted(s.student.id for s in submissions)
        assert len(students) == len(set(students)), "a student has two submissions"
        graded_here = sorted(s for s, r in first.items() if r.lesson == LESSON)
        assert students == graded_here
