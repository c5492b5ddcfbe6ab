"""The gate in the proxy, end to end with boto3: sessions come from STS through the proxy, refusals look
exactly like AWS's and change nothing, quotas hold for everybody, the switch and the log work."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from tests.harness.emulated_aws import ACCOUNT_ID, EmulatedAws
from tests.harness.iam_gate.sessions import denials, role_session

ISSUER = "token.actions.githubusercontent.com"
PROVIDER = f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{ISSUER}"
PR_SUB = "repo:acme/shop:pull_request"
MAIN_SUB = "repo:acme/shop:ref:refs/heads/main"


def trust(*subs: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": PROVIDER}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{ISSUER}:aud": "sts.amazonaws.com", f"{ISSUER}:sub": list(subs)}}}]})


PREVIEW_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["ecs:CreateCluster", "ecs:ListClusters"],
     "Resource": f"arn:aws:ecs:eu-west-2:{ACCOUNT_ID}:cluster/shop-pr-*"},
    {"Effect": "Allow", "Action": "ecs:ListClusters", "Resource": "*"},
    {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::state/preview/*"},
]}


def error_of(call: Any) -> dict[str, Any]:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call()
    response: dict[str, Any] = caught.value.response
    return {**response["Error"], "status": response["ResponseMetadata"]["HTTPStatusCode"]}


@pytest.fixture(scope="module")
def gated() -> Iterator[EmulatedAws]:
    with EmulatedAws(iam_gate="enforce") as aws:
        yield aws


@pytest.fixture()
def aws(gated: EmulatedAws) -> EmulatedAws:
    gated.reset()
    gated.iam_gate_log.write_text("")
    iam = gated.client("iam")
    iam.create_open_id_connect_provider(Url=f"https://{ISSUER}", ClientIDList=["sts.amazonaws.com"],
                                        ThumbprintList=["6938fd4d98bab03faadb97b34396831e3780aea1"])
    iam.create_role(RoleName="shop-preview", AssumeRolePolicyDocument=trust(PR_SUB, MAIN_SUB))
    iam.put_role_policy(RoleName="shop-preview", PolicyName="p", PolicyDocument=json.dumps(PREVIEW_POLICY))
    iam.create_role(RoleName="shop-shared", AssumeRolePolicyDocument=trust(MAIN_SUB))
    gated.client("s3").create_bucket(Bucket="state", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    return gated


def preview(aws: EmulatedAws) -> Any:
    return role_session(aws, f"arn:aws:iam::{ACCOUNT_ID}:role/shop-preview", PR_SUB, session_name="pr-1")


PRINCIPAL = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/shop-preview/pr-1"


def test_pull_request_token_cannot_assume_the_shared_role(aws: EmulatedAws) -> None:
    error = error_of(lambda: role_session(aws, f"arn:aws:iam::{ACCOUNT_ID}:role/shop-shared", PR_SUB))
    assert error == {**error, "Code": "AccessDenied", "status": 403,
                     "Message": "Not authorized to perform sts:AssumeRoleWithWebIdentity"}
    # The default branch's token can; a token for another audience cannot.
    role_session(aws, f"arn:aws:iam::{ACCOUNT_ID}:role/shop-shared", MAIN_SUB)
    wrong_audience = error_of(lambda: role_session(aws, f"arn:aws:iam::{ACCOUNT_ID}:role/shop-shared", MAIN_SUB,
                                                   audience="sigstore"))
    assert wrong_audience["Code"] == "AccessDenied"
    assert [(d["action"], d["principal"]) for d in denials(aws)] == [
        ("sts:AssumeRoleWithWebIdentity", f"web identity {PR_SUB}"),
        ("sts:AssumeRoleWithWebIdentity", f"web identity {MAIN_SUB}"),
    ]


def test_allowed_call_reaches_the_emulator(aws: EmulatedAws) -> None:
    preview(aws).client("ecs").create_cluster(clusterName="shop-pr-1")
    assert aws.client("ecs").list_clusters()["clusterArns"] == [f"arn:aws:ecs:eu-west-2:{ACCOUNT_ID}:cluster/shop-pr-1"]
    assert denials(aws) == []


def test_json_refusal_is_aws_shaped_and_changes_nothing(aws: EmulatedAws) -> None:
    error = error_of(lambda: preview(aws).client("ecs").create_cluster(clusterName="shop-main"))
    resource = f"arn:aws:ecs:eu-west-2:{ACCOUNT_ID}:cluster/shop-main"
    assert (error["Code"], error["status"]) == ("AccessDeniedException", 403)
    assert error["Message"] == (f"User: {PRINCIPAL} is not authorized to perform: ecs:CreateCluster on resource: "
                                f"{resource} because no identity-based policy allows the ecs:CreateCluster action")
    assert aws.client("ecs").list_clusters()["clusterArns"] == []
    assert denials(aws)[-1] == {**denials(aws)[-1], "principal": PRINCIPAL, "action": "ecs:CreateCluster",
                                "resource": resource, "mode": "enforce"}


def test_query_ec2_and_s3_refusals_are_aws_shaped(aws: EmulatedAws) -> None:
    session = preview(aws)
    iam = error_of(lambda: session.client("iam").create_role(RoleName="x", AssumeRolePolicyDocument=trust(PR_SUB)))
    assert (iam["Code"], iam["status"]) == ("AccessDenied", 403)
    assert "iam:CreateRole on resource: arn:aws:iam::123456789012:role/x because" in iam["Message"]
    ec2 = error_of(lambda: session.client("ec2").create_vpc(CidrBlock="10.0.0.0/16"))
    assert (ec2["Code"], ec2["status"]) == ("UnauthorizedOperation", 403)
    assert ec2["Message"].startswith("You are not authorized to perform this operation. User: ")
    s3 = error_of(lambda: session.client("s3").put_object(Bucket="state", Key="shared/terraform.tfstate", Body=b"x"))
    assert (s3["Code"], s3["status"]) == ("AccessDenied", 403)
    assert "s3:PutObject on resource: arn:aws:s3:::state/shared/terraform.tfstate" in s3["Message"]
    session.client("s3").put_object(Bucket="state", Key="preview/pr-1.tfstate", Body=b"x")
    keys = [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket="state").get("Contents", [])]
    assert keys == ["preview/pr-1.tfstate"]
    assert aws.client("iam").list_roles()["Roles"] and all(r["RoleName"] != "x" for r in aws.client("iam").list_roles()["Roles"])
    assert aws.client("ec2").describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.0.0.0/16"]}])["Vpcs"] == []


def test_boundary_limits_a_role_with_broad_policies(aws: EmulatedAws) -> None:
    iam = aws.client("iam")
    boundary = iam.create_policy(PolicyName="shop-boundary", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecs:*", "Resource": "*"}]}))["Policy"]["Arn"]
    iam.put_role_permissions_boundary(RoleName="shop-preview", PermissionsBoundary=boundary)
    iam.put_role_policy(RoleName="shop-preview", PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ecs:*", "s3:*"], "Resource": "*"}]}))
    session = preview(aws)
    session.client("ecs").create_cluster(clusterName="anything")
    error = error_of(lambda: session.client("s3").put_object(Bucket="state", Key="k", Body=b"x"))
    assert error["Message"].endswith("because no permissions boundary allows the s3:PutObject action")


def test_unmapped_mutating_request_fails_closed_naming_it(aws: EmulatedAws) -> None:
    ecs = preview(aws).client("ecs")
    error = error_of(lambda: ecs.create_task_set(cluster="shop-pr-1", service="s", taskDefinition="t:1"))
    assert error["Code"] == "IamGateUnmappedRequest" and "ecs:CreateTaskSet" in error["Message"]
    assert denials(aws)[-1]["action"] == "unmapped"


def test_administrator_keys_pass_unchecked(aws: EmulatedAws) -> None:
    aws.client("ec2").create_vpc(CidrBlock="10.1.0.0/16")
    assert denials(aws) == []


def test_quotas_hold_for_the_administrator_too(aws: EmulatedAws) -> None:
    iam = aws.client("iam")

    def policy(size: int) -> str:
        text = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/" + "k" * size}]})
        return text

    iam.put_role_policy(RoleName="shop-shared", PolicyName="a", PolicyDocument=policy(6000))
    # Replacing a policy counts its new size, not both.
    iam.put_role_policy(RoleName="shop-shared", PolicyName="a", PolicyDocument=policy(6100))
    inline = error_of(lambda: iam.put_role_policy(RoleName="shop-shared", PolicyName="b", PolicyDocument=policy(4100)))
    assert (inline["Code"], inline["status"]) == ("LimitExceeded", 409)
    assert inline["Message"] == "Maximum policy size of 10240 bytes exceeded for role shop-shared"
    assert iam.list_role_policies(RoleName="shop-shared")["PolicyNames"] == ["a"]
    # Whitespace does not count.
    pretty = json.dumps(json.loads(policy(3000)), indent=8)
    iam.put_role_policy(RoleName="shop-shared", PolicyName="c", PolicyDocument=pretty + " " * 5000)

    managed = error_of(lambda: iam.create_policy(PolicyName="big", PolicyDocument=policy(6100)))
    assert (managed["Code"], managed["Message"]) == ("LimitExceeded", "Cannot exceed quota for PolicySize: 6144")
    big_trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": PROVIDER}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringLike": {f"{ISSUER}:sub": [f"repo:acme/r{i:04d}:*" for i in range(100)]}}}]})
    trust_error = error_of(lambda: iam.create_role(RoleName="t", AssumeRolePolicyDocument=big_trust))
    assert trust_error["Code"] == "LimitExceeded"
    malformed = error_of(lambda: iam.put_role_policy(RoleName="shop-shared", PolicyName="m", PolicyDocument="{not json"))
    assert (malformed["Code"], malformed["status"]) == ("MalformedPolicyDocument", 400)

    arns = [iam.create_policy(PolicyName=f"p{i}", PolicyDocument=policy(10))["Policy"]["Arn"] for i in range(11)]
    for arn in arns[:10]:
        iam.attach_role_policy(RoleName="shop-shared", PolicyArn=arn)
    iam.attach_role_policy(RoleName="shop-shared", PolicyArn=arns[0])  # already attached: no new slot
    attach = error_of(lambda: iam.attach_role_policy(RoleName="shop-shared", PolicyArn=arns[10]))
    assert (attach["Code"], attach["Message"]) == ("LimitExceeded", "Cannot exceed quota for PoliciesPerRole: 10")
    assert len(iam.list_attached_role_policies(RoleName="shop-shared")["AttachedPolicies"]) == 10


def test_policy_changes_apply_to_the_next_call(aws: EmulatedAws) -> None:
    session = preview(aws)
    ecs = session.client("ecs")
    error_of(lambda: ecs.create_cluster(clusterName="other"))
    aws.client("iam").put_role_policy(RoleName="shop-preview", PolicyName="more", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecs:CreateCluster", "Resource": "*"}]}))
    ecs.create_cluster(clusterName="other")


def test_report_mode_allows_and_logs_what_enforce_would_refuse() -> None:
    with EmulatedAws(iam_gate="report") as aws:
        iam = aws.client("iam")
        iam.create_open_id_connect_provider(Url=f"https://{ISSUER}", ClientIDList=["sts.amazonaws.com"],
                                            ThumbprintList=["6938fd4d98bab03faadb97b34396831e3780aea1"])
        iam.create_role(RoleName="shop-preview", AssumeRolePolicyDocument=trust(PR_SUB))
        role_session(aws, f"arn:aws:iam::{ACCOUNT_ID}:role/shop-preview", PR_SUB, "pr-1").client("ecs").create_cluster(
            clusterName="shop-main")
        assert aws.client("ecs").list_clusters()["clusterArns"] == [f"arn:aws:ecs:eu-west-2:{ACCOUNT_ID}:cluster/shop-main"]
        [logged] = denials(aws)
        assert logged["mode"] == "report" and logged["action"] == "ecs:CreateCluster" and logged["principal"] == PRINCIPAL


def test_off_mode_checks_nothing() -> None:
    with EmulatedAws(iam_gate="off") as aws:
        aws.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{not json")
        assert denials(aws) == []


def test_unknown_mode_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECS_POC_IAM_GATE", "strict")
    with pytest.raises(ValueError, match="ECS_POC_IAM_GATE='strict': expected one of enforce, report, off"):
        EmulatedAws()
