"""What every end-to-end module asks of its world and its runs: one world for the module's tests, a
failed run explained, and no secret in anything a run printed or sent to GitHub."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator

from tests.e2e.runner import GITHUB_TOKEN, OIDC_REQUEST_TOKEN, RunResult, leaked_secrets
from tests.e2e.world import World
from tests.harness.ecr_bridge import REGISTRY_PASSWORD

KNOWN_SECRETS = [GITHUB_TOKEN, OIDC_REQUEST_TOKEN, REGISTRY_PASSWORD]


def module_world(start: Callable[[], World]) -> Iterator[World]:
    """The body of a module-scoped fixture: the started world for the module's tests; after them the
    deferred bootstrap must have succeeded. The runs' logs stay only when asked for
    (ECS_POC_KEEP_E2E=1), for a look after a failure."""
    world = start()
    try:
        yield world
        world.finish_bootstrap()
    finally:
        world.stop()
        if not os.environ.get("ECS_POC_KEEP_E2E"):
            shutil.rmtree(world.root, ignore_errors=True)


def explain(result: RunResult) -> str:
    return f"exit {result.returncode}\n--- stderr ---\n{result.stderr[-6000:]}\n--- stdout ---\n{result.stdout[-2000:]}"


def assert_no_secrets(result: RunResult, world: World) -> None:
    leaks = leaked_secrets(result.everything() + json.dumps(world.github.state()), KNOWN_SECRETS)
    assert not leaks, f"secret-looking values leaked: {sorted(set(leaks))}"
