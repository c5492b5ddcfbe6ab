"""Plays a GitHub Actions runner for the ecs-poc binary, on loopback only.

A runner is environment variables and files: an event payload, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY,
the OIDC request URL and token, INPUT_* for the action's inputs. `Runner.run` sets all of them, runs
the real binary against the real (emulated) outside systems and collects what a workflow would see.

Used by the end-to-end tests and by `make demo`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
FAKES = REPO_ROOT / "tests" / "fakes"

GITHUB_TOKEN = "fake-github-token"
OIDC_REQUEST_TOKEN = "fake-oidc-request-token"


def cache_dir() -> Path:
    return Path(os.environ.get("ECS_POC_CACHE", Path.home() / ".cache" / "ecs-poc"))


def oidc_subject(repository: str, event_name: str, event: dict[str, Any], environment: str | None = None) -> str:
    """The `sub` GitHub puts in a job's OIDC token: a job in a GitHub environment by that environment,
    pull requests by event, everything else by ref (a schedule or workflow_dispatch runs on the
    default branch)."""
    if environment:
        return f"repo:{repository}:environment:{environment}"
    if event_name.startswith("pull_request"):
        return f"repo:{repository}:pull_request"
    return f"repo:{repository}:ref:{event.get('ref') or 'refs/heads/main'}"


def with_oidc_subject(token_url: str, subject: str) -> str:
    """The fake GitHub's token request URL that yields a token carrying `subject` as its `sub`."""
    return f"{token_url}&sub={urllib.parse.quote(subject, safe='')}"


class FakeProcess:
    """A `tests/fakes/*.py` server: started with `--port 0`, ready when it prints `READY <port>`."""

    def __init__(self, script: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.log_path = cache_dir() / "logs" / f"{Path(script).stem}-{os.getpid()}-{time.monotonic_ns()}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, str(FAKES / script), "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {}), "PYTHONPATH": str(REPO_ROOT)},
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"{script} did not start (said {line!r}); log: {self.log_path}")
        self.port = int(line.split()[1].rsplit(":", 1)[-1])
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class FakeGitHub(FakeProcess):
    def __init__(self) -> None:
        super().__init__("fake_github.py", "--token", GITHUB_TOKEN, "--oidc-request-token", OIDC_REQUEST_TOKEN)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read().decode()
        return json.loads(text) if text else None

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self._call("GET", "/_fake/state")
        return state

    def comments(self, issue: int) -> list[dict[str, Any]]:
        return [c for c in self.state()["comments"] if int(c.get("issue", -1)) == issue]

    def close_pull(self, number: int) -> None:
        self._call("POST", "/_fake/pulls", {"number": number, "state": "closed"})


@dataclass
class RunResult:
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str
    seconds: float
    files: dict[str, str] = field(default_factory=dict)

    def everything(self) -> str:
        """Every text the run produced, for secret scans. `::add-mask::` lines are the one place a
        secret must appear: they are how the runner learns what to mask, and it never shows them."""
        texts = [self.stdout, self.stderr, self.summary, *self.outputs.values(), *self.files.values()]
        return "\n".join(line for text in texts for line in text.splitlines() if not line.startswith("::add-mask::"))


