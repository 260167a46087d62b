"""Submissions in from a learning management system, grades out to one.

``lms-import`` turns a bulk download of submissions into nbgrader's layout, ready for
``make grade``; ``lms-export`` writes the gradebook's scores as a CSV file that the LMS's
gradebook imports. Both read and write only files: nothing talks to an LMS.

Import
======

``python -m softplus_course.pipeline lms-import DOWNLOAD --map MAP.csv [--lesson NAME]``

DOWNLOAD is the LMS's download (a ``.zip``) or the folder it was unpacked into. Each notebook
becomes ``submitted/<student>/<lesson>/<lesson>.ipynb``, with the time it was handed in in
``timestamp.txt`` beside it, in nbgrader's own format (``2026-10-05 21:59:00.000000 UTC``, read
by nbgrader's ``parse_utc`` when autograding; late penalties come from it, see ``late.py``).
Two downloads are understood, recognised by their file names:

- **Canvas** ("Download Submissions"): a flat zip of files named
  ``<name>_[LATE_]<user id>_<file id>_<file name>``, e.g.
  ``lovelaceada_12345_678_01_definition-1.ipynb``: the sortable name without punctuation,
  ``LATE`` when Canvas counts it late, the Canvas user id, the id of the uploaded file and the
  student's file name, to which Canvas adds ``-1``, ``-2`` when a file of that name is uploaded
  again (lib/content_zipper.rb of canvas-lms). Anonymous grading (``anon_<id>_...``) hides the
  student and cannot be imported.
- **Moodle** ("Download all submissions"): a zip with a folder per student,
  ``<Full Name>_<participant id>_assignsubmission_file_/<file name>``, or, with "download
  submissions in folders" off, flat files ``<Full Name>_<participant id>_assignsubmission_file_
  <file name>`` (mod/assign/locallib.php). The number is the assignment's *participant
  identifier*, not the Moodle user id; blind marking names every folder ``Participant_<id>_...``
  with the same numbers. The assignment's grading worksheet ("Download grading worksheet")
  lists them as ``Participant 12345`` beside each student's email.

The **map** (MAP.csv, UTF-8) gives each LMS id its course student id. Columns, by name:

- ``lms_id`` (or ``lms_user_id``): the Canvas user id, or the Moodle participant id
  (``Participant 12345`` is read as ``12345``);
- ``student_id`` (or ``id``): the student id of the course (a folder name in ``submitted/``);
  so the roster you give ``nbgrader db student import`` (``id, ..., lms_user_id``) is a Canvas
  map as it is;
- ``submitted_at`` (optional): when the student handed it in, ISO 8601 with its UTC offset
  (``2026-10-05T23:12:00+02:00``). Downloads carry no reliable time: Canvas stamps every file
  with the time of the download. Without it the zip entry's time (read in ``--timezone``,
  default this machine's zone: zip times carry none) or the file's modification time is used,
  and the output says which for every file;
- ``lesson`` (optional): the row's ``submitted_at`` is for this lesson only (Canvas user ids are
  the same in every assignment's download).

The lesson is ``--lesson`` (a download holds one LMS assignment), or else the file name: the
student's file name without ``.ipynb`` and without a ``-1`` (Canvas) or `` (1)`` (browser)
suffix must be a lesson's name (case does not matter).

Files are untrusted input. Nothing is ever written at a path taken from the download: the
destination is built from the map's student id and the course's lesson name. Entries with
absolute paths or ``..``, symbolic links, files that are not notebooks, unknown LMS ids, unknown
lessons, files over ``--max-mb`` and unreadable or encrypted entries are each reported with the
reason and skipped, and the others are imported; the exit status is then 1. A newer submission
replaces an older one; an older one never replaces a newer one (it is reported as *kept*), and
re-importing the same download changes nothing (*unchanged*). A submission already in
``submitted/`` without a ``timestamp.txt`` is never overwritten (its time is unknown). Several
notebooks of one student for one lesson in a download: the newest wins (on Canvas, at the same
time, the later upload); at the same time with different contents, none is imported.

Export
======

``python -m softplus_course.pipeline lms-export [--format canvas|moodle|plain] [--out PATH]``

One row per student in the gradebook (the roster imported with ``nbgrader db student import
roster.csv``, which sets names, email and ``lms_user_id``, and everyone graded). Scores are
read from the gradebook, never regraded: a lesson's points are nbgrader's score of the
submission (autograded points, or a manual score where the Formgrader set one, plus extra
credit), its penalty is the late penalty stored by autograding, its total is points minus
penalty (never below 0, as ``nbgrader export`` computes it); work not handed in counts 0 and is
marked missing. Hours late are the gradebook's timestamp minus the due date (with extension).
Default output: ``reports/lms-<format>.csv`` (never ``grades.csv``, which ``nbgrader export``
writes, nor ``reports/scores.csv``, which ``make grade`` writes).

- ``plain``: ``student_id, first_name, last_name, email, lms_user_id``, then for each lesson
  ``<lesson> points``, ``<lesson> missing`` ("missing" or empty), ``<lesson> hours late``,
  ``<lesson> penalty``, ``<lesson> total``, then ``course total`` and ``course max``.
- ``canvas``: Canvas's gradebook import (Grades > Import). Its importer requires the header
  ``Student, ID, SIS User ID, SIS Login ID, Section`` and then one column per assignment
  (app/models/gradebook_importer.rb: the first column must say ``Student``, the second ``ID``, and
  the student columns end with ``Section``); a second row starting ``Points Possible`` gives each
  assignment's points. Rows are matched by ``ID``, the Canvas user id (the roster's
  ``lms_user_id``), else by the student's name (``Student``, "Last, First"); the SIS columns and
  Section are left empty. Each lesson column holds its total, and is matched to the Canvas
  assignment of the same title (name your assignments ``01_definition`` ...; another title makes
  Canvas offer to create a new assignment, which its import preview shows). No other columns:
  Canvas would take them for assignments.
- ``moodle``: Moodle's gradebook import (Grades > Import > CSV file), where you choose which
  column identifies the user ("Map from") and as what ("Map to": email address, ID number, user
  id or username), and which column goes to which grade item; columns you do not map are
  ignored. Columns: ``Email address, ID number`` (the course's student id), ``User ID`` (the
  roster's ``lms_user_id``), ``First name, Last name``, then per lesson ``<lesson>`` (its total)
  and ``<lesson> feedback`` ("missing", or the hours late and the penalty) to map to the grade
  item's feedback if you like.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import re
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from nbgrader.api import Gradebook
from nbgrader.utils import parse_utc

from .grading import clean_line, gradebook_url
from .late import time_zone
from .lessons import discover_lessons, graded_cells, read_notebook
from .nbgrader_ops import write_timestamp
from .report import REPORTS, SCORES_CSV

__all__ = [
    "FORMATS",
    "ImportResult",
    "LmsMap",
    "MapError",
    "export_grades",
    "import_download",
    "read_gradebook",
    "read_map",
    "register",
    "write_timestamp",
]

# --- import ------------------------------------------------------------------------------------

# nbgrader's own format for timestamp.txt (what its `collect` writes; its parse_utc reads it).
MAX_NOTEBOOK_MB = 32.0  # a lesson notebook with its outputs is well under 5 MB
MAX_ENTRIES = 100_000  # 200 students x 9 lessons x a few files, with room to spare
# A course student id: a folder name in submitted/, and nbgrader's Student.id (128 characters).
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")

# Canvas: <sortable name, word characters only>_[LATE_]<user id>_<file id>_<file name>.
CANVAS = re.compile(
    r"^(?P<name>\w+?)_(?:(?P<late>late)_)?(?P<lms_id>\d+)_(?P<order>\d+)_(?P<original>.+)$",
    re.IGNORECASE,
)
CANVAS_ANONYMOUS = re.compile(r"^(?:late_)?anon_", re.IGNORECASE)
# Moodle: <Full Name>_<participant id>_assignsubmission_<plugin>_[/]<file name>.
MOODLE = re.compile(
    r"^(?P<name>.*?)_(?P<lms_id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<rest>.*)$"
)
# What a copy adds to a file name: Canvas's "-1" for a name uploaded again, a browser's " (1)".
COPY_SUFFIX = re.compile(r"(?:-\d+| ?\(\d+\))$")
# Reading an entry: RuntimeError for an encrypted one, the others for a damaged zip or an
# unreadable file.
READ_ERRORS = (zipfile.BadZipFile, zlib.error, RuntimeError, OSError, EOFError)
MAP_TIME = "the map"  # a submission time from the map's submitted_at
JUNK = {".DS_Store", "Thumbs.db", "desktop.ini"}  # left by file managers, not by an LMS

IMPORTED, REPLACED, UNCHANGED, KEPT, SUPERSEDED, SKIPPED = (
    "imported",
    "replaced",
    "unchanged",
    "kept",
    "superseded",
    "skipped",
)


class MapError(ValueError):
    """A map file that cannot be used; the message names the row."""


class DownloadError(ValueError):
    """A download that cannot be read at all (not a folder or a zip, a broken zip)."""


@dataclass
class LmsMap:
    """The map file: each LMS id's student, and the submission times it gives."""

    path: Path
    students: dict[str, str] = field(default_factory=dict)  # LMS id -> course student id
    times: dict[tuple[str, str], datetime] = field(default_factory=dict)  # (LMS id, lesson or "")

    def time_for(self, lms_id: str, lesson: str) -> datetime | None:
        return self.times.get((lms_id, lesson)) or self.times.get((lms_id, ""))


