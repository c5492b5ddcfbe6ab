"""Two environments, staging and production, each bootstrapped and deployed as terraform/README.md
says, in two regions of the emulated AWS, with IAM enforced by the harness's gate.

- staging (London, eu-west-2): bootstrap with `promotion_targets = ["production"]`, then its shared
  stack and `main`, with the zones taken from the region: eu-west-2a and eu-west-2b, as before the
  zones were derived, so an existing London environment plans without a change.
- production (Ireland, eu-west-1): bootstrap with `github_environment = "production"` and
  `previews = false`; its shared stack (`previews = false`: no preview cluster, load balancer,
  repository or log group) and `main` applied by its own deploy role, assumed with the token of a
  job in the GitHub environment `production`; the network lands in eu-west-1a and eu-west-1b.
- a region with one availability zone (the harness narrows eu-central-2 to one) is refused at plan
  time, with the region's name, before anything is created.

Then the trust of each role is tried with the tokens of a pull request, a branch and each
environment, and staging's promote-source role reads and pulls but writes nothing.

Both environments share the emulator's one account here, which proves their names do not collide
(roles, policies, buckets, clusters); on AWS each has its own account.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from tests.harness.emulated_aws import EmulatedAws
from tests.harness.iam_gate.actions import is_read_only
from tests.harness.iam_gate.sessions import denials, role_session
from tests.terraform.stacks import TERRAFORM_SRC, Runner, backend, copy_tree, terraform_binary

REPOSITORY = "octo-org/hello-service"
NAME = "ecs-poc"
STAGING_REGION = "eu-west-2"
PRODUCTION_REGION = "eu-west-1"
# A region where the emulator offers a single zone (EmulatedAws's moto_env below).
ONE_ZONE_REGION = "eu-central-2"
STAGING = f"{NAME}-staging"
PRODUCTION = f"{NAME}-production"
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}


def sub(kind: str) -> str:
    """The OIDC `sub` GitHub gives a job of REPOSITORY: `pull_request`, `ref:refs/heads/main`, `environment:production`."""
    return f"repo:{REPOSITORY}:{kind}"


PULL_REQUEST = sub("pull_request")
MAIN_BRANCH = sub("ref:refs/heads/main")
OTHER_BRANCH = sub("ref:refs/heads/release")
IN_STAGING = sub("environment:staging")
IN_PRODUCTION = sub("environment:production")


@dataclass
class World:
    aws: EmulatedAws
    admin: Runner
    staging: dict[str, Any]  # bootstrap outputs
    production: dict[str, Any]
    staging_shared: dict[str, Any]
    staging_main: dict[str, Any]
    production_shared: dict[str, Any]
    production_main: dict[str, Any]
    # production's deploy role, as its GitHub environment's job assumes it.
    production_deployer: Runner
    # What the gate refused deploy-role sessions while the environments were deployed.
    deploy_refusals: list[dict[str, Any]]


def session_env(session: Any, region: str) -> dict[str, str]:
    creds = session.credentials().get_frozen_credentials()
    return {"AWS_ACCESS_KEY_ID": creds.access_key, "AWS_SECRET_ACCESS_KEY": creds.secret_key,
            "AWS_SESSION_TOKEN": creds.token, "AWS_REGION": region, "AWS_DEFAULT_REGION": region}


def deploy_staging(admin: Runner, staging: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """staging's shared stack and `main`, in London, with the administrator's credentials."""
    bucket = str(staging["state_bucket"])
    admin.init("staging-shared-init", "stacks/shared", backend(bucket, "shared/terraform.tfstate", STAGING_REGION))
    admin.apply("staging-shared-apply", "stacks/shared", {
        "repository": REPOSITORY, "environment": "staging", "ecr_force_delete": "true"})
    shared = admin.outputs("staging-shared-output", "stacks/shared")
    admin.init("staging-main-init", "stacks/preview-main", backend(bucket, "preview/main.tfstate", STAGING_REGION))
    admin.apply("staging-main-apply", "stacks/preview-main", {
        "state_bucket": bucket, "stack_name": "main", "repository": REPOSITORY, "region": STAGING_REGION})
    return shared, admin.outputs("staging-main-output", "stacks/preview-main")


PRODUCTION_SHARED_VARS = {"repository": REPOSITORY, "environment": "production", "region": PRODUCTION_REGION,
                          "ecr_force_delete": "true", "previews": "false"}


@dataclass
class Production:
    bootstrap: dict[str, Any]
    shared: dict[str, Any]
    main: dict[str, Any]
    deployer: Runner


def bootstrap_and_deploy_production(aws: EmulatedAws, root: Path, logs: Path, oidc_provider_arn: str) -> Production:
    """production's bootstrap (administrator), then its shared stack (without previews) and `main`
    in Ireland by its own deploy role, assumed as a job in the GitHub environment `production`
    would assume it."""
    admin = Runner(aws, root, logs)
    # Its own bucket and roles; the account's OIDC provider exists already (here both
    # environments share one account).
    admin.init("production-bootstrap-init", "bootstrap-production")
    admin.apply("production-bootstrap-apply", "bootstrap-production", {
        "repository": REPOSITORY, "environment": "production", "region": PRODUCTION_REGION,
        "github_environment": "production", "previews": "false", "force_destroy": "true",
        "create_oidc_provider": "false", "oidc_provider_arn": oidc_provider_arn})
    production = admin.outputs("production-bootstrap-output", "bootstrap-production")
    session = role_session(aws, str(production["shared_role_arn"]), IN_PRODUCTION, "production-deploy")
    deployer = Runner(aws, root, logs, extra_env=session_env(session, PRODUCTION_REGION))
    deployer.init("production-shared-init", "stacks/shared-production",
                  backend(str(production["state_bucket"]), "shared/terraform.tfstate", PRODUCTION_REGION))
    deployer.apply("production-shared-apply", "stacks/shared-production", PRODUCTION_SHARED_VARS)
    shared = deployer.outputs("production-shared-output", "stacks/shared-production")
    bucket = str(production["state_bucket"])
    deployer.init("production-main-init", "stacks/preview-production-main",
                  backend(bucket, "preview/main.tfstate", PRODUCTION_REGION))
    deployer.apply("production-main-apply", "stacks/preview-production-main", {
        "state_bucket": bucket, "stack_name": "main", "repository": REPOSITORY, "region": PRODUCTION_REGION,
        "environment": "production"})
    main = deployer.outputs("production-main-output", "stacks/preview-production-main")
    return Production(production, shared, main, deployer)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, provider_available: str) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("environments")
    root = copy_tree(tmp)
    # One working copy per root and state, as each environment's runner has.
    shutil.copytree(root / "bootstrap", root / "bootstrap-production")
    for copy in ("shared-production", "shared-one-zone", "shared-az-count"):
        shutil.copytree(root / "stacks" / "shared", root / "stacks" / copy)
    for copy in ("preview-main", "preview-production-main", "preview-production-pr"):
        shutil.copytree(root / "stacks" / "preview", root / "stacks" / copy)
    logs = tmp / "logs"
    logs.mkdir()
    started = time.monotonic()
    with EmulatedAws(log_path=logs / "moto.log", iam_gate="enforce",
                     moto_env={"ECS_POC_MOTO_ZONES": f"{ONE_ZONE_REGION}={ONE_ZONE_REGION}a"}) as aws:
        admin = Runner(aws, root, logs)
        try:
            # staging: the default branch deploys it, production's jobs promote from it.
            admin.init("staging-bootstrap-init", "bootstrap")
            admin.apply("staging-bootstrap-apply", "bootstrap", {
                "repository": REPOSITORY, "environment": "staging", "region": STAGING_REGION,
                "promotion_targets": '["production"]', "force_destroy": "true"})
            staging = admin.outputs("staging-bootstrap-output", "bootstrap")
            aws.iam_gate_log.write_text("")
            # The two environments are independent from here on: deployed side by side, as
            # two accounts would be (the applies mostly wait on the provider's polling).
            with ThreadPoolExecutor(max_workers=2) as pool:
                production_run = pool.submit(bootstrap_and_deploy_production, aws, root, logs,
                                             str(staging["oidc_provider_arn"]))
                staging_shared, staging_main = deploy_staging(admin, staging)
                production = production_run.result()
            refusals = [d for d in denials(aws) if d.get("principal") != "administrator"]
            yield World(aws, admin, staging, production.bootstrap, staging_shared, staging_main, production.shared,
                        production.main, production.deployer, refusals)
        finally:
            refused = [d for d in denials(aws) if d.get("principal") != "administrator"]
            if refused:
                print("IAM gate refusals:\n" + "\n".join(json.dumps(d) for d in refused), file=sys.stderr)
            admin.report()
            print(f"environments: {time.monotonic() - started:.0f} s (logs: {logs})", file=sys.stderr)


def subnet_zones(aws: EmulatedAws, region: str, vpc_id: str) -> list[str]:
    subnets = aws.client("ec2", region_name=region).describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    return sorted(s["AvailabilityZone"] for s in subnets)


# Zones from the region -----------------------------------------------------------------------------


def test_london_keeps_eu_west_2a_and_2b_and_the_applied_stack_plans_no_change(world: World) -> None:
    assert world.staging_shared["availability_zones"] == ["eu-west-2a", "eu-west-2b"]
    vpc = str(world.staging_shared["vpc_id"])
    assert subnet_zones(world.aws, STAGING_REGION, vpc) == ["eu-west-2a"] * 2 + ["eu-west-2b"] * 2
    # The subnets are keyed by zone name: the addresses a London state made before the zones were
    # derived (when eu-west-2a and eu-west-2b were the variable's default) are the ones planned now.
    state = world.admin.run("staging-shared-state", "stacks/shared", "state", "list", "-no-color").stdout.split()
    for kind in ("public", "private"):
        for zone in ("eu-west-2a", "eu-west-2b"):
            assert f'module.network.aws_subnet.{kind}["{zone}"]' in state
    # The stack as applied is what the configuration asks for, with the zones read from the region
    # or given as the old default was.
    for label, extra in (("derived", []), ("explicit", ['-var=availability_zones=["eu-west-2a","eu-west-2b"]'])):
        plan = world.admin.run(f"staging-shared-plan-{label}", "stacks/shared", "plan", "-input=false", "-no-color",
                               "-detailed-exitcode", f"-var=repository={REPOSITORY}",
                               "-var=environment=staging", "-var=ecr_force_delete=true", *extra, check=False)
        assert plan.returncode == 0, f"{label} zones: the plan is not empty\n{plan.stdout[-3000:]}{plan.stderr}"


def test_another_region_takes_its_own_zones_through_its_deploy_role(world: World) -> None:
    shared = world.production_shared
    assert shared["region"] == PRODUCTION_REGION
    assert shared["availability_zones"] == ["eu-west-1a", "eu-west-1b"]
    assert subnet_zones(world.aws, PRODUCTION_REGION, str(shared["vpc_id"])) == ["eu-west-1a"] * 2 + ["eu-west-1b"] * 2
    assert shared["cluster_name"] == PRODUCTION
    assert str(shared["ecr_repository_url"]).endswith(f".dkr.ecr.{PRODUCTION_REGION}.amazonaws.com/{PRODUCTION}")
    # Every call of production's role (DescribeAvailabilityZones included) was within its policies.
    assert world.deploy_refusals == []


# An environment without previews --------------------------------------------------------------------


def preview_infrastructure(aws: EmulatedAws, region: str, base: str) -> dict[str, list[str]]:
    """What of an environment's preview infrastructure exists in the emulated account."""
    clusters = aws.client("ecs", region_name=region).describe_clusters(clusters=[f"{base}-previews"])["clusters"]
    balancers = aws.client("elbv2", region_name=region).describe_load_balancers()["LoadBalancers"]
    repositories = aws.client("ecr", region_name=region).describe_repositories()["repositories"]
    environment = base.removeprefix(f"{NAME}-")
    groups = aws.client("logs", region_name=region).describe_log_groups(
        logGroupNamePrefix=f"/{NAME}/{environment}/")["logGroups"]
    return {
        "cluster": [c["clusterName"] for c in clusters if c["status"] == "ACTIVE"],
        "load balancer": [b["LoadBalancerName"] for b in balancers if b["LoadBalancerName"] == f"{base}-pv"],
        "repository": [r["repositoryName"] for r in repositories if r["repositoryName"] == f"{base}-previews"],
        "log group": [g["logGroupName"] for g in groups if g["logGroupName"].endswith("/previews")],
    }


