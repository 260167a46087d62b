"""Autograde the submissions in ``submitted/``, write HTML feedback and ``reports/scores.csv``.

The layout is nbgrader's: ``submitted/<student>/<lesson>/<lesson>.ipynb``. Each submission is
checked, autograded and given feedback on its own, so one broken submission is reported with
its reason and never stops the grading of the others. With ``jobs`` above 1, that many worker
processes grade submissions side by side, all writing to the one gradebook.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import secrets
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy.exc import SAWarning

from ..spec import load_spec, warm_references
from . import late
from .lessons import (
    Lesson,
    NotebookError,
    answer_cells,
    discover_lessons,
    graded_cells,
    read_notebook,
)
from .nbgrader_ops import (
    NbgraderFailure,
    check,
    load_config,
    make_grading_api,
    release_to,
    write_timestamp,
)
from .preprocessors import GRADER_METADATA, KERNEL_DIED, TrustedGrade
from .records import (
    Record,
    course_hash,
    ensure_records_table,
    load_records,
    save_record,
    submission_hash,
)
from .sandbox import Nursery, SandboxUnavailable, check_available, one_grading_run
from .tamper import find_tampering, names_bound_by

__all__ = [
    "SubmissionResult",
    "grade",
    "gradebook_url",
    "summary",
    "find_submissions",
]

GRADED = "graded"
REVIEW = "review"  # graded, but the instructor should look (tampering)
NOT_GRADED = "not graded"
SANDBOXED = "bubblewrap"  # how the student code ran, in the reports and the summary
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


def place_submission(
    course: Path | str,
    student: str,
    lesson: str,
    notebook,
    submitted_at: datetime | None = None,
) -> Path:
    """Put ``notebook`` (a NotebookNode, or raw text for a broken file) where nbgrader looks
    for ``student``'s submission of ``lesson``, with the time it was handed in beside it in
    ``timestamp.txt`` as nbgrader's ``collect`` writes it (``submitted_at``, aware; default
    now); return the notebook's path."""
    folder = Path(course) / "submitted" / student / lesson
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{lesson}.ipynb"
    if isinstance(notebook, str):
        path.write_text(notebook, encoding="utf-8")
    else:
        nbformat.write(notebook, path)
    write_timestamp(folder, submitted_at or datetime.now(timezone.utc))
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
        died.append(cell.get("metadata", {}).get(GRADER_METADATA, {}).get("kernel_died", ""))
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
# Bytes of a submission_secret.txt that grading copies into feedback/ at most.
SECRET_LIMIT = 1024
# Submissions per worker from which a run forks its kernels from a nursery (see _grade).
NURSERY_FROM = 2


def gradebook_url(root: Path) -> str:
    """The gradebook's URL from the course's configuration; SQLite gets a busy timeout, so
    that parallel workers (and a Formgrader left open) wait for each other's writes."""
    url = load_config(root).CourseDirectory.get("db_url") or f"sqlite:///{root / 'gradebook.db'}"
    if url.startswith("sqlite:") and "timeout=" not in url:
        url += ("&" if "?" in url else "?") + f"timeout={SQLITE_BUSY_TIMEOUT_S}"
    return url


@contextmanager
def gradebook_lock(root: Path, db_url: str):
    """Held while a grading run prepares the gradebook (lessons, due dates, students), so that
    several runs sharing one gradebook never create the same row twice: on PostgreSQL an
    advisory lock in the database, which runs on several machines share; on SQLite a lock on a
    file beside the gradebook."""
    if db_url.startswith("postgresql"):
        from sqlalchemy import create_engine, text

        engine = create_engine(db_url)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": GRADEBOOK_LOCK_KEY})
                try:
                    yield
                finally:
                    conn.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": GRADEBOOK_LOCK_KEY}
                    )
        finally:
            engine.dispose()
        return
    with _file_lock(Path(root) / ".gradebook.lock"):
        yield


# The advisory lock's number: any fixed 64-bit value that nothing else on the server uses.
GRADEBOOK_LOCK_KEY = 0x50F7_71A5_C0_0125


