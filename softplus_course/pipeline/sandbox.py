"""The sandbox every student notebook runs in while it is graded (the trust boundary).

Student code is untrusted. During grading it runs only in a Jupyter kernel started inside a
bubblewrap (``bwrap``) sandbox:

- its own network namespace with nothing in it: no network at all, and no other kernel reachable
  (the grader talks to the kernel over Unix sockets in one folder, not over TCP);
- its own process tree: every process the notebook starts is killed when its kernel is stopped;
- its own mounts: the system, the Python installation and the course's helper package
  read-only; a private ``/tmp`` and a private working folder (``/home/student/work``, holding a
  read-only copy of the submitted notebook), both small in-memory file systems; nothing else of
  the course (no ``solutions/``, ``specs/``, gradebook, ``submitted/``, ``autograded/``,
  ``feedback/`` or configuration);
- an unprivileged user (grading as root: a user id of its own per grading process) with limits
  on memory, processes, file size, CPU time and open files.

The kernel is launched through ``sandbox_launch.py`` (see there for the order of the steps).
:class:`SandboxedKernelManager` is the jupyter_client kernel manager that nbclient uses for it.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Any

import softplus_course

__all__ = [
    "Limits",
    "Sandbox",
    "SandboxUnavailable",
    "SandboxedKernelManager",
    "check_available",
    "NO_SANDBOX_FLAG",
]

LAUNCHER = Path(__file__).with_name("sandbox_launch.py")
NO_SANDBOX_FLAG = "--no-sandbox"
WORKDIR = "/home/student/work"  # the kernel's working folder inside the sandbox
# Grading as root, sandboxes run as user ids from here on (one per grading process, so that the
# process limit of one submission never counts another's processes).
UID_BASE = 61000
# Environment passed on into the sandbox when set: numerical libraries' thread and CPU settings,
# and nbgrader's marker that a notebook is being graded.
PASS_ENV = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NBGRADER_EXECUTION",  # lesson 06 runs its smallest configuration when graded
)


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create its namespaces here; the message says which."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed kernel (and of every process it starts)."""

    memory_mb: int = 2048  # address space for data (RLIMIT_DATA), per process
    processes: int = 256  # processes and threads of the sandbox's user (RLIMIT_NPROC)
    file_mb: int = 64  # largest file it may write (RLIMIT_FSIZE)
    disk_mb: int = 256  # size of each of its two writable folders (/tmp and the work folder)
    cpu_seconds: int = 900  # CPU time per process (RLIMIT_CPU)
    open_files: int = 1024  # RLIMIT_NOFILE

    def __post_init__(self):
        for name, value in asdict(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive whole number, got {value!r}")

    def rlimits(self, extra_processes: int = 0) -> dict[str, int]:
        mib = 1024 * 1024
        return {
            "memory_bytes": self.memory_mb * mib,
            "processes": self.processes + extra_processes,
            "file_bytes": self.file_mb * mib,
            "cpu_seconds": self.cpu_seconds,
            "open_files": self.open_files,
            "core_bytes": 0,
        }


def find_bwrap() -> str | None:
    return shutil.which("bwrap")


def check_available() -> str:
    """Return the path of ``bwrap`` after starting one trivial sandbox with it.

    Raises :class:`SandboxUnavailable` with what is missing and what to do about it.
    """
    if sys.platform != "linux":
        raise SandboxUnavailable(
            f"grading runs student code in a bubblewrap sandbox, which needs Linux (this is "
            f"{sys.platform}). Grade on Linux, or, for submissions you trust, pass "
            f"{NO_SANDBOX_FLAG} (make grade SANDBOX=no)."
        )
    bwrap = find_bwrap()
    if bwrap is None:
        raise SandboxUnavailable(
            "grading runs student code in a bubblewrap sandbox, and `bwrap` is not installed "
            "(Debian/Ubuntu: apt-get install bubblewrap). For submissions you trust, pass "
            f"{NO_SANDBOX_FLAG} (make grade SANDBOX=no) to grade without it."
        )
    with Sandbox(Limits(), slot=0) as box:
        done = subprocess.run(
            box.command([sys.executable, "-I", "-c", "import sys; print(sys.prefix)"]),
            capture_output=True,
            text=True,
            timeout=60,
            cwd=box.ipc_dir,
        )
    if done.returncode != 0:
        raise SandboxUnavailable(
            f"bubblewrap could not start a sandbox here: {done.stderr.strip() or done.stdout}. "
            "It needs unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1) "
            f"or root. For submissions you trust, pass {NO_SANDBOX_FLAG} to grade without it."
        )
    return bwrap


def _system_binds() -> tuple[list[tuple[str, str]], list[str]]:
    """Read-only binds of the system, and symlinks for merged-/usr systems."""
    ro: list[tuple[str, str]] = [("/usr", "/usr")]
    args: list[str] = []
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            ro.append((top, top))
    for name in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "fonts", "localtime"):
        path = f"/etc/{name}"
        if os.path.exists(path):
            ro.append((path, path))
    return ro, args


