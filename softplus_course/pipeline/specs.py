"""Where the check specifications live, and what is generated from them.

``specs/<lesson>.py`` (instructor material) is the single source of each lesson's checks. From
it, ``make release`` writes

- the visible checks, ``softplus_course/visible/<lesson>.json`` (inputs and expected values only),
  which the learner's test cells run;
- the source of every test cell in ``solutions/<lesson>/<lesson>.ipynb`` (one call of
  :func:`softplus_course.checks.check_exercise`), so that no test code lives in a notebook.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

import softplus_course

from ..spec import LessonSpec, load_spec, write_visible_checks
from .lessons import Lesson, read_notebook

__all__ = ["spec_path", "lesson_spec", "visible_path", "test_cell_source", "render"]

SPECS = "specs"


def spec_path(lesson: Lesson) -> Path:
    return lesson.root / SPECS / f"{lesson.name}.py"


def lesson_spec(lesson: Lesson) -> LessonSpec:
    spec = load_spec(spec_path(lesson))
    if spec.lesson != lesson.name:
        raise ValueError(f"{spec_path(lesson)} specifies lesson {spec.lesson}, not {lesson.name}")
    return spec


def visible_path(lesson_name: str) -> Path:
    return Path(softplus_course.__file__).parent / "visible" / f"{lesson_name}.json"


def test_cell_source(spec: LessonSpec, test_cell: str) -> str:
    exercise = spec.exercise(test_cell)
    if exercise is None:
        raise ValueError(f"{spec.lesson}: the specification has no exercise for {test_cell}")
    points = f"{exercise.points:g}"
    return (
        f"# Visible checks of `{exercise.function}` ({points} points); grading adds hidden ones.\n"
        "# A failure names the input, the expected and the returned value, and the section.\n"
        f'check_exercise("{spec.lesson}", "{test_cell}", globals())'
    )


def render(lesson: Lesson) -> list[str]:
    """Write the visible checks and the test cells of ``lesson`` from its specification.

    Checks that the specification's exercises and points match the notebook's test cells.
    Returns what changed (empty when everything was current).
    """
    spec = lesson_spec(lesson)
    nb = read_notebook(lesson.source)
    tests = {
        c.metadata["nbgrader"]["grade_id"]: c
        for c in nb.cells
        if c.get("metadata", {}).get("nbgrader", {}).get("grade")
        and not c.metadata["nbgrader"].get("solution")
    }
    specified = {e.test_cell: e for e in spec.exercises}
    if set(tests) != set(specified):
        raise ValueError(
            f"{lesson.name}: test cells {sorted(tests)} but the specification has "
            f"{sorted(specified)}"
        )
    changed = []
    for grade_id, cell in tests.items():
        points = float(cell.metadata["nbgrader"].get("points", 0))
        if abs(points - specified[grade_id].points) > 1e-9:
            raise ValueError(
                f"{lesson.name}: {grade_id} is worth {points:g} points in the notebook and "
                f"{specified[grade_id].points:g} in the specification"
            )
        source = test_cell_source(spec, grade_id)
        if cell.source != source:
            cell.source = source
            changed.append(f"{lesson.source.name}: {grade_id}")
    if changed:
        nbformat.write(nb, lesson.source)
    path = visible_path(lesson.name)
    before = path.read_text(encoding="utf-8") if path.is_file() else None
    write_visible_checks(spec, path)
    if path.read_text(encoding="utf-8") != before:
        changed.append(str(path.name))
    return changed
