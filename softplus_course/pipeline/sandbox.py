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
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no sandbox, and nothing to share
    fcntl = None

from jupyter_client.manager import AsyncKernelManager
from traitlets import Any

import softplus_course

__all__ = [
    "Limits",
    "Nursery",
    "NurseryBox",
    "Sandbox",
    "SandboxUnavailable",
    "SandboxedKernelManager",
    "check_available",
    "kernel_box",
    "one_grading_run",
    "NO_SANDBOX_FLAG",
]

LAUNCHER = Path(__file__).with_name("sandbox_launch.py")
NURSERY_PROGRAM = Path(__file__).with_name("nursery.py")
NO_SANDBOX_FLAG = "--no-sandbox"
WORKDIR = "/home/student/work"  # the kernel's working folder inside the sandbox
# Grading as root, sandboxes run as user ids from here on (one per grading process, so that the
# process limit of one submission never counts another's processes).
UID_BASE = 61000
# Grading as root with the nursery: each kernel gets a user id of its own from here on, a range
# of KERNELS_PER_SLOT per grading process, used in turn.
KERNEL_UID_BASE = 62000
KERNELS_PER_SLOT = 100
# Those user ids are the same in every grading run, and RLIMIT_NPROC counts a user id's
# processes machine-wide: two runs at once would share them (one_grading_run).
GRADING_LOCK = Path("/run/lock/softplus-course-grading.lock")
# What the nursery keeps of root's capabilities: change user and group, kill its kernels'
# processes, make and remove their folders, and drop its children's bounding set.
NURSERY_CAPS = (
    "CAP_SETUID",
    "CAP_SETGID",
    "CAP_KILL",
    "CAP_CHOWN",
    "CAP_FOWNER",
    "CAP_DAC_OVERRIDE",
    "CAP_SETPCAP",
)
NURSERY_CPU_SECONDS = 7 * 24 * 3600  # its own CPU time (each kernel has cpu_seconds)
# Environment passed on into the sandbox when set: numerical libraries' thread and CPU settings,
# and nbgrader's marker that a notebook is being graded.
PASS_ENV = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NBGRADER_EXECUTION",  # lesson 09 runs its smallest configuration when graded
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


