"""The class statistics report: ``python -m softplus_course.pipeline stats [--out DIR]``.

For the instructor, from the gradebook alone (nothing is regraded): how the class scored in each
lesson and each exercise, which graded properties fail most often (with how often, and one
failure message each), and how many students have a graded submission of each lesson. It
reads nbgrader's tables through nbgrader's :class:`~nbgrader.api.Gradebook` (students,
submissions, each grade cell's ``score``, which includes manual overrides, and ``max_score``)
and the grader's own table through :func:`.records.load_records` (each submission's status and
per-property results). It writes, into ``reports/`` under the course root (``--out``):

- ``stats.html``: one self-contained page (inline CSS, no script, no CDN) that links the plots
  by relative paths, so the folder can be copied or zipped as it is;
- ``stats.csv``: the numbers of the page, in the long format below;
- ``stats/*.png``: the plots, drawn by matplotlib (Agg) in the course's style.

``nbgrader export`` writes ``grades.csv``; these names never collide with it.

What is counted:

- A lesson is an assignment of the gradebook (a lesson no submission was ever graded for is
  not in it). The students are those the gradebook knows (after ``grade``, everyone with a
  submission; after a roster import, the whole class).
- Scores are every submission in the gradebook. A lesson's score is nbgrader's: the sum of its
  grade cells' scores (manual overrides and extra credit included) less any late penalty, not
  below 0, as ``nbgrader export`` computes it; so a submission that could not be graded counts
  with the 0 it was recorded with. An exercise's score is its grade cell's score (no penalty).
- A submission is *graded* unless the grader's record says ``not graded``; one without a record
  (graded by nbgrader directly, e.g. from the Formgrader) counts as graded.
- A property *fails* in a submission when it earned less than its points. Its example message
  is the one most of its failures got (the first such, by student id, on a tie), counting only
  submissions that earned points on the exercise when there are any (a wrong answer says more
  than an exercise not done); control characters are replaced.

``stats.csv`` has one row per number group, with these columns (empty where they do not apply):

=========  ==============================================================================
kind       ``lesson``, ``exercise``, ``completion``, ``not_graded`` or ``property``
lesson     the lesson (nbgrader assignment), e.g. ``01_definition``
exercise   the exercise's test cell (its nbgrader ``grade_id``, a column of ``grades.csv``)
function   the function the exercise asks for (from the lesson's visible checks)
property   the graded property's name (``property`` rows)
count      ``lesson``/``exercise``: submissions scored; ``completion``: students with a graded
           submission; ``not_graded``: students whose submission could not be graded;
           ``property``: submissions in which the property failed
total      ``lesson``/``exercise``/``completion``/``not_graded``: students the gradebook knows;
           ``property``: submissions in which the property was checked
mean, median, min, max
           of the scores (points), for ``lesson`` and ``exercise`` rows
max_score  the most points: of the lesson, the exercise, or the property
example    ``property`` rows: one failure message (empty if it never failed)
=========  ==============================================================================

Every property checked at least once has a row (sorted by failures, most first); the page
shows the ``--top`` most failed.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import textwrap
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape
from matplotlib import style
from matplotlib.figure import Figure
from nbgrader.api import Gradebook
from sqlalchemy.engine import make_url

from ..plotting import STYLE_PATH
from .feedback import exercise_functions
from .grading import NOT_GRADED, clean_line, gradebook_url
from .lessons import Lesson, graded_cells, read_notebook
from .records import load_records
from .report import REPORTS  # the instructor's reports folder, under the course root

__all__ = [
    "ClassStats",
    "ExerciseStats",
    "LessonStats",
    "PropertyStats",
    "Summary",
    "cmd_stats",
    "collect",
    "register",
    "write_report",
]

TOP_FAILURES = 20  # the most failed properties the page shows (all are in the CSV)
CSV_COLUMNS = [
    "kind",
    "lesson",
    "exercise",
    "function",
    "property",
    "count",
    "total",
    "mean",
    "median",
    "min",
    "max",
    "max_score",
    "example",
]
# Plot colours from the course's style (colour-blind safe): graded, not graded, missing.
GRADED_COLOUR, NOT_GRADED_COLOUR, MISSING_COLOUR = "#009E73", "#D55E00", "#BBBBBB"


@dataclass(frozen=True)
class Summary:
    """Count, mean, median, minimum and maximum of some scores (None but the count when
    there are none)."""

    count: int
    mean: float | None
    median: float | None
    min: float | None
    max: float | None

    @classmethod
    def of(cls, values: Iterable[float]) -> Summary:
        values = [float(v) for v in values]
        if not values:
            return cls(0, None, None, None, None)
        return cls(
            len(values),
            statistics.fmean(values),
            statistics.median(values),
            min(values),
            max(values),
        )


@dataclass
class ExerciseStats:
    """One exercise (grade cell) of a lesson, with every submission's score for it."""

    lesson: str
    grade_id: str
    function: str
    max_score: float
    scores: list[float] = field(default_factory=list)

    @property
    def summary(self) -> Summary:
        return Summary.of(self.scores)


