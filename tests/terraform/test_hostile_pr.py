"""A hostile pull request, played against the real stacks on emulated AWS with IAM enforced.

An administrator applies bootstrap and the shared stack, and production's service (`main`). A pull
request then deploys its own preview with the preview role's credentials, assumed with a pull
request's OIDC token through the harness's IAM gate, exactly as its workflow would. With the same
credentials it tries everything issue "a pull request cannot touch production" lists: each attempt
must be refused (AWS's access-denied code, and the gate's log names the action) and must leave
production exactly as it was, compared through the administrator's eyes before and after. Its own
lifecycle (deploy, redeploy, the sweep's listing, and `ecs-poc destroy` removing its stack, images and
state) succeeds through the same gate.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from tests.harness.emulated_aws import ACCOUNT_ID, EmulatedAws
from tests.harness.iam_gate.sessions import denials, role_session
from tests.terraform.stacks import Runner, backend, copy_tree, terraform_binary

REGION = "eu-west-2"
REPOSITORY = "octo-org/ecs-poc"
BASE = "ecs-poc-main"
PR = "pr-7"
PR_SUB = f"repo:{REPOSITORY}:pull_request"
OUTSIDER = "arn:aws:iam::999999999999:root"
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}
# Production's image, and the content tag a hostile pull request would plant for the next default-branch deploy.
WATCHED_TAGS = ("c-production", "c-next-main-deploy")
TASKS_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


@dataclass
class World:
    aws: EmulatedAws
    admin: Runner
    pr: Runner
    session: Any
    bucket: str
    shared: dict[str, Any]
    main: dict[str, Any]
    roles: dict[str, str]

    def pr_vars(self, **extra: str) -> dict[str, str]:
        return {"state_bucket": self.bucket, "stack_name": PR, "repository": REPOSITORY, "region": REGION, **extra}

    def hostile(self, service: str) -> Any:
        """A client with the pull request's credentials."""
        return self.session.client(service)


def ecs_poc_binary() -> Path:
    """The debug build `make build` leaves in CARGO_TARGET_DIR (ECS_POC_BINARY overrides)."""
    explicit = os.environ.get("ECS_POC_BINARY")
    cache = Path(os.environ.get("ECS_POC_CACHE", Path.home() / ".cache" / "ecs-poc"))
    binary = Path(explicit) if explicit else Path(os.environ.get("CARGO_TARGET_DIR", cache / "target")) / "debug" / "ecs-poc"
    assert binary.is_file(), f"no ecs-poc binary at {binary}: run `make build`"
    return binary


def session_env(session: Any) -> dict[str, str]:
    creds = session.credentials().get_frozen_credentials()
    return {"AWS_ACCESS_KEY_ID": creds.access_key, "AWS_SECRET_ACCESS_KEY": creds.secret_key,
            "AWS_SESSION_TOKEN": creds.token}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, provider_available: str) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("hostile")
    root = copy_tree(tmp)
    shutil.copytree(root / "stacks" / "preview", root / "stacks" / "preview-main")
    shutil.copytree(root / "stacks" / "shared", root / "stacks" / "shared-pr")
    logs = tmp / "logs"
    logs.mkdir()
    started = time.monotonic()
    # The gate enforces throughout, whatever ECS_POC_IAM_GATE says (the suite proves refusals):
    # the administrator's setup stays within AWS's quotas, and the pull request's calls below run
    # as the preview role.
    with EmulatedAws(log_path=logs / "moto.log", iam_gate="enforce") as aws:
        admin = Runner(aws, root, logs)
        try:
            admin.init("bootstrap-init", "bootstrap")
            admin.apply("bootstrap-apply", "bootstrap", {"repository": REPOSITORY, "force_destroy": "true"})
            boot = admin.outputs("bootstrap-output", "bootstrap")
            bucket = str(boot["state_bucket"])
            admin.init("shared-init", "stacks/shared", backend(bucket, "shared/terraform.tfstate", REGION))
            admin.apply("shared-apply", "stacks/shared", {"repository": REPOSITORY, "ecr_force_delete": "true"})
            shared = admin.outputs("shared-output", "stacks/shared")
            main_vars = {"state_bucket": bucket, "stack_name": "main", "repository": REPOSITORY, "region": REGION}
            admin.init("main-init", "stacks/preview-main", backend(bucket, "preview/main.tfstate", REGION))
            admin.apply("main-apply", "stacks/preview-main", main_vars)
            main = admin.outputs("main-output", "stacks/preview-main")
            aws.iam_gate_log.write_text("")
            session = role_session(aws, str(boot["preview_role_arn"]), PR_SUB, session_name=PR)
            pr = Runner(aws, root, logs, extra_env=session_env(session))
            roles = {"preview": str(boot["preview_role_arn"]), "shared": str(boot["shared_role_arn"])}
            yield World(aws, admin, pr, session, bucket, shared, main, roles)
        finally:
            admin.report()
            print(f"hostile pull request: {time.monotonic() - started:.0f} s (logs: {logs})", file=sys.stderr)


