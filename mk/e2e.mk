# End to end: the real binary played as GitHub Actions runs of this repository, on emulated AWS,
# the real Docker engine and registry, terraform with the real AWS provider, and a fake GitHub.
# Runs last in `make test`: it needs every other part to work.
TEST_TARGETS_LAST += test-e2e
LINT_TARGETS += lint-e2e
E2E_PY := tests/e2e tests/harness/ecr_bridge.py tests/harness/faults.py
E2E_PY += tests/harness/settle.py tests/harness/moto_fidelity.py bench/demo/runs.py

.PHONY: test-e2e demo e2e-deps lint-e2e

e2e-deps: setup-python setup-terraform docker-up build
	@bash .ci/setup-registry.sh up

test-e2e: e2e-deps ## End-to-end tests: push to main, PR deploy, no-op redeploy, fork, sweep, destroy (fails midway, then finishes); staging and production in two accounts, promote
	cd $(CURDIR) && $(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e

demo: e2e-deps ## The whole pipeline locally (emulated AWS, local Docker, fake GitHub); prints a localhost URL that answers
	cd $(CURDIR) && $(PYTHON) -m tests.e2e.demo $(if $(KEEP),--keep)

lint-e2e: setup-lint ## ruff and mypy --strict on the end-to-end tests, the demo and the ECR bridge / fault injection
	"$(LINT_VENV)/bin/ruff" check --line-length 120 $(E2E_PY)
	"$(LINT_VENV)/bin/mypy" --strict --ignore-missing-imports --follow-imports=silent \
	  --cache-dir "$(CACHE)/mypy-cache-e2e" $(E2E_PY)