@contextmanager
def _file_lock(path: Path):
    try:
        import fcntl
    except ImportError:  # Windows: one grading run at a time is the instructor's to ensure
        yield
        return
    with open(path, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def grade(
    root: Path | str,
    only_students: Iterable[str] | None = None,
    jobs: int = 1,
    *,
    sandbox: bool = True,
    nursery: bool = True,
    lessons: Iterable[str] | None = None,
    changed: bool = False,
    shard: tuple[int, int] | None = None,
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

    What is graded can be narrowed: ``only_students`` and ``lessons`` (names), ``changed`` (only
    submissions that are new, or whose files, lesson source, specification or configuration
    changed since they were last graded: :mod:`.records`), and ``shard=(k, n)`` (the k-th of n
    disjoint parts of the class, by student, 1 <= k <= n: n machines grade one class into one
    gradebook). A narrowed run changes nothing about the submissions it leaves out.
    """
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs must be a whole number of at least 1, got {jobs!r}")
    if shard is not None:
        k, n = shard
        if not (isinstance(k, int) and isinstance(n, int) and 1 <= k <= n):
            raise ValueError(f"shard must be (k, n) with 1 <= k <= n, got {shard!r}")
    if sandbox:
        check_available()
    root = Path(root).resolve()
    infos = {lesson.name: _LessonInfo.of(lesson) for lesson in discover_lessons(root)}
    pairs = select_submissions(root, only_students, lessons, changed=changed, shard=shard)
    if not pairs:
        return []
    db_url = gradebook_url(root)
    _prepare_gradebook(root, db_url, infos, pairs)
    if sandbox:
        # Sandboxed runs as root share the sandboxes' user ids: one run at a time per machine.
        with one_grading_run(report=lambda text: print(text, file=sys.stderr, flush=True)):
            return _grade(root, db_url, infos, pairs, jobs, sandbox, nursery)
    return _grade(root, db_url, infos, pairs, jobs, sandbox, nursery)


def select_submissions(
    root: Path | str,
    students: Iterable[str] | None = None,
    lessons: Iterable[str] | None = None,
    *,
    changed: bool = False,
    shard: tuple[int, int] | None = None,
) -> list[tuple[str, str]]:
    """The ``(student, lesson folder)`` pairs of ``submitted/`` that a run narrowed by these
    arguments grades (see :func:`grade`), in the order of :func:`find_submissions`."""
    root = Path(root).resolve()
    wanted_students = set(students) if students is not None else None
    wanted_lessons = set(lessons) if lessons is not None else None
    pairs = [
        (s, f)
        for s, f in find_submissions(root)
        if (wanted_students is None or s in wanted_students)
        and (wanted_lessons is None or f in wanted_lessons)
        and (shard is None or shard_of(s, shard[1]) == shard[0])
    ]
    if changed and pairs:
        records = load_records(gradebook_url(root))
        hashes: dict[str, str] = {}
        pairs = [
            (s, f) for s, f in pairs if not _unchanged(records.get((s, f)), root, s, f, hashes)
        ]
    return pairs


def shard_of(student: str, n: int) -> int:
    """Which of ``n`` shards (1..n) grades ``student``: a hash of the name, the same on every
    machine and in every run, so the shards are disjoint and together cover the class."""
    digest = hashlib.sha256(student.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % n + 1


def _unchanged(record: Record | None, root: Path, student: str, folder: str, hashes) -> bool:
    if record is None or not record.submission_hash:
        return False  # never graded, or its grading failed for a reason not its own
    if folder not in hashes:
        hashes[folder] = course_hash(root, folder)
    return record.course_hash == hashes[folder] and record.submission_hash == submission_hash(
        root / "submitted" / student / folder
    )


def _prepare_gradebook(root: Path, db_url: str, infos, pairs) -> None:
    """Everything grading needs in the gradebook before submissions are graded, done by one
    grading run at a time (several machines may share a PostgreSQL gradebook)."""
    needed = sorted({folder for _, folder in pairs if folder in infos})
    with gradebook_lock(root, db_url):
        # The gradebook must know each lesson's cells (autograde restores locked cells from
        # it). The student versions generated on the way are thrown away: course/ is not
        # touched here.
        with tempfile.TemporaryDirectory(prefix="softplus-grade-") as scratch:
            release_to(root, scratch, [infos[n].lesson for n in needed], db_url=db_url)
        late.set_due_dates(root, db_url, needed)
        # Every student exists before grading starts: two workers grading one student's
        # lessons would otherwise both try to add that student.
        with Gradebook(db_url) as gb:
            for student in sorted({s for s, _ in pairs}):
                gb.update_or_create_student(student)
        ensure_records_table(db_url)


def _grade(root, db_url, infos, pairs, jobs, sandbox, nursery) -> list[SubmissionResult]:
    jobs = min(jobs, len(pairs))
    # A nursery costs a few seconds to start (it imports every lesson's libraries) and saves a
    # few on each submission after the first: it pays off from about two per worker. A run
    # with fewer (`grade --changed` after a resubmission) starts a fresh sandbox for each.
    nursery = nursery and len(pairs) >= NURSERY_FROM * jobs
    if jobs <= 1:
        _start_worker(root, db_url, infos, sandbox, nursery, None, pairs)
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
        initargs=(root, db_url, infos, sandbox, nursery, slots, pairs),
    ) as pool:
        return list(pool.map(_grade_pair, pairs))


_worker: dict = {}  # what one grading process keeps between submissions


def _start_worker(
    root: Path,
    db_url: str,
    infos: dict[str, _LessonInfo],
    sandbox: bool,
    nursery: bool,
    slots,
    pairs: list[tuple[str, str]],
):
    slot = 0 if slots is None else slots.get()
    api = make_grading_api(root, db_url=db_url, sandbox=sandbox, slot=slot, nursery=nursery)
    TrustedGrade(config=api.config).start_nursery()
    for name in sorted({lesson for _, lesson in pairs} & set(infos)):
        path = root / "specs" / f"{name}.py"
        if path.is_file():
            # Every submission of the run's lessons needs them: compute them once, now. A broken
            # specification is reported with each of that lesson's submissions, by TrustedGrade.
            with suppress(Exception):
                warm_references(load_spec(path))
    _worker.update(root=root, db_url=db_url, infos=infos, api=api, sandbox=sandbox)


def _grade_pair(pair: tuple[str, str]) -> SubmissionResult:
    """Grade one (student, lesson folder) in this process, set up by :func:`_start_worker`."""
    student, folder = pair
    started = time.perf_counter()
    mode = SANDBOXED if _worker["sandbox"] else UNSANDBOXED
    root, db_url = _worker["root"], _worker["db_url"]
    # Hashed before grading: a file that changes while it is graded counts as changed next time.
    hashes = (submission_hash(root / "submitted" / student / folder), course_hash(root, folder))
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
            hashes = ("", hashes[1])  # not the submission's fault: --changed tries it again
            try:
                _record_zero(db_url, folder, student)
            except Exception as exc:  # noqa: BLE001 - said in the summary and the report
                result.notes.append(f"not in the gradebook either ({type(exc).__name__})")
    result.seconds = time.perf_counter() - started
    if folder in _worker["infos"]:
        try:
            _remember(root, db_url, result, *hashes)
        except Exception as exc:  # noqa: BLE001 - the scores are in; say what is missing
            result.notes.append(f"its grading record was not saved ({type(exc).__name__})")
    return result


def _remember(root: Path, db_url: str, result: SubmissionResult, sub_hash, lesson_hash) -> None:
    """Keep what nbgrader's tables cannot (:mod:`.records`), and show the instructor in the
    gradebook why a submission needs a look: the Formgrader lists it as flagged, and its first
    answer cell carries the reason as the grader's comment."""
    key = (result.student, result.lesson)
    before = load_records(db_url, *key).get(key)
    with Gradebook(db_url) as gb:
        nb = gb.find_submission_notebook(result.lesson, result.lesson, result.student)
        by_hand = {g.name: float(g.max_score) for g in nb.grades if g.manual_score is not None}
    # An override keeps the maximum it was set under, however often it is regraded since.
    override_max = {
        name: (before.override_max.get(name, before.max_scores.get(name, now)) if before else now)
        for name, now in by_hand.items()
    }
    save_record(
        db_url,
        Record(
            student=result.student,
            lesson=result.lesson,
            submission_hash=sub_hash,
            course_hash=lesson_hash,
            status=result.status,
            reason=result.reason,
            sandbox=result.sandbox,
            seconds=result.seconds,
            max_scores=dict(result.max_scores),
            properties=_properties(root, result) if result.status != NOT_GRADED else {},
            override_max=override_max,
        ),
    )
    with _quiet_sqlalchemy(), Gradebook(db_url) as gb:
        nb = gb.find_submission_notebook(result.lesson, result.lesson, result.student)
        attention = result.status != GRADED
        nb.flagged = attention
        comments = sorted(nb.comments, key=lambda c: c.cell.name)
        if attention and comments:
            first = comments[0]
            first.auto_comment = f"{GRADER_COMMENT} {result.status}: {result.reason}"
        gb.db.commit()


# How the grader's own comment in the gradebook begins (the Formgrader shows it in the cell).
GRADER_COMMENT = "[softplus grader]"


def _properties(root: Path, result: SubmissionResult) -> dict[str, list[dict]]:
    """Each exercise's per-property results, from the autograded notebook's test cells."""
    path = root / "autograded" / result.student / result.lesson / f"{result.lesson}.ipynb"
    if not path.is_file():
        return {}
    out = {}
    for cell in read_notebook(path).cells:
        meta = cell.get("metadata", {})
        props = meta.get(GRADER_METADATA, {}).get("properties")
        if props is not None:
            out[meta.get("nbgrader", {}).get("grade_id", cell.get("id", "?"))] = props
    return out


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
        _add_release_files(api, root, student, folder)
    except (_Skip, NbgraderFailure) as exc:
        if GRADEBOOK_BUSY in str(exc):
            raise  # the gradebook's fault, not the submission's: _grade_pair tries again
        result.status = NOT_GRADED
        result.notes.append(_last_line(str(exc)))
        result.scores = {name: 0.0 for name in result.max_scores}
        _record_zero(db_url, folder, student)


def _add_release_files(api, root: Path, student: str, lesson: str) -> None:
    """Put beside the feedback page the two files nbgrader's ``release_feedback`` reads there,
    ``timestamp.txt`` and ``submission_secret.txt`` (grading copies nothing but the notebook:
    :func:`.nbgrader_ops.make_grading_api`), in ``autograded/`` too, from where nbgrader's own
    ``generate_feedback`` (the Formgrader's button) copies them into the feedback it rewrites.

    The secret is the one ``nbgrader collect`` brought from the exchange: with it the student's
    ``fetch_feedback`` finds the released page (a hash of the secret and the notebook's name).
    A submission that did not come through the exchange has none, and no student can fetch
    its page from there; a random one, as nbgrader's ``submit`` makes, lets the lesson's
    feedback be released all the same.
    """
    submitted = root / "submitted" / student / lesson
    # The time autograding read into the gradebook (nbgrader's own reader of timestamp.txt).
    moment = api.coursedir.get_existing_timestamp(str(submitted))
    if moment is None:
        # No timestamp.txt (a folder copied by hand, or `make demo-grade`): the notebook's
        # modification time, the time lms-import also falls back to for a file without one.
        # It is the best the folder says about when this version was handed in, and stays the
        # same however often the submission is regraded. release_feedback only logs it and a
        # student's fetch_feedback does not use it. Lateness is not decided by it either: that
        # comes from submitted/, and nothing is written there, where a timestamp would change
        # the content hash `grade --changed` compares and could make an untimed submission
        # late under a due date (late.py).
        notebook = submitted / f"{lesson}.ipynb"
        moment = datetime.fromtimestamp(notebook.stat().st_mtime, timezone.utc)
    else:
        moment = moment.replace(tzinfo=timezone.utc)  # nbgrader's parse_utc: naive UTC
    secret_file = submitted / "submission_secret.txt"
    # nbgrader's secrets are 128 hex digits; anything else in a submitted folder is not one.
    if (
        secret_file.is_file()
        and not secret_file.is_symlink()
        and secret_file.stat().st_size <= SECRET_LIMIT
    ):
        secret = secret_file.read_bytes()  # as it is: the student's copy must hash the same
    else:
        secret = secrets.token_hex(64).encode()
    for written, page in (("autograded", f"{lesson}.ipynb"), ("feedback", f"{lesson}.html")):
        folder = root / written / student / lesson
        (folder / "submission_secret.txt").write_bytes(secret)
        for path in (write_timestamp(folder, moment), folder / "submission_secret.txt"):
            shutil.copymode(folder / page, path)  # the permissions nbgrader gave the folder


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"


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


def grade_course(
    root: Path | str,
    jobs: int = 1,
    sandbox: bool = True,
    *,
    students: Iterable[str] | None = None,
    lessons: Iterable[str] | None = None,
    changed: bool = False,
    shard: tuple[int, int] | None = None,
) -> int:
    """Grade (everything, or what the arguments select: :func:`grade`), print the summary of
    this run, and rewrite ``reports/scores.csv`` for the whole class from the gradebook; return
    the exit status (1 if any failed, 2 if the sandbox was asked for and is not available)."""
    from .report import SCORES_CSV, report_course

    root = Path(root).resolve()
    start = time.perf_counter()
    try:
        results = grade(
            root,
            students,
            jobs=jobs,
            sandbox=sandbox,
            lessons=lessons,
            changed=changed,
            shard=shard,
        )
    except (SandboxUnavailable, late.DueDateError) as exc:
        print(f"Not grading: {exc}")
        return 2
    narrowed = students is not None or lessons is not None or changed or shard is not None
    if narrowed and not results:
        print(
            "Nothing to grade: no submission in submitted/ matches"
            + _selection(students, lessons, changed, shard)
            + "."
        )
    else:
        print(summary(results, time.perf_counter() - start))
    if results:
        print(f"Wrote feedback/<student>/<lesson>/ (HTML) for the {len(results)} graded here.")
    if results or narrowed:
        report_course(root, quiet=True)
        print(f"Wrote {SCORES_CSV} for the whole class, from the gradebook.")
    return 1 if any(r.status == NOT_GRADED for r in results) else 0


def _selection(students, lessons, changed, shard) -> str:
    parts = []
    if students is not None:
        parts.append(f" student {', '.join(students)}")
    if lessons is not None:
        parts.append(f" lesson {', '.join(lessons)}")
    if changed:
        parts.append(" new or changed since last graded")
    if shard is not None:
        parts.append(f" shard {shard[0]}/{shard[1]}")
    return " and".join(parts)
