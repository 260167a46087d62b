"""Due dates and late penalties, configured in ``nbgrader_config.py`` and applied by nbgrader.

nbgrader already knows how late a submission is: autograding reads the time in
``submitted/<student>/<lesson>/timestamp.txt`` into the gradebook, and a submission's
``total_seconds_late`` is that time minus its lesson's due date (plus any extension given in
the gradebook). Its ``AssignLatePenalties`` step (in ``c.Autograde.autograde_preprocessors``)
then asks a plugin for the penalty and stores it with the submission; nbgrader's feedback page
and ``nbgrader export`` subtract it, and so does ``lms-export``. A penalty needs all three:

1. a **due date in the gradebook** for the lesson: :func:`set_due_dates` writes the configured
   ones there before each grading run;
2. a **timestamp** for the submission: ``timestamp.txt`` (``lms-import`` writes it, as nbgrader's
   ``collect`` does);
3. a **penalty rule**: :class:`LatePolicy`, the plugin nbgrader is told to use.

The configuration (``nbgrader_config.py``)::

    c.AssignLatePenalties.plugin_class = "softplus_course.pipeline.late.LatePolicy"
    c.LatePolicy.due_dates = {
        "01_definition": "2026-10-05 23:59 Europe/Berlin",  # a time and an IANA time zone
        "02_derivative": "2026-10-12T23:59:00+02:00",  # or ISO 8601 with its UTC offset
        "03_derivative_checks": None,  # None: no due date (clears one set before)
    }
    c.LatePolicy.percent_per_day = 10  # of the lesson's points, per day or part of a day late
    c.LatePolicy.max_percent = 50  # never more than this
    c.LatePolicy.grace_minutes = 0  # this late counts as on time

A due date without a time zone is refused (a deadline means a wall clock somewhere). Lessons
the dict does not name keep whatever due date the gradebook has (none, or one set in the
Formgrader). The penalty is never more than the points the submission earned, so a late
submission's score does not go below zero (nbgrader caps it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nbconvert.preprocessors import Preprocessor
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import BasePlugin
from traitlets import Bool, Dict, Float

from .lessons import discover_lessons
from .nbgrader_ops import load_config

__all__ = [
    "DAY_SECONDS",
    "DueDateError",
    "LatePolicy",
    "parse_due_date",
    "set_due_dates",
    "time_zone",
]

DAY_SECONDS = 24 * 3600

# "2026-10-05 23:59", optionally with seconds, then the zone: a name or a numeric UTC offset.
_WALL_TIME = re.compile(
    r"^(?P<wall>\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s+(?P<zone>\S+)$"
)
_OFFSET = re.compile(r"^(?P<sign>[+-])(?P<hours>\d{2}):?(?P<minutes>\d{2})$")


class DueDateError(ValueError):
    """A due date in the configuration that cannot be used; the message names it."""


def parse_due_date(text: str | datetime) -> datetime:
    """The moment ``text`` names, as an aware datetime in UTC.

    Accepts ``"2026-10-05 23:59[:00] Europe/Berlin"`` (a wall time and an IANA zone, nbgrader's
    own form; also ``UTC`` or a numeric offset such as ``+0200`` in place of the zone), ISO 8601
    with an offset (``"2026-10-05T23:59:00+02:00"``, ``...Z``), or an aware ``datetime``. Raises
    :class:`DueDateError` for a time without a zone, an unknown zone or anything else.
    (nbgrader's own ``parse_utc`` would read ``+0200`` as 200 seconds and an unknown zone as
    UTC, so it is not used here.)
    """
    if isinstance(text, datetime):
        moment = text
    elif isinstance(text, str):
        moment = _parse_text(text.strip())
    else:
        raise DueDateError(f"expected a date and time as text, got {text!r}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise DueDateError(
            f"{str(text)!r} has no time zone: write it as '2026-10-05 23:59 Europe/Berlin' or "
            "'2026-10-05T23:59:00+02:00'"
        )
    return moment.astimezone(timezone.utc)


def _parse_text(text: str) -> datetime:
    match = _WALL_TIME.match(text)
    if match:
        wall = _iso(match["wall"].replace(" ", "T"), text)
        return wall.replace(tzinfo=_zone(match["zone"], text))
    return _iso(text, text)


def _iso(text: str, original: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise DueDateError(
            f"{original!r} is not a date and time such as '2026-10-05 23:59 Europe/Berlin'"
        ) from None


def time_zone(name: str):
    """The time zone ``name`` names: an IANA name (``Europe/Berlin``), ``UTC``, or an offset
    (``+0200``). Raises :class:`DueDateError` for anything else."""
    return _zone(name, name)


def _zone(name: str, original: str):
    offset = _OFFSET.match(name)
    if offset:
        minutes = int(offset["hours"]) * 60 + int(offset["minutes"])
        return timezone(timedelta(minutes=-minutes if offset["sign"] == "-" else minutes))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DueDateError(
            f"{original!r}: unknown time zone {name!r} (use an IANA name such as "
            "'Europe/Berlin' or 'America/New_York', 'UTC', or an offset such as '+0200')"
        ) from None


class LatePolicy(BasePlugin):
    """nbgrader's late-submission plugin for this course: a share of the lesson's points per
    day, or part of a day, late, up to a cap; and the lessons' due dates (used by
    :func:`set_due_dates`, not by nbgrader)."""

    due_dates = Dict(
        help="Due date of each lesson, by lesson name: '2026-10-05 23:59 Europe/Berlin', ISO "
        "8601 with an offset, or None for no due date. Lessons not named keep the gradebook's."
    ).tag(config=True)
    percent_per_day = Float(
        10.0, min=0.0, help="Penalty, in percent of the lesson's points, per started day late."
    ).tag(config=True)
    max_percent = Float(
        100.0, min=0.0, max=100.0, help="The penalty never exceeds this percent of the points."
    ).tag(config=True)
    grace_minutes = Float(
        0.0, min=0.0, help="Submissions at most this many minutes late count as on time."
    ).tag(config=True)

    def days_late(self, seconds_late: float) -> int:
        """Days late, counting a started day as a whole one; 0 within the grace period."""
        if seconds_late <= self.grace_minutes * 60:
            return 0
        return math.ceil(seconds_late / DAY_SECONDS)

    def penalty(self, seconds_late: float, max_points: float) -> float:
        """The points taken from a lesson worth ``max_points`` handed in ``seconds_late`` late."""
        percent = min(self.max_percent, self.percent_per_day * self.days_late(seconds_late))
        return round(max_points * percent / 100.0, 6)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float):
        """nbgrader's plugin method, called by ``AssignLatePenalties`` for a late notebook (it
        then caps the penalty at ``score``). The lesson's points come from the gradebook that
        ``AssignLatePenalties`` has open."""
        parent = self.parent
        try:
            gradebook, notebook, lesson = parent.gradebook, parent.notebook_id, parent.assignment_id
        except AttributeError:
            raise TypeError(
                "LatePolicy.late_submission_penalty is called by nbgrader's AssignLatePenalties "
                "(use LatePolicy.penalty directly elsewhere)"
            ) from None
        max_points = gradebook.find_notebook(notebook, lesson).max_score
        penalty = self.penalty(total_seconds_late, max_points)
        self.log.info(
            "%s: %s is %.1f h late: penalty %g of %g points",
            lesson,
            student_id,
            total_seconds_late / 3600,
            penalty,
            max_points,
        )
        return penalty

    def parsed_due_dates(self, lessons: Iterable[str]) -> dict[str, datetime | None]:
        """The configured due dates, in UTC (None: no due date). Raises :class:`DueDateError`
        naming the lesson for a date that cannot be read, or a name that is not a lesson of
        ``lessons`` (a misspelt lesson would otherwise never be late)."""
        known = list(lessons)
        unknown = sorted(name for name in self.due_dates if name not in known)
        if unknown:
            raise DueDateError(
                f"c.LatePolicy.due_dates names {unknown}, not lessons of this course "
                f"(they are {known})"
            )
        parsed = {}
        for name, value in self.due_dates.items():
            try:
                parsed[name] = None if value is None else parse_due_date(value)
            except DueDateError as exc:
                raise DueDateError(f"c.LatePolicy.due_dates[{name!r}]: {exc}") from None
        return parsed


def set_due_dates(root: Path, db_url: str, lessons: list[str]) -> dict[str, datetime | None]:
    """Write each of ``lessons``' configured due date into the gradebook before autograding.

    Reads ``c.LatePolicy.due_dates`` from ``root/nbgrader_config.py``; a lesson set to None has
    its due date cleared, a lesson not named keeps the gradebook's. Creates the lesson's
    gradebook entry if need be. Returns every one of ``lessons``' due dates as the gradebook now
    holds them (naive UTC, as nbgrader stores them; None: no due date), for the caller to
    report. Raises :class:`DueDateError` for a configuration that cannot be used, before
    writing anything.
    """
    policy = LatePolicy(config=load_config(root))
    configured = policy.parsed_due_dates(lesson.name for lesson in discover_lessons(root))
    held: dict[str, datetime | None] = {}
    with Gradebook(db_url) as gb:
        for name in lessons:
            if name in configured:
                # nbgrader's parse_utc turns the aware UTC time into the naive UTC it stores.
                gb.update_or_create_assignment(name, duedate=configured[name])
            try:
                held[name] = gb.find_assignment(name).duedate
            except MissingEntry:
                held[name] = None  # not in the gradebook yet: grading adds it, with no due date
    return held


class ShowLateness(Preprocessor):
    """For the feedback page: how late the submission was and by which rule, next to the
    penalty nbgrader lists (``resources["nbgrader"]["lateness"]``, None when on time). Runs
    after nbgrader's ``GetGrades``, from the same gradebook."""

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        info["lateness"] = None
        with Gradebook(info["db_url"]) as gb:
            submission = gb.find_submission(info["assignment"], info["student"])
            seconds, due = submission.total_seconds_late, submission.duedate
        if seconds and seconds > 0 and due is not None:
            rule = LatePolicy(config=self.config)
            info["lateness"] = {
                "hours": f"{seconds / 3600:.1f}",
                "due": due.strftime("%Y-%m-%d %H:%M UTC"),
                "days": rule.days_late(seconds),
                "rule": f"{rule.percent_per_day:g} % of the lesson's points per started day, "
                f"at most {rule.max_percent:g} %",
            }
        return nb, resources
