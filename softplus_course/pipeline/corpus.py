"""A corpus of broken and hostile submissions of lesson 01, each with its expected outcome.

The test suite grades it (tests/test_corpus.py) and ``make bench`` times it: it is the
evidence that one bad notebook never stops or skews the grading of a class.

Two parts:

- ``ANSWERS`` and the cases of :func:`build`: broken submissions. Each starts from the
  complete, correct submission (``fill_answers`` of the released notebook) and breaks one thing,
  so any point it loses is lost to that one thing.
- ``ATTACKS``: hostile submissions, written as a student who knows Python well would, in the
  classes of docs/grading.md (points without answers, secrets out, writes, resources,
  injection, lying values). Each adds code to blank or complete answers; the outcome must be
  the outcome of the same answers without the attack. The attacks know where the course is
  (``{root}`` in their code), as a student who guessed it would.

Build the notebooks with :func:`build`; ``EXPECTED`` says what grading must make of each.

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
FORGED = "forged property"  # the name of a property result a notebook makes up

# The code each case puts in place of a correct answer (by answer cell), or None when the case
# changes something else.
ANSWERS: dict[str, dict[str, str]] = {
    "infinite_loop": {"relu": "while True:\n    pass\n"},
    "kernel_dies": {"softplus_beta": "import os\n\nos._exit(1)\n"},
    # Stopped by the grader, as it cannot be interrupted: reported as a kernel that died there.
    "ignores_interrupt": {
        "softplus_beta": (
            "import signal\n\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n"
        )
    },
    # The cells run; the kernel dies when the grader calls the function.
    "dies_when_called": {
        "softplus_beta": "import os\n\n\ndef softplus_beta(x, beta=1.0):\n    os._exit(1)\n"
    },
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
    "ignores_interrupt": Expected(
        "graded",
        _with(test_softplus_beta=0, test_softplus_gap_bound=0),
        "the kernel died in cell softplus_beta",
        ["softplus_beta: CellTimeoutError"],
    ),
    "dies_when_called": Expected(
        "graded",
        _with(test_softplus_beta=0, test_softplus_gap_bound=0),
        "the kernel died in the check of softplus_beta",
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
    # The scan still flags the patches for the instructor, but no longer decides the score: the
    # wrong softplus loses its points, the untouched answers keep theirs.
    "monkeypatch": Expected(
        "review", _with(test_softplus=0), "tampering", ["np.allclose", "builtins.abs"]
    ),
    "always_equal": Expected("graded", _with(test_softplus_gap_bound=0)),
    "asks_for_input": Expected("graded", _with(test_relu=0), "relu: StdinNotImplementedError"),
    "broken_json": Expected("not graded", ZERO, "is not a readable notebook"),
    "broken_schema": Expected("not graded", ZERO, "is not a valid notebook"),
    "unknown_kernel": Expected("graded", FULL),
    "control": Expected("graded", FULL),
    # Cell metadata under the grader's key, made up: a lost kernel and perfect properties.
    "forged_grader_metadata": Expected("graded", _with(test_relu=0)),
    "wrong_lesson": Expected("not graded", ZERO, "none of the exercises of 01_definition"),
}


# A marker in the command line of every process an attack starts, so that a test can look for
# survivors; and the text that attacks write where they should not be able to.
MARKER = "HOSTILE-MARKER"
HACKED = "HACKED-BY-A-SUBMISSION"


@dataclass
class Attack:
    kind: str  # the class of attack (docs/grading.md)
    base: str  # "blank" (no answers) or "complete" (every answer right)
    code: str  # a free cell added after the setup cell; {root} is the course root
    expected: dict[str, int]  # what the same answers get without the attack
    answers: dict[str, str] = field(default_factory=dict)  # answer cells replaced, if any
    markdown: str | None = None  # a Markdown cell added too


_NEUTER_TRANSFORMER = """
ip = get_ipython()
def _neuter(lines):
    text = "".join(lines)
    return ["pass\n"] if ("probe" in text or "check_exercise" in text) else lines
