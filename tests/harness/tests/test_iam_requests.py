"""Requests as botocore really signs and encodes them become the IAM questions AWS would ask: one
representative operation per protocol (JSON, query, EC2, REST-XML S3 and Route 53), plus the role passes
some calls imply and the refusal of what cannot be mapped."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.harness.iam_gate.policy import AuthzRequest
from tests.harness.iam_gate.requests import Signer, Unmapped, parse, questions, signer

ACCOUNT = "123456789012"
REGION = "eu-west-2"


class Captured(Exception):
    def __init__(self, request: Any) -> None:
        super().__init__("captured")
        self.request = request


class FakeLookups:
    def role_arn(self, name: str) -> str:
        return f"arn:aws:iam::{ACCOUNT}:role/{name}"

    def role_boundary(self, name: str) -> str | None:
        return f"arn:aws:iam::{ACCOUNT}:policy/app-dev-task-boundary" if name.startswith("app-dev-pr-") else None

    def scalable_target_arn(self, namespace: str, resource_id: str, dimension: str) -> str | None:
        return None


def signed(service: str, operation: str, /, **params: Any) -> tuple[str, str, dict[str, str], bytes]:
    """(method, path?query, lower-case headers, body) of the request botocore would send."""
    client = boto3.client(service, region_name=REGION, endpoint_url="http://127.0.0.1:9",
                          aws_access_key_id="ASIAGATETESTKEY00001", aws_secret_access_key="secret",
                          aws_session_token="token")

    def stop(request: Any, **_: Any) -> None:
        raise Captured(request)

    client.meta.events.register("before-send", stop)
    with pytest.raises(Captured) as caught:
        getattr(client, operation)(**params)
    request = caught.value.request
    path = request.url.split("127.0.0.1:9", 1)[1] or "/"
    raw = request.body
    body = raw if isinstance(raw, bytes) else raw.read() if hasattr(raw, "read") else (raw or "").encode()
    headers = {k.lower(): v.decode() if isinstance(v, bytes) else str(v) for k, v in request.headers.items()}
    return request.method, path, headers, body


def ask(service: str, operation: str, /, **params: Any) -> list[AuthzRequest]:
    method, path, headers, body = signed(service, operation, **params)
    who = signer(path, headers)
    assert who is not None
    return questions(parse(method, path, headers, body, who, ACCOUNT, FakeLookups()))


def test_signer_reads_key_region_and_iam_prefix() -> None:
    _method, path, headers, _ = signed("cloudwatch", "delete_alarms", AlarmNames=["a"])
    assert signer(path, headers) == Signer("ASIAGATETESTKEY00001", REGION, "cloudwatch")


def test_presigned_url_names_its_signer() -> None:
    s3 = boto3.client("s3", region_name=REGION, endpoint_url="http://127.0.0.1:9",
                      aws_access_key_id="ASIAGATETESTKEY00002", aws_secret_access_key="secret")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"})
    who = signer(url.split("127.0.0.1:9", 1)[1], {})
    assert who == Signer("ASIAGATETESTKEY00002", REGION, "s3")


def test_json_protocol_ecs_update_service() -> None:
    [q] = ask("ecs", "update_service", cluster="app-dev", service="app-dev-main", desiredCount=2)
    assert q.action == "ecs:UpdateService"
    assert q.resources == (f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/app-dev/app-dev-main",)
    assert q.context["ecs:cluster"] == [f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/app-dev"]


def test_json_protocol_register_task_definition_also_passes_its_roles() -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/app-dev-main-task"
    register, pass_role = ask("ecs", "register_task_definition", family="app-dev-main", taskRoleArn=role,
                              containerDefinitions=[{"name": "app", "image": "x"}],
                              tags=[{"key": "Stack", "value": "main"}])
    assert register.action == "ecs:RegisterTaskDefinition"
    assert register.resources == (f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/app-dev-main:*",)
    assert register.context["aws:RequestTag/Stack"] == ["main"] and register.context["aws:TagKeys"] == ["Stack"]
    assert pass_role.action == "iam:PassRole" and pass_role.resources == (role,)
    assert pass_role.context["iam:PassedToService"] == ["ecs-tasks.amazonaws.com"]


def test_query_protocol_elb_create_rule_is_asked_on_the_listener() -> None:
    listener = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:listener/app/app-dev/50dc6c495c0c9188/f2f7dc8efc522ab2"
    [q] = ask("elbv2", "create_rule", ListenerArn=listener, Priority=1,
              Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
              Actions=[{"Type": "forward", "TargetGroupArn": "arn:aws:elasticloadbalancing:x:1:targetgroup/t/1"}])
    assert q.action == "elasticloadbalancing:CreateRule" and q.resources == (listener,)


def test_query_protocol_iam_create_role_carries_boundary_and_tags() -> None:
    [q] = ask("iam", "create_role", RoleName="app-dev-pr-7-task", AssumeRolePolicyDocument="{}",
              PermissionsBoundary=f"arn:aws:iam::{ACCOUNT}:policy/app-dev-task-boundary",
              Tags=[{"Key": "Stack", "Value": "pr-7"}])
    assert q.action == "iam:CreateRole"
    assert q.resources == (f"arn:aws:iam::{ACCOUNT}:role/app-dev-pr-7-task",)
    assert q.context["iam:PermissionsBoundary"] == [f"arn:aws:iam::{ACCOUNT}:policy/app-dev-task-boundary"]
    assert q.context["aws:RequestTag/Stack"] == ["pr-7"]


def test_query_protocol_iam_put_role_policy_knows_the_roles_boundary() -> None:
    [q] = ask("iam", "put_role_policy", RoleName="app-dev-pr-7-task", PolicyName="p", PolicyDocument="{}")
    assert q.context["iam:PermissionsBoundary"] == [f"arn:aws:iam::{ACCOUNT}:policy/app-dev-task-boundary"]
    [attach] = ask("iam", "attach_role_policy", RoleName="app-dev-instance",
                   PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    assert attach.context["iam:PolicyARN"] == ["arn:aws:iam::aws:policy/AdministratorAccess"]
    assert "iam:PermissionsBoundary" not in attach.context


def test_ec2_create_subnet_is_asked_on_the_new_subnet_and_its_vpc() -> None:
    [q] = ask("ec2", "create_subnet", VpcId="vpc-0123456789abcdef0", CidrBlock="10.0.1.0/24",
              TagSpecifications=[{"ResourceType": "subnet", "Tags": [{"Key": "Name", "Value": "app-dev-a"}]}])
    assert q.action == "ec2:CreateSubnet"
    assert q.resources == (f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/*", f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/vpc-0123456789abcdef0")
    assert q.context["aws:RequestTag/Name"] == ["app-dev-a"]


def test_read_without_resource_level_permissions_is_asked_on_star() -> None:
    [q] = ask("ec2", "describe_vpcs")
    assert q.action == "ec2:DescribeVpcs" and q.resources == ("*",) and not q.action_only


def test_read_whose_resource_is_not_built_is_checked_by_action() -> None:
    [q] = ask("cloudwatch", "describe_alarms")
    assert q.action == "cloudwatch:DescribeAlarms" and q.action_only


def test_s3_rest_object_bucket_and_listing() -> None:
    [put] = ask("s3", "put_object", Bucket="state", Key="preview/pr-1.tfstate", Body=b"{}")
    assert put.action == "s3:PutObject" and put.resources == ("arn:aws:s3:::state/preview/pr-1.tfstate",)
    assert put.context["aws:SecureTransport"] == ["true"]
    [listing] = ask("s3", "list_objects_v2", Bucket="state", Prefix="preview/")
    assert listing.action == "s3:ListBucket" and listing.resources == ("arn:aws:s3:::state",)
    assert listing.context["s3:prefix"] == ["preview/"]
    [policy] = ask("s3", "put_bucket_policy", Bucket="state", Policy="{}")
    assert policy.action == "s3:PutBucketPolicy"
    deletes = ask("s3", "delete_objects", Bucket="state", Delete={"Objects": [{"Key": "a"}, {"Key": "b", "VersionId": "v"}]})
    assert [(d.action, d.resources) for d in deletes] == [
        ("s3:DeleteObject", ("arn:aws:s3:::state/a",)), ("s3:DeleteObjectVersion", ("arn:aws:s3:::state/b",))]


def test_route53_rest_change_record_sets() -> None:
    [q] = ask("route53", "change_resource_record_sets", HostedZoneId="Z0123456789",
              ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
                  "Name": "app.myorg.local", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "10.0.0.1"}]}}]})
    assert q.action == "route53:ChangeResourceRecordSets" and q.resources == ("arn:aws:route53:::hostedzone/Z0123456789",)


def test_actions_without_resource_level_permissions_are_asked_on_star() -> None:
    [q] = ask("ecr", "get_authorization_token")
    assert q.action == "ecr:GetAuthorizationToken" and q.resources == ("*",)


def test_unmapped_mutating_operation_fails_closed() -> None:
    method, path, headers, body = signed("ecs", "update_service", cluster="c", service="s")
    headers["x-amz-target"] = "AmazonEC2ContainerServiceV20141113.CreateTaskSet"
    who = signer(path, headers)
    assert who is not None
    body = b'{"cluster": "c", "service": "s", "taskDefinition": "t:1"}'
    with pytest.raises(Unmapped, match="ecs:CreateTaskSet"):
        questions(parse(method, path, headers, body, who, ACCOUNT, FakeLookups()))


def test_only_the_resource_types_iam_checks_are_asked() -> None:
    [template] = ask("ec2", "create_launch_template", LaunchTemplateName="app-dev",
                     LaunchTemplateData={"ImageId": "ami-0123456789abcdef0"})
    assert template.resources == (f"arn:aws:ec2:{REGION}:{ACCOUNT}:launch-template/*",)
    profile, passed = ask("iam", "add_role_to_instance_profile", InstanceProfileName="app-dev-instance",
                          RoleName="app-dev-instance")
    assert profile.action == "iam:AddRoleToInstanceProfile"
    assert profile.resources == (f"arn:aws:iam::{ACCOUNT}:instance-profile/app-dev-instance",)
    assert passed.action == "iam:PassRole" and passed.resources == (f"arn:aws:iam::{ACCOUNT}:role/app-dev-instance",)
