"""Apply the real stacks on emulated AWS and check the result with boto3 (not with terraform's
own outputs): bootstrap, shared, the default branch's stack and two pull requests; then
destroy one pull request (the other stands) and everything (nothing of ours is left).

One module-scoped apply sequence feeds every check: applies are the slow part (the provider's
own polling of the ALB, the private zone and S3 lifecycle), so they run once.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.harness.emulated_aws import EmulatedAws
from tests.terraform.stacks import Runner, backend, copy_tree

REGION = "eu-west-2"
AZS = ["eu-west-2a", "eu-west-2b"]
REPOSITORY = "octo-org/ecs-poc"
PREFIX = "ecs-poc-main"
PRS = ["pr-7", "pr-12"]
PREVIEWS = ["main", *PRS]
REQUIRED_TAGS = {"Project", "Stack", "Environment", "ManagedBy", "Repository"}


@dataclass
class Deployment:
    aws: EmulatedAws
    runner: Runner
    bucket: str
    shared: dict[str, Any]
    previews: dict[str, dict[str, Any]] = field(default_factory=dict)

    def preview_vars(self, stack: str) -> dict[str, str]:
        return {"state_bucket": self.bucket, "stack_name": stack, "repository": REPOSITORY, "region": REGION}

    def init_preview(self, stack: str) -> None:
        # One working copy per stack, as the pipeline's runners have: separate .terraform dirs.
        self.runner.init(f"{stack}-init", f"stacks/preview-{stack}", backend(self.bucket, f"preview/{stack}.tfstate", REGION))


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory, provider_available: str) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("apply")
    root = copy_tree(tmp)
    for stack in PREVIEWS:
        # The module path ../../modules resolves the same from a sibling directory.
        shutil.copytree(root / "stacks" / "preview", root / "stacks" / f"preview-{stack}")
    logs = tmp / "logs"
    logs.mkdir()
    started = time.monotonic()
    with EmulatedAws(log_path=logs / "moto.log") as aws:
        runner = Runner(aws, root, logs)
        try:
            runner.init("bootstrap-init", "bootstrap")
            runner.apply("bootstrap-apply", "bootstrap", {"repository": REPOSITORY, "force_destroy": "true"})
            bucket = str(runner.outputs("bootstrap-output", "bootstrap")["state_bucket"])
            runner.init("shared-init", "stacks/shared", backend(bucket, "shared/terraform.tfstate", REGION))
            runner.apply("shared-apply", "stacks/shared", {"repository": REPOSITORY, "ecr_force_delete": "true"})
            shared = runner.outputs("shared-output", "stacks/shared")
            deployment = Deployment(aws, runner, bucket, shared)
            for stack in PREVIEWS:
                deployment.init_preview(stack)
                runner.apply(f"{stack}-apply", f"stacks/preview-{stack}", deployment.preview_vars(stack))
                deployment.previews[stack] = runner.outputs(f"{stack}-output", f"stacks/preview-{stack}")
            yield deployment
        finally:
            runner.report()
            print(f"terraform apply/destroy sequence: {time.monotonic() - started:.0f} s (logs: {logs})", file=sys.stderr)


def tags_of(pairs: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in pairs or []}


def assert_tagged(kind: str, ident: str, tags: dict[str, str], stack: str = "shared") -> None:
    missing = REQUIRED_TAGS - tags.keys()
    assert not missing, f"{kind} {ident} lacks tags {sorted(missing)} (has {tags})"
    assert tags["Stack"] == stack, f"{kind} {ident}: Stack={tags['Stack']}, expected {stack}"
    if stack.startswith("pr-"):
        assert tags.get("PullRequest") == stack.removeprefix("pr-"), f"{kind} {ident} lacks PullRequest"


# Network -----------------------------------------------------------------------------------


def our_vpc(d: Deployment) -> dict[str, Any]:
    vpcs = d.aws.client("ec2").describe_vpcs(VpcIds=[d.shared["vpc_id"]])["Vpcs"]
    assert len(vpcs) == 1
    return vpcs[0]


def test_subnets_in_both_azs_and_both_tiers(deployed: Deployment) -> None:
    ec2 = deployed.aws.client("ec2")
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [deployed.shared["vpc_id"]]}])["Subnets"]
    by_id = {s["SubnetId"]: s for s in subnets}
    public, private = deployed.shared["public_subnet_ids"], deployed.shared["private_subnet_ids"]
    assert sorted(by_id[s]["AvailabilityZone"] for s in public) == AZS
    assert sorted(by_id[s]["AvailabilityZone"] for s in private) == AZS
    assert not any(by_id[s]["MapPublicIpOnLaunch"] for s in public + private)
    assert {tags_of(by_id[s]["Tags"])["Tier"] for s in public} == {"public"}
    assert {tags_of(by_id[s]["Tags"])["Tier"] for s in private} == {"private"}


def test_public_routes_to_igw_private_to_nat_in_same_az(deployed: Deployment) -> None:
    ec2 = deployed.aws.client("ec2")
    vpc_id = deployed.shared["vpc_id"]
    igws = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"]
    assert len(igws) == 1
    nats = {n["NatGatewayId"]: n for n in ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["NatGateways"]}
    subnets = {s["SubnetId"]: s for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]}
    assert len(nats) == 2, "one NAT per AZ by default"
    assert {subnets[n["SubnetId"]]["AvailabilityZone"] for n in nats.values()} == set(AZS)
    assert all(n["SubnetId"] in deployed.shared["public_subnet_ids"] for n in nats.values())
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]

    def default_route(subnet_id: str) -> dict[str, Any]:
        for table in tables:
            if any(a.get("SubnetId") == subnet_id for a in table["Associations"]):
                routes = [r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
                assert len(routes) == 1, f"{subnet_id}: {routes}"
                return routes[0]
        raise AssertionError(f"subnet {subnet_id} has no route table association")

    for subnet_id in deployed.shared["public_subnet_ids"]:
        assert default_route(subnet_id).get("GatewayId") == igws[0]["InternetGatewayId"]
    for subnet_id in deployed.shared["private_subnet_ids"]:
        nat_id = default_route(subnet_id).get("NatGatewayId")
        assert nat_id in nats, f"private subnet {subnet_id} does not route to a NAT gateway"
        nat_az = subnets[nats[nat_id]["SubnetId"]]["AvailabilityZone"]
        assert nat_az == subnets[subnet_id]["AvailabilityZone"], "private subnet uses another AZ's NAT"


def test_private_zone_is_associated_and_names_the_service(deployed: Deployment) -> None:
    r53 = deployed.aws.client("route53")
    zones = [z for z in r53.list_hosted_zones()["HostedZones"] if z["Name"] == "myorg.local."]
    assert len(zones) == 1
    zone = r53.get_hosted_zone(Id=zones[0]["Id"])
    assert zone["HostedZone"]["Config"]["PrivateZone"] is True
    assert [v["VPCId"] for v in zone["VPCs"]] == [deployed.shared["vpc_id"]]
    records = r53.list_resource_record_sets(HostedZoneId=zones[0]["Id"])["ResourceRecordSets"]
    hello = [r for r in records if r["Name"] == "hello.myorg.local." and r["Type"] == "A"]
    assert hello and hello[0]["AliasTarget"]["DNSName"].rstrip(".").lower() == deployed.shared["alb_dns_name"].lower()


def test_flow_logs_on_and_default_security_group_closed(deployed: Deployment) -> None:
    ec2 = deployed.aws.client("ec2")
    vpc_id = deployed.shared["vpc_id"]
    flows = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"]
    assert len(flows) == 1 and flows[0]["TrafficType"] == "ALL"
    default = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                    {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"]
    assert len(default) == 1
    assert default[0]["IpPermissions"] == [] and default[0]["IpPermissionsEgress"] == []


# Cluster and load balancer -------------------------------------------------------------------


def test_instances_in_private_subnets_with_imdsv2_and_encrypted_disk(deployed: Deployment) -> None:
    asg = deployed.aws.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[deployed.shared["autoscaling_group_name"]])["AutoScalingGroups"][0]
    assert sorted(asg["VPCZoneIdentifier"].split(",")) == sorted(deployed.shared["private_subnet_ids"])
    assert {"Key": "AmazonECSManaged", "Value": "true"} in [{"Key": t["Key"], "Value": t["Value"]} for t in asg["Tags"]]
    ec2 = deployed.aws.client("ec2")
    template_id = asg["LaunchTemplate"]["LaunchTemplateId"]
    version = ec2.describe_launch_template_versions(LaunchTemplateId=template_id, Versions=["$Latest"])["LaunchTemplateVersions"][0]
    data = version["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert int(data["MetadataOptions"]["HttpPutResponseHopLimit"]) == 1
    assert all(b["Ebs"]["Encrypted"] for b in data["BlockDeviceMappings"])
    ami = deployed.aws.client("ssm").get_parameter(
        Name="/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id")["Parameter"]["Value"]
    assert data["ImageId"] == ami


def test_cluster_has_insights_and_a_managed_scaling_capacity_provider(deployed: Deployment) -> None:
    ecs = deployed.aws.client("ecs")
    cluster = ecs.describe_clusters(clusters=[deployed.shared["cluster_name"]], include=["SETTINGS"])["clusters"][0]
    assert {"name": "containerInsights", "value": "enabled"} in cluster["settings"]
    assert deployed.shared["capacity_provider_name"] in cluster["capacityProviders"]
    provider = ecs.describe_capacity_providers(capacityProviders=[deployed.shared["capacity_provider_name"]])["capacityProviders"][0]
    assert provider["autoScalingGroupProvider"]["managedScaling"]["status"] == "ENABLED"


def test_alb_public_with_invalid_headers_dropped_and_404_default(deployed: Deployment) -> None:
    elb = deployed.aws.client("elbv2")
    lb = elb.describe_load_balancers(LoadBalancerArns=[deployed.shared["alb_arn"]])["LoadBalancers"][0]
    assert sorted(az["SubnetId"] for az in lb["AvailabilityZones"]) == sorted(deployed.shared["public_subnet_ids"])
    attrs = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]}
    assert attrs["routing.http.drop_invalid_header_fields.enabled"] == "true"
    listener = elb.describe_listeners(ListenerArns=[deployed.shared["alb_listener_arn"]])["Listeners"][0]
    assert listener["Port"] == 80
    assert listener["DefaultActions"][0]["Type"] == "fixed-response"
    assert listener["DefaultActions"][0]["FixedResponseConfig"]["StatusCode"] == "404"


def test_security_groups_admit_only_the_alb_on_dynamic_ports(deployed: Deployment) -> None:
    ec2 = deployed.aws.client("ec2")
    alb_sg, inst_sg = deployed.shared["alb_security_group_id"], deployed.shared["instance_security_group_id"]
    groups = {g["GroupId"]: g for g in ec2.describe_security_groups(GroupIds=[alb_sg, inst_sg])["SecurityGroups"]}
    ingress = groups[inst_sg]["IpPermissions"]
    assert len(ingress) == 1
    rule = ingress[0]
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 49153, 65535)
    assert [p["GroupId"] for p in rule["UserIdGroupPairs"]] == [alb_sg]
    assert rule["IpRanges"] == [] and rule.get("Ipv6Ranges", []) == []
    egress = groups[inst_sg]["IpPermissionsEgress"]
    assert [(e["IpProtocol"], e["FromPort"], e["ToPort"]) for e in egress] == [("tcp", 443, 443)]
    alb_in = groups[alb_sg]["IpPermissions"]
    assert [(r["FromPort"], r["ToPort"]) for r in alb_in] == [(80, 80)]
    alb_out = groups[alb_sg]["IpPermissionsEgress"]
    assert len(alb_out) == 1 and [p["GroupId"] for p in alb_out[0]["UserIdGroupPairs"]] == [inst_sg]
    assert (alb_out[0]["FromPort"], alb_out[0]["ToPort"]) == (49153, 65535)


# Per-stack resources ---------------------------------------------------------------------------


def test_listener_rules_route_each_stack_by_path_with_distinct_priorities(deployed: Deployment) -> None:
    elb = deployed.aws.client("elbv2")
    rules = elb.describe_rules(ListenerArn=deployed.shared["alb_listener_arn"])["Rules"]
    by_target = {}
    for rule in rules:
        if rule["IsDefault"]:
            continue
        target = rule["Actions"][0]["TargetGroupArn"]
        paths = [v for c in rule["Conditions"] if c["Field"] == "path-pattern" for v in c.get("Values") or c["PathPatternConfig"]["Values"]]
        by_target[target] = (rule["Priority"], sorted(paths))
    expected = {"pr-7": ("7", ["/pr-7", "/pr-7/*"]), "pr-12": ("12", ["/pr-12", "/pr-12/*"]), "main": ("50000", ["/*"])}
    for stack, want in expected.items():
        assert by_target[deployed.previews[stack]["target_group_arn"]] == want, stack
    assert len(by_target) == len(PREVIEWS)


def test_target_groups_are_tuned_for_fast_deploys(deployed: Deployment) -> None:
    elb = deployed.aws.client("elbv2")
    for stack in PRS:
        arn = deployed.previews[stack]["target_group_arn"]
        tg = elb.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]
        assert tg["HealthCheckPath"] == f"/{stack}/healthz"
        assert tg["HealthCheckIntervalSeconds"] <= 10 and tg["HealthyThresholdCount"] == 2
        attrs = {a["Key"]: a["Value"] for a in elb.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]}
        assert int(attrs["deregistration_delay.timeout_seconds"]) <= 30


def test_services_run_bridge_tasks_with_safe_rollouts(deployed: Deployment) -> None:
    ecs = deployed.aws.client("ecs")
    for stack in PREVIEWS:
        out = deployed.previews[stack]
        svc = ecs.describe_services(cluster=deployed.shared["cluster_name"], services=[out["service_name"]])["services"][0]
        assert svc["status"] == "ACTIVE"
        config = svc["deploymentConfiguration"]
        assert config["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
        assert (config["minimumHealthyPercent"], config["maximumPercent"]) == (100, 200)
        assert svc["loadBalancers"][0]["targetGroupArn"] == out["target_group_arn"]
        task = ecs.describe_task_definition(taskDefinition=out["task_definition_arn"])["taskDefinition"]
        assert task["networkMode"] == "bridge"
        assert task["executionRoleArn"] != task["taskRoleArn"]
        container = task["containerDefinitions"][0]
        assert container["name"] == out["container_name"] == "app"
        assert container["portMappings"][0]["hostPort"] == 0 and container["portMappings"][0]["containerPort"] == 8000
        assert container["stopTimeout"] > 30, "must exceed gunicorn's graceful timeout"
        assert container["readonlyRootFilesystem"] is True
        env = {e["name"]: e["value"] for e in container["environment"]}
        if stack == "main":
            assert "SCRIPT_NAME" not in env and out["endpoint_url"] == f"http://{deployed.shared['alb_dns_name']}/"
        else:
            assert env["SCRIPT_NAME"] == f"/{stack}"
            assert out["endpoint_url"] == f"http://{deployed.shared['alb_dns_name']}/{stack}/"
        assert container["logConfiguration"]["options"]["awslogs-stream-prefix"] == stack


def test_services_scale_on_cpu_and_request_count(deployed: Deployment) -> None:
    aas = deployed.aws.client("application-autoscaling")
    for stack in PREVIEWS:
        resource = f"service/{deployed.shared['cluster_name']}/{deployed.previews[stack]['service_name']}"
        targets = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource])["ScalableTargets"]
        assert [(t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [(1, 4)]
        policies = aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource)["ScalingPolicies"]
        metrics = sorted(p["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]["PredefinedMetricType"] for p in policies)
        assert metrics == ["ALBRequestCountPerTarget", "ECSServiceAverageCPUUtilization"]


def test_repository_is_immutable_scanned_encrypted_and_expires_pr_images(deployed: Deployment) -> None:
    ecr = deployed.aws.client("ecr")
    repo = ecr.describe_repositories(repositoryNames=[deployed.shared["ecr_repository_name"]])["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"]["scanOnPush"] is True
    assert repo["encryptionConfiguration"]["encryptionType"] == "KMS"
    policy = json.loads(ecr.get_lifecycle_policy(repositoryName=repo["repositoryName"])["lifecyclePolicyText"])
    assert any(r["selection"].get("tagPrefixList") == ["pr-"] for r in policy["rules"])
    assert deployed.previews["pr-7"]["ecr_repository_url"] == repo["repositoryUri"]


# IAM ---------------------------------------------------------------------------------------


def all_policy_documents(iam: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    for role in iam.list_roles()["Roles"]:
        name = role["RoleName"]
        for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            doc = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
            yield f"role {name} inline {policy_name}", doc if isinstance(doc, dict) else json.loads(doc)
    for policy in iam.list_policies(Scope="Local")["Policies"]:
        version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])["PolicyVersion"]
        doc = version["Document"]
        yield f"policy {policy['PolicyName']}", doc if isinstance(doc, dict) else json.loads(doc)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_policy_of_ours_grants_a_star_or_whole_service_action(deployed: Deployment) -> None:
    iam = deployed.aws.client("iam")
    docs = list(all_policy_documents(iam))
    assert len(docs) >= 5, "expected the deploy, flow-log, execution and boundary policies"
    for where, doc in docs:
        for statement in as_list(doc["Statement"]):
            assert "NotAction" not in statement, where
            for action in as_list(statement["Action"]):
                assert action != "*" and not action.endswith(":*"), f"{where}: action {action}"


def test_deploy_roles_trust_only_this_repository_with_the_sts_audience(deployed: Deployment) -> None:
    iam = deployed.aws.client("iam")
    subs = {}
    for kind in ("preview", "shared"):
        role = iam.get_role(RoleName=f"{PREFIX}-deploy-{kind}")["Role"]
        doc = role["AssumeRolePolicyDocument"]
        doc = doc if isinstance(doc, dict) else json.loads(doc)
        statement = as_list(doc["Statement"])[0]
        cond = statement["Condition"]["StringEquals"]
        assert cond["token.actions.githubusercontent.com:aud"] in ("sts.amazonaws.com", ["sts.amazonaws.com"])
        subs[kind] = set(as_list(cond["token.actions.githubusercontent.com:sub"]))
        assert all(s.lower().startswith(f"repo:{REPOSITORY}:") for s in subs[kind])
    assert f"repo:{REPOSITORY}:pull_request" in subs["preview"]
    assert not any(s.endswith(":pull_request") for s in subs["shared"]), "a pull request must not assume the shared role"


def test_preview_role_cannot_touch_network_cluster_or_foreign_iam(deployed: Deployment) -> None:
    iam = deployed.aws.client("iam")
    doc = iam.get_role_policy(RoleName=f"{PREFIX}-deploy-preview", PolicyName="deploy-preview-stacks")["PolicyDocument"]
    doc = doc if isinstance(doc, dict) else json.loads(doc)
    actions = {a for s in as_list(doc["Statement"]) for a in as_list(s["Action"])}
    forbidden_prefixes = ("ec2:", "autoscaling:", "route53:", "kms:")
    assert not [a for a in actions if a.startswith(forbidden_prefixes)]
    assert not actions & {"ecs:DeleteCluster", "ecs:UpdateCluster", "elasticloadbalancing:DeleteLoadBalancer",
                          "elasticloadbalancing:ModifyListener", "iam:AttachRolePolicy", "iam:CreatePolicy"}
    for statement in as_list(doc["Statement"]):
        iam_actions = [a for a in as_list(statement["Action"]) if a.startswith("iam:") and a != "iam:CreateServiceLinkedRole"]
        if iam_actions:
            assert all(r.split(":role/")[1].startswith((f"{PREFIX}-pr-", f"{PREFIX}-main")) for r in as_list(statement["Resource"])), statement
    create = next(s for s in as_list(doc["Statement"]) if "iam:CreateRole" in as_list(s["Action"]))
    assert create["Condition"]["StringEquals"]["iam:PermissionsBoundary"] == deployed.shared["task_permissions_boundary_arn"]
    for stack in PREVIEWS:
        for suffix in ("exec", "task"):
            role = iam.get_role(RoleName=f"{PREFIX}-{stack}-{suffix}")["Role"]
            assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == deployed.shared["task_permissions_boundary_arn"]


def test_preview_role_reads_the_shared_stack_but_writes_only_its_lock(deployed: Deployment) -> None:
    """Pull requests show the shared stack's plan: every permission for that is a read, except
    the plan's state lock object."""
    iam = deployed.aws.client("iam")
    role = f"{PREFIX}-deploy-preview"
    assert sorted(iam.list_role_policies(RoleName=role)["PolicyNames"]) == ["deploy-preview-stacks", "plan-shared-stack"]
    doc = iam.get_role_policy(RoleName=role, PolicyName="plan-shared-stack")["PolicyDocument"]
    doc = doc if isinstance(doc, dict) else json.loads(doc)
    for statement in as_list(doc["Statement"]):
        for action in as_list(statement["Action"]):
            verb = action.split(":", 1)[1]
            if verb in ("PutObject", "DeleteObject"):
                assert as_list(statement["Resource"]) == [f"arn:aws:s3:::{deployed.bucket}/shared/terraform.tfstate.tflock"]
            else:
                assert verb.startswith(("Describe", "Get", "List")), f"plan-shared-stack grants {action}"
    # Both roles may plan the shared stack through the same managed policy.
    attached = {p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]}
    assert f"{PREFIX}-deploy-read-shared-stack" in attached