def _normal_lms_id(value: str) -> str:
    value = value.strip()
    participant = re.fullmatch(r"[^\W\d_]+\s*(\d+)", value)  # Moodle's "Participant 12345"
    return participant[1] if participant else value


def _column(header: list[str], names: tuple[str, ...], path: Path, required: bool = True):
    for name in names:
        if name in header:
            return header.index(name)
    if required:
        raise MapError(f"{path.name} has no column {' or '.join(names)} (it has {header})")
    return None


def read_map(path: Path | str, lessons: list[str] | None = None) -> LmsMap:
    """Read the map file (see the module's docstring); raise :class:`MapError` naming the row
    for anything that cannot be used (with ``lessons``, also a lesson not among them). It is the
    instructor's file: a mistake stops the import before anything is written."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # Excel writes a byte order mark
    except (OSError, UnicodeDecodeError) as exc:
        raise MapError(f"cannot read the map {path}: {exc}") from None
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        raise MapError(f"the map {path} is empty")
    header = [h.strip().lower() for h in rows[0]]
    lms_col = _column(header, ("lms_id", "lms_user_id"), path)
    student_col = _column(header, ("student_id", "id"), path)
    time_col = _column(header, ("submitted_at",), path, required=False)
    lesson_col = _column(header, ("lesson",), path, required=False)
    result = LmsMap(path)
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = [*row, *[""] * len(header)]
        lms_id, student = _normal_lms_id(cells[lms_col]), cells[student_col].strip()
        where = f"{path.name}, row {number}"
        if not lms_id:
            continue  # a roster row without an LMS id: that student is matched by nothing
        if not STUDENT_ID.match(student):
            raise MapError(
                f"{where}: student id {student!r} cannot be a folder name (letters, digits and "
                "._@+- only, starting with a letter or digit)"
            )
        if result.students.get(lms_id, student) != student:
            raise MapError(
                f"{where}: LMS id {lms_id} is mapped to {result.students[lms_id]!r} and {student!r}"
            )
        result.students[lms_id] = student
        when = cells[time_col].strip() if time_col is not None else ""
        if when:
            lesson = cells[lesson_col].strip() if lesson_col is not None else ""
            if lesson and lessons is not None and lesson not in lessons:
                raise MapError(f"{where}: {lesson!r} is not a lesson of this course: {lessons}")
            if (lms_id, lesson) in result.times:
                again = f" for {lesson}" if lesson else ""
                raise MapError(f"{where}: a second submitted_at{again} for LMS id {lms_id}")
            result.times[(lms_id, lesson)] = _parse_submitted_at(when, where)
    return result


def _parse_submitted_at(text: str, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise MapError(
            f"{where}: submitted_at {text!r} is not ISO 8601 (2026-10-05T23:12:00+02:00)"
        ) from None
    if moment.tzinfo is None:
        raise MapError(f"{where}: submitted_at {text!r} has no UTC offset (+02:00, or Z for UTC)")
    return moment.astimezone(timezone.utc)


@dataclass
class _Entry:
    """One file or link found in the download."""

    name: str  # its path in the download, with "/" between folders
    kind: str  # "file", "symlink" or "other"
    size: int
    mtime: datetime  # aware
    time_source: str
    read: Callable[[int], bytes]  # reads at most that many bytes


@contextmanager
def _open_download(download: Path, zone) -> Iterator[Iterator[_Entry]]:
    """The entries of a zip file or a folder, without extracting or following anything."""
    if download.is_dir():  # the instructor's own path; nothing inside it is followed
        yield _folder_entries(download)
    elif download.is_file() and zipfile.is_zipfile(download):
        try:
            archive = zipfile.ZipFile(download)
        except (zipfile.BadZipFile, OSError) as exc:
            raise DownloadError(f"{download} is not a readable zip file: {exc}") from None
        with archive:
            if len(archive.infolist()) > MAX_ENTRIES:
                raise DownloadError(f"{download} has more than {MAX_ENTRIES} entries")
            yield _zip_entries(archive, zone)
    else:
        raise DownloadError(f"{download} is neither a folder nor a zip file")


def _zip_entries(archive: zipfile.ZipFile, zone) -> Iterator[_Entry]:
    where = "the zip entry's time, read as " + (str(zone) if zone else "this machine's time")
    for info in archive.infolist():
        if info.is_dir():
            continue
        # The file type, where the zip records one (Unix zips do; others record no type).
        kind = {0: "file", stat.S_IFREG: "file", stat.S_IFLNK: "symlink"}.get(
            stat.S_IFMT(info.external_attr >> 16), "other"
        )
        wall = datetime(*info.date_time)
        mtime = wall.replace(tzinfo=zone) if zone else wall.astimezone()

        def read(limit: int, info=info) -> bytes:
            with archive.open(info) as fh:
                return fh.read(limit)

        yield _Entry(info.filename, kind, info.file_size, mtime, where, read)


def _folder_entries(top: Path) -> Iterator[_Entry]:
    count = 0
    for folder, dirs, files in os.walk(top, followlinks=False):
        for name in sorted(dirs + files):
            path = Path(folder) / name
            rel = path.relative_to(top).as_posix()
            info = path.lstat()
            if name in dirs and not stat.S_ISLNK(info.st_mode):
                continue  # a real folder: walked into
            count += 1
            if count > MAX_ENTRIES:
                raise DownloadError(f"{top} has more than {MAX_ENTRIES} files")
            kind = (
                "symlink"
                if stat.S_ISLNK(info.st_mode)
                else "file"
                if stat.S_ISREG(info.st_mode)
                else "other"
            )
            mtime = datetime.fromtimestamp(info.st_mtime, timezone.utc)

            def read(limit: int, path=path) -> bytes:
                # O_NOFOLLOW: a file swapped for a link since it was listed is not followed.
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
                with os.fdopen(fd, "rb") as fh:
                    return fh.read(limit)

            yield _Entry(rel, kind, info.st_size, mtime, "the file's modification time", read)
        dirs.sort()


def _unsafe(name: str) -> str | None:
    """Why a name from the download is no file name to trust, or None."""
    if any(not ch.isprintable() for ch in name):
        return "control characters in the name"
    posix = name.replace("\\", "/")
    if posix.startswith("/") or re.match(r"^[A-Za-z]:", posix):
        return "an absolute path"
    if ".." in posix.split("/"):
        return "a path with '..'"
    return None


@dataclass
class _Identified:
    lms: str  # "Canvas" or "Moodle"
    lms_id: str
    name: str  # the student's name as the LMS wrote it
    original: str  # the student's own file name
    late: bool  # Canvas marked it LATE
    order: int  # Canvas's file id: a later upload has a larger one


def _identify(name: str) -> _Identified | str:
    """Which LMS named this file and what the name says, or why it is no submission."""
    parts = [p for p in name.replace("\\", "/").split("/") if p]
    for i, part in enumerate(parts):
        moodle = MOODLE.match(part)
        if moodle:
            original = "/".join([p for p in [moodle["rest"], *parts[i + 1 :]] if p])
            if not original:
                return "a Moodle submission folder with no file in it"
            return _Identified("Moodle", moodle["lms_id"], moodle["name"], original, False, 0)
    base = parts[-1]
    if CANVAS_ANONYMOUS.match(base):
        return (
            "an anonymous Canvas submission (anonymous grading hides the student): download "
            "the submissions once grades are no longer anonymous"
        )
    canvas = CANVAS.match(base)
    if canvas:
        return _Identified(
            "Canvas",
            canvas["lms_id"],
            canvas["name"],
            canvas["original"],
            bool(canvas["late"]),
            int(canvas["order"]),
        )
    return (
        "not named as Canvas (name_userid_fileid_file) or Moodle "
        "(Full Name_id_assignsubmission_file_/file) name a submission"
    )


def lesson_from_file_name(original: str, lessons: list[str]) -> str | None:
    """The lesson a student's file name names, if any: ``01_definition-2.ipynb`` and
    ``01_Definition (1).ipynb`` name ``01_definition``."""
    stem = PurePosixPath(original).name
    stem = COPY_SUFFIX.sub("", re.sub(r"\.ipynb$", "", stem, flags=re.IGNORECASE))
    matches = [lesson for lesson in lessons if lesson.lower() == stem.lower()]
    return matches[0] if matches else None


@dataclass
class ImportResult:
    """What happened to one file of the download."""

    source: str  # its name in the download
    action: str  # imported, replaced, unchanged, kept, superseded, skipped
    detail: str
    student: str = ""
    lesson: str = ""
    time_source: str = ""  # where the submission time came from: MAP_TIME, or the file's

    def line(self) -> str:
        target = "/".join(p for p in (self.student, self.lesson) if p)
        target = f" -> {target}" if target else ""
        return clean_line(f"{self.action:<10} {self.source}{target}: {self.detail}")


@dataclass
class _Candidate:
    source: str
    ident: _Identified
    student: str
    lesson: str
    digest: bytes  # sha256 of its content (read again when it is placed: downloads are big)
    read: Callable[[], bytes]
    moment: datetime  # aware, UTC
    time_source: str  # MAP_TIME, "the zip entry's time, read as ...", "the file's ..."
    notes: list[str]

    @property
    def key(self):
        return (self.moment, self.ident.order)


def import_download(
    root: Path | str,
    download: Path | str,
    lms_map: LmsMap,
    *,
    lesson: str | None = None,
    zone=None,
    max_mb: float = MAX_NOTEBOOK_MB,
    dry_run: bool = False,
) -> list[ImportResult]:
    """Import the notebooks of an LMS download into ``root/submitted/`` (see the module's
    docstring); return what happened to each file. ``zone`` (a tzinfo) reads zip entry times,
    which carry none; None reads them as this machine's local time. With ``dry_run`` nothing is
    written. Raises :class:`DownloadError` when the download cannot be read at all, and
    ``ValueError`` for a ``lesson`` that is not one of the course's."""
    root = Path(root).resolve()
    lessons = [item.name for item in discover_lessons(root)]
    if lesson is not None and lesson not in lessons:
        raise ValueError(f"--lesson {lesson!r} is not a lesson of this course: {lessons}")
    limit = int(max_mb * 1024 * 1024)
    results: list[ImportResult] = []
    candidates: list[_Candidate] = []
    with _open_download(Path(download), zone) as entries:
        for entry in entries:
            outcome = _candidate(entry, lms_map, lessons, lesson, limit)
            if isinstance(outcome, ImportResult):
                results.append(outcome)
            elif outcome is not None:
                candidates.append(outcome)
        groups: dict[tuple[str, str], list[_Candidate]] = {}
        for cand in candidates:
            groups.setdefault((cand.student, cand.lesson), []).append(cand)
        for (student, name), group in sorted(groups.items()):
            results += _place(root, student, name, group, dry_run)
    return results


