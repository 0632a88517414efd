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
# a make run from a make (CI's `make test` runs `make gpt2`) would add "Entering directory" lines to output
MAKEFLAGS += --no-print-directory

lesson_arg = $(if $(LESSON),--lesson $(LESSON))

.DEFAULT_GOAL := help
.PHONY: help setup data kernel lab formgrader browser jail test test-fast lint grade check-release fixtures release lock clean exchange collect autograde feedback export gradescope gradescope-fresh-root leaderboard bench-grading

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-22s %s\n", $$1, $$2}'

setup: $(VENV)/.installed data kernel ## create .venv, install pinned packages, fetch data, register the kernel
	@$(PY) -m autograder.jail.install --check

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(PY) || $(BOOTSTRAP_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c requirements.lock -e .
	touch $@

data: ## get Tiny Shakespeare (local copy or download, sha256-checked) and GPT-2 BPE files
	$(PY) datasets/fetch.py all $(if $(FROM),--from "$(FROM)")

# The course kernel draws figures inline in any Jupyter, whatever MPLBACKEND the shell exports (this
# Makefile exports Agg for its headless targets, and a kernel inherits its server's environment).
kernel:
	$(PY) -m ipykernel install --sys-prefix --name gpt-course --display-name "Python (gpt-course)" \
		--env MPLBACKEND module://matplotlib_inline.backend_inline >/dev/null

# JupyterLab when it is installed (notebook 7 pulls it in), else Notebook 7; JUPYTER= lets a test stand in.
# Rooted at the course folder (every lesson and the README in the file browser); jupyter/student/
# switches off nbgrader's instructor tools (formgrader, create assignment, courses) for students.
JUPYTER ?= $(VENV)/bin/jupyter
lab_lesson = $(if $(filter 1 2 3 4 5 6 7 8 9,$(LESSON)),0$(LESSON),$(or $(LESSON),01))
lab_notebook = $(firstword $(wildcard lessons/$(lab_lesson)_*/*.ipynb))
jupyter_app = $(if $(shell $(PY) -c "import jupyterlab" 2>/dev/null && echo yes),lab,notebook)
# LAB_ARGS: more options for Jupyter (the browser test: --no-browser --port=... --IdentityProvider.token=...).
course_dir := $(patsubst %/,%,$(dir $(abspath $(firstword $(MAKEFILE_LIST)))))
as_root = $(if $(filter 0,$(shell id -u)),--ServerApp.allow_root=True)  # containers, WSL as root, CI
lab: kernel ## open lesson 01 (LESSON=NN) in JupyterLab with the course kernel (Notebook 7 if there is no JupyterLab)
	@test -n "$(lab_notebook)" || { echo "no lesson $(lab_lesson) in lessons/" >&2; exit 1; }
	JUPYTER_CONFIG_PATH="$(course_dir)/jupyter/student" $(JUPYTER) $(jupyter_app) --ServerApp.root_dir="$(CURDIR)" \
		$(as_root) $(LAB_ARGS) "$(lab_notebook)"

formgrader: kernel ## instructors: JupyterLab with nbgrader's formgrader and Create Assignment (the class in .nbgrader/)
	$(JUPYTER) lab --ServerApp.root_dir="$(CURDIR)" $(as_root) --ServerApp.default_url=/formgrader $(LAB_ARGS)

# The browser tests (tests/test_browser.py) drive JupyterLab in Debian's Chromium: Playwright's own
# browser download is not needed, and not possible offline.
browser: ## maintainers and CI: install Chromium and its driver for the browser tests (as root: apt-get)
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then echo "browser: $$(chromium --version 2>/dev/null)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 || \
		 (apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null)) && \
		echo "browser: $$(chromium --version 2>/dev/null)"; \
	else echo "no Chromium: install chromium and chromium-driver (e.g. sudo apt-get install chromium chromium-driver); the browser tests are skipped without them"; fi

jail: ## instructors: install bubblewrap, the jail for student code (as root: apt-get), and check it works
	$(PY) -m autograder.jail.install

test: ## run the course's own test suite (it never reads your lessons/: edit them freely)
	$(PY) -m pytest

test-fast: ## the fast tier for every change (about 3 minutes on 2 cores): every test not marked slow
	$(PY) -m pytest -m "not slow"

lint: ## ruff over the Python code (configured in pyproject.toml; CI runs it)
	$(VENV)/bin/ruff check .

grade: ## grade lessons/ (SOURCE=solutions for the reference, LESSON=NN for one lesson)
	$(PY) -m autograder grade --source $(SOURCE) $(lesson_arg)

check-release: ## maintainers and CI: fail if lessons/ differs from a fresh release of solutions/
	$(PY) -m autograder.release --check

fixtures: ## regenerate the reference fixtures from solutions/
	$(PY) -m autograder fixtures $(lesson_arg)

release: ## regenerate lessons/ from solutions/ with nbgrader (FORCE=1 to overwrite edited lessons)
	$(PY) -m autograder.release $(lesson_arg) $(if $(FORCE),--force)

exchange: ## instructors: create nbgrader's exchange (GPT_COURSE_EXCHANGE=dir, else .nbgrader/exchange), for release, submit, collect
	$(PY) -m autograder.instructor exchange

collect: ## instructors: copy submissions into .nbgrader/submitted (FROM=folder or .zip; LESSON=NN for zip_collect; ROSTER=csv)
	@test -n "$(FROM)" || { echo "make collect FROM=DIR (a folder of <student>/<NN_slug>/) or FROM=FILE.zip" >&2; exit 1; }
	$(PY) -m autograder.instructor collect "$(FROM)" $(lesson_arg) $(if $(ROSTER),--roster "$(ROSTER)")

autograde: ## instructors: nbgrader autograde in the jail, JOBS at a time (LESSON=NN, STUDENT=id, FORCE=1, UNSAFE=1, OUTPUTS=1), then the report
	GPT_COURSE_OUTPUTS=$(OUTPUTS) $(PY) -m autograder.instructor autograde $(lesson_arg) $(if $(STUDENT),--student $(STUDENT)) $(if $(FORCE),--force) \
		$(if $(UNSAFE),--unsafe) $(if $(JOBS),--jobs $(JOBS))

feedback: ## instructors: nbgrader generate_feedback (LESSON=NN), checked for hidden test text
	$(PY) -m autograder.instructor feedback $(lesson_arg)

export: ## instructors: .nbgrader/grades.csv, Gradescope results.json per student, report.txt
	$(PY) -m autograder.instructor export

gradescope: ## instructors: build/gradescope/<lesson or course>.zip, an autograder for Gradescope (LESSON=NN, or LESSON=capstone: the leaderboard)
	$(PY) -m autograder.gradescope.build $(lesson_arg)

# setup.sh and run_autograder as Gradescope runs them, on a Debian root made by debootstrap (kept in
# build/fresh-root/; FRESH=1 makes it again); this machine's pip settings pass as PIP_* variables.
gradescope-fresh-root: ## maintainers and CI: the Gradescope zip set up and graded on a bare Debian root (as root; LESSON=NN)
	$(PY) -m autograder.gradescope.fresh_root $(if $(LESSON),--lesson $(LESSON)) $(if $(FRESH),--fresh)

leaderboard: ## instructors: retrain and rank a class's capstone runs (FROM=DIR of <student>/ folders; minutes each)
	@test -n "$(FROM)" || { echo "make leaderboard FROM=DIR: a folder of <student>/ folders (lessons + capstone_run.json)" >&2; exit 1; }
	$(PY) -m autograder leaderboard --from "$(FROM)"

bench-grading: ## instructors: submissions per minute on every grading path (a fake class of 40; minutes)
	$(PY) -m autograder.bench_grading

# --- capstone: train your GPT (capstone/; presets in capstone/presets.py) ---
# PRESET=name OUT=dir FRESH=1 DEVICE=cpu|cuda|mps TOKENIZER=char|gpt2 NPROC=N (torchrun) ARGS="--lr 3e-3 ..."
.PHONY: train sample model bench
capstone_source = $(if $(filter-out file default undefined,$(origin SOURCE)),--source "$(SOURCE)")
train_args = --source "$(SOURCE)" $(if $(PRESET),--preset $(PRESET)) $(if $(OUT),--out "$(OUT)") \
	$(if $(FRESH),--fresh) $(if $(DEVICE),--device $(DEVICE)) $(if $(TOKENIZER),--tokenizer $(TOKENIZER)) $(ARGS)

train: ## train the GPT your lessons define on Tiny Shakespeare (PRESET=, SOURCE=solutions, TOKENIZER=gpt2, NPROC=N)
	$(if $(NPROC),$(VENV)/bin/torchrun --standalone --nproc_per_node=$(NPROC) -m,$(PY) -m) capstone.train $(train_args)

sample: ## generate text from the latest checkpoint (OUT=, PROMPT=, TOKENS=, TEMPERATURE=, TOP_K=)
	$(PY) -m capstone.sample $(capstone_source) $(if $(OUT),--out "$(OUT)") $(if $(PROMPT),--prompt "$(PROMPT)") \
		$(if $(TOKENS),--tokens $(TOKENS)) $(if $(TEMPERATURE),--temperature $(TEMPERATURE)) \
		$(if $(TOP_K),--top-k $(TOP_K)) $(if $(DEVICE),--device $(DEVICE)) $(ARGS)

model: ## your whole GPT in one file: runs/<name>/model.py, checked against its checkpoint (OUT=, SOURCE=)
	$(PY) -m capstone.model_file $(capstone_source) $(if $(OUT),--out "$(OUT)")

bench: ## time-to-quality: cpu-fast (Muon), cpu-small (AdamW), the nanoGPT-README baseline (CEILING=1: +15 min)
	$(PY) -m capstone.bench $(if $(CEILING),--ceiling) $(if $(SEEDS),--seeds $(SEEDS)) $(ARGS)

# --- lessons 11-12: GPT-2's weights in your GPT, instruction fine-tuning (docs/gpt2-and-finetuning.md) ---
# PROMPT= TOKENS= GPT2_DIR=folder (model.safetensors + config.json, no download) CKPT= INIT=gpt2 STEPS= OUT=
.PHONY: gpt2 finetune
gpt2: ## GPT-2's published 124M weights in your GPT: download once, continue PROMPT= (GPT2_DIR=folder, SOURCE=solutions)
	$(PY) -m capstone.gpt2 --source "$(SOURCE)" $(if $(GPT2_DIR),--dir "$(GPT2_DIR)") $(if $(PROMPT),--prompt "$(PROMPT)") \
		$(if $(TOKENS),--tokens $(TOKENS)) $(if $(TEMPERATURE),--temperature $(TEMPERATURE)) \
		$(if $(TOP_K),--top-k $(TOP_K)) $(if $(DEVICE),--device $(DEVICE)) $(ARGS)

finetune: ## teach your trained GPT to follow instructions; held-out accuracy before -> after (CKPT=, INIT=gpt2, STEPS=)
	$(PY) -m capstone.finetune --source "$(SOURCE)" $(if $(CKPT),--ckpt "$(CKPT)") $(if $(INIT),--init $(INIT)) \
		$(if $(GPT2_DIR),--gpt2-dir "$(GPT2_DIR)") $(if $(STEPS),--steps $(STEPS)) $(if $(OUT),--out "$(OUT)") \
		$(if $(DEVICE),--device $(DEVICE)) $(ARGS)

lock: ## re-pin requirements.lock after changing pyproject.toml
	$(PY) -m pip freeze --exclude-editable | sed -E 's/^torch==([^+]*)\+.*/torch==\1/' > requirements.lock.new
	mv requirements.lock.new requirements.lock

# build/lesson-backups/ holds the notebooks `make release FORCE=1` replaced: a student's work, kept.
clean: ## remove what the course writes at run time (keeps .venv, data, your notebooks and their backups)
	rm -rf runs .pytest_cache $(filter-out build/lesson-backups,$(wildcard build/*))
