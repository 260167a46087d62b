"""pyproject.toml and environment.yml must list the same packages with the same versions."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
# PyPI name -> conda-forge name, where they differ.
CONDA_NAMES = {"torch": "pytorch-cpu", "psycopg-binary": "psycopg"}
CONDA_ONLY = {"python", "pip"}


def _split(requirement: str) -> tuple[str, str]:
    """'numpy>=1.26; python_version<"3.11"' -> ('numpy', '>=1.26')."""
    requirement = requirement.split(";")[0].replace(" ", "")
    match = re.match(r"^([A-Za-z0-9_.\-]+)(.*)$", requirement)
    assert match, f"cannot parse requirement {requirement!r}"
    name = match.group(1).lower().replace("_", "-")
    spec = ",".join(sorted(match.group(2).split(","))) if match.group(2) else ""
    return name, spec


def pyproject_requirements() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = data["project"]
    reqs = project["dependencies"] + [
        r for extra in project["optional-dependencies"].values() for r in extra
    ]
    pairs = [_split(r) for r in reqs]
    return {CONDA_NAMES.get(name, name): spec for name, spec in pairs}


def conda_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    assert env["channels"] == ["conda-forge"], "environment.yml must use conda-forge only"
    pairs = [_split(d) for d in env["dependencies"] if isinstance(d, str)]
    return {name: spec for name, spec in pairs if name not in CONDA_ONLY}


def test_environment_yml_matches_pyproject():
    assert conda_requirements() == pyproject_requirements()


def test_environment_yml_installs_the_package_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert pip_sections == [["-e ."]]


def test_torch_is_bounded_below_2_14():
    """An unbounded torch (or one admitting 2.14) pulls a CUDA build of several GB."""
    spec = pyproject_requirements()["pytorch-cpu"]
    assert "<2.14" in spec.split(","), f"torch must stay below 2.14, got {spec!r}"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "TORCH ?= torch==2.13.0" in makefile


def test_split_normalises_names_and_specs():
    assert _split("Jupyter_Server >= 2 , <3 ; python_version<'3.11'") == (
        "jupyter-server",
        "<3,>=2",
    )
    assert _split("pip") == ("pip", "")
