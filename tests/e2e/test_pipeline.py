"""End to end: the real binary, as a GitHub Actions run of this repository, against emulated AWS,
the real Docker engine and registry, terraform with the real AWS provider, and a fake GitHub.

One module-scoped world; the tests run in order and build on each other, the way a repository's
workflow runs do: push to main, a pull request, a re-run of it, a fork, a second pull request,
closing the first and sweeping, destroying again, a destroy that fails midway and its retry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.checks import assert_no_secrets, explain, module_world
from tests.e2e.runner import RunResult
from tests.e2e.world import PREVIEW_CLUSTER, PREVIEW_REPOSITORY, World, start_world
from tests.harness.ecr_bridge import Registry

MAIN_SHA = "a" * 40
PR7_SHA = "7" * 40
PR8_SHA = "8" * 40


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    yield from module_world(start_world)


@pytest.fixture(scope="module")
def runs() -> dict[str, RunResult]:
    """Results of earlier runs, for the tests that build on them."""
    return {}




def service_of(world: World, cluster: str, service: str) -> dict[str, Any]:
    found = world.ecs().describe_services(cluster=cluster, services=[service])["services"]
    return found[0] if found else {}


def deploy_pr(world: World, number: int, sha: str, action: str = "opened") -> RunResult:
    """A pull request run of the action, with its result document on stdout (`output: json`)."""
    return world.runner.run(
        "pull_request",
        world.runner.pull_request_event(number, sha, action=action),
        sha=sha,
        inputs={
            "role-to-assume": world.bootstrap["preview_role_arn"],
            "state-bucket": world.bootstrap["state_bucket"],
            "smoke-check": "false",  # the emulated ALB has no address a runner can reach
            "wait-timeout": "120",
            "output": "json",
        },
    )


def plan_of(result: RunResult, stack: str) -> dict[str, Any]:
    report = json.loads(result.stdout)
    found = [p for p in report["plans"] if p["stack"] == stack]
    assert found, f"no plan for {stack} in {[p['stack'] for p in report['plans']]}"
    summary: dict[str, Any] = found[0]["summary"]
    return summary


def counts(summary: dict[str, Any]) -> tuple[int, int, int, int]:
    """A plan summary's (add, change, destroy, replace)."""
    return (summary["add"], summary["change"], summary["destroy"], summary["replace"])


def test_push_to_main_applies_the_shared_and_main_stacks(world: World, runs: dict[str, RunResult]) -> None:
    result = world.runner.run(
        "push",
        world.runner.push_event(MAIN_SHA),
        sha=MAIN_SHA,
        inputs={
            "role-to-assume": world.bootstrap["shared_role_arn"],
            "state-bucket": world.bootstrap["state_bucket"],
            "smoke-check": "false",
            "wait-timeout": "120",
        },
    )
    runs["main"] = result
    assert result.returncode == 0, explain(result)
    assert result.outputs.get("stack") == "main"
    assert re.match(r"^http://[^/]+/$", result.outputs.get("endpoint", "")), result.outputs
    clusters = world.ecs().list_clusters()["clusterArns"]
    assert clusters, "the shared stack made no ECS cluster"
    assert_no_secrets(result, world)


def test_pull_request_deploys_its_own_stack_and_comments_once(world: World, runs: dict[str, RunResult]) -> None:
    result = deploy_pr(world, 7, PR7_SHA)
    runs["pr7"] = result
    assert result.returncode == 0, explain(result)
    out = result.outputs

    # The endpoint is the PR's path on the shared load balancer.
    assert out.get("stack") == "pr-7"
    assert re.match(r"^http://[^/]+/pr-7/$", out.get("endpoint", "")), out

    # The image is in the registry, by digest.
    image = out.get("image", "")
    repo_uri, _, digest = image.partition("@")
    assert digest.startswith("sha256:"), image
    repository = repo_uri.split("/", 1)[1]
    assert repository == PREVIEW_REPOSITORY, "a pull request's image must not go to production's repository"
    assert Registry(world.aws.region).manifest(repository, digest) is not None, f"{image} not in the registry"

    # The service runs the task definition the binary registered, and that points at the digest.
    task_def_arn = out.get("task-definition-arn", "")
    ecs = world.ecs()
    task_def = ecs.describe_task_definition(taskDefinition=task_def_arn)["taskDefinition"]
    images = {c["name"]: c["image"] for c in task_def["containerDefinitions"]}
    assert image in images.values(), images
    env = {e["name"]: e["value"] for c in task_def["containerDefinitions"] for e in c.get("environment", [])}
    assert env.get("APP_VERSION") == PR7_SHA
    assert env.get("SCRIPT_NAME") == "/pr-7"
    services = [s for arn in ecs.list_clusters()["clusterArns"] for s in ecs.list_services(cluster=arn)["serviceArns"]]
    pr7 = [s for s in services if s.rsplit("/", 1)[-1].endswith("pr-7")]
    assert pr7, f"no pr-7 service among {services}"
    assert all(f"/{PREVIEW_CLUSTER}/" in s for s in pr7), f"pr-7 must run on the preview cluster: {pr7}"
    cluster = ecs.describe_services(cluster=PREVIEW_CLUSTER, services=pr7)["services"][0]
    assert cluster["taskDefinition"] == task_def_arn

    # Exactly one comment, with the plan summary and the endpoint.
    comments = world.github.comments(7)
    assert len(comments) == 1, comments
    body = comments[0]["body"]
    assert "<!-- ecs-poc" in body
    assert out["endpoint"] in body
    assert digest in body
    # The plan summary table, with the PR's stack applied and the shared stack only planned.
    assert re.search(r"\|\s*Stack\s*\|\s*Add\s*\|\s*Change\s*\|\s*Replace\s*\|\s*Destroy\s*\|", body), body
    assert re.search(r"\|\s*`pr-7`\s*\|\s*[1-9]\d*\s*\|.*\|\s*applied\s*\|", body), body
    assert re.search(r"\|\s*`shared`\s*\|.*\|\s*plan only\s*\|", body), body
    assert "<details>" in body
    # The push to main has just applied the shared stack: its plan on the pull request is empty.
    shared_plan = plan_of(result, "shared")
    assert counts(shared_plan) == (0, 0, 0, 0), shared_plan

    # The full plan and the report go to the step summary; the outputs are all there.
    # The job summary carries the full plan: terraform's own resource lines, not just the table.
    assert "pr-7" in result.summary
    assert re.search(r"# module\.\S+ will be created", result.summary), result.summary[:2000]
    for name in ("endpoint", "image", "task-definition-arn", "plan-changes", "stack"):
        assert out.get(name) not in (None, ""), f"output {name} missing: {out}"
    assert int(out["plan-changes"]) > 0
    assert_no_secrets(result, world)