def test_shared_role_has_only_managed_policies_within_quota(deployed: Deployment) -> None:
    """AWS refuses a role whose inline policies exceed 10,240 characters together: the shared
    role's permissions are managed policies, one per concern, guardrails included."""
    iam = deployed.aws.client("iam")
    role = f"{PREFIX}-deploy-shared"
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == []
    attached = sorted(p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"])
    concerns = ["cluster", "iam", "images-logs", "load-balancing", "main-service", "network", "state"]
    assert attached == sorted([f"{PREFIX}-deploy-guardrails", f"{PREFIX}-deploy-read-shared-stack",
                               *(f"{PREFIX}-deploy-shared-{c}" for c in concerns)])
    assert len(attached) <= 10


def test_every_role_the_stacks_create_carries_a_bootstrap_boundary(deployed: Deployment) -> None:
    """The deploy roles can create roles only with a boundary: the infrastructure roles carry
    the infra boundary, production's task and execution roles the task boundary, a pull
    request's a task boundary too; all boundaries are the bootstrap's, not a stack's."""
    iam = deployed.aws.client("iam")
    boundary = {kind: f"arn:aws:iam::123456789012:policy/{PREFIX}-{kind}-boundary" for kind in ("task", "preview-task", "infra")}
    assert deployed.shared["task_permissions_boundary_arn"] == boundary["task"]
    assert deployed.shared["preview_task_permissions_boundary_arn"] == boundary["preview-task"]
    for arn in boundary.values():
        tags = tags_of(iam.list_policy_tags(PolicyArn=arn)["Tags"])
        assert tags["Stack"] == "bootstrap", f"{arn} must be made by bootstrap, not by a deploy role"
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(PREFIX)]
    created = [r for r in roles if not r.startswith(f"{PREFIX}-deploy-")]
    assert f"{PREFIX}-instance" in created and any(r.startswith(f"{PREFIX}-flow-") for r in created)
    assert any(r.startswith(f"{PREFIX}-main-") for r in created) and any(r.startswith(f"{PREFIX}-pr-") for r in created)
    for name in created:
        if name == f"{PREFIX}-instance" or name.startswith(f"{PREFIX}-flow-"):
            allowed = {boundary["infra"]}
        elif name.startswith(f"{PREFIX}-main-"):
            allowed = {boundary["task"]}
        else:
            allowed = {boundary["task"], boundary["preview-task"]}
        role = iam.get_role(RoleName=name)["Role"]
        assert role.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn") in allowed, f"{name}: {role.get('PermissionsBoundary')}"
    attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=f"{PREFIX}-instance")["AttachedPolicies"]]
    assert attached == ["arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"]


