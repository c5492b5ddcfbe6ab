"""Scripted ECS endpoint for rollout scenarios moto cannot play (moto's ECS never rolls out).

It sits in front of a moto server: every request is forwarded to moto, and the answers about a
rollout are rewritten along a scripted timeline that starts when UpdateService changes a
service's task definition:

- complete: in progress (new tasks running before the rollout is done), then COMPLETED at
  `steady_after` seconds, with events streamed along the way.
- fail:     the circuit breaker marks our deployment FAILED and starts a rollback deployment;
            stopped tasks carry reasons.
- rollback: our deployment vanishes and the previous task definition is PRIMARY and steady
            again ("one deployment, running == desired": the trap of naive waiters).
- stuck:    never stable; one placement event.

The script's clock is either the wall clock (`--clock seconds`, for the benchmark of how fast a
waiter notices) or the number of DescribeServices calls since UpdateService (`--clock polls`: the
n-th poll sees the state at n "seconds"), so a test asserts on which poll saw what, never on how
long anything took.

Usage: fake_ecs.py --port 0 --moto http://127.0.0.1:PORT [--scenario complete] [--steady-after 2]
       [--clock seconds|polls]
Prints `READY <port>` once listening. `POST /_fake/scenario` with JSON {"scenario": ..,
"steady_after": ..} switches the script; `GET /_fake/state` dumps each rollout, including the
wall-clock `steady_at` (for the benchmark of how fast a waiter notices) and `polls`, the
DescribeServices calls that saw the rollout.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."
SCENARIOS = ("complete", "fail", "rollback", "stuck")
CLOCKS = ("seconds", "polls")


class Script:
    """Scenario settings and the rollouts seen so far (shared by all handler threads)."""

    def __init__(self, moto: str, scenario: str, steady_after: float, clock: str = "seconds") -> None:
        self.moto = moto.rstrip("/")
        self.scenario = scenario
        self.steady_after = steady_after
        self.clock = clock
        self.lock = threading.Lock()
        # service name -> rollout record
        self.rollouts: dict[str, dict[str, Any]] = {}


def _id() -> str:
    return f"{random.getrandbits(48):012x}"


def _event(t: float, message: str) -> dict[str, Any]:
    return {"id": _id(), "createdAt": t, "message": message}


class Handler(BaseHTTPRequestHandler):
    script: Script
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # --- plumbing -------------------------------------------------------------------------
    def _send(self, code: int, body: bytes, content_type: str = "application/x-amz-json-1.1") -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, code: int, value: Any) -> None:
        self._send(code, json.dumps(value).encode())

    def _forward(self, body: bytes) -> tuple[int, bytes, str]:
        req = urllib.request.Request(self.script.moto + self.path, data=body, method=self.command)
        for k, v in self.headers.items():
            if k.lower() not in ("host", "content-length", "connection"):
                req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read(), r.headers.get("Content-Type", "application/json")
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers.get("Content-Type", "application/json")

    def _moto_ecs(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
        headers["X-Amz-Target"] = TARGET_PREFIX + action
        req = urllib.request.Request(self.script.moto + "/", data=json.dumps(payload).encode(), headers=headers)
        with urllib.request.urlopen(req, timeout=30) as r:
            result: dict[str, Any] = json.loads(r.read())
            return result

    # --- HTTP verbs -----------------------------------------------------------------------
    def do_GET(self) -> None:
        if self.path == "/_fake/state":
            with self.script.lock:
                state = {"scenario": self.script.scenario, "rollouts": self.script.rollouts}
                self._send(200, json.dumps(state, default=str).encode(), "application/json")
            return
        code, body, ctype = self._forward(b"")
        self._send(code, body, ctype)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/_fake/scenario":
            cfg = json.loads(body or b"{}")
            if cfg.get("scenario", self.script.scenario) not in SCENARIOS:
                self._json(400, {"error": f"scenario must be one of {SCENARIOS}"})
                return
            with self.script.lock:
                self.script.scenario = cfg.get("scenario", self.script.scenario)
                self.script.steady_after = float(cfg.get("steady_after", self.script.steady_after))
            self._json(200, {"scenario": self.script.scenario, "steady_after": self.script.steady_after})
            return
        target = self.headers.get("X-Amz-Target", "")
        action = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
        payload: dict[str, Any] = json.loads(body) if body and action else {}
        if action == "UpdateService" and payload.get("taskDefinition"):
            self._update_service(body, payload)
            return
        if action == "ListTasks" and payload.get("desiredStatus") == "STOPPED":
            rollout = self._rollout(payload.get("serviceName", ""))
            if rollout is not None:
                self._json(200, {"taskArns": [t["taskArn"] for t in self._stopped(rollout)]})
                return
        if action == "DescribeTasks":
            tasks = self._stopped_by_arn(payload.get("tasks", []))
            if tasks:
                self._json(200, {"tasks": tasks, "failures": []})
                return
        code, resp, ctype = self._forward(body)
        if action == "DescribeServices" and code == 200:
            resp = json.dumps(self._rewrite_services(json.loads(resp))).encode()
        self._send(code, resp, ctype)

    # --- the script -----------------------------------------------------------------------
    def _rollout(self, service: str) -> dict[str, Any] | None:
        name = service.rsplit("/", 1)[-1]
        with self.script.lock:
            return self.script.rollouts.get(name)

    def _update_service(self, body: bytes, payload: dict[str, Any]) -> None:
        cluster = payload.get("cluster", "default")
        name = payload["service"].rsplit("/", 1)[-1]
        before = self._moto_ecs("DescribeServices", {"cluster": cluster, "services": [name]})
        old_td = next((s.get("taskDefinition") for s in before.get("services", [])), None)
        code, resp, ctype = self._forward(body)
        if code != 200:
            self._send(code, resp, ctype)
            return
        out = json.loads(resp)
        svc = out.get("service", {})
        now = time.time()
        with self.script.lock:
            rollout = {
                "service": name,
                "scenario": self.script.scenario,
                "steady_after": self.script.steady_after,
                "t0": now,
                "steady_at": now + self.script.steady_after if self.script.scenario == "complete" else None,
                "task_definition": payload["taskDefinition"],
                "old_task_definition": old_td,
                "id": f"ecs-svc/{random.getrandbits(60)}",
                "old_id": f"ecs-svc/{random.getrandbits(60)}",
                "desired": int(svc.get("desiredCount") or 1),
                "events": [],
                "stopped": [],
                "polls": 0,
            }
            self.script.rollouts[name] = rollout
        self._apply(svc, rollout, now)
        self._send(200, json.dumps(out).encode(), ctype)

    def _rewrite_services(self, out: dict[str, Any]) -> dict[str, Any]:
        for svc in out.get("services", []):
            now = time.time()
            rollout = self._rollout(svc.get("serviceName", ""))
            if rollout is not None:
                with self.script.lock:
                    rollout["polls"] += 1
                    if self.script.clock == "polls":
                        now = rollout["t0"] + rollout["polls"]
            if rollout is None:
                # Before any rollout the service is taken to be stable on what it runs.
                desired = int(svc.get("desiredCount") or 0)
                svc["runningCount"] = desired
                svc["deployments"] = [
                    self._deployment(
                        "ecs-svc/initial", svc.get("taskDefinition"), "PRIMARY", "COMPLETED", desired, desired
                    )
                ]
                svc.setdefault("events", [])
            else:
                self._apply(svc, rollout, now)
        return out

    @staticmethod
    def _deployment(
        dep_id: str, td: Any, status: str, state: str, desired: int, running: int, reason: str = "", failed: int = 0
    ) -> dict[str, Any]:
        return {
            "id": dep_id,
            "status": status,
            "taskDefinition": td,
            "desiredCount": desired,
            "runningCount": running,
            "pendingCount": max(desired - running, 0),
            "failedTasks": failed,
            "rolloutState": state,
            "rolloutStateReason": reason or f"ECS deployment {dep_id} {state.lower().replace('_', ' ')}.",
            "createdAt": time.time(),
            "updatedAt": time.time(),
        }

    def _emit(self, rollout: dict[str, Any], key: str, at: float, message: str) -> None:
        with self.script.lock:
            if key not in {e["key"] for e in rollout["events"]}:
                rollout["events"].append({"key": key, **_event(at, message)})

    def _apply(self, svc: dict[str, Any], r: dict[str, Any], now: float) -> None:
        """Set deployments, counts and events of `svc` to the script's state at `now`."""
        t = now - r["t0"]
        s = r["steady_after"]
        n = r["desired"]
        name = r["service"]
        ours, old = r["task_definition"], r["old_task_definition"]
        dep = self._deployment
        self._emit(r, "started", r["t0"], f"(service {name}) has started {n} tasks: (task {_id()}).")
        if r["scenario"] == "complete":
            if t < s:
                running = n if t >= s / 2 else max(n - 1, 0)
                if t >= s / 2:
                    self._emit(
                        r,
                        "targets",
                        r["t0"] + s / 2,
                        f"(service {name}) registered {n} targets in (target-group tg-{name}).",
                    )
                deps = [
                    dep(r["id"], ours, "PRIMARY", "IN_PROGRESS", n, running),
                    dep(r["old_id"], old, "ACTIVE", "COMPLETED", n, n),
                ]
            else:
                self._emit(
                    r,
                    "targets",
                    r["t0"] + s / 2,
                    f"(service {name}) registered {n} targets in (target-group tg-{name}).",
                )
                self._emit(
                    r, "completed", r["t0"] + s, f"(service {name}) (deployment {r['id']}) deployment completed."
                )
                self._emit(r, "steady", r["t0"] + s, f"(service {name}) has reached a steady state.")
                deps = [dep(r["id"], ours, "PRIMARY", "COMPLETED", n, n)]
            running_total = n
        elif r["scenario"] == "stuck":
            self._emit(
                r,
                "placement",
                r["t0"],
                f"(service {name}) was unable to place a task because no container instance met all of its requirements.",
            )
            deps = [
                dep(r["id"], ours, "PRIMARY", "IN_PROGRESS", n, max(n - 1, 0)),
                dep(r["old_id"], old, "ACTIVE", "COMPLETED", n, n),
            ]
            running_total = n
        else:
            # fail / rollback: tasks of our revision keep dying until the circuit breaker trips at s.
            self._stop_tasks(r, svc.get("clusterArn", ""), n)
            if t < s:
                deps = [
                    dep(r["id"], ours, "PRIMARY", "IN_PROGRESS", n, 0, failed=n),
                    dep(r["old_id"], old, "ACTIVE", "COMPLETED", n, n),
                ]
            else:
                reason = "ECS deployment circuit breaker: tasks failed to start."
                self._emit(
                    r,
                    "failed",
                    r["t0"] + s,
                    f"(service {name}) (deployment {r['id']}) deployment failed: tasks failed to start.",
                )
                self._emit(r, "rollback", r["t0"] + s, f"(service {name}) rolling back to deployment {r['old_id']}.")
                if r["scenario"] == "fail":
                    deps = [
                        dep(r["old_id"], old, "PRIMARY", "IN_PROGRESS", n, n),
                        dep(r["id"], ours, "ACTIVE", "FAILED", n, 0, reason=reason, failed=n),
                    ]
                else:
                    self._emit(r, "steady", r["t0"] + s + 0.001, f"(service {name}) has reached a steady state.")
                    deps = [dep(r["old_id"], old, "PRIMARY", "COMPLETED", n, n)]
            running_total = n
        svc["deployments"] = deps
        svc["runningCount"] = running_total
        svc["desiredCount"] = n
        svc["taskDefinition"] = deps[0]["taskDefinition"]
        with self.script.lock:
            events = [{k: v for k, v in e.items() if k != "key"} for e in r["events"] if e["createdAt"] <= now]
        svc["events"] = sorted(events, key=lambda e: e["createdAt"], reverse=True)

    def _stop_tasks(self, r: dict[str, Any], cluster_arn: str, n: int) -> None:
        with self.script.lock:
            if r["stopped"]:
                return
            reasons: list[tuple[str, dict[str, Any]]] = [
                ("Essential container in task exited", {"exitCode": 3, "reason": None}),
                (
                    "Task failed ELB health checks in (target-group tg-" + r["service"] + ")",
                    {"exitCode": None, "reason": None},
                ),
            ]
            account_prefix = r["task_definition"].split(":task-definition/")[0]
            for i in range(max(n, 2)):
                stopped_reason, container = reasons[i % len(reasons)]
                task_id = _id() + _id()[:8]
                c: dict[str, Any] = {"name": "app", "lastStatus": "STOPPED"}
                c.update({k: v for k, v in container.items() if v is not None})
                r["stopped"].append(
                    {
                        "taskArn": f"{account_prefix}:task/{task_id}",
                        "clusterArn": cluster_arn,
                        "taskDefinitionArn": r["task_definition"],
                        "lastStatus": "STOPPED",
                        "desiredStatus": "STOPPED",
                        "startedBy": r["id"],
                        "stoppedReason": stopped_reason,
                        "stopCode": "EssentialContainerExited",
                        "containers": [c],
                    }
                )

    def _stopped(self, r: dict[str, Any]) -> list[dict[str, Any]]:
        with self.script.lock:
            return list(r["stopped"])

    def _stopped_by_arn(self, arns: list[str]) -> list[dict[str, Any]]:
        with self.script.lock:
            every = [t for r in self.script.rollouts.values() for t in r["stopped"]]
        return [t for t in every if t["taskArn"] in set(arns)]


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--moto", required=True, help="moto server URL everything else is forwarded to")
    p.add_argument("--scenario", choices=SCENARIOS, default="complete")
    p.add_argument(
        "--steady-after", type=float, default=2.0, help="seconds (or polls) from UpdateService to the scenario's turn"
    )
    p.add_argument("--clock", choices=CLOCKS, default="seconds", help="what advances the script")
    args = p.parse_args(argv)
    Handler.script = Script(args.moto, args.scenario, args.steady_after, args.clock)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
