"""The learners' start page, course/00_start_here.ipynb: in sync with its source, and true.

nbgrader only releases lesson folders; the release step copies the top-level notebooks of
solutions/ (the start page) into course/ with their outputs cleared. nbval runs the source's
code cell with the other solutions notebooks.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from conftest import LESSONS, ROOT

from softplus_course.pipeline import read_notebook, release
from softplus_course.pipeline.estimate import (
    CODE_LINES_PER_MINUTE,
    LESSON_LIMIT_MIN,
    MINUTES_PER_EXERCISE,
    WORDS_PER_MINUTE,
    estimate,
    stated_minutes,
)

SOURCE = ROOT / "solutions" / "00_start_here.ipynb"
PAGE = ROOT / "course" / "00_start_here.ipynb"
LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+\.ipynb)\)")
LESSON_TIME = re.compile(r"\*\*Estimated time:\*\*\s*(\d+)\s*minutes")


def _markdown(path: Path) -> str:
    return "\n".join(c.source for c in read_notebook(path).cells if c.cell_type == "markdown")


def _table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


def test_course_start_page_is_what_release_produces(tmp_path):
    # Release into a throw-away copy (top-level pages and config only; no lessons to release).
    (tmp_path / "solutions").mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    for page in (ROOT / "solutions").glob("*.ipynb"):
        shutil.copy(page, tmp_path / "solutions")
    released = release(tmp_path, [])
    fresh = tmp_path / "course" / PAGE.name
    assert fresh in released, f"release() did not report {PAGE.name}: {released}"
    committed = json.loads(PAGE.read_text(encoding="utf-8"))
    regenerated = json.loads(fresh.read_text(encoding="utf-8"))
    assert committed == regenerated, "course/00_start_here.ipynb is stale: run `make release`"


def test_released_pages_have_no_outputs_and_a_source():
    for page in sorted((ROOT / "course").glob("*.ipynb")):
        assert (ROOT / "solutions" / page.name).is_file(), (
            f"course/{page.name} has no source in solutions/: remove it or add the source"
        )
        for cell in read_notebook(page).cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"output in {page}"


def test_start_page_is_a_page_not_an_assignment():
    nb = read_notebook(SOURCE)
    assert nb.metadata.kernelspec.name == "python3", "the course's kernel, as in the lessons"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) <= 1, "the start page has at most one small code cell"
    for cell in nb.cells:
        assert "nbgrader" not in cell.metadata, f"cell {cell.id}: nbgrader metadata on a page"


def test_start_page_links_every_lesson_and_nothing_missing():
    text = _markdown(PAGE)
    targets = [target for _, target in LINK.findall(text)]
    for lesson in LESSONS:
        assert f"{lesson.name}/{lesson.notebook}" in targets, f"no link to lesson {lesson.name}"
    for target in targets:
        assert (PAGE.parent / target).is_file(), f"the start page links to missing {target}"
    order = [t.split("/")[0] for t in targets if t.split("/")[0] in {x.name for x in LESSONS}]
    assert order == sorted(order), f"lessons out of order on the start page: {order}"


def test_start_page_times_match_the_lessons():
    rows = _table_rows(_markdown(PAGE))
    total = 0
    for lesson in LESSONS:
        stated = LESSON_TIME.search(_markdown(lesson.source))
        assert stated, f"{lesson.name}: no '**Estimated time:** N minutes' in its markdown"
        row = [r for r in rows if f"]({lesson.name}/{lesson.notebook})" in r]
        assert len(row) == 1, f"one table row on the start page for {lesson.name}, got {row}"
        listed = re.search(r"\|\s*(\d+) min\s*\|\s*$", row[0])
        assert listed, f"no 'N min' at the end of the start page's row for {lesson.name}"
        assert int(listed.group(1)) == int(stated.group(1)), (
            f"{lesson.name}: {listed.group(1)} min on the start page, "
            f"{stated.group(1)} minutes in the lesson"
        )
        total += int(stated.group(1))
    total_row = [r for r in rows if "All lessons" in r]
    assert total_row, "no 'All lessons' total row in the start page's table"
    assert f"**{total} min**" in total_row[0], f"the lessons add up to {total} min"


def test_start_page_tells_how_to_run_solve_check_and_get_help():
    text = _markdown(PAGE)
    for needed in (
        "Shift+Enter",  # running a cell
        "Restart Kernel and Run All Cells",  # JupyterLab's menu item, as it is labelled
        "NotImplementedError",  # what to replace in an exercise
        "**Validate**",  # nbgrader's toolbar button
        "Success! Your notebook passes all the tests.",  # what Validate says, verbatim
        "hidden tests",
        "## When you are stuck",
        "solutions/",
    ):
        assert needed in text, f"the start page does not mention {needed!r}"


def test_make_lab_opens_the_start_page():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^lab:.*\n\t(.*)$", makefile, re.M)
    assert recipe and "jupyter lab course/00_start_here.ipynb" in recipe.group(1), recipe
    assert PAGE.is_file()


def test_every_lesson_states_the_time_the_rule_gives_and_none_is_too_long():
    """The stated times are not guesses: each is the rule of softplus_course.pipeline.estimate
    applied to the lesson's notebook, and no lesson is longer than one sitting."""
    for lesson in LESSONS:
        nb = read_notebook(lesson.source)
        est = estimate(nb)
        assert stated_minutes(nb) == est.minutes, (
            f"{lesson.name} states {stated_minutes(nb)} minutes; the rule gives {est.minutes} "
            f"({est.words} words, {est.code_lines} code lines, {est.exercises} exercises): "
            "run `python -m softplus_course.pipeline times`"
        )
        assert est.minutes <= LESSON_LIMIT_MIN, f"{lesson.name}: {est.minutes} min, split it"


def test_the_start_page_states_the_rule_with_its_numbers():
    text = " ".join(_markdown(PAGE).split())
    for number in (WORDS_PER_MINUTE, CODE_LINES_PER_MINUTE, MINUTES_PER_EXERCISE, LESSON_LIMIT_MIN):
        assert f"{number} " in text, f"the start page does not state the rule's {number}"
    assert "nearest 5 minutes" in text


def test_the_rule_counts_what_it_says():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("one two three\n\nfour"),
        nbformat.v4.new_code_cell("a = 1\n\n# a comment\nprint(a)"),
        nbformat.v4.new_code_cell("def f():\n    raise NotImplementedError()"),
        nbformat.v4.new_code_cell("check_exercise('x', 'y', globals())"),
    ]
    nb.cells[2].metadata["nbgrader"] = {"solution": True, "grade": False}
    nb.cells[3].metadata["nbgrader"] = {"solution": False, "grade": True}
    est = estimate(nb)
    assert (est.words, est.code_lines, est.exercises) == (4, 3, 1)
    assert est.exact_minutes == pytest.approx(4 / 120 + 3 / 20 + 10)
    assert est.minutes == 10  # 10.18 rounds to the nearest 5
