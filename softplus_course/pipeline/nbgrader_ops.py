"""Thin, typed wrappers around nbgrader's Python API, configured from the course root."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbgrader.apps import NbGraderAPI
from nbgrader.exchange.abc.exchange import Exchange
from nbgrader.validator import Validator
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from .lessons import CONFIG_FILE, Lesson, discover_lessons, read_notebook

# nbgrader runs the `alembic` command (installed beside this Python) whenever it opens the
# gradebook. When the environment is not activated, that folder is not on PATH: put it there.
_BIN = str(Path(sys.executable).parent)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")

__all__ = [
    "load_config",
    "make_api",
    "make_grading_api",
    "release",
    "release_pages",
    "release_to",
    "validate",
    "write_timestamp",
    "NbgraderFailure",
]


# The format of nbgrader's timestamp.txt (what its exchange writes and autograde reads).
TIMESTAMP_FORMAT = Exchange.timestamp_format.default_value


def write_timestamp(folder: Path | str, moment: datetime) -> Path:
    """Write ``folder/timestamp.txt`` as nbgrader's ``collect`` does (UTC, its default format),
    for nbgrader's autograde to read; ``moment`` must be aware. Written whole or not at all."""
    if moment.tzinfo is None:
        raise ValueError("a submission time needs its time zone")
    path = Path(folder) / "timestamp.txt"
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".timestamp-", delete=False) as fh:
        fh.write(moment.astimezone(timezone.utc).strftime(TIMESTAMP_FORMAT).encode())
    os.replace(fh.name, path)
    return path


class NbgraderFailure(RuntimeError):
    """An nbgrader step that reported failure; the message holds nbgrader's own error text."""


def load_config(root: Path | str, **overrides: str) -> Config:
    """Read ``root/nbgrader_config.py`` and pin the course root (and any ``CourseDirectory``
    trait given as a keyword, such as ``release_directory`` or ``db_url``)."""
    root = Path(root).resolve()
    cfg = PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()
    cfg.CourseDirectory.root = str(root)
    for key, value in overrides.items():
        setattr(cfg.CourseDirectory, key, value)
    return cfg


def make_api(
    root: Path | str, *, sandbox: bool = True, slot: int = 0, **overrides: str
) -> NbGraderAPI:
    """An :class:`NbGraderAPI` for the course at ``root``; see :func:`load_config`.

    ``sandbox`` and ``slot`` configure grading (:class:`~.preprocessors.TrustedGrade`): run
    student code in the sandbox, and as which sandbox user.
    """
    cfg = load_config(root, **overrides)
    cfg.TrustedGrade.sandbox = sandbox
    cfg.TrustedGrade.slot = slot
    return NbGraderAPI(config=cfg)


def make_grading_api(
    root: Path | str, *, db_url: str, sandbox: bool, slot: int, nursery: bool = True
) -> NbGraderAPI:
    """The API that grading uses: like :func:`make_api`, and a submission's other files (all
    but its notebooks) are neither copied into ``autograded/`` nor into ``feedback/``.
    ``nursery``: see :class:`~.preprocessors.TrustedGrade`."""
    cfg = load_config(root, db_url=db_url)
    cfg.TrustedGrade.sandbox = sandbox
    cfg.TrustedGrade.slot = slot
    cfg.TrustedGrade.nursery = nursery
    cfg.TrustedGrade.take_grading_lock = False  # grade() holds it for the whole run
    ignore = cfg.CourseDirectory.ignore if "ignore" in cfg.CourseDirectory else []
    cfg.CourseDirectory.ignore = [*ignore, "*"]
    return NbGraderAPI(config=cfg)


def check(result: dict, what: str) -> dict:
    """Raise :class:`NbgraderFailure` if an NbGraderAPI call reported failure."""
    if not result.get("success"):
        # nbgrader's own reasons are in its log, as [ERROR] lines; its "error" is a traceback
        # that ends in "see above".
        log = result.get("log") or ""
        errors = [
            line[len("[ERROR] ") :] for line in log.splitlines() if line.startswith("[ERROR]")
        ]
        reasons = [e for e in errors if "see the the above" not in e and "Traceback" not in e]
        detail = "; ".join(reasons) or (result.get("error") or "no message").strip()
        raise NbgraderFailure(f"{what} failed: {detail}")
    return result


def release_to(
    root: Path | str,
    destination: Path | str,
    lessons: Iterable[Lesson] | None = None,
    *,
    db_url: str | None = None,
) -> list[Path]:
    """Generate the student version of each lesson into ``destination/<lesson>/``.

    With ``db_url`` None, a throw-away gradebook is used, so nothing in the course changes
    except ``destination``. Returns the paths of the generated notebooks.
    """
    root = Path(root).resolve()
    destination = Path(destination).resolve()
    lessons = list(discover_lessons(root) if lessons is None else lessons)
    with tempfile.TemporaryDirectory(prefix="softplus-release-") as scratch:
        api = make_api(
            root,
            release_directory=str(destination),
            db_url=db_url or f"sqlite:///{Path(scratch) / 'gradebook.db'}",
        )
        for lesson in lessons:
            check(api.generate_assignment(lesson.name, force=True, create=True), lesson.name)
    return [destination / lesson.name / lesson.notebook for lesson in lessons]


def release_pages(root: Path | str, destination: Path | str) -> list[Path]:
    """Copy the top-level notebooks of ``solutions/`` (the start page) into ``destination/``.

    nbgrader only handles lesson folders, so pages such as ``00_start_here.ipynb`` are copied
    here, with their outputs and execution counts cleared like a released lesson's. Returns the
    paths written.
    """
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sorted((Path(root) / "solutions").glob("*.ipynb")):
        nb = read_notebook(source)
        for cell in nb.cells:
            cell.get("metadata", {}).pop("execution", None)
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
        nbformat.write(nb, destination / source.name)
        written.append(destination / source.name)
    return written


def release(root: Path | str, lessons: Iterable[Lesson] | None = None) -> list[Path]:
    """Regenerate ``course/`` from ``solutions/`` (all lessons, or the ones given), and the
    top-level pages such as the start page (always; see :func:`release_pages`).

    First the test cells of each lesson and its visible checks are written from the lesson's
    check specification, ``specs/<lesson>.py`` (:func:`.specs.render`).

    The new version is built beside the old one first, so a failing lesson leaves ``course/``
    as it was.
    """
    from .specs import render  # the test cells and visible checks come from specs/

    root = Path(root).resolve()
    lessons = list(discover_lessons(root) if lessons is None else lessons)
    for lesson in lessons:
        render(lesson)
    course = root / "course"
    with tempfile.TemporaryDirectory(prefix="softplus-release-") as staging:
        release_to(root, staging, lessons)
        pages = release_pages(root, Path(staging) / "pages")
        for lesson in lessons:
            target = course / lesson.name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(Path(staging) / lesson.name, target)
        course.mkdir(exist_ok=True)
        for page in pages:
            shutil.copyfile(page, course / page.name)
    return [lesson.release for lesson in lessons] + [course / page.name for page in pages]


def validate(root: Path | str, notebook: Path | str, *, invert: bool = False) -> dict:
    """Run nbgrader's validator on one notebook and return its result dictionary.

    An empty dictionary means success: every test passes, or with ``invert`` every test fails.
    Otherwise the keys ``failed``, ``passed`` (with ``invert``), ``changed`` or ``type_changed``
    list the offending cells. (``nbgrader validate`` on the command line exits 0 either way.)
    """
    validator = Validator(config=load_config(root))
    validator.invert = invert
    return validator.validate(str(Path(notebook).resolve()))
