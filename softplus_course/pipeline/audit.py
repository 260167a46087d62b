"""Audit a lesson's prose against its outputs: every number in the Markdown, and whether a cell
of the executed notebook printed it; every absolute word ("never", "always", "exactly", ...).

The house style says a number in the prose is a number a cell printed. This lists, per lesson,
the numbers of the prose that no output contains (to within the digits the prose shows), so
that a maintainer reads those few and either finds the cell that shows them, adds one, or
confirms the number is a definition (a format's 53 bits, a step h = 10^-5 the text chose).
Absolute words are listed with their sentence, to be read against the arithmetic they are
about. It reports; it decides nothing: ``python -m softplus_course.pipeline audit [lesson…]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nbformat import NotebookNode

# A number as the prose writes it: 0.6931, 1.8e-12, 2.3 \times 10^{-9}, 10^{-5}, 5.7 × 10^5.
_TIMES = r"(?:\s*(?:\\times|×|\\cdot)\s*10\^\{?(?P<exp>[−-]?\d+)\}?)"
PROSE_NUMBER = re.compile(
    r"(?<![\w.^{_\\-])(?P<sign>[−-])?(?P<mant>\d+(?:[.,]\d+)*)(?:" + _TIMES + r"|e(?P<e>[−-]?\d+))?"
    r"(?![\w.]*\d)(?![\w^])"
)
PRINTED_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
ABSOLUTE = re.compile(r"\b(never|always|exactly|every|none|nothing|cannot|impossible)\b", re.I)
# Numbers that are names, not measurements: lesson, section and exercise numbers, years,
# points, list markers.
_NAMING = re.compile(
    r"(lesson|lessons|section|sections|exercise|exercises|step|steps|chapter|edition|"
    r"requirement|requirements|question|hint|points?|pp\.|vol\.|\()\s*$",
    re.I,
)


_APPROX = re.compile(r"(\\approx|≈|about|almost|nearly|roughly)\s*\$?\s*$", re.I)


@dataclass(frozen=True)
class Finding:
    cell: str
    text: str  # the number or word as written
    context: str  # the words around it


def _value(match: re.Match) -> tuple[float, float] | None:
    """(value, half a unit in its last shown digit), or None if it is not a plain number."""
    mant = match.group("mant").replace(",", "")
    if mant.count(".") > 1:
        return None
    digits = len(mant.split(".")[1]) if "." in mant else 0
    exp = match.group("exp") or match.group("e")
    scale = 10.0 ** int(exp.replace("−", "-")) if exp else 1.0
    value = float(mant) * scale
    if match.group("sign"):
        value = -value
    return value, 0.5 * 10.0**-digits * scale


def printed_numbers(nb: NotebookNode) -> list[float]:
    """Every number that a code cell's outputs contain."""
    found = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            text = out.get("text", "") or out.get("data", {}).get("text/plain", "")
            if isinstance(text, list):
                text = "".join(text)
            for m in PRINTED_NUMBER.finditer(text):
                try:
                    found.append(float(m.group()))
                except ValueError:
                    continue
    return found


def _printed(value: float, half_unit: float, printed: list[float]) -> bool:
    for p in printed:
        for candidate in (p, abs(p)):
            # within half a unit of the prose's last digit: 0.693 for 0.6931471805599453
            if abs(candidate - abs(value)) <= half_unit * (1 + 1e-9):
                return True
    return False


def audit(nb: NotebookNode) -> tuple[list[Finding], list[Finding]]:
    """(numbers of the prose that no output shows, sentences with absolute words)."""
    printed = printed_numbers(nb)
    unprinted, absolute = [], []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        cid = cell.get("id", "?")
        # Answers to "Check your understanding" are worked by hand (that is the exercise), and
        # references carry page numbers: the audit stops where those begin.
        text = re.split(
            r"^## (?:Check your understanding|Further reading)", cell.source, flags=re.M
        )[0]
        for m in PROSE_NUMBER.finditer(text):
            before = text[max(0, m.start() - 20) : m.start()]
            if (
                _NAMING.search(before)
                or re.search(r"\d{4}$", m.group("mant"))
                and 1900 < float(m.group("mant").split(".")[0]) < 2100
            ):
                continue
            parsed = _value(m)
            whole = "." not in m.group("mant") and not (m.group("exp") or m.group("e"))
            approximate = _APPROX.search(before) or "%" in text[m.end() : m.end() + 2]
            if parsed is None or whole and not approximate:
                continue  # whole numbers are counts and chosen settings, unless approximate
            shown = _printed(*parsed, printed)
            if not shown and "%" in text[m.end() : m.end() + 2]:  # or a cell printed a fraction
                shown = _printed(parsed[0] / 100, parsed[1] / 100, printed)
            if not shown:
                context = " ".join(text[max(0, m.start() - 50) : m.end() + 30].split())
                unprinted.append(Finding(cid, m.group(0), context))
        for m in ABSOLUTE.finditer(text):
            start = text.rfind(".", 0, m.start()) + 1
            end = text.find(".", m.end())
            sentence = " ".join(text[start : end if end > 0 else len(text)].split())
            absolute.append(Finding(cid, m.group(0), sentence[:200]))
    return unprinted, absolute
