"""What the grader knows about each graded submission beyond nbgrader's scores, kept in the
gradebook's own database (SQLite or PostgreSQL) in a table of ours, ``softplus_grading``.

nbgrader's tables hold the points; this table holds what they cannot: how the submission was
graded (status, reason, sandbox), the content hashes that ``grade --changed`` compares, each
exercise's maximum at grading time (so a report can warn about a manual override whose
maximum changed since), and the per-property results that the statistics report counts.
Because it lives in the gradebook, several grading machines writing one PostgreSQL gradebook
share it too. nbgrader ignores tables it does not know.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    insert,
    inspect,
    select,
)

__all__ = [
    "Record",
    "course_hash",
    "ensure_records_table",
    "load_records",
    "save_record",
    "submission_hash",
]

_META = MetaData()
TABLE = Table(
    "softplus_grading",
    _META,
    Column("student", String(255), primary_key=True),
    Column("lesson", String(255), primary_key=True),
    Column("submission_hash", String(64), nullable=False),
    Column("course_hash", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("sandbox", String(64), nullable=False, default=""),
    Column("seconds", Float, nullable=False, default=0.0),
    Column("graded_at", DateTime, nullable=False),
    Column("max_scores", Text, nullable=False, default="{}"),  # JSON {exercise: points}
    Column("properties", Text, nullable=False, default="{}"),  # JSON, see Record.properties
    Column("override_max", Text, nullable=False, default="{}"),  # JSON, see Record.override_max
)


@dataclass
class Record:
    """One row of ``softplus_grading``: the last grading of one student's lesson."""

    student: str
    lesson: str
    submission_hash: str
    course_hash: str
    status: str
    reason: str = ""
    sandbox: str = ""
    seconds: float = 0.0
    graded_at: datetime | None = None
    max_scores: dict[str, float] = field(default_factory=dict)
    # {exercise: [{"name", "points", "earned", "hidden", "section", "problem"}, ...]}: each
    # property's result, with the failure message the student read ("" when it passed).
    properties: dict[str, list[dict]] = field(default_factory=dict)
    # {exercise: points}: for each exercise scored by hand in the gradebook, its maximum when
    # the grader first saw that manual score (kept across regrades, which keep manual scores).
    override_max: dict[str, float] = field(default_factory=dict)


def _engine(db_url: str):
    # The same URL nbgrader opens; an SQLite busy timeout in it is a connect argument there.
    url, connect_args = db_url, {}
    if url.startswith("sqlite:") and "?" in url:
        url, query = url.split("?", 1)
        for item in query.split("&"):
            key, _, value = item.partition("=")
            if key == "timeout":
                connect_args["timeout"] = float(value)
    engine = create_engine(url, connect_args=connect_args)
    if not inspect(engine).has_table(TABLE.name):
        ensure_records_table(db_url, engine)
    return engine


def ensure_records_table(db_url: str, engine=None) -> None:
    """Create the table if the gradebook has none yet. nbgrader's tables come first: nbgrader
    stamps its schema version only into a database that has no tables at all."""
    if engine is None:
        engine = _engine(db_url)
        engine.dispose()
        return
    if not inspect(engine).get_table_names():
        from nbgrader.api import Gradebook

        Gradebook(db_url).close()
    _META.create_all(engine, checkfirst=True)


def save_record(db_url: str, record: Record) -> None:
    """Replace the record of ``(record.student, record.lesson)``."""
    engine = _engine(db_url)
    row = {
        "student": record.student,
        "lesson": record.lesson,
        "submission_hash": record.submission_hash,
        "course_hash": record.course_hash,
        "status": record.status,
        "reason": record.reason,
        "sandbox": record.sandbox,
        "seconds": float(record.seconds),
        "graded_at": record.graded_at or datetime.now(timezone.utc).replace(tzinfo=None),
        "max_scores": json.dumps(record.max_scores),
        "properties": json.dumps(record.properties),
        "override_max": json.dumps(record.override_max),
    }
    try:
        with engine.begin() as conn:
            conn.execute(
                delete(TABLE).where(
                    TABLE.c.student == record.student, TABLE.c.lesson == record.lesson
                )
            )
            conn.execute(insert(TABLE).values(**row))
    finally:
        engine.dispose()


def load_records(
    db_url: str, student: str | None = None, lesson: str | None = None
) -> dict[tuple[str, str], Record]:
    """Every record (or the one of ``student`` and ``lesson``), by ``(student, lesson)``."""
    engine = _engine(db_url)
    query = select(TABLE)
    if student is not None and lesson is not None:
        query = query.where(TABLE.c.student == student, TABLE.c.lesson == lesson)
    try:
        with engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
    finally:
        engine.dispose()
    out = {}
    for row in rows:
        data = dict(row)
        data["max_scores"] = json.loads(data["max_scores"] or "{}")
        data["properties"] = json.loads(data["properties"] or "{}")
        data["override_max"] = json.loads(data["override_max"] or "{}")
        out[(row["student"], row["lesson"])] = Record(**data)
    return out


def _digest(paths: list[tuple[str, Path]]) -> str:
    h = hashlib.sha256()
    for name, path in paths:
        h.update(name.encode("utf-8") + b"\0")
        h.update(path.read_bytes() if path.is_file() else b"<missing>")
        h.update(b"\0")
    return h.hexdigest()


def submission_hash(folder: Path) -> str:
    """A hash of every file in a submission folder (names and contents, the timestamp too): it
    changes when a student hands in anything different."""
    folder = Path(folder)
    if not folder.is_dir():
        return _digest([])
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return _digest([(p.relative_to(folder).as_posix(), p) for p in files])


def course_hash(root: Path, lesson: str) -> str:
    """A hash of what a lesson's grading depends on besides the submission: its source
    notebook (points, locked cells), its check specification and the course configuration
    (limits, due dates). A change to any of them makes every submission of the lesson
    "changed"."""
    root = Path(root)
    return _digest(
        [
            ("source", root / "solutions" / lesson / f"{lesson}.ipynb"),
            ("spec", root / "specs" / f"{lesson}.py"),
            ("config", root / "nbgrader_config.py"),
        ]
    )
