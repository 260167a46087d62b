"""The nursery (softplus_course/pipeline/nursery.py): kernels forked, as root, from one sandbox that
imported the lessons' libraries once.

Every test starts real kernels and tries from inside what a hostile notebook would: keep its
privileges, reach another kernel, the nursery, the course or the network, leave a process behind
for the next student.
"""

from __future__ import annotations

import os
import socket
import time

import nbformat
import pytest
from conftest import ROOT, processes_with
from nbclient import NotebookClient

from softplus_course.pipeline import sandbox as sandbox_module
from softplus_course.pipeline.sandbox import (
    KERNEL_UID_BASE,
    KERNELS_PER_SLOT,
    Limits,
    Nursery,
    NurseryBox,
    Sandbox,
    SandboxedKernelManager,
    find_bwrap,
    kernel_box,
)

if os.geteuid() != 0:
    pytest.skip("the nursery is used only when grading as root", allow_module_level=True)
if find_bwrap() is None and not os.environ.get("CI"):
    pytest.skip("bubblewrap is not installed (apt-get install bubblewrap)", allow_module_level=True)

SLOT = 9  # a slot no grading test uses


class Kernel:
    """A kernel forked by the nursery, running cells one at a time."""

    def __init__(self, limits: Limits | None = None):
        self.box = kernel_box(limits or Limits(), slot=SLOT)
        assert isinstance(self.box, NurseryBox)
        self.nb = nbformat.v4.new_notebook()
        self.nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        km = SandboxedKernelManager(self.box, kernel_name="python3")
        self.client = NotebookClient(self.nb, km=km, timeout=60, allow_errors=True)
        self._setup = self.client.setup_kernel()
        self._setup.__enter__()

    def run(self, code: str) -> str:
        cell = nbformat.v4.new_code_cell(code)
        self.nb.cells.append(cell)
        self.client.execute_cell(cell, len(self.nb.cells) - 1)
        texts = []
        for out in cell.outputs:
            if out.output_type == "stream":
                texts.append(out.text)
            elif out.output_type == "error":
                texts.append(f"{out.ename}: {out.evalue}\n")
            else:
                texts.append(out.get("data", {}).get("text/plain", "") + "\n")
        return "".join(texts)

    def stop(self) -> None:
        self._setup.__exit__(None, None, None)
        self.box.cleanup()


@pytest.fixture
def kernel():
    k = Kernel()
    yield k
    k.stop()


def test_a_kernel_starts_with_the_libraries_imported_and_no_privileges(kernel):
    out = kernel.run(
        "import os, sys, resource\n"
        "heavy = ('numpy', 'torch', 'matplotlib', 'torch._dynamo', 'mpmath')\n"
        "print('preloaded', all(m in sys.modules for m in heavy))\n"
        "print('ids', os.getuid(), os.geteuid(), os.getgid(), os.getgroups())\n"
        "status = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines())\n"
        "sets = ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb')\n"
        "print('caps', [int(status[k], 16) for k in sets])\n"
        "print('nnp', status['NoNewPrivs'].strip())\n"
        "print('nproc', resource.getrlimit(resource.RLIMIT_NPROC))\n"
        "print('cwd', os.getcwd() == os.environ['HOME'].replace('/home', '/work'))\n"
    )
    uid = int(out.split("ids ")[1].split()[0])
    assert KERNEL_UID_BASE + SLOT * KERNELS_PER_SLOT <= uid < KERNEL_UID_BASE + (SLOT + 1) * 100
    assert f"ids {uid} {uid} {uid} []" in out, out
    assert "preloaded True" in out, out
    assert "caps [0, 0, 0, 0, 0]" in out, out
    assert "nnp 1" in out, out
    assert f"nproc ({Limits().processes}, {Limits().processes})" in out, out
    assert "cwd True" in out, out


def test_plots_and_torch_work_as_in_a_fresh_kernel(kernel):
    out = kernel.run(
        "import matplotlib.pyplot as plt, torch\n"
        "print(plt.get_backend())\n"
        "fig = plt.figure(); plt.plot([0, 1]); plt.show()\n"
        "print(torch.nn.functional.softplus(torch.zeros(2)).tolist())\n"
    )
    assert "inline" in out, out
    assert "Figure" in out, "the figure should be shown inline"
    assert "[0.6931471824645996, 0.6931471824645996]" in out, out


def test_no_network_no_course_and_no_shared_writable_place(kernel):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    try:
        out = kernel.run(
            "import os, socket\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {server.getsockname()[1]}), timeout=2)\n"
            "    print('REACHED')\n"
            "except OSError as e:\n"
            "    print('refused', type(e).__name__)\n"
            f"print('course', os.path.exists({str(ROOT / 'solutions')!r}))\n"
            "for path in ('/tmp/x', '/tmp/kernels/x', '/home/x', '/usr/x'):\n"
            "    try:\n"
            "        open(path, 'w'); print('WROTE', path)\n"
            "    except OSError as e:\n"
            "        print('refused', path)\n"
            "try:\n"
            "    print(os.listdir('/tmp/kernels'))\n"
            "except OSError:\n"
            "    print('kernels hidden')\n"
        )
    finally:
        server.close()
    assert "REACHED" not in out and "refused" in out, out
    assert "course False" in out, out
    assert "WROTE" not in out and out.count("refused /") == 4, out
    assert "kernels hidden" in out, out


