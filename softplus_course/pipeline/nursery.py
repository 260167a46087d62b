"""The nursery: inside one bubblewrap sandbox, start student kernels by forking a process that
has already imported what every lesson imports (part of the trust boundary, with sandbox.py).

Starting a kernel and importing numpy, matplotlib and torch costs 2-3 s, more than most graded
notebooks then compute. A grading process running as root therefore starts this program once,
inside a sandbox made by :class:`~.sandbox.Nursery` (no network, its own process tree, the system
read-only, nothing of the course visible). It imports the heavy modules once and then, for every
submission, forks a child that becomes that submission's kernel:

1. a new session, its standard streams on /dev/null, every other inherited file closed;
2. the submission's resource limits;
3. a user id of its own (a new one for every kernel the nursery starts), no supplementary
   groups, no capabilities left in any set (bounding set dropped first), and ``no_new_privs``;
   the child checks ``/proc/self/status`` and exits if any capability survived;
4. its own folders (home, work, tmp), 0700 and owned by that user: ``/tmp`` itself is not
   writable, so nothing one kernel leaves behind can be read by, or get in the way of, another;
5. a clean environment and fresh random seeds, then ipykernel with the grader's connection
   file (Unix sockets in a folder only that user may enter).

Stopping a kernel kills every process of its user id (``kill(-1)`` as that user, repeated until
none is left) and removes its folders. Kernels of different submissions never share a user id,
so none can signal, trace or read another, nor the nursery (which keeps the capabilities to
change user id, kill and remove files, and nothing else).

The nursery reads one JSON request per line on standard input and answers one JSON line on
standard output. It is started only by the grader and trusts only it; of the course it imports
only what it preloads and the launcher's table of resource limits.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import shutil
import signal
import sys
import time

from softplus_course.pipeline.sandbox_launch import LIMITS as RLIMITS

KERNELS_ROOT = "/tmp/kernels"
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"  # inside the nursery's private /tmp
# Imported once here so that no kernel pays for them; a lesson importing them gets them at once.
PRELOAD = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "numpy",
    "matplotlib",
    "matplotlib.figure",
    "matplotlib.font_manager",
    "matplotlib.backends.backend_agg",
    "torch",
    # torch imports these on first use: an optimizer's first step (lesson 09) and gradcheck
    # (lesson 07) took 1.3-2.3 s in every kernel for torch._dynamo with sympy.
    "torch._dynamo",
    "mpmath",
    "softplus_course",
    "softplus_course.checks",
    "softplus_course.experiments",
    "softplus_course.numerics",
    "softplus_course.plotting",
)
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
LAST_CAP = 63

_libc = ctypes.CDLL(None, use_errno=True)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _drop_privileges(uid: int) -> None:
    """Become ``uid`` with no capabilities, no way to regain any, and no groups."""
    for cap in range(LAST_CAP + 1):
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # EINVAL past the kernel's last: ignored
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # clears the permitted and effective sets
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    if _libc.capset(ctypes.byref(header), data) != 0:  # clears the inheritable set too
        raise OSError(ctypes.get_errno(), "capset failed")
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "no_new_privs failed")
    status = dict(
        line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line
    )
    caps = [status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")]
    if any(int(c, 16) for c in caps) or status["NoNewPrivs"].strip() != "1":
        raise OSError(f"privileges survived: {caps}")
    if os.getuid() != uid or os.geteuid() != uid or os.getgid() != uid or os.getgroups():
        raise OSError("the user id did not change")


def _become_kernel(request: dict, folder: str) -> None:
    """In the forked child: confine it, then run ipykernel. Never returns."""
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        for name, value in request["limits"].items():
            resource.setrlimit(RLIMITS[name], (value, value))
        _drop_privileges(request["uid"])
        os.chdir(f"{folder}/work")
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ.update(
            {
                "HOME": f"{folder}/home",
                "TMPDIR": f"{folder}/tmp",
                "MPLCONFIGDIR": f"{folder}/matplotlib",
                "IPYTHONDIR": f"{folder}/ipython",
                "XDG_CACHE_HOME": f"{folder}/cache",
                "XDG_CONFIG_HOME": f"{folder}/config",
                "MPLBACKEND": INLINE_BACKEND,
            }
        )
        _fresh_process_state()
        sys.argv = ["ipykernel_launcher", "-f", request["connection_file"]]
        sys.path.insert(0, "")  # as `python -m ipykernel_launcher` run in the work folder
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
        code = 0
    except BaseException:  # noqa: BLE001 - the child must never return into the nursery's loop
        code = 70
    os._exit(code)


def _fresh_process_state() -> None:
    """What a newly started kernel would not share with every other kernel of this nursery."""
    import tempfile

    tempfile.tempdir = None
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()  # the legacy global generator, seeded from entropy
    if "matplotlib" in sys.modules:
        import matplotlib

        for name in ("get_configdir", "get_cachedir"):
            cached = getattr(matplotlib, name, None)
            if hasattr(cached, "cache_clear"):
                cached.cache_clear()


def _living_processes(uid: int) -> list[int]:
    """Process ids of this sandbox whose real or saved user id is ``uid`` (zombies aside)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
        except OSError:
            continue  # gone meanwhile
        if fields["State"].split()[0] != "Z" and str(uid) in fields["Uid"].split():
            found.append(int(entry))
    return found


