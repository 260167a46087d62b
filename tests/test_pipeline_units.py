"""Unit tests of the pipeline's own pieces: tamper scan, cell restoration, limits, feedback."""

from __future__ import annotations

import contextlib
import copy
import multiprocessing
import os
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from softplus_course.limits import limit_memory
from softplus_course.pipeline.preprocessors import HideTestTracebacks, restore_deleted_cells
from softplus_course.pipeline.tamper import find_tampering, names_bound_by

PROTECTED = {"np", "math", "check_call", "check_raises", "rng"}


# --- tamper scan ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "finding"),
    [
        ("np.allclose = lambda *a, **k: True", "assigns np.allclose"),
        ("np.testing.assert_allclose = print", "assigns np.testing.assert_allclose"),
        ("import math\nmath.isclose = lambda *a: True", "assigns math.isclose"),
        ("import builtins\nbuiltins.abs = lambda v: 0", "assigns builtins.abs"),
        ("__builtins__.abs = None", "assigns __builtins__.abs"),
        ("import numpy as n2\nn2.sum = len", "assigns n2.sum"),
        ("del np.isnan", "deletes np.isnan"),
        ("setattr(np, 'isclose', None)", "calls setattr(np, ...)"),
        ("globals()['check_call'] = None", "assigns globals()['check_call']"),
        ("__import__('numpy').abs = 2", "assigns __import__('numpy').abs"),
        ("check_call = lambda *a, **k: None", "rebinds check_call"),
        ("def check_raises(*a, **k):\n    pass", "redefines check_raises"),
        ("import sys\nsys.modules['math'] = None", "uses sys.modules"),
        ("np.pi += 1", "assigns np.pi"),
    ],
)
def test_tampering_is_found(code, finding):
    assert f"cell relu {finding}" in find_tampering("relu", code, PROTECTED)


@pytest.mark.parametrize(
    "code",
    [
        "def relu(x):\n    return np.maximum(x, 0.0)",
        "import numpy as np\nimport math\n\ndef f(x):\n    return math.exp(x)",
        "def f(x):\n    y = np.array(x)\n    y.shape = (-1,)\n    return y",
        "class A:\n    def __init__(self):\n        setattr(self, 'x', 1)\n        self.y = 2",
        "values = {}\nvalues['a'] = 1",
        "def f(x)\n    return x",  # a syntax error is not tampering: it cannot run at all
    ],
)
def test_ordinary_code_is_not_tampering(code):
    assert find_tampering("relu", code, PROTECTED) == []


def test_names_bound_by_a_setup_cell():
    setup = (
        "import math\nimport numpy as np\nimport softplus_course.plotting\n"
        "from softplus_course.checks import check_call as cc, check_raises\n"
        "rng = np.random.default_rng(1)\nuse_style()\n"
    )
    assert names_bound_by(setup) == {"math", "np", "softplus_course", "cc", "check_raises", "rng"}
    assert names_bound_by("this is not python") == set()


# --- restoring deleted cells -------------------------------------------------------------------


def _cell(kind, grade_id, source, **flags):
    cell = new_code_cell(source) if kind == "code" else new_markdown_cell(source)
    cell.metadata["nbgrader"] = {"grade_id": grade_id, "schema_version": 3, **flags}
    return cell


def _source():
    return new_notebook(
        cells=[
            _cell("code", "setup", "import numpy as np", locked=True),
            new_markdown_cell("text"),
            _cell("code", "relu", "### BEGIN SOLUTION\nanswer\n### END SOLUTION", solution=True),
            _cell("code", "test_relu", "assert relu(1) == 1", grade=True, points=2),
            _cell("code", "softplus", "solution", solution=True),
            _cell("code", "test_softplus", "assert True", grade=True, points=3),
        ]
    )


def _ids(nb):
    return [c.metadata.get("nbgrader", {}).get("grade_id", "-") for c in nb.cells]