# Production, as the administrator sees it -------------------------------------------------------


def production(w: World) -> dict[str, Any]:
    """Everything of production a pull request could want to change, read with admin credentials."""
    aws, shared, main = w.aws, w.shared, w.main
    ecs, elb, iam = aws.client("ecs"), aws.client("elbv2"), aws.client("iam")
    service = ecs.describe_services(cluster=shared["cluster_name"], services=[main["service_name"]])["services"][0]
    rules = elb.describe_rules(ListenerArn=shared["alb_listener_arn"])["Rules"]
    target_group = elb.describe_target_groups(TargetGroupArns=[main["target_group_arn"]])["TargetGroups"][0]
    main_roles = {}
    for suffix in ("exec", "task"):
        name = f"{BASE}-main-{suffix}"
        role = iam.get_role(RoleName=name)["Role"]
        main_roles[name] = (role["AssumeRolePolicyDocument"], role.get("PermissionsBoundary"),
                            iam.list_role_policies(RoleName=name)["PolicyNames"],
                            iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"])
    versions = w.aws.client("s3").list_object_versions(Bucket=w.bucket)
    state = sorted((v["Key"], v["VersionId"]) for v in versions.get("Versions", []) if not v["Key"].startswith(f"preview/{PR}"))
    markers = sorted(m["Key"] for m in versions.get("DeleteMarkers", []) if not m["Key"].startswith(f"preview/{PR}"))
    zone = w.shared["private_zone_id"]
    asg = aws.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[shared["autoscaling_group_name"]])["AutoScalingGroups"][0]
    policies = {p["PolicyName"]: p["DefaultVersionId"] for p in iam.list_policies(Scope="Local")["Policies"]}
    return {
        "service": {k: service.get(k) for k in ("status", "taskDefinition", "desiredCount", "loadBalancers",
                                                "capacityProviderStrategy", "deploymentConfiguration")},
        "services": sorted(ecs.list_services(cluster=shared["cluster_name"])["serviceArns"]),
        "tasks": sorted(ecs.list_tasks(cluster=shared["cluster_name"])["taskArns"]),
        "main_revision": ecs.describe_task_definition(taskDefinition=main["task_definition_arn"])["taskDefinition"]["status"],
        "load_balancer": elb.describe_load_balancers(LoadBalancerArns=[shared["alb_arn"]])["LoadBalancers"][0]["State"],
        "lb_attributes": elb.describe_load_balancer_attributes(LoadBalancerArn=shared["alb_arn"])["Attributes"],
        "listeners": elb.describe_listeners(LoadBalancerArn=shared["alb_arn"])["Listeners"],
        "rules": [(r["RuleArn"], r["Priority"], r["Actions"], r["Conditions"]) for r in rules],
        "target_group": target_group,
        "target_group_attributes": elb.describe_target_group_attributes(TargetGroupArn=main["target_group_arn"])["Attributes"],
        "roles": main_roles,
        "managed_policies": policies,
        "state": state,
        "state_markers": markers,
        # Only the tags this suite pushes or aims at: the harness's registry is shared by every run on
        # the machine, and its images show in moto's ECR too (tests/harness/ecr_bridge.py).
        "images": sorted(str(i) for i in aws.client("ecr").list_images(repositoryName=shared["ecr_repository_name"])["imageIds"]
                         if i.get("imageTag") in WATCHED_TAGS),
        "log_groups": [(g["logGroupName"], g.get("retentionInDays")) for g in aws.client("logs").describe_log_groups()["logGroups"]],
        "records": aws.client("route53").list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"],
        "asg": {k: asg[k] for k in ("MinSize", "MaxSize", "DesiredCapacity", "Instances", "LaunchTemplate")},
        "instances": sorted((i["InstanceId"], i["State"]["Name"]) for r in aws.client("ec2").describe_instances()["Reservations"]
                            for i in r["Instances"]),
    }