@dataclass
class LessonStats:
    """One lesson (nbgrader assignment): its submissions' scores, its exercises, and who has a
    graded submission of it."""

    name: str
    max_score: float
    scores: list[float] = field(default_factory=list)  # per submission, after late penalties
    exercises: list[ExerciseStats] = field(default_factory=list)
    graded: list[str] = field(default_factory=list)  # students with a graded submission
    not_graded: list[str] = field(default_factory=list)  # students whose one was not graded

    @property
    def summary(self) -> Summary:
        return Summary.of(self.scores)


@dataclass
class PropertyStats:
    """One graded property of an exercise: how often it was checked and failed, and the
    messages of its failures (already made one line)."""

    lesson: str
    grade_id: str
    function: str
    name: str
    points: float
    checked: int = 0
    failed: int = 0
    messages: Counter = field(default_factory=Counter)
    attempted: Counter = field(default_factory=Counter)  # where the exercise earned points

    @property
    def example(self) -> str:
        """The failure message most submissions got ("" if it never failed), among those that
        earned points on the exercise if any did: a real wrong answer says more than an exercise
        left undone."""
        messages = self.attempted or self.messages
        return messages.most_common(1)[0][0] if messages else ""


@dataclass
class ClassStats:
    """Everything the report shows."""

    students: list[str]
    lessons: list[LessonStats]
    properties: list[PropertyStats]  # most failed first

    @property
    def failing(self) -> list[PropertyStats]:
        return [p for p in self.properties if p.failed]


def collect(db_url: str, root: Path | None = None) -> ClassStats:
    """Read the gradebook at ``db_url`` (nbgrader's tables and the grader's records) into the
    report's numbers. ``root``, the course, only orders each lesson's exercises as its notebook
    does (the gradebook keeps no order); without it, or for a lesson it lacks, by name."""
    records = load_records(db_url)
    lessons: list[LessonStats] = []
    properties: dict[tuple[str, str, str], PropertyStats] = {}
    with Gradebook(db_url) as gb:
        students = sorted(s.id for s in gb.students)
        for assignment in sorted(gb.assignments, key=lambda a: a.name):
            functions = exercise_functions(assignment.name)
            lesson = LessonStats(assignment.name, float(assignment.max_score or 0.0))
            cells = [c for nb in assignment.notebooks for c in nb.grade_cells]
            order = _notebook_order(root, assignment.name)
            cells.sort(key=lambda c: (order.get(c.name, len(order)), c.name))
            exercises = {
                c.name: ExerciseStats(
                    assignment.name, c.name, functions.get(c.name, c.name), float(c.max_score)
                )
                for c in cells
            }
            lesson.exercises = list(exercises.values())
            for submission in sorted(assignment.submissions, key=lambda s: s.student.id):
                student = submission.student.id
                penalty = float(submission.late_submission_penalty or 0.0)
                lesson.scores.append(max(0.0, float(submission.score or 0.0) - penalty))
                for nb in submission.notebooks:
                    for grade in nb.grades:
                        if grade.name in exercises:
                            exercises[grade.name].scores.append(float(grade.score))
                record = records.get((student, assignment.name))
                if record is not None and record.status == NOT_GRADED:
                    lesson.not_graded.append(student)
                    continue
                lesson.graded.append(student)
                for grade_id, results in (record.properties if record else {}).items():
                    exercise = exercises.get(grade_id)
                    function = exercise.function if exercise else grade_id
                    attempted = any(float(r["earned"]) > 0 for r in results)
                    for result in results:
                        _count(properties, (assignment.name, grade_id, function), result, attempted)
            lessons.append(lesson)
    ranked = sorted(properties.values(), key=lambda p: (-p.failed, p.lesson, p.grade_id))
    return ClassStats(students, lessons, ranked)