def _candidate(entry: _Entry, lms_map: LmsMap, lessons, lesson, limit):
    """The submission an entry holds, an ImportResult saying why it is skipped, or None for a
    file manager's leftovers."""
    name = entry.name

    def skip(reason: str, student: str = "", lesson_name: str = "") -> ImportResult:
        return ImportResult(name, SKIPPED, reason, student, lesson_name)

    parts = name.replace("\\", "/").split("/")
    if parts[0] == "__MACOSX" or parts[-1] in JUNK:
        return None
    unsafe = _unsafe(name)
    if unsafe:
        return skip(f"unsafe name in the download: {unsafe}")
    if entry.kind == "symlink":
        return skip("a symbolic link: not followed")
    if entry.kind != "file":
        return skip("not a regular file")
    ident = _identify(name)
    if isinstance(ident, str):
        return skip(ident)
    if not ident.original.lower().endswith(".ipynb"):
        suffix = PurePosixPath(ident.original).suffix or "no extension"
        return skip(f"not a notebook ({suffix}): only .ipynb files are imported")
    student = lms_map.students.get(ident.lms_id)
    if student is None:
        return skip(
            f"{ident.lms} id {ident.lms_id} ({ident.name}) is not in the map {lms_map.path.name}"
        )
    found = lesson_from_file_name(ident.original, lessons)
    target = lesson or found
    if target is None:
        return skip(
            f"the file name {ident.original!r} names no lesson of this course "
            f"({', '.join(lessons)}): if the download holds one lesson, give it with --lesson",
            student,
        )
    if entry.size > limit:
        return skip(f"larger than {limit / 2**20:g} MB ({entry.size} bytes)", student, target)
    try:
        data = entry.read(limit + 1)
    except READ_ERRORS as exc:
        return skip(f"cannot be read: {type(exc).__name__}: {exc}", student, target)
    if len(data) > limit:
        return skip(f"larger than {limit / 2**20:g} MB", student, target)
    moment = lms_map.time_for(ident.lms_id, target)
    source = MAP_TIME
    if moment is None:
        moment, source = entry.mtime, entry.time_source
    notes = []
    if ident.late:
        notes.append("Canvas marked it LATE")
    if lesson and found and found != lesson:
        notes.append(f"its file name names {found}")
    return _Candidate(
        name,
        ident,
        student,
        target,
        hashlib.sha256(data).digest(),
        lambda: entry.read(limit + 1),
        moment.astimezone(timezone.utc),
        source,
        notes,
    )


