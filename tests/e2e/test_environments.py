"""End to end, two environments in two accounts: staging (111111111111, eu-west-2, previews) and
production (222222222222, eu-west-1, promoted from staging), each bootstrapped by its own
administrator, with the repository's `ecs-poc.yml` naming both (`tests/e2e/world.py`).

One module-scoped world; the tests run in order and build on each other, as a repository's workflow
runs do: a push to main deploys staging; a pull request's preview lands in staging; `promote` runs
staging's image in production by the same digest; a pull request's token cannot assume production's
role; closing the pull request tears its preview down; a push whose staging rollout fails cannot be
promoted. The fake GitHub records every deployment and its statuses, as the deployments page shows them.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from tests.e2e.checks import assert_no_secrets, explain, module_world
from tests.e2e.runner import RunResult
from tests.e2e.world import REPOSITORY, World, start_environments_world
from tests.harness.ecr_bridge import Registry
from tests.harness.iam_gate.sessions import denials, role_session

MAIN_SHA = "5" * 40
PR_SHA = "6" * 40
BROKEN_SHA = "9" * 40
PR = 7
# The emulated load balancer has no address a runner can reach.
RUN_INPUTS = {"smoke-check": "false", "wait-timeout": "120"}
PROMOTE_INPUTS = {**RUN_INPUTS, "command": "promote", "from": "staging", "to": "production"}


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    yield from module_world(start_environments_world)


@pytest.fixture(scope="module")
def runs() -> dict[str, RunResult]:
    return {}



def needs(runs: dict[str, RunResult], *names: str) -> None:
    for name in names:
        if runs.get(name) is None or runs[name].returncode != 0:
            pytest.skip(f"depends on the {name} run")



def deployments(world: World, environment: str) -> list[dict[str, Any]]:
    """The fake GitHub's deployments of `environment`, oldest first, each with its statuses in order."""
    found: list[dict[str, Any]] = world.github.state()["deployments"]
    return [d for d in found if d["environment"] == environment]


def states(deployment: dict[str, Any]) -> list[str]:
    return [s["state"] for s in deployment["statuses"]]


def main_service(world: World, environment: str) -> dict[str, Any]:
    base = world.environments[environment].base
    found = world.ecs(environment).describe_services(cluster=base, services=[f"{base}-main"])["services"]
    assert found, f"no {base}-main service in {environment}'s account"
    service: dict[str, Any] = found[0]
    return service


def task_image_and_version(world: World, environment: str, task_definition: str) -> tuple[str, str]:
    task = world.ecs(environment).describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
    container = task["containerDefinitions"][0]
    version = {e["name"]: e["value"] for e in container.get("environment", [])}.get("APP_VERSION", "")
    return str(container["image"]), str(version)


def ecr_digests(world: World, environment: str, repository: str) -> set[str]:
    ecr = world.client("ecr", environment)
    return {str(i["imageDigest"]) for i in ecr.describe_images(repositoryName=repository)["imageDetails"]}


def promote(world: World) -> RunResult:
    """The promote workflow's job: dispatched on main, in the GitHub environment `production`
    (required reviewers approve it there), so its token's sub is `...:environment:production`."""
    event = {"ref": "refs/heads/main", "inputs": {"from": "staging", "to": "production"},
             "repository": {"full_name": REPOSITORY, "default_branch": "main"}}
    return world.runner.run("workflow_dispatch", event, sha=MAIN_SHA, inputs=PROMOTE_INPUTS, environment="production")


