"""Grading a class with broken and hostile submissions (softplus_course/pipeline/corpus.py).

The whole corpus is graded in a temporary copy of the course, with short limits (a few seconds
per cell, 1 GiB per kernel) so that the endless loop and the memory hog cost little: first
everything with two worker processes, then the attacks and a correct victim a second time in one
process. Every attack must end as the same answers without it, change no file of the course,
leave no process behind, and leave the victim's grade alone, in grades.csv and the gradebook.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time

import nbformat
import psutil
import pytest
from conftest import LESSONS, feedback_text, make_course_copy, submit
from nbgrader.api import Gradebook

from softplus_course.pipeline import fill_answers, grade, read_notebook, report_course, summary
from softplus_course.pipeline.corpus import (
    ATTACKS,
    EXPECTED,
    FAKE_PACKAGE,
    FORGED,
    HACKED,
    LESSON,
    MARKER,
    VICTIM,
    build,
    build_attacks,
)
from softplus_course.pipeline.grading import GRADER_COMMENT
from softplus_course.pipeline.lessons import Lesson
from softplus_course.pipeline.records import load_records

pytestmark = pytest.mark.slow
CELL_TIMEOUT_S = "10"
KERNEL_MEMORY_MB = "1024"


def _other_lesson_release(lesson: Lesson):
    """A released notebook of another lesson (or, while there is only one, a renamed copy)."""
    others = [other for other in LESSONS if other.name != lesson.name]
    if others:
        return read_notebook(others[0].release)
    nb = read_notebook(lesson.release)
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta:
            meta["grade_id"] = "other_" + meta["grade_id"]
    return nb


CANARY = "CANARY-7f3a9c"  # planted in everything a submission must not be able to read


def _plant_canaries(course, monkeypatch) -> None:
    """Put CANARY into the solutions, the specification, the configuration, the victim's
    submission and the grader's environment."""
    path = course / "solutions" / LESSON / f"{LESSON}.ipynb"
    nb = read_notebook(path)
    nb.cells.append(nbformat.v4.new_markdown_cell(f"Instructor note {CANARY}-SOLUTIONS"))
    nbformat.write(nb, path)
    for name in ("specs/01_definition.py", "nbgrader_config.py"):
        with (course / name).open("a", encoding="utf-8") as fh:
            fh.write(f"\n# {CANARY}-{name}\n")
    victim = course / "submitted" / VICTIM / LESSON / f"{LESSON}.ipynb"
    nb = read_notebook(victim)
    for cell in nb.cells:
        if cell.get("id") == "softplus_gap_bound":
            cell.source += f"\n# {CANARY}-VICTIM\n"
    nbformat.write(nb, victim)
    monkeypatch.setenv("SOFTPLUS_CANARY", f"{CANARY}-ENV")


