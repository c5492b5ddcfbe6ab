"""Fault injection for the emulator proxy: make chosen AWS calls fail, to prove what a user sees
when a run breaks midway (e.g. a teardown that stops half done and a retry that finishes it).

Control, on the proxy's own port (never forwarded to moto):
    POST   /_harness/faults  {"match": "Action=DeleteTargetGroup", "times": 1000,
                              "status": 403, "code": "AccessDenied", "message": "..."}
    DELETE /_harness/faults  clears every rule
A rule matches when `match` occurs in "<X-Amz-Target> <path> <body>" of a request. Errors are
4xx client errors, which the SDKs and the terraform provider do not retry.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from xml.sax.saxutils import escape


@dataclass
class Fault:
    match: str
    times: int
    status: int
    code: str
    message: str


class Faults:
    def __init__(self) -> None:
        self._rules: list[Fault] = []
        self._lock = threading.Lock()

    def control(self, method: str, body: bytes) -> tuple[int, bytes]:
        with self._lock:
            if method == "DELETE":
                self._rules.clear()
                return 200, b'{"rules": 0}'
            if method == "POST":
                spec = json.loads(body or b"{}")
                self._rules.append(Fault(
                    match=str(spec["match"]),
                    times=int(spec.get("times", 1)),
                    status=int(spec.get("status", 403)),
                    code=str(spec.get("code", "AccessDenied")),
                    message=str(spec.get("message", "injected by the test harness")),
                ))
                return 200, json.dumps({"rules": len(self._rules)}).encode()
            return 405, b'{"error": "POST or DELETE"}'

    def match(self, target: str, path: str, body: bytes) -> tuple[int, str, bytes] | None:
        """(status, content type, body) of the error to answer instead, or None to forward."""
        haystack = f"{target} {path} ".encode() + body
        with self._lock:
            for rule in self._rules:
                if rule.times > 0 and rule.match.encode() in haystack:
                    rule.times -= 1
                    return self._error(rule, json_protocol=bool(target))
        return None

    @staticmethod
    def _error(rule: Fault, json_protocol: bool) -> tuple[int, str, bytes]:
        if json_protocol:
            payload = json.dumps({"__type": rule.code, "message": rule.message}).encode()
            return rule.status, "application/x-amz-json-1.1", payload
        xml = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{escape(rule.code)}</Code><Message>{escape(rule.message)}</Message>"
            "</Error><RequestId>harness-fault</RequestId></ErrorResponse>"
        )
        return rule.status, "text/xml", xml.encode()