def test_rerun_on_the_same_commit_reuses_the_image_and_edits_the_same_comment(
    world: World, runs: dict[str, RunResult]
) -> None:
    first = runs.get("pr7")
    if first is None or first.returncode != 0:
        pytest.skip("depends on the pull request deploy")
    comment_before = world.github.comments(7)[0]
    result = deploy_pr(world, 7, PR7_SHA, action="synchronize")
    runs["pr7-again"] = result
    assert result.returncode == 0, explain(result)
    assert result.outputs["image"] == first.outputs["image"]
    assert result.outputs["task-definition-arn"] == first.outputs["task-definition-arn"], "a no-op redeploy registered a new revision"
    # Nothing changed, so neither stack's plan has anything to do.
    for stack in ("shared", "pr-7"):
        plan = plan_of(result, stack)
        assert counts(plan) == (0, 0, 0, 0), (stack, plan)
    assert json.loads(result.stdout)["image"]["reused"] is True
    assert not re.search(r"docker (build|push)|Successfully built|Pushed", result.stderr), "rebuilt an image ECR already held"
    comments = world.github.comments(7)
    assert len(comments) == 1, "a second comment was posted instead of editing the first"
    assert comments[0]["id"] == comment_before["id"]
    patches = [c for c in world.github.state()["calls"] if c["method"] == "PATCH"]
    assert any(str(comment_before["id"]) in c["path"] for c in patches), "the comment was not edited in place"
    assert result.seconds < first.seconds, f"the no-change redeploy took {result.seconds:.0f}s vs {first.seconds:.0f}s"
    assert_no_secrets(result, world)


def test_a_fork_pull_request_gets_a_clear_error_not_a_cryptic_one(world: World) -> None:
    event = world.runner.pull_request_event(99, "9" * 40, head_repo="someone/hello-service")
    result = world.runner.run(
        "pull_request", event, sha="9" * 40, oidc=False,
        inputs={"role-to-assume": world.bootstrap["preview_role_arn"], "state-bucket": world.bootstrap["state_bucket"]},
    )
    assert result.returncode == 3, explain(result)
    assert "fork" in result.stderr.lower()
    assert "id-token" in result.stderr or "OIDC" in result.stderr


def test_closing_a_pull_request_and_sweeping_removes_only_its_stack(world: World, runs: dict[str, RunResult]) -> None:
    if runs.get("pr7") is None or runs["pr7"].returncode != 0:
        pytest.skip("depends on the pull request deploy")
    pr8 = deploy_pr(world, 8, PR8_SHA)
    runs["pr8"] = pr8
    assert pr8.returncode == 0, explain(pr8)

    world.github.close_pull(7)
    sweep = world.runner.run(
        "schedule", {"schedule": "17 3 * * *", "repository": {"full_name": world.runner.repository}},
        sha=MAIN_SHA,
        inputs={"role-to-assume": world.bootstrap["preview_role_arn"], "state-bucket": world.bootstrap["state_bucket"]},
    )
    assert sweep.returncode == 0, explain(sweep)
    assert "pr-7" in sweep.stderr + sweep.stdout

    ecs = world.ecs()
    cluster = PREVIEW_CLUSTER
    names = {s.rsplit("/", 1)[-1]: s for s in ecs.list_services(cluster=cluster)["serviceArns"]}
    live = {n for n, arn in names.items() if service_of(world, cluster, arn).get("status") == "ACTIVE"}
    assert not any(n.endswith("pr-7") for n in live), f"pr-7 still runs: {live}"
    assert any(n.endswith("pr-8") for n in live), f"pr-8 was touched: {live}"

    s3 = world.aws.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=world.bootstrap["state_bucket"]).get("Contents", [])]
    assert "preview/pr-8.tfstate" in keys, keys
    assert "preview/pr-7.tfstate" not in keys, keys

    # PR 7's image is gone from ECR unless another stack runs it; PR 8's is there.
    ecr = world.aws.client("ecr")
    repository = pr8.outputs["image"].split("@")[0].split("/", 1)[1]
    digests = {i["imageDigest"] for i in ecr.describe_images(repositoryName=repository)["imageDetails"]}
    assert pr8.outputs["image"].split("@")[1] in digests
    tags = {t for i in ecr.describe_images(repositoryName=repository)["imageDetails"] for t in i.get("imageTags", [])}
    assert not any("pr-7" in t for t in tags), tags

    body = world.github.comments(7)[0]["body"]
    assert "torn down" in body.lower(), body
    assert_no_secrets(sweep, world)


