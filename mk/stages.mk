# The AWS stages of the binary (terraform, image, ecs, smoke): their Rust integration tests
# (tests/stage_*.rs) run inside `test-rust` and need: the harness venv (setup-python: moto),
# terraform (setup-terraform), the Docker engine (docker-up) and the registry answering as
# ECR (registry-up). `stages-prereqs` brings all of them up.

.PHONY: registry-up registry-down stages-prereqs test-stages

registry-up: docker-up ## Local registry answering as moto's ECR (TLS on 127.0.0.1:443, /etc/hosts, certs.d)
	bash .ci/setup-registry.sh up

registry-down: ## Stop the registry started by registry-up
	bash .ci/setup-registry.sh down

stages-prereqs: setup-python setup-terraform registry-up ## Everything tests/stage_*.rs need

test-stages: stages-prereqs ## Only the stage integration tests (also part of test-rust)
	ECS_POC_REQUIRE_ALL=1 cargo test --test 'stage_*'

# `test-rust` (mk/rust.mk) runs the stage tests too: give it the registry, and make a missing
# prerequisite a failure there rather than a quiet skip (tests/support: require!).
rust-test-setup: registry-up
test-rust: export ECS_POC_REQUIRE_ALL := 1

.PHONY: bench-pipeline
bench-pipeline: setup-python setup-terraform registry-up build-release ## Pipeline benchmark (bench/README.md, "pipeline"); ~7 min
	bash bench/pipeline/run.sh

LINT_TARGETS += lint-stages
STAGES_PY := tests/fakes/fake_ecs.py bench/pipeline/cli_waiter.py bench/pipeline/deploy_rss.py
STAGES_SH := .ci/setup-registry.sh bench/pipeline/run.sh

.PHONY: lint-stages
lint-stages: setup-lint setup-terraform ## ruff, mypy --strict, shellcheck, terraform fmt for the stages' fakes, scripts and fixture
	"$(LINT_VENV)/bin/ruff" check --line-length 120 $(STAGES_PY)
	"$(LINT_VENV)/bin/ruff" format --line-length 120 --check $(STAGES_PY)
	"$(LINT_VENV)/bin/mypy" --strict --ignore-missing-imports --follow-imports=silent \
	  --cache-dir "$(CACHE)/mypy-cache-stages" $(STAGES_PY)
	"$(LINT_VENV)/bin/shellcheck" -x $(STAGES_SH)
	TF_CLI_CONFIG_FILE=/dev/null "$(CACHE)/bin/terraform" fmt -check -recursive tests/fixtures/tf-small tests/fixtures/tf-rerun-shared tests/fixtures/tf-rerun-preview tests/fixtures/tf-deploy-shared tests/fixtures/tf-deploy-preview
