"""The default branch's deploy role, evaluated as AWS would (the harness's IAM gate): with only
its own session credentials it applies the shared stack, deploys `main`, and destroys both; and
every step outside its bounds is refused.

The administrator applies bootstrap (roles, policies, boundaries); everything after that runs
with credentials obtained the way the workflow obtains them, AssumeRoleWithWebIdentity with a
token whose `sub` is the default branch's.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.harness.emulated_aws import ACCOUNT_ID, EmulatedAws
from tests.harness.iam_gate.sessions import denials, role_session
from tests.terraform.stacks import Runner, backend, copy_tree

REGION = "eu-west-2"
REPOSITORY = "octo-org/ecs-poc"
NAME = "ecs-poc"
BASE = "ecs-poc-main"
MAIN_SUB = f"repo:{REPOSITORY}:ref:refs/heads/main"
IAM = f"arn:aws:iam::{ACCOUNT_ID}"
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"


@dataclass
class World:
    aws: EmulatedAws
    shared_role: Any  # a boto3 session of the shared deploy role
    shared: dict[str, Any]
    main: dict[str, Any]
    bucket: str


def gate_mode() -> str:
    """`enforce` unless ECS_POC_IAM_GATE says otherwise (`report` lists every refusal at once)."""
    return os.environ.get("ECS_POC_IAM_GATE", "").strip().lower() or "enforce"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, provider_available: str) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("shared-role")
    root = copy_tree(tmp)
    shutil.copytree(root / "stacks" / "preview", root / "stacks" / "preview-main")
    logs = tmp / "logs"
    logs.mkdir()
    with EmulatedAws(log_path=logs / "moto.log", iam_gate=gate_mode()) as aws:
        admin = Runner(aws, root, logs)
        admin.init("bootstrap-init", "bootstrap")
        admin.apply("bootstrap-apply", "bootstrap", {"repository": REPOSITORY, "force_destroy": "true"})
        out = admin.outputs("bootstrap-output", "bootstrap")
        bucket = str(out["state_bucket"])
        session = role_session(aws, str(out["shared_role_arn"]), MAIN_SUB, "ecs-poc-main-push")
        creds = session.credentials()
        role = Runner(aws, root, logs, extra_env={
            "AWS_ACCESS_KEY_ID": creds.access_key,
            "AWS_SECRET_ACCESS_KEY": creds.secret_key,
            "AWS_SESSION_TOKEN": creds.token,
        })
        shared_vars = {"repository": REPOSITORY, "ecr_force_delete": "true"}
        main_vars = {"state_bucket": bucket, "stack_name": "main", "repository": REPOSITORY, "region": REGION}
        try:
            role.init("role-shared-init", "stacks/shared", backend(bucket, "shared/terraform.tfstate", REGION))
            role.apply("role-shared-apply", "stacks/shared", shared_vars)
            role.init("role-main-init", "stacks/preview-main", backend(bucket, "preview/main.tfstate", REGION))
            role.apply("role-main-apply", "stacks/preview-main", main_vars)
            yield World(aws, session, role.outputs("role-shared-output", "stacks/shared"),
                        role.outputs("role-main-output", "stacks/preview-main"), bucket)
            role.destroy("role-main-destroy", "stacks/preview-main", main_vars)
            role.destroy("role-shared-destroy", "stacks/shared", shared_vars)
            admin.destroy("bootstrap-destroy", "bootstrap", {"repository": REPOSITORY, "force_destroy": "true"})
        finally:
            refused = denials(aws)
            if refused:
                print(f"IAM gate ({gate_mode()}) refusals:\n" + "\n".join(json.dumps(d) for d in refused), file=sys.stderr)
            admin.report()


def refused_actions(world: World, before: int) -> list[str]:
    return [d["action"] for d in denials(world.aws)[before:]]


def assert_refused(world: World, action: str, call: Callable[[], object]) -> None:
    """`call` made with the shared role's credentials is answered AccessDenied for `action`."""
    before = len(denials(world.aws))
    with pytest.raises(ClientError) as refused:
        call()
    code = refused.value.response["Error"]["Code"]
    assert code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"), refused.value
    assert action in refused_actions(world, before)


def test_the_shared_role_applies_shared_and_main_with_nothing_refused(world: World) -> None:
    """Every call terraform made for the shared stack and for `main` was within the role's
    policies and its quotas (the refusals, if any, are printed above)."""
    assert world.shared["cluster_name"] == BASE
    assert world.main["service_name"].startswith(f"{BASE}-main")
    assert [d for d in denials(world.aws) if d["principal"] != "administrator"] == []