def test_two_kernels_cannot_touch_each_other_or_the_nursery():
    first, second = Kernel(), Kernel()
    try:
        info = first.run("import os; print(os.getpid(), os.getuid(), os.environ['HOME'])")
        pid, uid, home = info.split()
        out = second.run(
            "import os, signal\n"
            f"print('uid differs', os.getuid() != {uid})\n"
            f"for target in ({pid}, os.getppid(), 1):\n"
            "    try:\n"
            "        os.kill(target, signal.SIGKILL); print('KILLED', target)\n"
            "    except PermissionError:\n"
            "        print('refused kill')\n"
            f"paths = ('/proc/{pid}/mem', '/proc/{pid}/environ', os.path.join({home!r}, 'x'))\n"
            "for path in paths:\n"
            "    try:\n"
            "        open(path, 'rb'); print('OPENED', path)\n"
            "    except OSError:\n"
            "        print('refused open')\n"
        )
        assert "uid differs True" in out, out
        assert out.count("refused kill") == 3, out
        assert out.count("refused open") == 3, out
        assert "alive" in first.run("print('alive')"), "the first kernel should be untouched"
    finally:
        first.stop()
        second.stop()


def test_nothing_of_a_kernel_is_left_for_the_next():
    """A child that starts its own session and ignores every signal dies with its kernel; the
    next kernel gets another user id and empty folders."""
    marker = f"NURSERY-TEST-{os.getpid()}"
    first = Kernel()
    try:
        first.run(
            "import subprocess, sys, os\n"
            "code = 'import signal, time\\n"
            "for s in (1, 2, 15): signal.signal(s, signal.SIG_IGN)\\n"
            f"time.sleep(120)  # {marker}'\n"
            "subprocess.Popen([sys.executable, '-c', code], start_new_session=True)\n"
            "open(os.path.join(os.environ['TMPDIR'], 'left.txt'), 'w').write('x')\n"
            "import time; time.sleep(1)"
        )

        def survivors():
            return processes_with(marker)

        assert survivors(), "the child should run while its kernel runs"
    finally:
        first.stop()
    assert survivors() == [], "the child outlived its kernel"
    second = Kernel()
    try:
        out = second.run("import os; print(os.listdir(os.environ['TMPDIR']), os.getuid())")
    finally:
        second.stop()
    assert out.startswith("[] "), out
    assert int(out.split()[-1]) != first.box.uid


def test_a_dead_nursery_is_replaced():
    nursery = Nursery.for_slot(Limits(), SLOT)
    nursery.process.kill()
    nursery.process.wait()
    replacement = Nursery.for_slot(Limits(), SLOT)
    assert replacement is not nursery and replacement.process.poll() is None
    k = Kernel()
    try:
        assert k.run("print(6 * 7)").strip() == "42"
    finally:
        k.stop()


def test_without_root_each_kernel_gets_a_sandbox_of_its_own(monkeypatch):
    monkeypatch.setattr(sandbox_module.os, "geteuid", lambda: 1000)
    box = kernel_box(Limits(), slot=SLOT)
    try:
        assert isinstance(box, Sandbox)
    finally:
        box.cleanup()
    box = kernel_box(Limits(), slot=SLOT, nursery=False)
    try:
        assert isinstance(box, Sandbox)
    finally:
        box.cleanup()


def test_a_kernel_that_exits_is_seen_as_dead(kernel):
    from nbclient.exceptions import DeadKernelError

    with pytest.raises(DeadKernelError):
        kernel.run("import os; os._exit(3)")
    deadline = time.monotonic() + 10
    while kernel.client.km.provisioner.process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert kernel.client.km.provisioner.process.poll() == 3


def test_a_grading_process_starts_its_nursery_before_its_first_submission():
    """Grading starts each worker's nursery with the worker (its start-up), and the first
    submission's kernel is forked by that same nursery; without the sandbox there is none."""
    from traitlets.config import Config

    from softplus_course.pipeline.preprocessors import TrustedGrade

    slot = SLOT - 1
    config = Config()
    config.TrustedGrade.slot = slot
    config.TrustedGrade.sandbox = False
    TrustedGrade(config=config).start_nursery()
    assert not [key for key in Nursery._kept if key[0] == slot]
    config.TrustedGrade.sandbox = True
    grader = TrustedGrade(config=config)
    grader.start_nursery()
    limits = Limits(memory_mb=grader.memory_mb)
    nursery = Nursery._kept[(slot, limits)]
    try:
        assert nursery.process.poll() is None
        box = kernel_box(limits, slot=slot)
        assert isinstance(box, NurseryBox) and box.nursery is nursery
        box.cleanup()
    finally:
        nursery.close()
        Nursery._kept.pop((slot, limits), None)