def test_restore_puts_deleted_cells_back_in_place_with_a_blank_answer():
    source = _source()
    submission = nbformat.from_dict(source)
    submission.cells = [c for c in submission.cells if _ids_of(c) not in ("relu", "test_softplus")]
    restored = restore_deleted_cells(submission, source, "raise NotImplementedError()")
    assert restored == ["relu", "test_softplus"]
    assert _ids(submission) == _ids(source)  # relu lands after the exercise's text
    relu = submission.cells[2]
    assert relu.source == "raise NotImplementedError()" and "SOLUTION" not in relu.source
    assert submission.cells[5].source == "assert True"


def test_restore_into_a_notebook_without_nbgrader_cells_appends_in_order():
    source = _source()
    submission = new_notebook(cells=[new_markdown_cell("student notes")])
    assert restore_deleted_cells(submission, source, "stub") == [
        "setup",
        "relu",
        "test_relu",
        "softplus",
        "test_softplus",
    ]
    assert _ids(submission) == ["-", "setup", "relu", "test_relu", "softplus", "test_softplus"]
    assert submission.cells[0].source == "student notes"


def test_restore_changes_nothing_in_a_complete_notebook():
    source = _source()
    submission = nbformat.from_dict(source)
    assert restore_deleted_cells(submission, source, "stub") == []
    assert submission == source


