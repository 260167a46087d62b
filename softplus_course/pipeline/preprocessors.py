"""nbconvert preprocessors that nbgrader runs for this course (named in nbgrader_config.py)."""

from __future__ import annotations

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

__all__ = ["HideTestTracebacks"]


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
