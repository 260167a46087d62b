"""LMS import and export: downloads from Canvas and Moodle become nbgrader's layout, hostile
entries are refused with their reasons, and the gradebook's scores go out in the LMSs' formats."""

from __future__ import annotations

import csv
import os
import shutil
import stat
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import nbformat
import pytest
from conftest import LESSON_IDS, ROOT
from nbgrader.api import Gradebook
from nbgrader.coursedir import CourseDirectory

from softplus_course.pipeline import lms
from softplus_course.pipeline.__main__ import main
from softplus_course.pipeline.grading import copy_course

FIRST, SECOND = LESSON_IDS[0], LESSON_IDS[1]
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def course(tmp_path) -> Path:
    return copy_course(ROOT, tmp_path / "course")


def notebook(marker: str) -> bytes:
    """A small valid notebook whose content says whose it is."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell(marker, id="only-cell"))
    return nbformat.writes(nb).encode()


def make_zip(path: Path, entries: dict[str, bytes], when=(2026, 10, 5, 22, 30, 0)) -> Path:
    """A zip with these entries; a value of ``("symlink", target)`` makes a symbolic link."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=when)
            if isinstance(data, tuple):
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                data = data[1].encode()
            else:
                info.external_attr = (stat.S_IFREG | 0o644) << 16
            archive.writestr(info, data)
    return path


def make_map(path: Path, rows: list[dict]) -> Path:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def run(course: Path, *args: str | Path) -> int:
    return main(["--root", str(course), *map(str, args)])


def submitted(course: Path, student: str, lesson: str) -> Path:
    return course / "submitted" / student / lesson / f"{lesson}.ipynb"


def nbgrader_time(course: Path, student: str, lesson: str) -> datetime:
    """The submission time as nbgrader's autograde reads it (naive UTC)."""
    coursedir = CourseDirectory(root=str(course))
    return coursedir.get_existing_timestamp(str(course / "submitted" / student / lesson))


def utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir()}


# --- import ------------------------------------------------------------------------------------


def test_canvas_zip_becomes_nbgraders_layout_with_times_nbgrader_reads(course, tmp_path, capsys):
    ada, grace = notebook("ada"), notebook("grace")
    download = make_zip(
        tmp_path / "submissions.zip",
        {
            f"lovelaceada_12345_678_{FIRST}-1.ipynb": ada,
            f"hoppergrace_LATE_222_900_{SECOND}.ipynb": grace,
        },
        when=(2026, 10, 6, 1, 30, 0),
    )
    handed_in = datetime(2026, 10, 5, 23, 12, tzinfo=BERLIN)
    table = make_map(
        tmp_path / "map.csv",
        [
            {"lms_id": "12345", "student_id": "s001", "submitted_at": handed_in.isoformat()},
            {"lms_id": "222", "student_id": "s002", "submitted_at": ""},
        ],
    )
    assert run(course, "lms-import", download, "--map", table, "--timezone", "Europe/Berlin") == 0
    out = capsys.readouterr().out
    assert submitted(course, "s001", FIRST).read_bytes() == ada
    assert submitted(course, "s002", SECOND).read_bytes() == grace
    # Times as nbgrader's own parser reads them: from the map, else the zip entry's (in the
    # zone given), and the output says which.
    assert nbgrader_time(course, "s001", FIRST) == utc(handed_in)
    entry_time = datetime(2026, 10, 6, 1, 30, tzinfo=BERLIN)
    assert nbgrader_time(course, "s002", SECOND) == utc(entry_time)
    assert "s001/01_definition: submitted 2026-10-05 21:12:00 UTC (time from the map)" in out
    assert "(time from the zip entry's time, read as Europe/Berlin); Canvas marked it LATE" in out
    assert "Submission times of 1 imported notebooks are their files' times" in out
    assert "2 imported, 0 replaced, 0 unchanged, 0 kept, 0 superseded, 0 skipped." in out


def test_timestamp_is_written_in_nbgraders_own_format(tmp_path):
    from nbgrader.utils import parse_utc

    moment = datetime(2026, 10, 5, 23, 12, 7, 250000, tzinfo=BERLIN)
    text = lms.write_timestamp(tmp_path, moment).read_text()
    assert text == "2026-10-05 21:12:07.250000 UTC"  # nbgrader's collect: "%Y-%m-%d %H:%M:%S.%f %Z"
    assert parse_utc(text) == utc(moment)
    with pytest.raises(ValueError, match="time zone"):
        lms.write_timestamp(tmp_path, datetime(2026, 10, 5))


