"""The user-facing workflows under nektos/act, as a user's repository runs them, against the whole harness.

One world (emulated AWS, the registry as ECR, Docker, a fake GitHub, the bootstrap applied) serves every scenario, in
order, the way a repository's runs follow each other: a push to the default branch, a damaged release, a fork's pull
request, a pull request opened and pushed to again, a second one opened through the guide's example workflow, the
first closed, the second swept after it closed, and a manual teardown of a stack that is already gone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.action.tool_releases import make_signing_key
from tests.e2e.checks import KNOWN_SECRETS
from tests.e2e.runner import GITHUB_TOKEN, OIDC_REQUEST_TOKEN, REPO_ROOT, cache_dir, checkout, leaked_secrets
from tests.e2e.world import REPOSITORY, World, binary_path, start_world
from tests.workflows.act import (
    Act,
    ActResult,
    Release,
    Site,
    act_binary,
    guide_workflow,
    hosted_runner_path,
    publish_action_release,
    publish_terraform_release,
    swap_in_damaged_archive,
    user_repository,
)

TERRAFORM_VERSION = "1.15.5"


@dataclass
class Stage:
    world: World
    act: Act
    site: Site
    release: Release

    @property
    def release_path(self) -> str:
        return "/" + self.release.archive.relative_to(self.site.root).as_posix()


@pytest.fixture(scope="module")
def stage() -> Iterator[Stage]:
    if not act_binary().exists():
        pytest.fail(f"{act_binary()} is missing: make setup-act")
    binary = binary_path()
    if not binary.exists():
        pytest.fail(f"{binary} is missing: make build")
    world = start_world()
    site = Site(world.root / "site")
    try:
        site.root.mkdir()
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()  # fmt: skip
        release = publish_action_release(site.root, binary, commit)
        key = make_signing_key(world.root / "keys")
        publish_terraform_release(site.root, cache_dir() / "bin" / "terraform", TERRAFORM_VERSION, key)
        key.close()
        site.start()
        user_repository(world.runner.workspace, guide_workflow())
        aws_env = {k: v for k, v in world.runner.aws_env.items() if k != "PATH"}
        act = Act(
            workspace=world.runner.workspace,
            action_dir=checkout(world.root / "action"),
            root=world.root / "act",
            env={
                **aws_env,
                # What GitHub gives every job, pointed at the fakes on loopback.
                "GITHUB_SERVER_URL": site.url,
                "GITHUB_API_URL": world.github.url,
                "ACTIONS_ID_TOKEN_REQUEST_URL": f"{world.github.url}/oidc/token?api-version=2.0",
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN": OIDC_REQUEST_TOKEN,
                # terraform from the local release site, its checksums signed by a test key instead of HashiCorp's.
                "ECS_POC_TERRAFORM_DOWNLOAD_URL": site.url,
                "ECS_POC_TF_SIGNING_KEY": str(key.public),
                # The harness's settings, as in tests/e2e: the locally made base image, an unreachable emulated ALB.
                **world.runner.extra_env,
                "ECS_POC_SMOKE_CHECK": "false",
                "ECS_POC_WAIT_TIMEOUT": "120",
                # The repository the checkout stand-in copies (tests/workflows/checkout-standin).
                "CHECKOUT_STANDIN_SOURCE": str(world.runner.workspace),
            },
            variables={
                "ECS_POC_STATE_BUCKET": world.bootstrap["state_bucket"],
                "ECS_POC_PREVIEW_ROLE_ARN": world.bootstrap["preview_role_arn"],
                "ECS_POC_SHARED_ROLE_ARN": world.bootstrap["shared_role_arn"],
            },
            secrets={"GITHUB_TOKEN": GITHUB_TOKEN},
            path=hosted_runner_path(world.root / "runner-bin"),
            repository=REPOSITORY,
        )
        yield Stage(world=world, act=act, site=site, release=release)
    finally:
        site.stop()
        world.stop()
        if not os.environ.get("ECS_POC_KEEP_E2E"):
            shutil.rmtree(world.root, ignore_errors=True)


@pytest.fixture(scope="module")
def results() -> dict[str, ActResult]:
    return {}


def explain(result: ActResult) -> str:
    return f"act exit {result.returncode}\n{result.log[-8000:]}"


def pull_request(stage: Stage, number: int, action: str = "opened", head_repo: str | None = None) -> dict[str, Any]:
    return stage.world.runner.pull_request_event(number, f"{number % 10}" * 40, action=action, head_repo=head_repo)


def deployment_states(stage: Stage, environment: str) -> list[list[str]]:
    """The statuses of each GitHub deployment of `environment`, oldest deployment first."""
    deployments = [d for d in stage.world.github.state()["deployments"] if d["environment"] == environment]
    return [[s["state"] for s in d["statuses"]] for d in deployments]


def live_services(stage: Stage) -> set[str]:
    """Active services of every cluster: main's on the production cluster, pull requests' on the preview cluster."""
    ecs = stage.world.ecs()
    names: set[str] = set()
    for cluster in ecs.list_clusters()["clusterArns"]:
        arns = ecs.list_services(cluster=cluster)["serviceArns"]
        if arns:
            described = ecs.describe_services(cluster=cluster, services=arns)["services"]
            names |= {s["serviceName"] for s in described if s["status"] == "ACTIVE"}
    return names


def state_keys(stage: Stage) -> list[str]:
    s3 = stage.world.aws.client("s3")
    return [o["Key"] for o in s3.list_objects_v2(Bucket=stage.world.bootstrap["state_bucket"]).get("Contents", [])]


def assert_no_secrets(result: ActResult, stage: Stage) -> None:
    leaks = leaked_secrets(result.log + json.dumps(stage.world.github.state()), KNOWN_SECRETS)
    assert not leaks, f"secret-looking values leaked: {sorted(set(leaks))}"


def test_a_push_to_the_default_branch_installs_everything_and_deploys_main(
    stage: Stage, results: dict[str, ActResult]
) -> None:
    result = stage.act.run("push", stage.world.runner.push_event("a" * 40), "preview.yml")
    results["push"] = result

    assert result.returncode == 0, explain(result)
    assert "Job succeeded" in result.log
    # The release the action's @v1 names, downloaded from the run's GitHub server and verified.
    assert stage.release_path in stage.site.requests
    assert "sha256 verified" in result.log and "building from source" not in result.log
    # terraform: not on the runner's PATH, so downloaded, its checksums' signature and its own checksum verified.
    assert f"/terraform/{TERRAFORM_VERSION}/terraform_{TERRAFORM_VERSION}_linux_amd64.zip" in stage.site.requests
    assert f"signature of terraform_{TERRAFORM_VERSION}_SHA256SUMS verified" in result.log
    assert f"installed Terraform {TERRAFORM_VERSION}" in result.log
    assert any(name.endswith("main") for name in live_services(stage)), live_services(stage)
    assert "shared/terraform.tfstate" in state_keys(stage)
    # The default branch's deploy is a deployment of the (implicit) environment `main`.
    assert deployment_states(stage, "main") == [["in_progress", "success"]]
    assert_no_secrets(result, stage)


def test_a_damaged_release_runs_nothing_and_says_why(stage: Stage) -> None:
    with swap_in_damaged_archive(stage.release):
        result = stage.act.run("pull_request", pull_request(stage, 9), "preview.yml")

    assert result.returncode != 0, explain(result)
    assert "checksum mismatch for ecs-poc-" in result.log, explain(result)
    assert "Nothing was installed or run" in result.log
    assert stage.world.github.comments(9) == []
    assert not any(name.endswith("pr-9") for name in live_services(stage))
    assert "preview/pr-9.tfstate" not in state_keys(stage)


def test_a_fork_pull_request_is_skipped_with_its_notice(stage: Stage) -> None:
    result = stage.act.run("pull_request", pull_request(stage, 99, head_repo="someone/hello-service"), "preview.yml")

    assert result.returncode == 0, explain(result)
    assert "No preview for pull requests from forks" in result.log
    assert "ecs-poc install" not in result.log, "the deploy job ran for a fork"
    assert stage.world.github.comments(99) == []


def test_a_pull_request_deploys_and_a_later_step_reads_the_outputs(stage: Stage, results: dict[str, ActResult]) -> None:
    if results.get("push") is None or results["push"].returncode != 0:
        pytest.skip("depends on the push to the default branch (the shared stack)")
    result = stage.act.run("pull_request", pull_request(stage, 7), "preview.yml")
    results["pr7"] = result

    assert result.returncode == 0, explain(result)
    notice = re.search(r"::notice title=Preview ready::(\S+) runs (\S+) \(infrastructure changed - (\w+)\)", result.log)
    assert notice, explain(result)
    endpoint, image, changed = notice.groups()
    assert re.match(r"^http://[^/]+/pr-7/$", endpoint), endpoint
    assert re.match(r"^\d{12}\.dkr\.ecr\.[\w-]+\.amazonaws\.com/[\w-]+@sha256:[0-9a-f]{64}$", image), image
    assert changed == "true"
    # terraform came from the runner's tool cache this time.
    assert f"using Terraform {TERRAFORM_VERSION} from the tool cache" in result.log
    assert any(name.endswith("pr-7") for name in live_services(stage)), live_services(stage)
    assert len(stage.world.github.comments(7)) == 1
    assert deployment_states(stage, "pr-7") == [["in_progress", "success"]]
    (deployment,) = [d for d in stage.world.github.state()["deployments"] if d["environment"] == "pr-7"]
    assert deployment["ref"] == "7" * 40, "the deployment is of the pull request's head commit"
    assert deployment["statuses"][-1]["environment_url"] == endpoint
    assert_no_secrets(result, stage)


def test_a_push_to_the_pull_request_reruns_and_edits_the_same_comment(
    stage: Stage, results: dict[str, ActResult]
) -> None:
    if results.get("pr7") is None or results["pr7"].returncode != 0:
        pytest.skip("depends on the pull request deploy")
    before = stage.world.github.comments(7)

    result = stage.act.run("pull_request", pull_request(stage, 7, action="synchronize"), "preview.yml")

    assert result.returncode == 0, explain(result)
    assert "::notice title=Preview ready::" in result.log
    after = stage.world.github.comments(7)
    assert [c["id"] for c in after] == [c["id"] for c in before]
    assert after[0]["body"] != "" and after[0]["id"] == before[0]["id"]


def test_the_guide_s_example_workflow_deploys_a_second_pull_request(
    stage: Stage, results: dict[str, ActResult]
) -> None:
    if results.get("push") is None or results["push"].returncode != 0:
        pytest.skip("depends on the push to the default branch (the shared stack)")
    result = stage.act.run("pull_request", pull_request(stage, 8), "guide-preview.yml")
    results["pr8"] = result

    assert result.returncode == 0, explain(result)
    assert any(name.endswith("pr-8") for name in live_services(stage)), live_services(stage)
    assert len(stage.world.github.comments(8)) == 1


def test_closing_a_pull_request_destroys_its_stack(stage: Stage, results: dict[str, ActResult]) -> None:
    if results.get("pr7") is None or results["pr7"].returncode != 0:
        pytest.skip("depends on the pull request deploy")
    stage.world.github.close_pull(7)

    result = stage.act.run("pull_request", pull_request(stage, 7, action="closed"), "preview.yml")

    assert result.returncode == 0, explain(result)
    assert f"a hosted runner would check out {'7' * 40}" in result.log, "the destroy job checks out the head commit"
    assert not any(name.endswith("pr-7") for name in live_services(stage)), live_services(stage)
    assert "preview/pr-7.tfstate" not in state_keys(stage)
    assert "torn down" in stage.world.github.comments(7)[0]["body"].lower()
    assert [states[-1] for states in deployment_states(stage, "pr-7")] == ["inactive", "inactive"]
    assert_no_secrets(result, stage)


def test_the_scheduled_sweep_removes_a_closed_pull_request_s_stack(stage: Stage, results: dict[str, ActResult]) -> None:
    if results.get("pr8") is None or results["pr8"].returncode != 0:
        pytest.skip("depends on the second pull request")
    stage.world.github.close_pull(8)
    event = {"schedule": "37 3 * * *", "repository": {"full_name": REPOSITORY}}

    result = stage.act.run("schedule", event, "sweep.yml")
    results["sweep"] = result

    assert result.returncode == 0, explain(result)
    assert "pr-8" in result.log
    assert not any(name.endswith("pr-8") for name in live_services(stage)), live_services(stage)
    assert "preview/pr-8.tfstate" not in state_keys(stage)
    assert [states[-1] for states in deployment_states(stage, "pr-8")] == ["inactive"]
    assert any(name.endswith("main") for name in live_services(stage)), "the sweep touched main"


def test_a_manual_teardown_of_a_stack_already_gone_succeeds(stage: Stage, results: dict[str, ActResult]) -> None:
    if results.get("sweep") is None or results["sweep"].returncode != 0:
        pytest.skip("depends on the sweep")
    event = {"inputs": {"pull-request": "8"}, "repository": {"full_name": REPOSITORY}}

    result = stage.act.run("workflow_dispatch", event, "teardown.yml")

    assert result.returncode == 0, explain(result)
    assert re.search(r"already (gone|destroyed)|nothing to (destroy|do)", result.log, re.IGNORECASE), explain(result)
    assert any(name.endswith("main") for name in live_services(stage))
