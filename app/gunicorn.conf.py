"""gunicorn settings for the service, all from the environment with production defaults.

PORT (8000), WORKERS (from the CPU the container gets), THREADS (4), KEEPALIVE (75 s, above the
ALB's 60 s idle timeout, or the ALB reuses a connection gunicorn just closed and answers 502),
GRACEFUL_TIMEOUT (20 s, below ECS's default 30 s stopTimeout, so in-flight requests finish
before SIGKILL), TIMEOUT (30 s per request), LOG_LEVEL (info).
A bad value stops the server at start with one line naming the variable.
"""

from __future__ import annotations

import json
import math
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gunicorn.glogging import Logger

# The config is loaded before the app and from any working directory.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from pathprefix import normalise_prefix


def _fail(message: str) -> None:
    # SystemExit passes through gunicorn's config loader, which would print a traceback for any
    # other exception: the operator gets one line instead.
    raise SystemExit(f"ecs-poc app: {message}")


def _int_env(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        _fail(f"{name} must be an integer from {low} to {high}, got {raw!r}")
    return value


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def container_cpus() -> float:
    """CPUs this container may use: its cgroup quota (v2 or v1), else the CPUs it is pinned to.

    os.cpu_count() would report the host's cores, so a 0.25 vCPU task on a 16-core instance
    would start 16 workers and run out of memory.
    """
    allowed = float(len(os.sched_getaffinity(0)))
    try:
        v2 = _read("/sys/fs/cgroup/cpu.max")
        if v2:
            quota, _, period = v2.partition(" ")
            if quota != "max" and period:
                return min(allowed, int(quota) / int(period))
            return allowed
        quota_v1 = _read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
        period_v1 = _read("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
        if quota_v1 and period_v1 and int(quota_v1) > 0:
            return min(allowed, int(quota_v1) / int(period_v1))
    except (ValueError, ZeroDivisionError):
        # An unreadable quota must not stop the service; the CPU set is still a true bound.
        pass
    return allowed


def default_workers(cpus: float) -> int:
    # gthread workers: one process per CPU serves many connections through its threads. Two at
    # least, so one busy or restarting worker never leaves the container unable to answer.
    return max(2, math.ceil(cpus))


port = _int_env("PORT", 8000, 1, 65535)
bind = [f"0.0.0.0:{port}"]
worker_class = "gthread"
workers = _int_env("WORKERS", default_workers(container_cpus()), 1, 64)
threads = _int_env("THREADS", 4, 1, 64)
keepalive = _int_env("KEEPALIVE", 75, 1, 3600)
graceful_timeout = _int_env("GRACEFUL_TIMEOUT", 20, 1, 3600)
timeout = _int_env("TIMEOUT", 30, 1, 3600)
loglevel = os.environ.get("LOG_LEVEL", "info").strip().lower() or "info"
if loglevel not in {"debug", "info", "warning", "error", "critical"}:
    _fail(f"LOG_LEVEL must be one of debug, info, warning, error, critical, got {loglevel!r}")
accesslog = "-"
errorlog = "-"
# The image's root filesystem may be read-only: heartbeat files go to the tmpfs.
worker_tmp_dir = os.environ.get("WORKER_TMP_DIR", "/dev/shm" if os.path.isdir("/dev/shm") else "/tmp")
# Only the load balancer can reach the container (its security group), so X-Forwarded-For is the
# ALB's and names the real client in the access log.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")

# gunicorn applies the SCRIPT_NAME environment variable itself and then fails every request
# outside the prefix with a 500, including the container health check on /healthz, and it takes
# /pr-123 as being under /pr-12. The app handles the prefix instead (hello_world.PrefixMiddleware).
if "SCRIPT_NAME" in os.environ:
    try:
        os.environ["ECS_POC_PATH_PREFIX"] = normalise_prefix(os.environ.pop("SCRIPT_NAME"))
    except ValueError as exc:
        _fail(str(exc))


class JsonAccessLogger(Logger):  # type: ignore[misc]  # gunicorn is untyped
    """One JSON object per request on stdout, which CloudWatch Logs stores line by line."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not (self.cfg.accesslog or self.cfg.logconfig or self.cfg.syslog):
            return
        record = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "remote": environ.get("HTTP_X_FORWARDED_FOR") or environ.get("REMOTE_ADDR"),
            "method": environ.get("REQUEST_METHOD"),
            # Without the query string, which may carry tokens.
            "path": (environ.get("RAW_URI") or environ.get("PATH_INFO") or "").split("?", 1)[0],
            "status": resp.status_code,
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "user_agent": environ.get("HTTP_USER_AGENT"),
            "version": os.environ.get("APP_VERSION") or "unknown",
        }
        try:
            self.access_log.info(json.dumps(record, separators=(",", ":")))
        except Exception:  # noqa: BLE001 - a log line must never fail the request it describes
            self.exception("failed to write access log")


logger_class = JsonAccessLogger


def on_starting(server: Any) -> None:
    server.log.info(
        "ecs-poc app: port=%s workers=%s threads=%s prefix=%r version=%s",
        port,
        workers,
        threads,
        os.environ.get("ECS_POC_PATH_PREFIX", ""),
        os.environ.get("APP_VERSION") or "unknown",
    )