def _python_binds() -> list[tuple[str, str]]:
    """The Python installation, the environment, and the course's helper package."""
    paths = []
    for path in (sys.base_prefix, sys.prefix, str(Path(softplus_course.__file__).parent)):
        real = os.path.realpath(path)
        if not any(real == p or real.startswith(p + os.sep) for p in paths + ["/usr"]):
            paths.append(real)
        if path != real and not any(path.startswith(p + os.sep) for p in ["/usr"]):
            paths.append(path)
    return [(p, p) for p in dict.fromkeys(paths)]


_font_cache: list[Path] = []


def _matplotlib_font_cache() -> list[Path]:
    """Matplotlib's font list, built once per grading process and shared read-only with every
    sandbox: without it each kernel would rebuild it in its empty /tmp (about a second)."""
    if not _font_cache:
        folder = Path(tempfile.mkdtemp(prefix="softplus-fonts-"))
        os.chmod(folder, 0o755)
        env = {**os.environ, "MPLCONFIGDIR": str(folder)}
        code = "import matplotlib.font_manager"
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=False)
        found = sorted(folder.glob("fontlist-*.json"))
        for path in found:
            os.chmod(path, 0o644)
        atexit.register(shutil.rmtree, folder, True)
        _font_cache.extend(found or [folder / "none"])
    return [p for p in _font_cache if p.is_file()]


def _own_tasks(uid: int) -> int:
    """How many processes and threads this user runs now (RLIMIT_NPROC counts them all)."""
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                continue
    return count


