"""Every lesson, checked the way nbgrader and a learner see it.

nbval (configured in pyproject.toml) separately executes every solutions notebook and compares
the outputs of the cells tagged ``nbval-check-output``.
"""

from __future__ import annotations

import json
import re

import nbformat
import pytest
from conftest import LESSON_IDS, LESSONS, ROOT, SAMPLES, feedback_text

from softplus_course.pipeline import (
    execute,
    read_notebook,
    release_to,
    strip_solution_markers,
    validate,
)
from softplus_course.pipeline.lessons import answer_cells, graded_cells
from softplus_course.pipeline.specs import lesson_spec

pytestmark = pytest.mark.parametrize("lesson", LESSONS, ids=LESSON_IDS)
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


# --- structure (house style) -----------------------------------------------------------------


def test_lesson_has_the_house_structure(lesson):
    nb = read_notebook(lesson.source)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for heading in ("Learning objectives", "Estimated time", "## Summary", "## Further reading"):
        assert heading in text, f"{lesson.name}: no {heading!r} in the markdown"
    setup = [c for c in nb.cells if _nbgrader(c).get("grade_id") == "setup"]
    assert len(setup) == 1 and _nbgrader(setup[0]).get("locked"), "one locked setup cell"
    assert "show_versions" in setup[0].source and "use_style()" in setup[0].source


def _owner(test_id: str, answers: list[str]) -> str | None:
    names = [a for a in answers if test_id == f"test_{a}" or test_id.startswith(f"test_{a}_")]
    return max(names, key=len) if names else None


def _exercise_text(nb, answer_cell) -> str:
    """The markdown cell right above an answer cell: its exercise's task."""
    index = nb.cells.index(answer_cell)
    above = [c for c in nb.cells[:index] if c.cell_type == "markdown"]
    return above[-1].source if above else ""


def test_every_exercise_has_docstring_heading_and_test_cell(lesson):
    nb = read_notebook(lesson.source)
    answers = answer_cells(nb)
    tests = dict(graded_cells(nb))
    assert answers, f"{lesson.name} has no exercises"
    orphans = [t for t in tests if _owner(t, answers) is None]
    assert not orphans, f"test cells that belong to no exercise: {orphans}"
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for name in answers:
        cell = next(c for c in nb.cells if _nbgrader(c).get("grade_id") == name)
        # A function (def), an autograd Function (class) or an answer value (name = ...).
        defines = rf"^(def {name}\(|class {name}\b|{name}\s*=)"
        assert re.search(defines, cell.source, re.M), f"cell {name!r} must define {name}"
        assert "EXAMPLE" in cell.source, f"the docstring of {name} has no EXAMPLE"
        if "HINT" not in cell.source:
            # The house style (shared/STYLE.md): the docstring states the contract only, and
            # the hints are tiered, collapsible blocks in the exercise's text, where to look
            # first, then the idea. Exercises not yet rewritten keep TODO and HINT.
            task = _exercise_text(nb, cell)
            hints = re.findall(r"<summary>Hint (\d)", task)
            assert hints[:2] == ["1", "2"], f"{name}: no HINT in the docstring and no tiered hints"
        else:
            assert "TODO" in cell.source, f"the docstring of {name} has no TODO"
        # One test cell `test_<name>`, or several `test_<name>_<part>` where an exercise is
        # graded per part; a test cell belongs to the longest exercise name that prefixes it.
        own = {t: p for t, p in tests.items() if _owner(t, answers) == name}
        assert own, f"no test cell 'test_{name}' for exercise {name!r}"
        heading = re.search(rf"Exercise \d+ — `{name}` \((\d+) points?\)", text)
        assert heading, f"no heading 'Exercise N — `{name}` (k points)'"
        assert float(heading.group(1)) == sum(own.values()), f"{name}: heading and points disagree"


def test_solutions_are_committed_executed_and_clean(lesson):
    nb = read_notebook(lesson.source)
    code = [c for c in nb.cells if c.cell_type == "code"]
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), "execute top to bottom: `make execute`"
    for cell in code:
        assert "execution" not in cell.metadata, "timing metadata changes on every run"
        for out in cell.outputs:
            assert out.output_type != "error", f"cell {cell.id} has an error output"
            assert not (out.output_type == "stream" and out.name == "stderr"), (
                f"cell {cell.id} writes to stderr: nbgrader would score such a test cell 0"
            )
    blob = json.dumps(nb)
    for path in ("/work/", "/home/", "/root/", "/tmp/", "C:\\\\Users"):
        assert path not in blob, f"a machine path ({path}) leaked into {lesson.source.name}"


# --- nbgrader: validate, release in sync, no leaks ------------------------------------------


@pytest.mark.slow
def test_solutions_pass_nbgrader_validate(lesson):
    assert graded_cells(read_notebook(lesson.source)), "no graded test cells to validate"
    assert validate(ROOT, lesson.source) == {}


@pytest.mark.slow
def test_released_notebook_fails_every_test(lesson):
    result = validate(ROOT, lesson.release, invert=True)
    assert result == {}, f"tests that pass on a blank notebook: {result.get('passed')}"


def test_course_is_in_sync_with_solutions(lesson, tmp_path):
    (fresh,) = release_to(ROOT, tmp_path, [lesson])
    committed = read_notebook(lesson.release)
    regenerated = read_notebook(fresh)
    assert len(committed.cells) == len(regenerated.cells), "course/ is stale: run `make release`"
    for old, new in zip(committed.cells, regenerated.cells, strict=True):
        assert old == new, f"course/ is stale at cell {new.get('id')}: run `make release`"
    assert committed.metadata == regenerated.metadata, "course/ is stale: run `make release`"


