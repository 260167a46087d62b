"""The learner's JupyterLab, in a real browser.

A JupyterLab server from this environment serves a temporary copy of the course, and Debian's
Chromium (``/usr/bin/chromium``), driven headless by Playwright, uses it the way a learner does:
the file browser, the start page's links, JupyterLab's menus, nbgrader's Validate button.
Nothing is written into the repository except screenshots, in ``artifacts/screenshots/``.

"Run all" and Validate run on the first lesson only, to keep the module fast; every lesson is
opened. Without Chromium (or Playwright) the module skips with a message, except where the
environment variable ``CI`` is set: there it fails, so CI can never pass without it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psutil
import pytest
from conftest import CHROMIUM, LESSONS, ROOT, launch_chromium

from softplus_course.pipeline import read_notebook
from softplus_course.pipeline.lessons import answer_cells, graded_cells

try:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import Page, sync_playwright
except ImportError:  # pragma: no cover - reported by the `browser` fixture
    sync_playwright = None

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = ROOT / "artifacts" / "screenshots"
UI_TIMEOUT_MS = 30_000  # a page, a notebook, a menu or a dialog appearing
RUN_TIMEOUT_MS = 120_000  # running a whole lesson, or validating it
SERVER_TIMEOUT_S = 60
LESSON = LESSONS[0]  # the lesson that is run and validated
START_PAGE = "00_start_here.ipynb"
LEARNER_CONFIG = ROOT / "jupyter" / "learner"  # `make lab` exports JUPYTER_CONFIG_PATH=this

# The notebook on screen; hidden tabs keep their panel in the DOM with lm-mod-hidden.
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
# Per cell of the notebook on screen, in order: code or not, prompt, error output, images.
CELLS_JS = f"""() => [...document.querySelectorAll('{PANEL} .jp-Notebook-cell')].map(c => ({{
    code: c.classList.contains('jp-CodeCell'),
    prompt: (c.querySelector('.jp-InputPrompt') || {{}}).textContent || '',
    error: c.querySelector('{STDERR}') !== null,
    stderr: [...c.querySelectorAll('{STDERR}')].map(o => o.textContent).join('\\n').slice(-800),
    images: c.querySelectorAll('.jp-RenderedImage img').length,
}}))"""
# True once a run has finished: the kernel is idle, no cell is queued ([*]), and either the
# last code cell has run or a cell after index `after` failed (which stops a run).
RUN_DONE_JS = f"""(after) => {{
    const cells = ({CELLS_JS})();
    const code = cells.filter(c => c.code);
    const idle = document.querySelector('{PANEL} .jp-Notebook-ExecutionIndicator');
    if (!idle || idle.dataset.status !== 'idle' || cells.some(c => c.prompt.includes('*')))
        return false;
    return /\\[\\d+\\]/.test(code[code.length - 1].prompt)
        || cells.some((c, i) => i > after && c.error);
}}"""


def _unavailable(reason: str) -> None:
    message = (
        f"the browser test needs Debian's Chromium ({CHROMIUM}, `apt-get install chromium`) "
        f"and the Python package playwright (never `playwright install`): {reason}"
    )
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{message}. CI is set, so this fails instead of skipping.", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    if sync_playwright is None:
        _unavailable("playwright is not installed (`pip install -e '.[dev]'`)")
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"{CHROMIUM} is missing")
    with sync_playwright() as playwright:
        try:
            chromium = launch_chromium(playwright, UI_TIMEOUT_MS)
        except PlaywrightError as exc:
            _unavailable(f"Playwright cannot launch it: {str(exc).splitlines()[0]}")
        yield chromium
        chromium.close()


# --- the JupyterLab server ------------------------------------------------------------------


class Lab:
    """A JupyterLab server on 127.0.0.1 serving a temporary copy of the course."""

    def __init__(self, base: Path):
        self.root = base / "course-root"
        self.root.mkdir()
        shutil.copytree(ROOT / "course", self.root / "course")
        shutil.copytree(ROOT / "solutions", self.root / "solutions")
        shutil.copy(ROOT / "nbgrader_config.py", self.root)
        # Jupyter's own folders in the temporary directory too: none of the user's settings,
        # kernels or workspaces take part, and nothing is written outside it.
        home = base / "jupyter"
        settings = home / "lab-settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True)
        # No "would you like to get news?" pop-up over the screenshots; no network requests.
        notification = {"fetchNews": "false", "checkForUpdates": False}
        (settings / "notification.jupyterlab-settings").write_text(json.dumps(notification))
        env = {
            **os.environ,
            # The learners' settings, as `make lab` uses them (jupyter/README.md).
            "JUPYTER_CONFIG_PATH": str(LEARNER_CONFIG),
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTER_DATA_DIR": str(home / "data"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "IPYTHONDIR": str(home / "ipython"),
        }
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{port}"
        command = [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            f"--LabApp.user_settings_dir={home / 'lab-settings'}",
            f"--LabApp.workspaces_dir={home / 'workspaces'}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")  # CI and containers run as root
        self.log = base / "server.log"
        with open(self.log, "wb") as log:
            # cwd: nbgrader's Validate reads nbgrader_config.py from the server's working
            # directory, as with `make lab`, which runs in the repository.
            self.process = subprocess.Popen(
                command,
                cwd=self.root,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.stopped = False

    def request(self, method: str, path: str) -> dict:
        request = urllib.request.Request(
            self.url + path, method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else {}

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])

    def wait_ready(self) -> None:
        deadline = time.monotonic() + SERVER_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"JupyterLab exited at start:\n{self.log_tail()}", pytrace=False)
            try:
                self.request("GET", "/api/status")
                return
            except OSError:
                time.sleep(0.25)
        pytest.fail(f"JupyterLab not ready in {SERVER_TIMEOUT_S} s:\n{self.log_tail()}")

    def stop(self) -> tuple[int | None, list[list[str]], list[psutil.Process]]:
        """Shut down through the REST API, as File → Shut Down does.

        Returns the exit code (None if it had to be killed), the command lines of the
        processes the server had started (kernels), and those still alive afterwards.
        """
        if self.stopped:
            return self.process.returncode, [], []
        self.stopped = True
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:  # the server died on its own: its exit code tells
            children = []
        commands = []
        for child in children:
            try:
                commands.append(child.cmdline())
            except psutil.Error:
                pass
        try:
            self.request("POST", "/api/shutdown")
            code = self.process.wait(timeout=SERVER_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)  # fallback: the whole process group
            self.process.wait(timeout=SERVER_TIMEOUT_S)
            code = None
        _, alive = psutil.wait_procs(children, timeout=15)
        for process in alive:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        return code, commands, alive


@pytest.fixture(scope="module")
def lab(browser, tmp_path_factory):
    # The lessons' first plot would otherwise print "Matplotlib is building the font cache"
    # to stderr on a fresh machine: build that cache here, where the kernels will find it.
    import matplotlib.font_manager  # noqa: F401

    server = Lab(tmp_path_factory.mktemp("lab"))
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(browser, lab, request):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    uncaught: list[str] = []  # JavaScript errors: a broken extension shows up here
    page.on("pageerror", lambda exc: uncaught.append(str(exc)))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield page
    # The last state of every test, for debugging a failure in CI.
    page.screenshot(path=SCREENSHOTS / f"last-{request.node.name}.png")
    context.close()
    assert not uncaught, f"uncaught JavaScript errors in JupyterLab: {uncaught}"


# --- driving JupyterLab ---------------------------------------------------------------------


def _goto(page: Page, lab: Lab, path: str) -> None:
    """Open ``path`` (a folder or a notebook) in a fresh JupyterLab workspace."""
    workspace = uuid.uuid4().hex[:12]
    page.goto(f"{lab.url}/lab/workspaces/{workspace}/tree/{path}?token={lab.token}")


def _notebook_ready(page: Page, notebook: Path) -> None:
    """Wait for ``notebook`` to be on screen with its kernel idle; check it opened cleanly."""
    nb = read_notebook(notebook)
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current")
    tab.filter(has_text=notebook.name).wait_for()
    kernel = nb.metadata.kernelspec.display_name  # the environment's kernel, by its own name
    dialogs = page.locator(".jp-Dialog")
    try:
        page.wait_for_function(
            """([panel, kernel, count]) => {
                const name = document.querySelector(panel + ' .jp-Toolbar-kernelName');
                const state = document.querySelector(panel + ' .jp-Notebook-ExecutionIndicator');
                return name && name.textContent.trim() === kernel
                    && state && state.dataset.status === 'idle'
                    && document.querySelectorAll(panel + ' .jp-Notebook-cell').length === count;
            }""",
            arg=[PANEL, kernel, len(nb.cells)],
        )
    except PlaywrightError:
        shown = page.locator(f"{PANEL} .jp-Toolbar-kernelName").all_inner_texts()
        cells = page.locator(f"{PANEL} .jp-Notebook-cell").count()
        pytest.fail(
            f"{notebook.name}: not open with {len(nb.cells)} cells and kernel {kernel!r} idle "
            f"in {UI_TIMEOUT_MS / 1000:.0f} s (kernel shown: {shown}; cells shown: {cells}; "
            f"dialogs: {dialogs.all_inner_texts()})"
        )
    assert dialogs.count() == 0, (
        f"{notebook.name}: a dialog on opening: {dialogs.all_inner_texts()}"
    )


def _menu(page: Page, menu: str, command: str, *, confirm: bool = False) -> None:
    page.locator(".lm-MenuBar-item", has_text=re.compile(f"^{menu}$")).click()
    page.locator(f".lm-Menu .lm-Menu-item[data-command='{command}']").click()
    if confirm:
        page.locator(".jp-Dialog .jp-mod-accept").click()
        page.locator(".jp-Dialog").wait_for(state="detached")


def _run(page: Page, command: str, after: int = -1) -> list[dict]:
    """Run cells with a Run-menu command; return the cells once the run has stopped."""
    _menu(page, "Run", command, confirm=command == "runmenu:restart-and-run-all")
    page.wait_for_function(RUN_DONE_JS, arg=after, timeout=RUN_TIMEOUT_MS)
    return page.evaluate(CELLS_JS)


# True once cell `i` of the notebook on screen has run (a code cell shows its execution count),
# the kernel is idle with nothing queued, and the next cell is the active one.
STEP_DONE_JS = f"""([i, last]) => {{
    const cells = [...document.querySelectorAll('{PANEL} .jp-Notebook-cell')];
    const prompt = c => (c.querySelector('.jp-InputPrompt') || {{}}).textContent || '';
    const idle = document.querySelector('{PANEL} .jp-Notebook-ExecutionIndicator');
    const ran = !cells[i].classList.contains('jp-CodeCell') || /\\[\\d+\\]/.test(prompt(cells[i]));
    return ran && idle && idle.dataset.status === 'idle'
        && !cells.some(c => prompt(c).includes('*'))
        && cells[Math.min(i + 1, last)].classList.contains('jp-mod-active');
}}"""


def _step_through(page: Page, count: int) -> list[dict]:
    """Run every cell in order with Shift+Enter, each once the one before has finished."""
    page.locator(f"{PANEL} .jp-Notebook-cell").first.locator(".jp-InputPrompt").click()
    for i in range(count):
        # Shift+Enter on the last cell would add a new one below it: Ctrl+Enter stays.
        page.keyboard.press("Shift+Enter" if i < count - 1 else "Control+Enter")
        page.wait_for_function(STEP_DONE_JS, arg=[i, count - 1], timeout=RUN_TIMEOUT_MS)
    cells = page.evaluate(CELLS_JS)
    assert len(cells) == count, f"stepping through changed the number of cells to {len(cells)}"
    return cells


def _validate(page: Page, screenshot: str) -> tuple[str, str]:
    """Press nbgrader's Validate button; return the result's classes and text."""
    button = page.locator(f"{PANEL} .jp-NotebookPanel-toolbar jp-button.validate-button")
    assert button.inner_text() == "Validate", "nbgrader's Validate button is not in the toolbar"
    button.click()
    message = page.locator(".jp-Dialog #validation-message")
    message.wait_for(timeout=RUN_TIMEOUT_MS)
    result = (message.get_attribute("class") or "", message.inner_text())
    page.screenshot(path=SCREENSHOTS / screenshot)
    page.locator(".jp-Dialog .jp-mod-accept").click()
    page.locator(".jp-Dialog").wait_for(state="detached")
    return result


# --- the checks -----------------------------------------------------------------------------


def test_learners_get_validate_but_not_the_instructor_tools(lab, page):
    """Validate's server half answers (the button posts to it); the Formgrader's does not, and
    JupyterLab shows neither the Nbgrader menu nor the Create Assignment panel."""
    import nbgrader

    assert lab.request("GET", f"/nbgrader_version?version={nbgrader.__version__}") == {
        "success": True
    }
    for instructor_only in ["/formgrader", "/course_list", "/assignments"]:
        try:
            lab.request("GET", instructor_only)
            status = 200
        except urllib.error.HTTPError as exc:
            status = exc.code
        except ValueError:  # an HTML page: served
            status = 200
        assert status == 404, f"{instructor_only} answers learners (HTTP {status})"
    _goto(page, lab, f"course/{LESSON.name}/{LESSON.notebook}")
    _notebook_ready(page, lab.root / "course" / LESSON.name / LESSON.notebook)
    menus = page.locator(".lm-MenuBar-item").all_inner_texts()
    assert "Run" in menus and "Nbgrader" not in menus, f"menus shown to learners: {menus}"
    panels = page.locator(".jp-SideBar .lm-TabBar-tab").evaluate_all(
        "tabs => tabs.map(t => t.title || t.dataset.id)"
    )
    assert panels and not [p for p in panels if "assign" in p.lower()], (
        f"side panels shown to learners: {panels}"
    )
    toolbar = page.locator(f"{PANEL} .jp-NotebookPanel-toolbar jp-button.validate-button")
    assert toolbar.inner_text() == "Validate"


def test_course_tree_and_every_lesson_open(lab, page):
    _goto(page, lab, "course")
    listing = page.locator(".jp-DirListing-item .jp-DirListing-itemText")
    listing.filter(has_text=START_PAGE).wait_for()
    names = set(listing.all_inner_texts())
    missing = {START_PAGE, *(lesson.name for lesson in LESSONS)} - names
    assert not missing, f"not in JupyterLab's file browser: {sorted(missing)}"

    page.locator(".jp-DirListing-item", has_text=START_PAGE).dblclick()
    _notebook_ready(page, lab.root / "course" / START_PAGE)
    page.screenshot(path=SCREENSHOTS / "start-page.png")
    for lesson in LESSONS:  # each through its link on the start page, as a learner would
        # JupyterLab rewrites the relative link to /files/course/...; a click opens a tab.
        target = f"/course/{lesson.name}/{lesson.notebook}"
        page.locator(
            f"{PANEL} .jp-RenderedMarkdown a:is([href$='{target}'], [href*='{target}?'])"
        ).click()
        _notebook_ready(page, lab.root / "course" / lesson.name / lesson.notebook)
        assert page.locator(f"{PANEL} .jp-RenderedMarkdown h1").first.is_visible()
        _menu(page, "File", "filemenu:close-and-cleanup", confirm=True)


def test_solutions_run_all_renders_figures_and_validate_succeeds(lab, page):
    notebook = lab.root / "solutions" / LESSON.name / LESSON.notebook
    _goto(page, lab, f"solutions/{LESSON.name}/{LESSON.notebook}")
    _notebook_ready(page, notebook)
    # Clear the committed outputs first, so every figure checked below is drawn by this run.
    _menu(page, "Edit", "editmenu:clear-all")
    assert not any(c["images"] for c in page.evaluate(CELLS_JS)), "outputs not cleared"
    cells = _run(page, "runmenu:restart-and-run-all")

    errors = [(i, c["stderr"]) for i, c in enumerate(cells) if c["error"]]
    assert not errors, f"error or stderr output in cells of the solutions: {errors}"
    expected = {
        i
        for i, cell in enumerate(read_notebook(notebook).cells)
        if any("image/png" in out.get("data", {}) for out in cell.get("outputs", []))
    }
    drawn = {i for i, c in enumerate(cells) if c["images"]}
    assert expected, f"{LESSON.name} has no figure to check"
    assert drawn == expected, f"figures in cells {sorted(drawn)}, expected {sorted(expected)}"

    # The first figure, decoded and on screen under its code, for the README's screenshot.
    figure = page.locator(f"{PANEL} .jp-Notebook-cell").nth(min(expected)).locator("img")
    figure.evaluate(
        """img => {
            img.scrollIntoView({block: 'end'});
            img.closest('.jp-WindowedPanel-outer')?.scrollBy(0, 40);  // the axis label too
        }"""
    )
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=figure.element_handle()
    )
    page.screenshot(path=SCREENSHOTS / "lesson-plot.png")

    classes, text = _validate(page, "validate-success.png")
    assert "validation-success" in classes, f"Validate on the solutions: {text}"
    assert "Success! Your notebook passes all the tests." in text


def test_course_notebook_fails_only_in_exercises_and_validate_reports_it(lab, page):
    notebook = lab.root / "course" / LESSON.name / LESSON.notebook
    nb = read_notebook(notebook)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    tests = [name for name, _ in graded_cells(nb)]
    exercise_cells = set(answer_cells(nb)) | set(tests)
    _goto(page, lab, f"course/{LESSON.name}/{LESSON.notebook}")
    _notebook_ready(page, notebook)

    classes, text = _validate(page, "validate-failed.png")
    assert "validation-failed" in classes, f"Validate on a blank notebook: {text}"
    first_test = nb.cells[ids.index(tests[0])].source.splitlines()[0]
    assert first_test in text, f"Validate should show the first failing test, {tests[0]}"

    # Run All stops at the first failing cell, the first exercise's test: nothing before it fails.
    cells = _run(page, "runmenu:restart-and-run-all")
    first_error = min(i for i, c in enumerate(cells) if c["error"])
    assert ids[first_error] == tests[0], (
        f"Run All should stop at {tests[0]}, the first test; it failed first in cell "
        f"{first_error} ({ids[first_error]}): {cells[first_error]['stderr']}"
    )

    # What comes after the first failure is not checked on Run All's result: ipykernel aborts
    # the requests queued behind a failing cell, but one that reaches it after the abort has
    # ended still runs, out of order (a NameError far below, now and then on a loaded machine).
    # A learner working down the notebook runs one cell at a time: so does this check.
    _menu(page, "Kernel", "kernelmenu:restart-and-clear", confirm=True)
    cells = _step_through(page, len(nb.cells))
    failing = [i for i, c in enumerate(cells) if c["error"]]
    stray = [(i, ids[i], cells[i]["stderr"]) for i in failing if ids[i] not in exercise_cells]
    assert not stray, f"cells outside the exercises fail when exercises are blank: {stray}"
    failed_tests = {ids[i] for i in failing}
    assert set(tests) <= failed_tests, (
        f"tests passing on a blank notebook: {set(tests) - failed_tests}"
    )


def test_server_shuts_down_cleanly(lab):
    code, commands, alive = lab.stop()
    assert code == 0, f"JupyterLab did not exit cleanly (code {code}):\n{lab.log_tail()}"
    assert not alive, f"processes left behind: {[p.pid for p in alive]}"
    kernels = [c for c in commands if "ipykernel_launcher" in c]
    assert all(c[0] == sys.executable for c in kernels), f"kernels outside the env: {kernels}"