def _fmt_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _place(root: Path, student: str, lesson: str, group: list[_Candidate], dry_run: bool):
    """Import the newest of one student's notebooks for one lesson, unless what is already in
    submitted/ is newer; say what happened to each."""
    group = sorted(group, key=lambda c: c.key, reverse=True)
    newest = group[0]
    results = []
    rivals = [c for c in group[1:] if c.key == newest.key and c.digest != newest.digest]
    if rivals:
        names = ", ".join(c.source for c in [newest, *rivals])
        reason = (
            f"several different notebooks for {lesson} with the same time ({names}): none imported"
        )
        return [ImportResult(c.source, SKIPPED, reason, student, lesson) for c in group]
    for older in group[1:]:
        why = "is the same notebook" if older.key == newest.key else "is newer"
        results.append(
            ImportResult(
                older.source, SUPERSEDED, f"{newest.source} in this download {why}", student, lesson
            )
        )
    folder = root / "submitted" / student / lesson
    notebook = folder / f"{lesson}.ipynb"
    stamp = folder / "timestamp.txt"
    when = "; ".join(
        [
            f"submitted {_fmt_time(newest.moment)} (time from {newest.time_source})",
            *newest.notes,
        ]
    )

    def result(action: str, detail: str) -> ImportResult:
        return ImportResult(newest.source, action, detail, student, lesson, newest.time_source)

    for path in (root / "submitted", root / "submitted" / student, folder, notebook, stamp):
        if path.is_symlink():
            return [*results, result(SKIPPED, f"{path.relative_to(root)} is a symbolic link")]
    action = IMPORTED
    if notebook.exists():
        if not stamp.is_file():
            return [
                *results,
                result(
                    SKIPPED,
                    f"{notebook.relative_to(root)} is already there without timestamp.txt (its "
                    "time is unknown): remove it to import this one",
                ),
            ]
        try:
            existing = parse_utc(stamp.read_text(encoding="utf-8").strip())
        except (ValueError, OverflowError, OSError) as exc:
            return [*results, result(SKIPPED, f"cannot read {stamp.relative_to(root)}: {exc}")]
        incoming = newest.moment.replace(tzinfo=None)
        same = hashlib.sha256(notebook.read_bytes()).digest() == newest.digest
        if incoming == existing and same:
            return [*results, result(UNCHANGED, f"already imported; {when}")]
        if incoming < existing:
            return [
                *results,
                result(
                    KEPT,
                    f"the submission already there ({existing:%Y-%m-%d %H:%M:%S} UTC) is newer "
                    f"than this one ({_fmt_time(newest.moment)}): kept",
                ),
            ]
        if incoming == existing:
            return [
                *results,
                result(
                    SKIPPED,
                    "a different notebook with the same time is already there: neither replaces "
                    "the other",
                ),
            ]
        action = REPLACED
        when += f"; replaces the one of {existing:%Y-%m-%d %H:%M:%S} UTC"
    if not dry_run:
        try:
            data = newest.read()
        except READ_ERRORS as exc:
            return [*results, result(SKIPPED, f"cannot be read: {type(exc).__name__}: {exc}")]
        if hashlib.sha256(data).digest() != newest.digest:
            return [*results, result(SKIPPED, "the file changed while it was being imported")]
        folder.mkdir(parents=True, exist_ok=True)
        _write_atomic(notebook, data)
        write_timestamp(folder, newest.moment)
    return [*results, result(action, when)]


