"""Tests for softplus_course.versions and softplus_course.show_versions."""

from __future__ import annotations

import platform
from importlib import metadata

import pytest

import softplus_course
from softplus_course import show_versions, versions

MISSING = "softplus-course-no-such-package-xyz"


def test_public_names():
    assert set(softplus_course.__all__) == {"show_versions", "versions"}


def test_versions_default_is_python_numpy_matplotlib_in_order():
    found = versions()
    assert list(found) == ["python", "numpy", "matplotlib"]
    assert found["python"] == platform.python_version()
    assert found["numpy"] == metadata.version("numpy")
    assert found["matplotlib"] == metadata.version("matplotlib")


def test_versions_of_named_packages_in_given_order():
    found = versions(["pytest", "numpy"])
    assert list(found) == ["python", "pytest", "numpy"]
    assert found["pytest"] == pytest.__version__
    assert found["numpy"] == metadata.version("numpy")


def test_versions_accepts_tuple():
    assert versions(("numpy",)) == {
        "python": platform.python_version(),
        "numpy": metadata.version("numpy"),
    }


def test_versions_empty_sequence_gives_python_only():
    assert versions([]) == {"python": platform.python_version()}


def test_versions_missing_package_is_not_installed():
    found = versions(["numpy", MISSING])
    assert found[MISSING] == "not installed"
    assert found["numpy"] == metadata.version("numpy")


def test_versions_values_are_strings():
    assert all(isinstance(v, str) and v for v in versions(["numpy", MISSING]).values())


@pytest.mark.parametrize("packages", ["numpy", "", ["numpy", 1], [None], ("numpy", b"torch")])
def test_versions_bad_argument_is_type_error(packages):
    with pytest.raises(TypeError, match="packages must be a sequence of package names"):
        versions(packages)


def test_show_versions_prints_one_line_joined_by_bars(capsys):
    assert show_versions() is None
    out, err = capsys.readouterr()
    assert err == ""
    assert out.endswith("\n")
    assert out.count("\n") == 1
    expected = " | ".join(f"{name} {version}" for name, version in versions().items())
    assert out == expected + "\n"
    assert out.startswith(f"python {platform.python_version()} | numpy ")


def test_show_versions_with_named_and_missing_packages(capsys):
    show_versions(["numpy", MISSING])
    out, err = capsys.readouterr()
    assert err == ""
    assert out == (
        f"python {platform.python_version()} | numpy {metadata.version('numpy')} | "
        f"{MISSING} not installed\n"
    )


def test_show_versions_bad_argument_is_type_error(capsys):
    with pytest.raises(TypeError, match="packages"):
        show_versions("numpy")
    assert capsys.readouterr().out == ""
