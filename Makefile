# Build a GPT from scratch: every command a student or instructor types. `make help` lists them.
# Variables: SOURCE=lessons|solutions|DIR  LESSON=NN  PRESET=name  FROM=/path/to/input.txt  FORCE=1

VENV ?= .venv
PY := $(VENV)/bin/python
BOOTSTRAP_PYTHON ?= python3
SOURCE ?= lessons
LESSON ?=
export MPLBACKEND = Agg
export PATH := $(abspath $(VENV))/bin:$(PATH)
export PYTHONDONTWRITEBYTECODE = 1

lesson_arg = $(if $(LESSON),--lesson $(LESSON))

.DEFAULT_GOAL := help
.PHONY: help setup data kernel test grade fixtures release lock clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: $(VENV)/.installed data kernel ## create .venv, install pinned packages, fetch data, register the kernel

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(PY) || $(BOOTSTRAP_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c requirements.lock -e .
	touch $@

data: ## get Tiny Shakespeare (local copy or download, sha256-checked) and GPT-2 BPE files
	$(PY) datasets/fetch.py all $(if $(FROM),--from "$(FROM)")

kernel:
	$(PY) -m ipykernel install --sys-prefix --name gpt-course --display-name "Python (gpt-course)" >/dev/null

test: ## run the course's own test suite
	$(PY) -m pytest

grade: ## grade lessons/ (SOURCE=solutions for the reference, LESSON=NN for one lesson)
	$(PY) -m autograder grade --source $(SOURCE) $(lesson_arg)

fixtures: ## regenerate the reference fixtures from solutions/
	$(PY) -m autograder fixtures $(lesson_arg)

release: ## regenerate lessons/ from solutions/ with nbgrader (FORCE=1 to overwrite edited lessons)
	$(PY) -m autograder.release $(lesson_arg) $(if $(FORCE),--force)

lock: ## re-pin requirements.lock after changing pyproject.toml
	$(PY) -m pip freeze --exclude-editable | sed -E 's/^torch==([^+]*)\+.*/torch==\1/' > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean: ## remove what the course writes at run time (keeps .venv, data and your notebooks)
	rm -rf build runs .pytest_cache
