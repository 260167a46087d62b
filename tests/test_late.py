"""Due dates and late penalties: the configuration is read and checked, due dates reach the
gradebook, and a late submission is penalised by the rule, in the gradebook after grading."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import LESSON_IDS, LESSONS, ROOT, feedback_text, submit
from nbgrader.api import Gradebook

from softplus_course.pipeline import fill_answers, grade, read_notebook
from softplus_course.pipeline import grading as grading_module
from softplus_course.pipeline.grading import copy_course
from softplus_course.pipeline.late import (
    DAY_SECONDS,
    DueDateError,
    LatePolicy,
    parse_due_date,
    set_due_dates,
)
from softplus_course.pipeline.lms import read_gradebook, write_timestamp
from softplus_course.pipeline.nbgrader_ops import load_config

FIRST = LESSONS[0]
BERLIN = ZoneInfo("Europe/Berlin")


def with_late_config(course: Path, settings: str) -> Path:
    """Append settings to the course copy's nbgrader_config.py (as an instructor would)."""
    config = course / "nbgrader_config.py"
    config.write_text(config.read_text(encoding="utf-8") + "\n" + settings + "\n")
    return course


def policy(course: Path) -> LatePolicy:
    return LatePolicy(config=load_config(course))


# --- the rule and the configuration ------------------------------------------------------------


def test_shipped_configuration_uses_the_plugin_and_makes_nothing_late():
    config = load_config(ROOT)
    assert config.AssignLatePenalties.plugin_class == "softplus_course.pipeline.late.LatePolicy"
    assert policy(ROOT).due_dates == {}


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-10-05 23:59 Europe/Berlin", datetime(2026, 10, 5, 21, 59)),  # summer time
        ("2026-12-05 23:59:00 Europe/Berlin", datetime(2026, 12, 5, 22, 59)),  # winter time
        ("2026-10-05T23:59:00+02:00", datetime(2026, 10, 5, 21, 59)),
        ("2026-10-05 23:59:00 +0200", datetime(2026, 10, 5, 21, 59)),
        ("2026-10-05T21:59:00Z", datetime(2026, 10, 5, 21, 59)),
        ("2026-10-05 21:59 UTC", datetime(2026, 10, 5, 21, 59)),
    ],
)
def test_due_dates_are_read_with_their_time_zone(text, utc):
    assert parse_due_date(text) == utc.replace(tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-10-05 23:59", "has no time zone"),
        ("2026-10-05 23:59 Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("next Monday", "is not a date and time"),
        (20261005, "expected a date and time as text"),
    ],
)
def test_a_due_date_that_cannot_be_read_is_refused(text, message):
    with pytest.raises(DueDateError, match=message):
        parse_due_date(text)


def test_the_penalty_is_a_share_of_the_points_per_started_day_capped():
    rule = LatePolicy(percent_per_day=10, max_percent=50, grace_minutes=5)
    hour = 3600
    cases = {  # seconds late -> days counted
        0: 0,
        5 * 60: 0,  # within the grace period
        5 * 60 + 1: 1,
        DAY_SECONDS: 1,
        DAY_SECONDS + 1: 2,
        26 * hour: 2,
        4 * DAY_SECONDS + 1: 5,
        30 * DAY_SECONDS: 30,
    }
    for seconds, days in cases.items():
        assert rule.days_late(seconds) == days, seconds
        assert rule.penalty(seconds, 12) == pytest.approx(12 * min(50, 10 * days) / 100)


def test_the_plugin_is_only_for_nbgraders_late_penalty_step():
    with pytest.raises(TypeError, match="called by nbgrader's AssignLatePenalties"):
        LatePolicy().late_submission_penalty("s", 10.0, 3600.0)


# --- due dates into the gradebook --------------------------------------------------------------


@pytest.fixture
def course(tmp_path) -> Path:
    return copy_course(ROOT, tmp_path / "course", LESSON_IDS[:3])


def test_set_due_dates_writes_the_configured_dates_into_the_gradebook(course):
    with_late_config(
        course,
        f'c.LatePolicy.due_dates = {{"{LESSON_IDS[0]}": "2026-10-05 23:59 Europe/Berlin", '
        f'"{LESSON_IDS[1]}": None}}',
    )
    url = f"sqlite:///{course / 'gradebook.db'}"
    earlier = datetime(2026, 9, 1, 12, 0)
    with Gradebook(url) as gb:  # due dates set before, as in the Formgrader
        gb.update_or_create_assignment(LESSON_IDS[1], duedate=earlier)
        gb.update_or_create_assignment(LESSON_IDS[2], duedate=earlier)
    held = set_due_dates(course, url, LESSON_IDS[:3])
    assert held == {
        LESSON_IDS[0]: datetime(2026, 10, 5, 21, 59),  # naive UTC, as nbgrader stores it
        LESSON_IDS[1]: None,  # None clears it
        LESSON_IDS[2]: earlier,  # not configured: the gradebook's stays
    }
    with Gradebook(url) as gb:
        assert {a.name: a.duedate for a in gb.assignments} == held


