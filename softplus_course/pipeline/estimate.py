"""How long a lesson takes, by the course's stated rule, computed from its notebook.

The rule (the start page states it to learners)::

    minutes = words of Markdown / 120          reading, formulas and hints included
            + lines of code to run / 20         reading each demonstration and its output
            + 10 per exercise                   solving it once, with its visible checks

rounded to the nearest 5 minutes. "Lines of code to run" are the non-blank lines of the code
cells a learner runs as given: not the answer cells (the exercise minutes cover those) and not
the test cells (one line each). 120 words a minute is a slow, careful reading speed, as for a
text with formulas; the rule is deliberately simple so that anyone can check it by hand.

A lesson states its time as ``**Estimated time:** N minutes`` in its first cell, the start page
lists it, and the tests check both against this rule. No lesson may take more than
``LESSON_LIMIT_MIN``: a longer one is split.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nbformat import NotebookNode

WORDS_PER_MINUTE = 120
CODE_LINES_PER_MINUTE = 20
MINUTES_PER_EXERCISE = 10
ROUND_TO_MIN = 5
LESSON_LIMIT_MIN = 90

STATED = re.compile(r"\*\*Estimated time:\*\*\s*(\d+)\s*minutes")


@dataclass(frozen=True)
class Estimate:
    words: int
    code_lines: int
    exercises: int

    @property
    def exact_minutes(self) -> float:
        return (
            self.words / WORDS_PER_MINUTE
            + self.code_lines / CODE_LINES_PER_MINUTE
            + self.exercises * MINUTES_PER_EXERCISE
        )

    @property
    def minutes(self) -> int:
        """The estimate rounded to the nearest ROUND_TO_MIN minutes (halves round up)."""
        return int(self.exact_minutes / ROUND_TO_MIN + 0.5) * ROUND_TO_MIN


def estimate(nb: NotebookNode) -> Estimate:
    """Count a lesson notebook's words, code lines to run and exercises."""
    words = code_lines = exercises = 0
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "markdown":
            words += len(cell.source.split())
        elif cell.cell_type == "code":
            if meta.get("solution"):
                exercises += 1
            elif not meta.get("grade"):
                code_lines += sum(1 for line in cell.source.splitlines() if line.strip())
    return Estimate(words, code_lines, exercises)


def stated_minutes(nb: NotebookNode) -> int | None:
    """The time the lesson states in its Markdown, or None."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            found = STATED.search(cell.source)
            if found:
                return int(found.group(1))
    return None
