"""The grading pipeline: bad input never stops the class, and the reports say what happened."""

from __future__ import annotations

import csv
import shutil

import nbformat
import pytest
from conftest import LESSONS, ROOT, feedback_text, make_course_copy, spec_lines, submit

from softplus_course.pipeline import (
    SubmissionResult,
    discover_lessons,
    fill_answers,
    find_root,
    read_notebook,
    strip_solution_markers,
    summary,
    write_report,
)
from softplus_course.pipeline import grading as grading_module
from softplus_course.pipeline.lessons import NotebookError, graded_cells

FIRST = LESSONS[0]


# --- the graded class (solutions, blanks, samples) -------------------------------------------


@pytest.mark.slow
def test_feedback_is_written_for_every_graded_submission(graded_course):
    course, results = graded_course
    for (student, lesson), r in results.items():
        html = course / "feedback" / student / lesson / f"{lesson}.html"
        assert html.is_file() == (r.status == "graded"), (student, lesson)


@pytest.mark.slow
def test_feedback_shows_scores_but_not_the_checks_code(graded_course):
    course, _ = graded_course
    for lesson in LESSONS:
        html = (course / "feedback" / "solution" / lesson.name / f"{lesson.name}.html").read_text()
        leaked = [line for line in spec_lines(lesson.name) if line in html]
        assert not leaked, f"{lesson.name}: check specification code in the feedback: {leaked[:2]}"
        for grade_id, points in graded_cells(read_notebook(lesson.source)):
            assert grade_id in html, f"feedback does not mention {grade_id}"
            assert f"{points:g} of {points:g} points" in html, (lesson.name, grade_id)


@pytest.mark.slow
def test_feedback_of_a_failed_hidden_test_shows_its_message_not_its_code(graded_course):
    course, _ = graded_course
    text = feedback_text(course, "sample_partial", FIRST.name)
    assert "relu(-inf) should be 0.0, got nan." in text
    assert "(a hidden check; reread section 1, 'The definition')" in text
    leaked = [line for line in spec_lines(FIRST.name) if line in text]
    assert not leaked, f"check specification code in the feedback: {leaked[:3]}"


@pytest.mark.slow
def test_gradebook_has_every_graded_submission(graded_course):
    from nbgrader.api import Gradebook

    course, results = graded_course
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for (student, lesson), r in results.items():
            if r.status == "graded":
                nb = gb.find_submission_notebook(lesson, lesson, student)
                assert nb.score == r.score, (student, lesson)


@pytest.mark.slow
def test_parallel_grading_gives_what_one_process_gives(graded_course, tmp_path):
    """graded_course was graded by two workers; grade lesson 01's submissions again in one
    process, with a broken one among them, and compare results, gradebook and feedback."""
    from nbgrader.api import Gradebook

    course, parallel = graded_course
    students = ["blank", "sample_complete", "sample_partial", "solution"]
    again = make_course_copy(tmp_path / "course")
    for student in students:
        shutil.copytree(
            course / "submitted" / student / FIRST.name,
            again / "submitted" / student / FIRST.name,
        )
    submit(again, "broken", FIRST.name, "{ not json")
    results = grading_module.grade(again, jobs=1)
    assert [(r.student, r.lesson) for r in results] == [
        (s, FIRST.name) for s in sorted(["broken", *students])
    ], "results should come in the order of find_submissions"
    broken = next(r for r in results if r.student == "broken")
    rest = [r for r in results if r is not broken]
    assert broken.status == "not graded" and "JSON" in broken.reason, broken.reason
    for r in rest:
        p = parallel[(r.student, r.lesson)]
        assert (r.status, r.scores, r.notes) == (p.status, p.scores, p.notes), r.student
        assert feedback_text(again, r.student, r.lesson) == feedback_text(
            course, r.student, r.lesson
        ), f"feedback of {r.student} differs between one and two processes"
    with Gradebook(grading_module.gradebook_url(course)) as gb:
        in_parallel = {s: gb.find_submission(FIRST.name, s).score for s in students}
    assert in_parallel == {r.student: r.score for r in rest}


def test_gradebook_url_waits_for_other_writers(tmp_path):
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    url = grading_module.gradebook_url(tmp_path)
    assert url == f"sqlite:///{tmp_path / 'gradebook.db'}?timeout=60"
    (tmp_path / "nbgrader_config.py").write_text(
        'c = get_config()\nc.CourseDirectory.db_url = "sqlite:///other.db?timeout=5"\n'
    )
    assert grading_module.gradebook_url(tmp_path) == "sqlite:///other.db?timeout=5"


def test_grade_rejects_a_bad_number_of_jobs(tmp_path):
    for jobs in [0, -1, 1.5, True, "2"]:
        with pytest.raises(ValueError, match="jobs must be a whole number"):
            grading_module.grade(tmp_path, jobs=jobs)


