"""Wall time of the pipeline's three kinds of run in the end-to-end world (tests/e2e): a push to
main, a pull request deploy, and a no-change rerun of that pull request, with the binary's own
terraform stage time and the plan summary of each stack.

Usage: PYTHONPATH=CLONE python bench/demo/runs.py   (CLONE: the checkout whose harness and binary run)
Prints one JSON line, last.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from typing import Any

from tests.e2e.world import start_world

MAIN_SHA = "b" * 40
PR_SHA = "c" * 40
_TERRAFORM_STAGE = re.compile(r"stage terraform: ok in ([0-9.]+) s \((.*)\)$", re.MULTILINE)


def main() -> int:
    world = start_world()
    results: list[dict[str, Any]] = []
    try:
        common = {"state-bucket": world.bootstrap["state_bucket"], "smoke-check": "false", "wait-timeout": "120"}
        shared = {**common, "role-to-assume": world.bootstrap["shared_role_arn"]}
        preview = {**common, "role-to-assume": world.bootstrap["preview_role_arn"]}
        runs = [
            ("push to main", "push", world.runner.push_event(MAIN_SHA), MAIN_SHA, shared),
            ("pull request", "pull_request", world.runner.pull_request_event(5, PR_SHA), PR_SHA, preview),
            (
                "no-change rerun",
                "pull_request",
                world.runner.pull_request_event(5, PR_SHA, action="synchronize"),
                PR_SHA,
                preview,
            ),
        ]
        for name, event_name, event, sha, inputs in runs:
            r = world.runner.run(event_name, event, sha=sha, inputs=inputs)
            stage = _TERRAFORM_STAGE.search(r.stderr)
            results.append(
                {
                    "run": name,
                    "exit": r.returncode,
                    "seconds": round(r.seconds, 1),
                    "terraform_seconds": float(stage.group(1)) if stage else None,
                    "terraform": stage.group(2) if stage else None,
                }
            )
            if r.returncode != 0:
                print(r.stderr[-3000:], file=sys.stderr)
                break
    finally:
        world.stop()
        shutil.rmtree(world.root, ignore_errors=True)
    print(json.dumps({"runs": results}))
    return 0 if all(r["exit"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