@contextmanager
def one_grading_run(report=None):
    """Grading as root, hold the machine-wide grading lock while the body runs.

    Every grading run gives its sandboxes and kernels user ids from the same fixed ranges, and
    the process limit counts a user id's processes across the whole machine: a fork bomb in one
    run could starve a kernel of another run that happens to have the same user id, and so
    change another student's grade. So runs as root take turns: a second run waits for the
    first (``report`` is told it waits, and on which file). Not root, or without ``fcntl``
    (not Linux), nothing is shared and nothing is locked.
    """
    global _grading_runs_here
    if fcntl is None or os.geteuid() != 0 or _grading_runs_here:
        # Not shared, or this process holds the lock already (grade() around nbgrader's
        # autograde, whose TrustedGrade asks for it too): a lock does not wait for itself.
        _grading_runs_here += 1
        try:
            yield
        finally:
            _grading_runs_here -= 1
        return
    folder = GRADING_LOCK.parent if GRADING_LOCK.parent.is_dir() else Path(tempfile.gettempdir())
    path = folder / GRADING_LOCK.name
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if report is not None:
                report(f"another grading run on this machine holds {path}: waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        _grading_runs_here += 1
        try:
            yield
        finally:
            _grading_runs_here -= 1
            fcntl.flock(handle, fcntl.LOCK_UN)


# How many one_grading_run blocks this process is inside (the lock is taken by the outermost).
_grading_runs_here = 0


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
        size = str(self.limits.disk_mb * 1024 * 1024)
        args = _namespace_args(self.limits, tmp_perms="1777", as_root=self.uid is not None)
        args += ["--dir", "/home/student", "--perms", "1777", "--size", size, "--tmpfs", WORKDIR]
        args += ["--perms", "1777", "--dir", "/tmp/matplotlib"]
        args += _font_args()
        if self.notebook is not None:  # a read-only copy of the submission, in the work folder
            args += ["--ro-bind", str(self.notebook), f"{WORKDIR}/{self.notebook.name}"]
        args += [*_parents(self.ipc_dir, args), "--bind", self.ipc_dir, self.ipc_dir]
        args += ["--chdir", WORKDIR, "--clearenv"]
        for key, value in kernel_environment().items():
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
        return _launch(self.limits.rlimits(extra_processes=extra), [*args, "--", *argv])


def _launch(rlimits: dict[str, int], bwrap_args: list[str]) -> list[str]:
    """The command that sets ``rlimits`` and then runs bubblewrap with ``bwrap_args``."""
    request = {"limits": rlimits, "argv": [find_bwrap() or "bwrap", *bwrap_args]}
    return [sys.executable, "-I", "-S", str(LAUNCHER), json.dumps(request)]


def _parents(dest: str, args_so_far: list[str]) -> list[str]:
    """bubblewrap makes missing parent folders private (0700) when it runs as root; make them
    0755 so that the sandbox's user can walk through them (each once)."""
    made = {"/", "/tmp"} | {args_so_far[i + 1] for i, a in enumerate(args_so_far) if a == "--dir"}
    out: list[str] = []
    for parent in reversed(Path(dest).parents):
        if str(parent) not in made and not str(parent).startswith("/usr"):
            made.add(str(parent))
            out += ["--perms", "0755", "--dir", str(parent)]
    return out


def _namespace_args(limits: Limits, *, tmp_perms: str, as_root: bool) -> list[str]:
    """bubblewrap options shared by every sandbox: namespaces, /proc, /dev, a private /tmp and
    the read-only system, Python and course package."""
    ro, args = _system_binds()
    ro += _python_binds()
    size = str(limits.disk_mb * 1024 * 1024)
    # The private /tmp first: the environment, or the course's package, may live under the
    # host's /tmp, and their binds must land on top of it, not under it.
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--perms", tmp_perms, "--size", size, "--tmpfs", "/tmp"]
    for source, dest in ro:
        args += [*_parents(dest, args), "--ro-bind", source, dest]
    # Every namespace but the user namespace (--unshare-all would add one, and as root it
    # maps only root, so the command could not become another user).
    args += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
    args += ["--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    args += ["--hostname", "sandbox"]
    if not as_root:
        # Not root: bubblewrap works in a user namespace of its own; none below it.
        args += ["--unshare-user", "--disable-userns"]
    return args


def _font_args() -> list[str]:
    args = []
    for font_list in _matplotlib_font_cache():
        args += ["--ro-bind", str(font_list), f"/tmp/matplotlib/{font_list.name}"]
    return args


def kernel_environment() -> dict[str, str]:
    """The whole environment of a sandboxed kernel (the nursery sets the folders per kernel)."""
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
        # The kernel imports the helper package the grader bound (_python_binds), even where
        # an editable install in the environment points at another checkout, which is not bound.
        "PYTHONPATH": str(Path(softplus_course.__file__).parent.parent),
    }
    env.update({k: os.environ[k] for k in PASS_ENV if k in os.environ})
    return env


class NurseryError(RuntimeError):
    """The nursery refused a request or stopped answering."""


class Nursery:
    """One long-lived sandbox per grading process in which kernels are started by forking a
    process that has imported numpy, matplotlib and torch once (``nursery.py`` says how each
    kernel is confined). Only when grading as root: a kernel needs a user id of its own.

    :meth:`for_slot` keeps one per (slot, limits) in this process and starts a new one when the
    previous has died.
    """

    _kept: dict[tuple[int, Limits], Nursery] = {}

    @classmethod
    def for_slot(cls, limits: Limits, slot: int) -> Nursery:
        nursery = cls._kept.get((slot, limits))
        if nursery is None or nursery.process.poll() is not None:
            if nursery is not None:
                nursery.close()
            nursery = cls._kept[(slot, limits)] = cls(limits, slot)
        return nursery

    def __init__(self, limits: Limits, slot: int, answer_timeout: float = 60.0):
        if os.geteuid() != 0:
            raise NurseryError("the nursery gives each kernel a user id of its own: root only")
        self.limits, self.slot, self.answer_timeout = limits, slot, answer_timeout
        self.started = 0
        self._lock = threading.Lock()
        self.ipc_root = tempfile.mkdtemp(prefix="softplus-nursery-")
        os.chmod(self.ipc_root, 0o711)  # each kernel's socket folder inside is its user's only
        args = _namespace_args(limits, tmp_perms="0711", as_root=True)
        args += ["--perms", "0755", "--dir", "/tmp/matplotlib", *_font_args()]
        args += [*_parents(self.ipc_root, args), "--bind", self.ipc_root, self.ipc_root]
        args += ["--chdir", "/tmp", "--clearenv"]
        env = {**kernel_environment(), "HOME": "/tmp", "MPLCONFIGDIR": "/tmp/matplotlib"}
        for key, value in env.items():
            args += ["--setenv", key, value]
        # The nursery itself stays root inside its namespaces, with only what it needs to start
        # and stop kernels as other users.
        args += ["--cap-drop", "ALL"]
        for cap in NURSERY_CAPS:
            args += ["--cap-add", cap]
        rlimits = {**limits.rlimits(), "cpu_seconds": NURSERY_CPU_SECONDS}
        command = _launch(rlimits, [*args, "--", sys.executable, "-I", str(NURSERY_PROGRAM)])
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=self.ipc_root,
        )
        hello = self._answer(timeout=180.0)
        if not hello.get("ready"):
            self.close()
            raise NurseryError(f"the nursery did not start: {hello}")
        self.preloaded = hello.get("preloaded", [])
        atexit.register(self.close)

    @classmethod
    def close_all(cls) -> None:
        """Stop every nursery of this process (and with it any kernel still inside)."""
        for nursery in list(cls._kept.values()):
            nursery.close()

    def _answer(self, timeout: float) -> dict:
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else b""
        if not line:
            self.close()
            raise NurseryError("the nursery stopped answering")
        return json.loads(line)

    def call(self, **request) -> dict:
        # One request and its answer at a time (a Formgrader may grade from several threads).
        with self._lock:
            try:
                self.process.stdin.write(json.dumps(request).encode() + b"\n")
                self.process.stdin.flush()
            except (BrokenPipeError, ValueError) as exc:
                self.close()
                raise NurseryError("the nursery has stopped") from exc
            answer = self._answer(self.answer_timeout)
        if not answer.get("ok"):
            raise NurseryError(f"the nursery refused {request['op']}: {answer.get('error')}")
        return answer

    def box(self) -> NurseryBox:
        """A sandbox for one kernel, with a user id no other running kernel has."""
        with self._lock:
            number = self.started
            self.started += 1
        uid = KERNEL_UID_BASE + self.slot * KERNELS_PER_SLOT + number % KERNELS_PER_SLOT
        return NurseryBox(self, number, uid)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream:
                stream.close()
        shutil.rmtree(self.ipc_root, ignore_errors=True)
        if self._kept.get((self.slot, self.limits)) is self:
            del self._kept[(self.slot, self.limits)]