def test_it_cannot_create_a_role_without_a_boundary(world: World) -> None:
    iam = world.shared_role.client("iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    assert_refused(world, "iam:CreateRole", lambda: iam.create_role(RoleName=f"{BASE}-main-x", AssumeRolePolicyDocument=trust))
    # ... nor with the wrong one: a production task role under the infrastructure boundary.
    assert_refused(world, "iam:CreateRole", lambda: iam.create_role(
        RoleName=f"{BASE}-main-x", AssumeRolePolicyDocument=trust,
        PermissionsBoundary=f"{IAM}:policy/{BASE}-infra-boundary"))


def test_it_cannot_attach_an_aws_admin_policy_or_drop_a_boundary(world: World) -> None:
    iam = world.shared_role.client("iam")
    assert_refused(world, "iam:AttachRolePolicy",
                   lambda: iam.attach_role_policy(RoleName=f"{BASE}-instance", PolicyArn=ADMIN_POLICY))
    assert_refused(world, "iam:DeleteRolePermissionsBoundary",
                   lambda: iam.delete_role_permissions_boundary(RoleName=f"{BASE}-instance"))


def test_it_cannot_change_the_deploy_roles_their_policies_or_the_boundaries(world: World) -> None:
    iam = world.shared_role.client("iam")
    everything = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}]})
    assert_refused(world, "iam:CreatePolicyVersion", lambda: iam.create_policy_version(
        PolicyArn=f"{IAM}:policy/{BASE}-task-boundary", PolicyDocument=everything, SetAsDefault=True))
    assert_refused(world, "iam:CreatePolicyVersion", lambda: iam.create_policy_version(
        PolicyArn=f"{IAM}:policy/{BASE}-deploy-shared-iam", PolicyDocument=everything, SetAsDefault=True))
    assert_refused(world, "iam:PutRolePolicy", lambda: iam.put_role_policy(
        RoleName=f"{BASE}-deploy-preview", PolicyName="more", PolicyDocument=everything))
    assert_refused(world, "iam:UpdateAssumeRolePolicy", lambda: iam.update_assume_role_policy(
        RoleName=f"{BASE}-deploy-shared", PolicyDocument=everything))


def test_ec2_writes_need_the_project_tag(world: World) -> None:
    ec2 = world.shared_role.client("ec2")
    assert_refused(world, "ec2:CreateVpc", lambda: ec2.create_vpc(CidrBlock="10.99.0.0/16"))
    assert_refused(world, "ec2:CreateVpc", lambda: ec2.create_vpc(CidrBlock="10.99.0.0/16", TagSpecifications=[
        {"ResourceType": "vpc", "Tags": [{"Key": "Project", "Value": "someone-else"}]}]))
    # A VPC of somebody else's (made by the administrator, untagged) cannot be changed or deleted.
    foreign = world.aws.client("ec2").create_vpc(CidrBlock="10.98.0.0/16")["Vpc"]["VpcId"]
    try:
        assert_refused(world, "ec2:DeleteVpc", lambda: ec2.delete_vpc(VpcId=foreign))
        assert_refused(world, "ec2:CreateTags", lambda: ec2.create_tags(
            Resources=[foreign], Tags=[{"Key": "Project", "Value": NAME}]))
    finally:
        world.aws.client("ec2").delete_vpc(VpcId=foreign)


def test_dns_changes_only_under_the_private_zone(world: World) -> None:
    admin_r53 = world.aws.client("route53")
    other = admin_r53.create_hosted_zone(Name="example.org", CallerReference="shared-role-test")["HostedZone"]["Id"]
    change = {"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
        "Name": "www.example.org", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.1"}]}}]}
    try:
        r53 = world.shared_role.client("route53")
        assert_refused(world, "route53:ChangeResourceRecordSets",
                       lambda: r53.change_resource_record_sets(HostedZoneId=other, ChangeBatch=change))
    finally:
        admin_r53.delete_hosted_zone(Id=other)


def test_it_deletes_images_only_from_the_production_repository(world: World) -> None:
    ecr = world.shared_role.client("ecr")
    assert_refused(world, "ecr:BatchDeleteImage", lambda: ecr.batch_delete_image(
        repositoryName=f"{BASE}-previews", imageIds=[{"imageTag": "anything"}]))
    before = len(denials(world.aws))
    ecr.batch_delete_image(repositoryName=BASE, imageIds=[{"imageTag": "no-such-tag"}])
    assert refused_actions(world, before) == []