def _notebook_order(root: Path | None, lesson: str) -> dict[str, int]:
    """``{grade_id: position}`` of the test cells in the lesson's source notebook."""
    source = Lesson(lesson, Path(root)).source if root is not None else None
    if source is None or not source.is_file():
        return {}
    return {grade_id: i for i, (grade_id, _) in enumerate(graded_cells(read_notebook(source)))}


def _count(properties: dict, exercise: tuple, result: dict, attempted: bool) -> None:
    """Count one property's result in one submission; ``exercise`` is (lesson, grade_id,
    function), ``attempted`` whether the submission earned any points on that exercise."""
    name, points = str(result["name"]), float(result["points"])
    key = (exercise[0], exercise[1], name)
    prop = properties.get(key)
    if prop is None:
        prop = properties[key] = PropertyStats(*exercise, name, points)
    prop.checked += 1
    if float(result["earned"]) < points:
        prop.failed += 1
        # Failure messages may quote a student's values: one line, no control characters.
        message = clean_line(result.get("problem", ""))
        prop.messages[message] += 1
        if attempted:
            prop.attempted[message] += 1


# --- the table ----------------------------------------------------------------------------------


def csv_rows(stats: ClassStats) -> list[dict]:
    """The rows of ``stats.csv`` (see the module's docstring), as dicts by column."""
    total = len(stats.students)
    rows = []
    for lesson in stats.lessons:
        rows.append(
            _row("lesson", lesson.name, count=lesson.summary.count, total=total)
            | _summary(lesson.summary, lesson.max_score)
        )
        for e in lesson.exercises:
            rows.append(
                _row("exercise", lesson.name, e.grade_id, e.function, count=e.summary.count)
                | {"total": total}
                | _summary(e.summary, e.max_score)
            )
        rows.append(_row("completion", lesson.name, count=len(lesson.graded), total=total))
        rows.append(_row("not_graded", lesson.name, count=len(lesson.not_graded), total=total))
    for p in stats.properties:
        rows.append(
            _row("property", p.lesson, p.grade_id, p.function, p.name, p.failed, p.checked)
            | {"max_score": _number(p.points), "example": p.example}
        )
    return rows


def _row(kind, lesson, exercise="", function="", prop="", count="", total="") -> dict:
    row = dict.fromkeys(CSV_COLUMNS, "")
    row.update(
        kind=kind,
        lesson=lesson,
        exercise=exercise,
        function=function,
        property=prop,
        count=count,
        total=total,
    )
    return row


def _summary(summary: Summary, max_score: float) -> dict:
    values = {
        "mean": summary.mean,
        "median": summary.median,
        "min": summary.min,
        "max": summary.max,
    }
    out = {k: "" if v is None else _number(v) for k, v in values.items()}
    out["max_score"] = _number(max_score)
    return out


def _number(value: float) -> str:
    """A number for the table: up to 4 decimals, without trailing zeros."""
    return f"{round(float(value), 4):g}"


