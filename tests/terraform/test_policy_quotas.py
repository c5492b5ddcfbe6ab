"""Every IAM policy of terraform/bootstrap fits AWS's quotas with the longest names its variables
allow: a role that does not fit cannot be created on real AWS (the emulator enforces none of this).

The policies are rendered by terraform itself: a plan of bootstrap against the emulator with the
longest name, environment, repository, branch, bucket and zone, read with `terraform show -json`.
AWS counts policy characters without whitespace. ARNs are measured as in the longest partition
(`aws-us-gov`), so an account there fits as well.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.harness.emulated_aws import EmulatedAws
from tests.terraform.stacks import Runner, copy_tree

# AWS IAM quotas (defaults; the managed-policies-per-role one can be raised to 20 on request).
MANAGED_POLICY_MAX = 6144
INLINE_TOTAL_PER_ROLE_MAX = 10240
TRUST_POLICY_MAX = 2048
MANAGED_POLICIES_PER_ROLE_MAX = 10

LONGEST_PARTITION = "aws-us-gov"

# The longest value each bootstrap variable accepts (see terraform/bootstrap/variables.tf).
LONGEST_VARIABLES = {
    "name": "abcdefgh-jkl",  # 12: ^[a-z][a-z0-9-]{1,11}$
    # <name>-<environment> is at most 21 characters, so a longer environment needs a shorter name.
    "environment": "staging9",  # 8
    # Owner 39 (GitHub's maximum), repository 100; upper case so the lower-case spelling is a
    # second value in the trust policies.
    "repository": "O" * 39 + "/" + "R" * 100,
    "default_branch": "release/" + "b" * 92,  # 100
    "state_bucket_name": "s" * 63,
    "private_zone_name": "z" * 49 + "." + "z" * 50,  # 100
    "region": "ap-northeast-3",
    "create_oidc_provider": "false",
    "oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
    # Three GitHub environments of 100 characters may promote from this one. github_environment stays
    # empty: the default branch's `sub` (with a 100-character branch) is longer than an environment's.
    "promotion_targets": json.dumps(["P" * 100, "Q" * 100, "R" * 100]),
}


def policy_size(document: str) -> int:
    """Characters AWS counts against a policy quota: whitespace is not counted."""
    return len(re.sub(r"\s", "", document))


def in_longest_partition(document: str) -> str:
    return document.replace("arn:aws:", f"arn:{LONGEST_PARTITION}:")


@dataclass
class Role:
    trust: int = 0
    inline: dict[str, int] = field(default_factory=dict)
    attachments: int = 0


@dataclass
class Rendered:
    managed: dict[str, int] = field(default_factory=dict)
    roles: dict[str, Role] = field(default_factory=lambda: defaultdict(Role))
    boundaries: dict[str, str] = field(default_factory=dict)


def resources(module: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from module.get("resources", [])
    for child in module.get("child_modules", []):
        yield from resources(child)


def known_document(resource: dict[str, Any], attribute: str) -> str:
    value = resource.get("values", {}).get(attribute)
    assert isinstance(value, str) and value, (
        f"{resource['address']}.{attribute} is not known at plan time: cannot be measured"
    )
    return in_longest_partition(value)


def role_references(module: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Configuration address of each resource -> the role resource its `role` argument names
    (a role's `id` is unknown at plan time, its name is not)."""
    found = {}
    for res in module.get("resources", []):
        refs = res.get("expressions", {}).get("role", {}).get("references", [])
        roles = [r for r in refs if r.startswith("aws_iam_role.") and r.count(".") == 1]
        if roles:
            found[prefix + res["address"]] = prefix + roles[0]
    for name, call in module.get("module_calls", {}).items():
        found.update(role_references(call.get("module", {}), f"{prefix}module.{name}."))
    return found


def role_name(res: dict[str, Any], names: dict[str, str], references: dict[str, str]) -> str:
    known = res.get("values", {}).get("role")
    if isinstance(known, str):
        return known
    config_address = re.sub(r"\[[^]]*\]$", "", res["address"])
    assert config_address in references, f"{res['address']}: cannot tell which role it belongs to"
    return names[references[config_address]]