def _course_files(course) -> dict[str, str]:
    """Hash of every file of the course that grading must not change."""
    written = {"autograded", "feedback", "gradebook.db", "reports", ".gradebook.lock"}
    return {
        str(p.relative_to(course)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(course.rglob("*"))
        if p.is_file() and p.relative_to(course).parts[0] not in written
    }


def _survivors(scratch) -> list[str]:
    """Processes an attack started, or sandboxes of this grading (their kernels and every
    process forked from one name a socket folder under ``scratch``), still alive."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
        except (psutil.Error, TypeError):
            continue
        if MARKER in cmdline or str(scratch) in cmdline:
            found.append(f"{proc.info['pid']}: {cmdline[:120]}")
    return found


def _grade(course, **kwargs):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTPLUS_CELL_TIMEOUT", CELL_TIMEOUT_S)
        mp.setenv("SOFTPLUS_KERNEL_MEMORY_MB", KERNEL_MEMORY_MB)
        mp.setenv("SOFTPLUS_PROBE_TIMEOUT", CELL_TIMEOUT_S)
        start = time.perf_counter()
        results = grade(course, **kwargs)
        return results, time.perf_counter() - start


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Grade the corpus twice: everything with two worker processes, then the attacks and the
    victim again in one process, over the same folders and gradebook.

    Returns a dict: course root, results of each run by student, seconds, the course files
    before and after each run, and the processes left after each run.
    """
    lesson = next(x for x in LESSONS if x.name == LESSON)
    release, source = read_notebook(lesson.release), read_notebook(lesson.source)
    complete = fill_answers(release, source)
    course = make_course_copy(tmp_path_factory.mktemp("corpus") / "course")
    for student, nb in build(release, complete, _other_lesson_release(lesson)).items():
        submit(course, student, LESSON, nb)
    for student, nb in build_attacks(release, complete, str(course)).items():
        submit(course, student, LESSON, nb)
    for name, text in FAKE_PACKAGE.items():
        path = course / "submitted" / "a_fake_package" / LESSON / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    submit(course, "unknown_folder", "99_no_such_lesson", complete)
    out = {"course": course}
    # The sandboxes' socket folders go to a folder of this test's, so that _survivors can tell
    # this grading's processes from any other grading on the machine.
    scratch = tmp_path_factory.mktemp("sandboxes")
    os.chmod(scratch, 0o755)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TMPDIR", str(scratch))
        mp.setattr(tempfile, "tempdir", str(scratch))
        _plant_canaries(course, mp)
        out["files_before"] = _course_files(course)
        results, seconds = _grade(course, jobs=2)
        out["first"], out["seconds"] = {r.student: r for r in results}, seconds
        out["files_first"], out["left_first"] = _course_files(course), _survivors(scratch)
        again = [*ATTACKS, VICTIM]
        results, _ = _grade(course, only_students=again, jobs=1)
        report_course(course, quiet=True)
        out["second"] = {r.student: r for r in results}
        out["files_second"], out["left_second"] = _course_files(course), _survivors(scratch)
        out["csv"] = (course / "reports" / "scores.csv").read_text(encoding="utf-8")
    return out


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_case_is_graded_as_expected(corpus, case):
    runs = [corpus["first"]] + ([corpus["second"]] if case in corpus["second"] else [])
    for results in runs:
        r = results[case]
        want = EXPECTED[case]
        assert r.lesson == LESSON
        assert r.status == want.status, f"{case}: {r.status} ({r.reason})"
        assert r.scores == {k: float(v) for k, v in want.scores.items()}, f"{case}: {r.reason}"
        for text in [want.reason, *want.notes]:
            assert text in r.reason, f"{case}: reason {r.reason!r} should mention {text!r}"
        if not want.reason:
            assert "needs manual grading" not in r.reason
        assert r.sandbox == "bubblewrap"


def test_unknown_lesson_folder_is_reported(corpus):
    r = corpus["first"]["unknown_folder"]
    assert r.status == "not graded" and "no lesson named '99_no_such_lesson'" in r.reason


def test_every_submission_is_in_the_gradebook_with_the_reported_score(corpus):
    course, results = corpus["course"], {**corpus["first"], **corpus["second"]}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student, r in results.items():
            if r.lesson != LESSON:
                continue
            nb = gb.find_submission_notebook(LESSON, LESSON, student)
            assert nb.score == r.score, student
            assert not nb.needs_manual_grade, f"{student} is left waiting for manual grading"
            manual = [g.manual_score for g in nb.grades if g.manual_score is not None]
            assert not manual, f"{student} has manual scores nobody gave: {manual}"


def test_victim_keeps_full_marks_in_the_report_and_gradebook(corpus):
    course = corpus["course"]
    for run in ("first", "second"):
        assert corpus[run][VICTIM].score == 10.0, run
    rows = [line for line in corpus["csv"].splitlines() if line.startswith(f"{VICTIM},")]
    assert len(rows) == 1 and rows[0].split(",")[3] == "10", rows
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assert gb.find_submission_notebook(LESSON, LESSON, VICTIM).score == 10.0


def test_what_needs_a_look_is_flagged_in_the_gradebook_with_its_reason(corpus):
    """The Formgrader shows flagged submissions, and the grader's comment in the first answer
    cell: an instructor working there sees tampering and ungradable work without the report."""
    course, results = corpus["course"], {**corpus["first"], **corpus["second"]}
    attention = set()
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student, r in results.items():
            if r.lesson != LESSON:
                continue
            nb = gb.find_submission_notebook(LESSON, LESSON, student)
            comments = [c.comment for c in nb.comments if c.comment]
            mine = [c for c in comments if c.startswith(GRADER_COMMENT)]
            if r.status == "graded":
                assert not nb.flagged and not mine, student
            else:
                attention.add(r.status)
                assert nb.flagged, student
                assert mine == [f"{GRADER_COMMENT} {r.status}: {r.reason}"], student
    assert attention == {"review", "not graded"}  # the corpus has both kinds


def test_grader_metadata_made_up_by_a_notebook_is_ignored(corpus):
    """A notebook that brings its own "softplus" cell metadata (the key under which the grader
    records property results and a lost kernel) changes neither the reason nor the records."""
    r = corpus["first"]["forged_grader_metadata"]
    assert "kernel died" not in r.reason and "forged" not in r.reason, r.reason
    records = load_records(f"sqlite:///{corpus['course'] / 'gradebook.db'}")
    props = records[("forged_grader_metadata", LESSON)].properties
    assert set(props) == set(r.max_scores)
    names = [p["name"] for ps in props.values() for p in ps]
    assert FORGED not in names and names
    assert sum(p["earned"] for ps in props.values() for p in ps) == r.score


def test_no_file_of_the_course_changed(corpus):
    before = corpus["files_before"]
    for run in ("files_first", "files_second"):
        after = corpus[run]
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        assert not changed, f"{run}: grading changed {changed}"
    assert HACKED not in corpus["csv"]


def test_no_process_is_left_after_grading(corpus):
    assert corpus["left_first"] == [], corpus["left_first"]
    assert corpus["left_second"] == [], corpus["left_second"]


def test_only_the_notebook_and_release_files_reach_autograded_and_feedback(corpus):
    course = corpus["course"]
    for student, r in corpus["first"].items():
        if r.status == "not graded":
            continue
        for area, allowed in (
            # nbgrader's release_feedback needs the submission's time and secret beside them.
            ("autograded", {f"{LESSON}.ipynb", "timestamp.txt", "submission_secret.txt"}),
            ("feedback", {f"{LESSON}.html", "timestamp.txt", "submission_secret.txt"}),
        ):
            folder = course / area / student / LESSON
            found = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
            assert found == allowed, f"{student}: {area} holds {sorted(found - allowed)}"


def test_feedback_never_shows_a_secret_or_student_html(corpus):
    course = corpus["course"]
    for student, r in corpus["first"].items():
        page = course / "feedback" / student / r.lesson / f"{r.lesson}.html"
        assert page.is_file() == (r.status != "not graded"), student
        if not page.is_file():
            continue
        assert page.stat().st_size < 16 * 1024 * 1024, (
            f"{student}: feedback of {page.stat().st_size} B"
        )
        raw = page.read_text(encoding="utf-8")
        text = feedback_text(course, student, r.lesson)
        assert f"Score: {r.score:.1f} / {r.max_score:.1f}" in text, student
        # The victim's feedback shows its own code, canary included; nobody else's may.
        own = raw.replace(f"{CANARY}-VICTIM", "") if student == VICTIM else raw
        assert CANARY not in own, f"{student}: a secret reached the feedback"
        assert "BEGIN HIDDEN TESTS" not in raw or student == "e_marker_comments", student
        for script in re.findall(r"<script[^>]*>(.*?)</script>", raw, flags=re.S):
            assert "HOSTILE" not in script, f"{student}: student JavaScript in the feedback"
        # Escaped text (&lt;img onerror=...&gt;) is harmless; an attribute inside a tag is not.
        assert not re.search(r"<[^>]*\sonerror\s*=", raw, flags=re.I), f"{student}: onerror"
        banner = r"<[^>]*position:\s*fixed[^>]*>[^<]*HOSTILE-BANNER"
        assert not re.search(banner, raw), f"{student}: a fixed fake-score banner"


def test_attack_outputs_show_the_sandbox_at_work(corpus):
    """The attacks ran, and met the sandbox (not a silent no-op that would prove nothing)."""
    course = corpus["course"]

    def outputs(student):
        nb = read_notebook(course / "autograded" / student / LESSON / f"{LESSON}.ipynb")
        return "".join(
            o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
        )

    secrets = outputs("b_read_secrets")
    assert "gradebook.db FileNotFoundError" in secrets and "HOME" in secrets
    assert "solutions found: 0" in outputs("a_read_solutions")
    assert "stopped after" in outputs("d_fork_bomb")
    big = outputs("d_big_files")  # work folder, /tmp and the kernel's socket folder
    assert big.count("stopped at") == 3 and "stopped at 400" not in big, big
    assert "reached" not in outputs("c_network")
    assert "connected to" not in outputs("c_other_kernels")


def test_summary_and_csv_have_no_control_characters_or_forged_lines(corpus):
    results = list(corpus["first"].values())
    text = summary(results, corpus["seconds"])
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f]", text)
    assert len(text.splitlines()) == len(summary(results).splitlines())
    lines = [line for line in text.splitlines() if line.startswith("zz_victim")]
    assert len(lines) == 1, lines
    csv_text = corpus["csv"]
    assert not re.search(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]", csv_text)
    assert "Evil" in corpus["second"]["e_evil_exception"].reason


def test_summary_names_every_problem(corpus):
    results = corpus["first"]
    text = summary(list(results.values()), corpus["seconds"])
    for student, r in results.items():
        if r.status != "graded" or r.notes:
            assert f"{student} / {r.lesson}: {r.reason}" in text


def test_regrading_gives_the_same_grades_and_a_consistent_gradebook(corpus):
    course, first, second = corpus["course"], corpus["first"], corpus["second"]
    for student, b in second.items():
        a = first[student]
        assert (a.status, a.scores, a.reason) == (b.status, b.scores, b.reason), student
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        submissions = gb.assignment_submissions(LESSON)
        students = sorted(s.student.id for s in submissions)
        assert len(students) == len(set(students)), "a student has two submissions"
        graded_here = sorted(s for s, r in first.items() if r.lesson == LESSON)
        assert students == graded_here
