"""The service image, built from the real Dockerfile and run on the real Docker engine."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .conftest import HARDENED, Container, Image, docker

Run = Callable[..., Container]
SLOW_APP = Path(__file__).with_name("slow_app.py")


def test_serves_hello_and_health_with_the_build_version(run: Run, image: Image) -> None:
    c = run(*HARDENED)
    status, body = c.get("/")
    assert (status, "Hello, World!" in body) == (200, True)
    status, body = c.get("/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok", "version": image.version}
    status, body = c.get("/no-such-page")
    assert status == 404
    assert "Traceback" not in body


def test_run_time_app_version_overrides_the_baked_one(run: Run) -> None:
    # The task definition sets APP_VERSION; it must win over the build argument.
    c = run("--env", "APP_VERSION=from-task-def")
    assert json.loads(c.get("/healthz")[1])["version"] == "from-task-def"


def test_one_json_access_log_line_per_request(run: Run, image: Image) -> None:
    c = run()
    c.get("/healthz", headers={"User-Agent": "log-check"})
    deadline = time.monotonic() + 5
    records: list[dict[str, object]] = []
    while time.monotonic() < deadline and not records:
        stdout = docker("logs", c.id).stdout
        records = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
        records = [r for r in records if r.get("user_agent") == "log-check"]
        time.sleep(0.1)
    assert len(records) == 1
    assert records[0]["path"] == "/healthz"
    assert records[0]["status"] == 200
    assert records[0]["version"] == image.version


def test_runs_as_non_root_with_read_only_root_and_no_capabilities(run: Run) -> None:
    c = run(*HARDENED)
    assert c.inspect("{{.Config.User}}").split(":")[0] not in ("", "0", "root")
    # Every process in the container, gunicorn's master and its workers, is non-root.
    uids = docker("exec", c.id, "sh", "-c", "grep -h '^Uid:' /proc/[0-9]*/status").stdout.split("\n")
    assert uids and all(line.split()[1] != "0" for line in uids if line), uids
    cap_eff = docker("exec", c.id, "sh", "-c", "grep CapEff /proc/1/status").stdout.split()[1]
    assert int(cap_eff, 16) == 0
    write = docker("exec", c.id, "sh", "-c", "touch /app/x", check=False)
    assert write.returncode != 0, "root filesystem should be read-only"
    assert c.get("/healthz")[0] == 200


def test_docker_health_status_becomes_healthy(run: Run) -> None:
    c = run(*HARDENED)
    deadline = time.monotonic() + 40
    status = ""
    while time.monotonic() < deadline:
        status = c.inspect("{{.State.Health.Status}}")
        if status == "healthy":
            break
        assert status in ("starting", "healthy"), c.inspect("{{json .State.Health}}")
        time.sleep(0.5)
    assert status == "healthy"


def test_two_containers_side_by_side_on_ephemeral_ports(run: Run) -> None:
    first, second = run(*HARDENED), run(*HARDENED)
    assert first.port != second.port
    assert first.get("/")[0] == 200
    assert second.get("/")[0] == 200


def test_serves_under_a_path_prefix(run: Run) -> None:
    c = run("--env", "SCRIPT_NAME=/pr-12", *HARDENED)
    assert c.get("/pr-12/healthz")[0] == 200
    status, body = c.get("/pr-12/")
    assert (status, "Hello" in body) == (200, True)
    assert c.get("/")[0] == 404
    assert c.get("/pr-123/healthz")[0] == 404
    # The container's own health check does not know the prefix.
    assert c.get("/healthz")[0] == 200


def test_sigterm_lets_an_in_flight_request_finish_and_exits_zero(run: Run) -> None:
    c = run(
        *HARDENED,
        "--volume", f"{SLOW_APP}:/slow/slow_app.py:ro",
        command=("gunicorn", "--config", "/app/gunicorn.conf.py", "--pythonpath", "/slow", "slow_app:app"),
    )  # fmt: skip
    result: dict[str, object] = {}

    def slow_request() -> None:
        try:
            result["response"] = c.get("/slow?seconds=3", timeout=15)
        except OSError as exc:
            result["error"] = exc

    thread = threading.Thread(target=slow_request)
    thread.start()
    time.sleep(0.7)  # the request is now inside the worker
    started = time.monotonic()
    docker("stop", "--time", "10", c.id, timeout=30)
    stopped_after = time.monotonic() - started
    thread.join(timeout=15)
    assert result.get("response") == (200, "slow done\n"), result
    assert c.inspect("{{.State.ExitCode}}") == "0", c.logs()
    assert stopped_after < 10, f"took {stopped_after:.1f}s: SIGKILL, not a graceful stop"


def _raw_request(port: int, payload: bytes) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        return sock.recv(4096).decode(errors="replace").split("\r\n", 1)[0]


def test_bad_requests_get_4xx_and_the_workers_survive(run: Run) -> None:
    c = run(*HARDENED)
    pids_before = docker("top", c.id, "-o", "pid").stdout.split()[1:]
    huge = b"X-Big: " + b"a" * 20_000 + b"\r\n"
    status_line = _raw_request(c.port, b"GET / HTTP/1.1\r\nHost: x\r\n" + huge + b"\r\n")
    assert status_line.split()[1].startswith("4"), status_line
    status_line = _raw_request(c.port, b"G(E)T / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_line.split()[1] == "400", status_line
    assert c.get("/healthz")[0] == 200
    assert docker("top", c.id, "-o", "pid").stdout.split()[1:] == pids_before, "a worker died"


def _start_failure(run: Run, *env: str) -> tuple[int, str]:
    c = run(*(arg for pair in (("--env", e) for e in env) for arg in pair), wait=False)
    docker("wait", c.id, timeout=30)
    return int(c.inspect("{{.State.ExitCode}}")), c.logs().strip()


def test_bad_port_stops_the_container_with_one_line_naming_it(run: Run) -> None:
    code, logs = _start_failure(run, "PORT=eighty")
    assert code != 0
    assert len(logs.splitlines()) == 1 and "PORT" in logs and "eighty" in logs, logs


def test_bad_workers_stops_the_container_with_one_line_naming_it(run: Run) -> None:
    code, logs = _start_failure(run, "WORKERS=0")
    assert code != 0
    assert len(logs.splitlines()) == 1 and "WORKERS" in logs, logs


def test_image_metadata_and_contents(image: Image) -> None:
    labels = json.loads(docker("image", "inspect", "-f", "{{json .Config.Labels}}", image.ref).stdout)
    assert labels["org.opencontainers.image.version"] == image.version
    assert labels["org.opencontainers.image.revision"] == image.version
    assert labels["org.opencontainers.image.source"] == "https://github.com/example/ecs-poc"
    env = docker("image", "inspect", "-f", "{{json .Config.Env}}", image.ref).stdout
    assert f"APP_VERSION={image.version}" in json.loads(env)
    probe = "for t in gcc cc make; do command -v $t; done; ls -d /root/.cache/pip /tmp/requirements.txt 2>/dev/null"
    leftovers = docker("run", "--rm", "--user", "0", "--entrypoint", "sh", image.ref, "-c", probe, check=False)
    assert leftovers.stdout.strip() == "", f"compilers or build leftovers in the final image: {leftovers.stdout}"
