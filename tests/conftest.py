"""Shared fixtures: the course root, its lessons, and a graded copy of the course."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import nbformat
import pytest

from softplus_course.pipeline import discover_lessons, fill_answers, grade, read_notebook

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "tests" / "sample_submissions"
LESSONS = discover_lessons(ROOT)
LESSON_IDS = [lesson.name for lesson in LESSONS]

# The bundled submissions are student work to grade, not notebooks for nbval to run.
collect_ignore_glob = ["sample_submissions/*"]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: executes notebooks or runs nbgrader")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def make_course_copy(destination: Path) -> Path:
    """A throw-away course root: config and solutions, no gradebook, nothing submitted."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", destination)
    shutil.copytree(ROOT / "solutions", destination / "solutions")
    return destination


def submit(course: Path, student: str, lesson: str, nb_or_text) -> Path:
    """Place a notebook (or raw text, for broken files) as ``student``'s submission."""
    folder = course / "submitted" / student / lesson
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{lesson}.ipynb"
    if isinstance(nb_or_text, str):
        path.write_text(nb_or_text, encoding="utf-8")
    else:
        nbformat.write(nb_or_text, path)
    return path


# Malformed submissions of the first lesson, and how the pipeline must treat them. Each is the
# complete (correct) submission with one thing broken, so anything below full marks is the fault.
def _malformed(release, complete):
    def without(cell_id):
        nb = copy.deepcopy(complete)
        nb.cells = [c for c in nb.cells if c.get("id") != cell_id]
        return nb

    # A blank answer whose test cell was edited to pass: nbgrader must restore the test.
    edited_test = copy.deepcopy(release)
    for cell in edited_test.cells:
        if cell.get("id") == "test_relu":
            cell.source = "assert True"
    unknown_kernel = copy.deepcopy(complete)
    unknown_kernel.metadata["kernelspec"] = {"name": "no-such-kernel", "display_name": "?"}
    return {
        "broken_json": '{"cells": [ {"cell_type": "code", ',
        "broken_schema": json.dumps({"cells": "none", "nbformat": 4, "nbformat_minor": 5}),
        "deleted_answer": without("softplus"),
        "unknown_kernel": unknown_kernel,
        "edited_test": edited_test,
    }


@pytest.fixture(scope="session")
def graded_course(tmp_path_factory):
    """A copy of the course with submissions for every lesson, graded once by the pipeline.

    Students: ``solution`` (every answer from solutions/), ``blank`` (the released notebook as
    it is), the bundled samples, and malformed submissions of the first lesson.
    Returns ``(course_root, {(student, lesson): SubmissionResult})``.
    """
    course = make_course_copy(tmp_path_factory.mktemp("graded") / "course")
    for lesson in LESSONS:
        release = read_notebook(lesson.release)
        source = read_notebook(lesson.source)
        submit(course, "solution", lesson.name, fill_answers(release, source))
        submit(course, "blank", lesson.name, release)
    for student in sorted(p for p in SAMPLES.iterdir() if p.is_dir()):
        shutil.copytree(student, course / "submitted" / student.name)
    first = LESSONS[0]
    complete = fill_answers(read_notebook(first.release), read_notebook(first.source))
    for student, nb in _malformed(read_notebook(first.release), complete).items():
        submit(course, student, first.name, nb)
    submit(course, "wrong_folder", "99_no_such_lesson", complete)
    results = grade(course)
    return course, {(r.student, r.lesson): r for r in results}