ip.input_transformers_post.append(_neuter)
"""
_AST_TRANSFORMER = """
import ast
class _Nothing(ast.NodeTransformer):
    def visit_Module(self, node):
        if "probe" in ast.unparse(node) or "check_exercise" in ast.unparse(node):
            return ast.Module(body=[ast.Pass()], type_ignores=[])
        return node
get_ipython().ast_transformers.append(_Nothing())
"""
_RUN_CELL = """
ip = get_ipython()
_run_cell, _run_cell_async = ip.run_cell, ip.run_cell_async
def run_cell(raw_cell, *args, **kwargs):
    return _run_cell("pass" if "probe" in raw_cell else raw_cell, *args, **kwargs)
async def run_cell_async(raw_cell, *args, **kwargs):
    return await _run_cell_async("pass" if "probe" in raw_cell else raw_cell, *args, **kwargs)
ip.run_cell, ip.run_cell_async = run_cell, run_cell_async
"""
_SHADOW_BUILTINS = """
import builtins
class Yes(float):
    def __eq__(self, other):
        return True
    __le__ = __ge__ = __lt__ = __gt__ = __eq__
    def __hash__(self):
        return 0
builtins.abs = lambda value: Yes(0.0)
builtins.isinstance = lambda *args: True
type = lambda *args: float
def relu(x):
    return Yes(0.0)
def softplus(x):
    return Yes(0.0)
def softplus_beta(x, beta=1.0):
    return Yes(0.0)
def softplus_gap_bound(beta):
    return Yes(0.0)
"""
_EXEC_STRING = """
exec("np." + "all" + "close = lambda *a, **k: True")
exec("import softplus_course.checks as c; c.check_exer" + "cise = lambda *a, **k: None")
exec("import softplus_course.spec as s; s.judge_close = s.judge_equal = lambda *a, **k: None")
"""
_PATCH_PROBE_CONSTANT = """
import gc, importlib
probe = importlib.import_module("softplus_course.probe")
spec = importlib.import_module("softplus_course.spec")
spec.judge_close = spec.judge_raises = spec.judge_equal = lambda *a, **k: None
for obj in gc.get_objects():
    if getattr(obj, "__name__", None) == "call_case":
        pass
probe.call_case = lambda case, namespace: {"returned": {"t": "float", "v": "0.0"}, "warnings": []}
"""
_PATCH_PROBE_MALFORMED = """
from IPython.display import publish_display_data
import softplus_course.probe as probe
forged = {probe.MIME: {"results": "all passed", "score": 10}}
probe.run = lambda request: publish_display_data(forged)
"""
_VISIBLE_ANSWERS_ONLY = """
import softplus_course.probe as probe
from softplus_course.checks import visible_checks
known = {}
for exercise in visible_checks("01_definition")["exercises"].values():
    for prop in exercise["properties"]:
        for case in prop["cases"]:
            if case["expected"] is not None:
                known[repr(case["request"])] = case["expected"]
def call_case(case, namespace):
    return {"returned": known.get(repr(case), {"t": "float", "v": "0.0"}), "warnings": []}
probe.call_case = call_case
"""
_READ_SOLUTIONS = """
import glob, json
found = glob.glob("{root}/solutions/*/*.ipynb") + glob.glob("/**/solutions/*/*.ipynb")
for path in found:
    for cell in json.load(open(path))["cells"]:
        if "BEGIN SOLUTION" in "".join(cell["source"]):
            exec("".join(cell["source"]))
print("solutions found:", len(found))
"""
_WRITE_GRADEBOOK = """
import sqlite3
try:
    db = sqlite3.connect("{root}/gradebook.db")
    db.execute("UPDATE grade SET manual_score = 10")
    db.commit()
    print("wrote the gradebook")
except Exception as exc:
    print("gradebook:", type(exc).__name__)
"""
_READ_SECRETS = """
import glob, os
paths = [
    "{root}/solutions/01_definition/01_definition.ipynb",
    "{root}/specs/01_definition.py",
    "{root}/nbgrader_config.py",
    "{root}/gradebook.db",
    *glob.glob("{root}/submitted/*/01_definition/01_definition.ipynb"),
    "/proc/1/environ",
    "/etc/shadow",
]
for path in paths:
    try:
        print(path, open(path, errors="replace").read()[:100000])
    except OSError as exc:
        print(path, type(exc).__name__)
print(dict(os.environ))
print(sorted(os.listdir("/")), os.listdir("."))
"""
_HISTORY_AND_FRAMES = """
import inspect, sys
print(In)
print(Out)
print([frame.filename for frame in inspect.stack()])
print(sorted(sys.modules)[:50])
print(get_ipython().user_ns.keys())
"""
_FILES_FOR_FEEDBACK = """
open("exfiltrated.txt", "w").write("read me in your feedback")
open("/tmp/exfiltrated.txt", "w").write("read me in your feedback")
"""
_OVERWRITE_OTHERS = """
import glob, sqlite3
for path in glob.glob("{root}/submitted/*/01_definition/01_definition.ipynb"):
    try:
        open(path, "w").write("{hacked}")
    except OSError as exc:
        print(path, type(exc).__name__)
try:
    db = sqlite3.connect("{root}/gradebook.db")
    db.execute("UPDATE grade SET manual_score = 0")
    db.commit()
except Exception as exc:
    print("gradebook:", type(exc).__name__)
"""
_EDIT_COURSE = """
for path, text in [
    ("{root}/nbgrader_config.py",
     "\nimport os; os.system('echo {hacked} > {root}/reports/scores.csv')\n"),
    ("{root}/solutions/01_definition/01_definition.ipynb", "{hacked}"),
    ("{root}/specs/01_definition.py", "\nSPEC = None  # {hacked}\n"),
]:
    try:
        open(path, "a").write(text)
    except OSError as exc:
        print(path, type(exc).__name__)
"""
_DETACHED = """
import os, subprocess, sys
code = (
    "import signal, time\n"
    "for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):\n"
    "    signal.signal(s, signal.SIG_IGN)\n"
    "time.sleep(8)\n"
    "open('{root}/reports/scores.csv', 'w').write('{hacked}')  # {marker}\n"
)
subprocess.Popen(
    [sys.executable, "-c", code],
    start_new_session=True,
    stdin=subprocess.DEVNULL,
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
)
if os.fork() == 0:  # a double fork, the way daemons leave their parent
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", code])
    os._exit(0)
"""
_OTHER_KERNELS = """
import glob, os, socket
found = []
for cmdline in glob.glob("/proc/*/cmdline"):
    try:
        text = open(cmdline, "rb").read().replace(b"\0", b" ").decode()
    except OSError:
        continue
    if "kernel" in text:
        found.append(text)
print("processes that look like kernels:", len(found))
import sys
print("sandboxes:", glob.glob("/tmp/softplus-sandbox-*"), [a for a in sys.argv if ".json" in a])
for port in (22, 80, 5432, 8888):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        print("connected to", port)
    except OSError as exc:
        print(port, type(exc).__name__)
"""
_NETWORK = """
import socket, urllib.request
for host, port in [("1.1.1.1", 53), ("pypi.org", 443), ("10.0.0.1", 80)]:
    try:
        socket.create_connection((host, port), timeout=1).close()
        print("reached", host)
    except OSError as exc:
        print(host, type(exc).__name__)
try:
    urllib.request.urlopen("http://example.com", timeout=1)
except Exception as exc:
    print("urllib", type(exc).__name__)
"""
_FORK_BOMB = """
import os, time
children = []
try:
    for _ in range(5000):
        pid = os.fork()
        if pid == 0:
            time.sleep(600)
            os._exit(0)
        children.append(pid)
except OSError as exc:
    print(f"stopped after {len(children)} processes: {type(exc).__name__}")
for pid in children:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
"""
_BIG_FILES = """
import glob
block = b"x" * (1 << 20)
import os, sys
# The kernel's connection file names the folder of its sockets, the one place of the host's
# that the kernel could write to while it started.
sockets = [os.path.dirname(a) + "/big.bin" for a in sys.argv if a.endswith(".json")]
for path in ["big.bin", "/tmp/big.bin", *sockets]:
    written = 0
    try:
        with open(path, "wb") as fh:
            for _ in range(400):
                fh.write(block)
                written += 1
    except OSError as exc:
        print(path, "stopped at", written, "MiB:", type(exc).__name__)
