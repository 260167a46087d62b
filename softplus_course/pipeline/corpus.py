"""A corpus of broken and hostile submissions of lesson 01, each with its expected outcome.

The test suite grades it (tests/test_corpus.py) and ``make bench`` times it: it is the
evidence that one bad notebook never stops or skews the grading of a class.

Every case starts from the complete, correct submission (``fill_answers`` of the released
notebook) and breaks one thing, so any point it loses is lost to that one thing. Build the
notebooks with :func:`build`; ``EXPECTED`` says what grading must make of each.

Lesson 01's items: test_relu (2), test_softplus (3), test_softplus_beta (3),
test_softplus_gap_bound (2); 10 in all.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field

import nbformat

FULL = {"test_relu": 2, "test_softplus": 3, "test_softplus_beta": 3, "test_softplus_gap_bound": 2}
ZERO = dict.fromkeys(FULL, 0)


def _with(**changes: int) -> dict[str, int]:
    return {**FULL, **changes}


@dataclass
class Expected:
    status: str  # "graded", "review" or "not graded"
    scores: dict[str, int]  # points per item
    reason: str = ""  # text the recorded reason must contain ("" = no reason expected)
    notes: list[str] = field(default_factory=list)  # further texts the reason must contain


LESSON = "01_definition"

# The code each case puts in place of a correct answer (by answer cell), or None when the case
# changes something else.
ANSWERS: dict[str, dict[str, str]] = {
    "infinite_loop": {"relu": "while True:\n    pass\n"},
    "kernel_dies": {"softplus_beta": "import os\n\nos._exit(1)\n"},
    "sys_exit": {"relu": "import sys\n\nsys.exit()\n"},
    # A working set that doubles without bound. The memory limit turns it into a MemoryError in
    # this cell; what stays allocated afterwards (the last block, kept alive by the traceback)
    # is at most half the limit, so the cells after it still run.
    "memory_hog": {
        "softplus": ("size = 10_000_000\nwhile True:\n    block = bytearray(size)\n    size *= 2\n")
    },
    "huge_output": {
        "relu": "for i in range(100_000):\n    print(i)\n\n\ndef relu(x):\n"
        "    return np.maximum(x, 0.0)\n"
    },
    "syntax_error": {"softplus": "def softplus(x)\n    return np.log1p(np.exp(x))\n"},
    "renamed_function": {"relu": "def my_relu(x):\n    return np.maximum(x, 0.0)\n"},
    "changed_signature": {
        "softplus_beta": "def softplus_beta(x):\n    return np.log1p(np.exp(2.0 * x)) / 2.0\n"
    },
    "wrong_types": {
        "relu": "def relu(x):\n    return list(np.maximum(np.atleast_1d(x), 0.0))\n",
        "softplus": "def softplus(x):\n    return str(np.log1p(np.exp(x)))\n",
        "softplus_gap_bound": "def softplus_gap_bound(beta):\n    print(np.log(2) / beta)\n",
    },
    "monkeypatch": {
        # A wrong softplus (a plain x), with the usual comparison functions patched to agree.
        "softplus": (
            "import builtins\nimport math\n\n"
            "np.allclose = lambda *args, **kwargs: True\n"
            "np.testing.assert_allclose = lambda *args, **kwargs: None\n"
            "math.isclose = lambda *args, **kwargs: True\n"
            "builtins.abs = lambda value: 0.0\n\n\n"
            "def softplus(x):\n    return x\n"
        )
    },
    "always_equal": {
        "softplus_gap_bound": (
            "class AlwaysEqual(float):\n"
            "    def __eq__(self, other):\n        return True\n\n"
            "    def __le__(self, other):\n        return True\n\n\n"
            "def softplus_gap_bound(beta):\n    return AlwaysEqual(0.0)\n"
        )
    },
    "asks_for_input": {"relu": "answer = input('Your name? ')\n"},
}

# What grading must make of each case.
EXPECTED: dict[str, Expected] = {
    "infinite_loop": Expected("graded", _with(test_relu=0), "relu: CellTimeoutError"),
    "kernel_dies": Expected(
        "graded",
        _with(test_softplus_beta=0, test_softplus_gap_bound=0),
        "the kernel died in cell softplus_beta",
    ),
    "sys_exit": Expected("graded", _with(test_relu=0), "relu: SystemExit"),
    "memory_hog": Expected("graded", _with(test_softplus=0), "softplus: MemoryError"),
    "huge_output": Expected("graded", FULL),
    "syntax_error": Expected("graded", _with(test_softplus=0), "softplus: SyntaxError"),
    "deleted_answer": Expected("graded", _with(test_softplus=0), "restored deleted cell softplus"),
    "deleted_test": Expected("graded", FULL, "restored deleted cell test_relu"),
    # Blank answers everywhere; the edited test of relu must not give its 2 points.
    "edited_test": Expected("graded", ZERO),
    "renamed_function": Expected("graded", _with(test_relu=0)),
    "changed_signature": Expected("graded", _with(test_softplus_beta=0)),
    "wrong_types": Expected(
        "graded", _with(test_relu=0, test_softplus=0, test_softplus_gap_bound=0)
    ),
    "monkeypatch": Expected("review", ZERO, "tampering", ["np.allclose", "builtins.abs"]),
    "always_equal": Expected("graded", _with(test_softplus_gap_bound=0)),
    "asks_for_input": Expected("graded", _with(test_relu=0), "relu: StdinNotImplementedError"),
    "broken_json": Expected("not graded", ZERO, "is not a readable notebook"),
    "broken_schema": Expected("not graded", ZERO, "is not a valid notebook"),
    "unknown_kernel": Expected("graded", FULL),
    "control": Expected("graded", FULL),
    "wrong_lesson": Expected("not graded", ZERO, "none of the exercises of 01_definition"),
}


def build(release, complete, other_lesson_release) -> dict[str, object]:
    """Return ``{case: notebook or raw text}`` for every case in ``EXPECTED``."""

    def answered(answers: dict[str, str]):
        nb = copy.deepcopy(complete)
        for cell in nb.cells:
            if cell.get("id") in answers:
                cell.source = answers[cell.get("id")]
        return nb

    def without(cell_id: str):
        nb = copy.deepcopy(complete)
        nb.cells = [c for c in nb.cells if c.get("id") != cell_id]
        return nb

    cases: dict[str, object] = {name: answered(a) for name, a in ANSWERS.items()}
    cases["deleted_answer"] = without("softplus")
    cases["deleted_test"] = without("test_relu")
    # A blank answer whose test cell was edited to pass: the test must be restored.
    edited = copy.deepcopy(release)
    for cell in edited.cells:
        if cell.get("id") == "test_relu":
            cell.source = "assert True"
    cases["edited_test"] = edited
    unknown_kernel = copy.deepcopy(complete)
    unknown_kernel.metadata["kernelspec"] = {"name": "no-such-kernel", "display_name": "?"}
    cases["unknown_kernel"] = unknown_kernel
    cases["control"] = copy.deepcopy(complete)
    cases["broken_json"] = '{"cells": [ {"cell_type": "code", '
    cases["broken_schema"] = json.dumps({"cells": "none", "nbformat": 4, "nbformat_minor": 5})
    cases["wrong_lesson"] = (
        other_lesson_release if other_lesson_release is not None else nbformat.v4.new_notebook()
    )
    assert set(cases) == set(EXPECTED), set(cases) ^ set(EXPECTED)
    return cases
