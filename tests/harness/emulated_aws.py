"""Emulated AWS on loopback: moto server behind the fidelity proxy (`fidelity_proxy`), plus the
environment that points terraform, boto3 and the ecs-poc binary at it with no test-only code in any of them.

From Python (or pytest, see `tests.harness.pytest_plugin`):

    with EmulatedAws() as aws:
        subprocess.run(["terraform", "apply", ...], env=aws.child_env(), check=True)
        aws.client("ec2").describe_vpcs()
        aws.reset()

From scripts:

    python -m tests.harness.emulated_aws serve [--region R] [--moto-env KEY=VALUE ...]
        prints `READY <endpoint>` as its first line, then runs until SIGTERM/SIGINT.
    python -m tests.harness.emulated_aws env --endpoint URL
        prints `export KEY=VALUE` lines for that endpoint (eval them in a shell).
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from tests.harness.fidelity_proxy import FidelityProxy
from tests.harness.iam_gate.gate import ADMIN_ROLE, IamGate, mode_from_env
from tests.harness.terraform_env import cache_dir, terraform_env

_REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REGION = "eu-west-2"
ACCOUNT_ID = "123456789012"
# Dummy credentials: moto accepts anything; these never reach AWS because the endpoint is loopback.
DUMMY_KEY_ID = "testing"
DUMMY_SECRET = "testing"

# AWS-managed policies (e.g. AmazonEC2ContainerServiceforEC2Role) exist in every account; moto
# loads them only when asked.
_MOTO_DEFAULTS = {"MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}

# Variables that would let a child escape to a real account or pick up a user's profile.
_SCRUBBED = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def aws_env(endpoint: str, region: str = DEFAULT_REGION) -> dict[str, str]:
    """Every variable a child needs to talk to the emulator at `endpoint` (AWS + terraform)."""
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": DUMMY_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        # Keep ~/.aws out: a developer's real profile must never be picked up by a test.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        # The S3 backend addresses buckets by virtual host by default, which loopback cannot serve.
        "TF_CLI_ARGS_init": "-backend-config=use_path_style=true",
    }
    env.update(terraform_env())
    return env


class EmulatedAws:
    """moto server (child process, with `moto_server`'s condition fix) + fidelity proxy (thread);
    `endpoint` is the proxy. The proxy enforces IAM for deploy-role sessions (`iam_gate`; mode from
    `ECS_POC_IAM_GATE` unless given) and logs each refusal as a JSON line in `iam_gate_log`."""

    def __init__(
        self,
        region: str = DEFAULT_REGION,
        moto_env: dict[str, str] | None = None,
        log_path: Path | None = None,
        iam_gate: str | None = None,
        accounts: dict[str, str] | None = None,
    ) -> None:
        """`accounts`: the other accounts the caller works in, each with its region (whose ECR the
        bridge keeps in step with the registry, as `<account>.dkr.ecr.<region>.amazonaws.com`)."""
        self.region = region
        self.accounts = dict(accounts or {})
        self._moto_env = dict(moto_env or {})
        self.log_path = log_path or Path(tempfile.mkstemp(prefix="moto-", suffix=".log")[1])
        self.iam_gate_mode = iam_gate or mode_from_env()
        self.iam_gate_log = self.log_path.with_name(self.log_path.stem + "-iam-gate.jsonl")
        self.proxy_log = self.log_path.with_name(self.log_path.stem + "-proxy.jsonl")
        self.iam_gate: IamGate | None = None
        self._moto: subprocess.Popen[bytes] | None = None
        self._proxy: FidelityProxy | None = None
        self._admin_credentials: dict[str, dict[str, str]] = {}
        self.moto_port = 0

    # lifecycle -------------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> Self:
        last_error = ""
        for _attempt in range(3):
            port = _free_port()
            # The launcher imports tests.harness from the clone, wherever the caller's cwd is.
            pythonpath = os.pathsep.join(filter(None, [str(_REPO_ROOT), os.environ.get("PYTHONPATH")]))
            env = {**os.environ, "PYTHONPATH": pythonpath, **_MOTO_DEFAULTS, **self._moto_env}
            with open(self.log_path, "ab") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "tests.harness.moto_server", "-H", "127.0.0.1", "-p", str(port)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                    start_new_session=True,
                )
            if self._wait_ready(proc, port, timeout):
                self._moto, self.moto_port = proc, port
                break
            last_error = f"moto server on port {port} did not become ready (exit {proc.poll()})"
            self._terminate(proc)
        else:
            raise RuntimeError(f"{last_error}; log: {self.log_path}")
        self.iam_gate = IamGate(self.moto_endpoint, ACCOUNT_ID, self.iam_gate_mode, self.iam_gate_log)
        registries = [(ACCOUNT_ID, self.region), *self.accounts.items()]
        self._proxy = FidelityProxy(self.moto_port, region=self.region, gate=self.iam_gate,
                                    registries=registries, request_log=self.proxy_log).start()
        print(f"IAM gate: {self.iam_gate_mode}; refusals logged to {self.iam_gate_log}", file=sys.stderr, flush=True)
        return self

    @staticmethod
    def _wait_ready(proc: subprocess.Popen[bytes], port: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/data.json", timeout=2):
                    return True
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        return False

    @staticmethod
    def _terminate(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop(self) -> None:
        if self.iam_gate is not None:
            print(f"IAM gate ({self.iam_gate_mode}): {self.iam_gate.checked} requests of deploy-role sessions checked, "
                  f"{self.iam_gate.refused} refusals logged to {self.iam_gate_log}", file=sys.stderr, flush=True)
            self.iam_gate = None
        if self._proxy is not None:
            self._proxy.stop()
            self._proxy = None
        if self._moto is not None:
            self._terminate(self._moto)
            self._moto = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # use -------------------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        if self._proxy is None:
            raise RuntimeError("EmulatedAws is not started")
        return f"http://127.0.0.1:{self._proxy.port}"

    @property
    def moto_endpoint(self) -> str:
        """moto itself, bypassing the proxy (for moto-api calls and forwarding fakes)."""
        return f"http://127.0.0.1:{self.moto_port}"

    def reset(self) -> None:
        """Forget every resource (POST /moto-api/reset)."""
        req = urllib.request.Request(f"{self.moto_endpoint}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(req, timeout=30) as resp:
            resp.read()
        if self._proxy is not None:
            self._proxy.ecs_memory.clear()
            self._proxy.answered_calls.clear()
        if self.iam_gate is not None:
            self.iam_gate.forget()
        self._admin_credentials.clear()

    def env(self) -> dict[str, str]:
        """The variables to add to a child's environment."""
        return aws_env(self.endpoint, self.region)

    def child_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """os.environ without credential escapes, plus `env()` and `extra`."""
        base = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
        return {**base, **self.env(), **(extra or {})}

    def client(self, service: str, account: str | None = None, **kwargs: Any) -> Any:
        """A boto3 client on the emulator (boto3 is imported lazily: scripts need not have it), as the
        administrator of `account` (default: the harness's own account) in its region unless told."""
        import boto3

        if account is None or account == ACCOUNT_ID:
            keys = {"aws_access_key_id": DUMMY_KEY_ID, "aws_secret_access_key": DUMMY_SECRET}
            region = self.region
        else:
            creds = self.admin_credentials(account)
            keys = {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
                    "aws_session_token": creds["SessionToken"]}
            region = self.accounts.get(account, self.region)
        return boto3.client(service, region_name=kwargs.pop("region_name", region), endpoint_url=self.endpoint,
                            **keys, **kwargs)

    def admin_credentials(self, account: str) -> dict[str, str]:
        """Administrator credentials in `account`: the harness's administrator assumes the account's
        `OrganizationAccountAccessRole`, as a management account's administrator does in a member
        account. moto acts in the account of the role a key was issued for; the IAM gate lets these
        sessions through as the administrator (`iam_gate.gate.ADMIN_ROLE`)."""
        cached = self._admin_credentials.get(account)
        if cached is None:
            sts = self.client("sts")
            found = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{ADMIN_ROLE}",
                                    RoleSessionName="harness-admin", DurationSeconds=43200)["Credentials"]
            cached = {k: str(found[k]) for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}
            self._admin_credentials[account] = cached
        return dict(cached)

    def account_env(self, account: str, region: str | None = None) -> dict[str, str]:
        """`env()` for a child working as the administrator of `account` (terraform applying a
        bootstrap there), in `region` (default: the account's)."""
        creds = self.admin_credentials(account)
        where = region or self.accounts.get(account, self.region)
        return {**aws_env(self.endpoint, where), "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"], "AWS_SESSION_TOKEN": creds["SessionToken"]}