def test_release_has_no_solutions_markers_or_outputs(lesson):
    text = lesson.release.read_text(encoding="utf-8")
    for marker in MARKERS:
        assert marker not in text, f"{marker} in the released notebook"
    release = read_notebook(lesson.release)
    for cell in release.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"output in {cell.id}"
    source = read_notebook(lesson.source)
    for cell in source.cells:
        if _nbgrader(cell).get("solution"):
            solution = re.search(
                r"BEGIN SOLUTION\n(.*?)\n[ \t]*### END SOLUTION", cell.source, re.S
            )
            assert solution, f"answer cell {cell.id} has no solution region"
            for line in solution.group(1).splitlines():
                if len(line.strip()) > 12:
                    assert line.strip() not in text, f"solution code leaked: {line.strip()!r}"


def test_bundled_samples_match_the_release(lesson):
    release = read_notebook(lesson.release)
    for path in sorted(SAMPLES.glob(f"*/{lesson.name}/{lesson.notebook}")):
        sample = read_notebook(path)
        assert answer_cells(sample) == answer_cells(release), f"{path} is stale"
        assert graded_cells(sample) == graded_cells(release), f"{path} is stale"


# --- a learner running the course notebook --------------------------------------------------


@pytest.mark.slow
def test_course_notebook_errors_only_in_exercise_cells(lesson):
    nb = execute(read_notebook(lesson.release), lesson.release.parent, allow_errors=True)
    exercise_cells = set(answer_cells(nb)) | {name for name, _ in graded_cells(nb)}
    failing = [
        cell.get("id")
        for cell in nb.cells
        if cell.cell_type == "code" and any(o.output_type == "error" for o in cell.outputs)
    ]
    stray = [cid for cid in failing if cid not in exercise_cells]
    assert not stray, f"cells outside the exercises fail when exercises are blank: {stray}"
    assert failing, "a blank notebook should fail at least its test cells"


# --- autograding ------------------------------------------------------------------------------


@pytest.mark.slow
def test_solution_scores_full_points(lesson, graded_course):
    _, results = graded_course
    r = results[("solution", lesson.name)]
    assert r.status == "graded", r.reason
    assert r.max_score > 0 and r.score == r.max_score, r.scores


@pytest.mark.slow
def test_blank_scores_zero(lesson, graded_course):
    _, results = graded_course
    r = results[("blank", lesson.name)]
    assert r.status == "graded", r.reason
    assert r.score == 0, r.scores


@pytest.mark.slow
def test_samples_score_as_expected(lesson, graded_course):
    """tests/sample_grades/<lesson>.json gives each bundled sample's points per test cell."""
    _, results = graded_course
    expected_file = ROOT / "tests" / "sample_grades" / f"{lesson.name}.json"
    samples = sorted(p.parts[-3] for p in SAMPLES.glob(f"*/{lesson.name}/{lesson.notebook}"))
    assert samples, f"no sample submissions of {lesson.name} in {SAMPLES}"
    assert any("partial" in s for s in samples), "bundle a partial submission for this lesson"
    expected = json.loads(expected_file.read_text(encoding="utf-8"))
    assert sorted(k for k in expected if not k.startswith("_")) == samples, expected_file
    for student in samples:
        r = results[(student, lesson.name)]
        assert r.status == "graded", r.reason
        assert r.scores == {k: float(v) for k, v in expected[student].items()}, student
        if "partial" in student:
            assert 0 < r.score < r.max_score, f"{student} should be strictly in between"


REPORT_LINE = re.compile(r"^  \[(passed|FAILED|not checked)\] (.+) \(([\d.]+)/([\d.]+)\)$")


@pytest.mark.slow
def test_partial_credit_is_exactly_the_broken_properties_with_input_and_section(
    lesson, graded_course
):
    """sample_partial breaks some properties: each test cell loses exactly their points, at
    least one exercise loses exactly one property, and the feedback names, for each broken
    property, an input and the section to reread."""
    course, results = graded_course
    student = "sample_partial"
    r = results[(student, lesson.name)]
    spec = lesson_spec(lesson)
    nb = read_notebook(course / "autograded" / student / lesson.name / lesson.notebook)
    feedback = feedback_text(course, student, lesson.name)
    single = 0
    for cell in nb.cells:
        grade_id = _nbgrader(cell).get("grade_id")
        exercise = spec.exercise(grade_id) if _nbgrader(cell).get("grade") else None
        if exercise is None:
            continue
        report = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")
        rows = [m.groups() for line in report.splitlines() if (m := REPORT_LINE.match(line))]
        assert [name for _, name, _, _ in rows] == [p.name for p in exercise.properties], report
        failed = [p for p, (state, *_rest) in zip(exercise.properties, rows, strict=True)
                  if state != "passed"]  # fmt: skip
        lost = r.max_scores[grade_id] - r.scores[grade_id]
        assert lost == pytest.approx(sum(p.points for p in failed)), (grade_id, report)
        single += len(failed) == 1
        for prop in failed:
            block = report.split(f"] {prop.name} (")[1].split("\n  [")[0]
            assert f"reread {prop.section}" in block, block
            assert "check;" in block and "(" in block.splitlines()[1], block
            assert block.splitlines()[1].strip() in feedback, "the failure is not in the feedback"
    assert single >= 1, f"{student} of {lesson.name} should break exactly one property somewhere"


def test_strip_markers_on_this_lessons_answers(lesson):
    for cell in read_notebook(lesson.source).cells:
        if _nbgrader(cell).get("solution"):
            stripped = strip_solution_markers(cell.source)
            assert "SOLUTION" not in stripped
            compile(stripped, cell.id, "exec")  # what a student would write must be valid code


def test_release_notebooks_are_valid_nbformat(lesson):
    nbformat.validate(nbformat.read(lesson.release, as_version=4))
