# The service image: app/, Dockerfile, container tests, benchmark (issue 2).
# The Docker engine and the local base image are shared by every area that builds or pushes images.

APP_VENV := $(CACHE)/app-venv
APP_TOOLS_VENV := $(CACHE)/app-tools-venv
# Any client that talks to the engine builds the Dockerfile (it needs no BuildKit feature);
# with the 28.x client here, leave DOCKER_BUILDKIT unset (it has no buildx plugin).
DOCKER ?= docker
APP_IMAGE ?= ecs-poc/app:local
APP_VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo unknown)
APP_PORT ?= 8000
# Empty: use the locally made base (no registry here). Elsewhere: BASE_IMAGE= the Dockerfile default, or any mirror.
BASE_IMAGE ?=
APP_PY_SOURCES := app/hello_world.py app/pathprefix.py app/gunicorn.conf.py app/healthcheck.py
APP_PY_PATHS := app tests/container bench/app
export RUFF_CACHE_DIR := $(CACHE)/ruff-cache
HARDENED_RUN := --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges

TEST_TARGETS += test-app test-image
LINT_TARGETS += lint-app

.PHONY: docker-up base-image setup-app test-app test-image image run lint-app bench-app app-lock

docker-up: ## Start the shared Docker engine (Debian dockerd) unless one already answers
	@bash .ci/setup-docker.sh

base-image: docker-up ## Make the local stand-in base image (debootstrap + docker import); prints its name
	@bash .ci/base-image.sh

setup-app: $(APP_VENV)/.installed ## Python env for the app's tests and linters in $(CACHE)/app-venv

$(APP_VENV)/.installed: app/requirements-dev.txt
	bash .ci/setup-python.sh "$(APP_VENV)" app/requirements-dev.txt
	touch $@

test-app: setup-app ## Unit tests for every route and the gunicorn settings (pytest, no Docker)
	cd app && "$(APP_VENV)/bin/pytest" -q -p no:cacheprovider tests

test-image: setup-app docker-up ## Build the real Dockerfile and test the running containers (real engine)
	DOCKER="$(DOCKER)" "$(APP_VENV)/bin/pytest" -q -p no:cacheprovider --confcutdir=tests/container tests/container

image: docker-up ## Build the service image as $(APP_IMAGE) (APP_VERSION, BASE_IMAGE to override)
	@base="$(BASE_IMAGE)"; [ -n "$$base" ] || base=$$(bash .ci/base-image.sh); \
	echo "building $(APP_IMAGE) (APP_VERSION=$(APP_VERSION), base $$base)" >&2; \
	$(DOCKER) build --tag "$(APP_IMAGE)" --build-arg BASE_IMAGE="$$base" \
	  --build-arg APP_VERSION="$(APP_VERSION)" --build-arg REVISION="$$(git rev-parse HEAD 2>/dev/null || true)" .

run: image ## Run the image hardened on http://127.0.0.1:$(APP_PORT)/ (Ctrl-C stops it)
	@echo "serving on http://127.0.0.1:$(APP_PORT)/ and /healthz" >&2
	$(DOCKER) run --rm $(HARDENED_RUN) --publish "127.0.0.1:$(APP_PORT):8000" "$(APP_IMAGE)"

lint-app: setup-app setup-lint ## ruff, mypy --strict, hadolint, shellcheck for the app and its scripts
	"$(APP_VENV)/bin/ruff" check --config app/ruff.toml $(APP_PY_PATHS)
	"$(APP_VENV)/bin/ruff" format --config app/ruff.toml --check $(APP_PY_PATHS)
	"$(APP_VENV)/bin/mypy" --config-file app/mypy.ini --cache-dir "$(CACHE)/mypy-cache" $(APP_PY_SOURCES)
	"$(LINT_VENV)/bin/hadolint" Dockerfile
	"$(LINT_VENV)/bin/shellcheck" -x .ci/setup-docker.sh .ci/base-image.sh bench/app/*.sh

bench-app: setup-app docker-up ## Benchmark: wrk at 1/16/64 connections, gunicorn image vs flask run (not a test)
	DOCKER="$(DOCKER)" bash bench/app/run.sh

app-lock: ## Re-pin app/requirements*.txt with hashes from the .in files (needs PyPI)
	bash .ci/setup-python.sh "$(APP_TOOLS_VENV)" /dev/stdin <<< "pip-tools==7.*"
	cd app && "$(APP_TOOLS_VENV)/bin/pip-compile" -q --generate-hashes --allow-unsafe --strip-extras -o requirements.txt requirements.in
	cd app && "$(APP_TOOLS_VENV)/bin/pip-compile" -q --generate-hashes --allow-unsafe --strip-extras -o requirements-dev.txt requirements-dev.in
