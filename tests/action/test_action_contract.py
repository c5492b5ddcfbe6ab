"""action.yml and the workflows keep the agreed interface and the safety rules a linter cannot see."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import REPO

WORKFLOWS = REPO / ".github" / "workflows"
# The contract between action.yml and the binary (agreed in the team's interface notes).
BINARY_INPUTS = {
    "command", "role-to-assume", "aws-region", "role-session-name", "role-duration-seconds", "github-token",
    "state-bucket", "stack", "pull-request", "config", "terraform-binary", "wait-timeout", "smoke-check", "force",
    "dry-run", "output", "environment", "from", "to",
}  # fmt: skip
ACTION_ONLY_INPUTS = {"version", "terraform-version", "terraform-download-url"}
BINARY_OUTPUTS = {
    "endpoint", "image", "task-definition-arn", "plan-changes", "stack", "environment", "digest", "source-environment",
    "source-commit",
}  # fmt: skip
OUTPUTS = BINARY_OUTPUTS | {"changed"}
# Inputs whose non-empty default would change what the binary does: settings ecs-poc.yml may carry (input > file >
# default), and `config`, which the binary treats as "must exist" once it is given.
EMPTY_DEFAULT = {
    "aws-region", "wait-timeout", "smoke-check", "terraform-binary", "role-duration-seconds", "config", "environment",
    "from", "to",
}  # fmt: skip
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict)
    # YAML 1.1 reads the key `on` as True.
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


ACTION = load(REPO / "action.yml")


def steps_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if "runs" in doc:
        return list(doc["runs"]["steps"])
    return [step for job in doc["jobs"].values() for step in job.get("steps", [])]


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


def test_the_issue_s_workflows_exist() -> None:
    assert {p.name for p in workflow_files()} >= {
        "ci.yml", "preview.yml", "teardown.yml", "sweep.yml", "release.yml", "promote.yml",
    }  # fmt: skip


def test_action_inputs_and_outputs_are_the_agreed_ones() -> None:
    assert set(ACTION["inputs"]) == BINARY_INPUTS | ACTION_ONLY_INPUTS
    assert set(ACTION["outputs"]) == OUTPUTS
    assert ACTION["runs"]["using"] == "composite"
    assert ACTION["branding"]["icon"] and ACTION["branding"]["color"]


@pytest.mark.parametrize("name", sorted(BINARY_INPUTS | ACTION_ONLY_INPUTS))
def test_every_input_is_documented_with_a_default(name: str) -> None:
    spec = ACTION["inputs"][name]
    assert len(spec["description"]) > 20
    assert "default" in spec


@pytest.mark.parametrize("name", sorted(EMPTY_DEFAULT))
def test_inputs_that_must_not_override_the_file_or_the_binary_default_to_empty(name: str) -> None:
    assert ACTION["inputs"][name]["default"] == ""


def test_every_binary_input_reaches_the_binary_as_github_would_name_it() -> None:
    run = next(step for step in ACTION["runs"]["steps"] if step.get("id") == "run")
    expected = {f"INPUT_{name.upper()}": f"${{{{ inputs.{name} }}}}" for name in BINARY_INPUTS}
    passed = {key: value for key, value in run["env"].items() if key.startswith("INPUT_")}
    assert passed == expected


def test_outputs_come_from_the_binary_step() -> None:
    for name in BINARY_OUTPUTS:
        spec = ACTION["outputs"][name]
        assert spec["value"] == f"${{{{ steps.run.outputs.{name} }}}}"
        assert spec["description"]
    assert ACTION["outputs"]["changed"]["value"] == "${{ steps.changed.outputs.changed }}"


def test_output_descriptions_say_what_they_hold() -> None:
    assert "Number of resource changes" in ACTION["outputs"]["plan-changes"]["description"]
    assert "true when plan-changes is above 0" in ACTION["outputs"]["changed"]["description"]


def test_the_terraform_step_gets_its_inputs_through_env_and_the_binary_sees_its_directory_first() -> None:
    steps = {step.get("id"): step for step in ACTION["runs"]["steps"]}
    assert list(steps)[:3] == ["install", "terraform", "run"]
    assert steps["terraform"]["env"] == {
        "ECS_POC_TF_BINARY": "${{ inputs.terraform-binary }}",
        "ECS_POC_TF_VERSION": "${{ inputs.terraform-version }}",
        "ECS_POC_TF_BASE_URL": "${{ inputs.terraform-download-url }}",
    }
    assert steps["run"]["env"]["ECS_POC_TERRAFORM_DIR"] == "${{ steps.terraform.outputs.dir }}"
    assert 'PATH="${ECS_POC_TERRAFORM_DIR}:${PATH}"' in steps["run"]["run"]


def test_the_installer_gets_the_action_s_own_ref_and_version_through_env() -> None:
    install = next(step for step in ACTION["runs"]["steps"] if step.get("id") == "install")
    assert install["env"] == {
        "ECS_POC_INSTALL_VERSION": "${{ inputs.version }}",
        "ECS_POC_INSTALL_ACTION_REF": "${{ github.action_ref }}",
        "ECS_POC_INSTALL_REPOSITORY": "${{ github.action_repository }}",
        "ECS_POC_INSTALL_SOURCE_DIR": "${{ github.action_path }}",
        "ECS_POC_INSTALL_TOKEN": "${{ inputs.github-token }}",
        "ECS_POC_INSTALL_COMMAND": "${{ inputs.command }}",
    }
    assert ".github/scripts/install-ecs-poc.sh" in install["run"]


@pytest.mark.parametrize("path", [REPO / "action.yml", *workflow_files()], ids=lambda p: p.name)
def test_no_expression_is_interpolated_into_a_script(path: Path) -> None:
    for step in steps_of(load(path)):
        assert "${{" not in step.get("run", ""), f"{path.name}: pass it through env: instead: {step['run']!r}"


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_third_party_actions_are_pinned_by_commit(path: Path) -> None:
    for step in steps_of(load(path)):
        uses = step.get("uses")
        if uses is None or uses.startswith("./"):
            continue
        assert PINNED.match(uses), f"{path.name}: {uses} is not pinned to a full commit SHA"


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_permissions_are_empty_at_the_top_and_granted_per_job(path: Path) -> None:
    doc = load(path)
    assert doc["permissions"] == {}
    for name, job in doc["jobs"].items():
        assert "permissions" in job, f"{path.name}: job {name} must say which permissions it needs"
        assert "write-all" not in str(job["permissions"])


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_checkouts_keep_no_credentials(path: Path) -> None:
    for step in steps_of(load(path)):
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False


PREVIEW = load(WORKFLOWS / "preview.yml")
AWS_JOB_PERMISSIONS = {"id-token": "write", "contents": "read", "pull-requests": "write", "deployments": "write"}


def test_preview_runs_on_pull_request_events_including_closed() -> None:
    assert set(PREVIEW["on"]["pull_request"]["types"]) == {"opened", "synchronize", "reopened", "closed"}


@pytest.mark.parametrize(("job", "command"), [("deploy", "deploy"), ("destroy", "destroy")])
def test_preview_jobs_have_exactly_the_needed_permissions_and_never_cancel_a_run(job: str, command: str) -> None:
    spec = PREVIEW["jobs"][job]
    assert spec["permissions"] == AWS_JOB_PERMISSIONS
    assert spec["concurrency"] == {
        "group": "ecs-poc-preview-pr-${{ github.event.pull_request.number }}",
        "cancel-in-progress": False,
    }
    action = next(step for step in spec["steps"] if step.get("uses") == "./")
    assert action["with"]["command"] == command


def test_preview_closed_destroys_and_other_actions_deploy() -> None:
    assert "github.event.action != 'closed'" in PREVIEW["jobs"]["deploy"]["if"]
    assert "github.event.action == 'closed'" in PREVIEW["jobs"]["destroy"]["if"]


def test_preview_skips_forks_and_says_why() -> None:
    same_repo = "github.event.pull_request.head.repo.full_name == github.repository"
    assert same_repo in PREVIEW["jobs"]["deploy"]["if"]
    assert same_repo in PREVIEW["jobs"]["destroy"]["if"]
    fork = PREVIEW["jobs"]["fork"]
    assert "github.event.pull_request.head.repo.full_name != github.repository" in fork["if"]
    assert fork["permissions"] == {}
    message = fork["steps"][0]["run"]
    assert "::notice" in message and "no OIDC token" in message


def test_teardown_takes_a_pull_request_number_and_shares_the_preview_lock() -> None:
    doc = load(WORKFLOWS / "teardown.yml")
    spec = doc["on"]["workflow_dispatch"]["inputs"]["pull-request"]
    assert spec["required"] is True and spec["type"] == "number"
    job = doc["jobs"]["destroy"]
    assert job["permissions"] == AWS_JOB_PERMISSIONS
    assert job["concurrency"]["group"] == "ecs-poc-preview-pr-${{ inputs.pull-request }}"
    assert job["concurrency"]["cancel-in-progress"] is False
    action = next(step for step in job["steps"] if step.get("uses") == "./")
    assert action["with"]["command"] == "destroy"
    assert action["with"]["pull-request"] == "${{ inputs.pull-request }}"


def test_sweep_is_scheduled_and_can_be_dry_run_by_hand() -> None:
    doc = load(WORKFLOWS / "sweep.yml")
    assert doc["on"]["schedule"][0]["cron"]
    assert doc["on"]["workflow_dispatch"]["inputs"]["dry-run"]["type"] == "boolean"
    action = next(step for step in doc["jobs"]["sweep"]["steps"] if step.get("uses") == "./")
    assert action["with"]["command"] == "sweep"


def test_the_default_branch_s_deploy_may_record_its_deployment() -> None:
    assert PREVIEW["jobs"]["deploy-main"]["permissions"] == {
        "id-token": "write",
        "contents": "read",
        "deployments": "write",
    }


def test_sweep_may_mark_the_deployments_of_what_it_destroys_inactive() -> None:
    assert load(WORKFLOWS / "sweep.yml")["jobs"]["sweep"]["permissions"]["deployments"] == "write"


PROMOTE = load(WORKFLOWS / "promote.yml")


def test_promote_runs_on_a_published_release_or_by_hand() -> None:
    assert PROMOTE["on"] == {"release": {"types": ["published"]}, "workflow_dispatch": None}


def test_promote_runs_in_the_production_environment_so_its_reviewers_gate_it() -> None:
    (job,) = PROMOTE["jobs"].values()
    assert job["environment"] == "production"
    assert job["permissions"] == {"id-token": "write", "contents": "read", "deployments": "write"}
    assert job["concurrency"] == {"group": "ecs-poc-production", "cancel-in-progress": False}
    action = next(step for step in job["steps"] if step.get("uses") == "./")
    assert action["with"] == {"command": "promote", "from": "staging", "to": "production"}


DOC = REPO / "docs" / "use-in-your-repository.md"


def test_the_guide_s_example_job_asks_for_what_preview_yml_grants() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.DOTALL)
    example = next(yaml.safe_load(b) for b in blocks if "jobs:" in b)
    deploy = example["jobs"]["deploy"]
    assert deploy["permissions"] == PREVIEW["jobs"]["deploy"]["permissions"]
    assert deploy["concurrency"] == PREVIEW["jobs"]["deploy"]["concurrency"]
    assert deploy["if"] == PREVIEW["jobs"]["deploy"]["if"]
    assert example[True]["pull_request"] == PREVIEW["on"]["pull_request"]
    ours = next(s for s in PREVIEW["jobs"]["deploy"]["steps"] if s.get("uses") == "./")
    theirs = next(s for s in deploy["steps"] if "ecs-poc@" in str(s.get("uses")))
    assert theirs["with"] == ours["with"]


def test_the_guide_names_only_bootstrap_outputs_that_exist() -> None:
    outputs_tf = REPO / "terraform" / "bootstrap" / "outputs.tf"
    defined = set(re.findall(r'^output "([\w-]+)"', outputs_tf.read_text(), re.MULTILINE))
    named = set(re.findall(r"terraform output -raw ([\w-]+)", DOC.read_text()))
    table = set(re.findall(r"^\| `([\w-]+)` \|", DOC.read_text(), re.MULTILINE))
    assert named and table
    assert named | table <= defined
