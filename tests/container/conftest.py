"""Fixtures for tests against the real Docker engine: one image built from the real Dockerfile
per session, and containers started on ephemeral loopback ports and always removed."""

from __future__ import annotations

import http.client
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKER = os.environ.get("DOCKER", "docker")
LABEL = "ecs-poc.test=container"


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([DOCKER, *args], check=False, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


@dataclass
class Image:
    ref: str
    version: str


@dataclass
class Container:
    id: str
    port: int

    def get(self, path: str, timeout: float = 5, headers: dict[str, str] | None = None) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read().decode()
        finally:
            conn.close()

    def wait_ready(self, path: str = "/healthz", timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            try:
                status, _ = self.get(path, timeout=1)
                if status == 200:
                    return
                last = status
            except OSError as exc:
                last = exc
            state = docker("inspect", "-f", "{{.State.Running}}", self.id).stdout.strip()
            if state != "true":
                raise AssertionError(f"container exited before serving:\n{self.logs()}")
            time.sleep(0.2)
        raise AssertionError(f"{path} not ready after {timeout}s (last: {last!r}):\n{self.logs()}")

    def logs(self) -> str:
        result = docker("logs", self.id, check=False)
        return result.stdout + result.stderr

    def inspect(self, template: str) -> str:
        return docker("inspect", "-f", template, self.id).stdout.strip()


@pytest.fixture(scope="session")
def image() -> Iterator[Image]:
    subprocess.run(["bash", str(ROOT / ".ci/setup-docker.sh")], check=True)
    base = subprocess.run(
        ["bash", str(ROOT / ".ci/base-image.sh")], check=True, capture_output=True, text=True
    ).stdout.strip()
    version = f"test-{uuid.uuid4().hex[:12]}"
    ref = f"ecs-poc/app:{version}"
    build = [
        "build", "--quiet", "--tag", ref,
        "--build-arg", f"BASE_IMAGE={base}",
        "--build-arg", f"APP_VERSION={version}",
        "--build-arg", f"REVISION={version}",
        "--build-arg", "SOURCE=https://github.com/example/ecs-poc",
        str(ROOT),
    ]  # fmt: skip
    docker(*build, timeout=600)
    yield Image(ref=ref, version=version)
    docker("rmi", "--force", ref, check=False)


@pytest.fixture
def run(image: Image) -> Iterator[object]:
    """Starts a container from the image (extra docker-run args first, then an optional command)."""
    started: list[str] = []

    def _run(*args: str, command: tuple[str, ...] = (), wait: bool = True) -> Container:
        cid = docker(
            "run", "--detach", "--label", LABEL, "--publish", "127.0.0.1::8000", *args, image.ref, *command
        ).stdout.strip()
        started.append(cid)
        port = 0
        if wait:
            mapping = docker("port", cid, "8000/tcp").stdout.split()
            port = int(mapping[0].rsplit(":", 1)[1])
        container = Container(id=cid, port=port)
        if wait:
            container.wait_ready()
        return container

    yield _run
    if started:
        docker("rm", "--force", *started, check=False)


HARDENED = ("--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt", "no-new-privileges")
