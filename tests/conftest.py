"""Shared fixtures: the course root, its lessons, and a graded copy of the course."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest

from softplus_course.pipeline import discover_lessons, fill_answers, grade, read_notebook
from softplus_course.pipeline.grading import copy_course, place_submission

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "tests" / "sample_submissions"
LESSONS = discover_lessons(ROOT)
LESSON_IDS = [lesson.name for lesson in LESSONS]

# Browser tests drive Debian's Chromium, never a downloaded browser, with these flags.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


def launch_chromium(playwright, timeout_ms: float = 30_000):
    """Debian's Chromium, headless, through Playwright (raises Playwright's Error if it cannot
    start: each browser test says what it needs)."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=timeout_ms
    )


# The bundled submissions are student work to grade, not notebooks for nbval to run.
collect_ignore_glob = ["sample_submissions/*"]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: executes notebooks or runs nbgrader")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def make_course_copy(destination: Path) -> Path:
    """A throw-away course root: config and solutions, no gradebook, nothing submitted."""
    return copy_course(ROOT, destination)


def submit(course: Path, student: str, lesson: str, nb_or_text) -> Path:
    """Place a notebook (or raw text, for broken files) as ``student``'s submission."""
    return place_submission(course, student, lesson, nb_or_text)


def processes_with(marker: str) -> list[int]:
    """Process ids on this machine whose command line contains ``marker``."""
    import psutil

    return [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if marker in " ".join(p.info["cmdline"] or [])
    ]


def spec_lines(lesson_name: str) -> list[str]:
    """The substantial code lines of a lesson's check specification that the lesson itself
    does not contain (to look for leaks: a call like ``relu(x)`` is in both)."""
    text = (ROOT / "specs" / f"{lesson_name}.py").read_text(encoding="utf-8")
    lesson = (ROOT / "solutions" / lesson_name / f"{lesson_name}.ipynb").read_text("utf-8")
    return [
        line.strip()
        for line in text.splitlines()
        if len(line.strip()) > 20
        and not line.strip().startswith(("#", '"', "S", "call("))
        and line.strip() not in lesson
    ]


def feedback_text(course: Path, student: str, lesson: str) -> str:
    """The text of a student's HTML feedback, tags removed."""
    page = course / "feedback" / student / lesson / f"{lesson}.html"
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))


@pytest.fixture(scope="session")
def graded_course(tmp_path_factory):
    """A copy of the course with submissions for every lesson, graded once by the pipeline.

    Students: ``solution`` (every answer from solutions/), ``blank`` (the released notebook as
    it is), and the bundled samples, graded two at a time. (Broken and hostile submissions:
    tests/test_corpus.py.)
    Returns ``(course_root, {(student, lesson): SubmissionResult})``.
    """
    course = make_course_copy(tmp_path_factory.mktemp("graded") / "course")
    for lesson in LESSONS:
        if not lesson.release.is_file():
            continue  # a lesson not released yet: test_course_is_in_sync reports it
        release = read_notebook(lesson.release)
        source = read_notebook(lesson.source)
        submit(course, "solution", lesson.name, fill_answers(release, source))
        submit(course, "blank", lesson.name, release)
    for student in sorted(p for p in SAMPLES.iterdir() if p.is_dir()):
        shutil.copytree(student, course / "submitted" / student.name)
    # Two worker processes, as `make grade JOBS=2` uses: test_grading.py checks that they give
    # what one process gives.
    results = grade(course, jobs=2)
    return course, {(r.student, r.lesson): r for r in results}