def test_moodle_download_in_folders_flat_and_unpacked(course, tmp_path, capsys):
    """Moodle's folder per student, its older flat names, and the same download unpacked into a
    folder (times: the files' modification times); the map may say "Participant 12345"."""
    ada, grace = notebook("ada"), notebook("grace")
    entries = {
        f"Ada Lovelace_12345_assignsubmission_file_/{FIRST}.ipynb": ada,
        f"Grace Hopper_222_assignsubmission_file_{FIRST}.ipynb": grace,
        "Grace Hopper_222_assignsubmission_onlinetext_/onlinetext.html": b"<p>hi</p>",
    }
    download = make_zip(tmp_path / "moodle.zip", entries)
    table = make_map(
        tmp_path / "map.csv",
        [
            {"lms_id": "Participant 12345", "student_id": "s001"},
            {"lms_id": "222", "student_id": "s002"},
        ],
    )
    assert run(course, "lms-import", download, "--map", table, "--timezone", "UTC") == 1
    out = capsys.readouterr().out
    assert submitted(course, "s001", FIRST).read_bytes() == ada
    assert submitted(course, "s002", FIRST).read_bytes() == grace
    assert nbgrader_time(course, "s001", FIRST) == datetime(2026, 10, 5, 22, 30)
    assert "onlinetext.html: not a notebook (.html)" in out

    unpacked = tmp_path / "unpacked"
    for name, data in entries.items():
        path = unpacked / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    modified = datetime(2026, 10, 4, 12, 0, tzinfo=timezone.utc)
    newer = notebook("ada, a day later")
    (unpacked / f"Ada Lovelace_12345_assignsubmission_file_/{FIRST}.ipynb").write_bytes(newer)
    for path in unpacked.rglob("*.ipynb"):
        os.utime(path, (modified.timestamp(),) * 2)
    again = copy_course(ROOT, tmp_path / "again")
    assert run(again, "lms-import", unpacked, "--map", table) == 1  # the .html again
    out = capsys.readouterr().out
    assert submitted(again, "s001", FIRST).read_bytes() == newer
    assert nbgrader_time(again, "s001", FIRST) == utc(modified)
    assert "(time from the file's modification time)" in out


def test_hostile_and_unmappable_entries_are_refused_and_the_rest_imported(course, tmp_path, capsys):
    good = notebook("good")
    download = make_zip(
        tmp_path / "hostile.zip",
        {
            f"lovelaceada_12345_678_{FIRST}.ipynb": good,
            f"../lovelaceada_12345_1_{SECOND}.ipynb": notebook("up"),
            f"/tmp/lovelaceada_12345_2_{SECOND}.ipynb": notebook("absolute"),
            f"C:\\lovelaceada_12345_3_{SECOND}.ipynb": notebook("drive"),
            f"a/../../lovelaceada_12345_4_{SECOND}.ipynb": notebook("climb"),
            f"lovelaceada_12345_5_{SECOND}.ipynb": ("symlink", "/etc/passwd"),
            "lovelaceada_12345_6_notes.pdf": b"%PDF-1.4",
            f"stranger_999_7_{FIRST}.ipynb": notebook("stranger"),
            f"anon_k3x9q_8_{FIRST}.ipynb": notebook("anonymous"),
            "lovelaceada_12345_9_homework.ipynb": notebook("homework"),
            f"lovelaceada_12345_10_{LESSON_IDS[2]}.ipynb": b"x" * (2 * 1024 * 1024),
            "README.txt": b"what is this",
        },
    )
    table = make_map(tmp_path / "map.csv", [{"lms_id": "12345", "student_id": "s001"}])
    before = files_under(tmp_path)
    assert run(course, "lms-import", download, "--map", table, "--max-mb", "1") == 1
    out = capsys.readouterr().out
    reasons = {
        f"../lovelaceada_12345_1_{SECOND}.ipynb": "unsafe name in the download: a path with '..'",
        f"/tmp/lovelaceada_12345_2_{SECOND}.ipynb": "unsafe name in the download: an absolute path",
        f"C:\\lovelaceada_12345_3_{SECOND}.ipynb": "unsafe name in the download: an absolute path",
        f"a/../../lovelaceada_12345_4_{SECOND}.ipynb": "a path with '..'",
        f"lovelaceada_12345_5_{SECOND}.ipynb": "a symbolic link: not followed",
        "lovelaceada_12345_6_notes.pdf": "not a notebook (.pdf)",
        f"stranger_999_7_{FIRST}.ipynb": "Canvas id 999 (stranger) is not in the map map.csv",
        f"anon_k3x9q_8_{FIRST}.ipynb": "an anonymous Canvas submission",
        "lovelaceada_12345_9_homework.ipynb": "'homework.ipynb' names no lesson of this course",
        f"lovelaceada_12345_10_{LESSON_IDS[2]}.ipynb": "larger than 1 MB",
        "README.txt": "not named as Canvas",
    }
    lines = out.splitlines()
    for name, reason in reasons.items():
        line = next((x for x in lines if x.startswith(f"skipped    {name}")), None)
        assert line is not None and reason in line, (name, line)
    assert "11 skipped" in out
    assert submitted(course, "s001", FIRST).read_bytes() == good
    # Nothing was written anywhere but submitted/<student>/<lesson>/.
    written = files_under(tmp_path) - before
    assert written == {
        f"course/submitted/s001/{FIRST}/{FIRST}.ipynb",
        f"course/submitted/s001/{FIRST}/timestamp.txt",
    }