def _serve(args: argparse.Namespace) -> int:
    moto_env = dict(kv.split("=", 1) for kv in args.moto_env)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log_path = Path(args.log) if args.log else cache_dir() / "logs" / f"moto-{os.getpid()}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with EmulatedAws(region=args.region, moto_env=moto_env, log_path=log_path) as aws:
        print(f"READY {aws.endpoint}", flush=True)
        print(f"moto {aws.moto_endpoint} log {log_path}", file=sys.stderr, flush=True)
        while not stop.wait(1.0):
            if aws._moto is not None and aws._moto.poll() is not None:
                print("moto server exited unexpectedly", file=sys.stderr)
                return 1
    return 0


def _print_env(args: argparse.Namespace) -> int:
    for key, value in sorted(aws_env(args.endpoint, args.region).items()):
        print(f"export {key}={shlex.quote(value)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.harness.emulated_aws", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run moto + proxy until killed; first stdout line: READY <endpoint>")
    serve.add_argument("--region", default=DEFAULT_REGION)
    serve.add_argument("--moto-env", action="append", default=[], metavar="KEY=VALUE",
                       help="environment for moto, e.g. MOTO_ECS_SERVICE_RUNNING=2")
    serve.add_argument("--log", help="moto's log file (default under the cache dir)")
    env = sub.add_parser("env", help="print `export` lines pointing children at ENDPOINT")
    env.add_argument("--endpoint", required=True)
    env.add_argument("--region", default=DEFAULT_REGION)
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return _print_env(args)


if __name__ == "__main__":
    raise SystemExit(main())