def _kill_user(uid: int) -> None:
    """Kill every process of ``uid`` in this sandbox: ``kill(-1)`` from a child that becomes
    that user (it reaches them all at once, however many they fork), until none is left."""
    for _ in range(500):
        if not _living_processes(uid):
            return
        killer = os.fork()
        if killer == 0:
            try:
                os.setgroups([])
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
                os.kill(-1, signal.SIGKILL)  # all of this user's processes but the caller
            finally:
                os._exit(0)
        os.waitpid(killer, 0)
        time.sleep(0.005)  # the dead are reaped by their parents, or by bubblewrap's init
    raise OSError(f"processes of user {uid} survived")


class Nursery:
    def __init__(self) -> None:
        self.kernels: dict[int, dict] = {}  # id -> {"pid", "uid", "folder", "status"}

    def start(self, request: dict) -> dict:
        number, uid = int(request["id"]), int(request["uid"])
        if number in self.kernels:
            raise ValueError(f"kernel {number} exists")
        if any(k["uid"] == uid and k["status"] is None for k in self.kernels.values()):
            raise ValueError(f"user {uid} is in use")
        _kill_user(uid)  # nothing of an earlier kernel with this user id may be left
        folder = f"{KERNELS_ROOT}/{number}"
        shutil.rmtree(folder, ignore_errors=True)
        os.mkdir(folder, 0o700)
        for sub in ("home", "work", "tmp", "matplotlib", "ipython", "cache", "config"):
            os.mkdir(f"{folder}/{sub}", 0o700)
            os.chown(f"{folder}/{sub}", uid, uid)
        os.chown(folder, uid, uid)
        pid = os.fork()
        if pid == 0:
            _become_kernel(request, folder)
        self.kernels[number] = {"pid": pid, "uid": uid, "folder": folder, "status": None}
        return {"pid": pid}

    def _reap(self, kernel: dict, block: bool = False) -> None:
        if kernel["status"] is None:
            try:
                pid, status = os.waitpid(kernel["pid"], 0 if block else os.WNOHANG)
            except ChildProcessError:
                pid, status = kernel["pid"], 0
            if pid:
                kernel["status"] = os.waitstatus_to_exitcode(status)

    def poll(self, request: dict) -> dict:
        kernel = self.kernels[int(request["id"])]
        self._reap(kernel)
        return {"status": kernel["status"]}

    def signal(self, request: dict) -> dict:
        kernel = self.kernels[int(request["id"])]
        self._reap(kernel)
        if kernel["status"] is None:
            os.kill(kernel["pid"], int(request["signal"]))
        return {}

    def stop(self, request: dict) -> dict:
        number = int(request["id"])
        kernel = self.kernels.get(number)
        if kernel is None:
            return {"status": None}
        _kill_user(kernel["uid"])
        self._reap(kernel, block=True)
        shutil.rmtree(kernel["folder"], ignore_errors=True)
        del self.kernels[number]
        return {"status": kernel["status"]}


def main() -> int:
    # The grader's pipe, kept away from fds 0 and 1, which the kernels' stdio replace.
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(null, fd)
    # What ipykernel sets before a notebook imports matplotlib (read once, at that import).
    os.environ["MPLBACKEND"] = INLINE_BACKEND
    os.makedirs(KERNELS_ROOT, mode=0o711, exist_ok=True)
    for name in PRELOAD:
        try:
            __import__(name)
        except ImportError:
            pass  # not installed: kernels import what they need themselves
    nursery = Nursery()

    def answer(message: dict) -> None:
        replies.write(json.dumps(message).encode() + b"\n")
        replies.flush()

    answer({"ready": True, "preloaded": sorted(n for n in PRELOAD if n in sys.modules)})
    for line in requests:
        try:
            request = json.loads(line)
            operation = {
                "start": nursery.start,
                "poll": nursery.poll,
                "signal": nursery.signal,
                "stop": nursery.stop,
            }[request["op"]]
            answer({"ok": True, **operation(request)})
        except Exception as exc:  # noqa: BLE001 - told to the grader, which decides
            answer({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