def _write_atomic(path: Path, data: bytes) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".lms-", delete=False) as fh:
        fh.write(data)
    os.replace(fh.name, path)


def import_summary(results: list[ImportResult], lms_map: LmsMap) -> str:
    """One line per file, then the counts, and a warning when times came from the files."""
    lines = [r.line() for r in results]
    counts = {a: sum(r.action == a for r in results) for a in (IMPORTED, REPLACED, UNCHANGED)}
    counts |= {a: sum(r.action == a for r in results) for a in (KEPT, SUPERSEDED, SKIPPED)}
    lines.append(", ".join(f"{n} {a}" for a, n in counts.items()) + ".")
    from_files = [
        r for r in results if r.action in (IMPORTED, REPLACED) and r.time_source != MAP_TIME
    ]
    if from_files:
        lines.append(
            f"Submission times of {len(from_files)} imported notebooks are their files' times in "
            "the download, not times the LMS recorded (Canvas stamps every file with the time "
            f"of the download): where due dates apply, give submitted_at in {lms_map.path.name}."
        )
    if counts[SKIPPED]:
        lines.append(f"{counts[SKIPPED]} files were skipped: see the reasons above.")
    return "\n".join(lines)


# --- export ------------------------------------------------------------------------------------

FORMATS = ("plain", "canvas", "moodle")
CANVAS_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_HEADER = ["Email address", "ID number", "User ID", "First name", "Last name"]
PLAIN_HEADER = ["student_id", "first_name", "last_name", "email", "lms_user_id"]


