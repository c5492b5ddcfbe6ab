"""Emulated changes answered as already settled, so that clients do not sit out waits that only
exist on AWS.

moto applies every change before it answers. Route 53 nevertheless returns a `ChangeInfo` for
each change (CreateHostedZone, ChangeResourceRecordSets, AssociateVPCWithHostedZone, ...), and
the AWS provider waits on any ChangeInfo it gets: 15 s before its first GetChange, even when the
answer already says INSYNC. On AWS that wait is real (a change takes seconds to reach every
Route 53 server); against the emulator it is idle time on the critical path of every stack that
holds a DNS record. The proxy therefore removes `ChangeInfo` from the answers to Route 53 changes:
a client finds no change to wait for, exactly as if it had already propagated. GetChange is left
alone and still answers INSYNC for any id.

Everything else the provider waits on is its own fixed delay (the load balancer: 30 s before each
of its two status checks, the S3 lifecycle rule: ten consecutive reads 5 s apart, a VPC attribute:
10 s), which no answer can shorten; tests/harness/README.md lists them with their cost.
"""

from __future__ import annotations

import re

_ROUTE53_API = "/2013-04-01/"
_CHANGE_INFO = re.compile(rb"\s*<ChangeInfo>.*?</ChangeInfo>", re.DOTALL)


def is_route53_change(method: str, path: str) -> bool:
    """True for the Route 53 calls that submit a change (POST/DELETE under /2013-04-01/, except GetChange)."""
    return method in ("POST", "DELETE") and path.startswith(_ROUTE53_API)


def settled(method: str, path: str, body: bytes) -> bytes:
    """The answer to `method path`, with any pending-change handle of a Route 53 change removed."""
    if not is_route53_change(method, path) or b"<ChangeInfo>" not in body:
        return body
    return _CHANGE_INFO.sub(b"", body)
