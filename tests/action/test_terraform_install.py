"""The action's terraform step (.github/scripts/install-terraform.sh) against a local release site over HTTP."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import REPO, ReleaseServer, runner_path
from .tool_releases import SigningKey, fake_terraform, release_files

SCRIPT = REPO / ".github" / "scripts" / "install-terraform.sh"
DEFAULT_VERSION = re.search(r"^default_terraform_version=(\S+)$", SCRIPT.read_text(), re.MULTILINE)


@dataclass
class Install:
    tmp: Path
    server: ReleaseServer
    env: dict[str, str]

    @property
    def site(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def publish(self, binary: str, version: str, key: SigningKey | None, corrupt: str | None = None) -> None:
        product = "Terraform" if binary == "terraform" else "OpenTofu"
        self.server.files.update(release_files(binary, version, fake_terraform(product, version), key, corrupt=corrupt))

    def run(self, **overrides: str) -> subprocess.CompletedProcess[str]:
        self.output.write_text("")
        return subprocess.run(
            ["bash", str(SCRIPT)], env={**self.env, **overrides}, capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip

    @property
    def output(self) -> Path:
        return self.tmp / "github_output"

    def outputs(self) -> dict[str, str]:
        return dict(line.split("=", 1) for line in self.output.read_text().splitlines() if "=" in line)

    @property
    def tool_cache(self) -> Path:
        return Path(self.env["RUNNER_TOOL_CACHE"])


@pytest.fixture
def install(tmp_path: Path, release_server: ReleaseServer, test_key: SigningKey) -> Iterator[Install]:
    env = {
        "PATH": runner_path(tmp_path / "runner-bin"),
        "HOME": str(tmp_path),
        "RUNNER_OS": "Linux",
        "RUNNER_ARCH": "X64",
        "RUNNER_TEMP": str(tmp_path / "runner-temp"),
        "RUNNER_TOOL_CACHE": str(tmp_path / "tool-cache"),
        "GITHUB_OUTPUT": str(tmp_path / "github_output"),
        "ECS_POC_TF_BASE_URL": f"http://127.0.0.1:{release_server.port}",
        "ECS_POC_TF_SIGNING_KEY": str(test_key.public),
        "ECS_POC_FAKE_TF_MARKER": str(tmp_path / "terraform-ran"),
    }
    yield Install(tmp=tmp_path, server=release_server, env=env)


def test_the_default_version_is_the_one_the_tests_run() -> None:
    assert DEFAULT_VERSION is not None
    harness_terraform = Path(os.environ.get("ECS_POC_CACHE", Path.home() / ".cache" / "ecs-poc")) / "bin" / "terraform"
    if not harness_terraform.exists():
        pytest.fail(f"{harness_terraform} is missing: make setup-terraform")
    reported = subprocess.run(
        [str(harness_terraform), "version", "-json"], capture_output=True, text=True, timeout=120, check=True,
        env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull},
    ).stdout  # fmt: skip
    assert f'"terraform_version": "{DEFAULT_VERSION.group(1)}"' in reported


def test_downloads_verifies_signature_and_checksum_then_caches(install: Install, test_key: SigningKey) -> None:
    assert DEFAULT_VERSION is not None
    version = DEFAULT_VERSION.group(1)
    install.publish("terraform", version, test_key)

    result = install.run()

    assert result.returncode == 0, result.stderr
    assert f"/terraform/{version}/terraform_{version}_linux_amd64.zip" in install.server.requests
    assert f"signature of terraform_{version}_SHA256SUMS verified (key {test_key.fingerprint})" in result.stderr
    assert "sha256 verified" in result.stderr
    installed = install.tool_cache / "terraform" / version / "amd64" / "terraform"
    assert install.outputs() == {"dir": str(installed.parent), "path": str(installed), "version": version,
                                 "source": "download"}  # fmt: skip
    assert result.stdout.strip() == str(installed.parent)
    assert subprocess.run([str(installed), "version"], capture_output=True, text=True, check=True).stdout.startswith(
        f"Terraform v{version}"
    )


def test_a_second_job_on_the_runner_takes_it_from_the_tool_cache(install: Install, test_key: SigningKey) -> None:
    install.publish("terraform", "1.15.5", test_key)
    assert install.run(ECS_POC_TF_VERSION="1.15.5").returncode == 0
    requests_before = list(install.server.requests)

    result = install.run(ECS_POC_TF_VERSION="1.15.5")

    assert result.returncode == 0, result.stderr
    assert "from the tool cache" in result.stderr
    assert install.server.requests == requests_before
    assert install.outputs()["source"] == "tool-cache"


def test_a_version_that_does_not_exist_fails_with_the_url_tried(install: Install) -> None:
    result = install.run(ECS_POC_TF_VERSION="9.9.9")

    assert result.returncode == 2
    assert f"{install.site}/terraform/9.9.9/terraform_9.9.9_SHA256SUMS answered HTTP 404" in result.stderr
    assert "terraform-version" in result.stderr
    assert install.outputs() == {}


def test_a_checksum_mismatch_installs_and_runs_nothing(install: Install, test_key: SigningKey) -> None:
    install.publish("terraform", "1.15.5", test_key, corrupt="amd64")

    result = install.run(ECS_POC_TF_VERSION="1.15.5", GITHUB_ACTIONS="true")

    assert result.returncode == 5
    assert re.search(r"^::error title=ecs-poc terraform::checksum mismatch for terraform_1.15.5_linux_amd64.zip",
                     result.stderr, re.MULTILINE)  # fmt: skip
    assert "Nothing was installed or run" in result.stderr
    assert not (install.tool_cache / "terraform").exists()
    assert not Path(install.env["ECS_POC_FAKE_TF_MARKER"]).exists()
    assert install.outputs() == {}


def test_checksums_signed_by_another_key_are_refused(
    install: Install, test_key: SigningKey, other_key: SigningKey
) -> None:
    install.publish("terraform", "1.15.5", other_key)

    result = install.run(ECS_POC_TF_VERSION="1.15.5")

    assert result.returncode == 5
    assert f"terraform_1.15.5_SHA256SUMS is not signed by the key in {test_key.public}" in result.stderr
    assert "/terraform/1.15.5/terraform_1.15.5_linux_amd64.zip" not in install.server.requests
    assert not (install.tool_cache / "terraform").exists()


def test_without_gpg_it_says_the_signature_was_not_checked(install: Install, test_key: SigningKey) -> None:
    install.publish("terraform", "1.15.5", test_key)

    result = install.run(
        ECS_POC_TF_VERSION="1.15.5", GITHUB_ACTIONS="true", PATH=runner_path(install.tmp / "no-gpg", with_gpg=False)
    )

    assert result.returncode == 0, result.stderr
    assert "::warning title=ecs-poc terraform::gpg is not installed" in result.stderr
    assert "NOT verified, only the checksums" in result.stderr
    assert "sha256 verified" in result.stderr


def test_the_real_hashicorp_key_is_the_default(install: Install, test_key: SigningKey) -> None:
    install.publish("terraform", "1.15.5", test_key)
    env = {k: v for k, v in install.env.items() if k != "ECS_POC_TF_SIGNING_KEY"}
    install.env = env

    result = install.run(ECS_POC_TF_VERSION="1.15.5")

    # Signed by the test key, so HashiCorp's committed key refuses it: proof that it is the key in use.
    assert result.returncode == 5
    assert f"not signed by the key in {REPO / '.github' / 'keys' / 'hashicorp.asc'}" in result.stderr
    (install.tmp / "show").mkdir(mode=0o700)
    shown = subprocess.run(
        ["gpg", "--batch", "--show-keys", "--with-colons", str(REPO / ".github" / "keys" / "hashicorp.asc")],
        capture_output=True, text=True, check=True, env={**os.environ, "GNUPGHOME": str(install.tmp / "show")},
    ).stdout  # fmt: skip
    assert "fpr:::::::::C874011F0AB405110D02105534365D9472D7468F:" in shown


def test_a_terraform_on_path_with_the_requested_version_is_used_and_named(install: Install) -> None:
    bin_dir = install.tmp / "preinstalled"
    bin_dir.mkdir()
    terraform = bin_dir / "terraform"
    terraform.write_bytes(fake_terraform("Terraform", "1.15.5"))
    terraform.chmod(0o755)

    result = install.run(ECS_POC_TF_VERSION="1.15.5", PATH=f"{bin_dir}:{install.env['PATH']}")

    assert result.returncode == 0, result.stderr
    assert f"using Terraform 1.15.5 already on PATH: {terraform}" in result.stderr
    assert install.server.requests == []
    assert install.outputs()["source"] == "on-path"


def test_a_terraform_on_path_of_another_version_is_not_used(install: Install, test_key: SigningKey) -> None:
    bin_dir = install.tmp / "preinstalled"
    bin_dir.mkdir()
    terraform = bin_dir / "terraform"
    terraform.write_bytes(fake_terraform("Terraform", "1.11.4"))
    terraform.chmod(0o755)
    install.publish("terraform", "1.15.5", test_key)

    result = install.run(ECS_POC_TF_VERSION="1.15.5", PATH=f"{bin_dir}:{install.env['PATH']}")

    assert result.returncode == 0, result.stderr
    assert f"{terraform} is Terraform 1.11.4, not the requested 1.15.5: providing 1.15.5" in result.stderr
    assert install.outputs()["source"] == "download"


def test_tofu_comes_from_opentofu_s_release_layout(install: Install, test_key: SigningKey) -> None:
    install.publish("tofu", "1.10.6", test_key)

    result = install.run(ECS_POC_TF_BINARY="tofu", ECS_POC_TF_VERSION="1.10.6", RUNNER_ARCH="ARM64")

    assert result.returncode == 0, result.stderr
    assert "/v1.10.6/tofu_1.10.6_linux_arm64.zip" in install.server.requests
    assert "signature of tofu_1.10.6_SHA256SUMS verified" in result.stderr
    assert install.outputs()["path"] == str(install.tool_cache / "tofu" / "1.10.6" / "arm64" / "tofu")


def test_tofu_without_a_version_or_one_on_path_asks_for_the_version(install: Install) -> None:
    result = install.run(ECS_POC_TF_BINARY="tofu")

    assert result.returncode == 2
    assert "set terraform-version to the OpenTofu release to install" in result.stderr


def test_a_path_is_used_as_given(install: Install) -> None:
    own = install.tmp / "own" / "terraform"
    own.parent.mkdir()
    own.write_bytes(fake_terraform("Terraform", "1.14.0"))
    own.chmod(0o755)

    result = install.run(ECS_POC_TF_BINARY=str(own))

    assert result.returncode == 0, result.stderr
    assert install.outputs()["dir"] == str(own.parent)
    assert install.server.requests == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ECS_POC_TF_BINARY": "terragrunt"}, "is not terraform, tofu or a path"),
        ({"ECS_POC_TF_VERSION": "latest"}, "'latest' is not a release version"),
        ({"ECS_POC_TF_BINARY": "/nowhere/terraform"}, "is not an executable file"),
    ],
)
def test_bad_input_is_a_clear_configuration_error(install: Install, overrides: dict[str, str], message: str) -> None:
    result = install.run(**overrides)

    assert result.returncode == 2
    assert message in result.stderr
    assert install.server.requests == []


def test_the_environment_forms_of_the_inputs_apply_when_the_inputs_are_empty(
    install: Install, test_key: SigningKey
) -> None:
    install.publish("terraform", "1.14.2", test_key)
    env = {k: v for k, v in install.env.items() if k != "ECS_POC_TF_BASE_URL"}
    install.env = env

    result = install.run(
        ECS_POC_TF_BASE_URL="",
        ECS_POC_TF_VERSION="",
        ECS_POC_TERRAFORM_DOWNLOAD_URL=install.site,
        ECS_POC_TERRAFORM_VERSION="1.14.2",
    )

    assert result.returncode == 0, result.stderr
    assert install.outputs()["version"] == "1.14.2"
    assert "/terraform/1.14.2/terraform_1.14.2_linux_amd64.zip" in install.server.requests
