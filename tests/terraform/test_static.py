"""Static proof of terraform/: formatting, validation without deprecation warnings, the layout
the pipeline relies on, and no credentials in any file."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.harness.terraform_env import terraform_env
from tests.terraform.stacks import TERRAFORM_SRC, copy_tree, terraform_binary

ROOTS = sorted(
    str(p.parent.relative_to(TERRAFORM_SRC))
    for p in TERRAFORM_SRC.glob("**/versions.tf")
    if ".terraform" not in p.parts
)


def test_layout_the_pipeline_relies_on() -> None:
    for path in ["stacks/shared", "stacks/preview", "bootstrap", "modules/network", "modules/cluster",
                 "modules/service", "modules/github-oidc"]:
        assert (TERRAFORM_SRC / path / "versions.tf").is_file(), path
    assert set(ROOTS) >= {"stacks/shared", "stacks/preview", "bootstrap"}


@pytest.mark.parametrize("module", sorted(p.name for p in (TERRAFORM_SRC / "modules").iterdir() if p.is_dir()))
def test_every_module_has_a_readme_with_inputs_outputs_and_example(module: str) -> None:
    readme = TERRAFORM_SRC / "modules" / module / "README.md"
    assert readme.is_file(), f"{readme} missing"
    text = readme.read_text()
    for heading in ("## Inputs", "## Outputs", "## Example"):
        assert heading in text, f"{readme}: no '{heading}' section"
    variables = re.findall(r'^variable "([^"]+)"', (readme.parent / "variables.tf").read_text(), re.MULTILINE)
    missing = [v for v in variables if f"`{v}`" not in text]
    assert not missing, f"{readme} does not document inputs {missing}"


def test_fmt_check() -> None:
    proc = subprocess.run([terraform_binary(), "fmt", "-check", "-recursive", "-diff", str(TERRAFORM_SRC)],
                          capture_output=True, text=True, env={**terraform_env(), "PATH": "/usr/bin:/bin"}, check=False)
    assert proc.returncode == 0, f"terraform fmt would change:\n{proc.stdout}{proc.stderr}"


def test_every_variable_has_a_description_and_every_output_too() -> None:
    for tf in TERRAFORM_SRC.glob("**/*.tf"):
        if ".terraform" in tf.parts:
            continue
        text = tf.read_text()
        for kind, name, body in re.findall(r'^(variable|output) "([^"]+)" \{(.*?)^\}', text, re.MULTILINE | re.DOTALL):
            assert "description" in body, f"{tf}: {kind} {name} has no description"


def test_no_credentials_in_any_file() -> None:
    pattern = re.compile(r"AKIA[0-9A-Z]{16}|aws_secret_access_key|secret_key\s*=|access_key\s*=|BEGIN [A-Z ]*PRIVATE KEY")
    for path in TERRAFORM_SRC.rglob("*"):
        if path.is_file() and ".terraform" not in path.parts:
            assert not pattern.search(path.read_text(errors="replace")), f"credential-like text in {path}"


@pytest.fixture(scope="module")
def validated_copy(tmp_path_factory: pytest.TempPathFactory, provider_available: str) -> Path:
    return copy_tree(tmp_path_factory.mktemp("validate"))


STATE_ROOTS = ("bootstrap", "stacks/shared", "stacks/preview")
PINNED_AWS = "~> 5.100"


@pytest.mark.parametrize("root", STATE_ROOTS)
def test_each_root_pins_the_tested_provider_and_commits_its_lock_file(root: str) -> None:
    versions = (TERRAFORM_SRC / root / "versions.tf").read_text()
    assert re.search(r'source\s*=\s*"hashicorp/aws"\s*\n\s*version\s*=\s*"~> 5\.100"', versions), versions
    lock = TERRAFORM_SRC / root / ".terraform.lock.hcl"
    assert lock.is_file(), f"{lock} missing: terraform providers lock -fs-mirror=/opt/tf-plugins -platform=linux_amd64"
    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", str(lock)], cwd=TERRAFORM_SRC,
                             capture_output=True, text=True, check=False)
    assert tracked.returncode == 0, f"{lock} is not committed (ignored?): {tracked.stderr}"
    text = lock.read_text()
    block = re.search(r'provider "registry\.terraform\.io/hashicorp/aws" \{(.*?)^\}', text, re.MULTILINE | re.DOTALL)
    assert block, text
    assert re.search(r'version\s*=\s*"5\.100\.\d+"', block.group(1)), block.group(1)
    assert PINNED_AWS in block.group(1)
    assert re.search(r'"h1:[A-Za-z0-9+/=]{44}"', block.group(1)), "no h1: hash for linux_amd64"


def init_args(root: str) -> list[str]:
    """A root's init must install exactly what its committed lock file records (readonly: any drift fails)."""
    args = ["init", "-backend=false", "-input=false", "-no-color"]
    return [*args, "-lockfile=readonly"] if root in STATE_ROOTS else args


@pytest.mark.parametrize("root", ROOTS)
def test_validate_without_warnings(root: str, validated_copy: Path) -> None:
    env = {**terraform_env(), "PATH": "/usr/bin:/bin"}
    tf = terraform_binary()
    init = subprocess.run([tf, f"-chdir={validated_copy / root}", *init_args(root)],
                          capture_output=True, text=True, env=env, check=False)
    assert init.returncode == 0, init.stdout + init.stderr
    proc = subprocess.run([tf, f"-chdir={validated_copy / root}", "validate", "-json", "-no-color"],
                          capture_output=True, text=True, env=env, check=False)
    result = json.loads(proc.stdout)
    problems = [f"{d['severity']}: {d['summary']}: {d.get('detail', '')}" for d in result["diagnostics"]]
    assert result["valid"], "\n".join(problems)
    # Deprecations (provider 5.100 flags everything 6.0 removes) show up as warnings.
    assert result["warning_count"] == 0, "\n".join(problems)


@pytest.mark.parametrize(
    ("stack", "image", "accepted"),
    [
        ("pr-12", "", True),
        ("main", "123456789012.dkr.ecr.eu-west-2.amazonaws.com/ecs-poc-main@sha256:" + "a" * 64, True),
        ("pr-49999", "", True),
        ("pr-50000", "", False),  # would collide with main's priority 50000
        ("pr-0", "", False),
        ("pr-012", "", False),
        ("feature-x", "", False),
        ("pr-12", "repo:tag with space", False),
    ],
)
def test_preview_inputs_are_validated(tmp_path: Path, stack: str, image: str, accepted: bool) -> None:
    """The preview stack's variables alone (no provider needed): bad input fails at plan time,
    before anything is created, with the variable's own message."""
    shutil.copy(TERRAFORM_SRC / "stacks" / "preview" / "variables.tf", tmp_path / "variables.tf")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TF_CLI_CONFIG_FILE": os.devnull, "TF_IN_AUTOMATION": "1"}
    tf = terraform_binary()
    subprocess.run([tf, f"-chdir={tmp_path}", "init", "-input=false"], env=env, capture_output=True, check=True)
    proc = subprocess.run(
        [tf, f"-chdir={tmp_path}", "plan", "-input=false", "-no-color", f"-var=stack_name={stack}",
         "-var=state_bucket=state-bucket", f"-var=image={image}"],
        env=env, capture_output=True, text=True, check=False)
    if accepted:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    else:
        assert proc.returncode == 1
        assert "Invalid value for variable" in proc.stderr, proc.stderr
