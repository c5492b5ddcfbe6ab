"""What release.yml publishes is exactly what the action's installer fetches."""

from __future__ import annotations

import re
import stat
import subprocess
import tarfile
from pathlib import Path

import yaml

from .conftest import REPO, ReleaseServer, Runner

SCRIPTS = REPO / ".github" / "scripts"
COMMIT = "a" * 40
INSTALLER_TARGETS = set(re.findall(r"\) target=([\w-]+) ;;", (SCRIPTS / "install-ecs-poc.sh").read_text()))


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", *args], capture_output=True, text=True, timeout=60, check=check)


def test_release_builds_every_target_the_installer_knows_and_only_those() -> None:
    release = yaml.safe_load((REPO / ".github" / "workflows" / "release.yml").read_text())
    matrix = release["jobs"]["build"]["strategy"]["matrix"]["include"]
    assert (
        {entry["target"] for entry in matrix}
        == INSTALLER_TARGETS
        == {
            "x86_64-unknown-linux-musl",
            "aarch64-unknown-linux-musl",
        }
    )
    runs = " ".join(step.get("run", "") for job in release["jobs"].values() for step in job["steps"])
    assert "package-release.sh" in runs and "release-checksums.sh" in runs and "release-version.sh" in runs
    assert "+crt-static" in str(release["jobs"]["build"])


def test_packaged_release_installs_through_the_action_s_installer(
    tmp_path: Path, runner: Runner, release_server: ReleaseServer
) -> None:
    dist = tmp_path / "dist"
    for target in sorted(INSTALLER_TARGETS):
        binary = tmp_path / f"built-{target}"
        binary.write_text(f'#!/bin/sh\necho "{target}" >> "$ECS_POC_FAKE_RAN_MARKER"\n')
        binary.chmod(0o755)
        sh(str(SCRIPTS / "package-release.sh"), "1.2.3", target, str(binary), str(dist), COMMIT)
    sums = sh(str(SCRIPTS / "release-checksums.sh"), str(dist)).stdout
    assert len(sums.splitlines()) == len(INSTALLER_TARGETS)
    for path in dist.iterdir():
        release_server.files[f"/releases/download/v1.2.3/{path.name}"] = path.read_bytes()

    result = runner.install_and_run(RUNNER_ARCH="ARM64", ECS_POC_INSTALL_ACTION_REF=COMMIT)

    assert result.returncode == 0, result.stderr
    assert runner.ran_marker.read_text() == "aarch64-unknown-linux-musl\n"
    with tarfile.open(dist / "ecs-poc-1.2.3-aarch64-unknown-linux-musl.tar.gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert {"ecs-poc", "COMMIT"} <= set(members) <= {"ecs-poc", "COMMIT", "README.md", "LICENSE"}
        assert members["ecs-poc"].mode & stat.S_IXUSR
        assert members["ecs-poc"].uid == 0 and members["ecs-poc"].uname in ("", "root")
        commit = tar.extractfile("COMMIT")
        assert commit is not None and commit.read().decode().strip() == COMMIT


def test_package_refuses_a_missing_commit(tmp_path: Path) -> None:
    binary = tmp_path / "ecs-poc"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    result = sh(str(SCRIPTS / "package-release.sh"), "1.2.3", "x", str(binary), str(tmp_path), "main", check=False)
    assert result.returncode == 2
    assert "not a 40-hex commit id" in result.stderr


def test_checksums_refuse_an_empty_release(tmp_path: Path) -> None:
    result = sh(str(SCRIPTS / "release-checksums.sh"), str(tmp_path), check=False)
    assert result.returncode == 2
    assert "no ecs-poc-*.tar.gz" in result.stderr


def test_release_version_accepts_the_tag_matching_cargo_toml() -> None:
    version = re.search(r'^version = "([^"]+)"', (REPO / "Cargo.toml").read_text(), re.MULTILINE)
    assert version is not None
    result = sh(str(SCRIPTS / "release-version.sh"), f"v{version.group(1)}", str(REPO / "Cargo.toml"))
    assert result.stdout.strip() == version.group(1)


def test_release_version_refuses_a_tag_cargo_toml_does_not_carry() -> None:
    result = sh(str(SCRIPTS / "release-version.sh"), "v99.0.0", str(REPO / "Cargo.toml"), check=False)
    assert result.returncode == 2
    assert "bump Cargo.toml (and Cargo.lock) to 99.0.0" in result.stderr


def test_release_version_refuses_a_tag_that_is_not_a_version() -> None:
    result = sh(str(SCRIPTS / "release-version.sh"), "v1", check=False)
    assert result.returncode == 2
    assert "is not a release tag like v1.2.3" in result.stderr
