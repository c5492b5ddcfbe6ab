"""The world an end-to-end run needs, started once: emulated AWS (moto + fidelity proxy + ECR bridge),
the scripted ECS endpoint in front of it, the registry answering as ECR, the Docker engine, a fake
GitHub, the terraform bootstrap applied as an admin would, and a runner over a fresh checkout.

`start_world()` is one environment in the emulator's default account (`make demo`, test_pipeline);
`start_environments_world()` is staging and production in two accounts and two regions, each
bootstrapped by its own administrator, with the repository's `ecs-poc.yml` naming both.

Shared by tests/e2e and `make demo`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
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
class Environment:
    """One environment of the two-account story: its account, region and bootstrap variables."""

    name: str
    account: str
    region: str
    state_bucket: str
    variables: tuple[str, ...]
    bootstrap: dict[str, Any] = field(default_factory=dict)

    @property
    def base(self) -> str:
        """`<name>-<environment>`: the shared stack's cluster, repository and roles start with it."""
        return f"ecs-poc-{self.name}"

    @property
    def registry(self) -> str:
        return f"{self.account}.dkr.ecr.{self.region}.amazonaws.com"


# The story of the environments end-to-end tests: staging and production in two accounts, as
# terraform/README.md bootstraps them (previews and the promote-source role in staging; production's
# deploy role trusts only jobs of the GitHub environment `production`).
STAGING = Environment(
    "staging", "111111111111", "eu-west-2", "ecs-poc-staging-state",
    ("-var=environment=staging", "-var=region=eu-west-2", "-var=state_bucket_name=ecs-poc-staging-state",
     "-var=previews=true", '-var=promotion_targets=["production"]'))
PRODUCTION = Environment(
    "production", "222222222222", "eu-west-1", "ecs-poc-production-state",
    ("-var=environment=production", "-var=region=eu-west-1", "-var=state_bucket_name=ecs-poc-production-state",
     "-var=previews=false", "-var=github_environment=production"))