def parse_github_output(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT holds `name=value` lines and `name<<DELIM` ... `DELIM` blocks."""
    outputs: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            end = lines.index(delim, i + 1)
            outputs[name] = "\n".join(lines[i + 1:end])
            i = end + 1
            continue
        if "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
        i += 1
    return outputs


def checkout(dest: Path) -> Path:
    """What actions/checkout would leave: the tracked files of this repository (as they are in the
    working tree), without terraform caches or anything untracked."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = REPO_ROOT / rel
        if not src.is_file():
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    return dest


class Runner:
    """One repository's workflow runs: same workspace, same fake GitHub, same emulated AWS."""

    def __init__(self, workspace: Path, binary: Path, aws_env: dict[str, str], github: FakeGitHub,
                 repository: str = "octo-org/hello-service", extra_env: dict[str, str] | None = None) -> None:
        self.workspace = workspace
        self.binary = binary
        self.aws_env = aws_env
        self.github = github
        self.repository = repository
        self.extra_env = dict(extra_env or {})
        self.runner_temp = workspace.parent / "runner-temp"
        self.runner_temp.mkdir(exist_ok=True)
        self._run_id = 1000

    # events ------------------------------------------------------------------------------------
    def _repo(self) -> dict[str, Any]:
        return {"full_name": self.repository, "default_branch": "main", "fork": False}

    def pull_request_event(self, number: int, sha: str, action: str = "opened",
                           head_repo: str | None = None) -> dict[str, Any]:
        head = {"full_name": head_repo or self.repository, "fork": head_repo is not None}
        return {
            "action": action,
            "number": number,
            "pull_request": {
                "number": number,
                "state": "closed" if action == "closed" else "open",
                "head": {"sha": sha, "ref": f"feature-{number}", "repo": head},
                "base": {"sha": "0" * 40, "ref": "main", "repo": self._repo()},
            },
            "repository": self._repo(),
        }

    def push_event(self, sha: str) -> dict[str, Any]:
        return {"ref": "refs/heads/main", "after": sha, "repository": self._repo()}

    # runs --------------------------------------------------------------------------------------
    def run(self, event_name: str, event: dict[str, Any], *, sha: str, inputs: dict[str, str] | None = None,
            args: list[str] | None = None, oidc: bool = True, timeout: float = 900,
            environment: str | None = None) -> RunResult:
        """One job running the binary. `environment`: the GitHub environment the job runs in (`environment:`
        in the workflow), which is what its OIDC token's `sub` names."""
        self._run_id += 1
        run_dir = self.runner_temp / f"run-{self._run_id}"
        run_dir.mkdir()
        event_path = run_dir / "event.json"
        event_path.write_text(json.dumps(event))
        output_path = run_dir / "github_output"
        summary_path = run_dir / "step_summary.md"
        output_path.touch()
        summary_path.touch()
        git_ref = event.get("ref") or (f"refs/pull/{event.get('number')}/merge" if "pull_request" in event else "")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "ECS_POC_", "GITHUB_", "ACTIONS_"))},
            **self.aws_env,
            "GITHUB_ACTIONS": "true",
            "CI": "true",
            "GITHUB_EVENT_NAME": event_name,
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_REPOSITORY": self.repository,
            "GITHUB_SHA": sha,
            "GITHUB_REF": git_ref,
            "GITHUB_RUN_ID": str(self._run_id),
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_OUTPUT": str(output_path),
            "GITHUB_STEP_SUMMARY": str(summary_path),
            "GITHUB_API_URL": self.github.url,
            "GITHUB_SERVER_URL": "https://github.example",
            "RUNNER_TEMP": str(run_dir),
            "INPUT_GITHUB-TOKEN": GITHUB_TOKEN,
            "ECS_POC_CACHE": str(cache_dir()),
            **self.extra_env,
        }
        if oidc:
            env["ACTIONS_ID_TOKEN_REQUEST_URL"] = with_oidc_subject(
                f"{self.github.url}/oidc/token?api-version=2.0",
                oidc_subject(self.repository, event_name, event, environment))
            env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = OIDC_REQUEST_TOKEN
        for name, value in (inputs or {}).items():
            env[f"INPUT_{name.upper()}"] = value
        # The logs stream to files, so a slow run can be watched (`tail -f .../stderr.log`).
        stdout_path, stderr_path = run_dir / "stdout.log", run_dir / "stderr.log"
        print(f"[runner] {event_name} run {self._run_id}: logs in {run_dir}", file=sys.stderr, flush=True)
        started = time.monotonic()
        with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
            proc = subprocess.Popen([str(self.binary), *(args or [])], cwd=self.workspace, env=env,
                                    stdout=out, stderr=err, stdin=subprocess.DEVNULL)
            try:
                returncode = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                returncode = -9
                err.write(f"\n[runner] killed after {timeout:.0f} s\n".encode())
        seconds = time.monotonic() - started
        files = {str(p.relative_to(run_dir)): p.read_text(errors="replace")
                 for p in run_dir.rglob("*")
                 if p.is_file() and p.stat().st_size < 5_000_000 and p not in (stdout_path, stderr_path)}
        return RunResult(
            returncode=returncode,
            stdout=stdout_path.read_text(errors="replace"),
            stderr=stderr_path.read_text(errors="replace"),
            outputs=parse_github_output(output_path.read_text()),
            summary=summary_path.read_text(),
            seconds=seconds,
            files=files,
        )


SECRET_PATTERNS = [
    re.compile(r"\bASIA[A-Z0-9]{16}\b"),  # temporary AWS access key ids (STS)
    re.compile(r"\bAKIA[A-Z0-9]{16}\b"),  # long-term AWS access key ids
    re.compile(r"FQoGZXIvYXdzE[A-Za-z0-9+/=]{20,}"),  # session tokens as moto's STS issues them
]


def leaked_secrets(text: str, known: list[str]) -> list[str]:
    """Known secret values, and anything shaped like an AWS key id, found in `text`."""
    found = [k for k in known if k and k in text]
    for pattern in SECRET_PATTERNS:
        found += pattern.findall(text)
    return found
