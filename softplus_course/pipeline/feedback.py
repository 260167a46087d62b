"""The exporter that writes feedback HTML: nbconvert's HTMLExporter with nbgrader's feedback
template, whose compiled templates are kept for the life of the grading process.

nbgrader makes a new exporter, and so a new Jinja environment, for every submission; compiling
the nine templates of the feedback page each time took about a third of a second. Jinja's own
bytecode cache keeps them here, in memory, keyed by template name and checksum of its source, so
a changed template is compiled anew.
"""

from __future__ import annotations

from jinja2 import BytecodeCache
from nbconvert.exporters import HTMLExporter


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


class FeedbackHTMLExporter(HTMLExporter):
    """HTMLExporter (configured by nbgrader's GenerateFeedback as usual) sharing compiled
    templates between submissions."""

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = TEMPLATE_CACHE
        return environment