def test_a_damaged_entry_is_skipped_and_the_others_imported(course, tmp_path, capsys):
    damaged_name = f"lovelaceada_12345_1_{FIRST}.ipynb"
    download = tmp_path / "damaged.zip"
    with zipfile.ZipFile(download, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(damaged_name, notebook("ada " * 2000))
        archive.writestr(f"hoppergrace_222_2_{FIRST}.ipynb", notebook("grace"))
    with zipfile.ZipFile(download) as archive:
        info = archive.getinfo(damaged_name)
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw = bytearray(download.read_bytes())
    middle = start + info.compress_size // 2
    raw[middle : middle + 8] = bytes(b ^ 0xFF for b in raw[middle : middle + 8])
    download.write_bytes(bytes(raw))
    table = make_map(
        tmp_path / "map.csv",
        [{"lms_id": "12345", "student_id": "s001"}, {"lms_id": "222", "student_id": "s002"}],
    )
    assert run(course, "lms-import", download, "--map", table) == 1
    assert f"skipped    {damaged_name} -> s001/{FIRST}: cannot be read:" in capsys.readouterr().out
    assert submitted(course, "s002", FIRST).read_bytes() == notebook("grace")
    assert not (course / "submitted" / "s001").exists()


def test_links_in_an_unpacked_download_are_not_followed(course, tmp_path, capsys):
    folder = tmp_path / "download"
    folder.mkdir()
    (folder / f"lovelaceada_12345_1_{FIRST}.ipynb").write_bytes(notebook("ada"))
    secret = tmp_path / "secret.ipynb"
    secret.write_bytes(notebook("not the student's"))
    (folder / f"hoppergrace_222_2_{FIRST}.ipynb").symlink_to(secret)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / f"hoppergrace_222_3_{SECOND}.ipynb").write_bytes(notebook("linked folder"))
    (folder / "linked").symlink_to(elsewhere, target_is_directory=True)
    table = make_map(
        tmp_path / "map.csv",
        [{"lms_id": "12345", "student_id": "s001"}, {"lms_id": "222", "student_id": "s002"}],
    )
    assert run(course, "lms-import", folder, "--map", table) == 1
    out = capsys.readouterr().out
    assert f"skipped    hoppergrace_222_2_{FIRST}.ipynb: a symbolic link: not followed" in out
    assert "skipped    linked: a symbolic link: not followed" in out
    assert submitted(course, "s001", FIRST).is_file()
    assert not (course / "submitted" / "s002").exists()


def test_reimporting_the_same_download_changes_nothing(course, tmp_path, capsys):
    download = make_zip(tmp_path / "d.zip", {f"lovelaceada_12345_678_{FIRST}.ipynb": notebook("a")})
    table = make_map(tmp_path / "map.csv", [{"lms_id": "12345", "student_id": "s001"}])
    assert run(course, "lms-import", download, "--map", table, "--timezone", "UTC") == 0
    folder = course / "submitted" / "s001" / FIRST
    first = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}
    capsys.readouterr()
    assert run(course, "lms-import", download, "--map", table, "--timezone", "UTC") == 0
    assert "0 imported, 0 replaced, 1 unchanged" in capsys.readouterr().out
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()} == first


