"""Executing notebooks, and building student-like submissions from the instructor source."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from .lessons import read_notebook

__all__ = [
    "coalesce_streams",
    "execute",
    "execute_in_place",
    "fill_answers",
    "strip_solution_markers",
]

KERNEL = "python3"
# Matches nbgrader's default delimiters ("### BEGIN SOLUTION", "### END SOLUTION").
_MARKER = re.compile(r"^[ \t]*#+[ \t]*(BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)


def execute(
    nb: nbformat.NotebookNode,
    cwd: Path | str,
    *,
    timeout: int = 120,
    allow_errors: bool = False,
) -> nbformat.NotebookNode:
    """Execute ``nb`` top to bottom in a fresh ``python3`` kernel started in ``cwd``.

    The kernel is the Python of the environment running this code (jupyter_client maps the
    ``python3`` kernelspec to ``sys.executable``), so the installed ``softplus_course`` is used.
    No timing metadata is recorded, so that executing twice gives the same file.
    """
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=KERNEL,
        allow_errors=allow_errors,
        record_timing=False,
        resources={"metadata": {"path": str(cwd)}},
        # ipykernel 7 warns on stderr about its TCP transport at every start, as the grading
        # kernels would (nbgrader_config.py quiets them the same way).
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    )
    client.execute()
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = coalesce_streams(cell.outputs)
    return nb


def coalesce_streams(outputs: list) -> list:
    """Merge consecutive stdout (or stderr) outputs into one.

    How a kernel splits printed text into messages depends on timing; merged, the same prints
    always give the same notebook file.
    """
    merged: list = []
    for out in outputs:
        last = merged[-1] if merged else None
        if (
            last is not None
            and out.get("output_type") == "stream"
            and last.get("output_type") == "stream"
            and out.get("name") == last.get("name")
        ):
            last["text"] = last["text"] + out["text"]
        else:
            merged.append(out)
    return merged


def execute_in_place(path: Path | str, *, timeout: int = 120) -> nbformat.NotebookNode:
    """Execute the notebook at ``path`` and write it back with its outputs (for solutions/).

    Raises nbclient's ``CellExecutionError`` on the first failing cell, leaving the file as it
    was.
    """
    path = Path(path)
    nb = read_notebook(path)
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
    execute(nb, path.parent, timeout=timeout)
    nbformat.write(nb, path)
    return nb


def strip_solution_markers(source: str) -> str:
    """Remove the ``### BEGIN/END SOLUTION`` lines, leaving the code a student would write."""
    return _MARKER.sub("", source)


def fill_answers(
    release: nbformat.NotebookNode,
    source: nbformat.NotebookNode,
    only: set[str] | None = None,
    overrides: dict[str, str] | None = None,
) -> nbformat.NotebookNode:
    """Return a copy of the released notebook with answer cells filled in, as a student would.

    Parameters
    ----------
    release : NotebookNode
        The student version (from course/).
    source : NotebookNode
        The instructor version (from solutions/), whose answers are copied without markers.
    only : set of str, optional
        Grade ids of the answer cells to fill from the solutions; the others stay blank.
    overrides : dict, optional
        Grade id -> source code to put in that answer cell instead (a wrong answer, say).
    """
    solutions = {
        c.metadata["nbgrader"]["grade_id"]: strip_solution_markers(c.source)
        for c in source.cells
        if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    }
    overrides = dict(overrides or {})
    filled = copy.deepcopy(release)
    seen = set()
    for cell in filled.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if not meta.get("solution") or cell.cell_type != "code":
            continue
        seen.add(grade_id)
        if grade_id in overrides:
            cell.source = overrides[grade_id]
        elif only is None or grade_id in only:
            cell.source = solutions[grade_id]
    unknown = (set(overrides) | set(only or ())) - seen
    if unknown:
        raise ValueError(f"no answer cells with grade ids {sorted(unknown)} in the notebook")
    return filled