def write_csv(stats: ClassStats, path: Path) -> Path:
    """Write ``stats.csv``: :func:`csv_rows` under a header of :data:`CSV_COLUMNS`."""
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(csv_rows(stats))
    return Path(path)


# --- the plots ----------------------------------------------------------------------------------


def _figure(width: float, height: float) -> Figure:
    # Figure, not pyplot: no global state and no interactive backend; savefig renders with Agg.
    return Figure(figsize=(width, height), layout="constrained")


def _percent(values: Iterable[float], most: float) -> np.ndarray:
    values = np.asarray(list(values), dtype=float)
    return 100.0 * values / most if most > 0 else np.zeros_like(values)


def _boxes(ax, groups: list[np.ndarray], labels: list[str]) -> None:
    """Horizontal box plots of percentages, one per group, with every value drawn as a dot
    (jittered, seeded: the same picture every run) so that small classes show their students."""
    rng = np.random.default_rng(0)
    positions = np.arange(len(groups), 0, -1)  # the first group on top
    drawn = [(g, p) for g, p in zip(groups, positions, strict=True) if len(g)]
    if drawn:
        ax.boxplot(
            [g for g, _ in drawn],
            positions=[p for _, p in drawn],
            orientation="horizontal",
            widths=0.6,
            showfliers=False,
            medianprops={"color": "#D55E00", "linewidth": 2},
        )
        for values, position in drawn:
            jitter = rng.uniform(-0.18, 0.18, size=len(values))
            ax.scatter(values, position + jitter, s=14, alpha=0.6, color="#0072B2", zorder=3)
    ax.set_yticks(positions, labels)
    ax.set_xlim(-3, 103)
    ax.set_xlabel("score, % of the maximum")


def plot_lessons(stats: ClassStats, path: Path) -> Path:
    fig = _figure(7.5, 1.0 + 0.4 * len(stats.lessons))
    ax = fig.add_subplot()
    groups = [_percent(lesson.scores, lesson.max_score) for lesson in stats.lessons]
    labels = [f"{lesson.name} (n={len(lesson.scores)})" for lesson in stats.lessons]
    _boxes(ax, groups, labels)
    ax.set_title("Score per lesson")
    fig.savefig(path)
    return path


def plot_exercises(lesson: LessonStats, path: Path) -> Path:
    fig = _figure(7.5, 1.0 + 0.42 * max(1, len(lesson.exercises)))
    ax = fig.add_subplot()
    groups = [_percent(e.scores, e.max_score) for e in lesson.exercises]
    labels = [f"{e.function} ({_number(e.max_score)} pt)" for e in lesson.exercises]
    _boxes(ax, groups, labels)
    ax.set_title(f"{lesson.name}: score per exercise")
    fig.savefig(path)
    return path


def plot_completion(stats: ClassStats, path: Path) -> Path:
    fig = _figure(7.5, 1.2 + 0.3 * len(stats.lessons))
    ax = fig.add_subplot()
    total = len(stats.students)
    positions = np.arange(len(stats.lessons), 0, -1)
    graded = np.array([len(lesson.graded) for lesson in stats.lessons])
    failed = np.array([len(lesson.not_graded) for lesson in stats.lessons])
    missing = total - graded - failed
    ax.barh(positions, graded, color=GRADED_COLOUR, label="graded")
    ax.barh(positions, failed, left=graded, color=NOT_GRADED_COLOUR, label="not graded")
    ax.barh(positions, missing, left=graded + failed, color=MISSING_COLOUR, label="no submission")
    for position, count in zip(positions, graded, strict=True):
        ax.text(total, position, f" {count}/{total}", va="center", fontsize=9)
    ax.set_yticks(positions, [lesson.name for lesson in stats.lessons])
    ax.set_xlim(0, max(total, 1) * 1.12)
    ax.set_xlabel("students")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(axis="y", visible=False)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=3)
    ax.set_title("Graded submissions per lesson", pad=24)
    fig.savefig(path)
    return path


