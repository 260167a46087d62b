"""``python -m softplus_course check NOTEBOOK ...``: a learner's self-check (see selfcheck)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m softplus_course")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser(
        "check",
        help="grade your own lesson notebooks as grading will, and show every property",
        description="Run each notebook and check every exercise with the lesson's check "
        "specification (visible checks only where specs/ is not in this copy).",
    )
    check.add_argument("notebooks", nargs="+", type=Path, help="lesson notebooks to check")
    args = parser.parse_args(argv)
    from .selfcheck import check_notebook

    status = 0
    for path in args.notebooks:
        try:
            report, _, _ = check_notebook(path)
        except (FileNotFoundError, ValueError) as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            status = 2
            continue
        print(report)
        print()
    return status


if __name__ == "__main__":
    sys.exit(main())