def assert_refused(w: World, action: str, attempt: Callable[[], Any]) -> None:
    """The attempt is refused as AWS refuses, the gate logged `action`, and production is unchanged."""
    before = production(w)
    logged = len(denials(w.aws))
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        attempt()
    error = caught.value.response["Error"]
    assert error["Code"] in DENIED, f"{action}: {error}"
    assert action in [d["action"] for d in denials(w.aws)[logged:]], f"the gate did not refuse {action}: {denials(w.aws)[logged:]}"
    after = production(w)
    changed = [k for k in before if before[k] != after[k]]
    assert not changed, f"{action} was refused but changed production: {changed}"


def fake_image(w: World, repository: str, tag: str, client: Any) -> str:
    """Push a (tiny, fake) image manifest with `client`; returns its digest."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config),
                   "digest": "sha256:" + hashlib.sha256(config).hexdigest()},
        "layers": [],
    })
    image = client.put_image(repositoryName=repository, imageManifest=manifest, imageTag=tag)["image"]
    return str(image["imageId"]["imageDigest"])


# The pull request's own lifecycle, part 1 ----------------------------------------------------------


def test_a_pull_request_deploys_its_preview_through_the_gate(world: World) -> None:
    w = world
    repository = w.shared["preview_ecr_repository_name"]
    digest = fake_image(w, repository, f"stack-{PR}.c-1", w.hostile("ecr"))
    image = f"{w.shared['preview_ecr_repository_url']}@{digest}"
    w.pr.init(f"{PR}-init", "stacks/preview", backend(w.bucket, f"preview/{PR}.tfstate", REGION))
    w.pr.apply(f"{PR}-apply", "stacks/preview", w.pr_vars(image=image, app_version="v1"))
    out = w.pr.outputs(f"{PR}-output", "stacks/preview")
    assert out["cluster_name"] == f"{BASE}-previews"
    assert out["ecr_repository_name"] == repository
    service = w.aws.client("ecs").describe_services(cluster=out["cluster_name"], services=[out["service_name"]])["services"][0]
    assert service["status"] == "ACTIVE" and service.get("launchType") in ("FARGATE", None)
    assert [d for d in denials(w.aws) if d["mode"] == "enforce"] == [], "the preview's own deploy was refused something"


def ecs_poc(w: World, *args: str) -> subprocess.CompletedProcess[str]:
    """The ecs-poc binary with the pull request's credentials, in the copy of the repository."""
    return subprocess.run(
        [str(ecs_poc_binary()), *args, "--state-bucket", w.bucket, "--aws-region", REGION, "--repository", REPOSITORY,
         "--terraform-binary", terraform_binary(), "--output", "json"],
        cwd=w.pr.root.parent, env=w.aws.child_env(w.pr.extra_env), capture_output=True, text=True, timeout=900, check=False)


