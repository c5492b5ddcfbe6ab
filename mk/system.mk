# Debian packages (.ci/install-system-packages.sh): the Docker engine, the registry answering as
# ECR, debootstrap, python3-venv, wrk. Every target that needs one of them installs them first, so
# `make demo` and `make test` work on a fresh Debian machine as root. As another user the script
# names what is missing and the one `sudo` command to run, and the target fails.

.PHONY: system-packages

system-packages: ## Debian packages the harness needs (idempotent; as non-root: says what to run with sudo)
	@bash .ci/install-system-packages.sh

# The engine (and through it the registry, the base image, the image tests and benchmarks) and
# every virtualenv (python3-venv) come after the packages.
docker-up: system-packages
$(VENV)/.installed $(LINT_VENV)/.installed $(APP_VENV)/.installed: | system-packages