@dataclass
class LessonGrade:
    """One student's result in one lesson, as the gradebook holds it."""

    points: float = 0.0  # nbgrader's score: autograded or manual points, plus extra credit
    penalty: float = 0.0  # the late penalty autograding stored
    seconds_late: float = 0.0
    missing: bool = True

    @property
    def total(self) -> float:
        return max(0.0, self.points - self.penalty)  # as nbgrader export computes it


@dataclass
class StudentGrades:
    student_id: str
    first_name: str
    last_name: str
    email: str
    lms_user_id: str
    lessons: dict[str, LessonGrade]

    @property
    def total(self) -> float:
        return sum(g.total for g in self.lessons.values())


@dataclass
class GradeTable:
    """The gradebook's students and the course's lessons with their points."""

    max_points: dict[str, float]  # lesson -> points, in course order
    students: list[StudentGrades]
    not_lessons: list[str]  # gradebook assignments that are no lesson of the course


def read_gradebook(root: Path | str, db_url: str) -> GradeTable:
    """Every student of the gradebook with their result in every lesson of the course."""
    root = Path(root)
    lessons = discover_lessons(root)
    with Gradebook(db_url) as gb:
        assignments = {a.name: a for a in gb.assignments}
        max_points = {}
        found: dict[tuple[str, str], LessonGrade] = {}
        for lesson in lessons:
            assignment = assignments.get(lesson.name)
            if assignment is None or not assignment.notebooks:  # never graded: the lesson's points
                max_points[lesson.name] = sum(
                    p for _, p in graded_cells(read_notebook(lesson.source))
                )
                continue
            max_points[lesson.name] = float(assignment.max_score)
            for sub in assignment.submissions:
                found[(sub.student_id, lesson.name)] = LessonGrade(
                    points=float(sub.score),
                    penalty=float(sub.late_submission_penalty or 0.0),
                    seconds_late=float(sub.total_seconds_late),
                    missing=False,
                )
        students = [
            StudentGrades(
                s.id,
                s.first_name or "",
                s.last_name or "",
                s.email or "",
                s.lms_user_id or "",
                {name: found.get((s.id, name), LessonGrade()) for name in max_points},
            )
            for s in sorted(gb.students, key=lambda s: s.id)
        ]
        not_lessons = sorted(set(assignments) - set(max_points))
    return GradeTable(max_points, students, not_lessons)


