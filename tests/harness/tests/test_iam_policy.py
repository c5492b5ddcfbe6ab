"""The gate's policy evaluator decides as IAM does: explicit deny wins, an allow is needed from the identity
policies and from the boundary, and conditions read the request's keys as each operator says."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness.iam_gate.policy import (
    AuthzRequest,
    PolicyError,
    evaluate,
    glob_match,
    policy_size,
    trust_allows,
)

ROLE = "arn:aws:iam::123456789012:role/app-dev-pr-7"
BOUNDARY = "arn:aws:iam::123456789012:policy/app-dev-task-boundary"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def ask(action: str, resource: str = "*") -> AuthzRequest:
    return AuthzRequest(action, (resource,))


def test_allow_matches_action_and_resource_with_wildcards() -> None:
    policies = [doc(allow("ecs:Update*", "arn:aws:ecs:eu-west-2:123456789012:service/app-dev/app-dev-pr-?"))]
    assert evaluate(policies, None, ask("ecs:UpdateService", "arn:aws:ecs:eu-west-2:123456789012:service/app-dev/app-dev-pr-7")).allowed
    # Action names are case-insensitive, resources are not.
    assert evaluate(policies, None, ask("ECS:updateservice", "arn:aws:ecs:eu-west-2:123456789012:service/app-dev/app-dev-pr-7")).allowed
    assert not evaluate(policies, None, ask("ecs:UpdateService", "arn:aws:ecs:eu-west-2:123456789012:service/app-dev/APP-dev-pr-7")).allowed
    # `?` is one character.
    assert not evaluate(policies, None, ask("ecs:UpdateService", "arn:aws:ecs:eu-west-2:123456789012:service/app-dev/app-dev-pr-17")).allowed


def test_implicit_deny_names_the_missing_allow() -> None:
    decision = evaluate([doc(allow("s3:GetObject", "arn:aws:s3:::b/*"))], None, ask("s3:PutObject", "arn:aws:s3:::b/k"))
    assert not decision.allowed
    assert decision.reason == "no identity-based policy allows the s3:PutObject action"
    assert decision.resource == "arn:aws:s3:::b/k"


def test_explicit_deny_wins_over_any_allow() -> None:
    policies = [doc(allow("*")), doc(deny("s3:DeleteObject", "arn:aws:s3:::b/shared/*"))]
    decision = evaluate(policies, None, ask("s3:DeleteObject", "arn:aws:s3:::b/shared/terraform.tfstate"))
    assert not decision.allowed and decision.reason == "with an explicit deny in an identity-based policy"
    assert evaluate(policies, None, ask("s3:DeleteObject", "arn:aws:s3:::b/preview/pr-1.tfstate")).allowed


def test_boundary_intersects_with_identity_policies() -> None:
    identity = [doc(allow(["logs:*", "s3:*"]))]
    boundary = doc(allow("logs:*"))
    assert evaluate(identity, boundary, ask("logs:PutLogEvents", "arn:aws:logs:eu-west-2:1:log-group:g")).allowed
    outside = evaluate(identity, boundary, ask("s3:PutObject", "arn:aws:s3:::b/k"))
    assert not outside.allowed and outside.reason == "no permissions boundary allows the s3:PutObject action"
    # The boundary grants nothing by itself.
    assert not evaluate([doc(allow("s3:GetObject"))], boundary, ask("logs:PutLogEvents")).allowed
    denied = evaluate(identity, doc(allow("*"), deny("logs:DeleteLogGroup")), ask("logs:DeleteLogGroup"))
    assert not denied.allowed and denied.reason == "with an explicit deny in a permissions boundary"


def test_not_action_and_not_resource() -> None:
    policies = [doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})]
    assert evaluate(policies, None, ask("ec2:CreateVpc")).allowed
    assert not evaluate(policies, None, ask("iam:CreateRole", "arn:aws:iam::1:role/x")).allowed
    scoped = [doc({"Effect": "Allow", "Action": "s3:PutObject", "NotResource": "arn:aws:s3:::b/shared/*"})]
    assert evaluate(scoped, None, ask("s3:PutObject", "arn:aws:s3:::b/preview/x")).allowed
    assert not evaluate(scoped, None, ask("s3:PutObject", "arn:aws:s3:::b/shared/x")).allowed


def test_every_resource_of_a_request_must_be_allowed() -> None:
    policies = [doc(allow("ec2:CreateSubnet", ["arn:aws:ec2:eu-west-2:1:subnet/*"]))]
    request = AuthzRequest("ec2:CreateSubnet", ("arn:aws:ec2:eu-west-2:1:subnet/*", "arn:aws:ec2:eu-west-2:1:vpc/vpc-1"))
    decision = evaluate(policies, None, request)
    assert not decision.allowed and decision.resource == "arn:aws:ec2:eu-west-2:1:vpc/vpc-1"


def test_action_without_resource_level_permissions_needs_star() -> None:
    scoped = [doc(allow("ecr:GetAuthorizationToken", "arn:aws:ecr:eu-west-2:1:repository/app"))]
    assert not evaluate(scoped, None, ask("ecr:GetAuthorizationToken", "*")).allowed
    assert evaluate([doc(allow("ecr:GetAuthorizationToken"))], None, ask("ecr:GetAuthorizationToken", "*")).allowed


def test_read_checked_by_action_only_ignores_resource_but_not_action() -> None:
    policies = [doc(allow("ec2:DescribeVpcs", "arn:aws:ec2:eu-west-2:1:vpc/vpc-1"))]
    assert evaluate(policies, None, AuthzRequest("ec2:DescribeVpcs", ("*",), {}, action_only=True)).allowed
    assert not evaluate(policies, None, AuthzRequest("ec2:DescribeSubnets", ("*",), {}, action_only=True)).allowed


BOUNDED_CREATE = allow("iam:CreateRole", "arn:aws:iam::123456789012:role/app-dev-pr-*",
                       Condition={"StringEquals": {"iam:PermissionsBoundary": BOUNDARY}})


def test_string_equals_needs_the_key_present_and_equal() -> None:
    policies = [doc(BOUNDED_CREATE)]
    with_boundary = AuthzRequest("iam:CreateRole", (ROLE,), {"iam:PermissionsBoundary": [BOUNDARY]})
    assert evaluate(policies, None, with_boundary).allowed
    assert not evaluate(policies, None, AuthzRequest("iam:CreateRole", (ROLE,), {})).allowed
    other = AuthzRequest("iam:CreateRole", (ROLE,), {"iam:PermissionsBoundary": [BOUNDARY + "-x"]})
    assert not evaluate(policies, None, other).allowed
    # Keys are case-insensitive, values (for StringEquals) are not.
    assert evaluate(policies, None, AuthzRequest("iam:CreateRole", (ROLE,), {"IAM:permissionsboundary": [BOUNDARY]})).allowed
    assert not evaluate(policies, None, AuthzRequest("iam:CreateRole", (ROLE,), {"iam:PermissionsBoundary": [BOUNDARY.upper()]})).allowed


def test_if_exists_passes_a_missing_key_only() -> None:
    policies = [doc(allow("iam:PassRole", ROLE, Condition={"StringEqualsIfExists": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}))]
    assert evaluate(policies, None, AuthzRequest("iam:PassRole", (ROLE,), {})).allowed
    assert evaluate(policies, None, AuthzRequest("iam:PassRole", (ROLE,), {"iam:PassedToService": ["ecs-tasks.amazonaws.com"]})).allowed
    assert not evaluate(policies, None, AuthzRequest("iam:PassRole", (ROLE,), {"iam:PassedToService": ["ec2.amazonaws.com"]})).allowed


def test_negated_operator_is_true_for_a_missing_key() -> None:
    guard = deny("ecs:CreateService", Condition={"ArnNotEquals": {"ecs:cluster": "arn:aws:ecs:eu-west-2:1:cluster/previews"}})
    policies = [doc(allow("ecs:*"), guard)]
    assert evaluate(policies, None, AuthzRequest("ecs:CreateService", ("*",), {"ecs:cluster": ["arn:aws:ecs:eu-west-2:1:cluster/previews"]})).allowed
    assert not evaluate(policies, None, AuthzRequest("ecs:CreateService", ("*",), {"ecs:cluster": ["arn:aws:ecs:eu-west-2:1:cluster/prod"]})).allowed
    assert not evaluate(policies, None, AuthzRequest("ecs:CreateService", ("*",), {})).allowed


def test_for_all_values_and_for_any_value() -> None:
    only_known_tags = [doc(allow("ec2:CreateTags", Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["Name", "Stack"]}}))]
    assert evaluate(only_known_tags, None, AuthzRequest("ec2:CreateTags", ("*",), {"aws:TagKeys": ["Name"]})).allowed
    assert not evaluate(only_known_tags, None, AuthzRequest("ec2:CreateTags", ("*",), {"aws:TagKeys": ["Name", "Owner"]})).allowed
    # ForAllValues is (vacuously) true for a request without the key: the classic trap, as AWS has it.
    assert evaluate(only_known_tags, None, AuthzRequest("ec2:CreateTags", ("*",), {})).allowed
    needs_stack = [doc(allow("ec2:CreateTags", Condition={"ForAnyValue:StringEquals": {"aws:TagKeys": "Stack"}}))]
    assert evaluate(needs_stack, None, AuthzRequest("ec2:CreateTags", ("*",), {"aws:TagKeys": ["Name", "Stack"]})).allowed
    assert not evaluate(needs_stack, None, AuthzRequest("ec2:CreateTags", ("*",), {})).allowed


def test_like_arn_bool_null_and_numeric_operators() -> None:
    def allowed(condition: dict[str, Any], context: dict[str, list[str]]) -> bool:
        return evaluate([doc(allow("s3:ListBucket", Condition=condition))], None, AuthzRequest("s3:ListBucket", ("*",), context)).allowed

    assert allowed({"StringLike": {"s3:prefix": ["preview/*"]}}, {"s3:prefix": ["preview/pr-1"]})
    assert not allowed({"StringLike": {"s3:prefix": ["preview/*"]}}, {"s3:prefix": ["shared/x"]})
    assert allowed({"ArnLike": {"aws:SourceArn": "arn:aws:ecs:*:1:cluster/*"}}, {"aws:SourceArn": ["arn:aws:ecs:eu-west-2:1:cluster/c"]})
    assert not allowed({"ArnLike": {"aws:SourceArn": "arn:aws:ecs:*:1:cluster/*"}}, {"aws:SourceArn": ["arn:aws:ecs:eu-west-2:2:cluster/c"]})
    assert allowed({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": ["true"]})
    assert not allowed({"Bool": {"aws:SecureTransport": False}}, {"aws:SecureTransport": ["true"]})
    assert allowed({"Null": {"aws:RequestTag/Stack": "true"}}, {})
    assert not allowed({"Null": {"aws:RequestTag/Stack": "false"}}, {})
    assert allowed({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": ["7"]})
    assert not allowed({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": ["70"]})
    # Several keys and operators are ANDed; several values of one key are ORed.
    both = {"StringEquals": {"aws:RequestTag/Stack": ["pr-1", "pr-2"]}, "Bool": {"aws:SecureTransport": "true"}}
    assert allowed(both, {"aws:RequestTag/Stack": ["pr-2"], "aws:SecureTransport": ["true"]})
    assert not allowed(both, {"aws:RequestTag/Stack": ["pr-2"], "aws:SecureTransport": ["false"]})


def test_unknown_operator_is_an_error_not_a_silent_match() -> None:
    with pytest.raises(PolicyError):
        evaluate([doc(allow("s3:*", Condition={"StringSortOf": {"a": "b"}}))], None, ask("s3:ListBucket"))


def test_trust_policy_of_a_web_identity_role() -> None:
    provider = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    trust = doc({"Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity",
                 "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                                                "token.actions.githubusercontent.com:sub": "repo:o/r:ref:refs/heads/main"}}})
    main = {"token.actions.githubusercontent.com:aud": ["sts.amazonaws.com"],
            "token.actions.githubusercontent.com:sub": ["repo:o/r:ref:refs/heads/main"]}
    pull = {**main, "token.actions.githubusercontent.com:sub": ["repo:o/r:pull_request"]}
    assert trust_allows(trust, "sts:AssumeRoleWithWebIdentity", {"Federated": provider}, main)
    assert not trust_allows(trust, "sts:AssumeRoleWithWebIdentity", {"Federated": provider}, pull)
    assert not trust_allows(trust, "sts:AssumeRoleWithWebIdentity", {"Federated": provider + "x"}, main)


def test_policy_size_does_not_count_whitespace() -> None:
    assert policy_size('{ "Version" :\n "2012-10-17" }') == len('{"Version":"2012-10-17"}')


def test_glob_matches_whole_value() -> None:
    assert glob_match("a*c", "abbc") and not glob_match("a*c", "abbcd") and glob_match("a?c", "abc")
