"""The harness itself: the fidelity fixes and the terraform shim must do what they claim,
or the apply proof would be testing the emulator."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.harness.emulated_aws import EmulatedAws, aws_env
from tests.harness.fidelity_proxy import EcsServiceMemory, mark_private_zone
from tests.harness.moto_fidelity import rule_description, version_data_without_template_tags
from tests.harness.moto_server import parse_zone_limits, secure_transport_excludes
from tests.harness.settle import settled
from tests.harness.terraform_env import cli_config_text
from tests.terraform.stacks import terraform_binary

ZONE_WITH_VPC = (
    b'<CreateHostedZoneRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
    b"<CallerReference>r</CallerReference><HostedZoneConfig><Comment>c</Comment></HostedZoneConfig>"
    b"<Name>myorg.local</Name><VPC><VPCId>vpc-1</VPCId><VPCRegion>eu-west-2</VPCRegion></VPC>"
    b"</CreateHostedZoneRequest>"
)


def test_zone_with_vpc_is_marked_private() -> None:
    assert b"<PrivateZone>true</PrivateZone></HostedZoneConfig>" in mark_private_zone(ZONE_WITH_VPC)


def test_public_zone_is_left_alone() -> None:
    public = ZONE_WITH_VPC.replace(b"<VPC><VPCId>vpc-1</VPCId><VPCRegion>eu-west-2</VPCRegion></VPC>", b"")
    assert mark_private_zone(public) == public


def test_zone_without_config_gets_one() -> None:
    bare = ZONE_WITH_VPC.replace(b"<HostedZoneConfig><Comment>c</Comment></HostedZoneConfig>", b"")
    assert b"<HostedZoneConfig><PrivateZone>true</PrivateZone></HostedZoneConfig>" in mark_private_zone(bare)


def test_secure_transport_deny_does_not_apply_to_tls_requests() -> None:
    deny_plain = {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    allow_tls = {"Effect": "Allow", "Condition": {"Bool": {"aws:SecureTransport": ["true"]}}}
    assert secure_transport_excludes(deny_plain)
    assert not secure_transport_excludes(allow_tls)
    assert not secure_transport_excludes({"Effect": "Deny"})


def test_zone_limits_name_regions_and_their_zones_and_refuse_anything_else() -> None:
    assert parse_zone_limits("eu-central-2=eu-central-2a; us-west-1=us-west-1a, us-west-1b") == {
        "eu-central-2": ["eu-central-2a"], "us-west-1": ["us-west-1a", "us-west-1b"]}
    for bad in ("eu-central-2", "eu-central-2=", "=eu-central-2a"):
        with pytest.raises(ValueError, match="ECS_POC_MOTO_ZONES"):
            parse_zone_limits(bad)


def test_env_points_every_client_at_the_emulator_only() -> None:
    env = aws_env("http://127.0.0.1:1234")
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1234"
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"
    assert env["AWS_CONFIG_FILE"] == os.devnull
    assert env["TF_CLI_ARGS_init"] == "-backend-config=use_path_style=true"
    assert Path(env["TF_CLI_CONFIG_FILE"]).is_file()


def test_mirror_config_keeps_other_providers_on_the_registry() -> None:
    text = cli_config_text("mirror")
    assert 'filesystem_mirror' in text and 'exclude = ["registry.terraform.io/hashicorp/aws"]' in text


def test_shim_passes_exit_codes_and_output(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('output "answer" {\n  value = 42\n}\n')
    tf = terraform_binary()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TF_CLI_CONFIG_FILE": os.devnull}
    assert subprocess.run([tf, f"-chdir={tmp_path}", "init", "-input=false"], env=env, capture_output=True, check=False).returncode == 0
    plan = subprocess.run([tf, f"-chdir={tmp_path}", "plan", "-detailed-exitcode", "-input=false", "-no-color"],
                          env=env, capture_output=True, text=True, check=False)
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert "answer" in plan.stdout
    bad = subprocess.run([tf, "no-such-command"], env=env, capture_output=True, text=True, check=False)
    assert bad.returncode == 1 and "no-such-command" in bad.stderr


def test_emulator_serves_state_bucket_writes_and_private_zones() -> None:
    with EmulatedAws() as aws:
        s3 = aws.client("s3")
        s3.create_bucket(Bucket="harness-check", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
        s3.put_bucket_policy(
            Bucket="harness-check",
            Policy='{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"*"},'
            '"Action":"s3:PutObject","Resource":"arn:aws:s3:::harness-check/*",'
            '"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}',
        )
        s3.put_object(Bucket="harness-check", Key="k", Body=b"x")
        vpc = aws.client("ec2").create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        r53 = aws.client("route53")
        zone = r53.create_hosted_zone(Name="myorg.local", CallerReference="x",
                                      VPC={"VPCRegion": "eu-west-2", "VPCId": vpc})["HostedZone"]
        got = r53.get_hosted_zone(Id=zone["Id"])
        assert got["HostedZone"]["Config"]["PrivateZone"] is True
        assert got["VPCs"][0]["VPCId"] == vpc
        aws.reset()
        assert aws.client("ec2").describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Vpcs"] == []


def test_ecs_service_settings_moto_drops_are_returned() -> None:
    memory = EcsServiceMemory()
    memory.remember("CreateService", {
        "cluster": "c1", "serviceName": "s1", "launchType": "EC2",
        "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": True, "rollback": True},
                                    "maximumPercent": 200, "minimumHealthyPercent": 100},
        "capacityProviderStrategy": [{"capacityProvider": "cp", "weight": 1}],
    })
    memory.remember("UpdateService", {"cluster": "arn:aws:ecs:eu-west-2:1:cluster/c1", "service": "s1",
                                      "healthCheckGracePeriodSeconds": 10})
    body = b'{"services": [{"clusterArn": "arn:aws:ecs:eu-west-2:1:cluster/c1", "serviceName": "s1", ' \
           b'"launchType": "EC2", "networkConfiguration": {}}]}'
    service = json.loads(memory.rewrite("DescribeServices", body))["services"][0]
    assert service["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert service["healthCheckGracePeriodSeconds"] == 10
    assert "networkConfiguration" not in service and "launchType" not in service
    other = json.loads(memory.rewrite("DescribeServices", body.replace(b"s1", b"s2")))["services"][0]
    assert "deploymentConfiguration" not in other, "settings must not leak to another service"


def test_route53_change_answers_lose_only_their_pending_change() -> None:
    created = (b'<CreateHostedZoneResponse><HostedZone><Id>/hostedzone/Z1</Id></HostedZone>'
               b'<ChangeInfo><Id>/change/C1</Id><Status>PENDING</Status></ChangeInfo></CreateHostedZoneResponse>')
    assert settled("POST", "/2013-04-01/hostedzone", created) == (
        b"<CreateHostedZoneResponse><HostedZone><Id>/hostedzone/Z1</Id></HostedZone></CreateHostedZoneResponse>")
    status = b"<GetChangeResponse><ChangeInfo><Id>C1</Id><Status>INSYNC</Status></ChangeInfo></GetChangeResponse>"
    assert settled("GET", "/2013-04-01/change/C1", status) == status
    assert settled("POST", "/", created) == created, "only Route 53 answers are touched"


def test_launch_template_data_keeps_the_tags_of_what_it_launches() -> None:
    instance = {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "i"}]}
    template = {"ResourceType": "launch-template", "Tags": [{"Key": "Stack", "Value": "shared"}]}
    data = {"ImageId": "ami-1", "TagSpecifications": [instance, template]}
    assert version_data_without_template_tags(data) == {"ImageId": "ami-1", "TagSpecifications": [instance]}
    assert version_data_without_template_tags({"ImageId": "ami-1"}) == {"ImageId": "ami-1"}


def test_rule_description_comes_from_its_peer_whichever_kind() -> None:
    assert rule_description({"CidrIp": "0.0.0.0/0", "Description": "web"}, {}) == "web"
    assert rule_description({}, {"GroupId": "sg-1", "Description": "from the ALB"}) == "from the ALB"
    assert rule_description({}, {"GroupId": "sg-1"}) is None


def test_emulator_answers_ec2_and_route53_as_aws_does() -> None:
    """Through the real moto server and proxy: what a plan of an unchanged stack reads back."""
    with EmulatedAws() as aws:
        ec2, r53 = aws.client("ec2"), aws.client("route53")
        tags = [{"Key": "Stack", "Value": "shared"}]
        template = ec2.create_launch_template(
            LaunchTemplateName="lt", TagSpecifications=[{"ResourceType": "launch-template", "Tags": tags}],
            LaunchTemplateData={"ImageId": "ami-12c6146b", "TagSpecifications": [{"ResourceType": "instance", "Tags": tags}]},
        )["LaunchTemplate"]
        version = ec2.describe_launch_template_versions(LaunchTemplateId=template["LaunchTemplateId"])["LaunchTemplateVersions"][0]
        assert [s["ResourceType"] for s in version["LaunchTemplateData"]["TagSpecifications"]] == ["instance"]
        described = ec2.describe_launch_templates(LaunchTemplateIds=[template["LaunchTemplateId"]])["LaunchTemplates"][0]
        assert described["Tags"] == tags, "the template itself stays tagged"

        vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
        alb = ec2.create_security_group(GroupName="alb", Description="alb", VpcId=vpc)["GroupId"]
        hosts = ec2.create_security_group(GroupName="hosts", Description="hosts", VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=hosts, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 49153, "ToPort": 65535,
            "UserIdGroupPairs": [{"GroupId": alb, "Description": "from the ALB"}]}])
        rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [hosts]}])["SecurityGroupRules"]
        assert [r.get("Description") for r in rules if not r["IsEgress"]] == ["from the ALB"]

        zone = r53.create_hosted_zone(Name="myorg.local", CallerReference="settle",
                                      VPC={"VPCRegion": "eu-west-2", "VPCId": vpc})
        assert "ChangeInfo" not in zone, "a client would wait on the change"
        record = r53.change_resource_record_sets(HostedZoneId=zone["HostedZone"]["Id"], ChangeBatch={"Changes": [{
            "Action": "CREATE", "ResourceRecordSet": {"Name": "a.myorg.local", "Type": "A", "TTL": 60,
                                                      "ResourceRecords": [{"Value": "10.8.0.1"}]}}]})
        assert "ChangeInfo" not in record
        assert r53.get_change(Id="C2")["ChangeInfo"]["Status"] == "INSYNC"
