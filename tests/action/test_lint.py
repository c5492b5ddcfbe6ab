"""Linters as tests: each must report nothing on the action, the workflows and every shell script in the repository.

The tools come from the lint virtualenv (`make setup-lint`); ECS_POC_LINT_BIN points elsewhere if needed.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from .conftest import REPO

LINT_BIN = Path(
    os.environ.get("ECS_POC_LINT_BIN")
    or Path(os.environ.get("ECS_POC_CACHE", Path.home() / ".cache" / "ecs-poc")) / "lint-venv" / "bin"
)
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
YAMLLINT_CONFIG = (
    "{extends: default, rules: {line-length: {max: 120}, document-start: disable, truthy: {check-keys: false},"
    " comments: {min-spaces-from-content: 1}}}"
)
SHEBANG = re.compile(r"^#!.*\b(bash|sh)\b")


def tool(name: str) -> str:
    path = LINT_BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make setup-lint` (or set ECS_POC_LINT_BIN)")
    return str(path)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    # The lint venv first on PATH: actionlint runs the shellcheck installed beside it on every run: block.
    env = {**os.environ, "PATH": f"{LINT_BIN}:{os.environ['PATH']}", "NO_COLOR": "1"}
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)


def assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"{' '.join(result.args)}\n{result.stdout}\n{result.stderr}"


# Templates (terraform's templatefile) are shell only once rendered: their ${var} are terraform's, not the shell's.
TEMPLATE_SUFFIXES = (".tftpl", ".tpl")


def shell_scripts() -> list[Path]:
    """Every tracked shell script: *.sh, *.bash, or a file whose shebang names bash or sh; templates excluded."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    scripts = []
    for name in filter(None, listed):
        path = REPO / name
        if not path.is_file() or path.suffix in TEMPLATE_SUFFIXES:
            continue
        if path.suffix in (".sh", ".bash"):
            scripts.append(path)
            continue
        with path.open("rb") as f:
            first = f.readline(200)
        if SHEBANG.match(first.decode("utf-8", "replace")):
            scripts.append(path)
    return scripts


def test_actionlint_reports_nothing_on_the_workflows() -> None:
    # actionlint also checks each `uses: ./` step's inputs against action.yml, and shellchecks every run: block.
    result = run(tool("actionlint"), "-no-color", *map(str, WORKFLOWS))
    assert_clean(result)
    assert result.stdout == ""


def test_zizmor_reports_nothing_on_the_action_and_workflows() -> None:
    result = run(
        tool("zizmor"), "--offline", "--no-progress", "--config", ".github/zizmor.yml", "action.yml",
        ".github/workflows",
    )  # fmt: skip
    assert_clean(result)
    assert "No findings" in result.stdout


def test_the_workflows_match_github_s_workflow_schema() -> None:
    assert_clean(run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)))


def test_the_action_matches_github_s_action_schema() -> None:
    assert_clean(run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", "action.yml"))


def test_yamllint_reports_nothing_on_the_action_and_github_files() -> None:
    files = ["action.yml", ".github/zizmor.yml", *map(str, WORKFLOWS)]
    result = run(tool("yamllint"), "--strict", "-f", "parsable", "-d", YAMLLINT_CONFIG, *files)
    assert_clean(result)


def test_shellcheck_reports_nothing_on_any_shell_script_in_the_repository() -> None:
    scripts = shell_scripts()
    names = {p.relative_to(REPO).as_posix() for p in scripts}
    # The finder must see scripts by extension and by shebang alone (.ci/run has no extension).
    assert ".github/scripts/install-ecs-poc.sh" in names and ".ci/run" in names
    result = run(tool("shellcheck"), "--external-sources", *map(str, scripts))
    assert_clean(result)


def test_shellcheck_reports_nothing_on_the_action_s_run_steps() -> None:
    # actionlint only reads workflows, so the composite action's scripts are checked here, as bash runs them.
    action = yaml.safe_load((REPO / "action.yml").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for index, step in enumerate(action["runs"]["steps"]):
            if "run" not in step:
                continue
            assert step["shell"] == "bash"
            path = Path(tmp) / f"step-{index}-{step.get('id', 'anon')}.sh"
            path.write_text(f"#!/usr/bin/env bash\nset -eo pipefail\n{step['run']}\n")
            paths.append(str(path))
        assert paths
        assert_clean(run(tool("shellcheck"), *paths))
