#!/usr/bin/env python3
"""A scripted AWS STS endpoint for what moto cannot play: throttling, then success; or a
trust-policy refusal. Real HTTP on loopback, AWS query protocol.

`--port 0` picks a free port; the first stdout line is `READY <port>`.

  POST /                  Action=AssumeRoleWithWebIdentity: answers `Throttling` (HTTP 400) for the
                          first N calls (N from /_fake/script), then temporary credentials.
                          A RoleArn ending in `/denied` is refused with AccessDenied (HTTP 403).
                          With {"idp_unreachable": M} the M calls after those answer
                          `IDPCommunicationError` (HTTP 400): STS could not reach the OIDC provider.
                          With {"expires_in": S} each session expires S seconds after it is issued
                          and has its own access key (ASIAFAKESTSRENEW0001, ...), as a short
                          role session would; otherwise one key that expires in 2099.
  POST /                  Action=GetCallerIdentity: the caller, recording the access key the request was
                          signed with (`key`), to tell which session a signed call used.
  POST /_fake/script      {"throttle": N, "idp_unreachable": M, "expires_in": S}  (resets the call log)
  GET  /_fake/state       {"calls": [{"action", "role_arn", "session_name", "duration", "answer"}]}
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

NS = "https://sts.amazonaws.com/doc/2011-06-15/"

SUCCESS = """<AssumeRoleWithWebIdentityResponse xmlns="{ns}">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <AccessKeyId>{key}</AccessKeyId>
      <SecretAccessKey>fake-sts-secret-access-key-0123456789abcdef</SecretAccessKey>
      <SessionToken>fake-sts-session-token-0123456789abcdef0123456789</SessionToken>
      <Expiration>{expiration}</Expiration>
    </Credentials>
    <SubjectFromWebIdentityToken>repo:acme/shop:pull_request</SubjectFromWebIdentityToken>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/deploy/{session}</Arn>
      <AssumedRoleId>AROAFAKE:{session}</AssumedRoleId>
    </AssumedRoleUser>
    <Provider>token.actions.githubusercontent.com</Provider>
    <Audience>sts.amazonaws.com</Audience>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>fake-request</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
"""


CALLER = """<GetCallerIdentityResponse xmlns="{ns}">
  <GetCallerIdentityResult>
    <Arn>arn:aws:sts::123456789012:assumed-role/deploy/caller</Arn>
    <UserId>AROAFAKE:caller</UserId>
    <Account>123456789012</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>fake-request</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>
"""
# `Credential=<access key>/<date>/<region>/sts/aws4_request` in a SigV4 Authorization header.
SIGNED_BY = re.compile(r"Credential=([A-Z0-9]+)/")


def error(code: str, message: str) -> str:
    return (
        f'<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>fake-request</RequestId></ErrorResponse>"
    )


class State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.throttle = 0
        self.idp_unreachable = 0
        self.expires_in = 0
        self.calls: list[dict[str, Any]] = []

    def success(self, session: str) -> str:
        """Temporary credentials, numbered and short-lived when a lifetime is scripted."""
        if self.expires_in:
            issued = sum(1 for c in self.calls if c["answer"] == "ok") + 1
            key = f"ASIAFAKESTSRENEW{issued:04d}"
            expires = datetime.now(UTC) + timedelta(seconds=self.expires_in)
            expiration = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            key, expiration = "ASIAFAKESTSFAKESTS01", "2099-01-01T00:00:00Z"
        return SUCCESS.format(ns=NS, key=key, expiration=expiration, session=session)


def make_handler(state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: Any) -> None:
            pass

        def reply(self, status: int, body: str, content_type: str = "text/xml") -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def body(self) -> bytes:
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def do_GET(self) -> None:
            if self.path == "/_fake/state":
                with state.lock:
                    return self.reply(200, json.dumps({"calls": state.calls}), "application/json")
            self.reply(404, error("NotFound", "no such path"))

        def do_POST(self) -> None:
            raw = self.body()
            if self.path == "/_fake/script":
                script = json.loads(raw or b"{}")
                with state.lock:
                    state.throttle = int(script.get("throttle", 0))
                    state.idp_unreachable = int(script.get("idp_unreachable", 0))
                    state.expires_in = int(script.get("expires_in", 0))
                    state.calls = []
                return self.reply(200, "{}", "application/json")
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            call = {
                "action": form.get("Action", ""),
                "role_arn": form.get("RoleArn", ""),
                "session_name": form.get("RoleSessionName", ""),
                "duration": form.get("DurationSeconds", ""),
            }
            with state.lock:
                if call["action"] == "GetCallerIdentity":
                    signed = SIGNED_BY.search(self.headers.get("Authorization", ""))
                    call["key"] = signed.group(1) if signed else ""
                    status, body, call["answer"] = 200, CALLER.format(ns=NS), "identity"
                elif call["action"] != "AssumeRoleWithWebIdentity":
                    status, body, call["answer"] = (
                        400,
                        error("InvalidAction", "only AssumeRoleWithWebIdentity"),
                        "invalid",
                    )
                elif call["role_arn"].endswith("/denied"):
                    status, body, call["answer"] = (
                        403,
                        error("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"),
                        "denied",
                    )
                elif sum(1 for c in state.calls if c["answer"] == "throttled") < state.throttle:
                    status, body, call["answer"] = 400, error("Throttling", "Rate exceeded"), "throttled"
                elif sum(1 for c in state.calls if c["answer"] == "idp-unreachable") < state.idp_unreachable:
                    status, body, call["answer"] = (
                        400,
                        error(
                            "IDPCommunicationError", "Couldn't retrieve verification key from your identity provider"
                        ),
                        "idp-unreachable",
                    )
                else:
                    status, body, call["answer"] = 200, state.success(call["session_name"]), "ok"
                state.calls.append(call)
            self.reply(status, body)

    return Handler


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--host", default="127.0.0.1")
    args = p.parse_args(argv)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(State()))
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