def test_a_newer_submission_replaces_an_older_and_never_the_reverse(course, tmp_path, capsys):
    name = f"lovelaceada_12345_678_{FIRST}.ipynb"
    times = {
        label: datetime(2026, 10, day, 12, tzinfo=timezone.utc)
        for label, day in [("old", 4), ("new", 6), ("older", 2)]
    }

    def import_at(label: str) -> str:
        download = make_zip(tmp_path / f"{label}.zip", {name: notebook(label)})
        row = {"lms_id": "12345", "student_id": "s001", "submitted_at": times[label].isoformat()}
        table = make_map(tmp_path / f"{label}.csv", [row])
        assert run(course, "lms-import", download, "--map", table) == 0
        return capsys.readouterr().out

    import_at("old")
    out = import_at("new")
    assert "replaced" in out and "replaces the one of 2026-10-04 12:00:00 UTC" in out
    assert submitted(course, "s001", FIRST).read_bytes() == notebook("new")
    out = import_at("older")
    assert "kept" in out
    assert "already there (2026-10-06 12:00:00 UTC) is newer than this one" in out
    assert submitted(course, "s001", FIRST).read_bytes() == notebook("new")
    assert nbgrader_time(course, "s001", FIRST) == utc(times["new"])


def test_in_one_download_the_latest_upload_wins(course, tmp_path, capsys):
    """Canvas: same time (the download's), a later upload has a larger file id and '-1'."""
    download = make_zip(
        tmp_path / "d.zip",
        {
            f"lovelaceada_12345_700_{FIRST}.ipynb": notebook("first upload"),
            f"lovelaceada_12345_701_{FIRST}-1.ipynb": notebook("second upload"),
        },
    )
    table = make_map(tmp_path / "map.csv", [{"lms_id": "12345", "student_id": "s001"}])
    assert run(course, "lms-import", download, "--map", table) == 0
    out = capsys.readouterr().out
    assert submitted(course, "s001", FIRST).read_bytes() == notebook("second upload")
    assert f"superseded lovelaceada_12345_700_{FIRST}.ipynb -> s001/{FIRST}" in out


def test_two_different_notebooks_at_the_same_time_are_not_guessed_between(course, tmp_path, capsys):
    download = make_zip(
        tmp_path / "d.zip",
        {
            f"Ada Lovelace_12345_assignsubmission_file_/{FIRST}.ipynb": notebook("one"),
            f"Ada Lovelace_12345_assignsubmission_file_/{FIRST} (1).ipynb": notebook("two"),
        },
    )
    table = make_map(tmp_path / "map.csv", [{"lms_id": "12345", "student_id": "s001"}])
    assert run(course, "lms-import", download, "--map", table) == 1
    assert "several different notebooks for 01_definition with the same time" in (
        capsys.readouterr().out
    )
    assert not submitted(course, "s001", FIRST).exists()


def test_a_submission_placed_by_hand_is_never_overwritten(course, tmp_path, capsys):
    by_hand = submitted(course, "s001", FIRST)
    by_hand.parent.mkdir(parents=True)
    by_hand.write_bytes(notebook("placed by hand"))
    download = make_zip(tmp_path / "d.zip", {f"lovelaceada_12345_1_{FIRST}.ipynb": notebook("x")})
    table = make_map(tmp_path / "map.csv", [{"lms_id": "12345", "student_id": "s001"}])
    assert run(course, "lms-import", download, "--map", table) == 1
    assert "is already there without timestamp.txt" in capsys.readouterr().out
    assert by_hand.read_bytes() == notebook("placed by hand")


