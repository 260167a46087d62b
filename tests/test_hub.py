"""The course on JupyterHub, from a student's login to returned feedback (docs/jupyterhub.md).

One JupyterHub for the module, configured by ``deploy/jupyterhub_config.py``, runs as root on
free ports of 127.0.0.1 with configurable-http-proxy from ``deploy/package-lock.json`` (``npm
ci`` into ``deploy/node_modules``). Real Linux accounts, created here and removed afterwards
whatever happens, log in through PAM: an instructor and two students in groups of their own,
and ten more students for the load test. Their JupyterLab servers run as those accounts.

The commands are the guide's: every ``bash`` block of docs/jupyterhub.md is run as written, as
the account it names, with this test's names and temporary folders substituted (the
``GUIDE_NAMES`` below). Debian's Chromium, driven by Playwright, logs a student in, fetches lesson
01 from the Assignments panel, validates and submits it there, and later fetches the feedback
and opens it. Ten students fetch and submit at once from nbgrader's command line; everything is
collected and graded in one run of the course's grader (``--jobs 2``, in its sandbox, as root).
The timings are written to ``artifacts/hub/timings.json``.

The accounts must be able to run this Python environment and read the repository (their
servers import softplus_course from it, and read their settings from deploy/). Where a folder
above them is closed to others (``/root``, when the environment's interpreter comes from pyenv
there; a private temporary folder in CI), the test gives its own two groups, and no one else,
the right to pass through that folder (an ACL entry ``g:<group>:x``, ``setfacl``) and removes it
afterwards. The release step writes lesson 01's visible checks into the environment's
softplus_course package (the repository's, in an editable install): the same file, unless
specs/ changed without a release.

Without root, Node and npm, Chromium and Playwright, jupyterhub, bubblewrap or setfacl, the
module skips with a message, except where ``CI`` is set: there it fails.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import csv
import fcntl
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import nbformat
import psutil
import pytest
from conftest import CHROMIUM, LESSONS, ROOT, launch_chromium

from softplus_course.pipeline import fill_answers, read_notebook
from softplus_course.pipeline.grading import copy_course

try:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - reported by the `hub` fixture
    sync_playwright = None

DEPLOY = ROOT / "deploy"
GUIDE = ROOT / "docs" / "jupyterhub.md"
REQUIREMENTS = DEPLOY / "requirements.txt"
LESSON = LESSONS[0]  # 01_definition: released, submitted, graded
COURSE_ID = "softplus"
ARTIFACTS = ROOT / "artifacts" / "hub"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
UI_TIMEOUT_MS = 30_000
SPAWN_TIMEOUT_MS = 120_000  # login to JupyterLab on screen, with a cold start of the server
VALIDATE_TIMEOUT_MS = 120_000
COMMAND_TIMEOUT_S = 300
# Grading as root waits for the machine-wide grading lock while another grading run holds it.
GRADE_TIMEOUT_S = 900
HUB_TIMEOUT_S = 60
LOAD_STUDENTS = 10

# A guide block: an HTML comment naming it and who runs it, then a ```bash fence.
BLOCK = re.compile(
    r"<!-- hub-test: (?P<name>[\w-]+) as=(?P<who>\w+) -->\n```bash\n(?P<body>.*?)```", re.S
)
# The guide's names, replaced by the test's (GuideRunner.substitute).
GUIDE_NAMES = {
    "teacher": "instructor",
    "alice": "student",
    "bob": "other student",
}

pytestmark = [pytest.mark.hub, pytest.mark.slow]


def _unavailable(reason: str) -> None:
    message = f"the JupyterHub test cannot run here: {reason}"
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{message}. CI is set, so this fails instead of skipping.", pytrace=False)
    pytest.skip(message)


# --- the users' environment: deploy/requirements.txt -------------------------------------------


def _requirements() -> list[tuple[str, str]]:
    """(name, exact version) of every line of deploy/requirements.txt."""
    pins = []
    for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.]+)", line)
        assert match, f"{REQUIREMENTS.name}: not an exact pin: {line!r}"
        pins.append((match.group(1), match.group(2)))
    return pins


@pytest.mark.hub
def test_requirements_are_exact_and_installed_here():
    """Every package of the users' environment is pinned, and installed at that version in this
    environment, the one the hub test runs the users' servers from (a local version label such
    as torch's ``+cpu`` aside)."""
    pins = dict(_requirements())
    assert pins.get("torch") == "2.13.0", "torch must be pinned to 2.13.0 (the CPU build)"
    for needed in ["jupyterhub", "jupyterlab", "nbgrader", "ipykernel", "numpy", "matplotlib"]:
        assert needed in pins, f"{needed} is missing from {REQUIREMENTS.name}"
    assert "mpmath" in pins
    wrong = {}
    for name, version in pins.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed is None or installed.split("+")[0] != version:
            wrong[name] = (version, installed)
    assert not wrong, f"pinned in {REQUIREMENTS.name} vs installed here: {wrong}"


