"""The exporter that writes feedback HTML: nbconvert's HTMLExporter with nbgrader's feedback
template, made cheaper in two ways that do not change the page a student reads.

- **Compiled templates are kept** for the life of the grading process. nbgrader makes a new
  exporter, and so a new Jinja environment, for every submission; compiling the nine templates
  of the feedback page each time took about a third of a second. Jinja's own bytecode cache
  keeps them here, in memory, keyed by template name and checksum of its source, so a changed
  template is compiled anew.
- **The accessibility pass works on tags, not on a parsed page.** After rendering, nbconvert's
  HTMLExporter parses the whole page (0.35–0.6 MB, most of it highlighted code and the theme's
  CSS) with BeautifulSoup's pure-Python parser and writes it out again, only to give images
  without one an ``alt`` text and to make cell inputs and outputs focusable (``tabindex``):
  0.4–0.9 s of a feedback page. Here the same attributes are added to the same start tags by
  one scan over the rendered text. tests/test_pipeline_units.py checks that the page parses to
  the same document as nbconvert's.
- **Highlighted code is kept.** Most code cells are the same in every submission of a lesson;
  pygments highlights each distinct cell source once per grading process (0.1–0.2 s a page).

Two things of the page do change. Its table of contents names the exercises: nbgrader's
feedback template lists every test cell as "Test cell"; where nbgrader asks for that template
(``template_name`` "feedback", set by its GenerateFeedback), this exporter renders
``templates/softplus_feedback.html.j2``, which extends nbgrader's page and writes "Exercise
``softplus`` — 3 / 4 points". The exercise's function comes from the lesson's visible checks
(written by ``make release`` from ``specs/``), put in each test cell's metadata by the
:class:`NameExercises` preprocessor that the exporter runs first. And its math is typeset by
MathJax from the Jupyter server that shows the page (the package jupyter-server-mathjax), not
from the CDN nbgrader's page names, so that it works on a network without internet; the
template says how.
"""

from __future__ import annotations

import re
from pathlib import Path

from jinja2 import BytecodeCache, FileSystemLoader
from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbconvert.preprocessors import Preprocessor
from traitlets import default

from ..checks import visible_checks

# nbgrader's GenerateFeedback asks for its template by this name; ours extends it.
NBGRADER_FEEDBACK = "feedback"
TEMPLATES = Path(__file__).with_name("templates")
FEEDBACK_TEMPLATE = "softplus_feedback.html.j2"

# The text nbconvert gives an image that has none (nbconvert.exporters.html).
MISSING_ALT = "No description has been provided for this image"
FOCUSABLE = frozenset({"jp-Cell-inputWrapper", "jp-OutputArea-output"})

