# The Rust binary (issue 4/5 core): fmt, clippy, tests, the static release build, the config schema.
# Other areas can add what the crate's integration tests need, e.g. `rust-test-setup: registry-up`.

CARGO ?= cargo
RELEASE_TARGET := x86_64-unknown-linux-gnu
RELEASE_BIN := $(CARGO_TARGET_DIR)/$(RELEASE_TARGET)/release/ecs-poc

.PHONY: test-rust lint-rust rust-test-setup test-teardown build build-release schema

TEST_TARGETS += test-rust
LINT_TARGETS += lint-rust

# What the crate's tests use (moto and the Python fakes, terraform, the Docker engine, the
# registry answering as ECR); each target is idempotent and fast when already done.
rust-test-setup: setup-python setup-terraform docker-up registry-up

CORE_FAKES := tests/fakes/fake_github.py tests/fakes/fake_sts.py

lint-rust: setup-lint ## cargo fmt --check, clippy -D warnings on every target; ruff + mypy --strict on the core's fakes
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets --locked -- -D warnings
	"$(LINT_VENV)/bin/ruff" check --line-length 120 $(CORE_FAKES)
	"$(LINT_VENV)/bin/ruff" format --line-length 120 --check $(CORE_FAKES)
	"$(LINT_VENV)/bin/mypy" --strict --cache-dir "$(CACHE)/mypy-cache-rust" $(CORE_FAKES)

test-rust: lint-rust rust-test-setup ## fmt, clippy, then every Rust test of the crate (unit, core_*, stage_*); none may skip
	@start=$$(date +%s); \
	ECS_POC_REQUIRE_ALL=1 $(CARGO) test --all-targets --locked; \
	echo "test-rust: cargo test took $$(( $$(date +%s) - start )) s"

test-teardown: setup-python setup-terraform ## destroy + sweep on the real stacks without deploys (~3 min; not in `make test`)
	ECS_POC_REQUIRE_ALL=1 $(CARGO) test --locked --test core_teardown -- --ignored --nocapture

build: ## Debug build of ecs-poc
	$(CARGO) build --locked

build-release: ## Static release binary (crt-static, rustls); fails if ldd finds it dynamic
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --release --locked --target $(RELEASE_TARGET)
	@out=$$(ldd "$(RELEASE_BIN)" 2>&1 || true); \
	if echo "$$out" | grep -qE 'statically linked|not a dynamic executable'; then \
	  echo "build-release: $(RELEASE_BIN) is static ($$(du -h "$(RELEASE_BIN)" | cut -f1))"; \
	else echo "build-release: $(RELEASE_BIN) is dynamic:"; echo "$$out"; exit 1; fi

schema: ## Regenerate schema/ecs-poc.schema.json from the config types (commit the result)
	$(CARGO) run --quiet --locked -- schema > schema/ecs-poc.schema.json