def test_cli_rejects_a_bad_number_of_jobs(capsys):
    from softplus_course.pipeline.__main__ import main

    with pytest.raises(SystemExit) as exc:
        main(["--root", str(ROOT), "grade", "--jobs", "0"])
    assert exc.value.code == 2
    assert "expected a whole number of at least 1, got '0'" in capsys.readouterr().err


def _fake_worker(monkeypatch, tmp_path, outcomes):
    """Set up _grade_pair's process state with a _grade_one that plays ``outcomes`` in turn:
    an exception is raised, anything else grades the submission with full marks."""
    calls, zeros, remembered = [], [], []

    def grade_one(api, root, db_url, result, infos):
        calls.append(result.student)
        outcome = outcomes[len(calls) - 1]
        if isinstance(outcome, Exception):
            raise outcome
        result.max_scores = {"test_a": 2.0}
        result.scores = {"test_a": 2.0}

    info = grading_module._LessonInfo(FIRST, ["test_a"], [], {"test_a": 2.0}, set())
    monkeypatch.setattr(grading_module, "_grade_one", grade_one)
    monkeypatch.setattr(grading_module, "_record_zero", lambda *args: zeros.append(args))
    monkeypatch.setattr(
        grading_module, "_remember", lambda root, db, r, sub, course: remembered.append(sub)
    )
    monkeypatch.setitem(grading_module._worker, "api", None)
    monkeypatch.setitem(grading_module._worker, "root", tmp_path)
    monkeypatch.setitem(grading_module._worker, "db_url", "sqlite://")
    monkeypatch.setitem(grading_module._worker, "infos", {FIRST.name: info})
    monkeypatch.setitem(grading_module._worker, "sandbox", True)
    return calls, zeros, remembered


def test_a_submission_is_tried_again_when_grading_itself_fails(monkeypatch, tmp_path):
    import sqlite3

    busy = grading_module.NbgraderFailure("autograde failed: database is locked")
    calls, zeros, remembered = _fake_worker(
        monkeypatch, tmp_path, [sqlite3.OperationalError("x"), busy, 0]
    )
    r = grading_module._grade_pair(("ada", FIRST.name))
    assert (r.status, r.score, r.notes, len(calls), zeros) == ("graded", 2.0, [], 3, [])
    # Its record holds the submission's hash: `grade --changed` leaves it alone next time.
    assert len(remembered) == 1 and len(remembered[0]) == 64


def test_a_submission_that_keeps_failing_is_reported_with_zero(monkeypatch, tmp_path):
    boom = RuntimeError("the pipeline broke\nat its last line")
    calls, zeros, remembered = _fake_worker(monkeypatch, tmp_path, [boom] * grading_module.ATTEMPTS)
    r = grading_module._grade_pair(("ada", FIRST.name))
    assert r.status == "not graded" and r.scores == {"test_a": 0.0} and r.max_score == 2.0
    assert r.reason == "grading failed 3 times, last with RuntimeError: at its last line"
    assert len(calls) == grading_module.ATTEMPTS
    assert zeros == [("sqlite://", FIRST.name, "ada")]
    # Not the submission's fault: no hash is kept, so `grade --changed` tries it again.
    assert remembered == [""]


# --- reports: grades.csv, the summary, the exit status --------------------------------------


def _results():
    ok = SubmissionResult(
        "ada",
        "01_definition",
        scores={"test_a": 2.0, "test_b": 0.0},
        max_scores={"test_a": 2.0, "test_b": 3.0},
    )
    bad = SubmissionResult(
        "bo",
        "01_definition",
        status="not graded",
        notes=["broken JSON"],
        scores={"test_a": 0.0, "test_b": 0.0},
        max_scores={"test_a": 2.0, "test_b": 3.0},
    )
    other = SubmissionResult(
        "ada", "02_derivative", scores={"test_c": 1.5}, max_scores={"test_c": 4.0}
    )
    return [ok, bad, other]


def _rows_of(results):
    from softplus_course.pipeline.report import ReportRow

    return [
        ReportRow(r.student, r.lesson, r.status, r.scores, r.max_scores, reason=r.reason)
        for r in results
    ]


def test_write_report_has_one_row_per_student_and_lesson(tmp_path):
    path = write_report(_rows_of(_results()), tmp_path / "reports" / "scores.csv")
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["student"], r["lesson"]) for r in rows] == [
        ("ada", "01_definition"),
        ("bo", "01_definition"),
        ("ada", "02_derivative"),
    ]
    assert rows[0]["score"] == "2" and rows[0]["max_score"] == "5"
    assert rows[0]["test_a"] == "2" and rows[0]["test_b"] == "0" and rows[0]["test_c"] == ""
    assert rows[1]["status"] == "not graded" and rows[1]["reason"] == "broken JSON"
    assert rows[2]["test_c"] == "1.5" and rows[2]["test_a"] == ""