def _ids_of(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


# --- feedback tracebacks ---------------------------------------------------------------------


def test_hide_test_tracebacks_keeps_only_the_message_of_test_cells():
    error = new_output(
        "error",
        ename="AssertionError",
        evalue="relu(-inf) should be 0.0",
        traceback=["line 12  _hidden = 1", "AssertionError: relu(-inf)"],
    )
    test_cell = _cell("code", "test_relu", "check()", grade=True, points=2)
    test_cell.outputs = [error]
    answer = _cell("code", "relu", "x", solution=True)
    answer.outputs = [nbformat.from_dict(dict(error))]
    nb = new_notebook(cells=[answer, test_cell])
    HideTestTracebacks().preprocess(nb, {})
    assert nb.cells[1].outputs[0].traceback == ["AssertionError: relu(-inf) should be 0.0"]
    assert len(nb.cells[0].outputs[0].traceback) == 2, "answer cells keep their traceback"


# --- memory limit ------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_DATA is enforced on Linux only")
def test_limit_memory_turns_a_runaway_allocation_into_memory_error():
    code = (
        "from softplus_course.limits import limit_memory\n"
        "assert limit_memory(300)\n"
        "try:\n    hog = [bytearray(10_000_000) for _ in range(100)]\n"
        "except MemoryError:\n    print('MemoryError')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "MemoryError", result.stderr


@pytest.mark.parametrize("bad", [0, -5, 1.5, True, "100"])
def test_limit_memory_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match="megabytes"):
        limit_memory(bad)


def test_coalesce_streams_merges_consecutive_prints_only():
    from softplus_course.pipeline.notebooks import coalesce_streams

    outs = [
        new_output("stream", name="stdout", text="a"),
        new_output("stream", name="stdout", text="b\n"),
        new_output("stream", name="stderr", text="warn\n"),
        new_output("stream", name="stdout", text="c\n"),
        new_output("display_data", data={"text/plain": "x"}),
        new_output("stream", name="stdout", text="d\n"),
    ]
    merged = coalesce_streams(outs)
    assert [(o.output_type, o.get("name"), o.get("text")) for o in merged] == [
        ("stream", "stdout", "ab\n"),
        ("stream", "stderr", "warn\n"),
        ("stream", "stdout", "c\n"),
        ("display_data", None, None),
        ("stream", "stdout", "d\n"),
    ]


# --- output of executed cells -----------------------------------------------------------------


def test_printed_lines_are_one_output_however_the_kernel_splits_them():
    """The kernel sends a cell's prints in as many messages as timing makes it; the graded
    notebook (and so the feedback) must not depend on that."""
    from softplus_course.pipeline.preprocessors import ResilientExecute

    nb = new_notebook(
        cells=[
            new_code_cell(
                "import sys, time\n"
                "print('first', flush=True)\n"
                "time.sleep(0.3)\n"
                "print('second', flush=True)\n"
                "print('to stderr', file=sys.stderr, flush=True)\n"
                "time.sleep(0.3)\n"
                "print('third')"
            )
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    executed, _ = ResilientExecute(timeout=60).preprocess(nb, {"metadata": {"path": "."}})
    outputs = executed.cells[0].outputs
    assert [(o.output_type, o.name) for o in outputs] == [
        ("stream", "stdout"),
        ("stream", "stderr"),
    ], outputs
    assert outputs[0].text == "first\nsecond\nthird\n"
    assert outputs[1].text == "to stderr\n"


def test_feedback_templates_are_compiled_once_per_grading_process(monkeypatch):
    """nbgrader makes a new exporter for every submission; the second one reuses the compiled
    templates of the first and writes the same page."""
    import jinja2

    from softplus_course.pipeline.feedback import TEMPLATE_CACHE, FeedbackHTMLExporter

    TEMPLATE_CACHE.clear()
    compiled = []
    original = jinja2.Environment.compile

    def counting(self, source, name=None, filename=None, *args, **kwargs):
        compiled.append(name)
        return original(self, source, name, filename, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    nb = new_notebook(cells=[new_markdown_cell("# Title"), new_code_cell("1 + 1")])
    first, _ = FeedbackHTMLExporter(template_name="classic").from_notebook_node(nb)
    count = len(compiled)
    second, _ = FeedbackHTMLExporter(template_name="classic").from_notebook_node(nb)
    assert count > 3, compiled
    assert len(compiled) == count, f"compiled again: {compiled[count:]}"
    assert first == second


def _page_notebook():
    png = (  # a 1x1 PNG
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9Q"
        "DwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    return new_notebook(
        cells=[
            new_markdown_cell("# Title\n\n![a plot](plot.png) and ![](other.png), 1 > 0"),
            new_code_cell(
                "print('<div class=\"jp-OutputArea-output\">')",
                outputs=[
                    new_output(
                        "stream", name="stdout", text='<div class="jp-OutputArea-output">\n'
                    ),
                    new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}),
                    new_output("execute_result", data={"text/plain": "'a > b'"}, execution_count=1),
                ],
            ),
        ]
    )


def test_feedback_pages_get_nbconverts_accessibility_attributes_without_reparsing():
    """The feedback exporter adds alt text and tabindex to the tags themselves; the page it
    writes is the document nbconvert's HTMLExporter writes after its BeautifulSoup pass."""
    from bs4 import BeautifulSoup
    from nbconvert.exporters import HTMLExporter

    from softplus_course.pipeline.feedback import MISSING_ALT, FeedbackHTMLExporter

    nb = _page_notebook()
    ours, _ = FeedbackHTMLExporter(template_name="lab").from_notebook_node(nb)
    stock, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    assert BeautifulSoup(ours, "html.parser") == BeautifulSoup(stock, "html.parser")
    soup = BeautifulSoup(ours, "html.parser")
    # two inputs and three outputs are focusable; the printed tag stays text
    assert len(soup.select('div[tabindex="0"]')) == 5
    assert '&lt;div class="jp-OutputArea-output"&gt;' in ours
    assert [img.get("alt") for img in soup.select("img")] == ["a plot", "", MISSING_ALT]


def test_feedback_highlights_each_code_source_once_per_grading_process(monkeypatch):
    """Code cells that every submission shares are highlighted once; a changed cell anew."""
    import nbconvert.filters.highlight as highlight

    from softplus_course.pipeline.feedback import FeedbackHTMLExporter, _SharedHighlight

    monkeypatch.setattr(_SharedHighlight, "_store", {})
    sources = []
    original = highlight._pygments_highlight

    def counting(source, *args, **kwargs):
        sources.append(source)
        return original(source, *args, **kwargs)

    monkeypatch.setattr(highlight, "_pygments_highlight", counting)
    nb = _page_notebook()
    first, _ = FeedbackHTMLExporter(template_name="lab").from_notebook_node(copy.deepcopy(nb))
    assert len(sources) == 1
    second, _ = FeedbackHTMLExporter(template_name="lab").from_notebook_node(copy.deepcopy(nb))
    assert len(sources) == 1 and first == second
    changed = copy.deepcopy(nb)
    changed.cells[1].source = "print('an answer of its own')"
    third, _ = FeedbackHTMLExporter(template_name="lab").from_notebook_node(changed)
    assert sources[1:] == ["print('an answer of its own')"]
    assert "an answer of its own" in third.replace('<span class="s1">', "").replace("</span>", "")


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ('<img src="a>b">', '<img src="a>b" alt="{alt}">'),
        ("<img src='x' alt='kept'>", "<img src='x' alt='kept'>"),
        ("<img src=x />", '<img src=x alt="{alt}"/>'),
        ('<div class="jp-Cell-inputWrapper">', '<div class="jp-Cell-inputWrapper" tabindex="0">'),
        (
            '<div class="a jp-OutputArea-output" tabindex="-1">',
            '<div class="a jp-OutputArea-output" tabindex="0">',
        ),
        ('<div class="jp-OutputArea-outputs">', '<div class="jp-OutputArea-outputs">'),
        ('<divider class="jp-Cell-inputWrapper">', '<divider class="jp-Cell-inputWrapper">'),
        ("&lt;img src=x&gt;", "&lt;img src=x&gt;"),
    ],
)
def test_accessibility_attributes_go_on_the_tags_nbconvert_gives_them(tag, expected):
    from softplus_course.pipeline.feedback import MISSING_ALT, add_accessibility

    assert add_accessibility(tag) == expected.format(alt=MISSING_ALT)