def test_an_environment_without_previews_has_no_preview_infrastructure(world: World) -> None:
    assert preview_infrastructure(world.aws, PRODUCTION_REGION, PRODUCTION) == {
        "cluster": [], "load balancer": [], "repository": [], "log group": []}
    # The same lookup finds staging's, which has previews.
    assert preview_infrastructure(world.aws, STAGING_REGION, STAGING) == {
        "cluster": [f"{STAGING}-previews"], "load balancer": [f"{STAGING}-pv"], "repository": [f"{STAGING}-previews"],
        "log group": [f"/{NAME}/staging/previews"]}
    shared = world.production_shared
    assert shared["previews"] is False and world.staging_shared["previews"] is True
    # terraform output -json leaves null outputs out.
    assert sorted(k for k in shared if k.startswith("preview_")) == ["preview_domain"]
    # Its own cluster, load balancer, repository and log group are there, and production's deploy
    # role applied them and `main` on them, within its policies.
    elb = world.aws.client("elbv2", region_name=PRODUCTION_REGION)
    assert [b["LoadBalancerName"] for b in elb.describe_load_balancers()["LoadBalancers"]] == [PRODUCTION]
    assert world.production_main["cluster_name"] == PRODUCTION
    assert world.production_main["endpoint_url"] == f"http://{shared['alb_dns_name']}/"
    service = world.aws.client("ecs", region_name=PRODUCTION_REGION).describe_services(
        cluster=PRODUCTION, services=[str(world.production_main["service_name"])])["services"]
    assert [s["status"] for s in service] == ["ACTIVE"]
    assert world.deploy_refusals == []


