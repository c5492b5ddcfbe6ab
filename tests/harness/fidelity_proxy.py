"""A transparent HTTP proxy in front of moto that closes fidelity gaps, so that a test of the
shipped terraform and binary tests them and not the emulator; it also injects faults on request
(`tests.harness.faults`). Every other request passes through byte for byte.

1. Route53 private zones. AWS (and the terraform provider) make a hosted zone private by
   sending a `VPC` element in CreateHostedZone; moto only does so when
   `HostedZoneConfig.PrivateZone` is also true. Without the fix a terraform-made `myorg.local`
   zone reads back public with no VPC association.
2. ECR's API and registry are one store (`tests.harness.ecr_bridge`).
3. ECS service settings. moto's service model drops deploymentConfiguration (circuit breaker,
   min/max percent), capacityProviderStrategy, placement strategies, the health check grace
   period and the managed-tags flag, and returns `networkConfiguration: {}` for bridge
   services, on which the AWS provider 5.100 crashes (nil awsvpcConfiguration). The proxy
   remembers those request fields per service and returns them as ECS does, and drops the
   empty networkConfiguration, which ECS omits.
4. Lost answers. Each answer goes out in one write, and a retry of a change already answered gets
   that answer again instead of being carried out twice (`tests.harness.answered_calls`).

Every request is logged as a JSON line (`tests.harness.request_log`).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.harness import iam_gate as gating
from tests.harness.answered_calls import Answer, AnsweredCalls, invocation_of
from tests.harness.ecr_bridge import EcrBridge
from tests.harness.faults import Faults
from tests.harness.request_log import RequestLog, operation
from tests.harness.settle import settled

_CREATE_ZONE_PATH = re.compile(r"^/2013-04-01/hostedzone/?(\?.*)?$")
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "content-length",
}


def mark_private_zone(body: bytes) -> bytes:
    """Return a CreateHostedZone body that also says PrivateZone=true when it names a VPC."""
    if b"<VPC>" not in body or b"<PrivateZone>" in body:
        return body
    if b"</HostedZoneConfig>" in body:
        return body.replace(b"</HostedZoneConfig>", b"<PrivateZone>true</PrivateZone></HostedZoneConfig>", 1)
    return body.replace(
        b"</CreateHostedZoneRequest>",
        b"<HostedZoneConfig><PrivateZone>true</PrivateZone></HostedZoneConfig></CreateHostedZoneRequest>",
        1,
    )


_ECS_TARGET = "AmazonEC2ContainerServiceV20141113."
# Fields of CreateService/UpdateService that moto accepts but neither stores nor returns.
ECS_SERVICE_FIELDS = (
    "deploymentConfiguration",
    "capacityProviderStrategy",
    "placementStrategy",
    "placementConstraints",
    "healthCheckGracePeriodSeconds",
    "enableECSManagedTags",
    "enableExecuteCommand",
    "availabilityZoneRebalancing",
)
# ECS returns these for every service, set or not.
_ECS_DEFAULTS: dict[str, Any] = {
    "deploymentConfiguration": {
        "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
    },
    "placementStrategy": [],
    "placementConstraints": [],
    "enableECSManagedTags": False,
    "enableExecuteCommand": False,
    "availabilityZoneRebalancing": "DISABLED",
}


def _last(name_or_arn: str) -> str:
    return name_or_arn.rsplit("/", 1)[-1]


class EcsServiceMemory:
    """Service settings moto drops, keyed by (cluster name, service name)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._settings: dict[tuple[str, str], dict[str, Any]] = {}

    def clear(self) -> None:
        with self._lock:
            self._settings.clear()

    def remember(self, operation: str, request: dict[str, Any]) -> None:
        extra = {k: request[k] for k in ECS_SERVICE_FIELDS if k in request}
        cluster = _last(str(request.get("cluster") or "default"))
        if operation == "CreateService":
            key = (cluster, str(request.get("serviceName", "")))
            with self._lock:
                self._settings[key] = {**json.loads(json.dumps(_ECS_DEFAULTS)), **extra}
        elif operation == "UpdateService" and extra:
            key = (cluster, _last(str(request.get("service", ""))))
            with self._lock:
                self._settings.setdefault(key, json.loads(json.dumps(_ECS_DEFAULTS))).update(extra)

    def complete(self, service: dict[str, Any]) -> None:
        network = service.get("networkConfiguration")
        if isinstance(network, dict) and not network.get("awsvpcConfiguration"):
            del service["networkConfiguration"]
        key = (_last(str(service.get("clusterArn", "default"))), str(service.get("serviceName", "")))
        with self._lock:
            extra = self._settings.get(key)
        if extra:
            for field, value in extra.items():
                service.setdefault(field, value)
            if extra.get("capacityProviderStrategy"):
                # ECS reports no launch type for a service placed by capacity providers.
                service.pop("launchType", None)

    def rewrite(self, operation: str, body: bytes) -> bytes:
        try:
            doc = json.loads(body)
        except ValueError:
            return body
        services = ([doc["service"]] if isinstance(doc.get("service"), dict) else []) + [
            s for s in doc.get("services", []) if isinstance(s, dict)
        ]
        for service in services:
            self.complete(service)
        return json.dumps(doc).encode() if services else body


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream: tuple[str, int] = ("127.0.0.1", 0)
    ecs_memory: EcsServiceMemory
    ecr_bridge: EcrBridge | None = None
    faults: Faults | None = None
    iam_gate: gating.IamGate | None = None
    request_log: RequestLog = RequestLog(None)
    answered_calls: AnsweredCalls = AnsweredCalls()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: `request_log` keeps the proxy's record."""

    def handle(self) -> None:
        self.request_log.record(client=self.client_address[1], event="open")
        try:
            super().handle()
        finally:
            self.request_log.record(client=self.client_address[1], event="close")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # The code only: the message may quote the request line, and with it a query string.
        self.request_log.record(client=self.client_address[1], event="send_error", code=code)
        super().send_error(code, message, explain)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # Trailers end at an empty line.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(self, status: int, content_type: str, data: bytes) -> None:
        self._send(Answer(status, "", (("Content-Type", content_type), ("Content-Length", str(len(data)))), data))

    def _forward(self) -> None:
        self._started = time.monotonic()
        self._status = 0
        self._replayed = False
        self._body = b""
        self._headers = dict(self.headers.items())
        self._op = ""
        try:
            self._body = self._read_body()
            self._op = operation(self.command, self.path, self.headers.get("X-Amz-Target", ""), self._body)
            self._answer_request(self._body)
        except Exception as error:
            self._record(error)
            raise

    def _record(self, failure: Exception | None = None) -> None:
        invocation, attempt = invocation_of(self._headers)
        fields: dict[str, object] = {
            "client": self.client_address[1],
            "op": self._op,
            "status": self._status,
            "ms": round((time.monotonic() - self._started) * 1000),
            "invocation": invocation,
            "attempt": attempt,
            "body": hashlib.sha1(self._body).hexdigest()[:12],
        }
        if self._replayed:
            fields["replayed"] = True
        if failure is not None:
            fields["error"] = repr(failure)
            fields["trace"] = "".join(traceback.format_exception(failure, limit=6))
        self.request_log.record(**fields)

    def _answer_request(self, body: bytes) -> None:
        target = self.headers.get("X-Amz-Target", "")
        if self.faults is not None:
            if self.path.startswith("/_harness/faults"):
                status, data = self.faults.control(self.command, body)
                self._answer(status, "application/json", data)
                return
            fault = self.faults.match(target, self.path, body)
            if fault is not None:
                self._answer(*fault)
                return
        if self.iam_gate is not None:
            refusal = self.iam_gate.check(self.command, self.path, self._headers, body)
            if refusal is not None:
                self._answer(*refusal)
                return
        replay = self.answered_calls.replay(self._headers)
        if replay is not None:
            self._replayed = True
            self._send(replay)
            return
        if self.ecr_bridge is not None:
            self.ecr_bridge.before(target)
        answer = self._relay(body)
        self.answered_calls.remember(self._headers, self._op, answer)
        self._send(answer)
        if self.ecr_bridge is not None:
            self.ecr_bridge.after(target, body)

    def _relay(self, body: bytes) -> Answer:
        """moto's answer to this request, with the fidelity fixes applied."""
        if self.command == "POST" and _CREATE_ZONE_PATH.match(self.path):
            body = mark_private_zone(body)
        target = self.headers.get("X-Amz-Target", "")
        ecs_operation = target[len(_ECS_TARGET):] if target.startswith(_ECS_TARGET) else ""
        if ecs_operation in ("CreateService", "UpdateService"):
            try:
                self.ecs_memory.remember(ecs_operation, json.loads(body or b"{}"))
            except ValueError:
                pass
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(body))
        conn = http.client.HTTPConnection(*self.upstream, timeout=300)
        try:
            conn.request(self.command, self.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        if self.iam_gate is not None:
            self.iam_gate.observe(self.command, self.path, self._headers, body, resp.status, data)
        if ecs_operation and resp.status == 200:
            data = self.ecs_memory.rewrite(ecs_operation, data)
        data = settled(self.command, self.path, data)
        answer_headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP_BY_HOP]
        if self.command == "HEAD":
            upstream_length = resp.getheader("Content-Length")
            if upstream_length is not None:
                answer_headers.append(("Content-Length", upstream_length))
            data = b""
        else:
            answer_headers.append(("Content-Length", str(len(data))))
        return Answer(resp.status, resp.reason, tuple(answer_headers), data)

    def _send(self, answer: Answer) -> None:
        """Write the status line, the headers and the body in one write. A client that receives the
        headers alone may give up the connection before the body follows (see `answered_calls`)."""
        self._status = answer.status
        # Logged before the answer leaves, so that whoever reads the log after an answer finds its line.
        self._record()
        reason = answer.reason or self.responses.get(answer.status, ("",))[0]
        head = [f"{self.protocol_version} {answer.status} {reason}\r\n"]
        head += [f"{key}: {value}\r\n" for key, value in answer.headers]
        head.append("\r\n")
        self.wfile.write("".join(head).encode("latin-1", "strict") + answer.data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _forward


class FidelityProxy:
    """Runs the proxy on a free loopback port in a daemon thread."""

    def __init__(self, upstream_port: int, host: str = "127.0.0.1", region: str = "eu-west-2",
                 gate: gating.IamGate | None = None, registries: list[tuple[str, str]] | None = None,
                 request_log: Path | None = None) -> None:
        self.faults = Faults()
        self.iam_gate = gate
        self.ecs_memory = EcsServiceMemory()
        self.answered_calls = AnsweredCalls()
        bridge = EcrBridge(f"http://127.0.0.1:{upstream_port}", region, registries)
        handler = type(
            "BoundHandler",
            (_Handler,),
            {
                "upstream": ("127.0.0.1", upstream_port),
                "ecr_bridge": bridge,
                "faults": self.faults,
                "ecs_memory": self.ecs_memory,
                "iam_gate": gate,
                "request_log": RequestLog(request_log),
                "answered_calls": self.answered_calls,
            },
        )
        self._server = ThreadingHTTPServer((host, 0), handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="fidelity-proxy", daemon=True)

    def start(self) -> FidelityProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
