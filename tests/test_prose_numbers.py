"""Every number in a lesson's prose is one a cell printed (softplus_course.pipeline.audit).

The audit lists the numbers of a lesson's Markdown that no output of its executed notebook
shows, to within the digits the prose gives. Each one left is reviewed below, with the reason it
may stand; a new one fails here, so a re-execution that changes an output, or an edit that adds
an unmeasured number, is caught. ``python -m softplus_course.pipeline audit --words`` also
lists the sentences with "never", "always", "exactly" for a reader to check.
"""

from __future__ import annotations

import nbformat
import pytest
from conftest import LESSONS

from softplus_course.pipeline import read_notebook
from softplus_course.pipeline.audit import audit

# Reviewed: (cell, number as written) -> why no cell prints it.
REVIEWED = {
    "03_derivative_checks": {
        ("md-40", "10"): "about 10 to 11 digits: the cell prints errors 1.0e-11 and 1.8e-12",
        ("md-45", "10"): "about 10 digits; Softplus about 10 at x = 10 (the grid's end)",
    },
    "05_relatives": {
        ("md-29b", "-36.7"): "lesson 01's measurement, referred to as such",
        ("md-36b", "0.618"): "the golden-section factor, a constant of the method",
    },
    "07_pytorch": {
        ("md-27", "600,000"): "the cell prints 5.7e+05 spacings ('almost 600,000')",
        ("md-67", "0.02"): "the noise level of the fit's data, chosen (in code-68)",
    },
    "09_when_to_use": {
        ("md-22", "2 \\times 10^{-5}"): "the graded float32 tolerance of poisson_nll, stated",
    },
}


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.name for lesson in LESSONS])
def test_every_number_in_the_prose_is_printed_by_a_cell(lesson):
    unprinted, _ = audit(read_notebook(lesson.source))
    reviewed = REVIEWED.get(lesson.name, {})
    new = [f for f in unprinted if (f.cell, f.text) not in reviewed]
    assert not new, "numbers in the prose that no cell printed:\n" + "\n".join(
        f"  {f.cell}: {f.text!r} in: {f.context}" for f in new
    )
    stale = set(reviewed) - {(f.cell, f.text) for f in unprinted}
    assert not stale, f"reviewed numbers no longer in the prose, remove them: {sorted(stale)}"


def _lesson(markdown: str, printed: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    md = nbformat.v4.new_markdown_cell(markdown)
    md.id = "md-1"
    code = nbformat.v4.new_code_cell("print(...)")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
    nb.cells = [md, code]
    return nb


def test_the_audit_finds_what_no_cell_printed_and_nothing_else():
    nb = _lesson(
        "Section 3 shows that the error is $1.8 \\times 10^{-12}$, about 0.693, and 2.5e-3; "
        "the best is 4.2, 75 % of it, in lesson 04 with 256 units.\n\n"
        "## Check your understanding\n\n1. It is 9.99.",
        "error 1.8e-12  ln 2 = 0.6931471805599453  0.0025  ratio 0.75\n",
    )
    unprinted, absolute = audit(nb)
    assert [(f.cell, f.text) for f in unprinted] == [("md-1", "4.2")]
    assert absolute == []
    nb.cells[0].source = "It never returns 0, and always 4.2."
    unprinted, absolute = audit(nb)
    assert [f.text for f in absolute] == ["never", "always"]
    assert [f.text for f in unprinted] == ["4.2"]
