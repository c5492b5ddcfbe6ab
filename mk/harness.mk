# The test harness itself: the IAM gate (policy evaluation, request mapping, quotas, AWS-shaped refusals)
# and its proof with boto3 and terraform against the emulator.
TEST_TARGETS += test-harness
LINT_TARGETS += lint-harness
HARNESS_PY := tests/harness/iam_gate tests/harness/tests tests/harness/fidelity_proxy.py tests/harness/emulated_aws.py \
  tests/harness/answered_calls.py tests/harness/request_log.py

.PHONY: test-harness lint-harness

test-harness: setup-python setup-terraform ## IAM gate of the harness: evaluator, request mapping, quotas, refusals, terraform under the gate
	cd $(CURDIR) && $(PYTHON) -m pytest -q -p no:cacheprovider -rxXs tests/harness/tests

lint-harness: setup-lint ## ruff and mypy --strict on the IAM gate and its tests
	"$(LINT_VENV)/bin/ruff" check --line-length 120 $(HARNESS_PY)
	"$(LINT_VENV)/bin/mypy" --strict --ignore-missing-imports --follow-imports=silent \
	  --cache-dir "$(CACHE)/mypy-cache-harness" $(HARNESS_PY)