def render(plan: dict[str, Any]) -> Rendered:
    rendered = Rendered()
    planned = list(resources(plan["planned_values"]["root_module"]))
    names = {r["address"]: r["values"]["name"] for r in planned if r["type"] == "aws_iam_role"}
    references = role_references(plan["configuration"]["root_module"])
    for res in planned:
        kind, values = res["type"], res.get("values", {})
        if kind == "aws_iam_policy":
            rendered.managed[values["name"]] = policy_size(known_document(res, "policy"))
        elif kind == "aws_iam_role":
            rendered.roles[values["name"]].trust = policy_size(known_document(res, "assume_role_policy"))
            if values.get("permissions_boundary"):
                rendered.boundaries[values["name"]] = values["permissions_boundary"]
        elif kind == "aws_iam_role_policy":
            role = role_name(res, names, references)
            rendered.roles[role].inline[values["name"]] = policy_size(known_document(res, "policy"))
        elif kind == "aws_iam_role_policy_attachment":
            rendered.roles[role_name(res, names, references)].attachments += 1
    return rendered


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, provider_available: str) -> Rendered:
    tmp = tmp_path_factory.mktemp("quotas")
    root = copy_tree(tmp)
    logs = tmp / "logs"
    logs.mkdir()
    with EmulatedAws(log_path=logs / "moto.log") as aws:
        runner = Runner(aws, root, logs)
        runner.init("quotas-init", "bootstrap")
        var_args = [f"-var={k}={v}" for k, v in LONGEST_VARIABLES.items()]
        plan_file = Path(tmp) / "bootstrap.tfplan"
        runner.run("quotas-plan", "bootstrap", "plan", "-input=false", "-no-color", f"-out={plan_file}", *var_args)
        shown = runner.run("quotas-show", "bootstrap", "show", "-json", "-no-color", str(plan_file))
    result = render(json.loads(shown.stdout))
    lines = [f"  managed {name:<48} {size:6d} / {MANAGED_POLICY_MAX}" for name, size in sorted(result.managed.items())]
    for name, role in sorted(result.roles.items()):
        lines.append(
            f"  role {name:<51} trust {role.trust:5d} / {TRUST_POLICY_MAX}, "
            f"inline {sum(role.inline.values()):5d} / {INLINE_TOTAL_PER_ROLE_MAX}, "
            f"managed attached {role.attachments:2d} / {MANAGED_POLICIES_PER_ROLE_MAX}"
        )
    print("IAM policy sizes with the longest names (whitespace removed):\n" + "\n".join(lines), file=sys.stderr)
    return result


def test_size_counts_characters_without_whitespace() -> None:
    assert policy_size('{\n  "Version": "2012-10-17",\n  "Statement": []\n}') == len(
        '{"Version":"2012-10-17","Statement":[]}'
    )


def test_a_policy_past_a_quota_is_reported() -> None:
    """The measurement the checks below rely on sees a grown policy, an inline one by its role."""
    big = json.dumps(
        {"Statement": [{"Resource": ["arn:aws:s3:::" + "b" * 63 + f"/k{i}" for i in range(90)]}]}, indent=2
    )
    plan = {
        "planned_values": {
            "root_module": {
                "resources": [
                    {
                        "address": "aws_iam_role.r",
                        "type": "aws_iam_role",
                        "values": {"name": "r", "assume_role_policy": "{}"},
                    },
                    {"address": "aws_iam_policy.p", "type": "aws_iam_policy", "values": {"name": "p", "policy": big}},
                    {
                        "address": "aws_iam_role_policy.i",
                        "type": "aws_iam_role_policy",
                        "values": {"name": "i", "policy": big},
                    },
                ]
            }
        },
        "configuration": {
            "root_module": {
                "resources": [
                    {
                        "address": "aws_iam_role_policy.i",
                        "expressions": {"role": {"references": ["aws_iam_role.r.id", "aws_iam_role.r"]}},
                    },
                ]
            }
        },
    }
    rendered = render(plan)
    assert rendered.managed["p"] > MANAGED_POLICY_MAX
    assert rendered.roles["r"].inline["i"] > MANAGED_POLICY_MAX


def test_every_managed_policy_fits(rendered: Rendered) -> None:
    assert len(rendered.managed) >= 8, (
        f"expected the deploy roles' policies and the boundaries, got {sorted(rendered.managed)}"
    )
    over = {name: size for name, size in rendered.managed.items() if size > MANAGED_POLICY_MAX}
    assert not over, f"managed policies over {MANAGED_POLICY_MAX} characters: {over}"


def test_every_trust_policy_fits(rendered: Rendered) -> None:
    assert {r for r in rendered.roles if r.endswith(("-deploy-preview", "-deploy-shared", "-promote-source"))} == {
        f"{LONGEST_VARIABLES['name']}-{LONGEST_VARIABLES['environment']}-{role}"
        for role in ("deploy-preview", "deploy-shared", "promote-source")}, sorted(rendered.roles)
    over = {name: role.trust for name, role in rendered.roles.items() if role.trust > TRUST_POLICY_MAX}
    assert not over, f"trust policies over {TRUST_POLICY_MAX} characters: {over}"


def test_inline_policies_of_each_role_fit_together(rendered: Rendered) -> None:
    over = {
        name: role.inline
        for name, role in rendered.roles.items()
        if sum(role.inline.values()) > INLINE_TOTAL_PER_ROLE_MAX
    }
    assert not over, f"inline policies over {INLINE_TOTAL_PER_ROLE_MAX} characters per role: {over}"


def test_each_role_has_at_most_ten_managed_policies(rendered: Rendered) -> None:
    over = {
        name: role.attachments
        for name, role in rendered.roles.items()
        if role.attachments > MANAGED_POLICIES_PER_ROLE_MAX
    }
    assert not over, f"roles with more than {MANAGED_POLICIES_PER_ROLE_MAX} managed policies: {over}"


def test_the_shared_role_has_no_inline_policy_and_the_boundaries_exist(rendered: Rendered) -> None:
    base = f"{LONGEST_VARIABLES['name']}-{LONGEST_VARIABLES['environment']}"
    shared = rendered.roles[f"{base}-deploy-shared"]
    assert shared.inline == {}, f"the shared role's permissions belong in managed policies: {shared.inline}"
    assert shared.attachments >= 8
    assert {f"{base}-task-boundary", f"{base}-infra-boundary"} <= rendered.managed.keys()
