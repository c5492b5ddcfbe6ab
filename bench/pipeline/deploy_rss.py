"""Peak memory and wall time of the real ecs-poc binary through whole deploys, on the e2e world
(emulated AWS + fake ECS rollout + registry-as-ECR + fake GitHub): a push to main, a pull
request deploy, and a no-change redeploy of the same commit. Each run goes through a
wrapper that samples the binary's own VmHWM every 20 ms, so the peak RSS is the binary's alone
(terraform and docker are separate processes and not counted).

Usage: PYTHONPATH=. python bench/pipeline/deploy_rss.py  (from the repository root; ECS_POC_BINARY picks the binary)
Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.e2e.world import binary_path, start_world

MAIN_SHA = "b" * 40
PR_SHA = "c" * 40


# Runs the binary and samples its own VmHWM (peak RSS of that one process). Not /usr/bin/time:
# its ru_maxrss is the largest of the process *and its waited-for children*, i.e. terraform's.
# Not sh either: dash drops variables such as INPUT_STATE-BUCKET (a hyphen is not a shell name).
WRAPPER = """#!{python}
import os, subprocess, sys, time
p = subprocess.Popen([{real!r}, *sys.argv[1:]])
peak = 0
while True:
    try:
        with open(f"/proc/{{p.pid}}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
    except OSError:
        pass
    if p.poll() is not None:
        break
    time.sleep(0.02)
with open(os.environ["BENCH_TIME_REPORT"], "w") as f:
    f.write(str(peak))
sys.exit(p.returncode)
"""


def max_rss_kib(report: Path) -> int | None:
    text = report.read_text().strip() if report.exists() else ""
    return int(text) if text.isdigit() else None


def main() -> int:
    real = binary_path()
    if not real.exists():
        print(f"no ecs-poc binary at {real}; build it (make build-release, ECS_POC_BINARY=...)", file=sys.stderr)
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="ecs-poc-bench-"))
    wrapper = scratch / "ecs-poc-timed"
    wrapper.write_text(WRAPPER.format(python=sys.executable, real=str(real)))
    wrapper.chmod(0o755)
    world = start_world()
    results: list[dict[str, Any]] = []
    try:
        world.runner.binary = wrapper
        common = {"state-bucket": world.bootstrap["state_bucket"], "smoke-check": "false", "wait-timeout": "120"}
        plan = [
            (
                "push to main",
                "push",
                world.runner.push_event(MAIN_SHA),
                MAIN_SHA,
                {**common, "role-to-assume": world.bootstrap["shared_role_arn"]},
            ),
            (
                "pull request deploy",
                "pull_request",
                world.runner.pull_request_event(5, PR_SHA),
                PR_SHA,
                {**common, "role-to-assume": world.bootstrap["preview_role_arn"]},
            ),
            (
                "no-change redeploy",
                "pull_request",
                world.runner.pull_request_event(5, PR_SHA, action="synchronize"),
                PR_SHA,
                {**common, "role-to-assume": world.bootstrap["preview_role_arn"]},
            ),
        ]
        for i, (name, event_name, event, sha, inputs) in enumerate(plan):
            report = scratch / f"time-{i}.txt"
            os.environ["BENCH_TIME_REPORT"] = str(report)
            r = world.runner.run(event_name, event, sha=sha, inputs=inputs)
            results.append(
                {
                    "run": name,
                    "exit": r.returncode,
                    "seconds": round(r.seconds, 1),
                    "max_rss_mib": round((max_rss_kib(report) or 0) / 1024, 1),
                }
            )
            if r.returncode != 0:
                print(r.stderr[-3000:], file=sys.stderr)
                break
    finally:
        world.stop()
    print(json.dumps({"binary": str(real), "runs": results}))
    return 0 if all(r["exit"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