def test_summary_names_each_failure_and_its_reason():
    text = summary(_results(), seconds=1.25)
    assert "2 of 3 submissions from 2 students graded in 1.2 s." in text
    assert "bo / 01_definition: broken JSON" in text
    assert "ada" in text and "2/5" in text


def test_summary_of_nothing_says_where_submissions_go():
    assert "submitted/<student>/<lesson>/" in summary([])


def test_grade_course_exit_status(monkeypatch, tmp_path, capsys):
    import softplus_course.pipeline.report as report_module

    reports = []
    monkeypatch.setattr(report_module, "report_course", lambda root, **kw: reports.append(root))
    monkeypatch.setattr(grading_module, "grade", lambda root, *a, **kw: _results())
    assert grading_module.grade_course(tmp_path) == 1
    assert reports == [tmp_path.resolve()]  # the whole class's report, from the gradebook
    assert "Could not grade 1" in capsys.readouterr().out
    monkeypatch.setattr(grading_module, "grade", lambda root, *a, **kw: _results()[:1])
    assert grading_module.grade_course(tmp_path) == 0


def test_find_submissions_skips_hidden_folders(tmp_path):
    (tmp_path / "submitted" / "ada" / "01_definition").mkdir(parents=True)
    (tmp_path / "submitted" / "ada" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "submitted" / ".cache").mkdir()
    assert grading_module.find_submissions(tmp_path) == [("ada", "01_definition")]
    assert grading_module.find_submissions(tmp_path / "nowhere") == []


# --- lessons, notebooks, answers ---------------------------------------------------------------


def test_find_root_from_a_subfolder():
    assert find_root(ROOT / "course" / FIRST.name) == ROOT
    with pytest.raises(FileNotFoundError, match="no course root"):
        find_root("/")


def test_discover_lessons_in_order_and_skips_non_lessons(tmp_path):
    for name in ("02_b", "01_a", "notes", ".ipynb_checkpoints"):
        (tmp_path / "solutions" / name).mkdir(parents=True)
    for name in ("01_a", "02_b"):
        nbformat.write(nbformat.v4.new_notebook(), tmp_path / "solutions" / name / f"{name}.ipynb")
    assert [lesson.name for lesson in discover_lessons(tmp_path)] == ["01_a", "02_b"]
    (tmp_path / "solutions" / "03_c").mkdir()
    with pytest.raises(FileNotFoundError, match="03_c.ipynb"):
        discover_lessons(tmp_path)
    with pytest.raises(FileNotFoundError, match="no solutions/"):
        discover_lessons(tmp_path / "solutions")


def test_discover_lessons_finds_the_course_lessons():
    names = [lesson.name for lesson in discover_lessons(ROOT)]
    assert names[0] == "01_definition" and names == sorted(names)


def test_read_notebook_names_the_problem(tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    with pytest.raises(NotebookError, match="bad.ipynb is not a readable notebook"):
        read_notebook(bad)
    bad.write_text('{"cells": 3, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    with pytest.raises(NotebookError, match="bad.ipynb is not a valid notebook"):
        read_notebook(bad)


def test_strip_solution_markers():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n"
    assert strip_solution_markers(source) == "def f(x):\n    return x\n"


def test_fill_answers_only_and_overrides():
    release, source = read_notebook(FIRST.release), read_notebook(FIRST.source)
    filled = fill_answers(release, source, only={"relu"}, overrides={"softplus": "softplus = 1"})
    by_id = {c.get("id"): c.source for c in filled.cells}
    assert "np.maximum" in by_id["relu"] and "SOLUTION" not in by_id["relu"]
    assert by_id["softplus"] == "softplus = 1"
    assert "raise NotImplementedError()" in by_id["softplus_beta"]
    assert "raise NotImplementedError()" in {c.get("id"): c.source for c in release.cells}["relu"]
    with pytest.raises(ValueError, match="no_such_cell"):
        fill_answers(release, source, overrides={"no_such_cell": ""})


def test_a_nursery_is_started_only_when_it_pays_off(monkeypatch):
    """Fewer than two submissions per worker (a resubmission graded with --changed) get fresh
    sandboxes; from two per worker on, kernels are forked from a nursery."""
    started = []
    monkeypatch.setattr(
        grading_module, "_start_worker", lambda *args: started.append((args[4], args[6]))
    )
    monkeypatch.setattr(grading_module, "_grade_pair", lambda pair: pair)
    for n in (1, 2, 3):
        pairs = [(f"s{i}", FIRST.name) for i in range(n)]
        assert grading_module._grade(ROOT, "sqlite://", {}, pairs, 1, True, True) == pairs
    assert [nursery for nursery, _ in started] == [False, True, True]
    assert started[0][1] == [("s0", FIRST.name)]  # the worker warms only this run's lessons
    started.clear()
    grading_module._grade(ROOT, "sqlite://", {}, [("s0", FIRST.name)], 1, True, False)
    assert started[0][0] is False  # never when it is not asked for
