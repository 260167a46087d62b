"""nbconvert preprocessors that nbgrader runs for this course (named in nbgrader_config.py).

- :class:`RestoreDeletedCells` (autograde, sanitising): puts back answer and test cells that a
  student deleted, so every item is graded instead of waiting for manual grading.
- :class:`ResilientExecute` (autograde, execution): nbgrader's executor, except that a kernel
  that dies (``os._exit``, the memory limit, a crash) does not abort the submission: the cell
  and every cell after it get an error output naming the cell where the kernel died, so their
  tests score 0 and the earlier ones keep their points. A kernel that neither finishes a cell
  in time nor answers afterwards is stopped and reported the same way (TrustedGrade): how
  quickly a broken kernel happens to die must not change what its report says.
- :class:`TrustedGrade` (autograde, execution; the trust boundary): runs the notebook in a
  sandboxed kernel (:mod:`.sandbox`); at each test cell it asks the kernel for the exercise's
  results on the inputs of the lesson's check specification and judges them here, in the
  grader's process; the test cell's outputs become the per-property report and the points.
- :class:`HideTestTracebacks` (feedback): test-cell tracebacks cut to their last line.
"""

from __future__ import annotations

import copy
import json
from contextlib import nullcontext, suppress
from pathlib import Path

import nbformat
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbconvert.preprocessors import Preprocessor
from nbformat.notebooknode import NotebookNode
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import ClearSolutions, Execute
from traitlets import Bool, Integer, Unicode

from .. import probe
from ..spec import LessonSpec, PropertyResult, cases_of, exercise_report, judge_property, load_spec
from .sandbox import (
    Limits,
    NurseryBox,
    NurseryError,
    Sandbox,
    SandboxedKernelManager,
    kernel_box,
    one_grading_run,
    start_nursery,
)

__all__ = [
    "RestoreDeletedCells",
    "ResilientExecute",
    "TrustedGrade",
    "HideTestTracebacks",
    "KERNEL_DIED",
    "REPLY_LIMIT",
]

KERNEL_DIED = "KernelDied"
GRADER_METADATA = "softplus"  # the key of cell metadata that only the grader writes
REPLY_LIMIT = 32 * 1024 * 1024  # characters of one probe reply (JSON) the grader reads at most
# Characters of output the grader keeps from one cell: past it, a notebook that prints without
# end cannot fill the grader's memory (nbgrader's LimitOutput then shortens what was kept).
CELL_OUTPUT_LIMIT = 8 * 1024 * 1024


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
    """nbgrader's Execute, surviving a kernel that dies in the middle of the notebook, and
    keeping at most CELL_OUTPUT_LIMIT characters of any cell's output. A cell's printed lines
    are merged into one output per stream (nbclient's coalesce_streams): how the kernel happened
    to split them into messages must not change what a student's feedback says."""

    coalesce_streams = Bool(True).tag(config=True)
    _died_in: str | None = None  # where the kernel was lost: "cell <id>", or a check
    _output_size: int = 0

    def preprocess(self, nb, resources=None, km=None):
        self._died_in = None
        return super().preprocess(nb, resources, km)

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        data = content.get("data", {})
        self._output_size += len(content.get("text", "")) + sum(
            len(v) if isinstance(v, str) else 1024 for v in data.values()
        )
        if self._output_size > CELL_OUTPUT_LIMIT:
            return None  # dropped: the cell has printed more than any lesson needs
        return super().output(outs, msg, display_id, cell_index)

    def execute_cell(self, cell, cell_index, *args, **kwargs):
        self._output_size = 0
        return super().execute_cell(cell, cell_index, *args, **kwargs)

    def preprocess_cell(self, cell, resources, index):
        if self._died_in is not None:
            if cell.cell_type == "code":
                self._record_death(cell, f"not run: the kernel died in {self._died_in}")
            return cell, resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except CellTimeoutError as exc:
            # The reply came late, or its output never came: the cell failed, grading goes on.
            cell.setdefault("outputs", []).append(
                nbformat.v4.new_output(
                    "error",
                    ename="CellTimeoutError",
                    evalue=str(exc).splitlines()[0],
                    traceback=[f"CellTimeoutError: {str(exc).splitlines()[0]}"],
                )
            )
            return cell, resources
        except DeadKernelError:
            self._lose_kernel(
                cell,
                _cell_place(cell, index),
                "os._exit, a crash, or the memory limit; this cell and the ones after it were "
                "not run",
            )
            return cell, resources

    def _lose_kernel(self, cell, place: str, why: str) -> None:
        """The kernel is gone (or was stopped) while ``cell`` ran at ``place``: say so once, in
        the words the instructor's summary quotes ("the kernel died in <place>"), whatever the
        cause; ``why`` follows in parentheses."""
        self._died_in = place
        self._record_death(cell, f"the kernel died in {place} ({why})")
        self.log.warning("Kernel died in %s", place)

    @staticmethod
    def _record_death(cell, message: str) -> None:
        cell.setdefault("outputs", []).append(
            nbformat.v4.new_output(
                "error", ename=KERNEL_DIED, evalue=message, traceback=[f"{KERNEL_DIED}: {message}"]
            )
        )


