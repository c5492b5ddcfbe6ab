"""The repository's workflows under a real Actions engine: nektos/act in host mode, offline.

`Act.run` plays one event on one workflow file of a user's repository, with the action resolved as users reference
it (`uses: octo-org/ecs-poc@v1`, served from a local folder by `--local-repository`), on a PATH shaped like a hosted
runner's: docker, git, curl and the usual tools, but no terraform and no Rust. What the hosted runner would download
comes from a local site: the action's release (assets and sha256.sum made by the real release scripts) under
`GITHUB_SERVER_URL`, and terraform in HashiCorp's release layout.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.action.tool_releases import SigningKey, release_files
from tests.e2e.runner import REPO_ROOT, cache_dir, oidc_subject, with_oidc_subject

ACTION_REPOSITORY = "octo-org/ecs-poc"
ACTION_REF = "v1"
# What `uses: ./` becomes when a user copies the workflows (docs/use-in-your-repository.md, step 3).
USES_LOCAL = re.compile(r"^(\s*(?:-\s+)?uses:\s*)\./\s*$", re.MULTILINE)
SCRIPTS = REPO_ROOT / ".github" / "scripts"
# act clones actions/checkout for a step with `ref:`, which cannot work offline: see checkout-standin/action.yml.
CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683"
CHECKOUT_STANDIN = Path(__file__).resolve().parent / "checkout-standin"
TARGET = "x86_64-unknown-linux-musl"
# The hosted runner's tools this machine has outside /usr/local/bin (where a terraform 1.11 lives that GitHub's
# ubuntu-24.04 image does not have); docker's client is the one the other suites use.
HOSTED_PATH_DIRS = ("/usr/bin", "/bin")


def act_binary() -> Path:
    return cache_dir() / "act-venv" / "bin" / "act"


def log(message: str) -> None:
    print(f"[act] {message}", flush=True)


@dataclass
class Site:
    """Static files over HTTP on loopback (the fake GitHub release downloads and terraform's release site)."""

    root: Path
    requests: list[str] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Site:
        requests = self.requests

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                requests.append(self.path)

        handler = functools.partial(Handler, directory=str(self.root))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def cargo_version() -> str:
    found = re.search(r'^version = "([^"]+)"', (REPO_ROOT / "Cargo.toml").read_text(), re.MULTILINE)
    assert found, "no version in Cargo.toml"
    return found.group(1)


@dataclass(frozen=True)
class Release:
    archive: Path  # as served, under the site's root
    damaged: Path  # a copy that no longer matches sha256.sum, outside the site's root


def publish_action_release(site_root: Path, binary: Path, commit: str) -> Release:
    """The release `@v1` resolves to, built by the same scripts release.yml runs, under the GitHub download layout.

    Also keeps a damaged copy of the archive beside the site (`swap_in_damaged_archive` serves it for one run): the
    release keeps its address, since act resolves the action's own location from GITHUB_SERVER_URL as well.
    """
    version = cargo_version()
    release = site_root / ACTION_REPOSITORY / "releases" / "download" / f"v{version}"
    subprocess.run(["bash", str(SCRIPTS / "package-release.sh"), version, TARGET, str(binary), str(release), commit],
                   check=True, capture_output=True)  # fmt: skip
    subprocess.run(["bash", str(SCRIPTS / "release-checksums.sh"), str(release)], check=True, capture_output=True)
    archive = release / f"ecs-poc-{version}-{TARGET}.tar.gz"
    damaged = site_root.parent / "damaged" / archive.name
    damaged.parent.mkdir(parents=True)
    with archive.open("rb") as src, damaged.open("wb") as dst:
        shutil.copyfileobj(src, dst)
        dst.write(b"\0appended by someone else\n")
    return Release(archive=archive, damaged=damaged)


@contextlib.contextmanager
def swap_in_damaged_archive(release: Release) -> Iterator[None]:
    """Serves the damaged archive under the release's name (sha256.sum unchanged) until the block ends."""
    aside = release.archive.with_name(release.archive.name + ".good")
    os.replace(release.archive, aside)
    try:
        shutil.copy2(release.damaged, release.archive)
        yield
    finally:
        os.replace(aside, release.archive)


def publish_terraform_release(site_root: Path, terraform: Path, version: str, key: SigningKey) -> None:
    """terraform `version` for linux_amd64 in HashiCorp's layout, signed by `key`; the executable is `terraform`."""
    files = release_files("terraform", version, terraform.read_bytes(), key, arches=("amd64",))
    for url_path, data in files.items():
        target = site_root / url_path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def hosted_runner_path(directory: Path) -> str:
    """docker (the same client the other suites use) first, then the system's own directories; no terraform."""
    directory.mkdir(parents=True, exist_ok=True)
    docker = shutil.which("docker")
    assert docker, "docker is not installed"
    link = directory / "docker"
    if not link.exists():
        link.symlink_to(docker)
    for name in ("terraform", "tofu", "cargo"):
        found = shutil.which(name, path=os.pathsep.join(HOSTED_PATH_DIRS))
        assert found is None, f"{found} would make the runner's PATH unlike a hosted runner's"
    return os.pathsep.join((str(directory), *HOSTED_PATH_DIRS))


def user_repository(workspace: Path, guide_workflow: str) -> None:
    """Turns a checkout into the user's repository: workflows copied as the guide says, one commit on main."""
    workflows = workspace / ".github" / "workflows"
    for path in workflows.glob("*.yml"):
        path.write_text(USES_LOCAL.sub(rf"\g<1>{ACTION_REPOSITORY}@{ACTION_REF}", path.read_text()))
    (workflows / "guide-preview.yml").write_text(guide_workflow)
    git = ["git", "-c", "user.name=octo", "-c", "user.email=octo@example.invalid", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=workspace, check=True)
    subprocess.run([*git, "remote", "add", "origin", "https://github.com/octo-org/hello-service.git"], cwd=workspace,
                   check=True)  # fmt: skip
    subprocess.run([*git, "add", "-A"], cwd=workspace, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "hello-service with ecs-poc"], cwd=workspace, check=True)


