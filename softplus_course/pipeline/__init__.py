"""The instructor pipeline: release, execute, validate, autograde, report, benchmark.

Run it as ``python -m softplus_course.pipeline <command>`` (the Makefile does); see
``python -m softplus_course.pipeline --help``. Lessons are discovered from ``solutions/``, so a
new lesson folder needs no change here.
"""

from .grading import SubmissionResult, grade, grade_course, summary
from .lessons import Lesson, NotebookError, discover_lessons, find_root, read_notebook
from .nbgrader_ops import release, release_to, validate
from .notebooks import execute, execute_in_place, fill_answers, strip_solution_markers
from .report import build_report, report_course, write_report

__all__ = [
    "Lesson",
    "build_report",
    "report_course",
    "NotebookError",
    "SubmissionResult",
    "discover_lessons",
    "execute",
    "execute_in_place",
    "fill_answers",
    "find_root",
    "grade",
    "grade_course",
    "read_notebook",
    "release",
    "release_to",
    "strip_solution_markers",
    "summary",
    "validate",
    "write_report",
]
