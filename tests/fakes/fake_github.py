#!/usr/bin/env python3
"""A fake of the GitHub REST API subset ecs-poc uses, plus the Actions OIDC token endpoint.

Real HTTP on loopback. `--port 0` picks a free port; the first stdout line is `READY <port>`.

Served:
  GET    /user                                        -> the token's login (403 with --user-forbidden or
                                                         --app-slug, as GitHub answers an installation token)
  GET    /repos/{o}/{r}/issues/{n}/comments           -> paginated (per_page, page) with a `Link: rel="next"`
                                                         header while more pages follow, as GitHub pages
  POST   /repos/{o}/{r}/issues/{n}/comments           -> create (422 over 65,536 characters)
  GET    /repos/{o}/{r}/issues/comments/{id}
  PATCH  /repos/{o}/{r}/issues/comments/{id}          -> update (422 over 65,536 characters; 403 for a
                                                         comment another login wrote)
  GET    /repos/{o}/{r}/pulls/{n}                     -> the pull request's required fields and its state;
                                                         unknown numbers are open
  POST   /repos/{o}/{r}/deployments                   -> create (environment, ref, transient/production flags)
  GET    /repos/{o}/{r}/deployments?environment=..    -> newest first, paginated like the comments
  POST   /repos/{o}/{r}/deployments/{id}/statuses     -> add a status (404 for an unknown deployment)
  GET    /repos/{o}/{r}/deployments/{id}/statuses     -> newest first, paginated
                                                         (all four answer 403 "Resource not accessible by
                                                         integration" while deployments are forbidden)
  GET    /oidc/token?audience=...                     -> {"value": "<jwt-like>"} for the right bearer
Test control (no auth):
  GET    /_fake/state    every comment, every deployment (with its `statuses` in order, oldest
                         first), every API call (method, path, status), OIDC audiences
  POST   /_fake/deployments {"forbidden": true} (a token without `deployments: write`)
  POST   /_fake/pulls    {"number": 1, "state": "closed"}
  POST   /_fake/comments {"issue": 1, "login": "someone", "body": "..."} (a comment by another user)
  POST   /_fake/outage {"status": 502, "count": 2} (the next `count` API calls answer `status`)
  POST   /_fake/reset
Users, comments and pull requests carry every field GitHub marks required, so a client that reads
them through typed models (octocrab's) parses them as it would GitHub's.
Tokens are checked but never recorded.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

COMMENT_LIMIT = 65_536


class State:
    def __init__(self, login: str, token: str, oidc_request_token: str, user_forbidden: bool) -> None:
        self.lock = threading.Lock()
        self.login = login
        self.token = token
        self.oidc_request_token = oidc_request_token
        self.user_forbidden = user_forbidden
        self.reset()

    def reset(self) -> None:
        self.comments: dict[int, dict[str, Any]] = {}
        self.next_id = 1000
        self.pulls: dict[int, str] = {}
        self.calls: list[dict[str, Any]] = []
        self.outage_status = 0
        self.outage_left = 0
        self.audiences: list[str] = []
        self.deployments: dict[int, dict[str, Any]] = {}
        self.deployments_forbidden = False

    def dump(self) -> dict[str, Any]:
        return {
            "comments": sorted(self.comments.values(), key=lambda c: c["id"]),
            "pulls": {str(k): v for k, v in self.pulls.items()},
            "calls": self.calls,
            "oidc_audiences": self.audiences,
            "deployments": sorted(self.deployments.values(), key=lambda d: d["id"]),
        }


def jwt_like(audience: str, subject: str = "") -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    claims: dict[str, Any] = {
        "aud": audience,
        "iss": "https://token.actions.githubusercontent.com",
        "iat": int(time.time()),
    }
    if subject:
        claims["sub"] = subject
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.fake-signature-{int(time.time() * 1000)}"


COMMENTS = re.compile(r"^/repos/([^/]+)/([^/]+)/issues/(\d+)/comments$")
COMMENT = re.compile(r"^/repos/([^/]+)/([^/]+)/issues/comments/(\d+)$")
PULL = re.compile(r"^/repos/([^/]+)/([^/]+)/pulls/(\d+)$")
DEPLOYMENTS = re.compile(r"^/repos/([^/]+)/([^/]+)/deployments$")
STATUSES = re.compile(r"^/repos/([^/]+)/([^/]+)/deployments/(\d+)/statuses$")
DEPLOYMENT_STATES = {"error", "failure", "inactive", "in_progress", "queued", "pending", "success"}


def make_handler(state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: Any) -> None:  # quiet: tests read /_fake/state
            pass

        def send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def read_json(self) -> Any:
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            return json.loads(raw) if raw else {}

        def authorized(self) -> bool:
            auth = self.headers.get("Authorization", "")
            for prefix in ("Bearer ", "token "):
                if auth.startswith(prefix) and auth[len(prefix) :] == state.token:
                    return True
            return False

        def record(self, path: str, status: int) -> None:
            state.calls.append({"method": self.command, "path": path, "status": status})

        def base_url(self) -> str:
            return f"http://{self.headers.get('Host', '127.0.0.1')}"

        def user_json(self, login: str) -> dict[str, Any]:
            api = f"{self.base_url()}/users/{login}"
            bot = login.endswith("[bot]")
            return {
                "login": login,
                "id": 41898282 if bot else 1000 + sum(login.encode()),
                "node_id": f"U_{login}",
                "avatar_url": f"https://avatars.githubusercontent.com/u/{login}",
                "gravatar_id": "",
                "url": api,
                "html_url": f"https://github.com/{login}",
                "followers_url": f"{api}/followers",
                "following_url": f"{api}/following",
                "gists_url": f"{api}/gists",
                "starred_url": f"{api}/starred",
                "subscriptions_url": f"{api}/subscriptions",
                "organizations_url": f"{api}/orgs",
                "repos_url": f"{api}/repos",
                "events_url": f"{api}/events",
                "received_events_url": f"{api}/received_events",
                "type": "Bot" if bot else "User",
                "site_admin": False,
            }

        def comment_json(self, c: dict[str, Any]) -> dict[str, Any]:
            base = self.base_url()
            return {
                "id": c["id"],
                "node_id": f"IC_{c['id']}",
                "url": f"{base}/repos/{c['repo']}/issues/comments/{c['id']}",
                "html_url": f"https://github.com/{c['repo']}/pull/{c['issue']}#issuecomment-{c['id']}",
                "body": c["body"],
                "user": self.user_json(c["login"]),
                "created_at": c["created_at"],
                "updated_at": c["updated_at"],
            }

        def route(self) -> None:
            url = urlparse(self.path)
            path, query = url.path, parse_qs(url.query)
            with state.lock:
                if path.startswith("/_fake/"):
                    return self.control(path)
                if path == "/oidc/token":
                    return self.oidc(query)
                if not self.authorized():
                    self.record(path, 401)
                    return self.send_json(401, {"message": "Bad credentials"})
                if state.outage_left > 0:
                    state.outage_left -= 1
                    self.record(path, state.outage_status)
                    return self.send_json(state.outage_status, {"message": "Server Error"})
                status, body, headers = self.api(path, query)
                self.record(path, status)
                self.send_json(status, body, headers)

        def control(self, path: str) -> None:
            if path == "/_fake/state" and self.command == "GET":
                return self.send_json(200, state.dump())
            if path == "/_fake/outage" and self.command == "POST":
                body = self.read_json()
                state.outage_status = int(body.get("status", 502))
                state.outage_left = int(body.get("count", 1))
                return self.send_json(200, {})
            if path == "/_fake/reset" and self.command == "POST":
                state.reset()
                return self.send_json(200, {})
            if path == "/_fake/pulls" and self.command == "POST":
                body = self.read_json()
                state.pulls[int(body["number"])] = str(body["state"])
                return self.send_json(200, {})
            if path == "/_fake/deployments" and self.command == "POST":
                state.deployments_forbidden = bool(self.read_json().get("forbidden", False))
                return self.send_json(200, {})
            if path == "/_fake/comments" and self.command == "POST":
                body = self.read_json()
                c = self.new_comment(str(body.get("repo", "owner/repo")), int(body["issue"]), str(body["body"]))
                c["login"] = str(body["login"])
                return self.send_json(201, self.comment_json(c))
            return self.send_json(404, {"message": "Not Found"})

        def oidc(self, query: dict[str, list[str]]) -> None:
            auth = self.headers.get("Authorization", "")
            if auth != f"Bearer {state.oidc_request_token}":
                self.record("/oidc/token", 401)
                return self.send_json(401, {"message": "bad request token"})
            audience = (query.get("audience") or [""])[0]
            state.audiences.append(audience)
            self.record("/oidc/token", 200)
            # GitHub derives `sub` from the job's event and ref; the runner puts it in the job's request URL.
            subject = (query.get("sub") or [""])[0]
            return self.send_json(200, {"count": 1, "value": jwt_like(audience, subject)})

        def new_comment(self, repo: str, issue: int, body: str) -> dict[str, Any]:
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            state.next_id += 1
            c: dict[str, Any] = {
                "id": state.next_id,
                "repo": repo,
                "issue": issue,
                "body": body,
                "login": state.login,
                "created_at": now,
                "updated_at": now,
            }
            state.comments[state.next_id] = c
            return c

        def page(
            self, path: str, query: dict[str, list[str]], items: list[dict[str, Any]]
        ) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
            per_page = int((query.get("per_page") or ["30"])[0])
            page = int((query.get("page") or ["1"])[0])
            chunk = items[(page - 1) * per_page : page * per_page]
            if page * per_page >= len(items):
                return chunk, None
            rest = "".join(f"&{k}={v[0]}" for k, v in query.items() if k not in ("per_page", "page"))
            following = f"{self.base_url()}{path}?per_page={per_page}&page={page + 1}{rest}"
            return chunk, {"Link": f'<{following}>; rel="next"'}

        def deployment_json(self, d: dict[str, Any]) -> dict[str, Any]:
            url = f"{self.base_url()}/repos/{d['repo']}/deployments/{d['id']}"
            return {
                "url": url,
                "id": d["id"],
                "node_id": f"DE_{d['id']}",
                "sha": d["ref"],
                "ref": d["ref"],
                "task": d["task"],
                "payload": d["payload"],
                "original_environment": d["environment"],
                "environment": d["environment"],
                "description": d["description"],
                "creator": self.user_json(state.login),
                "created_at": d["created_at"],
                "updated_at": d["created_at"],
                "statuses_url": f"{url}/statuses",
                "repository_url": f"{self.base_url()}/repos/{d['repo']}",
                "transient_environment": d["transient_environment"],
                "production_environment": d["production_environment"],
            }

        def status_json(self, d: dict[str, Any], s: dict[str, Any]) -> dict[str, Any]:
            deployment_url = f"{self.base_url()}/repos/{d['repo']}/deployments/{d['id']}"
            return {
                "url": f"{deployment_url}/statuses/{s['id']}",
                "id": s["id"],
                "node_id": f"DES_{s['id']}",
                "state": s["state"],
                "creator": self.user_json(state.login),
                "description": s["description"],
                "environment": d["environment"],
                "target_url": s["log_url"],
                "log_url": s["log_url"],
                "environment_url": s["environment_url"],
                "created_at": s["created_at"],
                "updated_at": s["created_at"],
                "deployment_url": deployment_url,
                "repository_url": f"{self.base_url()}/repos/{d['repo']}",
            }

        def deployments_api(
            self, path: str, query: dict[str, list[str]]
        ) -> tuple[int, Any, dict[str, str] | None] | None:
            m = DEPLOYMENTS.match(path)
            s = STATUSES.match(path)
            if not m and not s:
                return None
            # Read the body even to refuse: an unread body would corrupt the kept-alive connection.
            body: dict[str, Any] = self.read_json() if self.command == "POST" else {}
            if state.deployments_forbidden:
                return 403, {"message": "Resource not accessible by integration"}, None
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            if m:
                repo = f"{m.group(1)}/{m.group(2)}"
                if self.command == "POST":
                    if not body.get("ref"):
                        return 422, {"message": "Validation Failed: ref is required"}, None
                    state.next_id += 1
                    environment = str(body.get("environment") or "production")
                    d: dict[str, Any] = {
                        "id": state.next_id,
                        "repo": repo,
                        "ref": str(body["ref"]),
                        "task": str(body.get("task") or "deploy"),
                        "payload": body.get("payload") or {},
                        "environment": environment,
                        "description": body.get("description"),
                        "auto_merge": body.get("auto_merge", True),
                        "required_contexts": body.get("required_contexts"),
                        "transient_environment": bool(body.get("transient_environment", False)),
                        "production_environment": bool(body.get("production_environment", environment == "production")),
                        "created_at": now,
                        "statuses": [],
                    }
                    state.deployments[d["id"]] = d
                    return 201, self.deployment_json(d), None
                if self.command == "GET":
                    wanted = query.get("environment") or []
                    mine = [
                        d
                        for d in sorted(state.deployments.values(), key=lambda d: -d["id"])
                        if d["repo"] == repo and (not wanted or d["environment"] == wanted[0])
                    ]
                    chunk, links = self.page(path, query, mine)
                    return 200, [self.deployment_json(d) for d in chunk], links
                return 404, {"message": "Not Found"}, None
            assert s is not None
            found = state.deployments.get(int(s.group(3)))
            if found is None or found["repo"] != f"{s.group(1)}/{s.group(2)}":
                return 404, {"message": "Not Found"}, None
            d = found
            if self.command == "POST":
                if body.get("state") not in DEPLOYMENT_STATES:
                    return 422, {"message": f"Validation Failed: state {body.get('state')!r}"}, None
                state.next_id += 1
                status: dict[str, Any] = {
                    "id": state.next_id,
                    "state": body["state"],
                    "description": body.get("description"),
                    "environment_url": body.get("environment_url"),
                    "log_url": body.get("log_url"),
                    "created_at": now,
                }
                d["statuses"].append(status)
                return 201, self.status_json(d, status), None
            if self.command == "GET":
                chunk, links = self.page(path, query, list(reversed(d["statuses"])))
                return 200, [self.status_json(d, st) for st in chunk], links
            return 404, {"message": "Not Found"}, None

        def api(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str] | None]:
            answered = self.deployments_api(path, query)
            if answered is not None:
                return answered
            if path == "/user" and self.command == "GET":
                if state.user_forbidden:
                    return 403, {"message": "Resource not accessible by integration"}, None
                return 200, self.user_json(state.login), None
            m = COMMENTS.match(path)
            if m:
                repo, issue = f"{m.group(1)}/{m.group(2)}", int(m.group(3))
                if self.command == "GET":
                    per_page = int((query.get("per_page") or ["30"])[0])
                    page = int((query.get("page") or ["1"])[0])
                    mine = [
                        c
                        for c in sorted(state.comments.values(), key=lambda c: c["id"])
                        if c["repo"] == repo and c["issue"] == issue
                    ]
                    chunk = mine[(page - 1) * per_page : page * per_page]
                    links = None
                    if page * per_page < len(mine):
                        following = f"{self.base_url()}{path}?per_page={per_page}&page={page + 1}"
                        links = {"Link": f'<{following}>; rel="next"'}
                    return 200, [self.comment_json(c) for c in chunk], links
                if self.command == "POST":
                    body = str(self.read_json().get("body", ""))
                    if len(body) > COMMENT_LIMIT:
                        return (
                            422,
                            {
                                "message": "Validation Failed",
                                "errors": [
                                    {
                                        "resource": "IssueComment",
                                        "code": "custom",
                                        "field": "body",
                                        "message": "body is too long (maximum is 65536 characters)",
                                    }
                                ],
                            },
                            None,
                        )
                    return 201, self.comment_json(self.new_comment(repo, issue, body)), None
            m = COMMENT.match(path)
            if m:
                c = state.comments.get(int(m.group(3)))
                if c is None:
                    return 404, {"message": "Not Found"}, None
                if self.command == "GET":
                    return 200, self.comment_json(c), None
                if self.command == "PATCH":
                    body = str(self.read_json().get("body", ""))
                    if len(body) > COMMENT_LIMIT:
                        return 422, {"message": "Validation Failed"}, None
                    if c["login"] != state.login:
                        return 403, {"message": "Must have admin rights to Repository."}, None
                    c["body"] = body
                    c["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                    return 200, self.comment_json(c), None
            m = PULL.match(path)
            if m and self.command == "GET":
                n = int(m.group(3))
                s = state.pulls.get(n, "open")
                repo = f"{m.group(1)}/{m.group(2)}"
                return (
                    200,
                    {
                        "id": 5000 + n,
                        "number": n,
                        "url": f"{self.base_url()}{path}",
                        "state": s,
                        "merged": False,
                        "head": {"ref": f"feature-{n}", "sha": f"{n:040x}", "label": f"{repo}:feature-{n}"},
                        "base": {"ref": "main", "sha": "0" * 40, "label": f"{repo}:main"},
                    },
                    None,
                )
            return 404, {"message": "Not Found"}, None

        def do_GET(self) -> None:
            self.route()

        def do_POST(self) -> None:
            self.route()

        def do_PATCH(self) -> None:
            self.route()

    return Handler


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--login", default="ecs-poc-bot", help="login the token acts as")
    p.add_argument("--token", default="fake-github-token", help="the API token to accept")
    p.add_argument(
        "--oidc-request-token",
        default="fake-oidc-request-token",
        help="bearer the OIDC endpoint accepts (ACTIONS_ID_TOKEN_REQUEST_TOKEN)",
    )
    p.add_argument(
        "--user-forbidden",
        action="store_true",
        help="answer /user with 403 like a GITHUB_TOKEN (login then is github-actions[bot])",
    )
    p.add_argument(
        "--app-slug",
        default="",
        help="the token is an installation token of this GitHub App: comments by `<slug>[bot]`, /user refused",
    )
    args = p.parse_args(argv)
    if args.app_slug:
        login = f"{args.app_slug}[bot]"
    elif args.user_forbidden:
        login = "github-actions[bot]"
    else:
        login = args.login
    forbidden = args.user_forbidden or bool(args.app_slug)
    state = State(login, args.token, args.oidc_request_token, forbidden)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(state))
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
