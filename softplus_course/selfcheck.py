"""A learner's self-check: grade your own notebook the way grading will, and say why.

``python -m softplus_course check course/01_definition/01_definition.ipynb`` (or ``make check``)
runs the notebook top to bottom in a fresh kernel and, at each test cell, checks the exercise
with the lesson's full check specification (``specs/<lesson>.py``) when this copy of the course
has it: every property, visible and hidden inputs, with its points. In a copy without
``specs/`` (a class that keeps them private) it runs the visible checks only, and says so.

Your own notebook on your own machine is trusted: no sandbox is used here (grading uses one).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

__all__ = ["check_notebook", "find_specs"]


def find_specs(notebook: Path, lesson: str) -> Path | None:
    """The specification of ``lesson`` in a ``specs/`` folder at or above the notebook."""
    for folder in notebook.resolve().parents:
        candidate = folder / "specs" / f"{lesson}.py"
        if candidate.is_file():
            return candidate
    return None


def _test_cells(nb) -> list:
    return [
        c
        for c in nb.cells
        if c.cell_type == "code"
        and c.get("metadata", {}).get("nbgrader", {}).get("grade")
        and not c.metadata["nbgrader"].get("solution")
    ]


def check_notebook(path: Path | str, *, timeout: int = 120) -> tuple[str, float, float]:
    """Check one lesson notebook; return ``(report, points, maximum)``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no notebook at {path}")
    nb = nbformat.read(path, as_version=4)
    lesson = _lesson_of(nb, path)
    spec = find_specs(path, lesson)
    if spec is not None:
        return _with_specs(nb, path, lesson, spec, timeout)
    return _visible_only(nb, path, lesson, timeout)


def _lesson_of(nb, path: Path) -> str:
    """The lesson a notebook belongs to, as its test cells name it, so that a copy under
    another name (``my_attempt.ipynb``) is checked too; else the file's own NN_topic name."""
    for cell in _test_cells(nb):
        found = re.search(r'check_exercise\(\s*"(\d\d_[a-z0-9_]+)"', cell.source)
        if found:
            return found.group(1)
    if re.fullmatch(r"\d\d_[a-z0-9_]+", path.stem):
        return path.stem
    raise ValueError(f"{path.name} is not a lesson notebook: no test cell names its lesson")


def _with_specs(nb, path: Path, lesson: str, spec: Path, timeout: int):
    from traitlets.config import Config

    from .pipeline.preprocessors import TrustedGrade

    config = Config()
    config.CourseDirectory.root = str(spec.parent.parent)
    grader = TrustedGrade(config=config, sandbox=False, timeout=timeout, kernel_name="python3")
    resources = {
        "nbgrader": {"assignment": lesson, "student": "you", "notebook": lesson},
        "metadata": {"path": str(path.parent)},
    }
    grader.preprocess(nb, resources)
    lines = [f"{path.name}: checked with the full specification ({spec})", ""]
    points = maximum = 0.0
    for cell in _test_cells(nb):
        report = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")
        lines.append(report.rstrip())
        maximum += float(cell.metadata["nbgrader"].get("points", 0))
        points += sum(p["earned"] for p in cell.metadata.get("softplus", {}).get("properties", []))
    lines += ["", f"Total: {points:g} of {maximum:g} points."]
    return "\n".join(lines), points, maximum


def _visible_only(nb, path: Path, lesson: str, timeout: int):
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    )
    client.execute()
    lines = [
        f"{path.name}: visible checks only. This copy of the course has no specs/{lesson}.py "
        "in a folder above the notebook, so the hidden inputs that grading adds are not "
        "checked here.",
        "",
    ]
    points = maximum = 0.0
    for cell in _test_cells(nb):
        worth = float(cell.metadata["nbgrader"].get("points", 0))
        maximum += worth
        errors = [o for o in cell.outputs if o.get("output_type") == "error"]
        name = cell.metadata["nbgrader"]["grade_id"]
        if errors:
            lines.append(f"[FAILED] {name}: {errors[0].get('ename')}: {errors[0].get('evalue')}")
        else:
            points += worth
            lines.append(f"[passed] {name} ({worth:g} points if the hidden checks pass too)")
    lines += ["", f"Visible checks pass for {points:g} of {maximum:g} points."]
    return "\n".join(lines), points, maximum
