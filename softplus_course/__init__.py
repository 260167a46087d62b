"""Helper package for the Softplus course.

The lessons import three things from here:

- :mod:`softplus_course.plotting` — plot helpers with one signature style (``ax=None`` in,
  ``Axes`` out) and the course's matplotlib style;
- :mod:`softplus_course.checks` — the learner checks used by the visible test cells;
- :func:`show_versions` — the versions line printed by every setup cell.

The grading pipeline for instructors lives in :mod:`softplus_course.pipeline`.
"""

from __future__ import annotations

import platform
from importlib import metadata

__all__ = ["show_versions", "versions"]
__version__ = "0.1.0"

_DEFAULT_PACKAGES = ("numpy", "matplotlib")


def versions(packages: tuple[str, ...] | list[str] = _DEFAULT_PACKAGES) -> dict[str, str]:
    """Return the versions of Python and of the named installed packages.

    Parameters
    ----------
    packages : sequence of str
        Distribution names as pip knows them (``"torch"``, ``"numpy"``, ...).

    Returns
    -------
    dict
        ``{"python": "3.11.7", "numpy": "2.4.6", ...}``; a package that is not installed maps
        to ``"not installed"``.
    """
    if isinstance(packages, str) or not all(isinstance(p, str) for p in packages):
        raise TypeError(f"packages must be a sequence of package names, got {packages!r}")
    found = {"python": platform.python_version()}
    for name in packages:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def show_versions(packages: tuple[str, ...] | list[str] = _DEFAULT_PACKAGES) -> None:
    """Print the versions in use, in one line, for the setup cell of a lesson."""
    print(" | ".join(f"{name} {version}" for name, version in versions(packages).items()))
