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
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.harness import iam_gate as gating
from tests.harness.ecr_bridge import EcrBridge
from tests.harness.faults import Faults
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

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: moto keeps its own request log."""

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
        self.send_response_only(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _forward(self) -> None:
        body = self._read_body()
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
            refusal = self.iam_gate.check(self.command, self.path, dict(self.headers.items()), body)
            if refusal is not None:
                self._answer(*refusal)
                return
        if self.ecr_bridge is not None:
            self.ecr_bridge.before(target)
        self._relay(body)
        if self.ecr_bridge is not None:
            self.ecr_bridge.after(target, body)

    def _relay(self, body: bytes) -> None:
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
            if self.iam_gate is not None:
                self.iam_gate.observe(self.command, self.path, dict(self.headers.items()), body, resp.status, data)
            if ecs_operation and resp.status == 200:
                data = self.ecs_memory.rewrite(ecs_operation, data)
            data = settled(self.command, self.path, data)
            self.send_response_only(resp.status, resp.reason)
            for key, value in resp.getheaders():
                if key.lower() not in _HOP_BY_HOP:
                    self.send_header(key, value)
            if self.command == "HEAD":
                upstream_length = resp.getheader("Content-Length")
                if upstream_length is not None:
                    self.send_header("Content-Length", upstream_length)
            else:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        finally:
            conn.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _forward


class FidelityProxy:
    """Runs the proxy on a free loopback port in a daemon thread."""

    def __init__(self, upstream_port: int, host: str = "127.0.0.1", region: str = "eu-west-2",
                 gate: gating.IamGate | None = None, registries: list[tuple[str, str]] | None = None) -> None:
        self.faults = Faults()
        self.iam_gate = gate
        self.ecs_memory = EcsServiceMemory()
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
