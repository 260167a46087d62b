"""Command line of the instructor pipeline: ``python -m softplus_course.pipeline <command>``."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from .grading import grade_course
from .lessons import discover_lessons, find_root
from .nbgrader_ops import release
from .notebooks import execute_in_place

SAMPLES = Path("tests") / "sample_submissions"


def _lessons(root: Path, names: list[str]):
    lessons = discover_lessons(root)
    if not names:
        return lessons
    known = {lesson.name: lesson for lesson in lessons}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown lesson(s) {unknown}; known: {sorted(known)}")
    return [known[n] for n in names]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def cmd_release(root: Path, args: argparse.Namespace) -> int:
    for path in release(root, _lessons(root, args.lessons)):
        print(f"released {path.relative_to(root)}")
    return 0


def cmd_execute(root: Path, args: argparse.Namespace) -> int:
    for lesson in _lessons(root, args.lessons):
        execute_in_place(lesson.source)
        print(f"executed {lesson.source.relative_to(root)}")
    return 0


def cmd_grade(root: Path, args: argparse.Namespace) -> int:
    if args.lesson:
        _lessons(root, args.lesson)  # an unknown name is an error, not an empty selection
    return grade_course(
        root,
        jobs=args.jobs,
        sandbox=not args.no_sandbox,
        students=args.student,
        lessons=args.lesson,
        changed=args.changed,
        shard=args.shard,
    )


def _shard(text: str) -> tuple[int, int]:
    k, _, n = text.partition("/")
    try:
        pair = int(k), int(n)
    except ValueError:
        pair = (0, 0)
    if not 1 <= pair[0] <= pair[1]:
        raise argparse.ArgumentTypeError(f"expected K/N with 1 <= K <= N (like 2/3), got {text!r}")
    return pair


def cmd_report(root: Path, args: argparse.Namespace) -> int:
    from .report import report_course

    return report_course(root, out=args.out)


def cmd_demo_grade(root: Path, args: argparse.Namespace) -> int:
    samples = root / SAMPLES
    students = sorted(p for p in samples.iterdir() if p.is_dir())
    for student in students:
        target = root / "submitted" / student.name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(student, target)
    print(f"Copied {len(students)} sample students from {SAMPLES} into submitted/.")
    return grade_course(root, jobs=args.jobs, sandbox=not args.no_sandbox)


def cmd_times(root: Path, args: argparse.Namespace) -> int:
    """Each lesson's time by the course's rule (estimate.py), next to the time it states."""
    from .estimate import LESSON_LIMIT_MIN, estimate, stated_minutes
    from .lessons import read_notebook

    print(f"{'lesson':24s} {'words':>6s} {'code':>5s} {'exer.':>5s} {'exact':>6s} {'rounded':>8s}")
    wrong = 0
    for lesson in _lessons(root, args.lessons):
        nb = read_notebook(lesson.source)
        est, stated = estimate(nb), stated_minutes(nb)
        note = ""
        if stated != est.minutes:
            note, wrong = f"  <- the lesson states {stated}", wrong + 1
        if est.minutes > LESSON_LIMIT_MIN:
            note, wrong = note + f"  <- over {LESSON_LIMIT_MIN} min: split it", wrong + 1
        print(
            f"{lesson.name:24s} {est.words:6d} {est.code_lines:5d} {est.exercises:5d} "
            f"{est.exact_minutes:6.1f} {est.minutes:4d} min{note}"
        )
    return 1 if wrong else 0


def cmd_audit(root: Path, args: argparse.Namespace) -> int:
    """Numbers of the prose that no cell printed, and sentences with absolute words."""
    from .audit import audit
    from .lessons import read_notebook

    for lesson in _lessons(root, args.lessons):
        unprinted, absolute = audit(read_notebook(lesson.source))
        print(f"== {lesson.name}: {len(unprinted)} numbers no cell printed")
        for f in unprinted:
            print(f"  {f.cell}: {f.text!r} in: {f.context}")
        if args.words:
            print(f"   {len(absolute)} sentences with an absolute word")
            for f in absolute:
                print(f"  {f.cell}: [{f.text}] {f.context}")
    return 0


def cmd_bench(root: Path, args: argparse.Namespace) -> int:
    from .bench import run_bench  # imported here: it pulls in the timing machinery

    return run_bench(
        root,
        _lessons(root, args.lessons),
        suite=not args.no_suite,
        corpus=not args.no_corpus,
        class_size=0 if args.no_class else 1,
        regrade=not args.no_regrade,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    root = find_root(args.root)
    return args.func(root, args)


def build_parser() -> argparse.ArgumentParser:
    """The pipeline's command line (tests check the README's examples against it)."""
    parser = argparse.ArgumentParser(prog="python -m softplus_course.pipeline", description=__doc__)
    parser.add_argument("--root", type=Path, default=None, help="course root (default: found)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, text in [
        ("release", cmd_release, "regenerate course/ from solutions/"),
        ("execute", cmd_execute, "execute solutions notebooks in place (commit their outputs)"),
        ("grade", cmd_grade, "autograde submitted/, write feedback/ and reports/scores.csv"),
        ("report", cmd_report, "rewrite reports/scores.csv from the gradebook (no regrading)"),
        ("demo-grade", cmd_demo_grade, "copy the sample submissions into submitted/ and grade"),
        ("bench", cmd_bench, "time lesson execution, autograding, and the test suite"),
        ("times", cmd_times, "each lesson's estimated time by the course's rule"),
        ("audit", cmd_audit, "numbers in a lesson's prose that no cell printed"),
    ]:
        p = sub.add_parser(name, help=text, description=text)
        p.set_defaults(func=func)
        if name in ("release", "execute", "bench", "times", "audit"):
            p.add_argument("lessons", nargs="*", help="lesson names (default: all)")
        if name in ("grade", "demo-grade"):
            p.add_argument(
                "--jobs",
                type=_positive,
                default=1,
                help="grade this many submissions at a time, each in its own process (default 1)",
            )
            p.add_argument(
                "--no-sandbox",
                action="store_true",
                help="run student code WITHOUT the bubblewrap sandbox, with your rights: only "
                "for submissions you trust (recorded in the reports and the summary)",
            )
        if name == "grade":
            p.add_argument(
                "--student",
                action="append",
                metavar="NAME",
                help="grade only this student's submissions (repeat for several)",
            )
            p.add_argument(
                "--lesson",
                action="append",
                metavar="NAME",
                help="grade only this lesson's submissions (repeat for several)",
            )
            p.add_argument(
                "--changed",
                action="store_true",
                help="grade only submissions that are new or changed since they were last "
                "graded (their files, or the lesson's source, specification or configuration)",
            )
            p.add_argument(
                "--shard",
                type=_shard,
                metavar="K/N",
                help="grade only the K-th of N disjoint parts of the class (by student), so that "
                "N machines grade one class into one shared (PostgreSQL) gradebook",
            )
        if name == "report":
            p.add_argument("--out", type=Path, help="where to write (default reports/scores.csv)")
        if name == "audit":
            p.add_argument(
                "--words", action="store_true", help="also list never/always/exactly sentences"
            )
        if name == "bench":
            p.add_argument("--no-suite", action="store_true", help="skip timing the test suite")
            p.add_argument(
                "--no-corpus", action="store_true", help="skip grading the bad-submission corpus"
            )
            p.add_argument(
                "--no-class",
                action="store_true",
                help="skip grading a mixed class of every lesson with JOBS=2",
            )
            p.add_argument(
                "--no-regrade",
                action="store_true",
                help="skip timing `grade --changed` against a full regrade",
            )
    # Commands that live with their code: LMS import/export and the statistics report.
    from . import lms, stats

    lms.register(sub)
    stats.register(sub)
    return parser


if __name__ == "__main__":
    sys.exit(main())
