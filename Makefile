# segshare: two commands for a newcomer, `make dev` and `make test`; the rest for maintainers.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.12: the pyenv interpreter where there is one, else any python3.12 on PATH.
PY312 := $(shell PYENV_VERSION=3.12.1 pyenv which python3.12 2>/dev/null || command -v python3.12 2>/dev/null)
VENV := .venv
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
PY := $(VENV)/bin/python
export PYTHONPATH := layers/segshare_core:.
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help dev test test-fast lint template checkov chromium build bench deploy clean

help:
	@echo "make dev    - start the local stack with demo data on http://127.0.0.1:$${SEGSHARE_PORT:-3000}"
	@echo "make test   - run the whole test suite"
	@echo "make lint   - ruff, mypy (layer, every handler file, local/, bench/), the template checks (cfn-lint, sam validate --lint, checkov), IAM grants no test used"
	@echo "make build  - sam build (python3.12 first on PATH, no Docker needed)"
	@echo "make bench  - benchmarks that print figures"

$(VENV)/.installed: requirements-dev.txt layers/segshare_core/requirements.txt
	@test -n "$(PY312)" || { echo "Python 3.12 not found: install it (pyenv install 3.12.1) or put python3.12 on PATH"; exit 1; }
	$(PY312) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	@test -n "$(PY312)" || { echo "Python 3.12 not found"; exit 1; }
	$(PY312) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	@test -n "$(PY312)" || { echo "Python 3.12 not found"; exit 1; }
	$(PY312) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet -r requirements-sam.txt
	touch $@

dev: $(VENV)/.installed
	$(PY) -m local

# The browser tests drive Debian's Chromium; install it when missing (root, as on these machines).
chromium:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq chromium; } \
		|| { echo "the browser tests need Chromium at /usr/bin/chromium: sudo apt-get install chromium"; exit 1; }

# The whole suite records the AWS calls it made afresh (test-output/iam-usage.json, read by
# `make lint` for the grants no test used); a partial pytest run adds to the last record.
test: $(VENV)/.installed chromium
	rm -f test-output/iam-usage.json
	$(PY) -m pytest

test-fast: $(VENV)/.installed
	$(PY) -m pytest -m "not e2e"

lint: $(VENV)/.installed template checkov
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	@# Each function folder alone, its folder on the path as Lambda's task root is, so a handler's
	@# `import segments_routes` is followed and checked (checked together they are not found).
	@for d in functions/*/; do echo "mypy $$d"; MYPYPATH=layers/segshare_core:$$d $(VENV)/bin/mypy --explicit-package-bases $$d*.py || exit 1; done
	$(VENV)/bin/mypy --explicit-package-bases local bench
	$(PY) -m local.iam unused

template: $(VENV)/.installed $(SAM_VENV)/.installed
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM_VENV)/bin/sam validate --lint

# Skipped checks, each with its reason, are in .checkov.yaml (read from the repo root). Offline:
# BC_SKIP_MAPPING stops checkov fetching its guideline mappings from the network.
checkov: $(CHECKOV_VENV)/.installed
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov -f template.yaml

build: $(SAM_VENV)/.installed
	PATH="$(dir $(PY312)):$$PATH" $(SAM_VENV)/bin/sam build

bench: $(VENV)/.installed
	$(PY) -m bench

deploy: build
	$(SAM_VENV)/bin/sam deploy --guided

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
