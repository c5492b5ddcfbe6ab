"""Existing EC2 resources' tags as condition keys (`ec2:ResourceTag/<key>`, `aws:ResourceTag/<key>`).

AWS evaluates a policy once per resource of a request, each time with that resource's own tags. A
question about several EC2 resources is therefore split into one question per resource, each with the
tags the emulator holds for it (read with administrator credentials, bypassing the gate). A resource
being created has no tags yet, and so no `ResourceTag` key, as in AWS; its request tags
(`aws:RequestTag/...`) are already in the question's context.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from tests.harness.iam_gate.policy import AuthzRequest

# arn:aws:ec2:REGION:ACCOUNT:TYPE/ID with a concrete ID (not a `*` pattern, not an AMI of no account).
_EC2_RESOURCE = re.compile(r"^arn:[^:]+:ec2:[^:]*:[0-9]{12}:[a-z-]+/([A-Za-z0-9-]+)$")

TagReader = Callable[[str], Mapping[str, str]]


def resource_id(arn: str) -> str | None:
    """The EC2 resource ID of a concrete EC2 ARN, else None."""
    found = _EC2_RESOURCE.match(arn)
    return found.group(1) if found else None


def with_resource_tags(asked: Iterable[AuthzRequest], tags_of: TagReader) -> list[AuthzRequest]:
    """`asked`, with each question about EC2 resources split per resource and given its tags."""
    out: list[AuthzRequest] = []
    for question in asked:
        ids = [resource_id(arn) for arn in question.resources]
        if question.action_only or not any(ids):
            out.append(question)
            continue
        for arn, ident in zip(question.resources, ids, strict=True):
            context = {k: list(v) for k, v in question.context.items()}
            for key, value in (tags_of(ident) if ident else {}).items():
                context[f"ec2:ResourceTag/{key}"] = [value]
                context[f"aws:ResourceTag/{key}"] = [value]
            out.append(AuthzRequest(question.action, (arn,), context, question.action_only))
    return out
