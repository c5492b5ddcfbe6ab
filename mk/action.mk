# The GitHub Action side (issue 5): action.yml, .github/ (workflows, scripts, zizmor config), tests/action.

ACTION_PY := tests/action
ACTION_PYTEST := ECS_POC_LINT_BIN="$(LINT_VENV)/bin" "$(PYTHON)" -m pytest -q -p no:cacheprovider

TEST_TARGETS += test-action
LINT_TARGETS += lint-action

.PHONY: test-action lint-action

test-action: setup-python setup-lint setup-terraform build ## Action: installers (binary, terraform) vs fake release sites, action.yml run step by step (real binary), contracts, lint
	$(ACTION_PYTEST) $(ACTION_PY)

lint-action: setup-python setup-lint ## Action: actionlint, zizmor, schemas, yamllint, shellcheck (every script), ruff+mypy
	$(ACTION_PYTEST) $(ACTION_PY)/test_lint.py
	"$(LINT_VENV)/bin/ruff" check --line-length 120 $(ACTION_PY)
	"$(LINT_VENV)/bin/ruff" format --line-length 120 --check $(ACTION_PY)
	"$(LINT_VENV)/bin/mypy" --strict --cache-dir "$(CACHE)/mypy-cache-action" $(ACTION_PY)
