"""nbconvert preprocessors that nbgrader runs for this course (named in nbgrader_config.py).

- :class:`RestoreDeletedCells` (autograde, sanitising): puts back answer and test cells that a
  student deleted, so every item is graded instead of waiting for manual grading.
- :class:`ResilientExecute` (autograde, execution): nbgrader's executor, except that a kernel
  that dies (``os._exit``, the memory limit, a crash) does not abort the submission: the cell
  and every cell after it get an error output naming the cell where the kernel died, so their
  tests score 0 and the earlier ones keep their points.
- :class:`HideTestTracebacks` (feedback): test-cell tracebacks cut to their last line.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
from nbclient.exceptions import DeadKernelError
from nbconvert.preprocessors import Preprocessor
from nbformat.notebooknode import NotebookNode
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import ClearSolutions, Execute
from traitlets import Bool

__all__ = ["RestoreDeletedCells", "ResilientExecute", "HideTestTracebacks", "KERNEL_DIED"]

KERNEL_DIED = "KernelDied"


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def restore_deleted_cells(submission: NotebookNode, source: NotebookNode, stub: str) -> list[str]:
    """Insert into ``submission`` every nbgrader cell of ``source`` that it lacks.

    Each restored cell goes right before the next nbgrader cell of the source that the
    submission has (a deleted answer cell lands just above its test cell); the last ones go
    after the submission's last nbgrader cell. Answer cells come back as the blank ``stub``;
    locked and test cells as in the source (nbgrader's OverwriteCells then rewrites them from
    the gradebook anyway). Returns the grade ids restored, in the source's order.
    """
    order = [(g, cell) for cell in source.cells if (g := _grade_id(cell)) is not None]
    present = {_grade_id(c) for c in submission.cells} - {None}
    restored = []
    following: str | None = None  # the next nbgrader cell, walking backwards
    for grade_id, cell in reversed(order):
        if grade_id not in present:
            new = copy.deepcopy(cell)
            if new.cell_type == "code":
                new.outputs, new.execution_count = [], None
                if new.metadata["nbgrader"].get("solution"):
                    new.source = stub
            ids = [_grade_id(c) for c in submission.cells]
            if following is not None:
                at = ids.index(following)
            else:
                tracked = [i for i, g in enumerate(ids) if g is not None]
                at = tracked[-1] + 1 if tracked else len(ids)
            submission.cells.insert(at, new)
            present.add(grade_id)
            restored.append(grade_id)
        following = grade_id
    return restored[::-1]


class RestoreDeletedCells(Preprocessor):
    """Restore deleted answer and test cells before nbgrader overwrites the locked ones.

    The order and content come from the lesson's notebook in ``solutions/`` (nbgrader's source
    directory), so no solution code is ever inserted: answer cells come back blank.
    """

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb, resources):
        info = resources.get("nbgrader", {})
        coursedir = CourseDirectory(config=self.config)
        folder = Path(coursedir.format_path(coursedir.source_directory, ".", info["assignment"]))
        source = nbformat.read(folder / f"{info['notebook']}.ipynb", as_version=4)
        stub = ClearSolutions(config=self.config).code_stub.get("python", "")
        restored = restore_deleted_cells(nb, source, stub)
        if restored:
            self.log.warning("Restored deleted cells: %s", ", ".join(restored))
        return nb, resources


class ResilientExecute(Execute):
    """nbgrader's Execute, surviving a kernel that dies in the middle of the notebook."""

    _died_in: str | None = None

    def preprocess(self, nb, resources=None, km=None):
        self._died_in = None
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        if self._died_in is not None:
            if cell.cell_type == "code":
                self._record_death(cell, f"not run: the kernel died in cell {self._died_in}")
            return cell, resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._died_in = _grade_id(cell) or cell.get("id") or f"#{index}"
            self._record_death(
                cell,
                f"the kernel died in cell {self._died_in} (os._exit, a crash, or the memory "
                "limit); this cell and the ones after it were not run",
            )
            self.log.warning("Kernel died in cell %s", self._died_in)
            return cell, resources

    @staticmethod
    def _record_death(cell, message: str) -> None:
        cell.setdefault("outputs", []).append(
            nbformat.v4.new_output(
                "error", ename=KERNEL_DIED, evalue=message, traceback=[f"{KERNEL_DIED}: {message}"]
            )
        )


class HideTestTracebacks(Preprocessor):
    """In feedback, shorten the error of each test cell to its last line.

    A traceback quotes the source lines around the failing assertion, and in a test cell those
    are often hidden tests. The last line (``AssertionError: relu(-inf) should be 0.0, got
    nan``) is the teaching message the student needs; the rest would give the tests away.
    """

    # nbconvert preprocessors are off unless enabled; this one is meant to run whenever listed.
    enabled = Bool(True).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        grade_cell = cell.get("metadata", {}).get("nbgrader", {}).get("grade", False)
        if cell.cell_type == "code" and grade_cell:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename')}: {output.get('evalue')}"]
        return cell, resources
