"""Regrading what changed, and the scores report rebuilt from the gradebook.

Uses the session's graded course (tests/conftest.py); a test that changes anything works on a
copy of it.
"""

from __future__ import annotations

import csv
import shutil

import pytest
from conftest import LESSONS, ROOT
from nbgrader.api import Gradebook

from softplus_course.pipeline import fill_answers, read_notebook
from softplus_course.pipeline.__main__ import main
from softplus_course.pipeline.grading import (
    GRADER_COMMENT,
    grade_course,
    gradebook_url,
    place_submission,
    select_submissions,
)
from softplus_course.pipeline.records import load_records
from softplus_course.pipeline.report import SCORES_CSV, build_report, report_course

pytestmark = pytest.mark.slow

FIRST = LESSONS[0]


def _rows(path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def course(graded_course, tmp_path):
    """A copy of the session's graded course, to change."""
    source, _ = graded_course
    return shutil.copytree(source, tmp_path / "course")


def test_report_has_every_submission_with_the_gradebooks_scores(graded_course, tmp_path):
    course, results = graded_course
    assert report_course(course, out=tmp_path / "scores.csv", quiet=True) == 0
    rows = _rows(tmp_path / "scores.csv")
    assert {(r["student"], r["lesson"]) for r in rows} == set(results)
    with Gradebook(gradebook_url(course)) as gb:
        for r in rows:
            submission = gb.find_submission(r["lesson"], r["student"])
            assert float(r["score"]) == pytest.approx(submission.score)
            assert float(r["max_score"]) == pytest.approx(submission.max_score)
            assert r["status"] == results[(r["student"], r["lesson"])].status
            assert r["overridden"] == ""
    # Exercises in the lesson's order, as in the notebook.
    header = list(rows[0])
    first_cells = list(results[("solution", FIRST.name)].max_scores)
    assert [h for h in header if h in first_cells] == first_cells


def test_the_grader_keeps_a_record_of_every_submission(graded_course):
    course, results = graded_course
    records = load_records(gradebook_url(course))
    assert set(records) == set(results)
    record = records[("solution", FIRST.name)]
    assert record.status == "graded" and len(record.submission_hash) == 64
    assert set(record.properties) == set(results[("solution", FIRST.name)].max_scores)
    props = [p for ps in record.properties.values() for p in ps]
    assert props and all(p["earned"] == p["points"] and p["problem"] == "" for p in props)
    blank = [p for ps in records[("blank", FIRST.name)].properties.values() for p in ps]
    assert blank and all(p["earned"] == 0 and p["problem"] for p in blank)


def test_a_score_set_by_hand_is_marked_and_warned_when_its_maximum_changed(course, capsys):
    db_url = gradebook_url(course)
    with Gradebook(db_url) as gb:
        nb = gb.find_submission_notebook(FIRST.name, FIRST.name, "blank")
        by_hand, too_high = [g for g in nb.grades if g.max_score][:2]
        by_hand.manual_score = 1.0
        too_high.manual_score = too_high.max_score + 5
        gb.db.commit()
        names = by_hand.name, too_high.name
    rows = {(r.student, r.lesson): r for r in build_report(course)}
    row = rows[("blank", FIRST.name)]
    assert sorted(row.overridden) == sorted(names)
    assert row.scores[names[0]] == 1.0
    assert [w for w in row.warnings if "above its maximum" in w] and len(row.warnings) == 1

    # The lesson's points change: the gradebook's maximum moves, the hand-set score does not.
    with Gradebook(db_url) as gb:
        cell = gb.find_grade_cell(names[0], FIRST.name, FIRST.name)
        cell.max_score = cell.max_score + 1
        gb.db.commit()
    assert report_course(course) == 1  # warnings: exit status 1
    out = capsys.readouterr().out
    assert f"blank / {FIRST.name}: {names[0]}: scored by hand, and its maximum changed" in out
    csv_row = next(
        r
        for r in _rows(course / SCORES_CSV)
        if (r["student"], r["lesson"]) == ("blank", FIRST.name)
    )
    assert csv_row["overridden"] == " ".join(row.overridden)
    assert "maximum changed" in csv_row["warnings"]


def test_changed_finds_new_and_modified_submissions_and_changed_lessons(course):
    assert select_submissions(course, changed=True) == []
    path = course / "submitted" / "blank" / FIRST.name / FIRST.notebook
    path.write_text(path.read_text(encoding="utf-8") + " ", encoding="utf-8")
    new = LESSONS[1]
    place_submission(course, "newcomer", new.name, read_notebook(new.release))
    assert select_submissions(course, changed=True) == [
        ("blank", FIRST.name),
        ("newcomer", new.name),
    ]
    # A changed check specification makes every submission of that lesson "changed".
    spec = course / "specs" / f"{LESSONS[2].name}.py"
    spec.write_text(spec.read_text(encoding="utf-8") + "\n# points corrected\n", "utf-8")
    again = select_submissions(course, changed=True)
    third = [s for s, lesson in select_submissions(course) if lesson == LESSONS[2].name]
    assert sorted(s for s, lesson in again if lesson == LESSONS[2].name) == sorted(third)
    # --student and --lesson narrow it further.
    assert select_submissions(course, ["blank"], [FIRST.name], changed=True) == [
        ("blank", FIRST.name)
    ]


def test_grade_changed_regrades_one_submission_and_reports_the_whole_class(course, capsys):
    place_submission(
        course,
        "blank",
        FIRST.name,
        fill_answers(read_notebook(FIRST.release), read_notebook(FIRST.source)),
    )
    report_course(course, quiet=True)  # the fixture graded with grade(), which writes none
    before = {(r["student"], r["lesson"]): r for r in _rows(course / SCORES_CSV)}
    assert float(before[("blank", FIRST.name)]["score"]) == 0
    assert grade_course(course, jobs=1, changed=True) == 0
    out = capsys.readouterr().out
    assert "1 of 1 submissions from 1 students graded" in out
    after = {(r["student"], r["lesson"]): r for r in _rows(course / SCORES_CSV)}
    assert set(after) == set(before)  # the whole class, not only this run
    assert after[("blank", FIRST.name)]["score"] == after[("blank", FIRST.name)]["max_score"]
    unchanged = [k for k in before if k != ("blank", FIRST.name)]
    assert all(after[k]["score"] == before[k]["score"] for k in unchanged)
    assert grade_course(course, jobs=1, changed=True) == 0
    assert "Nothing to grade" in capsys.readouterr().out


def test_flagged_with_the_reason_when_the_instructor_must_look(tmp_path):
    """A submission that cannot be graded is flagged in the gradebook, and the reason is the
    grader's comment on its first answer cell: the Formgrader shows both."""
    from conftest import make_course_copy, submit

    from softplus_course.pipeline import grade

    course = make_course_copy(tmp_path / "course")
    submit(course, "broken", FIRST.name, "{ not a notebook")
    (result,) = grade(course, jobs=1)
    assert result.status == "not graded"
    with Gradebook(gradebook_url(course)) as gb:
        nb = gb.find_submission_notebook(FIRST.name, FIRST.name, "broken")
        assert nb.flagged
        comments = [c.comment for c in nb.comments if c.comment]
        assert comments == [f"{GRADER_COMMENT} not graded: {result.reason}"]


def test_cli_grade_narrows_and_rejects_bad_selections(capsys):
    for argv, message in [
        (["grade", "--lesson", "99_nope"], "unknown lesson(s) ['99_nope']"),
        (["grade", "--shard", "3/2"], "expected K/N with 1 <= K <= N"),
        (["grade", "--shard", "x"], "expected K/N with 1 <= K <= N"),
    ]:
        with pytest.raises(SystemExit) as exc:
            main(["--root", str(ROOT), *argv])
        assert exc.value.code != 0
        captured = capsys.readouterr()
        assert message in captured.out + captured.err + str(exc.value.code)


def test_every_pipeline_command_in_the_readme_parses():
    """The instructor section's examples are commands the pipeline accepts, as written."""
    import shlex

    from softplus_course.pipeline.__main__ import build_parser

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    prefix = "python -m softplus_course.pipeline "
    lines = [
        line.split("#")[0].strip() for line in text.splitlines() if line.strip().startswith(prefix)
    ]
    assert len(lines) >= 10
    commands = set()
    for line in lines:
        argv = shlex.split(line[len(prefix) :])
        args = build_parser().parse_args(argv)  # SystemExit (a failure) if it does not parse
        commands.add(args.command)
    assert {"grade", "report", "lms-import", "lms-export"} <= commands
