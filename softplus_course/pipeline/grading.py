"""Autograde every submission in ``submitted/``, write ``grades.csv`` and HTML feedback.

The layout is nbgrader's: ``submitted/<student>/<lesson>/<lesson>.ipynb``. Each submission is
checked, autograded and given feedback on its own, so one broken submission is reported with
its reason and never stops the grading of the others.
"""

from __future__ import annotations

import csv
import tempfile
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy.exc import SAWarning

from .lessons import Lesson, NotebookError, discover_lessons, graded_cells, read_notebook
from .nbgrader_ops import NbgraderFailure, check, load_config, make_api, release_to

__all__ = ["SubmissionResult", "grade", "write_csv", "summary", "find_submissions"]

GRADED = "graded"
NOT_GRADED = "not graded"


@dataclass
class SubmissionResult:
    """The outcome for one student and one lesson."""

    student: str
    lesson: str
    status: str = GRADED
    reason: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    max_scores: dict[str, float] = field(default_factory=dict)

    @property
    def score(self) -> float:
        return sum(self.scores.values())

    @property
    def max_score(self) -> float:
        return sum(self.max_scores.values())


def find_submissions(root: Path) -> list[tuple[str, str]]:
    """Return ``(student, lesson folder)`` for every folder in ``submitted/``, sorted."""
    submitted = root / "submitted"
    if not submitted.is_dir():
        return []
    pairs = []
    for student in sorted(p for p in submitted.iterdir() if p.is_dir()):
        if student.name.startswith("."):
            continue
        for lesson in sorted(p for p in student.iterdir() if p.is_dir()):
            if not lesson.name.startswith("."):
                pairs.append((student.name, lesson.name))
    return pairs


def _precheck(root: Path, student: str, lesson: Lesson | None, folder: str) -> str:
    """Return why a submission cannot be autograded, or "" if it can."""
    if lesson is None:
        return f"no lesson named {folder!r} in this course"
    path = root / "submitted" / student / lesson.name / lesson.notebook
    if not path.is_file():
        found = sorted(p.name for p in path.parent.glob("*.ipynb"))
        return f"{lesson.notebook} is missing (the folder holds {found or 'no notebooks'})"
    try:
        read_notebook(path)
    except NotebookError as exc:
        return str(exc)
    return ""


def _read_scores(db_url: str, lesson: Lesson, student: str, result: SubmissionResult) -> None:
    with Gradebook(db_url) as gb:
        try:
            nb = gb.find_submission_notebook(lesson.name, lesson.name, student)
        except MissingEntry:
            result.status, result.reason = NOT_GRADED, "nbgrader recorded no grades"
            return
        for g in nb.grades:
            result.scores[g.name] = float(g.score or 0.0)


def grade(root: Path | str, only_students: Iterable[str] | None = None) -> list[SubmissionResult]:
    """Autograde the submissions under ``root/submitted`` and generate their feedback.

    Returns one :class:`SubmissionResult` per (student, lesson folder), failures included.
    """
    root = Path(root).resolve()
    lessons = {lesson.name: lesson for lesson in discover_lessons(root)}
    wanted = set(only_students) if only_students is not None else None
    pairs = [(s, f) for s, f in find_submissions(root) if wanted is None or s in wanted]

    db_url = load_config(root).CourseDirectory.get("db_url") or f"sqlite:///{root / 'gradebook.db'}"
    # The gradebook must know each lesson's cells (autograde restores locked cells from it). The
    # student versions generated on the way are thrown away: course/ is not touched here.
    needed = sorted({folder for _, folder in pairs if folder in lessons})
    with tempfile.TemporaryDirectory(prefix="softplus-grade-") as scratch:
        release_to(root, scratch, [lessons[n] for n in needed], db_url=db_url)

    api = make_api(root, db_url=db_url)
    results = []
    for student, folder in pairs:
        lesson = lessons.get(folder)
        result = SubmissionResult(student, folder)
        if lesson is not None:
            source = read_notebook(lesson.source)
            result.max_scores = dict(graded_cells(source))
        result.reason = _precheck(root, student, lesson, folder)
        if result.reason:
            result.status = NOT_GRADED
        else:
            try:
                with warnings.catch_warnings():
                    # nbgrader 0.9.6 trips SQLAlchemy's autoflush warning when it creates a
                    # submission; the rows are written correctly (the tests read them back).
                    warnings.filterwarnings("ignore", "Object of type .* not in session", SAWarning)
                    check(api.autograde(folder, student, force=True, create=True), "autograde")
                _read_scores(db_url, lesson, student, result)
                check(api.generate_feedback(folder, student, force=True), "feedback")
            except NbgraderFailure as exc:
                result.status = NOT_GRADED
                result.reason = _last_line(str(exc))
        if result.status != GRADED:
            result.scores = {name: 0.0 for name in result.max_scores}
        results.append(result)
    return results


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"


def write_csv(results: list[SubmissionResult], path: Path | str) -> Path:
    """Write one row per student and lesson: status, total, maximum, each exercise, reason."""
    exercises: list[str] = []
    for r in results:
        exercises += [name for name in r.max_scores if name not in exercises]
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "lesson", "status", "score", "max_score", *exercises, "reason"])
        for r in results:
            cells = [_fmt(r.scores[e]) if e in r.max_scores else "" for e in exercises]
            writer.writerow(
                [r.student, r.lesson, r.status, _fmt(r.score), _fmt(r.max_score), *cells, r.reason]
            )
    return path


def _fmt(value: float) -> str:
    return f"{value:g}"


def summary(results: list[SubmissionResult], seconds: float | None = None) -> str:
    """A short text report: one line per submission, then every failure with its reason."""
    if not results:
        return "No submissions found in submitted/ (expected submitted/<student>/<lesson>/)."
    width = max(len(r.student) for r in results)
    lines = [f"{'student':<{width}}  {'lesson':<24} {'score':>9}  status"]
    for r in results:
        score = f"{_fmt(r.score)}/{_fmt(r.max_score)}"
        lines.append(f"{r.student:<{width}}  {r.lesson:<24} {score:>9}  {r.status}")
    failed = [r for r in results if r.status != GRADED]
    students = len({r.student for r in results})
    took = f" in {seconds:.1f} s" if seconds is not None else ""
    lines.append(
        f"{len(results) - len(failed)} of {len(results)} submissions from {students} students "
        f"graded{took}."
    )
    if failed:
        lines.append(f"Could not grade {len(failed)}:")
        lines += [f"  {r.student} / {r.lesson}: {r.reason}" for r in failed]
    return "\n".join(lines)


def grade_course(root: Path | str) -> int:
    """Grade, write grades.csv, print the summary; return the exit status (1 if any failed)."""
    root = Path(root).resolve()
    start = time.perf_counter()
    results = grade(root)
    csv_path = write_csv(results, root / "grades.csv")
    print(summary(results, time.perf_counter() - start))
    if results:
        print(f"Wrote {csv_path.relative_to(root)} and feedback/<student>/<lesson>/ (HTML).")
    return 1 if any(r.status != GRADED for r in results) else 0