def test_a_pull_request_plans_the_shared_stack_without_a_lock_through_the_gate(world: World) -> None:
    """`ecs-poc plan` of a pull request shows the shared stack's plan too: reads only, and no lock
    on the shared state, which the preview role may not write."""
    w = world
    logged = len(denials(w.aws))
    planned = ecs_poc(w, "plan", "--stack", PR)
    refused = [d for d in denials(w.aws)[logged:] if d["mode"] == "enforce"]
    assert planned.returncode == 0 and not refused, f"{refused}\n{planned.stdout[-2000:]}{planned.stderr[-4000:]}"
    assert [p["stack"] for p in json.loads(planned.stdout)["plans"]] == ["shared", PR]


def test_a_pull_request_token_cannot_assume_the_shared_role(world: World) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        role_session(world.aws, world.roles["shared"], PR_SUB)
    assert caught.value.response["Error"]["Code"] == "AccessDenied"


# Production's service, task definitions and roles ---------------------------------------------------


def test_cannot_update_or_delete_the_default_branchs_service(world: World) -> None:
    w, ecs = world, world.hostile("ecs")
    cluster, service = w.shared["cluster_name"], w.main["service_name"]
    assert_refused(w, "ecs:UpdateService", lambda: ecs.update_service(cluster=cluster, service=service, desiredCount=0))
    assert_refused(w, "ecs:UpdateService", lambda: ecs.update_service(
        cluster=cluster, service=service, taskDefinition=w.main["task_definition_arn"], forceNewDeployment=True))
    assert_refused(w, "ecs:DeleteService", lambda: ecs.delete_service(cluster=cluster, service=service, force=True))


def test_cannot_register_a_revision_of_mains_family_with_its_roles(world: World) -> None:
    w, ecs = world, world.hostile("ecs")
    template = w.aws.client("ecs").describe_task_definition(taskDefinition=w.main["task_definition_arn"])["taskDefinition"]
    assert_refused(w, "iam:PassRole", lambda: ecs.register_task_definition(
        family=template["family"], taskRoleArn=template["taskRoleArn"], executionRoleArn=template["executionRoleArn"],
        networkMode="bridge", containerDefinitions=[{**template["containerDefinitions"][0], "image": "evil:latest"}]))


def test_a_revision_of_mains_family_with_other_roles_never_reaches_production(world: World) -> None:
    """RegisterTaskDefinition has no resource-level permission in AWS, so IAM cannot keep a pull
    request out of a family. What it can do is nothing: production's service only changes through
    UpdateService (refused above), and the default branch's deploy registers from its own template
    revision, never from the family's latest."""
    w, ecs = world, world.hostile("ecs")
    before = production(w)
    template = w.aws.client("ecs").describe_task_definition(taskDefinition=w.main["task_definition_arn"])["taskDefinition"]
    pr_role = f"arn:aws:iam::{ACCOUNT_ID}:role/{BASE}-{PR}-task"
    ecs.register_task_definition(family=template["family"], taskRoleArn=pr_role, networkMode="bridge",
                                 containerDefinitions=[{**template["containerDefinitions"][0], "image": "evil:latest"}])
    assert production(w) == before
    plan = w.admin.run("main-replan", "stacks/preview-main", "plan", "-detailed-exitcode", "-input=false", "-no-color",
                       *[f"-var={k}={v}" for k, v in {"state_bucket": w.bucket, "stack_name": "main",
                                                      "repository": REPOSITORY, "region": REGION}.items()], check=False)
    assert plan.returncode == 0, f"main's own template moved:\n{plan.stdout[-2000:]}"


