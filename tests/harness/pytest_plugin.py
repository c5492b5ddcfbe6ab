"""pytest fixtures for the emulated AWS. Enable with `pytest_plugins = ["tests.harness.pytest_plugin"]`
in a conftest.py.

- `emulated_aws` (session): one moto server + proxy for the whole run.
- `fresh_aws` (function): the same server, reset before the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.harness.emulated_aws import EmulatedAws


@pytest.fixture(scope="session")
def emulated_aws() -> Iterator[EmulatedAws]:
    with EmulatedAws() as aws:
        yield aws


@pytest.fixture()
def fresh_aws(emulated_aws: EmulatedAws) -> EmulatedAws:
    emulated_aws.reset()
    return emulated_aws
