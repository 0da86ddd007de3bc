# Two commands matter: `make run` (the whole pipeline on embedded defaults) and `make test`.
# Both create .venv and install what they need on a fresh machine.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# make test runs test files in parallel processes (pytest-xdist, whole files per worker; each worker has its
# own broker and Redis database, see tests/conftest.py). TEST_WORKERS=0 runs them in this process.
TEST_WORKERS ?= 3
PYTEST_PARALLEL := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)
BENCH_ARGS ?=
# Validation tools for the Dockerfile and deploy/ (checkov, hadolint, kubernetes-validate, yamllint), in a
# venv of their own: checkov's dependencies conflict with the project's pins.
TOOLS_VENV := .tools/venv
TOOLS_STAMP := $(TOOLS_VENV)/.installed
TOOLS_REQUIREMENTS := deploy/requirements-tools.txt

.PHONY: run demo test chaos bench lint format protos protos-check tools clean help

help:
	@echo "make run      start the whole pipeline on embedded defaults (Ctrl-C stops it)"
	@echo "make demo     send sample bookings to a running pipeline and print their EventLog rows"
	@echo "make test     install test dependencies and run the whole suite"
	@echo "make chaos    only the fault-injection tests (also part of make test)"
	@echo "make bench    run the benchmark scenarios (BENCH_ARGS='--smoke', '--scenarios 1,3', '--profile')"
	@echo "make lint     ruff check + format check + mypy;  make format  rewrite formatting"
	@echo "make protos   regenerate shared/proto from protos/"
	@echo "make tools    install the deployment validation tools into $(TOOLS_VENV) (make test does it)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[embedded,dev]'
	touch $(STAMP)

$(TOOLS_STAMP): $(TOOLS_REQUIREMENTS)
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install --quiet -r $(TOOLS_REQUIREMENTS)
	touch $(TOOLS_STAMP)

tools: $(TOOLS_STAMP)

run: $(STAMP)
	$(PY) -m devtools.devstack

demo: $(STAMP)
	$(PY) -m devtools.demo

test: $(STAMP) $(TOOLS_STAMP)
	$(PY) -m pytest $(PYTEST_PARALLEL) --durations=15 $(PYTEST_ARGS)

chaos: $(STAMP) $(TOOLS_STAMP)
	$(PY) -m pytest -m chaos $(PYTEST_PARALLEL) $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

protos: $(STAMP)
	$(PY) protos/generate.py

protos-check: $(STAMP)
	$(PY) protos/generate.py --check

clean:
	rm -rf $(VENV) .tools var *.egg-info .pytest_cache .ruff_cache .mypy_cache
