"""One class graded by two grading processes into one PostgreSQL gradebook, each taking one of
two shards, gives exactly what one SQLite run gives: the same scores in the gradebook, the same
per-exercise report, the same feedback pages.

The server is a throwaway cluster of Debian's PostgreSQL, made with ``initdb`` in a temporary
folder, listening on 127.0.0.1 on a free port, stopped and removed after the module. As root the
server runs as the ``postgres`` user (PostgreSQL refuses to run as root). Without PostgreSQL the
tests skip, except under ``CI=true``, where they fail: ``.ci/run`` installs it.
"""

from __future__ import annotations

import csv
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import LESSONS, SAMPLES, feedback_text, make_course_copy, submit
from nbgrader.api import Gradebook

from softplus_course.pipeline import fill_answers, grade, read_notebook
from softplus_course.pipeline.grading import select_submissions, shard_of
from softplus_course.pipeline.records import load_records

pytestmark = pytest.mark.slow

LESSON = LESSONS[0]  # 01_definition: the quickest to grade


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """A PostgreSQL server of its own: yields the URL of an empty database on it."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        message = "PostgreSQL (initdb, pg_ctl) is not installed: apt-get install postgresql"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="softplus-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")  # Debian's package creates it
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", _free_port()
    run = dict(check=True, capture_output=True, text=True, timeout=120)
    subprocess.run(
        [*as_user, initdb, "-D", str(data), "-U", "softplus", "--auth=trust", "-E", "UTF8"], **run
    )
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {folder}"
    log = folder / "server.log"
    subprocess.run(
        [*as_user, pg_ctl, "-D", str(data), "-o", options, "-l", str(log), "-w", "start"], **run
    )
    try:
        base = f"postgresql://softplus@127.0.0.1:{port}"
        from sqlalchemy import create_engine, text

        engine = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("CREATE DATABASE gradebook"))
        engine.dispose()
        yield f"{base}/gradebook"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], **run)
        shutil.rmtree(folder, ignore_errors=True)


def _class(course: Path) -> Path:
    """Five students' lesson 01: full marks, the blank notebook, the two samples, and one whose
    notebook is not JSON (graded as 'not graded', with zeros)."""
    release, source = read_notebook(LESSON.release), read_notebook(LESSON.source)
    submit(course, "solution", LESSON.name, fill_answers(release, source))
    submit(course, "blank", LESSON.name, release)
    submit(course, "broken", LESSON.name, "{ not a notebook")
    for sample in ("sample_complete", "sample_partial"):
        shutil.copytree(SAMPLES / sample / LESSON.name, course / "submitted" / sample / LESSON.name)
    return course


def _scores(db_url: str) -> dict:
    with Gradebook(db_url) as gb:
        return {
            (s.student.id, g.name): (g.score, g.max_score, g.needs_manual_grade)
            for a in gb.assignments
            for s in a.submissions
            for nb in s.notebooks
            for g in nb.grades
        }


def _report(course: Path) -> list[dict]:
    with (course / "reports" / "scores.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _feedback(course: Path, student: str) -> str:
    # The page names the time it was made; the rest must be the same.
    return re.sub(
        r"\d{4}-\d\d-\d\d[ T][\d:.]+", "<time>", feedback_text(course, student, LESSON.name)
    )


@pytest.fixture(scope="module")
def two_runs(postgres_url, tmp_path_factory):
    """The same class graded twice: by one process into SQLite, and by two shard processes at
    once into PostgreSQL."""
    lite = _class(make_course_copy(tmp_path_factory.mktemp("sqlite") / "course"))
    pg = _class(make_course_copy(tmp_path_factory.mktemp("postgres") / "course"))
    grade(lite, jobs=1)
    from softplus_course.pipeline.report import report_course

    report_course(lite, quiet=True)
    env = {**os.environ, "SOFTPLUS_GRADEBOOK": postgres_url}
    command = [sys.executable, "-m", "softplus_course.pipeline", "--root", str(pg), "grade"]
    shards = [
        subprocess.Popen(
            [*command, "--shard", f"{k}/2"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for k in (1, 2)
    ]
    outputs = [p.communicate(timeout=600)[0] for p in shards]
    return lite, pg, postgres_url, [p.returncode for p in shards], outputs


def test_shards_are_disjoint_and_cover_the_class(tmp_path):
    course = _class(make_course_copy(tmp_path / "course"))
    everyone = select_submissions(course)
    parts = [select_submissions(course, shard=(k, 3)) for k in (1, 2, 3)]
    assert sorted(sum(parts, [])) == sorted(everyone)
    assert all(
        shard_of(s, 3) == k for k, part in zip((1, 2, 3), parts, strict=True) for s, _ in part
    )


def test_two_shards_into_postgresql_give_the_scores_of_one_sqlite_run(two_runs):
    lite, pg, url, codes, outputs = two_runs
    # "broken" is not graded, so each run that graded it exits 1; both runs must have worked.
    assert all(code in (0, 1) for code in codes), outputs
    assert "Not grading" not in "".join(outputs)
    graded_by = [set(re.findall(r"^(\w+)\s+01_definition", out, re.M)) for out in outputs]
    assert graded_by[0] and graded_by[1] and not graded_by[0] & graded_by[1], outputs
    expected = _scores(f"sqlite:///{lite / 'gradebook.db'}")
    assert len(expected) == 5 * 4  # five students, four graded exercises
    assert _scores(url) == expected


def test_two_shards_give_the_report_and_feedback_of_one_sqlite_run(two_runs):
    lite, pg, url, _, _ = two_runs
    lite_rows, pg_rows = _report(lite), _report(pg)
    assert pg_rows == lite_rows and len(lite_rows) == 5
    assert {r["student"]: r["status"] for r in lite_rows}["broken"] == "not graded"
    for student in ("solution", "blank", "sample_complete", "sample_partial"):
        assert _feedback(pg, student) == _feedback(lite, student), student


def test_the_grading_records_are_shared_in_postgresql(two_runs):
    lite, pg, url, _, _ = two_runs
    records = load_records(url)
    assert set(records) == {(s, LESSON.name) for s, _ in select_submissions(pg)}
    # So another machine's `grade --changed` sees nothing to do.
    env = {**os.environ, "SOFTPLUS_GRADEBOOK": url}
    done = subprocess.run(
        [sys.executable, "-m", "softplus_course.pipeline", "--root", str(pg), "grade", "--changed"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Nothing to grade" in done.stdout