def test_a_nursery_that_cannot_start_does_not_stop_the_grading_process(monkeypatch):
    """start_nursery runs in each worker's initializer: an error there would break the whole
    pool. It is left to the submissions, which try again and report it; one that is not a
    start-up failure still propagates."""
    from traitlets.config import Config

    from softplus_course.pipeline import sandbox
    from softplus_course.pipeline.preprocessors import TrustedGrade

    calls = []

    def failing(limits, slot):
        calls.append(slot)
        raise OSError("bwrap: cannot create namespace")

    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 0)
    monkeypatch.setattr(sandbox.Nursery, "for_slot", staticmethod(failing))
    config = Config()
    config.TrustedGrade.slot = 3
    TrustedGrade(config=config).start_nursery()
    assert calls == [3]
    config.TrustedGrade.nursery = False
    TrustedGrade(config=config).start_nursery()
    assert calls == [3], "no nursery is started when grading does not use one"

    def broken(limits, slot):
        raise KeyError("a bug, not a start-up failure")

    monkeypatch.setattr(sandbox.Nursery, "for_slot", staticmethod(broken))
    config.TrustedGrade.nursery = True
    with pytest.raises(KeyError):
        TrustedGrade(config=config).start_nursery()


# --- bench ------------------------------------------------------------------------------------


def test_the_class_projection_counts_start_up_once():
    from softplus_course.pipeline.bench import CLASS_STUDENTS, project_class
    from softplus_course.pipeline.grading import SubmissionResult

    results = [SubmissionResult("s", "l", seconds=10.0) for _ in range(4)]
    minutes, once, each = project_class(results, seconds=30.0, jobs=2, lessons=6)
    assert each == 5.0  # 40 s of work shared by two workers over four submissions
    assert once == 10.0  # the 10 s of the 30 s wall time that no submission accounts for
    assert minutes == (10.0 + 5.0 * CLASS_STUDENTS * 6) / 60


def _hold_the_grading_lock(lock, held, release, done):
    from softplus_course.pipeline import sandbox

    sandbox.GRADING_LOCK = lock
    with sandbox.one_grading_run():
        held.set()
        release.wait(60)
        done.set()  # still inside: set before the lock is let go


