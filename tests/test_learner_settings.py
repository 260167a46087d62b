"""jupyter/learner: the JupyterLab settings `make lab` gives learners (see jupyter/README.md).

The browser test checks their effect in a running JupyterLab; these checks keep them pointing
at what is installed, so that an nbgrader upgrade that renames a plugin is noticed here.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEARNER = ROOT / "jupyter" / "learner"
LABEXTENSION = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "@jupyter" / "nbgrader"


def _page_config() -> dict:
    return json.loads((LEARNER / "labconfig" / "page_config.json").read_text())


def _server_extensions() -> dict:
    config = json.loads((LEARNER / "jupyter_server_config.json").read_text())
    return config["ServerApp"]["jpserver_extensions"]


def test_make_lab_points_jupyter_at_the_learner_settings():
    makefile = (ROOT / "Makefile").read_text()
    assert "lab: export JUPYTER_CONFIG_PATH := $(CURDIR)/jupyter/learner" in makefile
    recipe = re.search(r"^lab: \$\(STAMP\)\n\t(.*)$", makefile, re.MULTILINE)
    assert recipe and "course/00_start_here.ipynb" in recipe.group(1)


def test_disabled_plugins_are_nbgrader_plugins_that_exist():
    code = "\n".join(p.read_text(errors="replace") for p in LABEXTENSION.glob("static/*.js"))
    assert code, f"nbgrader's JupyterLab extension is not installed in {LABEXTENSION}"
    disabled = _page_config()["disabledExtensions"]
    assert disabled and all(value is True for value in disabled.values())
    missing = [plugin for plugin in disabled if f'"{plugin}"' not in code]
    assert not missing, f"no such plugin in nbgrader's JupyterLab extension: {missing}"
    assert '"@jupyter/nbgrader:validate-assignment"' in code
    assert "@jupyter/nbgrader:validate-assignment" not in disabled, "learners need Validate"


def test_disabled_server_extensions_exist_and_validate_stays():
    extensions = _server_extensions()
    assert extensions and all(value is False for value in extensions.values())
    for module in extensions:
        assert importlib.util.find_spec(module) is not None, f"no module {module}"
    assert "nbgrader.server_extensions.validate_assignment" not in extensions
