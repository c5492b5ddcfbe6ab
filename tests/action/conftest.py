"""Shared pieces for the action tests: a local release server and a recording stand-in for cargo."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .tool_releases import SigningKey, make_signing_key

REPO = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO / ".github" / "scripts" / "install-ecs-poc.sh"
TARGETS = ("x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl")


def fake_binary(label: str) -> bytes:
    """A stand-in ecs-poc executable: says which build it is and leaves a mark when it runs."""
    return (
        "#!/bin/sh\n"
        f'echo "fake ecs-poc {label}"\n'
        ': "${ECS_POC_FAKE_RAN_MARKER:?}"\n'
        f'echo "{label}" >> "$ECS_POC_FAKE_RAN_MARKER"\n'
    ).encode()


RELEASE_COMMIT = "c0ffee" * 6 + "c0ff"
# What a hosted runner has on PATH that the install scripts may use: no terraform, and docker or gpg only on request.
RUNNER_TOOLS = (
    "bash", "sh", "env", "curl", "tar", "gzip", "sha256sum", "awk", "sed", "head", "tr", "dirname", "mkdir", "rm",
    "install", "touch", "unzip", "mktemp", "cat", "grep", "uname", "python3", "cp",
)  # fmt: skip


def runner_path(directory: Path, with_gpg: bool = True, with_docker: bool = False) -> str:
    """A PATH of one directory of symlinks to the tools a hosted runner has, for tests that take some away."""
    directory.mkdir(parents=True, exist_ok=True)
    extra = (*(("gpg",) if with_gpg else ()), *(("docker",) if with_docker else ()))
    for name in (*RUNNER_TOOLS, *extra):
        found = shutil.which(name, path="/usr/local/bin:/usr/bin:/bin")
        assert found, f"{name} is not installed on this machine"
        link = directory / name
        if not link.exists():
            link.symlink_to(found)
    return str(directory)


def release_archive(label: str) -> bytes:
    """A release archive laid out as package-release.sh makes it: `ecs-poc` and COMMIT at the top level."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        members = (
            ("ecs-poc", fake_binary(label), 0o755),
            ("COMMIT", f"{RELEASE_COMMIT}\n".encode(), 0o644),
            ("README.md", b"readme\n", 0o644),
        )
        for name, data, mode in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@dataclass
class ReleaseServer:
    """Serves `files` (URL path -> bytes) over real HTTP on loopback and records every request path."""

    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    status_override: dict[str, int] = field(default_factory=dict)
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/releases/download"

    def publish(self, version: str, targets: tuple[str, ...] = TARGETS, corrupt: str | None = None) -> None:
        """Publishes a release like release.yml does; `corrupt` names a target whose archive no longer matches."""
        sums = []
        for target in targets:
            name = f"ecs-poc-{version}-{target}.tar.gz"
            data = release_archive(f"{version} {target}")
            sums.append(f"{hashlib.sha256(data).hexdigest()}  {name}\n")
            if target == corrupt:
                data = release_archive(f"{version} {target} TAMPERED")
            self.files[f"/releases/download/v{version}/{name}"] = data
        self.files[f"/releases/download/v{version}/sha256.sum"] = "".join(sums).encode()


@pytest.fixture
def release_server() -> Iterator[ReleaseServer]:
    server_state = ReleaseServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server_state.requests.append(self.path)
            server_state.authorizations.append(self.headers.get("Authorization"))
            status = server_state.status_override.get(self.path)
            body = server_state.files.get(self.path)
            if status is None:
                status = 200 if body is not None else 404
            payload = body if status == 200 and body is not None else b"not here\n"
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        httpd.shutdown()
        httpd.server_close()


@dataclass
class Runner:
    """Plays the runner for the action's two steps: install, then run the installed binary (as action.yml does)."""

    tmp: Path
    env: dict[str, str]
    cargo_log: Path
    ran_marker: Path

    @property
    def install_dir(self) -> Path:
        return Path(self.env["ECS_POC_INSTALL_DIR"])

    def cargo_calls(self) -> list[dict[str, object]]:
        if not self.cargo_log.exists():
            return []
        return [json.loads(line) for line in self.cargo_log.read_text().splitlines()]

    def outputs(self) -> dict[str, str]:
        text = Path(self.env["GITHUB_OUTPUT"]).read_text()
        return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)

    def install_and_run(self, **overrides: str) -> subprocess.CompletedProcess[str]:
        env = {**self.env, **overrides}
        result = subprocess.run(
            ["bash", str(INSTALL_SCRIPT)], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode == 0:
            # The action's second step: run what the first one installed.
            subprocess.run([result.stdout.strip().splitlines()[-1], "--version"], env=env, check=True, timeout=30)
        return result


RECORDING_CARGO = """#!/usr/bin/env python3
# Recording stand-in for cargo (tests only): logs its argv and environment, then "builds" a fake binary.
import json, os, pathlib, sys
log = pathlib.Path(os.environ["ECS_POC_TEST_CARGO_LOG"])
with log.open("a") as f:
    f.write(json.dumps({"argv": sys.argv[1:], "target_dir": os.environ.get("CARGO_TARGET_DIR", "")}) + "\\n")
out = pathlib.Path(os.environ["CARGO_TARGET_DIR"]) / "release" / "ecs-poc"
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text('#!/bin/sh\\necho "fake ecs-poc source-build"\\necho source-build >> "$ECS_POC_FAKE_RAN_MARKER"\\n')
out.chmod(0o755)
"""


@pytest.fixture
def runner(tmp_path: Path, release_server: ReleaseServer) -> Runner:
    standin = tmp_path / "recording-cargo-standin"
    standin.mkdir()
    cargo = standin / "cargo"
    cargo.write_text(RECORDING_CARGO)
    cargo.chmod(cargo.stat().st_mode | stat.S_IXUSR)
    source = tmp_path / "action-source"
    source.mkdir()
    # The [dependencies] version must not be mistaken for the package's.
    (source / "Cargo.toml").write_text(
        '[package]\nname = "ecs-poc"\nversion = "1.2.3"\n\n[dependencies]\nserde = { version = "1" }\nversion = "9.9.9"\n'
    )
    output = tmp_path / "github_output"
    output.touch()
    env = {
        "PATH": f"{standin}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "RUNNER_TEMP": str(tmp_path / "runner-temp"),
        "RUNNER_OS": "Linux",
        "RUNNER_ARCH": "X64",
        "GITHUB_OUTPUT": str(output),
        "ECS_POC_INSTALL_BASE_URL": release_server.base_url,
        "ECS_POC_INSTALL_SOURCE_DIR": str(source),
        "ECS_POC_INSTALL_DIR": str(tmp_path / "bin"),
        "ECS_POC_INSTALL_ACTION_REF": "v1.2.3",
        "ECS_POC_TEST_CARGO_LOG": str(tmp_path / "cargo-calls.jsonl"),
        "ECS_POC_FAKE_RAN_MARKER": str(tmp_path / "ran"),
    }
    return Runner(tmp=tmp_path, env=env, cargo_log=tmp_path / "cargo-calls.jsonl", ran_marker=tmp_path / "ran")


@pytest.fixture(scope="session")
def test_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SigningKey]:
    """Signs the fake terraform releases' checksums in place of HashiCorp's key."""
    key = make_signing_key(tmp_path_factory.mktemp("keys"))
    yield key
    key.close()


@pytest.fixture(scope="session")
def other_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SigningKey]:
    key = make_signing_key(tmp_path_factory.mktemp("other-keys"), name="someone else")
    yield key
    key.close()
