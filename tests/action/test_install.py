"""The action's download-and-verify step (.github/scripts/install-ecs-poc.sh) against a fake release over HTTP."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import RELEASE_COMMIT, REPO, ReleaseServer, Runner, runner_path


@pytest.mark.parametrize(
    ("runner_os", "runner_arch", "target"),
    [("Linux", "X64", "x86_64-unknown-linux-musl"), ("Linux", "ARM64", "aarch64-unknown-linux-musl")],
)
def test_installs_and_runs_the_asset_for_the_runner_platform(
    runner: Runner, release_server: ReleaseServer, runner_os: str, runner_arch: str, target: str
) -> None:
    release_server.publish("1.2.3")

    result = runner.install_and_run(RUNNER_OS=runner_os, RUNNER_ARCH=runner_arch)

    assert result.returncode == 0, result.stderr
    assert f"/releases/download/v1.2.3/ecs-poc-1.2.3-{target}.tar.gz" in release_server.requests
    assert runner.ran_marker.read_text() == f"1.2.3 {target}\n"
    assert "sha256 verified" in result.stderr
    assert runner.outputs() == {"bin": str(runner.install_dir / "ecs-poc"), "version": "1.2.3", "source": "release"}
    assert runner.cargo_calls() == []


def test_checksum_mismatch_aborts_and_nothing_runs(runner: Runner, release_server: ReleaseServer) -> None:
    release_server.publish("1.2.3", corrupt="x86_64-unknown-linux-musl")

    result = runner.install_and_run()

    assert result.returncode == 5
    assert "checksum mismatch for ecs-poc-1.2.3-x86_64-unknown-linux-musl.tar.gz" in result.stderr
    assert "Nothing was installed or run" in result.stderr
    assert not runner.ran_marker.exists()
    assert not (runner.install_dir / "ecs-poc").exists()
    assert runner.outputs() == {}
    # A damaged release is an error, never a reason to quietly build something else.
    assert runner.cargo_calls() == []


def test_checksum_mismatch_is_an_error_annotation_inside_actions(runner: Runner, release_server: ReleaseServer) -> None:
    release_server.publish("1.2.3", corrupt="x86_64-unknown-linux-musl")

    result = runner.install_and_run(GITHUB_ACTIONS="true")

    assert result.returncode == 5
    assert re.search(r"^::error title=ecs-poc install::checksum mismatch", result.stderr, re.MULTILINE)


def test_missing_release_falls_back_to_a_source_build_and_says_so(
    runner: Runner, release_server: ReleaseServer
) -> None:
    result = runner.install_and_run(ECS_POC_INSTALL_ACTION_REF="v1.2.3", GITHUB_ACTIONS="true")

    assert result.returncode == 0, result.stderr
    assert "/releases/download/v1.2.3/sha256.sum" in release_server.requests
    assert "building from source: release v1.2.3 does not exist" in result.stderr
    assert "::notice title=ecs-poc built from source::" in result.stderr
    calls = runner.cargo_calls()
    assert len(calls) == 1
    argv = calls[0]["argv"]
    assert isinstance(argv, list)
    assert argv[:3] == ["build", "--release", "--locked"]
    assert argv[argv.index("--manifest-path") + 1] == runner.env["ECS_POC_INSTALL_SOURCE_DIR"] + "/Cargo.toml"
    assert runner.ran_marker.read_text() == "source-build\n"
    assert runner.outputs()["source"] == "source-build"


@pytest.mark.parametrize(("ref", "reason"), [("feature/x", "is a branch"), ("", "local path")])
def test_branch_or_local_ref_builds_from_source_without_asking_for_a_release(
    runner: Runner, release_server: ReleaseServer, ref: str, reason: str
) -> None:
    release_server.publish("1.2.3")

    result = runner.install_and_run(ECS_POC_INSTALL_ACTION_REF=ref)

    assert result.returncode == 0, result.stderr
    assert reason in result.stderr
    assert release_server.requests == []
    assert len(runner.cargo_calls()) == 1
    assert runner.ran_marker.read_text() == "source-build\n"


@pytest.mark.parametrize("ref", ["v1", "v1.2", RELEASE_COMMIT])
def test_major_tag_or_release_commit_ref_takes_the_version_from_the_actions_cargo_toml(
    runner: Runner, release_server: ReleaseServer, ref: str
) -> None:
    release_server.publish("1.2.3")

    result = runner.install_and_run(ECS_POC_INSTALL_ACTION_REF=ref)

    assert result.returncode == 0, result.stderr
    assert runner.ran_marker.read_text() == "1.2.3 x86_64-unknown-linux-musl\n"


def test_unreleased_commit_with_a_released_version_number_builds_its_own_source(
    runner: Runner, release_server: ReleaseServer
) -> None:
    release_server.publish("1.2.3")
    unreleased = "0123456789abcdef0123456789abcdef01234567"

    result = runner.install_and_run(ECS_POC_INSTALL_ACTION_REF=unreleased)

    assert result.returncode == 0, result.stderr
    assert f"built from commit {RELEASE_COMMIT}, not from the action's commit {unreleased}" in result.stderr
    assert runner.ran_marker.read_text() == "source-build\n"
    assert not (runner.install_dir / "COMMIT").exists()


def test_major_tag_of_this_repository_asks_for_the_release_its_cargo_toml_names(
    runner: Runner, release_server: ReleaseServer
) -> None:
    version = re.search(r'^version = "([^"]+)"', (REPO / "Cargo.toml").read_text(), re.MULTILINE)
    assert version is not None
    release_server.publish(version.group(1))
    env_without_source = {k: v for k, v in runner.env.items() if k != "ECS_POC_INSTALL_SOURCE_DIR"}
    runner.env = env_without_source

    result = runner.install_and_run(ECS_POC_INSTALL_ACTION_REF="v0")

    assert result.returncode == 0, result.stderr
    assert f"/releases/download/v{version.group(1)}/sha256.sum" in release_server.requests


def test_explicit_version_that_does_not_exist_is_an_error_not_a_build(
    runner: Runner, release_server: ReleaseServer
) -> None:
    release_server.publish("1.2.3")

    result = runner.install_and_run(ECS_POC_INSTALL_VERSION="v9.9.9")

    assert result.returncode == 5
    assert "release v9.9.9 not found" in result.stderr
    assert "Check the 'version' input" in result.stderr
    assert runner.cargo_calls() == []
    assert not runner.ran_marker.exists()


def test_explicit_version_wins_over_the_actions_ref(runner: Runner, release_server: ReleaseServer) -> None:
    release_server.publish("1.2.3")
    release_server.publish("1.3.0")

    result = runner.install_and_run(ECS_POC_INSTALL_VERSION="1.3.0", ECS_POC_INSTALL_ACTION_REF="v1.2.3")

    assert result.returncode == 0, result.stderr
    assert runner.ran_marker.read_text() == "1.3.0 x86_64-unknown-linux-musl\n"


def test_version_that_is_not_a_release_number_is_rejected(runner: Runner) -> None:
    result = runner.install_and_run(ECS_POC_INSTALL_VERSION="latest")

    assert result.returncode == 2
    assert "'latest' is not a release version such as 1.2.3" in result.stderr


@pytest.mark.parametrize(("runner_os", "runner_arch"), [("macOS", "ARM64"), ("Windows", "X64")])
def test_a_runner_that_is_not_linux_fails_at_once(
    runner: Runner, release_server: ReleaseServer, runner_os: str, runner_arch: str
) -> None:
    release_server.publish("1.2.3")

    result = runner.install_and_run(RUNNER_OS=runner_os, RUNNER_ARCH=runner_arch, GITHUB_ACTIONS="true")

    assert result.returncode == 2
    assert f"::error title=ecs-poc install::ecs-poc runs on Linux runners only; this runner is {runner_os}" in (
        result.stderr
    )
    assert "runs-on: ubuntu-24.04" in result.stderr
    assert release_server.requests == []
    assert runner.cargo_calls() == []
    assert not runner.ran_marker.exists()


def test_a_linux_platform_without_a_published_binary_builds_from_source(
    runner: Runner, release_server: ReleaseServer
) -> None:
    release_server.publish("1.2.3")

    result = runner.install_and_run(RUNNER_ARCH="ARM")

    assert result.returncode == 0, result.stderr
    assert "no release binary is published for Linux ARM" in result.stderr
    assert release_server.requests == []
    assert runner.ran_marker.read_text() == "source-build\n"


def test_release_without_this_platforms_asset_builds_from_source(runner: Runner, release_server: ReleaseServer) -> None:
    release_server.publish("1.2.3", targets=("x86_64-unknown-linux-musl",))

    result = runner.install_and_run(RUNNER_ARCH="ARM64")

    assert result.returncode == 0, result.stderr
    assert "publishes no binary for Linux ARM64" in result.stderr
    assert runner.ran_marker.read_text() == "source-build\n"


def test_server_error_fails_clearly_instead_of_building(runner: Runner, release_server: ReleaseServer) -> None:
    release_server.publish("1.2.3")
    release_server.status_override["/releases/download/v1.2.3/sha256.sum"] = 503

    result = runner.install_and_run()

    assert result.returncode == 5
    assert "could not download" in result.stderr and "HTTP 503" in result.stderr
    # A transient error is retried before giving up.
    assert release_server.requests.count("/releases/download/v1.2.3/sha256.sum") == 4
    assert runner.cargo_calls() == []
    assert not runner.ran_marker.exists()


def test_source_build_without_cargo_says_what_to_do(runner: Runner) -> None:
    # /usr/bin:/bin carries bash, curl and coreutils but no cargo (rustup installs it under ~/.cargo).
    result = runner.install_and_run(ECS_POC_INSTALL_ACTION_REF="main", PATH="/usr/bin:/bin")

    assert result.returncode == 5
    assert "cargo is not on PATH" in result.stderr
    assert "use a released version of the action" in result.stderr


def unpacked_action(runner: Runner, owner: str, name: str, ref: str) -> Path:
    """The action as the runner unpacks it: RUNNER_WORKSPACE/../_actions/OWNER/NAME/REF."""
    source = runner.tmp / "_work" / "_actions" / owner / name / ref
    source.mkdir(parents=True)
    (source / "Cargo.toml").write_text('[package]\nname = "ecs-poc"\nversion = "1.2.3"\n')
    return source


def test_ref_and_repository_are_read_from_the_action_path_when_the_runner_leaves_them_empty(
    runner: Runner, release_server: ReleaseServer
) -> None:
    release_server.publish("1.2.3")
    source = unpacked_action(runner, "acme", "ecs-poc", "v1.2.3")
    env = {k: v for k, v in runner.env.items() if k != "ECS_POC_INSTALL_SOURCE_DIR"}
    runner.env = env

    result = runner.install_and_run(ECS_POC_INSTALL_ACTION_REF="", GITHUB_ACTION_PATH=str(source))

    assert result.returncode == 0, result.stderr
    assert "action: acme/ecs-poc@v1.2.3 (from its path)" in result.stderr
    assert runner.ran_marker.read_text() == "1.2.3 x86_64-unknown-linux-musl\n"


def test_inside_a_nested_composite_action_the_path_wins_over_the_outer_action_s_ref(
    runner: Runner, release_server: ReleaseServer
) -> None:
    release_server.publish("1.2.3")
    source = unpacked_action(runner, "acme", "ecs-poc", "v1.2.3")
    env = {k: v for k, v in runner.env.items() if k != "ECS_POC_INSTALL_SOURCE_DIR"}
    runner.env = env

    # github.action_ref / action_repository as a wrapping composite action would leave them: its own, not ours.
    result = runner.install_and_run(
        ECS_POC_INSTALL_ACTION_REF="v7",
        ECS_POC_INSTALL_REPOSITORY="acme/deploy-wrapper",
        GITHUB_ACTION_PATH=str(source),
    )

    assert result.returncode == 0, result.stderr
    assert "the runner says acme/deploy-wrapper@v7, the action's path says acme/ecs-poc@v1.2.3" in result.stderr
    assert "/releases/download/v1.2.3/sha256.sum" in release_server.requests
    assert runner.ran_marker.read_text() == "1.2.3 x86_64-unknown-linux-musl\n"


def serve_under_repository(release_server: ReleaseServer, repository: str) -> None:
    """Makes the published files answer at /OWNER/NAME/releases/download/..., GitHub's own layout."""
    for path, data in list(release_server.files.items()):
        release_server.files[f"/{repository}{path}"] = data