@pytest.mark.hub
def test_every_guide_block_is_marked_and_known():
    """Each ``bash`` block of the guide is one the hub test runs (marked with its runner), and
    blocks that are not run use another fence (``sh``) and say so."""
    text = GUIDE.read_text(encoding="utf-8")
    fences = re.findall(r"^```bash$", text, flags=re.M)
    blocks = BLOCK.findall(text)
    assert len(blocks) == len(fences), "a ```bash block of the guide has no hub-test marker"
    names = [name for name, _, _ in blocks]
    assert len(set(names)) == len(names), f"duplicate block names: {names}"
    assert {who for _, who, _ in blocks} <= {"root", *GUIDE_NAMES}
    assert set(names) == set(RUN_ORDER), (
        f"blocks the test does not run: {set(names) - set(RUN_ORDER)}; "
        f"blocks it expects but the guide lacks: {set(RUN_ORDER) - set(names)}"
    )
    untested = [m.start() for m in re.finditer(r"^```sh$", text, flags=re.M)]
    assert untested, "the guide's install and Kubernetes blocks are gone"
    for at in untested:
        assert "not run by the tests" in text[max(0, at - 700) : at], (
            f"an sh block (line {text[:at].count(chr(10)) + 1}) does not say it is not run"
        )


# Every block of the guide, in the order of a term; test_the_guide_ran_whole checks that the
# module ran each of them.
RUN_ORDER = [
    "groups",
    "add-instructor",
    "add-student",
    "passwords",
    "check-environment",
    "course-folder",
    "start-hub",
    "generate",
    "release",
    "fetch",
    "submit",
    "collect",
    "grade",
    "release-feedback",
    "fetch-feedback",
    "remove-forged",
    "re-release",
    "refetch",
    "backup",
]


# --- the machine: accounts, folders, the proxy ----------------------------------------------


def _run(
    command: list[str], timeout: float = COMMAND_TIMEOUT_S, **kwargs
) -> subprocess.CompletedProcess:
    """Run ``command`` in a process group of its own; at the time limit, stop the whole group
    (a guide block's children too) and fail."""
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **kwargs,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(
            f"{command[-1][:300]!r} still running after {timeout:.0f} s; stopped.\n"
            f"--- stdout\n{stdout[-2000:]}\n--- stderr\n{stderr[-2000:]}",
            pytrace=False,
        )
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _check(result: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
    if result.returncode != 0:
        pytest.fail(
            f"{what} failed (exit {result.returncode}):\n"
            f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}",
            pytrace=False,
        )
    return result


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _install_proxy() -> Path:
    """configurable-http-proxy from deploy/package-lock.json, `npm ci` into deploy/node_modules
    (kept between runs while the lock file is unchanged; a lock serialises parallel runs)."""
    lock = (DEPLOY / "package-lock.json").read_bytes()
    digest = hashlib.sha256(lock).hexdigest()
    modules = DEPLOY / "node_modules"
    stamp = modules / ".softplus-lock.sha256"
    proxy = modules / ".bin" / "configurable-http-proxy"
    with open(DEPLOY / ".npm-ci.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if not (proxy.exists() and stamp.is_file() and stamp.read_text() == digest):
            _check(
                _run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=DEPLOY),
                "npm ci in deploy/",
            )
            stamp.write_text(digest)
    version = _check(_run([str(proxy), "--version"]), "configurable-http-proxy --version")
    expected = json.loads(lock)["packages"]["node_modules/configurable-http-proxy"]["version"]
    assert version.stdout.strip() == expected
    return proxy


def _blocked_folders(paths: list[Path]) -> list[Path]:
    """Folders on the way to ``paths`` that others may not pass through (no o+x)."""
    blocked = []
    for path in paths:
        for folder in [*reversed(path.parents), path]:
            if folder.is_dir() and not os.stat(folder).st_mode & 0o001 and folder not in blocked:
                blocked.append(folder)
    return blocked


@dataclass
class Account:
    name: str
    password: str
    role: str  # "instructor" or "student"

    @property
    def home(self) -> Path:
        return Path(pwd.getpwnam(self.name).pw_dir)


