"""action.yml run the way the runner runs a composite action: its steps, their env: mappings, outputs between steps.

`CompositeRunner` is a small stand-in for the GitHub runner (tests only): it evaluates the `${{ <path> }}`
expressions action.yml uses, gives each step its own GITHUB_OUTPUT file, runs bash as the runner does, and maps
the action's outputs. Anything fancier in action.yml fails here loudly rather than being half-understood.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, ReleaseServer, Runner, runner_path
from .tool_releases import SigningKey, fake_terraform, release_files

EXPRESSION = re.compile(r"^\$\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}$")
PACKAGE = REPO / ".github" / "scripts" / "package-release.sh"
CHECKSUMS = REPO / ".github" / "scripts" / "release-checksums.sh"
RELEASE_COMMIT = "b" * 40


@dataclass
class StepResult:
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]


@dataclass
class CompositeRunner:
    env: dict[str, str]
    github: dict[str, str]
    tmp: Path
    steps: dict[str, StepResult] = field(default_factory=dict)

    def evaluate(self, value: object, inputs: dict[str, str]) -> str:
        text = str(value)
        if "${{" not in text:
            return text
        match = EXPRESSION.match(text)
        assert match, f"this stand-in runner only evaluates `${{{{ path }}}}`; extend it for {text!r}"
        head, _, rest = match.group(1).partition(".")
        if head == "inputs":
            return inputs[rest]
        if head == "github":
            return self.github.get(rest, "")
        if head == "steps":
            step_id, _, output = rest.partition(".outputs.")
            return self.steps[step_id].outputs.get(output, "") if step_id in self.steps else ""
        raise AssertionError(f"unknown context in {text!r}")

    def run(self, with_: dict[str, str], only: set[str] | None = None) -> tuple[dict[str, str], list[StepResult]]:
        action = yaml.safe_load((REPO / "action.yml").read_text())
        unknown = set(with_) - set(action["inputs"])
        assert not unknown, f"inputs not in action.yml: {unknown}"
        inputs = {
            name: with_.get(name, self.evaluate(spec.get("default", ""), {})) for name, spec in action["inputs"].items()
        }
        results = []
        for index, step in enumerate(action["runs"]["steps"]):
            step_id = step.get("id", f"__{index}")
            if only is not None and step_id not in only:
                continue
            assert step["shell"] == "bash"
            output_file = self.tmp / f"output-{step_id}"
            output_file.write_text("")
            script = self.tmp / f"step-{step_id}.sh"
            script.write_text(step["run"])
            env = {
                **self.env,
                "GITHUB_ACTION_PATH": str(REPO),
                "GITHUB_OUTPUT": str(output_file),
                **{k: self.evaluate(v, inputs) for k, v in step.get("env", {}).items()},
            }
            proc = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                env=env,
                cwd=self.tmp,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            result = StepResult(proc.returncode, proc.stdout, proc.stderr, read_outputs(output_file))
            self.steps[step_id] = result
            results.append(result)
            if proc.returncode != 0:
                break
        outputs = {name: self.evaluate(spec["value"], inputs) for name, spec in action["outputs"].items()}
        return outputs, results


def read_outputs(path: Path) -> dict[str, str]:
    """Parses a GITHUB_OUTPUT file: `name=value` lines and `name<<DELIMITER` blocks."""
    outputs: dict[str, str] = {}
    lines = iter(path.read_text().splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            for inner in lines:
                if inner == delimiter:
                    break
                body.append(inner)
            outputs[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


RECORDING_BINARY = """#!/usr/bin/env python3
# Stand-in ecs-poc for the wiring test: records what it was given and answers like the real one.
import json, os, shutil, sys
with open(os.environ["ECS_POC_TEST_RECORD"], "w") as f:
    inputs = {k: v for k, v in os.environ.items() if k.startswith("INPUT_")}
    json.dump({"argv": sys.argv[1:], "env": inputs, "terraform": shutil.which("terraform")}, f)