class NurseryBox:
    """The sandbox of one kernel started by a :class:`Nursery` (the counterpart of
    :class:`Sandbox` for :class:`SandboxedKernelManager`)."""

    def __init__(self, nursery: Nursery, number: int, uid: int):
        self.nursery, self.number, self.uid = nursery, number, uid
        self.ipc_dir = os.path.join(nursery.ipc_root, str(number))
        os.mkdir(self.ipc_dir, 0o700)
        os.chown(self.ipc_dir, uid, uid)
        self.started = False

    def start(self, connection_file: str) -> ForkedKernel:
        self.nursery.call(
            op="start",
            id=self.number,
            uid=self.uid,
            connection_file=connection_file,
            limits=self.nursery.limits.rlimits(),
            env=kernel_environment(),
        )
        self.started = True
        return ForkedKernel(self)

    def lock(self) -> None:
        os.chown(self.ipc_dir, 0, 0)
        os.chmod(self.ipc_dir, 0o711)

    def cleanup(self) -> None:
        try:
            if self.started and self.nursery.process.poll() is None:
                self.nursery.call(op="stop", id=self.number)
                self.started = False
        finally:
            shutil.rmtree(self.ipc_dir, ignore_errors=True)

    def __enter__(self) -> NurseryBox:
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()


class ForkedKernel:
    """What jupyter_client's provisioner needs of a kernel process (poll, wait, signals), for a
    kernel that is the nursery's child, not the grader's."""

    stdin = stdout = stderr = None

    def __init__(self, box: NurseryBox):
        self.box = box
        self.pid = box.number  # not a process id on this host: only an identifier
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            if not self.box.started or self.box.nursery.process.poll() is not None:
                self.returncode = -signal.SIGKILL
            else:
                status = self.box.nursery.call(op="poll", id=self.box.number)["status"]
                self.returncode = status
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("kernel", timeout)
            time.sleep(0.05)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if signum in (signal.SIGKILL, signal.SIGTERM):
            self.kill()
        elif self.poll() is None:
            self.box.nursery.call(op="signal", id=self.box.number, signal=int(signum))

    def kill(self) -> None:
        if self.box.started and self.box.nursery.process.poll() is None:
            self.box.nursery.call(op="stop", id=self.box.number)
        self.box.started = False
        if self.returncode is None:
            self.returncode = -signal.SIGKILL

    terminate = kill


def _uses_nursery(nursery: bool) -> bool:
    return nursery and os.geteuid() == 0


def kernel_box(limits: Limits, slot: int = 0, nursery: bool = True) -> Sandbox | NurseryBox:
    """The sandbox for one student kernel: forked by this process's :class:`Nursery` when
    grading as root (unless ``nursery`` is False), else a bubblewrap sandbox of its own."""
    if _uses_nursery(nursery):
        return Nursery.for_slot(limits, slot).box()
    return Sandbox(limits, slot=slot)


def start_nursery(limits: Limits, slot: int = 0, nursery: bool = True) -> None:
    """Start the nursery that :func:`kernel_box` will fork from, if it will use one."""
    if _uses_nursery(nursery):
        Nursery.for_slot(limits, slot)


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs in a :class:`Sandbox` (or is forked by a
    :class:`Nursery`) and talks over Unix sockets.

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
        command = super().format_kernel_cmd(extra_arguments)
        if isinstance(self.sandbox, NurseryBox):
            return command  # not run: the nursery forks the kernel
        return self.sandbox.command(command)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        if isinstance(self.sandbox, NurseryBox):
            provisioner = self.provisioner
            provisioner.process = self.sandbox.start(self.connection_file)
            provisioner.pid, provisioner.pgid = provisioner.process.pid, None
            self._reconcile_connection_info(provisioner.connection_info)
            return None
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
