"""The sandbox that student code runs in while it is graded (softplus_course/pipeline/sandbox.py).

Each test starts a real bubblewrap sandbox and tries, from inside, what a hostile notebook would:
reach the network, see or write the course, outlive grading, fill the disk, fork without end.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
from conftest import processes_with
from nbclient import NotebookClient

from softplus_course.pipeline import grading
from softplus_course.pipeline.sandbox import (
    NO_SANDBOX_FLAG,
    Limits,
    Sandbox,
    SandboxedKernelManager,
    SandboxUnavailable,
    check_available,
    find_bwrap,
)

if find_bwrap() is None and not os.environ.get("CI"):
    pytest.skip("bubblewrap is not installed (apt-get install bubblewrap)", allow_module_level=True)


def run_inside(code: str, limits: Limits | None = None, timeout: float = 60) -> str:
    """Run Python code in a fresh sandbox; return what it printed (stdout and stderr)."""
    with Sandbox(limits or Limits(), slot=7) as box:
        done = subprocess.run(
            box.command([sys.executable, "-c", textwrap.dedent(code)]),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=box.ipc_dir,
        )
    return done.stdout + done.stderr


def test_the_sandbox_is_available_here():
    assert check_available().endswith("bwrap")


def test_no_network_not_even_the_hosts_loopback():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    try:
        out = run_inside(
            f"""
            import socket
            for host, port in [("127.0.0.1", {port}), ("1.1.1.1", 53)]:
                try:
                    socket.create_connection((host, port), timeout=2).close()
                    print("REACHED", host)
                except OSError as exc:
                    print("refused", host, type(exc).__name__)
            """
        )
    finally:
        server.close()
    assert "REACHED" not in out, out
    assert out.count("refused") == 2, out


def test_the_course_is_invisible_and_the_system_read_only(tmp_path):
    secret = tmp_path / "gradebook.db"
    secret.write_text("secret")
    out = run_inside(
        f"""
        import os, sys
        for path in [{str(secret)!r}, "/root", "/etc/shadow", "/etc/passwd"]:
            try:
                print("READ", path, open(path).read()[:20])
            except OSError as exc:
                print("hidden", path, type(exc).__name__)
        for path in [{str(secret)!r}, sys.prefix + "/x.py", "/usr/x", "/home/student/x"]:
            try:
                open(path, "w").write("x")
                print("WROTE", path)
            except OSError as exc:
                print("refused", path, type(exc).__name__)
        print("uid", os.getuid())
        print([line for line in open("/proc/self/status") if line.startswith("CapEff")])
        """
    )
    assert "READ" not in out, out
    assert out.count("WROTE") == 0, out
    assert secret.read_text() == "secret"
    assert "uid 0" not in out
    assert "CapEff:\\t0000000000000000" in out, out


def test_the_work_folder_and_tmp_are_private_and_writable(tmp_path):
    host_file = Path(tempfile.gettempdir()) / f"host-only-{os.getpid()}.txt"
    host_file.write_text("the host's")
    try:
        out = run_inside(
            f"""
            import os
            open("notes.txt", "w").write("mine")
            open("/tmp/notes.txt", "w").write("mine")
            print(os.getcwd(), sorted(os.listdir(".")))
            print("tmp", sorted(os.listdir("/tmp")))
            print("host file visible:", os.path.exists({str(host_file)!r}))
            """
        )
    finally:
        host_file.unlink()
    assert "/home/student/work ['notes.txt']" in out, out
    assert "'notes.txt'" in out.split("tmp", 1)[1], out
    assert "host file visible: False" in out, out


def test_a_large_file_is_capped_and_the_disk_is_small():
    out = run_inside(
        """
        import os
        block = b"x" * (1 << 20)
        def fill(path, mib):
            written = 0
            try:
                with open(path, "wb") as fh:
                    for _ in range(mib):
                        fh.write(block)
                        fh.flush()
                        written += 1
            except OSError as exc:
                return f"{written} MiB then {exc.strerror}"
            return f"all {written} MiB"
        print("one file:", fill("big.bin", 64))
        os.remove("big.bin")
        results = [fill(f"part{i}.bin", 6) for i in range(8)]
        print("many files:", results[-1])
        """,
        Limits(file_mb=8, disk_mb=24),
    )
    assert "one file: 8 MiB then File too large" in out, out
    assert "many files:" in out and "No space left on device" in out, out


def test_processes_are_limited():
    out = run_inside(
        """
        import os, time
        children = []
        try:
            for _ in range(500):
                pid = os.fork()
                if pid == 0:
                    time.sleep(30)
                    os._exit(0)
                children.append(pid)
        except OSError as exc:
            print("stopped after", len(children), type(exc).__name__)
        for pid in children:
            os.kill(pid, 9)
        """,
        Limits(processes=40),
    )
    assert "stopped after" in out, out
    assert int(out.split("stopped after")[1].split()[0]) < 40, out


def test_every_process_of_a_kernel_is_gone_when_it_stops():
    """A child that starts its own session and ignores every signal still dies with the kernel."""
    marker = f"SANDBOX-TEST-{os.getpid()}"
    code = (
        "import signal, time\n"
        "for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):\n"
        "    signal.signal(s, signal.SIG_IGN)\n"
        f"time.sleep(120)  # {marker}\n"
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import subprocess, sys\n"
            f"subprocess.Popen([sys.executable, '-c', {code!r}], start_new_session=True)\n"
            "import time; time.sleep(1)"
        )
    ]

    def survivors():
        return processes_with(marker)

    with Sandbox(Limits(), slot=8) as box:
        km = SandboxedKernelManager(box, kernel_name="python3")
        client = NotebookClient(nb, km=km, timeout=60)
        with client.setup_kernel():
            client.execute_cell(nb.cells[0], 0)
            assert survivors(), "the child should run while the kernel runs"
            client._cleanup_kernel()
        deadline = time.monotonic() + 10
        while survivors() and time.monotonic() < deadline:
            time.sleep(0.2)
    assert survivors() == []


def test_missing_bubblewrap_is_refused_with_the_flag_to_use(monkeypatch):
    monkeypatch.setattr("softplus_course.pipeline.sandbox.find_bwrap", lambda: None)
    with pytest.raises(SandboxUnavailable, match=NO_SANDBOX_FLAG) as info:
        check_available()
    assert "apt-get install bubblewrap" in str(info.value)


def test_grade_course_refuses_without_the_sandbox(monkeypatch, tmp_path, capsys):
    def unavailable():
        raise SandboxUnavailable(f"no bwrap here; pass {NO_SANDBOX_FLAG}")

    monkeypatch.setattr(grading, "check_available", unavailable)
    assert grading.grade_course(tmp_path) == 2
    assert NO_SANDBOX_FLAG in capsys.readouterr().out


def test_grading_without_the_sandbox_is_recorded(tmp_path):
    results = [
        grading.SubmissionResult("ada", "01_definition", scores={"t": 1}, max_scores={"t": 2}),
        grading.SubmissionResult(
            "bob",
            "01_definition",
            scores={"t": 2},
            max_scores={"t": 2},
            sandbox=grading.UNSANDBOXED,
        ),
    ]
    from softplus_course.pipeline.report import ReportRow, write_report

    rows = [
        ReportRow(r.student, r.lesson, r.status, r.scores, r.max_scores, sandbox=r.sandbox)
        for r in results
    ]
    text = write_report(rows, tmp_path / "scores.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0].endswith(",overridden,sandbox,reason,warnings")
    assert "ada,01_definition,graded,1,2,0,1,,bubblewrap,," in text
    assert "bob,01_definition,graded,2,2,0,2,,none (--no-sandbox),," in text
    assert "1 graded WITHOUT the sandbox" in grading.summary(results)


def test_limits_reject_nonsense():
    with pytest.raises(ValueError, match="memory_mb"):
        Limits(memory_mb=0)


def test_the_kernel_imports_the_package_the_grader_bound(tmp_path):
    # An instructor grading from another checkout than the one installed (an editable install
    # elsewhere, or an older copy in site-packages): the kernel must get the grader's package.
    copy = tmp_path / "other_checkout"
    copy.mkdir()
    import softplus_course

    shutil.copytree(Path(softplus_course.__file__).parent, copy / "softplus_course")
    grader = textwrap.dedent(
        f"""
        import subprocess, sys
        sys.path.insert(0, {str(copy)!r})
        import softplus_course
        from softplus_course.pipeline.sandbox import Limits, Sandbox
        assert softplus_course.__file__.startswith({str(copy)!r}), softplus_course.__file__
        with Sandbox(Limits(), slot=7) as box:
            code = "import softplus_course, softplus_course.checks; print(softplus_course.__file__)"
            done = subprocess.run(box.command([sys.executable, "-c", code]),
                                  capture_output=True, text=True, timeout=60, cwd=box.ipc_dir)
        print(done.stdout + done.stderr)
        """
    )
    done = subprocess.run(
        [sys.executable, "-P", "-c", grader], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(copy / "softplus_course" / "__init__.py"), done.stdout
