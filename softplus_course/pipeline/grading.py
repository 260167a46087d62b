"""Autograde every submission in ``submitted/``, write ``grades.csv`` and HTML feedback.

The layout is nbgrader's: ``submitted/<student>/<lesson>/<lesson>.ipynb``. Each submission is
checked, autograded and given feedback on its own, so one broken submission is reported with
its reason and never stops the grading of the others. With ``jobs`` above 1, that many worker
processes grade submissions side by side, all writing to the one gradebook.
"""

from __future__ import annotations

import csv
import multiprocessing
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy.exc import SAWarning

from ..spec import load_spec, warm_references
from .lessons import (
    Lesson,
    NotebookError,
    answer_cells,
    discover_lessons,
    graded_cells,
    read_notebook,
)
from .nbgrader_ops import NbgraderFailure, check, load_config, make_grading_api, release_to
from .preprocessors import KERNEL_DIED, TrustedGrade
from .sandbox import Nursery, SandboxUnavailable, check_available, one_grading_run
from .tamper import find_tampering, names_bound_by

__all__ = [
    "SubmissionResult",
    "grade",
    "gradebook_url",
    "write_csv",
    "summary",
    "find_submissions",
]

GRADED = "graded"
REVIEW = "review"  # graded, but the instructor should look (tampering)
NOT_GRADED = "not graded"
SANDBOXED = "bubblewrap"  # how the student code ran, in grades.csv and the summary
UNSANDBOXED = "none (--no-sandbox)"


@dataclass
class SubmissionResult:
    """The outcome for one student and one lesson."""

    student: str
    lesson: str
    status: str = GRADED
    notes: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    max_scores: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0  # wall time spent grading it
    sandbox: str = SANDBOXED

    @property
    def reason(self) -> str:
        """Everything worth knowing about how this submission was graded, in one line (text
        that came from a student's notebook has its control characters replaced)."""
        return clean_line("; ".join(self.notes))

    @property
    def score(self) -> float:
        return sum(self.scores.values())

    @property
    def max_score(self) -> float:
        return sum(self.max_scores.values())


def clean_line(text: str) -> str:
    """One line of text, safe for a terminal, a log and a CSV cell: no control characters."""
    return "".join(ch if ch.isprintable() else " " for ch in str(text))


def copy_course(root: Path | str, destination: Path | str, lessons: Iterable[str] = ()) -> Path:
    """A scratch course: ``nbgrader_config.py``, ``specs/`` and ``solutions/`` (only the named
    lessons, if any), with no gradebook and nothing submitted. For tests and benchmarks."""
    root, destination = Path(root), Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy(root / "nbgrader_config.py", destination)
    shutil.copytree(root / "specs", destination / "specs", dirs_exist_ok=True)
    names = list(lessons)
    if names:
        for name in names:
            shutil.copytree(root / "solutions" / name, destination / "solutions" / name)
    else:
        shutil.copytree(root / "solutions", destination / "solutions")
    return destination


def place_submission(course: Path | str, student: str, lesson: str, notebook) -> Path:
    """Put ``notebook`` (a NotebookNode, or raw text for a broken file) where nbgrader looks
    for ``student``'s submission of ``lesson``; return its path."""
    folder = Path(course) / "submitted" / student / lesson
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{lesson}.ipynb"
    if isinstance(notebook, str):
        path.write_text(notebook, encoding="utf-8")
    else:
        nbformat.write(notebook, path)
    return path


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


class _Skip(Exception):
    """A submission that cannot be autograded; the message says why."""


@dataclass
class _LessonInfo:
    lesson: Lesson
    grade_ids: list[str]  # every nbgrader cell, in order
    answers: list[str]
    max_scores: dict[str, float]
    protected: set[str]  # names the setup cell binds

    @classmethod
    def of(cls, lesson: Lesson) -> _LessonInfo:
        source = read_notebook(lesson.source)
        ids = [c.metadata["nbgrader"]["grade_id"] for c in source.cells if _is_nbgrader(c)]
        setup = [c.source for c in source.cells if c.cell_type == "code" and _is_locked(c)]
        protected = set().union(*(names_bound_by(code) for code in setup)) if setup else set()
        return cls(lesson, ids, answer_cells(source), dict(graded_cells(source)), protected)