@contextlib.contextmanager
def _another_run_holding_the_lock(tmp_path, monkeypatch):
    """A grading run in another process that holds the grading lock (a file of this test's)
    until ``release`` is set; ``done`` is set just before it lets go."""
    from softplus_course.pipeline import sandbox

    lock = tmp_path / "grading.lock"
    monkeypatch.setattr(sandbox, "GRADING_LOCK", lock)
    ctx = multiprocessing.get_context("spawn")
    held, release, done = ctx.Event(), ctx.Event(), ctx.Event()
    first = ctx.Process(target=_hold_the_grading_lock, args=(lock, held, release, done))
    first.start()
    try:
        assert held.wait(60), "the first run never took the lock"
        yield lock, release, done
    finally:
        release.set()
        first.join(60)


@pytest.mark.skipif(
    sys.platform != "linux" or os.geteuid() != 0, reason="the lock is taken only as root"
)
def test_two_grading_runs_as_root_take_turns(tmp_path, monkeypatch):
    """Sandboxed runs as root share user ids (and RLIMIT_NPROC counts per user id): a second
    run waits, says so, and starts only once the first has finished."""
    from softplus_course.pipeline import sandbox

    with _another_run_holding_the_lock(tmp_path, monkeypatch) as (lock, release, done):
        said = []

        def report(text):
            said.append(text)
            release.set()  # the first run may finish now that the second is waiting

        with sandbox.one_grading_run(report=report):
            assert done.is_set(), "the second run started while the first still held the lock"
        assert len(said) == 1 and "waiting" in said[0] and str(lock) in said[0]
        with sandbox.one_grading_run(report=report):  # free again: no waiting
            pass
        assert len(said) == 1


@pytest.mark.skipif(
    sys.platform != "linux" or os.geteuid() != 0, reason="the lock is taken only as root"
)
def test_nbgraders_own_autograde_waits_for_a_grading_run(tmp_path, monkeypatch):
    """The Formgrader's Autograde button grades through TrustedGrade alone: it takes the
    machine-wide lock itself, before it makes a sandbox, so it never runs beside `make grade`.
    The pipeline holds the lock for its whole run and turns this off."""
    from pathlib import Path

    from softplus_course.pipeline import preprocessors
    from softplus_course.pipeline.nbgrader_ops import make_api, make_grading_api

    root = Path(__file__).resolve().parents[1]
    assert TrustedGradeFor(make_api(root)).take_grading_lock is True
    graded = make_grading_api(root, db_url="sqlite://", sandbox=True, slot=0)
    assert TrustedGradeFor(graded).take_grading_lock is False

    with _another_run_holding_the_lock(tmp_path, monkeypatch) as (_, release, done):

        class Made(Exception):
            pass

        def kernel_box(*args, **kwargs):
            assert done.is_set(), "a sandbox was made while another run held the lock"
            raise Made

        monkeypatch.setattr(preprocessors, "kernel_box", kernel_box)
        grader = TrustedGradeFor(make_api(root))
        monkeypatch.setattr(grader.log, "warning", lambda *a: release.set())
        nb = new_notebook(cells=[new_code_cell("1")])
        resources = {"nbgrader": {"assignment": "01_definition", "student": "ada"}}
        with pytest.raises(Made):
            grader.preprocess(nb, resources)


def TrustedGradeFor(api):  # noqa: N802 - reads as the class it makes
    from softplus_course.pipeline.preprocessors import TrustedGrade

    return TrustedGrade(config=api.config)


@pytest.mark.skipif(
    sys.platform != "linux" or os.geteuid() != 0, reason="the lock is taken only as root"
)
def test_a_grading_run_inside_another_in_one_process_does_not_wait_for_itself(
    tmp_path, monkeypatch
):
    import threading

    from softplus_course.pipeline import sandbox

    monkeypatch.setattr(sandbox, "GRADING_LOCK", tmp_path / "grading.lock")
    said, finished = [], threading.Event()

    def nested():
        with sandbox.one_grading_run(report=said.append):
            with sandbox.one_grading_run(report=said.append):
                finished.set()

    threading.Thread(target=nested, daemon=True).start()
    assert finished.wait(20), "the inner run waited for the lock its own process holds"
    assert said == []
