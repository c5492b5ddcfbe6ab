"""End-to-end tests need the whole harness; `make test-e2e` installs and starts it."""
