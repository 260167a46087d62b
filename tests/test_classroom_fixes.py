"""What a class on JupyterHub needs of grading (issue 15), with nbgrader's own tools.

1. ``nbgrader release_feedback`` releases a lesson's feedback whatever placed its submissions:
   nbgrader's exchange (``submit``, then ``collect``), or a folder copied by hand without a
   ``timestamp.txt``; and a student who submitted through the exchange fetches their page.
2. Feedback pages typeset math with the MathJax of an installed package, served by the Jupyter
   server that shows the page, never from the network.
3. The Formgrader's Autograde button (nbgrader's API, built from the course's configuration as
   the Formgrader builds it) scores every grade cell as ``make grade`` does; what it does not
   record of ours is spelled out.

One lesson (01) and two submissions, graded once by the pipeline: "ada", a complete notebook
handed in through nbgrader's exchange, and "by_hand", lesson 01's partial sample copied into
``submitted/`` as it is.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import nbformat
import pytest
from conftest import CHROMIUM, LESSONS, ROOT, SAMPLES, launch_chromium
from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange.abc.exchange import Exchange
from nbgrader.utils import notebook_hash
from traitlets.config import Config

from softplus_course.pipeline import fill_answers, grade, read_notebook
from softplus_course.pipeline.grading import copy_course, gradebook_url, place_submission
from softplus_course.pipeline.nbgrader_ops import check, load_config
from softplus_course.pipeline.preprocessors import GRADER_METADATA
from softplus_course.pipeline.records import load_records, submission_hash
from softplus_course.pipeline.sandbox import Nursery, one_grading_run

LESSON = LESSONS[0]
EXCHANGED, BY_HAND = "ada", "by_hand"
STUDENTS = (EXCHANGED, BY_HAND)
# nbgrader's own format for timestamp.txt ("2026-10-05 21:59:00.000000 UTC").
STAMP_FORMAT = Exchange.timestamp_format.default_value


def _isolated_jupyter(monkeypatch, folder: Path) -> None:
    """No user-level Jupyter configuration takes part (nbgrader reads nbgrader_config.py from
    the Jupyter config path as well as from the working directory)."""
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(folder / "config"))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(folder / "data"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(folder / "runtime"))


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    """Lesson 01 released through nbgrader's exchange; "ada" submits the complete notebook
    there and the instructor collects it, "by_hand" is the partial sample copied into
    submitted/; then the pipeline grades both. Returns a namespace of the paths and APIs."""
    base = tmp_path_factory.mktemp("classroom")
    with pytest.MonkeyPatch.context() as monkeypatch:
        _isolated_jupyter(monkeypatch, base / "jupyter")
        course = copy_course(ROOT, base / "course", [LESSON.name])
        shutil.copytree(LESSON.release.parent, course / "course" / LESSON.name)
        exchange, home = base / "exchange", base / "home"
        exchange.mkdir()
        instructor_config = load_config(course)
        instructor_config.Exchange.root = str(exchange)
        instructor = NbGraderAPI(config=instructor_config)
        check(instructor.release_assignment(LESSON.name), "release_assignment")

        student_config = Config()
        student_config.CourseDirectory.course_id = instructor.coursedir.course_id
        student_config.CourseDirectory.root = str(home)
        student_config.Exchange.root = str(exchange)
        student_config.Exchange.cache = str(base / "nbgrader_cache")
        student_config.Exchange.assignment_dir = str(home)
        student = NbGraderAPI(config=student_config)
        work = home / LESSON.name
        work.mkdir(parents=True)
        answers = fill_answers(read_notebook(LESSON.release), read_notebook(LESSON.source))
        nbformat.write(answers, work / LESSON.notebook)
        student.coursedir.assignment_id = LESSON.name
        student.coursedir.student_id = EXCHANGED
        student.exchange.Submit(
            coursedir=student.coursedir, authenticator=student.authenticator, parent=student
        ).start()
        check(instructor.collect(LESSON.name), "collect")

        shutil.copytree(SAMPLES / "sample_partial" / LESSON.name, _submitted(course, BY_HAND))
        hashes = {s: submission_hash(_submitted(course, s)) for s in STUDENTS}
        results = {r.student: r for r in grade(course, jobs=1)}
        yield SimpleNamespace(
            base=base,
            course=course,
            exchange=exchange,
            home=home,
            student=student,
            results=results,
            hashes_before=hashes,
        )


def _submitted(course: Path, student: str) -> Path:
    return course / "submitted" / student / LESSON.name


def _feedback(course: Path, student: str) -> Path:
    return course / "feedback" / student / LESSON.name


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _stamp(folder: Path) -> datetime:
    """The time in ``folder/timestamp.txt``, read as nbgrader reads it (naive UTC)."""
    moment = CourseDirectory().get_existing_timestamp(str(folder))
    assert moment is not None, f"no timestamp.txt in {folder}"
    return moment


# --- 1. timestamps, and release_feedback ----------------------------------------------------


def test_a_placed_submission_has_its_time_in_nbgraders_format(tmp_path):
    before = datetime.now(timezone.utc).replace(tzinfo=None)
    path = place_submission(tmp_path, "s", LESSON.name, read_notebook(LESSON.release))
    after = datetime.now(timezone.utc).replace(tzinfo=None)
    text = (path.parent / "timestamp.txt").read_text(encoding="utf-8")
    assert text.endswith(" UTC")
    assert before <= datetime.strptime(text, STAMP_FORMAT) == _stamp(path.parent) <= after
    # A given time, in any zone, is written in UTC; a broken file is handed in at a time too.
    berlin = datetime(2026, 10, 5, 23, 59, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    broken = place_submission(tmp_path, "t", LESSON.name, "{ not a notebook", submitted_at=berlin)
    assert (broken.parent / "timestamp.txt").read_text(encoding="utf-8") == (
        "2026-10-05 21:59:30.000000 UTC"
    )
    with pytest.raises(ValueError, match="time zone"):
        place_submission(tmp_path, "u", LESSON.name, "{}", submitted_at=datetime(2026, 10, 5))


@pytest.mark.slow
def test_grading_gives_every_feedback_folder_what_release_feedback_reads(classroom):
    course = classroom.course
    assert {r.status for r in classroom.results.values()} == {"graded"}
    exchanged = _submitted(course, EXCHANGED)
    # nbgrader's collect brought the time and the secret from the exchange; the copy has none.
    assert {p.name for p in exchanged.iterdir()} >= {"timestamp.txt", "submission_secret.txt"}
    assert not (_submitted(course, BY_HAND) / "timestamp.txt").exists()
    for folder in ("autograded", "feedback"):
        ada, by_hand = (course / folder / s / LESSON.name for s in STUDENTS)
        assert _stamp(ada) == _stamp(exchanged)
        assert (ada / "submission_secret.txt").read_bytes() == (
            exchanged / "submission_secret.txt"
        ).read_bytes()
        # Without a timestamp: the notebook's modification time; a fresh random secret.
        notebook = _submitted(course, BY_HAND) / LESSON.notebook
        mtime = datetime.fromtimestamp(notebook.stat().st_mtime, timezone.utc)
        assert _stamp(by_hand) == mtime.replace(tzinfo=None)
        assert re.fullmatch(r"[0-9a-f]{128}", (by_hand / "submission_secret.txt").read_text())
        # With the permissions nbgrader gave the folder's notebook or page.
        made = f"{LESSON.name}.ipynb" if folder == "autograded" else f"{LESSON.name}.html"
        for added in ("timestamp.txt", "submission_secret.txt"):
            for where in (ada, by_hand):
                assert _mode(where / added) == _mode(where / made), where / added
    # Nothing was written into submitted/, and the untimed submission stayed untimed (never
    # late) in the gradebook.
    assert {s: submission_hash(_submitted(course, s)) for s in STUDENTS} == (
        classroom.hashes_before
    )
    with Gradebook(gradebook_url(course)) as gb:
        assert gb.find_submission(LESSON.name, BY_HAND).timestamp is None
        assert gb.find_submission(LESSON.name, EXCHANGED).timestamp == _stamp(exchanged)


@pytest.mark.slow
def test_release_feedback_releases_the_lesson_and_the_student_fetches_their_page(classroom):
    course, exchange = classroom.course, classroom.exchange
    # The instructor's command, in the course folder, as the issue reports it.
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "nbgrader",
            "release_feedback",
            LESSON.name,
            f"--Exchange.root={exchange}",
        ],
        cwd=course,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    released = exchange / "softplus" / "feedback"
    assert len(list(released.glob("*.html"))) == len(STUDENTS)
    secret = (_submitted(course, EXCHANGED) / "submission_secret.txt").read_text()
    ours = (_feedback(course, EXCHANGED) / f"{LESSON.name}.html").read_bytes()
    name = notebook_hash(secret=secret, notebook_id=LESSON.name)
    assert (released / f"{name}.html").read_bytes() == ours

    # The student, with nbgrader's API: their submission in the cache is matched to the page.
    check(classroom.student.fetch_feedback(LESSON.name, EXCHANGED), "fetch_feedback")
    fetched = list((classroom.home / LESSON.name / "feedback").glob(f"*/{LESSON.name}.html"))
    assert [p.read_bytes() for p in fetched] == [ours]


# --- 2. MathJax from an installed package -----------------------------------------------------


class _Scripts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts.append(dict(attrs))


def _scripts(page: Path) -> list[dict[str, str | None]]:
    parser = _Scripts()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.scripts


def _mathjax(page: Path) -> str:
    """The MathJax a feedback page loads, relative to the base URL of its Jupyter server."""
    found = [s["data-mathjax"] for s in _scripts(page) if s.get("data-mathjax")]
    assert len(found) == 1, f"{page}: {found}"
    return found[0]


@pytest.mark.slow
def test_feedback_pages_load_no_script_from_the_network(classroom):
    for student in STUDENTS:
        page = _feedback(classroom.course, student) / f"{LESSON.name}.html"
        remote = [
            s["src"]
            for s in _scripts(page)
            if s.get("src") and re.match(r"(?i)\s*(https?:)?//", s["src"])
        ]
        assert remote == [], page
        assert "cdnjs" not in page.read_text(encoding="utf-8")
        assert _mathjax(page).startswith("static/jupyter_server_mathjax/MathJax.js?")


@pytest.mark.slow
def test_the_mathjax_a_feedback_page_loads_is_installed(classroom):
    from jupyter_server_mathjax.app import MathJaxExtension

    page = _feedback(classroom.course, BY_HAND) / f"{LESSON.name}.html"
    address = urlsplit(_mathjax(page))
    # A Jupyter server serves an extension's static_paths at static/<extension name>/.
    prefix = f"static/{MathJaxExtension.name}/"
    assert address.path.startswith(prefix)
    static = Path(MathJaxExtension.static_paths[0])
    assert (static / address.path.removeprefix(prefix)).is_file()
    configs = parse_qs(address.query)["config"][0].split(",")
    assert configs == ["TeX-AMS-MML_HTMLorMML-full", "Safe"]
    for name in configs:
        assert (static / "config" / f"{name}.js").is_file(), name
    # The page's configuration asks for the only web fonts the package ships.
    assert (static / "fonts" / "HTML-CSS" / "STIX-Web").is_dir()
    assert 'webFont: "STIX-Web"' in page.read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_formgraders_page_loads_mathjax_from_its_server(classroom, monkeypatch):
    """The Formgrader renders a submission with HTMLExporter and nbgrader's formgrade template,
    which loads MathJax from a CDN; the course's configuration gives it our template on top,
    with MathJax from the Jupyter server that serves the Formgrader."""
    from jupyter_server_mathjax.app import MathJaxExtension
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader.formgrader import FormgradeExtension

    monkeypatch.chdir(classroom.course)
    formgrader = FormgradeExtension()
    formgrader.root_dir = str(classroom.course)
    formgrader.initialize([])
    exporter = HTMLExporter(config=formgrader.config)  # as its init_tornado_settings does
    resources = {  # what its SubmissionHandler passes
        "assignment_id": LESSON.name,
        "notebook_id": LESSON.name,
        "submission_id": "x",
        "index": 0,
        "total": 2,
        "base_url": "/user/teacher",
        "student": BY_HAND,
        "last_name": "",
        "first_name": "",
        "notebook_path": "autograded/x.ipynb",
    }
    notebook = classroom.course / "autograded" / BY_HAND / LESSON.name / LESSON.notebook
    html, _ = exporter.from_filename(str(notebook), resources=resources)
    page = classroom.course / "formgrade.html"
    page.write_text(html, encoding="utf-8")
    sources = [s["src"] for s in _scripts(page) if s.get("src")]
    assert not [src for src in sources if re.match(r"(?i)\s*(https?:)?//", src)], sources
    assert "cdnjs" not in html
    assert "/user/teacher/formgrader/static/js/formgrade.js" in sources  # nbgrader's page still
    mathjax = [urlsplit(src) for src in sources if "MathJax.js" in src]
    assert len(mathjax) == 1
    prefix = f"/user/teacher/static/{MathJaxExtension.name}/"
    assert mathjax[0].path.startswith(prefix)
    static = Path(MathJaxExtension.static_paths[0])
    assert (static / mathjax[0].path.removeprefix(prefix)).is_file()
    assert 'webFont: "STIX-Web"' in html


# --- 3. the Formgrader's Autograde ------------------------------------------------------------


def _grades(course: Path, student: str) -> dict[str, tuple]:
    with Gradebook(gradebook_url(course)) as gb:
        nb = gb.find_submission_notebook(LESSON.name, LESSON.name, student)
        return {g.name: (g.auto_score, g.manual_score, g.max_score) for g in nb.grades}


def _properties(course: Path, student: str) -> dict[str, list]:
    nb = read_notebook(course / "autograded" / student / LESSON.name / LESSON.notebook)
    return {
        cell.metadata["nbgrader"]["grade_id"]: cell.metadata[GRADER_METADATA]["properties"]
        for cell in nb.cells
        if "properties" in cell.get("metadata", {}).get(GRADER_METADATA, {})
    }


def _formgrader_api(course: Path) -> NbGraderAPI:
    """The API behind the Formgrader's buttons, made as nbgrader 0.9.6 makes it: the server
    extension is an NbGrader app initialised in the server's working directory (the course),
    and each request builds ``NbGraderAPI(coursedir, authenticator, parent=app)`` after
    reloading the configuration (server_extensions/formgrader/formgrader.py and base.py)."""
    from nbgrader.server_extensions.formgrader.formgrader import FormgradeExtension

    formgrader = FormgradeExtension()
    formgrader.root_dir = str(course)
    formgrader.initialize([])
    formgrader.coursedir.parent.load_config_file()
    return NbGraderAPI(
        formgrader.coursedir, formgrader.authenticator, parent=formgrader.coursedir.parent
    )


@pytest.mark.slow
def test_the_formgraders_autograde_scores_as_make_grade_does(classroom, tmp_path, monkeypatch):
    """The same two submissions, graded again in a copy of the graded course by the
    Formgrader's Autograde (``api.autograde(lesson, student)``, its defaults force=True,
    create=True): every grade cell scores the same, property by property. What the pipeline
    adds after grading is not written by that path: the records table keeps the pipeline's
    last record, a flag stays as it was, nbgrader rewrites the answer cells' automatic
    comments (the grader's reason among them), and it copies the submission's other files
    as nbgrader does."""
    pipeline = classroom.course
    course = tmp_path / "course"
    shutil.copytree(pipeline, course)
    url = gradebook_url(course)
    records_before = load_records(url)
    # As if the pipeline had flagged "by_hand" for review, with its reason in the comment.
    with Gradebook(url) as gb:
        nb = gb.find_submission_notebook(LESSON.name, LESSON.name, BY_HAND)
        nb.flagged = True
        first = sorted(nb.comments, key=lambda c: c.cell.name)[0]
        first.auto_comment = "[softplus grader] review: the reason"
        first_cell = first.cell.name
        gb.db.commit()

    # A file of the student's beside the notebook (grading copies none: docs/grading.md).
    (_submitted(course, BY_HAND) / "notes.txt").write_text("mine", encoding="utf-8")

    _isolated_jupyter(monkeypatch, tmp_path / "jupyter")
    monkeypatch.chdir(course)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the app puts its directory first
    api = _formgrader_api(course)
    assert Path(api.coursedir.root) == course
    try:
        # The Formgrader takes no machine-wide lock; here it waits its turn with other runs.
        with one_grading_run():
            for student in STUDENTS:
                check(api.autograde(LESSON.name, student), f"Formgrader autograde of {student}")
    finally:
        Nursery.close_all()

    for student in STUDENTS:
        assert _grades(course, student) == _grades(pipeline, student), student
        assert _properties(course, student) == _properties(pipeline, student), student
    assert sum(g[0] for g in _grades(course, BY_HAND).values()) < sum(
        g[2] for g in _grades(course, BY_HAND).values()
    )  # the partial one lost points: the comparison is not of two perfect scores

    # Not recorded by the Formgrader's path: the records table is the pipeline's, unchanged.
    assert load_records(url) == records_before
    with Gradebook(url) as gb:
        nb = gb.find_submission_notebook(LESSON.name, LESSON.name, BY_HAND)
        assert nb.flagged  # left as it was
        comment = next(c for c in nb.comments if c.cell.name == first_cell)
        assert not (comment.auto_comment or "").startswith("[softplus grader]")
    # nbgrader's own copying: every file beside the notebook goes into autograded/ (the
    # submission's timestamp and secret, and the student's files), and a submission without a
    # timestamp loses the one grading put there for release_feedback.
    exchanged, by_hand = (course / "autograded" / s / LESSON.name for s in STUDENTS)
    assert {p.name for p in exchanged.iterdir()} >= {"timestamp.txt", "submission_secret.txt"}
    assert (by_hand / "notes.txt").is_file()
    assert not (by_hand / "timestamp.txt").exists()


# --- in a browser ---------------------------------------------------------------------------

# A JupyterHub-like base URL that itself holds "/files/", the harder case for the page.
BASE_URL = "/user/files/"
TYPESET = """() => window.MathJax && MathJax.Hub && MathJax.Hub.queue
    && MathJax.Hub.queue.pending === 0 && MathJax.Hub.queue.running === 0
    && document.querySelectorAll('.MathJax').length > 0"""


@pytest.fixture(scope="module")
def lab(classroom):
    """JupyterLab with the learners' settings (as `make lab`) on 127.0.0.1, serving the graded
    course under BASE_URL; yields its address and token."""
    try:
        from playwright.sync_api import sync_playwright  # noqa: F401
    except ImportError:
        _unavailable("playwright is not installed")
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"{CHROMIUM} is missing")
    home = classroom.base / "lab"
    # No "would you like to get news?" and no update check: nothing asks the network.
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    quiet = {"fetchNews": "false", "checkForUpdates": False}
    (settings / "notification.jupyterlab-settings").write_text(json.dumps(quiet))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_PATH": str(ROOT / "jupyter" / "learner"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
    }
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.base_url={BASE_URL}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={classroom.course}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        f"--LabApp.user_settings_dir={home / 'settings'}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = home / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}{BASE_URL}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text(errors="replace")[-2000:]
            try:
                urllib.request.urlopen(f"{url}api/status?token={token}", timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text(errors="replace")[-2000:]
                time.sleep(0.25)
        yield url, token
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)


def _unavailable(reason: str) -> None:
    message = f"needs Debian's Chromium ({CHROMIUM}) and the Python package playwright: {reason}"
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{message}. CI is set, so this fails instead of skipping.", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def chromium(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    yield page, requests
    context.close()


def _only_local(requests: list[str], url: str) -> list[str]:
    """The requests that went anywhere but the Jupyter server (or stayed in the browser)."""
    origin = "{0.scheme}://{0.netloc}/".format(urlsplit(url))
    return [r for r in requests if not r.startswith((origin, "data:", "blob:", "about:"))]


@pytest.mark.browser
@pytest.mark.slow
def test_math_is_typeset_in_a_new_tab(lab, page):
    url, token = lab
    page, requests = page
    page.goto(f"{url}files/feedback/{BY_HAND}/{LESSON.name}/{LESSON.name}.html?token={token}")
    page.wait_for_function(TYPESET)
    loaded = page.evaluate("() => [...document.scripts].map(s => s.src).filter(Boolean)")
    assert f"{url}static/jupyter_server_mathjax/MathJax.js" in {s.split("?")[0] for s in loaded}
    assert page.locator(".MathJax").count() > 10
    assert _only_local(requests, url) == []


@pytest.mark.browser
@pytest.mark.slow
def test_math_is_typeset_in_jupyterlabs_html_viewer_once_trusted(lab, page):
    url, token = lab
    page, requests = page
    page.goto(f"{url}lab/tree/feedback/{BY_HAND}/{LESSON.name}/{LESSON.name}.html?token={token}")
    frame = page.wait_for_selector(".jp-HTMLViewer iframe").content_frame()
    frame.wait_for_selector("#toc")
    assert frame.evaluate("() => typeof window.MathJax") == "undefined"  # untrusted: no script
    page.locator(".jp-Toolbar-item", has_text="Trust HTML").first.click()
    page.wait_for_selector(".jp-Toolbar-item:has-text('Distrust HTML')")
    frame = page.wait_for_selector(".jp-HTMLViewer iframe").content_frame()
    frame.wait_for_function(TYPESET)
    assert frame.locator(".MathJax").count() > 10
    # Same origin as the server: MathJax's own web fonts load.
    fonts = frame.evaluate(
        "() => [...document.fonts].filter(f => f.status === 'loaded').map(f => f.family)"
    )
    assert any(family.startswith("STIXMathJax") for family in fonts), fonts
    assert _only_local(requests, url) == []