def _num(value: float) -> str:
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _hours(grade: LessonGrade) -> str:
    return "" if grade.missing else _num(round(grade.seconds_late / 3600, 2))


def _rows(book: GradeTable, fmt: str) -> list[list[str]]:
    lessons = list(book.max_points)
    if fmt == "plain":
        header = list(PLAIN_HEADER)
        for name in lessons:
            header += [
                f"{name} {c}" for c in ("points", "missing", "hours late", "penalty", "total")
            ]
        rows = [[*header, "course total", "course max"]]
        for s in book.students:
            row = [s.student_id, s.first_name, s.last_name, s.email, s.lms_user_id]
            for name in lessons:
                g = s.lessons[name]
                missing = "missing" if g.missing else ""
                row += [_num(g.points), missing, _hours(g), _num(g.penalty), _num(g.total)]
            rows.append([*row, _num(s.total), _num(sum(book.max_points.values()))])
        return rows
    if fmt == "canvas":
        rows = [[*CANVAS_HEADER, *lessons]]
        rows.append(
            ["Points Possible", "", "", "", "", *(_num(p) for p in book.max_points.values())]
        )
        for s in book.students:
            name = ", ".join(n for n in (s.last_name, s.first_name) if n) or s.student_id
            totals = [_num(s.lessons[n].total) for n in lessons]
            rows.append([name, s.lms_user_id, "", "", "", *totals])
        return rows
    if fmt == "moodle":
        header = list(MOODLE_HEADER)
        for name in lessons:
            header += [name, f"{name} feedback"]
        rows = [header]
        for s in book.students:
            row = [s.email, s.student_id, s.lms_user_id, s.first_name, s.last_name]
            for name in lessons:
                row += [_num(s.lessons[name].total), _feedback(s.lessons[name])]
            rows.append(row)
        return rows
    raise ValueError(f"unknown format {fmt!r}; choose one of {FORMATS}")


def _feedback(grade: LessonGrade) -> str:
    if grade.missing:
        return "missing"
    if grade.penalty > 0:
        return f"{_hours(grade)} hours late: -{_num(grade.penalty)} points"
    return ""


