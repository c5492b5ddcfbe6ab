"""Deploy-role sessions for tests, obtained the way a workflow obtains them: AssumeRoleWithWebIdentity
through the proxy, with a token shaped like GitHub's (and the fake GitHub's). The gate then knows the
session and checks every call made with it.

    session = role_session(aws, preview_role_arn, "repo:acme/shop:pull_request")
    session.client("ecs").update_service(...)        # AccessDenied, as AWS would answer
    assert denials(aws)[-1]["action"] == "ecs:UpdateService"
"""

from __future__ import annotations

import base64
import json
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.harness.emulated_aws import EmulatedAws

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"


def github_token(sub: str | None, audience: str = AUDIENCE, **claims: Any) -> str:
    """An unsigned JWT with GitHub's claims (`iss`, `aud`, `sub`, plus `claims`); the gate reads, never verifies."""

    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    payload: dict[str, Any] = {"iss": GITHUB_ISSUER, "aud": audience, "iat": int(time.time()), **claims}
    if sub is not None:
        payload["sub"] = sub
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(payload)}.unsigned"


def role_session(aws: EmulatedAws, role_arn: str, sub: str | None, session_name: str = "test-session",
                 audience: str = AUDIENCE) -> Any:
    """A boto3 Session with `role_arn`'s credentials, assumed through the proxy with an OIDC `sub`.

    Raises botocore's ClientError (AccessDenied) when the role's trust policy refuses the token.
    """
    import boto3

    sts = boto3.client("sts", region_name=aws.region, endpoint_url=aws.endpoint,
                       aws_access_key_id="unused", aws_secret_access_key="unused")
    creds = sts.assume_role_with_web_identity(
        RoleArn=role_arn, RoleSessionName=session_name, WebIdentityToken=github_token(sub, audience),
    )["Credentials"]
    return _Session(boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=aws.region,
    ), aws.endpoint)


class _Session:
    """A boto3 Session whose clients talk to the emulator's proxy unless told otherwise."""

    def __init__(self, session: Any, endpoint: str) -> None:
        self.boto3_session = session
        self.endpoint = endpoint

    def client(self, service: str, **kwargs: Any) -> Any:
        kwargs.setdefault("endpoint_url", self.endpoint)
        return self.boto3_session.client(service, **kwargs)

    def credentials(self) -> Any:
        return self.boto3_session.get_credentials()


def denials(aws: EmulatedAws) -> list[dict[str, Any]]:
    """Every refusal (or, in `report` mode, would-be refusal) the gate logged, oldest first."""
    if not aws.iam_gate_log.exists():
        return []
    return [json.loads(line) for line in aws.iam_gate_log.read_text(encoding="utf-8").splitlines() if line.strip()]