@dataclass
class Machine:
    """What the module set up: folders, accounts, the hub, the guide's blocks, measurements."""

    base: Path
    course: Path
    exchange: Path
    state: Path
    passwords: Path
    groups: dict[str, str]
    instructor: Account
    students: list[Account]  # [alice, bob]
    load: list[Account]
    blocks: dict[str, tuple[str, str]]
    ran: set[str] = field(default_factory=set)
    timings: dict[str, float] = field(default_factory=dict)
    notes: dict[str, object] = field(default_factory=dict)
    url: str = ""
    process: subprocess.Popen | None = None
    log: Path | None = None

    # The guide's names -> ours. Longest first, whole words for account and group names.
    def substitute(self, text: str, student: Account | None = None) -> str:
        student = student or self.students[0]
        paths = {
            "/opt/softplus-hub": str(DEPLOY),
            "/opt/softplus-env": sys.prefix,
            "/srv/nbgrader/exchange": str(self.exchange),
            "/srv/jupyterhub": str(self.state),
            "/srv/softplus": str(self.course),
            "/root/softplus-passwords.txt": str(self.passwords),
        }
        for guide, ours in paths.items():
            text = re.sub(re.escape(guide) + r"(?![\w-])", ours, text)
        words = {
            "softplus-instructors": self.groups["instructor"],
            "softplus-students": self.groups["student"],
            "teacher": self.instructor.name,
            "alice": student.name,
            "bob": self.students[1].name,
        }
        for guide, ours in words.items():
            text = re.sub(r"(?<![\w-])" + re.escape(guide) + r"(?![\w-])", ours, text)
        return text

    def environment(self, account: Account | None) -> dict[str, str]:
        """What the hub gives a user's server (and so its terminals); root: this process's."""
        path = os.pathsep.join([str(Path(sys.prefix) / "bin"), "/usr/local/bin", "/usr/bin"])
        env = {
            "PATH": path + os.pathsep + "/bin",
            "LANG": "C.UTF-8",
            "SOFTPLUS_EXCHANGE": str(self.exchange),
            "SOFTPLUS_COURSE_DIR": str(self.course),
        }
        if account is None:
            return {**os.environ, **env, "PATH": path + os.pathsep + os.environ.get("PATH", "")}
        return {
            **env,
            "HOME": str(account.home),
            "USER": account.name,
            "LOGNAME": account.name,
            "JUPYTER_CONFIG_PATH": str(DEPLOY / "jupyter" / account.role),
        }

    def command(self, name: str, student: Account | None = None) -> tuple[list[str], dict]:
        """The guide's block ``name`` as a command line for its runner, and its environment."""
        who, body = self.blocks[name]
        script = self.substitute(body, student)
        self.ran.add(name)
        if who == "root":
            return ["bash", "-euo", "pipefail", "-c", script], self.environment(None)
        account = self.instructor if who == "teacher" else student or self.students[0]
        if who == "bob":
            account = self.students[1]
        env = self.environment(account)
        command = ["runuser", "-u", account.name, "--", "env", "-i"]
        command += [f"{key}={value}" for key, value in env.items()]
        command += ["bash", "-euo", "pipefail", "-c", script]
        return command, {**os.environ}

    def run(self, name: str, student: Account | None = None) -> subprocess.CompletedProcess:
        command, env = self.command(name, student)
        who = student.name if student else self.blocks[name][0]
        timeout = GRADE_TIMEOUT_S if name == "grade" else COMMAND_TIMEOUT_S
        result = _run(command, timeout=timeout, env=env, cwd="/")
        return _check(result, f"the guide's block {name!r} (as {who})")

    def as_user(self, account: Account, script: str) -> subprocess.CompletedProcess:
        """A command of the test's own (not the guide's) as ``account``; not checked."""
        env = self.environment(account)
        command = ["runuser", "-u", account.name, "--", "env", "-i"]
        command += [f"{key}={value}" for key, value in env.items()]
        return _run([*command, "bash", "-c", script], cwd="/")


def _read_guide() -> dict[str, tuple[str, str]]:
    return {m["name"]: (m["who"], m["body"]) for m in BLOCK.finditer(GUIDE.read_text("utf-8"))}


def _wait_for_hub(machine: Machine) -> None:
    deadline = time.monotonic() + HUB_TIMEOUT_S
    while time.monotonic() < deadline:
        if machine.process.poll() is not None:
            pytest.fail(f"JupyterHub exited at start:\n{_tail(machine.log)}", pytrace=False)
        try:
            with urllib.request.urlopen(f"{machine.url}/hub/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"JupyterHub not answering in {HUB_TIMEOUT_S} s:\n{_tail(machine.log)}")


def _tail(path: Path | None, lines: int = 40) -> str:
    if path is None or not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _stop_hub(machine: Machine) -> int | None:
    """SIGTERM, as systemd stops it: the hub stops every user's server and the proxy."""
    process = machine.process
    if process is None or process.poll() is not None:
        return None if process is None else process.returncode
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=HUB_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=HUB_TIMEOUT_S)
        return None


def _processes_of(names: set[str]) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["username"]):
        if process.info["username"] in names:
            found.append(process)
    return found