def test_lesson_option_and_dry_run(course, tmp_path, capsys):
    download = make_zip(tmp_path / "d.zip", {"lovelaceada_12345_1_homework.ipynb": notebook("a")})
    table = make_map(tmp_path / "map.csv", [{"lms_id": "12345", "student_id": "s001"}])
    assert run(course, "lms-import", download, "--map", table, "--lesson", SECOND, "--dry-run") == 0
    out = capsys.readouterr().out
    assert f"imported   lovelaceada_12345_1_homework.ipynb -> s001/{SECOND}" in out
    assert "Dry run: nothing was written." in out
    assert not (course / "submitted").exists()
    assert run(course, "lms-import", download, "--map", table, "--lesson", "99_nothing") == 2
    assert "'99_nothing' is not a lesson of this course" in capsys.readouterr().out
    assert run(course, "lms-import", download, "--map", table, "--timezone", "Mars/Base") == 2
    assert "unknown time zone 'Mars/Base'" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        run(course, "lms-import", download, "--map", table, "--max-mb", "0")
    assert "expected a size in MB above 0, got '0'" in capsys.readouterr().err
    assert not (course / "submitted").exists()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"lms_id": "1", "student_id": "../x"}], "row 2: student id '../x' cannot be a folder"),
        (
            [{"lms_id": "1", "student_id": "a"}, {"lms_id": "1", "student_id": "b"}],
            "row 3: LMS id 1 is mapped to 'a' and 'b'",
        ),
        (
            [{"lms_id": "1", "student_id": "a", "submitted_at": "2026-10-05 23:00"}],
            "row 2: submitted_at '2026-10-05 23:00' has no UTC offset",
        ),
        ([{"canvas": "1", "student_id": "a"}], "has no column lms_id or lms_user_id"),
        (
            [
                {"lms_id": "1", "student_id": "a", "submitted_at": "2026-10-05T23:00Z"},
                {"lms_id": "1", "student_id": "a", "submitted_at": "2026-10-06T23:00Z"},
            ],
            "row 3: a second submitted_at for LMS id 1",
        ),
        (
            [
                {
                    "lms_id": "1",
                    "student_id": "a",
                    "submitted_at": "2026-10-05T23:00Z",
                    "lesson": "1",
                }
            ],
            "row 2: '1' is not a lesson of this course",
        ),
    ],
)
def test_a_broken_map_stops_the_import_before_anything_is_written(
    course, tmp_path, capsys, rows, message
):
    download = make_zip(tmp_path / "d.zip", {f"lovelaceada_1_1_{FIRST}.ipynb": notebook("a")})
    assert run(course, "lms-import", download, "--map", make_map(tmp_path / "m.csv", rows)) == 2
    assert message in capsys.readouterr().out
    assert not (course / "submitted").exists()


def test_a_time_in_the_map_can_be_for_one_lesson(course, tmp_path):
    """Canvas user ids are the same in every assignment: a map may give times per lesson."""
    download = make_zip(
        tmp_path / "d.zip",
        {
            f"lovelaceada_12345_1_{FIRST}.ipynb": notebook("one"),
            f"lovelaceada_12345_2_{SECOND}.ipynb": notebook("two"),
        },
    )
    general = datetime(2026, 10, 1, 9, tzinfo=timezone.utc)
    for_first = datetime(2026, 10, 5, 21, tzinfo=timezone.utc)
    rows = [
        {"lms_id": "12345", "student_id": "s001", "submitted_at": general.isoformat()},
        {"lms_id": "12345", "student_id": "s001", "submitted_at": for_first.isoformat()},
    ]
    rows[0]["lesson"], rows[1]["lesson"] = "", FIRST
    assert run(course, "lms-import", download, "--map", make_map(tmp_path / "m.csv", rows)) == 0
    assert nbgrader_time(course, "s001", FIRST) == utc(for_first)
    assert nbgrader_time(course, "s001", SECOND) == utc(general)


def test_the_nbgrader_roster_is_a_canvas_map(tmp_path):
    roster = make_map(
        tmp_path / "roster.csv",
        [
            {"id": "s001", "first_name": "Ada", "email": "ada@example.org", "lms_user_id": "12"},
            {"id": "s002", "first_name": "Grace", "email": "", "lms_user_id": ""},
        ],
    )
    assert lms.read_map(roster).students == {"12": "s001"}


def test_a_download_that_is_neither_zip_nor_folder_is_refused(course, tmp_path, capsys):
    text = tmp_path / "grades.pdf"
    text.write_bytes(b"%PDF")
    table = make_map(tmp_path / "map.csv", [{"lms_id": "1", "student_id": "a"}])
    assert run(course, "lms-import", text, "--map", table) == 2
    assert "is neither a folder nor a zip file" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("original", "lesson"),
    [
        (f"{FIRST}.ipynb", FIRST),
        (f"{FIRST}-2.ipynb", FIRST),
        (f"{FIRST.upper()} (1).ipynb", FIRST),
        (f"sub/{SECOND}.ipynb", SECOND),
        (f"{FIRST}_mine.ipynb", None),
    ],
)
def test_the_lesson_is_read_from_the_students_file_name(original, lesson):
    assert lms.lesson_from_file_name(original, LESSON_IDS) == lesson


# --- export ------------------------------------------------------------------------------------


@pytest.fixture
def gradebook_copy(graded_course, tmp_path):
    """The graded class's gradebook, copied, with a rostered student who handed in nothing (as
    `nbgrader db student import` would add her)."""
    course, _ = graded_course
    shutil.copy(course / "gradebook.db", tmp_path / "gradebook.db")
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(url) as gb:
        gb.update_or_create_student(
            "nosub",
            first_name="Ada",
            last_name="Lovelace",
            email="ada@example.org",
            lms_user_id="4242",
        )
    return course, url


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


