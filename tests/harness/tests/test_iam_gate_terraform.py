"""The gate under terraform: an oversized policy fails `terraform apply` with AWS's error name, and the
shipped bootstrap's preview role, assumed with a pull request's token, can do what it is granted and
nothing else."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from tests.harness.emulated_aws import ACCOUNT_ID, EmulatedAws
from tests.harness.iam_gate.sessions import denials, role_session
from tests.terraform.stacks import copy_tree, terraform_binary

REPOSITORY = "octo-org/hello-service"
PR_SUB = f"repo:{REPOSITORY}:pull_request"

OVERSIZED = """
provider "aws" {
  region = "eu-west-2"
}

resource "aws_iam_role" "r" {
  name = "gate-oversized"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "ecs-tasks.amazonaws.com" } }]
  })
}

resource "aws_iam_role_policy" "big" {
  name = "big"
  role = aws_iam_role.r.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "s3:GetObject", Resource = [for i in range(450) : "arn:aws:s3:::bucket-${i}/*"] }]
  })
}
"""


def terraform(aws: EmulatedAws, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    flags = ["-input=false", "-no-color"] if args[0] in ("init", "apply") else ["-no-color"]
    return subprocess.run([terraform_binary(), f"-chdir={workdir}", *args, *flags],
                          env=aws.child_env(), capture_output=True, text=True, timeout=900, check=False)


@pytest.fixture(scope="module")
def gated() -> Iterator[EmulatedAws]:
    with EmulatedAws(iam_gate="enforce") as aws:
        yield aws


def test_terraform_apply_of_an_oversized_policy_fails_with_limit_exceeded(
        gated: EmulatedAws, tmp_path: Path, provider_available: str) -> None:
    gated.reset()
    (tmp_path / "main.tf").write_text(OVERSIZED)
    assert terraform(gated, tmp_path, "init").returncode == 0
    applied = terraform(gated, tmp_path, "apply", "-auto-approve")
    output = applied.stdout + applied.stderr
    assert applied.returncode != 0
    assert "LimitExceeded" in output and "Maximum policy size of 10240 bytes exceeded for role gate-oversized" in output
    assert gated.client("iam").list_role_policies(RoleName="gate-oversized")["PolicyNames"] == []


def error_of(call: Any) -> dict[str, Any]:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call()
    error: dict[str, Any] = caught.value.response["Error"]
    return error


@pytest.fixture(scope="module")
def bootstrap(gated: EmulatedAws, tmp_path_factory: pytest.TempPathFactory,
              provider_available: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """terraform/bootstrap applied as the administrator, through the gate (its quotas included)."""
    gated.reset()
    root = copy_tree(tmp_path_factory.mktemp("bootstrap")) / "bootstrap"
    assert terraform(gated, root, "init").returncode == 0
    applied = terraform(gated, root, "apply", "-auto-approve", f"-var=repository={REPOSITORY}",
                        "-var=force_destroy=true")
    state = json.loads(terraform(gated, root, "show", "-json").stdout or "{}")
    resources = {r["address"]: r["values"] for r in state.get("values", {}).get("root_module", {}).get("resources", [])}
    for child in state.get("values", {}).get("root_module", {}).get("child_modules", []):
        resources.update({r["address"]: r["values"] for r in child.get("resources", [])})
    return applied, resources


def test_bootstrap_applies_within_aws_quotas(bootstrap: tuple[subprocess.CompletedProcess[str], dict[str, Any]]) -> None:
    applied, _ = bootstrap
    assert applied.returncode == 0, applied.stdout[-3000:] + applied.stderr[-3000:]


def test_bootstrap_preview_role_is_held_to_its_policies(
        gated: EmulatedAws, bootstrap: tuple[subprocess.CompletedProcess[str], dict[str, Any]]) -> None:
    _, resources = bootstrap
    bucket = resources["aws_s3_bucket.state"]["bucket"]
    preview_arn = resources["module.github_oidc.aws_iam_role.preview[0]"]["arn"]
    shared_arn = resources["module.github_oidc.aws_iam_role.shared"]["arn"]
    gated.iam_gate_log.write_text("")

    session = role_session(gated, preview_arn, PR_SUB, session_name="pr-1")
    principal = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{preview_arn.rsplit('/', 1)[-1]}/pr-1"
    # Allowed: its own stack's state.
    session.client("s3").put_object(Bucket=bucket, Key="preview/pr-1.tfstate", Body=b"{}")
    # Denied, with AWS's message, and nothing changes: a cluster is not a preview resource.
    error = error_of(lambda: session.client("ecs").create_cluster(clusterName="hostile"))
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"].startswith(f"User: {principal} is not authorized to perform: ecs:CreateCluster on resource: "
                                       f"arn:aws:ecs:eu-west-2:{ACCOUNT_ID}:cluster/hostile because ")
    assert gated.client("ecs").list_clusters()["clusterArns"] == []
    assert [d["action"] for d in denials(gated)] == ["ecs:CreateCluster"]
    # A pull request's token does not open the shared role.
    shared = error_of(lambda: role_session(gated, shared_arn, PR_SUB))
    assert shared["Code"] == "AccessDenied"