def test_state_bucket_is_versioned_encrypted_private_and_holds_every_stack(deployed: Deployment) -> None:
    s3 = deployed.aws.client("s3")
    assert s3.get_bucket_versioning(Bucket=deployed.bucket)["Status"] == "Enabled"
    sse = s3.get_bucket_encryption(Bucket=deployed.bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert sse["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    block = s3.get_public_access_block(Bucket=deployed.bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=deployed.bucket)["Contents"]}
    assert {"shared/terraform.tfstate", *(f"preview/{s}.tfstate" for s in PREVIEWS)} <= keys
    assert not [k for k in keys if k.endswith(".tflock")], "a lock was left behind"


# Tags ---------------------------------------------------------------------------------------


def test_every_taggable_resource_carries_the_tags(deployed: Deployment) -> None:
    aws = deployed.aws
    ec2, elb, ecs = aws.client("ec2"), aws.client("elbv2"), aws.client("ecs")
    vpc_filter = [{"Name": "vpc-id", "Values": [deployed.shared["vpc_id"]]}]
    assert_tagged("vpc", "", tags_of(our_vpc(deployed).get("Tags")))
    for s in ec2.describe_subnets(Filters=vpc_filter)["Subnets"]:
        assert_tagged("subnet", s["SubnetId"], tags_of(s.get("Tags")))
    for t in ec2.describe_route_tables(Filters=vpc_filter)["RouteTables"]:
        if not any(a.get("Main") for a in t["Associations"]):
            assert_tagged("route table", t["RouteTableId"], tags_of(t.get("Tags")))
    for g in ec2.describe_security_groups(Filters=vpc_filter)["SecurityGroups"]:
        assert_tagged("security group", g["GroupId"], tags_of(g.get("Tags")))
    for n in ec2.describe_nat_gateways(Filters=vpc_filter)["NatGateways"]:
        assert_tagged("nat gateway", n["NatGatewayId"], tags_of(n.get("Tags")))
    for i in ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [deployed.shared["vpc_id"]]}])["InternetGateways"]:
        assert_tagged("internet gateway", i["InternetGatewayId"], tags_of(i.get("Tags")))
    for e in ec2.describe_addresses()["Addresses"]:
        assert_tagged("eip", e["AllocationId"], tags_of(e.get("Tags")))
    for f in ec2.describe_flow_logs()["FlowLogs"]:
        assert_tagged("flow log", f["FlowLogId"], tags_of(f.get("Tags")))
    for lt in ec2.describe_launch_templates()["LaunchTemplates"]:
        assert_tagged("launch template", lt["LaunchTemplateName"], tags_of(lt.get("Tags")))
    asg = aws.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    for g in asg:
        assert_tagged("asg", g["AutoScalingGroupName"], {t["Key"]: t["Value"] for t in g["Tags"]})

    arns = [deployed.shared["alb_arn"], deployed.shared["alb_listener_arn"]]
    stacks_by_arn = {a: "shared" for a in arns}
    for stack in PREVIEWS:
        for key in ("target_group_arn", "listener_rule_arn"):
            stacks_by_arn[deployed.previews[stack][key]] = stack
    for desc in elb.describe_tags(ResourceArns=list(stacks_by_arn))["TagDescriptions"]:
        assert_tagged("elb", desc["ResourceArn"], tags_of(desc["Tags"]), stacks_by_arn[desc["ResourceArn"]])

    cluster_arn = deployed.shared["cluster_arn"]
    assert_tagged("cluster", cluster_arn, {t["key"]: t["value"] for t in ecs.list_tags_for_resource(resourceArn=cluster_arn)["tags"]})
    for stack in PREVIEWS:
        out = deployed.previews[stack]
        svc = ecs.describe_services(cluster=deployed.shared["cluster_name"], services=[out["service_name"]])["services"][0]
        for arn in (svc["serviceArn"], out["task_definition_arn"]):
            tags = {t["key"]: t["value"] for t in ecs.list_tags_for_resource(resourceArn=arn)["tags"]}
            assert_tagged("ecs", arn, tags, stack)

    iam = aws.client("iam")
    for role in iam.list_roles()["Roles"]:
        name = role["RoleName"]
        if not name.startswith(PREFIX):
            continue
        stack = next((s for s in PREVIEWS if name.startswith(f"{PREFIX}-{s}-")), "shared")
        if name.endswith(("-deploy-preview", "-deploy-shared")):
            stack = "bootstrap"
        assert_tagged("role", name, tags_of(iam.list_role_tags(RoleName=name)["Tags"]), stack)

    ecr = aws.client("ecr")
    repo_arn = ecr.describe_repositories(repositoryNames=[deployed.shared["ecr_repository_name"]])["repositories"][0]["repositoryArn"]
    assert_tagged("ecr", repo_arn, tags_of(ecr.list_tags_for_resource(resourceArn=repo_arn)["tags"]))
    logs = aws.client("logs")
    for group in logs.describe_log_groups()["logGroups"]:
        assert_tagged("log group", group["logGroupName"], logs.list_tags_for_resource(resourceArn=group["arn"].removesuffix(":*"))["tags"])
    r53 = aws.client("route53")
    zone_id = deployed.shared["private_zone_id"]
    zone_tags = r53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id)["ResourceTagSet"]["Tags"]
    assert_tagged("zone", zone_id, tags_of(zone_tags))
    s3 = aws.client("s3")
    assert_tagged("bucket", deployed.bucket, tags_of(s3.get_bucket_tagging(Bucket=deployed.bucket)["TagSet"]), "bootstrap")


