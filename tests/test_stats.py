"""The class statistics report (``python -m softplus_course.pipeline stats``) and the exercise
names in the feedback's table of contents.

The report is checked against numbers computed here from the gradebook by other routes than the
report takes (nbgrader's ``submission_dicts`` and ``find_grade``, and the grader's records read
with ``load_records``), on a copy of the session's graded class with a few changes a real class
has: a score set by hand, a late penalty, a rostered student who handed in nothing, a submission
that could not be graded, and a failure message holding HTML.
"""

from __future__ import annotations

import csv
import re
import shutil
import statistics
from collections import Counter, defaultdict
from dataclasses import replace
from html import escape

import pytest
from bs4 import BeautifulSoup
from conftest import LESSON_IDS, ROOT
from nbformat.v4 import new_code_cell, new_notebook
from nbgrader.api import Gradebook
from nbgrader.converters import GenerateFeedback

from softplus_course.checks import visible_checks
from softplus_course.pipeline.__main__ import main
from softplus_course.pipeline.feedback import FeedbackHTMLExporter
from softplus_course.pipeline.grading import NOT_GRADED, copy_course, gradebook_url
from softplus_course.pipeline.nbgrader_ops import load_config
from softplus_course.pipeline.records import load_records, save_record
from softplus_course.pipeline.stats import CSV_COLUMNS, write_report

# What the fixture changes in its copy of the graded class.
OVERRIDE = ("sample_partial", "01_definition", "test_relu", 1.9)  # a score set by hand
LATE = ("sample_complete", "03_derivative_checks", 2.5)  # a late penalty, in points
ROSTER_ONLY = "rostered_only"  # a student of the class with no submission
UNGRADED = ("blank", "02_derivative")  # recorded as "not graded"
HOSTILE_LESSON, HOSTILE_CELL = "01_definition", "test_softplus"
HOSTILE_NAME = "a property whose message quotes the student"
HOSTILE_PROBLEM = "softplus(1.0) should be 1.3, got '<script>alert(1)</script>' \x1b[31m<b>"


def _number(value: float) -> float:
    return round(float(value), 4)


@pytest.fixture(scope="module")
def course(graded_course, tmp_path_factory):
    """A course root holding a changed copy of the session's graded gradebook."""
    graded, _ = graded_course
    root = copy_course(graded, tmp_path_factory.mktemp("stats") / "course")
    shutil.copy(graded / "gradebook.db", root / "gradebook.db")
    url = gradebook_url(root)
    with Gradebook(url) as gb:
        student, lesson, cell, score = OVERRIDE
        gb.find_grade(cell, lesson, lesson, student).manual_score = score
        student, lesson, penalty = LATE
        gb.find_submission_notebook(lesson, lesson, student).late_submission_penalty = penalty
        gb.db.commit()
        gb.add_student(ROSTER_ONLY)
    records = load_records(url)
    assert records, "grading saved no records (grading.py's save_record)"
    save_record(url, replace(records[UNGRADED], status=NOT_GRADED, properties={}))
    # Every graded submission of the lesson fails one more property, with a message quoting
    # HTML and a control character: it is the most failed property of the class.
    for (_, lesson), record in records.items():
        if lesson == HOSTILE_LESSON and record.status != NOT_GRADED:
            properties = dict(record.properties)
            properties[HOSTILE_CELL] = [
                *properties[HOSTILE_CELL],
                {
                    "name": HOSTILE_NAME,
                    "points": 1.0,
                    "earned": 0.0,
                    "hidden": True,
                    "section": "section 1",
                    "problem": HOSTILE_PROBLEM,
                },
            ]
            save_record(url, replace(record, properties=properties))
    return root