def _cell_place(cell, index: int) -> str:
    return f"cell {_grade_id(cell) or cell.get('id') or f'#{index}'}"


def _is_test_cell(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


class TrustedGrade(ResilientExecute):
    """Grade a notebook without trusting it.

    The notebook's own cells run in a sandboxed kernel (unless ``sandbox`` is False, for
    submissions the instructor trusts), in order. A test cell is not run: in its place the
    grader sends the kernel the inputs of each property of that exercise (from
    ``specs/<lesson>.py``), receives plain data back, and judges it here. The test cell's
    outputs are replaced by the report (every property, passed or failed, with the input that
    failed) and the points earned, which nbgrader's SaveAutoGrades records as the cell's score.
    """

    sandbox = Bool(True, help="run student code in the bubblewrap sandbox").tag(config=True)
    slot = Integer(0, help="number of this grading process (a sandbox user id each)").tag(
        config=True
    )
    specs_directory = Unicode("specs", help="check specifications, one per lesson").tag(config=True)
    probe_timeout = Integer(30, help="seconds the kernel may take to answer one property").tag(
        config=True
    )
    memory_mb = Integer(2048, help="memory limit of the kernel, MiB").tag(config=True)
    nursery = Bool(
        True,
        help="grading as root: fork kernels from one sandbox that has imported the lessons' "
        "libraries once (sandbox.Nursery), instead of starting a sandbox per submission",
    ).tag(config=True)

    take_grading_lock = Bool(
        True,
        help="grading as root in the sandbox, hold the machine-wide grading lock while a "
        "notebook is graded (sandbox.one_grading_run); the pipeline's grade() holds it for its "
        "whole run and turns this off. On for nbgrader's own autograde (the Formgrader's button)",
    ).tag(config=True)

    _spec: LessonSpec | None = None
    _box: Sandbox | NurseryBox | None = None

    def preprocess(self, nb, resources=None, km=None):
        info = resources["nbgrader"]
        coursedir = CourseDirectory(config=self.config)
        path = Path(coursedir.root) / self.specs_directory / f"{info['assignment']}.py"
        if not path.is_file():
            raise FileNotFoundError(f"no check specification {path} for {info['assignment']}")
        self._spec = load_spec(path)
        # Cell metadata "softplus" is the grader's own record (properties, a lost kernel), read
        # by the pipeline after grading: whatever a submission brought under that key goes.
        for cell in nb.cells:
            cell.get("metadata", {}).pop(GRADER_METADATA, None)
        self._student = info["student"]
        self._lesson = info["assignment"]
        lock = (
            one_grading_run(report=self.log.warning)
            if self.sandbox and self.take_grading_lock
            else nullcontext()
        )
        with lock:
            self._box = (
                kernel_box(self._limits(), slot=self.slot, nursery=self.nursery)
                if self.sandbox
                else None
            )
            try:
                return super().preprocess(nb, resources, km)
            finally:
                if self._box is not None:
                    self._box.cleanup()
                    self._box = None

    def start_nursery(self) -> None:
        """Start this grading process's nursery now, if grading will use one (as root, with the
        sandbox): part of the process's start-up rather than of its first submission. A nursery
        that cannot start is not this process's end: each submission tries again and reports
        the error with its result."""
        if self.sandbox:
            with suppress(NurseryError, OSError, ValueError):
                start_nursery(self._limits(), self.slot, self.nursery)

    def _limits(self) -> Limits:
        return Limits(memory_mb=self.memory_mb)

    def create_kernel_manager(self):
        if self._box is None:
            return super().create_kernel_manager()
        # The kernelspec is the course's (nbgrader's OverwriteKernelspec ran before this).
        self.kernel_name = self.nb.metadata.get("kernelspec", {}).get("name") or "python3"
        self.km = SandboxedKernelManager(
            self._box, kernel_name=self.kernel_name, config=self.config
        )
        return self.km

    def start_new_kernel_client(self):
        client = super().start_new_kernel_client()
        if self._box is not None:
            self._box.lock()
        return client

    def preprocess_cell(self, cell, resources, index):
        if not _is_test_cell(cell):
            cell, resources = super().preprocess_cell(cell, resources, index)
            if self._died_in is None and _timed_out(cell) and not self._responds(index):
                self._stop_unresponsive(cell, _cell_place(cell, index))
            return cell, resources
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        exercise = self._spec.exercise(grade_id)
        cell.outputs, cell.execution_count = [], None
        if exercise is None:
            raise ValueError(f"the check specification has no exercise for test cell {grade_id}")
        death = nbformat.v4.new_code_cell()  # where a kernel lost during the checks is recorded
        results = [
            self._judge(exercise.function, prop, index, death) for prop in exercise.properties
        ]
        report = exercise_report(f"Exercise {exercise.function}", results)
        earned = sum(r.earned for r in results)
        cell.outputs = [
            nbformat.v4.new_output("stream", name="stdout", text=report + "\n"),
            nbformat.v4.new_output(
                "execute_result", data={"text/plain": repr(float(earned))}, execution_count=None
            ),
        ]
        meta = cell.metadata.setdefault(GRADER_METADATA, {})
        meta["properties"] = [
            {
                "name": r.name,
                "points": r.points,
                "earned": r.earned,
                "hidden": r.hidden,
                "section": r.section,
                "problem": r.problem or "",
            }
            for r in results
        ]
        # Not an output: an error output would make nbgrader score the whole cell 0, and the
        # properties checked before the kernel was lost keep their points.
        deaths = [o["evalue"] for o in death.outputs if o.get("ename") == KERNEL_DIED]
        if deaths:
            meta["kernel_died"] = deaths[0]
        return cell, resources

    def _judge(self, function: str, prop, index: int, death) -> PropertyResult:
        cases = cases_of(prop, self._student, self._lesson, function)
        if self._died_in is not None:
            failure = f"not checked: the kernel died in {self._died_in}"
            return judge_property(prop, function, cases, None, failure)
        request = {"cases": [case.request(prop.function or function) for case, _ in cases]}
        results, failure = self._ask(request, index, f"the check of {function}", death)
        return judge_property(prop, function, cases, results, failure)

    def _ask(self, request: dict, index: int, place: str, death) -> tuple[list | None, str | None]:
        """Send one request to the kernel; return its results, or why there are none. If the
        kernel is lost, ``death`` (a cell outside the notebook) gets the record."""
        source = f"__import__('softplus_course.probe').probe.run({json.dumps(request)!r})"
        cell = nbformat.v4.new_code_cell(source)
        try:
            self._run_aside(cell, index, self.probe_timeout)
        except DeadKernelError:
            self._lose_kernel(death, place, "os._exit, a crash, or the memory limit")
            return None, "the kernel died while this was checked"
        except CellTimeoutError:
            cell.outputs.append(
                nbformat.v4.new_output(
                    "error", ename="CellTimeoutError", evalue="no reply", traceback=[]
                )
            )
        replies = [
            o["data"][probe.MIME]
            for o in cell.outputs
            if o.get("output_type") == "display_data" and probe.MIME in o.get("data", {})
        ]
        if _timed_out(cell):
            if not self._responds(index):
                self._stop_unresponsive(death, place)
            return None, f"no answer within {self.probe_timeout} s (an endless loop?)"
        if len(replies) != 1:
            errors = [
                f"{o.get('ename')}: {o.get('evalue')}"
                for o in cell.outputs
                if o.get("output_type") == "error"
            ]
            why = f" ({errors[0]})" if errors else ""
            return None, f"the notebook gave no readable answer{why}"
        reply = replies[0]
        if not isinstance(reply, dict) or len(json.dumps(reply)) > REPLY_LIMIT:
            return None, "the notebook's answer was not plain data of a bounded size"
        results = reply.get("results")
        if not isinstance(results, list) or len(results) != len(request["cases"]):
            return None, "the notebook's answer did not have one result per input"
        return results, None

    def _responds(self, index: int) -> bool:
        """After a timeout: does the kernel answer a trivial request within a few seconds?"""
        cell = nbformat.v4.new_code_cell("pass")
        try:
            self._run_aside(cell, index, 5)
        except (DeadKernelError, CellTimeoutError):
            return False
        return not _timed_out(cell)

    def _run_aside(self, cell, index: int, timeout: int) -> None:
        """Execute a cell of the grader's own that is not part of the notebook."""
        original, saved = self.nb.cells[index], self.timeout
        self.timeout = timeout
        try:
            self.execute_cell(cell, index, store_history=False)
        finally:
            self.nb.cells[index] = original  # nbclient puts the executed cell in its place
            self.timeout = saved

    def _stop_unresponsive(self, cell, place: str) -> None:
        """A kernel that ignores interrupts would make every later cell wait out its limit. It
        is stopped, and reported as a kernel that died there: a broken kernel may die by itself
        or hang until stopped, depending on timing, and its report must not."""
        self._lose_kernel(
            cell,
            place,
            "it did not finish within the time limit and did not answer an interrupt, so the "
            "grader stopped it",
        )
        run_sync(self.km.shutdown_kernel)(now=True)


def _timed_out(cell) -> bool:
    return any(
        o.get("output_type") == "error" and o.get("ename") == "CellTimeoutError"
        for o in cell.get("outputs", [])
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