def test_destroying_a_stack_that_is_already_gone_succeeds(world: World, runs: dict[str, RunResult]) -> None:
    if runs.get("pr8") is None:
        pytest.skip("depends on the sweep")
    result = world.runner.run(
        "workflow_dispatch", {"inputs": {"pull-request": "7"}, "repository": {"full_name": world.runner.repository}},
        sha=MAIN_SHA,
        inputs={"role-to-assume": world.bootstrap["preview_role_arn"], "state-bucket": world.bootstrap["state_bucket"],
                "pull-request": "7"},
    )
    assert result.returncode == 0, explain(result)
    assert re.search(r"already (gone|destroyed)|nothing to (destroy|do)", result.stderr, re.IGNORECASE), result.stderr[-3000:]
    cluster = PREVIEW_CLUSTER
    live = [s for s in world.ecs().list_services(cluster=cluster)["serviceArns"] if s.endswith("pr-8")]
    assert live and service_of(world, cluster, live[0])["status"] == "ACTIVE", "pr-8 was touched"


def test_main_is_refused_without_force(world: World) -> None:
    result = world.runner.run(
        "workflow_dispatch", {"inputs": {}, "repository": {"full_name": world.runner.repository}},
        sha=MAIN_SHA,
        inputs={"role-to-assume": world.bootstrap["shared_role_arn"], "state-bucket": world.bootstrap["state_bucket"],
                "command": "destroy", "stack": "main"},
    )
    assert result.returncode == 2, explain(result)
    assert "--force" in result.stderr or "force" in result.stderr


def harness_faults(world: World, method: str, spec: dict[str, Any] | None = None) -> None:
    import urllib.request

    data = json.dumps(spec).encode() if spec is not None else None
    req = urllib.request.Request(f"{world.aws.endpoint}/_harness/faults", method=method, data=data)
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


def test_a_destroy_that_fails_midway_says_what_is_left_and_the_next_one_finishes(
    world: World, runs: dict[str, RunResult]
) -> None:
    if runs.get("pr8") is None or runs["pr8"].returncode != 0:
        pytest.skip("depends on pull request 8's deploy")
    inputs = {"role-to-assume": world.bootstrap["preview_role_arn"], "state-bucket": world.bootstrap["state_bucket"]}
    closed = world.runner.pull_request_event(8, PR8_SHA, action="closed")
    # The load balancer refuses to delete the PR's target group, as it would for a role missing
    # elasticloadbalancing:DeleteTargetGroup: terraform has destroyed part of the stack by then.
    harness_faults(world, "POST", {"match": "Action=DeleteTargetGroup", "times": 1000, "status": 403,
                                   "code": "AccessDenied", "message": "not authorized to DeleteTargetGroup"})
    try:
        failed = world.runner.run("pull_request", closed, sha=PR8_SHA, inputs=inputs)
    finally:
        harness_faults(world, "DELETE")
    assert failed.returncode == 4, explain(failed)
    assert "aws_lb_target_group" in failed.stderr, "the error does not say what is left"
    assert re.search(r"(run|re-run|retry).{0,40}destroy|destroy.{0,40}again", failed.stderr, re.IGNORECASE), failed.stderr[-3000:]
    assert_no_secrets(failed, world)

    again = world.runner.run("pull_request", closed, sha=PR8_SHA, inputs=inputs)
    assert again.returncode == 0, explain(again)
    cluster = PREVIEW_CLUSTER
    live = [s for s in world.ecs().list_services(cluster=cluster)["serviceArns"]
            if s.endswith("pr-8") and service_of(world, cluster, s).get("status") == "ACTIVE"]
    assert not live, f"pr-8 still runs after the second destroy: {live}"
    elbv2 = world.aws.client("elbv2")
    groups = [g["TargetGroupName"] for g in elbv2.describe_target_groups()["TargetGroups"]]
    assert not any("pr-8" in g for g in groups), groups
    assert "torn down" in world.github.comments(8)[0]["body"].lower()