def export_grades(book: GradeTable, fmt: str, path: Path | str) -> Path:
    """Write ``book`` as a CSV file in ``fmt`` (see the module's docstring)."""
    rows = _rows(book, fmt)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([[clean_line(cell) for cell in row] for row in rows])
    return path


def _sqlite_file(db_url: str) -> Path | None:
    if not db_url.startswith("sqlite:///"):
        return None
    return Path(db_url[len("sqlite:///") :].split("?")[0])


# --- command line ------------------------------------------------------------------------------


def cmd_import(root: Path, args) -> int:
    """Import an LMS download; exit 1 if any file was skipped, 2 if nothing could be done."""
    try:
        zone = time_zone(args.timezone) if args.timezone else None
        lms_map = read_map(args.map, [lesson.name for lesson in discover_lessons(root)])
        results = import_download(
            root,
            args.download,
            lms_map,
            lesson=args.lesson,
            zone=zone,
            max_mb=args.max_mb,
            dry_run=args.dry_run,
        )
    except (MapError, DownloadError, ValueError) as exc:  # DueDateError is a ValueError
        print(f"Not importing: {exc}")
        return 2
    print(import_summary(results, lms_map))
    if args.dry_run:
        print("Dry run: nothing was written.")
    return 1 if any(r.action == SKIPPED for r in results) else 0


def cmd_export(root: Path, args) -> int:
    """Write the gradebook's scores for an LMS; exit 2 if there is no gradebook."""
    db_url = gradebook_url(root)
    db_file = _sqlite_file(db_url)
    if db_file is not None and not db_file.is_file():
        print(f"Not exporting: no gradebook at {db_file} (grade first: make grade)")
        return 2
    out = args.out or root / REPORTS / f"lms-{args.format}.csv"
    theirs = {root / "grades.csv": "nbgrader export", root / SCORES_CSV: "make grade"}
    for path, writer in theirs.items():
        if Path(out).resolve() == path.resolve():
            print(f"Not exporting: {path.name} is the file {writer} writes; choose another --out")
            return 2
    book = read_gradebook(root, db_url)
    path = export_grades(book, args.format, out)
    missing = sum(g.missing for s in book.students for g in s.lessons.values())
    late = [g for s in book.students for g in s.lessons.values() if g.penalty > 0]
    print(
        f"Wrote {path} ({args.format}): {len(book.students)} students x {len(book.max_points)} "
        f"lessons; {missing} missing (0 points), {len(late)} with a late penalty "
        f"({_num(sum(g.penalty for g in late))} points in all)."
    )
    if book.not_lessons:
        print(
            "Not exported: gradebook assignments that are no lesson of the course: "
            f"{book.not_lessons}"
        )
    if args.format == "canvas":
        unmatched = [s.student_id for s in book.students if not s.lms_user_id]
        if unmatched:
            print(
                f"{len(unmatched)} students have no lms_user_id (Canvas then matches them by "
                f"name): {', '.join(unmatched[:10])}{' ...' if len(unmatched) > 10 else ''}"
            )
    return 0


def _positive_mb(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a size in MB above 0, got {text!r}")
    return value


def register(sub) -> None:
    """Add this module's commands to the pipeline's command line."""
    text = "import an LMS download (Canvas, Moodle) into submitted/"
    p = sub.add_parser("lms-import", help=text, description=text)
    p.add_argument(
        "download", type=Path, help="the LMS's zip file, or the folder it was unpacked to"
    )
    p.add_argument(
        "--map",
        type=Path,
        required=True,
        help="CSV with columns lms_id (or lms_user_id), student_id (or id), and optionally "
        "submitted_at (ISO 8601 with offset) and lesson",
    )
    p.add_argument("--lesson", help="the lesson of every notebook (default: from its file name)")
    p.add_argument(
        "--timezone",
        help="time zone of the times in zip entries, used when the map gives no submitted_at "
        "(default: this machine's)",
    )
    p.add_argument(
        "--max-mb",
        type=_positive_mb,
        default=MAX_NOTEBOOK_MB,
        help=f"skip notebooks larger than this (default {MAX_NOTEBOOK_MB:g})",
    )
    p.add_argument("--dry-run", action="store_true", help="say what would happen, write nothing")
    p.set_defaults(func=cmd_import)

    text = "write the gradebook's scores as a CSV file for an LMS's gradebook import"
    p = sub.add_parser("lms-export", help=text, description=text)
    p.add_argument("--format", choices=FORMATS, default="plain", help="default: plain")
    p.add_argument("--out", type=Path, help="default: reports/lms-<format>.csv")
    p.set_defaults(func=cmd_export)
