"""Two accounts in one emulator, as the environments story uses them: an administrator works in each
through `OrganizationAccountAccessRole`, each account's resources are its own, the IAM gate decides a
role's trust with its own account's identity provider and evaluates its policies in its own account, and
each account's GetAuthorizationToken names that account's registry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from tests.harness.emulated_aws import EmulatedAws
from tests.harness.iam_gate.sessions import denials, role_session

STAGING, PRODUCTION = "111111111111", "222222222222"
REGIONS = {STAGING: "eu-west-2", PRODUCTION: "eu-west-1"}
ISSUER = "token.actions.githubusercontent.com"
MAIN_SUB = "repo:acme/shop:ref:refs/heads/main"
PR_SUB = "repo:acme/shop:pull_request"
PRODUCTION_SUB = "repo:acme/shop:environment:production"


def trust(account: str, *subs: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": f"arn:aws:iam::{account}:oidc-provider/{ISSUER}"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{ISSUER}:aud": "sts.amazonaws.com", f"{ISSUER}:sub": list(subs)}}}]})


def deploy_policy(account: str) -> str:
    region = REGIONS[account]
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ecr:CreateRepository", "ecr:DescribeRepositories"],
         "Resource": f"arn:aws:ecr:{region}:{account}:repository/shop-*"},
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
    ]})


def error_code(call: Any) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call()
    return str(caught.value.response["Error"]["Code"])


@pytest.fixture(scope="module")
def aws() -> Iterator[EmulatedAws]:
    with EmulatedAws(iam_gate="enforce", accounts=REGIONS) as emulated:
        for account, subs in ((STAGING, (MAIN_SUB, PR_SUB)), (PRODUCTION, (PRODUCTION_SUB,))):
            iam = emulated.client("iam", account=account)
            iam.create_open_id_connect_provider(Url=f"https://{ISSUER}", ClientIDList=["sts.amazonaws.com"],
                                                ThumbprintList=["6938fd4d98bab03faadb97b34396831e3780aea1"])
            # The same role name in both accounts: each must be decided by its own policies.
            iam.create_role(RoleName="shop-deploy", AssumeRolePolicyDocument=trust(account, *subs))
            iam.put_role_policy(RoleName="shop-deploy", PolicyName="deploy", PolicyDocument=deploy_policy(account))
        yield emulated


def test_the_administrator_of_each_account_sees_only_that_account(aws: EmulatedAws) -> None:
    for account, region in REGIONS.items():
        identity = aws.client("sts", account=account).get_caller_identity()
        assert identity["Account"] == account
        assert aws.client("ecr", account=account).meta.region_name == region
    roles = {a: [r["Arn"] for r in aws.client("iam", account=a).list_roles()["Roles"]] for a in REGIONS}
    assert roles[STAGING] == [f"arn:aws:iam::{STAGING}:role/shop-deploy"]
    assert roles[PRODUCTION] == [f"arn:aws:iam::{PRODUCTION}:role/shop-deploy"]
    assert aws.client("iam").list_roles()["Roles"] == [], "the default account holds another account's role"


def test_each_deploy_role_acts_in_its_own_account_and_is_gated_there(aws: EmulatedAws) -> None:
    staging = role_session(aws, f"arn:aws:iam::{STAGING}:role/shop-deploy", MAIN_SUB)
    production = role_session(aws, f"arn:aws:iam::{PRODUCTION}:role/shop-deploy", PRODUCTION_SUB)
    staging_ecr = staging.client("ecr", region_name=REGIONS[STAGING])
    production_ecr = production.client("ecr", region_name=REGIONS[PRODUCTION])
    made = staging_ecr.create_repository(repositoryName="shop-staging")["repository"]
    assert made["repositoryUri"] == f"{STAGING}.dkr.ecr.eu-west-2.amazonaws.com/shop-staging"
    made = production_ecr.create_repository(repositoryName="shop-production")["repository"]
    assert made["repositoryUri"] == f"{PRODUCTION}.dkr.ecr.eu-west-1.amazonaws.com/shop-production"
    token = production_ecr.get_authorization_token()["authorizationData"][0]
    assert token["proxyEndpoint"] == f"https://{PRODUCTION}.dkr.ecr.eu-west-1.amazonaws.com"

    # Outside the repositories its policy names, each role is refused, in its own account's terms.
    before = len(denials(aws))
    assert error_code(lambda: production_ecr.create_repository(repositoryName="other")) == "AccessDeniedException"
    refused = denials(aws)[before:]
    assert [(d["principal"], d["action"], d["resource"]) for d in refused] == [(
        f"arn:aws:sts::{PRODUCTION}:assumed-role/shop-deploy/test-session", "ecr:CreateRepository",
        f"arn:aws:ecr:eu-west-1:{PRODUCTION}:repository/other")]
    names = [r["repositoryName"] for r in aws.client("ecr", account=PRODUCTION).describe_repositories()["repositories"]]
    assert names == ["shop-production"]


def test_a_pull_request_token_cannot_assume_the_production_role(aws: EmulatedAws) -> None:
    # Staging's role trusts pull requests; production's, with the same name, does not.
    role_session(aws, f"arn:aws:iam::{STAGING}:role/shop-deploy", PR_SUB)
    for sub in (PR_SUB, MAIN_SUB):
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            role_session(aws, f"arn:aws:iam::{PRODUCTION}:role/shop-deploy", sub)
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
        assert denials(aws)[-1]["principal"] == f"web identity {sub}"
