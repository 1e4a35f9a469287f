# The one command runner: humans, .ci/run and the README all call these targets.
#
#   make setup         system packages (ZooKeeper, PostgreSQL) if missing, .venv, install
#   make lint          ruff
#   make typecheck     mypy (packages listed in pyproject.toml)
#   make config-check  the committed sample config matches the options
#   make config-sample regenerate deploy/orchestrator.conf.sample
#   make test          setup, lint, typecheck, then the whole test suite
#   make demo          setup, then standalone mode (ZooKeeper + SQLite + conductor + demo jobs);
#                      ARGS="--api-port 8081" passes options to it
#
# Under CI=true, tests that need a missing service fail instead of being skipped.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test
# Prerequisites run one after another, in the order written (setup before lint...).
.NOTPARALLEL:

PYTHON3 ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LINT_PATHS := orchestrator jobs persistence migrations tests bench
# sudo only when not root (CI containers often have no sudo at all).
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
CI ?=

.PHONY: setup system-packages lint typecheck config-check config-sample test demo

setup: system-packages $(STAMP)

# Installs only what is missing; with everything present apt is not touched.
system-packages:
	@missing=""; \
	if ! dpkg -s zookeeper >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then \
	  missing="$$missing zookeeper"; fi; \
	if ! compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null; then \
	  missing="$$missing postgresql"; fi; \
	if [ ! -x $(PY) ] && ! $(PYTHON3) -c 'import ensurepip, venv' 2>/dev/null; then \
	  missing="$$missing python3-venv"; fi; \
	if [ ! -x /usr/bin/chromium ]; then missing="$$missing chromium"; fi; \
	if [ ! -x /usr/bin/chromedriver ]; then missing="$$missing chromium-driver"; fi; \
	if ! command -v sqlite3 >/dev/null 2>&1; then missing="$$missing sqlite3"; fi; \
	if [ -n "$$missing" ]; then \
	  echo "Installing:$$missing"; \
	  $(SUDO) apt-get update; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi

$(PY):
	$(PYTHON3) -m venv $(VENV)

# Reinstalls when pyproject.toml is newer than the stamp (or the stamp is missing).
# The example extension plugin (examples/) installs too: the tests run its flows.
$(STAMP): pyproject.toml examples/stress-test-extension/pyproject.toml | $(PY)
	$(PY) -m pip install -e '.[test]' -e examples/stress-test-extension
	touch $@

lint: $(STAMP)
	$(PY) -m ruff check $(LINT_PATHS)

typecheck: $(STAMP)
	$(PY) -m mypy

# Regenerates deploy/orchestrator.conf.sample after options change.
config-sample: $(STAMP)
	$(PY) -m oslo_config.generator --config-file deploy/config-generator.conf

config-check: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests/unit/test_config_sample.py

# pytest's exit status fails the target as is: 1 (failures) and 5 (no tests
# collected) both stop make with an error.
test: setup lint typecheck
	CI="$(CI)" $(PY) -m pytest -q -p no:cacheprovider tests

# Standalone mode with its state in ./state (reused by the next run); Ctrl-C stops it.
STATE_DIR ?= state
demo: setup
	$(VENV)/bin/orchestrator standalone --state-dir $(STATE_DIR) $(ARGS)