def test_downloads_come_from_the_run_s_github_server_with_its_token(
    runner: Runner, release_server: ReleaseServer
) -> None:
    release_server.publish("1.2.3")
    serve_under_repository(release_server, "acme/ecs-poc")
    env = {k: v for k, v in runner.env.items() if k != "ECS_POC_INSTALL_BASE_URL"}
    runner.env = env

    result = runner.install_and_run(
        GITHUB_SERVER_URL=f"http://127.0.0.1:{release_server.port}",
        ECS_POC_INSTALL_REPOSITORY="acme/ecs-poc",
        ECS_POC_INSTALL_TOKEN="ghs_enterprise-token",
    )

    assert result.returncode == 0, result.stderr
    assert "/acme/ecs-poc/releases/download/v1.2.3/ecs-poc-1.2.3-x86_64-unknown-linux-musl.tar.gz" in (
        release_server.requests
    )
    assert set(release_server.authorizations) == {"Bearer ghs_enterprise-token"}
    assert "ghs_enterprise-token" not in result.stderr + result.stdout


def test_the_token_is_never_sent_to_a_mirror(runner: Runner, release_server: ReleaseServer) -> None:
    release_server.publish("1.2.3")

    result = runner.install_and_run(
        GITHUB_SERVER_URL="https://github.example.com", ECS_POC_INSTALL_TOKEN="ghs_enterprise-token"
    )

    assert result.returncode == 0, result.stderr
    assert release_server.requests and set(release_server.authorizations) == {None}