@pytest.fixture(scope="module")
def machine():
    if sys.platform != "linux" or os.geteuid() != 0:
        _unavailable("it must run as root on Linux (it creates Linux accounts for PAM)")
    for tool in ["useradd", "userdel", "groupadd", "chpasswd", "runuser", "setfacl", "getfacl"]:
        if shutil.which(tool) is None:
            _unavailable(f"`{tool}` is missing (`apt-get install passwd util-linux acl`)")
    for tool in ["node", "npm"]:
        if shutil.which(tool) is None:
            _unavailable(f"`{tool}` is missing (`apt-get install nodejs npm`)")
    if shutil.which("bwrap") is None:
        _unavailable("bubblewrap is missing (`apt-get install bubblewrap`): grading needs it")
    try:
        import jupyterhub  # noqa: F401
        import pamela  # noqa: F401
    except ImportError as exc:
        _unavailable(f"{exc.name} is not installed (`pip install -e '.[dev]'`)")
    if sync_playwright is None or not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"Playwright and Debian's Chromium ({CHROMIUM}) are needed")

    start = time.monotonic()
    proxy = _install_proxy()
    base = Path(tempfile.mkdtemp(prefix="softplus-hub-"))
    base.chmod(0o755)  # the accounts pass through it to the exchange
    suffix = secrets.token_hex(3)
    groups = {"instructor": f"spt{suffix}-instr", "student": f"spt{suffix}-stud"}

    def account(tag: str, role: str) -> Account:
        return Account(f"spt{suffix}{tag}", secrets.token_urlsafe(18), role)

    created_groups: list[str] = []
    created_users: list[str] = []
    acl_folders: list[tuple[Path, int, bool]] = []
    machine = Machine(
        base=base,
        course=base / "course",
        exchange=base / "exchange",
        state=base / "hub-state",
        passwords=base / "passwords.txt",
        groups=groups,
        instructor=account("t", "instructor"),
        students=[account("a", "student"), account("b", "student")],
        load=[account(f"l{n:02d}", "student") for n in range(LOAD_STUDENTS)],
        blocks=_read_guide(),
        log=base / "hub.log",
    )
    machine.notes["proxy"] = str(proxy)
    try:
        # Accounts and groups, by the guide (its commands, our names).
        machine.run("groups")
        created_groups += groups.values()
        machine.run("add-instructor")
        created_users.append(machine.instructor.name)
        for student in [*machine.students, *machine.load]:
            machine.run("add-student", student)
            created_users.append(student.name)
        everyone = [machine.instructor, *machine.students, *machine.load]
        machine.passwords.write_text("".join(f"{a.name}:{a.password}\n" for a in everyone))
        machine.passwords.chmod(0o600)
        machine.run("passwords")
        machine.timings["accounts_s"] = time.monotonic() - start

        # The environment and the repository must be readable by the accounts: open the way
        # through closed folders for our two groups only.
        needed = [Path(sys.executable).resolve(), Path(sys.prefix), ROOT]
        for folder in _blocked_folders(needed):
            listed = _run(
                ["getfacl", "--absolute-names", "--skip-base", "--omit-header", str(folder)]
            )
            had_acl = bool(listed.stdout.strip())
            acl_folders.append((folder, os.stat(folder).st_mode & 0o7777, had_acl))
            for group in groups.values():
                _check(_run(["setfacl", "-m", f"g:{group}:x", str(folder)]), f"setfacl {folder}")
        machine.notes["folders opened to the test's groups"] = [str(f) for f, _, _ in acl_folders]
        machine.run("check-environment")

        # The course folder: config, specifications and solutions (a clone has them), and the
        # exchange with the permissions nbgrader expects, by the guide.
        copy_course(ROOT, machine.course)
        machine.run("course-folder")

        # The hub, by the guide's block, on free ports of 127.0.0.1.
        port = _free_port()
        machine.url = f"http://127.0.0.1:{port}"
        command, env = machine.command("start-hub")
        env.update(
            SOFTPLUS_HUB_IP="127.0.0.1",
            SOFTPLUS_HUB_PORT=str(port),
            SOFTPLUS_HUB_API_PORT=str(_free_port()),
            SOFTPLUS_PROXY_API_PORT=str(_free_port()),
            SOFTPLUS_PROXY=str(proxy),
            SOFTPLUS_HUB_STATE=str(machine.state),
            SOFTPLUS_INSTRUCTORS=groups["instructor"],
            SOFTPLUS_STUDENTS=groups["student"],
            SOFTPLUS_EXCHANGE=str(machine.exchange),
            SOFTPLUS_COURSE_DIR=str(machine.course),
        )
        hub_start = time.monotonic()
        with open(machine.log, "wb") as log:
            machine.process = subprocess.Popen(
                command,
                env=env,
                cwd="/",
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_for_hub(machine)
        machine.timings["hub_start_s"] = time.monotonic() - hub_start
        yield machine
    finally:
        _stop_hub(machine)
        for process in _processes_of(set(created_users)):
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        for name in created_users:
            _run(["userdel", "--remove", "--force", name])
        for group in created_groups:
            _run(["groupdel", group])
        for folder, mode, had_acl in acl_folders:
            for group in groups.values():
                _run(["setfacl", "-x", f"g:{group}", str(folder)])
            if not had_acl:
                _run(["setfacl", "-b", str(folder)])
            os.chmod(folder, mode)
        shutil.rmtree(base, ignore_errors=True)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        report = {"timings": machine.timings, "notes": machine.notes}
        (ARTIFACTS / "timings.json").write_text(json.dumps(report, indent=1, default=str))
        print("\nJupyterHub test measurements:", json.dumps(report, indent=1, default=str))


@pytest.fixture(scope="module")
def browser(machine):
    with sync_playwright() as playwright:
        try:
            chromium = launch_chromium(playwright, UI_TIMEOUT_MS)
        except PlaywrightError as exc:
            _unavailable(f"Playwright cannot launch Chromium: {str(exc).splitlines()[0]}")
        yield chromium
        chromium.close()


# --- a user in the browser --------------------------------------------------------------------


def _log_in(browser, machine: Machine, account: Account):
    """Log ``account`` in through the hub's form; return (context, page) with JupyterLab up."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{machine.url}/hub/login")
    page.fill("input[name=username]", account.name)
    page.fill("input[name=password]", account.password)
    start = time.monotonic()
    page.press("input[name=password]", "Enter")
    try:
        page.wait_for_url(re.compile(rf"/user/{account.name}/lab"), timeout=SPAWN_TIMEOUT_MS)
        page.locator(".lm-MenuBar-item", has_text="Nbgrader").wait_for(timeout=SPAWN_TIMEOUT_MS)
    except PlaywrightError:
        page.screenshot(path=SCREENSHOTS / f"hub-login-{account.role}.png")
        pytest.fail(f"{account.role} not in JupyterLab: {page.url}\n{_tail(machine.log)}")
    key = f"{account.role}_login_to_lab_s"
    if key in machine.timings:  # a second login: the server is already running
        key = f"{account.role}_login_again_to_lab_s"
    machine.timings[key] = time.monotonic() - start
    page.errors = errors  # type: ignore[attr-defined]
    return context, page


def _nbgrader_menu(page) -> list[str]:
    """The visible entries of JupyterLab's Nbgrader menu (opened and closed again)."""
    page.locator(".lm-MenuBar-item", has_text="Nbgrader").click()
    items = page.locator(".lm-Menu .lm-Menu-item:visible .lm-Menu-itemLabel").all_inner_texts()
    page.keyboard.press("Escape")
    return [item.strip() for item in items if item.strip()]


def _server_status(context, machine: Machine, account: Account, path: str) -> int:
    response = context.request.get(f"{machine.url}/user/{account.name}{path}")
    return response.status


def _server_pid(account: Account) -> psutil.Process:
    found = [
        p
        for p in _processes_of({account.name})
        if any("jupyterhub-singleuser" in part for part in p.cmdline())
    ]
    assert len(found) == 1, f"{account.name}'s servers: {[p.cmdline() for p in found]}"
    return found[0]


def _assignment_row(page, section: str):
    return page.locator(
        f"#{section}_assignments_list .list_item:not(.nested_list_item)", has_text=LESSON.name
    )


def _open_assignments(page) -> None:
    page.locator(".lm-MenuBar-item", has_text="Nbgrader").click()
    page.locator(".lm-Menu-item[data-command='nbgrader:open-assignment-list']").click()
    page.locator("#nbgrader-assignment-list").wait_for()


def _answers(release: nbformat.NotebookNode, student: Account, only: set[str] | None = None):
    """The solutions' answers (those named in ``only``, or all), with the student's marker."""
    nb = fill_answers(release, read_notebook(LESSON.source), only=only)
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            cell.source = f"# answers of {student.name}\n" + cell.source
            break
    return nb


def _marker(path: Path) -> str | None:
    """The student named by the marker in a notebook's first answer cell (:func:`_answers`)."""
    for cell in read_notebook(path).cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            match = re.match(r"# answers of (\S+)\n", cell.source)
            return match.group(1) if match else None
    return None


# --- the term, step by step ---------------------------------------------------------------------


def test_hub_listens_on_loopback_only(machine):
    ports = {
        c.laddr.port: c.laddr.ip
        for p in [
            psutil.Process(machine.process.pid),
            *psutil.Process(machine.process.pid).children(recursive=True),
        ]
        for c in p.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    }
    assert ports, "the hub and its proxy listen on nothing"
    assert set(ports.values()) == {"127.0.0.1"}, f"listening beyond loopback: {ports}"


def test_instructor_releases_and_gets_the_instructor_tools(machine, browser):
    """The course's release (as root) and nbgrader's (as the instructor) put lesson 01 into
    the exchange; the instructor's JupyterLab runs as the instructor with the Formgrader."""
    machine.run("generate")
    released = machine.run("release")
    assert LESSON.name in released.stdout + released.stderr
    outbound = machine.exchange / COURSE_ID / "outbound" / LESSON.name / LESSON.notebook
    assert outbound.is_file(), f"not released to {outbound}"
    assert (
        read_notebook(outbound).cells
        == read_notebook(machine.course / "course" / LESSON.name / LESSON.notebook).cells
    )
    inbound = machine.exchange / COURSE_ID / "inbound"
    assert oct(inbound.stat().st_mode & 0o7777) == oct(0o2733), "nbgrader's inbound mode"

    context, page = _log_in(browser, machine, machine.instructor)
    try:
        menu = _nbgrader_menu(page)
        assert {"Formgrader", "Assignment List"} <= set(menu), f"instructor's menu: {menu}"
        assert _server_status(context, machine, machine.instructor, "/formgrader/api/status") == 200
        server = _server_pid(machine.instructor)
        assert server.username() == machine.instructor.name
        environ = server.environ()
        expected = machine.environment(machine.instructor)
        for key in ["JUPYTER_CONFIG_PATH", "SOFTPLUS_EXCHANGE", "SOFTPLUS_COURSE_DIR"]:
            assert environ.get(key) == expected[key], (
                f"{key}: the hub and the guide's terminal differ"
            )
        page.screenshot(path=SCREENSHOTS / "hub-instructor.png")
    finally:
        context.close()


def test_student_fetches_validates_and_submits_in_the_assignments_panel(machine, browser):
    alice = machine.students[0]
    context, page = _log_in(browser, machine, alice)
    try:
        # A student's JupyterLab: the Assignments panel, Validate, and no instructor tool, in
        # the menu and in the server.
        assert _nbgrader_menu(page) == ["Assignment List"]
        for path in ["/formgrader/api/status", "/formgraders"]:
            assert _server_status(context, machine, alice, path) == 404, f"{path} answers students"
        listed = context.request.get(
            f"{machine.url}/user/{alice.name}/assignments?course_id={COURSE_ID}"
        )
        assert listed.ok and listed.json()["success"], listed.text()[:500]
        assert [a["assignment_id"] for a in listed.json()["value"]] == [LESSON.name]
        server = _server_pid(alice)
        assert server.username() == alice.name
        assert server.environ()["JUPYTER_CONFIG_PATH"] == str(DEPLOY / "jupyter" / "student")

        _open_assignments(page)
        released = _assignment_row(page, "released")
        released.wait_for()
        assert COURSE_ID in released.inner_text()
        page.screenshot(path=SCREENSHOTS / "hub-assignments.png")

        start = time.monotonic()
        released.get_by_role("button", name="Fetch").click()
        fetched = _assignment_row(page, "fetched")
        fetched.wait_for()
        machine.timings["panel_fetch_s"] = time.monotonic() - start
        local = alice.home / LESSON.name / LESSON.notebook
        assert local.is_file() and local.stat().st_uid == pwd.getpwnam(alice.name).pw_uid

        # Answers through the Jupyter contents API, with the page's session.
        api = f"{machine.url}/user/{alice.name}/api/contents/{LESSON.name}/{LESSON.notebook}"
        got = context.request.get(api + "?content=1")
        assert got.ok, f"GET {api}: {got.status}"
        release = nbformat.from_dict(got.json()["content"])
        xsrf = next(c["value"] for c in context.cookies() if c["name"] == "_xsrf")
        body = {"type": "notebook", "format": "json", "content": _answers(release, alice)}
        put = context.request.put(api, data=json.dumps(body), headers={"X-XSRFToken": xsrf})
        assert put.ok, f"PUT {api}: {put.status} {put.text()[:300]}"

        # The lesson's notebooks unfold under it, each with its Validate button.
        fetched.locator("a.assignment-notebooks-link").click()
        notebook = page.locator("#fetched_assignments_list .nested_list_item", has_text=LESSON.name)
        notebook.get_by_role("button", name="Validate").click()
        dialog = page.locator(".jp-Dialog")
        dialog.wait_for(timeout=VALIDATE_TIMEOUT_MS)
        message = dialog.inner_text()
        page.screenshot(path=SCREENSHOTS / "hub-validate.png")
        assert "Success! Your notebook passes all the tests." in message, message
        dialog.locator(".jp-mod-accept").click()

        fetched.get_by_role("button", name="Submit").click()
        submitted = _assignment_row(page, "submitted")
        submitted.wait_for()
        machine.timings["panel_fetch_to_submit_s"] = time.monotonic() - start
        inbound = machine.exchange / COURSE_ID / "inbound"
        mine = [p for p in inbound.iterdir() if p.name.startswith(f"{alice.name}+")]
        assert len(mine) == 1, f"alice's submissions in the exchange: {mine}"
        assert mine[0].stat().st_uid == pwd.getpwnam(alice.name).pw_uid
        assert not page.errors, f"JavaScript errors: {page.errors}"  # type: ignore[attr-defined]
    finally:
        context.close()


def test_ten_students_fetch_and_submit_at_once(machine):
    """From nbgrader's command line, as each account, in parallel: each fetches, answers a
    different set of exercises (a different score) with a marker, and submits. The second
    student fetches too (for the re-release below)."""
    exercises = ["relu", "softplus", "softplus_beta", "softplus_gap_bound"]
    plans = {}
    for n, student in enumerate(machine.load):
        mask = n + 3  # ten different non-empty subsets of the four exercises
        plans[student.name] = {e for i, e in enumerate(exercises) if mask >> i & 1}
    machine.notes["load_answers"] = {k: sorted(v) for k, v in plans.items()}

    def one(student: Account) -> float:
        began = time.monotonic()
        machine.run("fetch", student)
        path = student.home / LESSON.name / LESSON.notebook
        nb = _answers(read_notebook(path), student, only=plans[student.name])
        nbformat.write(nb, path)
        os.chown(path, pwd.getpwnam(student.name).pw_uid, pwd.getpwnam(student.name).pw_gid)
        machine.run("submit", student)
        return time.monotonic() - began

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=LOAD_STUDENTS) as pool:
        each = list(pool.map(one, machine.load))
    machine.timings["load_fetch_submit_wall_s"] = time.monotonic() - start
    machine.timings["load_fetch_submit_slowest_student_s"] = max(each)
    machine.run("fetch", machine.students[1])

    inbound = machine.exchange / COURSE_ID / "inbound"
    owners = {}
    for entry in inbound.iterdir():
        owners.setdefault(entry.name.split("+")[0], []).append(
            pwd.getpwuid(entry.stat().st_uid).pw_name
        )
    for student in machine.load:
        assert owners.get(student.name) == [student.name], (
            f"{student.name}: {owners.get(student.name)}"
        )