def test_a_misspelt_lesson_or_a_bad_date_stops_before_anything_is_written(course):
    url = f"sqlite:///{course / 'gradebook.db'}"
    config = course / "nbgrader_config.py"
    original = config.read_text()
    for settings, message in [
        ('c.LatePolicy.due_dates = {"01_defintion": "2026-10-05 23:59 UTC"}', "'01_defintion'"),
        (
            f'c.LatePolicy.due_dates = {{"{LESSON_IDS[0]}": "2026-10-05 23:59 UTC", '
            f'"{LESSON_IDS[1]}": "2026-10-12 23:59"}}',
            f"due_dates\\['{LESSON_IDS[1]}'\\]: '2026-10-12 23:59' has no time zone",
        ),
    ]:
        config.write_text(original + "\n" + settings + "\n")
        with pytest.raises(DueDateError, match=message):
            set_due_dates(course, url, LESSON_IDS[:2])
        assert not (course / "gradebook.db").exists()  # checked before the gradebook is opened


# --- a late submission, graded ----------------------------------------------------------------

DUE = datetime(2026, 10, 5, 23, 59, tzinfo=BERLIN)
LATE_BY = timedelta(hours=26)


@pytest.fixture(scope="module")
def late_course(tmp_path_factory):
    """Lesson 01 with a due date in the configuration; two full-marks submissions, one handed in
    an hour early and one 26 hours late, graded once (grading writes the due date into the
    gradebook itself)."""
    course = copy_course(ROOT, tmp_path_factory.mktemp("late") / "course", [FIRST.name])
    with_late_config(course, f'c.LatePolicy.due_dates = {{"{FIRST.name}": "{DUE.isoformat()}"}}')
    answers = fill_answers(read_notebook(FIRST.release), read_notebook(FIRST.source))
    for student, handed_in in [("ontime", DUE - timedelta(hours=1)), ("late", DUE + LATE_BY)]:
        folder = submit(course, student, FIRST.name, answers).parent
        write_timestamp(folder, handed_in)
    results = {r.student: r for r in grade(course, jobs=1)}
    return course, results


@pytest.mark.slow
def test_a_late_submission_loses_what_the_rule_says_and_an_early_one_nothing(late_course):
    course, results = late_course
    assert {r.status for r in results.values()} == {"graded"}
    rule = policy(course)
    with Gradebook(grading_module.gradebook_url(course)) as gb:
        assignment = gb.find_assignment(FIRST.name)
        assert assignment.duedate == DUE.astimezone(timezone.utc).replace(tzinfo=None)
        late, ontime = (gb.find_submission(FIRST.name, s) for s in ("late", "ontime"))
        max_points = assignment.max_score
        assert late.score == ontime.score == max_points  # full marks before the penalty
        assert late.total_seconds_late == LATE_BY.total_seconds()
        assert ontime.total_seconds_late == 0
        # 26 hours are two started days: percent_per_day twice, as configured.
        days = math.ceil(LATE_BY.total_seconds() / DAY_SECONDS)
        assert days == 2
        expected = max_points * min(rule.max_percent, rule.percent_per_day * days) / 100
        assert expected > 0
        assert late.late_submission_penalty == pytest.approx(expected)
        assert ontime.late_submission_penalty == 0


@pytest.mark.slow
def test_the_penalty_is_on_the_feedback_page_and_in_the_export(late_course):
    course, _ = late_course
    book = read_gradebook(course, grading_module.gradebook_url(course))
    grades = {s.student_id: s.lessons[FIRST.name] for s in book.students}
    late, ontime = grades["late"], grades["ontime"]
    assert late.seconds_late / 3600 == pytest.approx(26)
    assert late.total == pytest.approx(late.points - late.penalty) and late.penalty > 0
    assert (ontime.penalty, ontime.total) == (0, ontime.points)
    # nbgrader's feedback page lists the penalty (its template) and shows the score after it.
    text = feedback_text(course, "late", FIRST.name)
    assert f"Late submission penalty (Score: -{late.penalty:.1f})" in text
    # ... and says how late, against which due date, by which rule.
    due = DUE.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rule = policy(course)
    assert (
        f"handed in 26.0 hours after the due date ({due}), 2 started days late; the rule is "
        f"{rule.percent_per_day:g} % of the lesson's points per started day, at most "
        f"{rule.max_percent:g} %"
    ) in text
    assert f"{FIRST.name} (Score: {late.total:.1f} / {book.max_points[FIRST.name]:.1f})" in text
    assert "Late submission penalty" not in feedback_text(course, "ontime", FIRST.name)