@pytest.mark.parametrize(
    ("command", "event", "action", "needs_docker"),
    [
        ("", "pull_request", "opened", True),
        ("", "push", "", True),
        ("deploy", "workflow_dispatch", "", True),
        ("", "pull_request", "closed", False),
        ("destroy", "workflow_dispatch", "", False),
        ("", "schedule", "", False),
    ],
)
def test_a_runner_without_docker_gets_one_line_naming_it_when_the_run_builds_an_image(
    runner: Runner, release_server: ReleaseServer, command: str, event: str, action: str, needs_docker: bool
) -> None:
    release_server.publish("1.2.3")
    event_file = runner.tmp / "event.json"
    event_file.write_text(f'{{"action": "{action}", "number": 7}}' if action else "{}")

    result = runner.install_and_run(
        PATH=runner_path(runner.tmp / "runner-bin-without-docker"),
        ECS_POC_INSTALL_COMMAND=command,
        GITHUB_EVENT_NAME=event,
        GITHUB_EVENT_PATH=str(event_file),
        GITHUB_ACTIONS="true",
    )

    if needs_docker:
        assert result.returncode == 2
        errors = [line for line in result.stderr.splitlines() if line.startswith("::error")]
        expected = (
            "::error title=ecs-poc install::this runner lacks what ecs-poc needs: docker (the image is built and pushed"
            " with it). Install it before this step or use a GitHub-hosted ubuntu runner, which has it."
        )
        assert errors == [expected]
        assert release_server.requests == []
    else:
        assert result.returncode == 0, result.stderr


def test_a_runner_with_docker_deploys(runner: Runner, release_server: ReleaseServer) -> None:
    release_server.publish("1.2.3")

    result = runner.install_and_run(
        PATH=runner_path(runner.tmp / "runner-bin-with-docker", with_docker=True), ECS_POC_INSTALL_COMMAND="deploy"
    )

    assert result.returncode == 0, result.stderr