# A start tag of an img or div with its attributes; quoted values may contain ">".
_START_TAG = re.compile(r"""<(img|div)(?=[\s/>])((?:[^>"']|"[^"]*"|'[^']*')*)>""", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""([^\s"'=<>/]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?""")
_TABINDEX = re.compile(r"""\stabindex\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""", re.IGNORECASE)


class _MemoryBytecodeCache(BytecodeCache):
    def __init__(self) -> None:
        self._store: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        code = self._store.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket) -> None:
        self._store[bucket.key] = bucket.bytecode_to_string()

    def clear(self) -> None:
        self._store.clear()


TEMPLATE_CACHE = _MemoryBytecodeCache()


class _SharedHighlight:
    """nbconvert's Highlight2HTML with its results kept, by everything they depend on."""

    limit = 4096  # distinct cell sources kept; the store starts over when full
    _store: dict[tuple, str] = {}

    def __init__(self, highlight: Highlight2HTML) -> None:
        self._highlight = highlight

    def __call__(self, source, language=None, metadata=None):
        options = sorted(self._highlight.extra_formatter_options.items())
        magics = (metadata or {}).get("magics_language")
        key = (self._highlight.pygments_lexer, repr(options), language, magics, source)
        if key not in self._store:
            if len(self._store) >= self.limit:
                self._store.clear()
            self._store[key] = self._highlight(source, language, metadata)
        return self._store[key]


def _attributes(text: str) -> dict[str, str]:
    found = {}
    for match in _ATTRIBUTE.finditer(text):
        name, value = match.group(1).lower(), match.group(2) or ""
        if value[:1] in {'"', "'"}:
            value = value[1:-1]
        found.setdefault(name, value)
    return found


def _with_accessibility(tag: re.Match) -> str:
    name, attributes = tag.group(1).lower(), tag.group(2)
    present = _attributes(attributes)
    body = attributes.rstrip()
    closing = "/" if body.endswith("/") else ""
    if closing:
        body = body[:-1].rstrip()
    if name == "img" and "alt" not in present:
        return f'<{tag.group(1)}{body} alt="{MISSING_ALT}"{closing}>'
    if name == "div" and FOCUSABLE & set(present.get("class", "").split()):
        if present.get("tabindex") != "0":
            return f'<{tag.group(1)}{_TABINDEX.sub("", body)} tabindex="0"{closing}>'
    return tag.group(0)


def add_accessibility(html: str) -> str:
    """What nbconvert's HTMLExporter adds after rendering, added to the start tags: ``alt`` on
    every img without one, ``tabindex="0"`` on every cell input wrapper and output area."""
    return _START_TAG.sub(_with_accessibility, html)


def _is_test_cell(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


class NameExercises(Preprocessor):
    """Put each test cell's exercise, the function it checks, in the cell's metadata
    (``softplus.exercise``), for the feedback page's table of contents.

    The function is the one the lesson's visible checks give for the test cell's ``grade_id``
    (``softplus_course/visible/<lesson>.json``, written from ``specs/`` by ``make release``);
    a test cell they do not know (a lesson without visible checks, a cell added in nbgrader's
    own way) is named by its ``grade_id``, so that a name never stops feedback being written.
    """

    def preprocess(self, nb, resources):
        lesson = (resources or {}).get("nbgrader", {}).get("assignment")
        self._functions = exercise_functions(lesson) if lesson else {}
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if _is_test_cell(cell):
            grade_id = cell.metadata["nbgrader"].get("grade_id", "")
            meta = cell.metadata.setdefault("softplus", {})
            meta["exercise"] = self._functions.get(grade_id, grade_id)
        return cell, resources


def exercise_functions(lesson: str) -> dict[str, str]:
    """``{test cell grade_id: function}`` of a lesson, from its visible checks ({} when this
    course has none for it)."""
    try:
        exercises = visible_checks(lesson)["exercises"]
    except FileNotFoundError:  # no such lesson in softplus_course/visible
        return {}
    return {grade_id: exercise["function"] for grade_id, exercise in exercises.items()}


class FeedbackHTMLExporter(HTMLExporter):
    """HTMLExporter (configured by nbgrader's GenerateFeedback as usual) sharing compiled
    templates between submissions, adding its accessibility attributes without re-parsing
    the page, and naming the exercises in the table of contents of nbgrader's feedback page.

    Asked for another template (``template_name="lab"``, or a ``template_file`` of one's own),
    it renders that one, unchanged."""

    def __init__(self, config=None, **kw):
        super().__init__(config=config, **kw)
        self.register_preprocessor(NameExercises, enabled=True)

    @default("extra_loaders")
    def _default_extra_loaders(self):
        # Tried before nbconvert's template paths; holds only templates named as no
        # nbconvert or nbgrader template is, so it shadows none of theirs.
        return [FileSystemLoader(str(TEMPLATES))]

    @default("template_file")
    def _default_template_file(self):
        if self.template_name == NBGRADER_FEEDBACK:
            return FEEDBACK_TEMPLATE
        return super()._template_file_default()

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = TEMPLATE_CACHE
        return environment

    def from_notebook_node(self, nb, resources=None, **kw):
        # The filters HTMLExporter.from_notebook_node registers before rendering (nbconvert
        # 7); then the template exporter renders, and the tags get what its soup pass gives.
        info = nb.metadata.get("language_info", {})
        lexer = info.get("pygments_lexer", info.get("name", None))
        resources = self._init_resources(resources)
        highlight = self.filters.get("highlight_code")
        if highlight is None:
            highlight = _SharedHighlight(Highlight2HTML(pygments_lexer=lexer, parent=self))
        self.register_filter("highlight_code", highlight)
        self.register_filter(
            "filter_data_type",
            WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources
            ),
        )
        html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        return add_accessibility(html), resources