def test_applies_print_no_warnings(deployed: Deployment) -> None:
    """Provider 5.100 warns at plan/apply time about anything deprecated (removed in 6.0)."""
    logs = sorted(deployed.runner.log_dir.glob("*-apply.log"))
    assert len(logs) == 2 + len(PREVIEWS)
    for log in logs:
        text = log.read_text()
        assert "Warning:" not in text, f"{log.name}:\n{text[text.index('Warning:'):][:1500]}"


def test_reapplying_a_preview_changes_nothing(deployed: Deployment) -> None:
    """The pipeline re-applies a preview stack on every push: it must converge, not churn."""
    stack = PRS[1]
    proc = deployed.runner.run(f"{stack}-replan", f"stacks/preview-{stack}", "plan", "-detailed-exitcode",
                               "-input=false", "-no-color", *[f"-var={k}={v}" for k, v in deployed.preview_vars(stack).items()],
                               check=False)
    assert proc.returncode == 0, f"second plan of {stack} is not empty:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}"


def test_replanning_the_shared_stack_changes_nothing(deployed: Deployment) -> None:
    """Every pull request plans the shared stack for its comment: unchanged, that plan must be empty."""
    proc = deployed.runner.run("shared-replan", "stacks/shared", "plan", "-detailed-exitcode", "-input=false", "-no-color",
                               f"-var=repository={REPOSITORY}", "-var=ecr_force_delete=true", check=False)
    assert proc.returncode == 0, f"second plan of the shared stack is not empty:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}"


