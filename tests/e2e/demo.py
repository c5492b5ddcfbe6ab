"""`make demo`: the whole pipeline on the embedded local default, with no AWS account and no GitHub.

1. starts emulated AWS, the registry answering as ECR, the Docker engine and a fake GitHub;
2. applies terraform/bootstrap as an admin would once;
3. runs `ecs-poc` as the workflow would for a push to main, then for pull request #1 of this
   repository: terraform, image build and push, rollout, wait, comment;
4. prints the pull request comment exactly as posted, and the run's outputs;
5. runs the image it just pushed on the local Docker engine and prints a localhost URL that answers;
6. closes the pull request (`ecs-poc destroy`), stops everything and removes what it made.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
import urllib.request

from tests.e2e.runner import RunResult
from tests.e2e.world import World, start_world

PR_NUMBER = 1


def say(text: str = "") -> None:
    print(text, flush=True)


def banner(text: str) -> None:
    say()
    say(f"=== {text} ===")


def git_sha() -> str:
    proc = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else "d" * 40


def check(result: RunResult, what: str) -> None:
    if result.returncode != 0:
        say(result.stderr[-8000:])
        raise SystemExit(f"demo: {what} failed with exit {result.returncode} (its log is above)")
    say(f"{what}: ok in {result.seconds:.0f} s")


def run_locally(image: str, prefix: str) -> tuple[str, str]:
    """Runs the pushed image as ECS would (read-only root, no capabilities) on a loopback port."""
    container = subprocess.run(
        ["docker", "run", "-d", "--rm", "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
         "-e", f"SCRIPT_NAME={prefix}", "-p", "127.0.0.1::8000", image],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    port = subprocess.run(["docker", "port", container, "8000/tcp"], check=True, capture_output=True,
                          text=True).stdout.split(":")[-1].strip()
    return container, f"http://127.0.0.1:{port}{prefix}/"


def wait_for(url: str, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                body: bytes = resp.read()
                return body.decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def demo(world: World, keep: bool) -> None:
    sha = git_sha()
    inputs = {"state-bucket": world.bootstrap["state_bucket"], "smoke-check": "false", "wait-timeout": "120"}

    banner("push to main: shared stack (network, cluster, load balancer, registry) and the main service")
    main = world.runner.run("push", world.runner.push_event(sha), sha=sha,
                            inputs={**inputs, "role-to-assume": world.bootstrap["shared_role_arn"]})
    check(main, "deploy main")

    banner(f"pull request #{PR_NUMBER}: its own preview stack")
    pr = world.runner.run("pull_request", world.runner.pull_request_event(PR_NUMBER, sha), sha=sha,
                          inputs={**inputs, "role-to-assume": world.bootstrap["preview_role_arn"]})
    say(pr.stderr[-4000:])
    check(pr, f"deploy pr-{PR_NUMBER}")

    banner(f"the comment on pull request #{PR_NUMBER}, as posted")
    for comment in world.github.comments(PR_NUMBER):
        say(comment["body"])

    banner("outputs")
    for name, value in sorted(pr.outputs.items()):
        say(f"{name} = {value}")

    banner("the freshly built image, on this machine")
    container, url = run_locally(pr.outputs["image"], f"/pr-{PR_NUMBER}")
    try:
        health = wait_for(url + "healthz")
        say(f"GET {url}healthz -> {health.strip()}")
        say(f"GET {url} -> {wait_for(url).strip()}")
        say()
        say(f"The service answers at {url}")
        say(f"(on AWS it would be {pr.outputs['endpoint']})")
        if keep and sys.stdin.isatty():
            input("Press Enter to tear everything down... ")
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)

    banner(f"pull request #{PR_NUMBER} closed: teardown")
    closed = world.runner.run("pull_request", world.runner.pull_request_event(PR_NUMBER, sha, action="closed"),
                              sha=sha, inputs={**inputs, "role-to-assume": world.bootstrap["preview_role_arn"]})
    check(closed, f"destroy pr-{PR_NUMBER}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="on a terminal, wait for Enter before tearing down")
    args = parser.parse_args()
    # The scripted ECS reports each rollout steady at the first DescribeServices, as if the
    # service were already running: how the binary waits on a rollout is tested elsewhere
    # (tests/stage_ecs.rs, tests/e2e), and the demo has no reason to sit through it.
    world = start_world(fake_ecs_args=("--steady-after", "0"))
    try:
        demo(world, keep=args.keep)
    finally:
        world.stop()
        shutil.rmtree(world.root, ignore_errors=True)
    say("\ndemo: done; everything it started is stopped and its files removed.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