def test_cannot_pass_or_modify_productions_roles(world: World) -> None:
    w, iam = world, world.hostile("iam")
    task = f"{BASE}-main-task"
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    assert_refused(w, "iam:PutRolePolicy", lambda: iam.put_role_policy(RoleName=task, PolicyName="more", PolicyDocument=policy))
    assert_refused(w, "iam:AttachRolePolicy", lambda: iam.attach_role_policy(
        RoleName=task, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"))
    assert_refused(w, "iam:UpdateAssumeRolePolicy", lambda: iam.update_assume_role_policy(
        RoleName=task, PolicyDocument=json.dumps({**TASKS_TRUST, "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": OUTSIDER}, "Action": "sts:AssumeRole"}]})))
    assert_refused(w, "iam:DeleteRolePermissionsBoundary", lambda: iam.delete_role_permissions_boundary(RoleName=task))
    assert_refused(w, "iam:DeleteRole", lambda: iam.delete_role(RoleName=f"{BASE}-main-exec"))
    ecs = w.hostile("ecs")
    assert_refused(w, "iam:PassRole", lambda: ecs.register_task_definition(
        family=f"{BASE}-{PR}-x", taskRoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{task}", networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "app", "image": "evil:latest", "essential": True}]))


# Production's load balancer --------------------------------------------------------------------------


def test_cannot_add_or_change_a_rule_on_the_listener_that_serves_production(world: World) -> None:
    w, elb = world, world.hostile("elbv2")
    target = w.aws.client("elbv2").describe_target_groups(Names=[f"{BASE}-{PR}"])["TargetGroups"][0]["TargetGroupArn"]
    assert_refused(w, "elasticloadbalancing:CreateRule", lambda: elb.create_rule(
        ListenerArn=w.shared["alb_listener_arn"], Priority=1,
        Conditions=[{"Field": "path-pattern", "Values": ["/*"]}], Actions=[{"Type": "forward", "TargetGroupArn": target}]))
    assert_refused(w, "elasticloadbalancing:ModifyRule", lambda: elb.modify_rule(
        RuleArn=w.main["listener_rule_arn"], Actions=[{"Type": "forward", "TargetGroupArn": target}]))


def test_cannot_modify_or_delete_productions_target_groups_rules_listeners_or_load_balancer(world: World) -> None:
    w, elb = world, world.hostile("elbv2")
    tg, rule = w.main["target_group_arn"], w.main["listener_rule_arn"]
    assert_refused(w, "elasticloadbalancing:ModifyTargetGroup", lambda: elb.modify_target_group(
        TargetGroupArn=tg, HealthCheckPath="/nowhere"))
    assert_refused(w, "elasticloadbalancing:ModifyTargetGroupAttributes", lambda: elb.modify_target_group_attributes(
        TargetGroupArn=tg, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "0"}]))
    assert_refused(w, "elasticloadbalancing:DeleteTargetGroup", lambda: elb.delete_target_group(TargetGroupArn=tg))
    assert_refused(w, "elasticloadbalancing:DeleteRule", lambda: elb.delete_rule(RuleArn=rule))
    assert_refused(w, "elasticloadbalancing:ModifyListener", lambda: elb.modify_listener(
        ListenerArn=w.shared["alb_listener_arn"], DefaultActions=[
            {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503", "ContentType": "text/plain"}}]))
    assert_refused(w, "elasticloadbalancing:DeleteListener", lambda: elb.delete_listener(ListenerArn=w.shared["alb_listener_arn"]))
    assert_refused(w, "elasticloadbalancing:DeleteLoadBalancer", lambda: elb.delete_load_balancer(LoadBalancerArn=w.shared["alb_arn"]))


# State ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["shared/terraform.tfstate", "shared/terraform.tfstate.tflock",
                                 "preview/main.tfstate", "preview/main.tfstate.tflock"])
def test_cannot_write_the_shared_or_main_state_or_their_locks(world: World, key: str) -> None:
    w, s3 = world, world.hostile("s3")
    assert_refused(w, "s3:PutObject", lambda: s3.put_object(Bucket=w.bucket, Key=key, Body=b"{}"))
    assert_refused(w, "s3:DeleteObject", lambda: s3.delete_object(Bucket=w.bucket, Key=key))


# Images --------------------------------------------------------------------------------------------


def test_cannot_push_into_or_delete_from_productions_repository(world: World) -> None:
    w, ecr = world, world.hostile("ecr")
    admin_ecr = w.aws.client("ecr")
    production_repo = w.shared["ecr_repository_name"]
    fake_image(w, production_repo, WATCHED_TAGS[0], admin_ecr)
    assert len(production(w)["images"]) == 1
    assert_refused(w, "ecr:PutImage", lambda: fake_image(w, production_repo, WATCHED_TAGS[1], ecr))
    assert_refused(w, "ecr:InitiateLayerUpload", lambda: ecr.initiate_layer_upload(repositoryName=production_repo))
    assert_refused(w, "ecr:BatchDeleteImage", lambda: ecr.batch_delete_image(
        repositoryName=production_repo, imageIds=[{"imageTag": WATCHED_TAGS[0]}]))


# Capacity ------------------------------------------------------------------------------------------


def test_cannot_create_a_service_or_run_a_task_on_production_capacity(world: World) -> None:
    w, ecs = world, world.hostile("ecs")
    cluster = w.shared["cluster_name"]
    own = w.aws.client("ecs").describe_services(cluster=f"{BASE}-previews", services=[f"{BASE}-{PR}"])["services"][0]
    assert_refused(w, "ecs:CreateService", lambda: ecs.create_service(
        cluster=cluster, serviceName=f"{BASE}-{PR}-ec2", taskDefinition=own["taskDefinition"], desiredCount=1,
        capacityProviderStrategy=[{"capacityProvider": w.shared["capacity_provider_name"], "weight": 1}]))
    assert_refused(w, "ecs:RunTask", lambda: ecs.run_task(cluster=cluster, taskDefinition=own["taskDefinition"]))
    assert_refused(w, "ecs:StartTask", lambda: ecs.start_task(
        cluster=cluster, taskDefinition=own["taskDefinition"], containerInstances=["any"]))


# Logs, DNS, the autoscaling group and its instances -------------------------------------------------


def test_cannot_change_production_logs_dns_autoscaling_group_or_instances(world: World) -> None:
    w = world
    logs, r53 = w.hostile("logs"), w.hostile("route53")
    group = w.shared["log_group_name"]
    assert_refused(w, "logs:PutRetentionPolicy", lambda: logs.put_retention_policy(logGroupName=group, retentionInDays=1))
    assert_refused(w, "logs:DeleteLogGroup", lambda: logs.delete_log_group(logGroupName=group))
    assert_refused(w, "route53:ChangeResourceRecordSets", lambda: r53.change_resource_record_sets(
        HostedZoneId=w.shared["private_zone_id"], ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": f"hello.{w.shared['private_zone_name']}", "Type": "A", "TTL": 60,
            "ResourceRecords": [{"Value": "203.0.113.7"}]}}]}))
    asg, ec2 = w.hostile("autoscaling"), w.hostile("ec2")
    name = w.shared["autoscaling_group_name"]
    assert_refused(w, "autoscaling:UpdateAutoScalingGroup", lambda: asg.update_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=0, MaxSize=0, DesiredCapacity=0))
    assert_refused(w, "autoscaling:SetDesiredCapacity", lambda: asg.set_desired_capacity(
        AutoScalingGroupName=name, DesiredCapacity=0))
    instances = [i["InstanceId"] for i in production(w)["asg"]["Instances"]]
    assert instances, "the autoscaling group runs instances"
    assert_refused(w, "ec2:TerminateInstances", lambda: ec2.terminate_instances(InstanceIds=instances[:1]))
    assert_refused(w, "ec2:RunInstances", lambda: ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.small"))


# IAM -----------------------------------------------------------------------------------------------


def test_cannot_create_a_role_without_the_preview_boundary_or_edit_a_managed_policy(world: World) -> None:
    w, iam = world, world.hostile("iam")
    trust = json.dumps(TASKS_TRUST)
    name = f"{BASE}-{PR}-free"
    assert_refused(w, "iam:CreateRole", lambda: iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust))
    production_boundary = w.shared["task_permissions_boundary_arn"]
    assert_refused(w, "iam:CreateRole", lambda: iam.create_role(
        RoleName=name, AssumeRolePolicyDocument=trust, PermissionsBoundary=production_boundary))
    assert_refused(w, "iam:CreateRole", lambda: iam.create_role(
        RoleName="admin-of-everything", AssumeRolePolicyDocument=trust,
        PermissionsBoundary=w.shared["preview_task_permissions_boundary_arn"]))
    wide = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    for arn in (production_boundary, w.shared["preview_task_permissions_boundary_arn"]):
        assert_refused(w, "iam:CreatePolicyVersion", functools.partial(
            iam.create_policy_version, PolicyArn=arn, PolicyDocument=wide, SetAsDefault=True))
    assert_refused(w, "iam:CreatePolicy", lambda: iam.create_policy(PolicyName=f"{BASE}-{PR}-wide", PolicyDocument=wide))
    assert "ecs-poc-main-pr-7-free" not in [r["RoleName"] for r in w.aws.client("iam").list_roles()["Roles"]]