class Sandbox:
    """One sandbox: a host folder for the kernel's sockets, and the command that starts it.

    Use as a context manager; leaving it removes the folder. ``slot`` numbers the grading
    process (0, 1, ...): grading as root, the sandbox runs as user ``UID_BASE + slot``.
    """

    def __init__(self, limits: Limits, slot: int = 0, notebook: Path | None = None):
        self.limits = limits
        self.notebook = Path(notebook) if notebook is not None else None
        self.uid = UID_BASE + slot if os.geteuid() == 0 else None
        self.ipc_dir = tempfile.mkdtemp(prefix="softplus-sandbox-")
        if self.uid is not None:
            # The kernel creates its sockets here; nothing else of the host is writable to it.
            os.chown(self.ipc_dir, self.uid, self.uid)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()

    def cleanup(self) -> None:
        shutil.rmtree(self.ipc_dir, ignore_errors=True)

    def lock(self) -> None:
        """Once the kernel's sockets exist: no new files in the socket folder (as root)."""
        if self.uid is not None:
            os.chown(self.ipc_dir, 0, 0)
            os.chmod(self.ipc_dir, 0o711)

    def command(self, argv: list[str]) -> list[str]:
        """The command that runs ``argv`` inside this sandbox."""
        ro, args = _system_binds()
        ro += _python_binds()
        made = {"/", "/tmp"}

        def parents(dest: str) -> list[str]:
            # bubblewrap makes missing parent folders private (0700) when it runs as root; the
            # sandbox's user must be able to walk through them.
            out = []
            for parent in reversed(Path(dest).parents):
                if str(parent) not in made and not str(parent).startswith("/usr"):
                    made.add(str(parent))
                    out += ["--perms", "0755", "--dir", str(parent)]
            return out

        size = str(self.limits.disk_mb * 1024 * 1024)
        # The private /tmp first: the environment, or the course's package, may live under the
        # host's /tmp, and their binds must land on top of it, not under it.
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += ["--perms", "1777", "--size", size, "--tmpfs", "/tmp"]
        for source, dest in ro:
            args += [*parents(dest), "--ro-bind", source, dest]
        # Every namespace but the user namespace (--unshare-all would add one, and as root it
        # maps only root, so the command could not become another user).
        args += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
        args += ["--unshare-cgroup-try", "--die-with-parent", "--new-session"]
        args += ["--hostname", "sandbox"]
        if self.uid is None:
            # Not root: bubblewrap works in a user namespace of its own; none below it.
            args += ["--unshare-user", "--disable-userns"]
        args += ["--dir", "/home/student", "--perms", "1777", "--size", size, "--tmpfs", WORKDIR]
        args += ["--perms", "1777", "--dir", "/tmp/matplotlib"]
        for font_list in _matplotlib_font_cache():
            args += ["--ro-bind", str(font_list), f"/tmp/matplotlib/{font_list.name}"]
        if self.notebook is not None:  # a read-only copy of the submission, in the work folder
            args += ["--ro-bind", str(self.notebook), f"{WORKDIR}/{self.notebook.name}"]
        args += [*parents(self.ipc_dir), "--bind", self.ipc_dir, self.ipc_dir]
        args += ["--chdir", WORKDIR, "--clearenv"]
        env = {
            "HOME": "/home/student",
            "USER": "student",
            "LANG": "C.UTF-8",
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "TMPDIR": "/tmp",
            "MPLCONFIGDIR": "/tmp/matplotlib",
            "IPYTHONDIR": "/tmp/ipython",
            "XDG_CACHE_HOME": "/tmp/cache",
            "XDG_CONFIG_HOME": "/tmp/config",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.update({k: os.environ[k] for k in PASS_ENV if k in os.environ})
        for key, value in env.items():
            args += ["--setenv", key, value]
        if self.uid is not None:
            # Root: bubblewrap sets up the mounts as root, then the command becomes an ordinary
            # user with no capabilities, that can gain none (no_new_privs).
            argv = [
                shutil.which("setpriv") or "/usr/bin/setpriv",
                f"--reuid={self.uid}",
                f"--regid={self.uid}",
                "--clear-groups",
                "--no-new-privs",
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--",
                *argv,
            ]
        extra = 0 if self.uid is not None else _own_tasks(os.getuid())
        request = {
            "limits": self.limits.rlimits(extra_processes=extra),
            "argv": [find_bwrap() or "bwrap", *args, "--", *argv],
        }
        return [sys.executable, "-I", "-S", str(LAUNCHER), json.dumps(request)]


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs in a :class:`Sandbox` and talks over Unix sockets.

    Interrupts are sent as messages (the kernel is not a child the grader could signal).
    """

    sandbox = Any(None, help="the Sandbox this kernel runs in")

    def __init__(self, sandbox: Sandbox, **kwargs):
        ipc = Path(sandbox.ipc_dir)
        super().__init__(
            sandbox=sandbox,
            transport="ipc",
            ip=str(ipc / "kernel"),
            connection_file=str(ipc / "kernel.json"),
            **kwargs,
        )
        self.kernel_spec.interrupt_mode = "message"

    def format_kernel_cmd(self, extra_arguments=None):
        return self.sandbox.command(super().format_kernel_cmd(extra_arguments))

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        kw["cwd"] = self.sandbox.ipc_dir  # never a course folder, not even for the launcher
        # What the kernel process writes to its own stdout and stderr (not the notebook's
        # outputs, which travel as messages) never reaches the grader's terminal or logs.
        kw["stdout"] = kw["stderr"] = subprocess.DEVNULL
        kw["stdin"] = subprocess.DEVNULL
        return await super()._async_launch_kernel(kernel_cmd, **kw)

    def write_connection_file(self, **kwargs):
        super().write_connection_file(**kwargs)
        # The kernel, running as another user, must read it (the key it holds is its own).
        if self.sandbox.uid is not None:
            os.chown(self.connection_file, self.sandbox.uid, self.sandbox.uid)