@pytest.mark.slow
def test_plain_export_has_every_student_and_the_gradebooks_totals(gradebook_copy, tmp_path):
    course, url = gradebook_copy
    book = lms.read_gradebook(course, url)
    rows = read_csv(lms.export_grades(book, "plain", tmp_path / "plain.csv"))
    header, body = rows[0], {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    with Gradebook(url) as gb:
        students = {s.id for s in gb.students}
        nbgrader_totals = {d["id"]: d["score"] for d in gb.student_dicts()}
        scores = {
            (sub.student_id, a.name): (sub.score, sub.late_submission_penalty)
            for a in gb.assignments
            for sub in a.submissions
        }
    assert set(body) == students and "nosub" in body
    nosub = body["nosub"]
    assert (nosub["first_name"], nosub["last_name"], nosub["lms_user_id"]) == (
        "Ada",
        "Lovelace",
        "4242",
    )
    for lesson in LESSON_IDS:
        assert nosub[f"{lesson} missing"] == "missing"
        assert nosub[f"{lesson} points"] == nosub[f"{lesson} total"] == "0"
        assert body["solution"][f"{lesson} missing"] == ""
        for student in students:
            if (student, lesson) in scores:
                score, penalty = scores[(student, lesson)]
                total = float(body[student][f"{lesson} total"])
                assert total == pytest.approx(max(0.0, score - penalty), abs=1e-4)
    for student in students:  # nothing is late here: nbgrader's own per-student sums
        assert float(body[student]["course total"]) == pytest.approx(nbgrader_totals[student])
    assert header[-2:] == ["course total", "course max"]
    assert float(body["solution"]["course total"]) == float(body["solution"]["course max"])


@pytest.mark.slow
def test_canvas_export_has_canvas_importers_columns(gradebook_copy, tmp_path):
    course, url = gradebook_copy
    book = lms.read_gradebook(course, url)
    rows = read_csv(lms.export_grades(book, "canvas", tmp_path / "canvas.csv"))
    # Canvas's gradebook importer: Student, ID, [SIS User ID, SIS Login ID], Section, then one
    # column per assignment; a "Points Possible" row may follow the header.
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *LESSON_IDS]
    assert rows[1][:5] == ["Points Possible", "", "", "", ""]
    assert [float(p) for p in rows[1][5:]] == [book.max_points[n] for n in LESSON_IDS]
    nosub = next(row for row in rows if row[1] == "4242")
    assert nosub == ["Lovelace, Ada", "4242", "", "", "", *["0"] * len(LESSON_IDS)]
    assert all(len(row) == len(rows[0]) for row in rows)


@pytest.mark.slow
def test_moodle_export_has_identifiers_and_a_feedback_column_per_lesson(gradebook_copy, tmp_path):
    course, url = gradebook_copy
    rows = read_csv(
        lms.export_grades(lms.read_gradebook(course, url), "moodle", tmp_path / "m.csv")
    )
    expected = ["Email address", "ID number", "User ID", "First name", "Last name"]
    for lesson in LESSON_IDS:
        expected += [lesson, f"{lesson} feedback"]
    assert rows[0] == expected
    nosub = dict(zip(rows[0], next(row for row in rows if row[1] == "nosub"), strict=True))
    assert nosub["Email address"] == "ada@example.org"
    assert all(nosub[f"{n} feedback"] == "missing" and nosub[n] == "0" for n in LESSON_IDS)


@pytest.mark.slow
def test_export_command_writes_under_reports_and_never_grades_csv(graded_course, tmp_path, capsys):
    graded, _ = graded_course
    course = copy_course(ROOT, tmp_path / "course")
    assert run(course, "lms-export") == 2
    assert "no gradebook at" in capsys.readouterr().out
    shutil.copy(graded / "gradebook.db", course / "gradebook.db")
    assert run(course, "lms-export", "--format", "canvas") == 0
    out = capsys.readouterr().out
    assert (course / "reports" / "lms-canvas.csv").is_file()
    assert f"students x {len(LESSON_IDS)} lessons" in out
    for theirs, writer in [("grades.csv", "nbgrader export"), ("reports/scores.csv", "make grade")]:
        assert run(course, "lms-export", "--out", course / theirs) == 2
        assert f"is the file {writer} writes" in capsys.readouterr().out
        assert not (course / theirs).exists()