def test_cannot_open_its_own_task_roles_trust_to_principals_outside_the_account(world: World) -> None:
    w, iam = world, world.hostile("iam")
    opened = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": OUTSIDER}, "Action": "sts:AssumeRole"}]})
    for suffix in ("task", "exec"):
        role = f"{BASE}-{PR}-{suffix}"
        assert_refused(w, "iam:UpdateAssumeRolePolicy", functools.partial(
            iam.update_assume_role_policy, RoleName=role, PolicyDocument=opened))
        trust = w.aws.client("iam").get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
        trust = trust if isinstance(trust, dict) else json.loads(trust)
        assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "ecs-tasks.amazonaws.com"}]


# The pull request's own lifecycle, part 2 ----------------------------------------------------------


def test_a_pull_request_redeploys_destroys_with_its_images_and_state_and_the_sweep_lists_it(world: World) -> None:
    w = world
    logged = len(denials(w.aws))
    repository = w.shared["preview_ecr_repository_name"]
    ecr, s3 = w.hostile("ecr"), w.hostile("s3")
    digest = fake_image(w, repository, f"stack-{PR}.c-2", ecr)
    w.pr.apply(f"{PR}-redeploy", "stacks/preview", w.pr_vars(
        image=f"{w.shared['preview_ecr_repository_url']}@{digest}", app_version="v2"))
    # The sweep finds stacks by listing preview/.
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=w.bucket, Prefix="preview/")["Contents"]]
    assert f"preview/{PR}.tfstate" in keys
    # The teardown, by the ecs-poc binary with the same credentials: terraform destroy, the pull
    # request's images, its state.
    destroyed = ecs_poc(w, "destroy", "--stack", PR)
    assert destroyed.returncode == 0, destroyed.stdout[-2000:] + destroyed.stderr[-4000:]
    assert len(json.loads(destroyed.stdout)["deleted_images"]) == 2, destroyed.stdout[-2000:]
    assert [d for d in denials(w.aws)[logged:] if d["mode"] == "enforce"] == []
    admin = w.aws.client
    left = admin("ecr").list_images(repositoryName=repository)["imageIds"]
    assert not [i for i in left if i.get("imageTag", "").startswith(f"stack-{PR}.")], left
    assert f"preview/{PR}.tfstate" not in [o["Key"] for o in admin("s3").list_objects_v2(Bucket=w.bucket).get("Contents", [])]
    services = admin("ecs").describe_services(cluster=f"{BASE}-previews", services=[f"{BASE}-{PR}"])["services"]
    assert [s["status"] for s in services] in ([], ["INACTIVE"], ["DRAINING"])
    # Production still stands.
    main = admin("ecs").describe_services(cluster=w.shared["cluster_name"], services=[w.main["service_name"]])["services"][0]
    assert main["status"] == "ACTIVE"