def _is_nbgrader(cell) -> bool:
    return "grade_id" in cell.get("metadata", {}).get("nbgrader", {})


def _is_locked(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("locked")) and not meta.get("grade") and not meta.get("solution")


def _precheck(root: Path, student: str, info: _LessonInfo, infos: dict[str, _LessonInfo]):
    """Read the submission and say what grading must know about it.

    Returns ``(notes, tampering)``: the deleted cells that autograding will restore, and the
    tampering found in answer cells. Raises :class:`_Skip` when it cannot be graded at all.
    """
    lesson = info.lesson
    path = root / "submitted" / student / lesson.name / lesson.notebook
    if not path.is_file():
        found = sorted(p.name for p in path.parent.glob("*.ipynb"))
        raise _Skip(f"{lesson.notebook} is missing (the folder holds {found or 'no notebooks'})")
    try:
        nb = read_notebook(path)
    except NotebookError as exc:
        raise _Skip(str(exc)) from None
    ids = {c.metadata["nbgrader"]["grade_id"] for c in nb.cells if _is_nbgrader(c)}
    if not ids & (set(info.answers) | set(info.max_scores)):
        others = [n for n, o in infos.items() if n != lesson.name and ids & set(o.answers)]
        looks = f" (it looks like {others[0]})" if others else ""
        raise _Skip(f"the notebook has none of the exercises of {lesson.name}{looks}")
    tracked = info.answers + list(info.max_scores)
    notes = [f"restored deleted cell {g}" for g in info.grade_ids if g in tracked and g not in ids]
    tampering = [
        finding
        for cell in nb.cells
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")
        for finding in find_tampering(
            cell.metadata["nbgrader"].get("grade_id", cell.get("id", "?")),
            cell.source,
            info.protected,
        )
    ]
    return notes, tampering