def guide_workflow() -> str:
    """The guide's example workflow (docs/use-in-your-repository.md), with the placeholder action reference filled in."""
    text = (REPO_ROOT / "docs" / "use-in-your-repository.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    example = next(b for b in blocks if "jobs:" in b)
    filled = re.sub(r"OWNER/ecs-poc@<commit>", f"{ACTION_REPOSITORY}@{ACTION_REF}", example)
    assert f"{ACTION_REPOSITORY}@{ACTION_REF}" in filled, "the guide's example no longer uses OWNER/ecs-poc@<commit>"
    return "name: guide-preview\n" + filled


@dataclass
class ActResult:
    returncode: int
    log: str
    seconds: float

    def step_lines(self) -> list[str]:
        """The jobs' own output lines (act prefixes them with `| `)."""
        return [line.split("| ", 1)[1] for line in self.log.splitlines() if "| " in line]


def env_file(path: Path, values: dict[str, str]) -> Path:
    for name, value in values.items():
        assert "\n" not in value, f"{name} spans lines"
    path.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    return path


@dataclass
class Act:
    workspace: Path
    action_dir: Path
    root: Path
    env: dict[str, str]
    variables: dict[str, str]
    secrets: dict[str, str]
    path: str
    # owner/name of the user's repository: the `sub` of every job's OIDC token names it.
    repository: str
    runs: int = 0

    def run(self, event_name: str, event: dict[str, Any], workflow: str, env: dict[str, str] | None = None,
            timeout: float = 600) -> ActResult:  # fmt: skip
        import json

        self.runs += 1
        run_dir = self.root / f"run-{self.runs}-{event_name}"
        run_dir.mkdir(parents=True)
        (run_dir / "event.json").write_text(json.dumps(event))
        job_env = {**self.env, **(env or {})}
        if "ACTIONS_ID_TOKEN_REQUEST_URL" in job_env:
            # GitHub gives each job a token whose `sub` depends on the event; the deploy roles trust it.
            url = job_env["ACTIONS_ID_TOKEN_REQUEST_URL"]
            job_env["ACTIONS_ID_TOKEN_REQUEST_URL"] = with_oidc_subject(
                url, oidc_subject(self.repository, event_name, event)
            )
        cmd = [
            str(act_binary()), event_name,
            "--workflows", f".github/workflows/{workflow}",
            "--eventpath", str(run_dir / "event.json"),
            "--directory", str(self.workspace),
            "-P", "ubuntu-24.04=-self-hosted",
            "-P", "ubuntu-latest=-self-hosted",
            "--local-repository", f"{ACTION_REPOSITORY}@{ACTION_REF}={self.action_dir}",
            "--local-repository", f"{CHECKOUT}={CHECKOUT_STANDIN}",
            "--env-file", str(env_file(run_dir / "env", job_env)),
            "--var-file", str(env_file(run_dir / "vars", self.variables)),
            "--secret-file", str(env_file(run_dir / "secrets", self.secrets)),
        ]  # fmt: skip
        process_env = {
            "PATH": self.path,
            "HOME": str(self.root / "home"),
            "XDG_CACHE_HOME": str(self.root / "xdg-cache"),
            "LANG": "C.UTF-8",
        }
        (self.root / "home").mkdir(exist_ok=True)
        log(f"{event_name} on {workflow}: log in {run_dir / 'act.log'}")
        started = time.monotonic()
        with (run_dir / "act.log").open("wb") as out:
            proc = subprocess.run(cmd, env=process_env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  timeout=timeout, check=False)  # fmt: skip
        seconds = time.monotonic() - started
        log(f"{event_name} on {workflow}: exit {proc.returncode} after {seconds:.0f} s")
        return ActResult(proc.returncode, (run_dir / "act.log").read_text(errors="replace"), seconds)
