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
