"""The proxy's answers to calls that change something, kept by the SDK's invocation id, so that a
retry of a call moto already carried out gets the first attempt's answer instead of being carried
out twice.

Every AWS SDK (Go, Rust, Python) marks each attempt with `amz-sdk-invocation-id` (the same on every
attempt of one call) and `amz-sdk-request: attempt=N; max=M`. A retry of a call the proxy already
answered with success means that the client lost that answer. On this 2-core machine, loaded by
terraform, moto and the proxy's own threads, the AWS provider has been seen to do so now and then:
it drops a keep-alive connection with an answer in flight and sends the call again. moto then runs
a create twice: `CreatePolicy` fails with `409 EntityAlreadyExists`, and `CreateLoadBalancer`
silently makes a second load balancer of the same name, which nothing tracks or destroys. AWS
itself seldom loses an answer. When it does, a retried create meets the same 409, which is why
the provider's own retries cannot be trusted to hide this.

Replaying is what a server does for an idempotent retry: the client gets the answer it missed, and
the emulated account holds one resource, as it would on AWS. Reads are not kept: a repeated read
is harmless. Every replay is logged in the request log (`replayed: true`).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

_ATTEMPT = re.compile(r"attempt=(\d+)")
_READ_ONLY = ("Get", "List", "Describe", "Head", "GET ", "HEAD ")


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    data: bytes


def invocation_of(headers: Mapping[str, str]) -> tuple[str, int]:
    """The call's invocation id ('' when the client sent none) and this attempt's number (1 if unsaid)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    found = _ATTEMPT.search(lowered.get("amz-sdk-request", ""))
    return lowered.get("amz-sdk-invocation-id", ""), int(found.group(1)) if found else 1


def changes_something(operation: str) -> bool:
    return not operation.startswith(_READ_ONLY)


class AnsweredCalls:
    """The last `capacity` successful answers to calls that change something (oldest dropped first)."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._answers: OrderedDict[str, Answer] = OrderedDict()
        self._lock = threading.Lock()

    def replay(self, headers: Mapping[str, str]) -> Answer | None:
        """The answer already given to this call, if this request is a retry of a call answered with success."""
        invocation, attempt = invocation_of(headers)
        if not invocation or attempt < 2:
            return None
        with self._lock:
            return self._answers.get(invocation)

    def remember(self, headers: Mapping[str, str], operation: str, answer: Answer) -> None:
        invocation, _attempt = invocation_of(headers)
        if not invocation or not 200 <= answer.status < 300 or not changes_something(operation):
            return
        with self._lock:
            self._answers[invocation] = answer
            self._answers.move_to_end(invocation)
            while len(self._answers) > self.capacity:
                self._answers.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()
