# The service image: app/, Dockerfile, container tests, benchmark (issue 2).
# The Docker engine and the local base image are shared by every area that builds or pushes images.

.PHONY: docker-up base-image

docker-up: ## Start the shared Docker engine (Debian dockerd) unless one already answers
	bash .ci/setup-docker.sh

base-image: docker-up ## Make the local stand-in base image (debootstrap + docker import); prints its name
	@bash .ci/base-image.sh