def _execution_notes(root: Path, student: str, info: _LessonInfo) -> list[str]:
    """What went wrong while the answer cells ran: errors by cell, and a dying kernel."""
    lesson = info.lesson
    path = root / "autograded" / student / lesson.name / lesson.notebook
    if not path.is_file():
        return []
    notes = []
    for cell in read_notebook(path).cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        errors = (
            [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if cell.cell_type == "code"
            else []
        )
        names = [o.get("ename") for o in errors]
        if "CellTimeoutError" in names:  # the interrupt that ended it is no news
            names = ["CellTimeoutError"]
        died = [o.get("evalue", "") for o in errors if o.get("ename") == KERNEL_DIED]
        died.append(cell.get("metadata", {}).get("softplus", {}).get("kernel_died", ""))
        notes += [d.split(" (")[0] for d in died if d and not d.startswith("not run")]
        if meta.get("solution"):
            notes += [f"{meta.get('grade_id')}: {n}" for n in names if n != KERNEL_DIED]
    return notes


@contextmanager
def _quiet_sqlalchemy():
    """nbgrader 0.9.6 trips SQLAlchemy's autoflush warning whenever it creates a submission;
    the rows are written correctly (the tests read them back), so the warning is noise."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Object of type .* not in session", SAWarning)
        yield


def _record_zero(db_url: str, lesson: str, student: str) -> None:
    """Put a submission with 0 for every item in the gradebook (replacing any earlier one)."""
    with _quiet_sqlalchemy(), Gradebook(db_url) as gb:
        gb.update_or_create_student(student)
        try:
            gb.remove_submission(lesson, student)
        except MissingEntry:
            pass
        gb.add_submission(lesson, student)
        _set_scores(gb, lesson, student, auto=0.0)


def _set_scores(gb: Gradebook, lesson: str, student: str, *, auto=None, manual=None) -> None:
    nb = gb.find_submission_notebook(lesson, lesson, student)
    for g in nb.grades:
        if auto is not None:
            g.auto_score = auto
            g.needs_manual_grade = False
        g.manual_score = manual
    gb.db.commit()


def _read_scores(db_url: str, lesson: Lesson, student: str, result: SubmissionResult) -> None:
    with Gradebook(db_url) as gb:
        nb = gb.find_submission_notebook(lesson.name, lesson.name, student)
        for g in nb.grades:
            if g.score is None:  # nbgrader left it for manual grading: say so
                result.notes.append(f"{g.name} needs manual grading")
            result.scores[g.name] = float(g.score or 0.0)


# How long a process waits for another's write to the SQLite gradebook before giving up; nbgrader
# writes in short transactions, so parallel workers queue for well under a second.
SQLITE_BUSY_TIMEOUT_S = 60
# A submission whose grading fails for a reason outside the submission (the gradebook stayed
# locked, an error in this pipeline) is tried this many times before it is reported.
ATTEMPTS = 3
GRADEBOOK_BUSY = "database is locked"  # SQLite's words when the busy timeout ran out


def gradebook_url(root: Path) -> str:
    """The gradebook's URL from the course's configuration; SQLite gets a busy timeout, so
    that parallel workers (and a Formgrader left open) wait for each other's writes."""
    url = load_config(root).CourseDirectory.get("db_url") or f"sqlite:///{root / 'gradebook.db'}"
    if url.startswith("sqlite:") and "timeout=" not in url:
        url += ("&" if "?" in url else "?") + f"timeout={SQLITE_BUSY_TIMEOUT_S}"
    return url


def grade(
    root: Path | str,
    only_students: Iterable[str] | None = None,
    jobs: int = 1,
    *,
    sandbox: bool = True,
    nursery: bool = True,
) -> list[SubmissionResult]:
    """Autograde the submissions under ``root/submitted`` and generate their feedback.

    Returns one :class:`SubmissionResult` per (student, lesson folder), failures included, in
    the order of :func:`find_submissions` whatever ``jobs`` is; every submission of a known
    lesson ends up in the gradebook, with 0 for every item when it could not be graded.
    ``jobs`` worker processes grade side by side (1: all in this process). Student code runs
    in the bubblewrap sandbox; ``sandbox=False`` (for submissions the instructor trusts) runs it
    unconfined and says so in every result. Grading as root, each worker forks its kernels from
    one long-lived sandbox that has imported the lessons' libraries once (``nursery=False``: a
    fresh sandbox per submission, slower; see docs/grading.md). Raises
    :class:`SandboxUnavailable` when the sandbox is asked for and cannot be had.
    """
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs must be a whole number of at least 1, got {jobs!r}")
    if sandbox:
        check_available()
        # Sandboxed runs as root share the sandboxes' user ids: one run at a time per machine.
        with one_grading_run(report=lambda text: print(text, file=sys.stderr, flush=True)):
            return _grade(root, only_students, jobs, sandbox, nursery)
    return _grade(root, only_students, jobs, sandbox, nursery)


def _grade(root, only_students, jobs, sandbox, nursery) -> list[SubmissionResult]:
    root = Path(root).resolve()
    infos = {lesson.name: _LessonInfo.of(lesson) for lesson in discover_lessons(root)}
    wanted = set(only_students) if only_students is not None else None
    pairs = [(s, f) for s, f in find_submissions(root) if wanted is None or s in wanted]

    db_url = gradebook_url(root)
    # The gradebook must know each lesson's cells (autograde restores locked cells from it). The
    # student versions generated on the way are thrown away: course/ is not touched here.
    needed = sorted({folder for _, folder in pairs if folder in infos})
    with tempfile.TemporaryDirectory(prefix="softplus-grade-") as scratch:
        release_to(root, scratch, [infos[n].lesson for n in needed], db_url=db_url)
    # Every student exists before grading starts: two workers grading one student's lessons
    # would otherwise both try to add that student.
    with Gradebook(db_url) as gb:
        for student in sorted({s for s, _ in pairs}):
            gb.update_or_create_student(student)

    jobs = min(jobs, len(pairs))
    if jobs <= 1:
        _start_worker(root, db_url, infos, sandbox, nursery, None)
        try:
            return [_grade_pair(pair) for pair in pairs]
        finally:
            Nursery.close_all()  # workers' nurseries end with their processes
    # "spawn": a fresh interpreter per worker, the same on Linux, macOS and Windows, and no
    # copy of this process's open gradebook connections or threads. Each worker takes a slot
    # number: its sandboxes run as a user of their own.
    context = multiprocessing.get_context("spawn")
    slots = context.Queue()
    for slot in range(jobs):
        slots.put(slot)
    with ProcessPoolExecutor(
        jobs,
        mp_context=context,
        initializer=_start_worker,
        initargs=(root, db_url, infos, sandbox, nursery, slots),
    ) as pool:
        return list(pool.map(_grade_pair, pairs))


_worker: dict = {}  # what one grading process keeps between submissions


def _start_worker(
    root: Path, db_url: str, infos: dict[str, _LessonInfo], sandbox: bool, nursery: bool, slots
):
    slot = 0 if slots is None else slots.get()
    api = make_grading_api(root, db_url=db_url, sandbox=sandbox, slot=slot, nursery=nursery)
    TrustedGrade(config=api.config).start_nursery()
    for name in infos:
        path = root / "specs" / f"{name}.py"
        if path.is_file():
            # Every submission of the lesson needs them: compute them once, now. A broken
            # specification is reported with each of that lesson's submissions, by TrustedGrade.
            with suppress(Exception):
                warm_references(load_spec(path))
    _worker.update(root=root, db_url=db_url, infos=infos, api=api, sandbox=sandbox)


def _grade_pair(pair: tuple[str, str]) -> SubmissionResult:
    """Grade one (student, lesson folder) in this process, set up by :func:`_start_worker`."""
    student, folder = pair
    started = time.perf_counter()
    mode = SANDBOXED if _worker["sandbox"] else UNSANDBOXED
    for attempt in range(1, ATTEMPTS + 1):
        result = SubmissionResult(student, folder, sandbox=mode)
        try:
            _grade_one(_worker["api"], _worker["root"], _worker["db_url"], result, _worker["infos"])
            break
        except Exception as exc:  # noqa: BLE001 - not the submission's fault: try again, then report
            error = f"{type(exc).__name__}: {_last_line(str(exc))}"
        if attempt == ATTEMPTS:
            result = SubmissionResult(student, folder, status=NOT_GRADED, sandbox=mode)
            info = _worker["infos"].get(folder)
            result.max_scores = dict(info.max_scores) if info else {}
            result.scores = {name: 0.0 for name in result.max_scores}
            result.notes.append(f"grading failed {ATTEMPTS} times, last with {error}")
            try:
                _record_zero(_worker["db_url"], folder, student)
            except Exception as exc:  # noqa: BLE001 - said in the summary and grades.csv
                result.notes.append(f"not in the gradebook either ({type(exc).__name__})")
    result.seconds = time.perf_counter() - started
    return result


def _grade_one(api, root: Path, db_url: str, result: SubmissionResult, infos) -> None:
    """Grade one submission into ``result``; every problem ends up in ``result.notes``."""
    student, folder = result.student, result.lesson
    info = infos.get(folder)
    if info is None:
        result.status = NOT_GRADED
        result.notes.append(f"no lesson named {folder!r} in this course")
        return
    result.max_scores = dict(info.max_scores)
    try:
        notes, tampering = _precheck(root, student, info, infos)
        result.notes += notes
        with _quiet_sqlalchemy():
            check(api.autograde(folder, student, force=True, create=True), "autograde")
        result.notes += _execution_notes(root, student, info)
        if tampering:
            # Only a flag for the instructor: the scores were decided outside the student's
            # kernel, so patching it gained nothing (docs/grading.md).
            result.status = REVIEW
            result.notes.append("tampering: " + "; ".join(tampering))
        _read_scores(db_url, info.lesson, student, result)
        check(api.generate_feedback(folder, student, force=True), "feedback")
    except (_Skip, NbgraderFailure) as exc:
        if GRADEBOOK_BUSY in str(exc):
            raise  # the gradebook's fault, not the submission's: _grade_pair tries again
        result.status = NOT_GRADED
        result.notes.append(_last_line(str(exc)))
        result.scores = {name: 0.0 for name in result.max_scores}
        _record_zero(db_url, folder, student)


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
        writer.writerow(
            ["student", "lesson", "status", "score", "max_score", *exercises, "sandbox", "reason"]
        )
        for r in results:
            cells = [_fmt(r.scores[e]) if e in r.max_scores else "" for e in exercises]
            row = [r.student, r.lesson, r.status, _fmt(r.score), _fmt(r.max_score), *cells]
            writer.writerow([clean_line(v) for v in [*row, r.sandbox, r.reason]])
    return path


def _fmt(value: float) -> str:
    return f"{value:g}"


def summary(results: list[SubmissionResult], seconds: float | None = None) -> str:
    """A short text report: one line per submission, then what could not be graded and why,
    what needs the instructor's review, and the notes on the others."""
    if not results:
        return "No submissions found in submitted/ (expected submitted/<student>/<lesson>/)."
    width = max(len(r.student) for r in results)
    lines = [f"{'student':<{width}}  {'lesson':<24} {'score':>9}  status"]
    for r in results:
        score = f"{_fmt(r.score)}/{_fmt(r.max_score)}"
        lines.append(clean_line(f"{r.student:<{width}}  {r.lesson:<24} {score:>9}  {r.status}"))
    failed = [r for r in results if r.status == NOT_GRADED]
    review = [r for r in results if r.status == REVIEW]
    noted = [r for r in results if r.status == GRADED and r.notes]
    students = len({r.student for r in results})
    took = f" in {seconds:.1f} s" if seconds is not None else ""
    lines.append(
        f"{len(results) - len(failed)} of {len(results)} submissions from {students} students "
        f"graded{took}."
    )
    unconfined = [r for r in results if r.sandbox != SANDBOXED]
    if unconfined:
        lines.append(
            f"{len(unconfined)} graded WITHOUT the sandbox ({UNSANDBOXED}): their code ran with "
            "your rights. Use this only for submissions you trust."
        )
    for title, group in [
        (f"Could not grade {len(failed)} (recorded with 0 points):", failed),
        (f"To review ({len(review)}, recorded with 0 points):", review),
        ("Notes:", noted),
    ]:
        if group:
            lines.append(title)
            lines += [f"  {r.student} / {r.lesson}: {r.reason}" for r in group]
    return "\n".join(lines)


def grade_course(root: Path | str, jobs: int = 1, sandbox: bool = True) -> int:
    """Grade, write grades.csv, print the summary; return the exit status (1 if any failed,
    2 if the sandbox was asked for and is not available)."""
    root = Path(root).resolve()
    start = time.perf_counter()
    try:
        results = grade(root, jobs=jobs, sandbox=sandbox)
    except SandboxUnavailable as exc:
        print(f"Not grading: {exc}")
        return 2
    csv_path = write_csv(results, root / "grades.csv")
    print(summary(results, time.perf_counter() - start))
    if results:
        print(f"Wrote {csv_path.relative_to(root)} and feedback/<student>/<lesson>/ (HTML).")
    return 1 if any(r.status == NOT_GRADED for r in results) else 0