"""
_OUTPUT_FLOOD = """
import sys
line = "x" * (1 << 20) + "\\n"
for _ in range(50):
    sys.stdout.write(line)
"""
_HTML = """
from IPython.display import HTML, Javascript, display
display(HTML(
    "<script>document.title = 'HOSTILE-SCRIPT'</script>"
    "<img src=x onerror=\"document.body.innerHTML='HOSTILE-ONERROR'\">"
    "<div style='position:fixed;top:0;left:0;width:100%;background:white'>"
    "Score: 10.0 / 10.0 HOSTILE-BANNER</div>"
))
display(Javascript("document.body.innerHTML = 'HOSTILE-JS'"))
"""
_HTML_MARKDOWN = (
    "Look: <script>document.title = 'HOSTILE-MD-SCRIPT'</script>"
    "<img src=x onerror=\"alert('HOSTILE-MD-ONERROR')\">"
)
_EVIL_EXCEPTION = (
    "def relu(x):\n    return np.maximum(x, 0.0)\n\n\n"
    "raise type('Evil\\x1b[2J\\nstudent,01_definition,graded,10', (Exception,), {})"
    "('forged\\r\\nzz_victim / 01_definition: 0/10')\n"
)
_MARKER_COMMENTS = (
    "# ### BEGIN HIDDEN TESTS\n# ### END HIDDEN TESTS\n### BEGIN SOLUTION\n"
    "def relu(x):\n    return np.maximum(x, 0.0)  # ### END SOLUTION\n"
)
_LIAR = (
    "class Liar:\n"
    "    def __eq__(self, other):\n        return True\n\n"
    "    def __array__(self, *args, **kwargs):\n        return np.array(0.0)\n\n"
    "    def __float__(self):\n        return 0.0\n\n\n"
    "def relu(x):\n    return Liar()\n"
)
_LYING_ARRAY = (
    "class Lying(np.ndarray):\n"
    "    def __eq__(self, other):\n        return np.ones(np.shape(self), dtype=bool)\n\n"
    "    def __array_ufunc__(self, *args, **kwargs):\n        return np.zeros(1)\n\n\n"
    "def softplus(x):\n    return np.zeros(np.shape(x)).view(Lying)\n"
)

ATTACKS: dict[str, Attack] = {
    # Points without answers: every one of these starts from blank answers, which get 0.
    "a_input_transformer": Attack("points without answers", "blank", _NEUTER_TRANSFORMER, ZERO),
    "a_ast_transformer": Attack("points without answers", "blank", _AST_TRANSFORMER, ZERO),
    "a_replace_run_cell": Attack("points without answers", "blank", _RUN_CELL, ZERO),
    "a_shadow_builtins": Attack("points without answers", "blank", _SHADOW_BUILTINS, ZERO),
    "a_exec_string": Attack("points without answers", "blank", _EXEC_STRING, ZERO),
    "a_patch_probe": Attack("points without answers", "blank", _PATCH_PROBE_CONSTANT, ZERO),
    "a_forged_reply": Attack("points without answers", "blank", _PATCH_PROBE_MALFORMED, ZERO),
    "a_visible_answers": Attack("points without answers", "blank", _VISIBLE_ANSWERS_ONLY, ZERO),
    "a_read_solutions": Attack("points without answers", "blank", _READ_SOLUTIONS, ZERO),
    "a_write_gradebook": Attack("points without answers", "blank", _WRITE_GRADEBOOK, ZERO),
    # A softplus_course/ folder beside the notebook (see build): blank answers.
    "a_fake_package": Attack("points without answers", "blank", "", ZERO),
    # Secrets out: complete answers; nothing of the course may reach the feedback.
    "b_read_secrets": Attack("secrets out", "complete", _READ_SECRETS, FULL),
    "b_history_frames": Attack("secrets out", "complete", _HISTORY_AND_FRAMES, FULL),
    "b_files_for_feedback": Attack("secrets out", "complete", _FILES_FOR_FEEDBACK, FULL),
    # Writes outside the submission.
    "c_overwrite_others": Attack("writes", "complete", _OVERWRITE_OTHERS, FULL),
    "c_edit_course": Attack("writes", "complete", _EDIT_COURSE, FULL),
    "c_detached_process": Attack("writes", "complete", _DETACHED, FULL),
    "c_other_kernels": Attack("writes", "complete", _OTHER_KERNELS, FULL),
    "c_network": Attack("writes", "complete", _NETWORK, FULL),
    # Resources.
    "d_fork_bomb": Attack("resources", "complete", _FORK_BOMB, FULL),
    "d_big_files": Attack("resources", "complete", _BIG_FILES, FULL),
    "d_output_flood": Attack("resources", "complete", _OUTPUT_FLOOD, FULL),
    # Injection into reports, and fairness.
    "e_html": Attack("injection", "complete", _HTML, FULL, markdown=_HTML_MARKDOWN),
    "e_evil_exception": Attack(
        "injection", "complete", "", FULL, answers={"relu": _EVIL_EXCEPTION}
    ),
    "e_marker_comments": Attack(
        "injection", "complete", "", FULL, answers={"relu": _MARKER_COMMENTS}
    ),
    # Lying values: objects that claim to equal anything are judged by their plain data.
    "f_liar_object": Attack("lying values", "complete", "", _with(test_relu=0), {"relu": _LIAR}),
    "f_lying_array": Attack(
        "lying values", "complete", "", _with(test_softplus=0), {"softplus": _LYING_ARRAY}
    ),
}
# A correct student graded after every attack: nothing an attack does may change this grade.
VICTIM = "zz_victim"

# The files of a fake package placed beside the notebook (a_fake_package).
FAKE_PACKAGE = {
    "softplus_course/__init__.py": "from . import checks\n",
    "softplus_course/checks.py": "def check_exercise(*args, **kwargs):\n    return None\n",
    "softplus_course/probe.py": "def run(request):\n    print('all passed')\n",
    "softplus_course/limits.py": "def limit_memory(megabytes):\n    return True\n",
}


def build_attacks(release, complete, root: str) -> dict[str, object]:
    """Return ``{student: notebook}`` for every attack, and the victim."""
    out: dict[str, object] = {}
    for name, attack in ATTACKS.items():
        nb = copy.deepcopy(complete if attack.base == "complete" else release)
        for cell in nb.cells:
            if cell.get("id") in attack.answers:
                cell.source = attack.answers[cell.get("id")]
        setup = next(
            i
            for i, c in enumerate(nb.cells)
            if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "setup"
        )
        extra = []
        if attack.code:
            text = attack.code
            for key, value in (("{root}", root), ("{hacked}", HACKED), ("{marker}", MARKER)):
                text = text.replace(key, value)
            extra.append(nbformat.v4.new_code_cell(text))
        if attack.markdown:
            extra.append(nbformat.v4.new_markdown_cell(attack.markdown))
        nb.cells[setup + 1 : setup + 1] = extra
        out[name] = nb
    out[VICTIM] = copy.deepcopy(complete)
    return out


EXPECTED.update({name: Expected("graded", attack.expected) for name, attack in ATTACKS.items()})
EXPECTED[VICTIM] = Expected("graded", FULL)


def build(release, complete, other_lesson_release) -> dict[str, object]:
    """Return ``{case: notebook or raw text}`` for every broken case (not the attacks)."""

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
    forged = answered({"relu": "def relu(x):\n    return x\n"})
    for cell in forged.cells:
        cell.metadata["softplus"] = {
            "kernel_died": "the kernel died in cell forged (made up by the notebook)",
            "properties": [{"name": FORGED, "points": 99, "earned": 99, "hidden": False}],
        }
    cases["forged_grader_metadata"] = forged
    cases["broken_json"] = '{"cells": [ {"cell_type": "code", '
    cases["broken_schema"] = json.dumps({"cells": "none", "nbformat": 4, "nbformat_minor": 5})
    cases["wrong_lesson"] = (
        other_lesson_release if other_lesson_release is not None else nbformat.v4.new_notebook()
    )
    assert set(cases) | set(ATTACKS) | {VICTIM} == set(EXPECTED), set(cases) ^ set(EXPECTED)
    return cases
