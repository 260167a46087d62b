"""Where things are: the course root, its lessons, and the nbgrader cells inside a notebook."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

__all__ = [
    "Lesson",
    "find_root",
    "discover_lessons",
    "graded_cells",
    "answer_cells",
    "read_notebook",
    "NotebookError",
]

LESSON_NAME = re.compile(r"^\d\d_[a-z0-9_]+$")
CONFIG_FILE = "nbgrader_config.py"


class NotebookError(ValueError):
    """A notebook file that cannot be read as a notebook (bad JSON, bad schema)."""


@dataclass(frozen=True)
class Lesson:
    """One lesson: an nbgrader assignment with one notebook of the same name."""

    name: str
    root: Path

    @property
    def notebook(self) -> str:
        return f"{self.name}.ipynb"

    @property
    def source(self) -> Path:
        return self.root / "solutions" / self.name / self.notebook

    @property
    def release(self) -> Path:
        return self.root / "course" / self.name / self.notebook


def find_root(start: Path | str | None = None) -> Path:
    """Return the course root: the nearest folder at or above ``start`` with nbgrader_config.py."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file() and (folder / "solutions").is_dir():
            return folder
    raise FileNotFoundError(
        f"no course root (a folder with {CONFIG_FILE} and solutions/) at or above {here}"
    )


def discover_lessons(root: Path | str) -> list[Lesson]:
    """List the lessons in ``root/solutions``, in order.

    A lesson is a folder named ``NN_topic`` holding ``NN_topic.ipynb``. Folders that do not
    follow that pattern (checkpoints, caches) are skipped; a lesson folder without its notebook
    is an error, since nbgrader would silently release an empty assignment.
    """
    root = Path(root)
    solutions = root / "solutions"
    if not solutions.is_dir():
        raise FileNotFoundError(f"no solutions/ folder in {root}")
    lessons = []
    for folder in sorted(p for p in solutions.iterdir() if p.is_dir()):
        if not LESSON_NAME.match(folder.name):
            continue
        lesson = Lesson(folder.name, root)
        if not lesson.source.is_file():
            raise FileNotFoundError(f"lesson folder {folder} has no notebook {lesson.notebook}")
        lessons.append(lesson)
    return lessons


def read_notebook(path: Path | str) -> nbformat.NotebookNode:
    """Read and validate a notebook, raising :class:`NotebookError` with the reason if broken.

    The two ways a file can be broken get different messages: not JSON at all ("not a
    readable notebook", with the line and column), or JSON that is not a notebook ("not a valid
    notebook", with the first schema error).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotebookError(f"{path.name} is not a readable notebook: {_first_line(exc)}") from exc
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # nbformat raises several types for JSON that is not a notebook
        raise NotebookError(f"{path.name} is not a valid notebook: {_first_line(exc)}") from exc
    return nb


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()


def _nbgrader(cell: nbformat.NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def graded_cells(nb: nbformat.NotebookNode) -> list[tuple[str, float]]:
    """Return ``(grade_id, points)`` of the autograded test cells, in notebook order."""
    return [
        (meta["grade_id"], float(meta.get("points", 0)))
        for meta in map(_nbgrader, nb.cells)
        if meta.get("grade") and not meta.get("solution")
    ]


def answer_cells(nb: nbformat.NotebookNode) -> list[str]:
    """Return the grade ids of the autograded answer cells, in notebook order."""
    return [
        meta["grade_id"]
        for cell, meta in ((c, _nbgrader(c)) for c in nb.cells)
        if meta.get("solution") and not meta.get("grade") and cell.cell_type == "code"
    ]