@pytest.fixture(scope="module")
def report(course):
    """Run the command line once; return (page text, CSV rows, the output folder)."""
    out = course / "elsewhere"
    assert main(["--root", str(course), "stats", "--out", str(out), "--top", "25"]) == 0
    page = (out / "stats.html").read_text(encoding="utf-8")
    with (out / "stats.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return page, rows, out


def _rows(rows, kind):
    return [r for r in rows if r["kind"] == kind]


def _gradebook_scores(course):
    """{lesson: {student: score}} and {(lesson, cell): [scores]}, {(lesson, cell): max}, the
    students: from nbgrader's own summaries, not the report's route."""
    lessons, exercises, maxima = {}, defaultdict(list), {}
    with Gradebook(gradebook_url(course)) as gb:
        students = [s.id for s in gb.students]
        for assignment in gb.assignments:
            name = assignment.name
            lessons[name] = {}
            for d in gb.submission_dicts(name):  # one per submission
                notebook = gb.find_submission_notebook(name, name, d["student"])
                score = max(0.0, d["score"] - (notebook.late_submission_penalty or 0.0))
                lessons[name][d["student"]] = (score, d["max_score"])
                for cell in gb.find_notebook(name, name).grade_cells:
                    grade = gb.find_grade(cell.name, name, name, d["student"])
                    exercises[name, cell.name].append(grade.score)
                    maxima[name, cell.name] = cell.max_score
    return lessons, exercises, maxima, students


@pytest.mark.slow
def test_lesson_scores_are_the_gradebooks(course, report):
    _, rows, _ = report
    lessons, _, _, students = _gradebook_scores(course)
    by_lesson = {r["lesson"]: r for r in _rows(rows, "lesson")}
    assert sorted(by_lesson) == sorted(lessons) == sorted(LESSON_IDS)
    for name, scores in lessons.items():
        values = [score for score, _ in scores.values()]
        row = by_lesson[name]
        assert int(row["count"]) == len(values) == 4
        assert int(row["total"]) == len(students)
        assert float(row["mean"]) == pytest.approx(_number(statistics.fmean(values)))
        assert float(row["median"]) == pytest.approx(_number(statistics.median(values)))
        assert float(row["min"]) == min(values) and float(row["max"]) == max(values)
        assert float(row["max_score"]) == {m for _, m in scores.values()}.pop()
    # The score set by hand counts, and the late penalty is taken off, as nbgrader exports.
    for lesson in (OVERRIDE[1], LATE[1]):
        autograded = statistics.fmean(_autograded_totals(course, lesson))
        assert float(by_lesson[lesson]["mean"]) != pytest.approx(_number(autograded))


def _autograded_totals(course, lesson):
    """Each submission's autograded points, before scores by hand and penalties."""
    with Gradebook(gradebook_url(course)) as gb:
        return [
            sum(g.auto_score for nb in submission.notebooks for g in nb.grades)
            for submission in gb.find_assignment(lesson).submissions
        ]


@pytest.mark.slow
def test_exercise_scores_are_the_gradebooks(course, report):
    _, rows, _ = report
    _, exercises, maxima, students = _gradebook_scores(course)
    found = {(r["lesson"], r["exercise"]): r for r in _rows(rows, "exercise")}
    assert sorted(found) == sorted(exercises)
    for key, values in exercises.items():
        row = found[key]
        assert int(row["count"]) == len(values) and int(row["total"]) == len(students)
        assert float(row["mean"]) == pytest.approx(_number(statistics.fmean(values)))
        assert float(row["median"]) == pytest.approx(_number(statistics.median(values)))
        assert float(row["min"]) == min(values) and float(row["max"]) == max(values)
        assert float(row["max_score"]) == maxima[key]
        lesson, cell = key
        assert row["function"] == visible_checks(lesson)["exercises"][cell]["function"]
    student, lesson, cell, score = OVERRIDE
    assert score in exercises[lesson, cell]
    assert float(found[lesson, cell]["max"]) == max(exercises[lesson, cell])
    # Each lesson's exercises in its notebook's order (not by name): 04's come unsorted.
    order = [r["exercise"] for r in _rows(rows, "exercise") if r["lesson"] == "04_asymptotics"]
    assert order == ["test_softplus_asymptotic", "test_linear_regime_start"]


@pytest.mark.slow
def test_completion_counts_graded_submissions_of_the_whole_roster(course, report):
    page, rows, _ = report
    records = load_records(gradebook_url(course))
    lessons, _, _, students = _gradebook_scores(course)
    assert ROSTER_ONLY in students and len(students) == 5
    completion = {r["lesson"]: r for r in _rows(rows, "completion")}
    ungraded = {r["lesson"]: r for r in _rows(rows, "not_graded")}
    for lesson, scores in lessons.items():
        graded = [s for s in scores if records[s, lesson].status != NOT_GRADED]
        assert int(completion[lesson]["count"]) == len(graded)
        assert int(ungraded[lesson]["count"]) == len(scores) - len(graded)
        assert int(completion[lesson]["total"]) == int(ungraded[lesson]["total"]) == 5
    assert int(completion[UNGRADED[1]]["count"]) == 3
    assert int(ungraded[UNGRADED[1]]["count"]) == 1
    # The page's table says the same.
    soup = BeautifulSoup(page, "html.parser")
    table = soup.select_one("#completion table")
    cells = {
        tr.td.get_text(): [int(td.get_text()) for td in tr.find_all("td")[1:]]
        for tr in table.select("tbody tr")
    }
    assert cells[UNGRADED[1]] == [3, 1, 1, 5]
    assert cells["01_definition"] == [4, 0, 1, 5]


@pytest.mark.slow
def test_most_failed_properties_are_counted_from_the_records(course, report):
    page, rows, _ = report
    failed, checked, messages = Counter(), Counter(), defaultdict(set)
    for (_, lesson), record in load_records(gradebook_url(course)).items():
        if record.status == NOT_GRADED:
            continue
        for cell, results in record.properties.items():
            for result in results:
                key = (lesson, cell, result["name"])
                checked[key] += 1
                if result["earned"] < result["points"]:
                    failed[key] += 1
                    messages[key].add(result["problem"])
    found = {(r["lesson"], r["exercise"], r["property"]): r for r in _rows(rows, "property")}
    assert set(found) == set(checked)
    for key, row in found.items():
        assert (int(row["count"]), int(row["total"])) == (failed[key], checked[key]), key
        if failed[key]:
            assert row["example"] in {re.sub(r"[\x00-\x1f\x7f]", " ", m) for m in messages[key]}
        else:
            assert row["example"] == ""
    counts = [int(r["count"]) for r in _rows(rows, "property")]
    assert counts == sorted(counts, reverse=True)
    top = _rows(rows, "property")[0]
    assert (top["lesson"], top["exercise"], top["property"]) == (
        HOSTILE_LESSON,
        HOSTILE_CELL,
        HOSTILE_NAME,
    )
    assert int(top["count"]) == 4 and "\x1b" not in top["example"]
    # The page lists the --top 25 most failed, in the same order, with their counts.
    soup = BeautifulSoup(page, "html.parser")
    listed = soup.select("#failures table tbody tr")
    assert len(listed) == 25
    for tr, row in zip(listed, _rows(rows, "property")[:25], strict=True):
        cells = [td.get_text(" ", strip=True) for td in tr.find_all("td")]
        assert cells[2] == row["property"]
        assert cells[3] == f"{row['count']} / {row['total']}"
        assert cells[5] == row["example"]


@pytest.mark.slow
def test_page_names_every_lesson_and_links_its_plots(report):
    page, _, out = report
    soup = BeautifulSoup(page, "html.parser")
    headings = [h.get_text() for h in soup.find_all("h2")]
    for lesson in LESSON_IDS:
        assert f"{lesson}: exercises" in headings
        assert soup.find(id=f"lesson-{lesson}").find("img")["src"] == (
            f"stats/exercises_{lesson}.png"
        )
    sources = [img["src"] for img in soup.find_all("img")]
    assert len(sources) == 3 + len(LESSON_IDS)
    for src in sources:
        assert not src.startswith(("/", "http:", "https:", "file:")), src
        assert (out / src).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", src
    assert sorted(p.name for p in (out / "stats").iterdir()) == sorted(
        src.removeprefix("stats/") for src in sources
    )
    # Self-contained: no script, nothing fetched from elsewhere.
    assert not soup.find_all(["script", "link", "iframe"])
    assert "http://" not in page and "https://" not in page


@pytest.mark.slow
def test_page_escapes_what_students_wrote(report):
    page, rows, _ = report
    assert "<script>" not in page and "<b>" not in page and "\x1b" not in page
    assert escape("'<script>alert(1)</script>'", quote=False) in page.replace("&#39;", "'")
    soup = BeautifulSoup(page, "html.parser")
    first = soup.select_one("#failures table tbody tr").find_all("td")[5].get_text()
    assert first == _rows(rows, "property")[0]["example"]
    assert "<script>alert(1)</script>" in first  # shown as text, not run


@pytest.mark.slow
def test_stats_writes_into_reports_by_default_and_replaces_old_plots(course):
    out = course / "reports"
    (out / "stats").mkdir(parents=True)
    (out / "stats" / "exercises_99_gone.png").write_bytes(b"old")
    (out / "scores.csv").write_text("another command's file\n", encoding="utf-8")
    assert main(["--root", str(course), "stats"]) == 0
    assert (out / "stats.html").is_file() and (out / "stats.csv").is_file()
    assert not (out / "stats" / "exercises_99_gone.png").exists()
    assert (out / "scores.csv").read_text(encoding="utf-8") == "another command's file\n"
    assert not (course / "grades.csv").exists()


def test_stats_refuses_a_course_without_a_gradebook(tmp_path, capsys):
    root = copy_course(ROOT, tmp_path / "course", lessons=["01_definition"])
    assert main(["--root", str(root), "stats"]) == 1
    assert "No gradebook" in capsys.readouterr().out
    assert not (root / "gradebook.db").exists() and not (root / "reports").exists()


def test_an_empty_gradebook_gives_an_empty_report(tmp_path):
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    Gradebook(url).close()
    page, table = write_report(url, tmp_path / "out")
    assert "no lessons yet" in page.read_text(encoding="utf-8")
    assert table.read_text(encoding="utf-8").strip() == ",".join(CSV_COLUMNS)
    assert list((tmp_path / "out" / "stats").iterdir()) == []


# --- the feedback's table of contents -----------------------------------------------------------


def _toc(page: str) -> list[str]:
    soup = BeautifulSoup(page, "html.parser")
    return [li.get_text(" ", strip=True) for li in soup.select("#toc li")]


@pytest.mark.slow
def test_feedback_contents_name_each_exercise_with_its_points(graded_course):
    course, _ = graded_course
    with Gradebook(gradebook_url(course)) as gb:
        for lesson in LESSON_IDS:
            page = course / "feedback" / "sample_partial" / lesson / f"{lesson}.html"
            entries = _toc(page.read_text(encoding="utf-8"))
            expected = []
            for cell, exercise in visible_checks(lesson)["exercises"].items():
                grade = gb.find_grade(cell, lesson, lesson, "sample_partial")
                unit = "point" if grade.max_score == 1 else "points"
                expected.append(
                    f"Exercise {exercise['function']} — {grade.score:g} / "
                    f"{grade.max_score:g} {unit}"
                )
            assert sorted(entries) == sorted(expected), lesson
            assert not any("Test cell" in entry for entry in entries)


def _feedback_page(lesson: str, grade_id: str) -> str:
    """nbgrader's feedback page for a one-test-cell notebook, rendered as GenerateFeedback
    configures our exporter."""
    cell = new_code_cell("check_exercise()")
    cell.metadata.nbgrader = {
        "grade": True,
        "solution": False,
        "grade_id": grade_id,
        "points": 2.0,
        "score": 1.5,
    }
    nb = new_notebook(cells=[cell])
    converter = GenerateFeedback(config=load_config(ROOT))
    exporter = FeedbackHTMLExporter(config=converter.config)
    resources = {
        "nbgrader": {
            "assignment": lesson,
            "notebook": lesson,
            "score": 1.5,
            "max_score": 2.0,
            "late_penalty": 0.0,
        }
    }
    page, _ = exporter.from_notebook_node(nb, resources)
    return page


def test_feedback_names_an_exercise_by_its_function_or_else_its_cell():
    assert _toc(_feedback_page("01_definition", "test_softplus_beta")) == [
        "Exercise softplus_beta — 1.5 / 2 points"
    ]
    # A test cell the lesson's visible checks do not know is named by its grade_id.
    assert _toc(_feedback_page("99_unknown", "test_<i>x</i>")) == [
        "Exercise test_<i>x</i> — 1.5 / 2 points"
    ]
