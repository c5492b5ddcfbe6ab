"""A retry of a call the emulator already carried out is answered as the first attempt was, once per
resource; a new call is carried out as usual. The retry is made by boto3's own retry machinery, with the
invocation id and attempt header every SDK sends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from tests.harness.answered_calls import Answer, AnsweredCalls, changes_something, invocation_of
from tests.harness.emulated_aws import EmulatedAws

POLICY = json.dumps({"Version": "2012-10-17",
                     "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})


@pytest.fixture(scope="module")
def emulated() -> Iterator[EmulatedAws]:
    with EmulatedAws(iam_gate="enforce") as aws:
        yield aws


@pytest.fixture()
def aws(emulated: EmulatedAws) -> EmulatedAws:
    emulated.reset()
    emulated.proxy_log.write_text("")
    return emulated


def retrying_once(client: Any, operation: str) -> list[int]:
    """Make `client` send `operation` a second time after its first success, as if the answer had been
    lost; return the status of each attempt it received."""
    statuses: list[int] = []

    def retry_after_first_success(response: Any, attempts: int, **_: Any) -> float | None:
        if response is None:
            return None
        statuses.append(response[0].status_code)
        return 0.0 if attempts == 1 else None

    client.meta.events.register_first(f"needs-retry.iam.{operation}", retry_after_first_success)
    return statuses


def log_lines(aws: EmulatedAws) -> list[dict[str, Any]]:
    return [json.loads(line) for line in aws.proxy_log.read_text().splitlines() if line.strip()]


def test_a_retried_create_gets_the_first_answer_and_makes_one_policy(aws: EmulatedAws) -> None:
    iam = aws.client("iam")
    statuses = retrying_once(iam, "CreatePolicy")

    created = iam.create_policy(PolicyName="once", PolicyDocument=POLICY)["Policy"]

    assert statuses == [200, 200]
    assert created["Arn"].endswith(":policy/once")
    assert [p["PolicyId"] for p in iam.list_policies(Scope="Local")["Policies"]] == [created["PolicyId"]]
    creates = [line for line in log_lines(aws) if line.get("op") == "CreatePolicy"]
    assert [(line["attempt"], line.get("replayed", False)) for line in creates] == [(1, False), (2, True)]
    assert creates[0]["invocation"] == creates[1]["invocation"] != ""


def test_a_new_call_for_the_same_name_is_still_refused(aws: EmulatedAws) -> None:
    iam = aws.client("iam")
    iam.create_policy(PolicyName="twice", PolicyDocument=POLICY)

    with pytest.raises(botocore.exceptions.ClientError) as caught:
        iam.create_policy(PolicyName="twice", PolicyDocument=POLICY)

    assert caught.value.response["Error"]["Code"] == "EntityAlreadyExists"


def test_a_retried_read_is_answered_afresh(aws: EmulatedAws) -> None:
    iam = aws.client("iam")
    iam.create_policy(PolicyName="read", PolicyDocument=POLICY)
    retrying_once(iam, "ListPolicies")

    iam.list_policies(Scope="Local")

    lists = [line for line in log_lines(aws) if line.get("op") == "ListPolicies"]
    assert [(line["attempt"], line.get("replayed", False)) for line in lists] == [(1, False), (2, False)]


def answer(status: int = 200) -> Answer:
    return Answer(status, "OK", (("Content-Length", "2"),), b"{}")


def attempt(invocation: str, number: int) -> dict[str, str]:
    return {"amz-sdk-invocation-id": invocation, "amz-sdk-request": f"attempt={number}; max=3"}


def test_only_successful_changes_are_kept_and_only_retries_replay() -> None:
    calls = AnsweredCalls()
    calls.remember(attempt("a", 1), "CreatePolicy", answer())
    calls.remember(attempt("b", 1), "CreatePolicy", answer(409))
    calls.remember(attempt("c", 1), "DescribeVpcs", answer())
    calls.remember(attempt("d", 1), "GET /2013-04-01/hostedzone", answer())

    assert calls.replay(attempt("a", 2)) == answer()
    assert calls.replay(attempt("a", 1)) is None
    assert [calls.replay(attempt(i, 2)) for i in "bcd"] == [None, None, None]
    assert calls.replay({"amz-sdk-request": "attempt=2; max=3"}) is None


def test_the_oldest_answer_goes_first_when_full() -> None:
    calls = AnsweredCalls(capacity=2)
    for invocation in ("a", "b", "c"):
        calls.remember(attempt(invocation, 1), "CreateRole", answer())

    assert [calls.replay(attempt(i, 2)) is not None for i in "abc"] == [False, True, True]


def test_invocation_and_attempt_are_read_from_any_header_case() -> None:
    assert invocation_of({"Amz-Sdk-Invocation-Id": "x", "Amz-Sdk-Request": "attempt=3; max=25"}) == ("x", 3)
    assert invocation_of({}) == ("", 1)
    assert changes_something("PUT /bucket/key") and not changes_something("HEAD /bucket/key")