def test_an_environment_without_previews_plans_no_change_through_its_deploy_role(world: World) -> None:
    for stack, variables in (("shared-production", PRODUCTION_SHARED_VARS), ("preview-production-main", {
            "state_bucket": str(world.production["state_bucket"]), "stack_name": "main", "repository": REPOSITORY,
            "region": PRODUCTION_REGION, "environment": "production"})):
        plan = world.production_deployer.run(
            f"production-{stack}-plan", f"stacks/{stack}", "plan", "-input=false", "-no-color", "-detailed-exitcode",
            *(f"-var={k}={v}" for k, v in variables.items()), check=False)
        assert plan.returncode == 0, f"{stack}: the plan is not empty\n{plan.stdout[-3000:]}{plan.stderr}"


def test_a_pull_requests_stack_is_refused_in_an_environment_without_previews(world: World) -> None:
    bucket = str(world.production["state_bucket"])
    world.admin.init("production-pr-init", "stacks/preview-production-pr",
                     backend(bucket, "preview/pr-7.tfstate", PRODUCTION_REGION))
    proc = world.admin.run("production-pr-plan", "stacks/preview-production-pr", "plan", "-input=false", "-no-color",
                           f"-var=state_bucket={bucket}", "-var=stack_name=pr-7", f"-var=repository={REPOSITORY}",
                           f"-var=region={PRODUCTION_REGION}", check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "environment production has previews: false" in one_line(proc.stderr), proc.stderr
    listed = world.aws.client("s3").list_objects_v2(Bucket=bucket, Prefix="preview/pr-7")
    assert listed.get("KeyCount", 0) == 0, listed.get("Contents")


def refused_plan(world: World, stack: str, region: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """`terraform apply` of the shared stack in `region`: it must fail at plan time."""
    bucket = str(world.staging["state_bucket"])
    world.admin.init(f"{stack}-init", f"stacks/{stack}", backend(bucket, f"{stack}/terraform.tfstate", STAGING_REGION))
    proc = world.admin.run(f"{stack}-apply", f"stacks/{stack}", "apply", "-input=false", "-no-color", "-auto-approve",
                           f"-var=repository={REPOSITORY}", "-var=environment=staging", f"-var=region={region}", *extra,
                           check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Apply complete" not in proc.stdout and "Creating..." not in proc.stdout, proc.stdout
    # Nothing of ours in the region, and no state written.
    vpcs = world.aws.client("ec2", region_name=region).describe_vpcs(
        Filters=[{"Name": "tag:Project", "Values": [NAME]}])["Vpcs"]
    assert vpcs == []
    listed = world.aws.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"{stack}/")
    assert listed.get("KeyCount", 0) == 0, listed.get("Contents")
    return proc


def one_line(text: str) -> str:
    """Terraform wraps diagnostics: compare their words, not their line breaks."""
    return re.sub(r"[\s│]+", " ", text)


def test_a_region_with_one_zone_is_refused_at_plan_time_before_anything_is_created(world: World) -> None:
    zones = world.aws.client("ec2", region_name=ONE_ZONE_REGION).describe_availability_zones()["AvailabilityZones"]
    assert [z["ZoneName"] for z in zones] == [f"{ONE_ZONE_REGION}a"]
    proc = refused_plan(world, "shared-one-zone", ONE_ZONE_REGION)
    assert (f"region {ONE_ZONE_REGION} has 1 availability zones; ecs-poc needs at least 2"
            in one_line(proc.stderr)), proc.stderr


def test_az_count_beyond_the_regions_zones_is_refused_with_the_zones_it_has(world: World) -> None:
    proc = refused_plan(world, "shared-az-count", "us-west-1", "-var=az_count=3")
    assert ("region us-west-1 has 2 availability zones (us-west-1a, us-west-1b); az_count asks for 3"
            in one_line(proc.stderr)), proc.stderr


# Who may assume what ---------------------------------------------------------------------------------


def assume(world: World, role_arn: str, subject: str) -> Any:
    return role_session(world.aws, role_arn, subject, session_name="environments-test")


def assert_not_assumable(world: World, role_arn: str, subject: str) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        assume(world, role_arn, subject)
    assert caught.value.response["Error"]["Code"] == "AccessDenied", caught.value.response


@pytest.mark.parametrize("subject", [PULL_REQUEST, MAIN_BRANCH, OTHER_BRANCH, IN_STAGING])
def test_productions_deploy_role_refuses_pull_requests_branches_and_other_environments(world: World, subject: str) -> None:
    assert_not_assumable(world, str(world.production["shared_role_arn"]), subject)


def test_productions_deploy_role_is_assumed_by_a_job_in_the_production_environment(world: World) -> None:
    identity = assume(world, str(world.production["shared_role_arn"]), IN_PRODUCTION).client("sts").get_caller_identity()
    assert f":assumed-role/{PRODUCTION}-deploy-shared/" in identity["Arn"]


def test_production_has_no_preview_role_and_no_promote_source_role(world: World) -> None:
    # terraform output -json leaves null outputs out.
    assert world.production.get("preview_role_arn") is None
    assert world.production.get("promote_source_role_arn") is None
    assert world.staging["promote_source_role_arn"] == f"arn:aws:iam::123456789012:role/{STAGING}-promote-source"
    iam = world.aws.client("iam")
    for role in (f"{PRODUCTION}-deploy-preview", f"{PRODUCTION}-promote-source"):
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            iam.get_role(RoleName=role)
        assert caught.value.response["Error"]["Code"] == "NoSuchEntity"


def policy_documents(aws: EmulatedAws, prefix: str) -> dict[str, str]:
    """The default version of every customer-managed policy named `<prefix>-...`, as text."""
    iam = aws.client("iam")
    found: dict[str, str] = {}
    for page in iam.get_paginator("list_policies").paginate(Scope="Local"):
        for policy in page["Policies"]:
            if policy["PolicyName"].startswith(f"{prefix}-"):
                version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])
                document = version["PolicyVersion"]["Document"]
                found[policy["PolicyName"]] = document if isinstance(document, str) else json.dumps(document)
    return found


def preview_names(base: str, documents: dict[str, str]) -> dict[str, list[str]]:
    """Per policy, the preview resources of `base` it names: cluster or repository, load balancer, state."""
    pattern = re.compile(re.escape(base) + r"-(?:previews\b|pv/|preview-task-boundary)|preview/pr-")
    return {name: sorted(set(pattern.findall(text))) for name, text in documents.items() if pattern.search(text)}


def test_an_environment_without_previews_grants_nothing_on_previews(world: World) -> None:
    production = policy_documents(world.aws, PRODUCTION)
    staging = policy_documents(world.aws, STAGING)

    assert f"{PRODUCTION}-preview-task-boundary" not in production
    assert preview_names(PRODUCTION, production) == {}
    # The same search finds staging's, which has previews: its boundary and its shared role's grants on them.
    assert f"{STAGING}-preview-task-boundary" in staging
    found = preview_names(STAGING, staging)
    assert f"{STAGING}-pv/" in found[f"{STAGING}-deploy-shared-load-balancing"]
    assert f"{STAGING}-previews" in found[f"{STAGING}-deploy-shared-cluster"]


def test_stagings_roles_keep_the_default_branch_and_pull_requests(world: World) -> None:
    """Without github_environment, nothing changes: the default branch deploys, pull requests preview."""
    shared, preview = str(world.staging["shared_role_arn"]), str(world.staging["preview_role_arn"])
    assume(world, shared, MAIN_BRANCH)
    assume(world, preview, PULL_REQUEST)
    for subject in (PULL_REQUEST, OTHER_BRANCH, IN_PRODUCTION):
        assert_not_assumable(world, shared, subject)