with open(os.environ["GITHUB_OUTPUT"], "a") as f:
    f.write("endpoint=http://alb.example/pr-7/\\nimage=repo@sha256:abc\\nstack=pr-7\\nplan-changes=3\\n")
    f.write("task-definition-arn<<EOF_1\\narn:aws:ecs:eu-west-2:123456789012:task-definition/ecs-poc-main-pr-7:3\\nEOF_1\\n")
"""


@pytest.fixture
def composite(tmp_path: Path, runner: Runner) -> CompositeRunner:
    env = {k: v for k, v in runner.env.items() if not k.startswith("ECS_POC_INSTALL_") or k.endswith("BASE_URL")}
    env["ECS_POC_INSTALL_DIR"] = str(tmp_path / "installed")
    env["ECS_POC_TEST_RECORD"] = str(tmp_path / "record.json")
    github = {
        "action_ref": "v1.2.3",
        "action_repository": "acme/ecs-poc",
        "action_path": str(REPO),
        "token": "ghs_runner-token",
    }
    return CompositeRunner(env=env, github=github, tmp=tmp_path)


def publish_terraform(composite: CompositeRunner, release_server: ReleaseServer, key: SigningKey) -> dict[str, str]:
    """A fake terraform release on the local site; returns the inputs and env that point the action at it."""
    release_server.files.update(release_files("terraform", "1.15.5", fake_terraform("Terraform", "1.15.5"), key))
    composite.env["ECS_POC_TF_SIGNING_KEY"] = str(key.public)
    composite.env["RUNNER_TOOL_CACHE"] = str(composite.tmp / "tool-cache")
    # A hosted runner's PATH: no terraform (make puts the harness's own first on PATH).
    composite.env["PATH"] = runner_path(composite.tmp / "runner-bin")
    return {"terraform-version": "1.15.5", "terraform-download-url": f"http://127.0.0.1:{release_server.port}"}


def publish_recording_release(tmp_path: Path, release_server: ReleaseServer) -> None:
    binary = tmp_path / "recording-ecs-poc"
    binary.write_text(RECORDING_BINARY)
    binary.chmod(0o755)
    dist = tmp_path / "dist"
    for target in ("x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"):
        subprocess.run(["bash", str(PACKAGE), "1.2.3", target, str(binary), str(dist), RELEASE_COMMIT], check=True)
    subprocess.run(["bash", str(CHECKSUMS), str(dist)], check=True, capture_output=True)
    for path in dist.iterdir():
        release_server.files[f"/releases/download/v1.2.3/{path.name}"] = path.read_bytes()


def test_inputs_reach_the_binary_and_its_outputs_become_the_action_s(
    tmp_path: Path, composite: CompositeRunner, release_server: ReleaseServer, test_key: SigningKey
) -> None:
    publish_recording_release(tmp_path, release_server)
    terraform = publish_terraform(composite, release_server, test_key)

    outputs, results = composite.run(
        {
            "role-to-assume": "arn:aws:iam::123456789012:role/ecs-poc-main-deploy-preview",
            "pull-request": "7",
            **terraform,
        }
    )

    assert [r.returncode for r in results] == [0, 0, 0, 0], [r.stderr for r in results]
    record = json.loads((tmp_path / "record.json").read_text())
    # The binary finds the terraform the action downloaded and verified first on PATH.
    assert results[1].outputs["source"] == "download"
    assert record["terraform"] == results[1].outputs["path"]
    assert record["terraform"] == str(tmp_path / "tool-cache" / "terraform" / "1.15.5" / "amd64" / "terraform")
    assert record["argv"] == []
    passed = record["env"]
    assert passed["INPUT_ROLE-TO-ASSUME"] == "arn:aws:iam::123456789012:role/ecs-poc-main-deploy-preview"
    assert passed["INPUT_PULL-REQUEST"] == "7"
    # github-token defaults to the job's token; inputs left empty arrive empty, which the binary reads as unset.
    assert passed["INPUT_GITHUB-TOKEN"] == "ghs_runner-token"
    assert passed["INPUT_AWS-REGION"] == "" and passed["INPUT_CONFIG"] == ""
    assert outputs == {
        "endpoint": "http://alb.example/pr-7/",
        "image": "repo@sha256:abc",
        "task-definition-arn": "arn:aws:ecs:eu-west-2:123456789012:task-definition/ecs-poc-main-pr-7:3",
        "plan-changes": "3",
        "changed": "true",
        "stack": "pr-7",
        # Set only with `environments:` in ecs-poc.yml (environment) or by promote (the other three).
        "environment": "",
        "digest": "",
        "source-environment": "",
        "source-commit": "",
    }
    # The install step's log says which release it verified; the token never shows up in any step's output.
    assert "sha256 verified" in results[0].stderr
    assert all("ghs_runner-token" not in r.stdout + r.stderr for r in results)


def test_a_damaged_release_stops_the_action_before_the_binary_step(
    tmp_path: Path, composite: CompositeRunner, release_server: ReleaseServer
) -> None:
    publish_recording_release(tmp_path, release_server)
    name = "/releases/download/v1.2.3/ecs-poc-1.2.3-x86_64-unknown-linux-musl.tar.gz"
    release_server.files[name] = release_server.files[name][:-10] + b"0123456789"

    outputs, results = composite.run({})

    assert len(results) == 1 and results[0].returncode == 5
    assert "checksum mismatch" in results[0].stderr
    assert not (tmp_path / "record.json").exists()
    assert outputs["endpoint"] == ""


REAL_BINARY = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache" / "ecs-poc" / "target")) / "debug/ecs-poc"


@pytest.fixture
def real_binary() -> Path:
    if not REAL_BINARY.exists():
        pytest.fail(f"{REAL_BINARY} is missing: `make build` first (make test-action does)")
    return REAL_BINARY


def run_real(composite: CompositeRunner, binary: Path, with_: dict[str, str]) -> StepResult:
    composite.steps["install"] = StepResult(0, "", "", {"bin": str(binary)})
    _, results = composite.run(with_, only={"run"})
    return results[0]


@pytest.mark.parametrize(
    ("name", "value"),
    [("wait-timeout", "soon"), ("dry-run", "maybe"), ("role-duration-seconds", "forever"), ("command", "launch")],
)
def test_the_real_binary_reads_each_hyphenated_input_the_action_passes(
    composite: CompositeRunner, real_binary: Path, name: str, value: str
) -> None:
    result = run_real(composite, real_binary, {name: value})

    # A configuration error (exit 2) that names the input and the bad value proves the binary read INPUT_<NAME>.
    assert result.returncode == 2, result.stderr
    assert f"{name} = `{value}`" in result.stderr


def test_the_action_s_defaults_are_a_valid_configuration_for_the_real_binary(
    composite: CompositeRunner, real_binary: Path
) -> None:
    # Every input at its default, outside a workflow run: the binary gets as far as asking for a command,
    # which proves no default (e.g. an explicit config path that does not exist) is rejected on its own.
    result = run_real(composite, real_binary, {})

    assert result.returncode == 2, result.stderr
    assert "no command given" in result.stderr
    assert "config file" not in result.stderr


def test_force_input_reaches_the_real_binary_s_main_stack_guard(composite: CompositeRunner, real_binary: Path) -> None:
    result = run_real(composite, real_binary, {"command": "destroy", "stack": "main"})

    assert result.returncode == 2
    assert "refusing to destroy the `main` stack" in result.stderr
    assert "input force: true" in result.stderr


@pytest.mark.parametrize(("plan_changes", "changed"), [("0", "false"), ("12", "true"), ("", "")])
def test_changed_is_derived_from_the_plan_changes_count(
    composite: CompositeRunner, plan_changes: str, changed: str
) -> None:
    composite.steps["run"] = StepResult(0, "", "", {"plan-changes": plan_changes} if plan_changes else {})

    outputs, results = composite.run({}, only={"changed"})

    assert [r.returncode for r in results] == [0]
    assert outputs["changed"] == changed