# Teardown (last: these change what the checks above look at) --------------------------------


def test_destroying_one_pull_request_leaves_the_other_standing(deployed: Deployment) -> None:
    gone, stays = PRS
    d = deployed
    d.runner.destroy(f"{gone}-destroy", f"stacks/preview-{gone}", d.preview_vars(gone))
    ecs, elb = d.aws.client("ecs"), d.aws.client("elbv2")
    cluster = d.shared["cluster_name"]
    services = ecs.describe_services(cluster=cluster, services=[d.previews[gone]["service_name"], d.previews[stays]["service_name"]])
    status = {s["serviceName"]: s["status"] for s in services["services"]}
    assert status.get(d.previews[gone]["service_name"], "MISSING") in ("INACTIVE", "DRAINING", "MISSING")
    assert status[d.previews[stays]["service_name"]] == "ACTIVE"
    rule_targets = {r["Actions"][0]["TargetGroupArn"] for r in elb.describe_rules(ListenerArn=d.shared["alb_listener_arn"])["Rules"] if not r["IsDefault"]}
    assert d.previews[gone]["target_group_arn"] not in rule_targets
    assert d.previews[stays]["target_group_arn"] in rule_targets
    tg_names = {t["TargetGroupName"] for t in elb.describe_target_groups()["TargetGroups"]}
    assert f"{PREFIX}-{gone}" not in tg_names and f"{PREFIX}-{stays}" in tg_names
    role_names = {r["RoleName"] for r in d.aws.client("iam").list_roles()["Roles"]}
    assert f"{PREFIX}-{gone}-exec" not in role_names and f"{PREFIX}-{stays}-exec" in role_names
    keys = {o["Key"] for o in d.aws.client("s3").list_objects_v2(Bucket=d.bucket)["Contents"]}
    assert f"preview/{stays}.tfstate" in keys