@dataclass
class World:
    root: Path
    aws: EmulatedAws
    github: FakeGitHub
    fake_ecs: FakeProcess
    runner: Runner
    base_image: str
    bootstrap: dict[str, Any] = field(default_factory=dict)
    # The rest of the bootstrap applies (see `apply_bootstrap`), still running or done, with their logs.
    bootstrap_rest: list[tuple[subprocess.Popen[bytes], Path]] = field(default_factory=list)
    # The environments, by name, when the world has several (`start_environments_world`).
    environments: dict[str, Environment] = field(default_factory=dict)

    def finish_bootstrap(self, timeout: float = 180) -> None:
        """Waits for the deferred part of the bootstrap applies; raises if one failed."""
        while self.bootstrap_rest:
            proc, log_path = self.bootstrap_rest.pop()
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise RuntimeError(f"bootstrap terraform apply still running after {timeout:.0f} s; log: {log_path}")
            if code != 0:
                raise RuntimeError(f"bootstrap terraform apply failed ({code}); log: {log_path}")

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

    def ecs(self, environment: str | None = None) -> Any:
        return self.client("ecs", environment)

    def client(self, service: str, environment: str | None = None) -> Any:
        """A boto3 client as the administrator: of the named environment's account, in its region,
        or of the emulator's default account."""
        if environment is None:
            return self.aws.client(service)
        return self.aws.client(service, account=self.environments[environment].account)

    def terraform(self, stack_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([terraform_binary(), f"-chdir={stack_dir}", *args], env=self.aws.child_env(),
                              text=True, capture_output=True, check=False)


def start_world(root: Path | None = None, fake_ecs_args: tuple[str, ...] = ()) -> World:
    """Starts everything; the caller must call `World.stop()`."""
    world = _start(root, fake_ecs_args, (), (IMAGE_REPOSITORY, PREVIEW_REPOSITORY))
    try:
        world.bootstrap = apply_bootstrap(world)
    except BaseException:
        world.stop()
        raise
    return world


def start_environments_world(root: Path | None = None, fake_ecs_args: tuple[str, ...] = ()) -> World:
    """Staging and production (`STAGING`, `PRODUCTION`) in their own accounts and regions: each
    account's bootstrap applied by that account's administrator (both at once), and the checkout's
    `ecs-poc.yml` naming both environments with the roles and buckets the bootstraps made.
    The caller must call `World.stop()`."""
    environments = {e.name: Environment(e.name, e.account, e.region, e.state_bucket, e.variables)
                    for e in (STAGING, PRODUCTION)}
    repositories = tuple(f"{e.base}{suffix}" for e in environments.values() for suffix in ("", "-previews"))
    world = _start(root, fake_ecs_args, tuple(environments.values()), repositories)
    world.environments = environments
    try:
        with ThreadPoolExecutor(max_workers=len(environments)) as pool:
            done = {name: pool.submit(apply_bootstrap, world, env) for name, env in environments.items()}
            for name, outputs in done.items():
                environments[name].bootstrap = outputs.result()
        config = Path(world.runner.extra_env["ECS_POC_CONFIG"])
        config.write_text(config.read_text() + environments_block(environments))
    except BaseException:
        world.stop()
        raise
    return world


def environments_block(environments: dict[str, Environment]) -> str:
    """The `environments:` block of the repository's ecs-poc.yml, as the README tells a user to write
    it from each bootstrap's outputs."""
    staging, production = environments["staging"], environments["production"]
    return (
        "environments:\n"
        "  staging:\n"
        f"    aws-region: {staging.region}\n"
        f"    role-to-assume: {staging.bootstrap['shared_role_arn']}\n"
        f"    preview-role-to-assume: {staging.bootstrap['preview_role_arn']}\n"
        f"    promote-source-role: {staging.bootstrap['promote_source_role_arn']}\n"
        f"    state-bucket: {staging.bootstrap['state_bucket']}\n"
        "    previews: true\n"
        "  production:\n"
        f"    aws-region: {production.region}\n"
        f"    role-to-assume: {production.bootstrap['shared_role_arn']}\n"
        f"    state-bucket: {production.bootstrap['state_bucket']}\n"
        "    promote-from: staging\n"
    )


def _start(root: Path | None, fake_ecs_args: tuple[str, ...], environments: tuple[Environment, ...],
           repositories: tuple[str, ...]) -> World:
    root = root or Path(tempfile.mkdtemp(prefix="ecs-poc-e2e-"))
    log("docker engine, base image, registry-as-ECR, terraform")
    run_script(".ci/setup-docker.sh")
    base_image = run_script(".ci/base-image.sh", capture=True).splitlines()[-1]
    run_script(".ci/setup-registry.sh", "up")
    run_script(".ci/setup-terraform.sh")
    purged = sum(Registry("eu-west-2").purge(r) for r in repositories)
    log(f"emulated AWS (registry: {purged} stale image(s) of {', '.join(repositories)} removed)")
    aws = EmulatedAws(accounts={e.account: e.region for e in environments}).start()
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
        if environments:
            # The registry's certificate comes from the harness's own CA: the runner machine trusts
            # it (as a runner trusts ECR's public certificate) for the binary's registry-to-registry copy.
            aws_env["SSL_CERT_FILE"] = str(trusted_roots(root))
        runner = Runner(workspace, binary_path(), aws_env, github, repository=REPOSITORY,
                        extra_env={"ECS_POC_CONFIG": str(config)})
        return World(root=root, aws=aws, github=github, fake_ecs=fake_ecs, runner=runner, base_image=base_image)
    except BaseException:
        for proc in (fake_ecs, github):
            if proc is not None:
                proc.stop()
        aws.stop()
        raise


SYSTEM_ROOTS = Path("/etc/ssl/certs/ca-certificates.crt")


def trusted_roots(root: Path) -> Path:
    """The system's CA bundle plus the registry's CA (`.ci/setup-registry.sh`), as one file."""
    bundle = root / "trusted-roots.pem"
    parts = [SYSTEM_ROOTS.read_text() if SYSTEM_ROOTS.is_file() else "",
             (cache_dir() / "registry" / "ca.pem").read_text()]
    bundle.write_text("\n".join(parts))
    return bundle


# Resources of terraform/bootstrap that nothing else reads and whose apply is slow for the
# provider's own reasons: it confirms a lifecycle rule with ten reads 5 s apart (about a minute),
# whatever the answers. The world applies everything else, hands out the outputs, and lets these
# finish in the background while the first runs start, as an admin's bootstrap would long be done
# before anyone's first push.
DEFERRED_BOOTSTRAP_TYPES = ("aws_s3_bucket_lifecycle_configuration",)


def apply_bootstrap(world: World, environment: Environment | None = None) -> dict[str, Any]:
    """terraform/bootstrap, applied once with admin rights and local state, as the README says; for an
    `environment`, by that account's administrator, in its own copy of the directory (its own state)."""
    source = world.runner.workspace / "terraform" / "bootstrap"
    env = world.aws.child_env()
    name = "bootstrap"
    variables: tuple[str, ...] = (f"-var=repository={REPOSITORY}", "-var=force_destroy=true")
    stack = source
    if environment is not None:
        # A directory per account beside the original, so the module sources (../modules) still resolve.
        name = f"bootstrap-{environment.name}"
        stack = source.with_name(name)
        shutil.copytree(source, stack, dirs_exist_ok=True)
        env = world.aws.child_env(world.aws.account_env(environment.account, environment.region))
        variables = (*variables, *environment.variables)

    def terraform(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([terraform_binary(), f"-chdir={stack}", *args], env=env, text=True,
                              capture_output=True, check=False)

    log(f"terraform/bootstrap: init + apply (local state, as a human admin would){f' in {environment.name}' if environment else ''}")
    step("init", terraform("init", "-input=false"))
    plan = world.root / f"{name}.tfplan"
    step("plan", terraform("plan", "-input=false", f"-out={plan}", *variables))
    changes = json.loads(step("show", terraform("show", "-json", str(plan))))["resource_changes"]
    managed = [c for c in changes if c["mode"] == "managed" and c["change"]["actions"] != ["no-op"]]
    now = [c["address"] for c in managed if c["type"] not in DEFERRED_BOOTSTRAP_TYPES]
    if len(now) == len(managed):
        step("apply", terraform("apply", "-input=false", str(plan)))
    else:
        step("apply", terraform("apply", "-input=false", "-auto-approve", *variables,
                                *(f"-target={address}" for address in now)))
    plan.unlink()
    outputs = json.loads(step("output", terraform("output", "-json")))
    if len(now) < len(managed):
        log_path = world.root / f"{name}-rest.log"
        log(f"terraform/bootstrap: {len(managed) - len(now)} resource(s) left to apply in the background "
            f"({', '.join(DEFERRED_BOOTSTRAP_TYPES)}; log: {log_path})")
        with open(log_path, "wb") as out:
            world.bootstrap_rest.append((subprocess.Popen(
                [terraform_binary(), f"-chdir={stack}", "apply", "-input=false", "-auto-approve", *variables],
                env=env, stdout=out, stderr=subprocess.STDOUT), log_path))
    return {name: value["value"] for name, value in outputs.items()}


def step(name: str, done: subprocess.CompletedProcess[str]) -> str:
    """The output of one bootstrap terraform command, or an error with all of it."""
    if done.returncode != 0:
        raise RuntimeError(f"bootstrap terraform {name} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout
