"""The class's scores, per exercise, rebuilt from the gradebook without regrading.

``python -m softplus_course.pipeline report`` (and every ``grade`` run, at its end) writes
``reports/scores.csv``: one row per graded submission in the gradebook, whichever run graded
it, with the scores the gradebook holds now. A score an instructor set by hand in the Formgrader
is used and marked (column ``overridden``); an override whose exercise's maximum changed since
the submission was graded, or that exceeds the maximum, is warned about (column ``warnings``,
and on the terminal). Status and reason come from the grader's records (:mod:`.records`).

The folder ``reports/`` is ours: ``nbgrader export`` writes ``grades.csv`` in the course root
and never touches it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from .lessons import discover_lessons, graded_cells, read_notebook
from .records import load_records

__all__ = ["ReportRow", "SCORES_CSV", "build_report", "write_report", "report_course"]

REPORTS = Path("reports")
SCORES_CSV = REPORTS / "scores.csv"
UNRECORDED = "graded elsewhere"  # in the gradebook, but not by this course's grader


@dataclass
class ReportRow:
    """One student's lesson as the gradebook has it now."""

    student: str
    lesson: str
    status: str
    scores: dict[str, float] = field(default_factory=dict)
    max_scores: dict[str, float] = field(default_factory=dict)
    overridden: list[str] = field(default_factory=list)  # exercises scored by hand
    late_penalty: float = 0.0
    sandbox: str = ""
    reason: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return max(0.0, sum(self.scores.values()) - self.late_penalty)

    @property
    def max_score(self) -> float:
        return sum(self.max_scores.values())


def build_report(root: Path | str, db_url: str | None = None) -> list[ReportRow]:
    """Every submission in the gradebook, ordered by lesson (course order) then student."""
    from .grading import gradebook_url  # grading imports this module

    root = Path(root).resolve()
    db_url = db_url or gradebook_url(root)
    records = load_records(db_url)
    known = discover_lessons(root)
    order = {lesson.name: i for i, lesson in enumerate(known)}
    cells = {lesson.name: list(graded_cells(read_notebook(lesson.source))) for lesson in known}
    rows = []
    with Gradebook(db_url) as gb:
        lessons = sorted(gb.assignments, key=lambda a: (order.get(a.name, len(order)), a.name))
        for assignment in lessons:
            for submission in sorted(assignment.submissions, key=lambda s: s.student.id):
                rows.append(_row(gb, assignment.name, submission, records, cells))
    return rows


def _row(gb: Gradebook, lesson: str, submission, records, cells) -> ReportRow:
    student = submission.student.id
    record = records.get((student, lesson))
    row = ReportRow(student, lesson, status=record.status if record else UNRECORDED)
    if record:
        row.sandbox, row.reason = record.sandbox, record.reason
    try:
        notebook = gb.find_submission_notebook(lesson, lesson, student)
    except MissingEntry:
        row.warnings.append(f"the gradebook has no notebook {lesson} for this submission")
        return row
    row.late_penalty = float(notebook.late_submission_penalty or 0.0)
    order = {name: i for i, name in enumerate(cells.get(lesson, []))}
    for g in sorted(notebook.grades, key=lambda g: (order.get(g.name, len(order)), g.name)):
        if not g.cell.max_score:
            continue
        row.max_scores[g.name] = float(g.max_score)
        row.scores[g.name] = float(g.score or 0.0)
        if g.manual_score is None:
            continue
        row.overridden.append(g.name)
        # The maximum when the score was set by hand: kept by the grader's records across
        # regrades (an override survives a regrade; nbgrader keeps manual scores).
        then = record.override_max.get(g.name, record.max_scores.get(g.name)) if record else None
        if then is not None and float(then) != float(g.max_score):
            row.warnings.append(
                f"{g.name}: scored by hand, and its maximum changed from {then:g} to "
                f"{g.max_score:g} since it was graded: check the score"
            )
        if g.manual_score > g.max_score:
            row.warnings.append(
                f"{g.name}: scored {g.manual_score:g} by hand, above its maximum {g.max_score:g}"
            )
    return row


def write_report(rows: list[ReportRow], path: Path | str) -> Path:
    """One CSV row per submission: status, total (after any late penalty), maximum, the late
    penalty, each exercise's points, which were scored by hand, sandbox, reason, warnings."""
    from .grading import clean_line

    exercises: list[str] = []
    for r in rows:
        exercises += [name for name in r.max_scores if name not in exercises]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            [
                "student",
                "lesson",
                "status",
                "score",
                "max_score",
                "late_penalty",
                *exercises,
                "overridden",
                "sandbox",
                "reason",
                "warnings",
            ]
        )
        for r in rows:
            cells = [f"{r.scores[e]:g}" if e in r.max_scores else "" for e in exercises]
            writer.writerow(
                [
                    clean_line(v)
                    for v in [
                        r.student,
                        r.lesson,
                        r.status,
                        f"{r.score:g}",
                        f"{r.max_score:g}",
                        f"{r.late_penalty:g}",
                        *cells,
                        " ".join(r.overridden),
                        r.sandbox,
                        r.reason,
                        "; ".join(r.warnings),
                    ]
                ]
            )
    return path


def report_course(root: Path | str, out: Path | str | None = None, quiet: bool = False) -> int:
    """Write the scores report and print its warnings; return 0, or 1 if there are warnings."""
    root = Path(root).resolve()
    rows = build_report(root)
    path = write_report(rows, Path(out) if out else root / SCORES_CSV)
    warned = [r for r in rows if r.warnings]
    if not quiet:
        hand = sum(len(r.overridden) for r in rows)
        print(
            f"Wrote {_shown(path, root)}: {len(rows)} submissions from the gradebook, "
            f"{hand} scores set by hand."
        )
        for r in warned:
            for w in r.warnings:
                print(f"  warning: {r.student} / {r.lesson}: {w}")
    return 1 if warned else 0


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)