def test_destroying_everything_leaves_nothing_of_ours(deployed: Deployment) -> None:
    d = deployed
    for stack in ("main", PRS[1]):
        d.runner.destroy(f"{stack}-destroy", f"stacks/preview-{stack}", d.preview_vars(stack))
    d.runner.destroy("shared-destroy", "stacks/shared", {"repository": REPOSITORY, "ecr_force_delete": "true"})
    d.runner.destroy("bootstrap-destroy", "bootstrap", {"repository": REPOSITORY, "force_destroy": "true"})
    aws = d.aws
    ec2 = aws.client("ec2")
    assert [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]] == []
    assert [n for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] not in ("deleted", "deleting")] == []
    assert ec2.describe_addresses()["Addresses"] == []
    assert ec2.describe_launch_templates()["LaunchTemplates"] == []
    assert aws.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"] == []
    elb = aws.client("elbv2")
    assert elb.describe_load_balancers()["LoadBalancers"] == []
    assert elb.describe_target_groups()["TargetGroups"] == []
    ecs = aws.client("ecs")
    active = [c for c in ecs.describe_clusters(clusters=ecs.list_clusters()["clusterArns"])["clusters"] if c["status"] == "ACTIVE"] if ecs.list_clusters()["clusterArns"] else []
    assert active == []
    assert aws.client("ecr").describe_repositories()["repositories"] == []
    assert [z for z in aws.client("route53").list_hosted_zones()["HostedZones"]] == []
    assert aws.client("logs").describe_log_groups()["logGroups"] == []
    iam = aws.client("iam")
    assert [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(PREFIX)] == []
    assert iam.list_policies(Scope="Local")["Policies"] == []
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    assert aws.client("s3").list_buckets()["Buckets"] == []
    assert aws.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []
