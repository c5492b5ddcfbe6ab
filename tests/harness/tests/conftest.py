"""The harness's own tests share the terraform suite's provider check (a loud skip without a provider)."""

from tests.terraform.conftest import provider_available

__all__ = ["provider_available"]
