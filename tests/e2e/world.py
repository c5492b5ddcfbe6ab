"""The world an end-to-end run needs, started once: emulated AWS (moto + fidelity proxy + ECR bridge),
the scripted ECS endpoint in front of it, the registry answering as ECR, the Docker engine, a fake
GitHub, the terraform bootstrap applied as an admin would, and a runner over a fresh checkout.

Shared by tests/e2e and `make demo`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.runner import REPO_ROOT, FakeGitHub, FakeProcess, Runner, cache_dir, checkout
from tests.harness.ecr_bridge import Registry
from tests.harness.emulated_aws import EmulatedAws

REPOSITORY = "octo-org/hello-service"
# The shared stack's ECR repositories (<name>-<environment> with the defaults): production's,
# which only the default branch pushes to, and the pull requests' own.
IMAGE_REPOSITORY = "ecs-poc-main"
PREVIEW_REPOSITORY = "ecs-poc-main-previews"
# Pull-request services run on the shared stack's Fargate cluster, production on the EC2 one.
PREVIEW_CLUSTER = "ecs-poc-main-previews"


def log(message: str) -> None:
    print(f"[world] {message}", file=sys.stderr, flush=True)


def run_script(*args: str, capture: bool = False) -> str:
    proc = subprocess.run(["bash", *args], cwd=REPO_ROOT, check=True, text=True,
                          stdout=subprocess.PIPE if capture else None)
    return (proc.stdout or "").strip()


def binary_path() -> Path:
    explicit = os.environ.get("ECS_POC_BINARY")
    if explicit:
        return Path(explicit)
    target = Path(os.environ.get("CARGO_TARGET_DIR", cache_dir() / "target"))
    return target / "debug" / "ecs-poc"


def terraform_binary() -> str:
    found = shutil.which("terraform", path=f"{cache_dir() / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    if not found:
        raise RuntimeError("no terraform: run `bash .ci/setup-terraform.sh` (make setup-terraform)")
    return found


@dataclass
class World:
    root: Path
    aws: EmulatedAws
    github: FakeGitHub
    fake_ecs: FakeProcess
    runner: Runner
    base_image: str
    bootstrap: dict[str, Any] = field(default_factory=dict)
    # The rest of the bootstrap apply (see `apply_bootstrap`), still running or done.
    bootstrap_rest: subprocess.Popen[bytes] | None = None

    def finish_bootstrap(self, timeout: float = 180) -> None:
        """Waits for the deferred part of the bootstrap apply; raises if it failed."""
        proc = self.bootstrap_rest
        if proc is None:
            return
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"bootstrap terraform apply still running after {timeout:.0f} s; log: {self.root / BOOTSTRAP_REST_LOG}")
        if code != 0:
            raise RuntimeError(f"bootstrap terraform apply failed ({code}); log: {self.root / BOOTSTRAP_REST_LOG}")

    def stop(self) -> None:
        try:
            self.finish_bootstrap()
        except RuntimeError as err:
            log(str(err))
        for stop in (self.fake_ecs.stop, self.github.stop, self.aws.stop):
            try:
                stop()
            except Exception as err:  # noqa: BLE001 - best effort, keep stopping the rest
                log(f"stop failed: {err}")

    def ecs(self) -> Any:
        return self.aws.client("ecs")

    def terraform(self, stack_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([terraform_binary(), f"-chdir={stack_dir}", *args], env=self.aws.child_env(),
                              text=True, capture_output=True, check=False)


def start_world(root: Path | None = None, fake_ecs_args: tuple[str, ...] = ()) -> World:
    """Starts everything; the caller must call `World.stop()`."""
    root = root or Path(tempfile.mkdtemp(prefix="ecs-poc-e2e-"))
    log("docker engine, base image, registry-as-ECR, terraform")
    run_script(".ci/setup-docker.sh")
    base_image = run_script(".ci/base-image.sh", capture=True).splitlines()[-1]
    run_script(".ci/setup-registry.sh", "up")
    run_script(".ci/setup-terraform.sh")
    purged = sum(Registry("eu-west-2").purge(r) for r in (IMAGE_REPOSITORY, PREVIEW_REPOSITORY))
    log(f"emulated AWS (registry: {purged} stale image(s) of {IMAGE_REPOSITORY} and {PREVIEW_REPOSITORY} removed)")
    aws = EmulatedAws().start()
    github = fake_ecs = None
    try:
        github = FakeGitHub()
        fake_ecs = FakeProcess("fake_ecs.py", "--moto", aws.endpoint, *fake_ecs_args)
        workspace = checkout(root / "workspace")
        config = workspace / "ecs-poc.e2e.yml"
        config.write_text(
            "# Written by the end-to-end harness: the only difference from a real repository is the base\n"
            "# image, which cannot be pulled here and is made locally by .ci/base-image.sh.\n"
            f"image:\n  build-args:\n    BASE_IMAGE: {json.dumps(base_image)}\n"
        )
        aws_env = {**aws.env(), "AWS_ENDPOINT_URL_ECS": fake_ecs.url,
                   "PATH": f"{cache_dir() / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
        runner = Runner(workspace, binary_path(), aws_env, github, repository=REPOSITORY,
                        extra_env={"ECS_POC_CONFIG": str(config)})
        world = World(root=root, aws=aws, github=github, fake_ecs=fake_ecs, runner=runner, base_image=base_image)
        world.bootstrap = apply_bootstrap(world)
        return world
    except BaseException:
        for proc in (fake_ecs, github):
            if proc is not None:
                proc.stop()
        aws.stop()
        raise


# Resources of terraform/bootstrap that nothing else reads and whose apply is slow for the
# provider's own reasons: it confirms a lifecycle rule with ten reads 5 s apart (about a minute),
# whatever the answers. The world applies everything else, hands out the outputs, and lets these
# finish in the background while the first runs start, as an admin's bootstrap would long be done
# before anyone's first push.
DEFERRED_BOOTSTRAP_TYPES = ("aws_s3_bucket_lifecycle_configuration",)
BOOTSTRAP_REST_LOG = "bootstrap-rest.log"


def apply_bootstrap(world: World) -> dict[str, Any]:
    """terraform/bootstrap, applied once with admin rights and local state, as the README says."""
    stack = world.runner.workspace / "terraform" / "bootstrap"
    log("terraform/bootstrap: init + apply (local state, as a human admin would)")
    variables = (f"-var=repository={REPOSITORY}", "-var=force_destroy=true")
    step("init", world.terraform(stack, "init", "-input=false"))
    plan = world.root / "bootstrap.tfplan"
    step("plan", world.terraform(stack, "plan", "-input=false", f"-out={plan}", *variables))
    changes = json.loads(step("show", world.terraform(stack, "show", "-json", str(plan))))["resource_changes"]
    managed = [c for c in changes if c["mode"] == "managed" and c["change"]["actions"] != ["no-op"]]
    now = [c["address"] for c in managed if c["type"] not in DEFERRED_BOOTSTRAP_TYPES]
    if len(now) == len(managed):
        step("apply", world.terraform(stack, "apply", "-input=false", str(plan)))
    else:
        step("apply", world.terraform(stack, "apply", "-input=false", "-auto-approve", *variables,
                                      *(f"-target={address}" for address in now)))
    plan.unlink()
    outputs = json.loads(step("output", world.terraform(stack, "output", "-json")))
    if len(now) < len(managed):
        log(f"terraform/bootstrap: {len(managed) - len(now)} resource(s) left to apply in the background "
            f"({', '.join(DEFERRED_BOOTSTRAP_TYPES)}; log: {world.root / BOOTSTRAP_REST_LOG})")
        with open(world.root / BOOTSTRAP_REST_LOG, "wb") as out:
            world.bootstrap_rest = subprocess.Popen(
                [terraform_binary(), f"-chdir={stack}", "apply", "-input=false", "-auto-approve", *variables],
                env=world.aws.child_env(), stdout=out, stderr=subprocess.STDOUT)
    return {name: value["value"] for name, value in outputs.items()}


def step(name: str, done: subprocess.CompletedProcess[str]) -> str:
    """The output of one bootstrap terraform command, or an error with all of it."""
    if done.returncode != 0:
        raise RuntimeError(f"bootstrap terraform {name} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout
