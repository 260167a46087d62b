# The Softplus course. `make lab` opens the course, `make test` runs every check.
# The first use of any target creates a virtual environment in .venv and installs everything.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ifeq ($(OS),Windows_NT)
BIN := $(VENV)/Scripts
endif
PY := $(BIN)/python
STAMP := $(VENV)/.installed
# The CPU build of PyTorch. On Linux, PyPI's default torch wheel is a CUDA build of several GB;
# set TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu there to get the small CPU one.
TORCH ?= torch==2.13.0
TORCH_INDEX_URL ?=
export PATH := $(abspath $(BIN)):$(PATH)
PIP := $(PY) -m pip install --disable-pip-version-check --quiet
# Submissions graded at a time by `make grade` and `make demo-grade`, each in its own process.
JOBS ?= 1
# SANDBOX=no grades without the bubblewrap sandbox: only for submissions you trust.
SANDBOX ?= yes
GRADE_FLAGS = --jobs $(JOBS) $(if $(filter no,$(SANDBOX)),--no-sandbox)

.PHONY: help install lab lab-instructor check test release execute grade demo-grade report stats bench lint format clean

help:
	@echo "Learners:     make lab         open the course in JupyterLab"
	@echo "              make check       grade your own notebooks in course/ as grading will"
	@echo "                               (NB=course/01_definition/01_definition.ipynb: one)"
	@echo "              make test        run the whole test suite"
	@echo "Instructors:  make lab-instructor  JupyterLab with nbgrader's Formgrader and tools"
	@echo "              make release     regenerate course/ from solutions/"
	@echo "              make execute     re-run solutions/ notebooks and store their outputs"
	@echo "              make grade       autograde submitted/ -> feedback/, reports/scores.csv"
	@echo "                               (JOBS=4 grades four submissions at a time)"
	@echo "              make report      rewrite reports/scores.csv from the gradebook"
	@echo "              make stats       reports/stats.html: what the class gets wrong"
	@echo "              make demo-grade  grade the bundled sample submissions"
	@echo "              make bench       time lessons, autograding and the test suite"
	@echo "Maintainers:  make lint | format | clean"

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL)) "$(TORCH)"
	$(PIP) -e ".[dev]"
	@touch $(STAMP)

# Jupyter refuses to run as root unless told; containers often run as root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)

# Opens the start page; JupyterLab's root is its folder, course/.
# Learners get nbgrader's Validate button but not its instructor tools: see jupyter/README.md.
lab: export JUPYTER_CONFIG_PATH := $(CURDIR)/jupyter/learner
lab: $(STAMP)
	$(BIN)/jupyter lab course/00_start_here.ipynb $(ALLOW_ROOT)

lab-instructor: $(STAMP)
	$(BIN)/jupyter lab $(ALLOW_ROOT)

# A learner's self-check: every lesson notebook in course/, or NB=path for one.
NB ?= $(sort $(wildcard course/[0-9][0-9]_*/[0-9][0-9]_*.ipynb))
check: $(STAMP)
	$(PY) -m softplus_course check $(NB)

test: $(STAMP)
	$(PY) -m pytest

release: $(STAMP)
	$(PY) -m softplus_course.pipeline release

execute: $(STAMP)
	$(PY) -m softplus_course.pipeline execute

grade: $(STAMP)
	$(PY) -m softplus_course.pipeline grade $(GRADE_FLAGS)

demo-grade: $(STAMP)
	$(PY) -m softplus_course.pipeline demo-grade $(GRADE_FLAGS)

report: $(STAMP)
	$(PY) -m softplus_course.pipeline report

stats: $(STAMP)
	$(PY) -m softplus_course.pipeline stats

bench: $(STAMP)
	$(PY) -m softplus_course.pipeline bench

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf autograded feedback gradebook.db .gradebook.lock grades.csv reports .pytest_cache