def plot_failures(failing: list[PropertyStats], path: Path) -> Path:
    fig = _figure(8.5, 1.0 + 0.38 * len(failing))
    ax = fig.add_subplot()
    positions = np.arange(len(failing), 0, -1)
    ax.barh(positions, [p.failed for p in failing], color="#D55E00")
    labels = [
        textwrap.shorten(f"{p.lesson[:2]} {p.function}: {p.name}", 58, placeholder="…")
        for p in failing
    ]
    ax.set_yticks(positions, labels, fontsize=9)
    ax.set_xlabel("submissions in which it failed")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(axis="y", visible=False)
    ax.set_title("Most failed properties")
    fig.savefig(path)
    return path


# --- the page -----------------------------------------------------------------------------------


def _environment() -> Environment:
    # Autoescaping: property names are ours, but failure messages quote students' values.
    return Environment(
        loader=PackageLoader("softplus_course.pipeline", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def write_html(stats: ClassStats, path: Path, plots: dict[str, str], top: int) -> Path:
    """Write ``stats.html`` (templates/stats.html.j2) showing the ``top`` most failed
    properties; ``plots`` are the plots' paths relative to the page."""
    env = _environment()
    env.filters["number"] = lambda v: "–" if v is None else _number(v)
    page = env.get_template("stats.html.j2").render(
        stats=stats,
        plots=plots,
        failing=stats.failing[:top],
        written=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )
    Path(path).write_text(page, encoding="utf-8")
    return Path(path)


def write_report(
    db_url: str, out: Path, top: int = TOP_FAILURES, root: Path | None = None
) -> list[Path]:
    """Write ``stats.html``, ``stats.csv`` and ``stats/*.png`` into ``out``; return the paths
    of the page and the table. ``root``: see :func:`collect`."""
    stats = collect(db_url, root)
    out = Path(out)
    folder = out / "stats"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):  # the plots of an earlier report (a lesson may be gone)
        old.unlink()
    plots: dict[str, Path] = {}  # by what they show: completion, lessons, failures, a lesson
    with style.context(STYLE_PATH):
        if stats.lessons:
            plots["completion"] = plot_completion(stats, folder / "completion.png")
            plots["lessons"] = plot_lessons(stats, folder / "lesson_scores.png")
            for lesson in stats.lessons:
                name = f"exercises_{lesson.name}.png"
                plots[lesson.name] = plot_exercises(lesson, folder / name)
        if stats.failing:
            plots["failures"] = plot_failures(stats.failing[:top], folder / "failures.png")
    links = {key: path.relative_to(out).as_posix() for key, path in plots.items()}
    return [
        write_html(stats, out / "stats.html", links, top),
        write_csv(stats, out / "stats.csv"),
    ]


# --- the command --------------------------------------------------------------------------------


def cmd_stats(root: Path, args) -> int:
    """``stats``: write the report of the course at ``root``'s gradebook."""
    db_url = gradebook_url(root)
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        # Opening a missing SQLite gradebook would create an empty one.
        print(f"No gradebook at {url.database}: grade first (make grade).")
        return 1
    out = args.out if args.out is not None else root / REPORTS
    page, table = write_report(db_url, out, top=args.top, root=root)
    print(f"Wrote {page}, {table} and {page.parent / 'stats'}/ (plots).")
    return 0


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def register(sub) -> None:
    """Add this module's commands to the pipeline's command line."""
    text = "class statistics from the gradebook: reports/stats.html, stats.csv and plots"
    p = sub.add_parser("stats", help=text, description=text)
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"folder to write into (default: {REPORTS}/ under the course root)",
    )
    p.add_argument(
        "--top",
        type=_positive,
        default=TOP_FAILURES,
        help=f"how many of the most failed properties the page shows (default {TOP_FAILURES}; "
        "the CSV has all)",
    )
    p.set_defaults(func=cmd_stats)
