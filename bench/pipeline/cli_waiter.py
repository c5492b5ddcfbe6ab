"""The AWS CLI's `aws ecs wait services-stable` against the same scripted fake ECS the ecs-poc
tests use: how long after steady state it notices, and what it says about a rolled-back deploy.

Usage: python bench/pipeline/cli_waiter.py [--rounds 3]   (venv python; `aws` on PATH)
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parents[2]
ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "eu-west-2",
    "AWS_REGION": "eu-west-2",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def start_fake(moto_url: str, scenario: str, steady_after: float) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-u",
            str(ROOT / "tests/fakes/fake_ecs.py"),
            "--port",
            "0",
            "--moto",
            moto_url,
            "--scenario",
            scenario,
            "--steady-after",
            str(steady_after),
        ],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().strip()
    if not line.startswith("READY "):
        proc.terminate()
        raise RuntimeError(f"fake_ecs did not start: {line!r}")
    return proc, f"http://127.0.0.1:{line.split()[1]}"


def one_round(scenario: str, steady_after: float) -> dict[str, Any]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    moto_url = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    fake, fake_url = start_fake(moto_url, scenario, steady_after)
    try:
        os.environ.update(ENV)
        # moto's state lives in this process and outlives a server: start each round clean.
        urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")).read()
        direct = boto3.client("ecs", endpoint_url=moto_url)
        direct.create_cluster(clusterName="poc")
        container = {"name": "app", "image": "placeholder", "memory": 256}
        td1 = direct.register_task_definition(family="pr-3", containerDefinitions=[container])
        direct.create_service(
            cluster="poc", serviceName="pr-3", desiredCount=2, taskDefinition=td1["taskDefinition"]["taskDefinitionArn"]
        )
        td2 = direct.register_task_definition(family="pr-3", containerDefinitions=[{**container, "image": "new"}])
        via_fake = boto3.client("ecs", endpoint_url=fake_url)
        via_fake.update_service(
            cluster="poc", service="pr-3", taskDefinition=td2["taskDefinition"]["taskDefinitionArn"]
        )
        waiter = subprocess.run(
            ["aws", "ecs", "wait", "services-stable", "--cluster", "poc", "--services", "pr-3"],
            env={**os.environ, "AWS_ENDPOINT_URL": fake_url},
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        returned = time.time()
        with urllib.request.urlopen(f"{fake_url}/_fake/state") as r:
            state = json.loads(r.read())
        rollout = state["rollouts"]["pr-3"]
        turned = rollout["t0"] + rollout["steady_after"]
        final = via_fake.describe_services(cluster="poc", services=["pr-3"])["services"][0]
        return {
            "scenario": scenario,
            "waiter_exit": waiter.returncode,
            "noticed_after_s": round(returned - turned, 2),
            "service_runs": final["taskDefinition"].rsplit("/", 1)[-1],
            "deployed": td2["taskDefinition"]["taskDefinitionArn"].rsplit("/", 1)[-1],
        }
    finally:
        fake.terminate()
        fake.wait()
        server.stop()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    completes = [one_round("complete", 3.0 + 15.0 * i / args.rounds) for i in range(args.rounds)]
    rollback = one_round("rollback", 3.0)
    lat = [r["noticed_after_s"] for r in completes]
    print(
        json.dumps(
            {
                "poll_seconds": 15,
                "rounds": args.rounds,
                "mean_s": round(sum(lat) / len(lat), 2),
                "max_s": max(lat),
                "latencies_s": lat,
                "rollback": rollback,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