def test_the_environments_do_not_collide_by_name(world: World) -> None:
    assert world.staging["state_bucket"] != world.production["state_bucket"]
    assert {world.staging["state_bucket"], world.production["state_bucket"]} == {
        f"{STAGING}-tfstate-123456789012-{STAGING_REGION}", f"{PRODUCTION}-tfstate-123456789012-{PRODUCTION_REGION}"}
    roles = {r["RoleName"] for r in world.aws.client("iam").list_roles()["Roles"]}
    assert {f"{STAGING}-deploy-shared", f"{STAGING}-deploy-preview", f"{STAGING}-promote-source",
            f"{PRODUCTION}-deploy-shared"} <= roles


# The promote-source role: read and pull, nothing else -----------------------------------------------


@pytest.fixture(scope="module")
def promote_source(world: World) -> Any:
    """staging's promote-source role, as production's promote job assumes it."""
    return assume(world, str(world.staging["promote_source_role_arn"]), IN_PRODUCTION)


@pytest.mark.parametrize("subject", [PULL_REQUEST, MAIN_BRANCH, IN_STAGING])
def test_promote_source_is_assumable_only_from_the_target_environment(world: World, subject: str) -> None:
    assert_not_assumable(world, str(world.staging["promote_source_role_arn"]), subject)


def fake_image(client: Any, repository: str, tag: str) -> str:
    """Push a tiny image manifest with `client`; returns its digest."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config),
                   "digest": "sha256:" + hashlib.sha256(config).hexdigest()},
        "layers": [],
    })
    return str(client.put_image(repositoryName=repository, imageManifest=manifest, imageTag=tag)["image"]["imageId"]["imageDigest"])


def test_promote_source_reads_stagings_main_service_and_pulls_its_image(world: World, promote_source: Any) -> None:
    cluster, service = str(world.staging_shared["cluster_name"]), str(world.staging_main["service_name"])
    ecs = promote_source.client("ecs")
    found = ecs.describe_services(cluster=cluster, services=[service])["services"]
    assert [s["serviceName"] for s in found] == [service]
    task_definition = ecs.describe_task_definition(taskDefinition=found[0]["taskDefinition"])["taskDefinition"]
    assert task_definition["containerDefinitions"]
    repository = str(world.staging_shared["ecr_repository_name"])
    digest = fake_image(world.aws.client("ecr"), repository, "c-promoted")
    ecr = promote_source.client("ecr")
    assert ecr.get_authorization_token()["authorizationData"]
    images = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageDigest": digest}])["images"]
    assert [i["imageId"]["imageDigest"] for i in images] == [digest]
    described = ecr.describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])["imageDetails"]
    assert described[0]["imageDigest"] == digest
    ecr.batch_check_layer_availability(repositoryName=repository, layerDigests=["sha256:" + "0" * 64])
    state = promote_source.client("s3").get_object(Bucket=str(world.staging["state_bucket"]), Key="preview/main.tfstate")
    assert json.loads(state["Body"].read())["outputs"]["service_name"]["value"] == service


def test_promote_source_policy_names_no_wildcard_action_and_wildcard_resources_only_where_aws_has_none(
        world: World) -> None:
    iam = world.aws.client("iam")
    role = f"{STAGING}-promote-source"
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    assert iam.get_role(RoleName=role)["Role"].get("PermissionsBoundary") is None
    statements = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        statements += document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert not [a for a in actions if "*" in a], actions
    assert all(s["Effect"] == "Allow" for s in statements)
    # Read-only: every action is of AWS's Read or List access level (AWS's table, as the gate reads it).
    assert {"ecs:DescribeServices", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"} <= actions
    assert [a for a in actions if not is_read_only(a)] == []
    wildcard = {a for s in statements if s["Resource"] in ("*", ["*"])
                for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert wildcard == {"ecs:DescribeTaskDefinition", "ecr:GetAuthorizationToken"}


def assert_refused(world: World, action: str, attempt: Callable[[], Any]) -> None:
    logged = len(denials(world.aws))
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        attempt()
    assert caught.value.response["Error"]["Code"] in DENIED, caught.value.response
    assert action in [d["action"] for d in denials(world.aws)[logged:]], denials(world.aws)[logged:]


def test_promote_source_writes_nothing(world: World, promote_source: Any) -> None:
    cluster, service = str(world.staging_shared["cluster_name"]), str(world.staging_main["service_name"])
    ecs, ecr, s3 = promote_source.client("ecs"), promote_source.client("ecr"), promote_source.client("s3")
    repository, bucket = str(world.staging_shared["ecr_repository_name"]), str(world.staging["state_bucket"])
    assert_refused(world, "ecs:UpdateService", lambda: ecs.update_service(cluster=cluster, service=service, desiredCount=0))
    assert_refused(world, "ecs:RegisterTaskDefinition", lambda: ecs.register_task_definition(
        family=f"{STAGING}-main", containerDefinitions=[{"name": "app", "image": "evil:latest", "memory": 64}]))
    assert_refused(world, "ecr:PutImage", lambda: fake_image(ecr, repository, "c-planted"))
    assert_refused(world, "ecr:BatchDeleteImage", lambda: ecr.batch_delete_image(
        repositoryName=repository, imageIds=[{"imageTag": "c-promoted"}]))
    assert_refused(world, "s3:PutObject", lambda: s3.put_object(Bucket=bucket, Key="preview/main.tfstate", Body=b"{}"))
    # Nor does it read anything else: the preview repository, other state, other services.
    assert_refused(world, "ecr:BatchGetImage", lambda: ecr.batch_get_image(
        repositoryName=f"{STAGING}-previews", imageIds=[{"imageTag": "c-any"}]))
    assert_refused(world, "s3:GetObject", lambda: s3.get_object(Bucket=bucket, Key="shared/terraform.tfstate"))
    assert_refused(world, "ecs:DescribeServices", lambda: ecs.describe_services(
        cluster=str(world.staging_shared["preview_cluster_name"]), services=[f"{STAGING}-pr-1"]))


# Inputs, without a provider -------------------------------------------------------------------------


def plan_variables(tmp_path: Path, root: str, *variables: str) -> subprocess.CompletedProcess[str]:
    """Plan a root's variables.tf alone: validation runs before any provider is needed."""
    shutil.copy(TERRAFORM_SRC / root / "variables.tf", tmp_path / "variables.tf")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TF_CLI_CONFIG_FILE": os.devnull, "TF_IN_AUTOMATION": "1"}
    tf = terraform_binary()
    subprocess.run([tf, f"-chdir={tmp_path}", "init", "-input=false"], env=env, capture_output=True, check=True)
    return subprocess.run([tf, f"-chdir={tmp_path}", "plan", "-input=false", "-no-color", *variables],
                          env=env, capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    ("variables", "accepted"),
    [
        (["-var=environment=staging", '-var=promotion_targets=["production"]'], True),
        (["-var=environment=production", "-var=github_environment=production", "-var=previews=false"], True),
        (["-var=environment=eu-prod-2"], True),
        (["-var=environment=Production"], False),
        (["-var=environment=prod-"], False),
        (["-var=environment=prod--eu"], False),
        (["-var=environment=production-eu-1"], False),  # ecs-poc-production-eu-1: 23 characters > 21
        (["-var=name=ecs", "-var=environment=production-eu-1"], True),  # ecs-production-eu-1: 19
        (["-var=github_environment=prod env"], False),
        (['-var=promotion_targets=["a","b","c","d"]'], False),
        (['-var=promotion_targets=["production","production"]'], False),
    ],
)
def test_bootstrap_environment_inputs_are_validated(tmp_path: Path, variables: list[str], accepted: bool) -> None:
    proc = plan_variables(tmp_path, "bootstrap", f"-var=repository={REPOSITORY}", *variables)
    if accepted:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    else:
        assert proc.returncode == 1 and "Invalid value for variable" in proc.stderr, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("variables", "accepted"),
    [
        (["-var=az_count=3"], True),
        (['-var=availability_zones=["eu-west-1a","eu-west-1c"]'], True),
        (["-var=az_count=1"], False),
        (["-var=az_count=5"], False),
        (["-var=az_count=2.5"], False),
        (['-var=availability_zones=["eu-west-2a"]'], False),
        (['-var=availability_zones=["eu-west-2a","eu-west-2a"]'], False),
        (["-var=environment=production"], True),
    ],
)
def test_shared_stack_zone_inputs_are_validated(tmp_path: Path, variables: list[str], accepted: bool) -> None:
    proc = plan_variables(tmp_path, "stacks/shared", *variables)
    if accepted:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    else:
        assert proc.returncode == 1 and "Invalid value for variable" in proc.stderr, proc.stdout + proc.stderr


def test_a_service_stack_refuses_another_environments_shared_state(world: World) -> None:
    """Production's name with staging's bucket would deploy into staging: refused at plan time."""
    proc = world.admin.run("staging-main-plan-wrong-environment", "stacks/preview-main", "plan", "-input=false",
                           "-no-color", f"-var=state_bucket={world.staging['state_bucket']}", "-var=stack_name=main",
                           f"-var=repository={REPOSITORY}", f"-var=region={STAGING_REGION}", "-var=environment=production",
                           check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "belongs to environment staging, not production" in one_line(proc.stderr), proc.stderr