def fake_ecs_scenario(world: World, scenario: str) -> None:
    request = urllib.request.Request(f"{world.fake_ecs.url}/_fake/scenario", method="POST",
                                     data=json.dumps({"scenario": scenario}).encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def test_push_to_main_deploys_staging_in_its_own_account(world: World, runs: dict[str, RunResult]) -> None:
    result = world.runner.run("push", world.runner.push_event(MAIN_SHA), sha=MAIN_SHA, inputs=RUN_INPUTS)
    runs["staging"] = result
    assert result.returncode == 0, explain(result)
    staging = world.environments["staging"]
    assert result.outputs.get("environment") == "staging", result.outputs
    assert result.outputs.get("stack") == "main"
    image = result.outputs["image"]
    assert image.startswith(f"{staging.registry}/{staging.base}@sha256:"), image

    # Staging's account runs it; production's account has nothing yet.
    service = main_service(world, "staging")
    assert task_image_and_version(world, "staging", service["taskDefinition"]) == (image, MAIN_SHA)
    assert world.ecs("production").list_clusters()["clusterArns"] == []
    keys = [o["Key"] for o in world.client("s3", "staging").list_objects_v2(Bucket=staging.state_bucket)["Contents"]]
    assert {"shared/terraform.tfstate", "preview/main.tfstate"} <= set(keys), keys

    # GitHub's deployments page: staging, at this commit, in progress then successful with its URL.
    [deployment] = deployments(world, "staging")
    assert deployment["ref"] == MAIN_SHA
    assert not deployment["transient_environment"] and not deployment["production_environment"]
    assert states(deployment) == ["in_progress", "success"]
    assert deployment["statuses"][-1]["environment_url"] == result.outputs["endpoint"]
    assert_no_secrets(result, world)


def test_a_pull_request_preview_lands_in_staging(world: World, runs: dict[str, RunResult]) -> None:
    needs(runs, "staging")
    result = world.runner.run("pull_request", world.runner.pull_request_event(PR, PR_SHA), sha=PR_SHA,
                              inputs=RUN_INPUTS)
    runs["preview"] = result
    assert result.returncode == 0, explain(result)
    staging = world.environments["staging"]
    assert result.outputs.get("environment") == "staging"
    assert result.outputs.get("stack") == f"pr-{PR}"
    assert result.outputs["image"].startswith(f"{staging.registry}/{staging.base}-previews@sha256:")
    services = world.ecs("staging").list_services(cluster=f"{staging.base}-previews")["serviceArns"]
    assert any(s.endswith(f"pr-{PR}") for s in services), services
    keys = [o["Key"] for o in world.client("s3", "staging").list_objects_v2(Bucket=staging.state_bucket)["Contents"]]
    assert f"preview/pr-{PR}.tfstate" in keys, keys
    production_keys = world.client("s3", "production").list_objects_v2(
        Bucket=world.environments["production"].state_bucket).get("Contents", [])
    assert production_keys == [], "a preview wrote to production's state bucket"

    [deployment] = deployments(world, f"pr-{PR}")
    assert deployment["ref"] == PR_SHA
    assert deployment["transient_environment"] and not deployment["production_environment"]
    assert states(deployment) == ["in_progress", "success"]
    assert_no_secrets(result, world)


def test_promote_runs_stagings_digest_in_production(world: World, runs: dict[str, RunResult]) -> None:
    needs(runs, "staging")
    staging, production = world.environments["staging"], world.environments["production"]
    source_image = runs["staging"].outputs["image"]
    digest = source_image.split("@", 1)[1]

    result = promote(world)
    runs["promote"] = result
    assert result.returncode == 0, explain(result)
    out = result.outputs
    assert (out.get("environment"), out.get("digest"), out.get("source-environment"), out.get("source-commit")) == (
        "production", digest, "staging", MAIN_SHA), out
    assert out["image"] == f"{production.registry}/{production.base}@{digest}", out

    # Production's service runs that digest from production's own repository, built from the same commit.
    service = main_service(world, "production")
    assert task_image_and_version(world, "production", service["taskDefinition"]) == (out["image"], MAIN_SHA)

    # Copied, not rebuilt: production's repository holds exactly staging's image, the same manifest
    # bytes under the same digest, and no other.
    assert ecr_digests(world, "production", production.base) == {digest}
    source = Registry(staging.region, staging.account).manifest(staging.base, digest)
    copied = Registry(production.region, production.account).manifest(production.base, digest)
    assert source is not None and copied is not None and copied[2] == source[2]
    assert "docker build" not in result.stderr.lower() and "successfully built" not in result.stderr.lower()

    [deployment] = deployments(world, "production")
    assert deployment["ref"] == MAIN_SHA
    assert deployment["production_environment"] and not deployment["transient_environment"]
    assert states(deployment) == ["in_progress", "success"]
    assert deployment["statuses"][-1]["environment_url"] == out["endpoint"]
    assert_no_secrets(result, world)


def test_production_role_refuses_a_pull_request_token(world: World) -> None:
    production = world.environments["production"]
    role = production.bootstrap["shared_role_arn"]
    assert role == f"arn:aws:iam::{production.account}:role/{production.base}-deploy-shared"
    for kind in ("pull_request", "ref:refs/heads/main"):
        sub = f"repo:{REPOSITORY}:{kind}"
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            role_session(world.aws, role, sub)
        assert refused.value.response["Error"]["Code"] == "AccessDenied", kind
        assert denials(world.aws)[-1]["principal"] == f"web identity {sub}"
    # Production has no preview role at all; staging's preview role is the one a pull request gets.
    assert production.bootstrap.get("preview_role_arn") in (None, "")


def test_closing_the_pull_request_marks_its_deployment_inactive(world: World, runs: dict[str, RunResult]) -> None:
    needs(runs, "preview")
    closed = world.runner.pull_request_event(PR, PR_SHA, action="closed")
    result = world.runner.run("pull_request", closed, sha=PR_SHA, inputs=RUN_INPUTS)
    assert result.returncode == 0, explain(result)
    cluster = f"{world.environments['staging'].base}-previews"
    ecs = world.ecs("staging")
    mine = [s for s in ecs.list_services(cluster=cluster)["serviceArns"] if s.endswith(f"pr-{PR}")]
    live = [s for s in (ecs.describe_services(cluster=cluster, services=mine)["services"] if mine else [])
            if s.get("status") == "ACTIVE"]
    assert not live, f"pr-{PR} still runs: {live}"
    [deployment] = deployments(world, f"pr-{PR}")
    assert states(deployment)[-1] == "inactive", states(deployment)
    # The long-lived environments' deployments are untouched.
    assert states(deployments(world, "staging")[-1])[-1] == "success"
    assert_no_secrets(result, world)


def test_a_digest_whose_staging_rollout_failed_is_not_promoted(world: World, runs: dict[str, RunResult]) -> None:
    needs(runs, "staging", "promote")
    staging, production = world.environments["staging"], world.environments["production"]
    running_before = main_service(world, "production")["taskDefinition"]
    staging_before = ecr_digests(world, "staging", staging.base)
    digests_before = ecr_digests(world, "production", production.base)

    # The broken commit changes the service (so its image is a new one, with its own digest), and the
    # circuit breaker fails its rollout in staging.
    app = world.runner.workspace / "app" / "hello_world.py"
    source = app.read_text()
    app.write_text(source + "\n# a release whose tasks fail to start\n")
    fake_ecs_scenario(world, "fail")
    try:
        broken = world.runner.run("push", world.runner.push_event(BROKEN_SHA), sha=BROKEN_SHA, inputs=RUN_INPUTS)
    finally:
        fake_ecs_scenario(world, "complete")
        app.write_text(source)
    assert broken.returncode == 6, explain(broken)
    assert states(deployments(world, "staging")[-1])[-1] == "failure"
    # The broken commit's image, pushed to staging's repository before its rollout failed.
    broken_digests = ecr_digests(world, "staging", staging.base) - staging_before
    assert broken_digests, "the failed push left no new image in staging"

    refused = promote(world)
    assert refused.returncode == 6, explain(refused)
    assert "staging's last deployment FAILED" in refused.stderr, refused.stderr[-3000:]
    assert "circuit breaker" in refused.stderr
    # Nothing reached production: its repository and its service are as the first promote left them.
    assert ecr_digests(world, "production", production.base) == digests_before
    for broken_digest in broken_digests:
        assert Registry(production.region, production.account).manifest(production.base, broken_digest) is None
    assert main_service(world, "production")["taskDefinition"] == running_before
    assert_no_secrets(refused, world)