def test_collect_and_grade_everything_in_one_run(machine):
    """Bob also hands in a submission under alice's name, after hers: collect takes it, with
    nbgrader's warning, and the guide's procedure puts alice's own back before grading."""
    alice, bob = machine.students
    mine = bob.home / LESSON.name / LESSON.notebook
    nbformat.write(_answers(read_notebook(mine), bob), mine)
    os.chown(mine, pwd.getpwnam(bob.name).pw_uid, pwd.getpwnam(bob.name).pw_gid)
    forged = machine.as_user(bob, f"cd ~ && nbgrader submit {LESSON.name} --student {alice.name}")
    assert forged.returncode == 0, forged

    start = time.monotonic()
    collected = machine.run("collect")
    machine.timings["collect_12_submissions_s"] = time.monotonic() - start
    assert "cheating attempt" in collected.stdout + collected.stderr, collected.stderr[-2000:]
    taken = machine.course / "submitted" / alice.name / LESSON.name / LESSON.notebook
    assert _marker(taken) == bob.name, "collect did not take bob's submission as alice's"
    machine.run("remove-forged", alice)
    assert _marker(taken) == alice.name, "alice's own submission is not back"

    start = time.monotonic()
    graded = machine.run("grade")
    machine.timings["grade_11_submissions_jobs2_s"] = time.monotonic() - start
    machine.notes["grade_summary"] = graded.stdout[-1500:]

    rows = {}
    with open(machine.course / "reports" / "scores.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            rows[row["student"]] = row
    alice = machine.students[0]
    everyone = [alice, *machine.load]
    assert {a.name for a in everyone} <= set(rows), f"graded: {sorted(rows)}"
    assert float(rows[alice.name]["score"]) == 10.0, rows[alice.name]
    points = {"relu": 2, "softplus": 3, "softplus_beta": 3, "softplus_gap_bound": 2}
    patterns = set()
    for student in machine.load:
        row = rows[student.name]
        answered = machine.notes["load_answers"][student.name]
        for exercise, value in points.items():
            expected = value if exercise in answered else 0
            assert float(row[f"test_{exercise}"]) == expected, (student.name, exercise, row)
        patterns.add(tuple(float(row[f"test_{e}"]) for e in points))
        autograded = machine.course / "autograded" / student.name / LESSON.name / LESSON.notebook
        assert _marker(autograded) == student.name, f"{autograded}: another student's work"
    assert len(patterns) == LOAD_STUDENTS, "two students got the same scores: a mix-up?"
    for student in everyone:
        feedback = machine.course / "feedback" / student.name / LESSON.name
        assert (feedback / "submission_secret.txt").is_file()


def test_feedback_returns_to_the_student_and_opens(machine, browser):
    machine.run("release-feedback")
    alice = machine.students[0]
    context, page = _log_in(browser, machine, alice)
    try:
        _open_assignments(page)
        submitted = _assignment_row(page, "submitted")
        submitted.wait_for()
        submitted.get_by_role("button", name="Fetch Feedback").click()
        view = page.locator("#submitted_assignments_list a", has_text="view feedback")
        view.wait_for()
        view.click()
        html_file = page.locator(".jp-DirListing-item", has_text=f"{LESSON.name}.html")
        html_file.wait_for()
        html_file.dblclick()
        toc = page.frame_locator(".jp-HTMLViewer iframe").locator("#toc li")
        toc.first.wait_for()
        entries = [" ".join(t.split()) for t in toc.all_inner_texts()]
        page.screenshot(path=SCREENSHOTS / "hub-feedback.png")
    finally:
        context.close()
    assert "Exercise softplus — 3 / 3 points" in entries, entries
    assert "Exercise relu — 2 / 2 points" in entries, entries
    # The command line fetches the same feedback again.
    folder = alice.home / LESSON.name / "feedback"
    pages = list(folder.rglob(f"{LESSON.name}.html"))
    assert len(pages) == 1, pages
    shutil.rmtree(folder)
    machine.run("fetch-feedback", alice)
    assert list(folder.rglob(f"{LESSON.name}.html")) == pages


def test_another_student_cannot_reach_a_submission_or_its_feedback(machine):
    alice, bob = machine.students
    course = machine.exchange / COURSE_ID
    for folder in [course / "inbound", course / "feedback", alice.home, machine.course]:
        listing = machine.as_user(bob, f"ls {folder}")
        assert listing.returncode != 0 and "Permission denied" in listing.stderr, (folder, listing)
    submission = next(
        p for p in (course / "inbound").iterdir() if p.name.startswith(alice.name + "+")
    )
    owner, lesson, stamp, random = submission.name.split("+")
    assert (owner, lesson) == (alice.name, LESSON.name) and len(random) == 12
    # Every name bob can work out (even with the exact time) misses nbgrader's random part.
    guess = course / "inbound" / f"{alice.name}+{lesson}+{stamp}" / LESSON.notebook
    reading = machine.as_user(bob, f"cat '{guess}'")
    assert reading.returncode != 0 and "No such file" in reading.stderr, reading
    secret = (alice.home / ".local/share/jupyter/nbgrader_cache" / COURSE_ID).glob(
        "*/submission_secret.txt"
    )
    assert list(secret), "alice's nbgrader cache holds her submission's secret"
    reading = machine.as_user(
        bob,
        f"cat {alice.home}/.local/share/jupyter/nbgrader_cache/{COURSE_ID}/*/submission_secret.txt",
    )
    assert reading.returncode != 0, reading
    # What the guide says nbgrader leaves open: the files themselves are world-readable.
    feedback = list((course / "feedback").iterdir())
    assert feedback and all(f.stat().st_mode & 0o004 for f in feedback)
    assert (submission / LESSON.notebook).stat().st_mode & 0o004


def test_a_fixed_lesson_is_released_again_mid_term(machine):
    """Fix the lesson, release it again: a new fetch gets the fix, a copy fetched before keeps
    the old text, and fetching over it is refused until it is moved aside (the guide)."""
    bob = machine.students[1]
    source = machine.course / "solutions" / LESSON.name / LESSON.notebook
    nb = read_notebook(source)
    fix = "A sentence added by the mid-term fix."
    markdown = next(c for c in nb.cells if c.cell_type == "markdown")
    markdown.source += f"\n\n{fix}"
    nbformat.write(nb, source)
    machine.run("generate")
    machine.run("re-release")
    outbound = machine.exchange / COURSE_ID / "outbound" / LESSON.name / LESSON.notebook
    assert fix in outbound.read_text(encoding="utf-8")

    old = bob.home / LESSON.name / LESSON.notebook
    assert fix not in old.read_text(encoding="utf-8")
    again = machine.as_user(bob, f"cd ~ && nbgrader fetch_assignment {LESSON.name}")
    assert again.returncode != 0 and "You already have a copy" in again.stdout + again.stderr
    machine.run("refetch", bob)
    assert fix in old.read_text(encoding="utf-8")
    moved = bob.home / f"{LESSON.name}-before-fix" / LESSON.notebook
    assert fix not in moved.read_text(encoding="utf-8")


def test_gradebook_backup_holds_the_grades(machine):
    machine.run("backup")
    backups = sorted((machine.instructor.home / "softplus-backups").glob("gradebook-*.db"))
    assert len(backups) == 1, backups
    with contextlib.closing(sqlite3.connect(backups[0])) as db:
        students = {row[0] for row in db.execute("SELECT student_id FROM submitted_assignment")}
    assert {machine.students[0].name, *(s.name for s in machine.load)} <= students


def test_the_guide_ran_whole_and_the_hub_stops_cleanly(machine):
    assert set(RUN_ORDER) - machine.ran == set(), "guide blocks not run by this module"
    assert set(machine.blocks) == set(RUN_ORDER)
    users = {machine.instructor.name, *(s.name for s in machine.students)}
    children = psutil.Process(machine.process.pid).children(recursive=True)
    code = _stop_hub(machine)
    assert code == 0, f"the hub exited with {code}:\n{_tail(machine.log)}"
    _, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, f"left running: {[p.pid for p in alive]}"
    assert not _processes_of(users), "processes of the test's accounts outlived the hub"
